"""The two plots of a camera sweep as small PNGs, drawn with matplotlib's object API (no
pyplot: no global figure state, no GUI backend). matplotlib is the ``plots`` extra and is
imported only here, when a plot is asked for."""

from __future__ import annotations

import io

from ..errors import ValidationError

DPI = 72  # small files: a notebook keeps them inline


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ValidationError("plots need matplotlib: pip install 'hailuo_nb[plots]'.") from None
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight",
                   metadata={"Software": None})  # no version stamp: the same plot, same bytes
    return buffer.getvalue()


COLOURS = {"match": "#4c9a5b", "unsure": "#b0b0b0", "mismatch": "#c8504b"}


def follow_rate_png(rates: dict[str, dict[str, int]]) -> bytes:
    """Stacked bars: per camera command, the share of its takes seen to follow it (then
    unsure, then not followed), with "followed/takes" written beside each bar."""
    commands = list(rates)  # in the order the sweep asked for them
    figure = _figure(7.0, 0.28 * max(len(commands), 3) + 1.0)
    axes = figure.add_subplot()
    left = [0.0] * len(commands)
    for verdict, colour in COLOURS.items():
        shares = [rates[c][verdict] / max(1, sum(rates[c].values())) for c in commands]
        axes.barh(range(len(commands)), shares, left=left, color=colour, label=verdict)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    axes.set_yticks(range(len(commands)), commands)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.18)
    axes.set_xlabel("share of takes")
    for i, command in enumerate(commands):
        tally = rates[command]
        axes.text(1.02, i, f"{tally['match']}/{sum(tally.values())}", va="center", fontsize=8)
    axes.set_title("Camera commands followed (followed/takes)", fontsize=10)
    if commands:
        axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    else:
        axes.text(0.5, 0.5, "no camera command", ha="center", transform=axes.transAxes)
    return _png(figure)


def confusion_png(expected: list[str], seen: list[str], counts: list[list[int]]) -> bytes:
    """A matrix: expected motion (rows) against the motion seen (columns), takes counted."""
    figure = _figure(1.2 + 0.55 * max(len(seen), 3), 1.0 + 0.4 * max(len(expected), 3))
    axes = figure.add_subplot()
    if expected and seen:
        axes.imshow(counts, cmap="Blues", aspect="auto")
        for i, row in enumerate(counts):
            top = max(row) or 1
            for j, value in enumerate(row):
                if value:
                    axes.text(j, i, str(value), ha="center", va="center", fontsize=8,
                              color="white" if value > top / 2 else "black")
        axes.set_xticks(range(len(seen)), seen, rotation=45, ha="right", fontsize=8)
        axes.set_yticks(range(len(expected)), expected, fontsize=8)
    else:
        axes.text(0.5, 0.5, "no camera command", ha="center", transform=axes.transAxes)
    axes.set_xlabel("seen")
    axes.set_ylabel("expected")
    axes.set_title("Expected vs seen camera motion", fontsize=10)
    return _png(figure)
