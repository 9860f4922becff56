"""The two plots of a camera sweep as small PNGs, drawn with matplotlib's object API (no
pyplot: no global figure state, no GUI backend). matplotlib is the ``plots`` extra and is
imported only here, when a plot is asked for."""

from __future__ import annotations

import io

from ..errors import ValidationError

DPI = 100


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


def follow_rate_png(rates: dict[str, tuple[int, int]]) -> bytes:
    """Bars: per camera command, the share of judged takes that followed it, with n."""
    commands = sorted(rates)
    figure = _figure(6.4, 0.3 * max(len(commands), 3) + 1.0)
    axes = figure.add_subplot()
    shares = [rates[c][0] / rates[c][1] if rates[c][1] else 0.0 for c in commands]
    axes.barh(range(len(commands)), shares, color="#4c72b0")
    axes.set_yticks(range(len(commands)), commands)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.15)
    axes.set_xlabel("followed (share of judged takes)")
    for i, command in enumerate(commands):
        ok, n = rates[command]
        axes.text(min(shares[i], 1.0) + 0.02, i, f"{ok}/{n}", va="center", fontsize=8)
    axes.set_title("Camera commands followed", fontsize=10)
    if not commands:
        axes.text(0.5, 0.5, "no judged camera command", ha="center", transform=axes.transAxes)
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
