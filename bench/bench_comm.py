"""Item 7 — comm messages over one task's life.

A ``%%hailuo`` cell runs in a real ``InteractiveShell`` with every widget comm replaced
by the recording comm of ``tests/widget_comm.py`` (modelled on ipywidgets' own
``DummyComm``); the TaskView the magic displays follows the task from submission to
the downloaded video. Counted: ``comm_open`` messages (one per widget model) and
updates (``send``), from the cell's start until the task is done and the view settled.

Baseline, on the very same task at the very same time: a second ``TaskView`` made
right after the cell with an unlimited message budget (``messages_per_second=1e6``:
what the view would send without its throttle).

Bound (stated; the design guarantees it, see tests/test_widgets.py): updates <=
10 * T + 10 + 8 * 10 for a life of T seconds (10 messages/s of progress, one redraw of
overshoot, at most 8 settling changes of at most 10 widgets each); comm_opens <= 50.

Two lives: the real thing (default polling: first poll after 1 s, then 2-15 s apart) for
a REAL_TASK s task, and the same scaled /16 (polls 16x as often) for a 96 s task made
6 s, where the throttle has work to do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

REAL_TASK = 30.0  # s: the shortest real Hailuo task
SCALE = 16.0
SCALED_TASK = 96.0 / SCALE
OPEN_BOUND = 50


def _bound(life: float) -> float:
    return 10 * life + 10 + 8 * 10


def _models(view) -> set[str]:
    """The comm ids of every widget model of a view (children, layouts, styles)."""
    import ipywidgets as W

    seen: dict[int, object] = {}
    stack = [view]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen[id(w)] = w
        for name in w.keys:
            value = getattr(w, name, None)
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, W.Widget):
                    stack.append(item)
    return {w.comm.comm_id for w in seen.values() if getattr(w, "comm", None) is not None}


def _one_life(shell, log, emu, task_seconds: float, name: str) -> dict:
    from hailuo_nb.api import get_poller
    from hailuo_nb.widgets import TaskView

    emu.configure(task_seconds=task_seconds)
    polls0 = get_poller().polls
    mark = log.mark()
    start = time.monotonic()
    bc.run_cell(shell, f"%%hailuo -q 768p -d 6 -o {name}\nA heron lands on a post [Static shot]")
    task = shell.user_ns[name]
    after_cell = log.since(mark)
    subject_ids = {m.comm_id for m in after_cell if m.kind == "open"}
    mark_base = log.mark()
    # The baseline draws on every change of the task, at once (no coalescing).
    baseline = TaskView(task)
    task.observe(lambda _change: baseline.redraw())
    baseline_ids = _models(baseline)
    changes = {"n": 0}
    task.observe(lambda change: changes.__setitem__("n", changes["n"] + 1))
    deadline = time.monotonic() + task_seconds + 120
    while not task.is_done and time.monotonic() < deadline:
        time.sleep(0.02)
    life = time.monotonic() - start
    time.sleep(0.3)
    # The subject's view object: the one whose models opened during the cell.
    subject = next((w for w in _all_views(shell) if _models(w) <= subject_ids), None)
    from hailuo_nb.widgets.redraws import redraws

    while redraws.pending:
        time.sleep(0.05)
    messages = log.since(mark)
    sub_opens = [m for m in messages if m.kind == "open" and m.comm_id in subject_ids]
    sub_sends = [m for m in messages if m.kind == "send" and m.comm_id in subject_ids]
    base_msgs = log.since(mark_base)
    base_opens = [m for m in base_msgs if m.kind == "open" and m.comm_id in baseline_ids]
    base_sends = [m for m in base_msgs if m.kind == "send" and m.comm_id in baseline_ids]
    return {"life": life, "status": task.status, "download": task.download_state,
            "polls": get_poller().polls - polls0, "task_changes": changes["n"],
            "opens": len(sub_opens), "sends": len(sub_sends),
            "base_opens": len(base_opens), "base_sends": len(base_sends),
            "found_view": subject is not None}


def _all_views(shell):
    """Every live TaskView (ipywidgets' registry of open widgets)."""
    import warnings

    from ipywidgets.widgets import widget as widget_module

    from hailuo_nb.widgets import TaskView

    registry = getattr(widget_module, "_instances", None)
    if registry is None:  # older ipywidgets
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            registry = widget_module.Widget.widgets
    return [w for w in list(registry.values()) if isinstance(w, TaskView)]


def run() -> dict:
    sys.path.insert(0, str(bc.TESTS_DIR))
    try:
        import widget_comm
    except ImportError as exc:
        return bc.section("7. Comm messages over one task's life", [],
                          [f"tests/widget_comm.py is not importable: {exc}"])
    import ipywidgets.comm

    from hailuo_nb.api import get_poller

    log = widget_comm.CommLog()
    saved = ipywidgets.comm.create_comm
    ipywidgets.comm.create_comm = lambda **kw: widget_comm.RecordingComm(log, **kw)
    try:
        with bc.isolated_home(), bc.EmulatorProcess(task_seconds=REAL_TASK) as emu:
            bc.point_at(emu.base_url)
            shell = bc.new_shell()
            shell.kernel = bc.KernelStandIn()  # the magic shows its live view, as in a kernel
            bc.run_cell(shell, "%load_ext hailuo_nb")
            bc.set_polling(2.0 / SCALE, 15.0 / SCALE, 1.0 / SCALE)
            scaled = _one_life(shell, log, emu, SCALED_TASK, "scaled")
            bc.set_polling(2.0, 15.0, 1.0)
            real = _one_life(shell, log, emu, REAL_TASK, "real")
            get_poller().stop_following_all()
            shell.clear_instance()
    finally:
        ipywidgets.comm.create_comm = saved

    rows = []
    for label, r in ((f"real polling, {REAL_TASK:g} s task", real),
                     (f"polling scaled /{SCALE:g}, {SCALED_TASK:g} s task "
                      f"(= {SCALED_TASK * SCALE:g} s)", scaled)):
        bound = _bound(r["life"])
        rows.append(bc.row(
            f"updates over one life ({label}; {r['life']:.1f} s, {r['polls']} polls, "
            f"{r['task_changes']} Task trait changes) vs the same view unthrottled",
            str(r["base_sends"]), str(r["sends"]), bc.ratio(r["sends"], r["base_sends"]),
            f"<= 10*T+90 = {bound:.0f}", r["sends"] <= bound and r["download"] == "done"))
        rows.append(bc.row(f"  comm_open (widget models) ({label})", str(r["base_opens"]),
                           str(r["opens"]), "-", f"<= {OPEN_BOUND}",
                           r["opens"] <= OPEN_BOUND))
    notes = [
        "Messages are counted per view (by the comm ids of its models), from the cell's "
        "start to the downloaded video with the view settled; the baseline view is made "
        "right after the cell, so it misses nothing of the task's life but the submission "
        "(which happens before either view exists).",
        f"End states: real {real['status']}/{real['download']}, scaled "
        f"{scaled['status']}/{scaled['download']}; the magic's view still open at the end: "
        f"{real['found_view'] or scaled['found_view']} (once the task settles, its output "
        "becomes the record and the view's model is closed).",
        "The shell stands in for a kernel (bench_common.KernelStandIn), so the magic shows "
        "its live view; one model, plus the Layout all live views share (opened once).",
    ]
    return bc.section("7. Comm messages over one task's life", rows, notes,
                      data={"real": real, "scaled": scaled})


if __name__ == "__main__":
    bc.main(run)
