"""The synthetic Korean dialogue corpus (sumbench.data.synth) and `sumbench data synth`."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sumbench.data.corpus import load_csv, speaker_tags
from sumbench.data.synth import MAX_TURNS, MIN_TURNS, TOPICS, synthesize, write_corpus
from sumbench.errors import SumbenchError
from sumbench.korean import PII_MASKS, SPECIAL_TOKEN_RE, josa

SUMBENCH = str(Path(sys.executable).parent / "sumbench")


@pytest.fixture(scope="module")
def corpus():
    return synthesize(1000, seed=0)


@pytest.mark.parametrize(
    "word, particle, expected",
    [
        ("#Person1#", "는", "은"), ("#Person2#", "은", "는"), ("#Person3#", "가", "이"), ("#Person4#", "이", "가"),
        ("#Person1#", "와", "과"), ("#Person2#", "과", "와"), ("#Person3#", "로", "으로"), ("#Person1#", "으로", "로"),
        ("서울", "으로", "로"), ("저녁 7시 반", "로", "으로"), ("KTX", "이", "가"), ("#Address#", "으로", "로"),
        ("50만 원", "이래요", "이래요"), ("월세", "이에요", "예요"), ("책", "을", "을"), ("의자", "을", "를"),
    ],
)
def test_josa(word, particle, expected):
    assert josa(word, particle) == expected


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = write_corpus(tmp_path / "a", n=120, seed=7)
    b = write_corpus(tmp_path / "b", n=120, seed=7)
    assert [p.name for p in a] == ["train.csv", "dev.csv"]
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    c = write_corpus(tmp_path / "c", n=120, seed=8)
    assert a[0].read_bytes() != c[0].read_bytes()


def test_train_and_dev_layout_and_disjoint(tmp_path):
    train_csv, dev_csv = write_corpus(tmp_path, n=300, seed=0)
    train, dev = load_csv(train_csv), load_csv(dev_csv)
    assert [ex.fname for ex in train] == [f"train_{i:04d}" for i in range(300)]
    assert [ex.fname for ex in dev] == [f"dev_{i:04d}" for i in range(30)]
    assert len(load_csv(write_corpus(tmp_path / "small", n=50, seed=0, dev_n=5)[1])) == 5
    assert len(load_csv(write_corpus(tmp_path / "tiny", n=50, seed=0)[1])) == 20
    dialogues = [ex.dialogue for ex in train + dev]
    assert len(set(dialogues)) == len(dialogues)


def test_prefix_stable_and_start_index():
    assert synthesize(8, seed=3)[5:] == synthesize(3, seed=3, start_index=5)
    assert [ex.fname for ex in synthesize(2, seed=3, start_index=5)] == ["synth_00005", "synth_00006"]


def test_dialogue_format_turns_and_lengths(corpus):
    turn_re = re.compile(r"#Person[1-4]#: \S.*")
    for ex in corpus:
        lines = ex.dialogue.split("\n")
        assert MIN_TURNS <= len(lines) <= MAX_TURNS
        assert all(turn_re.fullmatch(line) for line in lines), ex.dialogue
        speakers = [line.split(":")[0] for line in lines]
        assert all(a != b for a, b in zip(speakers, speakers[1:])), "the same speaker twice in a row"
    lengths = [len(ex.dialogue) for ex in corpus]
    hangul = [len(re.findall("[가-힣]", ex.dialogue)) for ex in corpus]
    assert min(lengths) < 160 and max(lengths) > 350 and statistics.pstdev(lengths) > 40
    assert min(hangul) < 60 and max(hangul) > 200
    assert len(Counter(ex.dialogue.count("\n") + 1 for ex in corpus)) >= 7


def test_speakers_topics_and_pii_vary(corpus):
    speakers = Counter(len(speaker_tags(ex.dialogue)) for ex in corpus)
    assert set(speakers) == {2, 3, 4}
    assert speakers[2] > 0.6 * len(corpus) and speakers[3] > 0.1 * len(corpus) and speakers[4] >= 10
    topics = Counter(ex.topic for ex in corpus)
    assert len(topics) == len(TOPICS) >= 12 and min(topics.values()) > 0.04 * len(corpus)
    with_pii = [ex for ex in corpus if any(m in ex.dialogue for m in PII_MASKS)]
    assert 0.1 * len(corpus) < len(with_pii) < 0.6 * len(corpus)
    assert {m for ex in corpus for m in PII_MASKS if m in ex.dialogue} == set(PII_MASKS)


def test_summary_style(corpus):
    for ex in corpus:
        sentences = re.findall(r"[^.]+\.", ex.summary)
        assert "".join(sentences).replace(". ", ".") == ex.summary.replace(". ", ".")
        assert 1 <= len(sentences) <= 2 and all(s.endswith("다.") for s in sentences), ex.summary
        assert ex.summary.startswith("#Person")
        # particles after speaker tags follow the digit's reading: 일/삼 take 은·이·을·과, 이/사 take 는·가·를·와
        assert not re.search(r"#Person[13]#(는|가|를|와)|#Person[24]#(은|이 |을|과)", ex.summary), ex.summary
        tags_in_summary = set(re.findall(r"#Person\d#", ex.summary))
        assert tags_in_summary <= set(speaker_tags(ex.dialogue))


def test_summaries_restate_the_dialogue(corpus):
    """A learnability proxy: numbers and most content words of a summary come from its dialogue."""
    coverage = []
    for ex in corpus:
        for number in re.findall(r"\d[\d,]*", SPECIAL_TOKEN_RE.sub(" ", ex.summary)):
            assert number in ex.dialogue, (number, ex.summary)
        words = re.findall(r"[가-힣A-Za-z0-9]+", SPECIAL_TOKEN_RE.sub(" ", ex.summary))
        # content words: drop sentence-final predicates (…다) and the summary-style particle 에게
        content = [w for w in words if len(w) >= 2 and not w.endswith("다") and w != "에게"]
        coverage.append(sum(w[:2] in ex.dialogue for w in content) / len(content))
    assert statistics.fmean(coverage) > 0.7
    assert min(coverage) > 0.3


def test_invalid_sizes_raise():
    with pytest.raises(SumbenchError, match="n=0"):
        write_corpus("/nonexistent", n=0, seed=0)


def test_cli_synth_then_check(tmp_path):
    out = tmp_path / "corpus"
    synth = subprocess.run([SUMBENCH, "data", "synth", "--n", "40", "--seed", "1", "--out", str(out)],
                           capture_output=True, text=True, timeout=60)
    assert synth.returncode == 0, synth.stderr
    assert synth.stdout.splitlines() == [str(out / "train.csv"), str(out / "dev.csv")]
    check = subprocess.run([SUMBENCH, "data", "check", str(out / "train.csv")], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and check.stdout.startswith("rows: 40\ntopics: ")
