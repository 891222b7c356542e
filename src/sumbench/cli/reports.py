"""``sumbench report | diff``: a grid's records into its report; two cells side by side."""

from __future__ import annotations

import argparse


def _report(args: argparse.Namespace) -> int:
    from sumbench.report.summary import write_report

    for path in write_report(args.records, out_md=args.out, title=args.title, plan=args.plan, profiles=args.profiles,
                             quality=args.quality):
        print(path)
    return 0


def _diff(args: argparse.Namespace) -> int:
    from sumbench.report.diff import diff_runs

    print(diff_runs(args.run_a, args.run_b), end="")
    return 0


def add_parsers(sub) -> None:
    df = sub.add_parser("diff", help="settings that differ between two cells and their measured effect",
                        description="Settings that differ between two cells and their measured effect (B vs A), "
                                    "with the 95 % interval of the dev ROUGE-Sum difference B - A: a seeded paired "
                                    "bootstrap over the dev examples in each cell's predictions.jsonl.")
    df.add_argument("run_a", help="a cell folder or its metrics.json")
    df.add_argument("run_b", help="the other cell, B: differences read B - A")
    df.set_defaults(func=_diff)

    r = sub.add_parser("report", help="a grid's records into summary.md, summary.csv, speed.csv and plots/")
    r.add_argument("records", nargs="*", help="metrics.json files (ad hoc; the workflow's cells come from --quality)")
    r.add_argument("--plan", default=None, help="plan.json: predicted vs measured time, the plan section")
    r.add_argument("--profiles", nargs="*", default=[], help="profile records (profile/<model>.json): speed tables")
    r.add_argument("--quality", nargs="*", default=[],
                   help="quality job records (quality/<model>/job<N>.json); the metrics.json files they list are read")
    r.add_argument("--out", required=True, help="summary.md path (summary.csv, speed.csv and plots/ go beside it)")
    r.add_argument("--title", default="sumbench summary")
    r.set_defaults(func=_report)
