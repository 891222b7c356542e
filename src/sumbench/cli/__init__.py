"""The ``sumbench`` command line. Each subcommand is a thin call into the package; each module here holds one
family of subcommands and their arguments: data, cells, phases, reports, images (and tracking's own).

Heavy imports (torch, transformers, kiwipiepy) happen inside the handlers so that ``sumbench data check``
answers in well under a second.
"""

from __future__ import annotations

import argparse
import sys

from sumbench.errors import SumbenchError


def build_parser() -> argparse.ArgumentParser:
    from sumbench.cli import cells, data, images, phases, reports
    from sumbench.tracking.cli import add_tracking_parsers

    p = argparse.ArgumentParser(prog="sumbench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for family in (data, cells, reports, images, phases):
        family.add_parsers(sub)
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
