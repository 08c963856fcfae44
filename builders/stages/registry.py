"""Cleaning steps by name: a step is one class and one `@clean_step`, placed in the plan by its
order and switched by the config; the pipeline's plan is read from here, never edited for a step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

#: A factory: the step's stage (or stages) for a clean config, or None when the config switches it off.
Factory = Callable[[Any], Any]


@dataclass(frozen=True)
class CleanStep:
    name: str
    order: int
    make: Factory
    #: Judge documents after dedup: a page this step would drop that copies a published story is
    #: then dropped as that story's copy, which says more (see `clean_plan`).
    after_dedup: bool = False


CLEAN_STEPS: dict[str, CleanStep] = {}


def clean_step(name: str, order: int, when: Callable[[Any], bool] = lambda config: True,
               make: Optional[Callable[[Any], Any]] = None, after_dedup: bool = False):
    """Class decorator: run this stage in the clean plan at `order` when `when(config.clean)` holds;
    `make(config.clean)` builds it (default: the class with no arguments) and may return a list.
    `after_dedup`: run it after dedup (in the last pass) rather than before."""

    def register(cls):
        if name in CLEAN_STEPS:
            raise ValueError(f"cleaning step {name!r} is registered twice")
        factory = make or (lambda config: cls())
        CLEAN_STEPS[name] = CleanStep(name, order, lambda config: factory(config) if when(config) else None,
                                      after_dedup)
        return cls

    return register


def clean_plan(config, after_dedup: bool = False) -> list:
    """The clean stages a clean config asks for, in order: those that run before dedup, or with
    `after_dedup` those that run after it."""
    plan = []
    for step in sorted(CLEAN_STEPS.values(), key=lambda s: (s.order, s.name)):
        if step.after_dedup != after_dedup:
            continue
        made = step.make(config)
        plan += made if isinstance(made, list) else [] if made is None else [made]
    return plan
