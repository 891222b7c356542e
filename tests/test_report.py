import ast
import csv
import io
import json
import sys
from pathlib import Path

import sumbench.report
from sumbench.records import CellRecord, read_record
from sumbench.report.summary import render_csv, render_markdown, write_report

ENV = {"device": "cpu", "device_name": "x86_64", "cuda": None, "python": "3.11.7", "platform": "Linux",
       "packages": {"torch": "2.13.0"}, "git_sha": "abc123"}


def rec(bs, ga, fold, rouge1, status="ok", **kw):
    r = CellRecord(model="tiny-bart", batch_size=bs, grad_accum=ga, fold=fold, status=status, **kw)
    if status == "ok":
        r.rouge1, r.rouge2, r.rougeL = rouge1, rouge1 / 2, rouge1
        r.rouge_sum = r.rouge1 + r.rouge2 + r.rougeL
        r.s_per_step_median, r.samples_per_s, r.tokens_per_s = 0.5 * ga, bs * ga / (0.5 * ga), 1000.0
        r.peak_memory_bytes, r.memory_kind = 512 * 2**20, "cpu_peak_rss"
        r.eval_loss, r.grad_norm_median, r.grad_norm_max = 2.0, 1.5, 3.0
        r.host_memory_bytes, r.time_to_train_s, r.time_to_quality_s = 64 * 2**30, 12.0, 15.0
    r.environment = ENV
    return r


RECORDS = [rec(4, 1, 0, 0.30), rec(4, 1, 1, 0.40), rec(8, 1, 0, 0.20), rec(8, 1, 1, 0.0, status="oom",
                                                                             message="CUDA out of memory",
                                                                             failed_phase="train")]

EXPECTED_TABLE = """Every cell: augmentation none, max_train_samples all.

| eff. batch | split | samples/s | mem. % | ROUGE-1 | ROUGE-2 | ROUGE-L | ROUGE-Sum | eval loss | time to train h | time to quality h | status |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
| 4 | bs4_ga1 | 8.00 | 1% | 0.350 ± 0.071 | 0.175 ± 0.035 | 0.350 ± 0.071 | 0.875 ± 0.177 | 2.000 ± 0.000 | 0.003 (12 s) | 0.004 (15 s) | 2/2 ok |
| 8 | bs8_ga1 | 16.00 | 1% | 0.200 | 0.100 | 0.200 | 0.500 | 2.000 | 0.003 (12 s) | 0.004 (15 s) | 1/2 ok, 1/2 oom |"""


def test_markdown_table_is_mean_std_over_folds_and_shows_failures():
    md = render_markdown(RECORDS, "T")
    assert md.startswith("# T\n")
    assert EXPECTED_TABLE in md
    assert "- bs8_ga1 fold 1: **OOM** in train: CUDA out of memory" in md
    assert "torch 2.13.0" in md
    assert "**Recommendation**: effective batch **4**, trained as **bs4_ga1**: 8.0 samples/s" in md
    # no plan: no predicted time, no plan section; no profile: no speed table
    assert "predicted **– h** by the plan" in md and "## Predicted vs measured" not in md and "## Plan" not in md
    assert "### Speed" not in md


def test_csv_has_one_row_per_cell():
    rows = list(csv.DictReader(io.StringIO(render_csv(RECORDS))))
    assert len(rows) == 4
    assert rows[0]["effective_batch"] == "4" and rows[-1]["status"] == "oom"
    assert rows[-1]["failed_phase"] == "train" and rows[0]["time_to_train_s"] == "12.0"
    assert {"split_reason", "time_to_quality_s"} <= set(rows[0])


def test_write_report_round_trips_records(tmp_path):
    paths = []
    for i, r in enumerate(RECORDS):
        paths.append(r.write(tmp_path / f"c{i}" / "metrics.json"))
    assert read_record(paths[0]).rouge1 == 0.30
    md, = [p for p in write_report(paths, tmp_path / "summary.md") if p.suffix == ".md"]
    assert EXPECTED_TABLE in md.read_text(encoding="utf-8")
    assert (tmp_path / "summary.csv").exists()
    assert (tmp_path / "speed.csv").read_text(encoding="utf-8").startswith("model,split,batch_size,grad_accum,")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**RECORDS[0].to_dict(), "schema_version": 99}), encoding="utf-8")
    import pytest

    from sumbench.errors import SumbenchError
    with pytest.raises(SumbenchError, match="schema_version 99"):
        read_record(bad)
    with pytest.raises(SumbenchError, match="nothing to report"):
        write_report([], tmp_path / "empty.md")


def test_report_imports_only_records_io_errors_and_itself():
    """The report is a function of the records: no report module reaches into training, data or config code."""
    allowed = {"sumbench.records", "sumbench.records.plan", "sumbench.io", "sumbench.errors"}
    third_party = {"matplotlib"}
    for path in sorted(Path(sumbench.report.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: another report module
                    continue
                names = [f"{node.module}.{a.name}" if node.module == "sumbench" else node.module for a in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (name in allowed or name.split(".")[:2] == ["sumbench", "report"] if top == "sumbench"
                      else top in sys.stdlib_module_names or top in third_party)
                assert ok, f"{path.name}:{node.lineno} imports {name}"
