"""Records -> ``summary.md``, ``summary.csv`` and ``plots/``. Reads only the cell records.

:func:`render_markdown` is a pure function of the records (tested against a small expected output);
:func:`write_report` reads ``metrics.json`` files (and the ``train_log.jsonl`` beside each, for the
gradient-norm plot) and writes every output atomically.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from pathlib import Path
from typing import Sequence

from sumbench.io import atomic_write_text, read_jsonl
from sumbench.records import BYTES_PER_MIB, CellRecord, cap_label, read_record
from sumbench.report.diagnostics import KINDS, diagnose, recommend
from sumbench.report.folds import SettingFolds, group_by_setting
from sumbench.report.formatting import MISSING, mean_std, number
from sumbench.report.plots import (grad_norm_traces, learning_curve_plot, memory_vs_batch, rouge_vs_throughput,
                                   throughput_vs_effective_batch)
from sumbench.report.sections import data_sections

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rouge_sum")
CSV_COLUMNS = ("model", "augmentation", "max_train_samples", "batch_size", "grad_accum", "effective_batch", "fold",
               "status", "message", "steps", "s_per_step_median", "s_per_step_p10", "s_per_step_p90", "s_per_step_cv",
               "samples_per_s", "tokens_per_s", "mfu", "peak_memory_bytes", "memory_kind", "cuda_alloc_retries",
               "padding_efficiency", "source_truncation_rate", "target_truncation_rate", "grad_norm_first",
               "grad_norm_median", "grad_norm_max", "train_loss_first", "eval_loss", "rouge1", "rouge2", "rougeL",
               "rouge_sum", "heldout_rouge_sum", "generation_s", "trainable_params")
PLOTS = (  # file, caption
    ("throughput_vs_effective_batch.png", "samples/s against effective batch, one line per model (best bs × ga "
                                          "split at each point; faint dots are the other splits)."),
    ("memory_vs_batch.png", "Peak memory against per-device batch size (smallest grad accum)."),
    ("rouge_vs_throughput.png", "ROUGE-Sum against samples/s for every setting; the dashed line is the Pareto front "
                                "(nothing is both faster and better)."),
    ("grad_norm_traces.png", "Pre-clip gradient norm per optimizer step (fold 0), one line per setting."),
)


def _status(s: SettingFolds) -> str:
    counts = Counter(r.status for r in s.records)
    return ", ".join(f"{n}/{len(s.records)} {status}" for status, n in sorted(counts.items()))


def _grad(s: SettingFolds) -> str:
    med, top = s.values("grad_norm_median"), s.values("grad_norm_max")
    return f"{statistics.median(med):.3g} / {max(top):.3g}" if med else MISSING


def _mib(s: SettingFolds) -> str:
    peak = s.peak_memory()
    return number(None if peak is None else peak / BYTES_PER_MIB, ",.0f")


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
    lines.append(f"- **Memory** column: {', '.join(kinds) or MISSING} (cpu_peak_rss = peak resident set of the job "
                 f"process; cuda_max_allocated = torch.cuda.max_memory_allocated)")
    return lines


def _model_table(model_settings: Sequence[SettingFolds]) -> list[str]:
    out = ["| aug | cap | bs | ga | eff. batch | s/step | samples/s | tokens/s | peak MiB | ROUGE-1 | ROUGE-2 "
           "| ROUGE-L | ROUGE-Sum | eval loss | grad norm med/max | status |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in model_settings:
        out.append(" | ".join([
            f"| {s.augmentation}", cap_label(s.cap), str(s.batch_size), str(s.grad_accum), str(s.effective_batch),
            number(s.median("s_per_step_median"), ".3f"), number(s.median("samples_per_s"), ".2f"),
            number(s.median("tokens_per_s"), ",.0f"), _mib(s), *(mean_std(s.values(k)) for k in ROUGE_KEYS),
            mean_std(s.values("eval_loss")), _grad(s), _status(s) + " |"]))
    failed = [r for s in model_settings for r in s.records if r.status != "ok"]
    if failed:
        out += ["", "Failed cells:", ""]
        out += [f"- bs{r.batch_size}/ga{r.grad_accum} fold {r.fold}: **{r.status.upper()}** {r.message or ''}"
                for r in failed]
    return out


def render_markdown(records: Sequence[CellRecord], title: str = "sumbench summary",
                    plots: Sequence[tuple[str, str]] = (), learning_curve: str | None = None) -> str:
    """The report. ``plots`` are (relative path, caption) pairs to link; ``learning_curve`` a plot path."""
    all_settings = group_by_setting(records)
    models = sorted({s.model for s in all_settings})
    ok = sum(r.status == "ok" for r in records)
    out = [f"# {title}", "", f"{len(records)} cells, {ok} ok, {len(records) - ok} failed "
           f"({len(models)} models, {len(all_settings)} settings).", "", "## Environment", ""]
    out += _environment(records)

    out += ["", "## Recommendation", "",
            "Per model: the fastest setting (samples/s) whose ROUGE-Sum is within fold noise (1 std) of the best and "
            "whose peak memory is below 90% of the device.", ""]
    for model in models:
        rec = recommend([s for s in all_settings if s.model == model])
        out.append(f"- **{model}**: " + (f"**{rec.setting.label}** — {rec.reason}" if rec.setting else rec.reason))

    findings = diagnose(records)
    out += ["", "## Diagnostics", ""]
    for kind in KINDS:
        hits = [f for f in findings if f.kind == kind]
        out.append(f"- **{kind.capitalize()}**: " + ("none found." if not hits else f"{len(hits)} finding(s)"))
        out += [f"  - {f.model}: {f.message}" for f in hits]

    out += ["", "## How to read", "",
            "- One table per model; a row is one setting, its ROUGE is mean ± std over folds (dev set, F1 on "
            "Korean morphemes; ROUGE-Sum = R1 + R2 + RL).",
            "- Compare speed by **samples/s** (effective batch / median s per optimizer step), not by s/step: "
            "s/step grows with gradient accumulation by construction.",
            "- Timing excludes the first warm-up steps of each cell; tokens/s counts real (non-pad) tokens.", ""]
    for model in models:
        out += [f"## {model}", ""] + _model_table([s for s in all_settings if s.model == model]) + [""]
    if plots:
        out += ["## Plots", ""]
        for i, (path, caption) in enumerate(plots, 1):
            out += [f"![{caption}]({path})", "", f"*Figure {i}. {caption}*", ""]
    out += data_sections(records, learning_curve)
    return "\n".join(out)


def render_csv(records: Sequence[CellRecord]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in sorted(records, key=lambda r: (r.model, r.augmentation, r.max_train_samples or 0, r.batch_size,
                                            r.grad_accum, r.fold)):
        writer.writerow(r.to_dict())
    return buf.getvalue()


def write_plots(records: Sequence[CellRecord], log_paths: Sequence[Path], plot_dir: Path) -> list[tuple[Path, str]]:
    """The four plots of PLOTS under ``plot_dir`` (grad-norm traces from each fold-0 cell's train log), with
    their captions."""
    all_settings = group_by_setting(records)
    traces = {}
    for r, log in zip(records, log_paths):
        if r.status == "ok" and r.fold == 0 and log.exists():
            rows = [row for row in read_jsonl(log) if row.get("grad_norm") is not None]
            traces[f"{r.model} bs{r.batch_size}/ga{r.grad_accum}"] = [(row["step"], row["grad_norm"]) for row in rows]
    makers = (lambda p: throughput_vs_effective_batch(all_settings, p),
              lambda p: memory_vs_batch(all_settings, p),
              lambda p: rouge_vs_throughput(all_settings, p),
              lambda p: grad_norm_traces(traces, p))
    return [(make(plot_dir / name), caption) for make, (name, caption) in zip(makers, PLOTS)]


def write_report(paths: Sequence[str | Path], out_md: str | Path, title: str = "sumbench summary") -> list[Path]:
    records = [read_record(p) for p in paths]
    out_md = Path(out_md)
    made = write_plots(records, [Path(p).with_name("train_log.jsonl") for p in paths], out_md.parent / "plots")
    links = [(path.relative_to(out_md.parent).as_posix(), caption) for path, caption in made]
    curve = learning_curve_plot(records, out_md.parent / "plots" / "learning_curve.png")  # None without a cap axis
    curve_link = curve.relative_to(out_md.parent).as_posix() if curve else None
    return [atomic_write_text(out_md.with_suffix(".csv"), render_csv(records)),
            *[path for path, _ in made], *([curve] if curve else []),
            atomic_write_text(out_md, render_markdown(records, title, links, curve_link))]
