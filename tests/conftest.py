"""Shared fixtures. Nothing here reaches a network: the hub is switched off for every test."""

from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# DeepSpeed compiles its CPU ops on first use (minutes); tests use only what is built or cached, and DeepSpeed's
# torch.distributed all-reduce instead of its shared-memory one. The slow test of the compiled path sets it to 1.
os.environ.setdefault("SUMBENCH_DEEPSPEED_JIT", "0")
if os.environ.get("PYTEST_XDIST_WORKER"):  # two workers on two cores: one torch thread each (and their subprocesses),
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as two threads each would spin against the other worker's

WORDS = ("안녕하세요 오늘 내일 식당 예약 병원 진료 시간 토요일 저녁 일곱 시 네 명 자리 감사합니다 "
         "아니요 그럼 어디 만나요 주문 환불 영수증 가방 신발 여행 비행기 호텔").split()


def toy_pairs(n: int = 64, seed: int = 0) -> list[tuple[str, str]]:
    """Short Korean-looking dialogue/summary pairs of varied length (for unit tests that need no corpus)."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        turns = [f"#Person{1 + j % 2}#: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 15)))
                 for j in range(rng.randint(2, 6))]
        pairs.append(("\n".join(turns), "#Person1#은 " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))))
    return pairs


def pytest_xdist_auto_num_workers(config):
    """Workers for ``-n auto`` (the default options): two for the default run, whose tests mostly wait on one
    single-threaded subprocess each (CI has two cores); none for a run that selects the slow suites, which start
    services, whole workflows and multi-process jobs that would crowd each other out, and share one quick_test run."""
    markexpr = config.option.markexpr or ""
    return 0 if "slow" in markexpr.replace("not slow", "") else 2


@pytest.fixture(scope="session")
def toy_tokenizer():
    from sumbench.training.tokenizer import train_tokenizer

    return train_tokenizer([d + "\n" + s for d, s in toy_pairs()], 500)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SUMBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def quick_test_run(tmp_path_factory):
    """A copy of the repository where `snakemake quick_test` ran once, as typed (slow tests of its outputs share it)."""
    import shutil
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    root = tmp_path_factory.mktemp("quick_test_run") / "repo"
    shutil.copytree(repo, root, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache"))
    import time

    started = time.monotonic()
    proc = subprocess.run(["snakemake", "quick_test"], cwd=root, capture_output=True, text=True, timeout=1800)
    print(f"snakemake quick_test wall time: {time.monotonic() - started:.0f} s")
    if proc.returncode != 0:
        raise AssertionError(f"snakemake quick_test exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    (root / "snakemake_quick_test.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return root
