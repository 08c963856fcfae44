"""Executors run one function over many shards; the pipeline never knows where they ran.

Backends are a registry by name (`executor.backend` in the config): each entry is the module and
class that implement it, imported only when a build asks for it, so the local backend never needs
the packages another one does (Ray). A new backend is one `register` call and an Executor subclass
whose constructor takes the ExecutorConfig.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from builders.executors.base import Executor

if TYPE_CHECKING:
    from builders.config import ExecutorConfig

#: backend name -> "module:Class"; the class is constructed with the ExecutorConfig.
BACKENDS: dict[str, str] = {}


def register(name: str, target: str) -> None:
    """Make `executor.backend: NAME` build `target` ("package.module:Class")."""
    BACKENDS[name] = target


register("local", "builders.executors.local:LocalExecutor")
register("ray", "builders.executors.ray:RayExecutor")


def make_executor(config: "ExecutorConfig") -> Executor:
    """The executor a config asks for; its module is imported here, lazily."""
    target = BACKENDS.get(config.backend)
    if target is None:
        raise ValueError(f"unknown executor backend {config.backend!r}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).from_config(config)


__all__ = ["BACKENDS", "Executor", "make_executor", "register"]
