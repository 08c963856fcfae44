"""The build: a plan of stages run as passes over shards, split by whole-corpus steps, then publish."""

from __future__ import annotations

import contextlib

import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders import __version__, release, workdir
from builders.config import BuildConfig, expand_inputs
from builders.errors import BuildError
from builders.executors import make_executor
from builders.schema import CORE_SCHEMA, ORD
from builders.stages import boilerplate, clean  # noqa: F401  (their cleaning steps register on import)
from builders.stages import dedup as dedup_stage
from builders.stages import publish as publish_stage
from builders.stages.base import CorpusStep, Ledger, Stage
from builders.stages.registry import clean_plan
from builders.readers import Shard, plan_shards, reader_for
from builders.readers.base import Piece, keep_column

WORK = "_work"


def build_plan(config: BuildConfig) -> list[Stage]:
    """The stages of a build in order, as the config switches them; corpus steps split it into passes.
    Cleaning steps come from their registry (`builders/stages/registry.py`)."""
    plan: list[Stage] = clean_plan(config.clean) if config.clean else []
    late = clean_plan(config.clean, after_dedup=True) if config.clean else []
    if config.dedup:
        # Documents the late steps will drop (too short) may join a cluster but never survive it.
        plan.append(dedup_stage.Dedup(config.dedup, min_words=config.clean.min_words if late else 0))
    return plan + late


@dataclass(frozen=True)
class Pass:
    """One read of every shard: apply the corpus step that opened it, run stages, map the next step."""

    index: int
    opens: Optional[CorpusStep]
    stages: tuple[Stage, ...]
    closes: Optional[CorpusStep]

    @property
    def label(self) -> str:
        names = ["ingest"] if self.index == 0 else []
        for stage in ((self.opens,) if self.opens else ()) + self.stages + ((self.closes,) if self.closes else ()):
            if stage.stage not in names:
                names.append(stage.stage)
        return "+".join(names) or "copy"


def passes(plan: list[Stage]) -> list[Pass]:
    result, opens, stages = [], None, []
    for stage in plan:
        if isinstance(stage, CorpusStep):
            result.append(Pass(len(result), opens, tuple(stages), stage))
            opens, stages = stage, []
        else:
            stages.append(stage)
    result.append(Pass(len(result), opens, tuple(stages), None))
    return result


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to run one pass over one shard; it pickles, so any backend can run it."""

    shard: Shard
    config: BuildConfig
    staging: str
    pass_index: int = 0
    root: str = ""
    #: What this task's result depends on (see builders/workdir.py); its marker holds it. Empty: no marker.
    key: str = ""
    #: (path, fingerprint) of the inputs a first-pass task reads, checked before and after reading.
    inputs: tuple = ()
    #: The build's driver process: a local worker dies with it (see workdir.die_with_driver).
    driver: int = 0

    @property
    def index(self) -> int:
        return self.shard.index

    @property
    def work(self) -> Path:
        return Path(self.staging) / WORK

    def documents(self, pass_index: int) -> Path:
        return self.work / f"pass{pass_index}" / f"part-{self.index:05d}.parquet"

    def summaries(self, pass_index: int) -> Path:
        return self.work / f"pass{pass_index}-map" / f"part-{self.index:05d}.parquet"

    def model(self, pass_index: int) -> Path:
        return self.work / f"pass{pass_index}-model"


@dataclass
class ShardReport:
    shard: int
    ledger: Ledger
    rows: int


class _ShardWriters:
    """Lazily opened Parquet writers of one shard, so a shard with no rejects writes no reject file.

    Files are written under temporary names (`.NAME.part`) and renamed by `commit` once the whole
    shard is done, so a shard killed mid-write leaves nothing that looks finished. A write that
    fails (disk full, permissions) is a BuildError naming the file."""

    def __init__(self) -> None:
        self._open: dict[Path, pq.ParquetWriter] = {}
        self._closed: list[Path] = []

    @staticmethod
    def temporary(path: Path) -> Path:
        return path.with_name(f".{path.name}.part")

    def _new(self, path: Path, schema: pa.Schema, options: Optional[dict] = None) -> pq.ParquetWriter:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._open[path] = pq.ParquetWriter(self.temporary(path), schema, **(options or {}))
        except OSError as exc:
            raise workdir.ResourceError(workdir.os_error(exc, path)) from None
        return writer

    def write(self, path: Path, table: Optional[pa.Table], options: Optional[dict] = None) -> None:
        """Append `table` to `path`, opening its writer (with `options`) on the first write."""
        if table is None or table.num_rows == 0:
            return
        writer = self._open.get(path)
        if writer is None:
            writer = self._new(path, table.schema, options)
        elif table.schema != writer.schema:
            table = table.cast(writer.schema)
        try:
            writer.write_table(table)
        except OSError as exc:
            raise workdir.ResourceError(workdir.os_error(exc, path)) from None

    def ensure(self, path: Path, schema: pa.Schema) -> None:
        """Open the file now, so even a shard that yields nothing leaves a readable (empty) file."""
        if path not in self._open:
            self._new(path, schema)

    def close(self) -> None:
        for path, writer in list(self._open.items()):
            del self._open[path]
            try:
                writer.close()
            except OSError as exc:
                raise workdir.ResourceError(workdir.os_error(exc, path)) from None
            self._closed.append(path)

    def commit(self) -> list[Path]:
        """Flush the closed files to disk and give them their final names; returns those names."""
        done, self._closed = self._closed, []
        for path in done:
            try:
                workdir.fsync_file(self.temporary(path))
                os.replace(self.temporary(path), path)
            except OSError as exc:
                raise workdir.ResourceError(workdir.os_error(exc, path)) from None
        return done

    def abort(self) -> None:
        """After a failure: close what is open and remove every temporary file."""
        for writer in self._open.values():
            try:
                writer.close()
            except Exception:  # already failing
                pass
        for path in [*self._open, *self._closed]:
            try:
                self.temporary(path).unlink()
            except OSError:
                pass
        self._open.clear()
        self._closed.clear()


def _first_and_last(plan: Sequence[Stage]) -> tuple[set[int], set[int]]:
    """Which stage objects open and close each named stage, to count its docs_in and docs_out once."""
    first, last = {}, {}
    for stage in plan:
        first.setdefault(stage.stage, id(stage))
        last[stage.stage] = id(stage)
    return set(first.values()), set(last.values())


def run_pass(task: ShardTask) -> ShardReport:
    """One pass over one shard, batch by batch: memory stays bounded by the batch size.

    The shard's files get their final names only once all are written, then its marker (with the
    ledger's counts) is written last: a shard killed at any point is redone by `--resume`."""
    config = task.config
    plan = build_plan(config)
    step = passes(plan)[task.pass_index]
    first, last = _first_and_last(plan)
    ledger = Ledger()
    ledger.record_lines = bool(config.clean and config.clean.record_lines)
    workdir.die_with_driver(task.driver)
    _clear_shard(task)
    problem = workdir.changed_input(task.inputs)
    if problem:
        raise workdir.ResourceError(problem)
    writers = _ShardWriters()
    out = Path(task.staging)
    rows = 0
    if step.opens:
        step.opens.load(task.model(task.pass_index - 1), task.index)
    chain = ((step.opens,) if step.opens else ()) + step.stages
    try:
        writers.ensure(task.documents(task.pass_index), document_schema(config))
        for table in _source(task, ledger):
            for stage in chain:
                if id(stage) in first:
                    ledger.stage(stage.stage).docs_in += table.num_rows
                table = stage(table, ledger)
                if id(stage) in last:
                    ledger.stage(stage.stage).docs_out += table.num_rows
            if step.closes and table.num_rows:
                started = time.perf_counter()
                writers.write(task.summaries(task.pass_index), step.closes.map(table), step.closes.summary_parquet)
                ledger.stage(step.closes.stage).seconds += time.perf_counter() - started
            writers.write(task.documents(task.pass_index), table)
            rows += table.num_rows
            _flush_ledger(ledger, out, task, writers)
            workdir.test_kill(f"pass{task.pass_index}:{task.index}")
        _flush_ledger(ledger, out, task, writers)
        writers.close()
        problem = workdir.changed_input(task.inputs)  # read while it changed: its records cannot be trusted
        if problem:
            raise workdir.ResourceError(problem)
        files = writers.commit()
    finally:
        writers.abort()
    if task.key:
        workdir.write_marker(workdir.shard_marker(out, task.pass_index, task.index), {
            "key": task.key, "rows": rows, "files": sorted(p.relative_to(out).as_posix() for p in files),
            "ledger": workdir.ledger_to_json(ledger)})
    return ShardReport(task.index, ledger, rows)


def _shard_files(task: ShardTask) -> list[Path]:
    """Every file a shard task of this pass may have written (final names), present or not."""
    out, k, i = Path(task.staging), task.pass_index, task.index
    names = [task.documents(k), task.summaries(k), out / "rejected-lines" / f"p{k}-{i:05d}.parquet"]
    names += sorted((out / "rejected").glob(f"*-p{k}-{i:05d}.parquet"))
    names += [p.with_name(p.name[1:-5]) for p in (out / "rejected").glob(f".*-p{k}-{i:05d}.parquet.part")]
    if k == 0:
        names.append(out / "quarantine" / f"ingest-{i:05d}.parquet")
    return names


def _clear_shard(task: ShardTask) -> None:
    """Before a shard task runs: its marker, then whatever an earlier attempt left, go."""
    workdir.remove(workdir.shard_marker(Path(task.staging), task.pass_index, task.index))
    for path in _shard_files(task):
        workdir.remove(path)
        workdir.remove(_ShardWriters.temporary(path))


def _source(task: ShardTask, ledger: Ledger):
    """The batches a pass reads: the shard's inputs for the first pass, the previous pass's output after."""
    if task.pass_index == 0:
        pieces = task.shard.pieces
        start = 0
        while start < len(pieces):  # runs of pieces of one format, each read by its reader
            end = start + 1
            while end < len(pieces) and pieces[end].format == pieces[start].format:
                end += 1
            reader = reader_for(pieces[start].format, task.config.input)
            reader.root = task.root
            yield from reader.read(list(pieces[start:end]), ledger)
            start = end
    else:
        # Not pre-buffered: a pre-buffered reader keeps every column chunk it read (memory grows with the shard).
        source = pq.ParquetFile(task.documents(task.pass_index - 1), pre_buffer=False)
        for batch in source.iter_batches(batch_size=task.config.input.batch_size):
            yield pa.Table.from_batches([batch])


def _flush_ledger(ledger: Ledger, out: Path, task: ShardTask, writers: _ShardWriters) -> None:
    rejected = ledger.take_rejected()
    for stage in pc.unique(rejected["stage"]).to_pylist() if rejected.num_rows else []:
        rows = rejected.filter(pc.equal(rejected["stage"], stage))
        writers.write(out / "rejected" / f"{stage}-p{task.pass_index}-{task.index:05d}.parquet", rows)
    writers.write(out / "quarantine" / f"ingest-{task.index:05d}.parquet", ledger.take_quarantined())
    writers.write(out / "rejected-lines" / f"p{task.pass_index}-{task.index:05d}.parquet", ledger.take_lines())


def document_schema(config: BuildConfig) -> pa.Schema:
    """Columns of documents between stages: the core schema, kept input fields, the ordinal."""
    schema = CORE_SCHEMA
    for key in config.input.keep:
        schema = schema.append(pa.field(keep_column(key), pa.string()))
    return schema.append(pa.field(ORD, pa.int64()))


@dataclass
class BuildResult:
    output: Path
    stats: dict
    files: list[Path]
    quarantine_examples: list[dict]
    #: What `resume` took from an unfinished build, one line each (empty for a build from the start).
    reused: list[str] = field(default_factory=list)


Progress = Callable[[str, int, int], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_build(config: BuildConfig, progress: Optional[Progress] = None, keep_work: bool = False,
              overwrite: bool = False, resume: bool = False, notice: Optional[Callable[[str], None]] = None) -> BuildResult:
    """Build the corpus the config describes and publish it atomically to `publish.output`
    (a folder holding anything but a previous release's files only with `overwrite`). A URL
    output's release is assembled in a local staging folder (`workdir`, else ./.corpus-staging)
    as a local one is beside OUT, then uploaded, manifest.json last (`release.upload_to`).

    One build per output at a time (`.OUT.lock` beside it). Every shard task and reduce marks its
    completion in the work folder (`.OUT.building-*`, see builders/workdir.py); a build that fails
    or is killed leaves that folder, which `resume` continues, reusing each result whose config
    part and inputs are unchanged, and which any other build of OUT removes. `notice` gets one-line
    notices (leftovers removed, a stale lock taken over); default: standard error."""
    started = time.time()
    wall: dict[str, float] = {}
    target = config.publish.output
    remote = release.is_url(target)
    # A URL output's lock and staging folders are beside a local path that stands for it.
    output = release.local_stand_in(target, config.workdir) if remote else Path(target)
    say = notice or _stderr
    index = config.dedup.index if config.dedup else None
    # One build per dedup index too: two builds appending to one index would each miss the other's
    # stories, and publish them twice.
    with workdir.BuildLock(output, say), (workdir.BuildLock(Path(index), say) if index else contextlib.nullcontext()):
        if remote:
            release.check_remote_output(target, overwrite)
        else:
            _check_output(output, overwrite)
        files = expand_inputs(config)
        if not files:
            raise BuildError("input.paths matched no files")
        elsewhere = Path(config.workdir) if config.workdir and not remote else None  # remote: staged there already
        staging = _work_folder(output, resume, say, elsewhere)
        tell = progress or (lambda phase, done, total: None)
        ledger = Ledger()
        reused: list[str] = []
        workdir.arm_test_kill()
        try:
            steps = passes(build_plan(config))
            prints = {f: workdir.fingerprint(f) for f in files}
            with make_executor(config.executor) as executor:
                executor.warm(__name__)
                t0 = time.perf_counter()
                n_jobs = -(-len(files) // 256)
                tell("plan", 0, n_jobs)
                plan_key = workdir.key(__version__, workdir.code_fingerprint(), _pass_config(config, steps[0])["input"],
                                       files, [prints[f] for f in files])
                shards = _stored_plan(staging, plan_key)
                if shards is None:
                    shards = plan_shards(config, files, executor, executor.workers, _ticker(tell, "plan", n_jobs))
                    _store_plan(staging, plan_key, shards)
                else:
                    reused.append(f"the shard plan ({len(shards)} shards)")
                    tell("plan", n_jobs, n_jobs)
                wall["plan"] = time.perf_counter() - t0
                root = _common_folder(files)
                shard_keys, reduce_keys = _keys(config, steps, shards, root, prints)
                _sweep(staging, len(steps), len(shards), shard_keys, reduce_keys)
                tasks = [ShardTask(s, config, str(staging), root=root, driver=os.getpid()) for s in shards]
                for step in steps:
                    t0 = time.perf_counter()
                    these = [replace(t, pass_index=step.index, key=shard_keys[step.index][i],
                                     inputs=tuple((f, prints[f]) for f in _shard_inputs(t.shard)) if step.index == 0 else ())
                             for i, t in enumerate(tasks)]
                    finished = {t.index: _finished_shard(t) for t in these}
                    todo = [t for t in these if finished[t.index] is None]
                    if len(todo) < len(these):
                        reused.append(f"pass {step.index} ({step.label}): {len(these) - len(todo):,} of {len(these):,} shards")
                    tell(step.label, len(these) - len(todo), len(these))
                    ran = executor.map(run_pass, todo, _ticker(tell, step.label, len(these), len(these) - len(todo)))
                    reports = {**{i: r for i, r in finished.items() if r is not None}, **{r.shard: r for r in ran}}
                    for t in these:  # in shard order, whatever ran now and what was reused
                        ledger.merge(reports[t.index].ledger)
                    wall[f"pass {step.index}: {step.label}"] = time.perf_counter() - t0
                    if step.closes:
                        t0 = time.perf_counter()
                        tell(step.closes.label, 0, 1)
                        marker = workdir.reduce_marker(staging, step.index)
                        if _reduce_reusable(step.closes) and (workdir.read_marker(marker) or {}).get("key") == reduce_keys[step.index]:
                            reused.append(f"{step.closes.label} (the reduce after pass {step.index})")
                        else:
                            within = step.closes.resumes_within and _reduce_reusable(step.closes)
                            before = _start_reduce(staging, marker, these[0].model(step.index), reduce_keys[step.index],
                                                   within)
                            summaries = [(t.index, t.summaries(step.index)) for t in these if t.summaries(step.index).exists()]
                            step.closes.reduce(summaries, these[0].model(step.index), [t.index for t in these], staging,
                                               _reduce_executor(executor, step.index))
                            done = getattr(step.closes, "phases_reused", ())
                            if within and done:
                                reused.append(f"{step.closes.label} (the reduce after pass {step.index}): its finished "
                                              f"steps {', '.join(done)}")
                            _finish_reduce(staging, marker, reduce_keys[step.index], before, these[0].model(step.index))
                        ledger.stage(step.closes.stage).seconds += time.perf_counter() - t0
                        wall[step.closes.label] = time.perf_counter() - t0
                        for name, seconds in getattr(step.closes, "step_seconds", {}).items():
                            wall[f"{step.closes.label}: {name}"] = seconds
                        tell(step.closes.label, 1, 1)
                final_kind = steps[-1].index
                t0 = time.perf_counter()
                tell("publish", 0, 1)
                problem = workdir.changed_input(prints.items())
                if problem:
                    raise workdir.ResourceError(problem)
                sources = [t.documents(final_kind) for t in tasks]
                published = publish_stage.publish(config, staging, sources, executor, inputs=files)
                workdir.test_kill("publish")
                workers = (executor.workers, getattr(executor, "workers_from", "executor.workers"))
            stage = ledger.stage("publish")
            stage.docs_in = stage.docs_out = published.rows
            stage.seconds = time.perf_counter() - t0
            wall["publish"] = stage.seconds
            stats = build_stats(config, ledger, files, len(shards), published.rows, started, wall, workers)
            check_outcome(config, stats, staging)
            publish_stage.write_stats(staging, stats)
            publish_stage.write_card(config, staging, stats, published)
            tell("publish", 1, 1)
            examples = _quarantine_examples(staging)
            release.write_manifest(staging, config.name)
            if remote:
                uploaded = release.upload_to(staging, target, overwrite)
                _after_upload(staging, output, keep_work)
            else:
                _swap_into_place(staging, output, overwrite)
                if not keep_work:  # removed once published, so a kill before that can still resume
                    release.remove_work(output)
            for step in steps:  # lasting side effects of corpus steps (the dedup index), once published
                if step.closes:
                    step.closes.commit()
        except BaseException as exc:
            for step in locals().get("steps", ()):
                if step.closes:
                    step.closes.discard()
            kept = _keep_or_remove(staging, keep_work, exc)
            if isinstance(exc, OSError):  # disk full, permissions, a read-only folder: one line naming the path
                error = workdir.ResourceError(workdir.os_error(exc, staging))
                error.work_kept = kept
                raise error from exc
            try:
                exc.work_kept = kept
            except AttributeError:
                pass
            raise
    if remote:
        data = [u for u in uploaded if u.rsplit("/", 2)[-2] == "data"]
        return BuildResult(target, stats, data, examples, reused)
    return BuildResult(output, stats, [output / "data" / p.name for p in published.files], examples, reused)


def _after_upload(staging: Path, stand_in: Path, keep_work: bool) -> None:
    """Once a URL output is uploaded: the staging folder goes; with keep_work it becomes the local
    stand-in folder (the release as uploaded, with `_work/`), replacing the one an earlier build kept."""
    if stand_in.exists() or stand_in.is_symlink():
        workdir.remove(stand_in)
    if keep_work:
        os.rename(staging, stand_in)
    else:
        workdir.remove(staging)


def _work_folder(output: Path, resume: bool, say: Callable[[str], None], elsewhere: Optional[Path] = None) -> Path:
    """The build's staging and work folder beside OUT: with `resume`, the newest unfinished build's
    (when there is one); every other leftover of a dead build of OUT is removed with a notice.

    With `workdir` (`elsewhere`), the work folder is made there and the staging folder's `_work`
    links to it: the release is still assembled beside OUT (an atomic swap needs one filesystem),
    the intermediate files go where the user has room, and a later build of OUT finds them through
    the link to resume or remove."""
    found = workdir.leftovers(output)
    chosen = None
    if resume:
        candidates = [p for p in found if workdir.resumable(p)]
        chosen = candidates[-1] if candidates else None
        say(f"resuming the unfinished build in {chosen}" if chosen
            else f"--resume: no unfinished build of {output} was found; building from the start")
    for path in found:
        if path != chosen:
            could = workdir.resumable(path) and workdir.has_progress(path) and not resume
            size = workdir.folder_size(path)
            workdir.remove(path)
            say(f"removed {path} ({workdir.human(size)}), left by a build of {output} that did not finish"
                + ("; --resume would have continued it" if could else ""))
    if chosen is not None:
        return chosen
    tag = uuid.uuid4().hex[:8]
    staging = output.parent / f".{output.name}.building-{tag}"
    try:
        if elsewhere is None:
            (staging / WORK).mkdir(parents=True)
        else:
            work = elsewhere / f"{output.name}.work-{tag}"
            work.mkdir(parents=True)
            staging.mkdir(parents=True)
            (staging / WORK).symlink_to(work.resolve(), target_is_directory=True)
    except OSError as exc:
        raise workdir.ResourceError(workdir.os_error(exc, staging)) from None
    workdir.atomic_write(staging / WORK / workdir.STATE, json.dumps({"output": str(output), "created": time.time()}) + "\n")
    return staging


def _keep_or_remove(staging: Path, keep_work: bool, exc: BaseException) -> Optional[Path]:
    """After a failure: the work folder stays with --keep-work, or when it holds finished work and
    the build failed for a reason a rerun may not meet (a kill, a full disk, a crashed worker; not
    a config or data problem, which `--resume` would only repeat). Returns it when kept."""
    if not staging.exists():
        return None
    user_error = isinstance(exc, BuildError) and not isinstance(exc, workdir.ResourceError)
    if keep_work or (workdir.has_progress(staging) and not user_error):
        return staging
    workdir.remove(staging)
    return None


def _shard_inputs(shard: Shard) -> list[str]:
    return list(dict.fromkeys(p.path for p in shard.pieces))


def _pass_config(config: BuildConfig, step: Pass) -> dict:
    """What of the config a pass's results depend on: its stages (by class), the sections they are
    configured by (a stage's name is its section: clean, dedup) and, for the first, the input's."""
    stages = [s for s in ((step.opens,) if step.opens else ()) + step.stages + ((step.closes,) if step.closes else ())]
    out: dict = {"stages": [f"{type(s).__module__}.{type(s).__qualname__}" for s in stages],
                 "opens": step.opens is not None, "closes": step.closes is not None}
    if step.index == 0:
        out["input"] = config.input.model_dump(mode="json", exclude={"max_quarantined"})
    for name in sorted({s.stage for s in stages}):
        section = getattr(config, name, None)
        if hasattr(section, "model_dump"):
            out[name] = section.model_dump(mode="json")
    return out


def _reduce_reusable(step: CorpusStep) -> bool:
    """A reduce with lasting side effects (dedup against an index, committed after publishing)
    always runs again: its pending side effect lives in the step object."""
    return not getattr(getattr(step, "config", None), "index", None)


def _reduce_extra(step: CorpusStep) -> str:
    """What a reduce reads besides the build's shards: a dedup index's manifest."""
    index = getattr(getattr(step, "config", None), "index", None)
    if not index:
        return ""
    manifest = Path(index) / "manifest.json"
    return release.sha256(manifest) if manifest.is_file() else "no index yet"


def _keys(config: BuildConfig, steps: list[Pass], shards: list[Shard], root: str, prints: dict) -> tuple[list, list]:
    """Each shard task's and reduce's key: a hash of the builder's code, the pass's config, and what
    it reads (the shard's plan and input fingerprints, the previous pass's key, the reduce's)."""
    base = [__version__, workdir.code_fingerprint()]
    shard_keys: list[list[str]] = []
    reduce_keys: list[Optional[str]] = []
    upstream = None
    for step in steps:
        section = _pass_config(config, step)
        row = []
        for i, shard in enumerate(shards):
            if step.index == 0:
                own = [[asdict(p) for p in shard.pieces], [prints.get(p.path) for p in shard.pieces], root]
            else:
                own = [shard.index, shard_keys[-1][i]]
            row.append(workdir.key(base, step.index, section, upstream, own))
        shard_keys.append(row)
        if step.closes:
            upstream = workdir.key(base, "reduce", step.index, section, row, _reduce_extra(step.closes))
        reduce_keys.append(upstream if step.closes else None)
    return shard_keys, reduce_keys


def _stored_plan(staging: Path, plan_key: str) -> Optional[list[Shard]]:
    """The shard plan an unfinished build made of the same inputs (whatever its worker count)."""
    try:
        data = json.loads((staging / WORK / "plan.json").read_text(encoding="utf-8"))
        if data.get("key") != plan_key:
            return None
        return [_shard_from_json(s) for s in data["shards"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _shard_from_json(data: dict) -> Shard:
    return Shard(int(data["index"]), tuple(Piece(**{**p, "problem": tuple(p["problem"]) if p.get("problem") else None})
                                           for p in data["pieces"]))


def _store_plan(staging: Path, plan_key: str, shards: list[Shard]) -> None:
    data = [{"index": s.index, "pieces": [asdict(p) for p in s.pieces]} for s in shards]
    try:
        if [_shard_from_json(json.loads(json.dumps(s))) for s in data] != shards:
            return  # a piece JSON cannot carry: planned again by a resumed build
    except (TypeError, ValueError):
        return
    workdir.atomic_write(staging / WORK / "plan.json", json.dumps({"key": plan_key, "shards": data}) + "\n")


def _sweep(staging: Path, n_passes: int, n_shards: int, shard_keys: list, reduce_keys: list) -> None:
    """Before a (resumed) build runs anything: markers that do not match this build go, and so
    does every file no valid marker accounts for (parts of unfinished shards, an earlier publish's
    files, outputs of stale reduces)."""
    markers = workdir.marker_folder(staging)
    markers.mkdir(parents=True, exist_ok=True)
    listed: set[str] = set()
    top = {WORK, *workdir.PART_FOLDERS}
    for path in sorted(markers.iterdir()):
        data = workdir.read_marker(path) if path.suffix == ".json" else None
        valid = False
        if data and path.stem.startswith("pass") and "-" in path.stem:
            k, i = path.stem[4:].split("-", 1)
            valid = (k.isdigit() and i.isdigit() and int(k) < n_passes and int(i) < n_shards
                     and data["key"] == shard_keys[int(k)][int(i)])
            listed.update(data.get("files", ()) if valid else ())
        elif data and path.stem.startswith("reduce") and path.stem[6:].isdigit():
            k = int(path.stem[6:])
            valid = k < n_passes and data["key"] == reduce_keys[k]
            top.update(data.get("outputs", ()) if valid else ())
        if not valid:
            workdir.remove(path)
    for folder in workdir.PART_FOLDERS:
        for path in sorted((staging / folder).rglob("*")) if (staging / folder).is_dir() else ():
            if not path.is_dir() and path.relative_to(staging).as_posix() not in listed:
                workdir.remove(path)
    for entry in list(staging.iterdir()):
        if entry.name not in top:
            workdir.remove(entry)
    workdir.remove(staging / WORK / "hf-cache")


def _finished_shard(task: ShardTask) -> Optional[ShardReport]:
    """The report of a shard task an earlier attempt finished with this task's key, or None."""
    data = workdir.read_marker(workdir.shard_marker(Path(task.staging), task.pass_index, task.index))
    if not data or data["key"] != task.key:
        return None
    out = Path(task.staging)
    if not task.documents(task.pass_index).is_file() or not all((out / f).is_file() for f in data.get("files", ())):
        return None
    try:
        return ShardReport(task.index, workdir.ledger_from_json(data["ledger"]), int(data["rows"]))
    except (KeyError, TypeError, ValueError):
        return None


def _start_reduce(staging: Path, marker: Path, model: Path, key: str = "", within: bool = False) -> set[str]:
    """Before a reduce runs: its marker, its model and the outputs an earlier run recorded go.

    With `within` (a reduce that marks its own finished steps), a model an unfinished run of the
    same key left is kept, for the reduce to continue; `started.json` in the model names the key
    it was started with."""
    old = workdir.read_marker(marker) or {}
    workdir.remove(marker)
    for name in old.get("outputs", ()):
        if name not in (WORK, *workdir.PART_FOLDERS):
            workdir.remove(staging / name)
    started = model / "started.json"
    if not (within and (workdir.read_marker(started) or {}).get("key") == key):
        workdir.remove(model)
        model.mkdir(parents=True, exist_ok=True)
        workdir.write_marker(started, {"key": key})
    return {p.name for p in staging.iterdir()}


def _finish_reduce(staging: Path, marker: Path, key: str, before: set[str], model: Path) -> None:
    """After a reduce: flush its files to disk, then its marker names the release folders it made."""
    workdir.test_kill(f"reduce{marker.stem[6:]}")
    outputs = sorted(p.name for p in staging.iterdir() if p.name not in before)
    for path in [model, *(staging / name for name in outputs)]:
        if path.is_dir():
            release.fsync_tree(path)
        elif path.exists():
            workdir.fsync_file(path)
    workdir.write_marker(marker, {"key": key, "outputs": outputs})


def _reduce_executor(executor, pass_index: int):
    point = f"reduce{pass_index}"
    return workdir.KillingExecutor(executor, point) if os.environ.get(workdir.KILL_ENV) == point else executor


def _ticker(tell: Progress, phase: str, total: int, start: int = 0) -> Callable:
    done = [start]

    def on_result(index, result) -> None:
        done[0] += 1
        tell(phase, done[0], total)

    return on_result


def build_stats(config: BuildConfig, ledger: Ledger, files: list[str], shards: int, published: int,
                started: float, wall: dict, workers: Optional[tuple[int, str]] = None) -> dict:
    """stats.json: per stage counts, drops by reason and seconds; totals that must reconcile.

    Everything comes from the ledger: stages in the order they first counted anything, records
    read as the first stage's input, rejected and quarantined as the sums over all stages.
    """
    stages = {name: stats.as_dict() for name, stats in ledger.stages.items()}
    first = next(iter(ledger.stages.values()), None)
    read = first.docs_in if first else 0
    quarantined = sum(sum(s.quarantined.values()) for s in ledger.stages.values())
    rejected = sum(sum(s.dropped.values()) for s in ledger.stages.values())
    planned, source = workers or (config.executor.workers, "executor.workers")
    return {
        "name": config.name,
        "builder": f"corpus-builders {__version__}",
        "inputs": len(files),
        "shards": shards,
        "workers": planned,
        # where `workers` came from: executor.workers (set, or its default), or the Ray cluster's CPUs
        "workers_from": source,
        "backend": config.executor.backend,
        "seconds": round(time.time() - started, 3),
        "phase_seconds": {k: round(v, 3) for k, v in wall.items()},
        "stages": stages,
        "totals": {
            "read": read,
            "published": published,
            "rejected": rejected,
            "quarantined": quarantined,
            "reconciled": read == published + rejected + quarantined,
        },
    }


def check_outcome(config: BuildConfig, stats: dict, staging: Path) -> None:
    """A build that published nothing, or quarantined more than input.max_quarantined of what it
    read, is a failure: one line naming the commonest reasons and the first example."""
    totals = stats["totals"]
    read, quarantined = totals["read"], totals["quarantined"]
    limit = config.input.max_quarantined
    too_many = quarantined > 0 and quarantined > limit * read
    if totals["published"] > 0 and not too_many:
        return
    reasons = Counter()
    for stage in stats["stages"].values():
        reasons.update(stage.get("quarantined", {}))
    if too_many:
        share = f"{quarantined:,} of {read:,} records quarantined"
        what = share + (" (--strict: any quarantined record fails the build)" if limit == 0
                        else f", more than input.max_quarantined={limit:g}")
    elif read == 0:
        what = "the inputs held no records"
    else:
        rejected = Counter()
        for stage in stats["stages"].values():
            rejected.update(stage.get("dropped", {}))
        reasons.update(rejected)
        what = f"nothing published: all {read:,} records were rejected or quarantined"
    top = ", ".join(f"{reason}: {n:,}" for reason, n in reasons.most_common(3))
    example = _quarantine_examples(staging, 1)
    where = f"; first: {example[0]['file']}:{example[0]['position']}: {example[0]['reason']}" if example else ""
    raise BuildError(f"{what}{' (' + top + ')' if top else ''}{where}")


def _common_folder(files: list[str]) -> str:
    """The folder all inputs are under, so ids of one-file documents are paths below it."""
    local = [f for f in files if "://" not in f]
    if len(local) != len(files) or not local:
        prefix = os.path.commonprefix(files)
        return prefix[: prefix.rfind("/") + 1] if "/" in prefix else ""
    if len(local) == 1:
        return os.path.dirname(local[0]) if os.path.isfile(local[0]) else local[0]
    return os.path.commonpath(local)


def _quarantine_examples(staging: Path, limit: int = 5) -> list[dict]:
    folder = staging / "quarantine"
    rows: list[dict] = []
    for path in sorted(folder.glob("*.parquet")) if folder.exists() else []:
        rows.extend(pq.read_table(path, columns=["file", "position", "field", "reason"]).slice(0, limit).to_pylist())
        if len(rows) >= limit:
            break
    return rows[:limit]


def _check_output(output: Path, overwrite: bool = False) -> None:
    """Refuse, before any work, to replace a folder holding anything but a previous release."""
    release.check_output(output, overwrite)


def _swap_into_place(staging: Path, output: Path, overwrite: bool = False) -> None:
    """Replace the output folder in one atomic exchange (see builders/release.py), so readers and
    interrupted builds see the old release or the new one, never half."""
    release.swap_into_place(staging, output, overwrite)
