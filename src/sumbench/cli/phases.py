"""``sumbench profile | plan | quality | status | lease``: the two phases of a grid, its plan, and where it stands.

A job gets its grid as one JSON argument (``--grid-json``, what the workflow passes: the config after every
``--config`` override), or by name from a config file (``--grid NAME [--config FILE]``, for a user at a shell).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sumbench.errors import SumbenchError


def grid_of(args: argparse.Namespace):
    """The grid a job runs: ``--grid-json`` (the workflow's), else grid ``args.grid`` of ``--config``."""
    from sumbench.config.grid import Grid, grid_from_file

    if getattr(args, "grid_json", None):
        return Grid.from_json(args.grid_json)
    return grid_from_file(args.config, args.grid)


def _profile(args: argparse.Namespace) -> int:
    from sumbench.training.distributed import world
    from sumbench.training.profile import ProfileJob, run_profile

    job = ProfileJob(grid=grid_of(args), model=args.model, data=Path(args.data), out=Path(args.out),
                     overrides=tuple(args.overrides) + ((f"pretrained={args.base}",) if args.base else ()),
                     models_dir=Path(args.models_dir) if args.models_dir else None, threads=args.threads)
    record = run_profile(job)
    ok = sum(s.status == "ok" and not s.remeasured for s in record.splits)
    if world().main:  # one line however many processes trained
        print(f"{args.out}: {ok}/{len(job.grid.splits())} splits ok, GA check {record.ga_check.status}")
    return 0


def _train_dev_counts(text: str) -> tuple[int, int]:
    """``TRAIN,DEV`` row counts, each a positive integer."""
    try:
        train, dev = (int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected TRAIN,DEV row counts, e.g. 12457,499") from None
    if train < 1 or dev < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: row counts must be positive")
    return train, dev


def _gpu_counts(text: str) -> list[int]:
    """``N[,M...]`` GPU counts, each a positive integer."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected GPU counts, e.g. 1,8,32") from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: GPU counts must be positive")
    return counts


def _plan(args: argparse.Namespace) -> int:
    import dataclasses

    from sumbench.planning.build import plan_grid
    from sumbench.planning.jobs import JobSettings
    from sumbench.report.plan import render_plan

    grid = grid_of(args)
    stated = {k: v for k, v in (("grouping", args.grouping), ("max_job_hours", args.max_job_hours),
                                ("gpus", args.cluster_gpus)) if v is not None}
    if stated:
        grid = dataclasses.replace(grid, quality_jobs={**grid.quality_jobs, **stated})
        JobSettings.from_config(grid.quality_jobs)
    plan = plan_grid(grid, profiles=[Path(p) for p in args.profiles], throughput=args.throughput,
                     data=Path(args.data) if args.data else None, examples=args.examples, models_dir=args.models_dir,
                     gpus=args.gpus)
    text = "\n".join(render_plan(plan))
    if args.out:
        plan.write(args.out)
        from sumbench.io import atomic_write_text

        atomic_write_text(Path(args.out).with_suffix(".md"), text + "\n")
    print(text)
    return 0


def _quality(args: argparse.Namespace) -> int:
    from sumbench.records.plan import read_plan
    from sumbench.training.distributed import world
    from sumbench.training.quality import QualityJob, run_quality

    plan = read_plan(args.plan)
    job = QualityJob(plan=plan, grid=grid_of(args), model=args.model, index=args.job, data=Path(args.data),
                     out=Path(args.out), base=args.base, models_dir=Path(args.models_dir) if args.models_dir else None,
                     threads=args.threads)
    record = run_quality(job)
    if world().main:
        print(f"{args.out}: {len(record.cells)} cells ({record.resumed} kept from an earlier run)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from sumbench.planning.status import grid_status, render_status

    print(render_status(grid_status(grid_of(args), Path(args.results))))
    return 0


def _lease(args: argparse.Namespace) -> int:
    """Run a command on leased GPUs: the lease is held by this process while the command (e.g. ``torchrun``,
    whose ranks must not lease GPUs of their own) runs; the command sees only them and trusts the lease."""
    import os
    import subprocess

    from sumbench.training.lease import LEASED_ENV, DeviceLease

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SumbenchError("sumbench lease: give the command after `--`, e.g. -- torchrun ...")
    lease = DeviceLease.acquire(args.gpus)
    env = dict(os.environ)
    if lease.gpus:
        env[LEASED_ENV] = ",".join(lease.gpus)
    try:
        return subprocess.call(command, env=env)
    finally:
        lease.release()


def _grid_arguments(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument("grid", nargs=None if required else "?", default="quick_test",
                   help="grid name in --config (default: quick_test)")
    p.add_argument("--config", default="configs/config.yaml", help="workflow config (default: configs/config.yaml)")
    p.add_argument("--grid-json", default=None, help="the grid as one JSON object (what the workflow passes)")


def _model_job_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """What a profile or quality job (one model of a grid) needs besides its grid."""
    _grid_arguments(p)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="folder written by `sumbench data split`")
    p.add_argument("--out", required=True, help=out)
    p.add_argument("--base", default=None, help="pretrained directory or hub id (same as --set pretrained=...)")
    p.add_argument("--models-dir", default=None)
    p.add_argument("--threads", type=int, default=None)


def add_parsers(sub) -> None:
    pr = sub.add_parser("profile", help="profile phase of one model: every bs x ga split briefly timed, in one process")
    _model_job_arguments(pr, "the profile record (profile/<model>.json)")
    pr.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    pr.set_defaults(func=_profile)

    pl = sub.add_parser("plan", help="what the quality phase trains and costs: jobs, steps, samples, GPU-hours "
                                     "(naive and planned), and the budget's trade-offs")
    _grid_arguments(pl)
    pl.add_argument("--throughput", default=None, metavar="FILE",
                    help="samples/s per model and split from earlier runs (YAML: model: {bs8_ga2: 4.8})")
    pl.add_argument("--profiles", nargs="*", default=[], help="profile records (after the profile phase)")
    pl.add_argument("--data", default=None, help="folder written by `sumbench data split` (exact example counts)")
    pl.add_argument("--examples", type=_train_dev_counts, default=None, metavar="TRAIN,DEV",
                    help="training and dev rows, before the CSVs are here (e.g. 12457,499); folds are dealt as "
                         "`sumbench data split` would")
    pl.add_argument("--gpus", type=_gpu_counts, default=None, metavar="N[,M...]",
                    help="state the predicted wall time of both phases on N GPUs (list scheduling of the planned jobs)")
    pl.add_argument("--grouping", choices=["per_model", "fit"], default=None,
                    help="quality jobs: one per model, or packed to fit --max-job-hours (default: the grid's)")
    pl.add_argument("--max-job-hours", type=float, default=None, metavar="H",
                    help="no quality job asks for more than H hours (the partition's MaxTime; default: the grid's)")
    pl.add_argument("--cluster-gpus", type=int, default=None, metavar="N",
                    help="fit: split quality jobs until each is at most the grid's work / N (default: the grid's)")
    pl.add_argument("--models-dir", default=None)
    pl.add_argument("--out", default=None, help="write plan.json (and plan.md beside it)")
    pl.set_defaults(func=_plan)

    q = sub.add_parser("quality", help="one quality job of a model: each of its planned cells trained, evaluated, "
                                       "recorded")
    _model_job_arguments(q, "the job's record (quality/<model>/job<N>.json)")
    q.add_argument("--job", type=int, default=0, help="which of the model's planned jobs (plan.json jobs; default 0)")
    q.add_argument("--plan", required=True, help="plan.json (sumbench plan --out)")
    q.set_defaults(func=_quality)

    le = sub.add_parser("lease", help="run a command on N leased GPUs (multi-GPU jobs: no two jobs share a GPU)")
    le.add_argument("--gpus", type=int, required=True)
    le.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND... e.g. -- torchrun ...")
    le.set_defaults(func=_lease)

    st = sub.add_parser("status", help="done / running / pending jobs of both phases and the predicted time left")
    _grid_arguments(st)
    st.add_argument("--results", default=".", help="the workflow directory holding results/ (default: .)")
    st.set_defaults(func=_status)
