"""k-fold splits, training caps and fold files (sumbench.data.split) and `sumbench data split`."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from sumbench.data.corpus import load_csv, load_rows, write_csv
from sumbench.data.split import cap, kfold, write_folds
from sumbench.data.synth import synthesize, write_corpus
from sumbench.errors import DataError, SumbenchError

SUMBENCH = str(Path(sys.executable).parent / "sumbench")


@pytest.fixture(scope="module")
def examples():
    return synthesize(203, seed=0)


@pytest.mark.parametrize("k", [2, 5, 7])
def test_kfold_disjoint_covering_balanced_and_stratified(examples, k):
    folds = kfold(examples, k, seed=0)
    assert len(folds) == k
    everything = set(range(len(examples)))
    held_all = [i for _, held in folds for i in held]
    assert sorted(held_all) == sorted(everything)  # disjoint and covering
    sizes = [len(held) for _, held in folds]
    assert max(sizes) - min(sizes) <= 1
    for train, held in folds:
        assert set(train) | set(held) == everything and not set(train) & set(held)
        assert train == sorted(train) and held == sorted(held)
    topics = sorted({ex.topic for ex in examples})
    for topic in topics:
        per_fold = [sum(examples[i].topic == topic for i in held) for _, held in folds]
        assert max(per_fold) - min(per_fold) <= 1, (topic, per_fold)


def test_kfold_is_seeded(examples):
    assert kfold(examples, 5, seed=1) == kfold(examples, 5, seed=1)
    assert kfold(examples, 5, seed=1) != kfold(examples, 5, seed=2)


def test_kfold_without_topics_is_a_plain_seeded_shuffle(examples):
    untagged = [replace(ex, topic=None) for ex in examples[:50]]
    folds = kfold(untagged, 4, seed=0)
    assert sorted(i for _, held in folds for i in held) == list(range(50))
    assert [len(held) for _, held in folds] == [13, 13, 12, 12]
    assert folds[0][1] != list(range(13))  # shuffled, not contiguous
    assert folds == kfold(untagged, 4, seed=0)


def test_k1_means_train_dev_as_given(examples):
    assert kfold(examples[:10], 1, seed=0) == [(list(range(10)), [])]


@pytest.mark.parametrize("k", [0, -1, 11])
def test_bad_k_names_k(examples, k):
    with pytest.raises(SumbenchError, match=f"k={k} must be between 1 and the number of training examples \\(10\\)"):
        kfold(examples[:10], k, seed=0)


def test_cap(examples):
    assert cap(examples, None, seed=0) == list(examples)
    capped = cap(examples, 70, seed=0)
    assert len(capped) == 70 and len({ex.fname for ex in capped}) == 70
    assert cap(examples, 70, seed=0) == capped
    assert cap(examples, 70, seed=1) != capped
    order = [ex.fname for ex in examples]
    assert [order.index(ex.fname) for ex in capped] == sorted(order.index(ex.fname) for ex in capped)
    available = Counter(ex.topic for ex in examples)
    taken = Counter(ex.topic for ex in capped)
    for topic, count in available.items():
        assert abs(taken[topic] - 70 * count / len(examples)) <= 1.5, (topic, taken[topic], count)
    assert cap(examples, len(examples), seed=0) == list(examples)


@pytest.mark.parametrize("m", [0, 204])
def test_cap_too_large_or_zero(examples, m):
    with pytest.raises(SumbenchError, match=f"max_train_samples={m} must be between 1 and the 203 examples available"):
        cap(examples, m, seed=0)


@pytest.fixture()
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", n=60, seed=0, dev_n=12)


def test_write_folds_k3(corpus, tmp_path):
    train_csv, dev_csv = corpus
    out = tmp_path / "folds"
    paths = write_folds(train_csv, dev_csv, k=3, seed=0, out_dir=out)
    assert [p.relative_to(out).as_posix() for p in paths] == [
        "fold0/train.csv", "fold0/heldout.csv", "fold1/train.csv", "fold1/heldout.csv",
        "fold2/train.csv", "fold2/heldout.csv", "dev.csv",
    ]
    train, dev = load_csv(train_csv), load_csv(dev_csv)
    held_names = []
    for i in range(3):
        fold_train = load_csv(out / f"fold{i}" / "train.csv")
        held = load_csv(out / f"fold{i}" / "heldout.csv")
        assert len(held) == 20
        assert sorted(ex.fname for ex in fold_train + held) == sorted(ex.fname for ex in train)
        held_names += [ex.fname for ex in held]
    assert sorted(held_names) == sorted(ex.fname for ex in train)
    assert load_csv(out / "dev.csv") == dev
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_write_folds_k1_holds_out_dev(corpus, tmp_path):
    train_csv, dev_csv = corpus
    out = tmp_path / "folds"
    write_folds(train_csv, dev_csv, k=1, seed=0, out_dir=out)
    assert load_csv(out / "fold0" / "train.csv") == load_csv(train_csv)
    assert load_csv(out / "fold0" / "heldout.csv") == load_csv(dev_csv) == load_csv(out / "dev.csv")


def test_write_folds_overlap_writes_nothing(corpus, tmp_path):
    train_csv, dev_csv = corpus
    dev = load_csv(dev_csv)
    leaky = write_csv(tmp_path / "leaky_dev.csv", dev[:3] + [replace(dev[3], fname="train_0007")] + dev[4:])
    out = tmp_path / "folds"
    with pytest.raises(DataError) as info:
        write_folds(train_csv, leaky, k=3, seed=0, out_dir=out)
    line = load_rows(leaky)[3][0]  # multi-line dialogues: the 4th record starts well below line 5
    assert line > 5
    assert str(info.value) == (
        f"{leaky}:{line}: fname 'train_0007' is also in {train_csv}; dev must never enter training"
    )
    assert not out.exists()


def test_write_folds_bad_k_or_bad_file_writes_nothing(corpus, tmp_path):
    train_csv, dev_csv = corpus
    out = tmp_path / "folds"
    with pytest.raises(SumbenchError, match="k=61"):
        write_folds(train_csv, dev_csv, k=61, seed=0, out_dir=out)
    bad = Path(__file__).parent / "data" / "csv" / "empty_summary.csv"
    with pytest.raises(DataError, match=f"{bad}:6: "):
        write_folds(train_csv, bad, k=3, seed=0, out_dir=out)
    assert not out.exists()


def test_cli_split(corpus, tmp_path):
    train_csv, dev_csv = corpus
    out = tmp_path / "folds"
    ok = subprocess.run([SUMBENCH, "data", "split", "--train", str(train_csv), "--dev", str(dev_csv), "--k", "2",
                         "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 5
    leak = subprocess.run([SUMBENCH, "data", "split", "--train", str(train_csv), "--dev", str(train_csv), "--k", "2",
                           "--out", str(tmp_path / "leak")], capture_output=True, text=True, timeout=60)
    assert leak.returncode == 2
    assert leak.stderr == (f"sumbench: {train_csv}:2: fname 'train_0000' is also in {train_csv}; "
                           "dev must never enter training\n")
    assert not (tmp_path / "leak").exists()
