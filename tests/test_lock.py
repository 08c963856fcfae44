"""One build per output folder (issue 11): a second build is refused at once naming the holder's
pid and host; the lock of a build that died is taken over; the lock goes when the build ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from builders import release, workdir
from builders.config import load_config
from builders.errors import BuildError
from builders.pipeline import run_build
from conftest import ROOT, wire_dump, write_config

HOLD = """
import sys, time
from pathlib import Path
from builders.workdir import BuildLock
lock = BuildLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def cli_build(config, *args):
    return subprocess.run([sys.executable, "-m", "builders.cli", "build", str(config), "--quiet", *args],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=300)


@pytest.fixture
def project(tmp_path):
    wire_dump(tmp_path, stories=3, copies=2, files=2)
    return tmp_path, write_config(tmp_path, publish={"output": "out", "formats": ["parquet"]})


def test_a_second_build_while_one_runs_is_refused_at_once_naming_it(project):
    folder, config = project
    seen = []

    def progress(phase, done, total):
        if phase.startswith("ingest") and not seen:  # the first build is running: start another
            seen.append(cli_build(config))

    run_build(load_config(config), progress=progress)
    [second] = seen
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith(f"error: {folder / 'out'} is being built by another build (pid {os.getpid()} on "
                               f"{socket.gethostname()}, started ")
    assert lines[0].endswith(f"lock {folder / '.out.lock'}); wait for it to finish or stop it")
    # The first build was not disturbed, and its lock is gone with it.
    assert release.verify(folder / "out")[0] == []
    assert not (folder / ".out.lock").exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".out")] == []


def test_a_build_is_refused_while_another_process_holds_the_lock_then_takes_over_when_it_dies(project):
    folder, config = project
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder / "out")], stdout=subprocess.PIPE, text=True,
                              cwd=str(ROOT))
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = cli_build(config)
        assert refused.returncode == 1
        assert f"is being built by another build (pid {holder.pid} on {socket.gethostname()}" in refused.stderr
        assert not (folder / "out").exists() and not list(folder.glob(".out.building-*"))
    finally:
        holder.kill()
        holder.wait()
    # Killed: its lock file stays, naming a dead pid; the next build takes it over with a notice.
    assert json.loads((folder / ".out.lock").read_text())["pid"] == holder.pid
    built = cli_build(config)
    assert built.returncode == 0, built.stderr
    assert built.stderr.strip() == (f"taking over the lock of a build that did not finish (pid {holder.pid} on "
                                    f"{socket.gethostname()}, started "
                                    + built.stderr.split(", started ")[1].split(",")[0]
                                    + f", no longer running): {folder / '.out.lock'}")
    assert release.verify(folder / "out")[0] == [] and not (folder / ".out.lock").exists()


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(project):
    folder, config = project
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / ".out.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": 0}))
    notices = []
    run_build(load_config(config), notice=notices.append)
    assert len(notices) == 1
    assert notices[0].startswith(f"taking over the lock of a build that did not finish (pid {dead.pid} on {socket.gethostname()}")
    assert notices[0].endswith(f"no longer running): {folder / '.out.lock'}")
    # A lock file from another host that nobody holds (its build died there) is taken over too.
    (folder / ".out.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": 0}))
    notices.clear()
    run_build(load_config(config), notice=notices.append)
    assert len(notices) == 1 and "(pid 1 on elsewhere.example" in notices[0] and "not held any more" in notices[0]


def test_the_lock_goes_with_a_failed_build(project):
    folder, config = project
    (folder / "out").mkdir()
    (folder / "out" / "mine.txt").write_text("not a build")
    with pytest.raises(BuildError, match="is not a previous build"):
        run_build(load_config(config))
    assert not (folder / ".out.lock").exists()
    # And a lock held in this very process refuses a build too (the same flock, another open file).
    with workdir.BuildLock(folder / "other"):
        with pytest.raises(BuildError, match=f"pid {os.getpid()} on"):
            run_build(load_config(config, output=str(folder / "other")))
    assert not (folder / ".other.lock").exists()
