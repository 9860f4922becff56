"""A sweep side by side: one row per take, labelled by what varies across the takes.

``compare(tasks)`` reads facts the tasks already hold (status, credits, the analysis lane's
camera check and clip quality); a finished clip not yet measured is measured here. The
result is a table a researcher keeps: ``.rows`` (dicts), ``.to_csv(path)``,
``.to_dataframe()`` (pandas, the ``dataframe`` extra), a static escaped HTML table in a
notebook, and two plots as PNGs (matplotlib, the ``plots`` extra, imported only for them):
the follow rate per camera command and the confusion of expected and seen motion.
"""

from __future__ import annotations

import csv
import html
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._pure.camera_lint import lint_prompt
from ..errors import FrameError, ValidationError

PARAMETERS = ("camera", "subject", "model", "quality", "duration", "mode", "image",
              "prompt_optimizer", "fast_pretreatment")
QUALITY_FIELDS = ("black_seconds", "frozen_seconds", "flicker", "motion", "sharpness")
_BRACKET = re.compile(r"\[[^\[\]]*\]")


def parameters_of(task: Any) -> dict[str, Any]:
    """What was asked for: the camera commands and the subject apart, then the options."""
    prompt = task.prompt or ""
    groups = [", ".join(group.commands) for group in lint_prompt(prompt).groups
              if group.commands]
    values: dict[str, Any] = {"camera": " then ".join(groups),
                              "subject": " ".join(_BRACKET.sub(" ", prompt).split())}
    request = getattr(task, "request", None)
    if request is not None:
        record = request.to_record()
        for name in PARAMETERS[2:]:
            values[name] = record.get(name)
        image = record.get("image")
        values["image"] = os.path.basename(str(image)) if image else None
    return values


def varying(params: list[dict]) -> list[str]:
    """The parameter names whose values differ across the takes, in PARAMETERS order."""
    return [name for name in PARAMETERS if len({repr(p.get(name)) for p in params}) > 1]


def labels_for(params: list[dict]) -> list[str]:
    """``camera=Pan left · take 2``: the varying parameters, and the take number among the
    takes that asked for the same thing."""
    names = varying(params)
    seen: Counter = Counter()
    same = Counter(repr(sorted(p.items())) for p in params)
    labels = []
    for p in params:
        key = repr(sorted(p.items()))
        seen[key] += 1
        parts = [f"{name}={p.get(name)}" for name in names if p.get(name) not in (None, "")]
        if same[key] > 1:
            parts.append(f"take {seen[key]}")
        labels.append(" · ".join(parts) or "take 1")
    return labels


def _camera_fields(report: Any) -> dict[str, Any]:
    if report is None:
        return {"commands": None, "expected": None, "seen": None, "verdicts": None,
                "camera_score": None, "camera_x": None, "camera_y": None, "camera_zoom": None}
    rows = list(getattr(report, "rows", []) or [])
    segments = list(getattr(report, "segments", []) or [])

    def numbers(axis: str) -> list[float]:
        return [round(float(getattr(seg[2], axis, 0.0)), 4) for seg in segments]

    return {
        "commands": " | ".join(r.command for r in rows),
        "expected": " | ".join(str(r.expected) for r in rows),
        "seen": " | ".join(str(r.seen) for r in rows),
        "verdicts": " | ".join(r.verdict for r in rows),
        "camera_score": getattr(report, "score", None),
        # the measured motion per segment: x, y as fractions of the frame per second (content
        # moving right, down +), zoom as a relative change of scale per second
        "camera_x": numbers("x"), "camera_y": numbers("y"), "camera_zoom": numbers("z"),
    }


def _quality_of(task: Any, measure: bool) -> Any:
    report = getattr(task, "clip_quality", None)
    if report is None and measure and task.local_path and os.path.exists(task.local_path):
        try:
            report = task.quality()
        except (FrameError, ValidationError, OSError):
            return None
    return report


def _camera_of(task: Any, measure: bool) -> Any:
    report = getattr(task, "camera", None)
    if report is None and measure and "[" in (task.prompt or "") and task.local_path \
            and os.path.exists(task.local_path):
        try:
            report = task.camera_report()
        except (FrameError, ValidationError, OSError):
            return None
    return report


def row_of(task: Any, label: str, params: dict, *, measure: bool = True
           ) -> tuple[dict[str, Any], Any, Any]:
    """One take's row (label, parameters, outcome, camera check, clip quality, file), with
    the camera report and the quality report it was read from."""
    quality = _quality_of(task, measure)
    camera = _camera_of(task, measure)
    error = task.error or {}
    row: dict[str, Any] = {"label": label, "task_id": task.id or None, "status": task.status,
                           "error": error.get("message"), "credits": task.credits,
                           "prompt": task.prompt, **params}
    row.update(_camera_fields(camera))
    for name in QUALITY_FIELDS:
        row[name] = getattr(quality, name, None) if quality is not None else None
    row["file"] = task.local_path if task.local_path and os.path.exists(task.local_path) \
        else None
    row["parent_id"] = getattr(task, "parent_id", "") or None
    return row, camera, quality


SHOWN = ("label", "status", "credits", "commands", "seen", "verdicts", "camera_x", "camera_y",
         "camera_zoom", "camera_score", *QUALITY_FIELDS, "file")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return " | ".join(_cell(v) for v in value)
    return str(value)


@dataclass
class Comparison:
    """The takes of a sweep, one row each (see the module's notes)."""

    tasks: list
    rows: list  # one dict of plain values per take
    camera_reports: list  # per take: its camera report, or None
    quality_reports: list  # per take: its quality report, or None

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []

    def records(self) -> list[dict]:
        """The rows as copies (what export writes)."""
        return [dict(row) for row in self.rows]

    @property
    def score(self) -> float | None:
        """Matches per judged camera command over all takes (None without commands)."""
        verdicts = [r.verdict for _, r in self._camera_rows()]
        return sum(v == "match" for v in verdicts) / len(verdicts) if verdicts else None

    def _camera_rows(self) -> list[tuple[dict, Any]]:
        return [(row, r) for row, report in zip(self.rows, self.camera_reports, strict=True)
                if report is not None for r in report.rows]

    # -- outputs -------------------------------------------------------------------------

    def to_csv(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            for record in self.records():
                writer.writerow({k: _cell(v) if isinstance(v, list) else v
                                 for k, v in record.items()})
        return path

    def to_dataframe(self) -> Any:
        try:
            import pandas as pd  # optional (the dataframe extra): only for this call
        except ImportError:
            raise ValidationError("to_dataframe() needs pandas: pip install "
                                  "'hailuo_nb[dataframe]' (or use .rows / .to_csv).") from None
        return pd.DataFrame(self.records(), columns=self.columns)

    def __repr__(self) -> str:
        score = self.score
        head = (f"{len(self.rows)} take(s)" + (f", {score:.0%} of the camera commands followed"
                                                if score is not None else ""))
        lines = [head]
        for row in self.rows:
            bits = [row["status"]]
            if row["verdicts"]:
                bits.append(f"camera {row['verdicts']} (seen {row['seen']})")
            if row["motion"] is not None:
                bits.append(f"motion {row['motion']:.0%}")
            if row["black_seconds"]:
                bits.append(f"black {row['black_seconds']:.2f} s")
            if row["frozen_seconds"]:
                bits.append(f"frozen {row['frozen_seconds']:.2f} s")
            lines.append(f"  {row['label']}: " + ", ".join(bits))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def cell(name: str, value: Any) -> str:
            text = _cell(value)
            if name == "file" and value:
                text = os.path.basename(str(value))
            return f"<td>{html.escape(text)}</td>"

        head = "".join(f"<th>{html.escape(name)}</th>" for name in SHOWN)
        body = "".join("<tr>" + "".join(cell(name, row.get(name)) for name in SHOWN) + "</tr>"
                       for row in self.rows)
        score = self.score
        caption = html.escape(f"{len(self.rows)} take(s)" + (
            f" · {score:.0%} of the camera commands followed" if score is not None else ""))
        return ('<table class="hailuo-compare" style="font-family:sans-serif;font-size:12px">'
                f"<caption style='text-align:left'>{caption}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    # -- plots ---------------------------------------------------------------------------

    def follow_rate(self) -> dict[str, dict[str, int]]:
        """Per camera command, its takes counted by verdict: {"match", "unsure",
        "mismatch"} (every take counts: a command ignored reads "unsure" or "mismatch")."""
        counts: dict[str, dict[str, int]] = {}
        for _, r in self._camera_rows():
            tally = counts.setdefault(r.command, {"match": 0, "unsure": 0, "mismatch": 0})
            tally[r.verdict if r.verdict in tally else "unsure"] += 1
        return counts

    def confusion(self) -> tuple[list[str], list[str], list[list[int]]]:
        """(expected motions, seen motions, counts[expected][seen]) over every command."""
        pairs = Counter((str(r.expected), str(r.seen)) for _, r in self._camera_rows())
        expected = sorted({e for e, _ in pairs})
        seen = sorted({s for _, s in pairs})
        return expected, seen, [[pairs[(e, s)] for s in seen] for e in expected]

    def plot_follow_rate(self) -> Plot:
        from . import sweep_plots  # matplotlib (the plots extra) loads only for a plot

        return Plot(sweep_plots.follow_rate_png(self.follow_rate()), "follow rate")

    def plot_confusion(self) -> Plot:
        from . import sweep_plots

        return Plot(sweep_plots.confusion_png(*self.confusion()), "expected vs seen motion")


@dataclass(frozen=True)
class Plot:
    """A small static PNG: shown as an image in a notebook, ``.save(path)`` to keep it."""

    png: bytes
    title: str

    def _repr_png_(self) -> bytes:
        return self.png

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_bytes(self.png)
        return path

    def __repr__(self) -> str:
        return f"<plot: {self.title}, {len(self.png)} bytes of PNG>"


def compare(tasks: Iterable[Any], *, measure: bool = True) -> Comparison:
    """One row per take of ``tasks``, labelled by the parameters that vary across them:
    status, credits, camera verdicts with the measured motion, score, clip quality, file.

    Waits for the analysis lane where it has a clip queued; clips it never had are
    measured now (``measure=False``: left empty)."""
    tasks = list(tasks)
    for task in tasks:  # the lane's results, when it has them queued: nothing measured twice
        task.wait_analysed()
    params = [parameters_of(t) for t in tasks]
    labels = labels_for(params)
    made = [row_of(t, label, p, measure=measure)
            for t, label, p in zip(tasks, labels, params, strict=True)]
    return Comparison(tasks, [m[0] for m in made], [m[1] for m in made], [m[2] for m in made])


__all__ = ["Comparison", "Plot", "compare"]
