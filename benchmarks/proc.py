"""Run one command as a subprocess and measure its wall time and the peak summed RSS of its process tree."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import psutil

SAMPLE_SECONDS = 0.05


@dataclass
class Measured:
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    samples: int
    stdout_path: str
    stderr_path: str

    def error_line(self) -> str:
        """The last informative stderr line, to report why a run failed."""
        try:
            lines = Path(self.stderr_path).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            s = line.strip()
            if s and not s.startswith(("During handling", "The above exception")):
                return s[:300]
        return f"exit status {self.returncode}"


def tree_rss(proc: psutil.Process) -> int:
    """Summed RSS of a process and all its descendants; pages shared after fork are counted once per process."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass  # a worker may exit between listing and reading
    return total


def run_measured(
    cmd: Sequence[str],
    log_dir: str | Path,
    name: str,
    cwd: str | Path | None = None,
    env: dict | None = None,
    timeout: float | None = None,
    cpus: Sequence[int] | None = None,
) -> Measured:
    """Run cmd to completion; with cpus, the process and everything it starts may run only on those CPUs."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    peak = 0
    samples = 0
    done = threading.Event()

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        proc = psutil.Popen(
            list(cmd), cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=preexec
        )

        def sample() -> None:
            nonlocal peak, samples
            while not done.is_set():
                peak = max(peak, tree_rss(proc))
                samples += 1
                done.wait(SAMPLE_SECONDS)

        # The sampler runs beside wait() so the wall time is not rounded up to a sampling tick.
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            rc = proc.wait(timeout=timeout)
        except psutil.TimeoutExpired:
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
            rc = proc.wait()
            err.write(f"\nbenchmark harness: killed after {timeout} s timeout\n".encode())
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    return Measured(rc, wall, peak, samples, str(out_path), str(err_path))
