import pytest
import torch

from sumbench.training.measure import (Clock, MicroTimer, TrainMeasurement, batch_tokens, percentile,
                                       summarize_grad_norms, summarize_step_times)
from sumbench.training.memory import MemoryProbe, cgroup_memory_limit_bytes


class FakeClock:
    def __init__(self, ticks):
        self.ticks = list(ticks)

    def __call__(self):
        return self.ticks.pop(0)


class FakeEvent:
    """A CUDA event: record() stamps the fake device clock; elapsed_time() is in milliseconds."""

    def __init__(self, cuda):
        self.cuda, self.at = cuda, None

    def record(self):
        self.cuda.calls.append("record")
        self.at = self.cuda.device_time

    def elapsed_time(self, end):
        return (end.at - self.at) * 1000.0


class FakeCuda:
    """The torch.cuda calls measure.py makes, with recorded calls."""

    def __init__(self):
        self.calls = []
        self.device_time = 0.0

    def is_available(self):
        return True

    def synchronize(self):
        self.calls.append("sync")

    def reset_peak_memory_stats(self):
        self.calls.append("reset")

    def reset_accumulated_memory_stats(self):
        self.calls.append("reset_accumulated")

    def Event(self, enable_timing=False):  # noqa: N802  (torch.cuda.Event)
        return FakeEvent(self)

    def max_memory_allocated(self):
        return 3 * 2**30

    def max_memory_reserved(self):
        return 4 * 2**30

    def memory_stats(self):
        return {"num_alloc_retries": 2}

    def get_device_properties(self, i):
        return type("P", (), {"total_memory": 24 * 2**30})()


def test_percentile_and_step_summary_drop_warmup():
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert percentile([0, 10], 10) == pytest.approx(1.0)
    s = summarize_step_times([9.0, 9.0, 1.0, 2.0, 3.0], warmup_steps=2)
    assert (s.s_per_step_median, s.timed_steps, s.warmup_steps) == (2.0, 3, 2)
    assert summarize_step_times([5.0], warmup_steps=3).timed_steps == 1  # never drops every step


def test_grad_norm_spikes_are_relative_to_the_running_median():
    g = summarize_grad_norms([1.0, 1.2, 0.9, 15.0, 1.1])
    assert g.first == 1.0 and g.max == 15.0 and g.spikes == (4,)
    assert summarize_grad_norms([1.0, 9.0]).spikes == ()


def test_clock_synchronizes_cuda_before_reading():
    cuda = FakeCuda()
    clock = Clock(cuda, now=lambda: 1.5)
    assert clock() == 1.5 and cuda.calls == ["sync"]


def test_memory_probe_reads_cuda_allocator_stats():
    cuda = FakeCuda()
    probe = MemoryProbe(cuda)
    probe.start()
    out = probe.read()
    assert cuda.calls == ["reset", "reset_accumulated"]  # retries count this window only
    assert out.memory_kind == "cuda_max_allocated"
    assert out.peak_memory_bytes == 3 * 2**30 and out.cuda_max_reserved_bytes == 4 * 2**30
    assert out.cuda_alloc_retries == 2 and out.cuda_device_total_bytes == 24 * 2**30


def test_memory_probe_on_cpu_reports_peak_rss():
    probe = MemoryProbe(None)
    probe.start()
    ballast = bytearray(64 * 2**20)  # touch 64 MiB
    ballast[::4096] = b"x" * len(ballast[::4096])
    out = probe.read()
    assert out.memory_kind == "cpu_peak_rss"
    assert out.peak_memory_bytes >= probe.rss_at_start
    assert out.cpu_rss_rise_bytes >= 32 * 2**20
    del ballast


def test_train_measurement_counts_steps_tokens_and_padding():
    # ticks: train_begin, [step_begin, step_end] x 3
    m = TrainMeasurement(clock=FakeClock([0.0, 0.1, 1.0, 1.1, 3.0, 3.1, 4.0]), memory=MemoryProbe(None),
                         micro=MicroTimer(None, now=FakeClock([0.0, 0.4] * 3)))
    m.train_begin()
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    labels = torch.tensor([[5, 6, -100], [7, -100, -100]])
    for step in (1, 2, 3):
        m.step_begin()
        started = m.micro_begin()
        m.micro_end(started, batch_tokens({"input_ids": mask, "attention_mask": mask, "labels": labels,
                                           "decoder_input_ids": labels}))
        m.step_end(step)
        m.log(step, {"loss": 2.0 / step, "grad_norm": float(step), "learning_rate": 1e-4})
    assert [r.step_time_s for r in m.rows] == pytest.approx([1.0, 2.0, 1.0])
    row = m.rows[0]
    assert (row.samples, row.tokens, row.padded_tokens, row.target_tokens) == (2, 5 + 3, 8 + 6, 3)
    s = m.summary(warmup_steps=1)
    assert s.s_per_step_median == pytest.approx(1.5)
    assert s.samples_per_s == pytest.approx(4 / 3.0)  # samples of the timed steps / their seconds
    assert s.tokens_per_s == pytest.approx(16 / 3.0)
    assert s.micro_step_s_median == pytest.approx(0.4)
    assert s.tokens_counted.startswith("source + target")
    assert s.source_padding_efficiency == pytest.approx(5 / 8)
    assert s.target_padding_efficiency == pytest.approx(3 / 6)
    assert s.grad_norm_first == 1.0 and s.grad_norm_max == 3.0
    assert s.train_loss_first == 2.0


def test_coefficient_of_variation():
    from sumbench.training.measure import coefficient_of_variation

    assert coefficient_of_variation([1.0]) is None
    assert coefficient_of_variation([1.0, 1.0, 1.0]) == 0.0
    assert coefficient_of_variation([0.9, 1.1]) == pytest.approx(0.1414, rel=1e-3)


def test_excluded_time_is_left_out_of_the_next_step():
    m = TrainMeasurement(clock=FakeClock([0.0, 0.0, 1.0, 1.0, 5.0]), memory=MemoryProbe(None))
    m.train_begin()
    m.step_begin()
    m.step_end(1)
    m.exclude(3.0)  # an evaluation between steps 1 and 2
    m.step_begin()
    m.step_end(2)
    assert [r.step_time_s for r in m.rows] == pytest.approx([1.0, 1.0])


def test_samples_per_s_counts_a_partial_last_step_by_its_actual_samples():
    # 3 steps of 1 s each; the last one only had 3 of its 8 samples (the epoch ran out)
    m = TrainMeasurement(clock=FakeClock([0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0]), memory=MemoryProbe(None))
    m.train_begin()
    for step, n in enumerate((8, 8, 3), 1):
        m.step_begin()
        m.add_micro_batch(batch_tokens({"input_ids": torch.ones(n, 5, dtype=torch.long),
                                        "attention_mask": torch.ones(n, 5),
                                        "labels": torch.full((n, 5), -100).index_fill_(1, torch.tensor([4]), 7)}))
        m.step_end(step)
    s = m.summary(warmup_steps=0)
    assert s.samples_per_s == pytest.approx(19 / 3.0)  # not 3 x 8 / 3
    assert s.loss_tokens_per_s == pytest.approx(19 / 3.0)  # one label token per example
    assert s.tokens_counted.startswith("prompt + summary")


def test_world_size_is_recorded_and_throughput_counts_the_rows_as_given(monkeypatch):
    """Rows hold every rank's samples (summed over ranks before the summary): no extra x world size."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    m = TrainMeasurement(clock=FakeClock([0.0, 0.0, 2.0]), memory=MemoryProbe(None))
    m.train_begin()
    m.step_begin()
    m.add_micro_batch(batch_tokens({"input_ids": torch.ones(8, 2, dtype=torch.long), "attention_mask": torch.ones(8, 2)}))
    m.step_end(1)
    s = m.summary(warmup_steps=0)
    assert s.world_size == 4 and s.samples_per_s == pytest.approx(8 / 2.0)


def test_cuda_micro_batches_are_timed_with_events_and_synchronized_only_at_step_boundaries():
    cuda = FakeCuda()
    m = TrainMeasurement(clock=Clock(cuda, now=lambda: cuda.device_time), memory=MemoryProbe(None),
                         micro=MicroTimer(cuda))
    m.train_begin()
    for step in (1, 2):
        m.step_begin()
        for _ in range(4):  # grad_accum = 4
            started = m.micro_begin()
            cuda.device_time += 0.25
            m.micro_end(started, batch_tokens({"input_ids": torch.ones(2, 3, dtype=torch.long),
                                               "attention_mask": torch.ones(2, 3)}))
        m.step_end(step)
    assert cuda.calls.count("sync") == 1 + 2 * 2  # train begin, then one at each step's begin and end: never per micro
    assert cuda.calls.count("record") == 2 * 4 * 2
    assert m.micro_step_times == pytest.approx([0.25] * 8)
    assert [r.step_time_s for r in m.rows] == pytest.approx([1.0, 1.0])


WINDOW_PEAK_SCRIPT = """
import json
from sumbench.training.memory import MemoryProbe
ballast = bytearray(200 * 2**20)
ballast[::4096] = b"x" * len(ballast[::4096])
del ballast  # the process's lifetime peak now holds 200 MiB this window never held
probe = MemoryProbe(None)
probe.start()
small = bytearray(16 * 2**20)
small[::4096] = b"x" * len(small[::4096])
out = probe.read()
print(json.dumps({"rise": out.cpu_rss_rise_bytes, "host": out.host_memory_bytes}))
"""


def test_cpu_peak_is_the_window_s_not_the_process_lifetime():
    import json
    import subprocess
    import sys

    # a fresh interpreter: the allocator state of a long test session must not decide what is returned to the OS
    out = json.loads(subprocess.run([sys.executable, "-c", WINDOW_PEAK_SCRIPT], capture_output=True, text=True,
                                    check=True).stdout)
    assert 8 * 2**20 <= out["rise"] < 150 * 2**20
    assert out["host"] > 2**30


def test_cgroup_limit_reads_v2_and_v1_and_says_none_for_no_limit(tmp_path):
    v2, v1 = tmp_path / "memory.max", tmp_path / "limit_in_bytes"
    v2.write_text("max\n")
    assert cgroup_memory_limit_bytes((str(v2),)) is None
    v2.write_text("8589934592\n")
    assert cgroup_memory_limit_bytes((str(v2),)) == 8 * 2**30
    v1.write_text("9223372036854771712\n")
    assert cgroup_memory_limit_bytes((str(tmp_path / "missing"), str(v1))) is None


def test_unknown_retries_are_unknown_not_zero():
    class NoRetries(FakeCuda):
        def memory_stats(self):
            return {}

    probe = MemoryProbe(NoRetries())
    probe.start()
    assert probe.read().cuda_alloc_retries is None


def test_out_of_memory_from_cublas_or_bitsandbytes_is_classified_oom_with_its_phase():
    from sumbench.training.cell import Failure

    cases = [(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "oom"),
             (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"), "oom"),
             (RuntimeError("bitsandbytes: CUDA error: out of memory"), "oom"),
             (RuntimeError("expected scalar type Float but found Half"), "error"),
             (ValueError("out of memory"), "error")]  # only RuntimeErrors carry an allocator's message
    for exc, status in cases:
        failure = Failure.of(exc, "generation")
        assert (failure.status, failure.phase) == (status, "generation"), exc


def test_token_counts_are_read_on_the_cpu_only():
    """The collator counts a batch before it moves to the device; a device tensor here would be a host sync."""
    on_device = {"input_ids": torch.ones(2, 3, dtype=torch.long, device="meta"),
                 "attention_mask": torch.ones(2, 3, device="meta")}
    with pytest.raises(ValueError, match="on the CPU"):
        batch_tokens(on_device)
    counts = batch_tokens({"input_ids": torch.ones(2, 3, dtype=torch.long),
                           "attention_mask": torch.tensor([[1, 1, 0], [1, 0, 0]]),
                           "labels": torch.tensor([[-100, 5, -100], [-100, -100, -100]])})
    assert (counts.samples, counts.source.real, counts.source.padded, counts.loss, counts.seq2seq) == (2, 3, 6, 1, False)
