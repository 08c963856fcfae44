"""Vectorised word-shingle hashing and MinHash signatures over many documents at once.

Signatures are bit-identical to `datasketch.MinHash(scheme="affine32")` fed the same shingle hashes:
the permutations and the pre-mix are datasketch's (its seeded generator and the MurmurHash3
finaliser, reproduced here so a worker does not import datasketch and scipy, 0.5-0.7 s each
time; tests/test_minhash_fast.py compares both with datasketch itself); what we add is doing a whole
batch of documents in a few numpy operations instead of one Python object and loop per document.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MAX_HASH = np.uint32(0xFFFFFFFF)
# Values (permutations x shingles) per block when applying permutations: a 4 MB uint32 buffer,
# reused, so the work stays in cache (a 32 MB block made signatures 3-4 times slower).
BLOCK_VALUES = 1 << 20

# Odd multipliers that make the n-gram hash depend on word order; fixed so every worker agrees.
_POSITION_MULTIPLIERS = np.random.Generator(np.random.PCG64(0x5EED)).integers(
    1, 1 << 63, size=1024, dtype=np.uint64
) | np.uint64(1)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, datasketch's pre-mix for affine32 (`datasketch.minhash._fmix`)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@lru_cache(maxsize=16)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) affine permutation parameters datasketch uses for this num_perm and seed
    (`MinHash._init_permutations` for affine32: odd a, any b, from RandomState(seed))."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads sums of products over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(token_hashes: np.ndarray, offsets: np.ndarray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every word n-gram of every document.

    token_hashes: uint64 hash of each token, all documents concatenated.
    offsets: int64, len n_docs + 1; document d owns tokens offsets[d]:offsets[d+1].
    Returns (shingle hash uint32, document index int64), in document order. A document shorter
    than `ngram` words gets one shingle of all its words; an empty document gets none.
    """
    if ngram > len(_POSITION_MULTIPLIERS):
        raise ValueError(f"ngram must be at most {len(_POSITION_MULTIPLIERS)}")
    token_hashes = np.asarray(token_hashes, dtype=np.uint64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_tokens = len(token_hashes)
    lengths = np.diff(offsets)
    # A full n-gram never reaches past its document's end, so full n-grams need no masking: the
    # windows of the whole concatenation are summed, and only windows that fit are kept.
    padded = np.concatenate([token_hashes, np.zeros(ngram, dtype=np.uint64)])
    with np.errstate(over="ignore"):
        acc = padded[:n_tokens] * _POSITION_MULTIPLIERS[0]
        for k in range(1, ngram):
            acc += padded[k : k + n_tokens] * _POSITION_MULTIPLIERS[k]
        # Window i fits when it ends inside its document: i + ngram <= end of the document of i.
        # Per document that is the run offsets[d] : offsets[d+1] - ngram + 1.
        fits = np.zeros(n_tokens + 1, dtype=np.int8)
        full = lengths >= ngram
        np.add.at(fits, offsets[:-1][full], 1)
        np.add.at(fits, offsets[1:][full] - ngram + 1, -1)
        valid = np.cumsum(fits[:n_tokens], dtype=np.int8).view(bool)
        # Documents shorter than the n-gram (but not empty): one shingle of all their words,
        # their first window with the words past the end left out.
        short = np.flatnonzero((lengths > 0) & ~full)
        if len(short):
            starts, short_lengths = offsets[short], lengths[short]
            fixed = np.zeros(len(short), dtype=np.uint64)
            for k in range(ngram - 1):
                take = k < short_lengths
                fixed += np.where(take, padded[np.minimum(starts + k, n_tokens)] * _POSITION_MULTIPLIERS[k], np.uint64(0))
            acc[starts] = fixed
            valid[starts] = True
        kept = _mix64(acc[valid])
    hashes = (kept >> np.uint64(32)).astype(np.uint32)
    counts = np.where(full, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    doc_index = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
    return hashes, doc_index


def signatures(hashes: np.ndarray, doc_index: np.ndarray, n_docs: int, num_perm: int, seed: int) -> np.ndarray:
    """MinHash signatures (n_docs x num_perm, uint32) from shingle hashes grouped by document.

    doc_index must be non-decreasing (shingles of one document contiguous). Documents with no
    shingles keep the all-max signature of an empty datasketch MinHash.
    """
    return signatures_and_leads(hashes, doc_index, n_docs, num_perm, seed)[0]


def signatures_and_leads(hashes: np.ndarray, doc_index: np.ndarray, n_docs: int, num_perm: int, seed: int,
                         lead: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """`signatures`, and with `lead` the signatures of each document's first `lead` shingles too
    (None without): equal to `signatures` of those shingles alone, from the same permuted values
    (a document's minimum is the lesser of its opening's and its rest's), so the opening costs a
    second small reduction instead of a second pass over its shingles."""
    a, b = permutations(num_perm, seed)
    a, b = a[:, None], b[:, None]
    hashes = np.asarray(hashes, dtype=np.uint32)
    doc_index = np.asarray(doc_index, dtype=np.int64)
    n = len(hashes)
    # Transposed (permutations x documents) while filling: the minima come out in that layout.
    sig = np.full((num_perm, n_docs), MAX_HASH, dtype=np.uint32)
    leads = np.full((num_perm, n_docs), MAX_HASH, dtype=np.uint32) if lead is not None else None
    if not n:
        return np.ascontiguousarray(sig.T), None if leads is None else np.ascontiguousarray(leads.T)
    # Where each document's shingles start; with `lead`, each document's rest (after its opening)
    # is a segment of its own.
    bounds = np.flatnonzero(np.r_[True, doc_index[1:] != doc_index[:-1]])
    owners = doc_index[bounds]
    segments = bounds
    if lead is not None:
        ends = np.r_[bounds[1:], n]
        rest = bounds + lead
        rest = rest[rest < ends]
        segments = np.union1d(bounds, rest)  # sorted, distinct
    mins = _segment_minima(hashes, segments, a, b)
    if lead is None:
        sig[:, owners] = mins
    else:
        first = np.searchsorted(segments, bounds)  # each document's first segment: its opening
        leads[:, owners] = mins[:, first]
        sig[:, owners] = mins[:, first] if len(first) == len(segments) else np.minimum.reduceat(mins, first, axis=1)
    return np.ascontiguousarray(sig.T), None if leads is None else np.ascontiguousarray(leads.T)


def _segment_minima(hashes: np.ndarray, segments: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(permutations x segments) minima of a * fmix(h) + b over each run of shingles that starts
    at `segments` (sorted, distinct, the first at 0) and runs to the next."""
    num_perm, n = len(a), len(hashes)
    out = np.empty((num_perm, len(segments)), dtype=np.uint32)
    block_shingles = max(256, BLOCK_VALUES // num_perm)
    block = np.empty((num_perm, min(n, block_shingles)), dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = _fmix32(hashes)
        for lo in range(0, n, block_shingles):
            hi = min(lo + block_shingles, n)
            # Permutations along rows and shingles along columns: reduceat then runs over
            # contiguous memory, about ten times faster than the transposed layout. One reused
            # buffer the size of a core's cache, not a fresh 32 MB matrix: the work is memory-bound.
            values = block[:, : hi - lo]
            np.multiply(a, mixed[None, lo:hi], out=values)
            np.add(values, b, out=values)
            first = np.searchsorted(segments, lo, side="right") - 1
            last = np.searchsorted(segments, hi, side="left")
            starts = segments[first:last] - lo
            continued = starts[0] < 0  # a segment continued from the previous block
            starts[0] = 0
            mins = np.minimum.reduceat(values, starts, axis=1)
            if continued:
                np.minimum(mins[:, 0], out[:, first], out=mins[:, 0])
            out[:, first:last] = mins
    return out


def agreeing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, how many columns of a and b are equal (int64): `(a == b).sum(axis=1)`, counted
    eight comparisons at a time (the booleans, one byte each, read as uint64 words: each word's set
    bits are its true bytes) when rows are whole words, about three times faster."""
    equal = np.equal(a, b)
    if equal.ndim == 2 and equal.shape[1] % 8 == 0 and equal.flags.c_contiguous:
        return np.bitwise_count(equal.view(np.uint64)).sum(axis=1, dtype=np.int64)
    return np.count_nonzero(equal, axis=1).astype(np.int64, copy=False)


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One uint64 hash per (document, band) of `rows` consecutive signature values."""
    if bands * rows > sig.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed {sig.shape[1]} permutations")
    acc = np.zeros((len(sig), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        # Every band at once, row by row: value j of band k is column k * rows + j.
        for j in range(rows):
            acc = _mix64(acc ^ (sig[:, j : bands * rows : rows].astype(np.uint64) * _POSITION_MULTIPLIERS[j]))
    return acc


#: Candidates whose exact error is this close to the least are settled by datasketch's own integrals.
_LSH_TIE_MARGIN = 1e-6


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising false positives + false negatives at this threshold, as datasketch does.

    datasketch integrates both probabilities with scipy's adaptive quadrature for every (bands,
    rows) pair, and importing it imports scipy (0.5 s in every worker process). Both integrands are
    polynomials of degree bands * rows <= num_perm, so a Gauss-Legendre rule of num_perm // 2 + 1
    points gives their integrals exactly, all pairs at once; the few pairs within
    _LSH_TIE_MARGIN of the least error (quad is accurate to ~1e-8), if more than one, are then
    compared with datasketch's own functions in its order, so the answer is always the one it gives.
    """
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    b = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    r = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, false_negative: bool) -> np.ndarray:
        s = lo + (hi - lo) * (nodes + 1) / 2
        hit = 1 - (1 - s[None, :] ** r) ** b  # probability that a pair of similarity s is a candidate
        return ((1 - hit) if false_negative else hit) @ (weights * (hi - lo) / 2)

    error = 0.5 * integral(0.0, threshold, False) + 0.5 * integral(threshold, 1.0, True)
    close = np.flatnonzero(error <= error.min() + _LSH_TIE_MARGIN)
    if len(close) == 1:
        return pairs[close[0]]
    from datasketch.lsh import _false_negative_probability, _false_positive_probability

    best, opt = float("inf"), (0, 0)
    for i in close:  # ascending, so in datasketch's order; strict < keeps its first minimum
        bands, rows = pairs[i]
        e = (_false_positive_probability(threshold, bands, rows) * 0.5
             + _false_negative_probability(threshold, bands, rows) * 0.5)
        if e < best:
            best, opt = e, (bands, rows)
    return opt
