"""MLflow runs from a grid's records, checked on a real store (SQLite, mlflow.search_runs), never a mock.

Fast: hand-made records written with the record classes. Slow: the store `snakemake quick_test` leaves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.config.model import load_model, spec_to_dict
from sumbench.errors import ConfigError
from sumbench.io import atomic_write_jsonl
from sumbench.records import CellRecord, Costs, GaCheck, ModelProfile, SplitProfile
from sumbench.records.plan import QualityJobRecord
from sumbench.tracking import DEFAULT_URI, TrackingSettings

mlflow = pytest.importorskip("mlflow", reason="MLflow is the optional extra [tracking] (in [dev])")

GRID = "toy"
ENV = {"device": "cpu", "device_name": "x86_64", "python": "3.11.7", "git_sha": "abc123def456", "config_hash": "0f0f",
       "seed": 42, "packages": {"torch": "2.13.0", "transformers": "5.23.0", "mlflow": None}}
FIGURES = ("rouge1", "rouge2", "rougeL", "rouge_sum", "samples_per_s", "tokens_per_s", "s_per_step_median",
           "peak_memory_bytes", "grad_norm_median", "time_to_train_s", "time_to_quality_s")


def write_cell(root: Path, bs: int, ga: int, fold: int, status: str = "ok", rouge1: float = 0.31) -> Path:
    """A cell folder as a quality job leaves it: metrics.json, train_log.jsonl, predictions.jsonl."""
    out = root / f"runs/tiny-bart/aug-none_cap-all/bs{bs}_ga{ga}/fold{fold}"
    spec = load_model("tiny-bart")
    cell = {"model": "tiny-bart", "batch_size": bs, "grad_accum": ga, "fold": fold, "max_steps": 3,
            "augmentation": "none", "seed": 42, "progress_every": None}
    ok = status == "ok"
    record = CellRecord(model="tiny-bart", batch_size=bs, grad_accum=ga, fold=fold, status=status, steps=3,
                        message=None if ok else "OutOfMemoryError: CUDA out of memory", kind="seq2seq",
                        samples_per_s=41.5, tokens_per_s=3200.0, s_per_step_median=0.19, peak_memory_bytes=300 << 20,
                        grad_norm_median=1.2, grad_norm_max=2.5, time_to_train_s=2.0, window_start=1.7e9,
                        window_end=1.7e9 + 2, settings={"model": spec_to_dict(spec), "cell": cell}, environment=ENV,
                        **({"rouge1": rouge1, "rouge2": 0.12, "rougeL": 0.28, "rouge_sum": rouge1 + 0.4,
                            "time_to_quality_s": 9.0,
                            "rouge_by_analyzer": {"kiwi": {"rouge_sum": rouge1 + 0.4, "metric_version": "kiwi-1"}}}
                           if ok else {"failed_phase": "train"}))
    atomic_write_jsonl(out / "train_log.jsonl",
                       [{"step": s, "loss": 3.0 - s / 2, "grad_norm": 1.0 + s / 10, "lr": 1e-4, "step_time_s": 0.2,
                         **({"eval_loss": 2.5} if s == 2 else {})} for s in (1, 2, 3)])
    atomic_write_jsonl(out / "predictions.jsonl", [{"split": "dev", "fname": "d0", "prediction": "요약"}])
    record.write(out / "metrics.json")
    return out / "metrics.json"


@pytest.fixture()
def grid_tree(tmp_path) -> dict:
    """Records of a toy grid: a profile (two splits, one pruned, the first again) and two cells (one ran out of
    memory), with the quality job record that lists them."""
    root = tmp_path / "results" / GRID
    cells = [write_cell(root, 4, 1, 0), write_cell(root, 8, 1, 0, status="oom")]
    QualityJobRecord(model="tiny-bart", grid=GRID, cells=[str(c) for c in cells]).write(root / "quality/tiny-bart.json")
    splits = [SplitProfile(batch_size=4, grad_accum=1, samples_per_s=40.0, s_per_step_median=0.1, peak_memory_bytes=1 << 28),
              SplitProfile(batch_size=8, grad_accum=1, status="skipped", message="micro-batch 4 ran out of memory"),
              SplitProfile(batch_size=4, grad_accum=1, samples_per_s=39.0, s_per_step_median=0.11, remeasured=True)]
    profile = ModelProfile(model="tiny-bart", kind="seq2seq", splits=splits, ga_check=GaCheck(status="pass"),
                           costs=Costs(), settings={"model": spec_to_dict(load_model("tiny-bart")),
                                                    "profile": {"warmup_steps": 2, "timed_steps": 6}, "grid": GRID},
                           environment=ENV)
    profile.write(root / "profile/tiny-bart.json")
    return {"root": root, "cells": cells, "profiles": [root / "profile/tiny-bart.json"],
            "quality": [root / "quality/tiny-bart.json"], "uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "artifacts": str(tmp_path / "mlartifacts")}


def track(tree: dict):
    from sumbench.tracking.mlflow_runs import track_grid

    settings = TrackingSettings(uri=tree["uri"], artifacts=tree["artifacts"])
    return track_grid(GRID, tree["profiles"], tree["quality"], settings, echo=lambda line, flush=True: None)


def active_runs(uri: str, experiment: str = GRID) -> list:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(experiment_names=[experiment], output_format="list")


def test_every_cell_and_split_becomes_one_complete_run(grid_tree):
    receipt = track(grid_tree)
    assert (receipt.added, receipt.replaced, receipt.kept) == (5, 0, 0)
    runs = {r.info.run_name: r for r in active_runs(grid_tree["uri"])}
    assert sorted(runs) == ["tiny-bart/none/all/bs4/ga1/fold0", "tiny-bart/none/all/bs8/ga1/fold0",
                            "tiny-bart/profile/bs4/ga1", "tiny-bart/profile/bs4/ga1/again",
                            "tiny-bart/profile/bs8/ga1"]
    client = mlflow.MlflowClient(grid_tree["uri"])
    ok = runs["tiny-bart/none/all/bs4/ga1/fold0"]
    assert len(ok.data.params) >= 20
    assert ok.data.params["model.training.learning_rate"] == "0.0001" and ok.data.params["cell.batch_size"] == "4"
    assert set(FIGURES) <= set(ok.data.metrics) and ok.data.metrics["rouge1"] == pytest.approx(0.31)
    assert ok.data.metrics["rouge_sum.kiwi"] == pytest.approx(0.71)
    assert "batch_size" not in ok.data.metrics and "mfu" not in ok.data.metrics  # settings are params; None is absent
    loss = client.get_metric_history(ok.info.run_id, "step/loss")
    assert [(m.step, m.value) for m in loss] == [(1, 2.5), (2, 2.0), (3, 1.5)]
    assert [m.step for m in client.get_metric_history(ok.info.run_id, "step/eval_loss")] == [2]
    for key in ("step/grad_norm", "step/lr", "step/step_time_s"):
        assert len(client.get_metric_history(ok.info.run_id, key)) == 3
    assert sorted(a.path for a in client.list_artifacts(ok.info.run_id)) == ["metrics.json", "predictions.jsonl",
                                                                           "train_log.jsonl"]
    assert ok.info.status == "FINISHED" and ok.data.tags["status"] == "ok"
    assert ok.data.tags["env.device"] == "cpu" and ok.data.tags["version.torch"] == "2.13.0"
    assert ok.data.tags["mlflow.source.git.commit"] == "abc123def456"
    oom = runs["tiny-bart/none/all/bs8/ga1/fold0"]
    assert oom.info.status == "FAILED" and oom.data.tags["status"] == "oom" and oom.data.tags["failed_phase"] == "train"
    assert "rouge1" not in oom.data.metrics
    split = runs["tiny-bart/profile/bs4/ga1"]
    assert len(split.data.params) >= 20 and split.data.params["split.remeasured"] == "False"
    assert split.data.metrics["samples_per_s"] == 40.0 and split.data.tags["ga_check"] == "pass"
    assert [a.path for a in client.list_artifacts(split.info.run_id)] == ["tiny-bart.json"]
    assert runs["tiny-bart/profile/bs8/ga1"].info.status == "KILLED"


def test_logging_again_adds_nothing_and_a_changed_record_replaces_its_run(grid_tree):
    first = track(grid_tree)
    again = track(grid_tree)
    assert (again.added, again.replaced, again.kept) == (0, 0, 5) and again.runs == first.runs
    assert len(active_runs(grid_tree["uri"])) == 5

    write_cell(grid_tree["root"], 4, 1, 0, rouge1=0.35)  # the cell trained again: its record changed
    changed = track(grid_tree)
    assert (changed.added, changed.replaced, changed.kept) == (0, 1, 4)
    name = "tiny-bart/none/all/bs4/ga1/fold0"
    runs = [r for r in active_runs(grid_tree["uri"]) if r.info.run_name == name]
    assert len(runs) == 1 and runs[0].data.metrics["rouge1"] == pytest.approx(0.35)
    old = mlflow.MlflowClient(grid_tree["uri"]).get_run(first.runs[name])
    assert old.info.lifecycle_stage == "deleted"


def test_a_half_logged_run_is_replaced_and_a_failed_logging_leaves_none(grid_tree, monkeypatch):
    calls = {"n": 0}
    real = mlflow.MlflowClient.log_artifact

    def flaky(self, run_id, local_path, artifact_path=None):
        calls["n"] += 1
        if calls["n"] == 4:  # the first cell's first artifact (after three splits'): a full disk
            raise OSError("No space left on device")
        return real(self, run_id, local_path, artifact_path)

    monkeypatch.setattr(mlflow.MlflowClient, "log_artifact", flaky)
    with pytest.raises(OSError):
        track(grid_tree)
    monkeypatch.undo()
    assert len(active_runs(grid_tree["uri"])) == 3  # the failed run was deleted, the finished ones stay

    client = mlflow.MlflowClient(grid_tree["uri"])  # a logging killed outright: a run with no content tag
    experiment = client.get_experiment_by_name(GRID).experiment_id
    from sumbench.tracking.mlflow_runs import IDENTITY_TAG, cell_run

    spec = cell_run(GRID, grid_tree["cells"][0])
    client.create_run(experiment, run_name=spec.name, tags={IDENTITY_TAG: spec.identity})
    done = track(grid_tree)
    assert done.kept + done.replaced + done.added == 5
    names = [r.info.run_name for r in active_runs(grid_tree["uri"])]
    assert len(names) == len(set(names)) == 5


def test_the_experiment_keeps_its_artifacts_under_the_configured_folder(grid_tree):
    track(grid_tree)
    experiment = mlflow.MlflowClient(grid_tree["uri"]).get_experiment_by_name(GRID)
    assert Path(experiment.artifact_location) == Path(grid_tree["artifacts"], GRID).resolve()
    assert sorted(p.name for p in Path(grid_tree["artifacts"], GRID).glob("*/artifacts/*")) == [
        "metrics.json", "metrics.json", "predictions.jsonl", "predictions.jsonl", "tiny-bart.json", "tiny-bart.json",
        "tiny-bart.json", "train_log.jsonl", "train_log.jsonl"]


def test_the_cli_writes_what_it_did(grid_tree, tmp_path):
    out = tmp_path / "mlflow.json"
    args = ["track", "--grid", GRID, "--profiles", *map(str, grid_tree["profiles"]), "--quality",
            *map(str, grid_tree["quality"]), "--uri", grid_tree["uri"], "--artifacts", grid_tree["artifacts"]]
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args, "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith(": 5 runs, 5 added, 0 replaced, 0 kept")
    assert len(json.loads(out.read_text())["runs"]) == 5


def test_tracking_settings_from_the_config():
    assert TrackingSettings.from_config({}) == TrackingSettings(mlflow=True, uri=DEFAULT_URI)
    assert not TrackingSettings.from_config({"tracking": {"mlflow": False}}).mlflow
    assert TrackingSettings(uri="http://mlflow.example:5000").artifact_root is None  # the server's own
    assert TrackingSettings().artifact_root == "results/mlartifacts"


def test_tracking_without_mlflow_installed_is_one_line_at_start(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[tracking\]'.*mlflow: false"):
        TrackingSettings().check()
    TrackingSettings(mlflow=False).check()


def test_a_misspelled_tracking_key_fails_the_config_check():
    from sumbench.config.grid import load_grids

    grid = {"models": ["tiny-bart"], "batch_sizes": [4], "grad_accum": [1], "k_folds": 1, "data": {"synth": {"n": 40}}}
    with pytest.raises(ConfigError, match="unknown key 'tracking.mlfow'"):
        load_grids({"grids": {"g": grid}, "tracking": {"mlfow": False}})


# ------------------------------------------------------------------------------------ the real workflow (slow)
@pytest.mark.slow
def test_quick_test_leaves_one_run_per_cell_and_split_and_a_second_pass_adds_none(quick_test_run):
    from sumbench.records import read_profile
    from sumbench.records.plan import read_quality_job

    results = quick_test_run / "results"
    uri = f"sqlite:///{results / 'mlflow.db'}"
    quality = sorted((results / "quick_test/quality").glob("*/job*.json"))
    profiles = sorted((results / "quick_test/profile").glob("*.json"))
    cells = [Path(quick_test_run, c) for q in quality for c in read_quality_job(q).cells]
    splits = sum(len(read_profile(p).splits) for p in profiles)
    runs = active_runs(uri, "quick_test")
    by_phase = {phase: [r for r in runs if r.data.tags["sumbench.phase"] == phase] for phase in ("quality", "profile")}
    assert len(by_phase["quality"]) == len(cells) == 18 and len(by_phase["profile"]) == splits
    assert len({r.info.run_name for r in runs}) == len(runs)
    client = mlflow.MlflowClient(uri)
    for run in by_phase["quality"]:
        assert len(run.data.params) >= 20, run.info.run_name
        if run.data.tags["status"] == "ok":
            assert {"rouge1", "rouge2", "rougeL", "rouge_sum", "samples_per_s", "tokens_per_s", "s_per_step_median",
                    "peak_memory_bytes", "grad_norm_median", "time_to_train_s"} <= set(run.data.metrics)
            steps = [m.step for m in client.get_metric_history(run.info.run_id, "step/loss")]
            assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 8
        assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["metrics.json", "predictions.jsonl",
                                                                                "train_log.jsonl"]
    ids = {r.info.run_id for r in runs}

    proc = subprocess.run(["sumbench", "track", "--grid", "quick_test", "--profiles", *map(str, profiles),
                           "--quality", *map(str, quality), "--uri", uri, "--artifacts", "results/mlartifacts"],
                          cwd=quick_test_run, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{len(runs)} runs, 0 added, 0 replaced, {len(runs)} kept" in proc.stdout
    again = subprocess.run(["snakemake", "quick_test"], cwd=quick_test_run, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    assert {r.info.run_id for r in active_runs(uri, "quick_test")} == ids
