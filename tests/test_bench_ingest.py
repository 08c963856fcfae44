"""Fast checks of the ingest benchmark's plumbing (benchmarks/ingest.py) on tiny inputs; no timing."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("psutil", "sklearn", "warcio")),
    reason="psutil and scikit-learn (bench extra) and warcio needed",
)

RECORDS = [
    {"id": "p1", "url": "https://a.example/1", "site": "a.example", "title": "One", "text": "l1\nl2\nl3",
     "crawled_at": "2020-01-01T00:00:00Z"},
    {"id": "p2", "url": "https://b.example/2", "site": "b.example", "title": "Two", "text": "m1\nm2",
     "crawled_at": "2020-01-02T00:00:00Z"},
]


def test_repeated_records_get_new_ids_and_rotated_lines():
    from benchmarks.ingest import repeated_lines

    lines = repeated_lines(RECORDS)
    got = [json.loads(next(lines)) for _ in range(6)]
    assert [r["id"] for r in got] == ["p1", "p2", "p1-r1", "p2-r1", "p1-r2", "p2-r2"]
    assert got[0]["text"] == "l1\nl2\nl3" and got[2]["text"] == "l2\nl3\nl1" and got[4]["text"] == "l3\nl1\nl2"
    assert got[3]["text"] == "m2\nm1" and got[5]["text"] == "m1\nm2"
    assert got[2]["url"] == RECORDS[0]["url"]


@pytest.mark.parametrize("level", [None, 1])
def test_write_repeated_stops_at_the_stored_size(tmp_path: Path, level):
    from benchmarks.ingest import write_repeated

    path = tmp_path / ("x.jsonl.gz" if level else "x.jsonl")
    made = write_repeated(RECORDS, path, 50_000, level=level, flush_every=10)
    assert 50_000 <= made["stored_bytes"] < 70_000
    assert made["stored_bytes"] == path.stat().st_size
    data = gzip.decompress(path.read_bytes()) if level else path.read_bytes()
    assert len(data) == made["content_bytes"]
    ids = [json.loads(line)["id"] for line in data.splitlines()]
    assert len(ids) == made["records"] == len(set(ids))
    assert not list(tmp_path.glob("*.tmp"))


def test_split_gzip_and_parquet_keep_every_record(tmp_path: Path):
    from benchmarks.ingest import JSONL_FIELDS, split_gzip, write_parquet, write_repeated

    jsonl = tmp_path / "pages.jsonl"
    made = write_repeated(RECORDS, jsonl, 5_000, flush_every=1)
    files = split_gzip(jsonl, tmp_path / "gz", 3, made["records"], 6)
    assert len(files) == 3
    joined = b"".join(gzip.decompress(f.read_bytes()) for f in files)
    assert joined == jsonl.read_bytes()
    write_parquet(jsonl, tmp_path / "p.parquet", list(JSONL_FIELDS.values()), row_group=7)
    pf = pq.ParquetFile(tmp_path / "p.parquet")
    assert pf.metadata.num_rows == made["records"]
    assert pf.metadata.num_row_groups == -(-made["records"] // 7)
    assert {f.name for f in pf.schema_arrow} == {"id", "text", "url", "title", "crawled_at", "site"}
    assert all(str(f.type) == "string" for f in pf.schema_arrow)


def test_build_configs_switch_stages(tmp_path: Path):
    from benchmarks.ingest import JSONL_FIELDS, build_config
    from builders.config import validate

    ingest = build_config("x", [str(tmp_path / "*.jsonl")], tmp_path / "out", 2, JSONL_FIELDS, full=False)
    assert ingest["clean"] is False and ingest["dedup"] is False
    assert ingest["publish"] == {"output": str(tmp_path / "out"), "formats": ["parquet"]}
    full = build_config("x", [str(tmp_path / "warc")], tmp_path / "out", 1, None, full=True)
    assert full["clean"] == {} and full["dedup"] == {} and "fields" not in full["input"]
    assert validate(ingest).clean is None and validate(full).dedup is not None


def test_warc_ids_map_back_to_page_ids(tmp_path: Path):
    from benchmarks.ingest import warc_id_map
    from builders.synth import SAMPLE_SOURCE, generate

    generate(SAMPLE_SOURCE, tmp_path, 12, seed=3, formats=("jsonl", "warc"), shard_pages=5)
    mapping = warc_id_map(tmp_path)
    truth = pq.read_table(tmp_path / "truth.parquet", columns=["id"]).column("id").to_pylist()
    assert sorted(mapping.values()) == sorted(truth)
    assert all(k.startswith("urn:uuid:") and "<" not in k for k in mapping)


def test_a_build_reading_fewer_records_than_expected_is_invalid(tmp_path: Path):
    from benchmarks.ingest import JSONL_FIELDS, run_build

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS) + "{broken\n")
    args = SimpleNamespace(cache=tmp_path / "cache", repeat=1, corpus_cmd=None, timeout=120, quiet_wait=0)
    rec = run_build("tiny", "tiny", [str(src)], 1, args, fields=JSONL_FIELDS, expected=3)
    assert rec["status"] == "INVALID", rec
    assert "quarantined invalid_json 1" in rec["error"]
    assert rec["records_read"] == 3 and rec["published"] == 2
    assert rec["wall_seconds"] > 0 and rec["peak_rss_bytes"] > 0 and rec["ingest_seconds"] is not None
    assert not (tmp_path / "cache" / "runs" / "tiny" / "out" / "data").exists()  # big outputs are dropped
    ok = run_build("tiny", "tiny", [str(src)], 1, args, fields=JSONL_FIELDS, expected=3,
                   allowed_quarantine=("invalid_json",))
    assert ok["status"] == "ok" and ok["mb_per_s"] > 0


def test_foreign_load_is_a_non_negative_number():
    from benchmarks.ingest import ForeignLoad, wait_for_quiet

    probe = ForeignLoad()
    sum(i * i for i in range(200_000))  # our own CPU time is not counted as foreign
    assert probe.cores() >= 0
    quiet = wait_for_quiet(0)
    assert quiet["waited_seconds"] >= 0 and quiet["foreign_cores_before"] >= 0


def _build(name, wall, status="ok", **kw):
    rec = {"name": name, "label": name, "workers": kw.pop("workers", 2), "files": 1, "stored_bytes": 4 * 10**8,
           "status": status, "wall_seconds": wall, "build_seconds": wall - 1, "records_read": 1000,
           "phase_seconds": {"pass 0: ingest": wall - 2, "publish": 0.5}, "ingest_seconds": wall,
           "peak_rss_bytes": 3 * 2**28, "mb_per_s": 400 / wall, "mb_per_core_s": 400 / wall, "docs_per_s": 1000 / wall,
           "foreign_cores": 0.0}
    rec.update(kw)
    return rec


def test_targets_and_report_show_misses_and_invalid_runs():
    from benchmarks.ingest import render, scaling_record, targets

    res = {
        "date": "2026-01-01 00:00 UTC", "command": "python -m benchmarks.ingest", "corpus": {"pages": 100},
        "throughput": [_build("jsonl", 4.0), _build("jsonl-gz", 3.0, status="INVALID", error="read 5 records of 10"),
                       {"name": "warc", "label": "warc", "status": "FAILED", "error": "boom | bad", "files": 2,
                        "stored_bytes": 10}],
        "scaling": [scaling_record("one big JSONL file", _build("jsonl-w1", 6.0, workers=1), _build("jsonl", 4.0))],
        "memory": _build("huge", 60.0, peak_rss_bytes=2 * 10**9),
        "quality": {"jsonl": _build("q-jsonl", 5.0, dedup={"f1": 0.99}, cleaning={"precision": 0.97, "recall": 0.99}),
                    "warc": _build("q-warc", 9.0, dedup={"f1": 0.95}, cleaning={"precision": 0.96, "recall": 0.99}),
                    "f1_gap": 0.04,
                    "extraction_lines": {"published": {
                        "pages": 10,
                        "ours_full": {"docs": 10, "precision": 0.96, "recall": 0.99, "lines_out": 1, "lines_truth": 1},
                        "trafilatura": {"docs": 10, "precision": 0.5, "recall": 0.95, "lines_out": 2, "lines_truth": 1}}}},
        "extraction": {"status": "skipped", "error": "benchmarks.extraction does not import"},
    }
    res["targets"] = targets(res)
    met = {t["what"].split(",")[0]: t["met"] for t in res["targets"]}
    assert met["speedup 1 → 2 workers"] is False  # 6 / 4 = 1.5
    assert met["peak RSS"] is False and met["dedup pair F1"] is False
    assert met["WARC build line precision / recall vs trafilatura.extract alone (same pages)"] is True
    md = render(res)
    assert "| 1.50 |" in md and "**no**" in md
    assert "**INVALID**: read 5 records of 10" in md
    assert "FAILED: boom \\| bad" in md  # a pipe in an error cannot break the table
    assert "Skipped: benchmarks.extraction does not import" in md
    assert "F1 of the JSONL build minus F1 of the WARC build: +0.0400" in md
