"""The magics in a real IPython InteractiveShell, against the emulator over real HTTP."""

from __future__ import annotations

import _thread
import getpass
import json
import os
import signal
import stat
import threading
import time
from pathlib import Path

import imagefactory as factory
import pytest
from IPython.core.error import UsageError
from shell import CellRun, TestingShell

from hailuo_nb import magics
from hailuo_nb._client import credentials
from hailuo_nb.magics import HailuoMagics, HistoryTable, interpolate, split_leading_options
from hailuo_nb.settings import Settings, settings

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# ----------------------------------------------------------------------------- fixtures


def _new_shell(**config) -> TestingShell:
    sh = TestingShell.create(**config)
    run = sh.run("%load_ext hailuo_nb")
    assert run.error is None, run.stderr
    return sh


def _close_shell(sh: TestingShell) -> None:
    if magics._EMULATOR.running:
        magics._EMULATOR.stop()
    magics.unload_ipython_extension(sh)
    sh.close()


@pytest.fixture
def shell():
    sh = _new_shell()
    yield sh
    _close_shell(sh)
    credentials.set_session_key(None)


@pytest.fixture
def emu(emulator, env_for):
    """The test's emulator, with the environment (key, URLs) pointed at it."""
    return env_for(emulator)


def assert_usage_error(run: CellRun, *needles: str) -> str:
    """One line, ``UsageError: …``, no traceback; returns the message."""
    assert isinstance(run.error, UsageError), (run.error, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("UsageError: "), run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    message = lines[0][len("UsageError: "):]
    for needle in needles:
        assert needle in message, message
    return message


def posts(emu) -> int:
    return emu.stats["by_route"].get("POST /v1/videos/generations", 0)


def gets(emu) -> int:
    return emu.stats["by_route"].get("GET /v1/tasks", 0)


def shown_tasks(run: CellRun) -> list[dict]:
    return [out for out in run.outputs if "Hailuo task" in out["data"].get("text/plain", "")]


# ----------------------------------------------------------------------------- loading, config


def test_load_registers_both_magics_and_a_configurable(shell):
    mm = shell.magics_manager
    assert "hailuo" in mm.magics["line"] and "hailuo" in mm.magics["cell"]
    instance = mm.registry["HailuoMagics"]
    assert isinstance(instance, HailuoMagics)
    assert instance in shell.configurables
    # Loading twice (e.g. load_ipython_extension called by hand) registers nothing new.
    magics.load_ipython_extension(shell)
    assert mm.registry["HailuoMagics"] is instance


def test_every_setting_is_a_documented_configurable_trait_with_the_same_default():
    traits = HailuoMagics.class_traits(config=True)
    assert set(magics.MIRRORED_TRAITS) == set(Settings.class_traits(config=True))
    for name in magics.MIRRORED_TRAITS:
        assert name in traits, name
        assert traits[name].help, name
        assert traits[name].default_value == Settings.class_traits()[name].default_value, name


def test_config_magic_changes_the_process_settings_and_back(shell):
    run = shell.run("%config HailuoMagics.poll_interval = 5")
    assert run.error is None and run.stderr == ""
    assert settings.poll_interval == 5.0
    shell.run("%config HailuoMagics.default_quality = '1080p'")
    assert settings.default_quality == "1080p"
    shell.run("%config HailuoMagics.auto_download = False")
    assert settings.auto_download is False
    # ...and a change made in Python shows in %config.
    settings.max_in_flight = 7
    assert shell.run("%config HailuoMagics.max_in_flight").result == 7
    assert "Current: 7" in shell.run("%config HailuoMagics").stdout


@pytest.mark.parametrize(
    "statement",
    [
        "HailuoMagics.poll_interval = -1",
        "HailuoMagics.first_poll_delay = 0",
        "HailuoMagics.default_quality = '4k'",
        "HailuoMagics.default_duration = 7",
        "HailuoMagics.max_in_flight = 0",
    ],
)
def test_config_refuses_bad_values_in_one_line(shell, statement, caplog):
    before = {name: getattr(settings, name) for name in magics.MIRRORED_TRAITS}
    run = shell.run(f"%config {statement}")
    # %config reports a refused value through logging: one record, one line, no traceback.
    assert run.error is None
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage() and not errors[0].exc_info
    assert statement.split(".")[1].split()[0] in errors[0].getMessage()
    assert {name: getattr(settings, name) for name in magics.MIRRORED_TRAITS} == before


def test_configured_values_win_at_load_time():
    sh = _new_shell(**{"HailuoMagics.poll_interval": 3.5, "HailuoMagics.download_dir": "vids"})
    try:
        assert settings.poll_interval == 3.5
        assert settings.download_dir == "vids"
        # Unconfigured traits show what the process already uses (the test fixture's value).
        assert sh.magics_manager.registry["HailuoMagics"].max_poll_interval == 0.5
    finally:
        _close_shell(sh)


@pytest.mark.slow
def test_the_poller_follows_config(shell, emu):
    shell.run("%config HailuoMagics.poll_interval = 30")
    shell.run("%config HailuoMagics.first_poll_delay = 30")
    run = shell.run("%hailuo a slow snail [Static shot]")
    assert run.error is None, run.stderr
    time.sleep(1.0)
    assert gets(emu) == 0  # the poller waits the configured 30 s before its first poll
    assert shell.user_ns["_hailuo_task"].status == "pending"


def test_unload_removes_the_magics_and_stops_mirroring(shell):
    instance = shell.magics_manager.registry["HailuoMagics"]
    shell.run("%unload_ext hailuo_nb")
    assert "hailuo" not in shell.magics_manager.magics["line"]
    assert instance not in shell.configurables
    settings.poll_interval = 9.0
    assert instance.poll_interval != 9.0
    run = shell.run("%load_ext hailuo_nb")
    assert run.error is None
    assert shell.magics_manager.registry["HailuoMagics"].poll_interval == 9.0


# ----------------------------------------------------------------------------- %%hailuo


def test_cell_magic_submits_displays_once_and_returns_none(shell, emu, api_key):
    run = shell.run("%%hailuo\nA paper boat on a rainy street [Tracking shot]")
    assert run.error is None, run.stderr
    assert run.result is None  # nothing echoed as Out[]: the view is the only display
    assert len(run.outputs) == 1
    data = run.outputs[0]["data"]
    # No kernel here: no widget (it would say "model not found" in a saved notebook), the
    # task's text and HTML instead. The widget branch has its own test, with a kernel.
    assert WIDGET_VIEW not in data and data["text/plain"].startswith("Hailuo task")
    task = shell.user_ns["_hailuo_task"]
    assert task.id and task.id in data["text/plain"]
    assert posts(emu) == 1
    sent = emu.task(task.id)["body"]
    assert sent["prompt"] == "A paper boat on a rainy street [Tracking shot]"
    assert sent["quality"] == "768p" and sent["duration"] == 6
    assert api_key not in run.text


class _KernelStandIn:
    """Enough of ipykernel for the magic to show its live widget (no running cell named)."""

    def get_parent(self, channel: str = "shell") -> dict:
        return {}


def test_cell_magic_in_a_kernel_shows_one_live_widget(shell, emu, monkeypatch):
    import widget_comm

    log = widget_comm.install(monkeypatch)  # widgets' messages recorded instead of sent
    shell.kernel = _KernelStandIn()
    try:
        run = shell.run("%%hailuo -o t\nA kite over dunes [Pan left]")
    finally:
        shell.kernel = None
    assert run.error is None, run.stderr
    [shown, stand_in] = run.outputs  # the view, and what stands in for it once saved
    assert WIDGET_VIEW in shown["data"], shown["data"].keys()
    assert "hailuo-stand-in" in stand_in["data"]["text/html"]
    model_id = shown["data"][WIDGET_VIEW]["model_id"]
    assert model_id in [m.comm_id for m in log.opens()]
    assert shell.user_ns["t"].id in shown["data"]["text/plain"]  # readable without widgets
    assert posts(emu) == 1


def test_every_generation_option_reaches_the_request(shell, emu):
    run = shell.run(
        "%%hailuo -q 1080p -d 6 --no-optimize --fast -o clip\nA city at night [Pan left]"
    )
    assert run.error is None, run.stderr
    task = shell.user_ns["clip"]
    assert task is shell.user_ns["_hailuo_task"]
    body = emu.task(task.id)["body"]
    assert body["quality"] == "1080p" and body["duration"] == 6
    assert body["model_params"] == {"prompt_optimizer": False, "fast_pretreatment": True}
    shell.run("%%hailuo --quality 768p --duration 10 --out long\nA long river [Push in]")
    body = emu.task(shell.user_ns["long"].id)["body"]
    assert body["quality"] == "768p" and body["duration"] == 10


def test_defaults_come_from_config(shell, emu):
    shell.run("%config HailuoMagics.default_duration = 10")
    shell.run("%%hailuo -o t\nA desert road [Tracking shot]")
    assert emu.task(shell.user_ns["t"].id)["body"]["duration"] == 10


def test_wait_blocks_until_done_and_the_file_is_on_disk(shell, emu):
    run = shell.run("%%hailuo --wait -o fox\nA red fox in snow [Tracking shot]")
    assert run.error is None, run.stderr
    task = shell.user_ns["fox"]
    assert task.status == "completed"
    assert task.local_path and Path(task.local_path).is_file()
    assert Path(task.local_path).parent == Path.cwd() / "hailuo_videos"
    assert Path(task.local_path).read_bytes() == emu.video_bytes
    # The output is re-rendered in place with the final state (what a saved notebook keeps).
    final = [out for out in run.outputs if out["update"]]
    assert final and "completed" in final[-1]["data"]["text/plain"]
    assert final[-1]["transient"]["display_id"] == run.outputs[0]["transient"]["display_id"]
    assert "<video" in final[-1]["data"]["text/html"]


def test_wait_on_a_failed_task_is_one_usage_error(shell, emu):
    run = shell.run("%%hailuo --wait -o bad\nsomething nsfw [Pan left]")
    message = assert_usage_error(run, "content_policy_violation")
    assert shell.user_ns["bad"].status == "failed"
    assert shown_tasks(run)  # the view shows it too
    assert message == str(_failed_error(shell.user_ns["bad"]))


def _failed_error(task):
    from hailuo_nb.errors import TaskFailedError

    err = task.error
    return TaskFailedError(task.id, err["code"], err["message"], retryable=err["retryable"])


def test_dir_and_no_download(shell, emu, tmp_path):
    target = tmp_path / "elsewhere" / "videos"
    run = shell.run(f"%%hailuo --wait --dir {target} -o a\nA kite [Tilt up]")
    assert run.error is None, run.stderr
    assert Path(shell.user_ns["a"].local_path).parent == target
    run = shell.run("%%hailuo --wait --no-download -o b\nA kite [Tilt down]")
    assert run.error is None, run.stderr
    b = shell.user_ns["b"]
    assert b.status == "completed" and b.local_path is None and b.download_state == "off"
    assert not (Path.cwd() / "hailuo_videos" / f"{b.id}.mp4").exists()


def test_image_option_with_a_local_file_and_a_url(shell, emu, tmp_path):
    image = factory.write(tmp_path / "still.png", factory.png(640, 360))
    shell.user_ns["still"] = str(image)
    run = shell.run("%%hailuo -i {still} -o local\nThe still comes alive [Zoom in]")
    assert run.error is None, run.stderr
    body = emu.task(shell.user_ns["local"].id)["body"]
    assert body["image_urls"][0].startswith(emu.files_url)
    assert emu.stats["uploads"] == 1
    url = body["image_urls"][0]
    run = shell.run(f"%%hailuo --image {url} -o remote\nThe same still, again [Pan right]")
    assert run.error is None, run.stderr
    assert emu.task(shell.user_ns["remote"].id)["body"]["image_urls"] == [url]
    assert emu.stats["uploads"] == 1  # a URL is passed on, not uploaded


def test_prompt_interpolation_and_escaped_braces(shell, emu):
    shell.run("animal = 'otter'\nclass Place: name = 'kelp forest'\nmoves = ['Pan left']")
    run = shell.run(
        "%%hailuo -o t\nAn {animal} in a {Place.name} [{moves[0]}], {{literal braces}}"
    )
    assert run.error is None, run.stderr
    sent = emu.task(shell.user_ns["t"].id)["body"]["prompt"]
    assert sent == "An otter in a kelp forest [Pan left], {literal braces}"
    run = shell.run("%hailuo -o u An {animal} again [Push in]")
    assert run.error is None, run.stderr
    assert emu.task(shell.user_ns["u"].id)["body"]["prompt"] == "An otter again [Push in]"


def test_prompt_warnings_are_shown_and_the_task_still_goes(shell, emu):
    run = shell.run("%%hailuo\nA dancer [Pan left,Pan right,Tilt up,Tilt down]")
    assert run.error is None
    assert "Note:" in run.stderr
    assert posts(emu) == 1


# ----------------------------------------------------------------------------- error paths


@pytest.mark.parametrize(
    ("cell", "needle"),
    [
        ("%%hailuo --bogus\nA cat", "unrecognized arguments: --bogus"),
        ("%%hailuo --no\nA cat", "unrecognized arguments: --no"),  # no abbreviations
        ("%%hailuo -q 4k\nA cat", "Quality '4k'"),
        ("%%hailuo -q\nA cat", "expected one argument"),
        ("%%hailuo -d 7\nA cat", "Duration '7'"),
        ("%%hailuo -q 1080p -d 10\nA cat", "1080p videos can only be 6 s"),
        ("%%hailuo\nA cat [Pan lft]", "Pan left"),
        ("%%hailuo -i missing.png\nA cat", "missing.png"),
        ("%%hailuo -i ftp://example.com/a.png\nA cat", "ftp"),
        ("%%hailuo\nA {nobody} cat", "{nobody}"),
        ("%%hailuo -i {nowhere}\nA cat", "{nowhere}"),
        ("%%hailuo\nA {} cat", "{name}"),
        ("%%hailuo\nA } cat", "}}"),
        ("%%hailuo\n   ", "prompt is empty"),
        ("%%hailuo -o 2bad\nA cat", "-o/--out"),
        ("%%hailuo -o class\nA cat", "-o/--out"),
        ("%%hailuo --dir x --no-download\nA cat", "contradict"),
        ("%%hailuo extra words\nA cat", "unrecognized arguments: extra words"),
        ("%%hailuo -i 'unclosed\nA cat", "quotes"),
        ("%hailuo -x A cat", "unrecognized arguments: -x"),
        ("%hailuo -q 1080p -d 10 A cat", "1080p"),
        ("%hailuo stats", "Subcommands: form, status"),
        ("%hailuo histroy -n 3", "did you mean `%hailuo history`"),
        ("%hailuo emulator launch", "start | stop | status"),
        ("%hailuo status", "Usage: %hailuo status"),
        ("%hailuo status a b", "Usage: %hailuo status"),
        ("%hailuo history -n 0", "at least 1"),
        ("%hailuo history -n many", "invalid int value"),
        ("%hailuo form now", "no arguments"),
        ("%hailuo logout please", "no arguments"),
        ("%hailuo resume a b", "Usage: %hailuo resume"),
    ],
)
def test_usage_errors_are_one_line_and_send_nothing(shell, emu, api_key, cell, needle):
    run = shell.run(cell)
    assert_usage_error(run, needle)
    assert emu.requests_seen == 0
    assert "_hailuo_task" not in shell.user_ns
    assert api_key not in run.text


def test_no_key_is_a_usage_error_that_says_how_to_set_one(shell, emulator, monkeypatch):
    monkeypatch.setenv("HAILUO_BASE_URL", emulator.base_url)
    for cell in ("%%hailuo\nA cat [Pan left]", "%hailuo A cat", "%hailuo status task-x"):
        run = shell.run(cell)
        assert_usage_error(run, "EVOLINK_API_KEY", "%hailuo login", "%hailuo emulator start")
    assert emulator.requests_seen == 0


@pytest.mark.parametrize(
    ("fault", "needle"),
    [("402", "HTTP 402"), ("401", "HTTP 401"), ("400", "HTTP 400"), ("500", "HTTP 500")],
)
def test_service_errors_on_submit_are_one_line(shell, emu, api_key, fault, needle):
    emu.inject("POST /v1/videos/generations", fault)
    run = shell.run("%%hailuo\nA cat [Pan left]")
    assert_usage_error(run, needle)
    assert api_key not in run.text


def test_a_lost_connection_on_submit_is_one_line(shell, emu):
    emu.inject("POST /v1/videos/generations", "drop_after")
    run = shell.run("%%hailuo\nA cat [Pan left]")
    assert_usage_error(run)


# ----------------------------------------------------------------------------- %hailuo line


def test_one_liner_with_options_keeps_the_prompt_as_typed(shell, emu):
    run = shell.run("%hailuo -d 10 -o dog A dog's \"big\" day out [Pan right]")
    assert run.error is None, run.stderr
    assert run.result is None
    body = emu.task(shell.user_ns["dog"].id)["body"]
    assert body["prompt"] == "A dog's \"big\" day out [Pan right]"
    assert body["duration"] == 10


def test_double_dash_makes_a_subcommand_word_a_prompt(shell, emu):
    run = shell.run("%hailuo -- form of a dancer in the rain [Static shot]")
    assert run.error is None, run.stderr
    assert emu.task(shell.user_ns["_hailuo_task"].id)["body"]["prompt"].startswith("form of")
    run = shell.run("%hailuo --wait -- -5 degrees outside [Pan left]")
    assert run.error is None, run.stderr
    assert shell.user_ns["_hailuo_task"].prompt.startswith("-5 degrees")


def test_one_liner_wait(shell, emu):
    run = shell.run("%hailuo --wait -o w A windmill [Tilt up]")
    assert run.error is None, run.stderr
    assert shell.user_ns["w"].status == "completed" and shell.user_ns["w"].local_path


def test_split_leading_options():
    assert split_leading_options("-q 768p --wait A fox [Pan left]") == (
        ["-q", "768p", "--wait"], "A fox [Pan left]")
    assert split_leading_options("A -q fox") == ([], "A -q fox")
    assert split_leading_options('-i "my image.png" -- -a prompt') == (
        ["-i", "my image.png"], "-a prompt")
    assert split_leading_options("--dir=out a") == (["--dir=out"], "a")


def test_interpolate():
    ns = {"x": 1.5, "name": "Ada"}
    assert interpolate("{name} {x:.2f} {{x}}", ns) == "Ada 1.50 {x}"
    assert interpolate("no braces", ns) == "no braces"
    with pytest.raises(UsageError, match=r"Unknown name \{y\}"):
        interpolate("{y}", ns)
    with pytest.raises(UsageError, match="literal braces"):
        interpolate("{x", ns)


def test_help_everywhere_sends_nothing(shell, emu):
    for cell in ("%hailuo help", "%hailuo", "%hailuo -h", "%%hailuo -h\nA cat",
                 "%hailuo history -h", "%hailuo emulator --help"):
        run = shell.run(cell)
        assert run.error is None, (cell, run.stderr)
        assert "Subcommands" in run.stdout and "--no-download" in run.stdout, cell
    assert emu.requests_seen == 0


def test_form_displays_the_generation_form(shell):
    run = shell.run("%hailuo form")
    assert run.error is None, run.stderr
    form, log = run.outputs  # the form, then the plain output where its work is recorded
    assert WIDGET_VIEW in form["data"]
    assert WIDGET_VIEW not in log["data"] and "text/plain" in log["data"]
    assert log["transient"]["display_id"]  # updated in place as the form sends requests


# ----------------------------------------------------------------------------- status, resume


def test_status_refreshes_and_displays(shell, emu):
    shell.run("%hailuo --wait -o t A tugboat [Push in]")
    task = shell.user_ns["t"]
    before = gets(emu)
    run = shell.run(f"%hailuo status {task.id}")
    assert run.error is None, run.stderr
    assert gets(emu) == before + 1
    assert task.id in run.outputs[0]["data"]["text/plain"]
    assert "completed" in run.outputs[0]["data"]["text/plain"]
    shell.user_ns["tid"] = task.id
    assert shell.run("%hailuo status {tid}").error is None


def test_status_of_an_unknown_id_is_one_line(shell, emu):
    run = shell.run("%hailuo status task-unified-0000000000-nothere")
    assert_usage_error(run, "Unknown task id 'task-unified-0000000000-nothere'")


def _forget_session():
    """What a kernel restart does to this process's memory (the history stays)."""
    from hailuo_nb._engine import journal
    from hailuo_nb._engine import scheduler as poller
    poller.stop_following_all()
    journal.unregister()


def test_status_of_a_task_known_only_to_the_history_or_the_server(shell, emu):
    shell.run("%hailuo --wait -o t A tram [Tracking shot]")
    task_id = shell.user_ns["t"].id
    _forget_session()
    run = shell.run(f"%hailuo status {task_id}")
    assert run.error is None, run.stderr
    assert "completed" in run.outputs[0]["data"]["text/plain"]
    # An id the history never saw, that the server knows (made elsewhere).
    from hailuo_nb import Client, GenerationRequest
    with Client() as client:
        other = client.submit(GenerationRequest(prompt="elsewhere [Pan left]")).id
    run = shell.run(f"%hailuo status {other}")
    assert run.error is None, run.stderr
    assert other in run.outputs[0]["data"]["text/plain"]


@pytest.mark.slow
def test_resume_nothing_then_unfinished_tasks(shell, emulator_factory, env_for):
    slow = env_for(emulator_factory(task_seconds=2.0))
    run = shell.run("%hailuo resume")
    assert run.error is None and run.stdout.startswith("Nothing to resume")
    shell.run("%hailuo -o a A slow glacier [Static shot]")
    shell.run("%hailuo -o b A slow cloud [Static shot]")
    ids = {shell.user_ns["a"].id, shell.user_ns["b"].id}
    _forget_session()
    run = shell.run("%hailuo resume")
    assert run.error is None, run.stderr
    assert run.stdout.startswith("Re-attached 2 unfinished task(s)")
    assert len(run.outputs) == 2
    from hailuo_nb import api, wait_all
    resumed = [t for t in api.live_tasks() if t.id in ids]
    assert len(resumed) == 2
    wait_all(resumed, timeout=60)
    assert all(t.status == "completed" and t.local_path for t in resumed)
    assert slow.tasks_created == 2  # resumed, not submitted again


def test_resume_one_id(shell, emulator_factory, env_for):
    env_for(emulator_factory(task_seconds=1.0))
    shell.run("%hailuo -o a A slow river [Static shot]")
    task_id = shell.user_ns["a"].id
    _forget_session()
    run = shell.run(f"%hailuo resume {task_id}")
    assert run.stdout.startswith("Re-attached 1 unfinished task(s)") and task_id in run.stdout
    assert len(run.outputs) == 1


@pytest.mark.slow
def test_load_resumes_unfinished_tasks_with_one_line(emulator_factory, env_for, monkeypatch):
    env_for(emulator_factory(task_seconds=2.0))
    from hailuo_nb import api, generate
    task = generate("A slow sunrise [Static shot]")
    _forget_session()
    sh = TestingShell.create()
    try:
        run = sh.run("%load_ext hailuo_nb")
        assert run.error is None, run.stderr
        assert run.stdout.strip().startswith(
            f"Re-attached 1 unfinished task(s) from the history: {task.id} — re-run")
        assert run.outputs == []  # shown in its own cell when that runs again, not here
        resumed = [t for t in api.live_tasks() if t.id == task.id]
        assert resumed and resumed[0].wait(60).status == "completed"
    finally:
        _close_shell(sh)
    # Without a key an unfinished history is skipped silently.
    generate("Another slow sunrise [Static shot]")
    _forget_session()
    monkeypatch.delenv("EVOLINK_API_KEY")
    sh = TestingShell.create()
    try:
        run = sh.run("%load_ext hailuo_nb")
        assert (run.stdout, run.stderr, run.outputs) == ("", "", [])
    finally:
        _close_shell(sh)


def test_load_with_auto_resume_off_does_not_resume(emulator_factory, env_for):
    env_for(emulator_factory(task_seconds=2.0))
    from hailuo_nb import api, generate
    generate("A slow tide [Static shot]")
    _forget_session()
    sh = TestingShell.create(**{"HailuoMagics.auto_resume": False})
    try:
        run = sh.run("%load_ext hailuo_nb")
        assert (run.stdout, run.stderr, run.outputs) == ("", "", [])
        assert api.live_tasks() == []
    finally:
        _close_shell(sh)


def test_load_with_an_empty_history_is_silent():
    sh = TestingShell.create()
    try:
        run = sh.run("%load_ext hailuo_nb")
        assert (run.stdout, run.stderr, run.outputs) == ("", "", [])
    finally:
        _close_shell(sh)


# ----------------------------------------------------------------------------- history


def test_history_table(shell, emu, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: every column fits
    shell.run("%hailuo --wait -o a A <b>bold</b> & sneaky <script>alert(1)</script> [Pan left]")
    shell.run("%hailuo --wait -q 768p -d 10 -o b A second clip [Push in]")
    run = shell.run("%hailuo history")
    table = run.result
    assert isinstance(table, HistoryTable) and len(table) == 2
    bundle = table._repr_mimebundle_()
    text, page = bundle["text/plain"], bundle["text/html"]
    header = text.splitlines()[0].split()
    assert header[:3] == ["created", "task", "id"]
    for column in ("created", "task id", "status", "prompt", "quality", "file"):
        assert column in text.splitlines()[0]
        assert f">{column}</th>" in page
    a, b = shell.user_ns["a"], shell.user_ns["b"]
    assert text.index(b.id) < text.index(a.id)  # newest first
    assert "768p, 10 s" in text and "completed" in text
    assert f"hailuo_videos/{a.id}.mp4" in text
    assert "<script>" not in page and "<b>bold" not in page
    assert "&lt;script&gt;" in page and "&amp; sneaky" in page
    one = shell.run("%hailuo history -n 1").result
    assert len(one) == 1 and b.id in repr(one)


def test_history_table_escapes_every_cell():
    evil = '<img src=x onerror="alert(1)">'
    rows = [{
        "task_id": evil, "status": evil, "created_at": 0.0, "error_code": None,
        "request": {"prompt": evil, "quality": evil, "duration": 6, "mode": "text-to-video"},
        "local_path": "/abs/" + evil,
    }]
    page = HistoryTable(rows).html()
    assert "<img" not in page and 'onerror="' not in page
    assert HistoryTable([]).text() == "No tasks in the history yet."
    assert "No tasks" in HistoryTable([])._repr_mimebundle_()["text/html"]


# ----------------------------------------------------------------------------- login / logout


def test_login_sets_a_session_key_without_echoing_it(shell, emulator, monkeypatch):
    key = "sk-login-" + os.urandom(8).hex()
    prompts = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": prompts.append(prompt) or key)
    monkeypatch.setenv("HAILUO_BASE_URL", emulator.base_url)
    run = shell.run("%hailuo login")
    assert run.error is None, run.stderr
    assert run.result is None
    assert prompts and key not in prompts[0]
    assert credentials.resolve_api_key() == key
    assert not credentials.credentials_file().exists()
    assert key not in run.text
    # The key works: a generation goes through with no environment variable.
    run = shell.run("%hailuo --wait -o t A lantern [Push in]")
    assert run.error is None, run.stderr
    assert key not in run.text
    assert key not in json.dumps(shell.run("%hailuo history").result.rows)


def test_login_save_writes_a_private_file_and_logout_removes_it(shell, monkeypatch):
    key = "sk-saved-" + os.urandom(8).hex()
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": key)
    run = shell.run("%hailuo login --save")
    assert run.error is None, run.stderr
    path = credentials.credentials_file()
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in run.stdout and key not in run.text
    credentials.set_session_key(None)
    assert credentials.resolve_api_key() == key  # from the file
    run = shell.run("%hailuo logout")
    assert "removed" in run.stdout
    assert not path.exists()
    with pytest.raises(credentials.MissingAPIKeyError):
        credentials.resolve_api_key()


@pytest.mark.parametrize("typed", ["", "   ", "two words", "k\u00e9y"])
def test_login_refuses_empty_or_unsendable_keys(shell, monkeypatch, typed):
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": typed)
    run = shell.run("%hailuo login")
    message = assert_usage_error(run)
    if typed.strip():
        assert typed not in message
    with pytest.raises(credentials.MissingAPIKeyError):
        credentials.resolve_api_key()


def test_logout_mentions_an_environment_key(shell, monkeypatch):
    monkeypatch.setenv("EVOLINK_API_KEY", "sk-env-value")
    run = shell.run("%hailuo logout")
    assert "EVOLINK_API_KEY is still set" in run.stdout
    assert "sk-env-value" not in run.text


# ----------------------------------------------------------------------------- emulator


def test_emulator_start_generate_stop(shell, monkeypatch):
    assert not credentials.has_key()
    run = shell.run("%hailuo emulator status")
    assert "not running" in run.stdout
    run = shell.run("%hailuo emulator start --task-seconds 0.3")
    assert run.error is None, run.stderr
    emu = magics._EMULATOR.emulator
    assert emu.base_url in run.stdout
    assert settings.base_url == emu.base_url == settings.files_url
    assert os.environ["HAILUO_BASE_URL"] == emu.base_url
    assert shell.run("%config HailuoMagics.base_url").result == emu.base_url
    assert credentials.has_key()
    assert "already running" in shell.run("%hailuo emulator start").stdout
    run = shell.run("%%hailuo --wait -o t\nA practice run [Pan left]")
    assert run.error is None, run.stderr
    assert shell.user_ns["t"].status == "completed"
    assert "1 task(s) created" in shell.run("%hailuo emulator").stdout
    from hailuo_nb import Client
    with Client() as client:  # the plain Client follows the emulator too
        assert client.base_url == emu.base_url
    run = shell.run("%hailuo emulator stop")
    assert "stopped" in run.stdout
    assert settings.base_url == "" and settings.files_url == ""
    assert "HAILUO_BASE_URL" not in os.environ
    assert not credentials.has_key()
    assert "not running" in shell.run("%hailuo emulator stop").stdout


def test_emulator_keeps_an_existing_key_and_base_url_setting(shell, api_key, monkeypatch):
    monkeypatch.setenv("EVOLINK_API_KEY", api_key)
    settings.base_url = "http://127.0.0.1:9"
    run = shell.run("%hailuo emulator start")
    assert "with your key" in run.stdout
    assert credentials.resolve_api_key() == api_key
    shell.run("%hailuo emulator stop")
    assert settings.base_url == "http://127.0.0.1:9"
    assert credentials.resolve_api_key() == api_key


def test_emulator_stop_ends_its_unfinished_tasks(shell):
    shell.run("%hailuo emulator start --task-seconds 60")
    shell.run("%hailuo -o t A very slow thing [Static shot]")
    task = shell.user_ns["t"]
    assert not task.is_terminal
    run = shell.run("%hailuo emulator stop")
    assert "1 unfinished task(s) marked failed" in run.stdout
    assert task.status == "failed" and task.error["code"] == "emulator_stopped"
    from hailuo_nb._presentation.records import record_text

    record = record_text(task)
    assert "reserved" in record, record  # the emulator said what it reserved...
    assert "refund" not in record  # ...but the service never failed it: nothing to refund


@pytest.mark.slow
def test_ctrl_c_stops_the_waiting_not_the_task(shell, emulator_factory, env_for):
    env_for(emulator_factory(task_seconds=30))
    # Ctrl-C as a terminal delivers it, even where the suite runs from a background job
    # (which starts with SIGINT ignored, and then interrupt_main does nothing).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    try:
        run = shell.run("%%hailuo --wait -o t\nA long exposure [Static shot]")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert run.error is None, run.stderr
    assert "Stopped waiting" in run.stderr
    task = shell.user_ns["t"]
    assert not task.is_terminal
    from hailuo_nb._engine import scheduler
    assert scheduler.get_poller().live_count() >= 1  # still followed


def test_forget_unfinished_from_the_magic(shell, emulator_factory, env_for):
    env_for(emulator_factory(task_seconds=60.0))
    shell.run("%hailuo -o slow A slow take [Pan left]")
    task_id = shell.user_ns["slow"].id
    run = shell.run("%hailuo forget --unfinished")
    assert run.error is None, run.stderr
    assert f"Forgot 1 task(s): {task_id}" in run.stdout
    assert shell.run("%hailuo forget --unfinished").stdout.startswith("Nothing to forget")
    assert_usage_error(shell.run("%hailuo forget"), "Usage: %hailuo forget")


def test_emulator_start_with_options_while_running_applies_them(shell):
    assert shell.run("%hailuo emulator start --task-seconds 30").error is None
    run = shell.run("%hailuo emulator start --task-seconds 0.2")
    assert run.error is None and "new tasks now take ~0.2 s" in run.stdout
    run = shell.run("%hailuo --wait -o quick A quick one [Static shot]")
    assert run.error is None, run.stderr
    assert shell.user_ns["quick"].status == "completed"


def test_dry_run_and_model_from_the_magic(shell, emu, tmp_path):
    from imagefactory import png

    (tmp_path / "still.png").write_bytes(png(640, 360))
    shell.user_ns["img"] = str(tmp_path / "still.png")
    run = shell.run("%%hailuo --dry-run -m fast -i {img}\nThe still comes alive [Push in]")
    assert run.error is None, run.stderr
    assert "Dry run: nothing was sent." in run.stdout
    assert '"model": "MiniMax-Hailuo-2.3-Fast"' in run.stdout and "Checks passed" in run.stdout
    assert emu.requests_seen == 0
    assert_usage_error(shell.run("%%hailuo -m fast\nNo image here"), "image-to-video only")
    assert shell.run("%config HailuoMagics.default_model = 'fast'").error is None
    try:
        assert settings.default_model == "MiniMax-Hailuo-2.3-Fast"
    finally:
        settings.default_model = "standard"
    assert settings.default_model == "MiniMax-Hailuo-2.3"


def test_an_uploaded_still_keeps_its_name_and_its_record_shows_it(shell, emu, tmp_path):
    """`%hailuo files` lists still.png as still.png; the record shows the image it was
    made from: a thumbnail, its path and its sha256."""
    import hashlib

    from imagefactory import png

    data = png(640, 360)
    (tmp_path / "still.png").write_bytes(data)
    shell.user_ns["img"] = str(tmp_path / "still.png")
    run = shell.run("%%hailuo --wait -o moved -i {img}\nThe still comes alive [Push in]")
    assert run.error is None, run.stderr
    listing = shell.run("%hailuo files").stdout
    assert "still.png" in listing and "image.png" not in listing, listing
    from hailuo_nb._presentation.records import record_bundle

    bundle = record_bundle(shell.user_ns["moved"])
    assert "still.png" in bundle["text/plain"]
    assert hashlib.sha256(data).hexdigest() in bundle["text/plain"]
    assert 'alt="input image"' in bundle["text/html"] and "data:image/png;base64," in bundle[
        "text/html"]


def test_history_table_is_sized_for_ids_and_prompts():
    """In a 120-column terminal: whole ids and 40+ characters of each prompt (the file
    column leaves first); in HTML, ids and dates never wrap and the prompt has room."""
    prompt = "A paper lantern drifts over a night market, lanterns all around it [Pan left]"
    rows = [{"task_id": f"task-unified-1796526545-{i:08d}", "status": "completed",
             "created_at": 1796526545.0, "request": {"prompt": prompt, "quality": "768p",
                                                    "duration": 6},
             "local_path": f"hailuo_videos/task-unified-1796526545-{i:08d}.mp4",
             "credits": 20.0} for i in range(3)]
    text = HistoryTable(rows).text(120)
    lines = text.splitlines()
    assert all(len(line) <= 120 for line in lines), text
    for row in rows:
        [line] = [x for x in lines if row["task_id"] in x]
        assert prompt[:40] in line, line
    page = HistoryTable(rows).html()
    assert page.count('<code style="white-space:nowrap">task-unified-') == 3
    assert "min-width:18em" in page and prompt in page


def test_emulator_status_says_what_it_received(shell):
    assert shell.run("%hailuo emulator start --task-seconds 0.2").error is None
    assert "received no generation request" in shell.run("%hailuo emulator status").stdout
    run = shell.run("%hailuo --wait -q 768p -d 6 -o seen A heron lands [Push in]")
    assert run.error is None, run.stderr
    status = shell.run("%hailuo emulator status").stdout
    assert "(1 task(s) created)" in status and shell.user_ns["seen"].id in status
    assert "768P" in status.upper() and "6 s" in status and "A heron lands [Push in]" in status
