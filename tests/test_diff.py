"""``sumbench diff``: the settings that differ between two cells, the measured effect and the ROUGE-Sum interval."""

import json
import random

from sumbench.cli import main
from sumbench.records import CellRecord
from sumbench.report.diff import diff_runs, differing_settings, render_diff


def cell(bs, ga, lr, rouge, sps, out):
    r = CellRecord(model="m", batch_size=bs, grad_accum=ga, fold=0)
    r.settings = {"model": {"training": {"learning_rate": lr, "epochs": 1}, "lora": {"r": 16}},
                  "cell": {"batch_size": bs, "grad_accum": ga, "out": out}}
    r.rouge_sum, r.samples_per_s, r.peak_memory_bytes = rouge, sps, 512 * 2**20
    return r


def test_diff_lists_only_differing_settings_and_measured_deltas():
    a, b = cell(32, 1, 2e-5, 0.80, 100.0, "/a"), cell(16, 2, 1e-5, 0.90, 80.0, "/b")
    keys = [k for k, _, _ in differing_settings(a, b)]
    assert keys == ["batch_size", "cell.batch_size", "cell.grad_accum", "grad_accum", "model.training.learning_rate"]
    md = render_diff(a, b, "runA", "runB")
    assert "| model.training.learning_rate | 2e-05 | 1e-05 |" in md
    assert "| ROUGE-Sum | 0.800 | 0.900 | +0.100 | +12.5% better |" in md
    assert "| samples/s | 100.00 | 80.00 | -20.00 | -20.0% worse |" in md
    assert "| peak memory (MiB) | 512 | 512 | +0 | +0.0% |" in md
    assert "lora.r" not in md and "cell.out" not in md


def write_cell(folder, scores):
    """A cell folder: metrics.json and, unless ``scores`` is None, predictions.jsonl with per-example ROUGE-Sum."""
    r = cell(8, 1, 2e-5, sum(scores.values()) / len(scores) if scores else 0.8, 50.0, str(folder))
    r.metric_version = "rouge_score-0.1.2+kiwipiepy-0.24.1/morph-f1/nfc/refs-mean"
    r.rouge_by_analyzer = {"kiwi": {"rouge_sum": r.rouge_sum, "metric_version": r.metric_version}}
    r.write(folder / "metrics.json")
    if scores is not None:
        rows = [{"split": "dev", "fname": f, "prediction": "p", "references": ["r"], "rouge_sum": {"kiwi": v}}
                for f, v in scores.items()]
        (folder / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return folder


def test_diff_prints_the_interval_of_the_rouge_sum_difference(tmp_path):
    rng = random.Random(0)
    a_scores = {f"dev_{i}": rng.uniform(0.3, 1.5) for i in range(40)}
    better = {f: v + 0.05 + 0.1 * rng.random() for f, v in a_scores.items()}  # better on every dev example
    a = write_cell(tmp_path / "a", a_scores)
    md = diff_runs(a, write_cell(tmp_path / "b", better))
    line = md.splitlines()[-1]
    assert line.startswith("ROUGE-Sum B − A (dev, kiwi): +0.1") and line.endswith(": B is better.")
    low = float(line.split("CI [")[1].split(",")[0])
    assert low > 0 and "over 1 fold(s) × 40 dev examples (paired bootstrap over examples, 2000 resamples, seed 2024)" \
        in line
    assert md.index("| ROUGE-Sum |") < md.index(line)  # after the measured-effect table
    same = diff_runs(a, write_cell(tmp_path / "same", dict(a_scores)))
    assert "+0.000, 95 % CI [+0.000, +0.000]" in same
    assert same.endswith("the interval includes 0: no difference shown.\n")
    old = diff_runs(a / "metrics.json", write_cell(tmp_path / "old", None))
    assert old.endswith("ROUGE-Sum interval: none, no per-example dev scores for B (a predictions.jsonl with them is "
                        "written beside metrics.json by current cells).\n")


def test_cli_diff_prints_the_interval(tmp_path, capsys):
    a = write_cell(tmp_path / "a", {"x": 1.0, "y": 0.5})
    b = write_cell(tmp_path / "b", {"x": 1.0, "y": 0.5})
    assert main(["diff", str(a), str(b)]) == 0
    assert "ROUGE-Sum B − A (dev, kiwi): +0.000, 95 % CI [+0.000, +0.000]" in capsys.readouterr().out
