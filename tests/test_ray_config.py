"""The executor section without Ray: backends from the registry, addresses, per-stage resources,
and a local build that never imports Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from builders.config import ExecutorConfig, validate
from builders.errors import ConfigError
from builders.executors import BACKENDS, make_executor
from builders.executors.local import LocalExecutor
from conftest import ROOT


def config_with(executor: dict) -> dict:
    return {"name": "x", "input": {"paths": ["*.jsonl"]}, "publish": {"output": "out"}, "executor": executor}


def test_backends_come_from_the_registry():
    assert {"local", "ray"} <= set(BACKENDS)
    with pytest.raises(ConfigError, match=r"^config: executor.backend: 'dask' is not allowed: must be one of local, ray"):
        validate(config_with({"backend": "dask"}))
    assert isinstance(make_executor(ExecutorConfig(backend="local", workers=3)), LocalExecutor)


@pytest.mark.parametrize("address", ["auto", "ray://head.example:10001", "ray://10.0.0.5", "10.0.0.5:6379",
                                     "head-node.cluster.local:6379"])
def test_addresses_accepted(address):
    assert validate(config_with({"backend": "ray", "address": address})).executor.address == address


@pytest.mark.parametrize("address", ["ray:/head", "http://head:8265", "head", "head:port", "ray://", "a b:1"])
def test_addresses_refused_in_one_line(address):
    with pytest.raises(ConfigError) as caught:
        validate(config_with({"backend": "ray", "address": address}))
    assert str(caught.value).startswith(f"config: executor.address: {address!r} is not allowed: expected auto, ray://")
    assert "\n" not in str(caught.value)


def test_an_address_needs_the_ray_backend():
    with pytest.raises(ConfigError, match=r"^config: executor: address: is for the ray backend \(backend is local\)$"):
        validate(config_with({"backend": "local", "address": "auto"}))


def test_per_stage_resources():
    config = validate(config_with({"backend": "ray", "resources": {"ingest": {"num_cpus": 1, "memory": "2GB"},
                                                                  "dedup": {"num_cpus": 2}}})).executor
    assert config.resources.ingest.memory == 2_000_000_000 and config.resources.dedup.num_cpus == 2
    assert config.resources.clean is None and config.resources.default.num_cpus == 1
    with pytest.raises(ConfigError, match=r"^config: executor.resources.ingest.cpus: unknown key \(allowed here: "
                                          r"num_cpus, memory, num_gpus\)$"):
        validate(config_with({"backend": "ray", "resources": {"ingest": {"cpus": 1}}}))
    with pytest.raises(ConfigError, match=r"^config: executor.resources.reading: unknown key \(allowed here: "
                                          r"default, plan, ingest, clean, dedup, publish\)$"):
        validate(config_with({"backend": "ray", "resources": {"reading": {"num_cpus": 1}}}))


def test_a_local_build_never_imports_ray(tmp_path):
    """The local backend runs a whole build in a fresh interpreter without Ray being imported."""
    from conftest import wire_dump, write_config

    wire_dump(tmp_path, stories=2, copies=1, files=1)
    config = write_config(tmp_path, executor={"backend": "local", "workers": 2})
    child = ("import sys; from builders.config import load_config; from builders.pipeline import run_build; "
             f"run_build(load_config({str(config)!r})); "
             "print('ray' in sys.modules, any(m.startswith('ray.') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
