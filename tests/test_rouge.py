"""ROUGE on Korean morphemes: sanity, hand-computed values, multi-reference (mean or max), file alignment, CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sumbench import korean
from sumbench.evaluation import analyzers, rouge
from sumbench.errors import DataError, SumbenchError
from sumbench.evaluation.rouge import RougeReport, RougeResult, score, score_files, tokenize_ko

DATA = Path(__file__).parent / "data" / "rouge"
KEYS = ("rouge1", "rouge2", "rougeL")


def f1s(result: RougeResult) -> tuple[float, float, float]:
    return result.rouge1, result.rouge2, result.rougeL


# --- tokenizer ---------------------------------------------------------------------------------


def test_speaker_tags_and_pii_masks_stay_whole():
    assert tokenize_ko("#Person1#은 #PhoneNumber#로 전화했다.") == [
        "#Person1#", "은", "#PhoneNumber#", "로", "전화", "하", "었", "다"
    ]
    toks = tokenize_ko("#Person2#와 #Address#, #CarNumber#, #Email#, #DateOfBirth#, #SSN#, #PassportNumber#, #CardNumber#")
    assert toks[:2] == ["#Person2#", "와"]
    for tag in ("#Address#", "#CarNumber#", "#Email#", "#DateOfBirth#", "#SSN#", "#PassportNumber#", "#CardNumber#"):
        assert tag in toks
    assert "#Person1" not in tokenize_ko("#Person1#은") and "#은" not in tokenize_ko("#Person1#은")


def test_latin_lowercased_punctuation_dropped():
    assert tokenize_ko("Hello, World! ABC를 봤다...") == ["hello", "world", "abc", "를", "보", "었", "다"]
    assert tokenize_ko("") == [] and tokenize_ko(" .!? ") == []


def test_tokenizer_object_works_with_rouge_scorer():
    from rouge_score.rouge_scorer import RougeScorer

    s = RougeScorer(list(KEYS), tokenizer=rouge.KoreanTokenizer()).score("철수가 밥을 먹었다", "철수가 밥을 먹었다")
    assert all(s[k].fmeasure == 1.0 for k in KEYS)


# --- score -------------------------------------------------------------------------------------


def test_identical_korean_is_one():
    r = score(["#Person1#은 내일 오후 3시에 #Person2#와 만나기로 했다."], ["#Person1#은 내일 오후 3시에 #Person2#와 만나기로 했다."])
    assert f1s(r) == (1.0, 1.0, 1.0) and r.rouge_sum == 3.0 and r.n == 1
    assert r.metric_version.startswith("rouge_score-0.1.2+kiwipiepy-") and "morph-f1" in r.metric_version
    assert r.metric_version.endswith("/nfc/refs-mean") and r.aggregation == "mean" and r.analyzer == "kiwi"


def test_report_is_a_result_with_every_analyzer_and_per_example_sums():
    preds, refs = ["철수가 사과를 먹었다", "", "영희는 학교에 갔다"], ["어제 철수가 배를 먹었다", "영희는 학교에 갔다", "영희는 학교에 갔다"]
    r = score(preds, refs, analyzers=("mecab", "kiwi"))
    assert isinstance(r, RougeResult) and isinstance(r, RougeReport)
    assert list(r.by_analyzer) == list(r.per_example) == ["mecab", "kiwi"] and r.analyzer == "mecab"
    assert f1s(r) == f1s(r.by_analyzer["mecab"]) and r.metric_version == r.by_analyzer["mecab"].metric_version
    assert r.by_analyzer["kiwi"] == score(preds, refs).by_analyzer["kiwi"]
    for name, sums in r.per_example.items():  # ROUGE-Sum of each example, in input order; their mean is rouge_sum
        assert len(sums) == 3 and sums[1] == 0.0 and sums[2] == 3.0
        assert sum(sums) / 3 == pytest.approx(r.by_analyzer[name].rouge_sum, abs=1e-12)
    assert r.per_example["kiwi"][0] == pytest.approx(1.6 + 8 / 13, abs=1e-12)  # see test_hand_computed_f1


@pytest.mark.parametrize(
    ("pred", "ref", "default_f1"),
    [
        ("회의를 시작했다", "식사를 마쳤다", 0.0),  # Hangul only: default tokenizer sees two empty strings
        ("오후 3시 30분에 회의를 한다", "오후 3시 30분에 식사를 했다", 1.0),  # only "3 30" survives
    ],
)
def test_different_korean_is_partial_and_default_tokenizer_is_spurious(pred, ref, default_f1):
    from rouge_score.rouge_scorer import RougeScorer

    default = RougeScorer(list(KEYS)).score(ref, pred)  # why the custom tokenizer exists: the default drops Hangul
    assert all(default[k].fmeasure == default_f1 for k in KEYS)
    r = score([pred], [ref])
    assert 0.0 < r.rouge1 < 1.0 and 0.0 < r.rougeL < 1.0 and 0.0 <= r.rouge2 < 1.0


def test_hand_computed_f1():
    # pred: 철수 가 사과 를 먹 었 다            (7 tokens, 6 bigrams)
    # ref:  어제 철수 가 배 를 먹 었 다        (8 tokens, 7 bigrams)
    # R1: 6 shared unigrams -> F = 2*6/(7+8) = 0.8;  R2: 4 shared bigrams (철수가 를먹 먹었 었다) -> 2*4/(6+7) = 8/13
    # RL: LCS 철수 가 를 먹 었 다 = 6 -> 0.8
    pred, ref = "철수가 사과를 먹었다", "어제 철수가 배를 먹었다"
    assert tokenize_ko(pred) == ["철수", "가", "사과", "를", "먹", "었", "다"]
    assert tokenize_ko(ref) == ["어제", "철수", "가", "배", "를", "먹", "었", "다"]
    r = score([pred], [ref])
    assert r.rouge1 == pytest.approx(0.8, abs=1e-12)
    assert r.rouge2 == pytest.approx(8 / 13, abs=1e-12)
    assert r.rougeL == pytest.approx(0.8, abs=1e-12)
    assert r.rouge_sum == pytest.approx(1.6 + 8 / 13, abs=1e-12)


def test_mean_over_examples_and_empty_prediction_scores_zero():
    r = score(["철수가 사과를 먹었다", ""], ["어제 철수가 배를 먹었다", "영희는 학교에 갔다"])
    assert r.n == 2 and r.rouge1 == pytest.approx(0.4, abs=1e-12) and r.rouge2 == pytest.approx(4 / 13, abs=1e-12)


def test_multi_reference_max_takes_best_mean_averages():
    pred, worse, exact = "철수가 사과를 먹었다", "어제 철수가 배를 먹었다", "철수가 사과를 먹었다"
    best = score([pred], [[worse, exact]], aggregation="max")
    assert f1s(best) == (1.0, 1.0, 1.0) and best.metric_version.endswith("/refs-max") and best.aggregation == "max"
    assert score([pred], [[worse, "전혀 다른 문장이다"]], aggregation="max").rouge1 == pytest.approx(0.8, abs=1e-12)
    # mean (the default, the competition's rule): worse gives (0.8, 8/13, 0.8), exact (1, 1, 1)
    mean = score([pred], [[worse, exact]])
    assert mean.aggregation == "mean" and mean.metric_version.endswith("/refs-mean")
    assert f1s(mean) == pytest.approx((0.9, (1 + 8 / 13) / 2, 0.9), abs=1e-12)
    assert mean.per_example["kiwi"][0] == pytest.approx(1.8 + (1 + 8 / 13) / 2, abs=1e-12)
    for aggregation in ("mean", "max"):  # one reference: both agree
        assert f1s(score([pred], [[worse]], aggregation=aggregation)) == f1s(score([pred], [worse]))


@pytest.mark.parametrize(
    ("preds", "refs", "message"),
    [
        (["가"], ["가", "나"], "1 predictions but 2 references"),
        ([], [], "no examples"),
        (["가"], [[]], "example 0"),
        (["가"], [""], "example 0"),
    ],
)
def test_bad_arguments_raise(preds, refs, message):
    with pytest.raises(SumbenchError, match=message):
        score(preds, refs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"aggregation": "median"}, "unknown reference aggregation 'median' \\(choose from mean, max\\)"),
        ({"analyzers": ("kiwi", "okt")}, "unknown ROUGE analyzer 'okt' \\(choose from kiwi, mecab, whitespace\\)"),
        ({"analyzers": ()}, "no ROUGE analyzer given"),
        ({"analyzers": ("kiwi", "kiwi")}, "ROUGE analyzer 'kiwi' given twice"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(SumbenchError, match=message):
        score(["가"], ["가"], **kwargs)


def test_missing_dependency_is_an_error_not_zero(monkeypatch):
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # makes `import kiwipiepy` fail
    analyzers.clear_caches()
    try:
        with pytest.raises(SumbenchError, match="pip install kiwipiepy"):
            score(["가"], ["가"])
        with pytest.raises(SumbenchError, match="pip install kiwipiepy"):
            tokenize_ko("새로운 문장")
    finally:
        analyzers.clear_caches()
    assert korean.kiwi.cache_info().currsize == 0


# --- files -------------------------------------------------------------------------------------


def test_jsonl_and_csv_aligned_by_fname_in_shuffled_order():
    r = score_files(DATA / "pred.jsonl", DATA / "ref.csv")  # pred order dev_2, dev_0, dev_1
    by_hand = score(
        ["두 사람은 내일 오후에 만나기로 한다.", "#Person1#은 식당에 저녁 예약을 한다.", "#Person2#는 전화번호를 알려준다."],
        ["두 사람은 내일 오후 3시에 만나기로 한다.", "#Person1#은 식당에 저녁 예약을 한다.", "#Person2#는 #Person1#에게 #PhoneNumber#를 알려준다."],
    )
    assert r == by_hand and r.n == 3 and 0.5 < r.rouge1 < 1.0
    assert r.per_example["kiwi"][1] == 3.0  # per_example follows the predictions file: dev_0 is second there


def test_multi_reference_csv_columns():
    # each prediction equals one of its references (summary1..summary3; m_0 has two, m_1 three)
    assert f1s(score_files(DATA / "multi_pred.csv", DATA / "multi_ref.csv", aggregation="max")) == (1.0, 1.0, 1.0)
    mean = score_files(DATA / "multi_pred.csv", DATA / "multi_ref.csv")
    refs = {"m_1": ["영희는 학교에 갔다.", "영희가 집에 왔다.", "영희는 도서관에 갔다."],
            "m_0": ["철수가 배를 먹었다.", "철수가 사과를 먹었다."]}
    assert mean == score(["영희는 도서관에 갔다.", "철수가 사과를 먹었다."], [refs["m_1"], refs["m_0"]])
    assert 0.5 < mean.rouge1 < 1.0


def test_jsonl_references_list_and_order_alignment(tmp_path):
    pred = tmp_path / "p.csv"
    pred.write_text("prediction\n철수가 사과를 먹었다\n", encoding="utf-8")
    ref = tmp_path / "r.jsonl"
    ref.write_text(json.dumps({"references": ["어제 철수가 배를 먹었다", "철수가 사과를 먹었다"]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert f1s(score_files(pred, ref, aggregation="max")) == (1.0, 1.0, 1.0)
    assert f1s(score_files(pred, ref)) == pytest.approx((0.9, (1 + 8 / 13) / 2, 0.9), abs=1e-12)


@pytest.mark.parametrize(
    ("pred", "ref", "message"),
    [
        ("pred_missing.jsonl", "ref.csv", r"pred_missing\.jsonl:2: fname 'dev_9' has no reference in .*ref\.csv"),
        ("multi_pred.csv", "ref.csv", r"multi_pred\.csv:2: fname 'm_1' has no reference"),
        ("bad_json.jsonl", "ref.csv", r"bad_json\.jsonl:2: bad JSON"),
        ("no_field.jsonl", "ref.csv", r"no_field\.jsonl:2: no 'prediction' or 'summary' field"),
        ("pred.jsonl", "multi_pred.csv", r"fname 'dev_2' has no reference"),
    ],
)
def test_file_errors_name_file_and_row(pred, ref, message):
    with pytest.raises(DataError, match=message):
        score_files(DATA / pred, DATA / ref)


def test_reference_without_prediction_and_count_mismatch(tmp_path):
    two = tmp_path / "two.jsonl"
    two.write_text('{"fname": "dev_0", "prediction": "가"}\n{"fname": "dev_1", "prediction": "나"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"ref\.csv:4: fname 'dev_2' has no prediction"):
        score_files(two, DATA / "ref.csv")
    nofname = tmp_path / "nofname.jsonl"
    nofname.write_text('{"prediction": "가"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="1 predictions but .* has 3 references"):
        score_files(nofname, DATA / "ref.csv")
    with pytest.raises(DataError, match="unsupported file type"):
        score_files(tmp_path / "x.txt", DATA / "ref.csv")


# --- CLI ---------------------------------------------------------------------------------------

needs_cli = pytest.mark.skipif(
    importlib.util.find_spec("sumbench.training.cell") is None,
    reason="cli.build_parser imports sumbench.training.cell, which is not written yet",
)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("sumbench")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@needs_cli
def test_cli_score_prints_json():
    p = run_cli("score", "--pred", str(DATA / "pred.jsonl"), "--ref", str(DATA / "ref.csv"))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"rouge1", "rouge2", "rougeL", "rouge_sum", "n", "metric_version"} <= out.keys()
    assert all(0.0 < out[k] <= 1.0 for k in KEYS) and out["n"] == 3
    assert out["rouge_sum"] == pytest.approx(sum(out[k] for k in KEYS))
    assert out["analyzer"] == "kiwi" and out["aggregation"] == "mean" and list(out["by_analyzer"]) == ["kiwi"]
    assert "per_example" not in out


@needs_cli
def test_cli_score_every_analyzer_aggregation_and_per_example():
    p = run_cli("score", "--pred", str(DATA / "multi_pred.csv"), "--ref", str(DATA / "multi_ref.csv"),
                "--analyzers", "kiwi,mecab,whitespace", "--aggregation", "max", "--per-example")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert list(out["by_analyzer"]) == ["kiwi", "mecab", "whitespace"] and out["aggregation"] == "max"
    for name, result in out["by_analyzer"].items():
        assert result["rouge_sum"] == pytest.approx(3.0) and result["metric_version"].endswith("/refs-max")
        assert out["per_example"][name] == pytest.approx([3.0, 3.0])
    assert "python-mecab-ko-" in out["by_analyzer"]["mecab"]["metric_version"]
    bad = run_cli("score", "--pred", str(DATA / "pred.jsonl"), "--ref", str(DATA / "ref.csv"), "--analyzers", "kiwi,okt")
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    assert "unknown ROUGE analyzer 'okt'" in bad.stderr


@needs_cli
def test_cli_bad_input_one_line_exit_2():
    p = run_cli("score", "--pred", str(DATA / "bad_json.jsonl"), "--ref", str(DATA / "ref.csv"))
    assert p.returncode == 2 and p.stdout == ""
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "bad_json.jsonl:2: bad JSON" in p.stderr
