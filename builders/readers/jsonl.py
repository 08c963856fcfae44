"""JSON Lines: parsed a block at a time by Arrow, line by line only for blocks holding a broken record."""

from __future__ import annotations

import io as _io
import json
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from builders.readers.base import Piece, Reader, decode_text, first_line, register
from builders.readers.lines import STREAM_ERRORS, iter_lines, split_by_lines
from builders.stages.base import Ledger

#: Deeper JSON than this is quarantined before Python's parser recurses into it.
MAX_DEPTH = 64


@register
class JsonlReader(Reader):
    name = "jsonl"
    extensions = ("jsonl", "ndjson", "json", "jsonlines")
    unit = "line"

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"

    def split(self, piece: Piece, target: int) -> list[Piece]:
        return split_by_lines(piece, target)

    def piece_records(self, piece: Piece, ledger: Ledger) -> Iterator[tuple[pa.Table, np.ndarray]]:
        schema = _nested_schema(self.keys)
        block: list[bytes] = []
        numbers: list[int] = []
        last = piece.first
        limit = self.config.max_record_bytes
        sample: list[bytes] = []
        try:
            for number, line in iter_lines(piece, limit):
                last = number
                if len(sample) < 20 and line is not None:
                    sample.append(line)
                    if len(sample) == 20:
                        self.note_keys(ledger, _keys_of(sample))
                if line is None or len(line) > limit:
                    self.quarantine(ledger, piece, number, "too_large",
                                    f"line longer than input.max_record_bytes ({limit:,} bytes)",
                                    raw=b"" if line is None else line)
                    continue
                block.append(line)
                numbers.append(number)
                if len(block) >= self.config.batch_size:
                    yield self._parse(piece, block, numbers, schema, ledger)
                    block, numbers = [], []
        except STREAM_ERRORS as exc:
            # The rest of the file cannot be read: keep what came before and say where it stopped.
            if block:
                yield self._parse(piece, block, numbers, schema, ledger)
                block, numbers = [], []
            self.quarantine(ledger, piece, last + 1, "truncated", f"unreadable from here on: {first_line(exc)}")
        if block:
            yield self._parse(piece, block, numbers, schema, ledger)
        if 0 < len(sample) < 20:
            self.note_keys(ledger, _keys_of(sample))

    def _parse(self, piece, block, numbers, schema, ledger) -> tuple[pa.Table, np.ndarray]:
        try:
            raw = pajson.read_json(
                _io.BytesIO(b"\n".join(block)),
                read_options=pajson.ReadOptions(block_size=max(1 << 20, 2 * sum(map(len, block)))),
                parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
            )
            if raw.num_rows == len(block):
                return _flatten(raw, self.keys), np.asarray(numbers, dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        return self._parse_lines(piece, block, numbers, ledger)

    def _parse_lines(self, piece, block, numbers, ledger) -> tuple[pa.Table, np.ndarray]:
        core = {k for k in self.fields.values() if k is not None}
        rows, kept = [], []
        for number, line in zip(numbers, block):
            text = decode_text(line)
            if text is None:
                self.quarantine(ledger, piece, number, "invalid_utf8", "invalid UTF-8 that is not cp1252 either", raw=line)
                continue
            if _depth(text) > MAX_DEPTH:
                # Arrow parses deep values it is not asked for without recursing; Python cannot.
                row = self._arrow_row(line)
                if row is None:
                    self.quarantine(ledger, piece, number, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels", raw=line)
                else:
                    rows.append(row)
                    kept.append(number)
                continue
            try:
                record = json.loads(text)
            except (ValueError, RecursionError) as exc:
                self.quarantine(ledger, piece, number, "invalid_json", f"invalid JSON: {first_line(exc)}", raw=line)
                continue
            if not isinstance(record, dict):
                self.quarantine(ledger, piece, number, "not_an_object",
                                f"expected a JSON object, got {type(record).__name__}", raw=line)
                continue
            row, bad = {}, None
            for key in self.keys:
                value = _lookup(record, key)
                if isinstance(value, (dict, list)):
                    if key in core:
                        bad = (key, f"expected a string, got {type(value).__name__}")
                        break
                    value = json.dumps(value, ensure_ascii=False)
                elif value is not None and not isinstance(value, str):
                    value = json.dumps(value)
                if value is not None and not _encodable(value):
                    bad = (key, "a lone surrogate (a \\ud800-\\udfff escape without its pair): not Unicode text")
                    break
                row[key] = value
            if bad:
                code = "nested_value" if bad[1].startswith("expected") else "invalid_unicode"
                self.quarantine(ledger, piece, number, code, bad[1], field=bad[0], raw=line)
                continue
            rows.append(row)
            kept.append(number)
        schema = pa.schema([(k, pa.string()) for k in self.keys])
        return pa.Table.from_pylist(rows, schema=schema), np.asarray(kept, dtype=np.int64)


    def _arrow_row(self, line: bytes):
        try:
            raw = pajson.read_json(_io.BytesIO(line), parse_options=pajson.ParseOptions(
                explicit_schema=_nested_schema(self.keys), unexpected_field_behavior="ignore"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return _flatten(raw, self.keys).to_pylist()[0] if raw.num_rows == 1 else None


def _keys_of(lines: list[bytes]) -> list[str]:
    """The top-level keys of the first lines of a piece (a sample: what the file looks like)."""
    keys: dict[str, None] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    return list(keys)


def _nested_schema(keys: list[str]) -> pa.Schema:
    """Arrow's explicit JSON schema for dotted keys: `article.body` is a string inside a struct."""
    tree: dict = {}
    for key in keys:
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # both `a` and `a.b` asked for: `a` stays a string
                break
            node = child
        else:
            node.setdefault(parts[-1], None)

    def build(node: dict) -> list[pa.Field]:
        return [pa.field(k, pa.string() if v is None else pa.struct(build(v))) for k, v in node.items()]

    return pa.schema(build(tree))


def _flatten(table: pa.Table, keys: list[str]) -> pa.Table:
    """Columns named by the dotted keys, taken out of Arrow's nested structs."""
    import pyarrow.compute as pc

    columns = {}
    for key in keys:
        parts = key.split(".")
        if parts[0] not in table.column_names:
            columns[key] = pa.nulls(table.num_rows, pa.string())
            continue
        value = table.column(parts[0])
        for part in parts[1:]:
            value = pc.struct_field(value, part) if pa.types.is_struct(value.type) else pa.nulls(table.num_rows, pa.string())
        columns[key] = value
    return pa.table(columns)


def _lookup(record: dict, key: str):
    if key in record:
        return record[key]
    value = record
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _encodable(value: str) -> bool:
    """Whether a string is Unicode text Arrow can hold (JSON can escape lone surrogates; UTF-8 cannot)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _depth(text: str) -> int:
    """Bracket depth, counted fast on the raw text (brackets inside strings count too: an upper bound)."""
    depth = best = 0
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
                if best > MAX_DEPTH:
                    return best
        elif ch in "]}":
            depth -= 1
    return best

