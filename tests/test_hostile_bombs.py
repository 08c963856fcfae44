"""Decompression bombs and oversized records: stopped at the limit without being held in memory.

A few hundred kilobytes on disk inflate to hundreds of megabytes; each file is read through the
real reader in a child process that reports how much its peak memory (ru_maxrss) grew while
reading (after reading a small file of the same format, so lazy imports are not counted). The
record over `input.max_record_bytes` must be one quarantine entry naming the file, its position
and the limit, and the records after it must still be read.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MiB = 1 << 20
LIMIT = MiB  # input.max_record_bytes in these tests
#: What a bomb may add to the reader's peak memory; the bombs inflate to 96-192 MiB, and before
#: decompression was bounded one stored chunk of them made 250 MB or more at once.
GROWTH_MB = 40


def gzip_bomb(prefix: bytes, fill: bytes, mib: int, suffix: bytes) -> bytes:
    """One gzip member inflating to prefix + `mib` MiB of `fill` + suffix, made in milliseconds:
    a fully flushed deflate block is byte-aligned and stands alone, so it can be repeated."""
    unit = fill * (MiB // len(fill))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(unit) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(mib):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(suffix, crc)
    size = (len(prefix) + mib * len(unit) + len(suffix)) & 0xFFFFFFFF
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + head + block * mib + tail
            + struct.pack("<II", crc & 0xFFFFFFFF, size))


def _zstd(data: bytes) -> bytes:
    """A zstd frame, made with pyarrow's codec (no zstandard package needed)."""
    import pyarrow as pa

    return pa.Codec("zstd", compression_level=3).compress(data, asbytes=True)


COMPRESS = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zstd": _zstd}
SUFFIX = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz", "zstd": ".zst"}


def bomb(codec: str, prefix: bytes, fill: bytes, mib: int, suffix: bytes) -> bytes:
    """prefix + `mib` MiB of `fill` + suffix, compressed (gzip: one member; the others: streams or
    frames of 16 MiB concatenated, which every codec's format allows and the readers read on)."""
    if codec == "gzip":
        return gzip_bomb(prefix, fill, mib, suffix)
    compress = COMPRESS[codec]
    unit = compress(fill * (16 * MiB // len(fill)))
    return compress(prefix) + unit * (mib // 16) + compress(suffix)


_CHILD = r"""
import json, resource, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
from conftest import read_input
options = json.loads(sys.argv[4])
read_input(sys.argv[3], **options)  # warm: imports and first-use allocations are not the bomb's
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
table, ledger, quarantined = read_input(sys.argv[2], **options)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stats = ledger.stage("ingest")
print(json.dumps({"growth_mb": (after - before) / 1024, "rows": table.num_rows if table is not None else 0,
                  "ids": table.column("id").to_pylist() if table is not None else [],
                  "docs_in": stats.docs_in, "quarantined": [(q["file"], q["position"], q["code"], q["reason"]) for q in quarantined]}))
"""


def read_in_child(path: Path, warm: Path, **options) -> dict:
    result = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(path), str(warm), json.dumps(options)],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def warm_file(tmp_path: Path, name: str, data: bytes, codec: str) -> Path:
    path = tmp_path / f"warm-{name}{SUFFIX[codec]}"
    path.write_bytes(COMPRESS[codec](data))
    return path


@pytest.mark.parametrize("codec", ["gzip", "bz2", "xz", "zstd"])
def test_jsonl_line_bomb_is_quarantined_without_being_held(tmp_path, codec):
    path = tmp_path / f"bomb.jsonl{SUFFIX[codec]}"
    path.write_bytes(bomb(codec, b'{"id": "head", "text": "before"}\n{"id": "bomb", "text": "', b"a", 96,
                          b'"}\n{"id": "tail", "text": "after"}\n'))
    assert path.stat().st_size < 300_000
    warm = warm_file(tmp_path, "a.jsonl", b'{"id": "w", "text": "' + b"w" * 5000 + b'"}\n', codec)
    got = read_in_child(path, warm, format="jsonl", fields={"id": "id"}, max_record_bytes=LIMIT)
    assert got["growth_mb"] < GROWTH_MB, got
    assert got["ids"] == ["head", "tail"] and got["docs_in"] == 3
    [(file, position, code, reason)] = got["quarantined"]
    assert (file, position, code) == (str(path), 2, "too_large") and "input.max_record_bytes" in reason


@pytest.mark.parametrize("codec", ["gzip"])
def test_csv_row_bomb_is_quarantined_without_being_held(tmp_path, codec):
    path = tmp_path / f"bomb.csv{SUFFIX[codec]}"
    path.write_bytes(bomb(codec, b'id,text\nhead,before\nbomb,"', b"a", 96, b'"\ntail,after\n'))
    warm = warm_file(tmp_path, "a.csv", b"id,text\n" + b'w,"' + b"w, " * 3000 + b'"\n', codec)
    got = read_in_child(path, warm, format="csv", fields={"id": "id"}, max_record_bytes=LIMIT)
    # The CSV reader scans a long row in 8 MiB blocks (numpy masks of them): bounded, not small.
    assert got["growth_mb"] < 2.5 * GROWTH_MB, got
    assert got["ids"] == ["head", "tail"] and got["docs_in"] == 3
    [(file, position, code, reason)] = got["quarantined"]
    assert (file, position, code) == (str(path), 2, "too_large") and "input.max_record_bytes" in reason


@pytest.mark.parametrize("fmt,name,prefix,fill", [
    ("text", "page.txt", b"A title\n\n", b"w"),
    ("html", "page.html", b"<html><body><p>", b"w"),
])
@pytest.mark.parametrize("codec", ["gzip", "bz2"])
def test_one_document_file_bomb_is_stopped_at_the_limit(tmp_path, fmt, name, prefix, fill, codec):
    path = tmp_path / f"{name}{SUFFIX[codec]}"
    path.write_bytes(bomb(codec, prefix, fill, 192, b"</p></body></html>\n"))
    warm = warm_file(tmp_path, name, prefix + b"Some words here. " * 50 + b"</p></body></html>", codec)
    got = read_in_child(path, warm, format=fmt, max_record_bytes=LIMIT)
    assert got["growth_mb"] < GROWTH_MB, got
    [(file, position, code, reason)] = got["quarantined"]
    assert (file, position, code) == (str(path), 0, "too_large")
    assert "input.max_record_bytes" in reason  # 1 MiB is below input.html.max_bytes: it is the limit


def _warc_head(rid: bytes, uri: bytes, length: int) -> bytes:
    return (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\nWARC-Target-URI: %s\r\n"
            b"WARC-Date: 2020-01-01T00:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
            b"Content-Length: %d\r\n\r\n") % (rid, uri, length)


def _warc_page(rid: bytes, uri: bytes) -> bytes:
    html = (b"<html><head><title>T</title></head><body><article>"
            + b"<p>The council met on Tuesday to discuss the budget for the new harbour bridge and railway.</p>" * 5
            + b"</article></body></html>")
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    return gzip.compress(_warc_head(rid, uri, len(block)) + block + b"\r\n\r\n")


@pytest.mark.parametrize("kind", ["payload", "warc_header", "http_header"])
def test_warc_record_bombs_cost_no_memory_and_the_next_record_is_read(tmp_path, kind):
    mib = 160
    first, last = _warc_page(b"1", b"https://a.example/1"), _warc_page(b"3", b"https://a.example/3")
    if kind == "payload":  # a response whose body is 160 MiB of zeros
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
        middle = gzip_bomb(_warc_head(b"2", b"https://a.example/2", len(http) + mib * MiB) + http, b"\x00", mib,
                           b"\r\n\r\n")
    elif kind == "warc_header":  # one WARC header line of 160 MiB
        middle = gzip_bomb(b"WARC/1.0\r\nWARC-Type: response\r\nX-Pad: ", b"a", mib, b"\r\nContent-Length: 0\r\n\r\n\r\n\r\n")
    else:  # one HTTP header line of 160 MiB
        pad = b"HTTP/1.1 200 OK\r\nX-Pad: "
        middle = gzip_bomb(_warc_head(b"2", b"https://a.example/2", len(pad) + mib * MiB + 4) + pad, b"a", mib,
                           b"\r\n\r\n\r\n\r\n")
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(first + middle + last)
    warm = tmp_path / "warm.warc.gz"
    warm.write_bytes(first)
    got = read_in_child(path, warm, format="warc", max_record_bytes=LIMIT)
    assert got["growth_mb"] < GROWTH_MB, got
    assert got["rows"] == 2 and got["docs_in"] == 3
    [(file, position, code, reason)] = got["quarantined"]
    assert file == str(path) and position == len(first)
    assert code == ("too_large" if kind == "payload" else "bad_warc_record"), reason


def test_a_file_of_nothing_but_newlines_is_counted_fast(tmp_path):
    """256 MiB of newlines (a 256 KB gzip): blank lines are counted a block at a time, not split
    into 256 million empty strings (that took 18 s; a budget of 8 s on a busy machine)."""
    import time

    from conftest import read_input

    path = tmp_path / "newlines.jsonl.gz"
    path.write_bytes(gzip_bomb(b'{"id": "head", "text": "a"}\n', b"\n", 256, b'{"id": "tail", "text": "b"}\n'))
    started = time.perf_counter()
    table, ledger, quarantined = read_input(path, fields={"id": "id"}, max_record_bytes=LIMIT)
    assert time.perf_counter() - started < 8
    assert table.column("id").to_pylist() == ["head", "tail"] and not quarantined
    assert table.column("_ord").to_pylist() == [1, 256 * MiB + 2]  # file 0: line numbers, blanks counted


def test_read_head_of_a_bomb_reads_only_the_head(tmp_path):
    """Format detection reads the first 64 KiB; a gzip bomb must not inflate a whole stored chunk."""
    from builders import io

    path = tmp_path / "x.jsonl.bz2"
    path.write_bytes(bomb("bz2", b'{"text": "', b"a", 512, b'"}\n'))
    stream = io.open_decompressed(str(path))
    try:
        assert len(stream.read(1 << 16)) == 1 << 16
        assert len(stream.buffer) <= 2 * MiB  # what it decompressed beyond what was asked
    finally:
        stream.close()
