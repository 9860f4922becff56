"""What the form greys and why, read from the model rules (``models.py``); pure text.

Kept apart from the widgets so the words can be tested without a comm, and so every
rule the form enforces comes from the one table validation also reads.
"""

from __future__ import annotations

from .._pure.lineup import IMAGE, TEXT, ModelRules


def _list(items) -> str:
    return " or ".join(str(i) for i in items)


def size_greys(rules: ModelRules, quality: str, duration: int,
               durations: tuple[int, ...]) -> tuple[dict, dict, str]:
    """(greyed qualities, greyed durations, a one-line note) for the chosen pair.

    Each greyed option maps to its reason (the tooltip); the note says the same where
    it can be seen. Only the chosen value of the other picker restricts a picker.
    """
    allowed = rules.durations
    grey_d = {}
    for d in durations:
        if d not in allowed.get(quality, ()):
            fits = [q for q, ds in allowed.items() if d in ds]
            grey_d[d] = (f"{quality} is {_list(allowed[quality])} s only — choose "
                         f"{_list(fits)} for {d} s")
    grey_q = {}
    for q, ds in allowed.items():
        if duration not in ds:
            fits = [p for p, pds in allowed.items() if duration in pds]
            grey_q[q] = f"{duration} s is {_list(fits)} only — choose {_list(ds)} s for {q}"
    notes = [f"{quality} is {_list(allowed[quality])} s only, so {d} s is greyed — choose "
             f"{_list(q for q, ds in allowed.items() if d in ds)} for {d} s."
             for d in grey_d]
    notes += [f"{duration} s is {_list(p for p, pds in allowed.items() if duration in pds)} "
              f"only, so {q} is greyed — choose {_list(allowed[q])} s for {q}."
              for q in grey_q]
    return grey_q, grey_d, " ".join(notes)


def model_grey(rules: ModelRules, has_image: bool) -> str:
    """Why ``rules``' model cannot make this request ('' if it can)."""
    mode = IMAGE if has_image else TEXT
    if mode in rules.modes:
        return ""
    if IMAGE in rules.modes:
        return f"{rules.short.title()} makes image-to-video: add an image to use it"
    return f"{rules.short.title()} makes {_list(rules.modes)}: remove the image to use it"


def size_text(size: int) -> str:
    """``1.3 KB``, ``34 KB``, ``3.2 MB``: as precise as a glance needs."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 10 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


def upload_label(name: str, size: int, limit: int = 28) -> str:
    """The upload button's words once a file is held: ``cat.png · 34 KB`` (plain text:
    a button description is never HTML)."""
    name = " ".join(str(name).split()) or "image"
    if len(name) > limit:  # keep the extension: it says what kind of file it is
        ext = name[name.rfind("."):] if 0 < len(name) - name.rfind(".") <= 6 else ""
        name = name[: limit - len(ext) - 1] + "…" + ext
    return f"{name} · {size_text(size)}"
