"""Resume benchmark (issue 11): a full build of a generated corpus, the same build SIGKILLed at a
share of the full run's wall time (default 60%), then `corpus build --resume`; reports the resumed
run's time against the full run's and checks that both releases hold the same data files.

"At 60%" is a point of progress, not of the clock (the machine is shared, so a second run may be
slower or faster): the full run keeps its completion markers, whose times say how many shard tasks
and reduces it had finished at 60% of its wall time and how long after the last of them 60% fell;
the second run is killed that long after it has finished as many.

    .venv/bin/python -m benchmarks.resume --pages 100000 [--workers 2] [--kill-at 0.6] [--doc]

`--doc` appends the result to docs/benchmarks.md under its "Resume" heading.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks.corpora import ensure_corpus

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "corpora" / "bbc-news.jsonl.gz"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
REUSED = "reused from the unfinished build: "


def build_config(glob: str, out: Path, workers: int, pages: int) -> dict:
    return {
        "name": f"resume-{pages}",
        "input": {"paths": [glob], "format": "auto",
                  "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"}},
        "clean": {},
        "dedup": {"exact": True, "minhash": {"threshold": 0.8, "num_perm": 128, "ngram": 5}, "keep": "earliest"},
        "publish": {"output": str(out), "formats": ["parquet"]},
        "executor": {"backend": "local", "workers": workers},
    }


def run(args: list[str], kill: tuple[Path, int, float] | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """The corpus CLI in its own session: (wall seconds, its start as time.time(), result). With
    `kill` = (marker glob's folder pattern, count, delay): SIGKILLed (with its workers) `delay`
    seconds after `count` completion markers exist."""
    cmd = [sys.executable, "-m", "builders.cli", *args]
    env = {**os.environ, "COLUMNS": "250"}
    started, t0 = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if kill else subprocess.PIPE,
                            text=True, env=env, cwd=str(REPO), start_new_session=True)
    if kill:
        folder, count, delay = kill
        while proc.poll() is None and len(list(folder.parent.glob(folder.name + "/_work/markers/*.json"))) < count:
            time.sleep(0.1)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    return time.perf_counter() - t0, started, subprocess.CompletedProcess(cmd, proc.returncode, out, err or "")


def data_hashes(out: Path) -> dict:
    files = json.loads((out / "manifest.json").read_text())["files"]
    return {k: v["sha256"] for k, v in files.items() if k.endswith(".parquet")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kill-at", type=float, default=0.6, help="share of the full run's wall time at which to kill")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--doc", action="store_true", help="append the result to docs/benchmarks.md under 'Resume'")
    args = ap.parse_args(argv)

    corpus = ensure_corpus(args.cache, args.pages, args.seed, args.source, log=lambda m: print(m, file=sys.stderr))
    folder = args.cache / "runs" / f"resume-{args.pages}"
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in ("full", "resumed"):
        config = folder / f"{name}.yaml"
        config.write_text(yaml.safe_dump(build_config(corpus.raw_glob, folder / name, args.workers, args.pages)))
    load = os.getloadavg()[0]
    full_s, started, full = run(["build", str(folder / "full.yaml"), "--quiet", "--overwrite", "--keep-work"])
    if full.returncode != 0:
        raise SystemExit(f"full build failed: {full.stderr.strip()}")
    stats = json.loads((folder / "full" / "stats.json").read_text())
    done = sorted(p.stat().st_mtime - started for p in (folder / "full" / "_work" / "markers").glob("*.json"))
    shutil.rmtree(folder / "full" / "_work")
    at = full_s * args.kill_at
    count = sum(1 for t in done if t <= at)
    delay = at - (done[count - 1] if count else 0.0)
    print(f"full build: {full_s:.1f} s; at {at:.1f} s it had finished {count} of {len(done)} shard tasks and reduces",
          file=sys.stderr)
    kill_s, _, killed = run(["build", str(folder / "resumed.yaml"), "--quiet", "--overwrite"],
                            kill=(folder / ".resumed.building-*", count, delay))
    if killed.returncode != -signal.SIGKILL:
        raise SystemExit(f"the build to kill ended by itself ({killed.returncode})")
    work = sorted(folder.glob(".resumed.building-*"))
    markers = sorted((work[-1] / "_work" / "markers").glob("*.json")) if work else []
    print(f"killed after {kill_s:.1f} s with {len(markers)} finished shard tasks and reduces", file=sys.stderr)
    resume_s, _, resumed = run(["build", str(folder / "resumed.yaml"), "--resume", "--overwrite"])
    if resumed.returncode != 0:
        raise SystemExit(f"resumed build failed: {resumed.stderr.strip()}")
    reused = [line[len(REUSED):].strip() for line in resumed.stdout.splitlines() if line.startswith(REUSED)]
    same = data_hashes(folder / "full") == data_hashes(folder / "resumed")
    counts_same = json.loads((folder / "resumed" / "stats.json").read_text())["totals"] == stats["totals"]
    results = {
        "pages": args.pages, "workers": args.workers, "load": load, "full": full_s, "killed_at": kill_s,
        "resumed": resume_s, "ratio": resume_s / full_s, "reused": reused, "same_data": same, "same_counts": counts_same,
        "kill_at": args.kill_at, "markers": (count, len(done)),
        "phases": stats["phase_seconds"], "shards": stats["shards"],
    }
    text = report(results)
    print(text)
    if args.doc:
        doc = REPO / "docs" / "benchmarks.md"
        body = doc.read_text(encoding="utf-8")
        heading = "## Resume\n"
        if heading not in body:
            body = body.rstrip("\n") + "\n\n" + heading + "\n" + INTRO + "\n"
        doc.write_text(body.rstrip("\n") + "\n\n" + text + "\n", encoding="utf-8")
    return 0 if same and counts_same else 1


INTRO = ("`benchmarks/resume.py` runs a full build of a generated corpus, then the same build SIGKILLed "
         "(driver and workers) at a share of the full run's wall time, then `corpus build --resume`, and "
         "compares the two releases' data files (sha256) and counts.")


def report(r: dict) -> str:
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
    lines = [
        f"### {r['pages']:,} pages, {r['workers']} workers (run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `.venv/bin/python -m benchmarks.resume --pages {r['pages']} --workers {r['workers']} --kill-at {r['kill_at']}`; "
        f"1-minute load average before the runs: {r['load']:.2f} on {os.cpu_count()} CPUs; {r['shards']} shards.",
        "",
        "| run | wall seconds | share of the full run |",
        "| --- | ---: | ---: |",
        f"| full build | {r['full']:.1f} | 100% |",
        f"| killed build (SIGKILL at the point of progress the full build reached at {r['kill_at']:.0%} of its time: "
        f"{r['markers'][0]} of {r['markers'][1]} shard tasks and reduces done) | {r['killed_at']:.1f} | "
        f"{r['killed_at'] / r['full']:.0%} |",
        f"| resumed build | {r['resumed']:.1f} | {r['ratio']:.0%} |",
        "",
        f"Reused by the resumed build: {'; '.join(r['reused']) or 'nothing'}. "
        f"Release data files identical to the full build's: {'yes' if r['same_data'] else 'NO'}; "
        f"counts identical: {'yes' if r['same_counts'] else 'NO'}. Phases of the full build: {phases}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
