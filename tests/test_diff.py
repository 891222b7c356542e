"""``sumbench diff``: the settings that differ between two cells and the measured effect."""

from sumbench.records import CellRecord
from sumbench.report.diff import differing_settings, render_diff


def cell(bs, ga, lr, rouge, sps, out):
    r = CellRecord(model="m", batch_size=bs, grad_accum=ga, fold=0)
    r.settings = {"model": {"training": {"learning_rate": lr, "epochs": 1}, "lora": {"r": 16}},
                  "cell": {"batch_size": bs, "grad_accum": ga, "out": out}}
    r.rouge_sum, r.samples_per_s, r.peak_memory_bytes = rouge, sps, 512 * 2**20
    return r


def test_diff_lists_only_differing_settings_and_measured_deltas():
    a, b = cell(32, 1, 2e-5, 0.80, 100.0, "/a"), cell(16, 2, 1e-5, 0.90, 80.0, "/b")
    keys = [k for k, _, _ in differing_settings(a, b)]
    assert keys == ["batch_size", "cell.batch_size", "cell.grad_accum", "grad_accum", "model.training.learning_rate"]
    md = render_diff(a, b, "runA", "runB")
    assert "| model.training.learning_rate | 2e-05 | 1e-05 |" in md
    assert "| ROUGE-Sum | 0.800 | 0.900 | +0.100 | +12.5% better |" in md
    assert "| samples/s | 100.00 | 80.00 | -20.00 | -20.0% worse |" in md
    assert "| peak memory (MiB) | 512 | 512 | +0 | +0.0% |" in md
    assert "lora.r" not in md and "cell.out" not in md
