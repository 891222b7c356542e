"""Progress lines of a long training: step, loss, grad norm, samples/s and an ETA from its own step times."""

from __future__ import annotations

import json
import re

from sumbench.training.measure import StepRow, TrainMeasurement
from sumbench.training.progress import Progress, format_duration


def test_progress_lines_every_n_steps_with_decreasing_etas(tmp_path):
    m = TrainMeasurement()
    lines = []
    progress = Progress(m, label="tiny bs4/ga1 fold 0", every_steps=5, progress_file=tmp_path / "progress.json",
                        echo=lambda line, flush: lines.append(line))
    for step in range(1, 21):
        m.rows.append(StepRow(step, 0.5, 0.5, 4, 100, 120, 0, 0, loss=2.0 - step / 20, grad_norm=1.5))
        progress.step_end(step, 20)
    assert len(lines) == 4 and lines[0].startswith("tiny bs4/ga1 fold 0: step 5/20  loss 1.7500  grad norm 1.5")
    assert "samples/s 8.00" in lines[0]
    etas = [float(re.search(r"ETA (\d+)s", line).group(1)) for line in lines]
    assert etas == [8.0, 5.0, 2.0, 0.0]  # 15, 10, 5, 0 steps left x 0.5 s
    saved = json.loads((tmp_path / "progress.json").read_text())
    assert saved["step"] == 20 and saved["total"] == 20 and saved["eta_s"] == 0.0


def test_the_eta_is_the_median_of_the_last_ten_step_times_times_the_steps_left():
    # Injected step times that slow from 1 s to 3 s after step 10: at step 16 the last ten steps are four of 1 s and
    # six of 3 s, so the ETA follows the recent median (3 s x 24 steps left), not the run's mean (~1.75 s).
    m = TrainMeasurement()
    progress = Progress(m, label="x", echo=lambda line, flush: None)
    for step in range(1, 17):
        m.rows.append(StepRow(step, 1.0 if step <= 10 else 3.0, 1.0, 1, 1, 1, 0, 0))
    assert progress.eta_s(16, 40) == 72.0
    assert progress.eta_s(40, 40) == 0.0
    assert Progress(TrainMeasurement(), label="x").eta_s(0, 40) is None  # nothing measured yet: "ETA ?"


def test_by_default_a_line_every_36_seconds_and_always_the_last_step():
    m = TrainMeasurement()
    now = [0.0]
    lines = []
    progress = Progress(m, label="x", clock=lambda: now[0], echo=lambda line, flush: lines.append(line))
    for step in range(1, 101):
        now[0] += 1.0
        m.rows.append(StepRow(step, 1.0, 1.0, 1, 1, 1, 0, 0))
        progress.step_end(step, 100)
    assert len(lines) == 3  # at 36 s, 72 s, and the last step


def test_durations_read_like_a_person_writes_them():
    assert format_duration(5) == "5s" and format_duration(125) == "2m 05s" and format_duration(3 * 3600 + 120) == "3h 02m"
