"""The report's use of per-example scores and train logs: the recommendation's bootstrap interval (and its 1-std
fallback for records without per-example scores), ROUGE-Sum under every analyzer side by side, and the eval-loss
learning curve of each model."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from sumbench.errors import SumbenchError
from sumbench.records import CellRecord
from sumbench.report.cellfiles import cell_key, dev_scores, eval_curve, mean_curve, read_cell_files
from sumbench.report.folds import group_by_setting
from sumbench.report.quality import analyzer_table
from sumbench.report.recommend import recommend
from sumbench.report.summary import write_report

GIB = 2**30
VERSIONS = {"kiwi": "rouge_score-0.1.2+kiwipiepy-0.24.1/morph-f1/nfc/refs-mean",
            "mecab": "rouge_score-0.1.2+python-mecab-ko-1.3.7+python-mecab-ko-dic-2.1.1.post2/morph-f1/nfc/refs-mean",
            "whitespace": "rouge_score-0.1.2+whitespace/word-f1/nfc/refs-mean"}
SHARE = {"kiwi": 1.0, "mecab": 0.9, "whitespace": 0.6}  # each analyzer's score as a share of kiwi's
FNAMES = [f"dev_{i:02d}" for i in range(32)]


def base_scores(fold: int) -> dict[str, float]:
    rng = random.Random(fold)
    return {f: rng.uniform(0.4, 1.6) for f in FNAMES}


def shifted(scores: dict[str, float], by: float, noise: float = 0.0, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {f: v + by + rng.gauss(0, noise) for f, v in scores.items()}


def cell(bs: int, fold: int, scores: dict[str, float], sps: float, model: str = "m", reserved_gib: int = 4,
         analyzers: bool = True) -> CellRecord:
    """A finished cell whose dev ROUGE-Sum is the mean of its per-example ``scores``."""
    mean = statistics.mean(scores.values())
    r = CellRecord(model=model, batch_size=bs, grad_accum=1, fold=fold, rouge_sum=mean, samples_per_s=sps,
                   peak_memory_bytes=reserved_gib * GIB // 2, cuda_max_reserved_bytes=reserved_gib * GIB,
                   cuda_device_total_bytes=24 * GIB, metric_version=VERSIONS["kiwi"])
    if analyzers:
        r.rouge_by_analyzer = {name: {"rouge1": None, "rouge2": None, "rougeL": None, "rouge_sum": mean * share,
                                      "metric_version": VERSIONS[name]} for name, share in SHARE.items()}
    return r


def grid(fast_scores) -> tuple[list[CellRecord], dict]:
    """bs4 (10 samples/s, the best or tied) and bs8 (30 samples/s, ``fast_scores(fold)``) on two folds, and bs16
    (90 samples/s, the same scores as bs4, at 92 % of device memory); the dev scores keyed by cell."""
    cells, scores = [], {}
    for fold in (0, 1):
        for r, s in ((cell(4, fold, base_scores(fold), 10), base_scores(fold)),
                     (cell(8, fold, fast_scores(fold), 30), fast_scores(fold)),
                     (cell(16, fold, base_scores(fold), 90, reserved_gib=22), base_scores(fold))):
            cells.append(r)
            scores[cell_key(r)] = s
    return cells, scores


# ------------------------------------------------------------------------------------ the recommendation
def test_identical_predictions_give_a_zero_interval_so_the_faster_setting_is_recommended():
    cells, scores = grid(base_scores)
    rec = recommend(group_by_setting(cells), scores)
    assert rec.setting.label == "bs8_ga1"  # bs16 is as good and faster, but at 92 % of device memory
    assert (rec.interval.low, rec.interval.high, rec.interval.difference) == (0.0, 0.0, 0.0)
    assert (rec.interval.folds, rec.interval.examples, rec.interval.seed) == (2, 32, 2024)
    assert ("30.0 samples/s, the fastest setting no worse than the best (bs4_ga1 at 1.032): ROUGE-Sum +0.000 vs the "
            "best, 95 % CI [+0.000, +0.000] over 2 fold(s) × 32 dev examples (bootstrap over folds and paired "
            "examples, 2000 resamples, seed 2024); peak memory 2,048 MiB; memory 17% of the device") == rec.reason


def test_worse_on_every_dev_example_excludes_zero_and_the_best_is_recommended():
    cells, scores = grid(lambda fold: shifted(base_scores(fold), -0.15, noise=0.03, seed=fold))
    rec = recommend(group_by_setting(cells), scores)
    assert rec.setting.label == "bs4_ga1"
    assert rec.interval.high < 0 and rec.interval.difference == pytest.approx(-0.15, abs=0.02)
    assert rec.reason.startswith("10.0 samples/s, the best ROUGE-Sum, 1.032; the faster bs8_ga1 loses ROUGE-Sum "
                                 f"against it: {rec.interval.difference:+.3f}, 95 % CI [{rec.interval.low:+.3f}, "
                                 f"{rec.interval.high:+.3f}] over 2 fold(s) × 32 dev examples")
    assert recommend(group_by_setting(cells), scores) == rec  # seeded: the same interval every time


def test_a_loss_inside_example_noise_is_no_worse_though_beyond_one_fold_std():
    """bs8 loses 0.01 on average, more than the best's std over folds (0.0014), but example to example it varies by
    0.3, so its interval includes 0: the interval recommends it where the 1-std rule would not."""
    cells, scores = grid(lambda fold: shifted(base_scores(fold), -0.01, noise=0.3, seed=fold + 10))
    for r in cells:  # folds nearly agree on the means: a tiny fold std
        r.rouge_sum = 1.0 + r.fold * 0.002 - (0.01 if r.batch_size == 8 else 0.0)
    rec = recommend(group_by_setting(cells), scores)
    assert rec.setting.label == "bs8_ga1" and rec.interval.low < 0 <= rec.interval.high
    assert recommend(group_by_setting(cells)).setting.label == "bs4_ga1"  # without per-example scores


def test_missing_per_example_scores_fall_back_to_one_std_and_say_so():
    cells, scores = grid(base_scores)
    partial = {k: v for k, v in scores.items() if k[3] != 8}  # bs8 was written before predictions had scores
    rec = recommend(group_by_setting(cells), partial)
    assert rec.setting.label == "bs8_ga1" and rec.interval is None
    assert "within 1 std" in rec.reason
    assert rec.reason.endswith("; 1-std rule, not a bootstrap interval: no per-example dev scores for bs8_ga1")
    assert recommend(group_by_setting(cells)).reason.endswith("not a bootstrap interval: no per-example dev scores")


# ------------------------------------------------------------------------------------ analyzers side by side
def test_analyzer_table_names_each_version_and_skips_records_without_analyzers():
    cells, _ = grid(base_scores)
    table = "\n".join(analyzer_table(group_by_setting(cells)))
    assert ("| setting | kiwi (kiwipiepy-0.24.1) | mecab (python-mecab-ko-1.3.7+python-mecab-ko-dic-2.1.1.post2) "
            "| whitespace |") in table
    assert "kiwi is the primary" in table
    row = next(line for line in table.splitlines() if line.startswith("| bs4_ga1 |"))
    kiwi = [r.rouge_sum for r in cells if r.batch_size == 4]
    assert row == (f"| bs4_ga1 | {statistics.mean(kiwi):.3f} ± {statistics.stdev(kiwi):.3f} | "
                   f"{statistics.mean(kiwi) * 0.9:.3f} ± {statistics.stdev(kiwi) * 0.9:.3f} | "
                   f"{statistics.mean(kiwi) * 0.6:.3f} ± {statistics.stdev(kiwi) * 0.6:.3f} |")
    old = [cell(4, f, base_scores(f), 10, analyzers=False) for f in (0, 1)]
    assert analyzer_table(group_by_setting(old)) == []


# ------------------------------------------------------------------------------------ the files beside a cell
def test_dev_scores_pair_by_fname_and_old_files_give_none(tmp_path):
    rows = [{"split": "dev", "fname": "a", "rouge_sum": {"kiwi": 1.0, "mecab": 0.8}},
            {"split": "heldout", "fname": "h", "rouge_sum": {"kiwi": 9.0}},
            {"split": "dev", "fname": "b", "rouge_sum": {"kiwi": 0.5, "mecab": 0.4}}]
    assert dev_scores(rows, "kiwi") == {"a": 1.0, "b": 0.5} and dev_scores(rows, "mecab") == {"a": 0.8, "b": 0.4}
    assert dev_scores(rows, "whitespace") is None and dev_scores(rows, None) is None
    assert dev_scores([{"split": "dev", "fname": "a", "prediction": "x"}], "kiwi") is None
    with pytest.raises(SumbenchError, match="'a' appears twice"):
        dev_scores(rows + rows[:1], "kiwi")
    r = cell(4, 0, {"a": 1.0}, 10)
    assert read_cell_files(r.write(tmp_path / "metrics.json"), r).dev_scores is None  # no predictions.jsonl


def test_eval_curve_sums_samples_and_step_time_and_folds_average_per_step():
    rows = [{"step": 1, "samples": 16, "step_time_s": 0.5}, {"step": 2, "samples": 16, "step_time_s": 0.5,
                                                             "eval_loss": 2.0},
            {"step": 3, "samples": 16, "step_time_s": 1.0}, {"step": 4, "samples": 8, "step_time_s": 1.0,
                                                             "eval_loss": 1.5}]
    curve = eval_curve(rows)  # a row's samples are every rank's
    assert curve == [(2, 32, 1.0, 2.0), (4, 56, 3.0, 1.5)]
    other = [p._replace(seconds=p.seconds + 1.0, loss=p.loss - 0.5) for p in curve[:1]]
    assert mean_curve([curve, other]) == [(2, 32, 1.5, 1.75), (4, 56, 3.0, 1.5)]


# ------------------------------------------------------------------------------------ the whole report
def write_cell(tmp_path, r: CellRecord, scores: dict[str, float] | None, eval_losses: bool):
    folder = tmp_path / "runs" / f"{r.model}_bs{r.batch_size}_f{r.fold}"
    path = r.write(folder / "metrics.json")
    if scores is not None:
        rows = [{"split": "dev", "fname": f, "prediction": "p", "references": ["r"],
                 "rouge_sum": {"kiwi": v, "mecab": 0.9 * v, "whitespace": 0.6 * v}} for f, v in scores.items()]
        rows.append({"split": "heldout", "fname": "h0", "prediction": "p", "references": ["r"],
                     "rouge_sum": {"kiwi": 0.1}})
        (folder / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    log = [{"step": s, "step_time_s": 0.25, "samples": r.batch_size, "loss": 3.0 - s / 10, "grad_norm": 1.0,
            "lr": 1e-4, "eval_loss": (2.5 - s / 20 + r.fold / 100 if eval_losses and s % 2 == 0 else None)}
           for s in range(1, 9)]
    (folder / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log), encoding="utf-8")
    return path


def test_report_states_the_interval_and_plots_each_models_learning_curve(tmp_path):
    cells, scores = grid(base_scores)
    paths = [write_cell(tmp_path, r, scores[cell_key(r)], eval_losses=True) for r in cells]
    # model n: records from before per-example scores, analyzers and in-training evaluation
    old = [cell(bs, f, base_scores(f), sps, model="n", analyzers=False)
           for bs, sps in ((4, 10), (8, 30)) for f in (0, 1)]
    paths += [write_cell(tmp_path, r, None, eval_losses=False) for r in old]
    written = write_report(paths, tmp_path / "out" / "summary.md")
    md = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    m, n = md.split("\n## m\n", 1)[1].split("\n## n\n", 1)
    assert ("**Recommendation**: effective batch **8**, trained as **bs8_ga1**: 30.0 samples/s, the fastest setting "
            "no worse than the best (bs4_ga1 at 1.032): ROUGE-Sum +0.000 vs the best, 95 % CI [+0.000, +0.000] over "
            "2 fold(s) × 32 dev examples (bootstrap over folds and paired examples, 2000 resamples, seed 2024)") in m
    assert "| setting | kiwi (kiwipiepy-0.24.1) |" in m and "ROUGE-Sum by analyzer" not in n
    assert "1-std rule, not a bootstrap interval: no per-example dev scores." in n
    plot = tmp_path / "out" / "plots" / "learning_curve_m.png"
    assert plot in written and plot.read_bytes()[:4] == b"\x89PNG"
    assert "![m: eval loss on the fold's held-out part while training, against training samples seen (left)" in md
    assert "](plots/learning_curve_m.png)" in md
    assert not (tmp_path / "out" / "plots" / "learning_curve_n.png").exists()
    assert not (tmp_path / "out" / "plots" / "learning_curve.png").exists()  # the cap-axis plot needs two caps
    write_report(paths, tmp_path / "again" / "summary.md")
    assert (tmp_path / "again" / "summary.md").read_text(encoding="utf-8") == md  # seeded: rebuilt the same
