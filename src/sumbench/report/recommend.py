"""The recommended setting of one model: the fastest (samples/s) that is no worse than the best ROUGE-Sum and
whose memory fraction is below MEMORY_LIMIT_FRACTION (the figure the saturation finding reads too).

*No worse than the best*: the 95 % interval of the mean dev ROUGE-Sum difference, candidate − best, includes 0
or lies above it. The interval is a seeded bootstrap over the dev examples, paired by fname, and over the folds
both settings finished (:mod:`sumbench.report.intervals`), so a rebuilt report states the same interval. Where
some setting of the model has no per-example dev scores (records written before predictions carried them), the
rule falls back to fold noise, within one standard deviation over folds of the best mean, and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from sumbench.records import BYTES_PER_MIB
from sumbench.report.cellfiles import CellKey, setting_scores
from sumbench.report.diagnostics import MEMORY_LIMIT_FRACTION
from sumbench.report.folds import SettingFolds
from sumbench.report.intervals import Interval, no_worse_than, shared_bootstrap

DevScores = Mapping[CellKey, Mapping[str, float]]  # a cell's dev scores: fname -> ROUGE-Sum, primary analyzer


@dataclass(frozen=True)
class Recommendation:
    setting: SettingFolds | None  # None: nothing qualifies, and the reason says why
    reason: str
    # candidate − best that decided it: the pick's, or when the best is the pick, the fastest setting it ruled out;
    # None under the 1-std rule or when nothing was compared
    interval: Interval | None = None


def recommend(model_settings: Sequence[SettingFolds], dev_scores: DevScores | None = None) -> Recommendation:
    """The recommendation among one model's settings; ``dev_scores`` holds each cell's per-example dev ROUGE-Sum,
    keyed by :func:`~sumbench.report.cellfiles.cell_key`."""
    scored = [s for s in model_settings if s.mean("rouge_sum") is not None and s.median("samples_per_s")]
    if not scored:
        return Recommendation(None, "no setting finished with a ROUGE score")
    best = max(scored, key=lambda s: s.mean("rouge_sum"))
    fits = sorted((s for s in scored if (s.memory_fraction() or 0.0) < MEMORY_LIMIT_FRACTION),
                  key=lambda s: s.median("samples_per_s"), reverse=True)  # fastest first
    dev_scores = dev_scores or {}
    unscored = [s.label for s in scored
                if not set(s.by_fold("rouge_sum")) <= set(setting_scores(s.ok, dev_scores))]
    if not unscored:
        return _by_interval(best, fits, dev_scores)
    missing = "" if len(scored) == 1 else "; 1-std rule, not a bootstrap interval: " + (
        "no per-example dev scores" if len(unscored) == len(scored) else
        f"no per-example dev scores for {', '.join(unscored)}")
    return _by_fold_noise(best, fits, missing)


def _by_interval(best: SettingFolds, fits: list[SettingFolds], dev_scores: DevScores) -> Recommendation:
    """The first of ``fits`` (fastest first) whose interval against the best does not show a loss. A setting that
    shares no fold or dev example with the best cannot show it is no worse, and is passed over."""
    best_scores, best_mean = setting_scores(best.ok, dev_scores), best.mean("rouge_sum")
    ruled_out: list[tuple[SettingFolds, Interval]] = []  # faster settings whose interval shows a loss
    for s in fits:
        if s is best and not ruled_out:
            return Recommendation(s, _reason(s, f"the best ROUGE-Sum, {best_mean:.3f}"))
        if s is best:
            faster, interval = ruled_out[0]
            return Recommendation(s, _reason(s, f"the best ROUGE-Sum, {best_mean:.3f}; the faster {faster.label} "
                                                f"loses ROUGE-Sum against it: {interval.difference:+.3f}, "
                                                f"{interval.describe()}"), interval)
        interval = shared_bootstrap(setting_scores(s.ok, dev_scores), best_scores)
        if interval is None:
            continue
        if no_worse_than(interval):
            return Recommendation(s, _reason(s, f"the fastest setting no worse than the best ({best.label} at "
                                                f"{best_mean:.3f}): ROUGE-Sum {interval.difference:+.3f} vs the best, "
                                                f"{interval.describe()}"), interval)
        ruled_out.append((s, interval))
    return Recommendation(None, f"no setting below {MEMORY_LIMIT_FRACTION:.0%} of device memory is no worse than "
                                f"the best ({best.label})")


def _by_fold_noise(best: SettingFolds, fits: list[SettingFolds], missing: str) -> Recommendation:
    """The fastest of ``fits`` whose mean ROUGE-Sum is at least the best's mean minus one std over folds;
    ``missing`` says why the rule is this one."""
    floor = best.mean("rouge_sum") - best.std("rouge_sum")
    candidates = [s for s in fits if s.mean("rouge_sum") >= floor]
    if not candidates:
        return Recommendation(None, f"no setting below {MEMORY_LIMIT_FRACTION:.0%} of device memory is within fold "
                                    f"noise of the best ({best.label})")
    pick = candidates[0]
    noise = f"within 1 std ({best.std('rouge_sum'):.3f}) of the best, {best.label} at {best.mean('rouge_sum'):.3f}" \
        if pick is not best else "the best ROUGE-Sum"
    return Recommendation(pick, _reason(pick, f"the fastest of {len(candidates)} setting(s) whose ROUGE-Sum "
                                              f"{pick.mean('rouge_sum'):.3f} is {noise}") + missing)


def _reason(pick: SettingFolds, why: str) -> str:
    mem, peak = pick.memory_fraction(), pick.peak_memory()
    return (f"{pick.median('samples_per_s'):.1f} samples/s, {why}"
            + (f"; peak memory {peak / BYTES_PER_MIB:,.0f} MiB" if peak is not None else "")
            + (f"; memory {mem:.0%} of the device" if mem is not None else ""))
