"""Fragments in the dedup cluster step: a text held by a larger copy never survives it, and a
fragment that two different stories hold (the shared last sentences of two stories from one
mould) joins neither."""

from __future__ import annotations

import numpy as np

from builders.stages.dedup_reduce import AMBIGUOUS_JACCARD, fragments

THRESHOLD = 0.8


class FakeStore:
    """What `fragments` reads of the store: shingle counts and signatures by document number."""

    num_perm = 64

    def __init__(self, shingles: list[int], signatures: np.ndarray) -> None:
        self.shingles = np.array(shingles, np.int64)
        self.sigs = signatures

    def info(self, idx, column):
        assert column == "shingles"
        return self.shingles[idx]

    def signatures(self, idx):
        return self.sigs[idx]


def _signatures(groups: list[int], seed: int = 0) -> np.ndarray:
    """One random signature per group; documents of one group get the same one."""
    rng = np.random.default_rng(seed)
    distinct = rng.integers(0, 2**32, size=(max(groups) + 1, FakeStore.num_perm), dtype=np.uint32)
    return distinct[groups]


def _edges(*rows):
    a, b, sim = zip(*rows)
    return np.array(a, np.int64), np.array(b, np.int64), np.array(sim, np.float32)


def test_a_fragment_two_stories_hold_loses_its_links_to_both():
    # 0: story A, 1: story B (same mould, other names: signatures far apart), 2: F, their shared
    # last sentences; 3: a near copy of A; 4: G, a cut of A that A and its copy both hold.
    store = FakeStore([200, 200, 40, 200, 40], _signatures([0, 1, 2, 0, 3]))
    a, b, sim = _edges((0, 2, 0.2), (1, 2, 0.2), (0, 3, 0.9), (0, 4, 0.2), (3, 4, 0.2))
    found, drop = fragments(a, b, sim, store, THRESHOLD)
    assert found.tolist() == [2, 4]
    assert drop.tolist() == [True, True, False, False, False]  # F's links go; G's stay (one story holds it)


def test_holders_of_one_story_that_are_not_linked_keep_their_fragment():
    # A and B are two heavily edited copies of one story (no verified link between them, but
    # their signatures agree well above AMBIGUOUS_JACCARD): F stays their copy.
    sigs = _signatures([0, 0, 1])
    sigs[1, : FakeStore.num_perm // 2] += 1  # agree on half the permutations
    assert (sigs[0] == sigs[1]).mean() > AMBIGUOUS_JACCARD
    store = FakeStore([200, 200, 40], sigs)
    found, drop = fragments(*_edges((0, 2, 0.2), (1, 2, 0.2)), store, THRESHOLD)
    assert found.tolist() == [2] and not drop.any()


def test_near_copies_and_texts_of_like_size_are_no_fragments():
    store = FakeStore([100, 90, 100], _signatures([0, 0, 1]))
    found, drop = fragments(*_edges((0, 1, 0.95), (0, 2, 0.5)), store, THRESHOLD)
    assert found.tolist() == [] and not drop.any()  # 0.5 is weak, but 100 is under 1.5 times 100


def test_no_edges():
    none = np.empty(0, np.int64)
    found, drop = fragments(none, none, np.empty(0, np.float32),
                            FakeStore([], np.zeros((0, FakeStore.num_perm), np.uint32)), THRESHOLD)
    assert len(found) == 0 and len(drop) == 0
