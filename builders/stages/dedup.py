"""Dedup as map → reduce → apply: per-shard features, corpus-wide clusters, per-shard filtering.

map: per batch, the exact hash of the normalised text and MinHash LSH band hashes (Parquet).
reduce: group equal hashes and equal bands into edges, connected components into clusters, one
survivor per cluster by the keep rule; writes OUT/dedup/clusters.parquet and per-shard decisions.
apply: per shard, keep survivors and reject the other copies naming the copy they duplicate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders.config import DedupConfig
from builders.schema import ORD
from builders.stages.base import CorpusStep, Ledger
from builders.text import minhash

STAGE = "dedup"
EXACT, NEAR = "exact", "minhash"
REASONS = {EXACT: "exact_duplicate", NEAR: "near_duplicate"}

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("cluster", pa.string()),
        pa.field("kept", pa.bool_()),
        pa.field("method", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field("size", pa.int32()),
        pa.field(ORD, pa.int64()),
    ]
)


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

    def schema(self) -> pa.Schema:
        fields = [
            pa.field(ORD, pa.int64()),
            pa.field("id", pa.string()),
            pa.field("date", pa.timestamp("us", tz="UTC")),
            pa.field("length", pa.int64()),
            pa.field("exact", pa.uint64()),
        ]
        if self.config.minhash:
            fields += [
                pa.field("shingles", pa.int32()),
                pa.field("signature", pa.list_(pa.uint32(), self.config.minhash.num_perm)),
                pa.field("lead", pa.list_(pa.uint64(), candidate_params(self.config.minhash)[0])),
            ]
        return pa.schema(fields)

    def __call__(self, table: pa.Table) -> pa.Table:
        normalized = normalize_for_matching(table.column("text").combine_chunks())
        columns = {
            ORD: table.column(ORD),
            "id": table.column("id"),
            "date": table.column("date"),
            "length": pc.utf8_length(pc.fill_null(table.column("text"), "")).cast(pa.int64()),
            "exact": pa.array(hash_strings(normalized), pa.uint64()),
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
            sig = minhash.signatures(shingles, doc, len(table), mh.num_perm, mh.seed)
            # Shingle counts stand in for set sizes in the containment estimate: a word 5-gram
            # rarely repeats within one article, and counting beats sorting every shingle.
            columns["shingles"] = pa.array(np.bincount(doc, minlength=len(table)), pa.int32())
            columns["signature"] = pa.FixedSizeListArray.from_arrays(pa.array(sig.ravel(), pa.uint32()), mh.num_perm)
            # The lead: wire copies are cut at the end, rarely at the start, so a copy that lost
            # half its story still shares its opening; a second index on it finds such copies.
            first = np.searchsorted(doc, np.arange(len(table)))
            lead = np.arange(len(doc)) - first[doc] < LEAD_SHINGLES
            lead_sig = minhash.signatures(shingles[lead], doc[lead], len(table), mh.num_perm, mh.seed)
            bands, rows = candidate_params(mh)
            lead_keys = minhash.band_hashes(lead_sig, bands, rows)
            columns["lead"] = pa.FixedSizeListArray.from_arrays(pa.array(lead_keys.ravel(), pa.uint64()), bands)
        return pa.table(columns, schema=self.schema())


def _group_edges(keys: np.ndarray, valid: np.ndarray | None = None, chain: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Edges joining rows with equal keys: each row to the first (in row order) with its key, and
    with `chain` also to the one just before it, so verification has more than one way in."""
    rows = np.arange(len(keys)) if valid is None else np.flatnonzero(valid)
    if len(rows) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = rows[np.lexsort((rows, keys[rows]))]
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    head = order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
    link = ~starts
    src, dst = order[link], head[link]
    if chain:
        previous = np.r_[-1, order[:-1]]
        second = link & (previous != head)
        src, dst = np.r_[src, order[second]], np.r_[dst, previous[second]]
    return src, dst


#: LSH looks for candidates down to this fraction of the threshold; verification then decides.
CANDIDATE_FACTOR = 0.4
#: Shingles of a document's opening that the lead index covers (about its first 60 words).
LEAD_SHINGLES = 56
_EDGE_BLOCK = 1 << 18
_FOLD_BANDS = 8
#: Containment links need at least this fraction of the Jaccard threshold too.
CONTAINMENT_JACCARD_FLOOR = 0.5


def candidate_params(mh) -> tuple[int, int]:
    """LSH bands and rows for candidates: tuned for a threshold well below the one verified."""
    return minhash.lsh_params(mh.threshold * CANDIDATE_FACTOR, mh.num_perm)


def verify(sig: np.ndarray, sizes: np.ndarray, src: np.ndarray, dst: np.ndarray, threshold: float,
           containment: float | None) -> np.ndarray:
    """Which candidate pairs are copies, judged on their full signatures.

    A pair is a copy when its estimated Jaccard similarity reaches the threshold, or when the
    smaller document lies inside the larger one to at least `containment` (a truncated copy) and
    their Jaccard similarity is at least half the threshold: |A∩B| = J(|A|+|B|)/(1+J) from the
    Jaccard estimate J and the shingle counts.
    """
    keep = np.zeros(len(src), dtype=bool)
    for lo in range(0, len(src), _EDGE_BLOCK):
        a, b = src[lo : lo + _EDGE_BLOCK], dst[lo : lo + _EDGE_BLOCK]
        jaccard = (sig[a] == sig[b]).mean(axis=1)
        ok = jaccard >= threshold
        if containment is not None:
            size_a, size_b = sizes[a].astype(np.float64), sizes[b].astype(np.float64)
            common = jaccard * (size_a + size_b) / (1 + jaccard)
            contained = common / np.maximum(np.minimum(size_a, size_b), 1) >= containment
            # A short text inside a long one (a shared background paragraph) is not a copy of it:
            # a truncated copy keeps most of its original, so its Jaccard stays well above zero.
            ok |= contained & (jaccard >= threshold * CONTAINMENT_JACCARD_FLOOR)
        keep[lo : lo + _EDGE_BLOCK] = ok
    return keep


def reduce(features: pa.Table, config: DedupConfig) -> pa.Table:
    """Cluster all documents that reached dedup and choose one survivor per cluster.

    `features` may come in any order; results depend only on the documents' ordinals.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ords = features.column(ORD).to_numpy()
    if len(ords) > 1 and not (np.diff(ords) > 0).all():
        features = features.sort_by(ORD)  # shards arrive in order; anything else is sorted here
    n = features.num_rows
    if n == 0:
        return CLUSTERS_SCHEMA.empty_table()
    exact = features.column("exact").to_numpy()
    src, dst = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    if config.exact:
        a, b = _group_edges(exact)
        src.append(a), dst.append(b)
    mh = config.minhash
    if mh:
        sig = features.column("signature").combine_chunks().flatten().to_numpy().reshape(n, mh.num_perm)
        sizes = features.column("shingles").to_numpy()
        has = sizes > 0  # documents with no words have no signature: never let them meet in a band
        bands, rows = candidate_params(mh)
        band_keys = minhash.band_hashes(sig, bands, rows)
        lead_keys = features.column("lead").combine_chunks().flatten().to_numpy().reshape(n, bands)
        pairs, pending = np.empty(0, dtype=np.int64), []
        columns = [keys[:, j] for keys in (band_keys, lead_keys) for j in range(bands)]
        for k, column in enumerate(columns, 1):
            a, b = _group_edges(column, has, chain=True)
            pending.append(np.unique(np.minimum(a, b) * n + np.maximum(a, b)))
            # Most pairs repeat across bands: folding them in every few bands keeps memory near
            # the number of distinct pairs without re-sorting the whole set after every band.
            if k % _FOLD_BANDS == 0 or k == len(columns):
                pairs, pending = np.unique(np.concatenate([pairs, *pending])), []
        del band_keys, lead_keys, columns
        a, b = pairs // n, pairs % n
        ok = verify(sig, sizes, a, b, mh.threshold, mh.containment)
        src.append(a[ok]), dst.append(b[ok])
    src, dst = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=False)

    ords = features.column(ORD).to_numpy()
    if config.keep == "earliest":
        # Missing dates sort last: a copy with a date beats one without.
        key = features.column("date").cast(pa.int64()).fill_null(np.iinfo(np.int64).max).to_numpy()
    elif config.keep == "longest":
        key = -features.column("length").to_numpy()
    else:
        key = np.zeros(n, dtype=np.int64)
    order = np.lexsort((ords, key, component))
    first_of_component = np.r_[True, component[order][1:] != component[order][:-1]]
    survivor_of_component = np.empty(component.max() + 1, dtype=np.int64)
    survivor_of_component[component[order][first_of_component]] = order[first_of_component]
    survivor = survivor_of_component[component]
    size = np.bincount(component)[component]

    kept = survivor == np.arange(n)
    same_as_survivor = exact == exact[survivor]
    if config.exact:
        # A survivor's method is exact only when every member of its cluster is an exact copy.
        all_exact = np.ones(component.max() + 1, dtype=bool)
        np.logical_and.at(all_exact, component, same_as_survivor)
        member_method = np.where(same_as_survivor, EXACT, NEAR)
        method = np.where(kept, np.where(all_exact[component], EXACT, NEAR), member_method)
    else:
        method = np.full(n, NEAR, dtype=object)
    method = np.where(size > 1, method, None)

    ids = features.column("id").combine_chunks()
    survivor_ids = ids.take(pa.array(survivor))
    return pa.table(
        {
            "id": ids,
            "cluster": survivor_ids,
            "kept": pa.array(kept),
            "method": pa.array(method.tolist(), pa.string()),
            "duplicate_of": pc.if_else(pa.array(kept), pa.scalar(None, pa.string()), survivor_ids),
            "size": pa.array(size, pa.int32()),
            ORD: pa.array(ords, pa.int64()),
        },
        schema=CLUSTERS_SCHEMA,
    )


class Dedup(CorpusStep):
    """Exact and MinHash dedup as one corpus step: features per batch, clusters once, filter per shard."""

    stage = STAGE
    label = "dedup clusters"

    def __init__(self, config: DedupConfig) -> None:
        self.config = config
        self.features = DedupFeatures(config)
        self.decisions: pa.Table | None = None

    def map(self, table: pa.Table) -> pa.Table:
        return self.features(table)

    def reduce(self, summaries, model: Path, shards, output: Path) -> None:
        tables, owners = [], []
        for shard, path in summaries:
            table = pq.read_table(path)
            tables.append(table)
            owners.append(np.full(table.num_rows, shard, dtype=np.int64))
        features = pa.concat_tables(tables) if tables else self.features.schema().empty_table()
        # Which shard each document came from, by ordinal: its decisions go back to that shard.
        feature_ords = features.column(ORD).to_numpy()
        by_ord = np.argsort(feature_ords, kind="stable")
        sorted_ords = feature_ords[by_ord]
        sorted_owner = np.concatenate(owners)[by_ord] if owners else np.empty(0, np.int64)
        clusters = reduce(features, self.config)
        del features, tables, feature_ords
        (output / "dedup").mkdir(parents=True, exist_ok=True)
        pq.write_table(clusters.drop([ORD]), output / "dedup" / "clusters.parquet")
        # One decisions file per shard, so each apply task reads only its own rows.
        model.mkdir(parents=True, exist_ok=True)
        owner = sorted_owner[np.searchsorted(sorted_ords, clusters.column(ORD).to_numpy())]
        for shard in shards:
            pq.write_table(clusters.filter(pa.array(owner == shard)), model / f"decisions-{shard:05d}.parquet")

    def load(self, model: Path, shard: int) -> None:
        self.decisions = pq.read_table(model / f"decisions-{shard:05d}.parquet")

    def apply(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        """Drop every copy that is not its cluster's survivor, saying which one it copies."""
        joined = table.join(self.decisions.select([ORD, "kept", "method", "duplicate_of"]), ORD, join_type="left outer")
        joined = joined.sort_by(ORD)
        kept = pc.fill_null(joined.column("kept"), True)
        dropped = joined.filter(pc.invert(kept))
        if dropped.num_rows:
            reasons = pc.if_else(pc.equal(dropped.column("method"), EXACT), REASONS[EXACT], REASONS[NEAR])
            ledger.reject(STAGE, dropped, reasons, dropped.column("duplicate_of").combine_chunks())
        return joined.filter(kept).select(table.column_names)
