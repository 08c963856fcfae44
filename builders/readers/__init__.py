"""Input formats, told apart by content, and the plan that cuts inputs into shards of work.

Every format registers itself (`builders.readers.base.register`); importing this package
imports them all. `plan_shards` probes each input (format, size), splits big files into
pieces through the executor and groups small files, so every core has work whatever the
inputs look like; the plan never changes what is published, only who reads what.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from builders import io
from builders.config import BuildConfig, InputConfig
from builders.readers.base import READERS, Piece, Reader, Shard, register
from builders.readers import csv, hf, jsonl, parquet, text, warc  # noqa: F401  (registration)

#: Formats that are text, so a file of NUL bytes given as one of them is told to be binary.
_TEXT_FORMATS = {"jsonl", "csv", "tsv", "text", "html"}
#: Smallest piece a big file is cut into, and most files in one shard.
MIN_PIECE = 4 << 20
MAX_FILES_PER_SHARD = 4096
#: Shards per worker a corpus is cut into when it is big enough (pieces of at least MIN_PIECE, at
#: most input.shard_size): a killed build loses only the shards its workers had in flight, a
#: resumed one redoes no more than that, and a pass's last round leaves a worker idle for no more
#: than one small shard. Each shard task costs a few milliseconds and a few small files.
SHARDS_PER_WORKER = 32
PROBE_FILES_PER_TASK = 256


def reader_for(fmt: str, config: InputConfig) -> Reader:
    """The reader of a format; an unknown one (an input that could not be probed) gets the base,
    which can still quarantine."""
    return READERS[fmt](config) if fmt in READERS else Reader(config)


def detect(path: str, configured: str) -> tuple[str, Optional[tuple[str, str]]]:
    """(format, problem) of an input: by its first bytes, then its name; problem is (code, reason)."""
    if configured != "auto" and READERS[configured].folder:
        return configured, None
    if configured == "auto":
        from builders.config import is_saved_dataset

        if is_saved_dataset(path):
            return "hf", None
    head = io.read_head(path, 1 << 16)
    if not head:
        if io.size(path) == 0:
            return configured, ("empty_file", "empty file")
        if _decompresses_to_nothing(path):
            return configured, ("empty_file", "empty file (compressed, nothing inside)")
        return configured, ("unreadable", "cannot read or decompress the file's first bytes")
    binary = b"\x00" in head[:8192] and not head.startswith((b"PAR1", b"WARC/"))
    if configured != "auto":
        if binary and configured in _TEXT_FORMATS and not _utf16(head):
            return configured, ("binary_file", f"binary file given as input.format {configured}")
        return configured, None
    for reader in sorted(READERS.values(), key=lambda r: -r.priority):
        if reader.sniff(head):
            return reader.name, None
    name = io.stem(path)
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    for reader in READERS.values():
        if ext in reader.extensions:
            if binary and reader.name in _TEXT_FORMATS and not _utf16(head):
                return reader.name, ("binary_file", f"binary content in a .{ext} file")
            return reader.name, None
    if binary:
        return "auto", ("binary_file", "binary file of no known format; set input.format if it is one")
    known = ", ".join(sorted(e for r in READERS.values() for e in r.extensions))
    return "auto", ("unknown_format", f"cannot tell the format from the first bytes or the name .{ext} "
                                      f"(known: {known}); set input.format")


def _decompresses_to_nothing(path: str) -> bool:
    """Whether a file with no readable head is a well-formed compressed stream of nothing."""
    try:
        with io.open_decompressed(path) as stream:
            return stream.read(1) == b""
    except Exception:  # noqa: BLE001 - whatever the codec raises: it is unreadable, not empty
        return False


def _utf16(head: bytes) -> bool:
    return head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _probe(job: tuple[list[tuple[int, str]], InputConfig]) -> list[Piece]:
    """Planning task: the format and size of some inputs (whole-file pieces)."""
    files, config = job
    out: list[Piece] = []
    for index, path in files:
        fmt, problem = detect(path, config.format)
        size = 0 if (fmt in READERS and READERS[fmt].folder) else _size(path)
        out.append(Piece(path, index, fmt, size=size, problem=problem))
    return out


def _split(job: tuple[Piece, InputConfig, int]) -> list[Piece]:
    """Planning task: a big input cut into pieces of about `target` stored bytes."""
    piece, config, target = job
    return READERS[piece.format](config).split(piece, target)


def pieces_of(path: str, config: InputConfig, target: int, file_index: int = 0) -> list[Piece]:
    """One input probed and split into pieces of about `target` stored bytes (tests, tools)."""
    piece = _probe(([(file_index, path)], config))[0]
    return [piece] if piece.problem is not None else _split((piece, config, target))


def cost(piece: Piece) -> float:
    """Work a piece stands for, in bytes of JSON Lines read: its stored size times its format's cost."""
    return max(piece.size, 1) * (READERS[piece.format].cost if piece.format in READERS else 1.0)


def plan_shards(config: BuildConfig, files: Sequence[str], executor, workers: int,
                on_result: Optional[Callable] = None) -> list[Shard]:
    """Shards of work over the inputs: big files split, small files grouped, in input order.

    Sizes are weighed by what each format costs to read (an HTML page costs far more per byte than
    a JSON line), so a few megabytes of WARC are spread over the workers as a gigabyte of JSONL is.
    """
    indexed = list(enumerate(files))
    jobs = [(indexed[i:i + PROBE_FILES_PER_TASK], config.input) for i in range(0, len(indexed), PROBE_FILES_PER_TASK)]
    pieces = [p for chunk in executor.map(_probe, jobs, on_result) for p in chunk]
    total = sum(cost(p) for p in pieces)
    # SHARDS_PER_WORKER pieces for every worker, never smaller than MIN_PIECE, never larger than
    # input.shard_size (in JSONL-equivalent bytes). The output does not depend on this.
    floor = min(MIN_PIECE, config.input.shard_size)
    target = max(floor, min(config.input.shard_size, int(total // max(1, workers * SHARDS_PER_WORKER)) + 1))
    big = [i for i, p in enumerate(pieces) if p.problem is None and cost(p) > target * 3 // 2]
    if big:
        splits = executor.map(_split, [(pieces[i], config.input, _stored(pieces[i], target)) for i in big])
        replaced = dict(zip(big, splits))
        pieces = [q for i, p in enumerate(pieces) for q in replaced.get(i, [p])]
    return group(pieces, target)


def _stored(piece: Piece, target: float) -> int:
    """A target in work units as stored bytes of this piece's format."""
    return max(1 << 12, int(target / (READERS[piece.format].cost if piece.format in READERS else 1.0)))


def _size(path: str) -> int:
    try:
        return io.size(path)
    except (OSError, ValueError):
        return 0


def group(pieces: list[Piece], target: int) -> list[Shard]:
    """Pieces of a split file are shards of their own; whole small files are grouped to about
    `target`: a file joins a group when that brings the group nearer `target` than it leaves it, so
    files just under `target` make shards of one, not alternately of two and one."""
    split = {p.file_index for p in pieces if p.start or p.stop is not None}
    shards: list[Shard] = []
    current: list[Piece] = []
    weight = 0

    def close() -> None:
        nonlocal current, weight
        if current:
            shards.append(Shard(len(shards), tuple(current)))
        current, weight = [], 0

    for piece in pieces:
        if piece.file_index in split:
            close()
            shards.append(Shard(len(shards), (piece,)))
            continue
        if current and weight + cost(piece) / 2 > target:
            close()
        current.append(piece)
        weight += cost(piece)
        if weight >= target or len(current) >= MAX_FILES_PER_SHARD:
            close()
    close()
    return shards


__all__ = ["READERS", "Piece", "Reader", "Shard", "register", "reader_for", "detect", "plan_shards", "group",
           "pieces_of", "cost"]
