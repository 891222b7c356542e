import pytest
import torch

from sumbench.training.measure import (Clock, MemoryProbe, TrainMeasurement, percentile, summarize_grad_norms,
                              summarize_step_times)


class FakeClock:
    def __init__(self, ticks):
        self.ticks = list(ticks)

    def __call__(self):
        return self.ticks.pop(0)


class FakeCuda:
    """The torch.cuda calls measure.py makes, with recorded calls."""

    def __init__(self):
        self.calls = []

    def is_available(self):
        return True

    def synchronize(self):
        self.calls.append("sync")

    def reset_peak_memory_stats(self):
        self.calls.append("reset")

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
    assert cuda.calls == ["reset"]
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
    m = TrainMeasurement(clock=FakeClock([0.0, 0.1, 1.0, 1.1, 3.0, 3.1, 4.0]), memory=MemoryProbe(None))
    m.train_begin()
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    labels = torch.tensor([[5, 6, -100], [7, -100, -100]])
    for step in (1, 2, 3):
        m.step_begin()
        m.add_micro_batch({"input_ids": mask, "attention_mask": mask, "labels": labels, "decoder_input_ids": labels}, 0.4)
        m.step_end(step)
        m.log(step, {"loss": 2.0 / step, "grad_norm": float(step), "learning_rate": 1e-4})
    assert [r.step_time_s for r in m.rows] == pytest.approx([1.0, 2.0, 1.0])
    row = m.rows[0]
    assert (row.samples, row.tokens, row.padded_tokens, row.target_tokens) == (2, 5 + 3, 8 + 6, 3)
    s = m.summary(warmup_steps=1, effective_batch=2)
    assert s.s_per_step_median == pytest.approx(1.5)
    assert s.samples_per_s == pytest.approx(2 / 1.5)
    assert s.tokens_per_s == pytest.approx(16 / 3.0)
    assert s.source_padding_efficiency == pytest.approx(5 / 8)
    assert s.target_padding_efficiency == pytest.approx(3 / 6)
    assert s.grad_norm_first == 1.0 and s.grad_norm_max == 3.0
    assert s.train_loss_first == 2.0


def test_mfu_uses_the_stated_formula_and_known_peaks():
    from sumbench.training.measure import FLOPS_FORMULA, device_peak_flops, model_flops_utilization

    assert device_peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert device_peak_flops("NVIDIA A10G") == 125e12
    assert device_peak_flops("x86_64") is None
    assert model_flops_utilization(1000.0, 10**9, "full", 312e12) == pytest.approx(6e12 / 312e12)
    assert model_flops_utilization(1000.0, 10**9, "lora", 312e12) == pytest.approx(4e12 / 312e12)
    assert model_flops_utilization(1000.0, 10**9, "full", None) is None
    assert "6 * total_params" in FLOPS_FORMULA["full"]


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
