"""Dedup as map → reduce → apply: per-shard keys, partitioned corpus-wide clusters, per-shard filtering.

map (per batch, in the shard's task): the exact hash of the normalised text, the MinHash signature,
and every edge producer's keys (builders/stages/dedup_edges.py), as one Parquet file per shard.
reduce (tasks through the executor, builders/stages/dedup_reduce.py): keys scattered into
partitions by hash; per key partition, candidate pairs, scattered by pair; per pair partition,
each distinct candidate verified once by the producers in order; verified edges clustered,
each member checked against its cluster's survivor; decisions per shard, OUT/dedup/clusters.parquet
and OUT/dedup/summary.json; with `dedup.index`, the survivors appended to the index once the build
has succeeded (builders/stages/dedup_index.py).
apply: per shard, keep survivors (with `copies` and `copy_sources`) and reject the other copies
naming the copy they duplicate.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
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
from builders.stages.base import CorpusStep, Ledger, Phases
from builders.stages.clean import count_words
from builders.text import anchors, minhash

STAGE = "dedup"
EXACT, NEAR = "exact", "minhash"
INDEXED = "published_duplicate"
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate"}


def normalize_for_matching(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-case words separated by single spaces: what counts as 'the same text' for dedup."""
    return match_words(text).normalized


def _normalize_regex(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The definition of `normalize_for_matching` (lower-case, every run of characters other than
    letters and digits one space, trimmed), in Arrow kernels: the fallback of `match_words` and its
    tests' reference."""
    text = pc.utf8_lower(pc.fill_null(text.cast(pa.string()), ""))
    text = pc.replace_substring_regex(text, r"[^\pL\pN]+", " ")
    return pc.utf8_trim(text, " ")


@dataclass
class Words:
    """The words dedup matches on, of a batch of texts (`match_words`)."""

    normalized: pa.Array  # each text normalised (`normalize_for_matching`)
    offsets: np.ndarray  # int64, n + 1: text d owns tokens offsets[d]:offsets[d + 1]
    tokens: pa.Array  # the words of the normalised texts in order; each may end in one space

    @property
    def empty(self) -> np.ndarray:
        """Texts with no word."""
        return self.offsets[1:] == self.offsets[:-1]


# Per ASCII byte: a letter or digit ...
_WORD_BYTE = np.zeros(256, bool)
_WORD_BYTE[48:58] = _WORD_BYTE[65:91] = _WORD_BYTE[97:123] = True
# ... and what it becomes: lower case, or a space (bytes of other characters are patched).
_MATCH_BYTE = np.full(256, 32, np.uint8)
_MATCH_BYTE[_WORD_BYTE] = np.flatnonzero(_WORD_BYTE)
_MATCH_BYTE[65:91] += 32
#: The same as a translation table: bytes.translate maps a buffer four times as fast as numpy's indexing.
_MATCH_TABLE = _MATCH_BYTE.tobytes()


def match_words(text: pa.ChunkedArray | pa.Array) -> Words:
    """The normalised texts and their words, byte for byte what `_normalize_regex` and splitting
    it at spaces give, but over the UTF-8 bytes in numpy: the regex (RE2, \\pL\\pN) was two
    thirds of the map's normalising and tokenising, and splitting the result a fifth. ASCII bytes
    are classified by table; characters beyond ASCII (a few in a thousand bytes of news text) are
    classified once per distinct character by the same Arrow kernels. Text that is not valid UTF-8,
    or has a letter whose lower case has another byte length (the Kelvin sign), takes the kernels'
    path."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.fill_null(text.cast(pa.string()), "")
    if not len(text):
        return Words(pa.array([], pa.string()), np.zeros(1, np.int64), pa.array([], pa.string()))
    fast = _match_words_bytes(text)
    if fast is not None:
        return fast
    normalized = _normalize_regex(text)
    tokens = pc.split_pattern(normalized, " ")
    # An empty string splits into one empty token: count it as no tokens at all.
    tokens = pc.if_else(pc.equal(normalized, ""), pa.scalar([], pa.list_(pa.string())), tokens)
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    return Words(normalized, offsets - offsets[0], tokens.flatten())


def _match_words_bytes(text: pa.Array) -> Words | None:
    """`match_words` of a non-empty string array without nulls, over its bytes; None when only the
    kernels can say (see `_match_beyond_ascii`)."""
    n = len(text)
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[text.offset : text.offset + n + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    offsets -= lo
    data = np.frombuffer(data_buffer, np.uint8)[lo:hi] if hi > lo else np.zeros(0, np.uint8)
    out = np.frombuffer(bytearray(data).translate(_MATCH_TABLE), np.uint8)  # what each byte becomes if kept
    word = out != 32  # bytes of letters and digits (a letter or digit never becomes a space)
    beyond = np.flatnonzero(data >= 0x80)
    if len(beyond) and not _match_beyond_ascii(data, offsets, beyond, word, out):
        return None
    # Words are runs of word bytes, cut where one text ends and the next begins.
    edge = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    inner = offsets[1:-1]
    inner = inner[(inner > 0) & (inner < len(data))]
    cut = inner[word[inner - 1] & word[inner]]
    if len(cut):
        edge[cut] = 2  # one word ends and the next starts here
        starts, ends = np.flatnonzero(edge > 0), np.flatnonzero((edge == -1) | (edge == 2))
    else:
        starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    token_offsets = np.searchsorted(starts, offsets)
    # Kept: every word byte, and the first byte after each word but a text's last (a space).
    follows = np.ones(len(starts), bool)
    follows[token_offsets[1:][token_offsets[1:] > token_offsets[:-1]] - 1] = False
    keep = word.copy()
    keep[ends[follows]] = True
    out = out[keep]
    # Word t, and the space after it if any, is out[bounds[t]:bounds[t + 1]].
    bounds = np.zeros(len(starts) + 1, np.int64)
    np.cumsum(ends - starts + follows, out=bounds[1:])
    data = pa.py_buffer(out)
    normalized = pa.StringArray.from_buffers(n, pa.py_buffer(bounds[token_offsets].astype(np.int32)), data)
    # A word and the space after it: dictionary-encoded as they are, trimmed once per distinct word.
    tokens = pa.StringArray.from_buffers(len(starts), pa.py_buffer(bounds.astype(np.int32)), data)
    return Words(normalized, token_offsets, tokens)


def distinct_chars(data: np.ndarray, offsets: np.ndarray, beyond: np.ndarray):
    """The characters of more than one byte of UTF-8 texts (`data`, cut at `offsets`; `beyond`: the
    positions of their bytes, ascending): (lead byte of each, its size in bytes, which distinct
    character it is, the distinct characters as a string array); None when the bytes are not
    valid UTF-8 or a character is cut by the end of its text."""
    first = data[beyond] >= 0xC0
    leads = beyond[first]
    lead_bytes = data[leads]
    if (lead_bytes >= 0xF8).any():
        return None
    size = 2 + (lead_bytes >= 0xE0) + (lead_bytes >= 0xF0)
    if int(size.sum()) != len(beyond):
        return None
    within = np.arange(len(beyond)) - np.repeat(np.cumsum(size) - size, size)
    if not np.array_equal(np.repeat(leads, size) + within, beyond):
        return None  # a lead byte not followed by its continuation bytes, or a stray one
    if not np.array_equal(np.searchsorted(offsets, leads, "right"), np.searchsorted(offsets, leads + size - 1, "right")):
        return None  # a character cut by the end of its text
    # Each character as up to four bytes in one integer, for finding the distinct ones.
    key = np.zeros(len(leads), np.uint32)
    for k in range(4):
        byte = np.where(k < size, data[np.minimum(leads + k, len(data) - 1)], 0).astype(np.uint32)
        key |= byte << np.uint32(24 - 8 * k)
    distinct, which = np.unique(key, return_inverse=True)
    distinct_size = 2 + (distinct >= 0xE0000000) + (distinct >= 0xF0000000)
    raw = distinct.astype(">u4").view(np.uint8).reshape(-1, 4)
    chars = raw[np.arange(4)[None, :] < distinct_size[:, None]]
    chars = pa.StringArray.from_buffers(len(distinct), pa.py_buffer(np.r_[0, np.cumsum(distinct_size)].astype(np.int32)),
                                        pa.py_buffer(chars))
    try:
        chars.validate(full=True)  # overlong forms, surrogates, beyond U+10FFFF
    except pa.ArrowInvalid:
        return None
    return leads, size, which, chars


def _match_beyond_ascii(data: np.ndarray, offsets: np.ndarray, beyond: np.ndarray, word: np.ndarray,
                        out: np.ndarray) -> bool:
    """Classify and lower-case, in place in `word` and `out`, the characters of more than one byte
    (`beyond`: the positions of their bytes), once per distinct character, with the Arrow kernels
    `_normalize_regex` uses; False when the bytes are not valid UTF-8 or a letter's lower case has
    another byte length."""
    found = distinct_chars(data, offsets, beyond)
    if found is None:
        return False
    leads, size, which, chars = found
    distinct_size = pc.binary_length(chars).to_numpy().astype(np.int64)
    lower = pc.utf8_lower(chars)
    is_word = pc.match_substring_regex(lower, r"[\pL\pN]").to_numpy(zero_copy_only=False)
    lower_size = pc.binary_length(lower).to_numpy().astype(np.int64)
    if (is_word & (lower_size != distinct_size)).any():
        return False
    _, lower_offsets, lower_data = lower.buffers()
    lower_offsets = np.frombuffer(lower_offsets, np.int32)[lower.offset : lower.offset + len(lower) + 1]
    lower_data = np.frombuffer(lower_data, np.uint8)
    hit = is_word[which]
    if hit.any():
        sizes = size[hit]
        k = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        at = np.repeat(leads[hit], sizes) + k
        word[at] = True
        out[at] = lower_data[np.repeat(lower_offsets[which[hit]], sizes) + k]
    return True


def hash_strings(values: pa.Array) -> np.ndarray:
    """Stable 64-bit hashes (fixed-key SipHash from pandas): equal across processes and runs."""
    import pandas as pd  # here, not at the top: a build without dedup or chrome lines never pays for it

    # As bytes: pandas hashes a str by its UTF-8 bytes, so the hashes are the same, and making
    # bytes objects skips decoding (about twice as fast for a batch's distinct words).
    if values.type in _AS_BYTES:
        values = values.cast(_AS_BYTES[values.type])
    return pd.util.hash_array(values.to_numpy(zero_copy_only=False), categorize=False)


_AS_BYTES = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}


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
        # Rows of numbers as one fixed-size binary value each (their bytes; `tasks.unpack_rows`
        # reads them back): Parquet writes and reads a list column element by element, with
        # levels, four times slower.
        if self.config.minhash:
            fields.append(pa.field("signature", pa.binary(4 * self.config.minhash.num_perm)))
        if self.lead_perms:
            fields.append(pa.field("lead", pa.binary(4 * self.lead_perms)))
        if self.anchor_words:
            fields.append(pa.field("anchors", pa.binary(8 * self.anchor_words)))
        fields.append(pa.field("keys", pa.binary(8 * self.width)))
        return pa.schema(fields)

    def __call__(self, table: pa.Table) -> pa.Table:
        n = len(table)
        words = match_words(table.column("text"))
        normalized = words.normalized
        exact = hash_strings(normalized).astype(np.uint64)
        ctx = edges.MapContext(n=n, exact=exact, table=table, shingles=np.zeros(n, np.int64), empty=words.empty)
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
            # Hashed once per distinct word (a token may carry the space after it: trimmed here).
            encoded = pc.dictionary_encode(words.tokens)
            word_hashes = hash_strings(pc.utf8_rtrim(encoded.dictionary, " "))[encoded.indices.to_numpy()]
            shingles, doc = minhash.shingle_hashes(word_hashes, words.offsets, mh.ngram)
            # The lead: wire copies are cut at the end, rarely at the start, so a copy that lost
            # half its story still shares its opening; a second index on it finds such copies.
            ctx.signature, ctx.lead_signature = minhash.signatures_and_leads(shingles, doc, n, mh.num_perm, mh.seed,
                                                                             edges.LEAD_SHINGLES)
            # Shingle counts stand in for set sizes in the containment estimate: a word 5-gram
            # rarely repeats within one article, and counting beats sorting every shingle.
            ctx.shingles = np.bincount(doc, minlength=n)
            ctx.shingle_hashes, ctx.shingle_doc = shingles, doc
            columns["signature"] = tasks.pack_rows(ctx.signature.astype(np.uint32, copy=False))
            if self.lead_perms:
                columns["lead"] = tasks.pack_rows(ctx.lead_signature[:, : self.lead_perms].astype(np.uint32, copy=False))
        columns["shingles"] = pa.array(ctx.shingles, pa.int32())
        ctx.opening = edges.opening_keys(ctx) if mh else np.zeros(n, np.uint64)
        columns["opening"] = pa.array(ctx.opening, pa.uint64())
        if self.anchor_words:
            # The opening sketches are MinHash over the same word 5-grams as the signature's.
            same = mh and mh.ngram == anchors.OPENING_NGRAM and ctx.shingle_hashes is not None
            ctx.anchors = anchors.anchor_bitmaps(table.column("text"), *((ctx.shingle_hashes, ctx.shingle_doc) if same else ()))
            columns["anchors"] = tasks.pack_rows(ctx.anchors.astype(np.uint64, copy=False))
        keys = [edges.producer(name).keys(ctx, self.config) for name, _ in self.layout]
        keys = np.concatenate(keys, axis=1) if keys else np.zeros((n, 0), np.uint64)
        if keys.shape[1] < self.width:
            keys = np.concatenate([keys, np.zeros((n, self.width - keys.shape[1]), np.uint64)], axis=1)
        columns["keys"] = tasks.pack_rows(keys.astype(np.uint64, copy=False))
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
    resumes_within = True
    #: Dictionaries only for the columns that repeat: on the hashes, signatures and keys Parquet's
    #: default dictionary is built and dropped for every column chunk, three quarters of writing
    #: the map's output (1.2 s of CPU at 100k benchmark pages; 0.36 s without). No compression:
    #: signatures, hashes and keys are random bits (Snappy won a sixth of a scratch file, for a
    #: quarter of its writing and reading time).
    summary_parquet = {"use_dictionary": ["source", "agency"], "compression": "none"}

    def __init__(self, config: DedupConfig, min_words: int = 0) -> None:
        self.config = config
        #: Documents with fewer words are dropped after dedup: they never survive a cluster.
        self.min_words = min_words
        self.features = DedupFeatures(config)
        self.decisions: pa.Table | None = None
        self._pending: tuple | None = None
        #: Steps of the reduce an unfinished run had finished, reused by this one (resume).
        self.phases_reused: tuple[str, ...] = ()
        #: Wall seconds of each step of the last reduce (stats.json's phase_seconds).
        self.step_seconds: dict[str, float] = {}
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
        # A killed build's resume continues after the last finished of these steps (the index's
        # reduce always runs whole: see pipeline._reduce_reusable).
        phases = Phases(model, enabled=not config.index, plan=f"{partitions} partitions, {total} documents")
        phases.run("scatter", lambda: executor.map(tasks.run_task, scatter), [model / "groups", bands])
        # 2. Per partition of the keys: candidate pairs, scattered by pair; per partition of the
        #    pairs: each distinct candidate verified once, by the first producer whose rule it passes.
        names = tuple(name for name, _ in self.features.layout)
        candidates = model / "candidates"
        pairs = [tasks.PairTask(p, tuple(str(f) for f in sorted((bands / f"p{p:05d}").glob("s*.parquet"))),
                                tuple(index.band_files(p)) if index else (), n_index, total, partitions,
                                str(candidates))
                 for p in range(partitions)]
        phases.run("pairs", lambda: executor.map(tasks.run_task, pairs), [candidates])
        verify = [tasks.VerifyTask(tuple(str(f) for f in sorted((candidates / f"q{q:05d}").glob("p*.parquet"))),
                                   store, config, names, str(model / "edges" / f"q{q:05d}.parquet"))
                  for q in range(partitions)]
        phases.run("verify", lambda: executor.map(tasks.run_task, verify), [model / "edges"])
        self.phases_reused = tuple(phases.reused)
        self.step_seconds = phases.seconds
        # 3. Clusters with survivors, decisions per shard, the summary.
        dedup_out = Path(output) / "dedup"
        clusters = tasks.ClusterTask(tuple(t.out for t in verify), store, config, names, n_index, str(model),
                                     str(dedup_out / "summary.json"), partitions, self.min_words)
        started = time.perf_counter()
        executor.map(tasks.run_task, [clusters])
        self.step_seconds["cluster"] = time.perf_counter() - started
        started = time.perf_counter()
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
        self.step_seconds["clusters file"] = time.perf_counter() - started
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

