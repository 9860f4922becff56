"""Terminal IPython: a progress line that rewrites itself, one line when a background task
ends, tables that fit the terminal, words that fit a terminal (no "view" to speak of)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
ip = get_ipython()
print("SHELL", type(ip).__name__)
ip.run_line_magic("load_ext", "hailuo_nb")
ip.run_cell_magic("hailuo", "--wait -o t", "A fox crosses a frozen lake [Pan left]")
print("STATUS", t.status)
ip.run_cell_magic("hailuo", "-o u", "A heron lands on a post [Push in]")
u.wait(60)
import time; time.sleep(0.5)
print(ip.run_line_magic("hailuo", "history"))
"""


@pytest.mark.slow
def test_terminal_ipython_says_each_thing_once(emulator, api_key, tmp_path):
    env = {**os.environ, "EVOLINK_API_KEY": api_key, "HAILUO_BASE_URL": emulator.base_url,
           "HAILUO_HOME": str(tmp_path / "home"), "COLUMNS": "80",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    script = tmp_path / "session.ipy"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner",
                           str(script)], capture_output=True, env=env,
                          cwd=tmp_path, timeout=180, check=False)
    out, err = done.stdout.decode(), done.stderr.decode()  # bytes: keep the \r as sent
    assert done.returncode == 0, err[-2000:]
    assert "SHELL TerminalInteractiveShell" in out
    assert out.count("Hailuo task completed: A fox crosses") == 1, out  # the record, once
    assert "STATUS completed" in out
    assert "\r" in err and "Hailuo task" in err  # the progress line rewrote itself
    assert "submitted (768p, 6 s): it goes on in the background" in out
    heron = [line for line in out.splitlines() if "completed →" in line]
    assert len(heron) == 1 and "hailuo_videos/" in heron[0], out
    table = out[out.index("created"):].splitlines()
    assert table and all(len(line) <= 80 for line in table), table


CTRL_C = r"""
import _thread, signal, threading, time
# Ctrl-C as a terminal delivers it, even when the suite runs from a background job (which
# starts with SIGINT ignored, and then interrupt_main does nothing).
signal.signal(signal.SIGINT, signal.default_int_handler)
ip = get_ipython()
ip.run_line_magic("load_ext", "hailuo_nb")
threading.Timer(1.0, _thread.interrupt_main).start()
ip.run_cell_magic("hailuo", "--wait -o t", "A slow tide comes in [Static shot]")
print("AFTER CTRL-C", t.status)
t.wait(60)
time.sleep(0.5)
"""


@pytest.mark.slow
def test_ctrl_c_in_a_terminal_says_one_thing_and_a_line_comes_when_the_task_ends(
        emulator_factory, api_key, tmp_path):
    emu = emulator_factory(task_seconds=4.0)
    env = {**os.environ, "EVOLINK_API_KEY": api_key, "HAILUO_BASE_URL": emu.base_url,
           "HAILUO_HOME": str(tmp_path / "home"), "COLUMNS": "80",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    script = tmp_path / "session.ipy"
    script.write_text(CTRL_C)
    done = subprocess.run([sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner",
                           str(script)], capture_output=True, env=env,
                          cwd=tmp_path, timeout=180, check=False)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-2000:]
    [said] = [line for line in err.replace("\r", "\n").splitlines() if "Stopped waiting" in line]
    assert said.count("goes on") == 1 and "a line says when it ends" in said, said
    after = out[out.index("AFTER CTRL-C"):]
    assert "AFTER CTRL-C processing" in after or "AFTER CTRL-C pending" in after
    ended = [line for line in after.splitlines() if "completed →" in line]
    assert len(ended) == 1 and "hailuo_videos/" in ended[0], out
