"""Ingest: JSON Lines in any compression, field mapping, and quarantine of unreadable records."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pyarrow as pa
import pytest

from builders.io import sniff_compression
from builders.readers import detect
from builders.readers.base import parse_dates
from builders.schema import CORE_SCHEMA, ORD
from conftest import read_input, write_jsonl

FIELDS = {"id": "id", "text": "body", "url": "link", "date": "published", "title": "headline"}


def read_all(path: Path, batch_size: int = 1000, fields=FIELDS, **options):
    return read_input(path, file_index=3, fields=fields, batch_size=batch_size, **options)


def records(n: int = 5):
    return [
        {"id": f"r{i}", "body": f"text {i}", "link": f"https://www.Example.com/a/{i}?x=1",
         "published": "2020-09-13T10:22:05Z", "headline": f"H{i}", "extra": {"nested": True}}
        for i in range(n)
    ]


def test_reads_and_maps_fields(tmp_path):
    table, ledger, quarantined = read_all(write_jsonl(tmp_path / "a.jsonl.gz", records(5)), batch_size=2)
    assert quarantined == []
    assert table.schema == CORE_SCHEMA.append(pa.field(ORD, pa.int64()))
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert rows[0]["text"] == "text 0" and rows[0]["title"] == "H0"
    assert rows[0]["source"] == "example.com"  # derived from the URL when no source field is mapped
    assert rows[0]["date"].isoformat() == "2020-09-13T10:22:05+00:00"
    assert rows[0][ORD] == (3 << 36) + 1  # file index 3, line 1
    assert ledger.stage("ingest").docs_in == 5


@pytest.mark.parametrize("opener", [gzip.open, bz2.open, lzma.open, None], ids=["gzip", "bz2", "xz", "plain"])
def test_compression_is_told_by_content_not_name(tmp_path, opener):
    path = tmp_path / "dump.jsonl"  # no compression suffix, whatever the content
    data = "".join(json.dumps(r) + "\n" for r in records(3)).encode()
    if opener:
        with opener(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    table, _, quarantined = read_all(path)
    assert table.num_rows == 3 and quarantined == []


def test_zstd_by_content(tmp_path):
    path = tmp_path / "dump.jsonl.zst"
    data = "".join(json.dumps(r) + "\n" for r in records(3)).encode()
    with pa.output_stream(str(path), compression="zstd") as out:
        out.write(data)
    assert sniff_compression(str(path)) == "zstd"
    assert read_all(path)[0].num_rows == 3


def test_bad_records_are_quarantined_with_file_position_and_field(tmp_path):
    rows = records(6)
    lines = [rows[0], "{not json", rows[1], "", {**rows[2], "body": None}, {**rows[3], "published": "yesterday"},
             {**rows[4], "headline": {"a": 1}}, "[1, 2]", rows[5]]
    path = write_jsonl(tmp_path / "bad.jsonl.gz", lines)
    table, ledger, quarantined = read_all(path, batch_size=3)
    assert [r["id"] for r in table.to_pylist()] == ["r0", "r1", "r5"]
    by_line = {q["position"]: q for q in quarantined}
    assert set(by_line) == {2, 5, 6, 7, 8}  # line 4 is blank: not a record
    assert "invalid JSON" in by_line[2]["reason"]
    assert by_line[5]["field"] == "body" and "missing" in by_line[5]["reason"] and by_line[5]["code"] == "missing_text"
    assert by_line[6]["field"] == "published" and "yesterday" in by_line[6]["reason"]
    assert by_line[7]["field"] == "headline"
    assert "expected a JSON object" in by_line[8]["reason"]
    assert all(q["file"] == str(path) for q in quarantined)
    stats = ledger.stage("ingest")
    assert stats.docs_in == 8 and sum(stats.quarantined.values()) == 5
    assert dict(stats.quarantined) == {"invalid_json": 1, "missing_text": 1, "bad_date": 1, "nested_value": 1,
                                       "not_an_object": 1}


def test_truncated_gzip_keeps_what_came_before(tmp_path):
    import random

    rnd = random.Random(1)
    rows = [{**r, "body": " ".join(str(rnd.random()) for _ in range(50))} for r in records(4000)]
    path = write_jsonl(tmp_path / "t.jsonl.gz", rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    table, ledger, quarantined = read_all(path, batch_size=100)
    assert 0 < table.num_rows < 4000
    assert len(quarantined) == 1 and "unreadable from here on" in quarantined[0]["reason"]
    assert quarantined[0]["code"] == "truncated" and quarantined[0]["position"] == table.num_rows + 1
    assert ledger.stage("ingest").docs_in == table.num_rows + 1


def test_ids_made_from_file_and_line_when_unmapped(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"body": "a"}, {"body": "b"}], compress=False)
    table, _, _ = read_all(path, fields={"text": "body"})
    assert table.column("id").to_pylist() == ["x.jsonl:1", "x.jsonl:2"]


def test_numbers_in_string_fields_become_strings(tmp_path):
    path = write_jsonl(tmp_path / "n.jsonl", [{"id": 7, "body": "a"}, {"id": "x", "body": "b"}], compress=False)
    table, _, quarantined = read_all(path, fields={"id": "id", "text": "body"})
    assert table.column("id").to_pylist() == ["7", "x"] and quarantined == []


def test_date_forms():
    values = pa.chunked_array([["2020-09-13T10:22:05+02:00", "2020-09-13", "2020-09-13 10:00:00", None, "bad"]])
    parsed, bad = parse_dates(values)
    iso = [v.isoformat() if v else None for v in parsed.to_pylist()]
    assert iso[:4] == ["2020-09-13T08:22:05+00:00", "2020-09-13T00:00:00+00:00", "2020-09-13T10:00:00+00:00", None]
    assert bad.tolist() == [False, False, False, False, True]


def test_format_by_content_then_name(tmp_path):
    (tmp_path / "b.ndjson").write_text('{"text": "x"}\n')
    (tmp_path / "c.data").write_text('{"text": "x"}\n')  # content says JSON Lines whatever the name
    (tmp_path / "d.jsonl").write_text("not json at all\n")  # content unknown: the name decides
    (tmp_path / "e.weird").write_text("plain words\n")
    (tmp_path / "f.bin").write_bytes(b"\x00\x01\x02garbage")
    (tmp_path / "g.jsonl").write_bytes(b"")
    assert detect(str(tmp_path / "b.ndjson"), "auto") == ("jsonl", None)
    assert detect(str(tmp_path / "c.data"), "auto") == ("jsonl", None)
    assert detect(str(tmp_path / "d.jsonl"), "auto") == ("jsonl", None)
    assert detect(str(tmp_path / "e.weird"), "auto")[1][0] == "unknown_format"
    assert detect(str(tmp_path / "f.bin"), "auto")[1][0] == "binary_file"
    assert detect(str(tmp_path / "f.bin"), "jsonl")[1][0] == "binary_file"
    assert detect(str(tmp_path / "g.jsonl"), "auto")[1] == ("empty_file", "empty file")


def _varied_lines(n: int) -> list:
    rnd = __import__("random").Random(7)
    out = []
    for i in range(n):
        if i % 17 == 5:
            out.append("")  # blank lines are not records, but they count as lines
        out.append({"id": f"r{i}", "body": "é ✓ " * rnd.randint(0, 300) + f"end {i}"})
    return out


@pytest.mark.parametrize("target", [1 << 16, 100_003, 1 << 30])
def test_byte_ranges_read_every_line_once_with_its_number(tmp_path, target):
    path = write_jsonl(tmp_path / "big.jsonl", _varied_lines(3000), compress=False)
    whole, _, _ = read_all(path, fields={"id": "id", "text": "body"})
    split, ledger, quarantined = read_all(path, fields={"id": "id", "text": "body"}, target=target)
    assert quarantined == [] and ledger.stage("ingest").docs_in == 3000
    assert split.column("id").to_pylist() == whole.column("id").to_pylist()
    assert split.column(ORD).to_pylist() == whole.column(ORD).to_pylist()
    # Positions are the lines of the whole file: blank lines counted.
    lines = path.read_text(encoding="utf-8").split("\n")
    for row in split.slice(0, 3000, ).to_pylist()[::97]:
        line_no = row[ORD] - (3 << 36)
        assert json.loads(lines[line_no - 1])["id"] == row["id"]


def test_pieces_of_a_big_file_start_on_line_boundaries(tmp_path):
    from builders.readers import pieces_of
    from builders.config import InputConfig

    path = write_jsonl(tmp_path / "big.jsonl", _varied_lines(3000), compress=False)
    pieces = pieces_of(str(path), InputConfig(paths=[str(path)]), 1 << 16)
    assert len(pieces) > 10
    assert [p.start for p in pieces][0] == 0 and pieces[-1].stop is None
    assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))
    data = path.read_bytes()
    assert all(p.first == data[: p.start].count(b"\n") for p in pieces)
    # A compressed file cannot be entered in the middle: it stays one piece.
    gz = write_jsonl(tmp_path / "big.jsonl.gz", _varied_lines(3000))
    assert len(pieces_of(str(gz), InputConfig(paths=[str(gz)]), 1 << 10)) == 1


def test_a_huge_line_is_quarantined_without_being_held(tmp_path):
    path = tmp_path / "huge.jsonl"
    big = json.dumps({"id": "big", "body": "x" * 3_000_000})
    path.write_text("\n".join([json.dumps({"id": "a", "body": "fine"}), big, json.dumps({"id": "b", "body": "fine too"})]) + "\n")
    table, ledger, quarantined = read_all(path, fields={"id": "id", "text": "body"}, max_record_bytes=100_000)
    assert table.column("id").to_pylist() == ["a", "b"]
    assert [(q["position"], q["code"]) for q in quarantined] == [(2, "too_large")]
    assert ledger.stage("ingest").docs_in == 3


def test_deep_nesting_and_bad_bytes_are_quarantined_not_fatal(tmp_path):
    path = tmp_path / "hostile.jsonl"
    deep = b'{"id": "deep", "body": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    latin = '{"id": "latin", "body": "caf\xe9 cr\xe8me"}'.encode("cp1252")
    garbage = b'{"id": "bin", "body": "\x81\x8d\x8f\x90\x9d"}'
    ignored_deep = b'{"id": "ok", "body": "fine", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    path.write_bytes(b"\n".join([deep, latin, garbage, ignored_deep]) + b"\n")
    table, _, quarantined = read_all(path, fields={"id": "id", "text": "body"})
    assert {r["id"]: r["text"] for r in table.to_pylist()} == {"latin": "café crème", "ok": "fine"}
    assert {(q["position"], q["code"]) for q in quarantined} == {(1, "too_deep"), (3, "invalid_utf8")}


def test_dotted_fields_reach_into_nested_records_and_kept_keys_become_columns(tmp_path):
    rows = [{"article": {"body": "nested text", "meta": {"headline": "H"}}, "category": "sport", "tags": ["a", "b"],
             "views": 12, "author": "not asked for", "section": "world"},
            {"article": {"body": "second"}, "category": None}]
    path = write_jsonl(tmp_path / "n.jsonl", rows, compress=False)
    table, ledger, quarantined = read_all(path, fields={"text": "article.body", "title": "article.meta.headline"},
                                          keep=["category", "tags", "views", "article.meta.headline"])
    assert quarantined == []
    # Keys neither mapped nor kept are named, not dropped without a word.
    assert dict(ledger.stage("ingest").unused_keys) == {"author": 1, "section": 1}
    out = table.to_pylist()
    assert out[0]["text"] == "nested text" and out[0]["title"] == "H"
    assert out[0]["category"] == "sport" and out[0]["tags"] == '["a", "b"]' and out[0]["views"] == "12"
    assert out[0]["article_meta_headline"] == "H" and out[1]["category"] is None


def test_records_without_an_id_get_a_stable_one(tmp_path):
    rows = [{"id": "given", "body": "a", "link": "https://x.example/1"}, {"body": "b", "link": "https://x.example/2"},
            {"id": None, "body": "c"}]
    path = write_jsonl(tmp_path / "ids.jsonl", rows, compress=False)
    first, _, q = read_all(path, fields={"id": "id", "text": "body", "url": "link"})
    again, _, _ = read_all(path, fields={"id": "id", "text": "body", "url": "link"})
    ids = first.column("id").to_pylist()
    assert q == [] and ids[0] == "given" and ids[1].startswith("sha1:") and ids[2].startswith("sha1:")
    assert len(set(ids)) == 3 and ids == again.column("id").to_pylist()


def test_common_date_forms_become_utc():
    values = pa.chunked_array([["Sat, 28 Nov 2026 12:00:00 GMT", "13 Sep 2020", "2020/09/13 10:00",
                                "2020-09-13T10:22:05-04:00", "1600000000", "now", "yesterday"]])
    parsed, bad = parse_dates(values)
    iso = [v.isoformat() if v else None for v in parsed.to_pylist()]
    assert iso[:5] == ["2026-11-28T12:00:00+00:00", "2020-09-13T00:00:00+00:00", "2020-09-13T10:00:00+00:00",
                       "2020-09-13T14:22:05+00:00", "2020-09-13T12:26:40+00:00"]
    assert bad.tolist() == [False] * 5 + [True, True]


@pytest.mark.parametrize("codec", ["gzip", "gzip-members", "bz2", "xz", "zstd"])
def test_large_compressed_files_read_whole(tmp_path, codec):
    """Files many times larger than one read of stored bytes, and several concatenated members."""
    import os

    rows = [{"id": f"r{i}", "body": os.urandom(300).hex()} for i in range(6000)]  # ~3.6 MB, barely compressible
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path = tmp_path / "big.jsonl.x"
    if codec == "gzip":
        path.write_bytes(gzip.compress(data))
    elif codec == "gzip-members":
        half = data.index(b"\n", len(data) // 2) + 1
        path.write_bytes(gzip.compress(data[:half]) + gzip.compress(data[half:]))
    elif codec == "bz2":
        path.write_bytes(bz2.compress(data))
    elif codec == "xz":
        path.write_bytes(lzma.compress(data))
    else:
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    assert path.stat().st_size > 1 << 20
    table, ledger, quarantined = read_all(path, fields={"id": "id", "text": "body"})
    assert quarantined == [] and table.column("id").to_pylist() == [r["id"] for r in rows]
