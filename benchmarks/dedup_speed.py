"""Speed of the dedup stage alone (cleaned documents to clusters) on 2 workers, beside datatrove's MinHash.

    flock /tmp/bench.lock .venv/bin/python -m benchmarks.dedup_speed [--sizes 10000,100000] [--profiles default,hard]

Input: the generator's truth text of each page (benchmarks/.cache/corpora/*/clean/*.jsonl.gz, made
by `benchmarks.corpora.ensure_corpus`), i.e. documents as they would leave a perfect clean stage,
sharded like the raw pages (2,500 per file). Both sides get the same documents, the same CPUs
(`benchmarks.run.cpu_set`) and run one after the other in the same invocation.

How ours is run, and why this way. A build runs the dedup map inside the shard task of the pass
that precedes it (after cleaning, in the same process, batch by batch) and the reduce as tasks
through the build's executor; `stats.json` times the map only as seconds summed over shards, mixed
with the pass's other work, so a build cannot give the stage's wall time on 2 workers by itself
(and a build with cleaning off would still time ingest's JSON parsing in the same pass). So this
script runs exactly the stage's code the way a build does, and nothing else:

1. untimed: each clean shard becomes a Parquet file of documents in the core schema (`id`, `text`,
   `source` = the page's site, `date` = its crawl time, `_ord`), as the pass before dedup writes
   them;
2. a `LocalExecutor(2)` (the build's local backend) is started and its workers import the stage
   before the clock starts (a build warms its pool the same way while it plans);
3. timed "map": one task per shard, in the pool, reads its documents in batches of
   `input.batch_size` and writes `Dedup.map(batch)` (= `DedupFeatures`: normalising, exact hash,
   word hashes, shingles, the whole-text and lead signatures, band keys) to the shard's summary
   Parquet with one `ParquetWriter` (with the step's `summary_parquet` options), as `run_pass` does;
4. timed "reduce": `Dedup.reduce(summaries, ...)` through the same executor, to
   OUT/dedup/clusters.parquet and the per-shard decisions (what `apply` then reads).

Ours runs the code of one commit (default HEAD), exported with `git archive` into the cache, not
the checkout as it is: other people edit the stage's files in this checkout, and a figure must
belong to a commit (`--code worktree` measures the checkout instead, and says so on the page).

The dedup config is the one benchmarks/run.py builds with (exact, MinHash threshold 0.8, 128
permutations, 5-grams, keep earliest; every other key its default). Our rate is documents over
map + reduce seconds. Our runner is a child process measured by `benchmarks.proc.run_measured`:
its peak RSS is the summed RSS of the driver and both workers.

datatrove: `benchmarks/peers/datatrove_minhash.py` (its default MinhashConfig; signatures,
buckets, cluster, filter on LocalPipelineExecutor with 2 workers; the same runner as
`benchmarks.run`'s "clean" variant) in .venv-bench, on the same clean JSONL files. Its rate is
documents over the sum of its four stages' seconds as it times them (so neither side pays for
interpreter start-up and imports); its first three stages (to the ids to remove, which is where
ours stops: clusters) are shown as well. Peak RSS as for ours.

Both sides' clusters are scored against the generator's truth (pairwise precision and recall), to
show the two did the work being timed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
DEFAULT_SOURCE = REPO.parent / "shared" / "corpora" / "bbc-news.jsonl.gz"
DEFAULT_OUT = REPO / "docs" / "benchmarks-dedup.md"
BENCH_PYTHON = REPO / ".venv-bench" / "bin" / "python"
TARGET_RATE = 10_000
TARGET_RATIO = 20


def log(msg: str) -> None:
    print(f"[dedup-speed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def dedup_config():
    """The build config benchmarks/run.py uses, cleaning off (the input is clean already), validated
    with every default filled in; only its dedup section and batch size matter here."""
    from benchmarks.run import build_config
    from builders.config import validate

    raw = build_config(CorpusStub(), Path("-"), 2)
    raw["clean"] = False
    return validate(raw, "dedup_speed")


class CorpusStub:
    """What build_config reads of a corpus."""

    pages = 0
    raw_glob = "-"


# ---------------------------------------------------------------- input preparation (untimed)


def _read_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def prepare_documents(corpus_root: Path, dest: Path) -> tuple[list[Path], int]:
    """One Parquet file of documents per clean shard (core schema + ordinal), reused when present."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from builders.schema import CORE_SCHEMA, ORD, make_ord

    clean = sorted((corpus_root / "clean").glob("*.jsonl.gz"))
    # The corpus is regenerated whenever the generator changes: its marker names the generation.
    generation = json.loads((corpus_root / "corpus.json").read_text())
    source = {"files": [p.name for p in clean], "fingerprint": generation.get("fingerprint"),
              "generated_at": generation.get("generated_at")}
    marker = dest / "done.json"
    if marker.exists() and {k: v for k, v in json.loads(marker.read_text()).items() if k != "docs"} == source:
        files = sorted(dest.glob("*.parquet"))
        return files, json.loads(marker.read_text())["docs"]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    schema = CORE_SCHEMA.append(pa.field(ORD, pa.int64()))
    files, docs = [], 0
    for i, path in enumerate(clean):
        texts = _read_jsonl(path)
        raw = {r["id"]: r for r in _read_jsonl(corpus_root / "raw" / path.name)}
        n = len(texts)
        dates = pa.array([raw.get(r["id"], {}).get("crawled_at") for r in texts], pa.string())
        columns = {
            "id": pa.array([r["id"] for r in texts], pa.string()),
            "text": pa.array([r["text"] for r in texts], pa.string()),
            "url": pa.array([raw.get(r["id"], {}).get("url") for r in texts], pa.string()),
            "title": pa.array([raw.get(r["id"], {}).get("title") for r in texts], pa.string()),
            "source": pa.array([raw.get(r["id"], {}).get("site") for r in texts], pa.string()),
            "date": pc.strptime(dates, format="%Y-%m-%dT%H:%M:%SZ", unit="us").cast(pa.timestamp("us", tz="UTC")),
            ORD: pa.array(make_ord(i, __import__("numpy").arange(n, dtype="int64")), pa.int64()),
        }
        table = pa.table({f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)
        out = dest / f"{path.name.split('.')[0]}.parquet"
        pq.write_table(table, out)
        files.append(out)
        docs += n
    marker.write_text(json.dumps({**source, "docs": docs}))
    return files, docs


# ---------------------------------------------------------------- our side (child process)


def _warm(_: int) -> int:
    import builders.stages.dedup  # noqa: F401  the stage's imports (numpy, pyarrow, pandas, datasketch)
    import pandas  # noqa: F401

    time.sleep(0.2)  # long enough that every worker of the pool takes one
    return os.getpid()


def map_shard(job: tuple) -> dict:
    """One shard's dedup map, as run_pass does it: batches of input.batch_size, one summary file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from builders.stages.dedup import Dedup

    shard, documents, summary, config = job
    step = Dedup(config.dedup)
    read = work = 0.0
    writer = None
    rows = 0
    t = time.perf_counter()
    source = pq.ParquetFile(documents, pre_buffer=False)
    for batch in source.iter_batches(batch_size=config.input.batch_size):
        table = pa.Table.from_batches([batch])
        t1 = time.perf_counter()
        read += t1 - t
        features = step.map(table)
        if writer is None:
            writer = pq.ParquetWriter(summary, features.schema, **getattr(step, "summary_parquet", {}))
        writer.write_table(features)
        rows += table.num_rows
        t = time.perf_counter()
        work += t - t1
    if writer is not None:
        writer.close()
    return {"shard": shard, "rows": rows, "read_seconds": read, "map_seconds": work, "pid": os.getpid()}


def run_ours(documents: list[Path], work: Path, workers: int, result: Path) -> int:
    from builders.executors.local import LocalExecutor
    from builders.stages.dedup import Dedup

    config = dedup_config()
    shutil.rmtree(work, ignore_errors=True)
    (work / "summaries").mkdir(parents=True)
    jobs = [(i, str(p), str(work / "summaries" / f"s{i:05d}.parquet"), config) for i, p in enumerate(documents)]
    executor = LocalExecutor(workers)
    step = Dedup(config.dedup)  # a build makes its stages while planning, before any pass
    try:
        executor.map(_warm, list(range(2 * workers)))
        t0 = time.perf_counter()
        shards = executor.map(map_shard, jobs)
        t1 = time.perf_counter()
        summaries = [(i, Path(j[2])) for i, j in enumerate(jobs)]
        step.reduce(summaries, work / "model", [i for i, _ in summaries], work / "out", executor)
        t2 = time.perf_counter()
    finally:
        executor.close()
    out = {
        "docs": sum(s["rows"] for s in shards),
        "shards": len(shards),
        "workers": workers,
        "map_seconds": t1 - t0,
        "reduce_seconds": t2 - t1,
        "seconds": t2 - t0,
        "map_work_seconds": sum(s["map_seconds"] for s in shards),
        "map_read_seconds": sum(s["read_seconds"] for s in shards),
        "clusters": str(work / "out" / "dedup" / "clusters.parquet"),
        "builders_from": str(Path(sys.modules["builders"].__file__).resolve().parent.parent),
    }
    result.write_text(json.dumps(out, indent=2))
    return 0


def profile_ours(documents: list[Path], work: Path, top: int) -> None:
    """cProfile of the map over every shard then the reduce, all in this process (LocalExecutor(1))."""
    import cProfile
    import pstats

    from builders.executors.local import LocalExecutor
    from builders.stages.dedup import Dedup

    config = dedup_config()
    shutil.rmtree(work, ignore_errors=True)
    (work / "summaries").mkdir(parents=True)
    jobs = [(i, str(p), str(work / "summaries" / f"s{i:05d}.parquet"), config) for i, p in enumerate(documents)]
    map_shard(jobs[0])  # warm-up: imports, caches
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for job in jobs:
        map_shard(job)
    prof.disable()
    t1 = time.perf_counter()
    prof.dump_stats(str(work / "map.prof"))
    prof = cProfile.Profile()
    prof.enable()
    Dedup(config.dedup).reduce([(i, Path(j[2])) for i, j in enumerate(jobs)], work / "model",
                               list(range(len(jobs))), work / "out", LocalExecutor(1))
    prof.disable()
    t2 = time.perf_counter()
    prof.dump_stats(str(work / "reduce.prof"))
    print(f"map {t1 - t0:.2f} s, reduce {t2 - t1:.2f} s (one process, profiled)")
    for name in ("map", "reduce"):
        print(f"\n==== {name}: by total time")
        pstats.Stats(str(work / f"{name}.prof")).sort_stats("tottime").print_stats(top)
        print(f"\n==== {name}: by cumulative time")
        pstats.Stats(str(work / f"{name}.prof")).sort_stats("cumulative").print_stats(top)


# ---------------------------------------------------------------- the comparison (driver)


def score(truth_path: Path, clusters: Path) -> dict:
    import pyarrow.parquet as pq

    from benchmarks.scores import pair_scores

    t = pq.read_table(truth_path, columns=["id", "story"])
    c = pq.read_table(clusters, columns=["id", "cluster"])
    s = pair_scores(t.column("id").to_pylist(), t.column("story").to_pylist(),
                    c.column("id").to_pylist(), c.column("cluster").to_pylist())
    return {"precision": s.precision, "recall": s.recall, "f1": s.f1}


def export_commit(ref: str, cache: Path) -> tuple[Path, str]:
    """The files of commit `ref` (git archive), so ours runs committed code, not whatever other
    people have half-edited in the checkout; cached by commit."""
    import subprocess

    sha = subprocess.run(["git", "rev-parse", ref], capture_output=True, text=True, cwd=REPO, check=True).stdout.strip()
    dest = cache / "runs" / "dedup-speed" / f"code-{sha[:12]}"
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.Popen(["git", "archive", "--format=tar", sha], cwd=REPO, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {sha} failed")
        (dest / ".complete").write_text(sha + "\n")
    return dest, sha


def code_state() -> str:
    """The commit measured, and which of the stage's files differed from it (others edit them too)."""
    import subprocess

    def git(*a: str) -> str:
        res = subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO)
        return res.stdout.rstrip() if res.returncode == 0 else ""

    files = ["builders/stages/dedup.py", "builders/stages/dedup_edges.py", "builders/stages/dedup_reduce.py",
             "builders/text/minhash.py", "builders/text/anchors.py", "builders/config.py"]
    changed = git("status", "--porcelain", "--", *files).splitlines()
    state = git("rev-parse", "--short", "HEAD") or "unknown"
    return state.strip() + (f" with uncommitted {', '.join(line[3:] for line in changed)}" if changed else "")


def measured(cmd: list[str], log_dir: Path, name: str, cpus, env=None, cwd=REPO):
    """run_measured, plus the CPU seconds (user + system) of the whole process tree, sampled per
    process every 0.1 s (rusage of reaped children misses workers that a fork server started)."""
    import threading

    import psutil

    from benchmarks.proc import run_measured

    seen: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not done.is_set():
            for p in me.children(recursive=True):
                try:
                    t = p.cpu_times()
                    seen[p.pid] = max(seen.get(p.pid, 0.0), t.user + t.system)
                except psutil.Error:
                    pass  # gone between listing and reading
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        m = run_measured(cmd, log_dir, name, cwd=cwd, env=env, cpus=cpus)
    finally:
        done.set()
        sampler.join()
    return m, sum(seen.values())


def measure_corpus(pages: int, profile: str, args) -> dict:
    from benchmarks.corpora import ensure_corpus
    from benchmarks.run import cpu_set

    corpus = ensure_corpus(args.cache, pages, args.seed, args.source, log=log, profile=profile)
    runs = args.cache / "runs" / "dedup-speed" / corpus.root.name
    documents, docs = prepare_documents(corpus.root, runs / "documents")
    cpus = cpu_set(args.workers)
    rec = {"pages": pages, "profile": profile, "seed": args.seed, "docs": docs, "files": len(documents),
           "workers": args.workers, "cpus": cpus, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "corpus_generated_at": corpus.info.get("generated_at"),
           "code": f"commit {args.code_sha[:12]}" if args.code_sha else f"working tree: {code_state()}"}

    # Ours: a child process, so its peak RSS (driver + workers) is measured like the peer's.
    result = runs / "ours.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.dedup_speed", "--run-ours", str(runs / "documents"),
           "--work", str(runs / "ours"), "--workers", str(args.workers), "--result", str(result)]
    rec["load_before_ours"] = os.getloadavg()[0]
    log(f"ours on {docs:,} documents ({profile})")
    # From the exported commit's folder: `-m` puts the current folder first on sys.path.
    env = dict(os.environ, PYTHONPATH=str(args.code_dir)) if args.code_dir else None
    m, cpu = measured(cmd, runs / "logs", "ours", cpus, env=env, cwd=args.code_dir or REPO)
    if m.returncode != 0:
        raise SystemExit(f"our run failed: {m.error_line()}")
    ours = json.loads(result.read_text())
    if args.code_dir and Path(ours["builders_from"]) != Path(args.code_dir).resolve():
        raise SystemExit(f"ours ran builders from {ours['builders_from']}, not from {args.code_dir}")
    ours.update(process_seconds=m.wall_seconds, cpu_seconds=cpu, peak_rss_bytes=m.peak_rss_bytes,
                docs_per_s=ours["docs"] / ours["seconds"], scores=score(corpus.truth_path, Path(ours["clusters"])))
    rec["ours"] = ours
    log(f"ours: {ours['docs_per_s']:,.0f} docs/s (map {ours['map_seconds']:.2f} s, reduce {ours['reduce_seconds']:.2f} s), "
        f"peak {m.peak_rss_bytes / 2**20:,.0f} MiB")

    if args.peer_python and Path(args.peer_python).exists():
        out = runs / "datatrove"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [args.peer_python, "-m", "benchmarks.peers.datatrove_minhash", "--input", corpus.clean_glob,
               "--text-field", "text", "--workers", str(args.workers), "--out", str(out / "out")]
        rec["load_before_peer"] = os.getloadavg()[0]
        log(f"datatrove on {docs:,} documents ({profile})")
        m, cpu = measured(cmd, runs / "logs", "datatrove", cpus, env=dict(os.environ, PYTHONPATH=str(REPO)))
        if m.returncode != 0:
            rec["peer"] = {"status": "FAILED", "error": m.error_line()}
        else:
            info = json.loads((out / "out" / "peer.json").read_text())
            stages = info["stage_seconds"]
            seconds = sum(stages[s] for s in ("signatures", "buckets", "cluster", "filter"))
            to_clusters = sum(stages[s] for s in ("signatures", "buckets", "cluster"))
            rec["peer"] = {"status": "ok", "version": info.get("version"), "docs": info["docs"],
                           "config": {k: info.get(k) for k in ("n_grams", "num_buckets", "hashes_per_bucket")},
                           "stage_seconds": stages, "seconds": seconds, "to_clusters_seconds": to_clusters,
                           "docs_per_s": docs / seconds, "to_clusters_docs_per_s": docs / to_clusters,
                           "process_seconds": m.wall_seconds, "cpu_seconds": cpu, "peak_rss_bytes": m.peak_rss_bytes,
                           "scores": score(corpus.truth_path, out / "out" / "clusters.parquet")}
            rec["ratio"] = ours["docs_per_s"] / rec["peer"]["docs_per_s"]
            rec["ratio_to_clusters"] = ours["docs_per_s"] / rec["peer"]["to_clusters_docs_per_s"]
            log(f"datatrove: {rec['peer']['docs_per_s']:,.0f} docs/s, peak {m.peak_rss_bytes / 2**20:,.0f} MiB; "
                f"ours / datatrove = {rec['ratio']:.1f}")
    else:
        rec["peer"] = {"status": "not run", "error": f"no peer interpreter at {args.peer_python}"}
    return rec


def _peer_config(results: list[dict]) -> str:
    configs = {json.dumps(r["peer"].get("config"), sort_keys=True) for r in results if (r.get("peer") or {}).get("config")}
    if len(configs) != 1:
        return ""
    c = json.loads(configs.pop())
    return f": {c['n_grams']}-grams, {c['num_buckets']} buckets × {c['hashes_per_bucket']} hashes"


def _mib(b) -> str:
    return f"{b / 2**20:,.0f} MiB" if b else "—"


def markdown(results: list[dict], command: str, machine: dict) -> str:
    lines = [
        "# Dedup stage speed: cleaned documents to clusters, 2 workers",
        "",
        "Generated by `benchmarks/dedup_speed.py` (its docstring says exactly what is timed on each side); "
        "do not edit by hand.",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine.get('cpu_model', '?')}, {machine.get('logical_cpus', '?')} logical CPUs "
        "(shared: every timed run is serialised with `flock /tmp/bench.lock`; the 1-minute load before each run is shown).",
        "",
        f"Targets (issue 8): at least {TARGET_RATE:,} documents/s on 2 workers, and at least {TARGET_RATIO}× "
        "datatrove's MinHash dedup on the same input and cores.",
        "",
        "| corpus | docs | ours: docs/s | map s | reduce s | ours peak RSS | datatrove: docs/s (4 stages) | "
        "datatrove to clusters (3 stages) | datatrove peak RSS | ours ÷ datatrove | ours ÷ datatrove to clusters | "
        "CPU s ours / datatrove | ratio by CPU s | ours P / R | datatrove P / R | load before (ours, datatrove) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in results:
        o, p = r["ours"], r.get("peer") or {}
        ok = p.get("status") == "ok"
        name = f"{r['pages']:,} pages, {r['profile']}"
        lines.append(
            f"| {name} | {r['docs']:,} | {o['docs_per_s']:,.0f} | {o['map_seconds']:.2f} | {o['reduce_seconds']:.2f} | "
            f"{_mib(o['peak_rss_bytes'])} | "
            + (f"{p['docs_per_s']:,.0f} | {p['to_clusters_docs_per_s']:,.0f} | {_mib(p['peak_rss_bytes'])} | "
               f"{r['ratio']:.1f}× | {r['ratio_to_clusters']:.1f}× | "
               f"{o['cpu_seconds']:.1f} / {p['cpu_seconds']:.1f} | {p['cpu_seconds'] / o['cpu_seconds']:.1f}× | "
               if ok else f"{p.get('status', 'not run')} | | | | | | | ")
            + f"{o['scores']['precision']:.3f} / {o['scores']['recall']:.3f} | "
            + (f"{p['scores']['precision']:.3f} / {p['scores']['recall']:.3f} | " if ok else " | ")
            + f"{r.get('load_before_ours', 0):.2f}, {r.get('load_before_peer', 0):.2f} |"
        )
    lines += [
        "",
        "- ours: documents ÷ (map + reduce) seconds. The map is `Dedup.map` (DedupFeatures) over every shard in "
        "batches of `input.batch_size`, writing the summary Parquet, as tasks on a warmed `LocalExecutor(2)`; the "
        "reduce is `Dedup.reduce` through the same executor, to OUT/dedup/clusters.parquet and the decisions "
        "`apply` reads. Reading the documents (Parquet) is inside the map's time.",
        "- datatrove: documents ÷ the sum of its four stages as it times them (signatures, buckets, cluster, "
        f"filter; its default MinhashConfig{_peer_config(results)}), LocalPipelineExecutor with 2 workers, "
        "reading the same documents from the clean JSONL.gz files; \"to clusters\" leaves out the filter stage "
        "(the counterpart of our apply, which ours does not time either).",
        "- peak RSS: the summed RSS of each side's process tree (driver and workers), sampled every 50 ms; CPU "
        "seconds: user + system time of every process of the tree (imports and start-up included), sampled every 0.1 s. "
        "Wall-clock rates drop when the shared machine is busy (other people's builds are not all serialised by the "
        "lock: see the load column); CPU seconds move much less, so the ratio by CPU seconds (whole trees, start-up "
        "and imports included on both sides) is shown too.",
        "- P / R: pairwise precision and recall of each side's clusters against the generator's stories.",
        "",
        "Per run (seconds):",
        "",
    ]
    for r in results:
        o, p = r["ours"], r.get("peer") or {}
        line = (f"- {r['pages']:,} pages, {r['profile']} ({r['date']}, code {r.get('code', '?')}, {r['files']} shards): ours map {o['map_seconds']:.2f} "
                f"(of which reading Parquet {o['map_read_seconds']:.2f} summed over tasks), reduce {o['reduce_seconds']:.2f}, "
                f"whole child process {o['process_seconds']:.2f} wall, {o.get('cpu_seconds', 0):.2f} CPU")
        if p.get("status") == "ok":
            st = p["stage_seconds"]
            line += (f"; datatrove {', '.join(f'{k} {st[k]:.2f}' for k in ('signatures', 'buckets', 'cluster', 'filter'))}, "
                     f"whole process {p['process_seconds']:.2f} wall, {p.get('cpu_seconds', 0):.2f} CPU (datatrove {p.get('version')})")
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes in pages")
    ap.add_argument("--profiles", default="default,hard", help="generator profiles, comma-separated")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--peer-python", default=str(BENCH_PYTHON))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown page (results JSON beside it)")
    ap.add_argument("--code", default="HEAD",
                    help="commit whose code ours runs (exported with git archive; default HEAD), or 'worktree' "
                         "for the checkout as it is")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the page from the results JSON")
    ap.add_argument("--cprofile", type=int, metavar="PAGES",
                    help="profile ours (the checkout's code) in one process on this corpus size, print; no page")
    # Internal: the child process that runs our side.
    ap.add_argument("--run-ours", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_ours:
        return run_ours(sorted(args.run_ours.glob("*.parquet")), args.work, args.workers, args.result)
    args.cache = args.cache.resolve()
    args.code_dir = args.code_sha = None
    if args.code != "worktree" and not args.report_only and not args.cprofile:
        args.code_dir, args.code_sha = export_commit(args.code, args.cache)
        log(f"ours runs commit {args.code_sha[:12]} from {args.code_dir}")
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    if args.cprofile:
        from benchmarks.corpora import ensure_corpus

        corpus = ensure_corpus(args.cache, args.cprofile, args.seed, args.source, log=log, profile=profiles[0])
        runs = args.cache / "runs" / "dedup-speed" / corpus.root.name
        documents, _ = prepare_documents(corpus.root, runs / "documents")
        profile_ours(documents, runs / "profile", 30)
        return 0
    results_dir = args.out.with_suffix("")
    if not args.report_only:
        results_dir.mkdir(parents=True, exist_ok=True)
        for profile in profiles:
            for size in (int(s) for s in args.sizes.split(",") if s.strip()):
                rec = measure_corpus(size, profile, args)
                rec["command"] = "flock /tmp/bench.lock .venv/bin/python -m benchmarks.dedup_speed " + " ".join(argv)
                (results_dir / f"results-{size}-{profile}.json").write_text(json.dumps(rec, indent=2, default=float) + "\n")
    from benchmarks import machine

    results = [json.loads(p.read_text()) for p in results_dir.glob("results-*.json")]
    results.sort(key=lambda r: (r["profile"] != "default", r["pages"]))
    if not results:
        raise SystemExit(f"no results in {results_dir}")
    commands = sorted({r["command"].strip() for r in results})
    args.out.write_text(markdown(results, "`, `".join(commands), machine.describe({})))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
