"""Records -> ``summary.md``, ``summary.csv``, ``speed.csv`` and ``plots/``.

A grid's records: its plan (``plan.json``), each model's profile (``profile/<model>.json``) and quality job
(``quality/<model>/job<N>.json``), and the cells the quality jobs list (``metrics.json``; beside each, ``train_log.jsonl``
feeds the gradient-norm and learning-curve plots and ``predictions.jsonl`` the recommendation's intervals). Plan,
profiles and quality jobs are optional: bare ``metrics.json`` files give a report of the cells alone.

:func:`render_markdown` is a pure function of the records and the plain data read beside them (tested against
small expected outputs); :func:`write_report` reads the files and writes every output atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from sumbench.errors import SumbenchError
from sumbench.io import atomic_write_text
from sumbench.records import CellRecord, ModelProfile, read_profile, read_record, split_label
from sumbench.records.plan import PlanRecord, QualityJobRecord, read_plan, read_quality_job
from sumbench.report.cellfiles import CellFiles, CellKey, EvalPoint, cell_key, mean_curve, read_cell_files
from sumbench.report.diagnostics import KINDS, MEMORY_LIMIT_FRACTION, diagnose, profile_checks
from sumbench.report.folds import SettingFolds, group_by_setting
from sumbench.report.formatting import MISSING, csv_text
from sumbench.report.intervals import CONFIDENCE, RESAMPLES, SEED
from sumbench.report.plan import plan_outcome, render_plan
from sumbench.report.plots import (eval_loss_curves, grad_norm_traces, learning_curve_plot, memory_vs_batch,
                                   rouge_vs_throughput, throughput_vs_effective_batch)
from sumbench.report.quality import quality_section
from sumbench.report.recommend import DevScores
from sumbench.report.sections import data_sections
from sumbench.report.speed import speed_csv, speed_table, split_speeds

CSV_COLUMNS = ("model", "augmentation", "max_train_samples", "batch_size", "grad_accum", "effective_batch", "fold",
               "split_reason", "status", "failed_phase", "message", "steps", "s_per_step_median", "s_per_step_p10",
               "s_per_step_p90", "s_per_step_cv", "samples_per_s", "tokens_per_s", "loss_path", "mfu",
               "peak_memory_bytes", "memory_kind", "memory_note", "cuda_alloc_retries", "padding_efficiency",
               "source_truncation_rate",
               "target_truncation_rate", "grad_norm_first", "grad_norm_median", "grad_norm_max", "train_loss_first",
               "eval_loss", "rouge1", "rouge2", "rougeL", "rouge_sum", "heldout_rouge_sum", "time_to_train_s",
               "time_to_quality_s", "generation_s", "trainable_params", "device", "window_start", "window_end",
               "exclusive", "lock_wait_s")
PLOTS = (  # file, caption
    ("throughput_vs_effective_batch.png", "samples/s against effective batch, one line per model (the fastest "
                                          "bs × ga split of each effective batch in the profile; faint dots are the "
                                          "other splits)."),
    ("memory_vs_batch.png", "Peak memory against per-device batch size (smallest grad accum), from the profile."),
    ("rouge_vs_throughput.png", "ROUGE-Sum against samples/s for every quality setting; the dashed line is the "
                                "Pareto front (nothing is both faster and better)."),
    ("grad_norm_traces.png", "Pre-clip gradient norm per optimizer step (fold 0), one line per setting."),
)
HOW_TO_READ = [
    "- **Speed** tables come from the profile phase: every bs × ga split trains untimed warm-up steps, then the "
    "same timed budget, in one process; the split marked *again* is the first one measured again at the end, and "
    "its drift says whether the device stayed in the same state.",
    "- Compare speed by **samples/s** (samples of the timed steps / their seconds), not by s/step: s/step grows with "
    "gradient accumulation by construction.",
    "- **mem. %** is CUDA reserved / device total on a GPU, peak resident set / min(host RAM, cgroup limit) on a "
    f"CPU; the recommendation (below {MEMORY_LIMIT_FRACTION:.0%}) and the memory-saturation finding (at or above) "
    "both use it.",
    "- **Quality** tables: a row per effective batch trained (per augmentation and cap) with the split the plan "
    "chose; ROUGE is mean ± std over folds (dev set, F1 on Korean morphemes under the primary analyzer; ROUGE-Sum "
    "= R1 + R2 + RL; where the cells scored with several analyzers, a second table gives ROUGE-Sum under each), "
    "samples/s the median over folds of the full training. Time to train: wall time of the whole training, warm-up "
    "included; time to quality: the cell's start to its final ROUGE (mean over folds).",
    "- **Recommendation**: the fastest setting that is no worse than the best ROUGE-Sum and whose mem. % is below "
    f"{MEMORY_LIMIT_FRACTION:.0%}. No worse: the {CONFIDENCE * 100:g} % interval of the ROUGE-Sum difference "
    "(setting − best) includes 0 or lies above it; the interval is a bootstrap over the dev examples, paired by "
    f"example, and over the folds both finished ({RESAMPLES} resamples, seed {SEED}, so a rebuilt report states the "
    "same interval). Records without per-example dev scores fall back to within 1 std over folds of the best, "
    "and the recommendation says so.",
]
LEARNING_CURVE_CAPTION = ("{model}: eval loss on the fold's held-out part while training, against training samples "
                          "seen (left) and training time, the sum of step times with evaluation left out (right); "
                          "one line per effective batch and split, the mean over folds at each evaluated step.")


def _environment(cells: Sequence[CellRecord], profiles: Sequence[ModelProfile]) -> list[str]:
    envs = [r.environment for r in [*cells, *profiles] if r.environment]
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
    kinds = sorted({r.memory_kind for r in [*cells, *(s for p in profiles for s in p.splits)] if r.memory_kind})
    lines.append(f"- **Peak MiB** column: {', '.join(kinds) or MISSING} (cpu_peak_rss = peak resident set of the job "
                 f"process; cuda_max_allocated = torch.cuda.max_memory_allocated)")
    return lines


def _model_section(model: str, settings: Sequence[SettingFolds], profile: ModelProfile | None,
                   plan: PlanRecord | None, dev_scores: DevScores) -> list[str]:
    out = [f"## {model}", ""]
    if profile is not None:
        out += ["### Speed (profile phase)", ""] + speed_table(profile) + profile_checks(profile)
    return out + ["### Quality (quality phase)", ""] + quality_section(settings, plan, dev_scores)


def render_markdown(cells: Sequence[CellRecord], title: str = "sumbench summary",
                    plots: Sequence[tuple[str, str]] = (), learning_curve: str | None = None, *,
                    plan: PlanRecord | None = None, profiles: Sequence[ModelProfile] = (),
                    jobs: Sequence[QualityJobRecord] = (), dev_scores: DevScores | None = None) -> str:
    """The report. ``plots`` are (relative path, caption) pairs to link; ``learning_curve`` the cap-axis plot's
    path; ``dev_scores`` each cell's per-example dev ROUGE-Sum by :func:`~sumbench.report.cellfiles.cell_key`."""
    all_settings = group_by_setting(cells)
    profile_of = {p.model: p for p in profiles}
    models = sorted({r.model for r in cells} | set(profile_of) | {m.model for m in (plan.models if plan else [])})
    ok = sum(r.status == "ok" for r in cells)
    splits = sum(not s.remeasured for p in profiles for s in p.splits)
    out = [f"# {title}", "", f"{len(cells)} cells, {ok} ok, {len(cells) - ok} failed ({len(models)} models, "
           f"{len(all_settings)} settings)" + (f"; {splits} profiled splits." if profiles else "."), ""]
    out += plan_outcome(plan, jobs) if plan is not None else []
    out += ["## Environment", ""] + _environment(cells, profiles)

    findings = diagnose(cells, profiles)
    out += ["", "## Diagnostics", ""]
    for kind in KINDS:
        hits = [f for f in findings if f.kind == kind]
        out.append(f"- **{kind.capitalize()}**: " + ("none found." if not hits else f"{len(hits)} finding(s)"))
        out += [f"  - {f.model}: {f.message}" for f in hits]

    out += ["", "## How to read", "", *HOW_TO_READ, ""]
    for model in models:
        out += _model_section(model, [s for s in all_settings if s.model == model], profile_of.get(model), plan,
                              dev_scores or {})
    out += render_plan(plan) if plan is not None else []
    if plots:
        out += ["## Plots", ""]
        for i, (path, caption) in enumerate(plots, 1):
            out += [f"![{caption}]({path})", "", f"*Figure {i}. {caption}*", ""]
    out += data_sections(cells, learning_curve)
    return "\n".join(out)


def render_csv(cells: Sequence[CellRecord]) -> str:
    """``summary.csv``: one row per quality cell."""
    return csv_text(CSV_COLUMNS, (r.to_dict() for r in sorted(cells, key=lambda r: (
        r.model, r.augmentation, r.max_train_samples or 0, r.batch_size, r.grad_accum, r.fold))))


def learning_curve_plots(all_settings: Sequence[SettingFolds], files: Mapping[CellKey, CellFiles],
                         plot_dir: Path) -> list[tuple[Path, str]]:
    """``learning_curve_<model>.png`` for each model whose train logs have eval losses, with its caption: a line per
    setting (by effective batch), the mean over its folds."""
    curves: dict[str, dict[str, list[EvalPoint]]] = {}
    for s in sorted(all_settings, key=lambda s: (s.effective_batch, s.label)):
        curve = mean_curve(files[cell_key(r)].eval_curve for r in s.ok if cell_key(r) in files)
        if curve:
            curves.setdefault(s.model, {})[f"eff. batch {s.effective_batch} ({s.label})"] = curve
    return [(eval_loss_curves(model, by_setting, plot_dir / f"learning_curve_{model}.png"),
             LEARNING_CURVE_CAPTION.format(model=model)) for model, by_setting in sorted(curves.items())]


def write_plots(cells: Sequence[CellRecord], files: Mapping[CellKey, CellFiles], plot_dir: Path,
                profiles: Sequence[ModelProfile] = ()) -> list[tuple[Path, str]]:
    """The four plots of PLOTS under ``plot_dir`` (grad-norm traces from each fold-0 cell's train log), then each
    model's learning curve, with their captions."""
    all_settings = group_by_setting(cells)
    speeds = split_speeds(profiles, all_settings)
    traces = {f"{r.model} {split_label(r.batch_size, r.grad_accum)}": files[cell_key(r)].grad_norms
              for r in cells if r.status == "ok" and r.fold == 0 and files.get(cell_key(r), CellFiles()).grad_norms}
    makers = (lambda p: throughput_vs_effective_batch(speeds, p),
              lambda p: memory_vs_batch(speeds, p),
              lambda p: rouge_vs_throughput(all_settings, p),
              lambda p: grad_norm_traces(traces, p))
    return ([(make(plot_dir / name), caption) for make, (name, caption) in zip(makers, PLOTS)]
            + learning_curve_plots(all_settings, files, plot_dir))


def write_report(paths: Sequence[str | Path], out_md: str | Path, title: str = "sumbench summary", *,
                 plan: str | Path | None = None, profiles: Sequence[str | Path] = (),
                 quality: Sequence[str | Path] = ()) -> list[Path]:
    """Read the records and write ``summary.md`` at ``out_md``, ``summary.csv``, ``speed.csv`` and ``plots/``
    beside it. ``paths``: metrics.json files besides those the ``quality`` job records list."""
    plan_record = read_plan(plan) if plan else None
    profile_records = [read_profile(p) for p in profiles]
    jobs = [read_quality_job(q) for q in quality]
    cell_paths = list(dict.fromkeys(Path(p) for p in [*paths, *(c for job in jobs for c in job.cells)]))
    if not cell_paths and not profile_records:
        raise SumbenchError("nothing to report: give metrics.json files, --quality job records or --profiles")
    cells = [read_record(p) for p in cell_paths]
    files = {cell_key(r): read_cell_files(p, r) for p, r in zip(cell_paths, cells)}
    out_md = Path(out_md)
    made = write_plots(cells, files, out_md.parent / "plots", profile_records)
    links = [(path.relative_to(out_md.parent).as_posix(), caption) for path, caption in made]
    curve = learning_curve_plot(cells, out_md.parent / "plots" / "learning_curve.png")  # None without a cap axis
    curve_link = curve.relative_to(out_md.parent).as_posix() if curve else None
    markdown = render_markdown(cells, title, links, curve_link, plan=plan_record, profiles=profile_records, jobs=jobs,
                               dev_scores={k: f.dev_scores for k, f in files.items() if f.dev_scores})
    return [atomic_write_text(out_md.with_suffix(".csv"), render_csv(cells)),
            atomic_write_text(out_md.with_name("speed.csv"), speed_csv(profile_records)),
            *[path for path, _ in made], *([curve] if curve else []),
            atomic_write_text(out_md, markdown)]
