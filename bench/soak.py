#!/usr/bin/env python
"""Soak: 300 tasks through every fault the emulator has; nothing lost, nothing sent twice.

    python bench/soak.py --tasks 300 --seed 1

The logic is ``tests/soak_run.py`` (``tests/test_soak.py`` runs it shortened).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from soak_run import main  # the tests' folder is on the path only from here

if __name__ == "__main__":
    sys.exit(main())
