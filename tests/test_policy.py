"""The engine's two decisions, as tables: every submit failure, every download state.

Both ways of sending (a direct ``generate`` and the engine's queue) ask the same
function; these tables are that function's whole contract.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from hailuo_nb._engine import policy
from hailuo_nb.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientQuotaError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    TransportError,
    ValidationError,
)

MAX = policy.MAX_UNREACHABLE_ATTEMPTS

SUBMIT_CASES = [
    # exception, attempts, queued → action, code, pause
    (RateLimitError("slow down", retry_after=7), 1, False, "retry", "", 7.0),
    (RateLimitError("slow down"), 3, True, "retry", "", policy.RATE_LIMIT_PAUSE),
    (ServerError("busy", status=503, retry_after=2), 1, False, "retry", "", 2.0),
    (ServerError("busy", status=503), 1, True, "retry", "", policy.UNAVAILABLE_PAUSE),
    (ServerError("boom", status=500), 1, True, "fail", "http_500", 0.0),
    (ServerError("bad gateway", status=502), 1, False, "fail", "http_502", 0.0),
    (TransportError("refused"), 1, True, "retry", "", policy.NETWORK_PAUSE),
    (TransportError("refused"), MAX - 1, True, "retry", "", policy.NETWORK_PAUSE),
    (TransportError("refused"), MAX, True, "fail", "not_sent", 0.0),
    (TransportError("refused"), 1, False, "fail", "not_sent", 0.0),
    (TransportError("read timed out", may_have_been_created=True), 1, True, "fail",
     "submission_uncertain", 0.0),
    (TransportError("read timed out", may_have_been_created=True), 1, False, "fail",
     "submission_uncertain", 0.0),
    (BadRequestError("bad", status=400), 1, False, "fail", "http_400", 0.0),
    (AuthenticationError("no", status=401), 1, True, "fail", "http_401", 0.0),
    (InsufficientQuotaError("broke", status=402), 1, True, "fail", "http_402", 0.0),
    (PermissionDeniedError("no", status=403), 1, False, "fail", "http_403", 0.0),
    (RequestTooLargeError("big", status=413), 1, False, "fail", "http_413", 0.0),
    (ValidationError("bad image"), 1, True, "fail", "not_sent", 0.0),
]


@pytest.mark.parametrize(("exc", "attempts", "queued", "action", "code", "pause"),
                         SUBMIT_CASES, ids=[f"{type(c[0]).__name__}-{i}"
                                            for i, c in enumerate(SUBMIT_CASES)])
def test_after_submit_error(exc, attempts, queued, action, code, pause):
    outcome = policy.after_submit_error(exc, attempts, queued=queued)
    assert (outcome.action, outcome.code, outcome.pause) == (action, code, pause)
    if action == "retry":
        assert outcome.note, "a waiting task says why it waits"


def test_a_request_that_may_have_been_created_is_never_retried():
    for attempts in range(1, MAX + 2):
        for queued in (True, False):
            exc = TransportError("cut", may_have_been_created=True)
            assert policy.after_submit_error(exc, attempts, queued=queued).action == "fail"


def _task(tmp_path, **fields):
    base = dict(status="completed", download_dir=str(tmp_path), local_path=None,
                download_state="")
    return SimpleNamespace(**{**base, **fields})


def test_needs_download_table(tmp_path):
    on_disk = tmp_path / "v.mp4"
    on_disk.write_bytes(b"video")
    gone = str(tmp_path / "deleted.mp4")
    rows = [
        # fields, status argument → answer
        ({}, None, True),
        ({"status": "processing"}, None, False),
        ({"status": "processing"}, "completed", True),  # about to complete
        ({"status": "failed"}, None, False),
        ({"download_dir": None}, None, False),  # downloads off
        ({"local_path": str(on_disk)}, None, False),  # already saved
        ({"local_path": gone}, None, True),  # the file was deleted: fetch again
        ({"download_state": "waiting"}, None, False),  # queued already
        ({"download_state": "downloading"}, None, False),  # running already
        ({"download_state": "failed"}, None, True),  # a failed try is retried
        ({"download_state": "done", "local_path": gone}, None, True),
    ]
    for fields, status, expected in rows:
        task = _task(tmp_path, **fields)
        assert policy.needs_download(task, status) is expected, (fields, status)
    assert os.path.exists(on_disk)
