"""ROUGE-1/2/L F1 on Korean morphemes: an English tokenizer would score Korean by its digits and Latin letters alone.

rouge_score's default tokenizer keeps only ``[a-z0-9]`` and so drops Hangul; ``evaluate.load('rouge')``
needs the network. We therefore call rouge_score's ``RougeScorer`` directly with a kiwipiepy morpheme
tokenizer. Speaker tags and PII masks (``#Person1#``, ``#PhoneNumber#``, ...) are handed to Kiwi as
pre-tokenized spans, so they stay whole and the particle after them keeps its context
(``#Person1#와`` → ``#Person1#``, ``와``/JKB; Kiwi alone gives ``#Person1``, ``#와``).

Scores are per-example F1 (best over an example's references), averaged over examples.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from sumbench.errors import DataError, SumbenchError
from sumbench.korean import ANY_TAG_RE, kiwi

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def _require(module: str, package: str):
    try:
        return __import__(module)
    except ImportError as exc:
        raise SumbenchError(f"ROUGE needs the '{package}' package: pip install {package} ({exc})") from None


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PS" for ch in token)


@functools.lru_cache(maxsize=8192)
def _tokenize_cached(text: str) -> tuple[str, ...]:
    spans = [(m.start(), m.end(), "NNP") for m in ANY_TAG_RE.finditer(text)]
    out = []
    for tok in kiwi().tokenize(text, pretokenized=spans or None):
        if ANY_TAG_RE.fullmatch(tok.form):
            out.append(tok.form)
        elif not _is_punct(tok.form):
            out.append(tok.form.lower())
    return tuple(out)


def tokenize_ko(text: str) -> list[str]:
    """Morpheme forms of ``text``; tags/masks kept whole, Latin lower-cased, punctuation/symbols dropped."""
    return list(_tokenize_cached(text)) if text and text.strip() else []


class KoreanTokenizer:
    """A rouge_score ``Tokenizer``-compatible object: ``RougeScorer(types, tokenizer=KoreanTokenizer())``."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize_ko(text)


def metric_version() -> str:
    _require("rouge_score", "rouge-score")
    _require("kiwipiepy", "kiwipiepy")
    return f"rouge_score-{metadata.version('rouge-score')}+kiwipiepy-{metadata.version('kiwipiepy')}/morph-f1/v1"


@dataclass(frozen=True)
class RougeResult:
    rouge1: float
    rouge2: float
    rougeL: float
    rouge_sum: float
    n: int
    metric_version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> RougeResult:
    """Mean per-example F1; an example with several references takes the best F1 per metric."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise SumbenchError("score() takes sequences of strings, not a single string")
    if len(predictions) != len(references):
        raise SumbenchError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise SumbenchError("no examples to score")
    version = metric_version()
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(list(ROUGE_TYPES), tokenizer=KoreanTokenizer())
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for i, (pred, refs) in enumerate(zip(predictions, references)):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs or any(not isinstance(r, str) or not r.strip() for r in refs):
            raise SumbenchError(f"example {i}: every reference must be a non-empty string, got {refs!r}")
        if not isinstance(pred, str):
            raise SumbenchError(f"example {i}: prediction must be a string, got {type(pred).__name__}")
        if not tokenize_ko(pred):
            continue  # an empty prediction scores 0
        best = scorer.score_multi(refs, pred)
        for k in ROUGE_TYPES:
            totals[k] += best[k].fmeasure
    n = len(predictions)
    r1, r2, rl = (totals[k] / n for k in ROUGE_TYPES)
    return RougeResult(rouge1=r1, rouge2=r2, rougeL=rl, rouge_sum=r1 + r2 + rl, n=n, metric_version=version)


# --- files -------------------------------------------------------------------------------------

_REF_FIELD = re.compile(r"summary\d*|reference|references")


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """``(row, record)`` pairs. Row = line number in JSONL; in CSV the header is row 1."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv or .jsonl)")
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    rows: list[tuple[int, dict]] = []
    with fh:
        try:
            if suffix == ".csv":
                reader = csv.DictReader(fh)
                if not reader.fieldnames:
                    raise DataError(f"{path}:1: empty CSV (no header)")
                for i, rec in enumerate(reader, start=2):
                    if None in rec:
                        raise DataError(f"{path}:{i}: more cells than header columns")
                    rows.append((i, rec))
            else:
                for i, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{i}: bad JSON at column {exc.colno}: {exc.msg.removesuffix(' at')}") from None
                    if not isinstance(rec, dict):
                        raise DataError(f"{path}:{i}: expected a JSON object, got {type(rec).__name__}")
                    rows.append((i, rec))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _prediction(path: Path, row: int, rec: dict) -> str:
    for key in ("prediction", "summary"):
        if key in rec:
            value = rec[key]
            if value is None:
                return ""
            if not isinstance(value, str):
                raise DataError(f"{path}:{row}: field '{key}' must be a string, got {type(value).__name__}")
            return value
    raise DataError(f"{path}:{row}: no 'prediction' or 'summary' field")


def _references(path: Path, row: int, rec: dict) -> list[str]:
    keys = [k for k in rec if isinstance(k, str) and _REF_FIELD.fullmatch(k)]
    if not keys:
        raise DataError(f"{path}:{row}: no reference field (expected 'summary', 'reference', 'references' or 'summary1', ...)")
    refs: list[str] = []
    for key in keys:
        value = rec[key]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is not None and not isinstance(v, str):
                raise DataError(f"{path}:{row}: field '{key}' must hold strings, got {type(v).__name__}")
            if v and v.strip():
                refs.append(v)
    if not refs:
        raise DataError(f"{path}:{row}: empty reference ({', '.join(keys)})")
    return refs


def _fnames(path: Path, rows: list[tuple[int, dict]]) -> dict[str, int] | None:
    """fname → index, or None when the file has no fname on some row."""
    if not all(isinstance(rec.get("fname"), str) and rec["fname"] for _, rec in rows):
        return None
    index: dict[str, int] = {}
    for i, (row, rec) in enumerate(rows):
        if rec["fname"] in index:
            raise DataError(f"{path}:{row}: duplicate fname '{rec['fname']}'")
        index[rec["fname"]] = i
    return index


def score_files(pred_path: str | Path, ref_path: str | Path) -> RougeResult:
    """Score a predictions file against a references file (each CSV or JSONL).

    Rows are aligned by ``fname`` when both files carry it, otherwise by order (equal counts).
    """
    pred_path, ref_path = Path(pred_path), Path(ref_path)
    pred_rows, ref_rows = _read_rows(pred_path), _read_rows(ref_path)
    preds = [_prediction(pred_path, row, rec) for row, rec in pred_rows]
    refs = [_references(ref_path, row, rec) for row, rec in ref_rows]
    pred_ids, ref_ids = _fnames(pred_path, pred_rows), _fnames(ref_path, ref_rows)
    if pred_ids is not None and ref_ids is not None:
        for fname, i in pred_ids.items():
            if fname not in ref_ids:
                raise DataError(f"{pred_path}:{pred_rows[i][0]}: fname '{fname}' has no reference in {ref_path}")
        for fname, j in ref_ids.items():
            if fname not in pred_ids:
                raise DataError(f"{ref_path}:{ref_rows[j][0]}: fname '{fname}' has no prediction in {pred_path}")
        refs = [refs[ref_ids[fname]] for fname in pred_ids]
    elif len(preds) != len(refs):
        raise DataError(
            f"{pred_path}: {len(preds)} predictions but {ref_path} has {len(refs)} references "
            "(without fname in both files, rows are aligned by order)"
        )
    return score(preds, refs)
