"""The response parser never crashes, whatever JSON the service (or a proxy) sends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hailuo_nb._client.snapshot import TaskSnapshot

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
task_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "status": st.sampled_from(["pending", "processing", "completed", "failed", "weird", ""])
        | json_values,
        "progress": json_values,
        "results": json_values,
        "error": json_values,
        "created": json_values,
        "task_info": json_values,
        "model": json_values,
    },
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(json_values | task_like)
def test_no_json_body_crashes_the_parser(body):
    snap = TaskSnapshot.from_json(body, task_id="task-x")
    assert isinstance(snap.status, str)
    assert 0 <= snap.progress <= 100
    assert all(isinstance(u, str) for u in snap.results)
    if snap.status == "failed":
        assert snap.error is not None and snap.error.code


def test_documented_failure_shape():
    snap = TaskSnapshot.from_json({
        "id": "task-unified-1-abc", "status": "failed", "progress": 0,
        "error": {"code": "content_policy_violation", "message": "Content policy violation."},
    })
    assert snap.is_terminal
    assert snap.error.code == "content_policy_violation"
    assert not snap.error.retryable


def test_unknown_status_is_kept_and_not_terminal():
    snap = TaskSnapshot.from_json({"id": "t", "status": "Queued_Upstream", "progress": "12"})
    assert snap.status == "queued_upstream"
    assert not snap.is_terminal
    assert snap.progress == 12


def test_integer_or_string_codes_and_estimates():
    snap = TaskSnapshot.from_json({
        "id": "t", "status": "failed", "error": {"code": 500, "message": None},
        "task_info": {"estimated_time": "95", "can_cancel": "no"},
    })
    assert snap.error.code == "500"
    assert snap.estimated_time == 95.0
    assert snap.can_cancel is None


def test_newer_answers_result_data_and_usage():
    """FACTS.md, after the first release: result_data beside results, usage on tasks."""
    from hailuo_nb._client.snapshot import TaskSnapshot

    snap = TaskSnapshot.from_json({
        "id": "task-unified-1757169743-abc", "status": "completed", "results": [],
        "result_data": [{"video_url": "https://cdn.example/v.mp4", "duration": 6}, {"x": 1}],
        "usage": {"billing_rule": "per_call", "credits_reserved": 12.5, "user_group": "d"}})
    assert snap.results == ("https://cdn.example/v.mp4",) and snap.credits == 12.5
    odd = TaskSnapshot.from_json({"id": "t", "status": "processing",
                                  "usage": {"credits_reserved": -3}})
    assert odd.credits is None  # never guessed, never negative
    assert TaskSnapshot.from_json({"id": "t", "status": "pending", "usage": "lots"}).credits is None
