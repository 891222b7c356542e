"""Progress of a long job, end to end: `sumbench train` prints a line every N optimizer steps with the ETA its own
step times give, and in the workflow those lines reach the quality rule's log while Snakemake names the running jobs."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.training.progress import RECENT, format_duration

LINE = re.compile(r"^(?P<label>.+): step (?P<step>\d+)/(?P<total>\d+)  loss \d+\.\d+  grad norm \S+  "
                  r"samples/s \d+\.\d+  ETA (?P<eta>.+)$")


def eta_seconds(text: str) -> int:
    """``1h 02m``, ``3m 05s`` or ``7s`` (sumbench.training.progress.format_duration) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.fullmatch(r"(?:(\d+)h )?(?:(\d+)m ?)?(?:(\d+)s)?", text)
    assert parts and text, f"not a duration: {text!r}"
    return sum(int(v) * units[u] for v, u in zip(parts.groups(), "hms") if v)


def test_durations_parse_as_progress_writes_them():
    for seconds in (0, 7, 65, 3600, 4 * 3600 + 125):
        assert eta_seconds(format_duration(seconds)) == (seconds // 60 * 60 if seconds >= 3600 else seconds)


def sumbench(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"sumbench {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def test_a_long_cell_prints_progress_lines_at_its_steps_with_the_eta_of_its_own_step_times(tmp_path):
    # 40 optimizer steps of 32 samples (bs 16 x ga 2) on a tiny BART, a line every 10 steps. How fast this machine
    # is decides every ETA, so the test recomputes each printed ETA from the step times the cell itself recorded
    # (train_log.jsonl): the median of the last 10 steps x the steps left, as the progress module defines it.
    # Nothing here depends on how fast or how steady the machine is.
    sumbench("data", "synth", "--n", "80", "--dev-n", "8", "--seed", "5", "--out", str(tmp_path / "src"))
    sumbench("data", "split", "--train", str(tmp_path / "src/train.csv"), "--dev", str(tmp_path / "src/dev.csv"),
             "--k", "2", "--out", str(tmp_path / "folds"))
    sumbench("warmstart", "--model", "tiny-bart", "--train", str(tmp_path / "src/train.csv"), "--out",
             str(tmp_path / "base"), "--steps", "2", "--set", "tiny.warmstart_corpus_size=40")
    proc = sumbench("train", "--model", "tiny-bart", "--base", str(tmp_path / "base"), "--batch-size", "16",
                    "--grad-accum", "2", "--fold", "0", "--data", str(tmp_path / "folds"), "--out",
                    str(tmp_path / "cell"), "--max-steps", "40", "--max-eval-samples", "4", "--warmup-steps", "1",
                    "--progress-every", "10")
    lines = [m for m in map(LINE.match, proc.stdout.splitlines()) if m]
    assert [int(m["step"]) for m in lines] == [10, 20, 30, 40], proc.stdout[-3000:]
    assert {m["label"] for m in lines} == {"tiny-bart bs16/ga2 fold 0"} and {m["total"] for m in lines} == {"40"}
    rows = [json.loads(line) for line in (tmp_path / "cell/train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))
    for m in lines:
        step = int(m["step"])
        recent = [r["step_time_s"] for r in rows[:step]][-RECENT:]
        assert m["eta"] == format_duration(statistics.median(recent) * (40 - step)), (step, recent, m["eta"])
    assert lines[-1]["eta"] == "0s"


@pytest.mark.slow
def test_in_the_workflow_progress_reaches_the_quality_log_and_snakemake_names_the_running_jobs(quick_test_run):
    results = quick_test_run / "results/quick_test"
    output = (quick_test_run / "snakemake_quick_test.log").read_text(encoding="utf-8")
    for model in ("tiny-bart", "tiny-llama", "tiny-qwen3"):
        log = (results / f"logs/quality/{model}/job0.log").read_text(encoding="utf-8")
        cells = re.findall(r"^sumbench quality: (\d+)/(\d+) (\S+): ", log, flags=re.M)
        assert len(cells) == int(cells[0][1]) == 6 and all(Path(quick_test_run, c).is_dir() for _, _, c in cells)
        progress = [m for m in map(LINE.match, log.splitlines()) if m]
        assert len(progress) >= len(cells) and all(m["label"].startswith(model) for m in progress)
        assert {m["step"] for m in progress if m["step"] == m["total"]} == {"8"}  # each training's last step
        # Snakemake's own output: the job that trains them, with its wildcards, as it starts
        assert re.search(rf"rule quality:\n(?:[ \t][^\n]*\n)*?[ \t]+wildcards: grid=quick_test, model={re.escape(model)}, job=0\n",
                         output)
