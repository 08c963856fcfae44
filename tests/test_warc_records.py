"""builders.text.warc: record iteration, split points, damaged input, real WARC files."""

from __future__ import annotations

import gzip
import io
import re
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from builders.text.warc import WarcProblem, WarcRecord, iter_warc, warc_index

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
WARC_DIR = SHARED / "corpora" / "warc"
ALL_TYPES = None


@pytest.fixture
def warc_dir() -> Path:
    if not WARC_DIR.is_dir():
        pytest.skip(f"../shared is absent ({WARC_DIR}); it holds the real WARC files these tests read")
    return WARC_DIR


# --------------------------------------------------------------------------- helpers


def page(i: int, size: int = 3000) -> bytes:
    words = b" ".join(b"word%d" % ((i * 7919 + k) % 1000) for k in range(size // 8))
    return b"<!DOCTYPE html><html><body><p>page %d</p><p>%s</p></body></html>" % (i, words)


def warc_bytes(n: int, gz: bool = True, size: int = 3000) -> bytes:
    """warcinfo, then n x (request, response, metadata), written by warcio."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    writer.write_record(writer.create_warcinfo_record("test.warc", {"software": "test"}))
    for i in range(n):
        uri = f"http://example.com/{i}"
        req = StatusAndHeaders(f"GET /{i} HTTP/1.1", [("Host", "example.com")], is_http_request=True)
        writer.write_record(writer.create_warc_record(uri, "request", http_headers=req))
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(page(i, size)), http_headers=head))
        writer.write_record(writer.create_warc_record(uri, "metadata", payload=io.BytesIO(b"fetchTimeMs: %d\r\n" % i)))
    return buf.getvalue()


def key(item):
    if isinstance(item, WarcRecord):
        return ("R", item.number, item.offset, item.type, item.target_uri, item.record_id, item.payload, item.too_large)
    return ("P", item.number, item.offset, item.fatal)


def read_in_pieces(path, every_bytes, **kw):
    index = warc_index(str(path), every_bytes)
    assert index[0] == (0, 0)
    assert [o for o, _ in index] == sorted({o for o, _ in index}), index
    items = []
    for (start, number), (stop, _) in zip(index, index[1:] + [(None, None)]):
        piece = list(iter_warc(str(path), start=start, number=number, stop=stop, **kw))
        assert all(start <= it.offset and (stop is None or it.offset < stop) for it in piece)
        items += piece
    return index, items


def assert_split_equals_full(path, every_bytes, **kw):
    full = [key(i) for i in iter_warc(str(path), **kw)]
    index, pieces = read_in_pieces(path, every_bytes, **kw)
    assert [key(i) for i in pieces] == full
    assert [k[1] for k in full] == list(range(len(full)))  # numbers contiguous, no duplicates, none missing
    return index, full


def record_offsets(data: bytes) -> list[int]:
    """Record start offsets, independently of the code under test (warcio)."""
    from warcio.archiveiterator import ArchiveIterator

    it = ArchiveIterator(io.BytesIO(data))
    return [it.get_record_offset() for _ in it]


def write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def looks_like_html(payload: bytes) -> bool:
    return payload.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html"))


# --------------------------------------------------------------------------- real files


def test_common_crawl_slice(warc_dir):
    items = list(iter_warc(str(warc_dir / "warcfile.warc.gz"), types=ALL_TYPES))
    assert not [i for i in items if isinstance(i, WarcProblem)]
    assert [i.number for i in items] == list(range(50))
    assert Counter(i.type for i in items) == {"warcinfo": 1, "request": 17, "response": 16, "metadata": 16}
    offsets = [i.offset for i in items]
    assert offsets[0] == 0 and offsets == sorted(set(offsets))
    assert all(i.target_uri and i.target_uri.startswith("http") for i in items if i.type != "warcinfo")
    ids = [i.record_id for i in items]
    assert len(set(ids)) == 50 and all(x.startswith("urn:uuid:") and ">" not in x for x in ids)
    assert items[0].date == "2020-08-08T16:54:17Z"
    responses = [i for i in items if i.type == "response"]
    assert all(r.http_status == 200 and r.content_type.startswith("text/html") for r in responses)
    assert all(looks_like_html(r.payload) for r in responses), [r.payload[:30] for r in responses]
    assert not any(b"HTTP/1." in r.payload[:20] for r in responses)  # HTTP head stripped


def test_types_filter_keeps_numbers_and_drops_payloads(warc_dir):
    path = str(warc_dir / "warcfile.warc.gz")
    everything = list(iter_warc(path, types=ALL_TYPES))
    default = list(iter_warc(path))
    assert [(i.number, i.offset, i.type) for i in default] == [(i.number, i.offset, i.type) for i in everything]
    for i in default:
        if i.type in ("response", "resource"):
            assert i.payload
        else:
            assert i.payload == b"" and i.http_status is None and i.content_type is None
    assert sum(1 for i in default if i.type == "response" and looks_like_html(i.payload)) == 16


def test_whirlwind_page(warc_dir):
    items = list(iter_warc(str(warc_dir / "whirlwind.warc.gz")))
    assert [i.type for i in items] == ["warcinfo", "request", "response", "metadata"]
    (response,) = [i for i in items if i.type == "response"]
    assert response.target_uri == "https://an.wikipedia.org/wiki/Escopete"
    assert response.http_status == 200 and response.content_type == "text/html; charset=UTF-8"
    assert response.payload.startswith(b"<!DOCTYPE html>") and len(response.payload) == 72848


def test_clueweb_quirks(warc_dir):
    # WARC/0.18, an impossible WARC-Date, "application/http;msgtype=response", HTTP heads with bare
    # LF line ends (a strict HTTP parser swallows half the page into the headers) and
    # "Content-Encoding: gzip" on bodies stored decoded.
    items = list(iter_warc(str(warc_dir / "clueweb-quirk.warc.gz"), types=ALL_TYPES))
    assert not [i for i in items if isinstance(i, WarcProblem)]
    assert Counter(i.type for i in items) == {"warcinfo": 1, "response": 29}
    assert b"clueweb09" in items[0].payload
    responses = items[1:]
    assert all(r.date == "2008-10-294T05:21:46-0700" for r in responses)
    assert all(r.target_uri.startswith("http://") for r in responses)
    assert all(r.http_status == 200 and r.content_type == "text/html; charset=EUC-JP" for r in responses)
    assert all(r.payload.startswith(b"<html>\n<head>\n<title>") for r in responses)
    assert len(responses[0].payload) == 31293


@pytest.mark.parametrize("name", ["warcfile.warc.gz", "clueweb-quirk.warc.gz", "whirlwind.warc.gz"])
def test_real_files_split_equals_full_read(warc_dir, name):
    index, full = assert_split_equals_full(warc_dir / name, 10_000, types=ALL_TYPES)
    if name != "whirlwind.warc.gz":  # whirlwind is 4 records in 19 KB
        assert len(index) > 5


# --------------------------------------------------------------------------- splitting


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("every_bytes", [1, 700, 9_000, 10**9])
def test_split_pieces_union_equals_full_read(tmp_path, gz, every_bytes):
    data = warc_bytes(30, gz=gz)
    path = write(tmp_path, "t.warc.gz" if gz else "t.warc", data)
    index, full = assert_split_equals_full(path, every_bytes, types=ALL_TYPES)
    truth = record_offsets(data)
    assert [k[2] for k in full] == truth  # offsets are the real record starts
    assert len(full) == 91
    responses = [k for k in full if k[3] == "response"]
    assert [k[6] for k in responses] == [page(i) for i in range(30)]
    if every_bytes == 1:
        assert index == [(o, n) for n, o in enumerate(truth)]
    if every_bytes == 10**9:
        assert index == [(0, 0)]


def test_split_points_spread_by_raw_bytes(tmp_path):
    data = warc_bytes(200, gz=True)
    path = write(tmp_path, "t.warc.gz", data)
    index = warc_index(path, 20_000)
    gaps = [b - a for (a, _), (b, _) in zip(index, index[1:])]
    assert len(index) >= len(data) // 20_000 - 1
    assert all(g >= 20_000 for g in gaps)


def test_single_member_gzip_is_not_split(tmp_path):
    plain = warc_bytes(40, gz=False)
    path = write(tmp_path, "one-member.warc.gz", gzip.compress(plain))
    assert warc_index(path, 1) == [(0, 0)]
    items = list(iter_warc(path, types=ALL_TYPES))
    assert len(items) == 121 and all(isinstance(i, WarcRecord) for i in items)
    assert {i.offset for i in items} == {0}  # the one member's start
    assert [i.payload for i in items if i.type == "response"] == [page(i) for i in range(40)]
    # seeking into the middle of the member is refused, not misread
    (problem,) = list(iter_warc(path, start=1000, number=7))
    assert isinstance(problem, WarcProblem) and problem.fatal and problem.offset == 1000 and problem.number == 7


def test_gzip_members_of_several_records(tmp_path):
    # Some writers put several records in one gzip member: a record's offset is then the start of
    # its member, and the file splits only at member boundaries.
    plain = warc_bytes(20, gz=False, size=20_000)
    offs = record_offsets(plain) + [len(plain)]
    records = [plain[a:b] for a, b in zip(offs, offs[1:])]
    members = [gzip.compress(b"".join(records[i : i + 3])) for i in range(0, len(records), 3)]
    starts = [sum(len(m) for m in members[:k]) for k in range(len(members))]
    path = write(tmp_path, "grouped.warc.gz", b"".join(members))
    index, full = assert_split_equals_full(path, 1, types=ALL_TYPES)
    assert len(full) == 61
    assert [k[2] for k in full] == [starts[i // 3] for i in range(61)]
    assert index == [(start, 3 * k) for k, start in enumerate(starts)]
    assert [k[6] for k in full if k[3] == "response"] == [page(i, 20_000) for i in range(20)]


def test_gzip_members_cut_at_fixed_sizes_are_not_split(tmp_path):
    # BGZF-style: members every 1000 bytes of the stream, whatever the record boundaries. A record's
    # member then starts inside the previous record, so no member start is a place to begin reading.
    plain = warc_bytes(10, gz=False)
    data = b"".join(gzip.compress(plain[i : i + 1000]) for i in range(0, len(plain), 1000))
    path = write(tmp_path, "blocks.warc.gz", data)
    index, full = assert_split_equals_full(path, 1, types=ALL_TYPES)
    assert index == [(0, 0)]
    assert len(full) == 31 and all(k[0] == "R" for k in full)


def test_start_that_is_not_a_record_is_refused(tmp_path):
    path = write(tmp_path, "t.warc", warc_bytes(3, gz=False))
    (problem,) = list(iter_warc(path, start=17, number=3))
    assert problem.fatal and problem.offset == 17 and problem.number == 3


# --------------------------------------------------------------------------- damage


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
@pytest.mark.parametrize("cut", [5, 150, 2500], ids=["in-gzip-header", "in-warc-header", "in-payload"])
def test_truncated_file(tmp_path, gz, cut):
    data = warc_bytes(5, gz=gz)
    offsets = record_offsets(data)
    last_response = offsets[-2]  # ... response, metadata
    cut_at = last_response + (cut if not gz or cut < 400 else 350)  # a gzip response member is ~900 bytes
    path = write(tmp_path, "cut", data[:cut_at])
    items = list(iter_warc(path, types=ALL_TYPES))
    *records, problem = items
    assert all(isinstance(i, WarcRecord) for i in records)
    assert [i.offset for i in records] == offsets[: len(records)]
    assert len(records) == len(offsets) - 2
    assert isinstance(problem, WarcProblem) and problem.fatal
    assert problem.offset == last_response and problem.number == len(records)
    assert "\n" not in problem.message
    assert_split_equals_full(path, 500, types=ALL_TYPES)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_garbage_in_the_middle(tmp_path, gz):
    data = warc_bytes(6, gz=gz)
    offsets = record_offsets(data)
    at = offsets[7]  # the 3rd response
    junk = b"\x00garbage\xff" * 50
    path = write(tmp_path, "junk", data[:at] + junk + data[at:])
    items = list(iter_warc(path, types=ALL_TYPES))
    problems = [i for i in items if isinstance(i, WarcProblem)]
    assert len(problems) == 1 and not problems[0].fatal
    assert problems[0].offset == at and problems[0].number == 7
    records = [i for i in items if isinstance(i, WarcRecord)]
    assert [i.offset for i in records] == offsets[:7] + [o + len(junk) for o in offsets[7:]]
    assert [i.payload for i in records if i.type == "response"] == [page(i) for i in range(6)]
    assert [i.number for i in items] == list(range(len(items)))
    assert_split_equals_full(path, 1, types=ALL_TYPES)


@pytest.mark.parametrize("value", [b"1000", b"abc", b"99999999999"], ids=["too-small", "not-a-number", "past-eof"])
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_bad_content_length(tmp_path, gz, value):
    plain = warc_bytes(6, gz=False)
    offs = record_offsets(plain) + [len(plain)]
    records = [plain[a:b] for a, b in zip(offs, offs[1:])]
    m = re.search(rb"Content-Length: (\d+)\r\n", records[5])  # the 2nd response
    records[5] = records[5][: m.start(1)] + value + records[5][m.end(1) :]
    data = b"".join(gzip.compress(r) for r in records) if gz else b"".join(records)
    path = write(tmp_path, "bad-length", data)
    items = list(iter_warc(path, types=ALL_TYPES))
    problems = [i for i in items if isinstance(i, WarcProblem)]
    assert problems and not any(p.fatal for p in problems)
    assert [i.number for i in items] == list(range(len(items)))
    responses = [i for i in items if isinstance(i, WarcRecord) and i.type == "response"]
    assert [r.payload for r in responses][-3:] == [page(i) for i in (3, 4, 5)]  # reading went on
    assert_split_equals_full(path, 1, types=ALL_TYPES)


@pytest.mark.parametrize(
    "data",
    [
        b"just some text\nand more\n" * 40,
        gzip.compress(b"<html>not a warc</html>\n" * 40),
        b"",
        bytes(range(256)) * 8,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        b"WARC/1.0 but not really",
    ],
    ids=["text", "gzip-text", "empty", "binary", "png", "fake-warc-line"],
)
def test_not_a_warc(tmp_path, data):
    path = write(tmp_path, "x.warc.gz", data)
    (problem,) = list(iter_warc(path))
    assert isinstance(problem, WarcProblem) and problem.fatal and problem.offset == 0 and problem.number == 0
    assert "\n" not in problem.message
    assert warc_index(path, 100) == [(0, 0)]


def test_missing_file_is_a_problem_not_an_exception(tmp_path):
    (problem,) = list(iter_warc(str(tmp_path / "nope.warc.gz")))
    assert problem.fatal and problem.offset == 0


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_too_large_payload_is_skipped_without_reading_it(tmp_path, gz):
    big = b"<html>" + b"x" * (8 << 20) + b"</html>"
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    head = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    for i, body in enumerate([page(0), big, page(2)]):
        writer.write_record(writer.create_warc_record(f"http://e.com/{i}", "response", payload=io.BytesIO(body), http_headers=head))
    path = write(tmp_path, "big", buf.getvalue())
    del buf, big
    tracemalloc.start()
    try:
        items = list(iter_warc(path, max_payload_bytes=1 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(i.too_large, i.payload) for i in items] == [(False, page(0)), (True, b""), (False, page(2))]
    assert items[1].http_status == 200 and items[1].content_type == "text/html"
    assert peak < 3 << 20, peak  # the 8 MB body never sat in Python memory


def test_chunked_body_is_dechunked(tmp_path):
    body = b"<html>hello chunked world</html>"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    record = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\nWARC-Target-URI: http://e.com/\r\n"
        b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n%s\r\n\r\n"
    ) % (str(uuid.uuid4()).encode(), len(http), http)
    path = write(tmp_path, "chunked.warc", record)
    (item,) = list(iter_warc(path))
    assert item.payload == body


def test_lf_only_warc_headers(tmp_path):
    plain = warc_bytes(4, gz=False)
    offs = record_offsets(plain) + [len(plain)]
    out = b""
    for a, b in zip(offs, offs[1:]):
        head, _, rest = plain[a:b].partition(b"\r\n\r\n")
        out += head.replace(b"\r\n", b"\n") + b"\n\n" + rest
    path = write(tmp_path, "lf.warc", out)
    items = list(iter_warc(path, types=ALL_TYPES))
    assert all(isinstance(i, WarcRecord) for i in items) and len(items) == 13
    assert [i.payload for i in items if i.type == "response"] == [page(i) for i in range(4)]
    assert_split_equals_full(path, 1, types=ALL_TYPES)


# --------------------------------------------------------------------------- fsspec, ARC


def test_memory_url():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    name = f"/warc-test-{uuid.uuid4().hex}/t.warc.gz"
    with fs.open(name, "wb") as fh:
        fh.write(warc_bytes(10, gz=True))
    try:
        url = "memory://" + name.lstrip("/")
        items = list(iter_warc(url))
        assert len(items) == 31 and [i.payload for i in items if i.type == "response"] == [page(i) for i in range(10)]
        index, _ = assert_split_equals_full(url, 2_000, types=ALL_TYPES)
        assert len(index) > 3
    finally:
        fs.rm(name)


def arc_bytes(n: int, gz: bool) -> bytes:
    fields = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    records = [b"filedesc://test.arc 0.0.0.0 20200101000000 text/plain %d\n%s\n" % (len(fields), fields)]
    for i in range(n):
        http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + page(i, 200)
        records.append(b"http://example.com/%d 1.2.3.4 20200101000000 text/html %d\n%s\n" % (i, len(http), http))
    return b"".join(gzip.compress(r) for r in records) if gz else b"".join(records)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_arc_files_are_read(tmp_path, gz):
    path = write(tmp_path, "t.arc", arc_bytes(4, gz))
    items = list(iter_warc(path))
    assert [i.type for i in items] == ["warcinfo"] + ["response"] * 4
    assert [i.target_uri for i in items[1:]] == [f"http://example.com/{i}" for i in range(4)]
    assert [i.payload for i in items[1:]] == [page(i, 200) for i in range(4)]
    assert all(i.http_status == 200 and i.content_type == "text/html" for i in items[1:])
    assert warc_index(path, 1) == [(0, 0)]
    tail = list(iter_warc(path, start=items[2].offset, number=2))
    assert [(i.number, i.offset) for i in tail] == [(i.number, i.offset) for i in items[2:]]
    *_, problem = list(iter_warc(write(tmp_path, "cut.arc", arc_bytes(4, gz)[:-40])))
    assert isinstance(problem, WarcProblem) and problem.fatal and problem.number == 4
