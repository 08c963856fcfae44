"""CSV and TSV: parsed by Arrow's streaming CSV reader, split on row boundaries told by quote parity.

How a file reads (both formats; `input.csv` sets the dialect):

- **Columns.** With `header: true` (the default) the first non-blank row names the columns (names
  stripped of surrounding blanks; an empty name becomes `f<i>`, a repeated one `name_2`, `name_3`,
  ...). `columns` names them instead (with a header, the header row is then skipped). Without a
  header and without `columns` the columns are `f0, f1, ...` (as many as the first row has fields),
  so `fields: {text: f2}` takes the third column. A record key is a column name as written: a dotted
  key (`meta.section`) is the column of that name, not a path. Every column is read as a string.
- **Empty fields** (`a,,b` and `a,"",b` alike) are missing values (null): an empty text is
  quarantined as `missing_text`, an empty id gets the hash id, an empty date no date. CSV has no
  other null: `NA` or `null` are text.
- **Positions** are 1-based data-row numbers: the header is not counted, nor are blank lines
  (Arrow skips them); a row is a record, whatever newlines its quoted fields hold.
- **Ragged rows** (more or fewer fields than columns) are quarantined as `ragged_row` with their
  first bytes; the rest of the file goes on. Quoting is Arrow's: a quote only opens a field at its
  first byte, elsewhere it is text. TSV is quoted the same way (set `quote` to a character the
  file does not use to read one whose fields may start with a quote).
- **Encoding.** UTF-8 (a BOM allowed) or UTF-16 with a BOM. Bytes that are not UTF-8 are read as
  cp1252, the usual mis-declared encoding of Western text, byte sequence by byte sequence, so one
  bad field costs nothing else; a record holding a byte cp1252 does not define either (0x81, 0x8D,
  0x8F, 0x90, 0x9D) is quarantined as `invalid_utf8`.
- **Size.** A field longer than `input.max_record_bytes` is quarantined as `too_large`. Arrow
  parses blocks of `BLOCK` bytes (it is fastest so); a row longer than a block stops it, and the
  row is found by quote parity from where that run of Arrow began, read alone when it is within
  `max_record_bytes` (quarantined as `too_large`, never held whole, otherwise), and Arrow starts
  again after it. Where parity cannot follow the quoting (see below) the rest of the piece is one
  `too_large` entry instead.
- **Broken streams.** A truncated or corrupt compressed file keeps the rows before the break; the
  row being read when it broke and the rest are one `truncated` entry.

Splitting: an uncompressed UTF-8 file is cut into byte ranges that start on rows. With RFC 4180
quoting (a field is quoted from its first byte, quotes inside are doubled) a newline ends a row
exactly when an even number of quotes comes before it, which numpy counts a block at a time. A
quote that opens a field somewhere else than at its start (`5" screen` in an unquoted field) or a
lone carriage return (a row end Arrow knows and the count does not) makes the count untrustworthy
from there on: no piece starts after it (the file is then read in fewer, longer pieces, never
wrongly). Each piece reads the header again from the file's start.
"""

from __future__ import annotations

import codecs
import csv
import io as _io
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from builders import io
from builders.errors import BuildError
from builders.readers.base import Piece, Reader, first_line, register
from builders.readers.lines import STREAM_ERRORS
from builders.stages.base import Ledger

#: Bytes Arrow parses at a time (its speed drops with bigger blocks); a longer row is read alone.
BLOCK = 1 << 20
#: Bytes read at a time when counting rows to split a file.
SCAN_BLOCK = 8 << 20
#: Stands for a byte that is neither UTF-8 nor cp1252 (a Unicode noncharacter: never in real text).
UNDEFINED = "\ufdd0"
RAW_SHOWN = 2000

_NEWLINE, _CR = 10, 13
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _cp1252_fallback(error: UnicodeDecodeError):
    """Codec error handler: bytes that are not UTF-8 read as cp1252, undefined ones as UNDEFINED."""
    bad = error.object[error.start:error.end]
    return "".join(_CP1252[b] for b in bad), error.end


def _undefined(error: UnicodeDecodeError):
    return UNDEFINED, error.end


_CP1252 = [bytes([b]).decode("cp1252", "replace").replace("\ufffd", UNDEFINED) for b in range(256)]
codecs.register_error("builders.cp1252", _cp1252_fallback)
codecs.register_error("builders.undefined", _undefined)


def _complete(data: bytes) -> int:
    """Length of `data` without a UTF-8 sequence cut at its end (kept for the next block)."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte < 0x80:
            return n
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return n - back if back < need else n
    return n


def _valid_utf8(data: bytes) -> bool:
    """Whether bytes are valid UTF-8, checked by Arrow (many GB/s, no copy)."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int32))
    try:
        pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


class _Feed:
    """What Arrow parses: the bytes [start, stop) of a file as stored (decompressed), as UTF-8.

    Invalid UTF-8 is read as cp1252 (UNDEFINED where cp1252 has no character, counted in
    `undefined`); UTF-16 is transcoded; a UTF-8 BOM at the file's start is dropped. A stream that
    breaks ends like end of file, with the exception kept in `error`. `unread` gives bytes back
    (what followed the header row).
    """

    def __init__(self, path: Optional[str], start: int = 0, stop: Optional[int] = None,
                 encoding: str = "utf-8", data: Optional[bytes] = None) -> None:
        self.error: Optional[BaseException] = None
        self.undefined = 0
        self.closed = False
        self._left = None if stop is None else max(0, stop - start)
        self._carry = b""
        self._out = b""
        self._eof = False
        self._bom = start == 0
        self._decoder = codecs.getincrementaldecoder("utf-16")("builders.undefined") if encoding == "utf-16" else None
        self._stream = None
        if data is not None:
            self._stream = _io.BytesIO(data)
            return
        try:
            self._stream = _open_at(path, start)
        except STREAM_ERRORS as exc:
            self.error, self._eof = exc, True

    # --- the file interface Arrow uses --------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = [self._out]
            self._out = b""
            while not self._eof:
                parts.append(self._fill(8 << 20))
            return b"".join(parts)
        while len(self._out) < n and not self._eof:  # a short read would be a short block to Arrow
            more = self._fill(n - len(self._out))
            self._out = self._out + more if self._out else more
        if len(self._out) <= n:
            out, self._out = self._out, b""
            return out
        out, self._out = self._out[:n], self._out[n:]
        return out

    def close(self) -> None:
        if not self.closed and self._stream is not None:
            self._stream.close()
        self.closed = True

    def __enter__(self) -> "_Feed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- what the reader uses -------------------------------------------------------------

    def unread(self, data: bytes) -> None:
        self._out = data + self._out

    def _fill(self, n: int) -> bytes:
        """Up to about `n` more bytes of UTF-8 (possibly none before the end)."""
        want = max(n, 4) if self._left is None else min(max(n, 4), self._left)
        raw = b""
        if want and self._stream is not None:
            try:
                raw = self._stream.read(want)
            except STREAM_ERRORS as exc:
                self.error, raw = exc, b""
        if self._left is not None:
            self._left -= len(raw)
        final = not raw
        if final:
            self._eof = True
        if self._decoder is not None:
            text = self._decoder.decode(raw, final)
            self.undefined += text.count(UNDEFINED)
            return text.encode("utf-8")
        data = self._carry + raw if self._carry else raw
        if self._bom:
            if len(data) < 3 and not final:
                self._carry = data
                return b""
            self._bom = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        keep = len(data) if final else _complete(data)
        data, self._carry = data[:keep], data[keep:]
        if _valid_utf8(data):
            return data
        text = data.decode("utf-8", "builders.cp1252")
        self.undefined += text.count(UNDEFINED)
        return text.encode("utf-8")


class RowScanner:
    """Row ends of CSV bytes fed a block at a time, told by quote parity (RFC 4180 quoting).

    Starts at a row start (`offset` is that byte's offset in the file). `feed` returns the
    offsets just past each row's newline and whether the row is blank (Arrow skips those and does
    not number them). Past the first `anomaly` (a quote opening a field anywhere but at its start,
    or a carriage return ending a row on its own) the parity may differ from Arrow's reading, so
    nothing more is returned.
    """

    def __init__(self, delimiter: str, quote: str, offset: int = 0) -> None:
        self.delimiter = ord(delimiter)
        self.quote = ord(quote)
        self.offset = offset
        self.inside = False
        self.prev = _NEWLINE
        self.row_start = offset
        self.anomaly: Optional[int] = None
        self._cr_at_end = False

    def feed(self, block: bytes) -> tuple[np.ndarray, np.ndarray]:
        if self.anomaly is not None or not block:
            return np.zeros(0, np.int64), np.zeros(0, bool)
        a = np.frombuffer(block, dtype=np.uint8)
        n, base, carry = len(a), self.offset, int(self.inside)
        # One pass finds the bytes that matter (quotes, LF, CR); parity is counted over those only.
        marks = a == self.quote
        marks |= a == _NEWLINE
        marks |= a == _CR
        at = np.flatnonzero(marks)
        kind = a[at]
        is_quote = kind == self.quote
        quotes_before = np.cumsum(is_quote) - is_quote
        outside = (quotes_before + carry) % 2 == 0  # for a quote: it opens a field
        opening = at[is_quote & outside]
        before = a[np.maximum(opening - 1, 0)]
        before[opening == 0] = self.prev
        field_start = (before == self.delimiter) | (before == _NEWLINE) | (before == _CR) | (before == self.quote)
        anomaly = int(opening[~field_start][0]) if not field_start.all() else n
        if self._cr_at_end and a[0] != _NEWLINE:
            anomaly = 0  # the block before ended on a lone CR
        crs = at[(kind == _CR) & outside]
        self._cr_at_end = bool(len(crs)) and int(crs[-1]) == n - 1
        lone = crs[(crs + 1 < n) & (a[np.minimum(crs + 1, n - 1)] != _NEWLINE)]
        if len(lone):
            anomaly = min(anomaly, int(lone[0]))
        ends = at[(kind == _NEWLINE) & outside]
        if anomaly < n:
            ends = ends[ends < anomaly]
            self.anomaly = base + anomaly
        byte_before = a[np.maximum(ends - 1, 0)]
        byte_before[ends == 0] = self.prev
        absolute = ends.astype(np.int64) + 1 + base
        starts = np.concatenate(([self.row_start], absolute[:-1])) if len(absolute) else absolute
        length = absolute - 1 - starts
        blank = (length == 0) | ((length == 1) & (byte_before == _CR))
        self.offset += n
        self.inside = bool((carry + int(is_quote.sum())) % 2)
        self.prev = int(a[-1])
        if len(absolute):
            self.row_start = int(absolute[-1])
        return absolute, blank


@dataclass
class _Run:
    """Where Arrow (re)starts reading a piece: a byte offset at a row start, the header rows there
    (1 at the file's start with a header, else 0) and the data rows before it."""

    start: int
    header_rows: int
    first: int


class _Stop(Exception):
    """How an Arrow run ended early: a row longer than a block (`straddle`) or a parse error."""

    def __init__(self, kind: str, number: int, message: str) -> None:
        super().__init__(message)
        self.kind, self.number = kind, number


class CsvReader(Reader):
    """Comma- (or otherwise) separated values; see the module docstring for how a file reads."""

    name = "csv"
    extensions = ("csv",)
    unit = "row"
    default_delimiter = ","

    def __init__(self, config) -> None:
        super().__init__(config)
        options = config.csv
        self.delimiter = options.delimiter or self.default_delimiter
        self.quote = options.quote
        for what, char in (("delimiter", self.delimiter), ("quote", self.quote)):
            if len(char.encode("utf-8")) != 1 or char in "\r\n":
                raise BuildError(f"input.csv.{what}: {char!r} is not a single-byte character")
        if self.delimiter == self.quote:
            raise BuildError("input.csv.delimiter and input.csv.quote are the same character")
        self.header = options.header
        self.columns = list(options.columns) if options.columns else None

    # --- planning --------------------------------------------------------------------------

    def split(self, piece: Piece, target: int) -> list[Piece]:
        if piece.size <= target * 3 // 2:
            return [piece]
        try:
            if io.sniff_compression(piece.path) is not None or io.read_head(piece.path, 4).startswith(_UTF16_BOMS):
                return [piece]
        except STREAM_ERRORS:
            return [piece]
        bounds = list(range(target, piece.size, target))
        if bounds and piece.size - bounds[-1] < target // 2:
            bounds.pop()  # no sliver at the end
        header_rows = 1 if self.header else 0
        scanner = RowScanner(self.delimiter, self.quote)
        starts, firsts = [0], [0]
        rows, k = 0, 0
        try:
            with io.open_raw(piece.path) as fh:
                while k < len(bounds):
                    block = fh.read(SCAN_BLOCK)
                    if not block:
                        break
                    ends, blank = scanner.feed(block)
                    if len(ends):
                        counts = rows + np.cumsum(~blank)  # rows up to and including each end
                        while k < len(bounds):
                            i = int(np.searchsorted(ends, bounds[k]))
                            if i == len(ends):
                                break
                            start, before = int(ends[i]), int(counts[i]) - header_rows
                            if before >= 0 and starts[-1] < start < piece.size:
                                starts.append(start)
                                firsts.append(before)
                            k += 1
                        rows = int(counts[-1])
                    if scanner.anomaly is not None:
                        break
        except STREAM_ERRORS:
            return [piece]
        if len(starts) == 1:
            return [piece]
        stops = starts[1:] + [None]
        return [Piece(piece.path, piece.file_index, piece.format, start=s, stop=e, first=f,
                      size=(e or piece.size) - s)
                for s, e, f in zip(starts, stops, firsts)]

    # --- reading ---------------------------------------------------------------------------

    def piece_records(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        pending: list[pa.Table] = []
        positions: list[np.ndarray] = []
        rows = 0
        for table, numbers in self._piece_batches(piece, ledger):
            if not table.num_rows:
                continue
            pending.append(table)
            positions.append(numbers)
            rows += table.num_rows
            while rows >= self.config.batch_size:
                table, numbers = pa.concat_tables(pending), np.concatenate(positions)
                size = self.config.batch_size
                yield table.slice(0, size), numbers[:size]
                pending, positions, rows = [table.slice(size)], [numbers[size:]], table.num_rows - size
        if rows:
            yield pa.concat_tables(pending), np.concatenate(positions)

    def _piece_batches(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """Parsed rows of a piece as read, run after run (a row longer than a block ends a run)."""
        encoding = "utf-8"
        try:
            head = io.read_head(piece.path, 2)
        except STREAM_ERRORS:
            head = b""
        if head.startswith(_UTF16_BOMS):
            encoding = "utf-16"
        names = None
        if piece.start:
            with _Feed(piece.path, 0, None, encoding) as feed:  # the header of a later piece
                names = self._columns(feed, piece, ledger)
            if names is None:
                return
        run: Optional[_Run] = _Run(piece.start, 1 if (self.header and not piece.start) else 0, piece.first)
        while run is not None:
            with _Feed(piece.path, run.start, piece.stop, encoding) as feed:
                if run.start == 0:
                    names = self._columns(feed, piece, ledger)
                    if names is None:
                        return
                try:
                    yield from self._parse(feed, names, run.first, piece, ledger)
                    run = None
                except _Stop as stop:
                    if stop.kind != "straddle" or encoding != "utf-8":
                        code = "too_large" if stop.kind == "straddle" else "invalid_csv"
                        self.quarantine(ledger, piece, run.first + stop.number, code,
                                        f"{stop} (the rest of the piece is not read)")
                        return
                    run = yield from self._recover(piece, run, stop.number, names, ledger)

    def _columns(self, feed: _Feed, piece: Piece, ledger: Ledger) -> Optional[list[str]]:
        """Column names, the header row read from the feed (at the file's start) when there is one;
        None when there are no rows to read (an empty file, a broken one, an endless header)."""
        if not self.header and self.columns:
            return _unique(self.columns)
        limit = self.config.max_record_bytes
        row = _first_row(feed, self.delimiter, self.quote, limit)
        if row is None:
            if feed.error is not None:
                self.quarantine(ledger, piece, 1, "truncated", f"unreadable from the start: {first_line(feed.error)}")
            return None
        fields, data, end = row
        if end > limit:
            self.quarantine(ledger, piece, 1, "too_large",
                            f"first row longer than input.max_record_bytes ({limit:,} bytes): the file is not read",
                            raw=data[:RAW_SHOWN])
            return None
        if not self.header:
            feed.unread(data)  # the first row is data: it only told how many columns there are
            return [f"f{i}" for i in range(len(fields))]
        feed.unread(data[end:])
        return _unique(self.columns or [name.strip() or f"f{i}" for i, name in enumerate(fields)])

    def _options(self, names: list[str], handler, block: int):
        wanted = [k for k in self.keys if k in names] or names[:1]
        return dict(
            read_options=pacsv.ReadOptions(use_threads=False, block_size=block, column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, quote_char=self.quote, double_quote=True,
                                             newlines_in_values=True, ignore_empty_lines=True,
                                             invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types={k: pa.string() for k in wanted}, include_columns=wanted,
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True,
                                                 null_values=[""], check_utf8=False),
        )

    def _parse(self, feed: _Feed, names: list[str], first: int, piece: Piece,
               ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """One Arrow run over the feed. Positions: Arrow numbers the rows it parses (1 = the feed's
        first data row, blank lines not counted) and names the ragged ones it skips; the rows it
        returns are the others, in order. The last batch is held back: after a broken stream its
        last row may be cut short."""
        ragged: list[tuple[int, int, int, str]] = []

        def handler(row) -> str:
            ragged.append((row.number, row.expected_columns, row.actual_columns, row.text))
            return "skip"

        next_number = 1
        held: Optional[tuple[pa.Table, np.ndarray]] = None
        start = feed.read(BLOCK)
        if not start:  # nothing at all (Arrow calls that an error): only a broken stream to tell
            if feed.error is not None:
                self.quarantine(ledger, piece, first + 1, "truncated", f"unreadable from here on: {first_line(feed.error)}")
            return
        feed.unread(start)
        failure: Optional[BaseException] = None
        try:
            reader = pacsv.open_csv(feed, **self._options(names, handler, BLOCK))
        except pa.ArrowException as exc:
            reader, failure = None, exc
        while reader is not None:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowException as exc:
                failure = exc
                break
            if not batch.num_rows:
                continue
            numbers = _numbers(next_number, batch.num_rows, [r[0] for r in ragged if r[0] >= next_number])
            next_number = int(numbers[-1]) + 1
            ragged = self._flush_ragged(ragged, next_number, first, piece, ledger)
            if held is not None:
                yield self._finish(*held, feed, first, piece, ledger)
            held = (pa.Table.from_batches([batch]), numbers)
        if failure is not None:
            # Rows before the failing one were all read: Arrow reads and numbers rows in order.
            last = max([next_number - 1, *(r[0] for r in ragged)])
            if held is not None:
                yield self._finish(*held, feed, first, piece, ledger)
            self._flush_ragged(ragged, None, first, piece, ledger)
            kind = "straddle" if "straddl" in str(failure) else "error"
            raise _Stop(kind, last + 1,
                        f"a row longer than {BLOCK:,} bytes could not be parsed" if kind == "straddle"
                        else f"CSV parse error: {first_line(failure)}")
        if feed.error is not None:
            # The stream broke: the last row Arrow saw may be cut short; it and the rest are one entry.
            last = max([next_number - 1, *(r[0] for r in ragged)])
            if held is not None and next_number - 1 == last:
                held = (held[0].slice(0, held[0].num_rows - 1), held[1][:-1])
            ragged = [r for r in ragged if r[0] != last]
            if held is not None:
                yield self._finish(*held, feed, first, piece, ledger)
            self._flush_ragged(ragged, last + 1, first, piece, ledger)
            self.quarantine(ledger, piece, first + max(last, 1), "truncated",
                            f"unreadable from here on: {first_line(feed.error)}")
            return
        if held is not None:
            yield self._finish(*held, feed, first, piece, ledger)
        self._flush_ragged(ragged, None, first, piece, ledger)

    def _flush_ragged(self, ragged, below: Optional[int], first: int, piece: Piece, ledger: Ledger) -> list:
        """Quarantine the ragged rows numbered below `below` (all with None); the others are kept."""
        keep = []
        for number, expected, actual, text in ragged:
            if below is not None and number >= below:
                keep.append((number, expected, actual, text))
                continue
            self.quarantine(ledger, piece, first + number, "ragged_row",
                            f"expected {expected} fields, got {actual}", raw=text[:RAW_SHOWN])
        return keep

    def _finish(self, table: pa.Table, numbers: np.ndarray, feed: _Feed, first: int, piece: Piece,
                ledger: Ledger) -> tuple[pa.Table, np.ndarray]:
        """Rows with an undecodable byte or a field over max_record_bytes are quarantined; the others
        go on, with their positions in the file."""
        limit = self.config.max_record_bytes
        ok = np.ones(table.num_rows, dtype=bool)
        for key in table.column_names:
            column = table.column(key)
            checks = [(pc.greater(pc.binary_length(column), limit), "too_large",
                       f"field longer than input.max_record_bytes ({limit:,} bytes)")]
            if feed.undefined:
                checks.append((pc.match_substring(column, UNDEFINED), "invalid_utf8",
                               "a byte that is neither UTF-8 nor cp1252"))
            for mask, code, reason in checks:
                bad = pc.fill_null(mask, False).to_numpy(zero_copy_only=False) & ok
                for i in np.flatnonzero(bad):
                    value = column[int(i)].as_py()
                    self.quarantine(ledger, piece, first + int(numbers[i]), code, reason, field=key,
                                    raw=value[:RAW_SHOWN].replace(UNDEFINED, "\ufffd"))
                ok &= ~bad
        if not ok.all():
            table, numbers = table.filter(pa.array(ok)), numbers[ok]
        keys = [k for k in self.keys if k in table.column_names]
        if not keys:  # no asked key is a column: rows are still counted (and quarantined as missing text)
            return pa.table({self.keys[0]: pa.nulls(table.num_rows, pa.string())}), first + numbers
        return table.select(keys), first + numbers

    def _recover(self, piece: Piece, run: _Run, number: int, names: list[str],
                 ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """After a row longer than a block: find it by quote parity from the run's start, read it
        alone (or quarantine it when over max_record_bytes) and return the run after it."""
        limit = self.config.max_record_bytes
        skip = run.header_rows + number - 1  # rows before the long one
        scanner = RowScanner(self.delimiter, self.quote, run.start)
        row_start = run.start if skip == 0 else None
        row_end: Optional[int] = None
        kept = bytearray()
        size = 0
        rows = 0
        offset = run.start
        with _Raw(piece.path, run.start, piece.stop) as raw:
            while row_end is None:
                block = raw.read(SCAN_BLOCK)
                if not block:
                    if raw.error is None and row_start is not None and scanner.anomaly is None:
                        row_end = offset  # the long row is the last one
                    break
                ends, blank = scanner.feed(block)
                counts = rows + np.cumsum(~blank)
                if row_start is None:
                    i = int(np.searchsorted(counts, skip))  # the end of the row before the long one
                    if i < len(counts):
                        row_start = int(ends[i])
                if row_start is not None:
                    later = np.flatnonzero((counts > skip) & (ends > row_start))
                    if len(later):
                        row_end = int(ends[later[0]])
                    lo = max(row_start, offset) - offset
                    hi = (row_end if row_end is not None else offset + len(block)) - offset
                    size += max(0, hi - lo)
                    if len(kept) <= limit:
                        kept += block[lo:hi]
                if len(counts):
                    rows = int(counts[-1])
                offset += len(block)
                if scanner.anomaly is not None and row_end is None:
                    break
        position = run.first + number
        if row_end is None and raw.error is not None:
            self.quarantine(ledger, piece, position, "truncated", f"unreadable from here on: {first_line(raw.error)}")
            return None
        if row_end is None:
            self.quarantine(ledger, piece, position, "too_large",
                            f"a row longer than {BLOCK:,} bytes whose end cannot be told (the rest of the piece is not read)",
                            raw=bytes(kept[:RAW_SHOWN]))
            return None
        if size > limit:
            self.quarantine(ledger, piece, position, "too_large",
                            f"row longer than input.max_record_bytes ({limit:,} bytes)", raw=bytes(kept[:RAW_SHOWN]))
        else:
            feed = _Feed(None, data=bytes(kept))
            body = feed.read()
            ragged: list = []

            def handler(row) -> str:
                ragged.append((row.number, row.expected_columns, row.actual_columns, row.text))
                return "skip"

            try:
                table = pacsv.read_csv(_io.BytesIO(body), **self._options(names, handler, len(body) + 1))
            except pa.ArrowException as exc:
                self.quarantine(ledger, piece, position, "invalid_csv", f"CSV parse error: {first_line(exc)}",
                                raw=bytes(kept[:RAW_SHOWN]))
            else:
                self._flush_ragged(ragged, None, position - 1, piece, ledger)
                if table.num_rows:
                    yield self._finish(table.slice(0, 1), np.array([1], dtype=np.int64), feed, position - 1, piece, ledger)
        return _Run(row_end, 0, position)


def _open_at(path: str, start: int):
    """The stored bytes of a file from `start` on, decompressed (a compressed one is read up to it)."""
    if start and io.sniff_compression(path) is None:
        stream = io.open_raw(path)
        stream.seek(start)
        return stream
    stream = io.open_decompressed(path)
    try:
        skip = start
        while skip > 0:
            got = stream.read(min(skip, SCAN_BLOCK))
            if not got:
                break
            skip -= len(got)
    except BaseException:
        stream.close()
        raise
    return stream


class _Raw:
    """The stored bytes [start, stop) of a file, decompressed; a broken stream ends it (`error`)."""

    def __init__(self, path: str, start: int, stop: Optional[int]) -> None:
        self.error: Optional[BaseException] = None
        self.left = None if stop is None else max(0, stop - start)
        self.stream = None
        try:
            self.stream = _open_at(path, start)
        except STREAM_ERRORS as exc:
            self.error = exc

    def read(self, n: int) -> bytes:
        want = n if self.left is None else min(n, self.left)
        if not want or self.stream is None or self.error is not None:
            return b""
        try:
            data = self.stream.read(want)
        except STREAM_ERRORS as exc:
            self.error = exc
            return b""
        if self.left is not None:
            self.left -= len(data)
        return data

    def __enter__(self) -> "_Raw":
        return self

    def __exit__(self, *exc) -> None:
        if self.stream is not None:
            self.stream.close()


def _numbers(start: int, n: int, skipped: list[int]) -> np.ndarray:
    """The first `n` row numbers from `start` on that are not among the skipped (ragged) ones."""
    numbers = np.arange(start, start + n + len(skipped), dtype=np.int64)
    if skipped:
        numbers = numbers[~np.isin(numbers, np.asarray(skipped, dtype=np.int64))]
    return numbers[:n]


def _first_row(feed: _Feed, delimiter: str, quote: str, limit: int) -> Optional[tuple[list[str], bytes, int]]:
    """The fields of the first non-blank row of the feed, the bytes read from it and where the row
    ends in them (past `limit` when no row ended that soon). Python's csv module reads it, line
    ends of any kind and stray quotes as Arrow does; None when the feed holds no row."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = feed.read(max(1 << 16, size))  # doubling: a long row is not parsed again and again
        parts.append(chunk)
        size += len(chunk)
        data = b"".join(parts)
        text = data.decode("utf-8", "replace")
        consumed = 0

        def lines():
            nonlocal consumed
            for line in _io.StringIO(text, newline=""):
                consumed += len(line)
                yield line

        reader = csv.reader(lines(), delimiter=delimiter, quotechar=quote, doublequote=True, strict=False)
        saved = csv.field_size_limit()
        csv.field_size_limit(max(saved, limit + 1))  # its default (128 KiB) is no limit of ours
        try:
            fields = next((row for row in reader if row), None)
        finally:
            csv.field_size_limit(saved)
        if not chunk or consumed < len(text):  # the row ended before the text did, or the text is all
            if fields is None:
                feed.unread(data)
                return None
            return fields, data, len(text[:consumed].encode("utf-8"))
        if size > limit:
            return [], data, size


def _unique(names: list[str]) -> list[str]:
    """Column names made unique: a repeated one becomes name_2, name_3, ..."""
    out: list[str] = []
    for name in names:
        base, n = name, 1
        while name in out:
            n += 1
            name = f"{base}_{n}"
        out.append(name)
    return out



register(CsvReader)


@register
class TsvReader(CsvReader):
    """Tab-separated values: CSV with a tab as the default delimiter (quoting as in CSV)."""

    name = "tsv"
    extensions = ("tsv",)
    default_delimiter = "\t"
