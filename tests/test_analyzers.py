"""ROUGE analyzers side by side: kiwi, mecab, whitespace. Tags stay whole under each, each is named with its
version, a missing one is an error, and the Mecab-ko scores match a computation written here from python-mecab-ko
and rouge_score alone.

The independent check also runs on real predictions: point SUMBENCH_MECAB_CHECK at one or more predictions.jsonl
files (joined by the path separator, e.g. ``SUMBENCH_MECAB_CHECK=$(ls results/quick_test/*/*/predictions.jsonl |
paste -sd:) pytest -q tests/test_analyzers.py -k independent``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import unicodedata
from importlib import metadata
from pathlib import Path

import pytest

from sumbench.errors import SumbenchError
from sumbench.evaluation import analyzers
from sumbench.evaluation.analyzers import ANALYZERS, analyzer_version, check_analyzers, tokenize
from sumbench.evaluation.rouge import score

DATA = Path(__file__).parent / "data" / "rouge"
TAGGED = "#Person1#은 #PhoneNumber#로 전화했다. #Person2#와 #Foo#를 봤다!"
TAG = re.compile(r"#[A-Za-z]+\d*#")


# --- tags and masks stay whole -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ANALYZERS)
def test_tags_and_masks_stay_whole(name):
    tokens = tokenize(name, TAGGED + "\n#Person3#: 안녕하세요")
    for tag in ("#Person1#", "#PhoneNumber#", "#Person2#", "#Foo#", "#Person3#"):
        assert any(TAG.search(t) and TAG.search(t).group() == tag for t in tokens), (tag, tokens)
    assert all(TAG.sub("", t).count("#") == 0 for t in tokens), tokens  # no '#' outside a whole tag


@pytest.mark.parametrize("name", ["kiwi", "mecab"])
def test_morpheme_analyzers_give_the_tag_as_its_own_token(name):
    tokens = tokenize(name, TAGGED)
    assert tokens[:4] == ["#Person1#", "은", "#PhoneNumber#", "로"]
    assert "#Person2#" in tokens and "#Foo#" in tokens and "Person" not in tokens and "1" not in tokens
    assert tokenize(name, "#Person1#: 안녕하세요")[0] == "#Person1#"  # a turn's colon goes, the tag stays


def test_mecab_finds_tags_after_leading_whitespace_and_drops_spaces():
    """python-mecab-ko 1.3.7's own spans shift by the text's leading whitespace; the tags are found all the same."""
    assert tokenize("mecab", " \n #Person1#은 #Person2#와 왔다") == ["#Person1#", "은", "#Person2#", "와", "왔", "다"]
    assert tokenize("mecab", "내일\u3000봐요") == tokenize("mecab", "내일 봐요")  # an ideographic space is no token


def test_mecab_alone_would_split_tags_ours_are_its_morphs_otherwise():
    from mecab import MeCab

    assert MeCab().morphs("#Person1#은")[:4] == ["#", "Person", "1", "#"]
    text = "Hello, 철수는 내일 오후 3시에 도서관에서 영희를 만나기로 했다."
    assert tokenize("mecab", text) == [m.lower() for m in MeCab().morphs(text) if m not in (",", ".")]


def rouge101_words(text: str) -> list[str]:
    """How the `rouge` 1.0.1 package cuts a text (Rouge._get_scores, then rouge_score._split_into_words)."""
    sentences = [" ".join(s.split()) for s in text.split(".") if len(s) > 0]
    return list(itertools.chain(*[s.split(" ") for s in sentences]))


@pytest.mark.parametrize("text", [
    "Hello, World! 3.5% 할인이에요.  다음 주에\t만나요.",
    "#Person1#은 Mr. Kim에게 #PhoneNumber#를 알려 준다. #Person2#는 '네'라고 답한다",
    "철수가 사과를 먹었다",
])
def test_whitespace_cuts_words_as_the_rouge_package_does(text):
    assert tokenize("whitespace", text) == rouge101_words(text)
    assert "Hello," in tokenize("whitespace", "Hello, World")  # punctuation other than '.' stays, case is kept


# --- one text form -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ANALYZERS)
def test_decomposed_hangul_tokenizes_as_composed(name):
    decomposed = unicodedata.normalize("NFD", TAGGED)
    assert decomposed != TAGGED and tokenize(name, decomposed) == tokenize(name, TAGGED)
    assert all(unicodedata.is_normalized("NFC", t) for t in tokenize(name, decomposed))


# --- versions and errors -------------------------------------------------------------------------------------
def test_each_analyzer_is_named_with_its_version():
    kiwi, mecab = metadata.version("kiwipiepy"), metadata.version("python-mecab-ko")
    assert analyzer_version("kiwi") == f"kiwipiepy-{kiwi}"
    dic = metadata.version("python-mecab-ko-dic")
    assert analyzer_version("mecab") == f"python-mecab-ko-{mecab}+python-mecab-ko-dic-{dic}"
    assert analyzer_version("whitespace") == "whitespace"
    r = score(["철수가 사과를 먹었다"], ["철수가 배를 먹었다"], analyzers=ANALYZERS)
    rouge_score = f"rouge_score-{metadata.version('rouge-score')}"
    assert r.by_analyzer["kiwi"].metric_version == f"{rouge_score}+kiwipiepy-{kiwi}/morph-f1/nfc/refs-mean"
    assert r.by_analyzer["mecab"].metric_version.startswith(f"{rouge_score}+python-mecab-ko-{mecab}+")
    assert r.by_analyzer["whitespace"].metric_version == f"{rouge_score}+whitespace/word-f1/nfc/refs-mean"


def test_check_analyzers_reads_a_comma_list():
    assert check_analyzers("mecab, kiwi") == ("mecab", "kiwi") and check_analyzers(["whitespace"]) == ("whitespace",)
    with pytest.raises(SumbenchError, match="unknown ROUGE analyzer 'Mecab'"):
        check_analyzers("kiwi,Mecab")


def test_a_missing_analyzer_is_one_line_never_zero(monkeypatch):
    monkeypatch.setitem(sys.modules, "mecab", None)  # makes `import mecab` fail
    analyzers.clear_caches()
    try:
        for call in (lambda: score(["가"], ["가"], analyzers=("kiwi", "mecab")), lambda: tokenize("mecab", "가나")):
            with pytest.raises(SumbenchError, match="needs python-mecab-ko .*pip install python-mecab-ko") as info:
                call()
            assert "\n" not in str(info.value)
        assert score(["가"], ["가"], analyzers=("kiwi", "whitespace")).rouge1 == 1.0  # the others still work
    finally:
        analyzers.clear_caches()


# --- Mecab-ko scores, recomputed by hand -----------------------------------------------------------------------
def mecab_tokens_by_hand(tagger, text: str) -> list[str]:
    """Mecab-ko morphs of the NFC text; a morph overlapping a #Tag# becomes that tag (once), morphs of only
    punctuation, symbols or spaces go, Latin is lower-cased. Offsets are found by searching the text."""
    text = unicodedata.normalize("NFC", text)
    tags = [(m.start(), m.end(), m.group()) for m in TAG.finditer(text)]
    out, pos, seen = [], 0, set()
    for morph in tagger.morphs(text):
        start = text.index(morph, pos)
        pos = start + len(morph)
        hit = [t for t in tags if t[0] < pos and start < t[1]]
        if hit:
            out += [t[2] for t in hit if t not in seen]
            seen.update(hit)
        elif not all(unicodedata.category(ch)[0] in "PSZ" for ch in morph):
            out.append(morph.lower())
    return out


def mecab_rouge_by_hand(pairs: list[tuple[str, list[str]]]) -> tuple[list[float], list[float]]:
    """(mean R1, R2, RL F1 over examples, ROUGE-Sum per example); several references: F1 averaged over them."""
    from mecab import MeCab
    from rouge_score.rouge_scorer import RougeScorer

    tagger = MeCab()

    class ByHand:
        def tokenize(self, text):
            return mecab_tokens_by_hand(tagger, text)

    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=ByHand())
    rows = []
    for pred, refs in pairs:
        per_ref = [scorer.score(ref, pred) for ref in refs]
        rows.append([sum(s[k].fmeasure for s in per_ref) / len(per_ref) for k in ("rouge1", "rouge2", "rougeL")])
    means = [sum(row[j] for row in rows) / len(rows) for j in range(3)]
    return means, [sum(row) for row in rows]


def prediction_files() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("SUMBENCH_MECAB_CHECK", "").split(os.pathsep) if p]
    return [DATA / "analyzers.jsonl", *extra]


@pytest.mark.parametrize("path", prediction_files(), ids=str)
def test_independent_mecab_rouge_matches(path):
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        refs = row.get("references") or row.get("reference")
        if refs:
            pairs.append((row.get("prediction") or "", [refs] if isinstance(refs, str) else refs))
    assert pairs, f"{path}: no rows with a prediction and a reference"
    (r1, r2, rl), sums = mecab_rouge_by_hand(pairs)
    ours = score([p for p, _ in pairs], [refs for _, refs in pairs], analyzers=("mecab",))
    expected = (r1, r2, rl, r1 + r2 + rl)
    assert (ours.rouge1, ours.rouge2, ours.rougeL, ours.rouge_sum) == pytest.approx(expected, abs=1e-6)
    assert ours.per_example["mecab"] == pytest.approx(sums, abs=1e-6)
    assert 0.0 < ours.rouge_sum < 3.0


def test_analyzers_disagree_on_the_same_predictions():
    """The reason to show them side by side: on the fixture, whitespace words score far below morphemes."""
    rows = [json.loads(line) for line in (DATA / "analyzers.jsonl").read_text(encoding="utf-8").splitlines()]
    r = score([row["prediction"] for row in rows], [row["reference"] for row in rows], analyzers=ANALYZERS)
    sums = {name: result.rouge_sum for name, result in r.by_analyzer.items()}
    assert sums["whitespace"] + 0.2 < min(sums["kiwi"], sums["mecab"]), sums


@pytest.mark.slow
def test_quick_test_records_carry_every_analyzer_and_their_mecab_scores_match_an_independent_computation(
        quick_test_run):
    from sumbench.records import read_record
    from sumbench.records.plan import read_quality_job

    root = quick_test_run / "results" / "quick_test"
    cells = [c for q in sorted((root / "quality").glob("*/job*.json")) for c in read_quality_job(q).cells]
    assert len(cells) == 18
    for cell in cells:
        record = read_record(quick_test_run / cell)
        assert set(record.rouge_by_analyzer) == {"kiwi", "mecab", "whitespace"}
        assert record.rouge_by_analyzer["kiwi"]["rouge_sum"] == pytest.approx(record.rouge_sum)
        rows = [json.loads(line) for line in (quick_test_run / cell).with_name("predictions.jsonl")
                .read_text(encoding="utf-8").splitlines()]
        pairs = [(row["prediction"], row["references"]) for row in rows if row["split"] == "dev"]
        (r1, r2, rl), _ = mecab_rouge_by_hand(pairs)  # python-mecab-ko + rouge_score, not sumbench's code
        mecab = record.rouge_by_analyzer["mecab"]
        assert (mecab["rouge1"], mecab["rouge2"], mecab["rougeL"], mecab["rouge_sum"]) == pytest.approx(
            (r1, r2, rl, r1 + r2 + rl), abs=1e-6), cell


def test_the_background_load_readies_every_analyzer_asked_and_raises_a_failure_in_the_jobs_thread(monkeypatch):
    from sumbench.evaluation import analyzers
    from sumbench.training.timed import AnalyserLoad

    loaded = []
    monkeypatch.setattr(analyzers, "load", loaded.append)
    assert AnalyserLoad(("kiwi", "mecab", "whitespace")).wait() >= 0
    assert loaded == ["kiwi", "mecab", "whitespace"]

    def broken(name):
        raise SumbenchError(f"ROUGE analyzer {name!r} needs python-mecab-ko")

    monkeypatch.setattr(analyzers, "load", broken)
    with pytest.raises(SumbenchError, match="needs python-mecab-ko"):
        AnalyserLoad(("mecab",)).wait()
