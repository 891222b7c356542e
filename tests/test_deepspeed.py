"""DeepSpeed settings: validated once (one line per bad input), given to the Trainer with "auto" values it fills, and
trained on the CPU without compiling any op in the default test run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.config.deepspeed import NO_DEEPSPEED, parse_axis, parse_setting, trainer_config
from sumbench.config.model import load_model
from sumbench.errors import ConfigError

USERS = {  # the user's ZeRO-2 file: optimizer offloaded to the CPU, batch sizes and learning rate left to the Trainer
    "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu", "pin_memory": True},
                          "overlap_comm": True, "contiguous_gradients": True},
    "optimizer": {"type": "AdamW", "params": {"lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"}},
    "fp16": {"enabled": "auto"}, "bf16": {"enabled": "auto"}, "gradient_clipping": "auto",
    "train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto"}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_names_parse_to_stages_and_offload():
    assert parse_setting("off", "x") == NO_DEEPSPEED and not NO_DEEPSPEED.enabled
    s = parse_setting("zero2+optimizer", "x")
    assert (s.zero_stage, s.offload_optimizer, s.offload_param, s.name) == (2, True, False, "zero2+optimizer")
    s = parse_setting({"zero_stage": 3, "offload_optimizer": "cpu", "offload_param": "cpu"}, "x")
    assert s.name == "zero3+optimizer+params"
    assert [a.name for a in parse_axis(["off", "zero2", "zero2+optimizer", "zero3"], "m.yaml")] == \
        ["off", "zero2", "zero2+optimizer", "zero3"]


@pytest.mark.parametrize("value, message", [
    ("zero4", "m.yaml: key deepspeed\\[0\\]: unknown ZeRO stage 4 \\(one of off, 0, 1, 2, 3\\)"),
    ({"zero_stage": 5}, "unknown ZeRO stage 5"),
    ("zero2+gpu", "unknown offload 'gpu' in 'zero2\\+gpu'"),
    ({"zero_stage": "off", "offload_optimizer": "cpu"}, "offload needs DeepSpeed"),
    ("zero2+params", "offloading the parameters needs ZeRO stage 3, not 2"),
    ("stage2", "unknown DeepSpeed setting 'stage2'"),
])
def test_a_bad_setting_is_one_line_naming_the_key(value, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_axis([value], "m.yaml")
    assert "\n" not in str(info.value)


def test_a_bad_file_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"ds\.json: not valid JSON"):
        parse_setting(write(tmp_path, "ds.json", '{"zero_optimization": {"stage": 2},}'), "x")
    with pytest.raises(ConfigError, match=r"ds\.yaml: key zero_optimization\.stage: unknown ZeRO stage 7"):
        parse_setting(write(tmp_path, "ds.yaml", "zero_optimization: {stage: 7}\n"), "x")
    with pytest.raises(ConfigError, match=r"missing\.json: cannot read the DeepSpeed config"):
        parse_setting(str(tmp_path / "missing.json"), "x")
    path = write(tmp_path, "fixed.json", json.dumps({**USERS, "train_micro_batch_size_per_gpu": 8,
                                                     "train_batch_size": 32}))
    fixed = parse_setting(path, "x")
    assert trainer_config(fixed, batch_size=8, grad_accum=2, world_size=2)["train_micro_batch_size_per_gpu"] == 8
    with pytest.raises(ConfigError, match=r"fixed\.json: key train_micro_batch_size_per_gpu is 8 but the split "
                                          r"bs4/ga2 x 1 process\(es\) needs 4"):
        trainer_config(fixed, batch_size=4, grad_accum=2, world_size=1)
    with pytest.raises(ConfigError, match=r"key train_batch_size is 32 but the split bs8/ga2 x 1 process\(es\) needs 16"):
        trainer_config(fixed, batch_size=8, grad_accum=2, world_size=1)


def test_the_users_file_keeps_auto_for_the_trainer_and_drops_train_batch_size(tmp_path):
    setting = parse_setting(write(tmp_path, "ds.json", json.dumps(USERS)), "x")
    assert (setting.zero_stage, setting.offload_optimizer, setting.has_optimizer_block) == (2, True, True)
    config = trainer_config(setting, batch_size=4, grad_accum=2, world_size=2)
    assert "train_batch_size" not in config  # the Trainer would fill "auto" with world size 1
    assert config["optimizer"]["params"]["lr"] == "auto" and config["train_micro_batch_size_per_gpu"] == "auto"
    assert config["zero_force_ds_cpu_optimizer"] is False
    assert setting.file_config["train_batch_size"] == "auto"  # the file's own settings are not changed
    named = trainer_config(parse_setting("zero3+optimizer+params", "x"), batch_size=4, grad_accum=2, world_size=1)
    assert named["zero_optimization"] == {"stage": 3, "offload_optimizer": {"device": "cpu"},
                                          "offload_param": {"device": "cpu"}}
    assert trainer_config(NO_DEEPSPEED, batch_size=4, grad_accum=2, world_size=1) is None


def test_model_yaml_names_its_axis_and_unsupported_combinations_fail():
    spec = load_model("tiny-llama", overrides=["deepspeed=[off, zero2, zero2+optimizer, zero3]"])
    assert [s.name for s in spec.deepspeed] == ["off", "zero2", "zero2+optimizer", "zero3"]
    assert [s.name for s in load_model("tiny-llama").deepspeed] == ["off"]
    with pytest.raises(ConfigError, match="tiny-llama-qlora.yaml: DeepSpeed zero3 with 4-bit weights"):
        load_model("tiny-llama-qlora", overrides=["deepspeed=[off, zero3]"])
    with pytest.raises(ConfigError, match="tiny-llama.yaml: key deepspeed names 'zero2' twice"):
        load_model("tiny-llama", overrides=["deepspeed=[zero2, zero2]"])


# ------------------------------------------------------------------------------------ training, no op compiled
WORKER = Path(__file__).parent / "workers" / "ddp_rank.py"


@pytest.fixture(scope="module")
def base(tmp_path_factory):

    root = tmp_path_factory.mktemp("ds")
    for args in (["data", "synth", "--n", "40", "--dev-n", "4", "--seed", "3", "--out", str(root / "src")],
                 ["warmstart", "--model", "tiny-llama", "--train", str(root / "src/train.csv"), "--out",
                  str(root / "base"), "--steps", "3", "--set", "tiny.warmstart_corpus_size=40"]):
        proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def test_zero_stages_train_as_the_plain_trainer_without_compiling_an_op(base, tmp_path):
    """ZeRO-2 and ZeRO-3 on the CPU (DeepSpeed's engine through the Trainer) give the plain Trainer's loss and
    gradient norm; SUMBENCH_DEEPSPEED_JIT=0 keeps DeepSpeed from compiling its shared-memory all-reduce, and the
    extensions folder stays empty."""
    extensions = tmp_path / "torch_extensions"
    results = {}
    for setting in ("off", "zero2", "zero3"):
        out = tmp_path / setting
        out.mkdir()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "SUMBENCH_DEEPSPEED_JIT": "0",
               "TORCH_EXTENSIONS_DIR": str(extensions)}
        proc = subprocess.run([sys.executable, str(WORKER), str(base / "base"), str(base / "src/train.csv"), "4",
                               str(out), setting], capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-4000:]
        results[setting] = json.loads((out / "rank0.json").read_text())
    assert [results[s]["deepspeed"] for s in results] == ["off", "zero2", "zero3"]
    for setting in ("zero2", "zero3"):
        for a, b in zip(results["off"]["steps"], results[setting]["steps"]):
            assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
            assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-5)
    assert not extensions.exists() or not any(extensions.rglob("*.so")), "an op was compiled"


# ------------------------------------------------------------------------------------------- records and report
def test_the_speed_table_shows_the_deepspeed_axis_and_a_failed_equivalence_is_a_finding(tmp_path):
    from sumbench.records import DeepSpeedCheck, ModelProfile, SplitProfile, read_profile
    from sumbench.report.diagnostics import profile_findings
    from sumbench.report.speed import speed_csv, speed_table

    def split(setting, seconds, peak):
        return SplitProfile(batch_size=4, grad_accum=1, deepspeed=setting, s_per_step_median=seconds,
                            samples_per_s=4 / seconds, peak_memory_bytes=peak, memory_kind="cpu_peak_rss",
                            deepspeed_ops_s={"deepspeed_shm_comm": 81.0} if setting != "off" else {})

    profile = ModelProfile(model="m", warmup_steps=1, timed_steps=3,
                           splits=[split("off", 0.2, 100 * 2**20), split("zero2+optimizer", 0.5, 60 * 2**20)],
                           deepspeed_checks=[DeepSpeedCheck(setting="zero2+optimizer", status="fail", batch_size=4,
                                                            detail="grad norm 2x")])
    profile = read_profile(profile.write(tmp_path / "m.json"))  # the record round-trips
    table = "\n".join(speed_table(profile))
    assert "| split | DeepSpeed | bs |" in table
    assert "| bs4_ga1+zero2+optimizer | zero2+optimizer | 4 | 1 | 4 | 0.5" in table and "| 60 |" in table
    assert "DeepSpeed zero2+optimizer: equivalence **fail** at micro-batch 4: grad norm 2x; ops loaded before the " \
           "timed windows: deepspeed_shm_comm 81.0 s" in table
    assert "zero2+optimizer" in speed_csv([profile])
    assert [f.message for f in profile_findings([profile]) if f.kind == "DeepSpeed equivalence"] == \
        ["zero2+optimizer fail: grad norm 2x"]


@pytest.fixture
def lone_world(monkeypatch):
    """The world of one process DeepSpeed needs, set here so that it is undone after the test, and its process group
    closed: later tests' subprocesses must not inherit this process's rendezvous port."""
    import torch.distributed as dist

    from sumbench.training.distributed import free_port

    from accelerate.state import AcceleratorState

    for key, value in dict(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", WORLD_SIZE="1",
                           LOCAL_RANK="0", DS_ACCELERATOR="cpu").items():
        monkeypatch.setenv(key, value)
    # accelerate marks the process as DeepSpeed's (and never unmarks it): undone after the test with the rest
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "false")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    AcceleratorState._reset_state(reset_partial_state=True)  # no DeepSpeed or gloo state for later tests


def test_doctor_checks_each_setting_against_the_splits_and_plain_training(tmp_path, capsys, lone_world):
    from sumbench.cli import main

    fixed = write(tmp_path, "fixed.json", json.dumps({"zero_optimization": {"stage": 2},
                                                      "train_micro_batch_size_per_gpu": 8}))
    code = main(["doctor", "--model", "tiny-llama", "--set", f"deepspeed=[zero2, {fixed}]", "--batch-sizes", "4"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1  # the file contradicts micro-batch 4
    assert any(line.startswith("deepspeed zero2 batch sizes") and "PASS" in line and "bs4/ga1 x 1 process(es)" in line
               for line in lines)
    assert any(line.startswith("deepspeed zero2 equivalence") and "PASS" in line and "same first step" in line
               for line in lines)
    assert any(line.startswith(f"deepspeed {fixed} batch sizes") and "FAIL" in line and
               "key train_micro_batch_size_per_gpu is 8 but the split bs4/ga1 x 1 process(es) needs 4" in line
               for line in lines)
    assert lines[-1] == f"FAILED: deepspeed {fixed} batch sizes"
