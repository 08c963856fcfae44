"""`executor.workers` with the Ray backend: joining a cluster (an address) without it, the build
plans for the cluster's CPUs (tests/test_ray_cluster.py checks that on a real `ray start --head`);
set, or with a local Ray instance, it is used as it is. The summary says which it was."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from builders.cli import _summary
from builders.config import validate
from builders.executors.ray import CLUSTER_CPUS, RayExecutor
from builders.pipeline import BuildResult


def executor(**section) -> RayExecutor:
    raw = {"name": "x", "input": {"paths": ["/nowhere"]}, "publish": {"output": "/tmp/out"},
           "executor": {"backend": "ray", **section}}
    return RayExecutor.from_config(validate(raw).executor)


def test_workers_come_from_the_cluster_only_when_joining_one_without_them():
    assert executor(address="auto").from_cluster  # read from ray.cluster_resources() once connected
    assert executor(address="10.0.0.1:6379").from_cluster
    assert not executor(address="auto", workers=2).from_cluster  # set, even to the default: used as it is
    assert not executor().from_cluster  # a local Ray instance: executor.workers (default 2) CPUs
    assert executor().workers == 2 and executor().workers_from == "executor.workers"


def test_the_summary_says_the_workers_were_the_clusters(capsys):
    stats = {"name": "x", "stages": {}, "seconds": 1.0, "workers": 64, "workers_from": CLUSTER_CPUS,
             "totals": {"read": 1, "published": 1, "rejected": 0, "quarantined": 0, "reconciled": True}}
    console = Console(width=200, force_terminal=False)
    _summary(BuildResult(Path("/tmp/out"), stats, [], []), console)
    assert "with 64 worker(s) (ray cluster CPUs)" in capsys.readouterr().out
    _summary(BuildResult(Path("/tmp/out"), {**stats, "workers": 2, "workers_from": "executor.workers"}, [], []), console)
    out = capsys.readouterr().out
    assert "with 2 worker(s)" in out and "cluster" not in out
