"""The build: a plan of stages run as passes over shards, split by whole-corpus steps, then publish."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders import __version__
from builders.config import BuildConfig, expand_inputs
from builders.errors import BuildError
from builders.executors import make_executor
from builders.schema import CORE_SCHEMA, ORD
from builders.stages import clean as clean_stage
from builders.stages import dedup as dedup_stage
from builders.stages import publish as publish_stage
from builders.stages.base import CorpusStep, Ledger, Stage
from builders.stages.boilerplate import RepeatedLines
from builders.stages.ingest import reader_for

STAGE_ORDER = ("ingest", "clean", "dedup", "publish")
WORK = "_work"


def build_plan(config: BuildConfig) -> list[Stage]:
    """The stages of a build in order, as the config switches them; corpus steps split it into passes."""
    plan: list[Stage] = []
    if config.clean:
        if config.clean.fix_unicode:
            plan.append(clean_stage.FixUnicode())
        if config.clean.strip_chrome:
            plan.append(clean_stage.StripChrome())
        plan.append(clean_stage.NormalizeWhitespace())
        if config.clean.repeated_lines:
            plan += [RepeatedLines(), clean_stage.NormalizeWhitespace()]
        plan += [clean_stage.EmptyText(), clean_stage.ErrorPage(), clean_stage.ListingPage()]
        if config.clean.min_words > 0:
            plan.append(clean_stage.TooShort(config.clean.min_words))
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

    shard: int
    path: str
    config: BuildConfig
    staging: str
    pass_index: int = 0

    @property
    def work(self) -> Path:
        return Path(self.staging) / WORK

    def documents(self, pass_index: int) -> Path:
        return self.work / f"pass{pass_index}" / f"part-{self.shard:05d}.parquet"

    def summaries(self, pass_index: int) -> Path:
        return self.work / f"pass{pass_index}-map" / f"part-{self.shard:05d}.parquet"

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
    writers = _ShardWriters()
    out = Path(task.staging)
    rows = 0
    if step.opens:
        step.opens.load(task.model(task.pass_index - 1), task.shard)
    chain = ((step.opens,) if step.opens else ()) + step.stages
    try:
        writers.ensure(task.documents(task.pass_index), _document_schema())
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
    return ShardReport(task.shard, ledger, rows)


def _source(task: ShardTask, ledger: Ledger):
    """The batches a pass reads: the input file for the first pass, the previous pass's output after."""
    if task.pass_index == 0:
        reader = reader_for(task.path, task.config.input)
        batches = reader.read(task.path, task.shard, ledger)
        while True:
            started = time.perf_counter()
            table = next(batches, None)
            ledger.stage("ingest").seconds += time.perf_counter() - started
            if table is None:
                return
            ledger.stage("ingest").docs_out += table.num_rows
            yield table
    else:
        source = pq.ParquetFile(task.documents(task.pass_index - 1))
        for batch in source.iter_batches(batch_size=task.config.input.batch_size):
            yield pa.Table.from_batches([batch])


def _flush_ledger(ledger: Ledger, out: Path, task: ShardTask, writers: _ShardWriters) -> None:
    rejected = ledger.take_rejected()
    for stage in pc.unique(rejected["stage"]).to_pylist() if rejected.num_rows else []:
        rows = rejected.filter(pc.equal(rejected["stage"], stage))
        writers.write(out / "rejected" / f"{stage}-p{task.pass_index}-{task.shard:05d}.parquet", rows)
    writers.write(out / "quarantine" / f"ingest-{task.shard:05d}.parquet", ledger.take_quarantined())


def _document_schema() -> pa.Schema:
    return CORE_SCHEMA.append(pa.field(ORD, pa.int64()))


@dataclass
class BuildResult:
    output: Path
    stats: dict
    files: list[Path]
    quarantine_examples: list[dict]


Progress = Callable[[str, int, int], None]


def run_build(config: BuildConfig, progress: Optional[Progress] = None, keep_work: bool = False) -> BuildResult:
    """Build the corpus the config describes and publish it atomically to `publish.output`."""
    started = time.time()
    wall: dict[str, float] = {}
    output = Path(config.publish.output)
    _check_output(output)
    files = expand_inputs(config)
    if not files:
        raise BuildError("input.paths matched no files")
    staging = output.parent / f".{output.name}.building-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    tell = progress or (lambda phase, done, total: None)
    ledger = Ledger()
    try:
        steps = passes(build_plan(config))
        tasks = [ShardTask(i, path, config, str(staging)) for i, path in enumerate(files)]
        with make_executor(config.executor) as executor:
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
                    summaries = [p for p in (t.summaries(step.index) for t in these) if p.exists()]
                    step.closes.reduce(summaries, these[0].model(step.index), [t.shard for t in these], staging)
                    ledger.stage(step.closes.stage).seconds += time.perf_counter() - t0
                    wall[step.closes.label] = time.perf_counter() - t0
                    tell(step.closes.label, 1, 1)
        final_kind = steps[-1].index
        t0 = time.perf_counter()
        tell("publish", 0, 1)
        sources = [t.documents(final_kind) for t in tasks]
        published = publish_stage.publish(config, staging, sources)
        stage = ledger.stage("publish")
        stage.docs_in = stage.docs_out = published.rows
        stage.seconds = time.perf_counter() - t0
        wall["publish"] = stage.seconds
        stats = build_stats(config, ledger, files, published.rows, started, wall)
        publish_stage.write_stats(staging, stats)
        publish_stage.write_card(config, staging, stats, published)
        tell("publish", 1, 1)
        examples = _quarantine_examples(staging)
        if not keep_work:
            shutil.rmtree(staging / WORK, ignore_errors=True)
        _swap_into_place(staging, output)
    except BaseException:
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


def build_stats(config: BuildConfig, ledger: Ledger, files: list[str], published: int, started: float, wall: dict) -> dict:
    """stats.json: per stage counts, drops by reason and seconds; totals that must reconcile."""
    stages = {name: ledger.stage(name).as_dict() for name in STAGE_ORDER if name in ledger.stages}
    read = ledger.stage("ingest").docs_in
    quarantined = ledger.stage("ingest").dropped.get("quarantined", 0)
    rejected = sum(n for name in ("clean", "dedup") if name in ledger.stages for n in ledger.stage(name).dropped.values())
    return {
        "name": config.name,
        "builder": f"corpus-builders {__version__}",
        "inputs": len(files),
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


def _quarantine_examples(staging: Path, limit: int = 5) -> list[dict]:
    folder = staging / "quarantine"
    rows: list[dict] = []
    for path in sorted(folder.glob("*.parquet")) if folder.exists() else []:
        rows.extend(pq.read_table(path, columns=["file", "position", "field", "reason"]).slice(0, limit).to_pylist())
        if len(rows) >= limit:
            break
    return rows[:limit]


def _check_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / "stats.json").exists())):
        raise BuildError(f"publish.output: {output} exists and is not a previous build; remove it or choose another folder")


def _swap_into_place(staging: Path, output: Path) -> None:
    """Replace the output folder in two renames, so readers see the old build or the new one, never half."""
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
        os.rename(output, old)
    os.rename(staging, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
