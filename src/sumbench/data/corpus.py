"""Load, validate and write dialogue CSVs in the competition layout (fname, dialogue, summary, topic).

Every text is Unicode NFC once loaded (decomposed Hangul is composed), so everything downstream sees one form. A
CSV may carry several references as ``summary1``, ``summary2``, ... (the competition's final test set): the first
non-empty one is an example's ``summary`` (what training uses), the others its ``more_summaries``.

Every problem is a :class:`DataError` whose one-line message is ``FILE:ROW: reason``, where ROW is the
physical line (1-based, header = 1) on which the offending record starts.
"""

from __future__ import annotations

import csv
import io
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from sumbench.errors import DataError
from sumbench.io import atomic_write_text
from sumbench.korean import PII_MASKS, TURN_RE, nfc

COLUMNS = ("fname", "dialogue", "summary", "topic")
_NUMBERED_SUMMARY = re.compile(r"summary(\d+)")

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Example:
    fname: str
    dialogue: str
    summary: str | None
    topic: str | None
    more_summaries: tuple[str, ...] = ()  # further references of a multi-reference CSV (summary2, summary3, ...)

    @property
    def references(self) -> tuple[str, ...]:
        """Every reference summary, ``summary`` first (what ROUGE scores a prediction against)."""
        return ((self.summary,) if self.summary is not None else ()) + self.more_summaries


def speaker_tags(dialogue: str) -> list[str]:
    """Distinct ``#PersonN#`` tags that open a turn, in order of first appearance."""
    return list(dict.fromkeys(TURN_RE.findall(dialogue)))


def load_csv(path: str | os.PathLike, *, require_summary: bool = True) -> list[Example]:
    """Read and validate a competition-layout CSV; raise :class:`DataError` on the first problem."""
    return [ex for _, ex in load_rows(path, require_summary=require_summary)]


def load_rows(path: str | os.PathLike, *, require_summary: bool = True) -> list[tuple[int, Example]]:
    """Like :func:`load_csv`, each example paired with the line its record starts on (for error messages)."""
    return _load(path, require_summary)[0]


def _load(path: str | os.PathLike, require_summary: bool) -> tuple[list[tuple[int, Example]], int]:
    """``(rows, how many rows had text that was not NFC)``."""
    text = _decode(path)
    if not text.strip():
        raise DataError(f"{path}:1: empty file (no header)")
    records = _records(path, text)
    header_row, header = next(records)
    header = [nfc(name.strip()) for name in header]
    summaries = _summary_columns(header)
    required = ["fname", "dialogue"] + (["summary"] if require_summary and not summaries else [])
    for column in required:
        if column not in header:
            raise DataError(f"{path}:{header_row}: missing required column '{column}' (found: {', '.join(header)})")
    position = {name: header.index(name) for name in COLUMNS if name in header}

    rows: list[tuple[int, Example]] = []
    first_row: dict[str, int] = {}
    normalized = 0
    for row, fields in records:
        composed = [nfc(field) for field in fields]
        if composed != fields:
            normalized += 1
        rows.append((row, _example(path, row, composed, header, position, summaries, require_summary, first_row)))
    if not rows:
        raise DataError(f"{path}:{header_row}: no data rows (header only)")
    return rows, normalized


def _summary_columns(header: list[str]) -> list[int]:
    """Positions of the reference columns: ``summary``, then ``summary1``, ``summary2``, ... by number."""
    numbered = sorted((int(m.group(1)), i) for i, name in enumerate(header)
                      if (m := _NUMBERED_SUMMARY.fullmatch(name)))
    return ([header.index("summary")] if "summary" in header else []) + [i for _, i in numbered]


def _records(path: str | os.PathLike, text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(start line, fields)`` for each non-blank CSV record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}:{row}: malformed CSV record ({exc})") from None
        if fields:
            yield row, fields
        row = reader.line_num + 1


def _decode(path: str | os.PathLike) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    body = data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(data) - len(body))
        line = data[:offset].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not UTF-8: byte 0x{data[offset]:02x} at byte offset {offset}") from None


def _cell(field: str) -> str:
    return field.replace("\r\n", "\n").replace("\r", "\n").strip()


def _example(path, row, fields, header, position, summaries, require_summary, first_row) -> Example:
    if len(fields) != len(header):
        raise DataError(f"{path}:{row}: record has {len(fields)} fields, header has {len(header)}")
    values = {name: _cell(fields[i]) for name, i in position.items()}
    fname, dialogue = values["fname"], values["dialogue"]
    if not fname:
        raise DataError(f"{path}:{row}: empty fname")
    if fname in first_row:
        raise DataError(f"{path}:{row}: duplicate fname '{fname}' (first at row {first_row[fname]})")
    first_row[fname] = row
    if not dialogue:
        raise DataError(f"{path}:{row}: empty dialogue (fname '{fname}')")
    if not TURN_RE.search(dialogue):
        raise DataError(f"{path}:{row}: dialogue has no '#PersonN#:' turn (fname '{fname}')")
    references = [text for text in (_cell(fields[i]) for i in summaries) if text]
    if require_summary and not references:
        raise DataError(f"{path}:{row}: empty summary (fname '{fname}')")
    summary = references[0] if references else None
    return Example(fname, dialogue, summary, values.get("topic") or None, tuple(references[1:]))


def check_file(path: str | os.PathLike, *, require_summary: bool = True) -> str:
    """Validate ``path`` and describe it in a few lines (rows, topics, speakers, lengths, PII masks, references,
    rows whose text was not NFC)."""
    rows, normalized = _load(path, require_summary)
    examples = [ex for _, ex in rows]
    topics = Counter(ex.topic for ex in examples if ex.topic)
    speakers = Counter(len(speaker_tags(ex.dialogue)) for ex in examples)
    lengths = [len(ex.dialogue) for ex in examples]
    masks = Counter(m for ex in examples for m in PII_MASKS if m in ex.dialogue)
    top = ", ".join(f"{t} {c}" for t, c in topics.most_common(5))
    lines = [
        f"rows: {len(examples)}",
        f"topics: {len(topics)}" + (f" (top: {top})" if topics else ""),
        f"speakers: {dict(sorted(speakers.items()))}",
        f"dialogue chars: mean {statistics.fmean(lengths):.1f}, min {min(lengths)}, max {max(lengths)}",
        "pii masks: " + (", ".join(f"{m} {masks[m]}" for m in PII_MASKS if m in masks) or "none"),
        f"unicode: {normalized} of {len(examples)} rows normalized to NFC",
    ]
    references = Counter(len(ex.references) for ex in examples)
    if any(n > 1 for n in references):
        lines.append(f"references per row: {dict(sorted(references.items()))}")
    return "\n".join(lines)


def write_csv(path: str | os.PathLike, examples: Iterable[Example]) -> Path:
    """Write examples atomically in the layout :func:`load_csv` reads (UTF-8, LF, minimal quoting).

    With several references somewhere, the ``summary`` column becomes ``summary1`` .. ``summaryN``.
    """
    examples = list(examples)
    most = max((len(ex.references) for ex in examples), default=0)
    summary_columns = [f"summary{i}" for i in range(1, most + 1)] if most > 1 else ["summary"] if most else []
    columns = ["fname", "dialogue", *summary_columns, "topic"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for ex in examples:
        refs = list(ex.references) + [""] * (len(summary_columns) - len(ex.references))
        writer.writerow([ex.fname, ex.dialogue, *refs, ex.topic or ""])
    return atomic_write_text(path, buffer.getvalue())
