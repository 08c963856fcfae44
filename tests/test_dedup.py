"""Dedup map → reduce → apply on small tables: clusters, survivor rules, methods, reasons."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.config import DedupConfig
from builders.schema import CORE_SCHEMA, ORD
from builders.stages.base import Ledger
from builders.stages.dedup import Dedup, DedupFeatures, reduce
from conftest import article


def docs(rows):
    """rows: (id, text, day) in input order."""
    schema = CORE_SCHEMA.append(pa.field(ORD, pa.int64()))
    columns = {f.name: [None] * len(rows) for f in schema}  # every core column, null unless set here
    columns.update(id=[r[0] for r in rows], text=[r[1] for r in rows], **{ORD: list(range(len(rows)))},
                   date=[datetime(2020, 9, r[2], tzinfo=timezone.utc) if r[2] else None for r in rows])
    return pa.table(columns, schema=schema)


BASE = article(10, paragraphs=6)
NEAR = BASE.replace("council", "City Council", 1) + "\n\nAn editor's closing line."
OTHER = article(11, paragraphs=6)


def cluster(rows, **config):
    config = DedupConfig(**config)
    table = docs(rows)
    return table, reduce(DedupFeatures(config)(table), config).to_pylist()


def test_exact_and_near_copies_cluster_with_earliest_survivor():
    table, result = cluster([("a", NEAR, 5), ("b", BASE, 3), ("c", OTHER, 1), ("d", BASE.upper(), 4)])
    by_id = {r["id"]: r for r in result}
    assert by_id["b"]["kept"] and by_id["b"]["cluster"] == "b"
    assert by_id["a"]["cluster"] == "b" and not by_id["a"]["kept"] and by_id["a"]["method"] == "minhash"
    assert by_id["d"]["method"] == "exact"  # same words once case is normalised away
    assert by_id["b"]["method"] == "minhash"  # its cluster holds a near copy
    assert by_id["c"] == {**by_id["c"], "cluster": "c", "kept": True, "method": None, "size": 1}
    assert by_id["b"]["size"] == 3


@pytest.mark.parametrize(
    "keep, survivor", [("earliest", "b"), ("longest", "a"), ("first", "a")]
)
def test_keep_rules(keep, survivor):
    _, result = cluster([("a", NEAR, 5), ("b", BASE, 3), ("z", OTHER, None)], keep=keep)
    assert {r["id"] for r in result if r["kept"]} == {survivor, "z"}


def test_undated_copy_loses_to_dated_for_earliest():
    _, result = cluster([("a", BASE, None), ("b", BASE, 9)])
    assert [r["id"] for r in result if r["kept"]] == ["b"]


def test_switches():
    rows = [("a", NEAR, 5), ("b", BASE, 3), ("c", BASE, 4)]
    _, exact_only = cluster(rows, minhash=False)
    assert [r["kept"] for r in exact_only] == [True, True, False]
    _, near_only = cluster(rows, exact=False)
    assert [r["method"] for r in near_only] == ["minhash"] * 3 and sum(r["kept"] for r in near_only) == 1
    _, neither = cluster(rows, exact=False, minhash=False)
    assert all(r["kept"] and r["size"] == 1 for r in neither)


def test_threshold_decides():
    rows = [("a", BASE, 1), ("b", NEAR, 2)]
    assert sum(r["kept"] for r in cluster(rows, minhash={"threshold": 0.5})[1]) == 1
    assert sum(r["kept"] for r in cluster(rows, minhash={"threshold": 0.99, "containment": False, "lead": False})[1]) == 2


def test_truncated_copy_is_found_by_containment_not_by_jaccard():
    paragraphs = BASE.split("\n\n")
    truncated = "\n\n".join(paragraphs[:3])  # half the story: Jaccard about 0.5
    rows = [("full", BASE, 1), ("cut", truncated, 2), ("other", OTHER, 3)]
    with_containment = {r["id"]: r for r in cluster(rows)[1]}
    assert not with_containment["cut"]["kept"] and with_containment["cut"]["cluster"] == "full"
    assert with_containment["other"]["kept"]
    without = cluster(rows, minhash={"containment": False, "lead": False})[1]
    assert all(r["kept"] for r in without)


def test_a_follow_up_sharing_one_paragraph_is_not_a_copy():
    shared = BASE.split("\n\n")[0]
    follow_up = "\n\n".join([article(12, paragraphs=5), shared])
    assert all(r["kept"] for r in cluster([("a", BASE, 1), ("b", follow_up, 2)])[1])


def test_verify_on_hand_made_signatures():
    from builders.stages.dedup import verify
    import numpy as np

    sig = np.array([[1, 2, 3, 4], [1, 2, 3, 9], [1, 7, 8, 9]], dtype=np.uint32)
    sizes = np.array([100, 100, 10])
    src, dst = np.array([0, 0, 1]), np.array([1, 2, 2])
    # J(0,1) = 0.75. J(0,2) = 0.25 with sizes 100 and 10: |A∩B| = 0.25*110/1.25 = 22 > 10, so
    # contained, but 0.25 is under half the 0.7 threshold: a small text inside a big one is no copy.
    # J(1,2) = 0.5 with the same sizes: contained, and 0.5 >= 0.35, so a (truncated) copy.
    assert verify(sig, sizes, src, dst, 0.7, None).tolist() == [True, False, False]
    assert verify(sig, sizes, src, dst, 0.7, 0.9).tolist() == [True, False, True]


def test_empty_texts_never_meet_in_lsh():
    _, result = cluster([("a", "", 1), ("b", "", 2)], exact=False)
    assert all(r["kept"] for r in result)


def test_texts_with_no_words_are_not_exact_copies_of_each_other():
    # Junk pages reaching dedup without the clean stage (already-clean input): one cluster of every
    # empty page would cost precision quadratically and say nothing.
    _, result = cluster([("a", "", 1), ("b", " -- ", 2), ("c", None, 3), ("d", "Same words.", 4), ("e", "same words", 5)])
    by_id = {r["id"]: r for r in result}
    assert all(by_id[i]["kept"] and by_id[i]["size"] == 1 for i in "abc")
    assert by_id["e"]["duplicate_of"] == "d" and by_id["e"]["method"] == "exact"


def run_step(table, tmp_path, **config):
    """The corpus step as a build runs it: map, reduce in a folder, load, apply."""
    step = Dedup(DedupConfig(**config))
    pq.write_table(step.map(table), tmp_path / "summary.parquet")
    step.reduce([(0, tmp_path / "summary.parquet")], tmp_path / "model", [0], tmp_path / "out")
    step.load(tmp_path / "model", 0)
    ledger = Ledger()
    return step(table, ledger), ledger


def test_apply_rejects_copies_naming_their_survivor(tmp_path):
    table = docs([("a", NEAR, 5), ("b", BASE, 3), ("c", OTHER, 1), ("d", BASE, 4)])
    table = table.set_column(table.schema.get_field_index("source"), "source",
                             pa.array(["x.com", "y.com", "z.com", "w.com"]))
    kept, ledger = run_step(table, tmp_path)
    assert kept.column("id").to_pylist() == ["b", "c"]
    assert kept.schema == table.schema
    assert kept.column("copies").to_pylist() == [3, 1]
    assert kept.column("copy_sources").to_pylist() == [["w.com", "x.com"], []]
    rejected = {r["id"]: r for r in ledger.take_rejected().to_pylist()}
    assert rejected["a"]["reason"] == "near_duplicate" and rejected["a"]["duplicate_of"] == "b"
    assert rejected["d"]["reason"] == "exact_duplicate" and rejected["d"]["stage"] == "dedup"
    assert rejected["d"]["text"] == BASE
    assert dict(ledger.stage("dedup").dropped) == {"near_duplicate": 1, "exact_duplicate": 1}


def test_reduce_ignores_input_order():
    config = DedupConfig()
    table = docs([("a", NEAR, 5), ("b", BASE, 3), ("c", OTHER, 1), ("d", BASE, 4)])
    features = DedupFeatures(config)(table)
    shuffled = features.take(pa.array([2, 0, 3, 1]))
    assert reduce(features, config).equals(reduce(shuffled, config))


def test_a_copy_buried_in_chrome_is_found_by_its_opening_and_a_follow_up_opening_alike_is_not():
    """A short story whose page kept 200 words of teasers: Jaccard and containment fail, the
    opening matches. A follow-up that repeats only the parent's first paragraph stays apart."""
    story = article(20, paragraphs=2)
    buried = story + "\n\n" + article(21, paragraphs=5)
    follow_up = story.split("\n\n")[0] + "\n\n" + article(22, paragraphs=3)
    by_id = {r["id"]: r for r in cluster([("a", story, 1), ("b", buried, 2), ("c", follow_up, 3)])[1]}
    assert by_id["b"]["cluster"] == "a" and by_id["b"]["method"] == "lead"
    assert by_id["c"]["kept"] and by_id["c"]["size"] == 1
    assert all(r["kept"] for r in cluster([("a", story, 1), ("b", buried, 2)], minhash={"lead": False})[1])


def test_stories_that_only_open_with_the_same_paragraph_are_not_copies():
    """A long shared opening (over 60 words: the openings are identical) and nothing else alike:
    the lead producer also needs the whole texts to overlap."""
    opening = article(30, paragraphs=1, words=70)
    a = opening + "\n\n" + article(31, paragraphs=4)
    b = opening + "\n\n" + article(32, paragraphs=4)
    assert all(r["kept"] for r in cluster([("a", a, 1), ("b", b, 2)])[1])
