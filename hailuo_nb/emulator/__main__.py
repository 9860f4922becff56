"""``python -m hailuo_nb.emulator`` = ``hailuo-nb emulator``."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["emulator", *sys.argv[1:]]))
