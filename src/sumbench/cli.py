"""The ``sumbench`` command line. Each subcommand is a thin call into the package.

Heavy imports (torch, transformers, kiwipiepy) happen inside the handlers so that
``sumbench data check`` answers in well under a second.
"""

from __future__ import annotations

import argparse
import json
import sys

from sumbench.errors import SumbenchError


def _data_check(args: argparse.Namespace) -> int:
    from sumbench.data.corpus import check_file

    print(check_file(args.file, require_summary=not args.test))
    return 0


def _data_synth(args: argparse.Namespace) -> int:
    from sumbench.data.synth import write_corpus

    for path in write_corpus(args.out, n=args.n, seed=args.seed, dev_n=args.dev_n):
        print(path)
    return 0


def _data_augment(args: argparse.Namespace) -> int:
    from sumbench.config.augment import AugmentSettings
    from sumbench.data.trainset import prepare_train_set

    overrides = args.overrides + ([] if args.ratio is None else [f"ratio={args.ratio}"])
    settings = AugmentSettings.parse(args.settings, "--settings/--ratio/--set", overrides)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for path in prepare_train_set(args.data, args.fold, args.augmentation, max_train_samples=args.max_train_samples,
                                  seed=args.seed, settings=settings, out_dir=args.out):
        print(path)
    return 0


def _data_split(args: argparse.Namespace) -> int:
    from sumbench.data.split import write_folds

    for path in write_folds(args.train, args.dev, k=args.k, seed=args.seed, out_dir=args.out):
        print(path)
    return 0


def _score(args: argparse.Namespace) -> int:
    from sumbench.evaluation.rouge import score_files

    report = score_files(args.pred, args.ref, analyzers=args.analyzers, aggregation=args.aggregation).as_dict()
    if not args.per_example:
        del report["per_example"]
    print(json.dumps(report, ensure_ascii=False))
    return 0


# ------------------------------------------------------------------------------ training (sumbench.training)
def _train(args: argparse.Namespace) -> int:
    from sumbench.training.cell import run_cell

    record = run_cell(cell_from_args(args)).to_dict()
    print(json.dumps({k: record[k] for k in ("status", "model", "rouge_sum", "samples_per_s")}, ensure_ascii=False))
    return 0


def cell_from_args(args: argparse.Namespace):
    """The :class:`~sumbench.training.cell.Cell` that ``sumbench train`` options describe."""
    from pathlib import Path

    from sumbench.training.cell import Cell

    overrides = list(args.overrides) + ([f"pretrained={args.base}"] if args.base else [])
    seed, settings = _data_seed_and_settings(args)
    return Cell(model=args.model, batch_size=args.batch_size, grad_accum=args.grad_accum, fold=args.fold,
                data=Path(args.data), out=Path(args.out), max_steps=args.max_steps,
                max_train_samples=args.max_train_samples, max_eval_samples=args.max_eval_samples,
                warmup_steps=args.warmup_steps, augmentation=args.augmentation, overrides=tuple(overrides),
                threads=args.threads, repeats=args.repeats,
                models_dir=Path(args.models_dir) if args.models_dir else None,
                train_csv=Path(args.train_csv) if args.train_csv else None, seed=seed, augment_settings=settings,
                progress_every=args.progress_every)


def _data_seed_and_settings(args: argparse.Namespace):
    """``--seed`` and ``--augment-settings``; what either leaves out comes from ``--grid``, else the defaults."""
    from sumbench.config.augment import AugmentSettings
    from sumbench.config.grid import DATA_SEED

    grid = _grid(args.config, args.grid) if args.grid else None
    seed = args.seed if args.seed is not None else grid.seed if grid else DATA_SEED
    if args.augment_settings is not None:
        return seed, AugmentSettings.parse(args.augment_settings, "--augment-settings")
    if grid is not None:
        return seed, AugmentSettings.from_config(grid.augment, f"{args.config}: grids.{grid.name}.augment")
    return seed, None


def _grid(config: str, name: str):
    import yaml

    from sumbench.config.grid import load_grids

    try:
        with open(config, encoding="utf-8") as fh:
            grids = load_grids(yaml.safe_load(fh), source=config)
    except (OSError, yaml.YAMLError) as exc:
        raise SumbenchError(f"{config}: not a readable workflow config ({exc})".splitlines()[0]) from None
    if name not in grids:
        raise SumbenchError(f"{config}: no grid {name!r} (grids: {', '.join(grids)})")
    return grids[name]


def _warmstart(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sumbench.config.model import load_model
    from sumbench.training.warmstart import warmstart

    spec = load_model(args.model, overrides=args.overrides, **({"models_dir": Path(args.models_dir)}
                                                              if args.models_dir else {}))
    print(warmstart(spec, Path(args.train), Path(args.out), steps=args.steps, threads=args.threads))
    return 0


def _add_train_parsers(sub) -> None:
    from sumbench.config.schema import REPO_ROOT
    from sumbench.config.grid import DATA_SEED
    from sumbench.training.cell import TIMING_WARMUP_STEPS

    p = sub.add_parser("train", help="train and evaluate one grid cell; writes metrics.json, train_log.jsonl, predictions.jsonl")
    p.add_argument("--model", required=True, help="model name (configs/models/<name>.yaml)")
    p.add_argument("--batch-size", type=int, required=True, help="per-device micro-batch size")
    p.add_argument("--grad-accum", type=int, required=True, help="micro-batches per optimizer step")
    p.add_argument("--fold", type=int, required=True, help="fold index (data/fold<K>/)")
    p.add_argument("--out", required=True, help="cell folder for metrics.json, train_log.jsonl, predictions.jsonl")
    p.add_argument("--data", default="data", help="folder written by `sumbench data split` (default: data)")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default: training.epochs)")
    p.add_argument("--max-train-samples", type=int, default=None, help="cap on original training examples")
    p.add_argument("--max-eval-samples", type=int, default=None, help="cap on held-out and dev examples")
    p.add_argument("--warmup-steps", type=int, default=TIMING_WARMUP_STEPS, help="steps left out of timing")
    p.add_argument("--augmentation", default="none",
                   help="augmentation methods joined by +, e.g. speaker_swap+synonym (default: none)")
    p.add_argument("--seed", type=int, default=None,
                   help=f"data seed of the cap and the augmentation, as a grid's `seed` (default: --grid's, else "
                        f"{DATA_SEED}); with --train-csv only recorded, the file was made with its own seed")
    p.add_argument("--augment-settings", default=None, metavar="JSON_OR_YAML_OR_FILE",
                   help="augmentation settings as a grid's `augment:` section (default: --grid's, else the defaults)")
    p.add_argument("--grid", default=None, metavar="NAME",
                   help="take --seed and --augment-settings from this grid of --config, to train as its cell does")
    p.add_argument("--config", default=str(REPO_ROOT / "configs" / "config.yaml"),
                   help="workflow config that --grid names a grid of (default: configs/config.yaml)")
    p.add_argument("--train-csv", default=None,
                   help="training set written by `sumbench data augment`, already capped and augmented (the "
                        "workflow's way)")
    p.add_argument("--base", default=None, help="pretrained directory or hub id (same as --set pretrained=...)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model-YAML key, e.g. --set training.learning_rate=1e-4 (repeatable)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--models-dir", default=None, help="folder of model YAMLs (default: configs/models)")
    p.add_argument("--repeats", type=int, default=1, help="run the timing phase N times and report the spread")
    p.add_argument("--progress-every", type=int, default=None, metavar="N",
                   help="a progress line (step, loss, grad norm, samples/s, ETA) every N optimizer steps "
                        "(default: every ~36 s of training)")
    p.set_defaults(func=_train)

    w = sub.add_parser("warmstart", help="pre-train a tiny twin on a corpus once (cached), so the grid fine-tunes a model that already summarizes")
    w.add_argument("--model", required=True, help="a tiny model name (configs/models/<name>.yaml with `tiny:`)")
    w.add_argument("--train", required=True, help="the grid's train.csv (its text joins the tokenizer corpus)")
    w.add_argument("--out", required=True, help="directory to save_pretrained the warm-started twin into")
    w.add_argument("--steps", type=int, default=None, help="override tiny.warmstart_steps")
    w.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    w.add_argument("--threads", type=int, default=None)
    w.add_argument("--models-dir", default=None)
    w.set_defaults(func=_warmstart)


def _report(args: argparse.Namespace) -> int:
    from sumbench.report.summary import write_report

    for path in write_report(args.records, out_md=args.out, title=args.title, plan=args.plan, profiles=args.profiles,
                             quality=args.quality):
        print(path)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from sumbench.config.model import load_model
    from sumbench.doctor import render, run_doctor

    spec = load_model(args.model, overrides=args.overrides)
    checks = run_doctor(spec, args.data)
    print(render(checks, args.model))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _diff(args: argparse.Namespace) -> int:
    from sumbench.report.diff import diff_runs

    print(diff_runs(args.run_a, args.run_b), end="")
    return 0


# ------------------------------------------------------------------------------ images (sumbench.containers)
def _image_needs(models_dir: str | None, only: list[str] | None = None):
    from sumbench.config.model import DEFAULT_MODELS_DIR, load_model, model_files
    from sumbench.containers.images import images_needed

    folder = models_dir or DEFAULT_MODELS_DIR
    specs = [load_model(name, folder) for name in model_files(folder)]
    unknown = sorted(set(only or ()) - {s.name for s in specs})
    if unknown:
        raise SumbenchError(f"unknown model {unknown[0]!r}: no {unknown[0]}.yaml under {folder}")
    needs = images_needed(s for s in specs if s.container)
    return [n for n in needs if not only or set(n.models) & set(only)]


def _images_list(args: argparse.Namespace) -> int:
    from sumbench.containers.images import DockerUnavailable, connect, format_table, list_rows

    needs = _image_needs(args.models_dir)
    try:
        client = connect()
    except DockerUnavailable:
        print(format_table(list_rows(needs)))  # the mapping still helps; LOCAL is unknown
        raise
    print(format_table(list_rows(needs, client)))
    return 0


def _images_build(args: argparse.Namespace) -> int:
    from sumbench.containers.images import build_image, connect, parse_build_args

    build_args = parse_build_args(args.build_arg)
    needs = _image_needs(args.models_dir, args.model)
    client = connect()
    for need in needs:
        build_image(client, need, base_image=args.base_image, build_args=build_args,
                    extras={} if args.no_extras else None, echo=lambda line: print(line, flush=True))
    return 0


def _images_run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from sumbench.config.model import DEFAULT_MODELS_DIR, load_model
    from sumbench.containers.images import connect
    from sumbench.containers.jobs import host_gpu_count, plan_run, run_in_image

    from sumbench.training.lease import DeviceLease

    command = args.job[1:] if args.job[:1] == ["--"] else args.job
    spec = load_model(args.model, args.models_dir or DEFAULT_MODELS_DIR)
    host_gpus = host_gpu_count()
    # the host side leases the GPUs (held while the container runs): no two jobs' containers share one
    lease = DeviceLease.acquire(min(spec.resources.gpus, host_gpus), environ=dict(os.environ))
    plan = plan_run(spec, command, workdir=Path.cwd(), environ=os.environ, uid=os.getuid(), gid=os.getgid(),
                    host_gpus=host_gpus, models_dir=Path(args.models_dir or DEFAULT_MODELS_DIR), gpu_ids=lease.gpus)
    return run_in_image(connect(), plan, sys.stdout.buffer)


def _add_images_parser(sub) -> None:
    images = sub.add_parser("images", help="the per-model Docker images: list, build, run a job inside one")
    isub = images.add_subparsers(dest="images_command", required=True)
    ls = isub.add_parser("list", help="which model needs which image, and whether it is built here")
    ls.add_argument("--models-dir", default=None, help="folder of model YAMLs (default: configs/models)")
    ls.set_defaults(func=_images_list)
    b = isub.add_parser("build", help="build and tag the images the model YAMLs name (docker SDK, output shown)")
    b.add_argument("--model", action="append", default=None, help="only this model's image (repeatable)")
    b.add_argument("--base-image", default=None, help="the Dockerfile's BASE_IMAGE (default: a CUDA runtime base)")
    b.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="a Dockerfile ARG (repeatable)")
    b.add_argument("--no-extras", action="store_true",
                   help="leave pip's CA bundle and local torch wheels out of the build context")
    b.add_argument("--models-dir", default=None)
    b.set_defaults(func=_images_build)
    r = isub.add_parser("run", help="run a job command inside a model's image (the workflow's runtime: docker)")
    r.add_argument("--model", required=True, help="the model whose image to use (configs/models/<name>.yaml)")
    r.add_argument("--models-dir", default=None)
    r.add_argument("job", nargs=argparse.REMAINDER, help="-- COMMAND... e.g. -- sumbench train --model tiny-bart ...")
    r.set_defaults(func=_images_run)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sumbench", description=__doc__.splitlines()[0])
    from sumbench.config.grid import DATA_SEED

    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="check, synthesize, split and augment dialogue CSVs").add_subparsers(dest="data_command", required=True)
    c = data.add_parser("check", help="validate a competition-layout CSV (fname, dialogue, summary, topic); "
                                      "counts the rows whose text it normalized to Unicode NFC")
    c.add_argument("file")
    c.add_argument("--test", action="store_true", help="a test file: no summary column required")
    c.set_defaults(func=_data_check)
    s = data.add_parser("synth", help="write a deterministic synthetic Korean dialogue corpus (train.csv, dev.csv)")
    s.add_argument("--n", type=int, required=True, help="training rows")
    s.add_argument("--dev-n", type=int, default=None, help="dev rows (default: max(20, n // 10))")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_data_synth)
    sp = data.add_parser("split", help="write seeded k-fold train/held-out CSVs")
    sp.add_argument("--train", required=True)
    sp.add_argument("--dev", required=True)
    sp.add_argument("--k", type=int, required=True)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--out", required=True)
    sp.set_defaults(func=_data_split)
    a = data.add_parser("augment", help="cap then augment one fold's training part -> train.csv + augment.json")
    a.add_argument("--data", required=True, help="folder written by `sumbench data split`")
    a.add_argument("--fold", type=int, required=True)
    a.add_argument("--augmentation", required=True, help="methods joined by +, e.g. speaker_swap+synonym, or none")
    a.add_argument("--max-train-samples", type=int, default=None, help="cap on original examples (applied first)")
    a.add_argument("--settings", default=None, metavar="JSON_OR_YAML_OR_FILE",
                   help="augmentation settings as a grid's `augment:` section: a JSON/YAML string or a YAML/JSON file, "
                        "e.g. '{\"ratio\": 0.5, \"synonym\": {\"p\": 0.3}}'; keys left out keep their defaults")
    a.add_argument("--ratio", type=float, default=None, help="copies per original example, per method (default 0.5)")
    a.add_argument("--seed", type=int, default=DATA_SEED,
                   help=f"seed of the cap and the copies (the workflow: the grid's seed; default {DATA_SEED}, as a grid's)")
    a.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="one setting over --settings, e.g. back_translation.model=DIR or synonym.p=0.2 (repeatable)")
    a.add_argument("--threads", type=int, default=None, help="torch threads (back_translation, paraphrase)")
    a.add_argument("--out", required=True, help="folder for train.csv and augment.json")
    a.set_defaults(func=_data_augment)

    sc = sub.add_parser("score", help="ROUGE-1/2/L F1 on Korean tokens for two files (CSV or JSONL), per analyzer; "
                                      "prints JSON: the first analyzer's scores, and every analyzer's in by_analyzer")
    sc.add_argument("--pred", required=True, help="predictions: a 'prediction' (or 'summary') field per row")
    sc.add_argument("--ref", required=True,
                    help="references: 'summary', 'reference', 'references' or 'summary1', 'summary2', ... per row")
    sc.add_argument("--analyzers", default="kiwi", metavar="NAMES",
                    help="analyzers joined by commas, the first is the primary: kiwi (Kiwi morphemes), mecab "
                         "(Mecab-ko morphemes, as most public solutions), whitespace (words, as the `rouge` 1.0.1 "
                         "package) (default: kiwi)")
    sc.add_argument("--aggregation", choices=("mean", "max"), default="mean",
                    help="over an example's references: mean F1 (the competition's rule) or the best (default: mean)")
    sc.add_argument("--per-example", action="store_true",
                    help="also print per_example: each example's ROUGE-Sum per analyzer, in the predictions' order")
    sc.set_defaults(func=_score)

    _add_train_parsers(sub)

    d = sub.add_parser("doctor", help="check a model for the failures the benchmark exists to catch; exit 1 on a failure")
    d.add_argument("--model", required=True)
    d.add_argument("--data", default=None, help="CSV to check against (default: a synthetic corpus)")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model-YAML key, e.g. --set training.loss_normalization=model")
    d.set_defaults(func=_doctor)
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
                   help="quality job records (quality/<model>.json); the metrics.json files they list are read")
    r.add_argument("--out", required=True, help="summary.md path (summary.csv, speed.csv and plots/ go beside it)")
    r.add_argument("--title", default="sumbench summary")
    r.set_defaults(func=_report)
    _add_images_parser(sub)
    from sumbench.cli_phases import add_phase_parsers
    from sumbench.tracking.cli import add_tracking_parsers

    add_phase_parsers(sub)
    add_tracking_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SumbenchError as exc:
        print(f"sumbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sumbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sumbench data check FILE | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
