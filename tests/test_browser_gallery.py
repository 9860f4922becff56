"""A Gallery of 200 live tasks in JupyterLab + headless Chromium (marker: browser, slow).

The issue: "comm messages ≤ 20 per second in all; the page shows 'all done' within a few
seconds of the kernel; typing into another cell while the tasks run AND while they
complete echoes fast". ``gallery_load.measure_gallery`` runs it once (an emulator with
30 s tasks, its own JupyterLab, a notebook of 200 tasks shown in one Gallery) and the
tests below check what is not a time; the lag and the typing latencies (p50/p95) are
printed, and bench/bench_gallery_browser.py puts them in bench/RESULTS.md, not asserted:
a shared machine makes times drift.

Screenshots: tests/_screens/gallery.png (mid-run; also docs/ with HAILUO_UPDATE_DOCS=1),
gallery_completing.png, gallery_records.png. The numbers: tests/_screens/gallery_load.json.
Skipped (with the reason) only when Chromium, jupyterlab or playwright is missing.
"""

from __future__ import annotations

import json

import browser_harness as bh
import gallery_load as gl
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_TASKS = 200
MAX_COMM_PER_S = 20
MAX_MODELS = 5


@pytest.fixture(scope="module")
def measured(tmp_path_factory, pw):
    why = bh.missing_prerequisites()
    if why:
        pytest.skip(why)
    folder = tmp_path_factory.mktemp("gallery_lab")
    with gl.gallery_lab(folder) as lab:
        chromium = bh.launch_chromium(pw)
        context = chromium.new_context(viewport=gl.VIEWPORT)
        context.set_default_timeout(60_000)
        try:
            numbers = gl.measure_gallery(lab, context, N_TASKS)
        finally:
            context.close()
            chromium.close()
    bh.SCREENS.mkdir(parents=True, exist_ok=True)
    (bh.SCREENS / "gallery_load.json").write_text(json.dumps(numbers, indent=1, default=str))
    print("\n" + "\n".join(gl.report_lines(numbers)))
    return numbers


def test_comm_messages_stay_under_20_per_second(measured):
    per_s = measured["comm_msgs_per_s_bins"]
    assert measured["comm_msgs_in"] > 0, "the page saw no comm message: the gallery never moved"
    assert measured["comm_msgs_max_per_s"] <= MAX_COMM_PER_S, (
        f"{measured['comm_msgs_max_per_s']} comm messages in one second "
        f"(in and out, sliding window); per second: {per_s}")


def test_one_gallery_is_a_handful_of_models_not_200(measured):
    assert 1 <= measured["comm_opens"] <= MAX_MODELS, (
        f"{measured['comm_opens']} widget models opened for a gallery of {N_TASKS}")


def test_every_card_was_shown(measured):
    assert measured["max_cards"] == N_TASKS, f"{measured['max_cards']} cards, not {N_TASKS}"


def test_the_bar_reaches_100_or_the_static_grid_takes_over(measured):
    bar = measured["bar_history"]
    assert bar, "no combined bar (.hl-bar-total) was seen"
    assert bar == sorted(bar), f"the bar went back: {bar}"
    grid_took_over = measured["grid_records"] == N_TASKS
    assert measured["bar_max"] == 100 or grid_took_over, (
        f"bar stopped at {measured['bar_max']} % and the static grid shows "
        f"{measured['grid_records']} records")
    if measured["grid_head"] is not None:
        assert measured["grid_head"].startswith(f"Hailuo tasks: {N_TASKS} tasks: "), \
            measured["grid_head"]


def test_the_page_says_all_done(measured):
    assert measured["all_done_at_s"] is not None, (
        f"'all done' never showed; last summaries: {measured['summaries']}")
    assert measured["kernel_done"] is not None, "the kernel's KERNEL_DONE line was not read"
    assert measured["kernel_status"] == f"{{'completed': {N_TASKS}}}", measured["kernel_status"]
    print(f"\nlag, page all done ({measured['all_done_by']}) - kernel done: "
          f"{measured['lag_s']:.2f} s")


def test_typing_was_measured_while_running_and_while_completing(measured):
    running, completing = measured["typing_running"], measured["typing_completing"]
    assert running["keys"] >= 40, running
    assert completing["keys"] >= 40, completing
    assert measured["keys_lost"] == 0 and measured["keys_elsewhere"] == 0
    for phase in (running, completing):  # a latency was measured, and it is a latency:
        # the echo reached the DOM, then a painted frame, after the key (no bound on times).
        assert 0 < phase["dom_p50_ms"] <= phase["p50_ms"], phase
        assert phase["p50_ms"] <= phase["p95_ms"] <= phase["max_ms"], phase
    # Times are reported, not asserted (a shared machine): the typing fell where it should.
    assert not measured["completed_before_running_keys_ended"], \
        "a task completed while the 'running' keys were typed: tasks too short"
    print(f"\ntyping p50/p95: running {running['p50_ms']:.0f}/{running['p95_ms']:.0f} ms, "
          f"completing {completing['p50_ms']:.0f}/{completing['p95_ms']:.0f} ms "
          f"({completing['keys']} keys)")


def test_no_widget_errors(measured):
    assert not measured["widget_errors"], measured["widget_errors"]
