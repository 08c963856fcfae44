"""The Ray backend: every task the local pool runs, run as a Ray task on a cluster or a local instance.

The same module-level functions and picklable task objects the local pool runs (ingest and clean
passes over shards, planning, the dedup reduce, publish's counting and hashing) are submitted as
`ray.remote` tasks; they read and write files under the build's staging folder, so on a cluster that
folder (beside a local `publish.output`, or under `workdir`) and the inputs must be on storage every
node sees (a URL `publish.output` is uploaded by the driver alone). Results come
back in item order and `on_result` is called as each task finishes, so the release does not depend
on the backend.

Failures: a task whose worker or node dies is rerun up to `executor.max_retries` times (each task
writes whole files of its own, so a rerun replaces whatever a dead attempt left); a transient
ConnectionError or TimeoutError raised by a task is retried the same way; any other exception is
deterministic and stops the build at once, naming the shard (or task) and the reason.

Only this module imports Ray, and only when a build asks for `executor.backend: ray`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from typing import Any, Callable, Optional, Sequence

from builders.errors import BuildError, ConfigError
from builders.executors.base import Executor, OnResult

#: Exceptions raised inside a task that Ray reruns it for (bounded by max_retries): system trouble
#: such as a network filesystem or object store hiccup. Anything else fails the build at once.
RETRIED_EXCEPTIONS = (ConnectionError, TimeoutError)

#: Stage names a task can ask resources under (executor.resources.NAME).
STAGES = ("plan", "ingest", "clean", "dedup", "publish")

#: Test-only fault injection: a folder. A task whose function is NAME, finding the file
#: `kill-NAME` there, claims it (renames it away: once only) and its worker process exits right
#: after the task's work is done, before the result is returned: a worker lost mid-task, with the
#: task's output files written, exactly the case a retry must not duplicate. A file that says
#: `always` is not claimed: every attempt of every such task dies.
KILL_ENV = "CORPUS_BUILDERS_RAY_KILL_DIR"


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """What a Ray task runs: `fn(item)`, as the local pool would."""
    folder = os.environ.get(KILL_ENV)
    if folder and _doomed(os.path.join(folder, f"kill-{fn.__name__}")):
        fn(item)
        os._exit(1)
    return fn(item)


def _doomed(path: str) -> bool:
    try:
        with open(path) as fh:
            if fh.read().strip() == "always":
                return True
    except OSError:
        return False
    return _claim(path)


def _claim(path: str) -> bool:
    try:
        os.rename(path, f"{path}.claimed-{os.getpid()}")
        return True
    except OSError:
        return False


def _import(module: str) -> None:
    import importlib

    importlib.import_module(module)


def _first_line(value: object) -> str:
    return (str(value).strip().splitlines() or [""])[0][:300]


#: `workers_from` when the workers were planned for the cluster's CPUs.
CLUSTER_CPUS = "ray cluster CPUs"


class RayExecutor(Executor):
    """Runs tasks on Ray: a local instance of `workers` CPUs when `address` is unset, else the
    cluster at `address` (auto, ray://HOST:PORT or HOST:PORT). A Ray already initialised in this
    process (a test, a notebook, a job script) is used as it is and left running.

    With `from_cluster` (the config joins a cluster and does not set `executor.workers`), the build
    plans for the cluster's CPUs as Ray reports them once connected (`ray.cluster_resources()`)
    instead of `workers`; `workers_from` says which it was."""

    def __init__(self, workers: int = 2, address: Optional[str] = None, resources=None, max_retries: int = 3,
                 object_store_memory: int = 200_000_000, from_cluster: bool = False) -> None:
        self.workers = max(1, int(workers))
        self.from_cluster = from_cluster and address is not None
        self.workers_from = "executor.workers"
        self.address = address
        self.resources = resources
        self.max_retries = max_retries
        self.object_store_memory = object_store_memory
        self._ray = None
        self._owned = False
        self._remote = None
        self._variants: dict = {}
        self._warming: list = []
        self._largest: Optional[dict] = None
        self._restore: Optional[Callable[[], None]] = None

    @classmethod
    def from_config(cls, config) -> "RayExecutor":
        from_cluster = config.address is not None and "workers" not in config.model_fields_set
        return cls(config.workers, config.address, config.resources, config.max_retries, config.object_store_memory,
                   from_cluster)

    # -- connecting ---------------------------------------------------------------------------

    def _connect(self):
        if self._ray is not None:
            return self._ray
        try:
            import ray
        except ImportError:
            raise BuildError("executor.backend is ray, but Ray is not installed (pip install 'corpus-builders[ray]')") from None
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            # Ray's own logging stays out of the build's output: workers' output goes to the session's
            # log files (/tmp/ray/session_latest/logs), not to this terminal.
            quiet = dict(log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
            if self.address is None:
                ray.init(address="local", num_cpus=self.workers, object_store_memory=self.object_store_memory,
                         include_dashboard=False, **quiet)
            else:
                _check_reachable(self.address)
                _join(ray, self.address, quiet)
            self._owned = True
            self._restore = _quiet_cluster_messages()
        if self.from_cluster:
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus >= 1:
                self.workers, self.workers_from = cpus, CLUSTER_CPUS
        self._ray = ray
        self._remote = ray.remote(_call)
        return ray

    def warm(self, module: str) -> None:
        """Start the workers now (connecting or starting Ray), each importing `module`, so their
        start-up overlaps the driver's own planning."""
        self._connect()
        self._warming = [self._variant(self._options(()))[0].remote(_import, module) for _ in range(self.workers)]

    def close(self) -> None:
        self._warming = []
        self._variants = {}
        if self._owned and self._ray is not None and self._ray.is_initialized():
            self._ray.shutdown()
        if self._restore is not None:
            self._restore()
        self._ray, self._remote, self._owned, self._restore = None, None, False, None

    # -- running ------------------------------------------------------------------------------

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], on_result: OnResult = None) -> list[Any]:
        if not items:
            return []
        ray = self._connect()
        labels: dict = {}
        # Every task's options first: one that no node can hold refuses the map before any task runs.
        remotes = [self._variant(self._options(_stages_of(fn, item, labels)))[0] for item in items]
        refs = [remote.remote(fn, item) for remote, item in zip(remotes, items)]
        where = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(items)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                if pending:  # everything else already finished, in one call
                    more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                    ready += more
                for ref in ready:
                    i = where[ref]
                    try:
                        results[i] = ray.get(ref)
                    except Exception as exc:
                        failure = self._failure(exc, fn, items[i], i, len(items), labels)
                        raise failure from exc
                    if on_result:
                        on_result(i, results[i])
        except BaseException:
            self._cancel(pending)
            raise
        return results

    def _cancel(self, refs: list) -> None:
        """Stop the tasks still queued or running, and wait (briefly) until they have, so none of them
        writes into a staging folder the build is about to remove."""
        ray = self._ray
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        if refs:
            try:
                ray.wait(refs, num_returns=len(refs), timeout=30)
            except Exception:
                pass

    def _options(self, stages: tuple[str, ...]) -> dict:
        """Ray task options for a task of these stages: the most any of them asks for."""
        chosen = []
        if self.resources is not None:
            chosen = [getattr(self.resources, s) for s in stages if getattr(self.resources, s, None) is not None]
            if not chosen:
                chosen = [self.resources.default]
        options: dict = {"max_retries": self.max_retries, "retry_exceptions": list(RETRIED_EXCEPTIONS)}
        if chosen:
            options["num_cpus"] = max(r.num_cpus for r in chosen)
            memory = [r.memory for r in chosen if r.memory]
            if memory:
                options["memory"] = max(memory)
            gpus = max(r.num_gpus for r in chosen)
            if gpus:
                options["num_gpus"] = gpus
        return options

    def _variant(self, options: dict):
        key = tuple(sorted((k, str(v)) for k, v in options.items()))
        if key not in self._variants:
            self._check_fits(options)
            self._variants[key] = (self._remote.options(**options), options)
        return self._variants[key]

    def _check_fits(self, options: dict) -> None:
        """A task no node can ever hold would wait forever: refuse it with one line instead."""
        if self._largest is None:
            largest: dict = {}
            for node in self._ray.nodes():
                if node.get("Alive"):
                    for name, value in node.get("Resources", {}).items():
                        largest[name] = max(largest.get(name, 0), value)
            self._largest = largest
        for option, resource, shown in (("num_cpus", "CPU", "num_cpus"), ("memory", "memory", "memory"),
                                        ("num_gpus", "GPU", "num_gpus")):
            asked = options.get(option, 0)
            have = self._largest.get(resource, 0)
            if asked and asked > have:
                raise ConfigError(f"executor.resources: a task asks for {shown}={asked:g}, but no node of the Ray "
                                  f"cluster has more than {have:g}")

    def _failure(self, exc: BaseException, fn, item, i: int, n: int, labels: dict) -> BaseException:
        """One error line for a failed task: the user's own BuildError as it is, anything else as a
        BuildError naming the shard (or task) and the reason."""
        from ray import exceptions as rex

        where = _describe(fn, item, i, n, labels)
        if isinstance(exc, rex.RayTaskError):
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BuildError):
                return cause
            reason = f"{type(cause).__name__}: {_first_line(cause)}" if cause is not None else _first_line(exc)
            return BuildError(f"{where} failed: {reason}")
        if isinstance(exc, rex.TaskCancelledError):
            return BuildError(f"{where} was cancelled")
        if isinstance(exc, rex.RayError):
            n = self.max_retries
            retries = f" (retried {n} time{'s' if n != 1 else ''})" if n else ""
            return BuildError(f"{where} failed on Ray{retries}: {type(exc).__name__}: {_first_line(exc)}")
        return exc


#: An HTTP/2 client's connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS and
#: its client server are) answers with a SETTINGS frame of its own.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _quiet_cluster_messages() -> Optional[Callable[[], None]]:
    """A Ray driver prints the cluster's error messages (a worker that died and whose task is being
    retried, ...) to this process's stdout from a thread of its own, whatever `log_to_driver` says.
    Route them to the `ray` logger instead (quiet at logging_level ERROR; every node keeps them in
    its logs): a failure that matters reaches the build as a task error, in one line. Returns how
    to undo it (only for the Ray this executor started)."""
    try:
        from ray._private import worker as ray_worker
    except ImportError:
        return None
    original = getattr(ray_worker, "print_to_stdstream", None)
    if original is None:
        return None

    def to_logger(data, *args, **kwargs) -> None:
        for line in data.get("lines", ()):
            logging.getLogger("ray").warning("(%s) %s", data.get("pid"), line)

    ray_worker.print_to_stdstream = to_logger

    def restore() -> None:
        ray_worker.print_to_stdstream = original

    return restore


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """ray.init waits for minutes on a HOST:PORT where nobody listens, or where something other than
    Ray does: fail fast, in one line, unless a gRPC server answers there."""
    if address == "auto":
        return
    target = address.removeprefix("ray://").rstrip("/")
    host, _, port = target.rpartition(":")
    if not host:
        host, port = target, "10001"  # Ray Client's default port
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_PREFACE)
            reply = sock.recv(9)
    except (OSError, ValueError, OverflowError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc) or type(exc).__name__
        raise BuildError(f"executor.address {address}: cannot reach a Ray cluster there ({why})") from None
    if len(reply) < 4 or reply[3] != 0x04:
        raise BuildError(f"executor.address {address}: no Ray cluster answers there (the port does not speak gRPC)")


def _join(ray, address: str, quiet: dict) -> None:
    """ray.init(address): Ray's core logs each failed attempt to join to the process's stderr (20 lines
    for a missing token); they are kept out of the build's output, and a failure is one line."""
    with tempfile.TemporaryFile() as log:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        error = None
        try:
            ray.init(address=address, **quiet)
        except Exception as exc:  # ConnectionError, RuntimeError, grpc and auth errors: all one line
            error = exc
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        if error is None:
            return
        log.seek(0)
        said = log.read().decode("utf-8", "replace")
    reason = _first_line(error)
    if "InvalidAuthToken" in said or "Unauthenticated" in said or "AuthenticationError" in type(error).__name__:
        reason += (" (the cluster uses token authentication: set RAY_AUTH_MODE=token, with the cluster's token in "
                   "RAY_AUTH_TOKEN or ~/.ray/auth_token)")
    raise BuildError(f"executor.address {address}: cannot join the Ray cluster: {reason}") from None


def _pass_label(config, pass_index: int, labels: dict) -> str:
    key = (id(config), pass_index)
    if key not in labels:
        from builders.pipeline import build_plan, passes

        labels[key] = (config, passes(build_plan(config))[pass_index].label)
    return labels[key][1]


def _stages_of(fn, item, labels: dict) -> tuple[str, ...]:
    """The stages a task belongs to, for its resources: a pass over a shard runs the stages of its
    label (ingest+clean, clean+dedup, ...); other tasks by the module of their function."""
    if hasattr(item, "pass_index") and hasattr(item, "config") and hasattr(item, "shard"):
        return tuple(_pass_label(item.config, item.pass_index, labels).split("+"))
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("builders.readers"):
        return ("plan",)
    if module.startswith("builders.stages.dedup"):
        return ("dedup",)
    if module.startswith("builders.stages.publish") or module.startswith("builders.release"):
        return ("publish",)
    return ()


def _describe(fn, item, i: int, n: int, labels: dict) -> str:
    if hasattr(item, "pass_index") and hasattr(item, "shard"):
        pieces = getattr(item.shard, "pieces", ())
        first = f", input {pieces[0].path}" + (f" and {len(pieces) - 1} more" if len(pieces) > 1 else "") if pieces else ""
        try:
            label = " " + _pass_label(item.config, item.pass_index, labels)
        except Exception:
            label = ""
        return f"shard {item.index} (pass {item.pass_index}{label}{first})"
    kind = type(item).__name__
    what = f"{fn.__name__}" + (f" {kind}" if kind not in ("tuple", "list", "str", "int", "dict") else "")
    return f"task {i + 1} of {n} ({what})"
