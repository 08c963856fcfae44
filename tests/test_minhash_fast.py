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
    from datasketch import MinHash
    from datasketch.minhash import _fmix

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    sig = np.full((n_docs, num_perm), minhash.MAX_HASH, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = _fmix(np.asarray(hashes, dtype=np.uint32), 32)
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


@pytest.mark.parametrize("block_values", [256 * 64, 1 << 20])
@pytest.mark.parametrize("lead", [1, 56, 300])
def test_lead_signatures_equal_signatures_of_the_openings(monkeypatch, block_values, lead):
    """The openings' signatures, taken from the whole texts' permuted values, equal the signatures
    of each document's first `lead` shingles alone (as the map computed them before), across
    blocks that cut documents and openings anywhere; the whole signatures are unchanged."""
    monkeypatch.setattr(minhash, "BLOCK_VALUES", block_values)
    rng = np.random.default_rng(lead)
    tokens, offsets = random_corpus(rng, 60, 700)
    hashes, doc = minhash.shingle_hashes(tokens, offsets, 5)
    n = len(offsets) - 1
    first = np.searchsorted(doc, np.arange(n))
    opening = np.arange(len(doc)) - first[doc] < lead
    for num_perm, seed in ((64, 1), (128, 7)):
        sig, leads = minhash.signatures_and_leads(hashes, doc, n, num_perm, seed, lead)
        assert np.array_equal(sig, reference_signatures(hashes, doc, n, num_perm, seed))
        assert np.array_equal(leads, reference_signatures(hashes[opening], doc[opening], n, num_perm, seed))
        assert sig.flags.c_contiguous and leads.flags.c_contiguous
    empty = minhash.signatures_and_leads(np.empty(0, np.uint32), np.empty(0, np.int64), 3, 16, 1, lead)
    assert all(s.shape == (3, 16) and (s == minhash.MAX_HASH).all() for s in empty)


def reference_band_hashes(sig, bands, rows):
    """Band by band, column by column (the implementation before every band at once)."""
    out = np.empty((len(sig), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            acc = np.zeros(len(sig), dtype=np.uint64)
            for j in range(rows):
                acc = minhash._mix64(acc ^ (sig[:, band * rows + j].astype(np.uint64) * minhash._POSITION_MULTIPLIERS[j]))
            out[:, band] = acc
    return out


@pytest.mark.parametrize("bands, rows", [(30, 3), (1, 128), (9, 13), (128, 1)])
def test_band_hashes_equal_reference(bands, rows):
    sig = np.random.default_rng(bands).integers(0, 2**32, (50, 128), dtype=np.uint64).astype(np.uint32)
    assert np.array_equal(minhash.band_hashes(sig, bands, rows), reference_band_hashes(sig, bands, rows))


def test_signatures_of_nothing():
    sig = minhash.signatures(np.empty(0, np.uint32), np.empty(0, np.int64), 3, 16, 1)
    assert sig.shape == (3, 16) and (sig == minhash.MAX_HASH).all()


@pytest.mark.parametrize("num_perm, thresholds", [
    (16, (0.05, 0.3, 0.5, 0.9)),
    (64, (0.1, 0.25, 0.32, 0.5, 0.7, 0.95)),
    (128, (0.2, 0.32, 0.4, 0.6, 0.8, 0.9)),
    (256, (0.32, 0.8)),
])
def test_lsh_params_equal_datasketch(num_perm, thresholds):
    """Exact Gauss-Legendre integrals, with near-ties settled by datasketch's own quadrature."""
    from datasketch.lsh import _optimal_param

    for threshold in thresholds:
        minhash.lsh_params.cache_clear()
        assert minhash.lsh_params(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5), threshold


@pytest.mark.parametrize("num_perm, seed", [(1, 0), (64, 3), (128, 1), (256, 12345)])
def test_permutations_equal_datasketch(num_perm, seed):
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    ours = minhash.permutations(num_perm, seed)
    assert ours[0].dtype == ours[1].dtype == np.uint32
    assert np.array_equal(ours[0], a) and np.array_equal(ours[1], b)


def test_premix_equals_datasketch():
    from datasketch.minhash import _fmix

    h = np.random.default_rng(5).integers(0, 2**32, 10_000, dtype=np.uint64).astype(np.uint32)
    h[:3] = [0, 1, 2**32 - 1]
    assert np.array_equal(minhash._fmix32(h), _fmix(h, 32))


def test_a_worker_does_not_import_datasketch():
    """Signatures, bands and the default LSH parameters without datasketch and scipy (0.5 s a process)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from builders.text import minhash;"
            "h, d = minhash.shingle_hashes(np.arange(1, 50, dtype=np.uint64), np.array([0, 20, 49]), 5);"
            "s = minhash.signatures(h, d, 2, 128, 1); minhash.band_hashes(s, *minhash.lsh_params(0.32, 128));"
            "minhash.lsh_params(0.8, 128);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('datasketch', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
