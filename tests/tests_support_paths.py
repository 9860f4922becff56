"""Paths tests share (the repository root, whatever the working directory)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
