"""Line-oriented reading shared by line formats: byte ranges on line boundaries, bounded lines."""

from __future__ import annotations

import lzma
from typing import Iterator, Optional

import pyarrow as pa

from builders import io
from builders.readers.base import Piece

CHUNK = 1 << 20
COUNT_BLOCK = 8 << 20

#: Errors a broken stream raises while it is read (truncated gzip, corrupt xz, lost remote file).
STREAM_ERRORS = (OSError, EOFError, lzma.LZMAError, pa.ArrowException)


def split_by_lines(piece: Piece, target: int) -> list[Piece]:
    """Pieces of about `target` bytes of an uncompressed file, each knowing how many lines precede it.

    One read of the file counting newlines (memchr speed); a compressed file cannot be entered in the
    middle and stays whole. A piece owns the lines that start inside its range.
    """
    if piece.size <= target * 3 // 2 or io.sniff_compression(piece.path) is not None:
        return [piece]
    bounds = list(range(0, piece.size, target))
    if piece.size - bounds[-1] < target // 2 and len(bounds) > 1:
        bounds.pop()  # no sliver at the end
    counts, seen, next_bound = [], 0, 1
    with io.open_raw(piece.path) as fh:
        pos = 0
        while next_bound < len(bounds):
            block = fh.read(min(COUNT_BLOCK, bounds[next_bound] - pos))
            if not block:
                break
            seen += block.count(b"\n")
            pos += len(block)
            if pos == bounds[next_bound]:
                counts.append(seen)
                next_bound += 1
    starts = [0, *counts]
    stops = bounds[1:] + [None]
    return [Piece(piece.path, piece.file_index, piece.format, start=b, stop=e, first=n, size=(e or piece.size) - b)
            for b, e, n in zip(bounds, stops, starts)]


def iter_lines(piece: Piece, max_bytes: int) -> Iterator[tuple[int, Optional[bytes]]]:
    """(1-based line number, line without its newline) of the lines starting in the piece.

    A line longer than `max_bytes` is never held whole: it is read past and given as None.
    Blank lines are passed over (their numbers still count). Stream errors propagate, with
    `last_line` telling how far reading got.
    """
    start, stop = piece.start, piece.stop
    number = piece.first
    if start:
        stream = io.open_raw(piece.path)
        stream.seek(start - 1)
        aligned = stream.read(1) == b"\n"
    else:
        stream = io.open_decompressed(piece.path)
        aligned = True
    offset = start  # absolute offset of the first byte of `tail`
    tail = b""
    skipping = not aligned  # inside the line that straddles `start`: it belongs to the previous piece
    too_long = False
    try:
        while True:
            if stop is not None and offset >= stop and not skipping and not too_long:
                return
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            if skipping or too_long:
                cut = chunk.find(b"\n")
                if cut < 0:
                    offset += len(chunk)
                    continue
                if too_long:
                    number += 1
                    yield number, None
                elif skipping:
                    number += 1
                skipping = too_long = False
                offset += cut + 1
                chunk = chunk[cut + 1:]
            data = tail + chunk if tail else chunk
            if not data.strip() and (stop is None or offset + len(data) <= stop):
                # Only blank lines (a bomb of newlines): counted, not split and looped over.
                cut = data.rfind(b"\n") + 1
                number += data.count(b"\n", 0, cut)
                offset += cut
                tail = data[cut:]
            else:
                lines = data.split(b"\n")
                tail = lines.pop()
                if stop is not None and offset + len(data) - len(tail) > stop:
                    at = offset
                    for line in lines:
                        if at >= stop:
                            return
                        number += 1
                        if line.strip():
                            yield number, line
                        at += len(line) + 1
                    offset = at
                else:
                    for line in lines:
                        number += 1
                        if line.strip():
                            yield number, line
                    offset += len(data) - len(tail)
            if len(tail) > max_bytes:
                offset += len(tail)
                too_long, tail = True, b""
        if too_long:
            yield number + 1, None
        elif tail.strip() and (stop is None or offset < stop):
            yield number + 1, tail
    finally:
        stream.close()
