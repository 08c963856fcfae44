"""Ingest: stream input files as batches of documents in the core schema, quarantining bad records."""

from __future__ import annotations

import io
import json
import lzma
import os
from typing import ClassVar, Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from builders.config import FieldMap, InputConfig
from builders.errors import BuildError
from builders.schema import CORE_SCHEMA, ORD, make_ord
from builders.stages.base import Ledger

STAGE = "ingest"
_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xfd7zXZ\x00", "xz"),
]
_CHUNK = 256 << 10  # small enough that a corrupt tail loses little before it is noticed
_COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".zstd", ".lz4", ".xz")


def sniff_compression(path: str) -> Optional[str]:
    """The compression of a file, told by its first bytes rather than its name."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    for magic, codec in _MAGIC:
        if head.startswith(magic):
            return codec
    return None


def open_binary(path: str):
    """A binary stream of the decompressed content, whatever the compression."""
    codec = sniff_compression(path)
    if codec == "xz":
        return lzma.open(path, "rb")  # Arrow has no xz codec
    return pa.input_stream(path, compression=codec)


def iter_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline), decompressing in large chunks."""
    number = 0
    tail = b""
    with open_binary(path) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                number += 1
                yield number, line
    if tail:
        yield number + 1, tail


def format_of(path: str, configured: str) -> str:
    if configured != "auto":
        return configured
    name = os.path.basename(path).lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    for reader in READERS.values():
        if ext in reader.extensions:
            return reader.name
    known = ", ".join(sorted(e for r in READERS.values() for e in r.extensions))
    raise BuildError(f"{path}: cannot tell the input format from the extension .{ext} (known: {known}); set input.format")


class Reader:
    """Reads one file as batches of documents; subclasses add formats."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def __init__(self, config: InputConfig) -> None:
        self.config = config
        self.fields = config.fields

    def read(self, path: str, file_index: int, ledger: Ledger) -> Iterator[pa.Table]:
        raise NotImplementedError


class JsonlReader(Reader):
    """JSON Lines: parsed a block at a time by Arrow, falling back to line by line only for blocks
    that hold a broken record, so one bad line costs one quarantine entry, not the file."""

    name = "jsonl"
    extensions = ("jsonl", "ndjson", "json")

    def read(self, path: str, file_index: int, ledger: Ledger) -> Iterator[pa.Table]:
        stats = ledger.stage(STAGE)
        keys = _mapped_keys(self.fields)
        schema = pa.schema([(k, pa.string()) for k in keys])
        block: list[bytes] = []
        numbers: list[int] = []
        last = 0
        try:
            for number, line in iter_lines(path):
                last = number
                if not line.strip():
                    continue
                block.append(line)
                numbers.append(number)
                if len(block) >= self.config.batch_size:
                    stats.docs_in += len(block)
                    yield from self._emit(path, file_index, block, numbers, schema, ledger)
                    block, numbers = [], []
        except (OSError, EOFError, lzma.LZMAError, pa.ArrowException) as exc:
            # The rest of the file cannot be read: keep what came before and say where it stopped.
            stats.docs_in += 1
            ledger.quarantine(path, last + 1, f"unreadable from here on: {_one_line(exc)}")
        if block:
            stats.docs_in += len(block)
            yield from self._emit(path, file_index, block, numbers, schema, ledger)

    def _emit(self, path, file_index, block, numbers, schema, ledger) -> Iterator[pa.Table]:
        try:
            raw = pajson.read_json(
                io.BytesIO(b"\n".join(block)),
                parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
            )
            positions = np.asarray(numbers, dtype=np.int64)
        except pa.ArrowInvalid:
            raw, positions = self._parse_lines(path, block, numbers, schema, ledger)
        table = conform(raw, positions, self.fields, path, file_index, ledger)
        if table.num_rows:
            yield table

    def _parse_lines(self, path, block, numbers, schema, ledger) -> tuple[pa.Table, np.ndarray]:
        rows, kept = [], []
        for number, line in zip(numbers, block):
            try:
                record = json.loads(line)
            except ValueError as exc:
                ledger.quarantine(path, number, f"invalid JSON: {exc}", raw=line.decode("utf-8", "replace"))
                continue
            if not isinstance(record, dict):
                ledger.quarantine(path, number, f"expected a JSON object, got {type(record).__name__}",
                                  raw=line.decode("utf-8", "replace"))
                continue
            row, bad = {}, None
            for key in schema.names:
                value = record.get(key)
                if isinstance(value, (dict, list)):
                    bad = (key, f"expected a string, got {type(value).__name__}")
                    break
                row[key] = value if value is None or isinstance(value, str) else json.dumps(value)
            if bad:
                ledger.quarantine(path, number, bad[1], field=bad[0], raw=line.decode("utf-8", "replace"))
                continue
            rows.append(row)
            kept.append(number)
        return pa.Table.from_pylist(rows, schema=schema), np.asarray(kept, dtype=np.int64)


READERS: dict[str, type[Reader]] = {r.name: r for r in (JsonlReader,)}


def reader_for(path: str, config: InputConfig) -> Reader:
    return READERS[format_of(path, config.format)](config)


def _mapped_keys(fields: FieldMap) -> list[str]:
    keys = []
    for column in CORE_SCHEMA.names:
        key = getattr(fields, column)
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def conform(raw: pa.Table, positions: np.ndarray, fields: FieldMap, path: str, file_index: int, ledger: Ledger) -> pa.Table:
    """Map record keys onto the core schema; records with an unusable required field are quarantined."""
    n = raw.num_rows
    ok = np.ones(n, dtype=bool)

    def reject_rows(mask: np.ndarray, field: str, why: str, values) -> None:
        key = getattr(fields, field) or field
        for i in np.flatnonzero(mask & ok):
            shown = "" if values is None else f" ({str(values[i])[:80]!r})"
            ledger.quarantine(path, int(positions[i]), f"{why}{shown}", field=key,
                              raw="" if values is None else str(values[i])[:2000])
        ok[mask] = False

    text = raw.column(fields.text)
    reject_rows(pc.is_null(text).to_numpy(zero_copy_only=False), "text", "missing or null", None)

    columns = {}
    for column in CORE_SCHEMA.names:
        key = getattr(fields, column)
        columns[column] = raw.column(key) if key is not None else None

    if columns["id"] is None:
        base = os.path.basename(path)
        columns["id"] = pa.array([f"{base}:{p}" for p in positions.tolist()], pa.string())
    else:
        reject_rows(pc.is_null(columns["id"]).to_numpy(zero_copy_only=False), "id", "missing or null", None)

    if columns["date"] is not None:
        columns["date"], bad = parse_dates(columns["date"])
        if bad is not None:
            values = raw.column(fields.date).to_pylist()
            reject_rows(bad, "date", "not an ISO 8601 date", values)

    if columns["source"] is None and columns["url"] is not None:
        columns["source"] = source_from_url(columns["url"])

    arrays = []
    for field in CORE_SCHEMA:
        value = columns[field.name]
        arrays.append(pa.nulls(n, field.type) if value is None else pc.cast(value, field.type))
    arrays.append(pa.array(make_ord(file_index, positions), pa.int64()))
    table = pa.Table.from_arrays(arrays, schema=CORE_SCHEMA.append(pa.field(ORD, pa.int64())))
    if not ok.all():
        table = table.filter(pa.array(ok))
    return table


def source_from_url(urls) -> pa.Array:
    """The site of each URL: its lower-cased host without a leading www."""
    host = pc.struct_field(pc.extract_regex(urls, _URL_HOST), [0])
    return pc.replace_substring_regex(pc.utf8_lower(host), r"^www\.", "")


_URL_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?(?P<host>[^/:?#]+)"
_HAS_ZONE = r"(Z|z|[+-]\d\d:?\d\d)$"
_DATE_ONLY = r"^\d{4}-\d\d-\d\d$"


def parse_dates(values: pa.ChunkedArray) -> tuple[pa.Array, Optional[np.ndarray]]:
    """ISO 8601 strings to UTC timestamps; a date or time without a zone is taken as UTC.

    Returns the timestamps and a mask of values that could not be parsed (None when all could).
    """
    target = pa.timestamp("us", tz="UTC")
    strings = pc.utf8_trim_whitespace(values.cast(pa.string()))
    strings = pc.if_else(pc.match_substring_regex(strings, _DATE_ONLY), pc.binary_join_element_wise(strings, "T00:00:00", ""), strings)
    has_zone = pc.match_substring_regex(strings, _HAS_ZONE)
    strings = pc.if_else(pc.fill_null(has_zone, True), strings, pc.binary_join_element_wise(strings, "+00:00", ""))
    strings = pc.if_else(pc.equal(strings, ""), None, strings)
    try:
        return strings.cast(target), None
    except pa.ArrowInvalid:
        pass
    parsed, bad = [], np.zeros(len(strings), dtype=bool)
    for i, s in enumerate(strings.to_pylist()):
        if s is None:
            parsed.append(None)
            continue
        try:
            parsed.append(pa.scalar(s).cast(target).as_py())
        except (pa.ArrowInvalid, ValueError):
            parsed.append(None)
            bad[i] = True
    return pa.array(parsed, target), bad


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
