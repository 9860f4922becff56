"""The Hailuo line-up and each model's rules, in one table that validation, the form and
the magics' help all read. (The emulator keeps its own copy on purpose: a mistake here
cannot hide in both.)"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ValidationError

TEXT, IMAGE = "text-to-video", "image-to-video"


@dataclass(frozen=True)
class ModelRules:
    name: str  # the API's name
    short: str  # what a user may type instead
    modes: tuple[str, ...]
    durations: dict  # quality → the durations it allows
    summary: str

    @property
    def qualities(self) -> tuple[str, ...]:
        return tuple(self.durations)

    def combinations_text(self) -> str:
        """'768p: 6 s or 10 s; 1080p: 6 s only'."""
        return "; ".join(f"{q}: " + (" or ".join(f"{d} s" for d in ds) if len(ds) > 1
                                     else f"{ds[0]} s only")
                         for q, ds in self.durations.items())


_SIZES = {"768p": (6, 10), "1080p": (6,)}
MODELS = {
    "MiniMax-Hailuo-2.3": ModelRules(
        "MiniMax-Hailuo-2.3", "standard", (TEXT, IMAGE), _SIZES,
        "text-to-video and image-to-video"),
    "MiniMax-Hailuo-2.3-Fast": ModelRules(
        "MiniMax-Hailuo-2.3-Fast", "fast", (IMAGE,), _SIZES,
        "image-to-video only: faster and cheaper"),
}
DEFAULT_MODEL = "MiniMax-Hailuo-2.3"
FAST_MODEL = "MiniMax-Hailuo-2.3-Fast"


def known_names() -> str:
    return ", ".join(f"{m.name} ({m.short})" for m in MODELS.values())


def resolve_model(name: object) -> ModelRules:
    """The rules of a model given by its full name or short name, any case."""
    text = str(name or "").strip().lower()
    for rules in MODELS.values():
        if text in (rules.name.lower(), rules.short):
            return rules
    shown = repr(name)[:60]
    raise ValidationError(f"Unknown model {shown} — choose {known_names()}.", field="model")


def check_mode(rules: ModelRules, mode: str) -> None:
    if mode not in rules.modes:
        raise ValidationError(
            f"{rules.name} makes {' and '.join(rules.modes)} only, not {mode} — add an image "
            "(-i / image=), or use the standard model.", field="model")


def check_size(rules: ModelRules, quality: str, duration: int) -> None:
    if duration not in rules.durations.get(quality, ()):
        raise ValidationError(
            f"{quality} videos can only be {' or '.join(map(str, rules.durations[quality]))} s "
            f"long, not {duration} s — use duration 6 with {quality}, or quality 768p for "
            f"{duration} s ({rules.combinations_text()}).", field="duration")
