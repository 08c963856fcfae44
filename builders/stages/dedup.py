"""Dedup as map → reduce → apply: per-shard keys, partitioned corpus-wide clusters, per-shard filtering.

map (per batch, in the shard's task): the exact hash of the normalised text, the MinHash signature,
and every edge producer's keys (builders/stages/dedup_edges.py), as one Parquet file per shard.
reduce (tasks through the executor, builders/stages/dedup_reduce.py): keys scattered into
partitions by hash; per partition, candidate pairs verified by their producer; verified edges
clustered, each member checked against its cluster's survivor; decisions per shard,
OUT/dedup/clusters.parquet and OUT/dedup/summary.json; with `dedup.index`, the survivors appended
to the index once the build has succeeded (builders/stages/dedup_index.py).
apply: per shard, keep survivors (with `copies` and `copy_sources`) and reject the other copies
naming the copy they duplicate.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders.config import DedupConfig
from builders.executors.local import LocalExecutor
from builders.schema import ORD
from builders.stages import dedup_edges as edges
from builders.stages import dedup_index
from builders.stages import dedup_reduce as tasks
from builders.stages.base import CorpusStep, Ledger
from builders.stages.clean import count_words
from builders.text import anchors, minhash

STAGE = "dedup"
EXACT, NEAR = "exact", "minhash"
INDEXED = "published_duplicate"
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate"}


def normalize_for_matching(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-case words separated by single spaces: what counts as 'the same text' for dedup."""
    text = pc.utf8_lower(pc.fill_null(text.cast(pa.string()), ""))
    text = pc.replace_substring_regex(text, r"[^\pL\pN]+", " ")
    return pc.utf8_trim(text, " ")


def hash_strings(values: pa.Array) -> np.ndarray:
    """Stable 64-bit hashes (fixed-key SipHash from pandas): equal across processes and runs."""
    import pandas as pd  # here, not at the top: a build without dedup or chrome lines never pays for it

    return pd.util.hash_array(values.to_numpy(zero_copy_only=False), categorize=False)


class DedupFeatures:
    """The map step's work: a table of documents to a table of what the reduce step needs about each."""

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.layout = edges.layout(config)
        lead = config.minhash and config.minhash.lead is not None
        self.lead_perms = min(edges.LEAD_PERMS, config.minhash.num_perm) if lead else 0
        self.anchor_words = anchors.WORDS if config.minhash and config.minhash.anchored is not None else 0

    @property
    def width(self) -> int:
        """Key columns per document: at least one (Arrow has no empty fixed-size lists; 0 is no key)."""
        return max(1, sum(w for _, w in self.layout))

    def schema(self) -> pa.Schema:
        fields = [
            pa.field(ORD, pa.int64()),
            pa.field("id", pa.string()),
            pa.field("source", pa.string()),
            pa.field("agency", pa.string()),
            pa.field("date", pa.timestamp("us", tz="UTC")),
            pa.field("length", pa.int64()),
            pa.field("exact", pa.uint64()),
            pa.field("shingles", pa.int32()),
            pa.field("words", pa.int64()),
            pa.field("opening", pa.uint64()),
        ]
        if self.config.minhash:
            fields.append(pa.field("signature", pa.list_(pa.uint32(), self.config.minhash.num_perm)))
        if self.lead_perms:
            fields.append(pa.field("lead", pa.list_(pa.uint32(), self.lead_perms)))
        if self.anchor_words:
            fields.append(pa.field("anchors", pa.list_(pa.uint64(), self.anchor_words)))
        fields.append(pa.field("keys", pa.list_(pa.uint64(), self.width)))
        return pa.schema(fields)

    def __call__(self, table: pa.Table) -> pa.Table:
        n = len(table)
        normalized = normalize_for_matching(table.column("text").combine_chunks())
        exact = hash_strings(normalized).astype(np.uint64)
        ctx = edges.MapContext(n=n, exact=exact, table=table, shingles=np.zeros(n, np.int64),
                               empty=pc.equal(normalized, "").to_numpy(zero_copy_only=False))
        columns = {
            ORD: table.column(ORD),
            "id": table.column("id"),
            "source": table.column("source"),
            "agency": table.column("agency"),
            "date": table.column("date"),
            "length": pc.utf8_length(pc.fill_null(table.column("text"), "")).cast(pa.int64()),
            "exact": pa.array(exact, pa.uint64()),
            # As the too_short step counts them: it runs after dedup and drops what has fewer.
            "words": pa.array(count_words(table.column("text")), pa.int64()),
        }
        mh = self.config.minhash
        if mh:
            tokens = pc.split_pattern(normalized, " ")
            # An empty string splits into one empty token: count it as no tokens at all.
            tokens = pc.if_else(pc.equal(normalized, ""), pa.scalar([], pa.list_(pa.string())), tokens)
            encoded = pc.dictionary_encode(tokens.flatten())
            word_hashes = hash_strings(encoded.dictionary)[encoded.indices.to_numpy()]
            offsets = tokens.offsets.to_numpy().astype(np.int64)
            offsets -= offsets[0]  # a sliced list array's offsets need not start at zero
            shingles, doc = minhash.shingle_hashes(word_hashes, offsets, mh.ngram)
            ctx.signature = minhash.signatures(shingles, doc, n, mh.num_perm, mh.seed)
            # Shingle counts stand in for set sizes in the containment estimate: a word 5-gram
            # rarely repeats within one article, and counting beats sorting every shingle.
            ctx.shingles = np.bincount(doc, minlength=n)
            ctx.shingle_hashes, ctx.shingle_doc = shingles, doc
            # The lead: wire copies are cut at the end, rarely at the start, so a copy that lost
            # half its story still shares its opening; a second index on it finds such copies.
            first = np.searchsorted(doc, np.arange(n))
            lead = np.arange(len(doc)) - first[doc] < edges.LEAD_SHINGLES
            ctx.lead_signature = minhash.signatures(shingles[lead], doc[lead], n, mh.num_perm, mh.seed)
            columns["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(ctx.signature.ravel(), pa.uint32()),
                                                                     mh.num_perm)
            if self.lead_perms:
                columns["lead"] = pa.FixedSizeListArray.from_arrays(
                    pa.array(np.ascontiguousarray(ctx.lead_signature[:, : self.lead_perms]).ravel(), pa.uint32()),
                    self.lead_perms)
        columns["shingles"] = pa.array(ctx.shingles, pa.int32())
        ctx.opening = edges.opening_keys(ctx) if mh else np.zeros(n, np.uint64)
        columns["opening"] = pa.array(ctx.opening, pa.uint64())
        if self.anchor_words:
            ctx.anchors = anchors.anchor_bitmaps(table.column("text"))
            columns["anchors"] = pa.FixedSizeListArray.from_arrays(pa.array(ctx.anchors.ravel(), pa.uint64()),
                                                                   self.anchor_words)
        keys = [edges.producer(name).keys(ctx, self.config) for name, _ in self.layout]
        keys = np.concatenate(keys, axis=1) if keys else np.zeros((n, 0), np.uint64)
        if keys.shape[1] < self.width:
            keys = np.concatenate([keys, np.zeros((n, self.width - keys.shape[1]), np.uint64)], axis=1)
        columns["keys"] = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel(), pa.uint64()), self.width)
        return pa.table({f.name: columns[f.name] for f in self.schema()}, schema=self.schema())


def verify(sig: np.ndarray, sizes: np.ndarray, src: np.ndarray, dst: np.ndarray, threshold: float,
           containment: float | None) -> np.ndarray:
    """Which candidate pairs are copies, judged on their full signatures (see
    `dedup_edges.verify_signatures`)."""
    return ~np.isnan(edges.verify_signatures(sig[src], sig[dst], sizes[src], sizes[dst], threshold, containment))


class Dedup(CorpusStep):
    """Exact and MinHash dedup as one corpus step: keys per batch, clusters by partition, filter per shard."""

    stage = STAGE
    label = "dedup clusters"

    def __init__(self, config: DedupConfig, min_words: int = 0) -> None:
        self.config = config
        #: Documents with fewer words are dropped after dedup: they never survive a cluster.
        self.min_words = min_words
        self.features = DedupFeatures(config)
        self.decisions: pa.Table | None = None
        self._pending: tuple | None = None
        if config.index:  # refuse a different hash configuration before any work is done
            dedup_index.Index.open(config.index, config)

    def map(self, table: pa.Table) -> pa.Table:
        return self.features(table)

    def reduce(self, summaries, model: Path, shards, output: Path, executor=None) -> None:
        executor = executor or LocalExecutor(1)  # outside a build (tests, tools): every task in this process
        config = self.config
        index = dedup_index.Index.open(config.index, config) if config.index else None
        model = Path(model)
        groups = list(index.groups()) if index else []
        n_index = sum(g.rows for g in groups)
        build_groups = []
        for shard, path in summaries:
            rows = pq.ParquetFile(path).metadata.num_rows
            build_groups.append(tasks.Group(str(model / "groups" / f"s{shard:05d}"), rows, shard))
        groups += build_groups
        store = tasks.Store(tuple(groups), config.minhash.num_perm if config.minhash else None, self.features.lead_perms,
                            self.features.anchor_words)
        total = store.total
        if index:
            partitions = index.partitions
        else:
            partitions = config.partitions or tasks.auto_partitions(total * self.features.width, executor.workers)
        # 1. Each shard's map output to its group files and its keys to one file per partition.
        bands = model / "bands"
        scatter = [tasks.ScatterTask(str(path), g.path, str(bands), shard, int(store.starts[len(groups) - len(build_groups) + i]),
                                     partitions, store.num_perm, store.lead_perms, store.anchor_words)
                   for i, ((shard, path), g) in enumerate(zip(summaries, build_groups))]
        executor.map(tasks.run_task, scatter)
        # 2. Per partition: candidates, verified by the producer that found them.
        names = tuple(name for name, _ in self.features.layout)
        widths = tuple(w for _, w in self.features.layout)
        pairs = [tasks.PairTask(p, tuple(str(f) for f in sorted((bands / f"p{p:05d}").glob("s*.parquet"))),
                                tuple(index.band_files(p)) if index else (), n_index, store, config, names, widths,
                                str(model / "edges" / f"p{p:05d}.parquet"))
                 for p in range(partitions)]
        executor.map(tasks.run_task, pairs)
        # 3. Clusters with survivors, decisions per shard, the summary.
        dedup_out = Path(output) / "dedup"
        clusters = tasks.ClusterTask(tuple(t.out for t in pairs), store, config, names, n_index, str(model),
                                     str(dedup_out / "summary.json"), partitions, self.min_words)
        executor.map(tasks.run_task, [clusters])
        # 4. The clusters file, and this build's survivors as the index's pending generation.
        last = [tasks.ClustersFileTask(tuple(build_groups), str(model), str(dedup_out / "clusters.parquet"))]
        if config.index:
            pending = dedup_index.pending_folder(config.index)
            dropped = str(model / "dropped.npy")
            for i, g in enumerate(build_groups):
                base = int(store.starts[len(groups) - len(build_groups) + i])
                last.append(tasks.IndexGroupTask(g, base, dropped, str(pending / f"s{g.shard:05d}")))
            for p in range(partitions):
                last.append(tasks.IndexBandTask(tuple(pairs[p].files), n_index, dropped,
                                                str(pending / "bands" / f"p{p:05d}.parquet")))
        results = executor.map(tasks.run_task, last)
        if config.index:
            kept = [(f"s{g.shard:05d}", int(n)) for g, n in zip(build_groups, results[1 : 1 + len(build_groups)])]
            self._pending = (pending, partitions, kept)

    def commit(self) -> None:
        """After the build has succeeded: this build's survivors join the index."""
        if self._pending:
            pending, partitions, kept = self._pending
            dedup_index.commit(self.config.index, pending, self.config, partitions, kept)
            self._pending = None

    def discard(self) -> None:
        if self._pending:
            shutil.rmtree(self._pending[0], ignore_errors=True)
            self._pending = None

    def load(self, model: Path, shard: int) -> None:
        self.decisions = tasks.read_decisions(Path(model), shard)

    def apply(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        """Drop every copy that is not its cluster's survivor, saying which one it copies; survivors
        carry their cluster's size and the other copies' sources."""
        names = ["kept", "method", "duplicate_of", "size", "copy_sources", "indexed"]
        decisions = self.decisions.select([ORD, *names]).rename_columns([ORD, *(f"_d_{n}" for n in names)])
        joined = tasks.join_decisions(table, decisions)
        kept = pc.fill_null(joined.column("_d_kept"), True)
        dropped = joined.filter(pc.invert(kept))
        if dropped.num_rows:
            reasons = pc.if_else(pc.fill_null(dropped.column("_d_indexed"), False), INDEXED,
                                 pc.if_else(pc.equal(dropped.column("_d_method"), EXACT), REASONS[EXACT], REASONS[NEAR]))
            ledger.reject(STAGE, dropped, reasons, dropped.column("_d_duplicate_of").combine_chunks())
        joined = joined.filter(kept)
        copies = pc.fill_null(joined.column("_d_size"), 1).cast(pa.int32())
        sources = joined.column("_d_copy_sources")
        if joined.num_rows:
            sources = pc.fill_null(sources, pa.scalar([], pa.list_(pa.string())))
        out = joined.drop_columns([c for c in ("copies", "copy_sources") if c in joined.column_names])
        out = out.append_column("copies", copies).append_column("copy_sources", sources)
        extra = [c for c in ("copies", "copy_sources") if c not in table.column_names]
        return out.select(table.column_names + extra)


def reduce(features: pa.Table, config: DedupConfig, partitions: int | None = None, executor=None,
           min_words: int = 0) -> pa.Table:
    """Cluster the documents of one map output in a temporary folder, as a build's reduce does;
    the clusters table with ordinals (tests and tools). Results depend only on the ordinals."""
    if config.index:
        config = config.model_copy(update={"index": None})
    if partitions:
        config = config.model_copy(update={"partitions": partitions})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pq.write_table(features, folder / "summary.parquet")
        step = Dedup(config, min_words)
        step.reduce([(0, folder / "summary.parquet")], folder / "model", [0], folder / "out", executor)
        meta = pq.read_table(folder / "model" / "groups" / "s00000" / "meta.parquet", columns=["id", ORD])
        return tasks.clusters_rows(meta, tasks.read_decisions(folder / "model", 0))

