"""The build: a plan of stages run as passes over shards, split by whole-corpus steps, then publish."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders import __version__, release
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
from builders.readers.base import keep_column

WORK = "_work"


def build_plan(config: BuildConfig) -> list[Stage]:
    """The stages of a build in order, as the config switches them; corpus steps split it into passes.
    Cleaning steps come from their registry (`builders/stages/registry.py`)."""
    plan: list[Stage] = clean_plan(config.clean) if config.clean else []
    if config.dedup:
        plan.append(dedup_stage.Dedup(config.dedup))
    return plan


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
    """Lazily opened Parquet writers of one shard, so a shard with no rejects writes no reject file."""

    def __init__(self) -> None:
        self._open: dict[Path, pq.ParquetWriter] = {}

    def write(self, path: Path, table: Optional[pa.Table]) -> None:
        if table is None or table.num_rows == 0:
            return
        writer = self._open.get(path)
        if writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = self._open[path] = pq.ParquetWriter(path, table.schema)
        elif table.schema != writer.schema:
            table = table.cast(writer.schema)
        writer.write_table(table)

    def ensure(self, path: Path, schema: pa.Schema) -> None:
        """Open the file now, so even a shard that yields nothing leaves a readable (empty) file."""
        if path not in self._open:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open[path] = pq.ParquetWriter(path, schema)

    def close(self) -> None:
        for writer in self._open.values():
            writer.close()
        self._open.clear()


def _first_and_last(plan: Sequence[Stage]) -> tuple[set[int], set[int]]:
    """Which stage objects open and close each named stage, to count its docs_in and docs_out once."""
    first, last = {}, {}
    for stage in plan:
        first.setdefault(stage.stage, id(stage))
        last[stage.stage] = id(stage)
    return set(first.values()), set(last.values())


def run_pass(task: ShardTask) -> ShardReport:
    """One pass over one shard, batch by batch: memory stays bounded by the batch size."""
    config = task.config
    plan = build_plan(config)
    step = passes(plan)[task.pass_index]
    first, last = _first_and_last(plan)
    ledger = Ledger()
    ledger.record_lines = bool(config.clean and config.clean.record_lines)
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
                writers.write(task.summaries(task.pass_index), step.closes.map(table))
                ledger.stage(step.closes.stage).seconds += time.perf_counter() - started
            writers.write(task.documents(task.pass_index), table)
            rows += table.num_rows
            _flush_ledger(ledger, out, task, writers)
        _flush_ledger(ledger, out, task, writers)
    finally:
        writers.close()
    return ShardReport(task.index, ledger, rows)


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


Progress = Callable[[str, int, int], None]


def run_build(config: BuildConfig, progress: Optional[Progress] = None, keep_work: bool = False,
              overwrite: bool = False) -> BuildResult:
    """Build the corpus the config describes and publish it atomically to `publish.output`
    (a folder holding anything but a previous release's files only with `overwrite`)."""
    started = time.time()
    wall: dict[str, float] = {}
    output = Path(config.publish.output)
    _check_output(output, overwrite)
    files = expand_inputs(config)
    if not files:
        raise BuildError("input.paths matched no files")
    staging = output.parent / f".{output.name}.building-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    tell = progress or (lambda phase, done, total: None)
    ledger = Ledger()
    try:
        steps = passes(build_plan(config))
        with make_executor(config.executor) as executor:
            executor.warm(__name__)
            t0 = time.perf_counter()
            n_jobs = -(-len(files) // 256)
            tell("plan", 0, n_jobs)
            shards = plan_shards(config, files, executor, config.executor.workers, _ticker(tell, "plan", n_jobs))
            wall["plan"] = time.perf_counter() - t0
            root = _common_folder(files)
            tasks = [ShardTask(s, config, str(staging), root=root) for s in shards]
            for step in steps:
                t0 = time.perf_counter()
                these = [replace(t, pass_index=step.index) for t in tasks]
                tell(step.label, 0, len(these))
                for report in executor.map(run_pass, these, _ticker(tell, step.label, len(these))):
                    ledger.merge(report.ledger)
                wall[f"pass {step.index}: {step.label}"] = time.perf_counter() - t0
                if step.closes:
                    t0 = time.perf_counter()
                    tell(step.closes.label, 0, 1)
                    summaries = [(t.index, t.summaries(step.index)) for t in these if t.summaries(step.index).exists()]
                    step.closes.reduce(summaries, these[0].model(step.index), [t.index for t in these], staging,
                                       executor)
                    ledger.stage(step.closes.stage).seconds += time.perf_counter() - t0
                    wall[step.closes.label] = time.perf_counter() - t0
                    tell(step.closes.label, 1, 1)
            final_kind = steps[-1].index
            t0 = time.perf_counter()
            tell("publish", 0, 1)
            sources = [t.documents(final_kind) for t in tasks]
            published = publish_stage.publish(config, staging, sources, executor, inputs=files)
        stage = ledger.stage("publish")
        stage.docs_in = stage.docs_out = published.rows
        stage.seconds = time.perf_counter() - t0
        wall["publish"] = stage.seconds
        stats = build_stats(config, ledger, files, len(shards), published.rows, started, wall)
        check_outcome(config, stats, staging)
        publish_stage.write_stats(staging, stats)
        publish_stage.write_card(config, staging, stats, published)
        tell("publish", 1, 1)
        examples = _quarantine_examples(staging)
        if not keep_work:
            shutil.rmtree(staging / WORK, ignore_errors=True)
        release.write_manifest(staging, config.name)
        _swap_into_place(staging, output, overwrite)
        for step in steps:  # lasting side effects of corpus steps (the dedup index), once published
            if step.closes:
                step.closes.commit()
    except BaseException:
        for step in locals().get("steps", ()):
            if step.closes:
                step.closes.discard()
        if not keep_work:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(output, stats, [output / "data" / p.name for p in published.files], examples)


def _ticker(tell: Progress, phase: str, total: int) -> Callable:
    done = [0]

    def on_result(index, result) -> None:
        done[0] += 1
        tell(phase, done[0], total)

    return on_result


def build_stats(config: BuildConfig, ledger: Ledger, files: list[str], shards: int, published: int,
                started: float, wall: dict) -> dict:
    """stats.json: per stage counts, drops by reason and seconds; totals that must reconcile.

    Everything comes from the ledger: stages in the order they first counted anything, records
    read as the first stage's input, rejected and quarantined as the sums over all stages.
    """
    stages = {name: stats.as_dict() for name, stats in ledger.stages.items()}
    first = next(iter(ledger.stages.values()), None)
    read = first.docs_in if first else 0
    quarantined = sum(sum(s.quarantined.values()) for s in ledger.stages.values())
    rejected = sum(sum(s.dropped.values()) for s in ledger.stages.values())
    return {
        "name": config.name,
        "builder": f"corpus-builders {__version__}",
        "inputs": len(files),
        "shards": shards,
        "workers": config.executor.workers,
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
