"""Speed of the clean stage on one core: articles/s and MB/s, beside datatrove's quality filters.

    python -m benchmarks.clean_speed [--pages N] [--repeat R] [--peer-python PATH]

Three inputs, all needing `../shared`: the benchmark generator's raw pages, made from its BBC
articles (site chrome included: the work cleaning is for), the 2,225 real BBC articles (already
clean: cleaning must leave them alone, and should do so fast), and those articles joined in pairs
(about 4.4 KB, the size the speed target is set for). Ours is the whole clean stage as a build runs it (every
registered step the default config switches on, language ID included, and the corpus-wide
repeated-line step's map, reduce and apply), timed in this process on batches of
`input.batch_size`; reading the input is not timed. The peer is datatrove's Gopher repetition,
Gopher quality, C4 and FineWeb quality filters on the same texts in its own environment (its
language filter is left out: it downloads its model at run time). They do different work, so the
ratio says what a corpus costs through each, not which is better at cleaning.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
BBC = REPO.parent / "shared" / "corpora" / "bbc-news.jsonl.gz"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"

_PEER = r"""
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter)
texts = json.load(open(sys.argv[1]))
repeat = int(sys.argv[2])
filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
           FineWebQualityFilter()]
def run():
    docs = (Document(text=t, id=str(i)) for i, t in enumerate(texts))
    for f in filters:
        docs = f.run(docs)
    return sum(1 for _ in docs)
run()  # warm-up: imports, tokenizer load
start = time.perf_counter()
for _ in range(repeat):
    kept = run()
print(json.dumps({"seconds": (time.perf_counter() - start) / repeat, "kept": kept}))
"""


def load_texts(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
                if limit and len(rows) >= limit:
                    break
    return rows


def generated_pages(pages: int, cache: Path) -> list[dict]:
    from benchmarks.corpora import ensure_corpus

    corpus = ensure_corpus(cache, pages, 0, BBC, log=lambda *a: print(*a, file=sys.stderr))
    rows = []
    for f in sorted((corpus.root / "raw").glob("*.jsonl.gz")):
        rows += load_texts(f)
    return rows[:pages]


def ours(rows: list[dict], repeat: int) -> dict:
    """Seconds per pass of the clean stage over `rows`, in this process."""
    from builders.config import validate
    from builders.pipeline import build_plan
    from builders.schema import ORD
    from builders.stages.base import CorpusStep, Ledger

    config = validate({"name": "speed", "input": {"paths": ["-"]}, "clean": {}, "dedup": False,
                       "publish": {"output": "-"}}, "benchmark")
    plan = build_plan(config)
    size = config.input.batch_size
    table = pa.table({
        "id": pa.array([str(r.get("id", i)) for i, r in enumerate(rows)], pa.string()),
        "text": pa.array([r["text"] for r in rows], pa.string()),
        "title": pa.array([r.get("title") for r in rows], pa.string()),
        "url": pa.array([r.get("url") for r in rows], pa.string()),
        "source": pa.array([r.get("site") or r.get("source") for r in rows], pa.string()),
        "agency": pa.nulls(len(rows), pa.string()),
        "date": pa.nulls(len(rows), pa.timestamp("us", tz="UTC")),
        "lang": pa.nulls(len(rows), pa.string()),
        "lang_score": pa.nulls(len(rows), pa.float32()),
        ORD: pa.array(range(len(rows)), pa.int64()),
    })
    batches = [table.slice(i, size) for i in range(0, table.num_rows, size)]

    def run(batches: list[pa.Table], work: Path) -> tuple[int, Ledger]:
        ledger = Ledger()
        for stage in plan:
            if isinstance(stage, CorpusStep):
                import pyarrow.parquet as pq

                summaries = []
                for k, batch in enumerate(batches):
                    summary = stage.map(batch)
                    if summary is not None:
                        path = work / f"summary-{k}.parquet"
                        pq.write_table(summary, path)
                        summaries.append((k, path))
                stage.reduce(summaries, work / "model", list(range(len(batches))), work)
                stage.load(work / "model", 0)
                batches = [stage.apply(b, ledger) for b in batches]
            else:
                batches = [stage(b, ledger) for b in batches]
        return sum(b.num_rows for b in batches), ledger

    with tempfile.TemporaryDirectory() as work:
        run(batches[:1], Path(work))  # warm-up: imports, the language model, regex compilation
        start = time.perf_counter()
        for _ in range(repeat):
            kept, ledger = run(batches, Path(work))
        seconds = (time.perf_counter() - start) / repeat
    lines = sum(sum(s.lines_removed.values()) for s in ledger.stages.values())
    return {"seconds": seconds, "kept": kept, "lines_removed": lines}


def peer(rows: list[dict], repeat: int, python: str | None) -> dict | None:
    candidates = [python] if python else [str(REPO / ".venv-bench" / "bin" / "python")]
    for py in candidates:
        if not Path(py).exists():
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump([r["text"] for r in rows], fh)
        res = subprocess.run([py, "-c", _PEER, fh.name, str(repeat)], capture_output=True, text=True)
        Path(fh.name).unlink()
        if res.returncode == 0:
            return json.loads(res.stdout.strip().splitlines()[-1])
        print(f"peer failed: {res.stderr.strip()[-500:]}", file=sys.stderr)
    return None


def measure(name: str, rows: list[dict], repeat: int, peer_python: str | None, peer_rows: int) -> dict:
    mb = sum(len(r["text"].encode()) for r in rows) / 1e6
    row = {"input": name, "articles": len(rows), "mean_kb": mb * 1000 / max(len(rows), 1), "mb": mb,
           "ours": ours(rows, repeat)}
    # The peer is slow (spaCy tokenises every word): it gets the first `peer_rows` articles, and
    # its rate is articles over its own seconds.
    some = rows[:peer_rows]
    found = peer(some, 1, peer_python)
    row["peer"] = dict(found, articles=len(some)) if found else None
    return row


def markdown(results: list[dict], command: str) -> str:
    lines = [
        f"Clean stage on one core, mean of the timed passes (`{command}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        "| input | articles | mean size | ours: articles/s | ours: MB/s | datatrove quality filters: articles/s (on the first N) | ours ÷ datatrove |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rate = r["articles"] / r["ours"]["seconds"]
        peer_rate = r["peer"]["articles"] / r["peer"]["seconds"] if r["peer"] else None
        lines.append(
            f"| {r['input']} | {r['articles']:,} | {r['mean_kb']:.1f} KB | {rate:,.0f} | {r['mb'] / r['ours']['seconds']:.1f} | "
            + (f"{peer_rate:,.0f} (N={r['peer']['articles']:,}) | {rate / peer_rate:.2f} |" if peer_rate
               else "not run (no .venv-bench) | |")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10000, help="generated pages to clean (default 10000)")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes over each input")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--peer-python", default=None, help="interpreter with datatrove (default .venv-bench)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table (markdown) here")
    ap.add_argument("--peer-articles", type=int, default=1000, help="articles the peer cleans (default 1000)")
    args = ap.parse_args(argv)
    if not BBC.exists():
        print(f"no {BBC}: the benchmark needs ../shared", file=sys.stderr)
        return 2
    bbc = load_texts(BBC)
    # 4 KB articles, the size the speed target is set for: consecutive BBC articles joined in pairs.
    paired = [{"id": f"{a['id']}+{b['id']}", "title": a.get("title"), "text": a["text"] + "\n\n" + b["text"]}
              for a, b in zip(bbc[0::2], bbc[1::2])]
    results = [measure("generated pages (seed 0)", generated_pages(args.pages, args.cache), args.repeat, args.peer_python,
                       args.peer_articles),
               measure("BBC articles (../shared)", bbc, args.repeat, args.peer_python, args.peer_articles),
               measure("BBC articles joined in pairs", paired, args.repeat, args.peer_python, args.peer_articles)]
    command = "python -m benchmarks.clean_speed " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(results, command.strip())
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
