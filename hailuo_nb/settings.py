"""Process-wide settings shared by the Python API, the poller and the magics.

``HailuoMagics`` mirrors its configurable traits onto this object, so
``%config HailuoMagics.poll_interval = 5`` and ``hailuo_nb.settings.poll_interval = 5``
are the same thing.
"""

from __future__ import annotations

import sys
import types

from traitlets import Bool, Float, HasTraits, Int, Unicode, validate

from .paths import DEFAULT_DOWNLOAD_DIR


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

    @validate("poll_interval", "max_poll_interval", "first_poll_delay")
    def _positive(self, proposal):
        value = float(proposal["value"])
        if value <= 0:
            raise ValueError(f"{proposal['trait'].name} must be > 0 seconds, got {value}")
        return value


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
