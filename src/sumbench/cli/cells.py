"""``sumbench train | warmstart | doctor | score``: one cell by hand, a tiny twin's warm start, the checks before a
long run, and ROUGE of any two files."""

from __future__ import annotations

import argparse
import json


def _score(args: argparse.Namespace) -> int:
    from sumbench.evaluation.rouge import score_files

    report = score_files(args.pred, args.ref, analyzers=args.analyzers, aggregation=args.aggregation).as_dict()
    if not args.per_example:
        del report["per_example"]
    print(json.dumps(report, ensure_ascii=False))
    return 0


def _train(args: argparse.Namespace) -> int:
    from sumbench.training.cell import run_cell
    from sumbench.training.distributed import world

    record = run_cell(cell_from_args(args)).to_dict()
    if world().main:  # one line however many processes trained the cell
        print(json.dumps({k: record[k] for k in ("status", "model", "rouge_sum", "samples_per_s")},
                         ensure_ascii=False))
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
                progress_every=args.progress_every, deepspeed=args.deepspeed)


def _data_seed_and_settings(args: argparse.Namespace):
    """``--seed`` and ``--augment-settings``; what either leaves out comes from ``--grid``, else the defaults."""
    from sumbench.config.augment import AugmentSettings
    from sumbench.config.grid import DATA_SEED, grid_from_file

    grid = grid_from_file(args.config, args.grid) if args.grid else None
    seed = args.seed if args.seed is not None else grid.seed if grid else DATA_SEED
    if args.augment_settings is not None:
        return seed, AugmentSettings.parse(args.augment_settings, "--augment-settings")
    if grid is not None:
        return seed, AugmentSettings.from_config(grid.augment, f"{args.config}: grids.{grid.name}.augment")
    return seed, None


def _warmstart(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sumbench.config.model import load_model
    from sumbench.training.warmstart import warmstart

    spec = load_model(args.model, overrides=args.overrides, **({"models_dir": Path(args.models_dir)}
                                                              if args.models_dir else {}))
    print(warmstart(spec, Path(args.train), Path(args.out), steps=args.steps, threads=args.threads))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from sumbench.config.model import load_model
    from sumbench.doctor import render, run_doctor

    spec = load_model(args.model, overrides=args.overrides)
    checks = run_doctor(spec, args.data, splits=[(b, g) for b in args.batch_sizes for g in args.grad_accums])
    print(render(checks, args.model))
    return 1 if any(c.status == "fail" for c in checks) else 0


def add_parsers(sub) -> None:
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
    p.add_argument("--deepspeed", default="off", metavar="SETTING",
                   help="train through DeepSpeed: zero1/zero2/zero3, optionally +optimizer and/or +params (offload "
                        "to the CPU), or the path of a DeepSpeed JSON/YAML (\"auto\" values filled by the Trainer); "
                        "default: off")
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
    d = sub.add_parser("doctor", help="check a model for the failures the benchmark exists to catch; exit 1 on a failure")
    d.add_argument("--model", required=True)
    d.add_argument("--data", default=None, help="CSV to check against (default: a synthetic corpus)")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model-YAML key, e.g. --set training.loss_normalization=model")
    d.add_argument("--batch-sizes", type=int, nargs="+", default=[8], metavar="B",
                   help="micro-batch sizes a DeepSpeed setting's batch sizes must agree with (default: 8)")
    d.add_argument("--grad-accums", type=int, nargs="+", default=[1], metavar="G",
                   help="grad accumulations a DeepSpeed setting's batch sizes must agree with (default: 1)")
    d.set_defaults(func=_doctor)
