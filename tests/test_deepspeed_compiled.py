"""The compiled path (slow: DeepSpeed compiles two C++ ops, ~2-5 minutes on two cores): the user's own DeepSpeed
JSON (ZeRO-2, optimizer offloaded to the CPU with its own AdamW block, "auto" batch sizes and learning rate) trains a
cell through `sumbench train`, and the record says which ops were loaded (compiled) before the timed window."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_deepspeed import USERS


def sumbench(*args: str, env=None) -> None:
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=1800,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.slow
def test_users_zero2_offload_json_trains_a_cell_with_its_ops_compiled_before_the_window(tmp_path):
    sumbench("data", "synth", "--n", "40", "--dev-n", "4", "--seed", "3", "--out", str(tmp_path / "src"))
    sumbench("data", "split", "--train", str(tmp_path / "src/train.csv"), "--dev", str(tmp_path / "src/dev.csv"),
             "--k", "2", "--out", str(tmp_path / "folds"))
    sumbench("warmstart", "--model", "tiny-llama", "--train", str(tmp_path / "src/train.csv"), "--out",
             str(tmp_path / "base"), "--steps", "3", "--set", "tiny.warmstart_corpus_size=40")
    config = tmp_path / "ds_zero2_offload.json"
    config.write_text(json.dumps(USERS), encoding="utf-8")
    extensions = tmp_path / "torch_extensions"  # empty: both ops compile in this run
    env = {**os.environ, "SUMBENCH_DEEPSPEED_JIT": "1", "TORCH_EXTENSIONS_DIR": str(extensions)}
    sumbench("train", "--model", "tiny-llama", "--base", str(tmp_path / "base"), "--batch-size", "2", "--grad-accum",
             "2", "--fold", "1", "--data", str(tmp_path / "folds"), "--out", str(tmp_path / "cell"), "--max-steps",
             "3", "--max-eval-samples", "4", "--warmup-steps", "1", "--deepspeed", str(config), env=env)
    record = json.loads((tmp_path / "cell/metrics.json").read_text(encoding="utf-8"))
    assert record["status"] == "ok" and record["deepspeed"] == str(config) and record["steps"] == 3
    assert set(record["deepspeed_ops_s"]) == {"deepspeed_shm_comm", "cpu_adam"}
    assert all((extensions / op / f"{op}.so").exists() for op in record["deepspeed_ops_s"])
    assert record["window_start"] > 0 and record["grad_norm_median"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny-llama", "tiny-bart"])
def test_the_profile_times_every_split_under_each_setting_and_proves_each_equivalent(tmp_path, model):
    from sumbench.config.grid import grid_from_file
    from sumbench.records import read_profile
    from sumbench.report.speed import speed_table

    sumbench("data", "synth", "--n", "40", "--dev-n", "8", "--seed", "3", "--out", str(tmp_path / "src"))
    sumbench("data", "split", "--train", str(tmp_path / "src/train.csv"), "--dev", str(tmp_path / "src/dev.csv"),
             "--k", "2", "--out", str(tmp_path / "folds"))
    sumbench("warmstart", "--model", model, "--train", str(tmp_path / "src/train.csv"), "--out",
             str(tmp_path / "base"), "--steps", "3", "--set", "tiny.warmstart_corpus_size=40")
    import dataclasses

    grid = dataclasses.replace(grid_from_file("configs/config.yaml", "quick_test"), batch_sizes=(4,),
                               grad_accum=(1, 2), profile={"warmup_steps": 1, "timed_steps": 3})
    settings = ["off", "zero2", "zero2+optimizer", "zero3"]
    sumbench("profile", "--grid-json", grid.to_json(), "--model", model, "--data", str(tmp_path / "folds"), "--base",
             str(tmp_path / "base"), "--out", str(tmp_path / "profile.json"), "--set",
             f"deepspeed=[{', '.join(settings)}]")
    profile = read_profile(tmp_path / "profile.json")
    timed = [(s.deepspeed, s.label) for s in profile.splits if not s.remeasured and s.status == "ok"]
    assert timed == [(d, f"bs4_ga{g}" + ("" if d == "off" else f"+{d}")) for d in settings for g in (1, 2)]
    checks = profile.deepspeed_checks
    assert [c.setting for c in checks] == settings[1:]
    # BART's tied embedding gradient once made this fail at 1e-4: torch's fp32 norm of it, not DeepSpeed (the
    # reference norm is now accumulated in fp64, as DeepSpeed's ZeRO stages do)
    assert [(c.setting, c.status) for c in checks] == [(s, "pass") for s in settings[1:]], [c.detail for c in checks]
    assert all(abs(c.grad_norm / c.reference_grad_norm - 1) <= 1e-5 for c in checks)
    assert all(c.tolerance == 1e-5 for c in profile.deepspeed_checks)
    table = "\n".join(speed_table(profile))
    assert all(f"| bs4_ga1+{s} | {s} |" in table for s in settings[1:])
