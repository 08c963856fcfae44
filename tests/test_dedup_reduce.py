"""The partitioned dedup reduce on real builds: determinism, cluster integrity, survivors, published
columns, the summary, edge producers from the registry."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.config import DedupConfig, load_config
from builders.pipeline import run_build
from builders.schema import CORE_SCHEMA, ORD
from builders.stages import dedup_edges
from builders.stages.dedup import DedupFeatures, reduce
from conftest import article, wire_dump, write_config, write_jsonl


def docs(rows):
    """rows: (id, text, day, source) in input order."""
    schema = CORE_SCHEMA.append(pa.field(ORD, pa.int64()))
    columns = {f.name: [None] * len(rows) for f in schema}
    columns.update(id=[r[0] for r in rows], text=[r[1] for r in rows], **{ORD: list(range(len(rows)))},
                   date=[datetime(2020, 9, r[2], tzinfo=timezone.utc) if r[2] else None for r in rows],
                   source=[r[3] if len(r) > 3 else None for r in rows])
    return pa.table(columns, schema=schema)


def clusters(rows, partitions=None, **config):
    config = DedupConfig(**config)
    return {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config, partitions).to_pylist()}


def paragraphs(seed, n):
    return article(seed, paragraphs=n).split("\n\n")



def candidate_rule(band, key, doc, rank, n_index):
    """The candidate rule, written out: within each (band, key) group sorted by rank, every document
    pairs with the group's first and with the one before it; pairs are distinct, a < b, not both
    indexed (both under n_index)."""
    want = set()
    for g in set(zip(band.tolist(), key.tolist())):
        members = sorted(np.flatnonzero((band == g[0]) & (key == g[1])).tolist(), key=lambda i: (rank[i], i))
        for j in range(1, len(members)):
            for other in {members[0], members[j - 1]}:
                x, y = sorted((int(doc[members[j]]), int(doc[other])))
                if x != y and y >= n_index:
                    want.add((x, y))
    return want

def test_a_chain_of_borderline_pairs_does_not_merge_two_stories():
    """A, B, C slide one paragraph at a time from story X into story Y: A~B and B~C pass (Jaccard
    about 0.82), A~C does not (about 0.67). Union-find would make one cluster of all three."""
    p = paragraphs(40, 12)
    a, b, c = ("\n\n".join(p[i : i + 10]) for i in range(3))
    config = {"minhash": {"threshold": 0.75, "containment": False, "num_perm": 256}}
    # Each link on its own is a copy: the chain is really there.
    assert clusters([("b", b, 2), ("c", c, 3)], **config)["c"]["cluster"] == "b"
    assert clusters([("a", a, 1), ("b", b, 2)], **config)["b"]["cluster"] == "a"
    assert clusters([("a", a, 1), ("c", c, 3)], **config)["c"]["kept"]
    result = clusters([("a", a, 1), ("b", b, 2), ("c", c, 3)], **config)
    assert result["b"]["cluster"] == "a" and not result["b"]["kept"]
    assert result["c"]["kept"] and result["c"]["cluster"] == "c", "C joined A's cluster through B"
    assert result["a"]["size"] == 2 and result["c"]["size"] == 1
    assert 0.75 <= result["b"]["similarity"] < 1


def test_a_page_holding_two_stories_survives_them_and_keeps_every_line():
    """B is story X followed by story Y: X lies wholly inside B and so does Y (each a truncated
    copy of B by the containment rule), but X and Y share nothing. Each is a fragment of B, and a
    fragment never survives a copy that holds it: B is published, X and Y are its copies, no line
    is lost. (Before fragments ranked last, X survived by date, B joined it and Y stayed apart.)"""
    x, y = article(50, paragraphs=4), article(51, paragraphs=4)
    b = x + "\n\n" + y
    config = {"minhash": {"num_perm": 512}}  # Jaccard about 0.49 each: clear of the 0.4 floor
    assert clusters([("b", b, 2), ("y", y, 3)], **config)["y"]["cluster"] == "b"  # each link is a copy
    # Alone with B, X is a fragment of it: the fuller text survives, however early X is.
    assert clusters([("x", x, 1), ("b", b, 2)], **config)["x"]["cluster"] == "b"
    result = clusters([("x", x, 1), ("b", b, 2), ("y", y, 3)], **config)
    assert result["b"]["kept"] and result["x"]["duplicate_of"] == "b" and result["y"]["duplicate_of"] == "b"
    assert result["b"]["size"] == 3


def test_members_not_verified_against_the_survivor_cluster_among_themselves():
    """S~A~C~D slide along one story; S (earliest) verifies only A: C and D, copies of each other,
    make a cluster of their own instead of joining S's or staying apart."""
    p = paragraphs(41, 12)
    s, a, c = ("\n\n".join(p[i : i + 10]) for i in range(3))
    d = c + "\n\nA closing line from the editor of this site."
    config = {"minhash": {"threshold": 0.75, "containment": False, "num_perm": 256}}
    result = clusters([("s", s, 1), ("a", a, 2), ("c", c, 3), ("d", d, 4)], **config)
    assert [result[k]["cluster"] for k in "sacd"] == ["s", "s", "c", "c"]
    assert [result[k]["kept"] for k in "sacd"] == [True, False, True, False]


@pytest.mark.parametrize("keep, prefer, survivor", [
    ("earliest", [], "b"), ("longest", [], "a"), ("first", [], "a"),
    ("earliest", ["wire.example"], "c"), ("earliest", ["nobody.example", "AFP"], "c"),
    ("longest", ["other.example"], "a"),
])
def test_keep_and_prefer(keep, prefer, survivor):
    base = article(10, paragraphs=6)
    longer = base + "\n\nAn editor's closing line."
    rows = [("a", longer, 5, "site-a.example"), ("b", base, 3, "site-b.example"), ("c", base + " Agencies.", 4, "wire.example")]
    table = docs(rows)
    table = table.set_column(table.schema.get_field_index("agency"), "agency", pa.array([None, None, "AFP"]))
    config = DedupConfig(keep=keep, prefer=prefer)
    result = reduce(DedupFeatures(config)(table), config).to_pylist()
    assert [r["id"] for r in result if r["kept"]] == [survivor]
    assert {r["cluster"] for r in result} == {survivor}


def test_ties_go_to_input_order_whatever_the_row_order():
    base = article(12, paragraphs=5)
    config = DedupConfig(keep="longest")
    features = DedupFeatures(config)(docs([("x", base, 1), ("y", base, 1), ("z", base, 1)]))
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        result = reduce(features.take(pa.array(order)), config, partitions=3).to_pylist()
        assert [r["id"] for r in result if r["kept"]] == ["x"]


def _corpus(tmp_path):
    records = wire_dump(tmp_path, stories=6, copies=4, files=2)
    # Truncated and edited copies and unrelated filler, in a third file.
    extra = []
    for s in range(6):
        body = article(1000 + s).split("\n\n")
        extra.append({"id": f"cut{s}", "text": "\n\n".join(body[:3]), "site": "cut.example", "crawled_at": "2020-09-20"})
    extra += [{"id": f"f{i}", "text": article(7000 + i), "site": f"f{i % 3}.example"} for i in range(30)]
    write_jsonl(tmp_path / "raw" / "extra.jsonl.gz", extra)
    return records


def _build(tmp_path, name, *overrides):
    config = load_config(write_config(tmp_path), [f"publish.output={tmp_path / name}", "publish.formats=[parquet]",
                                                  *overrides])
    run_build(config)
    out = tmp_path / name
    return (pq.read_table(out / "dedup" / "clusters.parquet"), json.loads((out / "dedup" / "summary.json").read_text()),
            pq.read_table(out / "data"))


def test_same_clusters_whatever_the_workers_and_the_partitions(tmp_path):
    _corpus(tmp_path)
    first, summary, data = _build(tmp_path, "one", "executor.workers=1", "dedup.partitions=1")
    assert summary["partitions"] == 1 and summary["clusters"] >= 6
    for name, workers, partitions in (("two", 2, 7), ("auto", 2, "auto")):
        other, other_summary, other_data = _build(tmp_path, name, f"executor.workers={workers}",
                                                  f"dedup.partitions={partitions}")
        assert other.equals(first), name
        assert {**other_summary, "partitions": 1} == summary
        assert other_data.equals(data)
    assert other_summary["partitions"] == 2  # auto: at least one partition per worker


def test_the_map_output_keeps_dictionaries_only_where_values_repeat_and_the_reduce_steps_are_timed(tmp_path):
    """The dedup map's summaries are written with the step's Parquet options: hashes, signatures
    and keys plain (a dictionary of random values is built and dropped for nothing), sites
    dictionary-encoded."""
    _corpus(tmp_path)
    config = load_config(write_config(tmp_path), [f"publish.output={tmp_path / 'out'}", "publish.formats=[parquet]",
                                                  "executor.workers=1"])
    run_build(config, keep_work=True)
    summaries = sorted((tmp_path / "out").glob("_work/pass*-map/part-*.parquet"))
    summaries = [p for p in summaries if "signature" in pq.read_schema(p).names]  # not the chrome lines' map
    assert summaries
    for path in summaries:
        meta = pq.ParquetFile(path).metadata
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        encodings = {name: set(meta.row_group(0).column(i).encodings) for i, name in enumerate(names)}
        assert not any("DICTIONARY" in e for e in encodings["signature"] | encodings["keys"] | encodings["exact"]), encodings
        assert any("DICTIONARY" in e for e in encodings["source"]), encodings
    # stats.json times each step of the dedup reduce, within the reduce's own time.
    phases = json.loads((tmp_path / "out" / "stats.json").read_text())["phase_seconds"]
    steps = {k.split(": ", 1)[1]: v for k, v in phases.items() if k.startswith("dedup clusters: ")}
    assert set(steps) == {"scatter", "pairs", "verify", "cluster", "clusters file"}, phases
    assert all(v > 0 for v in steps.values()) and sum(steps.values()) <= phases["dedup clusters"]


def test_survivors_carry_copies_and_copy_sources_into_the_published_parquet(tmp_path):
    records = _corpus(tmp_path)
    clusters_table, summary, data = _build(tmp_path, "out", "executor.workers=1")
    rows = {r["id"]: r for r in data.to_pylist()}
    assert data.schema.field("copies").type == pa.int32()
    assert data.schema.field("copy_sources").type == pa.list_(pa.string())
    by_story = {}
    for r in records:
        if r["story"] < 0:
            continue  # the junk page cleaning drops
        by_story.setdefault(r["story"], []).append(r)
    for story, members in by_story.items():
        kept = [m for m in members if m["id"] in rows]
        assert len(kept) == 1, story  # one copy of each story published
        survivor = rows[kept[0]["id"]]
        # 5 copies of the story plus the truncated one from cut.example
        assert survivor["copies"] == 6
        others = sorted({m["site"] for m in members if m["id"] != kept[0]["id"]} | {"cut.example"})
        assert survivor["copy_sources"] == others
    assert all(rows[f"f{i}"]["copies"] == 1 and rows[f"f{i}"]["copy_sources"] == [] for i in range(30))
    assert summary == {"clusters": 6, "duplicates": 30, "sizes": {"6": 6}, "keep": "earliest",
                       "partitions": summary["partitions"]}
    members = clusters_table.filter(pa.compute.invert(clusters_table.column("kept"))).to_pylist()
    assert members and all(0 < m["similarity"] <= 1 for m in members)
    cut = next(m for m in members if m["id"] == "cut0")
    assert cut["similarity"] < 0.8 and cut["method"] == "minhash"  # joined by containment


def test_a_registered_producer_adds_edges_without_touching_the_others(monkeypatch):
    """A producer keyed on the title and verified as the same title: two texts that share nothing
    but their title cluster only while it is registered."""
    import pyarrow.compute as pc

    from builders.stages.dedup import hash_strings

    @dedup_edges.edge_producer
    class SameTitle(dedup_edges.EdgeProducer):
        name = "test_title"
        order = 50

        @staticmethod
        def enabled(config):
            return True

        @staticmethod
        def width(config):
            return 1

        @staticmethod
        def keys(ctx, config):
            title = pc.fill_null(ctx.table.column("title").combine_chunks(), "")
            keys = hash_strings(title).astype(np.uint64)
            return np.where(pc.equal(title, "").to_numpy(zero_copy_only=False), np.uint64(0), keys).reshape(-1, 1)

        @staticmethod
        def verify(store, a, b, config):
            return np.full(len(a), 0.5, np.float32)

    table = docs([("a", article(1), 1), ("b", article(2), 2), ("c", article(3), 3)])
    table = table.set_column(table.schema.get_field_index("title"), "title", pa.array(["Storm", "Storm", None]))
    try:
        config = DedupConfig()
        result = {r["id"]: r for r in reduce(DedupFeatures(config)(table), config).to_pylist()}
        assert result["b"]["cluster"] == "a" and result["b"]["method"] == "test_title"
        assert result["c"]["kept"] and result["c"]["size"] == 1
    finally:
        dedup_edges.PRODUCERS.pop("test_title")
    config = DedupConfig()
    assert all(r["kept"] for r in reduce(DedupFeatures(config)(table), config).to_pylist())


def test_show_cluster_prints_members_and_what_differs(tmp_path, capsys):
    from builders.cli import main

    _corpus(tmp_path)
    _build(tmp_path, "out", "executor.workers=1")
    out = tmp_path / "out"
    assert main(["show-cluster", str(out), "cut0"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("cluster s0-c0: 6 document(s)")
    for doc in ("s0-c0", "s0-c1", "s0-c4", "cut0"):
        assert doc in shown
    assert "survivor" in shown and "--- s0-c0 (survivor)  +++ cut0" in shown
    # The truncated copy lost the story's end: the diff shows those lines as removed, nothing added.
    cut = shown.split("+++ cut0")[1].split("\n---")[0]
    assert any(line.startswith("  -") for line in cut.splitlines())
    assert not any(line.startswith("  +") for line in cut.splitlines())
    exact = shown.split("+++ s0-c1")[1].split("\n---")[0]
    assert exact.strip() == "(same text once published; the page around it differed)"
    # Asking by the survivor's id shows the same cluster; an unknown id is one error line.
    assert main(["show-cluster", str(out), "s0-c0"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == shown.splitlines()[0]
    assert main(["show-cluster", str(out), "nope"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: nope: not in {out / 'dedup' / 'clusters.parquet'}"
    assert main(["show-cluster", str(tmp_path / "missing"), "x"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_a_member_corroborated_by_a_verified_copy_joins_under_the_relaxed_containment():
    """B lies 0.74 inside S (under containment 0.8, over 0.85 x 0.8): alone it stays apart; once
    A, a verified copy of S, verifies B too, B joins S's cluster."""
    p = paragraphs(42, 10)
    extra = article(43, paragraphs=3).split("\n\n")
    extra[2] = " ".join(extra[2].split()[:20]) + "."
    s = "\n\n".join(p)
    b = "\n\n".join(p[:7] + extra)
    a = "\n\n".join(p[:7] + extra + p[7:])
    config = {"minhash": {"num_perm": 512, "lead": False}}
    alone = clusters([("s", s, 1), ("b", b, 3)], **config)
    assert alone["b"]["kept"], "B is a copy of S on its own: the test needs a borderline B"
    result = clusters([("s", s, 1), ("a", a, 2), ("b", b, 3)], **config)
    assert result["a"]["cluster"] == "s" and result["b"]["cluster"] == "s" and result["s"]["size"] == 3
    assert 0.4 <= result["b"]["similarity"] < 0.8


def test_candidates_link_each_document_to_its_key_group_head_and_neighbour():
    import numpy as np

    from builders.stages.dedup_reduce import candidates

    rng = np.random.default_rng(3)
    n = 3000
    band = rng.integers(0, 4, n).astype(np.int16)
    key = rng.integers(1, 60, n).astype(np.uint64)
    doc = rng.integers(0, 400, n).astype(np.int64)
    rank = doc * 7  # input order follows the dense number here
    a, b = candidates(band, key, doc, rank, n_index=50)
    want = candidate_rule(band, key, doc, rank, n_index=50)
    assert set(zip(a.tolist(), b.tolist())) == want
    assert list(zip(a.tolist(), b.tolist())) == sorted(want)


def test_each_candidate_pair_is_verified_once_whatever_the_bands_it_shares(tmp_path):
    """Copies share keys in many bands, hence in many key partitions: each partition's candidates
    go to the verify partition of the pair, so every distinct pair is judged (and becomes an edge)
    once, not once per band it shares."""
    from builders.stages import dedup_reduce as tasks
    from builders.stages.dedup import Dedup

    base = [article(70 + i) for i in range(6)]
    rows = []
    for i, text in enumerate(base):
        for copy in range(4):  # four near copies of each story: the last paragraph or a word changed
            rows.append((f"s{i}-{copy}", text if copy == 0 else text.replace("the", "a", copy), 1 + copy))
    config = DedupConfig(partitions=5)
    folder = tmp_path
    pq.write_table(DedupFeatures(config)(docs(rows)), folder / "summary.parquet")
    Dedup(config).reduce([(0, folder / "summary.parquet")], folder / "model", [0], folder / "out")
    total = len(rows)
    seen, edges = [], []
    for q in range(5):
        for f in (folder / "model" / "candidates" / f"q{q:05d}").glob("p*.parquet"):
            codes = pq.read_table(f).column("pair").to_numpy()
            # Every candidate of a pair lands in the same verify partition.
            assert set((tasks._mix64(codes.view(np.uint64)) % np.uint64(5)).tolist()) == {q}
            seen.append(codes)
        e = pq.read_table(folder / "model" / "edges" / f"q{q:05d}.parquet")
        edges += list(zip(e.column("a").to_pylist(), e.column("b").to_pylist()))
    seen = np.concatenate(seen)
    assert len(seen) > len(np.unique(seen)), "no pair shared keys in two partitions: the test shows nothing"
    assert len(edges) == len(set(edges)) > 0
    assert all(a < b < total for a, b in edges)
    result = tasks.clusters_rows(pq.read_table(folder / "model" / "groups" / "s00000" / "meta.parquet"),
                                 tasks.read_decisions(folder / "model", 0)).to_pylist()
    assert {r["id"]: r["cluster"] for r in result} == {f"s{i}-{c}": f"s{i}-0" for i in range(6) for c in range(4)}


def test_store_reads_equal_a_view_of_the_same_documents_and_distinct_equals_unique(tmp_path):
    from builders.stages import dedup_reduce as tasks

    rng = np.random.default_rng(5)
    x = rng.integers(0, 1000, 5000)
    assert np.array_equal(tasks.distinct(x), np.unique(x))
    values, inverse = tasks.distinct_inverse(x)
    want_values, want_inverse = np.unique(x, return_inverse=True)
    assert np.array_equal(values, want_values) and np.array_equal(inverse, want_inverse)
    assert len(tasks.distinct(np.empty(0, np.int64))) == 0
    groups = []
    for g, rows in enumerate((7, 0, 12)):
        path = tmp_path / f"g{g}"
        path.mkdir()
        np.save(path / "sig.npy", rng.integers(0, 2**32, (rows, 4), dtype=np.uint32))
        np.save(path / "info.npy", rng.integers(0, 99, (rows, len(tasks.INFO)), dtype=np.int64))
        groups.append(tasks.Group(str(path), rows, g))
    store = tasks.Store(tuple(groups), 4)
    idx = rng.integers(0, 19, 40)
    whole = np.concatenate([np.load(tmp_path / f"g{g}" / "sig.npy") for g in range(3)])
    assert np.array_equal(store.signatures(idx), whole[idx])
    view = store.view(tasks.distinct(idx))
    assert np.array_equal(view.signatures(view.local(idx)), whole[idx])
    assert np.array_equal(view.info(view.local(idx), "words"), store.info(idx, "words"))


@pytest.mark.parametrize("colliding", [False, True])
def test_candidates_of_rows_in_rank_order_follow_the_same_rule(monkeypatch, colliding):
    """Rows that come by rank (a build's keys) are grouped by one sort of hash and row
    (`group_order`); groups whose hashes agree in the kept bits are put in order apart: the same
    candidates as the three-key sort."""
    from builders.stages import dedup_reduce

    rng = np.random.default_rng(4)
    n = 3000
    doc = np.sort(rng.integers(0, 400, n)).astype(np.int64)
    band = rng.integers(0, 4, n).astype(np.int16)
    key = rng.integers(1, 60, n).astype(np.uint64)
    rank = doc * 7
    want = dedup_reduce.candidates(band, key, doc, rank, n_index=50)
    order = np.lexsort((rank, key, band))
    if colliding:  # every hash alike in its high bits but for a few: groups interleave
        monkeypatch.setattr(dedup_reduce, "_mix64", lambda x: (x % np.uint64(3)) << np.uint64(62))
    got_order, starts = dedup_reduce.group_order(band, key, rank)
    groups = lambda o, s: sorted(tuple(g) for g in np.split(o, np.flatnonzero(s)[1:]))
    bs, ks = band[order], key[order]
    assert groups(got_order, starts) == groups(order, np.r_[True, (bs[1:] != bs[:-1]) | (ks[1:] != ks[:-1])])
    a, b = dedup_reduce.candidates(band, key, doc, rank, n_index=50)
    assert list(zip(a.tolist(), b.tolist())) == sorted(candidate_rule(band, key, doc, rank, n_index=50))
    assert np.array_equal(a, want[0]) and np.array_equal(b, want[1])
