"""The Ray backend (issue 10) on a real local Ray instance of 2 CPUs started here: the same config
gives the same release on the local pool (1 and 2 workers) and on Ray, a worker killed mid-build is
retried without losing or duplicating a record, failing tasks name their shard, a bad address is
one line from the CLI with nothing published, and per-stage resources reach the tasks."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

if os.environ.get("CI"):
    import ray  # CI installs '.[test]', which brings Ray: a missing Ray fails there, it is not skipped
else:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")

from builders.config import ExecutorConfig, expand_inputs, load_config
from builders.errors import BuildError, ConfigError
from builders.executors import make_executor
from builders.executors.local import LocalExecutor
from builders.executors.ray import KILL_ENV
from builders.pipeline import ShardTask, run_build, run_pass
from builders.readers import plan_shards
from conftest import wire_dump

pytestmark = pytest.mark.timeout(240)

# -- helpers shared with test_ray_cluster.py -------------------------------------------------------


def make_dump(folder: Path) -> list[dict]:
    """About 240 pages in 4 uncompressed JSONL files of ~100 KB: with input.shard_size 64 KB each
    file is split, so a build has several shards and both Ray CPUs get work."""
    records = wire_dump(folder, stories=60, copies=3, files=4)
    for path in sorted((folder / "raw").glob("*.jsonl.gz")):
        path.unlink()
    for f in range(4):
        rows = [r for i, r in enumerate(records) if i % 4 == f]
        (folder / "raw" / f"pages-{f:05d}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return records


def write_build(folder: Path, output: str, executor: dict, **extra) -> Path:
    config = {
        "name": "ray-build",
        "input": {
            "paths": ["raw/*.jsonl"],
            "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"},
            "shard_size": 65536,
        },
        "clean": {},
        "dedup": {"exact": True, "minhash": {"threshold": 0.8, "num_perm": 128, "ngram": 5}, "keep": "earliest"},
        "publish": {"output": output, "formats": ["parquet"], "shard_rows": 25},
        "executor": executor,
        **extra,
    }
    path = folder / f"{output}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def read_release(out: Path) -> dict:
    """What must not depend on the backend: the published files (names, ids, whole tables), the
    clusters, the rejected records, and every count in stats.json."""
    files = sorted((out / "data").glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    stats = json.loads((out / "stats.json").read_text())
    counts = {name: {k: v for k, v in stage.items() if k != "seconds"} for name, stage in stats["stages"].items()}
    rejected = sorted(
        (r["id"], r["stage"], r["reason"], r.get("duplicate_of"))
        for f in sorted((out / "rejected").glob("*.parquet"))
        for r in pq.read_table(f, columns=["id", "stage", "reason", "duplicate_of"]).to_pylist()
    )
    return {
        "files": [(f.name, t.column("id").to_pylist()) for f, t in zip(files, tables)],
        "tables": tables,
        "clusters": pq.read_table(out / "dedup" / "clusters.parquet"),
        "rejected": rejected,
        "totals": stats["totals"],
        "stages": counts,
    }


def assert_same_release(a: dict, b: dict) -> None:
    assert a["files"] == b["files"]
    assert all(x.equals(y) for x, y in zip(a["tables"], b["tables"]))
    assert a["clusters"].equals(b["clusters"])
    assert a["rejected"] == b["rejected"]
    assert a["totals"] == b["totals"] and a["totals"]["reconciled"]
    assert a["stages"] == b["stages"]


def corpus_cli(*args, cwd=None, env=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "builders", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kill_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray-kill")


@pytest.fixture(scope="module")
def local_ray(kill_dir):
    """One local Ray instance for the module (2 CPUs, a small object store, no dashboard). Workers
    inherit the environment, so the fault-injection folder is set before it starts."""
    saved = os.environ.get(KILL_ENV)
    os.environ[KILL_ENV] = str(kill_dir)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, object_store_memory=200_000_000, include_dashboard=False,
             log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop(KILL_ENV, None)
        else:
            os.environ[KILL_ENV] = saved


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ray-dump")
    make_dump(folder)
    return folder


@pytest.fixture(scope="module")
def local_release(dump) -> dict:
    result = run_build(load_config(write_build(dump, "out-local1", {"backend": "local", "workers": 1})))
    assert result.stats["shards"] >= 4  # several shards, so two workers really share the work
    return read_release(dump / "out-local1")


# -- tests ----------------------------------------------------------------------------------------


def test_local_1_local_2_and_ray_give_one_release(dump, local_release, local_ray):
    run_build(load_config(write_build(dump, "out-local2", {"backend": "local", "workers": 2})))
    assert_same_release(read_release(dump / "out-local2"), local_release)

    # Per-stage resources are part of the config the cluster runs; they change where, not what.
    ray_executor = {"backend": "ray", "workers": 2,
                    "resources": {"ingest": {"num_cpus": 1, "memory": "100MB"}, "dedup": {"num_cpus": 2}}}
    result = run_build(load_config(write_build(dump, "out-ray", ray_executor)))
    assert result.stats["backend"] == "ray" and result.stats["shards"] >= 4
    assert_same_release(read_release(dump / "out-ray"), local_release)
    # Seconds were gathered from the workers too, not only counts.
    assert result.stats["stages"]["clean"]["seconds"] > 0 and result.stats["stages"]["dedup"]["seconds"] > 0


def test_a_worker_killed_mid_build_is_retried_and_nothing_is_lost_or_doubled(dump, local_release, tmp_path):
    """Through the CLI, which starts its own Ray instance: the first pass task and the first dedup
    reduce task each lose their worker (os._exit) after their output files are written and before
    their result reaches the driver. Ray's own reports of it stay out of the output."""
    kill_dir = tmp_path / "kill"
    kill_dir.mkdir()
    for name in ("run_pass", "run_task"):
        (kill_dir / f"kill-{name}").write_text("")
    config = write_build(dump, "out-ray-killed", {"backend": "ray", "workers": 2})
    result = corpus_cli("build", str(config), "--quiet", cwd=dump, env={KILL_ENV: str(kill_dir)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    for name in ("run_pass", "run_task"):
        claimed = list(kill_dir.glob(f"kill-{name}.claimed-*"))
        assert len(claimed) == 1, f"no {name} task was killed"
        pid = int(claimed[0].name.rsplit("-", 1)[1])
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # that worker process is gone
    assert_same_release(read_release(dump / "out-ray-killed"), local_release)


def test_a_worker_that_keeps_dying_stops_the_build_naming_the_shard(dump, local_ray, kill_dir):
    (kill_dir / "kill-run_pass").write_text("always")
    try:
        config = load_config(write_build(dump, "out-ray-dying", {"backend": "ray", "workers": 2, "max_retries": 1}))
        with pytest.raises(BuildError) as caught:
            run_build(config)
    finally:
        (kill_dir / "kill-run_pass").unlink()
    assert re.match(r"^shard \d+ \(pass 0 ingest\+clean, input \S+/raw/pages-0000[0-3]\.jsonl\) failed on Ray "
                    r"\(retried 1 time\): \w+: ", str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (dump / "out-ray-dying").exists()


def count_attempts_then(job: tuple):
    """Run as a Ray task (pickled by value): count this attempt in a file, then fail as told."""
    path, fail = job
    with open(path, "a") as fh:
        fh.write("x")
    attempts = len(Path(path).read_text())
    if fail == "value":
        raise ValueError(f"bad row in {Path(path).name}")
    if fail == "connection" and attempts == 1:
        raise ConnectionError("storage hiccup")
    return attempts


def assigned_resources(item):
    return ray.get_runtime_context().get_assigned_resources()


@pytest.fixture
def by_value():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_a_python_error_fails_at_once_naming_the_task_a_system_error_is_retried(tmp_path, local_ray, by_value):
    with make_executor(ExecutorConfig(backend="ray", workers=2)) as executor:
        with pytest.raises(BuildError, match=r"^task 2 of 2 \(count_attempts_then\) failed: ValueError: bad row in b$"):
            executor.map(count_attempts_then, [(str(tmp_path / "a"), "none"), (str(tmp_path / "b"), "value")])
        assert (tmp_path / "b").read_text() == "x"  # one attempt: a deterministic error is not retried
        results = executor.map(count_attempts_then, [(str(tmp_path / "c"), "connection")])
        assert results == [2]  # ConnectionError is system trouble: retried, then it worked


def test_a_failing_shard_task_is_named_with_its_shard(tmp_path, dump, local_ray):
    config = load_config(write_build(dump, "out-unused", {"backend": "ray", "workers": 2}))
    shards = plan_shards(config, expand_inputs(config), LocalExecutor(1), 2)
    staging = tmp_path / "staging-is-a-file"
    staging.write_text("not a folder")
    tasks = [ShardTask(s, config, str(staging)) for s in shards[:2]]
    with make_executor(config.executor) as executor:
        with pytest.raises(BuildError) as caught:
            executor.map(run_pass, tasks)
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(r"^shard [01] \(pass 0 ingest\+clean, input \S+/raw/pages-0000[0-3]\.jsonl\) failed: "
                    r"NotADirectoryError: ", message), message


def test_per_stage_resources_reach_the_tasks(dump, local_ray, by_value):
    config = load_config(write_build(dump, "out-unused", {
        "backend": "ray", "workers": 2,
        "resources": {"default": {"num_cpus": 0.5}, "ingest": {"num_cpus": 1, "memory": "100MB"}, "clean": {"num_cpus": 2},
                      "dedup": {"num_cpus": 1.5}}}))
    shards = plan_shards(config, expand_inputs(config), LocalExecutor(1), 2)
    # ingest+clean, clean+dedup, dedup+clean (too-short pages are dropped after dedup)
    passes = [ShardTask(shards[0], config, "unused", pass_index=i) for i in range(3)]
    with make_executor(config.executor) as executor:
        got = executor.map(assigned_resources, passes + ["other"])
    assert got[0]["CPU"] == 2 and got[0]["memory"] == 100_000_000  # the most ingest and clean ask for
    assert got[1]["CPU"] == 2 and "memory" not in got[1]
    assert got[2]["CPU"] == 2  # the most dedup (1.5) and clean (2) ask for
    assert got[3]["CPU"] == 0.5  # default


def test_a_task_no_node_can_hold_fails_in_one_line(dump, local_ray):
    config = load_config(write_build(dump, "out-too-big", {"backend": "ray", "workers": 2,
                                                              "resources": {"ingest": {"num_cpus": 8}}}))
    with pytest.raises(ConfigError, match=r"^executor.resources: a task asks for num_cpus=8, but no node of the Ray "
                                          r"cluster has more than 2$"):
        run_build(config)
    assert not (dump / "out-too-big").exists()
    assert not list(dump.glob(".out-too-big.building-*"))


def test_a_bad_address_is_one_line_exit_non_zero_nothing_published(tmp_path):
    make_dump(tmp_path)
    # Something listens there, but it is no Ray: ray.init alone would wait for minutes.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        for address, says in ((f"127.0.0.1:{free_port()}", "cannot reach a Ray cluster there (Connection refused)"),
                              (f"127.0.0.1:{server.getsockname()[1]}", "no Ray cluster answers there"),
                              (f"ray://127.0.0.1:{free_port()}", "cannot reach a Ray cluster there")):
            config = write_build(tmp_path, "out", {"backend": "ray", "address": address})
            result = corpus_cli("build", str(config), "--quiet", cwd=tmp_path, timeout=120)
            assert result.returncode == 1, result.stderr
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"error: executor.address {address}: "), result.stderr
            assert says in lines[0]
            assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.building-*"))
    finally:
        server.close()
    # A malformed address is a config error, before any work.
    config = write_build(tmp_path, "out", {"backend": "ray", "address": "ray:/nowhere"})
    result = corpus_cli("config", str(config), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "executor.address: 'ray:/nowhere' is not allowed: expected auto, ray://HOST:PORT" in result.stderr
