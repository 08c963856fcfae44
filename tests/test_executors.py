"""Executors: results in item order whatever the worker count; worker errors reach the caller."""

from __future__ import annotations

import os

import pytest

from builders.config import ExecutorConfig
from builders.errors import BuildError
from builders.executors import make_executor


def square_after_pause(x):
    import time

    time.sleep(0.05 * (5 - x % 5))  # later items finish first
    return x * x, os.getpid()


def fail_on_three(x):
    if x == 3:
        raise BuildError(f"shard {x} is bad")
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_item_order(workers):
    seen = []
    with make_executor(ExecutorConfig(workers=workers)) as executor:
        results = executor.map(square_after_pause, list(range(6)), lambda i, r: seen.append(i))
    assert [r[0] for r in results] == [x * x for x in range(6)]
    assert sorted(seen) == list(range(6))
    pids = {r[1] for r in results}
    assert (pids == {os.getpid()}) if workers == 1 else (os.getpid() not in pids)


@pytest.mark.parametrize("workers", [1, 2])
def test_worker_errors_propagate(workers):
    with make_executor(ExecutorConfig(workers=workers)) as executor:
        with pytest.raises(BuildError, match="shard 3 is bad"):
            executor.map(fail_on_three, list(range(6)))


def test_a_single_task_runs_in_a_worker_not_in_the_driver():
    """A whole-corpus step is one task (the dedup cluster step): with a pool it must not run in,
    and grow, the driver, which only orchestrates."""
    with make_executor(ExecutorConfig(workers=2)) as executor:
        (result,) = executor.map(square_after_pause, [4])
    assert result[0] == 16 and result[1] != os.getpid()
