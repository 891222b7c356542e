"""benchmarks/gpu_check.py on a CPU: its one-line refusal, and the parts that decide its verdict, with fakes.

Nothing here pretends a GPU ran: the checks are fed records and readings written by the test, the sync guard a fake
``torch.cuda`` that records the debug mode, and the memory watch fake allocator readings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings

import pytest

from sumbench.config.schema import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"  # its checks and seams: gpu_check_verdict.py beside it


@pytest.fixture(scope="module")
def modules():
    """(gpu_check, gpu_check_verdict) imported as the script imports them: from the benchmarks folder."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        yield importlib.import_module("gpu_check"), importlib.import_module("gpu_check_verdict")
    finally:
        sys.path.remove(str(SCRIPT.parent))
        sys.modules.pop("gpu_check", None)
        sys.modules.pop("gpu_check_verdict", None)


@pytest.fixture(scope="module")
def gc_mod(modules):
    return modules[1]


def test_on_a_machine_without_a_gpu_it_says_so_in_one_line_and_fails(tmp_path):
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}  # no nvidia-smi in tmp_path either
    env.pop("SUMBENCH_LEASED_GPUS", None)
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120,
                         check=False)
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 2
    assert len(lines) == 1 and "needs a CUDA GPU" in lines[0], lines


def test_learning_checks_read_the_trend_not_one_step(gc_mod):
    assert gc_mod.loss_falls([8.0, 9.0, 7.0, 6.5, 6.0, 6.2]).ok  # noisy but falling: thirds 8.5 -> 6.1
    flat = gc_mod.loss_falls([5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    assert flat.ok is False and "5.000 -> 5.000" in flat.detail
    assert gc_mod.loss_falls([3.0, 2.0]).ok is False  # too few to tell is a failure, not a pass
    assert gc_mod.grad_norm_positive(0.4, 1.2).ok
    assert gc_mod.grad_norm_positive(0.0, 0.0).ok is False  # no gradient reached the trainable weights
    assert gc_mod.grad_norm_positive(0.4, float("nan")).ok is False
    assert gc_mod.grad_norm_positive(None, None).ok is False
    assert gc_mod.generations_non_empty([{"prediction": "#Person1#이 길을 묻는다."}]).ok
    assert gc_mod.generations_non_empty([{"prediction": "요약"}, {"prediction": "  "}]).detail == \
        "1 of 2 generations empty"
    assert gc_mod.generations_non_empty([]).ok is False


def test_sync_memory_and_pruning_checks(gc_mod):
    Tally = gc_mod.SyncTally
    assert gc_mod.no_sync(Tally(armed=12, allowed=24)).ok
    synced = gc_mod.no_sync(Tally(armed=12, syncs=("measure.py:40 (batch_tokens)",)))
    assert synced.ok is False and "host sync(s) inside timed steps, first at measure.py:40" in synced.detail
    assert gc_mod.no_sync(Tally()).ok is False  # the seam was never reached: not checked is not passed
    assert gc_mod.no_sync(Tally(), failed=True).ok is None
    mib = gc_mod.MIB
    assert gc_mod.memory_returned(100 * mib, 130 * mib, 0).ok  # within the slack (workspaces)
    kept = gc_mod.memory_returned(100 * mib, 400 * mib, 0)
    assert kept.ok is False and "+300.0 MiB" in kept.detail
    assert gc_mod.memory_returned(100 * mib, 100 * mib, 1).ok is False  # a model awaiting the collector
    assert gc_mod.memory_returned(0, None, None).ok is False
    splits = [{"batch_size": 4, "grad_accum": 1, "status": "ok"}, {"batch_size": 4, "grad_accum": 2, "status": "ok"},
              {"batch_size": 1024, "grad_accum": 1, "status": "oom"},
              {"batch_size": 1024, "grad_accum": 2, "status": "skipped"},
              {"batch_size": 4, "grad_accum": 1, "status": "ok", "remeasured": True}]
    assert gc_mod.oom_pruned(splits, 1024).ok
    splits[3]["status"] = "oom"  # tried again instead of pruned
    assert gc_mod.oom_pruned(splits, 1024).ok is False
    assert gc_mod.oom_pruned(splits[:2], 1024).ok is False  # never ran out of memory: the cap did not bite


def test_the_plan_may_train_only_splits_the_profile_ran(gc_mod):
    from types import SimpleNamespace as Cell

    ran = {"tiny-bart": {(4, 1), (4, 2)}, "tiny-llama": {(4, 1), (4, 2), (1024, 1)}}
    planned = {"tiny-bart": [Cell(batch_size=4, grad_accum=2)], "tiny-llama": [Cell(batch_size=1024, grad_accum=1)]}
    assert gc_mod.plan_check(planned, ran).ok
    planned["tiny-bart"].append(Cell(batch_size=1024, grad_accum=1))  # the split that ran out of memory
    check = gc_mod.plan_check(planned, ran)
    assert check.ok is False and "did not run: tiny-bart bs1024_ga1" in check.detail
    assert gc_mod.plan_check({"tiny-bart": [], "tiny-llama": planned["tiny-llama"]}, ran).ok is False


def write_cell(folder, status="ok", losses=(6.0, 5.5, 5.0, 4.0, 3.5, 3.0), predictions=("요약",), message=None):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({
        "status": status, "message": message, "failed_phase": None if status == "ok" else "train",
        "grad_norm_median": 0.8, "grad_norm_max": 2.0, "peak_memory_bytes": 300 * 2**20, "samples_per_s": 41.5,
        "batch_size": 8, "grad_accum": 2, "fold": 0}), encoding="utf-8")
    (folder / "train_log.jsonl").write_text("".join(json.dumps({"step": i, "loss": v}) + "\n"
                                                    for i, v in enumerate(losses)), encoding="utf-8")
    (folder / "predictions.jsonl").write_text("".join(json.dumps({"prediction": p}) + "\n" for p in predictions),
                                              encoding="utf-8")
    return folder


def test_a_cell_is_judged_from_its_records_and_the_table_fails_on_any_check(gc_mod, tmp_path):
    metrics, checks = gc_mod.cell_checks(write_cell(tmp_path / "good"), gc_mod.SyncTally(armed=28))
    assert all(c.ok for c in checks.values()), checks
    good = gc_mod.Row("train", "llama lora bf16", "sdpa", checks, **gc_mod.figures(metrics))
    _, checks = gc_mod.cell_checks(write_cell(tmp_path / "synced", status="error", message="RuntimeError: boom"),
                                   gc_mod.SyncTally(armed=3, syncs=("trainer.py:99 (compute_loss)",)))
    assert checks["status"].ok is False and checks["no sync"].ok is False and checks["loss falls"].ok is None
    bad = gc_mod.Row("quality", "tiny-llama", "bs8_ga1 fold0", checks)
    table = gc_mod.render_table([good, bad])
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["phase", "cell", "where"] and set(lines[1]) == {"-"}
    assert lines[2].split()[-3:] == ["300", "41.5", "ok"] and lines[3].split()[-1] == "FAIL"
    assert "quality tiny-llama bs8_ga1 fold0: no sync: 1 host sync(s) inside timed steps, first at trainer.py:99" in table
    assert lines[-1] == "gpu_check: FAIL: 1 of 2 rows pass"
    assert gc_mod.render_table([good]).splitlines()[-1] == "gpu_check: PASS: 1 of 1 rows pass"


# Frames as torch's sync warning and transformers' attention-mask building make them: their file names are what the
# guard looks past (torch) and lets through (transformers' masks).
FRAMES = {"warnings": warnings}
exec(compile("def sync(self):\n    if self.mode == 'warn':\n"
             "        warnings.warn('called a synchronizing CUDA operation', UserWarning)\n",
             "/site-packages/torch/cuda/__init__.py", "exec"), FRAMES)
exec(compile("def build_mask(cuda):\n    cuda.sync()\n", "/site-packages/transformers/masking_utils.py", "exec"), FRAMES)


class FakeCuda:
    """Records the debug mode; ``sync()`` warns as torch does in 'warn' mode (and only then)."""

    sync = FRAMES["sync"]

    def __init__(self):
        self.calls, self.mode = [], "default"

    def set_sync_debug_mode(self, mode):
        self.calls.append(("mode", mode))
        self.mode = mode


class FakeTrainer:
    """Calls its callbacks in the order a transformers Trainer does within optimizer steps, logging around them;
    each micro-batch builds a mask (a sync transformers makes) and, at ``sync_at``, syncs in code of its own."""

    def __init__(self, cuda):
        self.cuda, self.callbacks = cuda, []

    def add_callback(self, callback):
        self.callbacks.append(callback)

    def count_tokens(self):
        self.cuda.sync()  # the kind of host read sumbench must not make: int(mask.sum()) on the device

    def train(self, steps=3, micro_batches=2, fail_at=None, sync_at=None):
        for step in range(1, steps + 1):
            for cb in self.callbacks:
                cb.on_step_begin(None, None, None)
            for micro in range(micro_batches):
                self.cuda.calls.append(("micro", step))
                FRAMES["build_mask"](self.cuda)
                if step == sync_at:
                    self.count_tokens()
                if step == fail_at:
                    raise RuntimeError("out of memory")
            for cb in self.callbacks:
                cb.on_pre_optimizer_step(None, None, None)
            self.cuda.sync()  # the optimizer step: left out of the check
            self.cuda.calls.append(("optimizer", step))


def test_the_sync_guard_covers_the_micro_batches_of_timed_steps_and_disarms_on_errors(gc_mod):
    cuda = FakeCuda()
    guard = gc_mod.SyncGuard(cuda, skip=1)

    def timed_training(trainer, measurement, lease):
        trainer.train()
        return "run"

    trainer = FakeTrainer(cuda)
    mark = guard.mark()
    assert guard.wrap(timed_training)(trainer, "measurement", "lease") == "run"
    assert len(trainer.callbacks) == 1 and guard.armed == 2  # steps 2 and 3; step 1 is the warm-up
    at = cuda.calls.index(("micro", 2))
    assert cuda.calls[at - 1:at + 4] == [("mode", "warn"), ("micro", 2), ("micro", 2), ("mode", "default"),
                                         ("optimizer", 2)]  # the optimizer step runs disarmed
    assert ("mode", "warn") not in cuda.calls[:cuda.calls.index(("micro", 1))]
    tally = guard.since(mark)
    assert tally == gc_mod.SyncTally(armed=2, syncs=(), allowed=4)  # 2 timed steps x 2 masks, let through
    assert gc_mod.no_sync(tally).ok

    mark = guard.mark()
    guard.wrap(lambda trainer, *rest: trainer.train(sync_at=3))(FakeTrainer(cuda), "measurement")
    tally = guard.since(mark)
    assert tally.armed == 2 and len(tally.syncs) == 2 and tally.allowed == 4  # one per micro-batch of step 3
    assert tally.syncs[0].endswith("(count_tokens)") and "test_gpu_check.py:" in tally.syncs[0]
    assert gc_mod.no_sync(tally).ok is False

    cuda.calls.clear()
    again = gc_mod.SyncGuard(cuda, skip=0)
    with pytest.raises(RuntimeError):
        again.wrap(lambda trainer, *rest: trainer.train(fail_at=1))(FakeTrainer(cuda), "measurement")
    assert cuda.calls[-1] == ("mode", "default")  # the failure path's own syncs are not caught as the step's


def test_the_memory_watch_reads_when_each_cell_starts(gc_mod):
    allocated = iter([10, 500, 12, 11])
    watch = gc_mod.MemoryWatch(lambda: next(allocated), lambda: 0)
    run = watch.wrap(lambda cell: cell)
    assert [run(c) for c in ("a", "b", "c")] == ["a", "b", "c"]
    watch.read()  # after the job
    assert watch.after(0) == (500, 0) and watch.after(2) == (11, 0) and watch.after(3) == (None, None)


def test_the_routes_cover_lora_and_qlora_on_every_causal_architecture_and_full_bart(modules):
    routes = modules[0].routes("bfloat16")
    assert {twin for twin, _ in routes.values()} == {"tiny-llama", "tiny-qwen3", "tiny-gptneox", "tiny-bart"}
    for arch in ("llama", "qwen3", "gpt_neox"):
        assert "dtype=bfloat16" in routes[f"{arch} lora bf16"][1]
        assert "quantization.load_in_4bit=true" in routes[f"{arch} qlora"][1]
    from sumbench.config.model import load_model

    for twin, overrides in routes.values():  # every route is a valid model configuration
        spec = load_model(twin, overrides=overrides)
        assert spec.finetune == ("full" if twin == "tiny-bart" else "lora")


def distribution_closure(names: set[str]) -> set[str]:
    """``names`` and everything they require here (installed distributions; extras and markers as on this Python)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen, todo = set(), [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def test_the_requirements_list_everything_beyond_the_nodes_stack_down_to_dependencies():
    """Installed with --no-deps on the node, the file must name every distribution the check needs that torch,
    transformers, peft and accelerate do not bring: the closure of what it lists adds nothing unlisted."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = [line.split("#")[0].strip() for line in
             (REPO_ROOT / "benchmarks" / "gpu_check-requirements.txt").read_text(encoding="utf-8").splitlines()]
    reqs = [Requirement(line) for line in lines if line]
    wanted = {canonicalize_name(r.name) for r in reqs if r.marker is None or r.marker.evaluate()}
    assert {"bitsandbytes", "kiwipiepy", "rouge-score", "python-mecab-ko", "jsonschema", "pyyaml"} <= wanted
    node = distribution_closure({"torch", "transformers", "peft", "accelerate"})
    assert not wanted & {"torch", "transformers", "peft", "accelerate"}  # the node's own builds
    assert distribution_closure(wanted) - node - wanted == set()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip download -r benchmarks/gpu_check-requirements.txt -d wheels --no-deps" in readme
    assert "pip install --no-index --find-links wheels --no-deps -r benchmarks/gpu_check-requirements.txt" in readme
