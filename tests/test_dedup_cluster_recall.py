"""The cluster step's twice-corroborated members: a member every rule rejects against its survivor,
relaxed ones too, joins when at least two members that joined are verified copies of it, it was
verified a copy of nothing else, and it names what the survivor names (`verify_corroborated`).

The graph rules are checked on cluster() itself with a producer that verifies a given list of
pairs (no texts), the names check on real texts through the reduce."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from builders.config import DedupConfig
from builders.schema import CORE_SCHEMA, ORD
from builders.stages import dedup_edges as edges
from builders.stages.dedup import DedupFeatures, reduce
from builders.stages.dedup_reduce import Store, cluster


def table_producer(strict, relaxed=(), corroborated=()):
    """A producer verifying exactly the given pairs of node numbers (either way round)."""
    def pairs(p):
        return {tuple(sorted(x)) for x in p}

    strict, relaxed, corroborated = pairs(strict), pairs(strict) | pairs(relaxed), pairs(corroborated)

    def judge(allowed, view, a, b):
        docs = view.docs if hasattr(view, "docs") else None
        a = docs[a] if docs is not None else a
        b = docs[b] if docs is not None else b
        ok = np.array([tuple(sorted((int(x), int(y)))) in allowed for x, y in zip(a, b)], bool)
        return np.where(ok, 0.5, np.nan).astype(np.float32)

    class Table(edges.VerifyOnly):
        name = "test-table"

        @staticmethod
        def enabled(config):
            return False

        @staticmethod
        def verify(store, a, b, config):
            return judge(strict, store, a, b)

        @classmethod
        def verify_relaxed(cls, store, a, b, config):
            return judge(relaxed, store, a, b)

        @classmethod
        def verify_corroborated(cls, store, a, b, config):
            return judge(corroborated, store, a, b)

    return Table


def run_cluster(monkeypatch, m, strict, relaxed=(), corroborated=()):
    """cluster() of m nodes (priority: node order) with the strict pairs as edges."""
    monkeypatch.setitem(edges.PRODUCERS, "test-table", table_producer(strict, relaxed, corroborated))
    ea = np.array([min(p) for p in strict], np.int64)
    eb = np.array([max(p) for p in strict], np.int64)
    index = np.arange(m)
    survivor, similarity, method = cluster(m, ea, eb, index, np.ones(m, bool), index, Store((), None),
                                           DedupConfig(), ("test-table",))
    return survivor.tolist()


# S = 0 survives (first by priority); B1 = 1 and B2 = 2 are its verified copies; C = 3 copies B1
# and B2 and fails every rule against S, the relaxed ones too.
SQUARE = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]


def test_a_member_two_joined_members_verify_joins_when_it_names_what_the_survivor_names(monkeypatch):
    assert run_cluster(monkeypatch, 4, SQUARE, corroborated=[(0, 3)]) == [0, 0, 0, 0]


def test_it_stays_out_when_it_names_other_things(monkeypatch):
    assert run_cluster(monkeypatch, 4, SQUARE) == [0, 0, 0, 3]


def test_one_corroborating_member_is_not_enough(monkeypatch):
    """A~B~C between two stories: C, a copy of B only, never joins A's cluster through B."""
    assert run_cluster(monkeypatch, 3, [(0, 1), (1, 2)], corroborated=[(0, 2)]) == [0, 0, 2]


def test_a_member_that_copies_a_document_outside_the_cluster_stays_out(monkeypatch):
    """C also copies D = 4, which S rejects: C may be D's story, so C and D cluster together."""
    strict = SQUARE + [(3, 4)]
    assert run_cluster(monkeypatch, 5, strict, corroborated=[(0, 3), (0, 4)]) == [0, 0, 0, 3, 3]


def test_two_rejected_copies_of_each_other_cluster_apart(monkeypatch):
    """C and E copy B1, B2 and each other: each copies a document outside S's cluster (the other),
    so neither joins it; they make a cluster of their own, as before."""
    strict = SQUARE + [(3, 4), (1, 4), (2, 4)]
    assert run_cluster(monkeypatch, 5, strict, corroborated=[(0, 3), (0, 4)]) == [0, 0, 0, 3, 3]


def test_relaxed_rules_are_tried_first(monkeypatch):
    """A member that passes the relaxed rule joins by it, whatever verify_corroborated says."""
    assert run_cluster(monkeypatch, 4, SQUARE, relaxed=[(0, 3)]) == [0, 0, 0, 0]


NAMES = ["Castlemoor", "Moreau", "1,200", "Birchfield", "Okafor", "Tdiemouth", "Halvorsen", "2,750", "Quenby",
         "Lindqvist", "Marrowby", "38", "Pellegrini", "Ashcombe", "Vasquez", "Reuters", "Dunmore", "415",
         "Kowalczyk", "Fernhill", "Abernethy", "6,300", "Sorensen", "Wexcombe"]
OTHER_NAMES = ["Eastwold", "Nakamura", "900"]


def named(seed: int, names: list[str]) -> str:
    """A 40-word paragraph with `names` in mid-sentence (anchors)."""
    from conftest import article

    words = article(seed, paragraphs=1).rstrip(".").split()
    for i, name in enumerate(names):
        words.insert(5 + 10 * i, name)
    return " ".join(words) + "."


def docs(rows):
    schema = CORE_SCHEMA.append(pa.field(ORD, pa.int64()))
    columns = {f.name: [None] * len(rows) for f in schema}
    columns.update(id=[r[0] for r in rows], text=[r[1] for r in rows], **{ORD: list(range(len(rows)))},
                   date=[datetime(2020, 9, r[2], tzinfo=timezone.utc) for r in rows])
    return pa.table(columns, schema=schema)


def story(lead_names):
    """S, the earliest, a copy cut after its first paragraph and a half; B1 and B2, whole copies;
    C, the story with its lead reworded (naming `lead_names`)."""
    paragraphs = [named(200 + i, NAMES[3 * i : 3 * i + 3]) for i in range(8)]
    s = paragraphs[0] + "\n\n" + " ".join(paragraphs[1].split()[:15]) + "."
    b1 = "\n\n".join(paragraphs)
    b2 = b1 + "\n\nReporting by the wire's correspondent in the region, with local staff."
    c = "\n\n".join([named(300, lead_names)] + paragraphs[1:])
    return [("s", s, 1), ("b1", b1, 2), ("b2", b2, 3), ("c", c, 4)]


def clusters(rows, monkeypatch=None, corroborations=None):
    if corroborations is not None:
        monkeypatch.setattr(edges, "CORROBORATIONS", corroborations)
    config = DedupConfig()
    return {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config).to_pylist()}


def test_a_reworded_copy_that_its_cut_survivor_rejects_joins_through_two_whole_copies(monkeypatch):
    rows = story(NAMES[:3])
    alone = clusters(rows, monkeypatch, corroborations=99)
    assert [alone[k]["cluster"] for k in ("b1", "b2")] == ["s", "s"], "B1 and B2 are copies of S"
    assert alone["c"]["kept"], "the test needs a C that every rule rejects against S, relaxed ones too"
    monkeypatch.undo()
    result = clusters(rows)
    assert result["c"]["cluster"] == "s" and not result["c"]["kept"]
    assert result["c"]["method"] == "anchored" and result["s"]["size"] == 4
    assert 0 <= result["c"]["similarity"] < 0.4


def test_a_copy_naming_what_its_survivor_does_not_stays_apart():
    rows = story(OTHER_NAMES)
    for b in (rows[1], rows[2]):
        assert clusters([b, rows[3]])["c"]["cluster"] == b[0], "C is a copy of B1 and of B2"
    result = clusters(rows)
    assert [result[k]["cluster"] for k in ("b1", "b2")] == ["s", "s"]
    assert result["c"]["kept"] and result["c"]["size"] == 1
