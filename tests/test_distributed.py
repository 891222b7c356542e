"""Data-parallel training as N processes: the launcher, and 2 processes on the CPU (gloo) against one process.

Two ranks at micro-batch 2 make one global batch of 4: each rank must see its own half of every batch (disjoint
examples, together the one process's batch), and the loss and gradient norm of each step must equal one process
training micro-batch 4 on the same examples. samples/s and tokens count every rank; memory is one rank's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.config.model import load_model
from sumbench.containers.jobs import job_launcher
from sumbench.errors import ConfigError
from sumbench.training import distributed

WORKER = Path(__file__).parent / "workers" / "ddp_rank.py"
REL_TOLERANCE = 1e-5  # fp32 all-reduce of two half-batch gradients vs one batch's: summation order only


def sumbench(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic training CSV and a tiny-llama warm-started for 3 steps."""
    root = tmp_path_factory.mktemp("ddp")
    sumbench("data", "synth", "--n", "40", "--dev-n", "4", "--seed", "3", "--out", str(root / "src"))
    sumbench("warmstart", "--model", "tiny-llama", "--train", str(root / "src/train.csv"), "--out",
             str(root / "base"), "--steps", "3", "--set", "tiny.warmstart_corpus_size=40")
    return root / "base", root / "src/train.csv"


def run_ranks(base, csv, out: Path, processes: int, batch_size: int, deepspeed: str = "off") -> list[dict]:
    out.mkdir(parents=True)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes)] \
        if processes > 1 else [sys.executable]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SUMBENCH_DEEPSPEED_JIT": "0"}
    proc = subprocess.run([*launch, str(WORKER), str(base), str(csv), str(batch_size), str(out), deepspeed],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(processes)]


def test_two_cpu_processes_split_every_batch_and_train_as_one_process(base, tmp_path):
    one, = run_ranks(*base, tmp_path / "one", processes=1, batch_size=4)
    two = run_ranks(*base, tmp_path / "two", processes=2, batch_size=2)
    assert [r["world_size"] for r in two] == [2, 2] and one["world_size"] == 1
    for step, batch in enumerate(one["seen"]):
        halves = [r["seen"][step] for r in two]
        assert not set(halves[0]) & set(halves[1]), f"step {step + 1}: both ranks trained on {halves}"
        assert sorted(halves[0] + halves[1]) == batch  # together, the one process's batch
    for a, b in zip(one["steps"], two[0]["steps"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=REL_TOLERANCE)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=REL_TOLERANCE)
        assert (b["samples"], b["tokens"]) == (a["samples"], a["tokens"])  # every rank's samples and tokens
    same = ("loss", "grad_norm", "samples", "tokens")  # both ranks report the step as a whole
    assert [[s[k] for k in same] for s in two[0]["steps"]] == [[s[k] for k in same] for s in two[1]["steps"]]
    # samples/s = every rank's samples / the step seconds: 4 samples a step, not one rank's 2
    for r in two:
        seconds = sum(s["step_time_s"] for s in r["steps"])
        assert r["samples_per_s"] == pytest.approx(12 / seconds)
        assert r["peak_memory_bytes"] > 0  # each rank's own peak
    # the same two ranks under DeepSpeed ZeRO-2 (the user's setup): still one process's training
    zero2 = run_ranks(*base, tmp_path / "zero2", processes=2, batch_size=2, deepspeed="zero2")
    assert [r["deepspeed"] for r in zero2] == ["zero2", "zero2"]
    for step, batch in enumerate(one["seen"]):
        assert sorted(zero2[0]["seen"][step] + zero2[1]["seen"][step]) == batch
    for a, b in zip(one["steps"], zero2[0]["steps"]):
        assert (b["loss"], b["grad_norm"]) == pytest.approx((a["loss"], a["grad_norm"]), rel=REL_TOLERANCE)


# ------------------------------------------------------------------------------------------- launching
def test_a_job_of_several_processes_starts_under_torchrun():
    spec = load_model("tiny-bart")
    two = dataclasses.replace(spec, resources=dataclasses.replace(spec.resources, gpus=0, cpu_processes=2))
    assert distributed.processes(two) == 2
    assert job_launcher(two, "host") == "torchrun --standalone --nproc-per-node 2 --module sumbench.cli"  # no GPU lease
    assert job_launcher(spec, "host") == "sumbench"
    four = dataclasses.replace(spec, resources=dataclasses.replace(spec.resources, gpus=4))
    assert job_launcher(four, "host") == "sumbench lease --gpus 4 -- " + distributed.launcher(four)


def test_cpu_processes_are_for_a_model_without_gpus():
    with pytest.raises(ConfigError, match="tiny-bart.yaml: key resources.cpu_processes needs resources.gpus: 0"):
        load_model("tiny-bart", overrides=["resources.gpus=1", "resources.cpu_processes=2"])
    with pytest.raises(ConfigError, match="cpu_processes"):
        load_model("tiny-bart", overrides=["resources.cpu_processes=0"])


def test_world_comes_from_the_launcher_environment():
    assert distributed.world({}) == distributed.World(0, 0, 1)
    w = distributed.world({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
    assert (w.rank, w.local_rank, w.size, w.main) == (3, 1, 4, False)
    env: dict = {}
    distributed.lone_process_env(env)
    assert env["WORLD_SIZE"] == "1" and env["RANK"] == "0" and int(env["MASTER_PORT"]) > 0
    env = {"WORLD_SIZE": "2"}
    distributed.lone_process_env(env)  # a launcher set the world: left alone
    assert env == {"WORLD_SIZE": "2"}


def test_only_rank_zero_writes_a_cells_records(tmp_path, monkeypatch):
    from sumbench.records import CellRecord
    from sumbench.training.cell import write_records

    record = CellRecord(model="m", batch_size=1, grad_accum=1, fold=0)
    monkeypatch.setenv("RANK", "1")
    write_records(tmp_path, record, None, None)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("RANK", "0")
    write_records(tmp_path, record, None, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "predictions.jsonl", "train_log.jsonl"]


@pytest.mark.parametrize("rank, lines", [("0", 1), ("1", 0)])
def test_only_rank_zero_prints_the_train_commands_line(monkeypatch, capsys, rank, lines):
    """Under torchrun every rank runs ``sumbench train``; the one JSON line of the cell comes once."""
    from sumbench.cli import cells, main
    from sumbench.records import CellRecord
    from sumbench.training import cell

    monkeypatch.setattr(cells, "cell_from_args", lambda args: None)
    monkeypatch.setattr(cell, "run_cell", lambda c: CellRecord(model="m", batch_size=1, grad_accum=1, fold=0))
    monkeypatch.setenv("RANK", rank)
    assert main(["train", "--model", "m", "--batch-size", "1", "--grad-accum", "1", "--fold", "0", "--data", "d",
                 "--out", "o"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == lines


def test_a_cell_under_zero3_on_two_processes_generates_with_every_rank(base, tmp_path):
    """ZeRO-3 splits the weights over the ranks, so rank 0 cannot generate alone (its forward passes gather from the
    others: alone it failed with "Connection closed by peer"); every rank takes part, rank 0 scores and writes, and
    the command's line comes once."""
    weights, csv = base
    sumbench("data", "split", "--train", str(csv), "--dev", str(csv.parent / "dev.csv"), "--k", "2", "--out",
             str(tmp_path / "folds"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SUMBENCH_DEEPSPEED_JIT": "0"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "--module", "sumbench.cli", "train", "--model", "tiny-llama", "--batch-size", "2",
                           "--grad-accum", "1", "--fold", "0", "--data", str(tmp_path / "folds"), "--base", str(weights),
                           "--out", str(tmp_path / "cell"), "--max-steps", "2", "--max-eval-samples", "3",
                           "--warmup-steps", "1", "--deepspeed", "zero3", "--set", "resources.cpu_processes=2"],
                          capture_output=True, text=True, timeout=400, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    record = json.loads((tmp_path / "cell" / "metrics.json").read_text(encoding="utf-8"))
    assert (record["status"], record["world_size"], record["deepspeed"]) == ("ok", 2, "zero3"), record["message"]
    predictions = [json.loads(line) for line in (tmp_path / "cell" / "predictions.jsonl").read_text().splitlines()]
    assert [p["split"] for p in predictions] == ["dev"] * 3 + ["heldout"] * 3  # written once, by rank 0
    assert record["generation_s"] > 0
    assert [line for line in proc.stdout.splitlines() if line.startswith("{")] == [
        json.dumps({k: record[k] for k in ("status", "model", "rouge_sum", "samples_per_s")}, ensure_ascii=False)]
