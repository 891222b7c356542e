"""The bad-input corpus (tests/data/bad/cases.yaml): every case is one clear line naming the file, row or key,
a non-zero exit, no traceback, and nothing written. Cases run through the real `sumbench` CLI and, for the
workflow config, through `snakemake -n quick_test` in a scratch copy of the repo, all in parallel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from sumbench.config.schema import REPO_ROOT
from sumbench.data.split import write_folds

BAD = Path(__file__).parent / "data" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))
IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache")


def test_the_corpus_is_large_and_covers_every_kind():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 15
    kinds = {c["id"].split("-")[0] for c in CASES}
    assert {"csv", "model", "train", "augment", "config"} <= kinds


def _fill(value: str, bad: Path, ws: Path, out: Path) -> str:
    return value.replace("{bad}", str(bad)).replace("{ws}", str(ws)).replace("{out}", str(out))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Run every case once, in parallel: {id: (finished process, folder that must stay empty or absent)}."""
    root = tmp_path_factory.mktemp("bad")
    ws = root / "ws"
    write_folds(BAD / "csv" / "good_train.csv", BAD / "csv" / "good_dev.csv", k=2, seed=0, out_dir=ws / "folds")
    repo = root / "repo"
    shutil.copytree(REPO_ROOT, repo, ignore=IGNORE, symlinks=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    def run(case: dict) -> tuple[subprocess.CompletedProcess, Path]:
        if case["kind"] == "cli":
            out = root / "out" / case["id"]
            args = [_fill(str(a), BAD, ws, out) for a in case["args"]]
            proc = subprocess.run([sys.executable, "-m", "sumbench.cli", *args], capture_output=True, text=True,
                                  timeout=180, env=env, cwd=root)
            return proc, out
        proc = subprocess.run(["snakemake", "-n", "--nolock", "quick_test", "--configfile",
                               str(BAD / "config" / case["file"])], cwd=repo, capture_output=True, text=True,
                              timeout=180, env=env)
        return proc, repo / "results"

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((c["id"] for c in CASES), pool.map(run, CASES)))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_one_clear_line_and_writes_nothing(outcomes, case):
    proc, out = outcomes[case["id"]]
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-2000:]
    assert "Traceback" not in text, text[-4000:]
    lines = [line for line in text.splitlines() if case["expect"] in line]
    assert lines, f"expected {case['expect']!r} in:\n{text[-3000:]}"
    assert case.get("expect_also", "") in lines[0]
    if case["kind"] == "cli":
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [lines[0]]  # the whole of stderr is that one line
        assert lines[0].startswith("sumbench: ")
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))
