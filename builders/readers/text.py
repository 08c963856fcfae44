"""One document per file: plain-text articles and HTML pages, grouped many files to a batch."""

from __future__ import annotations

import os
from typing import Iterator, Optional

import numpy as np
import pyarrow as pa

from builders import io
from builders.readers.base import Batch, Piece, Reader, decode_text, first_line, register
from builders.readers.lines import STREAM_ERRORS
from builders.stages.base import Ledger


class PerFileReader(Reader):
    """A reader whose inputs are one document each: positions are 0 (the whole file), ids the
    file's path below the inputs' common folder, and many files make one batch."""

    unit = "file"
    #: Where ids are made relative to; the plan sets it to the inputs' common folder.
    root: str = ""

    def document(self, piece: Piece, data: bytes, ledger: Ledger) -> Optional[dict]:
        """The record of one file's bytes, or None after quarantining it."""
        raise NotImplementedError

    def limit(self) -> tuple[int, str]:
        """The most bytes one file may hold, and the config key that says so."""
        return self.config.max_record_bytes, "input.max_record_bytes"

    def records(self, pieces: list[Piece], ledger: Ledger) -> Iterator[Batch]:
        rows, files = [], []
        for piece in pieces:
            data = self._read(piece, ledger)
            if data is None:
                continue
            row = self.document(piece, data, ledger)
            if row is None:
                continue
            rows.append({k: row.get(k) for k in self.keys})
            files.append(piece.file_index)
            if len(rows) >= self.config.batch_size:
                yield self._batch(rows, files)
                rows, files = [], []
        if rows:
            yield self._batch(rows, files)

    def _batch(self, rows: list[dict], files: list[int]) -> Batch:
        table = pa.Table.from_pylist(rows, schema=pa.schema([(k, pa.string()) for k in self.keys]))
        return Batch(table, np.zeros(len(rows), dtype=np.int64), np.asarray(files, dtype=np.int64))

    def _read(self, piece: Piece, ledger: Ledger) -> Optional[bytes]:
        limit, key = self.limit()
        try:
            with io.open_decompressed(piece.path) as stream:
                data = stream.read(limit + 1)
        except STREAM_ERRORS as exc:
            self.quarantine(ledger, piece, 0, "unreadable", f"cannot read the file: {first_line(exc)}")
            return None
        if len(data) > limit:
            self.quarantine(ledger, piece, 0, "too_large", f"file larger than {key} ({limit:,} bytes)", raw=data[:2000])
            return None
        return data

    def default_ids(self, batch: Batch) -> pa.Array:
        ids = []
        for f in batch.files.tolist():
            path = self.paths[f]
            if self.root and not io.is_url(path):
                path = os.path.relpath(path, self.root)
            elif self.root and path.startswith(self.root):
                path = path[len(self.root):].lstrip("/")
            elif not self.root:
                path = path.rstrip("/").rsplit("/", 1)[-1]
            ids.append(path)
        return pa.array(ids, pa.string())


@register
class TextReader(PerFileReader):
    """A plain-text article per file: the first non-blank line is the title, the rest the text."""

    name = "text"
    extensions = ("txt", "text")
    default_fields = {"title": "title"}

    def document(self, piece, data, ledger):
        text = decode_text(data)
        if text is None:
            self.quarantine(ledger, piece, 0, "invalid_utf8", "not UTF-8 text (nor cp1252)", raw=data[:2000])
            return None
        if "\x00" in text:
            self.quarantine(ledger, piece, 0, "binary_file", "NUL bytes in a text file", raw=data[:2000])
            return None
        lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\n").split("\n", 1)
        title = lines[0].strip()
        body = lines[1].strip("\n") if len(lines) > 1 else ""
        if not body.strip():
            self.quarantine(ledger, piece, 0, "missing_text", "no text after the title line", field="text", raw=data[:2000])
            return None
        return {"text": body, "title": title or None}


@register
class HtmlReader(PerFileReader):
    """An HTML page per file, its article extracted (trafilatura by default, see input.html)."""

    name = "html"
    cost = 200.0  # trafilatura: ~1 MB/s of pages per core against ~250 MB/s of JSON Lines
    extensions = ("html", "htm", "xhtml", "shtml")
    default_fields = {"title": "title", "url": "url", "date": "date", "lang": "lang"}
    priority = 10

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:512].lower()
        if start.startswith((b"<!doctype html", b"<html")):
            return True
        return start.startswith((b"<!--", b"<head", b"<meta", b"<?xml")) and b"<html" in head[:8192].lower()

    def limit(self) -> tuple[int, str]:
        return page_limit(self.config)

    def document(self, piece, data, ledger):
        return extract(self, piece, 0, data, None, None, ledger)


def page_limit(config) -> tuple[int, str]:
    """The most bytes of one HTML page (a file, a WARC payload): the smaller of input.html.max_bytes
    and input.max_record_bytes, with the key that sets it."""
    if config.max_record_bytes < config.html.max_bytes:
        return config.max_record_bytes, "input.max_record_bytes"
    return config.html.max_bytes, "input.html.max_bytes"


def extract(reader: Reader, piece: Piece, position: int, data: bytes, url: Optional[str],
            content_type: Optional[str], ledger: Ledger) -> Optional[dict]:
    """The article of an HTML page as a record, or None after quarantining the page with the reason."""
    from builders.text.html import ExtractionError, extract_article

    options = reader.config.html
    try:
        article = extract_article(data, url=url, http_content_type=content_type, extractor=options.extractor,
                                  max_bytes=options.max_bytes, timeout=options.timeout)
    except ExtractionError as exc:
        reader.quarantine(ledger, piece, position, f"html_{exc.code}", exc.message, field="text", raw=data[:2000])
        return None
    return {
        "text": article.text,
        "title": article.title,
        "url": article.url or url,
        "date": article.date,
        "author": article.author,
        "sitename": article.sitename,
        "lang": article.lang,
        "charset": article.charset,
    }

