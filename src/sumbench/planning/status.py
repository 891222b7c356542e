"""``sumbench status GRID``: the jobs of both phases — done, running or pending — and the predicted time left.

Read from what the jobs write: a profile job is done when its record exists; a quality job when its job
record exists, and it is running while one of its cells' ``progress.json`` was updated in the last
``STALE_S`` seconds by a live process on this host. Time left = the ETA of running trainings + the plan's
prediction for cells not started (or, before the plan, nothing known).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from sumbench.config.grid import Grid
from sumbench.errors import SumbenchError
from sumbench.records import cap_label
from sumbench.records.plan import read_plan

STALE_S = 300.0


@dataclass(frozen=True)
class JobState:
    phase: str  # profile | quality
    model: str
    state: str  # done | running | pending
    detail: str
    left_s: float | None  # predicted seconds left (0 when done; None unknown)


def _alive(progress: dict) -> bool:
    if time.time() - progress.get("updated", 0) > STALE_S:
        return False
    if progress.get("host") != socket.gethostname():
        return True  # another node: trust the fresh timestamp
    try:
        os.kill(int(progress.get("pid", -1)), 0)
    except (OSError, ValueError):
        return False
    return True


def grid_status(grid: Grid, workdir: Path = Path(".")) -> list[JobState]:
    root = workdir / grid.root
    states = []
    for m in grid.models:
        done = (root / "profile" / f"{m}.json").exists()
        states.append(JobState("profile", m, "done" if done else "pending", "", 0.0 if done else None))
    plan_path = root / "plan.json"
    if not plan_path.exists():
        return states + [JobState("quality", m, "pending", "waits for the plan (after every profile)", None)
                         for m in grid.models]
    try:
        plan = read_plan(plan_path)
    except SumbenchError:
        return states
    for m in grid.models:
        cells = [c for c in plan.cells if c.model == m]
        if not cells:
            states.append(JobState("quality", m, "done", "no cells planned", 0.0))
            continue
        finished, running, left = 0, None, 0.0
        for c in cells:
            out = workdir / grid.cell_dir(m, c.augmentation, cap_label(c.max_train_samples), c.batch_size,
                                          c.grad_accum, c.fold)
            if (out / "metrics.json").exists():
                finished += 1
                continue
            progress_file = out / "progress.json"
            progress = json.loads(progress_file.read_text()) if progress_file.exists() else None
            if progress and _alive(progress) and running is None:
                running = progress
                left += progress.get("eta_s") or 0.0
            else:
                left = left + c.predicted_s if c.predicted_s is not None and left is not None else None
        jobs = [root / "quality" / m / f"job{j.index}.json" for j in plan.jobs if j.model == m]
        if (jobs and all(p.exists() for p in jobs)) or finished == len(cells):
            states.append(JobState("quality", m, "done", f"{len(cells)} cells", 0.0))
        elif running:
            states.append(JobState("quality", m, "running", f"cell {finished + 1}/{len(cells)}: {running['label']} "
                                   f"step {running['step']}/{running['total']}", left))
        else:
            states.append(JobState("quality", m, "pending", f"{finished}/{len(cells)} cells done", left))
    return states


def render_status(states: list[JobState]) -> str:
    from sumbench.training.progress import format_duration

    lines = [f"{'phase':<8} {'model':<24} {'state':<8} {'left':>9}  detail"]
    for s in states:
        left = "?" if s.left_s is None else format_duration(s.left_s)
        lines.append(f"{s.phase:<8} {s.model:<24} {s.state:<8} {left:>9}  {s.detail}")
    known = [s.left_s for s in states if s.state != "done"]
    total = None if any(v is None for v in known) else sum(known)
    done = sum(s.state == "done" for s in states)
    lines.append(f"{done}/{len(states)} jobs done; predicted time left: "
                 + ("unknown until the plan has throughputs" if total is None else format_duration(total)))
    return "\n".join(lines)
