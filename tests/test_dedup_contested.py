"""Contested members in the dedup cluster step: a member that joined its survivor by a rule but
is held clearly more by a document that survivor rejected (a one-paragraph copy of story B that
story A, of the same mould, also nearly holds) is taken back and clusters with B's copies.

Checked on cluster() itself: a producer that verifies a given list of pairs (no texts) and a
store whose signatures agree on chosen shares of permutations."""

from __future__ import annotations

import numpy as np

from builders.config import DedupConfig
from builders.stages import dedup_edges as edges
from builders.stages.dedup_reduce import CONTESTED_MARGIN, cluster, contested

from test_dedup_cluster_recall import table_producer

PERMS = 64


class View:
    def __init__(self, docs):
        self.docs = np.asarray(docs, np.int64)

    def local(self, idx):
        return np.searchsorted(self.docs, np.asarray(idx, np.int64))

    def pairs(self, a, b):
        pass  # the real view memoises what several rules ask of these pairs; the table producer asks nothing


class FakeStore:
    """Shingle counts and signatures by document number; what cluster() and contested() read."""

    num_perm = PERMS
    anchor_words = 0  # no anchors kept: names checks pass

    def __init__(self, shingles, signatures):
        self.shingles, self.sigs = np.asarray(shingles, np.int64), signatures

    def info(self, idx, column):
        assert column == "shingles"
        return self.shingles[np.asarray(idx, np.int64)]

    def signatures(self, idx):
        return self.sigs[np.asarray(idx, np.int64)]

    def view(self, docs):
        return View(docs)


# 0: A, the first story (survives); 1: a copy of A; 2: M, B's first paragraph alone; 3: B, a later
# story of A's mould; 4: a copy of B. Verified: A~copy, M~A (by a rule: A holds a reworded M),
# M~B, M~copy of B, B~copy of B; never A~B.
EDGES = [(0, 1), (0, 2), (2, 3), (2, 4), (3, 4)]
SHINGLES = [200, 200, 40, 200, 200]


def store(m_agrees_with_a: int, m_agrees_with_b: int) -> FakeStore:
    rng = np.random.default_rng(7)
    sigs = rng.integers(0, 2**32, size=(5, PERMS), dtype=np.uint32)
    sigs[1] = sigs[0]
    sigs[4] = sigs[3]
    sigs[2, :m_agrees_with_b] = sigs[3, :m_agrees_with_b]
    sigs[2, PERMS - m_agrees_with_a:] = sigs[0, PERMS - m_agrees_with_a:]
    return FakeStore(SHINGLES, sigs)


def run(monkeypatch, fake: FakeStore) -> list[int]:
    monkeypatch.setitem(edges.PRODUCERS, "test-table", table_producer(EDGES))
    ea = np.array([a for a, _ in EDGES], np.int64)
    eb = np.array([b for _, b in EDGES], np.int64)
    priority = np.array([0, 1, 4, 2, 3])  # M, a fragment, ranks after the stories that hold it
    m = 5
    survivor, _, _ = cluster(m, ea, eb, priority, np.ones(m, bool), np.arange(m), fake, DedupConfig(),
                             ("test-table",))
    return survivor.tolist()


def containment(agree: int, small: int = 40, large: int = 200) -> float:
    j = agree / PERMS
    return j * (small + large) / (1 + j) / small


def test_a_member_held_whole_by_a_rejected_story_goes_to_that_story(monkeypatch):
    # M inside B whole (Jaccard 40/200: 13 of 64 permutations), inside A to about 0.6 (7 of 64).
    assert containment(13) - containment(7) > CONTESTED_MARGIN
    assert run(monkeypatch, store(7, 13)) == [0, 0, 3, 3, 3]


def test_a_member_about_as_close_to_both_stays_with_the_first_survivor(monkeypatch):
    assert containment(13) - containment(12) < CONTESTED_MARGIN
    assert run(monkeypatch, store(12, 13)) == [0, 0, 0, 3, 3]


def test_without_signatures_nothing_is_contested():
    # Exact-only dedup keeps no signatures: contested() has nothing to judge by.
    class NoSignatures(FakeStore):
        num_perm = None

    members, heads = np.array([1, 2, 3]), np.array([0, 0, 0])
    x, y = np.array([0, 0, 2]), np.array([1, 2, 3])
    joined = np.array([True, True, False])
    fake = NoSignatures(SHINGLES[:4], np.zeros((4, PERMS), np.uint32))
    assert not contested(members, heads, joined, x, y, np.arange(4), fake, 4).any()


def test_only_joined_members_linked_to_a_rejected_document_are_judged():
    fake = store(7, 13)
    members, heads = np.array([1, 2, 3, 4]), np.array([0, 0, 0, 0])
    x, y = np.array(EDGES)[:, 0], np.array(EDGES)[:, 1]
    joined = np.array([True, True, False, False])
    assert contested(members, heads, joined, x, y, np.arange(5), fake, 5).tolist() == [False, True, False, False]
    # When B and its copy joined too, nothing was rejected: M stays.
    assert not contested(members, heads, np.ones(4, bool), x, y, np.arange(5), fake, 5).any()


class AnchorStore:
    """Anchor records by document number, with chosen anchor bits set."""

    def __init__(self, bits: list[list[int]]):
        from builders.text import anchors

        self.anchor_words = anchors.WORDS
        self.records = np.zeros((len(bits), anchors.WORDS), np.uint64)
        for row, on in enumerate(bits):
            for bit in on:
                self.records[row, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)

    def anchors(self, idx):
        return self.records[np.asarray(idx, np.int64)]


def test_a_relaxed_member_naming_what_its_survivor_lacks_shares_three_anchors():
    # Survivor 0 names anchors 1-5. Member 1 shares two and names one more (a figure of its own):
    # two stories of one mould about one place. Member 2 shares three and names one more; member
    # 3 shares two and names nothing else; member 4 shares nothing and names nothing.
    fake = AnchorStore([[1, 2, 3, 4, 5], [1, 2, 70], [1, 2, 3, 70], [1, 2], []])
    ok = edges.names_what_it_joins(fake, np.array([1, 2, 3, 4]), np.zeros(4, np.int64))
    assert ok.tolist() == [False, True, True, True]
    assert edges.RELAXED_ANCHORS_SHARED == 3


def test_without_anchors_every_relaxed_member_names_what_it_joins():
    fake = AnchorStore([[1], [70]])
    fake.anchor_words = 0
    assert edges.names_what_it_joins(fake, np.array([1]), np.array([0])).tolist() == [True]
