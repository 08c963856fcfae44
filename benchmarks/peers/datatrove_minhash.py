"""Peer: datatrove's 4-stage MinHash dedup with its default MinhashConfig on LocalPipelineExecutor."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from benchmarks.peers.common import input_files, iter_jsonl, peer_arg_parser, write_clusters


def main(argv: list[str] | None = None) -> int:
    ap = peer_arg_parser(__doc__)
    args = ap.parse_args(argv)

    import datatrove
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    files = input_files(args.input)  # fail early and plainly when the glob is empty
    data_dir, pattern = os.path.split(os.path.abspath(args.input))
    out = Path(args.out).resolve()
    work = out / "work"
    config = MinhashConfig()  # the defaults are what is being measured

    def reader():
        return JsonlReader(data_dir, glob_pattern=pattern, text_key=args.text_field, id_key=args.id_field)

    tasks = args.workers
    stages = {
        "signatures": LocalPipelineExecutor(
            pipeline=[reader(), MinhashDedupSignature(output_folder=str(work / "signatures"), config=config)],
            tasks=tasks,
            workers=args.workers,
            logging_dir=str(work / "logs" / "signatures"),
        ),
        "buckets": LocalPipelineExecutor(
            pipeline=[
                MinhashDedupBuckets(
                    input_folder=str(work / "signatures"), output_folder=str(work / "buckets"), config=config
                )
            ],
            # Stage 2 needs at least one task per bucket: it derives the bucket from the rank.
            tasks=config.num_buckets,
            workers=args.workers,
            logging_dir=str(work / "logs" / "buckets"),
        ),
        "cluster": LocalPipelineExecutor(
            pipeline=[
                MinhashDedupCluster(
                    input_folder=str(work / "buckets"),
                    output_folder=str(work / "remove_ids"),
                    config=config,
                    save_cluster_id=True,
                )
            ],
            tasks=1,  # asserted by MinhashDedupCluster
            logging_dir=str(work / "logs" / "cluster"),
        ),
        "filter": LocalPipelineExecutor(
            pipeline=[
                reader(),
                MinhashDedupFilter(
                    input_folder=str(work / "remove_ids"),
                    exclusion_writer=JsonlWriter(str(work / "removed")),
                    load_cluster_ids=True,
                ),
                JsonlWriter(str(work / "kept")),
            ],
            # The filter matches documents by their index within a rank, so it must shard like stage 1.
            tasks=tasks,
            workers=args.workers,
            logging_dir=str(work / "logs" / "filter"),
        ),
    }
    seconds = {}
    for name, executor in stages.items():
        t = time.perf_counter()
        executor.run()
        seconds[name] = time.perf_counter() - t

    # Both writers carry the filter's cluster metadata; -1 marks a document in no cluster.
    t = time.perf_counter()
    ids: list[str] = []
    raw: list[int] = []
    written = sorted(str(p) for d in ("kept", "removed") for p in (work / d).glob("*.jsonl*"))
    kept_n = sum(1 for _ in iter_jsonl(str(p) for p in (work / "kept").glob("*.jsonl*")))
    for rec in iter_jsonl(written):
        ids.append(str(rec["id"]))
        raw.append(int(rec.get("metadata", {}).get("minhash_cluster_id", -1)))
    next_id = max(raw, default=-1) + 1
    clusters = []
    for c in raw:
        if c < 0:
            c, next_id = next_id, next_id + 1
        clusters.append(c)
    write_clusters(out, ids, clusters)
    seconds["collect"] = time.perf_counter() - t

    info = {
        "peer": "datatrove",
        "version": datatrove.__version__ if hasattr(datatrove, "__version__") else _dist_version("datatrove"),
        "config": str(config),
        "n_grams": config.n_grams,
        "num_buckets": config.num_buckets,
        "hashes_per_bucket": config.hashes_per_bucket,
        "tasks": tasks,
        "workers": args.workers,
        "input_files": len(files),
        "docs": len(ids),
        "kept": kept_n,
        "stage_seconds": seconds,
    }
    (out / "peer.json").write_text(json.dumps(info, indent=2))
    return 0


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
