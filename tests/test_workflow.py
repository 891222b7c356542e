"""The workflow itself: lint, dry runs, and (marked slow) a real `snakemake quick_test`."""

from __future__ import annotations

import csv
import os
import shutil
import statistics
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from sumbench.config.schema import REPO_ROOT
from sumbench.records import read_profile, read_record
from sumbench.records.plan import read_plan

IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache")


@pytest.fixture()
def repo_copy(tmp_path) -> Path:
    """A scratch copy of the workflow, so tests never touch the user's results/."""
    dst = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, dst, ignore=IGNORE, symlinks=True)
    return dst


def snakemake(cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def job_counts(dry_run_output: str) -> Counter:
    """Parse the `Job stats` table of a dry run."""
    counts: Counter = Counter()
    for line in dry_run_output.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
        elif not line.strip():
            break
    return counts


def test_lint_is_clean(repo_copy):
    proc = snakemake(repo_copy, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, proc.stdout


def test_quick_test_dry_run_as_typed_plans_the_grid(repo_copy):
    proc = snakemake(repo_copy, "-n", "quick_test")  # no --cores: the default profile must supply it
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    # the quality jobs follow from the plan (a checkpoint), so a dry run lists the jobs up to it
    assert counts == {"synth_data": 1, "split_folds": 1, "warmstart": 3, "profile": 3, "plan": 1, "report": 1,
                      "pages": 1, "mlflow": 3, "quick_test": 1}  # mlflow: one per model


def test_full_grid_dry_run_plans_every_cell_with_its_container(repo_copy):
    data = repo_copy / "data"
    subprocess.run(["sumbench", "data", "synth", "--n", "60", "--out", str(data)], check=True, capture_output=True)
    proc = snakemake(repo_copy, "-n", "--forceall")
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert counts["profile"] == 6 and counts["plan"] == 1 and counts["report_full"] == 1 and "warmstart" not in counts


def test_bad_config_key_fails_at_start_with_one_clear_line(repo_copy):
    cfg = repo_copy / "configs" / "config.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("k_folds: 2", "k_fold: 2", 1), encoding="utf-8")
    proc = snakemake(repo_copy, "-n", "quick_test")
    assert proc.returncode != 0
    assert "unknown key 'grids.quick_test.k_fold'" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_quick_test_runs_both_phases_end_to_end_and_learns(quick_test_run):
    repo_copy = quick_test_run  # `snakemake quick_test` as typed (the default profile's cores: all), run once per session
    results = repo_copy / "results" / "quick_test"
    summary = (results / "summary.md").read_text(encoding="utf-8")
    rows = list(csv.DictReader((results / "summary.csv").open(encoding="utf-8")))
    speed = list(csv.DictReader((results / "speed.csv").open(encoding="utf-8")))
    # profile: 4 splits per model (+ the first measured again); quality: effective batches 4, 8, 16 x 2 folds
    assert len([r for r in speed if r["remeasured"] == "False"]) == 3 * 4 and {r["status"] for r in speed} == {"ok"}
    assert len(rows) == 3 * 3 * 2 and {r["status"] for r in rows} == {"ok"}
    assert {int(r["effective_batch"]) for r in rows} == {4, 8, 16}
    rouge1 = {m: statistics.mean(float(r["rouge1"]) for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}
    assert rouge1["tiny-bart"] >= 0.20, rouge1
    assert max(v for m, v in rouge1.items() if m != "tiny-bart") >= 0.10, rouge1
    for model in rouge1:
        assert f"## {model}" in summary and "### Speed (profile phase)" in summary
    assert "## Predicted vs measured" in summary and "## Plan: quick_test, after the profile" in summary
    assert "## Diagnostics" in summary and "Gradient-accumulation equivalence**: pass" in summary
    for name in ("throughput_vs_effective_batch", "memory_vs_batch", "rouge_vs_throughput", "grad_norm_traces"):
        png = results / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"](plots/{name}.png)" in summary
    assert min(float(r["padding_efficiency"]) for r in rows) >= 0.85
    for model in rouge1:  # the learning curve: held-out eval loss against samples seen, a line per effective batch
        png = results / "plots" / f"learning_curve_{model}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"](plots/learning_curve_{model}.png)" in summary
    assert "95 % CI [" in summary  # the recommendation states the interval it used

    # No two timed windows (profiled splits, quality trainings) ever shared the device, with cores: all.
    windows = [(r["device"], float(r["window_start"]), float(r["window_end"])) for r in speed + rows]
    windows.sort(key=lambda w: (w[0], w[1]))
    for (dev_a, _, end_a), (dev_b, start_b, _) in zip(windows, windows[1:]):
        assert dev_a != dev_b or end_a <= start_b, (dev_a, end_a, start_b)
    assert all(r["exclusive"] == "True" for r in speed + rows)

    cells = results / "runs" / "tiny-bart" / "aug-none_cap-all"
    diff = subprocess.run(["sumbench", "diff", str(cells / "bs4_ga1" / "fold0"), str(cells / "bs8_ga2" / "fold0")],
                          capture_output=True, text=True, check=True, cwd=repo_copy).stdout
    assert "| batch_size | 4 | 8 |" in diff and "| samples/s |" in diff
    status = subprocess.run(["sumbench", "status", "quick_test"], capture_output=True, text=True, check=True,
                            cwd=repo_copy).stdout
    assert "6/6 jobs done; predicted time left: 0s" in status
    for path in (results / "profile").glob("*.json"):  # what the plan predicts each quality training's set-up from
        profile = read_profile(path)
        assert all(s.setup_s is not None for s in profile.splits if s.status == "ok"), path
        assert profile.costs.train_setup_s is not None and profile.costs.analyser_load_s is not None, path


SMALL_GRID = """
grids:
  small:
    models: [tiny-bart]
    batch_sizes: [4, 8]
    grad_accum: [1, 2]
    k_folds: 1
    max_steps: 3
    max_eval_samples: 4
    timing_warmup_steps: 1
    profile: {warmup_steps: 1, timed_steps: 2}
    data: {synth: {n: 40, dev_n: 8, seed: 0}}
"""


@pytest.mark.slow
def test_an_oom_in_the_profile_prunes_larger_micro_batches_from_both_phases(repo_copy):
    model_yaml = repo_copy / "configs" / "models" / "tiny-bart.yaml"
    model_yaml.write_text(model_yaml.read_text(encoding="utf-8").replace("warmstart_steps: 250", "warmstart_steps: 2"),
                          encoding="utf-8")
    (repo_copy / "small.yaml").write_text(SMALL_GRID, encoding="utf-8")
    env = {**os.environ, "SUMBENCH_FAULT": "oom@tiny-bart/bs8_ga1"}
    proc = subprocess.run(["snakemake", "results/small/summary.md", "--configfile", "small.yaml"], cwd=repo_copy,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = repo_copy / "results" / "small"
    summary = (results / "summary.md").read_text(encoding="utf-8")
    speed = {r["split"]: r for r in csv.DictReader((results / "speed.csv").open(encoding="utf-8"))
             if r["remeasured"] == "False"}
    assert speed["bs8_ga1"]["status"] == "oom" and speed["bs8_ga2"]["status"] == "skipped"
    assert speed["bs4_ga1"]["status"] == "ok" and speed["bs4_ga2"]["status"] == "ok"
    rows = list(csv.DictReader((results / "summary.csv").open(encoding="utf-8")))
    # effective batch 8 trains with bs4/ga2 (bs8/ga1 ran out of memory); 16 has no split left and is dropped
    assert {(r["batch_size"], r["grad_accum"]) for r in rows} == {("4", "1"), ("4", "2")}
    assert "micro-batch 8 ran out of memory, so 8 would too" in summary
    assert "effective batch 16 dropped" in summary and "CUDA out of memory (injected" in summary


THREE_MODEL_GRID = SMALL_GRID.replace("models: [tiny-bart]", "models: [tiny-bart, tiny-llama, tiny-qwen3]")


@pytest.mark.slow
def test_a_model_whose_every_profile_split_fails_is_reported_and_left_out_while_the_others_train(repo_copy):
    for model in ("tiny-bart", "tiny-llama", "tiny-qwen3"):  # a 2-step warm start: only the pipeline is under test
        path = repo_copy / "configs" / "models" / f"{model}.yaml"
        text = path.read_text(encoding="utf-8")
        steps = text.split("warmstart_steps: ")[1].split()[0]
        path.write_text(text.replace(f"warmstart_steps: {steps}", "warmstart_steps: 2"), encoding="utf-8")
    (repo_copy / "small.yaml").write_text(THREE_MODEL_GRID, encoding="utf-8")
    env = {**os.environ, "SUMBENCH_FAULT": "error@tiny-llama/*"}  # every split of tiny-llama raises a RuntimeError
    proc = subprocess.run(["snakemake", "results/small/summary.md", "--configfile", "small.yaml"], cwd=repo_copy,
                          env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = repo_copy / "results" / "small"
    profile = read_profile(results / "profile" / "tiny-llama.json")  # written, though nothing in it ran
    assert {s.status for s in profile.splits} == {"error"} and len(profile.splits) == 4
    cause = "RuntimeError: injected by SUMBENCH_FAULT=error@tiny-llama/*"
    assert all(s.message == cause for s in profile.splits)
    plan = read_plan(results / "plan.json")
    assert {c.model for c in plan.cells} == {"tiny-bart", "tiny-qwen3"}
    assert next(m for m in plan.models if m.model == "tiny-llama").left_out == f"every profiled split failed (error: {cause})"
    assert not (results / "quality" / "tiny-llama").exists()  # no quality job of it at all
    rows = list(csv.DictReader((results / "summary.csv").open(encoding="utf-8")))
    assert {r["model"] for r in rows} == {"tiny-bart", "tiny-qwen3"} and len(rows) == 2 * 3
    assert {r["status"] for r in rows} == {"ok"}
    summary = (results / "summary.md").read_text(encoding="utf-8")
    assert "- **Profile failures**: 1 finding(s)" in summary
    assert f"  - tiny-llama: every profiled split failed (error: {cause}): the plan leaves tiny-llama out" in summary
    assert f"- tiny-llama: left out of the quality phase: every profiled split failed (error: {cause})" in summary


DEEPSPEED_GRID = """
grids:
  ds:   # tiny-llama under four DeepSpeed settings, named by the grid
    models: [tiny-llama]
    batch_sizes: [4, 8]
    grad_accum: [1, 2]
    k_folds: 2
    data: {synth: {n: 200, dev_n: 20, seed: 0}}
    max_steps: 6
    max_eval_samples: 10
    profile: {warmup_steps: 2, timed_steps: 6}
    deepspeed: [off, zero2, zero2+optimizer, zero3]
    rouge: {analyzers: [whitespace]}
"""


@pytest.mark.slow
def test_a_grids_deepspeed_axis_is_profiled_planned_and_trained_from_snakemake(repo_copy):
    """The grid's DeepSpeed axis end to end: every split timed under every setting and each setting proved
    equivalent; the plan takes, per effective batch, the split and setting with the most samples/s the profile
    recorded; each quality cell trains under its plan's setting; the report's speed table has the axis."""
    path = repo_copy / "configs" / "models" / "tiny-llama.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("warmstart_steps: 150", "warmstart_steps: 2"),
                    encoding="utf-8")
    (repo_copy / "ds.yaml").write_text(DEEPSPEED_GRID, encoding="utf-8")
    proc = subprocess.run(["snakemake", "results/ds/summary.md", "--configfile", "configs/config.yaml", "ds.yaml"],
                          cwd=repo_copy, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = repo_copy / "results" / "ds"
    profile = read_profile(results / "profile" / "tiny-llama.json")
    settings = ["off", "zero2", "zero2+optimizer", "zero3"]
    timed = {(s.batch_size, s.grad_accum, s.deepspeed): s.samples_per_s for s in profile.splits
             if not s.remeasured and s.status == "ok"}
    assert set(timed) == {(b, g, d) for b in (4, 8) for g in (1, 2) for d in settings}
    assert [(c.setting, c.status) for c in profile.deepspeed_checks] == [(d, "pass") for d in settings[1:]]
    plan = read_plan(results / "plan.json")
    for cell in plan.cells:
        eb = cell.batch_size * cell.grad_accum
        best = max((rate, key) for key, rate in timed.items() if key[0] * key[1] == eb)[1]
        assert (cell.batch_size, cell.grad_accum, cell.deepspeed) == best, cell.split_reason
    records = [read_record(results / "runs" / "tiny-llama" / "aug-none_cap-all" /
                           f"bs{c.batch_size}_ga{c.grad_accum}" / f"fold{c.fold}" / "metrics.json") for c in plan.cells]
    assert [(r.status, r.deepspeed) for r in records] == [("ok", c.deepspeed) for c in plan.cells]
    summary = (results / "summary.md").read_text(encoding="utf-8")
    assert "| split | DeepSpeed | bs | ga |" in summary
    assert all(f"| bs4_ga1+{d} | {d} |" in summary for d in settings[1:])
