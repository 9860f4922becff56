"""The soak of ``bench/soak.py``, shortened: ~60 tasks, fast timings, every fault on.

One copy of the logic: the benchmark's ``run_soak`` is imported from its file and run
here against this test's isolated HAILUO_HOME and working directory.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_soak():
    name = "hailuo_bench_soak"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


soak = _load_soak()


def short_config(**overrides) -> soak.SoakConfig:
    values = dict(
        tasks=60, seed=7, max_in_flight=8, singles=4, crashed=8, blocked=3,
        task_seconds=0.3, task_jitter=0.3, link_ttl=3.0,
        bursts=2, burst_size=2, burst_every=0.5,
        poll_interval=0.05, max_poll_interval=0.3, first_poll_delay=0.05,
        guard=600.0,
    )
    values.update(overrides)
    return soak.SoakConfig(**values)


@pytest.mark.slow
def test_soak_sixty_tasks_every_fault(api_key):
    report = soak.run_soak(short_config(api_key=api_key))
    table = report.table()
    assert report.violations == [], table
    # Every kind of trouble actually happened (else the run proved little).
    assert report.saw("completed, saved") > 0, table
    assert report.saw("completed, link expired (resumed late)") > 0, table
    assert report.saw("failed: content_policy_violation") > 0, table
    assert report.saw("failed: submission_uncertain") > 0, table
    assert report.uncertain_created == report.uncertain > 0, table
    assert report.stats["by_status"].get("429", 0) > 0, table
    assert sum(report.stats["by_status"].get(s, 0) for s in ("500", "502", "503")) > 0, table
    assert sum(report.outcomes.values()) == 60, table

