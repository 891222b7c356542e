"""``sumbench track`` (a grid's records -> MLflow runs) and ``sumbench pages`` (HTML tables for Snakemake's report)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from sumbench.tracking import DEFAULT_ARTIFACTS, DEFAULT_URI


def _track(args: argparse.Namespace) -> int:
    from sumbench.io import atomic_write_json
    from sumbench.tracking import TrackingSettings
    from sumbench.tracking.mlflow_runs import track_grid

    settings = TrackingSettings(uri=args.uri, artifacts=args.artifacts)
    receipt = track_grid(args.grid, [Path(p) for p in args.profiles], [Path(q) for q in args.quality], settings)
    if args.out:
        atomic_write_json(args.out, dataclasses.asdict(receipt))
    print(receipt.summary())
    return 0


def _pages(args: argparse.Namespace) -> int:
    from sumbench.tracking.pages import write_pages

    for path in write_pages(Path(args.summary_csv), Path(args.speed_csv), [Path(q) for q in args.quality],
                            Path(args.out)):
        print(path)
    return 0


def add_tracking_parsers(sub) -> None:
    t = sub.add_parser("track", help="log a grid's records to MLflow: one run per quality cell and per profiled split; "
                                     "a second pass over the same records adds nothing")
    t.add_argument("--grid", required=True, help="the grid: the MLflow experiment's name")
    t.add_argument("--profiles", nargs="*", default=[], help="profile records (profile/<model>.json)")
    t.add_argument("--quality", nargs="*", default=[],
                   help="quality job records (quality/<model>/job<N>.json); the cells they list are logged")
    t.add_argument("--uri", default=DEFAULT_URI, help=f"MLflow tracking URI (default: {DEFAULT_URI})")
    t.add_argument("--artifacts", default=DEFAULT_ARTIFACTS,
                   help=f"artifact folder of a new experiment in a local store (default: {DEFAULT_ARTIFACTS})")
    t.add_argument("--out", default=None, help="write what was logged (run name -> run id, counts) as JSON")
    t.set_defaults(func=_track)

    p = sub.add_parser("pages", help="HTML tables for Snakemake's report: per-cell records, profiled splits, data "
                                     "statistics")
    p.add_argument("--summary-csv", required=True, help="summary.csv of `sumbench report`")
    p.add_argument("--speed-csv", required=True, help="speed.csv of `sumbench report`")
    p.add_argument("--quality", nargs="*", default=[], help="quality job records (their cells' data statistics)")
    p.add_argument("--out", required=True, help="folder for cells.html, speed.html and data.html")
    p.set_defaults(func=_pages)
