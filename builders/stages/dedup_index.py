"""The dedup index (`dedup.index: PATH`): what a refresh needs of everything already published.

Layout of PATH:

    manifest.json          the hash configuration, the partition count, the generations
    gen-NNNNN/sNNNNN/      one published shard: sig.npy, info.npy, meta.parquet (survivors only)
    gen-NNNNN/bands/pNNNNN.parquet
                           their keys (band, key, doc numbered within the generation)

A build writes its generation into `.pending-*` beside them while it runs; only when the whole
build has succeeded is the folder renamed to its generation's name and the manifest replaced
(write, then rename), so a failed build leaves the index as it was. Readers trust the manifest
only: a leftover pending folder is ignored, and removed by the next successful commit.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from builders.config import DedupConfig
from builders.errors import BuildError
from builders.stages import dedup_edges as edges
from builders.stages.dedup_reduce import Group, atomic_json
from builders.text import anchors

FORMAT = 2  # 2: info.npy has words; anchors.npy
MANIFEST = "manifest.json"


def hash_config(config: DedupConfig) -> dict:
    """Everything that decides a document's keys and signature: an index made with other values
    cannot be compared with this build's documents."""
    mh = config.minhash
    out = {"format": FORMAT, "producers": [list(p) for p in edges.layout(config)]}
    if mh:
        bands, rows = edges.candidate_params(mh)
        out.update(num_perm=mh.num_perm, ngram=mh.ngram, seed=mh.seed, bands=bands, rows=rows,
                   lead_shingles=edges.LEAD_SHINGLES, lead_perms=min(edges.LEAD_PERMS, mh.num_perm) if mh.lead else 0,
                   anchors=anchors.VERSION if mh.anchored is not None else 0)
    return out


@dataclass
class Index:
    path: Path
    config: dict
    partitions: int
    generations: list[dict]

    @classmethod
    def open(cls, path: str, config: DedupConfig) -> Optional["Index"]:
        """The index at `path`, or None when there is none yet; BuildError when it was made with
        another hash configuration or cannot be read."""
        folder = Path(path)
        manifest = folder / MANIFEST
        if not manifest.exists():
            if folder.exists() and not folder.is_dir():
                raise BuildError(f"dedup.index: {folder} is a file, not an index folder")
            return None
        try:
            data = json.loads(manifest.read_text())
            stored, partitions, generations = data["config"], int(data["partitions"]), list(data["generations"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BuildError(f"dedup.index: {manifest} is not a dedup index manifest ({exc})") from None
        wanted = hash_config(config)
        if stored != wanted:
            diff = ", ".join(f"{k}={stored.get(k)!r} (this build: {wanted.get(k)!r})"
                             for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k))
            raise BuildError(f"dedup.index: {folder} was built with another hash configuration: {diff}; "
                             "use its settings or a new index folder")
        return cls(folder, stored, partitions, generations)

    def groups(self) -> list[Group]:
        return [Group(str(self.path / gen["name"] / g["path"]), int(g["rows"])) for gen in self.generations
                for g in gen["groups"]]

    @property
    def rows(self) -> int:
        return sum(g.rows for g in self.groups())

    def band_files(self, partition: int) -> list[tuple[str, int]]:
        """(file, dense number of its generation's first document) for one partition."""
        out, base = [], 0
        for gen in self.generations:
            path = self.path / gen["name"] / "bands" / f"p{partition:05d}.parquet"
            if path.exists():
                out.append((str(path), base))
            base += sum(int(g["rows"]) for g in gen["groups"])
        return out


def pending_folder(path: str) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".pending-{uuid.uuid4().hex[:8]}"


def commit(path: str, pending: Path, config: DedupConfig, partitions: int, groups: list[tuple[str, int]]) -> None:
    """Make a pending generation part of the index: rename its folder, then replace the manifest."""
    folder = Path(path)
    manifest = folder / MANIFEST
    if manifest.exists():
        data = json.loads(manifest.read_text())
    else:
        data = {"config": hash_config(config), "partitions": partitions, "generations": []}
    name = f"gen-{len(data['generations']):05d}"
    if (folder / name).exists():  # left by a commit that stopped before its manifest: not indexed
        shutil.rmtree(folder / name)
    os.rename(pending, folder / name)
    data["generations"].append({"name": name, "groups": [{"path": p, "rows": n} for p, n in groups]})
    atomic_json(manifest, data)
    for leftover in folder.glob(".pending-*"):
        shutil.rmtree(leftover, ignore_errors=True)
