"""``sumbench diff RUN_A RUN_B``: every setting that differs between two cells, and what it did.

Two training configs read side by side by hand (LoRA rank, learning rate, batch size, grad accumulation,
scheduler, max length, ...) leave both the differences and their impact to guesswork: here the settings
come from each cell's record and the effect on ROUGE, speed and memory is measured, never estimated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sumbench.records import BYTES_PER_MIB, CellRecord, read_record
from sumbench.report.formatting import MISSING, number

IDENTITY = ("model", "batch_size", "grad_accum", "effective_batch", "fold", "augmentation", "max_train_samples",
            "max_steps")
IGNORED = {"cell.out", "cell.models_dir"}  # where a run was written says nothing about how it trained
MEASURED = (  # key, label, format, higher is better
    ("rouge_sum", "ROUGE-Sum", ".3f", True), ("rouge1", "ROUGE-1", ".3f", True), ("eval_loss", "eval loss", ".3f", False),
    ("samples_per_s", "samples/s", ".2f", True), ("tokens_per_s", "tokens/s", ",.0f", True),
    ("s_per_step_median", "s/step", ".3f", False), ("peak_memory_bytes", "peak memory (MiB)", ",.0f", False),
    ("grad_norm_median", "grad norm (median)", ".3g", None), ("padding_efficiency", "padding efficiency", ".3f", True),
)


def load_run(path: str | Path) -> CellRecord:
    path = Path(path)
    return read_record(path / "metrics.json" if path.is_dir() else path)


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


def render_diff(a: CellRecord, b: CellRecord, name_a: str = "A", name_b: str = "B") -> str:
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
    return "\n".join(lines) + "\n"
