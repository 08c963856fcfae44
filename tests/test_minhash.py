"""Vectorised MinHash: identical to datasketch on the same shingles, and stable across processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from datasketch import MinHash

from builders.text import minhash


def test_datasketch_private_helpers_still_exist():
    import datasketch.lsh
    import datasketch.minhash

    assert callable(datasketch.lsh._optimal_param)
    assert callable(datasketch.minhash._fmix)
    assert minhash.lsh_params(0.8, 128) == datasketch.lsh._optimal_param(0.8, 128, 0.5, 0.5)


def test_signatures_equal_datasketch():
    rng = np.random.default_rng(7)
    lengths = rng.integers(0, 300, 60)
    lengths[[3, 4]] = [0, 2]  # an empty document and one shorter than the n-gram
    offsets = np.r_[0, np.cumsum(lengths)]
    tokens = rng.integers(0, 2**63, offsets[-1], dtype=np.uint64)
    hashes, doc = minhash.shingle_hashes(tokens, offsets, 5)
    sig = minhash.signatures(hashes, doc, len(lengths), 64, 3)
    for d in range(len(lengths)):
        reference = MinHash(num_perm=64, seed=3, hashfunc=lambda x: x)
        reference.update_batch(hashes[doc == d])
        assert np.array_equal(reference.hashvalues, sig[d]), d
    counts = np.bincount(doc, minlength=len(lengths))
    assert counts[3] == 0 and counts[4] == 1
    assert np.array_equal(counts[lengths >= 5], lengths[lengths >= 5] - 4)


def test_shingles_depend_on_word_order_and_document():
    offsets = np.array([0, 5, 10])
    tokens = np.array([1, 2, 3, 4, 5, 5, 4, 3, 2, 1], dtype=np.uint64)
    hashes, doc = minhash.shingle_hashes(tokens, offsets, 5)
    assert doc.tolist() == [0, 1] and hashes[0] != hashes[1]


def test_jaccard_estimate_tracks_overlap():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2**63, 2000, dtype=np.uint64)
    other = base.copy()
    other[1500:] = rng.integers(0, 2**63, 500, dtype=np.uint64)
    tokens = np.concatenate([base, other])
    hashes, doc = minhash.shingle_hashes(tokens, np.array([0, 2000, 4000]), 1)
    sig = minhash.signatures(hashes, doc, 2, 256, 1)
    estimate = (sig[0] == sig[1]).mean()
    assert abs(estimate - 1500 / 2500) < 0.08


def test_hashes_are_the_same_in_another_process():
    code = (
        "import numpy as np, pyarrow as pa; from builders.stages.dedup import hash_strings;"
        "print(hash_strings(pa.array(['alpha', 'beta gamma'])).tolist())"
    )
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1


def test_string_hashes_are_pandas_hashes_of_the_strings():
    """hash_strings hashes the UTF-8 bytes (faster): the same values as pandas' hash of the str
    objects, which every dedup index and chrome model was made with; nulls too."""
    import pandas as pd
    import pyarrow as pa

    from builders.stages.dedup import hash_strings

    values = ["alpha", "", None, "beta gamma", "café", "日本語", "😀 x", "a\x00b"]
    want = pd.util.hash_array(np.array(values, dtype=object), categorize=False)
    for array in (pa.array(values, pa.string()), pa.array(values, pa.large_string()),
                  pa.chunked_array([values[:3], values[3:]], pa.string())):
        assert np.array_equal(hash_strings(array), want)
    assert hash_strings(pa.array(["alpha", "beta gamma"])).tolist() == [3353919139673093786, 17485386553126104052]
