"""Process-wide settings shared by the Python API, the poller and the magics.

``HailuoMagics`` mirrors its configurable traits onto this object, so
``%config HailuoMagics.poll_interval = 5`` and ``hailuo_nb.settings.poll_interval = 5``
are the same thing.
"""

from __future__ import annotations

import sys
import types

from traitlets import Bool, Float, HasTraits, Int, TraitError, Unicode, validate

from ._pure.lineup import DEFAULT_MODEL, resolve_model
from ._pure.paths import DEFAULT_DOWNLOAD_DIR
from ._pure.request_fields import DURATIONS, QUALITIES
from .errors import ValidationError

SETTING_NAMES = (
    "poll_interval", "max_poll_interval", "first_poll_delay", "download_dir", "auto_download",
    "auto_analyse",
    "auto_resume", "base_url", "files_url", "default_quality", "default_duration",
    "max_in_flight", "default_model", "max_credits",
)


def check_setting(name: str, value):
    """The one rule for each setting's values: ``hailuo_nb.settings`` and ``%config
    HailuoMagics`` both call it, so both refuse the same values with the same words."""
    if name in ("poll_interval", "max_poll_interval", "first_poll_delay"):
        seconds = float(value)
        if not seconds > 0:
            raise TraitError(f"{name} must be > 0 seconds, got {seconds:g}")
        return seconds
    if name == "default_quality":
        quality = str(value).strip().lower()
        if quality not in QUALITIES:
            raise TraitError(f"default_quality must be one of {', '.join(QUALITIES)}, "
                             f"got {value!r}")
        return quality
    if name == "default_duration" and value not in DURATIONS:
        raise TraitError(f"default_duration must be one of {', '.join(map(str, DURATIONS))}, "
                         f"got {value!r}")
    if name == "default_model":
        try:
            return resolve_model(value).name
        except ValidationError as exc:
            raise TraitError(f"default_model: {exc}") from None
    if name == "max_credits":
        credits = float(value)
        if credits < 0 or credits != credits:
            raise TraitError(f"max_credits must be >= 0 (0: no budget), got {value!r}")
        return credits
    if name == "max_in_flight" and value < 1:
        raise TraitError(f"max_in_flight must be at least 1, got {value!r}")
    return value


class Settings(HasTraits):
    poll_interval = Float(
        2.0, help="Shortest time between two polls of one task, in seconds."
    ).tag(config=True)
    max_poll_interval = Float(
        15.0, help="Longest time between two polls of one task, in seconds."
    ).tag(config=True)
    first_poll_delay = Float(
        1.0, help="Delay before the first poll of a new task, in seconds."
    ).tag(config=True)
    auto_download = Bool(
        True, help="Download each finished video (result links die after 24 h)."
    ).tag(config=True)
    auto_analyse = Bool(
        True, help="Measure each saved video (camera check, clip quality) on one "
        "low-priority thread after its download."
    ).tag(config=True)
    download_dir = Unicode(
        DEFAULT_DOWNLOAD_DIR, help="Folder for downloaded videos, relative to the working dir."
    ).tag(config=True)
    auto_resume = Bool(
        True, help="Re-attach to unfinished tasks from the history when the extension loads."
    ).tag(config=True)
    base_url = Unicode(
        "", help="API base URL; empty means $HAILUO_BASE_URL or https://api.evolink.ai."
    ).tag(config=True)
    files_url = Unicode(
        "", help="Files API base URL; empty means $HAILUO_FILES_URL or the real files API."
    ).tag(config=True)
    default_quality = Unicode("768p", help="Quality used when none is given.").tag(config=True)
    default_duration = Int(6, help="Duration in seconds used when none is given.").tag(
        config=True
    )
    max_in_flight = Int(4, help="Tasks of one batch running on the server at once.").tag(
        config=True
    )
    default_model = Unicode(
        DEFAULT_MODEL, help="Model when none is given: MiniMax-Hailuo-2.3 (standard) or "
        "MiniMax-Hailuo-2.3-Fast (fast, image-to-video only)."
    ).tag(config=True)
    max_credits = Float(
        0.0, help="A budget: once the credits reserved by tasks submitted since it was set "
        "reach it, the next submission is refused before sending (0: no budget)."
    ).tag(config=True)

    @validate(*SETTING_NAMES)
    def _checked(self, proposal):
        return check_setting(proposal["trait"].name, proposal["value"])


settings = Settings()


class _SettingsModule(types.ModuleType):
    """``hailuo_nb.settings`` is this module once imported (Python puts submodules on
    their package), so trait names read and write through to the one ``settings``
    object: ``hailuo_nb.settings.poll_interval = 5`` then means what it says."""

    def __getattr__(self, name: str):
        if name in Settings.class_trait_names():
            return getattr(settings, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __setattr__(self, name: str, value) -> None:
        if name in Settings.class_trait_names():
            setattr(settings, name, value)
        else:
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _SettingsModule
