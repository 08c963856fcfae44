"""The local backend: a process pool on this machine, or the calling process for one worker."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from builders.executors.base import Executor, OnResult


class LocalExecutor(Executor):
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: forking a process whose Arrow thread pools are running can deadlock.
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult = None) -> list[Any]:
        results: list[Any] = [None] * len(items)
        # With a pool, even one task runs in a worker: a whole-corpus task (the dedup cluster step)
        # must not grow the driver, which only orchestrates.
        if self.workers == 1 or not items:
            for i, item in enumerate(items):
                results[i] = fn(item)
                if on_result:
                    on_result(i, results[i])
            return results
        pool = self._get_pool()
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                i = futures[future]
                results[i] = future.result()
                if on_result:
                    on_result(i, results[i])
        return results

    def warm(self, module: str) -> None:
        """Start the workers now and have each import `module`, so their start-up overlaps the
        caller's own work (planning) instead of delaying the first pass."""
        if self.workers > 1:
            pool = self._get_pool()
            for _ in range(self.workers):
                pool.submit(_import, module)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _import(module: str) -> None:
    import importlib

    importlib.import_module(module)
