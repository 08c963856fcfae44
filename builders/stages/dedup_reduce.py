"""The dedup reduce as tasks: scatter keys by partition, find candidates per key partition and
scatter them by pair, verify each distinct pair once per pair partition, cluster verified edges
with survivor checks, write decisions, clusters and the index.

Every task is a frozen dataclass with a `run` method, run through the build's executor by the
module-level `run_task`, so they pickle and run wherever the shards do. The driver only plans
them. Memory per task is bounded by one shard (scatter, clusters file), one partition of the key
index (pairs), one partition of the candidate pairs (verify, read in blocks), or the verified pairs
(cluster: 16 bytes a pair, 2M pairs at 1M benchmark pages), never by the documents' text or
signatures. Memory-mapped files are released after each read, so a worker's resident set holds
what it is working on, not every page it has touched.

Documents are addressed by a dense number: the index's documents first (generation by
generation), then each shard's in shard order. Every decision depends on ordinals (the input
order), never on dense numbers, so the result is the same whatever the shard plan, the number of
workers or partitions.
"""

from __future__ import annotations

import json
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders.config import DedupConfig
from builders.schema import ORD
from builders.stages import dedup_edges as edges
from builders.text.minhash import _mix64, agreeing

#: Columns of a group's info.npy (int64 each): what verification and survivor rules need.
INFO = ("rank", "exact", "shingles", "length", "date", "words", "opening")
META_COLUMNS = ("id", "source", "agency", ORD)
BAND_SCHEMA = pa.schema([pa.field("band", pa.int16()), pa.field("key", pa.uint64()), pa.field("doc", pa.int64()),
                         pa.field("rank", pa.int64())])
#: A candidate pair a < b as one code, a * (documents in the store) + b.
CANDIDATE_SCHEMA = pa.schema([pa.field("pair", pa.int64())])
EDGE_SCHEMA = pa.schema([pa.field("a", pa.int64()), pa.field("b", pa.int64()), pa.field("producer", pa.int8()),
                         pa.field("similarity", pa.float32())])
DECISION_SCHEMA = pa.schema(
    [
        pa.field(ORD, pa.int64()),
        pa.field("kept", pa.bool_()),
        pa.field("method", pa.string()),
        pa.field("cluster", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("size", pa.int32()),
        pa.field("similarity", pa.float32()),
        pa.field("copy_sources", pa.list_(pa.string())),
        pa.field("indexed", pa.bool_()),
    ]
)
CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("cluster", pa.string()),
        pa.field("kept", pa.bool_()),
        pa.field("method", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("size", pa.int32()),
        pa.field("similarity", pa.float32()),
        pa.field(ORD, pa.int64()),
    ]
)
#: Rows of the key index a partition aims at when `dedup.partitions` is auto (~40 MB of keys).
PARTITION_ROWS = 2_000_000
#: Write options of the reduce's scratch files (keys, candidate pairs): hashes neither repeat nor
#: compress, so dictionary encoding and compression would only cost time.
SCRATCH_PARQUET = {"use_dictionary": False, "compression": "none"}
#: Pairs a producer judges at once: what one block's gathered signatures and anchors hold (~64 MB).
VERIFY_BLOCK = 65_536
#: Pairs whose rows are gathered and compared at once within a block: they stay in cache.
CACHE_PAIRS = 4_096
_PARTITION_MIX = np.uint64(0x9E3779B97F4A7C15)
NO_DATE = np.iinfo(np.int64).max


def distinct(x: np.ndarray) -> np.ndarray:
    """np.unique of a 1-D array by sorting: numpy 2's hash-based unique is about 10 times slower
    on large integer arrays."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def distinct_repeated(x: np.ndarray) -> np.ndarray:
    """`distinct` of integers most of which repeat (candidate pairs: a pair of copies comes from
    every band they share): the distinct values found by hashing (pandas), then only those sorted;
    twice as fast there, slower on values that are mostly distinct."""
    import pandas as pd  # here, not at the top, as in builders.stages.dedup.hash_strings

    return np.sort(pd.unique(x)) if len(x) else x


def distinct_inverse(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(x, return_inverse=True)` of a 1-D array, by sorting."""
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]] if len(x) else np.zeros(0, bool)
    inverse = np.empty(len(x), np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def split_by(part: np.ndarray):
    """(partition, positions of its rows in their order) of each partition that has rows, in
    partition order."""
    if len(part) and 0 <= part.min() and part.max() < 2**16:
        part = part.astype(np.uint16)  # a stable sort of 16-bit values is a radix sort: several times faster
    order = np.argsort(part, kind="stable")
    ordered = part[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True]) if len(part) else np.zeros(1, np.int64)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        yield int(ordered[lo]), order[lo:hi]


def pack_rows(values: np.ndarray) -> pa.Array:
    """A 2-D array of numbers as one fixed-size binary value per row (its bytes): how the dedup
    map hands signatures, leads, anchors and keys on (`unpack_rows` reads them back)."""
    values = np.ascontiguousarray(values)
    width = values.shape[1] * values.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values), [None, pa.py_buffer(values)])


def unpack_rows(column: pa.Array | pa.ChunkedArray, dtype) -> np.ndarray:
    """The 2-D array (rows, values) of `dtype` that `pack_rows` packed (a copy)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    width = column.type.byte_width
    data = np.frombuffer(column.buffers()[1], np.uint8)[column.offset * width : (column.offset + len(column)) * width]
    if column.null_count:
        raise ValueError("packed rows cannot be null")
    return data.view(dtype).reshape(len(column), width // np.dtype(dtype).itemsize).copy()


def run_task(task) -> object:
    return task.run()


def auto_partitions(total_keys: int, workers: int) -> int:
    return int(max(1, workers, -(-total_keys // PARTITION_ROWS)))


def partition_of(band: np.ndarray, key: np.ndarray, partitions: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = _mix64(key ^ (band.astype(np.uint64) * _PARTITION_MIX))
    return (mixed % np.uint64(partitions)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# The store: signatures and info of every document, memory-mapped by dense number.


@dataclass(frozen=True)
class Group:
    """One folder of documents: a shard of this build or a shard of an indexed build."""

    path: str
    rows: int
    shard: int = -1  # the build's shard, -1 for indexed documents


def _release(data: np.ndarray) -> None:
    """Drop a memory-mapped file's pages from this process's resident set once rows are copied
    out (they stay in the page cache): rows gathered at random touch one page each, so without
    this a task's RSS grows towards the whole store's files, in every worker that reads them."""
    mapped = getattr(data, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


@dataclass
class Store:
    groups: tuple[Group, ...]
    num_perm: Optional[int]
    lead_perms: int = 0
    anchor_words: int = 0
    _maps: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.starts = np.r_[0, np.cumsum([g.rows for g in self.groups])].astype(np.int64)

    def __getstate__(self):
        return {"groups": self.groups, "num_perm": self.num_perm, "lead_perms": self.lead_perms,
                "anchor_words": self.anchor_words}

    def __setstate__(self, state):
        self.groups, self.num_perm, self.lead_perms, self._maps = (state["groups"], state["num_perm"],
                                                                   state["lead_perms"], {})
        self.anchor_words = state.get("anchor_words", 0)
        self.__post_init__()

    @property
    def total(self) -> int:
        return int(self.starts[-1])

    def _map(self, g: int, name: str) -> np.ndarray:
        key = (g, name)
        if key not in self._maps:
            self._maps[key] = np.load(Path(self.groups[g].path) / f"{name}.npy", mmap_mode="r")
        return self._maps[key]

    def _gather(self, idx: np.ndarray, name: str, width: int, dtype, column: Optional[int] = None) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        shape = (len(idx),) if column is not None else (len(idx), width)
        out = np.empty(shape, dtype=dtype)
        if not len(idx):
            return out
        # Group by group in file order: each file's rows are read in ascending order, in one slice.
        # A view's documents come sorted: their rows then go straight to their place in `out`.
        ascending = bool((idx[1:] >= idx[:-1]).all())
        order = None if ascending else np.argsort(idx, kind="stable")
        ordered = idx if ascending else idx[order]
        bounds = np.searchsorted(ordered, self.starts)
        for g in np.flatnonzero(bounds[1:] > bounds[:-1]):
            lo, hi = bounds[g], bounds[g + 1]
            rows = ordered[lo:hi] - self.starts[g]
            mapped = self._map(int(g), name)
            data = mapped.view(np.ndarray)  # indexed as a plain array: np.memmap's indexing costs per call
            if ascending and column is None:
                np.take(data, rows, axis=0, out=out[lo:hi])
            else:
                out[slice(lo, hi) if ascending else order[lo:hi]] = data[rows, column] if column is not None else data[rows]
            del data
            _release(mapped)
        return out

    def view(self, docs: np.ndarray) -> "StoreView":
        """The documents `docs` (sorted, distinct), each file read once for all of them."""
        return StoreView(self, docs)

    def signatures(self, idx: np.ndarray) -> np.ndarray:
        return self._gather(idx, "sig", self.num_perm, np.uint32)

    def leads(self, idx: np.ndarray) -> np.ndarray:
        return self._gather(idx, "lead", self.lead_perms, np.uint32)

    def anchors(self, idx: np.ndarray) -> np.ndarray:
        return self._gather(idx, "anchors", self.anchor_words, np.uint64)

    def info(self, idx: np.ndarray, column: str) -> np.ndarray:
        return self._gather(idx, "info", len(INFO), np.int64, INFO.index(column))

    def meta(self, idx: np.ndarray, columns: tuple[str, ...]) -> pa.Table:
        """String columns of documents, in the order of `idx` (read group by group)."""
        idx = np.asarray(idx, dtype=np.int64)
        group = np.searchsorted(self.starts, idx, side="right") - 1
        parts, where = [], []
        for g in np.unique(group):
            positions = np.flatnonzero(group == g)
            table = pq.read_table(Path(self.groups[g].path) / "meta.parquet", columns=list(columns))
            parts.append(table.take(pa.array(idx[positions] - self.starts[g])))
            where.append(positions)
        if not parts:
            return pq.read_schema(Path(self.groups[0].path) / "meta.parquet").empty_table().select(list(columns)) \
                if self.groups else pa.table({c: pa.array([], pa.string()) for c in columns})
        table = pa.concat_tables(parts)
        return table.take(pa.array(np.argsort(np.concatenate(where), kind="stable")))


class StoreView:
    """What verification reads of a block of documents, gathered from the store once per file and
    served from memory: the producers ask for the same documents' signatures and info many times
    (each pair's two sides, each rule in turn). Documents are addressed by their position in
    `docs` (`local`), not by dense number."""

    def __init__(self, store: Store, docs: np.ndarray) -> None:
        self.store, self.docs = store, np.asarray(docs, dtype=np.int64)
        self.num_perm, self.lead_perms, self.anchor_words = store.num_perm, store.lead_perms, store.anchor_words
        self._data: dict[str, np.ndarray] = {}
        #: The pairs about to be judged (`pairs`) as sorted codes, and what was computed for all of them.
        self._codes: np.ndarray | None = None
        self._memo: dict[str, tuple[np.ndarray, ...]] = {}

    def local(self, idx: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.docs, np.asarray(idx, dtype=np.int64))

    def pairs(self, x: np.ndarray, y: np.ndarray) -> None:
        """The pairs (local numbers) about to be judged: what several producers ask of a pair (the
        signatures' agreement, the anchors' counts) is computed once for all of them, when first
        asked, not once per producer."""
        codes = np.asarray(x, np.int64) * len(self.docs) + np.asarray(y, np.int64)
        if len(codes) > 1 and not (codes[1:] > codes[:-1]).all():  # a verify task's come sorted
            codes = distinct(codes)
        self._codes, self._memo = codes, {}

    def _per_pair(self, name: str, compute, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """compute(x, y) (a tuple of per-pair arrays) for these pairs: looked up among the block's
        pairs, computed for all of those at the first ask."""
        x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
        codes = self._codes
        if codes is None:
            return compute(x, y)
        if name not in self._memo:
            self._memo[name] = compute(codes // len(self.docs), codes % len(self.docs))
        values = self._memo[name]
        want = x * len(self.docs) + y
        at = np.minimum(np.searchsorted(codes, want), max(len(codes) - 1, 0))
        found = codes[at] == want if len(codes) else np.zeros(len(want), bool)
        if found.all():
            return tuple(v[at] for v in values)
        rest = compute(x[~found], y[~found])
        out = tuple(np.empty(len(want), v.dtype) for v in values)
        for o, v, r in zip(out, values, rest):
            o[found], o[~found] = v[at[found]], r
        return out

    def agreement(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of permutations on which the signatures of x and y agree (as
        `(signatures(x) == signatures(y)).mean(axis=1)`, the same float64 values)."""
        return self._per_pair("agreement", self._agreement, x, y)[0]

    def anchor_counts(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per pair, with the smaller text (by characters) first: anchors shared, anchors of the
        smaller the larger lacks, sketch values of the smaller's opening in the larger's region,
        and of the larger's opening in the smaller's region (`dedup_edges.same_anchors`,
        `dedup_edges.opens_inside`)."""
        return self._per_pair("anchors", self._anchor_counts, x, y)

    def _agreement(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
        sig = self._get("sig", self.num_perm, np.uint32)
        out = np.empty(len(x))
        for lo in range(0, len(x), CACHE_PAIRS):
            hi = lo + CACHE_PAIRS
            out[lo:hi] = agreeing(sig[x[lo:hi]], sig[y[lo:hi]]) / sig.shape[1]
        return (out,)

    def _anchor_counts(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
        from builders.text import anchors

        out = tuple(np.empty(len(x), np.int64) for _ in range(4))
        for lo in range(0, len(x), CACHE_PAIRS):
            hi = lo + CACHE_PAIRS
            bx, by = self.anchors(x[lo:hi]), self.anchors(y[lo:hi])
            x_smaller = (self.info(x[lo:hi], "length") <= self.info(y[lo:hi], "length"))[:, None]
            small, large = np.where(x_smaller, bx, by), np.where(x_smaller, by, bx)
            out[0][lo:hi] = anchors.shared(small, large)
            out[1][lo:hi] = anchors.conflicts(small, large)
            out[2][lo:hi] = anchors.opens_inside(small, large)
            out[3][lo:hi] = anchors.opens_inside(large, small)
        return out

    def _get(self, name: str, width: int, dtype) -> np.ndarray:
        if name not in self._data:
            self._data[name] = self.store._gather(self.docs, name, width, dtype)
        return self._data[name]

    def signatures(self, idx: np.ndarray) -> np.ndarray:
        return self._get("sig", self.num_perm, np.uint32)[idx]

    def leads(self, idx: np.ndarray) -> np.ndarray:
        return self._get("lead", self.lead_perms, np.uint32)[idx]

    def anchors(self, idx: np.ndarray) -> np.ndarray:
        return self._get("anchors", self.anchor_words, np.uint64)[idx]

    def info(self, idx: np.ndarray, column: str) -> np.ndarray:
        return self._get("info", len(INFO), np.int64)[idx, INFO.index(column)]


# ---------------------------------------------------------------------------------------------
# Tasks.


@dataclass(frozen=True)
class ScatterTask:
    """One shard's map output to its group files (signatures, info, meta) and its keys to one
    Parquet file per partition, batch by batch."""

    summary: str
    group: str
    bands: str  # folder of partition folders
    shard: int
    base: int  # dense number of the shard's first document
    partitions: int
    num_perm: Optional[int]
    lead_perms: int = 0
    anchor_words: int = 0
    batch_rows: int = 8192

    def run(self) -> int:
        source = pq.ParquetFile(self.summary, pre_buffer=False)
        n = source.metadata.num_rows
        folder = Path(self.group)
        folder.mkdir(parents=True, exist_ok=True)
        # Each array file written batch after batch behind its .npy header (plain appends: a
        # memory-mapped file cost page faults to fill and an msync to flush).
        arrays = {"info": (np.int64, len(INFO))}
        if self.num_perm:
            arrays["sig"] = (np.uint32, self.num_perm)
        if self.lead_perms:
            arrays["lead"] = (np.uint32, self.lead_perms)
        if self.anchor_words:
            arrays["anchors"] = (np.uint64, self.anchor_words)
        files = {}
        writers: dict[int, pq.ParquetWriter] = {}
        meta = None
        row = 0
        try:
            for name, (dtype, width) in arrays.items():
                files[name] = open(folder / f"{name}.npy", "wb")
                np.lib.format.write_array_header_1_0(
                    files[name], {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                                  "shape": (n, width)})
            for batch in source.iter_batches(batch_size=self.batch_rows):
                t = pa.Table.from_batches([batch])
                k = t.num_rows
                ords = t.column(ORD).to_numpy()
                dates = t.column("date").cast(pa.int64()).fill_null(NO_DATE).to_numpy()
                files["info"].write(np.column_stack([
                    ords, t.column("exact").to_numpy().view(np.int64), t.column("shingles").to_numpy().astype(np.int64),
                    t.column("length").to_numpy(), dates, t.column("words").to_numpy(),
                    t.column("opening").to_numpy().view(np.int64)]).astype(np.int64, copy=False).tobytes())
                for name, column in (("sig", "signature"), ("lead", "lead"), ("anchors", "anchors")):
                    if name in files:
                        files[name].write(unpack_rows(t.column(column), arrays[name][0]).tobytes())
                m = t.select(list(META_COLUMNS))
                if meta is None:
                    meta = pq.ParquetWriter(folder / "meta.parquet", m.schema)
                meta.write_table(m)
                keys = unpack_rows(t.column("keys"), np.uint64)
                width = keys.shape[1]
                key = keys.ravel()
                band = np.tile(np.arange(width, dtype=np.int16), k)
                doc = np.repeat(np.arange(self.base + row, self.base + row + k, dtype=np.int64), width)
                rank = np.repeat(ords, width)
                valid = key != 0
                band, key, doc, rank = band[valid], key[valid], doc[valid], rank[valid]
                for p, sel in split_by(partition_of(band, key, self.partitions)):
                    table = pa.table([band[sel], key[sel], doc[sel], rank[sel]], schema=BAND_SCHEMA)
                    if p not in writers:
                        path = Path(self.bands) / f"p{p:05d}" / f"s{self.shard:05d}.parquet"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        writers[p] = pq.ParquetWriter(path, BAND_SCHEMA, **SCRATCH_PARQUET)
                    writers[p].write_table(table)
                row += k
        finally:
            for w in writers.values():
                w.close()
            if meta is not None:
                meta.close()
            for f in files.values():
                f.close()
        if row != n:
            raise RuntimeError(f"{self.summary}: read {row} rows, its metadata says {n}")
        return n


@dataclass(frozen=True)
class PairTask:
    """One partition of the key index: candidates (each document to the first of its key group by
    rank, and to the one just before it), handed on by pair to the verify partitions.

    Two copies share a key in many bands, hence in many key partitions: verifying there would
    judge one pair once per band it shares (17 times on average at 1M benchmark pages). So pairs
    are scattered by the pair itself, and each verify partition judges each distinct pair once."""

    partition: int
    files: tuple[str, ...]
    index_files: tuple[tuple[str, int], ...]  # (file, dense number of its generation's first document)
    n_index: int
    total: int  # documents in the store: pairs are coded a * total + b
    partitions: int
    out: str  # folder of verify-partition folders

    def run(self) -> int:
        tables = [pq.read_table(f) for f in self.files]
        for path, base in self.index_files:
            t = pq.read_table(path)
            doc = pc.add(t.column("doc"), base)
            tables.append(pa.table([t.column("band"), t.column("key"), doc, pc.subtract(doc, self.n_index)],
                                   schema=BAND_SCHEMA))
        table = pa.concat_tables(tables) if tables else BAND_SCHEMA.empty_table()
        del tables
        band = table.column("band").to_numpy()
        key = table.column("key").to_numpy()
        doc = table.column("doc").to_numpy()
        rank = table.column("rank").to_numpy()
        del table
        a, b = candidates(band, key, doc, rank, self.n_index)
        del band, key, doc, rank
        code = a * np.int64(max(self.total, 1)) + b
        with np.errstate(over="ignore"):
            part = (_mix64(code.view(np.uint64)) % np.uint64(self.partitions)).astype(np.int64)
        for q, sel in split_by(part):
            path = Path(self.out) / f"q{q:05d}" / f"p{self.partition:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table([pa.array(code[sel], pa.int64())], schema=CANDIDATE_SCHEMA), path, **SCRATCH_PARQUET)
        return len(code)


@dataclass(frozen=True)
class VerifyTask:
    """One partition of the candidate pairs: each distinct pair verified once, by the first
    producer, in order, whose rule it passes; the verified ones are the partition's edges."""

    files: tuple[str, ...]
    store: Store
    config: DedupConfig
    producers: tuple[str, ...]
    out: str

    def run(self) -> int:
        codes = [pq.read_table(f).column("pair").to_numpy() for f in self.files]
        code = distinct_repeated(np.concatenate(codes)) if codes else np.empty(0, np.int64)
        del codes
        span = np.int64(max(self.store.total, 1))
        a, b = code // span, code % span
        del code
        sim, how = verify_pairs(self.store, a, b, self.config, self.producers)
        ok = how >= 0
        result = pa.table([pa.array(a[ok], pa.int64()), pa.array(b[ok], pa.int64()),
                           pa.array(how[ok].astype(np.int8), pa.int8()), pa.array(sim[ok], pa.float32())],
                          schema=EDGE_SCHEMA)
        Path(self.out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(result, self.out)
        return result.num_rows


def candidates(band, key, doc, rank, n_index) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs a < b of documents sharing a key in some band, not both indexed: each
    document with the first of its key group by rank, and with the one just before it."""
    if len(key) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order, starts = group_order(band, key, rank)
    # In group order: each row's document, its group's first and the one before it.
    doc_s = doc[order]
    del order
    head = doc_s[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    link = ~starts
    second = link.copy()  # the row before is not its group's first
    second[1:] &= ~starts[:-1]
    x = np.r_[doc_s[link], doc_s[second]]
    y = np.r_[head[link], doc_s[np.flatnonzero(second) - 1]]
    a, b = np.minimum(x, y), np.maximum(x, y)
    keep = (a != b) & (b >= n_index)
    if not keep.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a, b = a[keep], b[keep]
    # Distinct pairs as one int64 each (a sort of one column is several times faster than unique rows).
    span = np.int64(b.max()) + 1
    if int(a.max()) * int(span) + int(span) < 2**63:
        code = distinct_repeated(a * span + b)
        return code // span, code % span
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


_GROUP_MIX = np.uint64(0xD6E8FEB86659FD93)


def group_order(band: np.ndarray, key: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the rows that puts each (band, key) group together, its rows by rank then
    position, as `np.lexsort((rank, key, band))` does (the groups in another order); and where
    each group starts in it (bool).

    When the rows come by rank (a build's own keys, shard after shard), they are sorted by 32 bits
    of a hash of (band, key) in two stable passes of 16 bits (numpy sorts 16-bit values by radix),
    which keeps each group's rows in their order: faster than the three-key lexsort, or than one
    sort of 64-bit values. Groups whose hashes agree in those bits are interleaved then (tens in a
    million rows); those runs are put in order by the lexsort of their rows alone."""
    if not (rank[1:] >= rank[:-1]).all():
        order = np.lexsort((rank, key, band))
        band_s, key_s = band[order], key[order]
        return order, np.r_[True, (band_s[1:] != band_s[:-1]) | (key_s[1:] != key_s[:-1])]
    with np.errstate(over="ignore"):
        top = _mix64(key ^ (band.astype(np.uint64) * _GROUP_MIX)) >> np.uint64(32)
    order = np.argsort(top.astype(np.uint16), kind="stable")
    order = order[np.argsort((top >> np.uint64(16)).astype(np.uint16)[order], kind="stable")]
    packed = top[order]
    del top
    same_hash = packed[1:] == packed[:-1]
    del packed
    band_s, key_s = band[order], key[order]
    differ = (band_s[1:] != band_s[:-1]) | (key_s[1:] != key_s[:-1])
    mixed = same_hash & differ
    if mixed.any():
        run = np.cumsum(np.r_[True, ~same_hash]) - 1
        bad = np.zeros(run[-1] + 1, bool)
        bad[run[1:][mixed]] = True
        at = np.flatnonzero(bad[run])
        rows = order[at]
        order[at] = rows[np.lexsort((rows, key[rows], band[rows], run[at]))]
        band_s[at], key_s[at] = band[order[at]], key[order[at]]
        differ = (band_s[1:] != band_s[:-1]) | (key_s[1:] != key_s[:-1])
    return order, np.r_[True, differ]


def verify_pairs(store: "Store", a: np.ndarray, b: np.ndarray, config: DedupConfig,
                 producers: tuple[str, ...], relaxed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Similarity and producer (index, -1: none) of each pair: the first producer, in order, that
    verifies it. The same rule judges candidates and members against their survivor; `relaxed`
    uses each producer's relaxed rule (for members a verified member corroborates), and a member
    that passes one must also name what its survivor names (`edges.names_what_it_joins`)."""
    sim = np.full(len(a), np.nan, np.float32)
    how = np.full(len(a), -1, np.int64)
    # In blocks: each block's documents are read once (signatures, lead, anchors, info: about
    # 800 bytes a document at 128 permutations), so memory is bounded by the block, not the pairs.
    for lo in range(0, len(a), VERIFY_BLOCK):
        hi = min(lo + VERIFY_BLOCK, len(a))
        view = store.view(distinct(np.r_[a[lo:hi], b[lo:hi]]))
        la, lb = view.local(a[lo:hi]), view.local(b[lo:hi])
        view.pairs(la, lb)
        for p, name in enumerate(producers):
            todo = np.flatnonzero(how[lo:hi] < 0)
            if not len(todo):
                break
            producer = edges.producer(name)
            check = producer.verify_relaxed if relaxed else producer.verify
            got = check(view, la[todo], lb[todo], config)
            todo += lo
            ok = ~np.isnan(got)
            sim[todo[ok]], how[todo[ok]] = got[ok], p
    if relaxed and len(a):
        passed = np.flatnonzero(how >= 0)
        named = edges.names_what_it_joins(store, a[passed], b[passed])
        sim[passed[~named]], how[passed[~named]] = np.nan, -1
    return sim, how


@dataclass(frozen=True)
class ClusterTask:
    """Verified edges to clusters: survivors by the keep rule, every member checked against its
    survivor (verified, or corroborated by members that joined and checked by a relaxed rule; see
    `cluster`); members that are not are clustered again among themselves, until none is left."""

    edges: tuple[str, ...]
    store: Store
    config: DedupConfig
    producers: tuple[str, ...]
    n_index: int
    model: str
    summary: str
    partitions: int
    #: Documents with fewer words are dropped after dedup (too short): they may join a cluster as
    #: a copy, never survive one.
    min_words: int = 0

    def run(self) -> dict:
        a, b, sim = read_edges(self.edges, similarity=True)
        threshold = self.config.minhash.threshold if self.config.minhash else 1.0
        fragment, ambiguous = fragments(a, b, sim, self.store, threshold)
        a, b = a[~ambiguous], b[~ambiguous]
        del sim
        nodes, inverse = distinct_inverse(np.r_[a, b])
        ea, eb = inverse[: len(a)], inverse[len(a):]
        m = len(nodes)
        is_new = nodes >= self.n_index
        eligible = ~is_new | (self.store.info(nodes, "words") >= self.min_words)
        priority = self._priority(nodes, is_new, eligible, np.isin(nodes, fragment))
        # Two documents that cannot survive cannot make a cluster: each only joins one that can.
        both = ~eligible[ea] & ~eligible[eb]
        ea, eb = ea[~both], eb[~both]
        survivor, similarity, method = cluster(m, ea, eb, priority, is_new, nodes, self.store, self.config,
                                               self.producers)
        decisions, summary, decided = self._decisions(nodes, is_new, survivor, similarity, method)
        model = Path(self.model)
        model.mkdir(parents=True, exist_ok=True)
        dropped = nodes[is_new & (survivor != np.arange(m))]
        np.save(model / "dropped.npy", np.sort(dropped))
        group_of = np.searchsorted(self.store.starts, nodes, side="right") - 1
        # One decisions file per shard, so each apply task reads only its own rows.
        node_group = group_of[decided]
        for g, group in enumerate(self.store.groups):
            if group.shard >= 0:
                pq.write_table(decisions.filter(pa.array(node_group == g)), model / f"decisions-{group.shard:05d}.parquet")
        Path(self.summary).parent.mkdir(parents=True, exist_ok=True)
        Path(self.summary).write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    def _priority(self, nodes: np.ndarray, is_new: np.ndarray, eligible: np.ndarray,
                  fragment: np.ndarray) -> np.ndarray:
        """Position of each node in survivor order: indexed (already published) documents first,
        documents too short to be published last; then preferred sources or agencies, then
        documents that are no fragment of another before fragments (`fragments`), then the keep
        rule, ties by input order."""
        m = len(nodes)
        rank = self.store.info(nodes, "rank")
        rank = np.where(is_new, rank, nodes - self.n_index)  # indexed documents by index order
        keep = self.config.keep
        if keep == "earliest":
            key = self.store.info(nodes, "date")
        elif keep == "longest":
            key = -self.store.info(nodes, "length")
        else:
            key = np.zeros(m, np.int64)
        preferred = np.full(m, len(self.config.prefer), np.int64)
        if self.config.prefer and m:
            names = [p.lower() for p in self.config.prefer]
            meta = self.store.meta(nodes, ("source", "agency"))
            for column in ("agency", "source"):
                values = pc.utf8_lower(meta.column(column).combine_chunks().cast(pa.string()))
                position = pc.index_in(values, value_set=pa.array(names)).fill_null(len(names)).to_numpy()
                preferred = np.minimum(preferred, position)
        order = np.lexsort((rank, key, fragment, preferred, ~eligible, is_new.astype(np.int8)))
        priority = np.empty(m, np.int64)
        priority[order] = np.arange(m)
        return priority

    def _decisions(self, nodes, is_new, survivor, similarity, method) -> tuple[pa.Table, dict, np.ndarray]:
        m = len(nodes)
        index = np.arange(m)
        size = np.bincount(survivor, minlength=m)[survivor] if m else np.empty(0, np.int64)
        kept = survivor == index
        # A survivor's method: the loosest of its members' (exact only when all are exact).
        loosest = np.full(m, -1, np.int64)
        np.maximum.at(loosest, survivor, np.where(kept, -1, method))
        method = np.where(kept, loosest, method)
        in_cluster = size > 1
        decided = np.flatnonzero(is_new & in_cluster)
        meta = self.store.meta(nodes, ("id", "source"))
        ids = meta.column("id").combine_chunks()
        names = pa.array(list(self.producers), pa.string())
        method_names = names.take(pa.array(np.where(method[decided] >= 0, method[decided], 0))) if len(decided) else \
            pa.array([], pa.string())
        cluster_ids = ids.take(pa.array(survivor[decided]))
        kept_d = kept[decided]
        # Distinct sources of the members other than the survivor, sorted, per survivor.
        members = np.flatnonzero(in_cluster & ~kept)
        pairs = pa.table({"s": pa.array(survivor[members]),
                          "src": meta.column("source").combine_chunks().take(pa.array(members))})
        pairs = pairs.filter(pc.is_valid(pairs.column("src"))).group_by(["s", "src"]).aggregate([])
        pairs = pairs.sort_by([("s", "ascending"), ("src", "ascending")])
        s = pairs.column("s").to_numpy()
        counts = np.bincount(s, minlength=m) if len(s) else np.zeros(m, np.int64)
        offsets = np.r_[0, np.cumsum(counts)].astype(np.int32)
        sources = pa.ListArray.from_arrays(pa.array(offsets), pairs.column("src").combine_chunks().cast(pa.string())) \
            if m else pa.array([], pa.list_(pa.string()))
        copy_sources = sources.take(pa.array(decided))
        copy_sources = pc.if_else(pa.array(kept_d), copy_sources, pa.scalar(None, pa.list_(pa.string())))
        indexed = ~is_new[survivor[decided]]
        decisions = pa.table(
            {
                ORD: pa.array(self.store.info(nodes[decided], "rank"), pa.int64()),
                "kept": pa.array(kept_d),
                "method": method_names,
                "cluster": cluster_ids,
                "duplicate_of": pc.if_else(pa.array(kept_d), pa.scalar(None, pa.string()), cluster_ids),
                "size": pa.array(size[decided], pa.int32()),
                "similarity": pa.array(np.where(kept_d, np.nan, similarity[decided]), pa.float32(),
                                       mask=kept_d),
                "copy_sources": copy_sources,
                "indexed": pa.array(indexed),
            },
            schema=DECISION_SCHEMA,
        )
        touched = distinct(survivor[decided])
        sizes = np.bincount(size[touched]) if len(touched) else np.zeros(0, np.int64)
        summary = {
            "clusters": int(len(touched)),
            "duplicates": int((~kept_d).sum()),
            "sizes": {str(k): int(v) for k, v in enumerate(sizes) if v and k > 1},
            "keep": self.config.keep,
            "partitions": self.partitions,
        }
        return decisions, summary, decided


def read_edges(files, similarity: bool = False) -> tuple[np.ndarray, ...]:
    """The verified pairs of all verify partitions (each pair lives in exactly one), file by file
    into two int64 columns: 16 bytes a pair; and their similarity (float32) if asked."""
    columns = ["a", "b", "similarity"] if similarity else ["a", "b"]
    parts = [pq.read_table(f, columns=columns) for f in files if Path(f).exists()]
    empty = {"a": np.empty(0, np.int64), "b": np.empty(0, np.int64), "similarity": np.empty(0, np.float32)}
    return tuple(np.concatenate([t.column(c).to_numpy() for t in parts]) if parts else empty[c] for c in columns)


#: A document is a fragment of another when an edge under the MinHash threshold (containment, a
#: lead, an opening, names: not a near-identical copy) joins it to one with at least this many
#: times its shingles: a cut, or a story's last sentences.
FRAGMENT_FACTOR = 1.5
#: Two documents that hold one fragment and are not linked otherwise are copies of one story when
#: their signatures agree on at least this share of permutations (two heavily edited copies), and
#: two stories (from one mould: they share the fragment's sentences) under it.
AMBIGUOUS_JACCARD = 0.15


def _agreement(store: "Store", x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`edges.agreement` of many pairs, VERIFY_BLOCK at a time (memory bounded by the block)."""
    agree = np.empty(len(x))
    for lo in range(0, len(x), VERIFY_BLOCK):
        agree[lo : lo + VERIFY_BLOCK] = edges.agreement(store, x[lo : lo + VERIFY_BLOCK], y[lo : lo + VERIFY_BLOCK])
    return agree


def fragments(a: np.ndarray, b: np.ndarray, sim: np.ndarray, store: "Store",
              threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The fragments among the edges' documents (distinct store numbers), and which edges to drop:
    those joining an ambiguous fragment to the larger documents that hold it.

    A fragment never survives a copy that holds it (`ClusterTask._priority`): the fuller text is
    kept. And a fragment held by two stories (two larger documents not linked but through
    fragments, whose signatures agree on under AMBIGUOUS_JACCARD: "Inspectors will visit the park
    in May. The animal is back in its enclosure." is the end of every story of one mould) copies
    neither: it joins no cluster through them, so it is published, not dropped as the copy of
    whichever story survives first."""
    if not len(a):
        return np.empty(0, np.int64), np.zeros(0, bool)
    size_a, size_b = store.info(a, "shingles"), store.info(b, "shingles")
    weak = sim < threshold
    a_in_b = weak & (size_b >= FRAGMENT_FACTOR * size_a)
    b_in_a = weak & (size_a >= FRAGMENT_FACTOR * size_b)
    nodes, inverse = distinct_inverse(np.r_[a, b])
    ia, ib = inverse[: len(a)], inverse[len(a):]
    part = np.r_[ia[a_in_b], ib[b_in_a]]  # node of each (fragment, holder) link
    holder = np.r_[ib[a_in_b], ia[b_in_a]]
    is_fragment = np.zeros(len(nodes), bool)
    is_fragment[part] = True
    if not len(part):
        return nodes[is_fragment], np.zeros(len(a), bool)
    # Holders linked through documents that are no fragments are one story's copies.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    whole = ~is_fragment[ia] & ~is_fragment[ib]
    graph = coo_matrix((np.ones(int(whole.sum()), np.int8), (ia[whole], ib[whole])), shape=(len(nodes), len(nodes)))
    _, component = connected_components(graph, directed=False)
    # Per fragment: its first holder (by component, then number), and its first holder in another
    # component if any; the two are one story when their signatures agree enough.
    order = np.lexsort((holder, component[holder], part))
    part, holder = part[order], holder[order]
    first = np.r_[True, part[1:] != part[:-1]]
    head = np.flatnonzero(first)[np.cumsum(first) - 1]
    other = np.flatnonzero(component[holder] != component[holder[head]])
    other = other[np.r_[True, part[other][1:] != part[other][:-1]]] if len(other) else other
    ambiguous = np.zeros(len(nodes), bool)
    if len(other):
        x, y = nodes[holder[head[other]]], nodes[holder[other]]
        if store.num_perm:
            ambiguous[part[other][_agreement(store, x, y) < AMBIGUOUS_JACCARD]] = True
    drop = (a_in_b & ambiguous[ia]) | (b_in_a & ambiguous[ib])
    return nodes[is_fragment], drop


#: A member that joined a survivor is taken back when a document the survivor rejected holds it
#: (or it holds that document) by this much more containment than the survivor does. On the hard
#: benchmark (cluster step rerun on kept builds' edges), P/R: 1M 0.9894/0.9660 -> 0.9948/0.9706;
#: 100k 0.9978/0.9738 -> 0.9986/0.9738; 10k seed 0 0.9991/0.9838 -> 0.9995/0.9840, seed 1
#: 0.9994/0.9724 -> 0.9988/0.9723. Margins of 0.05, 0.15 and 0.2 did worse at 1M.
CONTESTED_MARGIN = 0.1


def contested(members: np.ndarray, heads: np.ndarray, joined: np.ndarray, x: np.ndarray, y: np.ndarray,
              nodes: np.ndarray, store: Store, m: int) -> np.ndarray:
    """Which members that joined their survivor (`joined`) are closer to a document it rejected.

    A member linked to a document of its component that its survivor rejected (a copy of some other
    story, or one edited past the rules) is contested between the two. It stays with the survivor
    unless its containment with the rejected document (the smaller's share of shingles the larger
    holds, estimated from their signatures) beats its containment with the survivor by
    CONTESTED_MARGIN: a one-paragraph copy of story B that a story A of one mould also holds nearly
    whole joined A's survivor by the rules, and belongs with B's copies. Taken back, it is clustered
    in the next round with the documents the survivor rejected."""
    taken = np.zeros(len(members), bool)
    if not store.num_perm or not len(members):
        return taken
    rejected = np.zeros(m, bool)
    rejected[members[~joined]] = True
    position = np.full(m, -1, np.int64)
    position[members[joined]] = np.flatnonzero(joined)
    # Each (joined member, rejected document) link, both ways round.
    fx = (position[x] >= 0) & rejected[y]
    fy = (position[y] >= 0) & rejected[x]
    member, other = np.r_[x[fx], y[fy]], np.r_[y[fx], x[fy]]
    if not len(member):
        return taken
    head = heads[position[member]]
    doc, with_other, with_head = nodes[member], nodes[other], nodes[head]
    size, size_other, size_head = (store.info(d, "shingles") for d in (doc, with_other, with_head))
    # A rejected document that is a fragment of the member (a cut of it) says nothing of the
    # member's story: it is the one whose story is in doubt.
    whole = size < FRAGMENT_FACTOR * size_other
    doc, with_other, with_head = doc[whole], with_other[whole], with_head[whole]
    size, size_other, size_head = size[whole], size_other[whole], size_head[whole]
    closer = (edges.containment_of(_agreement(store, doc, with_other), size, size_other)
              > edges.containment_of(_agreement(store, doc, with_head), size, size_head) + CONTESTED_MARGIN)
    taken[position[member[whole][closer]]] = True
    return taken


def cluster(m: int, ea: np.ndarray, eb: np.ndarray, priority: np.ndarray, is_new: np.ndarray, nodes: np.ndarray,
            store: Store, config: DedupConfig, producers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Survivor (node index), similarity to it and method (producer index) of every node.

    Rounds: connected components of the edges between unassigned nodes; in each component the
    node first in `priority` survives; members verified against it by any producer join it, and
    so do members a joined member corroborates that pass a relaxed rule against it, and members
    that at least `CORROBORATIONS` joined members corroborate, linked to nothing else, that pass
    `verify_corroborated` against it; members that joined but are closer to a document the
    survivor rejected are taken back (`contested`); the others stay unassigned and, with the edges among them,
    make the next round's components. Indexed nodes never join a cluster (they are published
    already): only survive.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = np.arange(m)
    survivor = index.copy()
    similarity = np.full(m, np.nan, np.float32)
    method = np.full(m, -1, np.int64)
    assigned = np.zeros(m, bool)
    alive = np.ones(len(ea), bool)
    # Documents each node was verified a copy of, and the nodes checked as twice corroborated
    # (once each: a node all of whose copies joined has no more to gain).
    degree = np.bincount(np.r_[ea, eb], minlength=m)
    checked = np.zeros(m, bool)
    while True:
        alive &= ~assigned[ea] & ~assigned[eb]
        if not alive.any():
            break
        x, y = ea[alive], eb[alive]
        graph = coo_matrix((np.ones(len(x), np.int8), (x, y)), shape=(m, m))
        _, component = connected_components(graph, directed=False)
        involved = distinct(np.r_[x, y])
        comp = component[involved]
        best = np.full(component.max() + 1, np.iinfo(np.int64).max)
        np.minimum.at(best, comp, priority[involved])
        by_priority = np.empty(m, np.int64)
        by_priority[priority] = index
        head = by_priority[best[comp]]
        members = involved[head != involved]
        heads = head[head != involved]
        # Indexed members never join a cluster (they are published): they stay for the next
        # round, where they may survive for the members this survivor rejects.
        old = ~is_new[members]
        members, heads = members[~old], heads[~old]
        sim, how = verify_pairs(store, nodes[members], nodes[heads], config, producers)
        joined = how >= 0
        # Corroborated members: linked to a member the survivor verified, they are checked against
        # the survivor again by each producer's relaxed rule; when none passes, members linked to
        # at least CORROBORATIONS joined members and to no other document are checked by each
        # producer's `verify_corroborated`; until no more join.
        cluster_of = np.full(m, -1, np.int64)
        cluster_of[head] = head
        cluster_of[members[joined]] = heads[joined]
        head_of = np.full(m, -1, np.int64)
        head_of[members] = heads
        while True:
            waiting = np.zeros(m, bool)
            waiting[members[~joined]] = True
            near_x = waiting[x] & (cluster_of[y] >= 0) & (cluster_of[y] == head_of[x])
            near_y = waiting[y] & (cluster_of[x] >= 0) & (cluster_of[x] == head_of[y])
            links = np.bincount(np.r_[x[near_x], y[near_y]], minlength=m)[members]
            todo = np.flatnonzero(~joined & (links > 0))
            got, by = verify_pairs(store, nodes[members[todo]], nodes[heads[todo]], config, producers, relaxed=True)
            ok = by >= 0
            if not ok.any():
                todo = np.flatnonzero(~joined & ~checked[members] & (links >= edges.CORROBORATIONS)
                                      & (links == degree[members]))
                if not len(todo):
                    break
                checked[members[todo]] = True
                got, by = edges.verify_corroborated(store, nodes[members[todo]], nodes[heads[todo]], config,
                                                    producers)
                ok = by >= 0
                if not ok.any():
                    break
            sim[todo[ok]], how[todo[ok]] = got[ok], by[ok]
            joined[todo[ok]] = True
            cluster_of[members[todo[ok]]] = heads[todo[ok]]
        joined &= ~contested(members, heads, joined, x, y, nodes, store, m)
        survivor[members[joined]] = heads[joined]
        similarity[members[joined]] = sim[joined]
        method[members[joined]] = how[joined]
        assigned[members[joined]] = True
        assigned[head] = True
    return survivor, similarity, method


@dataclass(frozen=True)
class ClustersFileTask:
    """OUT/dedup/clusters.parquet: every document that reached dedup, shard by shard in input order."""

    groups: tuple[Group, ...]
    model: str
    out: str

    def run(self) -> int:
        Path(self.out).parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with pq.ParquetWriter(self.out, CLUSTERS_SCHEMA.remove(CLUSTERS_SCHEMA.get_field_index(ORD))) as writer:
            for group in self.groups:
                meta = pq.read_table(Path(group.path) / "meta.parquet", columns=["id", ORD])
                decisions = read_decisions(Path(self.model), group.shard)
                table = clusters_rows(meta, decisions)
                writer.write_table(table.drop([ORD]))
                rows += table.num_rows
        return rows


def join_decisions(table: pa.Table, decisions: pa.Table) -> pa.Table:
    """`table` (with ORD) sorted by ORD, with the decision columns of its rows (null: no copy)."""
    ords = table.column(ORD).to_numpy()
    table = table.take(pa.array(np.argsort(ords, kind="stable")))
    ords = table.column(ORD).to_numpy()
    known = decisions.column(ORD).to_numpy()
    by_ord = np.argsort(known, kind="stable")
    at = np.searchsorted(known[by_ord], ords)
    found = at < len(known)
    found[found] = known[by_ord][at[found]] == ords[found]
    rows = pa.array(by_ord[np.minimum(at, max(len(known) - 1, 0))] if len(known) else np.zeros(len(ords), np.int64),
                    pa.int64(), mask=~found)
    picked = decisions.drop_columns([ORD]).take(rows)
    for name in picked.column_names:
        table = table.append_column(name, picked.column(name))
    return table


def clusters_rows(meta: pa.Table, decisions: pa.Table) -> pa.Table:
    joined = join_decisions(meta, decisions)
    ids = joined.column("id")
    return pa.table(
        {
            "id": ids,
            "cluster": pc.coalesce(joined.column("cluster"), ids),
            "kept": pc.fill_null(joined.column("kept"), True),
            "method": joined.column("method"),
            "duplicate_of": joined.column("duplicate_of"),
            "size": pc.fill_null(joined.column("size"), 1),
            "similarity": joined.column("similarity"),
            ORD: joined.column(ORD),
        },
        schema=CLUSTERS_SCHEMA,
    )


def read_decisions(model: Path, shard: int) -> pa.Table:
    path = model / f"decisions-{shard:05d}.parquet"
    return pq.read_table(path) if path.exists() else DECISION_SCHEMA.empty_table()


# ---------------------------------------------------------------------------------------------
# Index append: survivors of this build, as a new generation written beside the index.


@dataclass(frozen=True)
class IndexGroupTask:
    """One shard's survivors (signatures, info, meta) into the pending generation."""

    group: Group
    base: int
    dropped: str
    out: str

    def run(self) -> int:
        dropped = np.load(self.dropped)
        src = Path(self.group.path)
        rows = np.arange(self.group.rows, dtype=np.int64)
        keep = ~np.isin(rows + self.base, dropped)
        out = Path(self.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("sig", "lead", "anchors", "info"):
            if (src / f"{name}.npy").exists():
                data = np.load(src / f"{name}.npy", mmap_mode="r")
                np.save(out / f"{name}.npy", np.asarray(data[keep]))
        meta = pq.read_table(src / "meta.parquet") if self.group.rows else None
        if meta is not None:
            pq.write_table(meta.filter(pa.array(keep)), out / "meta.parquet")
        return int(keep.sum())


@dataclass(frozen=True)
class IndexBandTask:
    """One partition's keys of this build's survivors, numbered within the pending generation."""

    files: tuple[str, ...]
    n_index: int
    dropped: str
    out: str

    def run(self) -> int:
        dropped = np.load(self.dropped)
        tables = [pq.read_table(f, columns=["band", "key", "doc"]) for f in self.files]
        table = pa.concat_tables(tables) if tables else BAND_SCHEMA.empty_table().select(["band", "key", "doc"])
        doc = table.column("doc").to_numpy()
        keep = ~np.isin(doc, dropped)
        doc = doc[keep]
        local = doc - self.n_index - np.searchsorted(dropped, doc)
        table = table.filter(pa.array(keep)).set_column(2, "doc", pa.array(local, pa.int64()))
        Path(self.out).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.out)
        return table.num_rows


def atomic_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
