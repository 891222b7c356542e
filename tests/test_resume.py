"""A grid that survives kills: `kill -9` of a running job (or of the whole workflow) during the profile phase or
during the quality phase, then `snakemake` again (after `--unlock` where Snakemake itself was killed), completes and
reports the same ROUGE as an uninterrupted run; two runs on CPU with a fixed seed are identical.

Each run is a scratch copy of the repo with a small quick_test-like grid (`resume`: tiny-bart with a 30-step warm
start, no augmentation and speaker_swap, 2 folds = 4 quality cells), about a minute per run on two cores. Slow.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from sumbench.config.schema import REPO_ROOT

pytestmark = pytest.mark.slow

IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache")
TARGET = "results/resume/summary.md"
GRID = {"grids": {"resume": {
    "models": ["tiny-bart"], "batch_sizes": [4], "grad_accum": [1], "k_folds": 2,
    "augmentation": ["none", "speaker_swap"], "max_train_samples": [None], "max_steps": 40, "max_eval_samples": 8,
    "timing_warmup_steps": 1, "seed": 42, "augment": {"ratio": 0.5}, "data": {"synth": {"n": 60, "dev_n": 12, "seed": 0}},
    "profile": {"warmup_steps": 1, "timed_steps": 20},
}}}
RESULT_COLUMNS = ("model", "augmentation", "fold", "status", "steps", "rouge1", "rouge2", "rougeL", "rouge_sum",
                  "heldout_rouge_sum", "eval_loss", "train_loss_first")


def make_copy(root: Path) -> tuple[Path, dict[str, str]]:
    """A scratch repo whose tiny-bart warm-starts in 30 steps on 200 rows, and the environment its jobs need."""
    repo = root / "repo"
    shutil.copytree(REPO_ROOT, repo, ignore=IGNORE, symlinks=True)
    model = repo / "configs" / "models" / "tiny-bart.yaml"
    text = model.read_text(encoding="utf-8")
    model.write_text(text.replace("warmstart_steps: 250", "warmstart_steps: 30")
                     .replace("warmstart_corpus_size: 1500", "warmstart_corpus_size: 200"), encoding="utf-8")
    assert "warmstart_steps: 30 " in model.read_text(encoding="utf-8")
    (repo / "resume.yaml").write_text(yaml.safe_dump(GRID, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "SUMBENCH_MODELS_DIR": str(repo / "configs" / "models"), "SUMBENCH_CACHE": str(root / "cache"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return repo, env


def command(*extra: str) -> list[str]:
    return ["snakemake", TARGET, "--configfile", "resume.yaml", *extra]


def run(repo: Path, env: dict, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(command(*extra), cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)


def results(repo: Path) -> list[dict]:
    rows = list(csv.DictReader((repo / "results" / "resume" / "summary.csv").open(encoding="utf-8")))
    return sorted(({k: r[k] for k in RESULT_COLUMNS} for r in rows), key=lambda r: (r["augmentation"], r["fold"]))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list[dict]:
    """An uninterrupted run."""
    repo, env = make_copy(tmp_path_factory.mktemp("reference"))
    started = time.monotonic()
    proc = run(repo, env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"uninterrupted run: {time.monotonic() - started:.0f} s")
    rows = results(repo)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"} and all(float(r["rouge_sum"]) > 0 for r in rows)
    return rows


def test_two_runs_with_a_fixed_seed_give_identical_results(reference, tmp_path):
    repo, env = make_copy(tmp_path)
    proc = run(repo, env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert results(repo) == reference


def _jobs(root_pid: int, subcommand: str) -> list[psutil.Process]:
    try:
        children = psutil.Process(root_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    jobs = []
    for p in children:
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if any(part.endswith("sumbench") for part in cmd[:2]) and subcommand in cmd:
            jobs.append(p)
    return jobs


def _wait_for(proc: subprocess.Popen, subcommand: str, ready, timeout: float = 600) -> psutil.Process:
    """A running `sumbench <subcommand>` job for which ``ready(job)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the workflow ended before a {subcommand} job could be killed"
        for job in _jobs(proc.pid, subcommand):
            try:
                if job.is_running() and ready(job):
                    return job
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError(f"no {subcommand} job to kill")


@pytest.mark.parametrize("phase", ["profile", "quality"])
@pytest.mark.parametrize("victim", ["job", "whole-workflow"])
def test_kill_9_then_snakemake_again_completes_with_the_same_rouge(reference, tmp_path, phase, victim):
    repo, env = make_copy(tmp_path)
    proc = subprocess.Popen(command(), cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    runs = repo / "results" / "resume" / "runs"
    if phase == "profile":  # past its imports and loading, into the timed splits: its log says so
        profile_log = repo / "results" / "resume" / "logs" / "profile" / "tiny-bart.log"
        ready = lambda job: profile_log.is_file() and "burn-in (" in profile_log.read_text(encoding="utf-8")  # noqa: E731
    else:  # a quality job with at least one cell finished: the rerun must keep it and redo the rest
        ready = lambda job: any(runs.rglob("metrics.json"))  # noqa: E731
    try:
        job = _wait_for(proc, phase, ready)
        if victim == "job":
            job.send_signal(signal.SIGKILL)  # Snakemake sees the job fail, finishes the others (keep-going) and stops
            out, _ = proc.communicate(timeout=900)
            assert proc.returncode != 0, out[-3000:]
        else:
            os.killpg(proc.pid, signal.SIGKILL)  # the workflow and every job at once, as a lost node would
            proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # Nothing a later step would accept: no record of the killed job, no report.
    assert not (repo / "results" / "resume" / phase / "tiny-bart.json").exists()
    assert not (repo / TARGET).exists()

    again = run(repo, env)
    if again.returncode != 0 and "cannot be locked" in again.stdout + again.stderr:
        # A SIGKILLed Snakemake cannot release its lock: `snakemake --unlock` first, as Snakemake's message says.
        assert victim == "whole-workflow", again.stderr[-2000:]
        print("stale lock after SIGKILL: `snakemake --unlock` needed")
        assert run(repo, env, "--unlock").returncode == 0
        again = run(repo, env)
    assert again.returncode == 0, again.stderr[-4000:]
    assert results(repo) == reference
