"""Records -> ``summary.md`` and ``summary.csv``. Reads only ``metrics.json`` records.

:func:`render_markdown` is a pure function of the records (tested against a small expected output);
:func:`write_report` reads the files and writes both outputs atomically.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from sumbench.io import atomic_write_text
from sumbench.records import CellRecord, read_record

BYTES_PER_MIB = 1024 ** 2
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rouge_sum")
CSV_COLUMNS = ("model", "augmentation", "max_train_samples", "batch_size", "grad_accum", "effective_batch", "fold",
               "status", "message", "steps", "s_per_step_median", "s_per_step_p10", "s_per_step_p90", "samples_per_s",
               "tokens_per_s", "peak_memory_bytes", "memory_kind", "padding_efficiency", "source_truncation_rate",
               "grad_norm_first", "grad_norm_median", "grad_norm_max", "train_loss_first", "eval_loss", "rouge1",
               "rouge2", "rougeL", "rouge_sum", "heldout_rouge_sum", "generation_s", "trainable_params")


@dataclass(frozen=True)
class CellGroup:
    """The folds of one (model, augmentation, cap, batch size, grad accum) setting."""

    key: tuple
    records: tuple[CellRecord, ...]

    @property
    def ok(self) -> list[CellRecord]:
        return [r for r in self.records if r.status == "ok"]

    def values(self, field: str) -> list[float]:
        return [getattr(r, field) for r in self.ok if getattr(r, field) is not None]

    def mean_std(self, field: str) -> str:
        vals = self.values(field)
        if not vals:
            return "–"
        if len(vals) == 1:
            return f"{vals[0]:.3f}"
        return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}"

    def median(self, field: str, fmt: str) -> str:
        vals = self.values(field)
        return format(statistics.median(vals), fmt) if vals else "–"

    def status(self) -> str:
        counts = defaultdict(int)
        for r in self.records:
            counts[r.status] += 1
        return ", ".join(f"{n}/{len(self.records)} {s}" for s, n in sorted(counts.items()))


def group_cells(records: Iterable[CellRecord]) -> list[CellGroup]:
    groups: dict[tuple, list[CellRecord]] = defaultdict(list)
    for r in records:
        groups[(r.model, r.augmentation, r.max_train_samples or 0, r.batch_size, r.grad_accum)].append(r)
    return [CellGroup(k, tuple(sorted(v, key=lambda r: r.fold))) for k, v in sorted(groups.items())]


def _mib(group: CellGroup) -> str:
    vals = group.values("peak_memory_bytes")
    return f"{max(vals) / BYTES_PER_MIB:,.0f}" if vals else "–"


def _grad(group: CellGroup) -> str:
    med, top = group.values("grad_norm_median"), group.values("grad_norm_max")
    return f"{statistics.median(med):.3g} / {max(top):.3g}" if med else "–"


def _environment(records: Sequence[CellRecord]) -> list[str]:
    envs = [r.environment for r in records if r.environment]
    if not envs:
        return ["_No environment recorded._"]
    env = envs[0]
    pk = env.get("packages", {})
    lines = [
        f"- **Device**: {env.get('device')} ({env.get('device_name')})" + (f", CUDA {env['cuda']}" if env.get("cuda") else ""),
        "- **Packages**: " + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        f"- **Python** {env.get('python')} on {env.get('platform')}; git {env.get('git_sha') or 'unknown'}",
    ]
    shas = sorted({e.get("git_sha") or "unknown" for e in envs})
    if len(shas) > 1:
        lines.append(f"- **Warning**: records come from {len(shas)} code versions: {', '.join(shas)}")
    kinds = sorted({r.memory_kind for r in records if r.memory_kind})
    lines.append(f"- **Memory** column: {', '.join(kinds) or '–'} (cpu_peak_rss = peak resident set of the job "
                 f"process; cuda_max_allocated = torch.cuda.max_memory_allocated)")
    return lines


def render_markdown(records: Sequence[CellRecord], title: str = "sumbench summary") -> str:
    groups = group_cells(records)
    ok = sum(r.status == "ok" for r in records)
    out = [f"# {title}", "", f"{len(records)} cells, {ok} ok, {len(records) - ok} failed "
           f"({len({g.key[0] for g in groups})} models, {len(groups)} settings).", "", "## Environment", ""]
    out += _environment(records)
    out += ["", "## How to read", "",
            "- One table per model; a row is one setting, its ROUGE is mean ± std over folds (dev set, F1 on "
            "Korean morphemes; ROUGE-Sum = R1 + R2 + RL).",
            "- Compare speed by **samples/s** (effective batch / median s per optimizer step), not by s/step: "
            "s/step grows with gradient accumulation by construction.",
            "- Timing excludes the first warm-up steps of each cell; tokens/s counts real (non-pad) tokens.", ""]
    for model in sorted({g.key[0] for g in groups}):
        out += [f"## {model}", "",
                "| aug | cap | bs | ga | eff. batch | s/step | samples/s | tokens/s | peak MiB | ROUGE-1 | ROUGE-2 "
                "| ROUGE-L | ROUGE-Sum | eval loss | grad norm med/max | status |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for g in (g for g in groups if g.key[0] == model):
            _, aug, cap, bs, ga = g.key
            out.append(" | ".join([
                f"| {aug}", str(cap or "all"), str(bs), str(ga), str(bs * ga), g.median("s_per_step_median", ".3f"),
                g.median("samples_per_s", ".2f"), g.median("tokens_per_s", ",.0f"), _mib(g),
                *(g.mean_std(k) for k in ROUGE_KEYS), g.mean_std("eval_loss"), _grad(g), g.status() + " |"]))
        failed = [r for r in records if r.model == model and r.status != "ok"]
        if failed:
            out += ["", "Failed cells:", ""]
            out += [f"- bs{r.batch_size}/ga{r.grad_accum} fold {r.fold}: **{r.status.upper()}** {r.message or ''}"
                    for r in failed]
        out.append("")
    return "\n".join(out)


def render_csv(records: Sequence[CellRecord]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in sorted(records, key=lambda r: (r.model, r.augmentation, r.max_train_samples or 0, r.batch_size,
                                            r.grad_accum, r.fold)):
        writer.writerow(r.to_dict())
    return buf.getvalue()


def write_report(paths: Sequence[str | Path], out_md: str | Path, title: str = "sumbench summary") -> list[Path]:
    records = [read_record(p) for p in paths]
    out_md = Path(out_md)
    return [atomic_write_text(out_md.with_suffix(".csv"), render_csv(records)),
            atomic_write_text(out_md, render_markdown(records, title))]
