"""Loading, validating and writing competition-layout CSVs (sumbench.data.corpus) and `sumbench data check`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sumbench.data.corpus import Example, check_file, load_csv, load_rows, speaker_tags, write_csv
from sumbench.errors import DataError
from sumbench.korean import PII_MASKS, SPECIAL_TOKEN_RE

CSV = Path(__file__).parent / "data" / "csv"
SUMBENCH = str(Path(sys.executable).parent / "sumbench")


def error_of(path: Path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_csv(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bom_crlf_quotes_embedded_newlines_and_extra_column():
    examples = load_csv(CSV / "good_bom_crlf.csv")
    assert examples == [
        Example("train_0", '#Person1#: 안녕하세요, 예약하려고요.\n#Person2#: 네, "몇 분"이세요?', "#Person1#은 예약을 한다.", "식당 예약"),
        Example("train_1", "#Person1#: 길 좀 물을게요.\n#Person2#: 저쪽이에요.", "#Person2#는 길을 알려 준다.", "길 찾기"),
        Example("train_2", "#Person1#: 한 줄 대화", "요약입니다", None),
    ]


def test_rows_are_physical_start_lines():
    assert [row for row, _ in load_rows(CSV / "good_bom_crlf.csv")] == [2, 4, 6]
    assert [row for row, _ in load_rows(CSV / "test_layout.csv", require_summary=False)] == [2, 4]


def test_test_layout_needs_no_summary():
    examples = load_csv(CSV / "test_layout.csv", require_summary=False)
    assert [ex.fname for ex in examples] == ["test_0", "test_1"]
    assert all(ex.summary is None and ex.topic is None for ex in examples)
    assert error_of(CSV / "test_layout.csv") == (
        f"{CSV / 'test_layout.csv'}:1: missing required column 'summary' (found: fname, dialogue)"
    )


@pytest.mark.parametrize(
    "name, row, reason",
    [
        ("missing_summary_column.csv", 1, "missing required column 'summary' (found: fname, dialogue, topic)"),
        ("header_only.csv", 1, "no data rows (header only)"),
        ("empty.csv", 1, "empty file (no header)"),
        ("empty_dialogue.csv", 5, "empty dialogue (fname 'b')"),
        ("empty_summary.csv", 6, "empty summary (fname 'b')"),
        ("duplicate_fname.csv", 5, "duplicate fname 'a' (first at row 2)"),
        ("no_turn.csv", 3, "dialogue has no '#PersonN#:' turn (fname 'b')"),
        ("unterminated_quote.csv", 3, "malformed CSV record (unexpected end of data)"),
        ("field_count.csv", 3, "record has 4 fields, header has 3"),
    ],
)
def test_bad_files_name_file_row_and_reason(name, row, reason):
    path = CSV / name
    assert error_of(path) == f"{path}:{row}: {reason}"


def test_latin1_bytes_give_line_and_byte_offset():
    path = CSV / "latin1.csv"
    offset = path.read_bytes().index(b"\xe9")
    assert error_of(path) == f"{path}:3: not UTF-8: byte 0xe9 at byte offset {offset}"


def test_missing_file_is_a_data_error():
    assert error_of(CSV / "nope.csv").startswith(f"{CSV / 'nope.csv'}: cannot read")


def test_write_csv_round_trips_utf8_lf_no_bom(tmp_path):
    examples = load_csv(CSV / "good_bom_crlf.csv")
    out = write_csv(tmp_path / "sub" / "out.csv", examples)
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
    assert data.splitlines()[0] == b"fname,dialogue,summary,topic"
    assert load_csv(out) == examples
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["out.csv"]  # no temporary file left


def test_write_csv_omits_summary_column_when_all_missing(tmp_path):
    examples = load_csv(CSV / "test_layout.csv", require_summary=False)
    out = write_csv(tmp_path / "test.csv", examples)
    assert out.read_text(encoding="utf-8").splitlines()[0] == "fname,dialogue,topic"
    assert load_csv(out, require_summary=False) == examples


def test_multi_reference_columns_become_references(tmp_path):
    """The competition's final test layout: summary1..summary3 instead of summary (a row may have fewer)."""
    examples = load_csv(CSV / "multi_reference.csv")
    assert [ex.summary for ex in examples] == ["두 사람은 내일 만나기로 한다.", "#Person1#은 #PhoneNumber#를 알려 준다."]
    assert examples[0].more_summaries == ("#Person1#과 #Person2#는 내일 보기로 한다.", "두 사람이 내일 약속을 잡는다.")
    assert examples[1].references == ("#Person1#은 #PhoneNumber#를 알려 준다.", "#Person1#이 전화번호를 말한다.")
    assert examples[0].topic == "약속"
    out = write_csv(tmp_path / "multi.csv", examples)
    assert out.read_text(encoding="utf-8").splitlines()[0] == "fname,dialogue,summary1,summary2,summary3,topic"
    assert load_csv(out) == examples
    assert check_file(CSV / "multi_reference.csv").splitlines()[-1] == "references per row: {2: 1, 3: 1}"


def test_multi_reference_dev_keeps_its_references_through_data_split(tmp_path):
    from sumbench.data.split import write_folds

    write_folds(CSV / "good_bom_crlf.csv", CSV / "multi_reference.csv", k=1, seed=0, out_dir=tmp_path)
    dev = load_csv(CSV / "multi_reference.csv")
    assert load_csv(tmp_path / "dev.csv") == load_csv(tmp_path / "fold0" / "heldout.csv") == dev


def test_single_summary_examples_keep_their_shape():
    ex = load_csv(CSV / "good_bom_crlf.csv")[0]
    assert ex.more_summaries == () and ex.references == (ex.summary,)
    assert Example("a", "d", "s", "t") == Example("a", "d", "s", "t", ())  # four-field construction still works
    assert Example("a", "d", None, None).references == ()
    assert "references per row" not in check_file(CSV / "good_bom_crlf.csv")


def test_multi_reference_row_without_any_reference_is_an_error(tmp_path):
    path = tmp_path / "refs.csv"
    path.write_text("fname,dialogue,summary1,summary2\na,#Person1#: 안녕,요약,\nb,#Person1#: 네,,\n", encoding="utf-8")
    assert error_of(path) == f"{path}:3: empty summary (fname 'b')"
    assert [ex.references for ex in load_csv(path, require_summary=False)] == [("요약",), ()]


def test_speaker_tags_and_special_tokens():
    dialogue = "#Person2#: 안녕\n#Person1#: 제 번호는 #PhoneNumber#예요.\n#Person2#: #Person1#씨, 고마워요.\n#Person3#: 나도"
    assert speaker_tags(dialogue) == ["#Person2#", "#Person1#", "#Person3#"]
    assert SPECIAL_TOKEN_RE.findall("#Person12#은 #Address#로 #Email# 보내고 #Foo#") == ["#Person12#", "#Address#", "#Email#"]
    assert all(SPECIAL_TOKEN_RE.fullmatch(mask) for mask in PII_MASKS)


def test_check_file_report():
    report = check_file(CSV / "good_bom_crlf.csv")
    assert report.splitlines() == [
        "rows: 3",
        "topics: 2 (top: 식당 예약 1, 길 찾기 1)",
        "speakers: {1: 1, 2: 2}",
        "dialogue chars: mean 34.7, min 17, max 49",
        "pii masks: none",
        "unicode: 0 of 3 rows normalized to NFC",
    ]
    assert "pii masks: #PhoneNumber# 1" in check_file(CSV / "test_layout.csv", require_summary=False)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SUMBENCH, *args], capture_output=True, text=True, timeout=60)


def test_cli_check_ok_and_test_flag():
    ok = run("data", "check", str(CSV / "good_bom_crlf.csv"))
    assert ok.returncode == 0 and ok.stdout.startswith("rows: 3\n") and ok.stderr == ""
    test = run("data", "check", "--test", str(CSV / "test_layout.csv"))
    assert test.returncode == 0 and test.stdout.startswith("rows: 2\n")


@pytest.mark.parametrize("name, row", [("duplicate_fname.csv", 5), ("latin1.csv", 3), ("empty.csv", 1)])
def test_cli_check_bad_file_is_one_line_exit_2(name, row):
    result = run("data", "check", str(CSV / name))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"sumbench: {CSV / name}:{row}: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
