"""The plan's wall time on N GPUs: its jobs list-scheduled, phase after phase.

List scheduling, as a cluster's scheduler and Snakemake's priorities run them: jobs in order, longest first; each
starts as soon as as many GPUs as its model holds are free (the earliest-free ones) and holds them to its end. A CPU
job (0 GPUs) takes one worker. The profile phase (one job per model) ends before the quality phase starts: the plan
is made from every profile record.
"""

from __future__ import annotations

from dataclasses import dataclass

from sumbench.records.plan import PlanRecord, WallTime


@dataclass(frozen=True)
class Task:
    name: str
    seconds: float
    gpus: int


def list_schedule(tasks: list[Task], gpus: int) -> float:
    """Makespan of ``tasks`` on ``gpus`` devices, longest first (ties in the given order)."""
    free = [0.0] * gpus  # when each device is next free
    end = 0.0
    for t in sorted(tasks, key=lambda t: -t.seconds):
        need = max(1, t.gpus)
        if need > gpus:
            raise ValueError(f"{t.name} needs {need} GPUs, more than {gpus}")
        chosen = sorted(range(gpus), key=lambda d: (free[d], d))[:need]
        start = max(free[d] for d in chosen)
        for d in chosen:
            free[d] = start + t.seconds
        end = max(end, start + t.seconds)
    return end


def _phase(tasks: list[Task | None], gpus: int, what: str) -> tuple[float | None, str]:
    if any(t is None for t in tasks):
        return None, f"a {what} job's time is unknown"
    try:
        return list_schedule([t for t in tasks if t is not None], gpus), ""
    except ValueError as exc:
        return None, str(exc)


def wall_time(plan: PlanRecord, gpus: int) -> WallTime:
    """Predicted wall time of the plan's profile and quality phases on ``gpus`` GPUs."""
    slots = {j.model: j.gpus for j in plan.jobs}
    profiles = [None if m.profile_s is None else Task(f"profile {m.model}", m.profile_s, slots.get(m.model, 1))
                for m in plan.models]
    quality = [None if j.predicted_s is None else Task(f"quality {j.model}/{j.index}", j.predicted_s, j.gpus)
               for j in plan.jobs]
    profile_s, why_p = _phase(profiles, gpus, "profile")
    quality_s, why_q = _phase(quality, gpus, "quality")
    return WallTime(gpus=gpus, profile_s=profile_s, quality_s=quality_s, why="; ".join(w for w in (why_p, why_q) if w))
