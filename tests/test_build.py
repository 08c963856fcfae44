"""End-to-end builds on a generated dump: published files load everywhere and every count reconciles."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from builders.config import load_config
from builders.errors import BuildError
from builders.pipeline import run_build
from conftest import wire_dump, write_config, write_jsonl


def build(folder: Path, overrides=(), **sections):
    return run_build(load_config(write_config(folder, **sections), list(overrides)))


@pytest.fixture
def dump(tmp_path):
    records = wire_dump(tmp_path, stories=6, copies=4, files=3)
    return tmp_path, records


def test_end_to_end(dump):
    folder, records = dump
    result = build(folder)
    out = folder / "out"
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-00000-of-00001.parquet"]

    import datasets

    frame = pd.read_parquet(out / "data")
    from_parquet = datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train")
    from_disk = datasets.load_from_disk(str(out / "hf"))["train"]
    assert len(frame) == len(from_parquet) == len(from_disk) == 6
    assert list(frame.columns) == ["id", "text", "title", "url", "source", "agency", "date", "lang", "lang_score",
                                   "copies", "copy_sources"]
    # Each story's survivor (its first page, on site0) stands for its five pages, republished by four other sites.
    assert (frame["copies"] == 5).all()
    assert all(list(c) == [f"site{k}.example" for k in range(1, 5)] for c in frame["copy_sources"])
    assert set(frame["lang"]) == {"en"} and (frame["lang_score"] > 0.5).all()  # identified: no lang field in input
    assert sorted(from_disk["id"]) == sorted(frame["id"])

    # One survivor per story: the earliest copy, with its chrome gone.
    assert sorted(frame["id"]) == [f"s{s}-c0" for s in range(6)]
    for text in frame["text"]:
        assert "Leave a Reply" not in text and "Posted on" not in text and "headline" not in text

    stats = json.loads((out / "stats.json").read_text())
    totals = stats["totals"]
    rejected = pd.concat([pd.read_parquet(p) for p in sorted((out / "rejected").glob("*.parquet"))])
    assert totals == {"read": len(records), "published": 6, "rejected": len(rejected), "quarantined": 0, "reconciled": True}
    assert totals["read"] == totals["published"] + totals["rejected"]
    assert set(rejected["stage"]) == {"clean", "dedup"}
    assert rejected.loc[rejected["id"] == "junk-1", "reason"].tolist() == ["error_page"]
    copies = rejected[rejected["stage"] == "dedup"]
    assert len(copies) == 24
    assert (copies["duplicate_of"] == copies["id"].str.replace(r"-c\d+$", "-c0", regex=True)).all()
    assert stats["stages"]["dedup"]["docs_in"] == len(records) - 1

    clusters = pd.read_parquet(out / "dedup" / "clusters.parquet")
    assert len(clusters) == len(records) - 1 and clusters["kept"].sum() == 6
    assert set(clusters["method"].dropna()) <= {"exact", "minhash"}
    assert not (out / "_work").exists()
    card = (out / "README.md").read_text()
    assert "| published | 6 |" in card and "near_duplicate" in card
    assert result.stats == stats


def test_same_output_whatever_the_worker_count(tmp_path):
    outputs = []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        wire_dump(folder, stories=5, copies=3, files=4)
        build(folder, [f"executor.workers={workers}", "publish.shard_rows=2", "publish.formats=[parquet]"])
        files = sorted((folder / "out" / "data").iterdir())
        outputs.append(([f.name for f in files], [pq.read_table(f) for f in files],
                        pq.read_table(folder / "out" / "dedup" / "clusters.parquet")))
    assert outputs[0][0] == outputs[1][0] == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    assert all(a.equals(b) for a, b in zip(outputs[0][1], outputs[1][1]))
    assert outputs[0][2].equals(outputs[1][2])


def test_stages_switched_off(dump):
    folder, records = dump
    build(folder, ["dedup=false", "clean=false", "publish.formats=[parquet]"])
    out = folder / "out"
    assert len(pd.read_parquet(out / "data")) == len(records)
    assert not (out / "dedup").exists() and not (out / "hf").exists()
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["stages"]) == {"ingest", "publish"} and stats["totals"]["reconciled"]


def test_quarantine_is_counted_and_written(tmp_path):
    wire_dump(tmp_path, stories=2, copies=1, files=1)
    write_jsonl(tmp_path / "raw" / "pages-00009.jsonl.gz", ['{"id": "bad"', '{"id": "x", "text": "fine but far too short"}'])
    result = build(tmp_path)
    totals = result.stats["totals"]
    assert totals["quarantined"] == 1 and totals["reconciled"]
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine")
    assert quarantine["file"].str.endswith("pages-00009.jsonl.gz").all() and quarantine["position"].tolist() == [1]


def test_rebuild_replaces_previous_output(dump):
    """A folder holding only a previous release's files is replaced whole (anything else there is
    refused: tests/test_release.py)."""
    folder, _ = dump
    build(folder)
    build(folder, ["publish.formats=[parquet]"])
    out = folder / "out"
    assert (out / "manifest.json").exists() and not (out / "hf").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".out.")]


def test_refuses_to_overwrite_a_folder_that_is_not_a_build(dump):
    folder, _ = dump
    (folder / "out").mkdir()
    (folder / "out" / "precious.txt").write_text("mine")
    with pytest.raises(BuildError, match="is not a previous build"):
        build(folder)
    assert (folder / "out" / "precious.txt").exists()


def test_a_build_that_publishes_nothing_fails_and_keeps_the_previous_release(tmp_path):
    write_jsonl(tmp_path / "raw" / "a.jsonl.gz", [{"id": "1", "text": " ".join(["word"] * 30) + " first"}])
    build(tmp_path)
    write_jsonl(tmp_path / "raw" / "a.jsonl.gz", [{"id": "1", "text": "too short"}])
    with pytest.raises(BuildError, match=r"nothing published: all 1 records were rejected or quarantined \(too_short"):
        build(tmp_path)
    # The previous release is still there, whole, and no half-built folder is left behind.
    assert pd.read_parquet(tmp_path / "out" / "data")["id"].tolist() == ["1"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_same_release_whatever_the_workers_and_the_shard_plan(tmp_path):
    """Big files split into byte ranges and row groups, small files grouped, or every file whole:
    the same documents in the same order, the same drops, the same counts."""
    import pyarrow as pa

    from conftest import article

    wire_dump(tmp_path, stories=8, copies=3, files=1)
    raw = tmp_path / "raw"
    # One big uncompressed JSONL (split by lines), a Parquet export (split by row groups) and a
    # folder of text files (grouped), next to the gzipped dump (whole).
    filler = [{"id": f"f{i}", "text": article(500 + i), "site": f"f{i % 7}.example"} for i in range(600)]
    write_jsonl(raw / "big.jsonl", filler, compress=False)
    pq.write_table(pa.table({"id": [f"q{i}" for i in range(400)], "text": [article(2000 + i) for i in range(400)]}),
                   raw / "export.parquet", row_group_size=50)
    for i in range(30):
        (raw / "txt").mkdir(exist_ok=True)
        (raw / "txt" / f"note-{i:02d}.txt").write_text(f"Note {i}\n\n{article(3000 + i)}\n", encoding="utf-8")
    inputs = {"paths": ["raw"], "fields": {"id": "id", "text": "text", "url": "url", "title": "title",
                                             "date": "crawled_at", "source": "site"}}
    outputs = {}
    runs = (("one", 1, "1GB", 100000), ("two", 2, "1GB", 100000), ("split", 2, "64KiB", 100000),
            ("files", 2, "64KiB", 97), ("files-one", 1, "1GB", 97))
    for name, workers, shard_size, shard_rows in runs:
        result = run_build(load_config(write_config(tmp_path, input={**inputs, "shard_size": shard_size}),
                                       [f"publish.output={tmp_path / ('out-' + name)}", f"executor.workers={workers}",
                                        f"publish.shard_rows={shard_rows}"]))
        stats = result.stats
        outputs[name] = (pd.read_parquet(result.output / "data"), stats)
    assert outputs["split"][1]["shards"] > outputs["one"][1]["shards"] + 5  # the plan really differs
    base_frame, base_stats = outputs["one"]
    assert len(base_frame) > 1000
    # Published shards written by parallel tasks are the same files as written by one process.
    files = sorted(p.name for p in (tmp_path / "out-files" / "data").iterdir())
    assert len(files) == -(-len(base_frame) // 97) and files[0] == f"train-00000-of-{len(files):05d}.parquet"
    sizes = [pq.ParquetFile(tmp_path / "out-files" / "data" / f).metadata.num_rows for f in files]
    assert sizes[0] <= 97 and set(sizes[:-1]) == {sizes[0]} and sizes[0] - len(files) < sizes[-1] <= sizes[0]
    for file in files:
        parallel = pq.read_table(tmp_path / "out-files" / "data" / file)
        assert parallel.equals(pq.read_table(tmp_path / "out-files-one" / "data" / file))
    for name in ("two", "split", "files"):
        frame, stats = outputs[name]
        pd.testing.assert_frame_equal(frame, base_frame)
        assert stats["stages"]["ingest"]["docs_in"] == base_stats["stages"]["ingest"]["docs_in"]
        for stage in ("clean", "dedup"):
            assert stats["stages"][stage]["dropped"] == base_stats["stages"][stage]["dropped"]
        assert stats["totals"] == base_stats["totals"]


def test_reading_shards_back_does_not_hold_what_was_read(tmp_path, monkeypatch):
    """Passes after the first and publish read shard files batch by batch: Arrow memory stays at a
    batch, however big the shard (a pre-buffering reader once kept every row group it read)."""
    import pyarrow as pa

    from builders.pipeline import ShardTask, _source, document_schema
    from builders.readers import Shard
    from builders.stages import publish as publish_stage

    config = load_config(write_config(tmp_path, input={"paths": [str(tmp_path)], "batch_size": 500}))
    schema = document_schema(config)
    work = tmp_path / "staging" / "_work" / "pass0"
    work.mkdir(parents=True)
    import os

    with pq.ParquetWriter(work / "part-00000.parquet", schema) as writer:
        for g in range(40):  # 40 row groups of 500 documents of 2 KB: 40 MB of text
            n = 500
            columns = {f.name: pa.nulls(n, f.type) for f in schema}
            columns.update(id=pa.array([f"d{g}-{i}" for i in range(n)]), text=pa.array([os.urandom(1000).hex() for _ in range(n)]),
                           _ord=pa.array(range(g * n, (g + 1) * n), pa.int64()))
            writer.write_table(pa.table(columns, schema=schema))
    task = ShardTask(Shard(0, ()), config, str(tmp_path / "staging"), pass_index=1)
    peak = 0
    for batch in _source(task, None):
        peak = max(peak, pa.total_allocated_bytes())
    assert peak < 15 << 20, peak
    seen = []
    real_write = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table",
                        lambda self, table, *a, **k: (seen.append(pa.total_allocated_bytes()), real_write(self, table, *a, **k))[1])
    # Row groups of 1 MB: publish holds one row group of each split at most (and the batch it reads).
    config = config.model_copy(update={"publish": config.publish.model_copy(update={"formats": ["parquet"], "row_group_size": 1_000_000})})
    publish_stage.publish(config, tmp_path / "staging", [work / "part-00000.parquet"])
    assert len(seen) >= 40 and max(seen) < 15 << 20, max(seen)


def test_a_filter_under_a_stage_name_of_its_own_is_counted_and_reconciles(dump, monkeypatch):
    """Counts and the reconciliation come from the ledger, not from a list of known stage names."""
    import pyarrow.compute as pc

    from builders import pipeline
    from builders.stages.base import Filter

    class NoStory3(Filter):
        stage = "editorial"

        def reasons(self, table):
            return pc.if_else(pc.match_substring(table.column("title"), "Story 3"), "story_3", None)

    real_plan = pipeline.build_plan
    monkeypatch.setattr(pipeline, "build_plan", lambda config: [NoStory3(), *real_plan(config)])
    folder, records = dump
    result = build(folder, ["executor.workers=1"])
    stats = result.stats
    assert stats["stages"]["editorial"]["dropped"] == {"story_3": 5}
    assert stats["totals"]["reconciled"] and stats["totals"]["published"] == 5
    assert stats["totals"]["rejected"] == len(records) - 5
