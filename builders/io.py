"""Paths through fsspec: globbing, opening, sizes and compression told by content, local or remote alike.

A path is a local path or an fsspec URL (`memory://`, `s3://`, `gs://`, ...); remote protocols work
when their fsspec package is installed. Local paths skip fsspec for speed but behave the same.
"""

from __future__ import annotations

import glob
import lzma
import os
from typing import BinaryIO, Optional

import pyarrow as pa

from builders.errors import BuildError

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xfd7zXZ\x00", "xz"),
]
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zst", ".zstd", ".lz4", ".xz")


def is_url(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _local(path: str) -> str:
    return path[len("file://"):] if path.startswith("file://") else path


def filesystem(path: str):
    """(fsspec filesystem, path inside it) of a URL."""
    import fsspec

    return fsspec.core.url_to_fs(path)


def _unstrip(fs, path: str) -> str:
    """A URL again from a filesystem and a path inside it (fsspec strips the protocol)."""
    return fs.unstrip_protocol(path)


def glob_files(pattern: str) -> list[str]:
    """Files a pattern names, sorted: a glob (`**` allowed), a file, or a folder (every file below it)."""
    if not is_url(pattern):
        pattern = _local(pattern)
        if os.path.isdir(pattern):
            return sorted(p for p in glob.glob(os.path.join(glob.escape(pattern), "**", "*"), recursive=True) if os.path.isfile(p))
        matches = glob.glob(pattern, recursive=True) if glob.has_magic(pattern) else [pattern]
        return sorted(m for m in matches if os.path.isfile(m))
    fs, inner = filesystem(pattern)
    if glob.has_magic(inner):
        matches = fs.glob(inner)
    elif fs.isdir(inner):
        matches = fs.find(inner)
    else:
        matches = [inner] if fs.exists(inner) else []
    return sorted(_unstrip(fs, m) for m in matches if fs.isfile(m))


def exists(path: str) -> bool:
    if not is_url(path):
        return os.path.exists(_local(path))
    fs, inner = filesystem(path)
    return fs.exists(inner)


def isdir(path: str) -> bool:
    if not is_url(path):
        return os.path.isdir(_local(path))
    fs, inner = filesystem(path)
    return fs.isdir(inner)


def size(path: str) -> int:
    if not is_url(path):
        return os.path.getsize(_local(path))
    fs, inner = filesystem(path)
    return int(fs.size(inner))


def open_raw(path: str) -> BinaryIO:
    """A seekable binary file of the bytes as stored."""
    if not is_url(path):
        return open(_local(path), "rb")
    fs, inner = filesystem(path)
    return fs.open(inner, "rb")


def compression_of(head: bytes) -> Optional[str]:
    for magic, codec in _MAGIC:
        if head.startswith(magic):
            return codec
    return None


def sniff_compression(path: str) -> Optional[str]:
    """The compression of a file, told by its first bytes rather than its name."""
    with open_raw(path) as fh:
        return compression_of(fh.read(8))


def open_decompressed(path: str, offset: int = 0):
    """A binary stream of the decompressed content, whatever the compression (by content).

    `offset` seeks in the stored bytes first (only meaningful for uncompressed files or for
    compressed files made of independent members, such as per-record gzipped WARC).
    """
    raw = open_raw(path)
    try:
        if offset:
            raw.seek(offset)
        head = raw.read(8)
        raw.seek(offset)
        codec = compression_of(head)
        if codec is None:
            return raw
        if codec in _DECOMPRESSORS:
            return Decompressing(raw, codec)
        return pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), codec)
    except BaseException:
        raw.close()
        raise


def _gzip():
    import zlib

    return zlib.decompressobj(wbits=47)  # gzip or zlib header, one member


def _bz2():
    import bz2

    return bz2.BZ2Decompressor()


def _xz():
    return lzma.LZMADecompressor()


_DECOMPRESSORS = {"gzip": _gzip, "bz2": _bz2, "xz": _xz}
_ZLIB_TYPE = type(_gzip())
_RAW_CHUNK = 1 << 18
#: Most decompressed bytes one call makes (a 256 KiB gzip chunk can inflate to 256 MB, bz2 to GBs).
_OUT_CHUNK = 1 << 20


class Decompressing:
    """A read-only stream of decompressed bytes, fed 256 KiB of stored bytes at a time.

    Everything before a corrupt or truncated spot is delivered before the error is raised, so a
    cut file loses only its last record. Concatenated members (multi-member gzip, bz2) are read on.
    Output is bounded: one read(n) never inflates much more than n bytes (at most `_OUT_CHUNK`
    over), whatever the compression ratio, so a decompression bomb costs time, not memory.
    """

    def __init__(self, raw: BinaryIO, codec: str) -> None:
        self.raw, self.codec = raw, codec
        self.decompressor = _DECOMPRESSORS[codec]()
        self.buffer = bytearray()
        self.pending = b""  # stored bytes not yet given to the decompressor
        self.done = False
        self.error: Optional[BaseException] = None

    def _more_input(self) -> bool:
        """Whether the decompressor needs stored bytes it has not been given (else it has output left)."""
        d = self.decompressor
        if isinstance(d, _ZLIB_TYPE):
            return not d.unconsumed_tail
        return d.needs_input

    def _fill(self, want: int) -> None:
        while len(self.buffer) < want and not self.done and self.error is None:
            d = self.decompressor
            if d.eof:  # a member ended: another may follow (multi-member gzip, bz2, xz)
                rest = d.unused_data or self.pending or self.raw.read(_RAW_CHUNK)
                if not rest:
                    self.done = True
                    return
                self.decompressor, self.pending = _DECOMPRESSORS[self.codec](), rest
                continue
            data = self.pending
            if not data and self._more_input():
                data = self.raw.read(_RAW_CHUNK)
                if not data:
                    self.error = EOFError("compressed stream ends before its end marker (truncated file)")
                    return
            self.pending = b""
            room = min(max(want - len(self.buffer), 1), _OUT_CHUNK)
            try:
                self.buffer += d.decompress(data, room)
            except Exception as exc:  # zlib.error, OSError, LZMAError, ValueError: whatever the codec says
                self.error = OSError(f"corrupt {self.codec} data: {exc}")
                return
            if isinstance(d, _ZLIB_TYPE) and not d.eof:
                self.pending = d.unconsumed_tail

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = bytearray()
            while True:
                part = self.read(1 << 20)
                if not part:
                    return bytes(out)
                out += part
        self._fill(n)
        if not self.buffer and self.error is not None:
            error, self.error = self.error, None
            self.done = True
            raise error
        out = bytes(self.buffer[:n])
        del self.buffer[:n]
        return out

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "Decompressing":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_head(path: str, n: int = 1 << 16) -> bytes:
    """The first `n` decompressed bytes (fewer for a short file; what could be read of a broken one)."""
    try:
        with open_decompressed(path) as stream:
            out = b""
            while len(out) < n:
                chunk = stream.read(n - len(out))
                if not chunk:
                    break
                out += chunk
            return out
    except (OSError, EOFError, lzma.LZMAError, pa.ArrowException):
        return b""


def stem(path: str) -> str:
    """A file's name without its compression suffix, lower-cased, for format detection by name."""
    name = os.path.basename(path.rstrip("/")).lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def check_pattern(pattern: str) -> None:
    """Fail with one line when a pattern names nothing (a config error, before any work)."""
    if glob.has_magic(pattern.split("://", 1)[-1]):
        if not glob_files(pattern):
            raise BuildError(f"{pattern!r} matched no files")
    elif not exists(pattern):
        raise BuildError(f"{pattern!r} does not exist")
