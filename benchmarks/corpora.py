"""Generated benchmark corpora, cached by size and seed, with a clean-text twin sharded like the raw pages."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import math
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

MARKER = "corpus.json"


def shard_pages_for(pages: int) -> int:
    """Pages per shard: at least two shards so both workers get a file, at most 64 so files stay large."""
    shards = min(64, max(2, math.ceil(pages / 2500)))
    return math.ceil(pages / shards)


@dataclass
class Corpus:
    root: Path
    pages: int
    seed: int
    info: dict

    @property
    def raw_glob(self) -> str:
        return str(self.root / "raw" / "*.jsonl.gz")

    @property
    def clean_glob(self) -> str:
        return str(self.root / "clean" / "*.jsonl.gz")

    @property
    def truth_path(self) -> Path:
        return self.root / "truth.parquet"


def _generator_hash(synth_module: str) -> "hashlib._Hash":
    h = hashlib.sha1()
    try:
        spec = importlib.util.find_spec(synth_module)
    except ImportError:
        spec = None  # the generator run will fail and say why
    if spec is not None and spec.origin:
        pkg = Path(spec.origin).parent
        for f in sorted(pkg.rglob("*.py")):
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    return h


def generator_fingerprint(synth_module: str, source: Path) -> str:
    """Hash of the generator's source files and the source corpus's bytes, so a changed generator
    or source regenerates, and a source copied afresh (same bytes, new mtime) does not."""
    h = _generator_hash(synth_module)
    if source.exists():
        digest = hashlib.sha256()
        with open(source, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        h.update(f"source sha256 {digest.hexdigest()}".encode())
    else:
        h.update(b"source missing")
    return h.hexdigest()[:16]


def legacy_fingerprint(synth_module: str, source: Path) -> str:
    """The fingerprint corpora were stamped with before: the source by path, size and mtime."""
    h = _generator_hash(synth_module)
    st = source.stat() if source.exists() else None
    h.update(f"{source}:{st.st_size if st else -1}:{int(st.st_mtime) if st else -1}".encode())
    return h.hexdigest()[:16]


def corpus_dir(cache: Path, pages: int, seed: int, profile: str = "default") -> Path:
    return cache / "corpora" / (f"pages{pages}-seed{seed}" + ("" if profile == "default" else f"-{profile}"))


def ensure_corpus(
    cache: Path,
    pages: int,
    seed: int,
    source: Path,
    python: str = sys.executable,
    synth_module: str = "builders.synth",
    log=print,
    profile: str = "default",
) -> Corpus:
    root = corpus_dir(cache, pages, seed, profile)
    marker = root / MARKER
    fingerprint = generator_fingerprint(synth_module, source)
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("fingerprint") != fingerprint and info.get("fingerprint") == legacy_fingerprint(synth_module, source):
            # Stamped the old way by this generator and this source as it is now: restamped.
            info["fingerprint"], info["legacy_fingerprint"] = fingerprint, info["fingerprint"]
            marker.write_text(json.dumps(info, indent=2))
        if info.get("fingerprint") == fingerprint:
            log(f"corpus {pages} pages seed {seed}: cached at {root}")
            return Corpus(root, pages, seed, info)
        log(f"corpus {pages} pages seed {seed}: generator or source changed since {info.get('generated_at')}")
    # Generated beside the cached corpus and swapped in only once whole: a generation that fails
    # (killed, out of memory, a generator being edited) leaves the cached corpus as it was, and
    # the next attempt starts its own folder over.
    final, root = root, root.with_name(root.name + ".generating")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shard_pages = shard_pages_for(pages)
    cmd = [
        python, "-m", synth_module,
        "--source", str(source), "--pages", str(pages), "--seed", str(seed),
        "--out", str(root), "--formats", "jsonl", "--shard-pages", str(shard_pages),
    ]  # fmt: skip
    if profile != "default":
        cmd += ["--profile", profile]
    log(f"generating corpus: {' '.join(cmd)}")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"corpus generator failed ({res.returncode}): {res.stderr.strip()[-2000:]}")
    gen_seconds = time.perf_counter() - t0
    raw_files = sorted((root / "raw").glob("*.jsonl.gz"))
    if not raw_files or not (root / "truth.parquet").exists():
        raise RuntimeError(f"corpus generator wrote no raw/*.jsonl.gz or truth.parquet under {root}")
    counts = write_clean_twin(root, raw_files)
    truth = pq.read_table(root / "truth.parquet", columns=["id", "story"])
    info = {
        "pages": pages,
        "seed": seed,
        "profile": profile,
        "source": str(source),
        "generator": synth_module,
        "fingerprint": fingerprint,
        "command": cmd,
        "shard_pages": shard_pages,
        "raw_files": len(raw_files),
        "raw_pages": sum(counts),
        "truth_pages": truth.num_rows,
        "stories": len(set(truth.column("story").to_pylist())),
        "generated_seconds": round(gen_seconds, 2),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (root / MARKER).write_text(json.dumps(info, indent=2))
    if final.exists():
        shutil.rmtree(final)
    os.rename(root, final)
    return Corpus(final, pages, seed, info)


def write_clean_twin(root: Path, raw_files: list[Path]) -> list[int]:
    """clean/NAME.jsonl.gz holds, for each raw shard, the truth text of the same ids in the same order."""
    truth = pq.read_table(root / "truth.parquet", columns=["id", "text"])
    text_of = dict(zip(truth.column("id").to_pylist(), truth.column("text").to_pylist()))
    out_dir = root / "clean"
    out_dir.mkdir(exist_ok=True)
    counts = []
    for raw in raw_files:
        n = 0
        with gzip.open(raw, "rt", encoding="utf-8") as fin, gzip.open(
            out_dir / raw.name, "wt", encoding="utf-8", compresslevel=1
        ) as fout:
            for line in fin:
                if not line.strip():
                    continue
                doc_id = json.loads(line)["id"]
                fout.write(json.dumps({"id": doc_id, "text": text_of.get(doc_id, "")}, ensure_ascii=False) + "\n")
                n += 1
        counts.append(n)
    return counts
