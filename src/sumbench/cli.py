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


def _data_split(args: argparse.Namespace) -> int:
    from sumbench.data.split import write_folds

    for path in write_folds(args.train, args.dev, k=args.k, seed=args.seed, out_dir=args.out):
        print(path)
    return 0


def _score(args: argparse.Namespace) -> int:
    from sumbench.rouge import score_files

    print(json.dumps(score_files(args.pred, args.ref).as_dict(), ensure_ascii=False))
    return 0


def _train(args: argparse.Namespace) -> int:
    from sumbench.train import run_cell_from_args

    record = run_cell_from_args(args)
    print(json.dumps({k: record[k] for k in ("status", "model", "rouge_sum", "samples_per_s")}, ensure_ascii=False))
    return 0


def _warmstart(args: argparse.Namespace) -> int:
    from sumbench.train import warmstart_from_args

    print(warmstart_from_args(args))
    return 0


def _report(args: argparse.Namespace) -> int:
    from sumbench.report import write_report

    for path in write_report(args.records, out_md=args.out, title=args.title):
        print(path)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from sumbench.config import load_model
    from sumbench.doctor import render, run_doctor

    spec = load_model(args.model, overrides=args.overrides)
    checks = run_doctor(spec, args.data)
    print(render(checks, args.model))
    return 1 if any(c.status == "fail" for c in checks) else 0


def _diff(args: argparse.Namespace) -> int:
    from sumbench.compare import load_run, render_diff

    print(render_diff(load_run(args.run_a), load_run(args.run_b), args.run_a, args.run_b), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sumbench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="check, synthesize and split dialogue CSVs").add_subparsers(dest="data_command", required=True)
    c = data.add_parser("check", help="validate a competition-layout CSV (fname, dialogue, summary, topic)")
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

    sc = sub.add_parser("score", help="ROUGE-1/2/L F1 on Korean morphemes for two files (CSV or JSONL)")
    sc.add_argument("--pred", required=True)
    sc.add_argument("--ref", required=True)
    sc.set_defaults(func=_score)

    from sumbench.train import add_train_arguments, add_warmstart_arguments

    t = sub.add_parser("train", help="train and evaluate one grid cell; writes metrics.json, train_log.jsonl, predictions.jsonl")
    add_train_arguments(t)
    t.set_defaults(func=_train)
    w = sub.add_parser("warmstart", help="pre-train a tiny twin on a corpus once (cached), so the grid fine-tunes a model that already summarizes")
    add_warmstart_arguments(w)
    w.set_defaults(func=_warmstart)

    d = sub.add_parser("doctor", help="check a model for the failures the benchmark exists to catch; exit 1 on a failure")
    d.add_argument("--model", required=True)
    d.add_argument("--data", default=None, help="CSV to check against (default: a synthetic corpus)")
    d.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a model-YAML key, e.g. --set training.loss_normalization=model")
    d.set_defaults(func=_doctor)
    df = sub.add_parser("diff", help="settings that differ between two cells and their measured effect")
    df.add_argument("run_a", help="a cell folder or its metrics.json")
    df.add_argument("run_b")
    df.set_defaults(func=_diff)

    r = sub.add_parser("report", help="aggregate metrics.json records into summary.md and summary.csv")
    r.add_argument("records", nargs="+", help="metrics.json files")
    r.add_argument("--out", required=True, help="summary.md path (summary.csv and plots/ go beside it)")
    r.add_argument("--title", default="sumbench summary")
    r.set_defaults(func=_report)
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
