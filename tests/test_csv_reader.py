"""CSV and TSV: dialects, compression, quarantine of bad rows, and byte-range splitting on row boundaries."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import builders.readers.csv as csvreader
from builders.config import InputConfig, load_config
from builders.pipeline import run_build
from builders.readers import pieces_of, detect
from builders.readers.csv import RowScanner
from conftest import article, read_input, wire_dump, write_config

FIELDS = {"id": "id", "text": "text", "title": "title"}


def write_csv(path: Path, rows: list, header=("id", "text", "title"), delimiter=",", newline="\n",
              encoding="utf-8", opener=None) -> Path:
    """Rows written the RFC 4180 way (Python's csv module); a row given as bytes is written as is."""
    parts = []
    for row in ([header] if header else []) + rows:
        if isinstance(row, bytes):
            parts.append(row.decode("utf-8", "surrogateescape"))
            continue
        text = io.StringIO()
        csv.writer(text, delimiter=delimiter, lineterminator=newline).writerow(row)
        parts.append(text.getvalue())
    data = "".join(parts).encode(encoding, "surrogateescape")
    if opener is None:
        path.write_bytes(data)
    else:
        with opener(path, "wb") as fh:
            fh.write(data)
    return path


def rows_of(table) -> list[tuple]:
    return [(r["id"], r["text"], r["title"]) for r in table.to_pylist()]


def quarantined_by_position(quarantined) -> dict:
    return {q["position"]: (q["code"], q["field"]) for q in quarantined}


def test_header_quoted_newlines_doubled_quotes_bom_and_crlf(tmp_path):
    rows = [["a1", 'He said "stop".\nThen he left.\n\nThe end.', "T1"],
            ["a2", "plain, with a comma", "T2"],
            ["a3", "line\r\nbreak kept", "T,3"]]
    path = write_csv(tmp_path / "news.csv", rows, newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    table, ledger, quarantined = read_input(path, file_index=2, fields=FIELDS)
    assert quarantined == []
    assert rows_of(table) == [tuple(r) for r in rows]
    assert table.column("_ord").to_pylist() == [(2 << 36) + i for i in (1, 2, 3)]  # data rows 1..3
    assert ledger.stage("ingest").docs_in == 3


def test_ids_are_file_and_row_when_no_id_field(tmp_path):
    path = write_csv(tmp_path / "x.csv", [b"\n", ["1", "first", "t"], b"\n\n", ["2", "second", "t"]])
    table, _, quarantined = read_input(path, fields={"text": "text"})
    assert quarantined == []
    assert table.column("id").to_pylist() == ["x.csv:1", "x.csv:2"]  # blank lines are not rows


def test_no_header_columns_are_f0_f1_or_named(tmp_path):
    path = write_csv(tmp_path / "plain.csv", [["1", "one", "x"], ["2", "two", "y"]], header=None)
    table, _, quarantined = read_input(path, fields={"id": "f0", "text": "f1", "title": "f2"}, csv={"header": False})
    assert quarantined == [] and rows_of(table) == [("1", "one", "x"), ("2", "two", "y")]
    table, _, _ = read_input(path, fields={"id": "key", "text": "body"}, csv={"header": False, "columns": ["key", "body", "t"]})
    assert table.column("text").to_pylist() == ["one", "two"]
    # With a header, `columns` renames: the header row is still skipped.
    path = write_csv(tmp_path / "named.csv", [["1", "one", "x"]])
    table, _, _ = read_input(path, fields={"id": "k", "text": "b"}, csv={"columns": ["k", "b", "t"]})
    assert table.column("text").to_pylist() == ["one"] and table.column("id").to_pylist() == ["1"]


def test_tab_and_semicolon_delimiters(tmp_path):
    rows = [["1", "tabs; and, commas", "T"], ["2", 'a "quoted"\tfield', "U"]]
    tsv = write_csv(tmp_path / "a.tsv", rows, delimiter="\t")
    assert detect(str(tsv), "auto") == ("tsv", None)
    table, _, quarantined = read_input(tsv, fields=FIELDS)
    assert quarantined == [] and rows_of(table) == [tuple(r) for r in rows]
    semi = write_csv(tmp_path / "b.csv", rows, delimiter=";")
    table, _, quarantined = read_input(semi, fields=FIELDS, csv={"delimiter": ";"})
    assert quarantined == [] and rows_of(table) == [tuple(r) for r in rows]
    # The wrong delimiter: one column named "id;text;title", no text; no row is lost silently.
    table, ledger, quarantined = read_input(semi, fields=FIELDS)
    assert table is None and ledger.stage("ingest").docs_in == 2
    assert quarantined_by_position(quarantined) == {1: ("ragged_row", None), 2: ("missing_text", "text")}


def test_single_quote_character(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b"id,text,title\n1,'it''s, here\nand there',T\n2,\"as is\",U\n")
    table, _, quarantined = read_input(path, fields=FIELDS, csv={"quote": "'"})
    assert quarantined == [] and rows_of(table) == [("1", "it's, here\nand there", "T"), ("2", '"as is"', "U")]


def test_header_only_duplicate_names_and_cr_line_ends(tmp_path):
    (tmp_path / "h.csv").write_bytes(b"id,text\n\n")
    table, ledger, quarantined = read_input(tmp_path / "h.csv", fields=FIELDS)
    assert table is None and quarantined == [] and ledger.stage("ingest").docs_in == 0
    (tmp_path / "d.csv").write_bytes(b"id,text,text, \n1,a,b,c\n")
    table, _, _ = read_input(tmp_path / "d.csv", fields={"id": "id", "text": "text_2"}, keep=["f3"])
    assert table.select(["text", "f3"]).to_pylist() == [{"text": "b", "f3": "c"}]  # the second "text"
    (tmp_path / "mac.csv").write_bytes(b'id,text,title\r1,one,T\r2,"two\rlines",T\r')
    table, _, quarantined = read_input(tmp_path / "mac.csv", fields=FIELDS)
    assert quarantined == [] and rows_of(table) == [("1", "one", "T"), ("2", "two\rlines", "T")]


def _zstd(path, mode):
    return pa.output_stream(str(path), compression="zstd")


@pytest.mark.parametrize("opener", [gzip.open, bz2.open, lzma.open, _zstd], ids=["gzip", "bz2", "xz", "zstd"])
def test_compression_is_told_by_content(tmp_path, opener):
    rows = [[f"r{i}", f"text {i}\nsecond line", f"T{i}"] for i in range(50)]
    path = write_csv(tmp_path / "dump.csv", rows, opener=opener)  # no compression suffix
    table, _, quarantined = read_input(path, fields=FIELDS, batch_size=7, target=1 << 16)
    assert quarantined == [] and rows_of(table) == [tuple(r) for r in rows]


def test_ragged_rows_are_quarantined_and_the_file_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(csvreader, "BLOCK", 4096)  # many Arrow blocks: ragged rows in all of them
    rnd = random.Random(3)
    rows, expected, ragged = [], [], {}
    for i in range(1, 601):
        if rnd.random() < 0.1:
            fields = [f"r{i}", "too", "many", "fields"] if i % 2 else [f"r{i}"]
            rows.append(fields)
            ragged[i] = f"expected 3 fields, got {len(fields)}"
        else:
            rows.append([f"r{i}", f"text {i}\n" * rnd.randint(1, 20), "T"])
            expected.append((f"r{i}", i))
    path = write_csv(tmp_path / "ragged.csv", rows)
    table, ledger, quarantined = read_input(path, fields=FIELDS, batch_size=50)
    assert [(r["id"], r["_ord"]) for r in table.to_pylist()] == expected
    assert {q["position"]: q["reason"] for q in quarantined} == ragged
    assert {q["code"] for q in quarantined} == {"ragged_row"}
    assert quarantined[0]["raw"].startswith(f"r{min(ragged)}")
    assert ledger.stage("ingest").docs_in == 600


def test_empty_fields_are_missing(tmp_path):
    path = tmp_path / "e.csv"
    path.write_bytes(b'id,text,title\n1,,T\n2,"",T\n,kept,\n4,NA,null\n')
    table, ledger, quarantined = read_input(path, fields=FIELDS)
    assert quarantined_by_position(quarantined) == {1: ("missing_text", "text"), 2: ("missing_text", "text")}
    rows = table.to_pylist()
    assert [r["text"] for r in rows] == ["kept", "NA"]
    assert rows[0]["id"].startswith("sha1:") and rows[0]["title"] is None  # an empty id gets the hash id
    assert rows[1]["title"] == "null"  # only an empty field is missing
    assert ledger.stage("ingest").docs_in == 4


def test_kept_and_dotted_keys(tmp_path):
    path = tmp_path / "k.csv"
    path.write_bytes(b"id,text,meta.section,extra,unused\n1,body,World,x1,u\n2,body two,,x2,u\n")
    table, _, quarantined = read_input(path, fields={"id": "id", "text": "text"}, keep=["meta.section", "extra", "absent"])
    assert quarantined == []
    assert table.column("meta_section").to_pylist() == ["World", None]
    assert table.column("extra").to_pylist() == ["x1", "x2"]
    assert table.column("absent").to_pylist() == [None, None]


def test_invalid_utf8_reads_as_cp1252_or_quarantines_the_record(tmp_path):
    path = tmp_path / "enc.csv"
    path.write_bytes(b"id,text,title\n1,caf\xe9 cr\xe8me,T\n2,bad \x81 byte,T\n3,ragged \xff\n4,caf\xc3\xa9,T\n")
    table, ledger, quarantined = read_input(path, fields=FIELDS)
    assert rows_of(table) == [("1", "café crème", "T"), ("4", "café", "T")]
    assert quarantined_by_position(quarantined) == {2: ("invalid_utf8", "text"), 3: ("ragged_row", None)}
    assert ledger.stage("ingest").docs_in == 4


def test_characters_cut_by_blocks_stay_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(csvreader, "BLOCK", 1001)
    monkeypatch.setattr(csvreader.CsvReader, "_recover", None)  # every row fits in a block
    rows = [[str(i), "é€😀 ü" * (i % 37 + 1), "Ω"] for i in range(2000)]
    table, _, quarantined = read_input(write_csv(tmp_path / "m.csv", rows), fields=FIELDS)
    assert quarantined == [] and rows_of(table) == [tuple(r) for r in rows]


def test_utf16_with_bom(tmp_path):
    rows = [["1", "grüße\naus Köln", "T"], ["2", "second", "U"]]
    path = write_csv(tmp_path / "u.csv", rows, encoding="utf-16")
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    table, _, quarantined = read_input(path, fields=FIELDS, format="csv")  # `auto` takes UTF-16 for binary
    assert quarantined == [] and rows_of(table) == [tuple(r) for r in rows]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_long_rows_read_alone_or_quarantined(tmp_path, monkeypatch, compress):
    monkeypatch.setattr(csvreader, "BLOCK", 2048)  # rows over ~4 KB cannot be parsed in Arrow's blocks
    long_ok = "long " * 2000 + '"quoted"\nnewline'  # 10 KB: within max_record_bytes, read alone
    too_big = "huge\n" * 6000  # 30 KB: over max_record_bytes
    rows = [["1", long_ok, "T"], ["2", "short", "T"], ["3", too_big, "T"], ["4"], ["5", "after", "T"],
            ["6", "x" * 3000, "T"], ["7", "y" * 3000, "T"], ["8", too_big, "T"], ["9", long_ok, "last"]]
    path = write_csv(tmp_path / "long.csv", rows, opener=gzip.open if compress else None)
    table, ledger, quarantined = read_input(path, fields=FIELDS, max_record_bytes=20_000)
    got = rows_of(table)
    assert [r[0] for r in got] == ["1", "2", "5", "6", "7", "9"]
    assert got[0][1] == long_ok and got[-1] == ("9", long_ok, "last")
    assert table.column("_ord").to_pylist() == [1, 2, 5, 6, 7, 9]
    assert quarantined_by_position(quarantined) == {3: ("too_large", None), 4: ("ragged_row", None),
                                                    8: ("too_large", None)}
    assert ledger.stage("ingest").docs_in == 9


def test_field_over_max_record_bytes(tmp_path):
    rows = [["1", "ok", "T"], ["2", "text", "t" * 5000], ["3", "z" * 5000, "T"], ["4", "fine", "T"]]
    path = write_csv(tmp_path / "big.csv", rows)
    table, _, quarantined = read_input(path, fields=FIELDS, max_record_bytes=4096)
    assert [r[0] for r in rows_of(table)] == ["1", "4"]
    assert quarantined_by_position(quarantined) == {2: ("too_large", "title"), 3: ("too_large", "text")}


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.7])
def test_truncated_gzip_keeps_what_came_before(tmp_path, keep):
    rnd = random.Random(1)
    # A long unquoted last field: the break most likely cuts it, leaving a row that looks whole.
    rows = [[f"r{i}", f"text {i}\nmore", " ".join(str(rnd.random()) for _ in range(30))] for i in range(3000)]
    path = write_csv(tmp_path / "t.csv.gz", rows, opener=gzip.open)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    table, ledger, quarantined = read_input(path, fields=FIELDS, batch_size=100)
    n = table.num_rows
    assert 0 < n < 3000
    assert rows_of(table) == [tuple(r) for r in rows[:n]]  # no row cut short
    assert len(quarantined) == 1 and quarantined[0]["code"] == "truncated"
    assert quarantined[0]["position"] == n + 1 and "unreadable from here on" in quarantined[0]["reason"]
    assert ledger.stage("ingest").docs_in == n + 1


def test_scanner_finds_row_ends_whatever_the_blocks():
    rnd = random.Random(7)
    pieces, ends, offset = [], [], 0
    for i in range(300):
        text = "".join(rnd.choice(['a', 'b', ',', '"', '\n', '\r\n', ' ', 'é']) for _ in range(rnd.randint(0, 30)))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n" if i % 3 else "\r\n").writerow([str(i), text, ""])
        data = out.getvalue().encode()
        pieces.append(data)
        offset += len(data)
        ends.append(offset)
    data = b"".join(pieces)
    for size in (1, 2, 3, 7, 64, 1000, len(data)):
        scanner = RowScanner(",", '"')
        found = [int(e) for i in range(0, len(data), size) for e in scanner.feed(data[i:i + size])[0]]
        assert found == ends and scanner.anomaly is None
    scanner = RowScanner(",", '"')
    scanner.feed(b'1,"ok"\n2,5" screen,x\n3,"a\nb"\n')
    assert scanner.anomaly == 10  # a quote inside an unquoted field: parity no longer follows Arrow


def split_file(path: Path, target: int, bounds: int, long_every: int = 0) -> list[list[str]]:
    """A CSV whose split points (multiples of `target`) fall inside quoted fields full of newlines,
    on doubled quotes, on row starts, on CR LF ends and among blank lines; returns the rows (None
    for a ragged one). With `long_every`, every so many rows is a few KB long."""
    out = io.BytesIO()
    out.write(b"id,text,title\r\n")
    rows: list[list[str]] = []
    rnd = random.Random(11)
    bound = target
    while bound <= target * bounds:
        distance = bound - out.tell()
        i = len(rows) + 1
        ident = f"r{i:05d}"
        blank_lines = False
        if distance < 300:
            variant = (bound // target) % 6
            lead = distance - len(ident) - 2  # bytes of text before the split point
            fake = '\n9,"fake",row\n"\n'  # what a line-based split would take for rows
            if variant == 0:  # the split point is a newline inside a quoted field
                text = "x" * lead + fake
            elif variant == 1:  # ... the byte after one
                text = "x" * (lead - 1) + fake
            elif variant == 2:  # ... a doubled quote
                text = "x" * lead + '"' + fake
            elif variant == 3:  # ... the first byte of a row
                text = "x" * (distance - len(ident) - 5)
            elif variant == 4:  # ... the CR of a CR LF row end
                text = "x" * (distance - len(ident) - 3)
            else:  # ... a blank line between rows
                text = "x" * (distance - len(ident) - 6)
                blank_lines = True
            row = [ident, text, "T"]
            bound += target
        elif long_every and i % long_every == 0 and distance > 8000:
            row = [ident, article(i, paragraphs=rnd.randint(8, 12), words=60) + '\n"quoted"', "T"]
        else:
            row = [ident, article(i, paragraphs=rnd.randint(1, 2), words=rnd.randint(3, 10)), "T"]
        line = io.StringIO()
        csv.writer(line, lineterminator="\r\n").writerow(row)
        out.write(line.getvalue().encode())
        if blank_lines:
            out.write(b"\r\n\n")
        rows.append(row)
        if i % 97 == 0:
            out.write(f"r{i}b,ragged\r\n".encode())
            rows.append(None)
    path.write_bytes(out.getvalue())
    return rows


@pytest.mark.parametrize("block", [None, 1024], ids=["rows-fit-blocks", "long-rows-read-alone"])
def test_split_pieces_read_exactly_what_one_read_does(tmp_path, monkeypatch, block):
    target = 1 << 16
    path = tmp_path / "split.csv"
    rows = split_file(path, target, bounds=12, long_every=53 if block else 0)
    if block:
        monkeypatch.setattr(csvreader, "BLOCK", block)
    config = InputConfig(paths=[str(path)], fields=FIELDS)
    pieces = pieces_of(str(path), config, target)
    assert len(pieces) >= 10
    data = path.read_bytes()
    for piece in pieces[1:]:
        assert data[piece.start - 1:piece.start] == b"\n" and piece.size < 2 * target
    assert sum(p.size for p in pieces) == len(data)

    whole, whole_ledger, whole_q = read_input(path, fields=FIELDS, batch_size=500)
    split, split_ledger, split_q = read_input(path, fields=FIELDS, batch_size=500, target=target)
    assert split.equals(whole)
    assert sorted(map(json.dumps, split_q)) == sorted(map(json.dumps, whole_q))
    assert split_ledger.stage("ingest").docs_in == whole_ledger.stage("ingest").docs_in == len(rows)
    expected = [(r[0], r[1], r[2], n) for n, r in enumerate(rows, 1) if r is not None]
    assert [(r["id"], r["text"], r["title"], r["_ord"]) for r in whole.to_pylist()] == expected
    assert {q["position"] for q in whole_q} == {n for n, r in enumerate(rows, 1) if r is None}


def test_no_split_after_a_quote_parity_cannot_follow(tmp_path):
    target = 1 << 16
    path = tmp_path / "stray.csv"
    split_file(path, target, bounds=8)
    data = path.read_bytes()
    cut = data.index(b"\r\n", 3 * target) + 2
    path.write_bytes(data[:cut] + b'r0,He bought a 5" screen,T\r\n' + data[cut:])  # legal for Arrow, not RFC 4180
    pieces = pieces_of(str(path), InputConfig(paths=[str(path)], fields=FIELDS), target)
    assert 1 < len(pieces) <= 4 and all(p.start <= cut for p in pieces)
    whole, _, whole_q = read_input(path, fields=FIELDS)
    split, _, split_q = read_input(path, fields=FIELDS, target=target)
    assert split.equals(whole) and split_q == whole_q
    assert 'He bought a 5" screen' in whole.column("text").to_pylist()


def test_end_to_end_build_from_csv(tmp_path):
    records = wire_dump(tmp_path / "generated", stories=6, copies=4, files=1)
    raw = tmp_path / "raw"
    raw.mkdir()
    header = ("id", "url", "site", "title", "text", "crawled_at")
    rows = [[r.get(k, "") for k in header] for r in records]
    write_csv(raw / "pages-a.csv", rows[::2], header=header)
    write_csv(raw / "pages-b.tsv.gz", rows[1::2] + [b"ragged\trow\n"], header=header, delimiter="\t", opener=gzip.open)
    config = write_config(tmp_path, input={
        "paths": ["raw/*.csv", "raw/*.tsv.gz"],
        "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"},
    })
    result = run_build(load_config(config, ["publish.formats=[parquet]"]))
    out = tmp_path / "out"
    frame = pd.read_parquet(out / "data")
    assert sorted(frame["id"]) == [f"s{s}-c0" for s in range(6)]
    totals = result.stats["totals"]
    assert totals["read"] == len(records) + 1 and totals["published"] == 6
    assert totals["quarantined"] == 1 and totals["reconciled"]
    quarantine = pd.read_parquet(out / "quarantine")
    assert quarantine["code"].tolist() == ["ragged_row"]
    assert quarantine["position"].tolist() == [len(rows[1::2]) + 1]
