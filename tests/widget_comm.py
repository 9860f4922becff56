"""A recording comm for widget tests, modelled on ipywidgets' own ``DummyComm``
(``ipywidgets/widgets/tests/utils.py``): instead of a kernel, every message a widget
would send to the frontend — the ``comm_open`` carrying its initial state and each
``update`` — is kept with its data, so tests can count and inspect them without a
browser. Thread-safe: the poller thread sends too.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count()


@dataclass
class Message:
    kind: str  # "open" | "send" | "close"
    comm_id: str
    data: Any
    buffers: list = field(default_factory=list)
    thread: str = ""


class CommLog:
    """Every comm message of the widgets created while installed, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    def record(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def opens(self) -> list[Message]:
        return [m for m in self.messages if m.kind == "open"]

    def sends(self) -> list[Message]:
        return [m for m in self.messages if m.kind == "send"]

    def mark(self) -> int:
        """A position to count from: ``log.since(mark)``."""
        return len(self)

    def since(self, mark: int) -> list[Message]:
        return self.messages[mark:]

    def for_comm(self, comm_id: str) -> list[Message]:
        return [m for m in self.messages if m.comm_id == comm_id]

    def text(self) -> str:
        """Everything that went out (data and buffers), as one searchable string."""
        parts = []
        for m in self.messages:
            parts.append(json.dumps(m.data, default=repr, ensure_ascii=False))
            parts.extend(bytes(b).decode("latin-1") for b in m.buffers)
        return "\n".join(parts)

    def buffer_bytes(self) -> int:
        return sum(len(bytes(b)) for m in self.messages for b in m.buffers)


class RecordingComm:
    """Stands where ``comm.create_comm`` would put a kernel comm."""

    kernel = "recording"  # truthy: ipywidgets only sends when the comm has a kernel

    def __init__(self, log: CommLog, *, data=None, buffers=None, comm_id=None, **kwargs):
        self.comm_id = comm_id or f"rec-{next(_ids)}"
        self.log = log
        self.target_name = kwargs.get("target_name")
        self._record("open", data, buffers)

    def _record(self, kind: str, data, buffers) -> None:
        self.log.record(Message(kind, self.comm_id, data, list(buffers or []),
                                threading.current_thread().name))

    def open(self, data=None, metadata=None, buffers=None, **kwargs):
        pass  # already recorded as created: ipywidgets opens on creation

    def on_msg(self, callback):
        pass

    def on_close(self, callback):
        pass

    def send(self, data=None, metadata=None, buffers=None, **kwargs):
        self._record("send", data, buffers)

    def close(self, data=None, metadata=None, buffers=None, **kwargs):
        self._record("close", data, buffers)


def install(monkeypatch) -> CommLog:
    """Route every new widget's comm into a fresh log (undone with ``monkeypatch``)."""
    import ipywidgets.comm

    log = CommLog()
    monkeypatch.setenv("HAILUO_LIVE_VIEWS", "1")  # a page is there: views are live
    monkeypatch.setattr(ipywidgets.comm, "create_comm",
                        lambda **kwargs: RecordingComm(log, **kwargs))
    return log


class FrontEnd:
    """What a page holds for one widget model, replayed from the comm log: its synced
    state (the comm_open, then every update), every update in order, and the custom
    messages it received."""

    def __init__(self, log: CommLog, widget: Any):
        self.state: dict = {}
        self.sent_states: list[dict] = []
        self.custom: list[dict] = []
        self.updates = 0
        for m in log.for_comm(widget.comm.comm_id):
            data = m.data or {}
            if m.kind == "open":
                self.state.update(data.get("state", {}))
            elif m.kind == "send" and data.get("method") == "update":
                self.state.update(data.get("state", {}))
                self.sent_states.append(data.get("state", {}))
                self.updates += 1
            elif m.kind == "send" and data.get("method") == "custom":
                self.custom.append(data.get("content"))

    def deltas(self) -> list[dict]:
        """A gallery's ``delta`` values, in the order the page got them."""
        return [s["delta"] for s in self.sent_states if "delta" in s]

    def cards(self) -> list[dict]:
        """A gallery's cards after every update, as its front end applies them."""
        cards = list(self.state.get("cards", []))
        for delta in self.deltas():
            if "all" in delta:
                cards = list(delta["all"])
            for key, card in delta.get("changed", {}).items():
                cards[int(key)] = card
        return cards

    def summary(self) -> dict:
        deltas = self.deltas()
        return deltas[-1]["summary"] if deltas else dict(self.state.get("summary", {}))


def from_front_end(widget: Any, content: dict) -> None:
    """Deliver ``content`` to ``widget`` as its page's ``model.send(content)`` would."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                        "buffers": []})
