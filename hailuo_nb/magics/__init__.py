"""IPython magics: ``%%hailuo`` (cell), ``%hailuo`` (line) and their settings.

    %load_ext hailuo_nb

    %%hailuo -q 768p -d 10 -o fox
    A red fox trots through fresh snow at dawn [Tracking shot]

One module per job: ``args`` reads what was typed, ``core`` holds ``HailuoMagics`` and
generation, ``commands`` the subcommands, ``emulator_session`` `%hailuo emulator`.
Every usage mistake is a one-line ``UsageError``; nothing is sent before the input is valid.
"""

from .._presentation.render import HistoryTable
from .args import HELP, SUBCOMMANDS, interpolate, split_leading_options
from .core import (
    MIRRORED_TRAITS,
    HailuoMagics,
    load_ipython_extension,
    unload_ipython_extension,
)
from .emulator_session import SESSION as _EMULATOR

__all__ = [
    "HELP",
    "MIRRORED_TRAITS",
    "SUBCOMMANDS",
    "_EMULATOR",
    "HailuoMagics",
    "HistoryTable",
    "interpolate",
    "load_ipython_extension",
    "split_leading_options",
    "unload_ipython_extension",
]
