"""``sumbench data check | synth | split | augment``: dialogue CSVs in, validated folds and training sets out."""

from __future__ import annotations

import argparse


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


def add_parsers(sub) -> None:
    from sumbench.config.grid import DATA_SEED

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
