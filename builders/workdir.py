"""A build's work folder: completion markers for resume, input fingerprints, the output's lock,
leftovers of dead builds, and one-line messages for resource failures.

The work folder is the staging folder beside OUT (`.OUT.building-XXXXXXXX`; for a URL OUT, beside
the local path that stands for it, `release.local_stand_in`): the release being assembled plus `_work/` (each pass's per-shard outputs, each reduce's model). Every shard task and
reduce that finishes writes a marker in `_work/markers/` *after* its files have their final names;
the marker holds a key (a hash of what the result depends on: the builder's code, the config
sections its pass reads, the shard's plan and input fingerprints, the keys of what it read) and,
for a shard, its ledger's counts as JSON. `corpus build --resume` reuses every result whose marker
key matches what this build would compute, and redoes the rest; anything without a marker is redone.

Test-only hook: `CORPUS_TEST_KILL_AT=POINT` makes a build SIGKILL itself (the driver and the
worker that reached the point) at a named point, to test resume after a crash:
`pass<K>:<SHARD>` after that shard's first batch of pass K is written, `reduce<K>` in the middle
of pass K's reduce (after its first batch of tasks, or when it returns if it runs none), `publish`
once the release's data files are written. Never set it outside tests.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import time
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Callable, Iterable, Optional

from builders.errors import BuildError

WORK = "_work"
MARKERS = "markers"
#: What marks a work folder a build may resume (written before any shard runs).
STATE = "build.json"
#: Folders of the release that shard tasks write parts into (rejected rows, quarantine, removed lines).
PART_FOLDERS = ("rejected", "quarantine", "rejected-lines")
KILL_ENV = "CORPUS_TEST_KILL_AT"
_DRIVER_ENV = "_CORPUS_TEST_DRIVER_PID"

Notice = Callable[[str], None]


class ResourceError(BuildError):
    """The machine failed the build, not its config or data (disk full, permissions, inputs changed
    while read): the work done so far is kept for `--resume`."""


# ---------------------------------------------------------------- keys and fingerprints


def key(*parts) -> str:
    """A stable hash of JSON-able parts (dict keys sorted)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def fingerprint(path: str) -> list:
    """Size and modification time of an input (local: ns; URL: what the filesystem reports)."""
    from builders import io

    if not io.is_url(path):
        st = os.stat(path[len("file://"):] if path.startswith("file://") else path)
        return [st.st_size, st.st_mtime_ns]
    fs, inner = io.filesystem(path)
    info = fs.info(inner)
    stamp = next((info[k] for k in ("mtime", "LastModified", "last_modified", "updated", "ETag", "etag") if k in info), None)
    return [int(info.get("size") or 0), str(stamp)]


def changed_input(prints: Iterable[tuple[str, list]]) -> Optional[str]:
    """A one-line description of the first input that is gone or changed since `prints` were taken."""
    for path, before in prints:
        try:
            now = fingerprint(path)
        except FileNotFoundError:
            return f"input {path} was deleted during the build"
        except OSError as exc:
            return f"input {path} cannot be read any more: {exc.strerror or exc}"
        if list(now) != list(before):
            what = f"{before[0]:,} -> {now[0]:,} bytes" if now[0] != before[0] else "modified"
            return f"input {path} changed during the build ({what})"
    return None


_CODE: Optional[str] = None


def code_fingerprint() -> str:
    """A hash of the builder's own source files: results of other code are never reused."""
    global _CODE
    if _CODE is None:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        _CODE = digest.hexdigest()[:32]
    return _CODE


# ---------------------------------------------------------------- ledgers as JSON


def ledger_to_json(ledger) -> list:
    """The ledger's counts per stage, in stage order; counters as [key, count] pairs (keys keep their type)."""
    out = []
    for name, stats in ledger.stages.items():
        values = {}
        for f in fields(stats):
            value = getattr(stats, f.name)
            values[f.name] = [[k, v] for k, v in value.items()] if isinstance(value, Counter) else value
        out.append([name, values])
    return out


def ledger_from_json(data: list):
    from builders.stages.base import Ledger, StageStats

    ledger = Ledger()
    kinds = {f.name: f for f in fields(StageStats)}
    for name, values in data:
        stats = ledger.stage(name)
        for field_name, value in values.items():
            if field_name not in kinds:
                continue
            if isinstance(getattr(stats, field_name), Counter):
                getattr(stats, field_name).update({k: v for k, v in value})
            else:
                setattr(stats, field_name, value)
    return ledger


# ---------------------------------------------------------------- markers


def atomic_write(path: Path, text: str, sync: bool = True) -> None:
    """Write then rename, flushed to disk first: the file is whole or absent."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise ResourceError(os_error(exc, path)) from None


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def marker_folder(staging: Path) -> Path:
    return Path(staging) / WORK / MARKERS


def shard_marker(staging: Path, pass_index: int, shard: int) -> Path:
    return marker_folder(staging) / f"pass{pass_index}-{shard:05d}.json"


def reduce_marker(staging: Path, pass_index: int) -> Path:
    return marker_folder(staging) / f"reduce{pass_index}.json"


def read_marker(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("key"), str) else None


def write_marker(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, sort_keys=True) + "\n")


# ---------------------------------------------------------------- leftovers


def leftovers(output: Path) -> list[Path]:
    """Work folders of builds of `output` that did not finish (and a swap's old release left behind)."""
    parent = output.parent
    if not parent.is_dir():
        return []
    found = [p for pattern in (f".{output.name}.building-*", f".{output.name}.old-*") for p in parent.glob(pattern)]
    return sorted((p for p in found if p.is_dir() and not p.is_symlink()), key=lambda p: (p.stat().st_mtime, p.name))


def resumable(folder: Path) -> bool:
    return (Path(folder) / WORK / STATE).is_file()


def has_progress(folder: Path) -> bool:
    markers = marker_folder(folder)
    return markers.is_dir() and any(markers.glob("*.json"))


def folder_size(folder: Path) -> int:
    total = 0
    link = Path(folder) / WORK
    if link.is_symlink():  # the work folder kept elsewhere (`workdir`)
        total += folder_size(Path(os.path.realpath(link)))
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)


# ---------------------------------------------------------------- the lock


class BuildLock:
    """One build per output folder: `.OUT.lock` beside it, held with flock (released by the kernel
    when the holder dies, however it dies) and naming the holder's pid and host.

    A second build is refused at once, naming the holder. A lock file left by a dead build (its
    flock gone, or its pid no longer running on this host) is taken over with a notice."""

    def __init__(self, output: Path, notice: Optional[Notice] = None) -> None:
        output = Path(output)
        self.path = output.parent / f".{output.name}.lock"
        self.output = output
        self.notice = notice or (lambda message: None)
        self.fd: Optional[int] = None

    def __enter__(self) -> "BuildLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BuildError(os_error(exc, self.path.parent)) from None
        for _ in range(50):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise BuildError(os_error(exc, self.path)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise BuildError(f"{self.output} is being built by another build ({_describe(holder)}, "
                                 f"lock {self.path}); wait for it to finish or stop it") from None
            # The file may have been removed and replaced by its holder's release since we opened it.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_holder(fd)
            if previous and previous.get("pid") and not _is_me(previous):
                alive = _alive(previous) if previous.get("host") == socket.gethostname() else None
                state = "no longer running" if alive is False else "whose lock is not held any more"
                self.notice(f"taking over the lock of a build that did not finish ({_describe(previous)}, {state}): {self.path}")
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode(), 0)
            self.fd = fd
            return
        raise BuildError(f"cannot take the lock {self.path}: it keeps changing")

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still held: a waiting build then sees another inode and retries
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None


def _read_holder(fd: int) -> dict:
    for _ in range(20):  # the holder writes its pid right after taking the flock
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "null")
            if isinstance(data, dict):
                return data
        except ValueError:
            pass
        time.sleep(0.01)
    return {}


def _describe(holder: dict) -> str:
    if not holder:
        return "pid and host unknown"
    started = holder.get("started")
    since = f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))}" if isinstance(started, (int, float)) else ""
    return f"pid {holder.get('pid')} on {holder.get('host')}{since}"


def _is_me(holder: dict) -> bool:
    return holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname()


def _alive(holder: dict) -> bool:
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


# ---------------------------------------------------------------- resource failures


_PLAIN = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or folder",
    errno.EIO: "input/output error",
}


def os_error(exc: OSError, path=None) -> str:
    """One line naming the path: the error's own file name, else `path` (the file being written)."""
    where = exc.filename if exc.filename is not None else path
    code = exc.errno
    if code is None:  # Arrow's errors carry the errno in their text only
        text = str(exc)
        for number in _PLAIN:
            if f"[errno {number}]" in text.lower():
                code = number
                break
    what = _PLAIN.get(code) or (os.strerror(code) if code else None) or _first_line(exc)
    verb = "cannot write" if code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) else "cannot access"
    return f"{verb} {where}: {what}" if where is not None else f"{what}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# ---------------------------------------------------------------- workers die with their build


_PR_SET_PDEATHSIG = 1


def die_with_driver(driver: int) -> None:
    """In a local pool worker (a child of the build's driver process): be killed when the driver
    dies, so a killed build leaves no worker finishing a shard into the folder a resumed build is
    using. Nothing in the driver itself or in a worker that is not its child (another backend)."""
    if not driver or os.getpid() == driver or os.getppid() != driver:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != driver:  # the driver died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------- the test-only kill hook


def arm_test_kill() -> None:
    """Let workers (which inherit the environment) kill this driver at the test point."""
    if os.environ.get(KILL_ENV):
        os.environ[_DRIVER_ENV] = str(os.getpid())


def test_kill(point: str) -> None:
    """Test-only: SIGKILL the build (driver and this process) when CORPUS_TEST_KILL_AT names `point`."""
    if os.environ.get(KILL_ENV) != point:
        return
    driver = int(os.environ.get(_DRIVER_ENV) or os.getpid())
    if driver != os.getpid():
        try:
            os.kill(driver, signal.SIGKILL)
        except OSError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


class KillingExecutor:
    """Test-only: an executor that kills the build when a reduce starts its second map (the middle
    of the reduce, its first step finished; a reduce of one map is killed before its marker)."""

    def __init__(self, inner, point: str) -> None:
        self.inner, self.point = inner, point
        self.workers = getattr(inner, "workers", 1)
        self.maps = 0

    def map(self, fn, items, on_result=None):
        self.maps += 1
        if self.maps == 2:
            test_kill(self.point)
        return self.inner.map(fn, items, on_result)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        from builders.release import remove_tree

        remove_tree(path)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
