"""``python -m hailuo_nb.emulator`` = ``hailuo-nb emulator``."""

import argparse
import sys

from .command import add_emulator_arguments, run_emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hailuo_nb.emulator",
        description="A local, offline stand-in for the evolink.ai Hailuo 2.3 API. "
                    "Runs until Ctrl-C.",
    )
    add_emulator_arguments(parser)
    return run_emulator(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
