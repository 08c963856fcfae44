"""The build: shards through ingest → clean → dedup map, a dedup reduce, an apply, then publish."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from builders import __version__
from builders.config import BuildConfig, expand_inputs
from builders.errors import BuildError
from builders.executors import make_executor
from builders.schema import CORE_SCHEMA, ORD
from builders.stages import clean as clean_stage
from builders.stages import dedup as dedup_stage
from builders.stages import publish as publish_stage
from builders.stages.base import Ledger
from builders.stages.ingest import reader_for

STAGE_ORDER = ("ingest", "clean", "dedup", "publish")
WORK = "_work"


@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to process one shard; it pickles, so any backend can run it."""

    shard: int
    path: str
    config: BuildConfig
    staging: str

    @property
    def work(self) -> Path:
        return Path(self.staging) / WORK

    def work_file(self, kind: str) -> Path:
        return self.work / kind / f"part-{self.shard:05d}.parquet"


@dataclass
class ShardReport:
    shard: int
    ledger: Ledger
    rows: int


class _ShardWriters:
    """Lazily opened Parquet writers of one shard, so a shard with no rejects writes no reject file."""

    def __init__(self) -> None:
        self._open: dict[Path, pq.ParquetWriter] = {}

    def write(self, path: Path, table: pa.Table) -> None:
        if table.num_rows == 0:
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


def _flush_ledger(ledger: Ledger, task: ShardTask, stage: str, writers: _ShardWriters) -> None:
    out = Path(task.staging)
    writers.write(out / "rejected" / f"{stage}-{task.shard:05d}.parquet", ledger.take_rejected())
    writers.write(out / "quarantine" / f"ingest-{task.shard:05d}.parquet", ledger.take_quarantined())


def ingest_shard(task: ShardTask) -> ShardReport:
    """Map step over one input file: read, clean and compute dedup features batch by batch."""
    config = task.config
    ledger = Ledger()
    reader = reader_for(task.path, config.input)
    cleaners = clean_stage.clean_stages(config.clean) if config.clean else []
    features = dedup_stage.DedupFeatures(config.dedup) if config.dedup else None
    writers = _ShardWriters()
    documents = task.work_file("clean")
    rows = 0
    try:
        writers.ensure(documents, _document_schema())
        if features:
            writers.ensure(task.work_file("features"), features.schema())
        batches = reader.read(task.path, task.shard, ledger)
        while True:
            started = time.perf_counter()
            table = next(batches, None)
            ledger.stage("ingest").seconds += time.perf_counter() - started
            if table is None:
                break
            ledger.stage("ingest").docs_out += table.num_rows
            if cleaners:
                ledger.stage("clean").docs_in += table.num_rows
                for stage in cleaners:
                    table = stage(table, ledger)
                ledger.stage("clean").docs_out += table.num_rows
            if features and table.num_rows:
                started = time.perf_counter()
                writers.write(task.work_file("features"), features(table))
                ledger.stage("dedup").seconds += time.perf_counter() - started
            writers.write(documents, table)
            rows += table.num_rows
            _flush_ledger(ledger, task, "clean", writers)
        _flush_ledger(ledger, task, "clean", writers)
    finally:
        writers.close()
    return ShardReport(task.shard, ledger, rows)


def dedup_apply_shard(task: ShardTask) -> ShardReport:
    """Apply step over one shard: keep each cluster's survivor, reject the other copies."""
    ledger = Ledger()
    decisions = pq.read_table(task.work / "decisions" / f"decisions-{task.shard:05d}.parquet")
    apply = dedup_stage.ApplyDecisions(decisions)
    writers = _ShardWriters()
    rows = 0
    try:
        writers.ensure(task.work_file("final"), _document_schema())
        source = pq.ParquetFile(task.work_file("clean"))
        for batch in source.iter_batches(batch_size=task.config.input.batch_size):
            table = pa.Table.from_batches([batch])
            ledger.stage("dedup").docs_in += table.num_rows
            table = apply(table, ledger)
            ledger.stage("dedup").docs_out += table.num_rows
            writers.write(task.work_file("final"), table)
            rows += table.num_rows
            _flush_ledger(ledger, task, "dedup", writers)
    finally:
        writers.close()
    return ShardReport(task.shard, ledger, rows)


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
        tasks = [ShardTask(i, path, config, str(staging)) for i, path in enumerate(files)]
        with make_executor(config.executor) as executor:
            t0 = time.perf_counter()
            tell("ingest+clean", 0, len(tasks))
            reports = executor.map(ingest_shard, tasks, _ticker(tell, "ingest+clean", len(tasks)))
            for report in reports:
                ledger.merge(report.ledger)
            wall["ingest+clean"] = time.perf_counter() - t0
            final_kind = "clean"
            if config.dedup:
                t0 = time.perf_counter()
                tell("dedup", 0, 1)
                feature_files = [t.work_file("features") for t in tasks]
                features = pa.concat_tables([pq.read_table(f) for f in feature_files if f.exists()])
                reduce_started = time.perf_counter()
                clusters = dedup_stage.reduce(features, config.dedup)
                ledger.stage("dedup").seconds += time.perf_counter() - reduce_started
                del features
                (staging / "dedup").mkdir()
                pq.write_table(clusters.drop([ORD]), staging / "dedup" / "clusters.parquet")
                dedup_stage.write_decisions(clusters, staging / WORK / "decisions", [t.shard for t in tasks])
                del clusters
                tell("dedup", 1, 1)
                reports = executor.map(dedup_apply_shard, tasks, _ticker(tell, "dedup apply", len(tasks)))
                for report in reports:
                    ledger.merge(report.ledger)
                final_kind = "final"
                wall["dedup"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        tell("publish", 0, 1)
        sources = [t.work_file(final_kind) for t in tasks]
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
