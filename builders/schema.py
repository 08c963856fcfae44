"""The core document schema every stage reads and writes, and helpers to conform tables to it."""

from __future__ import annotations

import pyarrow as pa

#: Columns every document table carries between stages, in this order. Stages may add columns.
CORE_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("text", pa.string()),
        pa.field("title", pa.string()),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("agency", pa.string()),
        pa.field("date", pa.timestamp("us", tz="UTC")),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float32()),
        # Set by dedup on each survivor (null when dedup is off): how many documents its cluster
        # holds (1: no copy found) and the sorted distinct sources of its other copies.
        pa.field("copies", pa.int32()),
        pa.field("copy_sources", pa.list_(pa.string())),
    ]
)
CORE_FIELDS = tuple(CORE_SCHEMA.names)

#: Internal column: a document's global input position (file index << 36 | position in the file,
#: a line, row or record number). It orders documents deterministically whatever the sharding
#: and is dropped at publish. 2**27 files of 2**36 records each.
ORD = "_ord"
ORD_FILE_SHIFT = 36

#: Columns of the rejected-documents tables (OUT/rejected/*.parquet).
REJECTED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("text", pa.string()),
        pa.field("url", pa.string()),
        pa.field("source", pa.string()),
        pa.field("duplicate_of", pa.string()),
        pa.field(ORD, pa.int64()),
    ]
)

#: Columns of the removed-line tables (OUT/rejected-lines/*.parquet, with clean.record_lines).
LINES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("line", pa.int32()),
        pa.field("rule", pa.string()),
        pa.field("text", pa.string()),
    ]
)

#: Columns of the quarantine tables (OUT/quarantine/*.parquet): records that could not be read.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("position", pa.int64()),
        pa.field("code", pa.string()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("raw", pa.string()),
    ]
)


def make_ord(file_index: int, record_index):
    """Global ordinal of a record; vectorised when record_index is a numpy array."""
    return (file_index << ORD_FILE_SHIFT) + record_index


def empty_documents() -> pa.Table:
    """An empty document table with the core columns and the ordinal."""
    return CORE_SCHEMA.append(pa.field(ORD, pa.int64())).empty_table()


def public_columns(table: pa.Table) -> pa.Table:
    """Drop internal (underscore) columns before a table leaves the build."""
    return table.select([n for n in table.column_names if not n.startswith("_")])
