"""A recording comm for widget tests, modelled on ipywidgets' own DummyComm
(ipywidgets/widgets/tests/utils.py): every message a widget would send to the
frontend is kept, so tests can count and inspect them without a browser."""

from __future__ import annotations

import itertools
import threading

_ids = itertools.count()


class RecordingComm:
    kernel = "recording"  # truthy: ipywidgets only sends when the comm has a kernel

    def __init__(self, log, **kwargs):
        self.comm_id = f"rec-{next(_ids)}"
        self.log = log
        self.log.append(("open", kwargs.get("data")))

    def open(self, *args, **kwargs):
        pass

    def on_msg(self, *args, **kwargs):
        pass

    def send(self, data=None, buffers=None, **kwargs):
        self.log.append(("send", data))

    def close(self, *args, **kwargs):
        pass


class CommLog(list):
    """The messages, thread-safe enough for append from the poller thread."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def append(self, item):
        with self.lock:
            super().append(item)

    def sends(self):
        return [data for kind, data in list(self) if kind == "send"]

    def text(self):
        return repr(list(self))


def install(monkeypatch) -> CommLog:
    import ipywidgets.comm

    log = CommLog()
    monkeypatch.setattr(ipywidgets.comm, "create_comm", lambda **kw: RecordingComm(log, **kw))
    return log
