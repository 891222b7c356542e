"""The data side of the report: augmentation effect vs fold noise, learning curve, data statistics."""

from __future__ import annotations

import pytest

from sumbench.records import CellRecord
from sumbench.report.plots import learning_curve_plot
from sumbench.report.sections import data_sections, paired_difference, t_95

STATS = {"examples": 100, "augmented": {}, "source_len": 256, "target_len": 64,
         "dialogue_tokens": {"min": 40, "p10": 60, "p50": 90, "p90": 150, "p99": 240, "max": 300, "mean": 98.5},
         "summary_tokens": {"min": 10, "p10": 14, "p50": 20, "p90": 31, "p99": 60, "max": 70, "mean": 21.0},
         "dialogue_over_source_len": 0.02, "summary_over_target_len": 0.01, "topics": {"식당 예약": 120, "병원 진료": 80}}


def rec(aug: str, cap: int | None, fold: int, rouge_sum: float, n: int = 100, model: str = "tiny-bart",
        status: str = "ok") -> CellRecord:
    return CellRecord(model=model, batch_size=8, grad_accum=1, fold=fold, augmentation=aug, max_train_samples=cap,
                      rouge_sum=rouge_sum if status == "ok" else None, status=status, train_examples=n,
                      eval_loss=2.0 - rouge_sum if status == "ok" else None,
                      original_train_examples=n, source_truncation_rate=0.03, target_truncation_rate=0.0,
                      data_stats={**STATS, "examples": n})


RECORDS = [
    # cap 50: augmentation helps in every fold by ~0.05 (well beyond fold noise)
    rec("none", 50, 0, 0.40, 50), rec("none", 50, 1, 0.45, 50), rec("none", 50, 2, 0.50, 50),
    rec("speaker_swap", 50, 0, 0.45, 50), rec("speaker_swap", 50, 1, 0.51, 50), rec("speaker_swap", 50, 2, 0.54, 50),
    # cap all: the difference flips sign between folds (within noise)
    rec("none", None, 0, 0.60, 200), rec("none", None, 1, 0.62, 200), rec("none", None, 2, 0.58, 200),
    rec("speaker_swap", None, 0, 0.63, 200), rec("speaker_swap", None, 1, 0.59, 200),
    rec("speaker_swap", None, 2, 0.58, 200, status="error"),
]


def test_paired_difference_and_fold_noise():
    d = paired_difference({0: 0.45, 1: 0.51, 2: 0.54}, {0: 0.40, 1: 0.45, 2: 0.50})
    assert d["folds"] == 3 and d["mean"] == pytest.approx(0.05) and d["exceeds"] is True
    d = paired_difference({0: 0.63, 1: 0.59}, {0: 0.60, 1: 0.62})
    assert d["mean"] == pytest.approx(0.0) and d["exceeds"] is False
    # 2 folds, both +0.05 and +0.06: 11 standard errors, yet below t(1) = 12.7 -- two folds prove little
    d = paired_difference({0: 0.45, 1: 0.56}, {0: 0.40, 1: 0.50})
    assert d["mean"] / d["se"] == pytest.approx(11.0) and d["t"] == pytest.approx(12.706) and d["exceeds"] is False
    assert t_95(4) == pytest.approx(2.776) and t_95(11) == pytest.approx(2.228) and t_95(1000) == pytest.approx(1.96)
    assert paired_difference({0: 0.5}, {0: 0.4})["exceeds"] is None  # one fold: no noise estimate


def test_sections_render_effect_curve_and_data():
    md = "\n".join(data_sections(RECORDS, "plots/learning_curve.png"))
    assert "## Augmentation effect" in md and "## Learning curve" in md and "## Data" in md
    assert ("| tiny-bart | 50 | 8 | 1 | speaker_swap | 0.500 ± 0.046 | 0.450 ± 0.050 | +0.050 ± 0.010 | 3 | "
            "**yes** (8.7 SE, needs 4.3) | -0.050 |") in md
    assert "| tiny-bart | all | 8 | 1 | speaker_swap | 0.610 ± 0.028 | 0.600 ± 0.020 | +0.000 ± 0.042 | 2 | no (0.0 SE, needs 12.7) | +0.000 |" in md
    assert "| model | augmentation | bs | ga | cap 50 | cap all |" in md
    assert "| tiny-bart | none | 8 | 1 | 0.450 ± 0.050 · loss 1.550 (n=50) | 0.600 ± 0.020 · loss 1.400 (n=200) |" in md
    assert "![Learning curve](plots/learning_curve.png)" in md
    assert "| tiny-bart | 200 | 60 / 90 / 150 / 300 | 256 | 2.0 % | 3.0 % | 14 / 20 / 31 / 70 | 64 | 1.0 % | 0.0 % |" in md
    assert "| 식당 예약 | 120 | 60.0 % |" in md


def test_sections_are_left_out_without_their_axis():
    one = [rec("none", None, f, 0.5 + f / 100) for f in range(2)]
    md = "\n".join(data_sections(one))
    assert "Augmentation effect" not in md and "Learning curve" not in md and "## Data" in md
    assert data_sections([]) == []


def test_learning_curve_plot(tmp_path):
    path = learning_curve_plot(RECORDS, tmp_path / "plots" / "learning_curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert learning_curve_plot(RECORDS[:3], tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()
