"""docs/ray.md's cluster instructions, as far as one machine allows: a Ray head started with
`ray start --head` (3 CPUs, token authentication), a build joined to it by address through the CLI
(its config sets no `executor.workers`: it plans for the cluster's 3 CPUs), the same build
submitted to it as a Ray job (`ray job submit`, the job's config says `address: auto` and
`workers: 2`), each giving the local pool's release; the head is stopped afterwards.

The head runs with `--block` and is stopped by SIGTERM to that process, which takes down the
processes it started, and only those: `ray stop` would stop every Ray on the machine."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_ray import assert_same_release, corpus_cli, free_port, make_dump, read_release, write_build  # noqa: I001
from builders.config import load_config
from builders.pipeline import run_build

pytestmark = pytest.mark.timeout(300)

RAY = Path(sys.executable).parent / "ray"


def _wait_for_port(port: int, head: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray start --head exited with {head.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the Ray head did not open port {port} in {seconds:.0f}s: {log.read_text()[-2000:]}")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture
def head(tmp_path):
    """A one-node Ray cluster of 3 CPUs (more than the build's default of 2 workers) with a dashboard (job submission), ports chosen free,
    token authentication on with a token made for this test."""
    ports = {name: free_port() for name in ("gcs", "dashboard", "client", "agent")}
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    log = tmp_path / "head.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(RAY), "start", "--head", "--block", "--num-cpus", "3", "--port", str(ports["gcs"]),
             "--object-store-memory", "200000000", "--include-dashboard", "true",
             "--dashboard-host", "127.0.0.1", "--dashboard-port", str(ports["dashboard"]),
             "--ray-client-server-port", str(ports["client"]), "--dashboard-agent-listen-port", str(ports["agent"]),
             "--disable-usage-stats"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_for_port(ports["gcs"], process, log)
        _wait_for_port(ports["dashboard"], process, log)
        yield {"ports": ports, "env": {k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED")},
               "process": process}
    finally:
        process.send_signal(signal.SIGTERM)  # what `ray stop` does, to this head's processes only
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 30
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        stopped = not _group_alive(process.pid)
        if not stopped:
            os.killpg(process.pid, signal.SIGKILL)  # our own process group: leave nothing behind
        assert stopped, "the Ray head's processes outlived it"


@pytest.mark.skipif(not RAY.exists(), reason="the `ray` command is not installed (pip install -e '.[ray]')")
def test_build_on_a_ray_head_by_address_and_as_a_submitted_job(tmp_path, head):
    make_dump(tmp_path)
    run_build(load_config(write_build(tmp_path, "out-local", {"backend": "local", "workers": 1})))
    local = read_release(tmp_path / "out-local")

    # 1. A driver on this machine joins the cluster by the head's address. Nothing in the config
    #    but `executor` differs from the local build; Ray's own logging stays out of the output.
    #    No `workers`: the shards are planned for the cluster's 3 CPUs, and stats.json says so.
    address = f"127.0.0.1:{head['ports']['gcs']}"
    config = write_build(tmp_path, "out-address", {"backend": "ray", "address": address})
    result = corpus_cli("build", str(config), "--quiet", cwd=tmp_path, env=head["env"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert_same_release(read_release(tmp_path / "out-address"), local)
    stats = json.loads((tmp_path / "out-address" / "stats.json").read_text())
    assert (stats["workers"], stats["workers_from"]) == (3, "ray cluster CPUs")
    stats = json.loads((tmp_path / "out-local" / "stats.json").read_text())
    assert (stats["workers"], stats["workers_from"]) == (1, "executor.workers")

    # Without the cluster's token: one line saying so, nothing published. (Ray tries to join for
    # 20 s by default; RAY_gcs_server_port_wait_time_s shortens that for this test.)
    result = corpus_cli("build", str(config), "--quiet", "--output", "out-no-token", cwd=tmp_path,
                        env={"RAY_AUTH_MODE": "disabled", "RAY_AUTH_TOKEN": "", "RAY_gcs_server_port_wait_time_s": "3"})
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: executor.address {address}: cannot join the Ray cluster: ")
    assert "the cluster uses token authentication: set RAY_AUTH_MODE=token" in result.stderr
    assert not (tmp_path / "out-no-token").exists()

    # 2. The same build submitted as a job: its driver runs on the head, `address: auto` finds it.
    config = write_build(tmp_path, "out-job", {"backend": "ray", "address": "auto", "workers": 2})
    submit = subprocess.run(
        [str(RAY), "job", "submit", "--address", f"http://127.0.0.1:{head['ports']['dashboard']}", "--",
         sys.executable, "-m", "builders", "build", str(config), "--quiet"],
        capture_output=True, text=True, timeout=180, env={**os.environ, **head["env"]})
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    assert "succeeded" in submit.stdout + submit.stderr
    assert_same_release(read_release(tmp_path / "out-job"), local)
    stats = json.loads((tmp_path / "out-job" / "stats.json").read_text())
    assert (stats["workers"], stats["workers_from"]) == (2, "executor.workers")  # set: used as it is
