"""Parquet files, split by row groups, and the columns of Arrow tables picked by dotted keys."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders import io
from builders.readers.base import Piece, Reader, register
from builders.readers.lines import STREAM_ERRORS
from builders.stages.base import Ledger


def select_keys(table: pa.Table, keys: list[str]) -> pa.Table:
    """A table of the asked keys: top-level columns, or fields of struct columns by a dotted path;
    a key the data lacks is a column of nulls."""
    n = table.num_rows
    columns = {}
    for key in keys:
        if key in table.column_names:
            columns[key] = table.column(key)
            continue
        parts = key.split(".")
        value = table.column(parts[0]) if parts[0] in table.column_names else None
        for part in parts[1:]:
            if value is None or not pa.types.is_struct(value.type) or value.type.get_field_index(part) < 0:
                value = None
                break
            value = pc.struct_field(value, part)
        columns[key] = value if value is not None else pa.nulls(n, pa.string())
    return pa.table(columns) if columns else pa.table({})


def top_level(keys: list[str], names: list[str]) -> list[str]:
    wanted = []
    for key in keys:
        name = key if key in names else key.split(".")[0]
        if name in names and name not in wanted:
            wanted.append(name)
    return wanted


def invalid_utf8(table: pa.Table) -> list[tuple[int, str]]:
    """(row, key) of string values that are not UTF-8: Parquet and Arrow files are not checked on
    read, and such a value breaks every later step. One full validation per column (C speed);
    rows are looked at one by one only in a column that fails it."""
    bad = []
    for key in table.column_names:
        column = table.column(key)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        for row, value in enumerate(column.cast(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()).to_pylist()):
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append((row, key))
    return bad


def drop_invalid_utf8(reader: Reader, piece: Piece, table: pa.Table, positions: np.ndarray,
                      ledger: Ledger) -> tuple[pa.Table, np.ndarray]:
    """The rows whose strings are all UTF-8; the others quarantined as invalid_utf8, naming the field."""
    bad = invalid_utf8(table)
    if not bad:
        return table, positions
    keep = np.ones(table.num_rows, dtype=bool)
    for row, key in bad:
        if keep[row]:
            keep[row] = False
            reader.quarantine(ledger, piece, int(positions[row]), "invalid_utf8",
                              "string value that is not UTF-8 (a corrupt or mislabelled column)", field=key)
    return table.filter(pa.array(keep)), positions[keep]


@register
class ParquetReader(Reader):
    """Parquet: a piece is a run of row groups; positions are 1-based row numbers of the file."""

    name = "parquet"
    cost = 2.0  # compressed columns hold about twice their size in text
    extensions = ("parquet", "pq")
    unit = "row"
    priority = 20

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(b"PAR1")

    def split(self, piece: Piece, target: int) -> list[Piece]:
        if piece.size <= target * 3 // 2:
            return [piece]
        try:
            with io.open_raw(piece.path) as fh:
                meta = pq.ParquetFile(fh).metadata
        except STREAM_ERRORS:
            return [piece]  # read whole, where its error is quarantined
        pieces, start, rows_before, rows, weight = [], 0, 0, 0, 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            rows += group.num_rows
            weight += group.total_byte_size
            if weight >= target or g == meta.num_row_groups - 1:
                pieces.append(Piece(piece.path, piece.file_index, piece.format, start=start, stop=g + 1,
                                    first=rows_before, size=weight))
                start, rows_before, weight = g + 1, rows, 0
        return pieces if len(pieces) > 1 else [piece]

    def piece_records(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        position = piece.first
        try:
            with io.open_raw(piece.path) as fh:
                source = pq.ParquetFile(fh, pre_buffer=False)  # pre-buffering keeps what it read: memory grows with the file
                stop = piece.stop if piece.stop is not None else source.metadata.num_row_groups
                groups = list(range(piece.start, stop))
                columns = top_level(self.keys, source.schema_arrow.names)
                if piece.start == 0:
                    self.note_keys(ledger, source.schema_arrow.names)
                if not groups:
                    return
                for batch in source.iter_batches(batch_size=self.config.batch_size, row_groups=groups, columns=columns):
                    table = select_keys(pa.Table.from_batches([batch]), self.keys)
                    positions = np.arange(position + 1, position + 1 + batch.num_rows, dtype=np.int64)
                    position += batch.num_rows
                    yield drop_invalid_utf8(self, piece, table, positions, ledger)
        except STREAM_ERRORS as exc:
            self.quarantine(ledger, piece, position + 1, "unreadable",
                            f"Parquet unreadable from row {position + 1} on: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
