"""`snakemake quick_test` from a fresh copy with a cold cache: wall time, per-job fixed overhead, timed windows, ETA.

    python benchmarks/quick_test.py            # about 3 minutes on 2 cores; run it on a quiet machine

Prints:
- wall time of `snakemake quick_test` as typed (the default profile: cores: all), from a copy of this checkout
  with empty results/ and an empty sumbench cache (tokenizers are trained again, tiny twins warm-started again);
- each heavy job's fixed overhead: the seconds it spends before it can work (interpreter start and imports,
  model loading; the Korean analyzers load in a background thread during the imports, and a quality job's
  start-up includes any wait for them) over its wall time, read from the records: a profile job's
  costs.startup_s + costs.load_s; a quality job's startup_s + every cell's load_s; a warm-start job's
  startup_s in warmstart.json;
- whether any two timed windows (profiled splits, quality trainings) overlapped on one device;
- the plan's predicted quality-phase time against the measured one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(".venv", ".git", "results", ".snakemake", "__pycache__", "*.egg-info", ".pytest_cache")


def main() -> int:
    from sumbench.records import read_profile, read_record
    from sumbench.records.plan import read_plan, read_quality_job
    from sumbench.training.lease import Window, windows_overlap

    with tempfile.TemporaryDirectory(prefix="sumbench-quick-test-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(REPO, repo, ignore=IGNORE, symlinks=True)
        env = {**os.environ, "SUMBENCH_CACHE": str(Path(tmp) / "cache")}
        started = time.monotonic()
        proc = subprocess.run(["snakemake", "quick_test"], cwd=repo, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        root = repo / "results" / "quick_test"
        print(f"snakemake quick_test (cold cache, cores: all): {wall:.0f} s wall")

        rows, windows, total_overhead, total_wall = [], [], 0.0, 0.0
        for path in sorted((root / "profile").glob("*.json")):
            p = read_profile(path)
            overhead = (p.costs.startup_s or 0) + (p.costs.load_s or 0)
            rows.append(("profile", p.model, overhead, p.wall_s))
            windows += [Window(s.device, s.window_start, s.window_end, True, 0.0) for s in p.splits if s.window_start]
        for path in sorted((root / "quality").glob("*/job*.json")):
            q = read_quality_job(path)
            cells = [read_record(repo / c) for c in q.cells]
            overhead = (q.startup_s or 0) + sum(c.load_s or 0 for c in cells)
            rows.append(("quality", q.model, overhead, q.wall_s))
            windows += [Window(c.device, c.window_start, c.window_end, True, 0.0) for c in cells if c.window_start]
        for path in sorted((root / "base").glob("*/warmstart.json")):
            info = json.loads(path.read_text(encoding="utf-8"))
            rows.append(("warmstart", info["model"], info["startup_s"], info["wall_s"]))
        print(f"{'job':<10} {'model':<12} {'overhead s':>10} {'wall s':>7} {'share':>6}")
        for kind, model, overhead, job_wall in rows:
            total_overhead, total_wall = total_overhead + overhead, total_wall + job_wall
            print(f"{kind:<10} {model:<12} {overhead:>10.1f} {job_wall:>7.1f} {overhead / job_wall:>6.0%}")
        print(f"{'all':<23} {total_overhead:>10.1f} {total_wall:>7.1f} {total_overhead / total_wall:>6.0%}")

        overlaps = [(a, b) for i, a in enumerate(windows) for b in windows[i + 1:] if windows_overlap(a, b)]
        print(f"timed windows: {len(windows)}, overlapping on one device: {len(overlaps)}")

        plan = read_plan(root / "plan.json")
        jobs = [read_quality_job(p) for p in sorted((root / "quality").glob("*/job*.json"))]
        predicted = sum(m.quality_s or 0 for m in plan.models)
        measured = sum(j.wall_s - j.lock_wait_s for j in jobs)
        print(f"quality phase: predicted {predicted:.0f} s, measured {measured:.0f} s ({measured / predicted - 1:+.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
