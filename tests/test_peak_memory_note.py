"""What the peak-memory figure covers: a bitsandbytes paged optimizer's state lives in CUDA unified memory, outside
PyTorch's allocator, so a CUDA peak leaves it out; the record and the report say so (a note, not a number)."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

from sumbench.records import GaCheck, ModelProfile, SplitProfile
from sumbench.report.diagnostics import profile_checks
from sumbench.training.flops import FlopParameters
from sumbench.training.memory import paged_state_note
from sumbench.training.timed import Hardware, measured_fields, timed_training

NOTE = ("the peak leaves out paged_adamw_8bit's optimizer state: bitsandbytes keeps it in paged (CUDA unified) memory, "
        "outside PyTorch's allocator")


def test_only_a_paged_optimizer_on_cuda_gets_a_note():
    assert paged_state_note("paged_adamw_8bit", "cuda_max_allocated") == NOTE
    assert paged_state_note("paged_adamw_8bit", "cpu_peak_rss") is None  # unpaged on a CPU: in the resident set
    assert paged_state_note("adamw_8bit", "cuda_max_allocated") is None
    assert paged_state_note("adamw_torch", "cuda_max_allocated") is None


class Unset(SimpleNamespace):
    """A measurement's summary with only what these tests set; every other figure is None."""

    def __getattr__(self, name):
        return None


def run_with(optim, memory_kind: str):
    @contextmanager
    def window():
        yield SimpleNamespace(window=SimpleNamespace(device="cuda:0", start=0.0, end=1.0, exclusive=True,
                                                     waited_s=0.0))

    summary = Unset(source_tokens_per_s=10.0, target_tokens_per_s=0.0, loss_tokens_per_s=1.0, world_size=1,
                    grad_norm_spikes=(), memory=Unset(memory_kind=memory_kind, peak_memory_bytes=2**30))
    hardware = Hardware(device_name=None, compute_dtype="bfloat16", flop_params=FlopParameters(0, 10, 1),
                        finetune="lora")
    trainer = SimpleNamespace(train=lambda: None, args=SimpleNamespace(optim=optim))
    return timed_training(trainer, SimpleNamespace(rows=[], summary=lambda warmup: summary),
                          SimpleNamespace(window=window), 0, hardware)


def test_the_optimizer_the_trainer_built_decides_the_note():
    from transformers.training_args import OptimizerNames

    assert run_with(OptimizerNames.PAGED_ADAMW_8BIT, "cuda_max_allocated").memory_note == NOTE
    assert run_with(OptimizerNames.ADAMW_TORCH, "cuda_max_allocated").memory_note is None


def test_the_report_states_the_note_beside_the_profiles_checks():
    split = SplitProfile(batch_size=4, grad_accum=1, memory_kind="cuda_max_allocated", memory_note=NOTE)
    lines = profile_checks(ModelProfile(model="m", splits=[split, split], ga_check=GaCheck(status="pass")))
    assert lines.count(f"- **Peak memory**: {NOTE}") == 1
    plain = SplitProfile(batch_size=4, grad_accum=1, memory_kind="cuda_max_allocated")
    assert not any("Peak memory" in line for line in profile_checks(ModelProfile(model="m", splits=[plain])))


def test_measured_fields_carry_the_note_into_the_record():
    fields = measured_fields(run_with("paged_adamw_32bit", "cuda_max_allocated"))
    assert fields["memory_note"].startswith("the peak leaves out paged_adamw_32bit's optimizer state")
