"""The reader contract: a format is one `Reader` subclass and one `@register`; the base class counts.

A reader turns a `Piece` (a whole file, a byte range of one, a run of row groups or WARC records)
into batches of raw records: an Arrow table whose columns are the record keys the config asks for
(`Reader.keys`), with each record's position in its file. The base class counts what was read,
maps keys onto the core schema (`conform`), quarantines records whose fields are unusable and
times it all. Anything a subclass cannot read it hands to `quarantine`, which counts it too.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import ClassVar, Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.config import InputConfig
from builders.schema import CORE_SCHEMA, ORD, make_ord
from builders.stages.base import Ledger

STAGE = "ingest"

#: Registered readers by format name; `input.format`'s allowed values come from here.
READERS: dict[str, type["Reader"]] = {}


def register(cls: type["Reader"]) -> type["Reader"]:
    """Class decorator: make a reader available as `input.format: NAME` and to `auto` detection."""
    if cls.name in READERS and READERS[cls.name] is not cls:
        raise ValueError(f"input format {cls.name!r} is registered twice")
    READERS[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Piece:
    """Part of one input: a whole file, or [start, stop) of it in the reader's own unit
    (bytes for line formats, row groups for Parquet, byte offsets of records for WARC).

    `first` is the number of records (lines, rows) before `start`, so positions stay those of the
    whole file; `state` carries a reader's state at `start` (e.g. inside a quoted CSV field).
    `problem` marks an input that cannot be read at all: (code, reason), quarantined as one entry.
    """

    path: str
    file_index: int
    format: str
    start: int = 0
    stop: Optional[int] = None
    first: int = 0
    state: int = 0
    size: int = 0
    problem: Optional[tuple[str, str]] = None


@dataclass(frozen=True)
class Shard:
    """A unit of work: pieces of one big file, or a group of small files, read in order."""

    index: int
    pieces: tuple[Piece, ...]


class Reader:
    """Reads pieces of files of one format as batches of documents in the core schema."""

    #: `input.format` value.
    name: ClassVar[str]
    #: File name endings (without compression suffix) that `auto` takes for this format.
    extensions: ClassVar[tuple[str, ...]] = ()
    #: What a position counts in quarantine entries and ids: line, row, record or file.
    unit: ClassVar[str] = "line"
    #: Core column -> record key, used where the config leaves a field unset.
    default_fields: ClassVar[dict[str, str]] = {}
    #: An input of this format is a folder (a saved dataset), not a file.
    folder: ClassVar[bool] = False
    #: Priority among readers whose `sniff` accepts the same bytes (higher first).
    priority: ClassVar[int] = 0
    #: CPU cost of reading one stored byte, relative to a byte of JSON Lines; the plan weighs
    #: pieces by it, so expensive formats are cut into more, smaller tasks.
    cost: ClassVar[float] = 1.0

    def __init__(self, config: InputConfig) -> None:
        self.config = config
        explicit = config.fields.model_fields_set
        self.fields: dict[str, Optional[str]] = {}
        for column in type(config.fields).model_fields:
            value = getattr(config.fields, column)
            if column not in explicit and column in self.default_fields:
                value = self.default_fields[column]
            self.fields[column] = value
        self.keep = list(config.keep)
        self.keys: list[str] = []
        for key in [*self.fields.values(), *self.keep]:
            if key is not None and key not in self.keys:
                self.keys.append(key)

    # --- what a format implements -------------------------------------------------------

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Whether these first (decompressed) bytes are of this format; False when unsure."""
        return False

    def split(self, piece: Piece, target: int) -> list[Piece]:
        """Split a whole-file piece into pieces of about `target` bytes; runs as a planning task."""
        return [piece]

    def records(self, pieces: list[Piece], ledger: Ledger) -> Iterator["Batch"]:
        """Batches of raw records of the pieces, in order. Formats read piece by piece implement
        `piece_records`; formats of one document per file override this to batch across files."""
        for piece in pieces:
            for raw, positions in self.piece_records(piece, ledger):
                yield Batch(raw, positions, np.full(len(positions), piece.file_index, dtype=np.int64))

    def piece_records(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """Batches of raw records (columns named by `self.keys`; a missing one may be left out)
        with their 1-based positions in the file."""
        raise NotImplementedError

    # --- what the base class does -------------------------------------------------------

    def read(self, pieces: list[Piece], ledger: Ledger) -> Iterator[pa.Table]:
        """Documents of a shard's pieces in the core schema (plus kept columns and the ordinal), counted."""
        stats = ledger.stage(STAGE)
        started = time.perf_counter()
        self.paths = {p.file_index: p.path for p in pieces}
        for piece in pieces:
            if piece.problem is not None:
                self.quarantine(ledger, piece, 0, *piece.problem)
        batches = self.records([p for p in pieces if p.problem is None], ledger)
        stats.seconds += time.perf_counter() - started
        while True:
            started = time.perf_counter()
            try:
                batch = next(batches, None)
                if batch is None:
                    return
                stats.docs_in += batch.table.num_rows
                table = conform(batch, self, ledger)
            finally:
                stats.seconds += time.perf_counter() - started
            stats.docs_out += table.num_rows
            if table.num_rows:
                yield table

    def quarantine(self, ledger: Ledger, piece: Piece, position: int, code: str, reason: str,
                   field: Optional[str] = None, raw: str | bytes = "") -> None:
        """One record (or the rest of a file) that cannot be read: counted as read, then quarantined."""
        ledger.stage(STAGE).docs_in += 1
        ledger.quarantine(piece.path, position, code, reason, field=field, raw=raw)

    def note_keys(self, ledger: Ledger, keys) -> None:
        """Top-level record keys one file has: those neither mapped nor kept are counted as unused."""
        used = {k.split(".")[0] for k in self.keys} | set(self.keys)
        ledger.stage(STAGE).unused_keys.update(_shown_key(k) for k in dict.fromkeys(keys) if k not in used)

    def skip(self, ledger: Ledger, reason: str, n: int = 1) -> None:
        """Input entries that are not documents (WARC request records, redirects): counted, not read."""
        ledger.stage(STAGE).skipped[reason] += n

    def default_ids(self, batch: "Batch") -> pa.Array:
        """Ids when no id field is set: the file name and the record's position in it."""
        names = {i: p.rstrip("/").rsplit("/", 1)[-1] for i, p in self.paths.items()}
        return pa.array([f"{names[f]}:{p}" for f, p in zip(batch.files.tolist(), batch.positions.tolist())], pa.string())


def _shown_key(key) -> str:
    """A record key as stats and the dataset card show it: printable, UTF-8, at most 100 characters
    (keys come from the input: control characters, lone surrogates, megabytes of key)."""
    key = str(key)
    if not key.isprintable():
        key = repr(key)[1:-1]  # escapes controls and lone surrogates
    return key if len(key) <= 100 else key[:97] + "..."


@dataclass
class Batch:
    """Raw records: a table of record keys, each row's position in its file and the file's index."""

    table: pa.Table
    positions: np.ndarray
    files: np.ndarray


def decode_text(data: bytes) -> Optional[str]:
    """UTF-8 (a BOM allowed), else cp1252 when that reads as text; None for anything else."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\r\n\f" for c in text[:10000]):
        return None
    return text


def first_line(exc: BaseException) -> str:
    """An exception's message as one line, for quarantine reasons."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def keep_column(key: str) -> str:
    """The release column of a kept record key."""
    return key.replace(".", "_")


def conform(batch: Batch, reader: Reader, ledger: Ledger) -> pa.Table:
    """Map record keys onto the core schema; records with an unusable required field are quarantined."""
    raw, positions = batch.table, batch.positions
    n = raw.num_rows
    fields = reader.fields
    ok = np.ones(n, dtype=bool)

    def column_of(key: Optional[str]):
        if key is None:
            return None
        if key in raw.column_names:
            return raw.column(key)
        return pa.nulls(n, pa.string())

    def reject_rows(mask: np.ndarray, column: str, code: str, why: str, values) -> None:
        key = fields.get(column) or column
        for i in np.flatnonzero(mask & ok):
            shown = "" if values is None else f" ({str(values[i])[:80]!r})"
            ledger.quarantine(
                reader.paths[int(batch.files[i])], int(positions[i]), code, f"{why}{shown}", field=key,
                raw="" if values is None else str(values[i]),
            )
        ok[mask] = False

    text = column_of(fields["text"])
    if text.type != pa.string():
        text = _as_strings(text)
    reject_rows(pc.is_null(text).to_numpy(zero_copy_only=False), "text", "missing_text", "missing or null", None)
    # A record's size is told before the build keeps it: a huge one stops here (readers that can
    # stop one before it is in memory do so themselves).
    too_big = pc.greater(pc.binary_length(text), reader.config.max_record_bytes)
    reject_rows(pc.fill_null(too_big, False).to_numpy(zero_copy_only=False), "text", "too_large",
                f"text longer than input.max_record_bytes ({reader.config.max_record_bytes:,} bytes)", None)

    columns = {name: column_of(key) for name, key in fields.items()}
    columns["text"] = text
    for name in ("id", "title", "url", "source", "agency", "lang"):
        if columns[name] is not None and columns[name].type != pa.string():
            columns[name] = _as_strings(columns[name])

    if columns["id"] is None:
        columns["id"] = reader.default_ids(batch)
    else:
        missing = pc.is_null(columns["id"]).to_numpy(zero_copy_only=False)
        if missing.any() and reader.unit == "file":
            # A one-document file is its own id (a mixed folder's text files have no id key).
            columns["id"] = pc.replace_with_mask(columns["id"].combine_chunks() if isinstance(columns["id"], pa.ChunkedArray)
                                                 else columns["id"], pa.array(missing),
                                                 reader.default_ids(batch).filter(pa.array(missing)))
        elif missing.any():
            columns["id"] = _fill_missing_ids(columns["id"], columns["url"], text, missing)

    if columns["date"] is not None:
        columns["date"], bad = parse_dates(columns["date"])
        if bad is not None:
            values = column_of(fields["date"]).to_pylist()
            reject_rows(bad, "date", "bad_date", "not a date", values)

    if columns["source"] is None and columns["url"] is not None:
        columns["source"] = source_from_url(columns["url"])
    elif columns["source"] is not None and columns["url"] is not None:
        columns["source"] = pc.coalesce(columns["source"], source_from_url(columns["url"]))

    arrays, schema_fields = [], list(CORE_SCHEMA)
    for field in CORE_SCHEMA:
        value = columns.get(field.name)
        arrays.append(pa.nulls(n, field.type) if value is None else pc.cast(value, field.type))
    for key in reader.keep:
        value = column_of(key)
        arrays.append(value if value.type == pa.string() else _as_strings(value))
        schema_fields.append(pa.field(keep_column(key), pa.string()))
    arrays.append(pa.array(make_ord(batch.files, batch.positions), pa.int64()))
    schema_fields.append(pa.field(ORD, pa.int64()))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(schema_fields))
    if not ok.all():
        table = table.filter(pa.array(ok))
    return table


def _as_strings(values) -> pa.Array:
    """Any column as strings: scalars cast, nested values written as JSON."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_nested(values.type):
        import json

        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str) for v in values.to_pylist()],
                        pa.string())
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return pc.cast(values, pa.string())
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def _fill_missing_ids(ids, urls, text, missing: np.ndarray) -> pa.Array:
    """A record without an id gets a stable one: a hash of its URL and text (the text alone without a URL)."""
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    index = np.flatnonzero(missing)
    url_values = urls.take(pa.array(index)).to_pylist() if urls is not None else [None] * len(index)
    texts = text.take(pa.array(index)).to_pylist()
    made = []
    for url, body in zip(url_values, texts):
        digest = hashlib.sha1(f"{url or ''}\n{body or ''}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        made.append(f"sha1:{digest}")
    return pc.replace_with_mask(ids, pa.array(missing), pa.array(made, pa.string()))


def source_from_url(urls) -> pa.Array:
    """The site of each URL: its lower-cased host without a leading www."""
    host = pc.struct_field(pc.extract_regex(urls, _URL_HOST), [0])
    return pc.replace_substring_regex(pc.utf8_lower(host), r"^www\.", "")


_URL_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?(?P<host>[^/:?#]+)"
_HAS_ZONE = r"(Z|z|[+-]\d\d:?\d\d)$"
_DATE_ONLY = r"^\d{4}-\d\d-\d\d$"


def parse_dates(values) -> tuple[pa.Array, Optional[np.ndarray]]:
    """Dates to UTC timestamps: ISO 8601 fast, then the common forms (RFC 2822 and HTTP dates,
    "13 Sep 2020", "2020/09/13 10:00", Unix seconds). A date or time without a zone is taken as UTC.

    Returns the timestamps and a mask of values that could not be parsed (None when all could).
    """
    target = pa.timestamp("us", tz="UTC")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_timestamp(values.type):
        if values.type.tz is None:
            values = pc.assume_timezone(values, "UTC")
        return values.cast(target), None
    if pa.types.is_date(values.type):
        return values.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")), None
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        strings = pc.cast(values, pa.string())
    else:
        strings = values.cast(pa.string())
    strings = pc.utf8_trim_whitespace(strings)
    iso = pc.if_else(pc.match_substring_regex(strings, _DATE_ONLY), pc.binary_join_element_wise(strings, "T00:00:00", ""), strings)
    has_zone = pc.match_substring_regex(iso, _HAS_ZONE)
    iso = pc.if_else(pc.fill_null(has_zone, True), iso, pc.binary_join_element_wise(iso, "+00:00", ""))
    iso = pc.if_else(pc.equal(iso, ""), None, iso)
    try:
        return iso.cast(target), None
    except pa.ArrowInvalid:
        pass
    return _parse_dates_slowly(strings.to_pylist(), target)


def _parse_dates_slowly(strings: list, target) -> tuple[pa.Array, Optional[np.ndarray]]:
    """The batch had a date that is not plain ISO 8601: each string is tried against the common forms."""
    import email.utils
    from datetime import datetime, timezone

    import pandas as pd

    parsed, bad = [], np.zeros(len(strings), dtype=bool)
    for i, s in enumerate(strings):
        if s is None or s == "":
            parsed.append(None)
            continue
        value = None
        if not any(c.isdigit() for c in s):  # "now", "today": not a date of the record, and not stable
            parsed.append(None)
            bad[i] = True
            continue
        try:
            value = pd.Timestamp(s)
        except (ValueError, OverflowError, TypeError, ArithmeticError):
            try:
                value = pd.Timestamp(email.utils.parsedate_to_datetime(s))
            except (ValueError, TypeError, IndexError, OverflowError):
                if s.isdigit() and 9 <= len(s) <= 10:  # Unix seconds
                    value = pd.Timestamp(datetime.fromtimestamp(int(s), tz=timezone.utc))
        try:
            if value is None or value is pd.NaT or pd.isna(value) or not 1 <= value.year <= 9999:
                raise ValueError("no date")
            value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
            parsed.append(value.to_pydatetime())
        except (ValueError, OverflowError, TypeError, AttributeError):
            parsed.append(None)
            bad[i] = True
    return pa.array(parsed, target), (bad if bad.any() else None)
