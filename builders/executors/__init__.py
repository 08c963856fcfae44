"""Executors run one function over many shards; the pipeline never knows where they ran."""

from __future__ import annotations

from builders.config import ExecutorConfig
from builders.executors.base import Executor


def make_executor(config: ExecutorConfig) -> Executor:
    """The executor a config asks for. Backends that need extra packages are imported here, lazily."""
    if config.backend == "local":
        from builders.executors.local import LocalExecutor

        return LocalExecutor(config.workers)
    raise ValueError(f"unknown executor backend {config.backend!r}")


__all__ = ["Executor", "make_executor"]
