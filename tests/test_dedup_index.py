"""Incremental refresh (`dedup.index`): A then B against A's index is A+B at once, published once."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from builders.config import load_config
from builders.errors import BuildError
from builders.pipeline import run_build
from conftest import wire_dump, write_config, write_jsonl


def _split_dump(tmp_path):
    """Stories 0-5, five copies each (copy c dated 2020-09-1c): A holds copies 0-1 of stories
    0-3, B the rest; A+B holds both, A's file first."""
    records = [r for r in wire_dump(tmp_path / "all", stories=6, copies=4, files=1) if r["story"] >= 0]
    in_a = [r for r in records if r["story"] < 4 and int(r["id"].split("-c")[1]) < 2]
    in_b = [r for r in records if r not in in_a]
    write_jsonl(tmp_path / "a" / "raw" / "a.jsonl.gz", in_a)
    write_jsonl(tmp_path / "b" / "raw" / "b.jsonl.gz", in_b)
    write_jsonl(tmp_path / "ab" / "raw" / "a.jsonl.gz", in_a)
    write_jsonl(tmp_path / "ab" / "raw" / "b.jsonl.gz", in_b)
    return in_a, in_b


def _build(folder, *overrides):
    config = load_config(write_config(folder), ["publish.formats=[parquet]", "executor.workers=1", *overrides])
    run_build(config)
    out = folder / "out"
    clusters = {r["id"]: r for r in pq.read_table(out / "dedup" / "clusters.parquet").to_pylist()}
    published = set(pq.read_table(out / "data", columns=["id"]).column("id").to_pylist())
    rejected = {r["id"]: r for r in pq.read_table(out / "rejected").to_pylist()} if (out / "rejected").exists() else {}
    return clusters, published, rejected


def test_a_then_b_against_the_index_is_a_plus_b_at_once(tmp_path):
    in_a, in_b = _split_dump(tmp_path)
    index = tmp_path / "index"
    story = {r["id"]: r["story"] for r in in_a + in_b}
    clusters_a, published_a, _ = _build(tmp_path / "a", f"dedup.index={index}")
    manifest = json.loads((index / "manifest.json").read_text())
    assert [sum(g["rows"] for g in gen["groups"]) for gen in manifest["generations"]] == [len(published_a)]
    clusters_b, published_b, rejected_b = _build(tmp_path / "b", f"dedup.index={index}")
    clusters_ab, published_ab, _ = _build(tmp_path / "ab")

    assert published_a | published_b == published_ab
    stories_a, stories_b = {story[i] for i in published_a}, {story[i] for i in published_b}
    assert not stories_a & stories_b, "a story published in both releases"
    assert stories_a | stories_b == set(range(6))
    for doc, row in {**clusters_a, **clusters_b}.items():
        assert row["cluster"] == clusters_ab[doc]["cluster"], doc
    # B's copies of A's stories name the indexed copy they duplicate.
    copy = rejected_b["s0-c2"]
    assert copy["reason"] == "published_duplicate" and copy["duplicate_of"] == "s0-c0"
    assert clusters_b["s0-c2"]["duplicate_of"] == "s0-c0" and not clusters_b["s0-c2"]["kept"]
    manifest = json.loads((index / "manifest.json").read_text())
    assert [sum(g["rows"] for g in gen["groups"]) for gen in manifest["generations"]] == \
        [len(published_a), len(published_b)]
    assert not list(index.glob(".pending-*"))


def test_the_index_refuses_another_hash_configuration(tmp_path):
    _split_dump(tmp_path)
    index = tmp_path / "index"
    _build(tmp_path / "a", f"dedup.index={index}")
    before = (index / "manifest.json").read_text()
    with pytest.raises(BuildError) as caught:
        _build(tmp_path / "b", f"dedup.index={index}", "dedup.minhash.num_perm=64")
    message = str(caught.value)
    assert "\n" not in message and "num_perm=128 (this build: 64)" in message
    assert (index / "manifest.json").read_text() == before
    assert not (tmp_path / "b" / "out").exists()


def test_a_failed_build_appends_nothing(tmp_path):
    in_a, _ = _split_dump(tmp_path)
    index = tmp_path / "index"
    _build(tmp_path / "a", f"dedup.index={index}")
    before = (index / "manifest.json").read_text()
    # Every page of this build copies an indexed one: nothing is published, the build fails.
    write_jsonl(tmp_path / "again" / "raw" / "a.jsonl.gz", in_a)
    with pytest.raises(BuildError, match="nothing published"):
        _build(tmp_path / "again", f"dedup.index={index}")
    assert (index / "manifest.json").read_text() == before
    assert not list(index.glob(".pending-*")) and not (index / "gen-00001").exists()


def test_cli_reports_a_refused_index_in_one_line(tmp_path, capsys):
    from builders.cli import main

    _split_dump(tmp_path)
    index = tmp_path / "index"
    (index).mkdir()
    (index / "manifest.json").write_text("{not json")
    code = main(["build", str(write_config(tmp_path / "b")), "--set", f"dedup.index={index}", "--set", "executor.workers=1"])
    err = capsys.readouterr().err
    assert code != 0 and "dedup.index" in err and "Traceback" not in err


def test_an_indexed_copy_survives_for_what_another_indexed_survivor_rejects(tmp_path):
    """Indexed S0 and S2 (different enough to both be published) are bridged by a new S1; the
    new exact copy of S2 is not verified against S0, the component's first survivor, and must
    then meet S2 in the next round rather than be published again."""
    from conftest import article

    p = article(60, paragraphs=12).split("\n\n")
    s0, s1, s2 = ("\n\n".join(p[i : i + 10]) for i in range(3))
    sections = dict(clean=False, dedup={"minhash": {"threshold": 0.75, "containment": False, "lead": False,
                                                    "num_perm": 256}})
    index = tmp_path / "index"
    write_jsonl(tmp_path / "a" / "raw" / "a.jsonl.gz", [{"id": "s0", "text": s0, "crawled_at": "2020-09-01"},
                                                        {"id": "s2", "text": s2, "crawled_at": "2020-09-02"}])
    write_jsonl(tmp_path / "b" / "raw" / "b.jsonl.gz", [{"id": "s1", "text": s1, "crawled_at": "2020-09-03"},
                                                        {"id": "s2-copy", "text": s2, "crawled_at": "2020-09-04"},
                                                        {"id": "other", "text": article(61), "crawled_at": "2020-09-04"}])
    for name in ("a", "b"):
        config = load_config(write_config(tmp_path / name, **sections),
                             ["publish.formats=[parquet]", "executor.workers=1", f"dedup.index={index}"])
        run_build(config)
    assert set(pq.read_table(tmp_path / "a" / "out" / "data").column("id").to_pylist()) == {"s0", "s2"}
    assert set(pq.read_table(tmp_path / "b" / "out" / "data").column("id").to_pylist()) == {"other"}
    rejected = {r["id"]: r for r in pq.read_table(tmp_path / "b" / "out" / "rejected").to_pylist()}
    assert rejected["s1"]["duplicate_of"] == "s0" and rejected["s2-copy"]["duplicate_of"] == "s2"
    assert {r["reason"] for r in rejected.values()} == {"published_duplicate"}


def test_a_second_build_on_the_same_index_is_refused_in_one_line(tmp_path):
    from builders import workdir

    _split_dump(tmp_path)
    index = tmp_path / "index"
    _build(tmp_path / "a", f"dedup.index={index}")
    before = (index / "manifest.json").read_text()
    with workdir.BuildLock(index):  # another build holds the index
        with pytest.raises(BuildError) as caught:
            _build(tmp_path / "b", f"dedup.index={index}")
    message = str(caught.value)
    assert "\n" not in message and str(index) in message and "another build" in message and "pid" in message
    assert (index / "manifest.json").read_text() == before and not (tmp_path / "b" / "out").exists()
    _build(tmp_path / "b", f"dedup.index={index}")  # free again once the other build is done
