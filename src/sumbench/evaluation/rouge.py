"""ROUGE-1/2/L F1 on Korean tokens, per analyzer: an English tokenizer would score Korean by its digits alone.

rouge_score's default tokenizer keeps only ``[a-z0-9]`` and so drops Hangul; ``evaluate.load('rouge')`` needs the
network. We therefore call rouge_score's ``RougeScorer`` directly with a Korean tokenizer, one per analyzer
(:mod:`sumbench.evaluation.analyzers`): ``kiwi`` morphemes (the primary), ``mecab`` morphemes (what most public
solutions of the competition report), ``whitespace`` words (the ``rouge`` 1.0.1 package's), side by side.

Scores are per-example F1, averaged over examples. An example with several references (``summary1``,
``summary2``, ... as in the competition's final test set) takes, per metric, the mean F1 over its references
(``aggregation="mean"``, the competition's rule) or the best one (``"max"``); with one reference both agree.
Predictions and references are NFC-normalized first, so decomposed Hangul scores like composed.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from sumbench.errors import DataError, SumbenchError
from sumbench.evaluation.analyzers import PRIMARY, UNIT, Tokenizer, analyzer_version, check_analyzers, tokenize, \
    tokenize_ko
from sumbench.korean import kiwi, nfc

# ``kiwi`` stays importable from here: the analyser ROUGE uses is the one korean.py caches for the process.
__all__ = ["AGGREGATIONS", "KoreanTokenizer", "RougeReport", "RougeResult", "kiwi", "metric_version", "score",
           "score_files", "tokenize", "tokenize_ko"]

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
# mean: the competition's rule (F1 averaged over an example's references), so our number is the one it reports.
AGGREGATIONS = ("mean", "max")
DEFAULT_AGGREGATION = "mean"


def _require(module: str, package: str):
    try:
        return __import__(module)
    except ImportError as exc:
        raise SumbenchError(f"ROUGE needs the '{package}' package: pip install {package} ({exc})") from None


class KoreanTokenizer(Tokenizer):
    """The Kiwi tokenizer as a rouge_score ``Tokenizer``: ``RougeScorer(types, tokenizer=KoreanTokenizer())``."""

    def __init__(self):
        super().__init__("kiwi")


def metric_version(analyzer: str = PRIMARY, aggregation: str = DEFAULT_AGGREGATION) -> str:
    """What a score was computed with, e.g. ``rouge_score-0.1.2+kiwipiepy-0.24.1/morph-f1/nfc/refs-mean``."""
    _require("rouge_score", "rouge-score")
    return (f"rouge_score-{metadata.version('rouge-score')}+{analyzer_version(analyzer)}/{UNIT[analyzer]}-f1/nfc/"
            f"refs-{aggregation}")


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


@dataclass(frozen=True)
class RougeReport(RougeResult):
    """The primary (first) analyzer's scores as the fields of a :class:`RougeResult`, and beside them every
    analyzer's: ``by_analyzer[name]`` and ``per_example[name]`` (ROUGE-Sum of each example, in input order)."""

    analyzer: str
    aggregation: str
    by_analyzer: dict[str, RougeResult]
    per_example: dict[str, tuple[float, ...]]


def _checked(predictions, references) -> list[tuple[str, list[str]]]:
    """``(prediction, references)`` pairs, NFC-normalized; a one-line error for anything malformed."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise SumbenchError("score() takes sequences of strings, not a single string")
    if len(predictions) != len(references):
        raise SumbenchError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise SumbenchError("no examples to score")
    pairs = []
    for i, (pred, refs) in enumerate(zip(predictions, references)):
        refs = [refs] if isinstance(refs, str) else list(refs)
        if not refs or any(not isinstance(r, str) or not r.strip() for r in refs):
            raise SumbenchError(f"example {i}: every reference must be a non-empty string, got {refs!r}")
        if not isinstance(pred, str):
            raise SumbenchError(f"example {i}: prediction must be a string, got {type(pred).__name__}")
        pairs.append((nfc(pred), [nfc(r) for r in refs]))
    return pairs


def _example_f1(scorer, analyzer: str, pred: str, refs: list[str], aggregation: str) -> tuple[float, ...]:
    """(R1, R2, RL) F1 of one example: per metric, the mean or the best over its references."""
    if not tokenize(analyzer, pred):
        return (0.0,) * len(ROUGE_TYPES)  # an empty prediction scores 0
    per_ref = [scorer.score(ref, pred) for ref in refs]
    pick = max if aggregation == "max" else (lambda xs: sum(xs) / len(xs))
    return tuple(pick([s[k].fmeasure for s in per_ref]) for k in ROUGE_TYPES)


def score(predictions: Sequence[str], references: Sequence[str | Sequence[str]], *,
          analyzers: str | Sequence[str] = (PRIMARY,), aggregation: str = DEFAULT_AGGREGATION) -> RougeReport:
    """Mean per-example F1 under each of ``analyzers`` (the first is the primary, whose scores are the report's
    own fields); ``references[i]`` is one string or several."""
    if aggregation not in AGGREGATIONS:
        raise SumbenchError(f"unknown reference aggregation {aggregation!r} (choose from {', '.join(AGGREGATIONS)})")
    pairs = _checked(predictions, references)
    names = check_analyzers(analyzers)
    versions = {name: metric_version(name, aggregation) for name in names}
    from rouge_score.rouge_scorer import RougeScorer

    by_analyzer: dict[str, RougeResult] = {}
    per_example: dict[str, tuple[float, ...]] = {}
    n = len(pairs)
    for name in names:
        scorer = RougeScorer(list(ROUGE_TYPES), tokenizer=Tokenizer(name))
        rows = [_example_f1(scorer, name, pred, refs, aggregation) for pred, refs in pairs]
        r1, r2, rl = (sum(row[j] for row in rows) / n for j in range(len(ROUGE_TYPES)))
        by_analyzer[name] = RougeResult(r1, r2, rl, r1 + r2 + rl, n, versions[name])
        per_example[name] = tuple(sum(row) for row in rows)
    primary = by_analyzer[names[0]]
    return RougeReport(**asdict(primary), analyzer=names[0], aggregation=aggregation, by_analyzer=by_analyzer,
                       per_example=per_example)


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
                    rows.append((i, _nfc_record(rec)))
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
                    rows.append((i, _nfc_record(rec)))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _nfc_record(rec: dict) -> dict:
    """The record with every string (field names, values, strings in lists) in NFC."""
    def norm(value):
        if isinstance(value, str):
            return nfc(value)
        return [norm(v) for v in value] if isinstance(value, list) else value

    return {nfc(k) if isinstance(k, str) else k: norm(v) for k, v in rec.items()}


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


def score_files(pred_path: str | Path, ref_path: str | Path, *, analyzers: str | Sequence[str] = (PRIMARY,),
                aggregation: str = DEFAULT_AGGREGATION) -> RougeReport:
    """Score a predictions file against a references file (each CSV or JSONL), as :func:`score` does.

    Rows are aligned by ``fname`` when both files carry it, otherwise by order (equal counts); ``per_example``
    follows the predictions file's order. A reference row may carry several references (``summary1``, ...).
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
    return score(preds, refs, analyzers=analyzers, aggregation=aggregation)
