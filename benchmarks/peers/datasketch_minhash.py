"""Peer: datasketch alone as its docs show it (MinHash per document, MinHashLSH insert/query), single process."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from benchmarks.peers.common import UnionFind, input_files, iter_jsonl, peer_arg_parser, write_clusters

NUM_PERM = 128
THRESHOLD = 0.8
NGRAM = 5


def shingles(text: str, n: int = NGRAM) -> set[str]:
    # Lower-cased whitespace words: the plainest reading of "word 5-grams", no tokenizer of our own.
    words = text.lower().split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def main(argv: list[str] | None = None) -> int:
    ap = peer_arg_parser(__doc__)
    args = ap.parse_args(argv)
    from datasketch import MinHash, MinHashLSH
    import datasketch

    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    uf = UnionFind()
    ids: list[str] = []
    empty = 0
    for rec in iter_jsonl(input_files(args.input)):
        idx = uf.add()
        ids.append(str(rec[args.id_field]))
        sh = shingles(rec.get(args.text_field) or "")
        if not sh:
            # An empty MinHash would collide with every other empty one; leave it a singleton.
            empty += 1
            continue
        m = MinHash(num_perm=NUM_PERM)
        for s in sh:
            m.update(s.encode("utf8"))
        # Query before insert finds every candidate pair once, the same edges as insert-all-then-query-all.
        for other in lsh.query(m):
            uf.union(idx, other)
        lsh.insert(idx, m)
    clusters = [uf.find(i) for i in range(len(ids))]
    write_clusters(args.out, ids, clusters)
    info = {
        "peer": "datasketch",
        "version": datasketch.__version__,
        "num_perm": NUM_PERM,
        "threshold": THRESHOLD,
        "ngram": NGRAM,
        "bands_rows": [lsh.b, lsh.r],
        "processes": 1,
        "workers_requested": args.workers,
        "docs": len(ids),
        "empty_docs": empty,
        "seconds": time.perf_counter() - t0,
    }
    Path(args.out, "peer.json").write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
