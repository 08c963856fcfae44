"""Ray's overhead over the local process pool: the same build of N generated pages on both backends.

    python -m benchmarks.ray_overhead [--pages N] [--workers W] [--repeat R] [--json PATH]

The pages are the benchmark generator's (benchmarks/corpora.py, from the BBC articles in
`../shared`), cached in benchmarks/.cache. Each run is the real command line, `corpus build
CONFIG --quiet`, in a fresh process: the local pool with W workers, then Ray with a local instance
of W CPUs that the build starts itself (executor: {backend: ray, workers: W}); runs alternate
local, ray, local, ray... so a change in the machine's load touches both. Reported per backend
(median over the repeats):

- wall: the whole command, Ray's start-up and shutdown included;
- build: stats.json `seconds` (from the config read to the release in place; Ray's start included);
- work: the sum of stats.json `phase_seconds` (plan, passes, reduces, publish). Not like for like:
  Ray is started, and its workers import the package, before planning begins (outside the
  phases), while the local pool's worker processes start inside the first pass;

and Ray / local for each. (CPU seconds are not reported: Ray's workers are not the command's
children, so their CPU time cannot be counted the way the pool's is.) The two releases must be the same (ids in the same shards, clusters),
or the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from benchmarks.corpora import ensure_corpus
from benchmarks.run import DEFAULT_CACHE, DEFAULT_SOURCE, build_config


def run_build(config_path: Path, out: Path) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "builders", "build", str(config_path), "--quiet", "--overwrite"],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"build failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    stats = json.loads((out / "stats.json").read_text())
    return {"wall": wall, "build": stats["seconds"], "work": sum(stats["phase_seconds"].values()),
            "phases": stats["phase_seconds"], "published": stats["totals"]["published"],
            "output": result.stdout + result.stderr}


def release_of(out: Path) -> tuple:
    files = sorted((out / "data").glob("*.parquet"))
    ids = [(f.name, pq.read_table(f, columns=["id"]).column("id").to_pylist()) for f in files]
    clusters = pq.read_table(out / "dedup" / "clusters.parquet")
    return ids, clusters


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs per backend (alternating)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    if not args.source.exists():
        raise SystemExit(f"{args.source} is missing: the generator needs ../shared (see shared/README.md)")
    corpus = ensure_corpus(args.cache.resolve(), args.pages, args.seed, args.source, log=print)
    runs_root = args.cache.resolve() / "runs" / f"ray-overhead-{corpus.root.name}"
    runs_root.mkdir(parents=True, exist_ok=True)
    configs = {}
    for backend in ("local", "ray"):
        out = runs_root / backend
        config = build_config(corpus, out, args.workers)
        config["executor"] = {"backend": backend, "workers": args.workers}
        path = runs_root / f"{backend}.yaml"
        path.write_text(yaml.safe_dump(config))
        configs[backend] = (path, out)
    figures: dict[str, list] = {"local": [], "ray": []}
    load_before = list(os.getloadavg())
    for i in range(args.repeat):
        for backend in ("local", "ray"):
            path, out = configs[backend]
            run = run_build(path, out)
            figures[backend].append(run)
            print(f"run {i + 1} {backend:5}: wall {run['wall']:.1f}s, build {run['build']:.1f}s, work {run['work']:.1f}s"
                  + (f"; output: {run['output'].strip()[:300]}" if run["output"].strip() else ""), flush=True)
    local_release, ray_release = release_of(configs["local"][1]), release_of(configs["ray"][1])
    same = local_release[0] == ray_release[0] and local_release[1].equals(ray_release[1])
    if not same:
        raise SystemExit("the Ray release differs from the local one")
    report = {"pages": args.pages, "raw_pages": corpus.info.get("raw_pages"), "workers": args.workers,
              "repeat": args.repeat, "cpus": os.cpu_count(), "load_before": load_before, "load_after": list(os.getloadavg()),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "same_release": same,
              "command": " ".join(["python -m benchmarks.ray_overhead", *(argv if argv is not None else sys.argv[1:])])}
    print(f"\n{args.pages:,} pages, {args.workers} workers, median of {args.repeat}; releases identical: {same}")
    print(f"{'':8}{'local s':>10}{'ray s':>10}{'ray/local':>11}")
    for key in ("wall", "build", "work"):
        a = statistics.median(r[key] for r in figures["local"])
        b = statistics.median(r[key] for r in figures["ray"])
        report[key] = {"local": round(a, 2), "ray": round(b, 2), "ratio": round(b / a, 3)}
        print(f"{key:8}{a:10.1f}{b:10.1f}{b / a:11.3f}")
    phases = sorted({k for r in figures["local"] + figures["ray"] for k in r["phases"]},
                    key=lambda k: list(figures["local"][0]["phases"]).index(k) if k in figures["local"][0]["phases"] else 99)
    report["phases"] = {}
    for phase in phases:
        a = statistics.median(r["phases"].get(phase, 0) for r in figures["local"])
        b = statistics.median(r["phases"].get(phase, 0) for r in figures["ray"])
        report["phases"][phase] = {"local": round(a, 2), "ray": round(b, 2)}
        print(f"  {phase:34}{a:8.1f}{b:8.1f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
