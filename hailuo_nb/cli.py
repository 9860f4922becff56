"""``hailuo-nb``: the command line (the emulator, the demo).

One ``add_<name>_parser(subparsers)`` and one ``run_<name>(args) -> int`` per
subcommand; ``main`` wires them. Other modules may register their own subcommand
with an ``add_subparser(subparsers)`` that sets ``handler`` (see ``hailuo_nb._presentation.demo``).
"""

from __future__ import annotations

import argparse
import sys

from .emulator.command import add_emulator_arguments, run_emulator


def add_emulator_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "emulator",
        help="run a local emulator of the Hailuo 2.3 video service",
        description="A local, offline stand-in for the evolink.ai Hailuo 2.3 API (video "
                    "generation, task detail, files upload, result links). Runs until Ctrl-C.",
    )
    add_emulator_arguments(p)
    p.set_defaults(handler=run_emulator)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailuo-nb", description="MiniMax Hailuo 2.3 video generation for Jupyter."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_emulator_parser(subparsers)
    try:
        from ._presentation.demo import add_subparser as add_demo
    except ImportError:  # the demo needs the 'notebook' extra only when run
        add_demo = None
    if add_demo is not None:
        add_demo(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
