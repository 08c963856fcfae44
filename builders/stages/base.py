"""Stage contracts (a table in, a table out; whole-corpus map → reduce → apply) and the ledger of drops."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.schema import LINES_SCHEMA, ORD, QUARANTINE_SCHEMA, REJECTED_SCHEMA


@dataclass
class StageStats:
    docs_in: int = 0
    docs_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    #: Records that could not be read, by reason code (ingest); they count in docs_in.
    quarantined: Counter = field(default_factory=Counter)
    #: Input entries that are not documents (a WARC request record, a redirect), by reason;
    #: counted for the record, outside docs_in and the reconciliation.
    skipped: Counter = field(default_factory=Counter)
    #: Record keys seen in the input that no field maps and `input.keep` does not carry, by
    #: the number of files they were seen in (ingest), so nothing is dropped without a word.
    unused_keys: Counter = field(default_factory=Counter)
    #: Lines a step removed from documents it kept, and their characters, by rule (clean).
    lines_removed: Counter = field(default_factory=Counter)
    chars_removed: Counter = field(default_factory=Counter)
    #: Personal data replaced by a placeholder, by kind (clean.mask_pii).
    masked: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: "StageStats") -> None:
        for f in fields(self):  # numbers add up, counters merge
            value = getattr(other, f.name)
            if isinstance(value, Counter):
                getattr(self, f.name).update(value)
            else:
                setattr(self, f.name, getattr(self, f.name) + value)

    def as_dict(self) -> dict:
        """Counts and drops always; the other counters when they counted anything; seconds last."""
        out = {"docs_in": self.docs_in, "docs_out": self.docs_out, "dropped": dict(sorted(self.dropped.items()))}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter) and f.name != "dropped" and value:
                out[f.name] = dict(sorted(value.items()))
        out["seconds"] = round(self.seconds, 3)
        return out


#: How much of a quarantined record's raw bytes the quarantine keeps.
RAW_BYTES = 2000


class Ledger:
    """Per-shard bookkeeping: counts per stage and reason, plus the rejected and quarantined rows.

    A ledger travels back from a worker to the driver (it pickles), where ledgers are merged;
    rejected rows are flushed to Parquet by the shard that produced them, never sent back.
    """

    def __init__(self) -> None:
        self.stages: dict[str, StageStats] = {}
        self._rejected: list[pa.Table] = []
        self._quarantined: list[dict] = []
        self._lines: list[pa.Table] = []
        #: Keep each removed line (clean.record_lines), not only its count.
        self.record_lines = False

    def stage(self, name: str) -> StageStats:
        return self.stages.setdefault(name, StageStats())

    def reject(self, stage: str, table: pa.Table, reasons: pa.Array, duplicate_of: Optional[pa.Array] = None) -> None:
        """Record that `table`'s rows were dropped by `stage` for `reasons` (one per row)."""
        if table.num_rows == 0:
            return
        counts = pc.value_counts(reasons).to_pylist()
        self.stage(stage).dropped.update({c["values"]: c["counts"] for c in counts})
        n = table.num_rows

        def column(name: str) -> pa.Array:
            if name in table.column_names:
                return table.column(name).combine_chunks().cast(REJECTED_SCHEMA.field(name).type)
            return pa.nulls(n, REJECTED_SCHEMA.field(name).type)

        self._rejected.append(
            pa.table(
                {
                    "id": column("id"),
                    "stage": pa.array([stage] * n, pa.string()),
                    "reason": reasons.cast(pa.string()),
                    "text": column("text"),
                    "url": column("url"),
                    "source": column("source"),
                    "duplicate_of": duplicate_of if duplicate_of is not None else pa.nulls(n, pa.string()),
                    ORD: column(ORD),
                },
                schema=REJECTED_SCHEMA,
            )
        )

    def quarantine(self, file: str, position: int, code: str, reason: str, field: Optional[str] = None,
                   raw: str | bytes = "", stage: str = "ingest") -> None:
        """Record an unreadable record: where it was, which field, why (`code` is the short reason counted)."""
        self.stage(stage).quarantined[code] += 1
        if isinstance(raw, bytes):
            raw = raw[:RAW_BYTES].decode("utf-8", "replace")
        # Rows as dicts, one table per flush: a file of bad lines makes no table per line.
        self._quarantined.append({"file": file, "position": position, "code": code, "field": field,
                                  "reason": reason, "raw": raw[:RAW_BYTES]})

    def remove_lines(self, stage: str, rules: list[str], codes: np.ndarray, lines, doc: np.ndarray,
                     number: np.ndarray, ids) -> None:
        """Count removed lines by rule: `codes` index `rules` for each removed line of `lines` (an
        Arrow array), `doc` its document's row, `number` its 1-based line in that text."""
        if not len(codes):
            return
        stats = self.stage(stage)
        chars = pc.utf8_length(lines).to_numpy(zero_copy_only=False)
        counts = np.bincount(codes, minlength=len(rules))
        sizes = np.bincount(codes, weights=chars, minlength=len(rules))
        for k in np.flatnonzero(counts):
            stats.lines_removed[rules[k]] += int(counts[k])
            stats.chars_removed[rules[k]] += int(sizes[k])
        if self.record_lines:
            self._lines.append(pa.table({
                "id": ids.take(pa.array(doc)).cast(pa.string()),
                "stage": pa.array([stage] * len(codes), pa.string()),
                "line": pa.array(number, pa.int32()),
                "rule": pa.array(rules, pa.string()).take(pa.array(codes)),
                "text": lines,
            }, schema=LINES_SCHEMA))

    def take_lines(self) -> pa.Table:
        rows, self._lines = self._lines, []
        return pa.concat_tables(rows) if rows else LINES_SCHEMA.empty_table()

    def take_rejected(self) -> pa.Table:
        rows, self._rejected = self._rejected, []
        return pa.concat_tables(rows) if rows else REJECTED_SCHEMA.empty_table()

    def take_quarantined(self) -> pa.Table:
        rows, self._quarantined = self._quarantined, []
        return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA) if rows else QUARANTINE_SCHEMA.empty_table()

    def merge(self, other: "Ledger") -> None:
        for name, stats in other.stages.items():
            self.stage(name).merge(stats)


class Stage:
    """A step that turns a document table into a document table, counting what it did.

    Subclasses implement `apply`; the `stage` class attribute names the pipeline stage
    (ingest, clean, dedup, publish) under which drops are counted.
    """

    stage: ClassVar[str] = "clean"

    def apply(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        raise NotImplementedError

    def __call__(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        start = time.perf_counter()
        out = self.apply(table, ledger)
        ledger.stage(self.stage).seconds += time.perf_counter() - start
        return out


class Transform(Stage):
    """Rewrites text (or other columns) without dropping rows."""


class Filter(Stage):
    """Drops documents: one method says, for a whole table, why each row goes (null = keep).

    The base class counts per reason, keeps the dropped rows in the ledger and returns the rest.
    """

    def reasons(self, table: pa.Table) -> pa.Array:
        raise NotImplementedError

    def apply(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        if table.num_rows == 0:
            return table
        reasons = self.reasons(table)
        drop = pc.is_valid(reasons)
        if not pc.any(drop).as_py():
            return table
        ledger.reject(self.stage, table.filter(drop), reasons.filter(drop))
        return table.filter(pc.invert(drop))


class DocFilter(Filter):
    """A filter written per document: `check(text)` returns None to keep or a drop reason.

    For rules that cannot be expressed as Arrow compute; each call is a Python function call,
    so prefer `Filter.reasons` for anything that runs on every document of a large corpus.
    """

    def check(self, text: str) -> Optional[str]:
        raise NotImplementedError

    def reasons(self, table: pa.Table) -> pa.Array:
        return pa.array([self.check(t or "") for t in table.column("text").to_pylist()], pa.string())


class CorpusStep(Stage):
    """A step that needs the whole corpus: map over batches → reduce once → apply over batches.

    `map` summarises a batch into rows (or None) that the pipeline writes as Parquet; `reduce`
    reads every shard's summaries and writes what it decided into `model`, a folder; each shard
    then calls `load` and `apply` (via the Stage call) on its batches. The same object runs in
    the driver and in workers, so it keeps no state between the phases except what `load` reads.
    """

    #: Short label of the reduce phase in progress displays.
    label: ClassVar[str] = "reduce"
    #: The reduce marks its own finished steps in `model` (see `Phases`), so a run killed midway
    #: continues from the last finished one when the build resumes with the same key.
    resumes_within: ClassVar[bool] = False
    #: Options of the Parquet writer of the map's output (`pq.ParquetWriter` keywords).
    summary_parquet: ClassVar[dict] = {}

    def map(self, table: pa.Table) -> Optional[pa.Table]:
        raise NotImplementedError

    def reduce(self, summaries: Sequence[tuple[int, Path]], model: Path, shards: Sequence[int], output: Path,
               executor=None) -> None:
        """Decide from all summaries, given as (shard, file) in shard order; `output` is the build's
        staging folder, for published side files. Heavy work runs as tasks through `executor`
        (`executor.map(fn, items)`, picklable module-level functions and items), so the driver
        only orchestrates; None means run everything in this process."""
        raise NotImplementedError

    def commit(self) -> None:
        """Called once the build has been published: make lasting side effects (an index) final."""

    def discard(self) -> None:
        """Called when the build failed: drop what `commit` would have made final."""

    def load(self, model: Path, shard: int) -> None:
        raise NotImplementedError


class Phases:
    """The finished steps of one reduce, marked in its model folder: `run(name, fn, outputs)` calls
    `fn` unless a run of this reduce with the same key (the model is kept only then) and the same
    plan finished it, and its files are all there with the sizes it recorded. `reused` lists the
    steps skipped.

    A mark records its files' sizes instead of flushing them to disk first: a flush costs ~4 ms a
    file on this machine (1.5 s of a 100k reduce's 6), and a file a power loss truncated or lost
    fails the size check. The reduce's own marker, which publishing trusts, still follows a flush
    of the whole model (pipeline._finish_reduce)."""

    def __init__(self, model: Path, enabled: bool = True, plan: str = "") -> None:
        self.folder = Path(model) / "phases"
        self.enabled = enabled
        #: What the steps' files are laid out by besides the key (the partition count, which
        #: follows the workers): a step finished under another plan is done again.
        self.plan = plan
        self.reused: list[str] = []
        #: Wall seconds of each step run (a reused one: 0).
        self.seconds: dict[str, float] = {}
        self._redo = False

    def _files(self, outputs: Sequence[Path]) -> dict[str, int]:
        """Each file under `outputs`, relative to the model, with its size."""
        found = {}
        for top in map(Path, outputs):
            for root, _, names in os.walk(top):
                for name in names:
                    path = Path(root) / name
                    found[os.path.relpath(path, self.folder.parent)] = path.stat().st_size
        return found

    def _finished(self, done: Path) -> bool:
        try:
            mark = json.loads(done.read_text())
        except (OSError, ValueError):
            return False
        if not isinstance(mark, dict) or mark.get("plan") != self.plan or not isinstance(mark.get("files"), dict):
            return False
        for path, size in mark["files"].items():
            try:
                if os.stat(self.folder.parent / path).st_size != size:
                    return False
            except OSError:
                return False
        return True

    def run(self, name: str, fn, outputs: Sequence[Path] = ()) -> None:
        done = self.folder / f"{name}.done"
        if self.enabled and not self._redo and self._finished(done):
            self.reused.append(name)
            self.seconds[name] = 0.0
            return
        self._redo = True  # every later step reads this one's files: none of them can be reused
        started = time.perf_counter()
        for path in outputs:
            shutil.rmtree(path, ignore_errors=True)  # a killed run's partial files
        fn()
        self.seconds[name] = time.perf_counter() - started
        if self.enabled:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = done.with_name(done.name + ".tmp")
            tmp.write_text(json.dumps({"plan": self.plan, "files": self._files(outputs)}) + "\n")
            os.replace(tmp, done)
