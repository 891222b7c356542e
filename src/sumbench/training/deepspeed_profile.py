"""The DeepSpeed axis of a profile: every split timed under each DeepSpeed setting the model YAML lists, and each
setting proved equivalent to training without DeepSpeed.

DeepSpeed rewires the model it trains (ZeRO-3 partitions the parameters in place; ZeRO-1/2 hook every gradient), so
each run under a setting trains a freshly loaded, whole copy (sumbench.training.models.whole_weights); the plain
splits before it keep the job's loaded model.
Splits run micro-batch first, as the plain ones: an out-of-memory micro-batch prunes every larger one under the same
setting. The equivalence check trains one optimizer step under the setting and one without, on the same examples
from the same weights, dropout off: loss and pre-clip gradient norm must agree within EQUIVALENCE_TOLERANCE
(relative); a setting that differs is a finding (as a non-equivalent gradient accumulation is).
"""

from __future__ import annotations

from typing import Callable

from sumbench.config.deepspeed import DeepSpeedSetting
from sumbench.records import DeepSpeedCheck, SplitProfile

EQUIVALENCE_TOLERANCE = 1e-5  # fp32 gradients, both norms accumulated in fp64: what is left is summation order
CHECK_BATCH_MAX = 8


def profile_settings(spec, tokenizer, features, lease, budget, splits, log: Callable[[str], None],
                     profile_split) -> list[SplitProfile]:
    """Every split under every DeepSpeed setting of ``spec`` (the plain splits are the profile's own).

    ``profile_split(model, bs, ga, setting)``: the profile's one-split run (a SplitProfile, failures included).
    """
    from sumbench.training.models import load_for_training

    out: list[SplitProfile] = []
    for setting in (s for s in spec.deepspeed if s.enabled):
        oom_at = None
        for bs, ga in splits:
            if oom_at is not None and bs >= oom_at:
                out.append(SplitProfile(batch_size=bs, grad_accum=ga, status="skipped", deepspeed=setting.name,
                                        message=f"micro-batch {oom_at} ran out of memory under {setting.name}, "
                                                f"so {bs} would too"))
                continue
            model = load_for_training(spec)[0]
            split = profile_split(model, bs, ga, setting)
            del model
            out.append(split)
            log(f"{split.label}: {split.status}" + (f" {split.samples_per_s:.3g} samples/s, "
                                                    f"{split.s_per_step_median:.3g} s/step, ops loaded before the "
                                                    f"window {split.deepspeed_ops_s or 'none'}"
                                                    if split.status == "ok" else f" ({split.message})"))
            if split.status == "oom":
                oom_at = bs if oom_at is None else min(oom_at, bs)
    return out


def equivalence(spec, fresh, tokenizer, pairs, setting: DeepSpeedSetting, batch_size: int) -> DeepSpeedCheck:
    """One optimizer step at ``batch_size`` (grad accumulation 1) with and without ``setting``, each from a fresh
    copy of the same weights (``fresh()``)."""
    from sumbench.doctor import first_step

    try:
        ref_loss, ref_norm = first_step(spec, fresh, tokenizer, pairs, batch_size, 1)
        loss, norm = first_step(spec, fresh, tokenizer, pairs, batch_size, 1, deepspeed=setting)
    except Exception as exc:  # noqa: BLE001 - a setting that cannot train is a result, the profile goes on
        return DeepSpeedCheck(setting=setting.name, status="error", batch_size=batch_size,
                              detail=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    if norm is None:
        return DeepSpeedCheck(setting=setting.name, status="error", batch_size=batch_size, loss=loss,
                              reference_loss=ref_loss, reference_grad_norm=ref_norm,
                              detail=f"DeepSpeed reports no gradient norm under {setting.name} (its ZeRO stage 0 "
                                     f"computes none), so the gradients cannot be compared")
    worst = max(abs(loss / ref_loss - 1), abs(norm / ref_norm - 1))
    ok = worst <= EQUIVALENCE_TOLERANCE
    detail = (f"loss {loss:.7g} vs {ref_loss:.7g}, grad norm {norm:.7g} vs {ref_norm:.7g} without DeepSpeed "
              f"(largest relative difference {worst:.1e})")
    return DeepSpeedCheck(setting=setting.name, status="pass" if ok else "fail", batch_size=batch_size, loss=loss,
                          grad_norm=norm, reference_loss=ref_loss, reference_grad_norm=ref_norm,
                          tolerance=EQUIVALENCE_TOLERANCE,
                          detail=("same first step as without DeepSpeed: " if ok else "differs from the plain "
                                  "Trainer: ") + detail)


def check_settings(spec, tokenizer, pairs, splits: list[SplitProfile]) -> list[DeepSpeedCheck]:
    """The equivalence check of every DeepSpeed setting of ``spec`` at the largest plain micro-batch that ran (up to
    CHECK_BATCH_MAX)."""
    from sumbench.training.models import load_for_training

    fitting = [s.batch_size for s in splits if s.status == "ok" and s.deepspeed == "off"]
    batch = min(max(fitting), CHECK_BATCH_MAX) if fitting else 1
    return [equivalence(spec, lambda: load_for_training(spec)[0], tokenizer, pairs, s, batch)
            for s in spec.deepspeed if s.enabled]


def doctor_checks(spec, fresh, tokenizer, pairs, splits) -> list:
    """``sumbench doctor``'s checks of each DeepSpeed setting: its batch sizes against every split at this job's
    world size (resources.gpus or cpu_processes), then its equivalence to no DeepSpeed."""
    from sumbench.config.deepspeed import trainer_config
    from sumbench.doctor import Check
    from sumbench.errors import ConfigError
    from sumbench.training.distributed import processes

    out = []
    for setting in (s for s in spec.deepspeed if s.enabled):
        world = processes(spec)
        try:
            for bs, ga in splits:
                trainer_config(setting, batch_size=bs, grad_accum=ga, world_size=world)
            out.append(Check(f"deepspeed {setting.name} batch sizes", "pass",
                             f"agree with {', '.join(f'bs{b}/ga{g}' for b, g in splits)} x {world} process(es)"))
        except ConfigError as exc:
            out.append(Check(f"deepspeed {setting.name} batch sizes", "fail", str(exc)))
            continue
        result = equivalence(spec, fresh, tokenizer, pairs, setting, min(splits)[0])
        out.append(Check(f"deepspeed {setting.name} equivalence", "fail" if result.status == "error" else
                         result.status, result.detail))  # not proven equivalent is not fit for a long run
    return out
