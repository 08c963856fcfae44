"""Shared plumbing for peer runners: input files, a union-find, and the clusters.parquet they all write."""

from __future__ import annotations

import argparse
import glob
import gzip
import json
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq


def peer_arg_parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--input", required=True, help="glob of JSONL(.gz) files")
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--id-field", default="id")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", required=True, help="output directory; OUT/clusters.parquet is written")
    return ap


def input_files(pattern: str) -> list[str]:
    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"no input files match {pattern!r}")
    return files


def iter_jsonl(files: Iterable[str]) -> Iterator[dict]:
    for path in files:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


class UnionFind:
    """Union-find over dense integer ids with path halving and union by size."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []

    def add(self) -> int:
        self.parent.append(len(self.parent))
        self.size.append(1)
        return len(self.parent) - 1

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]


def write_clusters(out_dir: str | Path, ids: list[str], clusters: list[int]) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "clusters.parquet"
    table = pa.table({"id": pa.array(ids, pa.string()), "cluster": pa.array(clusters, pa.int64())})
    pq.write_table(table, path)
    return path
