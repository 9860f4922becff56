"""Deadlines that hold — each fault ends within the client's deadline, with a typed error.

A client made with ``Client(deadline=8, download_deadline=8)`` against the chaos server
(tests/chaos_server.py, run in its own process): a status answer that is 503 forever, one
that drips a byte a second, one that is accepted and never answered, one that drips and
503s in turn, and a result video that drips. Subject: seconds from the call to its error
(``time.monotonic()``), the error's type, and how many requests the server saw. Target:
the deadline + 2 s, and a typed error (never a hang, never a bare exception).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc  # also puts tests/ on the path
from chaos_server import ChaosProcess

DEADLINE = 8.0
FAULTS = (  # (what, prompt word, the call that meets it)
    ("503 forever (status)", "always-503", "get_task"),
    ("dripping body (status)", "drip-poll", "get_task"),
    ("no answer (status)", "no-answer", "get_task"),
    ("drips and 503s in turn (status)", "drip-or-503", "get_task"),
    ("dripping video (download)", "drip-video", "download"),
)


def _one(server: ChaosProcess, word: str, call: str, folder: Path) -> tuple[float, str, str]:
    import hailuo_nb

    client = hailuo_nb.Client(api_key="sk-bench-deadline", base_url=server.base_url,
                              deadline=DEADLINE, download_deadline=DEADLINE)
    task_id = server.done_task(word)  # finished on the server: the fault is in what follows
    started = time.monotonic()
    try:
        if call == "get_task":
            client.get_task(task_id)
        else:
            client.download(f"{server.base_url}/media/{task_id}.mp4", folder / f"{word}.mp4")
        error, text = "none", "(no error)"
    except hailuo_nb.HailuoError as exc:
        error, text = type(exc).__name__, str(exc)
    took = time.monotonic() - started
    client.close()
    return took, error, text


def run() -> dict:
    rows, data = [], {}
    with ChaosProcess(task_seconds=0.2, drip_s=1.0) as server, bc.isolated_home() as home:
        for what, word, call in FAULTS:
            took, error, text = _one(server, word, call, Path(home))
            data[word] = {"seconds": took, "error": error, "message": text}
            print(f"{what:34} {took:6.2f} s  {error}: {text}", flush=True)
            rows.append(bc.row(what, f"deadline {DEADLINE:g} s", f"{took:.2f} s",
                               f"{took - DEADLINE:+.2f} s", f"<= {DEADLINE + 2:g} s, typed",
                               took <= DEADLINE + 2 and error != "none"))
            rows.append(bc.row(f"  error ({call})", "-", error, None, "(report)", None))
    notes = [f"Client(deadline={DEADLINE:g}, download_deadline={DEADLINE:g}); the chaos "
             "server (tests/chaos_server.py) runs in its own process and drips one byte a "
             "second; seconds are time.monotonic() from the call to its error.",
             "The client before issue 22 (commit 3e38db9), same script, same server: 503 "
             "forever 5.0 s (ServerError, no word of the deadline), dripping body 202.2 s, "
             "no answer 30.0 s, drips and 503s in turn 199.7 s, dripping video 34.5 s (4 "
             "attempts of 8 s) — each a TransportError that named no deadline."]
    return bc.section("11. Deadlines that hold (one fault per call)", rows, notes, data=data)


if __name__ == "__main__":
    bc.main(run)
