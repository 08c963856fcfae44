"""A folder of hostile inputs mixed with good records: nothing stops the build, nothing is lost.

Every good record is published (or rejected by a stage, with a reason); every bad one is
quarantined with the right code; the build exits 0, non-zero with --strict, and a folder of
nothing but bad files fails with one line.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import article
from test_cli import assert_one_line_error, corpus


def _jsonl(records) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def _warc_record(url: str, text: str) -> bytes:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    paras = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    html = f"<!DOCTYPE html><html><head><title>T</title></head><body><article>{paras}</article></body></html>"
    out = BytesIO()
    writer = WARCWriter(out, gzip=False)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(html.encode()), http_headers=headers))
    return out.getvalue()


def good(i: int) -> dict:
    return {"id": f"good-{i}", "text": article(7000 + i, paragraphs=2)}


def hostile_folder(root: Path, with_good: bool = True) -> tuple[set[str], Counter]:
    """Writes the inputs; returns the ids of good records and the quarantine codes expected."""
    raw = root / "raw"
    raw.mkdir(parents=True)
    goods, expected = set(), Counter()
    n = 0

    def add_good() -> dict:
        nonlocal n
        record = good(n)
        goods.add(record["id"])
        n += 1
        return record

    if with_good:
        lines = [add_good(), b"{not json", add_good(),
                 b'{"id": "deep", "text": ' + b"[" * 3000 + b"]" * 3000 + b"}",
                 json.dumps({"id": "huge", "text": "x " * 400_000}).encode(),
                 add_good(), {"id": "no-text", "title": "t"}, {"id": "bad-date", "text": "words", "date": "soon"},
                 '{"id": "bin", "text": "\x81\x8d\x8f"}'.encode("latin-1"), b"[1, 2, 3]", add_good()]
        (raw / "mixed.jsonl").write_bytes(_jsonl(lines))
        expected.update({"invalid_json": 1, "too_deep": 1, "too_large": 1, "missing_text": 1, "bad_date": 1,
                         "invalid_utf8": 1, "not_an_object": 1})
        # A gzip cut in half: what came before is kept, the rest is one quarantine entry.
        records = [add_good() for _ in range(300)]
        data = gzip.compress(_jsonl(records))
        (raw / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
        expected["truncated"] += 1
        (raw / "story.txt").write_text("A title\n\n" + add_good()["text"].replace("good", ""), encoding="utf-8")
        goods.discard(f"good-{n - 1}")
        goods.add("story.txt")
        # A CSV with a ragged row between good ones.
        csv_rows = ["id,text"] + [f'csv-{i},"{article(8100 + i)}"' for i in range(3)]
        csv_rows.insert(2, "csv-bad,too,many,fields")
        (raw / "vendor.csv").write_text("\n".join(csv_rows) + "\n", encoding="utf-8")
        goods.update(f"csv-{i}" for i in range(3))
        expected["ragged_row"] += 1
        # A WARC with garbage between two good responses.
        (raw / "crawl.warc").write_bytes(_warc_record("https://a.example/1", article(8200)) + b"garbage\r\n" * 20
                                         + _warc_record("https://b.example/2", article(8201)))
        goods.update({"warc:https://a.example/1", "warc:https://b.example/2"})
        expected["bad_warc_record"] += 1
        table = pa.table({"id": [f"pq-{i}" for i in range(3)], "text": [article(8000 + i) for i in range(3)]})
        pq.write_table(table, raw / "export.parquet")
        goods.update(f"pq-{i}" for i in range(3))
    (raw / "empty.jsonl").write_bytes(b"")
    (raw / "zeros.jsonl").write_bytes(b"\x00" * 4096)
    (raw / "noise.dat").write_bytes(bytes(range(256)) * 8)
    (raw / "page.html").write_text("<html><head><title>x</title></head><body><div></div></body></html>")
    broken = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": ["a"], "text": ["b"]}), broken)
    (raw / "broken.parquet").write_bytes(broken.getvalue().to_pybytes()[:40])
    (raw / "bad.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200)  # gzip magic, then garbage
    expected.update({"empty_file": 1, "binary_file": 2, "html_no_text": 1, "unreadable": 2})
    config = {
        "name": "hostile",
        "input": {"paths": ["raw"], "fields": {"id": "id", "text": "text", "date": "date"},
                  "max_record_bytes": 100_000},
        "clean": {"min_words": 5},
        "publish": {"output": "out", "formats": ["parquet"]},
        "executor": {"workers": 2},
    }
    import yaml

    (root / "build.yaml").write_text(yaml.safe_dump(config))
    return goods, expected


def test_hostile_inputs_are_quarantined_and_good_records_all_accounted_for(tmp_path):
    goods, expected = hostile_folder(tmp_path)
    result = corpus("build", "build.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    totals = stats["totals"]
    assert totals["reconciled"]
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine")
    codes = Counter(quarantine["code"])
    assert codes == expected, codes
    assert stats["stages"]["ingest"]["quarantined"] == dict(sorted(expected.items()))
    # Every quarantine entry names its file and a position; raw bytes are kept, bounded.
    assert quarantine["file"].str.len().min() > 0 and (quarantine["position"] >= 0).all()
    assert quarantine["raw"].str.len().max() <= 2000
    first_line = quarantine[quarantine["code"] == "invalid_json"].iloc[0]
    assert first_line["file"].endswith("mixed.jsonl") and first_line["position"] == 2
    # Every good record is published or rejected with a reason, none lost.
    frame = pd.read_parquet(tmp_path / "out" / "data")
    # WARC records have generated ids: they are known by their URL.
    published = set(frame["id"]) | {f"warc:{u}" for u in frame["url"].dropna()}
    rejected = pd.read_parquet(tmp_path / "out" / "rejected") if (tmp_path / "out" / "rejected").exists() else None
    seen = published | (set(rejected["id"]) if rejected is not None else set())
    truncated_goods = {g for g in goods if g.startswith("good-")} - seen
    # The cut gzip lost the records after its cut: only those may be missing, and they are
    # exactly the ones behind the one `truncated` entry.
    assert all(int(g.split("-")[1]) >= 4 for g in truncated_goods)
    assert goods - truncated_goods <= seen
    assert totals["read"] == totals["published"] + totals["rejected"] + totals["quarantined"]


def test_strict_fails_on_any_quarantined_record(tmp_path):
    hostile_folder(tmp_path)
    result = corpus("build", "build.yaml", "--strict", "--quiet", cwd=tmp_path)
    assert_one_line_error(result, "records quarantined", "--strict")
    assert not (tmp_path / "out").exists()


def test_a_folder_of_only_bad_files_fails_with_one_line(tmp_path):
    hostile_folder(tmp_path, with_good=False)
    result = corpus("build", "build.yaml", "--quiet", cwd=tmp_path)
    assert_one_line_error(result, "error:", "quarantined")
    assert not (tmp_path / "out").exists()


def test_a_share_over_max_quarantined_fails(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_bytes(_jsonl([good(1), b"{bad", b"{bad", b"{bad"]))
    (tmp_path / "build.yaml").write_text(json.dumps({
        "name": "q", "input": {"paths": ["raw"], "fields": {"id": "id"}}, "clean": {"min_words": 5},
        "publish": {"output": "out"}}))
    failed = corpus("build", "build.yaml", "--quiet", cwd=tmp_path)
    assert_one_line_error(failed, "3 of 4 records quarantined", "input.max_quarantined=0.5", "invalid_json: 3",
                          "a.jsonl:2")
    passed = corpus("build", "build.yaml", "--set", "input.max_quarantined=0.8", cwd=tmp_path)
    assert passed.returncode == 0, passed.stderr
    assert pd.read_parquet(tmp_path / "out" / "data")["id"].tolist() == ["good-1"]
