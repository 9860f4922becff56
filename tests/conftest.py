"""Shared fixtures: a real emulator on a free 127.0.0.1 port, real HTTP everywhere."""

from __future__ import annotations

import os
import sys
import uuid

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own history database, download folder and no ambient key."""
    monkeypatch.setenv("HAILUO_HOME", str(tmp_path / "hailuo_home"))
    monkeypatch.delenv("EVOLINK_API_KEY", raising=False)
    monkeypatch.delenv("HAILUO_BASE_URL", raising=False)
    monkeypatch.delenv("HAILUO_FILES_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(autouse=True)
def _fast_polling():
    """Tests use tasks of a fraction of a second: poll fast, and forget leftovers after."""
    import sys

    from hailuo_nb.settings import settings

    saved = {name: getattr(settings, name) for name in settings.trait_names()}
    settings.poll_interval = 0.05
    settings.max_poll_interval = 0.5
    settings.first_poll_delay = 0.05
    yield settings
    if "hailuo_nb.api" in sys.modules:  # only if this test used it
        from hailuo_nb._client import client
        from hailuo_nb._engine import journal
        from hailuo_nb._engine import scheduler as poller
        poller.stop_following_all()
        journal.unregister()
        client.drop_default_clients()
    for name, value in saved.items():
        setattr(settings, name, value)


@pytest.fixture
def client(emulator, api_key):
    """A Client pointed at the test's emulator."""
    from hailuo_nb import Client
    with Client(api_key=api_key, base_url=emulator.base_url, files_url=emulator.files_url) as c:
        yield c


@pytest.fixture
def api_key() -> str:
    # Unique per test so a leak can be searched for precisely.
    return f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def emulator_factory():
    """Start emulators with any configuration; all are stopped after the test."""
    from hailuo_nb.emulator import Emulator

    started = []

    def make(**config):
        config.setdefault("task_seconds", 0.2)
        config.setdefault("seed", 0)
        # Every result is the one sample file (tests compare downloads to emu.video_bytes);
        # tests of the clips rendered per request pass render=True.
        config.setdefault("render", False)
        emu = Emulator(**config)
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(emulator_factory):
    """A fast emulator (tasks finish in 0.2 s) with no faults and no rate limit."""
    return emulator_factory()


@pytest.fixture
def env_for(monkeypatch, api_key):
    """Point the environment (key + base URLs) at an emulator, as a user would."""

    def point(emu):
        monkeypatch.setenv("EVOLINK_API_KEY", api_key)
        monkeypatch.setenv("HAILUO_BASE_URL", emu.base_url)
        monkeypatch.setenv("HAILUO_FILES_URL", emu.files_url)
        return emu

    return point


def chromium_path() -> str | None:
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(path):
            return path
    return None


@pytest.fixture(scope="session", autouse=True)
def _close_widgets_at_exit():
    """Close widgets before interpreter exit (ipywidgets' __del__ then finds its
    module globals gone and prints 'Exception ignored')."""
    yield
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        widgets.Widget.close_all()


@pytest.fixture(scope="session")
def pw():
    """One Playwright for the whole run: its sync API cannot be started a second time in
    the same thread while the first one lives (the browser test modules share it)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        yield playwright
