"""The executor contract: map a picklable function over items, results in item order."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

OnResult = Optional[Callable[[int, Any], None]]


class Executor:
    """Runs `fn(item)` for every item; `on_result(index, result)` is called as each one finishes.

    Results come back in the order of `items`, whatever order the work finished in, so the
    pipeline's output never depends on the number of workers or on the backend.
    """

    workers: int = 1

    @classmethod
    def from_config(cls, config) -> "Executor":
        """The executor for an ExecutorConfig (each backend reads the keys it knows)."""
        return cls(config.workers)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult = None) -> list[Any]:
        raise NotImplementedError

    def warm(self, module: str) -> None:
        """Optionally start workers ahead of the first map, importing `module` in each."""

    def close(self) -> None:
        """Release workers; the executor may not be used afterwards."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
