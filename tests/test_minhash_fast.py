"""The fast shingle and signature paths give bit-identical results to the straightforward ones they
replaced (kept here as references): unmasked n-gram windows with short documents fixed up, and
signatures in cache-sized blocks that cut documents anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from builders.text import minhash


def reference_shingle_hashes(token_hashes, offsets, ngram):
    """Every window masked at its document's end (the implementation before the fast path)."""
    token_hashes = np.asarray(token_hashes, dtype=np.uint64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_tokens = len(token_hashes)
    lengths = np.diff(offsets)
    doc_of_token = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    ends = np.repeat(offsets[1:], lengths)
    pos = np.arange(n_tokens, dtype=np.int64)
    padded = np.concatenate([token_hashes, np.zeros(ngram, dtype=np.uint64)])
    acc = np.zeros(n_tokens, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(ngram):
            part = padded[k : k + n_tokens] * minhash._POSITION_MULTIPLIERS[k]
            acc += np.where(pos + k < ends, part, np.uint64(0))
        acc = minhash._mix64(acc)
    starts = np.repeat(offsets[:-1], lengths)
    valid = (pos + ngram <= ends) | ((pos == starts) & (lengths[doc_of_token] < ngram))
    return (acc[valid] >> np.uint64(32)).astype(np.uint32), doc_of_token[valid]


def reference_signatures(hashes, doc_index, n_docs, num_perm, seed):
    """One document at a time: min over its shingles of a * fmix(h) + b (mod 2**32)."""
    _, fmix = minhash._datasketch()
    a, b = minhash.permutations(num_perm, seed)
    sig = np.full((n_docs, num_perm), minhash.MAX_HASH, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = fmix(np.asarray(hashes, dtype=np.uint32), 32)
        for d in np.unique(doc_index):
            values = np.multiply(a[:, None], mixed[None, doc_index == d]) + b[:, None]
            sig[d] = values.min(axis=1)
    return sig


def random_corpus(rng, n_docs, max_len, vocabulary=None):
    lengths = rng.integers(0, max_len, n_docs)
    lengths[: min(8, n_docs)] = [0, 1, 2, 3, 4, 5, 6, 0][: min(8, n_docs)]  # empty and short documents
    rng.shuffle(lengths)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    if vocabulary:
        tokens = rng.integers(0, vocabulary, offsets[-1]).astype(np.uint64)  # repeated words
    else:
        tokens = rng.integers(0, 2**63, offsets[-1], dtype=np.uint64)
    return tokens, offsets


@pytest.mark.parametrize("ngram", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_shingle_hashes_equal_reference(ngram, seed):
    rng = np.random.default_rng(seed)
    tokens, offsets = random_corpus(rng, 300, 40, vocabulary=50 if seed else None)
    got = minhash.shingle_hashes(tokens, offsets, ngram)
    want = reference_shingle_hashes(tokens, offsets, ngram)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("ngram", [1, 5])
def test_shingle_hashes_edge_cases(ngram):
    for lengths in ([], [0], [0, 0], [3], [ngram], [ngram + 1, 0, 1], [0, 2, 0, ngram, 0]):
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        tokens = np.arange(1, offsets[-1] + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        got = minhash.shingle_hashes(tokens, offsets, ngram)
        want = reference_shingle_hashes(tokens, offsets, ngram)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), lengths


@pytest.mark.parametrize("block_values", [256 * 64, 1 << 20])
def test_signatures_equal_reference_across_blocks(monkeypatch, block_values):
    """Blocks of 256 shingles cut documents (some longer than a block) at every place."""
    monkeypatch.setattr(minhash, "BLOCK_VALUES", block_values)
    rng = np.random.default_rng(3)
    tokens, offsets = random_corpus(rng, 120, 700)
    hashes, doc = minhash.shingle_hashes(tokens, offsets, 5)
    n = len(offsets) - 1
    for num_perm, seed in ((64, 1), (128, 7)):
        assert np.array_equal(minhash.signatures(hashes, doc, n, num_perm, seed),
                              reference_signatures(hashes, doc, n, num_perm, seed))
    # Lead-style subsets: documents missing in between keep the empty signature.
    some = doc % 3 == 0
    assert np.array_equal(minhash.signatures(hashes[some], doc[some], n, 64, 1),
                          reference_signatures(hashes[some], doc[some], n, 64, 1))


def test_signatures_of_nothing():
    sig = minhash.signatures(np.empty(0, np.uint32), np.empty(0, np.int64), 3, 16, 1)
    assert sig.shape == (3, 16) and (sig == minhash.MAX_HASH).all()
