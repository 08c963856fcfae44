"""Publish: the release's Parquet shards (sized in bytes or rows, per split), a saved `datasets`
DatasetDict, and what the card needs to describe them (languages, lengths, samples, input files)."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from builders.config import BuildConfig
from builders.schema import CORE_SCHEMA, public_columns

#: Meaning of each published column: the Arrow field's `description` metadata, and the card's table.
COLUMN_DOCS = {
    "id": "unique document id, from the input or made from file and line",
    "text": "the cleaned article text, paragraphs separated by a blank line",
    "title": "headline",
    "url": "page URL",
    "source": "site or domain the page came from",
    "agency": "news agency whose story it is, from the input or found in the dateline or credit line",
    "date": "publication or crawl time, UTC",
    "lang": "language code (ISO 639-1): from the input, else identified by fastText's lid.176",
    "lang_score": "the identifier's probability for `lang` (null when the input gave the language)",
    "copies": "documents in this story's dedup cluster (1: no copy found; null when dedup is off)",
    "copy_sources": "the sorted distinct sources (sites) of the other copies in its dedup cluster",
}
KEPT_DOC = "kept from the input records (input.keep)"

#: Words per document: the bins of the card's length table and figure (lower bounds).
LENGTH_BINS = (0, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
SAMPLES = 3
#: Compressed bytes per uncompressed byte assumed for a split's first row group (news text, zstd).
FIRST_RATIO = 0.4


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.parquet"


def split_of(ids, splits: dict) -> np.ndarray:
    """Index into `sorted(splits)` of each id's split: xxh3-64 of the UTF-8 id over 2**64 falls in
    the shares' cumulative ranges, split names in sorted order. A document's split depends on its id
    and the shares alone, so it keeps it when documents are added or removed."""
    names = sorted(splits)
    bounds = np.cumsum([splits[n] for n in names])
    bounds[-1] = 1.0
    values = ids.to_pylist() if hasattr(ids, "to_pylist") else list(ids)
    hashed = np.fromiter((xxhash.xxh3_64_intdigest((v or "").encode("utf-8")) for v in values), np.uint64, len(values))
    position = (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)  # uniform in [0, 1)
    return np.minimum(np.searchsorted(bounds, position, side="right"), len(names) - 1)


def release_schema(source: pa.Schema) -> pa.Schema:
    """The published Arrow schema: public columns, each with its `description`, and the `datasets`
    Features in the `huggingface` metadata so every loader reads the same types."""
    fields = []
    for f in source:
        if f.name.startswith("_"):
            continue
        description = COLUMN_DOCS.get(f.name, KEPT_DOC)
        fields.append(pa.field(f.name, f.type, nullable=True, metadata={"description": description}))
    schema = pa.schema(fields)
    features = hf_features(schema)
    meta = {"huggingface": json.dumps({"info": {"features": features.to_dict()}})}
    return schema.with_metadata(meta)


def hf_features(schema: pa.Schema):
    import datasets

    return datasets.Features.from_arrow_schema(pa.schema([pa.field(f.name, f.type) for f in schema]))


@dataclass
class SplitFiles:
    name: str
    rows: int = 0
    #: In-memory Arrow bytes of the split (the Hub's `num_bytes`).
    num_bytes: int = 0
    files: list[Path] = field(default_factory=list)


@dataclass
class Published:
    rows: int
    files: list[Path]
    schema: pa.Schema
    #: Published documents per language code (None: unknown), most frequent first.
    languages: dict = field(default_factory=dict)
    #: Splits with at least one document, in sorted name order.
    splits: dict = field(default_factory=dict)
    #: Documents per length bin (lower bound of LENGTH_BINS in words).
    lengths: dict = field(default_factory=dict)
    words: int = 0
    samples: list = field(default_factory=list)
    #: Input files: path as given to the build, size and sha256.
    inputs: list = field(default_factory=list)
    #: Splits configured but left empty (no file, not in the card's configs).
    empty_splits: list = field(default_factory=list)


def publish(config: BuildConfig, staging: Path, sources: list[Path], executor=None, inputs=()) -> Published:
    """Write the surviving documents, in input order, split by id hash, to Parquet shards cut at
    `publish.max_shard_size` bytes or `publish.shard_rows` documents.

    One sequential writer per split decides every cut from the rows alone (their sizes, not how
    the build sharded them), so the files are the same whatever the workers and the shard plan.
    Memory holds at most one row group per split. The input files are hashed through `executor`.
    """
    settings = config.publish
    names = sorted(settings.splits)
    source_schema = pq.ParquetFile(sources[0]).schema_arrow if sources else CORE_SCHEMA
    schema = release_schema(source_schema)
    counts = _split_counts(sources, settings.splits, executor)
    data = staging / "data"
    data.mkdir(parents=True, exist_ok=True)
    writers = {
        name: _SplitWriter(data, name, schema, settings.max_shard_size, _rows_per_file(counts[i], settings.shard_rows),
                           settings.row_group_size)
        for i, name in enumerate(names)
    }
    languages, lengths, words, samples = Counter(), Counter(), 0, []
    try:
        for table in _documents(sources, config.input.batch_size):
            table = public_columns(table).select(schema.names).cast(schema)
            if "lang" in table.column_names:
                for item in pc.value_counts(table.column("lang")).to_pylist():
                    languages[item["values"]] += item["counts"]
            n_words = pc.fill_null(pc.count_substring_regex(table.column("text"), r"\S+"), 0).to_numpy()
            words += int(n_words.sum())
            bins = np.digitize(n_words, LENGTH_BINS) - 1
            lengths.update({LENGTH_BINS[b]: int(n) for b, n in zip(*np.unique(bins, return_counts=True))})
            which = split_of(table.column("id"), settings.splits)
            for i, name in enumerate(names):
                part = table.filter(pa.array(which == i)) if len(names) > 1 else table
                if part.num_rows:
                    if len(samples) < SAMPLES and name == _sample_split(names):
                        samples += part.slice(0, SAMPLES - len(samples)).to_pylist()
                    writers[name].write(part)
        splits = {name: writers[name].close() for name in names}
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    files = [f for s in splits.values() for f in s.files]
    published = Published(
        rows=sum(s.rows for s in splits.values()), files=files, schema=schema,
        languages=dict(languages.most_common()), splits={n: s for n, s in splits.items() if s.rows},
        lengths={b: lengths[b] for b in LENGTH_BINS if lengths[b]}, words=words, samples=samples,
        inputs=hash_inputs(list(inputs), executor), empty_splits=[n for n, s in splits.items() if not s.rows],
    )
    if "hf" in settings.formats:
        save_hf(published, staging, settings.max_shard_size)
    if "parquet" not in settings.formats:
        for name in files:
            name.unlink()
        published.files = []
    if not any(data.iterdir()):
        data.rmdir()
    return published


def _sample_split(names: list[str]) -> str:
    return "train" if "train" in names else names[0]


def _documents(sources: list[Path], batch_size: int):
    for source in sources:
        # Not pre-buffered: a pre-buffered reader keeps every column chunk it read.
        reader = pq.ParquetFile(source, pre_buffer=False)
        for batch in reader.iter_batches(batch_size=batch_size):
            yield pa.Table.from_batches([batch])


def _count_split(job: tuple) -> list[int]:
    source, splits = job
    counts = [0] * len(splits)
    reader = pq.ParquetFile(source, pre_buffer=False)
    for batch in reader.iter_batches(batch_size=65536, columns=["id"]):
        for i, n in zip(*np.unique(split_of(batch.column(0), splits), return_counts=True)):
            counts[int(i)] += int(n)
    return counts


def _split_counts(sources: list[Path], splits: dict, executor) -> list[int]:
    """Documents per split (sorted names), from the id column alone, one task per source."""
    jobs = [(str(s), dict(splits)) for s in sources]
    results = [_count_split(j) for j in jobs] if executor is None else executor.map(_count_split, jobs)
    return [sum(r[i] for r in results) for i in range(len(splits))]


def _rows_per_file(count: int, shard_rows: Optional[int]) -> Optional[int]:
    """With publish.shard_rows, as few files as it allows, sharing the rows evenly (105,000
    documents at 100,000 a file make two of 52,500, not 100,000 and 5,000)."""
    if not shard_rows or not count:
        return shard_rows
    return math.ceil(count / math.ceil(count / shard_rows))


def _parquet_options() -> dict:
    options = dict(compression="zstd", compression_level=3, write_page_index=True)
    accepted = inspect.signature(pq.ParquetWriter.__init__).parameters
    if "use_content_defined_chunking" in accepted or "kwargs" in accepted:
        # Pages cut by content: a refreshed release re-uploads only the pages that changed (Hub Xet).
        try:
            pq.ParquetWriter(pa.BufferOutputStream(), pa.schema([("x", pa.int8())]), use_content_defined_chunking=True).close()
            options["use_content_defined_chunking"] = True
        except TypeError:
            pass
    return options


class _SplitWriter:
    """One split's files, written in order: a file is closed when the next document would take it
    past `max_bytes` (estimated from the compression seen so far) or `rows` documents; a row group
    is flushed at a tenth of a file or `group_bytes` uncompressed, whichever is less."""

    def __init__(self, folder: Path, split: str, schema: pa.Schema, max_bytes: int, rows: Optional[int],
                 group_bytes: int) -> None:
        self.folder, self.split, self.schema = folder, split, schema
        self.max_bytes, self.max_rows, self.group_bytes = max_bytes, rows, group_bytes
        self.result = SplitFiles(split)
        self.ratio = FIRST_RATIO
        # Footer bytes: guessed from the schema for the first file, then as the previous file's.
        self.base_footer = 1024 + sum(len(k) + len(v) for k, v in (schema.metadata or {}).items())
        self.footer = 0
        self.compressed = self.uncompressed = 0  # totals of flushed row groups, for the ratio
        self.sink = self.writer = None
        self.buffer: list[pa.Table] = []
        self.buffered = 0  # uncompressed bytes waiting in the buffer
        self.file_rows = 0
        self.file_groups = 0
        self.options = _parquet_options()
        self.statistics = [n for n in schema.names if n != "text"]

    def _open(self) -> None:
        path = self.folder / f".{self.split}-{len(self.result.files):05d}.parquet.part"
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pq.ParquetWriter(self.sink, self.schema, write_statistics=self.statistics, **self.options)
        self.result.files.append(path)
        self.file_rows = self.file_groups = 0

    def _room(self) -> float:
        """Uncompressed bytes the open file can still take, estimated."""
        footer = self.footer or self.base_footer + 120 * len(self.schema) * (self.file_groups + 1)
        return (self.max_bytes - footer - self.sink.tell()) / self.ratio - self.buffered

    def write(self, table: pa.Table) -> None:
        """Add documents; every cut is decided by the state so far and the next document alone."""
        sizes = _row_bytes(table)
        cumulative = np.cumsum(sizes)
        start, n = 0, table.num_rows
        while start < n:
            if self.writer is None:
                self._open()
            if self.max_rows and self.file_rows >= self.max_rows:
                self._close_file()
                continue
            room_file = self._room()
            room_group = min(self.group_bytes, self.max_bytes / self.ratio / 10) - self.buffered
            if self.file_rows and sizes[start] > room_file:
                self._close_file()
                continue
            if self.buffer and sizes[start] > room_group:
                self._flush()
                continue
            base = cumulative[start - 1] if start else 0
            fit = int(np.searchsorted(cumulative[start:], base + min(room_file, room_group), side="right"))
            take = max(1, min(fit, (self.max_rows - self.file_rows) if self.max_rows else n, n - start))
            self.buffer.append(table.slice(start, take))
            self.buffered += int(cumulative[start + take - 1] - base)
            self.file_rows += take
            start += take

    def _flush(self) -> None:
        if not self.buffer:
            return
        # One contiguous table: the bytes written must not depend on where input batches ended.
        group = pa.concat_tables(self.buffer).combine_chunks()
        self.buffer = []
        before = self.sink.tell()
        self.writer.write_table(group, row_group_size=group.num_rows)
        self.compressed += self.sink.tell() - before
        self.uncompressed += max(1, self.buffered)
        self.ratio = max(0.01, self.compressed / self.uncompressed)
        self.result.rows += group.num_rows
        self.result.num_bytes += group.nbytes
        self.buffer, self.buffered = [], 0
        self.file_groups += 1

    def _close_file(self) -> None:
        if self.writer is None:
            return
        self._flush()
        body = self.sink.tell()
        self.writer.close()
        self.sink.close()
        self.footer = os.path.getsize(self.result.files[-1]) - body
        self.writer = self.sink = None

    def close(self) -> SplitFiles:
        """Finish the last file and give every file its final name, now that their number is known."""
        self._close_file()
        parts = self.result.files
        if parts and self.result.rows == 0:
            for p in parts:
                p.unlink()
            parts = []
        final = [self.folder / shard_name(self.split, i, len(parts)) for i in range(len(parts))]
        for part, name in zip(parts, final):
            os.replace(part, name)
        self.result.files = final
        return self.result

    def abort(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
                self.sink.close()
        except Exception:  # already failing: the staging folder is removed with whatever is in it
            pass


def _row_bytes(table: pa.Table) -> np.ndarray:
    """Uncompressed bytes of each row, as Arrow holds them: string data and offsets, fixed widths."""
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_binary(column.type):
            total += pc.fill_null(pc.binary_length(column), 0).to_numpy().astype(np.int64) + 4
        elif pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
            total += pc.fill_null(pc.binary_length(column), 0).to_numpy().astype(np.int64) + 8
        else:
            try:
                total += max(1, column.type.bit_width // 8)
            except ValueError:  # nested or other variable-width values: their average
                total += column.nbytes // max(1, len(column))
    return total


def save_hf(published: Published, staging: Path, max_shard_size: int) -> None:
    """A `datasets.load_from_disk`-able DatasetDict, one Dataset per non-empty split, with the
    release's Features; built from the Parquet shards through a private cache."""
    import datasets

    datasets.disable_progress_bars()
    features = hf_features(published.schema)
    cache = staging / "_work" / "hf-cache"
    parts = {}
    for name, split in published.splits.items():
        parts[name] = datasets.Dataset.from_parquet(
            [str(f) for f in split.files], features=features, cache_dir=str(cache), split=name, keep_in_memory=False
        )
    if not parts:  # nothing published: the build fails later, but leaves a loadable empty dataset
        parts["train"] = datasets.Dataset.from_dict({n: [] for n in features}, features=features, split="train")
    # Arrow files of at most max_shard_size; one for an empty split (`datasets` would save none).
    shards = {n: min(len(parts[n]), max(1, math.ceil(published.splits[n].num_bytes / max_shard_size))) if len(parts[n]) else 1
              for n in parts}
    datasets.DatasetDict(parts).save_to_disk(str(staging / "hf"), num_shards=shards)


def file_sha256(path: str) -> tuple[int, str]:
    """Size and sha256 of a file, local or behind an fsspec URL, read in 1 MiB blocks."""
    from builders import io

    digest, size = hashlib.sha256(), 0
    with io.open_raw(path) as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def hash_inputs(files: list[str], executor=None) -> list[dict]:
    results = [file_sha256(f) for f in files] if executor is None else executor.map(file_sha256, files)
    return [{"path": f, "size": size, "sha256": sha} for f, (size, sha) in zip(files, results)]


def card_languages(languages: dict, rows: int) -> list[str]:
    """Language codes for the card's header: those of at least 1% of the documents (all when few)."""
    known = [(code, n) for code, n in languages.items() if code]
    return [code for code, n in known if n * 100 >= rows] or [code for code, _ in known[:1]] or ["und"]


def write_stats(staging: Path, stats: dict) -> None:
    (staging / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


def write_card(config: BuildConfig, staging: Path, stats: dict, published: Published) -> None:
    """README.md (the dataset card) and its figures; see builders/card.py."""
    from builders.card import write_card as write

    write(config, staging, stats, published)
