"""The workflow itself: lint, dry runs, and (marked slow) a real `snakemake quick_test`."""

from __future__ import annotations

import csv
import json
import re
import shutil
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from sumbench.config import REPO_ROOT

IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache")


@pytest.fixture()
def repo_copy(tmp_path) -> Path:
    """A scratch copy of the workflow, so tests never touch the user's results/."""
    dst = tmp_path / "repo"
    shutil.copytree(REPO_ROOT, dst, ignore=IGNORE, symlinks=True)
    return dst


def snakemake(cwd: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def job_counts(dry_run_output: str) -> Counter:
    """Parse the `Job stats` table of a dry run."""
    counts: Counter = Counter()
    for line in dry_run_output.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
        elif not line.strip():
            break
    return counts


def test_lint_is_clean(repo_copy):
    proc = snakemake(repo_copy, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr, proc.stdout


def test_quick_test_dry_run_as_typed_plans_the_grid(repo_copy):
    proc = snakemake(repo_copy, "-n", "quick_test")  # no --cores: the default profile must supply it
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert counts == {"synth_data": 1, "split_folds": 1, "warmstart": 3, "train": 24, "report": 1, "quick_test": 1}


def test_full_grid_dry_run_plans_every_cell_with_its_container(repo_copy):
    data = repo_copy / "data"
    subprocess.run(["sumbench", "data", "synth", "--n", "60", "--out", str(data)], check=True, capture_output=True)
    proc = snakemake(repo_copy, "-n", "--forceall")
    assert proc.returncode == 0, proc.stderr
    counts = job_counts(proc.stdout)
    assert counts["train"] == 6 * 3 * 3 * 5 and counts["report_full"] == 1 and "warmstart" not in counts


def test_bad_config_key_fails_at_start_with_one_clear_line(repo_copy):
    cfg = repo_copy / "configs" / "config.yaml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("k_folds: 2", "k_fold: 2"), encoding="utf-8")
    proc = snakemake(repo_copy, "-n", "quick_test")
    assert proc.returncode != 0
    assert "unknown key 'grids.quick_test.k_fold'" in proc.stderr + proc.stdout


@pytest.mark.slow
def test_quick_test_runs_end_to_end_and_learns(repo_copy):
    started = time.monotonic()
    proc = snakemake(repo_copy, "quick_test", timeout=1500)
    wall = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"snakemake quick_test wall time: {wall:.0f} s")
    results = repo_copy / "results" / "quick_test"
    summary = (results / "summary.md").read_text(encoding="utf-8")
    rows = list(csv.DictReader((results / "summary.csv").open(encoding="utf-8")))
    assert len(rows) == 24 and {r["status"] for r in rows} == {"ok"}
    rouge1 = {m: statistics.mean(float(r["rouge1"]) for r in rows if r["model"] == m) for m in {r["model"] for r in rows}}
    assert rouge1["tiny-bart"] >= 0.20, rouge1
    assert max(v for m, v in rouge1.items() if m != "tiny-bart") >= 0.10, rouge1
    for model in rouge1:
        assert f"## {model}" in summary
        assert re.search(r"\| none \| all \| 8 \| 1 \| 8 \|", summary)
        for fold in (0, 1):
            first = {}
            for cell in ("bs8_ga1", "bs4_ga2"):
                log = results / "runs" / model / "aug-none_cap-all" / cell / f"fold{fold}" / "train_log.jsonl"
                first[cell] = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
            for key in ("loss", "grad_norm"):
                a, b = first["bs8_ga1"][key], first["bs4_ga2"][key]
                assert abs(a - b) <= 0.10 * abs(b), f"{model} fold{fold} {key}: {a} vs {b}"
