"""WARC (and ARC) crawls: HTML responses become articles; a big file is split at record offsets."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from builders.readers.base import Batch, Piece, Reader, register
from builders.readers.text import HtmlReader, extract, page_limit
from builders.stages.base import Ledger
from builders.text.warc import WarcProblem, iter_warc, warc_index

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_KEYS = ("text", "title", "url", "date", "lang", "author", "sitename", "charset", "record_id", "crawl_date")


@register
class WarcReader(Reader):
    """`response` (and `resource`) records with an HTML payload, extracted like `html` pages.

    Positions are the records' byte offsets in the stored file (what `warcio extract FILE OFFSET`
    takes); ids default to the WARC-Record-ID; `date` is the article's own date when the page
    gives one, else the crawl time (`crawl_date` can be kept as a column). Other records
    (requests, metadata, redirects, error statuses, non-HTML payloads) are counted as skipped.
    """

    name = "warc"
    cost = 500.0  # gzipped records, then trafilatura on each page
    extensions = ("warc", "arc")
    unit = "byte offset"
    priority = 30
    default_fields = {"id": "record_id", "title": "title", "url": "url", "date": "date", "lang": "lang"}

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith((b"WARC/", b"filedesc://"))

    def split(self, piece: Piece, target: int) -> list[Piece]:
        if piece.size <= target * 3 // 2:
            return [piece]
        points = warc_index(piece.path, target)
        if len(points) <= 1:
            return [piece]
        stops = [offset for offset, _ in points[1:]] + [None]
        return [Piece(piece.path, piece.file_index, piece.format, start=offset, stop=stop, first=number,
                      size=(stop or piece.size) - offset)
                for (offset, number), stop in zip(points, stops)]

    def records(self, pieces: list[Piece], ledger: Ledger) -> Iterator[Batch]:
        rows, positions, files = [], [], []
        limit, key = page_limit(self.config)
        for piece in pieces:
            for item in iter_warc(piece.path, start=piece.start, number=piece.first, stop=piece.stop,
                                  max_payload_bytes=limit):
                if isinstance(item, WarcProblem):
                    self.quarantine(ledger, piece, item.offset, "bad_warc_record",
                                    f"record {item.number}: {item.message}" + (" (rest of file unreadable)" if item.fatal else ""))
                    continue
                why = _not_a_page(item)
                if why:
                    self.skip(ledger, why)
                    continue
                if item.too_large:
                    self.quarantine(ledger, piece, item.offset, "too_large",
                                    f"payload larger than {key} ({limit:,} bytes)",
                                    field="text")
                    continue
                row = extract(self, piece, item.offset, item.payload, item.target_uri, item.content_type, ledger)
                if row is None:
                    continue
                row["record_id"] = item.record_id
                row["crawl_date"] = item.date
                row["date"] = row.get("date") or item.date
                row["url"] = item.target_uri or row.get("url")
                rows.append({k: row.get(k) for k in self.keys})
                positions.append(item.offset)
                files.append(piece.file_index)
                if len(rows) >= self.config.batch_size:
                    yield self._batch(rows, positions, files)
                    rows, positions, files = [], [], []
        if rows:
            yield self._batch(rows, positions, files)

    def _batch(self, rows, positions, files) -> Batch:
        table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in self.keys]))
        return Batch(table, np.asarray(positions, dtype=np.int64), np.asarray(files, dtype=np.int64))


def _not_a_page(record) -> str | None:
    """Why a record is no article page (a skip reason), or None for an HTML page to extract."""
    if record.type not in ("response", "resource"):
        return f"warc_{record.type}"
    status = record.http_status
    if record.type == "response" and status is not None and not 200 <= status < 300:
        return f"http_{status // 100}xx"
    content_type = (record.content_type or "").split(";")[0].strip().lower()
    if content_type in _HTML_TYPES:
        return None
    if not content_type and HtmlReader.sniff(record.payload[:8192]):
        return None
    return "not_html"
