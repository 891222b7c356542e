"""``sumbench diff RUN_A RUN_B``: every setting that differs between two cells, and what it did.

Two training configs read side by side by hand (LoRA rank, learning rate, batch size, grad accumulation,
scheduler, max length, ...) leave both the differences and their impact to guesswork: here the settings
come from each cell's record and the effect on ROUGE, speed and memory is measured, never estimated. Beside the
ROUGE-Sum difference stands its 95 % interval, a seeded paired bootstrap over the dev examples both cells
scored (each cell's ``predictions.jsonl``, primary analyzer), so a difference of a few hundredths can be told
from the choice of dev examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from sumbench.records import BYTES_PER_MIB, CellRecord, read_record
from sumbench.report.cellfiles import primary_analyzer, read_dev_scores
from sumbench.report.formatting import MISSING, number
from sumbench.report.intervals import shared_bootstrap

IDENTITY = ("model", "batch_size", "grad_accum", "effective_batch", "fold", "augmentation", "max_train_samples",
            "max_steps")
IGNORED = {"cell.out", "cell.models_dir"}  # where a run was written says nothing about how it trained
MEASURED = (  # key, label, format, higher is better
    ("rouge_sum", "ROUGE-Sum", ".3f", True), ("rouge1", "ROUGE-1", ".3f", True), ("eval_loss", "eval loss", ".3f", False),
    ("samples_per_s", "samples/s", ".2f", True), ("tokens_per_s", "tokens/s", ",.0f", True),
    ("s_per_step_median", "s/step", ".3f", False), ("peak_memory_bytes", "peak memory (MiB)", ",.0f", False),
    ("grad_norm_median", "grad norm (median)", ".3g", None), ("padding_efficiency", "padding efficiency", ".3f", True),
)


def metrics_path(path: str | Path) -> Path:
    """A cell folder's metrics.json, or the path itself when it names the file."""
    path = Path(path)
    return path / "metrics.json" if path.is_dir() else path


def load_run(path: str | Path) -> CellRecord:
    return read_record(metrics_path(path))


def diff_runs(run_a: str | Path, run_b: str | Path) -> str:
    """``sumbench diff``: the two cells' records and the dev scores beside them, rendered."""
    a, b = load_run(run_a), load_run(run_b)
    return render_diff(a, b, str(run_a), str(run_b), scores_a=read_dev_scores(metrics_path(run_a), a),
                       scores_b=read_dev_scores(metrics_path(run_b), b))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def differing_settings(a: CellRecord, b: CellRecord) -> list[tuple[str, Any, Any]]:
    fa = {**{k: getattr(a, k) for k in IDENTITY}, **flatten(a.settings)}
    fb = {**{k: getattr(b, k) for k in IDENTITY}, **flatten(b.settings)}
    return [(k, fa.get(k, MISSING), fb.get(k, MISSING)) for k in sorted(set(fa) | set(fb))
            if k not in IGNORED and fa.get(k, MISSING) != fb.get(k, MISSING)]


def _value(record: CellRecord, key: str) -> float | None:
    value = getattr(record, key)
    return value / BYTES_PER_MIB if key == "peak_memory_bytes" and value is not None else value


def rouge_interval(a: CellRecord, b: CellRecord, scores_a: Mapping[str, float] | None,
                   scores_b: Mapping[str, float] | None) -> str:
    """One line: the interval of dev ROUGE-Sum B − A, or why there is none."""
    missing = [side for side, scores in (("A", scores_a), ("B", scores_b)) if not scores]
    if missing:
        return (f"ROUGE-Sum interval: none, no per-example dev scores for {' and '.join(missing)} (a predictions.jsonl "
                f"with them is written beside metrics.json by current cells).")
    analyzer_a, analyzer_b = primary_analyzer(a), primary_analyzer(b)
    if analyzer_a != analyzer_b:
        return f"ROUGE-Sum interval: none, A is scored under {analyzer_a} and B under {analyzer_b}."
    interval = shared_bootstrap({0: scores_b}, {0: scores_a})
    if interval is None:
        return "ROUGE-Sum interval: none, the two cells share no dev example."
    verdict = ("B is better" if interval.low > 0 else "B is worse" if interval.high < 0
               else "the interval includes 0: no difference shown")
    return f"ROUGE-Sum B − A (dev, {analyzer_a}): {interval.difference:+.3f}, {interval.describe()}: {verdict}."


def render_diff(a: CellRecord, b: CellRecord, name_a: str = "A", name_b: str = "B", *,
                scores_a: Mapping[str, float] | None = None, scores_b: Mapping[str, float] | None = None) -> str:
    """The diff; ``scores_a``, ``scores_b`` each cell's per-example dev ROUGE-Sum by fname, for the interval."""
    lines = ["# sumbench diff", "", f"- **A**: {name_a} ({a.status})", f"- **B**: {name_b} ({b.status})", "",
             "## Settings that differ", ""]
    diffs = differing_settings(a, b)
    if diffs:
        lines += ["| setting | A | B |", "|---|---|---|"] + [f"| {k} | {va} | {vb} |" for k, va, vb in diffs]
    else:
        lines.append("None: the two cells were trained with the same settings.")
    lines += ["", "## Measured effect (B vs A)", "", "| metric | A | B | B − A | change |", "|---|---:|---:|---:|---:|"]
    for key, label, fmt, higher_better in MEASURED:
        va, vb = _value(a, key), _value(b, key)
        if va is None or vb is None:
            lines.append(f"| {label} | {number(va, fmt)} | {number(vb, fmt)} | {MISSING} | {MISSING} |")
            continue
        change = f"{vb / va - 1:+.1%}" if va else MISSING
        verdict = "" if higher_better is None or vb == va else (" better" if (vb > va) == higher_better else " worse")
        lines.append(f"| {label} | {va:{fmt}} | {vb:{fmt}} | {vb - va:+{fmt}} | {change}{verdict} |")
    lines += ["", rouge_interval(a, b, scores_a, scores_b)]
    return "\n".join(lines) + "\n"
