"""One text form: decomposed Hangul (NFD, as some systems write files and clipboards) is read as composed (NFC)
by the CSV loader, `sumbench data check`, `sumbench data split` and `sumbench score`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from sumbench.data.corpus import check_file, load_csv
from sumbench.data.synth import write_corpus
from sumbench.evaluation.analyzers import ANALYZERS
from sumbench.evaluation.rouge import score, score_files
from sumbench.korean import nfc

SUMBENCH = str(Path(sys.executable).parent / "sumbench")
DECOMPOSED_ROWS = 7


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def decompose_csv(src: Path, dst: Path, rows: int | None = None) -> Path:
    """``src`` with the text of its first ``rows`` data rows (all when None) decomposed into jamo."""
    with open(src, encoding="utf-8", newline="") as fh:
        header, *records = list(csv.reader(fh))
    with open(dst, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for i, record in enumerate(records):
            writer.writerow([nfd(v) if rows is None or i < rows else v for v in record])
    return dst


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SUMBENCH, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small synthetic corpus, composed, and the same with its first rows (train) or all rows (dev) decomposed."""
    root = tmp_path_factory.mktemp("nfc")
    train, dev = write_corpus(root / "composed", n=30, seed=0, dev_n=10)
    (root / "decomposed").mkdir()
    return {"train": train, "dev": dev,
            "train_nfd": decompose_csv(train, root / "decomposed" / "train.csv", DECOMPOSED_ROWS),
            "dev_nfd": decompose_csv(dev, root / "decomposed" / "dev.csv")}


def test_nfc_helper():
    text = "#Person1#은 한국어 요약을 한다."
    assert nfd(text) != text and len(nfd(text)) > len(text)
    assert nfc(nfd(text)) == text and nfc(text) is text  # already NFC: returned as is


def test_loader_reads_decomposed_as_composed(corpus):
    assert corpus["train_nfd"].read_bytes() != corpus["train"].read_bytes()
    assert load_csv(corpus["train_nfd"]) == load_csv(corpus["train"])
    assert load_csv(corpus["dev_nfd"]) == load_csv(corpus["dev"])


def test_data_check_counts_the_rows_it_normalized(corpus):
    assert check_file(corpus["train"]).splitlines()[-1] == "unicode: 0 of 30 rows normalized to NFC"
    result = run("data", "check", str(corpus["train_nfd"]))
    assert result.returncode == 0 and result.stderr == ""
    assert f"unicode: {DECOMPOSED_ROWS} of 30 rows normalized to NFC" in result.stdout.splitlines()
    composed = run("data", "check", str(corpus["train"])).stdout.splitlines()
    assert result.stdout.splitlines()[:-1] == composed[:-1]  # every other line as for the composed file


def test_data_split_of_decomposed_files_writes_nfc_folds(corpus, tmp_path):
    for name, train, dev in (("nfd", corpus["train_nfd"], corpus["dev_nfd"]), ("nfc", corpus["train"], corpus["dev"])):
        result = run("data", "split", "--train", str(train), "--dev", str(dev), "--k", "3",
                     "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "nfd") for p in (tmp_path / "nfd").rglob("*.csv"))
    assert len(written) == 7  # 3 folds x (train, heldout) + dev
    for rel in written:
        text = (tmp_path / "nfd" / rel).read_text(encoding="utf-8")
        assert unicodedata.is_normalized("NFC", text), rel
        assert text == (tmp_path / "nfc" / rel).read_text(encoding="utf-8"), rel  # the very folds of the composed


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_score_of_decomposed_predictions_equals_composed(corpus, tmp_path):
    dev = load_csv(corpus["dev"])
    # a summarizer that copies the first turn: partial overlap, tags and punctuation included
    preds = [{"fname": ex.fname, "prediction": ex.dialogue.split("\n")[0]} for ex in dev]
    composed = write_jsonl(tmp_path / "pred.jsonl", preds)
    decomposed = write_jsonl(tmp_path / "pred_nfd.jsonl", [{**p, "prediction": nfd(p["prediction"])} for p in preds])
    args = ["--ref", str(corpus["dev"]), "--analyzers", ",".join(ANALYZERS), "--per-example"]
    outs = [run("score", "--pred", str(path), *args) for path in (composed, decomposed)]
    assert all(o.returncode == 0 for o in outs), [o.stderr for o in outs]
    same, nfd_out = (json.loads(o.stdout) for o in outs)
    assert nfd_out == same and 0.1 < same["rouge_sum"] < 3.0
    # and through the API, references decomposed too, every analyzer
    api = score([nfd(p["prediction"]) for p in preds], [nfd(ex.summary) for ex in dev], analyzers=ANALYZERS)
    assert api == score_files(composed, corpus["dev"], analyzers=ANALYZERS)


def test_score_aligns_decomposed_fnames(tmp_path):
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"fname": "대화_1", "summary": "철수가 사과를 먹었다."},
                                               {"fname": "대화_2", "summary": "영희는 학교에 갔다."}])
    pred = write_jsonl(tmp_path / "pred.jsonl", [
        {"fname": nfd("대화_2"), "prediction": nfd("영희는 학교에 갔다.")},
        {"fname": nfd("대화_1"), "prediction": "철수가 사과를 먹었다."},
    ])
    assert score_files(pred, ref).rouge_sum == 3.0
