"""End-to-end: the real `sumbench` CLI on tiny twins (synthetic data, a short warm start)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sumbench.io import read_jsonl
from sumbench.records import FIELDS

REQUIRED_KEYS = ("schema_version status model batch_size grad_accum effective_batch fold s_per_step_median "
                 "s_per_step_p10 s_per_step_p90 warmup_steps samples_per_s tokens_per_s peak_memory_bytes memory_kind "
                 "grad_norm_median grad_norm_max eval_loss rouge1 rouge2 rougeL rouge_sum generation_s environment").split()
STEP_KEYS = ("step", "loss", "grad_norm", "lr", "step_time_s", "tokens", "padded_tokens")
# What an ok cell on a CPU, without a cap and with one repeat, leaves unset; every other field has a value.
NONE_IN_AN_OK_CPU_CELL = {"message", "failed_phase", "max_train_samples", "s_per_step_cv", "mfu", "device_peak_flops",
                          "cuda_max_reserved_bytes", "cuda_device_total_bytes", "cuda_alloc_retries",
                          "memory_note",  # a paged optimizer's state on CUDA only
                          "split_reason"}  # a cell run by hand has no plan to say why its split
NO_CGROUP_LIMIT = {"cgroup_memory_limit_bytes"}  # None where the machine's cgroup sets no memory limit


def sumbench(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"sumbench {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Synthetic corpus, 2 folds, and tiny-bart / tiny-llama warm-started for a few steps."""
    root = tmp_path_factory.mktemp("e2e")
    sumbench("data", "synth", "--n", "80", "--dev-n", "12", "--seed", "3", "--out", str(root / "src"))
    sumbench("data", "split", "--train", str(root / "src/train.csv"), "--dev", str(root / "src/dev.csv"), "--k", "2",
             "--out", str(root / "folds"))
    for model in ("tiny-bart", "tiny-llama"):
        sumbench("warmstart", "--model", model, "--train", str(root / "src/train.csv"), "--out",
                 str(root / "base" / model), "--steps", "3", "--set", "tiny.warmstart_corpus_size=40")
    return root


def train(ws: Path, model: str, out: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    return sumbench("train", "--model", model, "--batch-size", "4", "--grad-accum", "2", "--fold", "1",
                    "--data", str(ws / "folds"), "--out", str(out), "--max-steps", "3", "--max-eval-samples", "6",
                    "--warmup-steps", "1", *extra, check=check)


@pytest.mark.parametrize("model", ["tiny-bart", "tiny-llama"])
def test_train_cell_writes_complete_consistent_records(workspace, tmp_path, model):
    out = tmp_path / "cell"
    train(workspace, model, out, "--base", str(workspace / "base" / model))
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(REQUIRED_KEYS) <= set(record)
    assert set(record) == FIELDS  # a renamed or dropped result field fails here, not silently in the report
    causal = {"target_padding_efficiency"} if model == "tiny-llama" else set()  # one sequence, no separate target
    unset = {key for key, value in record.items() if value is None}
    assert unset - NO_CGROUP_LIMIT == NONE_IN_AN_OK_CPU_CELL | causal
    assert record["status"] == "ok" and record["effective_batch"] == 8 and record["fold"] == 1
    assert record["steps"] == 3 and record["warmup_steps"] == 1
    timed = read_jsonl(out / "train_log.jsonl")[1:]  # samples/s = samples of the timed steps / their seconds
    assert record["samples_per_s"] == pytest.approx(sum(r["samples"] for r in timed) / sum(r["step_time_s"] for r in timed))
    assert record["exclusive"] is True and record["window_end"] > record["window_start"]
    assert record["s_per_step_p10"] <= record["s_per_step_median"] <= record["s_per_step_p90"]
    assert record["memory_kind"] == "cpu_peak_rss" and record["peak_memory_bytes"] > 50 * 2**20
    assert 0 < record["padding_efficiency"] <= 1
    for key in ("rouge1", "rouge2", "rougeL", "heldout_rouge1"):
        assert 0.0 <= record[key] <= 1.0
    assert record["rouge_sum"] == pytest.approx(record["rouge1"] + record["rouge2"] + record["rougeL"])
    assert record["environment"]["packages"]["torch"].startswith("2.13.0")
    assert record["trainable_params"] < record["total_params"] if model == "tiny-llama" else True  # LoRA

    steps = read_jsonl(out / "train_log.jsonl")
    assert [s["step"] for s in steps] == [1, 2, 3]
    for s in steps:
        assert set(STEP_KEYS) <= set(s) and s["samples"] == 8 and 0 < s["tokens"] <= s["padded_tokens"]
    assert record["grad_norm_max"] == pytest.approx(max(s["grad_norm"] for s in steps))

    preds = read_jsonl(out / "predictions.jsonl")
    assert {p["split"] for p in preds} == {"dev", "heldout"}
    assert sum(p["split"] == "dev" for p in preds) == record["eval_examples"] == 6
    assert not (out / ".trainer").exists()


def test_pretrained_path_loads_a_save_pretrained_directory(workspace, tmp_path):
    """The real-model path: `pretrained: <dir>` through from_pretrained, as for a hub model."""
    out = tmp_path / "cell"
    train(workspace, "tiny-bart", out, "--set", f"pretrained={workspace / 'base' / 'tiny-bart'}")
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok"
    assert record["settings"]["model"]["pretrained"] == str(workspace / "base" / "tiny-bart")


@pytest.mark.parametrize("args, message", [
    (("--model", "kobart", "--set", "resources.gpus=0"),
     "model 'kobart': cannot load 'digit82/kobart-summarization' ("),
    (("--model", "tiny-bart", "--base", "/nonexistent/dir"), "pretrained directory /nonexistent/dir does not exist"),
    (("--model", "tiny-bart"), "is a tiny twin; warm-start it first"),
    (("--model", "no-such-model"), "unknown model 'no-such-model'"),
    (("--model", "tiny-bart", "--batch-size", "-2"), "--batch-size must be >= 1, got -2"),
    (("--model", "tiny-bart", "--fold", "7"), "fold7/train.csv: missing train file for fold 7"),
    (("--model", "tiny-bart", "--set", "training.lr=1"), "unknown key 'training.lr'"),
])
def test_bad_train_input_is_one_line_and_writes_nothing(workspace, tmp_path, args, message):
    base = ["--model", "tiny-bart", "--batch-size", "4", "--grad-accum", "1", "--fold", "0"]
    merged = dict(zip(base[::2], base[1::2]))
    merged.update(dict(zip(args[::2], args[1::2])))
    out = tmp_path / "cell"
    proc = sumbench("train", *[x for kv in merged.items() for x in kv], "--data", str(workspace / "folds"),
                    "--out", str(out), "--max-steps", "1", check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0]
    assert not out.exists()


def test_weights_that_do_not_load_name_the_cause_in_the_line_and_chain_it(workspace, tmp_path):
    import shutil

    from sumbench.config.model import load_model
    from sumbench.errors import ConfigError
    from sumbench.training.models import load_pretrained

    broken = tmp_path / "broken"
    shutil.copytree(workspace / "base" / "tiny-bart", broken)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_pretrained(load_model("tiny-bart"), str(broken))
    cause = info.value.__cause__
    assert isinstance(cause, (OSError, ValueError))  # chained: the traceback keeps the whole cause
    line = str(info.value)
    assert line.startswith(f"model 'tiny-bart': cannot load '{broken}' ({type(cause).__name__}: ")
    assert str(cause).strip().splitlines()[0][:60] in line and line.endswith("needs a model saved with save_pretrained")
    hub = sumbench("train", "--model", "kobart", "--set", "resources.gpus=0", "--batch-size", "4", "--grad-accum", "1",
                   "--fold", "0", "--data", str(workspace / "folds"), "--out", str(tmp_path / "cell"), check=False)
    line = hub.stderr.strip().splitlines()[-1]  # the cause (not in the cache, offline) and the fix, in one line
    assert line.startswith("sumbench: model 'kobart': cannot load 'digit82/kobart-summarization' (")
    assert "run `hf download digit82/kobart-summarization`" in line


@pytest.mark.parametrize("exc, status", [("oom", "oom"), ("boom", "error")])
def test_a_failing_cell_is_a_record_with_every_output(workspace, tmp_path, monkeypatch, exc, status):
    import torch

    from sumbench.training import cell as train_module

    def fail(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB") if exc == "oom" else RuntimeError("boom")

    monkeypatch.setattr(train_module, "train", fail)
    cell = train_module.Cell(model="tiny-bart", batch_size=4, grad_accum=1, fold=0, data=workspace / "folds",
                             out=tmp_path / "cell", overrides=(f"pretrained={workspace / 'base' / 'tiny-bart'}",))
    record = train_module.run_cell(cell)
    saved = json.loads((tmp_path / "cell" / "metrics.json").read_text(encoding="utf-8"))
    assert record.status == saved["status"] == status
    assert saved["message"].startswith("OutOfMemoryError: CUDA out of memory" if exc == "oom" else "RuntimeError: boom")
    assert read_jsonl(tmp_path / "cell" / "train_log.jsonl") == [] and (tmp_path / "cell" / "predictions.jsonl").exists()
    assert saved["failed_phase"] == "train"


def test_an_oom_in_generation_keeps_the_training_figures(workspace, tmp_path, monkeypatch):
    from sumbench.training import cell as train_module

    def fail(*args, **kwargs):  # cuBLAS reports a failed allocation as a plain RuntimeError
        raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`")

    monkeypatch.setattr(train_module, "evaluate", fail)
    cell = train_module.Cell(model="tiny-bart", batch_size=4, grad_accum=1, fold=0, data=workspace / "folds",
                             out=tmp_path / "cell", max_steps=2, max_eval_samples=4,
                             overrides=(f"pretrained={workspace / 'base' / 'tiny-bart'}",))
    train_module.run_cell(cell)
    saved = json.loads((tmp_path / "cell" / "metrics.json").read_text(encoding="utf-8"))
    assert (saved["status"], saved["failed_phase"]) == ("oom", "generation")
    assert saved["samples_per_s"] > 0 and saved["eval_loss"] is not None and saved["rouge_sum"] is None
    assert len(read_jsonl(tmp_path / "cell" / "train_log.jsonl")) == 2


def test_score_cli_on_predictions(workspace, tmp_path):
    out = tmp_path / "cell"
    train(workspace, "tiny-bart", out, "--base", str(workspace / "base" / "tiny-bart"))
    preds = [p for p in read_jsonl(out / "predictions.jsonl") if p["split"] == "dev"]
    pred_file, ref_file = tmp_path / "pred.jsonl", tmp_path / "ref.jsonl"
    pred_file.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in reversed(preds)), encoding="utf-8")
    ref_file.write_text("".join(json.dumps({"fname": p["fname"], "summary": p["references"][0]}, ensure_ascii=False) + "\n"
                                for p in preds), encoding="utf-8")
    result = json.loads(sumbench("score", "--pred", str(pred_file), "--ref", str(ref_file)).stdout)
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert result["rouge1"] == pytest.approx(record["rouge1"])


def test_repeats_report_the_spread_of_the_timing_phase(workspace, tmp_path):
    out = tmp_path / "cell"
    train(workspace, "tiny-bart", out, "--base", str(workspace / "base" / "tiny-bart"), "--repeats", "2")
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["repeats"] == 2 and len(record["s_per_step_repeats"]) == 2
    assert record["s_per_step_cv"] is not None and record["s_per_step_cv"] >= 0
    assert record["mfu"] is None and record["flops_formula"].startswith("6 x weights")  # CPU: no peak known


def test_injected_oom_is_a_record_and_the_job_succeeds(workspace, tmp_path, monkeypatch):
    monkeypatch.setenv("SUMBENCH_FAULT", "oom@tiny-bart/bs4_ga2")
    out = tmp_path / "cell"
    proc = train(workspace, "tiny-bart", out, "--base", str(workspace / "base" / "tiny-bart"))
    assert proc.returncode == 0
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "oom" and "CUDA out of memory" in record["message"]
    monkeypatch.setenv("SUMBENCH_FAULT", "oom@tiny-bart/bs8_ga1")  # another cell: unaffected
    train(workspace, "tiny-bart", out, "--base", str(workspace / "base" / "tiny-bart"))
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["status"] == "ok"


def test_early_stopping_stops_and_eval_time_is_not_step_time(workspace, tmp_path):
    out = tmp_path / "cell"
    # an improvement threshold no run can meet: stop at the second evaluation (step 4 of at most 12)
    train(workspace, "tiny-bart", out, "--base", str(workspace / "base" / "tiny-bart"), "--max-steps", "12",
          "--set", "training.early_stopping_patience=1", "--set", "training.eval_steps=2",
          "--set", "training.early_stopping_threshold=100")
    steps = read_jsonl(out / "train_log.jsonl")
    assert [s["step"] for s in steps] == [1, 2, 3, 4]
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["steps"] == 4 and not (out / ".trainer").exists()


def test_the_record_takes_every_field_of_every_step_result():
    """build_record names each result field once: every value a step returns lands in the CellRecord."""
    from sumbench.data.corpus import Example
    from sumbench.training import cell as c
    from sumbench.training.lease import Window
    from sumbench.training.measure import StepSummary
    from sumbench.training.memory import MemoryReading
    from sumbench.training.timed import TimedRun

    live = {"model", "tokenizer", "featurizer", "train", "eval", "trainer", "rows", "predictions"}  # not records
    numbers = itertools.count(1000)

    def filled(cls, **given):
        return cls(**{f.name: given[f.name] if f.name in given else object() if f.name in live else (next(numbers),)
                      for f in dataclasses.fields(cls)})

    results = dict(loaded=filled(c.Loaded), features=filled(c.Features),
                   trained=filled(c.TrainResult, run=filled(TimedRun, summary=filled(StepSummary,
                                                                                     memory=filled(MemoryReading)),
                                                             window=filled(Window))),
                   eval_loss=(next(numbers),), time_to_quality_s=(next(numbers),),
                   evaluated=filled(c.EvalResult, dev=filled(c.SplitScore), heldout=filled(c.SplitScore)))
    sent = {n for n in range(1000, next(numbers))}
    cell = c.Cell(model="tiny-bart", batch_size=2, grad_accum=1, fold=0, data=Path("d"), out=Path("o"))
    data = c.CellData(train=[Example("a", "d", "s", "t")], heldout=[], dev=[])
    record = c.build_record(cell, c.load_model("tiny-bart"), data, failure=c.Failure("oom", "boom", "train"), settings={},
                            environment={}, **results)
    found = {v[0] for v in vars(record).values() if isinstance(v, (list, tuple)) and len(v) == 1}
    assert sent - found == set()
    assert (record.status, record.message, record.failed_phase, record.train_examples) == ("oom", "boom", "train", 1)


def test_train_takes_its_data_seed_and_augment_settings_from_a_grid(tmp_path):
    from sumbench.cli import build_parser
    from sumbench.cli.cells import cell_from_args
    from sumbench.config.grid import Grid
    from sumbench.config.schema import REPO_ROOT
    from sumbench.errors import SumbenchError

    config = yaml.safe_load((REPO_ROOT / "configs" / "config.yaml").read_text(encoding="utf-8"))
    config["grids"]["quick_aug"].update(seed=7, augment={"ratio": 0.25, "synonym": {"p": 0.2}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    base = ["train", "--model", "tiny-bart", "--batch-size", "4", "--grad-accum", "1", "--fold", "0", "--out", "o"]

    def cell(*extra: str):
        return cell_from_args(build_parser().parse_args([*base, *extra]))

    grid_default_seed = {f.name: f.default for f in dataclasses.fields(Grid)}["seed"]
    assert cell().seed == grid_default_seed and cell().augment_settings is None
    from_grid = cell("--grid", "quick_aug", "--config", str(tmp_path / "config.yaml"))
    settings = from_grid.augment_settings
    assert from_grid.seed == 7 and settings.ratio == 0.25 and settings.synonym.p == 0.2
    own = cell("--grid", "quick_aug", "--config", str(tmp_path / "config.yaml"), "--seed", "3",
               "--augment-settings", '{"ratio": 1}')
    assert own.seed == 3 and own.augment_settings.ratio == 1 and own.augment_settings.synonym.p == 0.3
    with pytest.raises(SumbenchError, match="no grid 'nope'"):
        cell("--grid", "nope", "--config", str(tmp_path / "config.yaml"))


def test_train_without_train_csv_trains_on_the_examples_of_the_workflow_s_way(workspace, tmp_path, monkeypatch):
    """`sumbench train --augmentation A --max-train-samples N` alone caps and augments as the workflow does with
    `sumbench data augment` and `--train-csv`: the two cells train on the same examples in the same order."""
    from sumbench.cli import main
    from sumbench.training import cell as cell_module

    seen = {}
    featurize = cell_module.featurize

    def spy(spec, tokenizer, data):
        seen[len(seen)] = data.train
        return featurize(spec, tokenizer, data)

    monkeypatch.setattr(cell_module, "featurize", spy)
    folds, aug = str(workspace / "folds"), tmp_path / "aug"
    setting = ["--fold", "1", "--augmentation", "speaker_swap+synonym", "--max-train-samples", "30"]
    sumbench("data", "augment", "--data", folds, *setting, "--seed", "42", "--out", str(aug))  # as rule augment
    cell = ["train", "--model", "tiny-bart", "--base", str(workspace / "base" / "tiny-bart"), "--batch-size", "4",
            "--grad-accum", "1", "--data", folds, *setting, "--max-steps", "1", "--max-eval-samples", "2"]
    assert main([*cell, "--out", str(tmp_path / "by_hand")]) == 0
    assert main([*cell, "--out", str(tmp_path / "workflow"), "--train-csv", str(aug / "train.csv"),
                 "--seed", "42"]) == 0

    by_hand, workflow = seen[0], seen[1]
    assert len(by_hand) > 30 and by_hand == workflow
    records = [json.loads((tmp_path / name / "metrics.json").read_text(encoding="utf-8"))
               for name in ("by_hand", "workflow")]
    assert records[0]["data_stats"] == records[1]["data_stats"] and records[0]["original_train_examples"] == 30
    assert records[0]["augmented_examples"] == records[1]["augmented_examples"] == len(by_hand) - 30
    settings = [{k: v for k, v in r["settings"]["cell"].items() if k not in ("out", "train_csv")} for r in records]
    assert settings[0] == settings[1]  # the record says how to run the cell again, either way
