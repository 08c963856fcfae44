"""Resume benchmark (issue 11): a full build of a generated corpus, the same build SIGKILLed at a
share of the full run's wall time (default 60%), then `corpus build --resume`; reports the resumed
run's time against the full run's and checks that both releases hold the same data files.

"At 60%" is a point of progress, not of the clock (the machine is shared, so a second run may be
slower or faster): the full run keeps its completion markers, whose times say how many shard tasks
and reduces it had finished at 60% of its wall time and how long after the last of them 60% fell;
the second run is killed that long after it has finished as many.

    .venv/bin/python -m benchmarks.resume --pages 100000 --generate-only
    flock /tmp/bench.lock .venv/bin/python -m benchmarks.resume --pages 100000 [--workers 2] [--kill-at 0.6] [--doc]

`--doc` appends the result to docs/benchmarks.md under its "Resume" heading.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

from benchmarks.corpora import ensure_corpus
from benchmarks.proc import SAMPLE_SECONDS, tree_rss

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


class Run:
    """One run of the corpus CLI: wall seconds, its start as time.time(), the result, and the peak
    summed RSS of its process tree (driver and workers, sampled as benchmarks/proc.py does)."""

    def __init__(self, wall: float, started: float, result: subprocess.CompletedProcess, peak_rss: int, cpu: float) -> None:
        self.wall, self.started, self.result, self.peak_rss, self.cpu = wall, started, result, peak_rss, cpu


def run(args: list[str], code: Path, kill: tuple[Path, int, float] | None = None) -> Run:
    """The corpus CLI in its own session, importing the builder from `code` (see `snapshot`). With
    `kill` = (marker glob's folder pattern, count, delay): SIGKILLed (with its workers) `delay`
    seconds after `count` completion markers exist.

    `cpu` is the user and system seconds of the driver and every worker it waited for (the
    machine is shared: a second build slowed by another's load spends about the same CPU time);
    a killed build's workers are not waited for, so its figure is the driver's at most."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "builders.cli", *args]
    env = {**os.environ, "COLUMNS": "250"}
    started, t0 = time.time(), time.perf_counter()
    proc = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if kill else subprocess.PIPE,
                        text=True, env=env, cwd=str(code), start_new_session=True)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        if kill:
            folder, count, delay = kill
            while proc.poll() is None and len(list(folder.parent.glob(folder.name + "/_work/markers/*.json"))) < count:
                time.sleep(0.05)
            time.sleep(delay)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
    finally:
        done.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    return Run(wall, started, subprocess.CompletedProcess(cmd, proc.returncode, out, err or ""), peak[0], cpu)


def snapshot(folder: Path) -> Path:
    """A copy of builders/ taken before the first build, which all three builds import (`python -m`
    puts the working folder first on the path): the checkout is shared, and an edit to any builder
    file between the killed and the resumed build would change the code fingerprint in every
    completion key, so that nothing could be reused (and the releases could differ)."""
    code = folder / "code"
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(REPO / "builders", code / "builders", ignore=shutil.ignore_patterns("__pycache__"))
    return code


def describe_code() -> str:
    """The commit of the checkout, and whether builders/ differed from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "builders"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' with uncommitted changes in builders/' if dirty else ''}" if head else "unknown"


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
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override passed to all three builds (corpus build --set), e.g. input.shard_size=8MB")
    ap.add_argument("--doc", action="store_true", help="append the result to docs/benchmarks.md under 'Resume'")
    ap.add_argument("--generate-only", action="store_true",
                    help="generate (or find cached) the corpus and stop: run this outside `flock`, so the lock is held "
                         "only while timing")
    args = ap.parse_args(argv)

    corpus = ensure_corpus(args.cache, args.pages, args.seed, args.source, log=lambda m: print(m, file=sys.stderr))
    if args.generate_only:
        return 0
    folder = args.cache / "runs" / f"resume-{args.pages}"
    folder.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in ("full", "resumed"):
        config = folder / f"{name}.yaml"
        config.write_text(yaml.safe_dump(build_config(corpus.raw_glob, folder / name, args.workers, args.pages)))
    code, commit = snapshot(folder), describe_code()
    load = os.getloadavg()[0]
    sets = [arg for kv in args.overrides for arg in ("--set", kv)]
    full = run(["build", str(folder / "full.yaml"), *sets, "--quiet", "--overwrite", "--keep-work"], code)
    if full.result.returncode != 0:
        raise SystemExit(f"full build failed: {full.result.stderr.strip()}")
    stats = json.loads((folder / "full" / "stats.json").read_text())
    timeline = {p.stem: round(p.stat().st_mtime - full.started, 3) for p in (folder / "full" / "_work" / "markers").glob("*.json")}
    done = sorted(timeline.values())
    shutil.rmtree(folder / "full" / "_work")
    at = full.wall * args.kill_at
    count = sum(1 for t in done if t <= at)
    delay = at - (done[count - 1] if count else 0.0)
    print(f"full build: {full.wall:.1f} s; at {at:.1f} s it had finished {count} of {len(done)} shard tasks and reduces",
          file=sys.stderr)
    killed = run(["build", str(folder / "resumed.yaml"), *sets, "--quiet", "--overwrite"], code,
                 kill=(folder / ".resumed.building-*", count, delay))
    if killed.result.returncode != -signal.SIGKILL:
        raise SystemExit(f"the build to kill ended by itself ({killed.result.returncode})")
    work = sorted(folder.glob(".resumed.building-*"))
    markers = sorted((work[-1] / "_work" / "markers").glob("*.json")) if work else []
    print(f"killed after {killed.wall:.1f} s with {len(markers)} finished shard tasks and reduces", file=sys.stderr)
    resumed = run(["build", str(folder / "resumed.yaml"), *sets, "--resume", "--overwrite"], code)
    if resumed.result.returncode != 0:
        raise SystemExit(f"resumed build failed: {resumed.result.stderr.strip()}")
    reused = [line[len(REUSED):].strip() for line in resumed.result.stdout.splitlines() if line.startswith(REUSED)]
    same = data_hashes(folder / "full") == data_hashes(folder / "resumed")
    again = json.loads((folder / "resumed" / "stats.json").read_text())
    counts_same = again["totals"] == stats["totals"]
    results = {
        "pages": args.pages, "workers": args.workers, "load": load, "full": full.wall, "killed_at": killed.wall,
        "resumed": resumed.wall, "ratio": resumed.wall / full.wall, "reused": reused, "same_data": same,
        "same_counts": counts_same, "kill_at": args.kill_at, "markers": (count, len(done)), "sets": args.overrides,
        "phases": stats["phase_seconds"], "shards": stats["shards"], "resumed_phases": again["phase_seconds"],
        # Wall time outside run_build (interpreter start, imports, the summary): the CLI's own start-up.
        "startup": (full.wall - stats["seconds"], resumed.wall - again["seconds"]),
        "peak_rss": (full.peak_rss, resumed.peak_rss), "cpu": (full.cpu, resumed.cpu), "commit": commit,
    }
    (folder / "result.json").write_text(json.dumps({**results, "timeline": dict(sorted(timeline.items(), key=lambda kv: kv[1]))},
                                                   indent=1) + "\n")
    text = report(results)
    print(text)
    if args.doc:
        doc = REPO / "docs" / "benchmarks.md"
        doc.write_text(add_to_section(doc.read_text(encoding="utf-8"), text), encoding="utf-8")
    return 0 if same and counts_same else 1


def add_to_section(body: str, text: str, heading: str = "## Resume") -> str:
    """`body` with `text` added at the end of its `heading` section (made, at the end, when missing);
    the rest of the page is another script's and stays as it is."""
    lines = body.rstrip("\n").split("\n")
    if heading not in lines:
        lines += ["", heading, "", INTRO]
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = "\n".join(lines[start:end]).rstrip("\n")
    rest = "\n".join(lines[end:])
    return "\n".join(lines[:start]) + "\n" + section + "\n\n" + text + "\n" + ("\n" + rest + "\n" if rest else "")


INTRO = ("`benchmarks/resume.py` runs a full build of a generated corpus, then the same build SIGKILLed "
         "(driver and workers) at a share of the full run's wall time, then `corpus build --resume`, and "
         "compares the two releases' data files (sha256) and counts.")


def report(r: dict) -> str:
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in r["phases"].items())
    again = ", ".join(f"{k} {v:.1f} s" for k, v in r["resumed_phases"].items())
    mib = [n / (1 << 20) for n in r["peak_rss"]]
    lines = [
        f"### {r['pages']:,} pages, {r['workers']} workers (run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `.venv/bin/python -m benchmarks.resume --pages {r['pages']} --workers {r['workers']} --kill-at {r['kill_at']}"
        f"{''.join(' --set ' + kv for kv in r.get('sets', ()))}`; "
        f"1-minute load average before the runs: {r['load']:.2f} on {os.cpu_count()} CPUs; {r['shards']} shards; code: {r['commit']}.",
        "",
        "| run | wall seconds | share of the full run | CPU seconds (driver and workers) | peak RSS (driver and workers) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| full build | {r['full']:.1f} | 100% | {r['cpu'][0]:.1f} | {mib[0]:,.0f} MiB |",
        f"| killed build (SIGKILL at the point of progress the full build reached at {r['kill_at']:.0%} of its time: "
        f"{r['markers'][0]} of {r['markers'][1]} shard tasks and reduces done) | {r['killed_at']:.1f} | "
        f"{r['killed_at'] / r['full']:.0%} | | |",
        f"| resumed build | {r['resumed']:.1f} | {r['ratio']:.0%} | {r['cpu'][1]:.1f} ({r['cpu'][1] / r['cpu'][0]:.0%}) | "
        f"{mib[1]:,.0f} MiB |",
        "",
        f"Reused by the resumed build: {'; '.join(r['reused']) or 'nothing'}. "
        f"Release data files identical to the full build's: {'yes' if r['same_data'] else 'NO'}; "
        f"counts identical: {'yes' if r['same_counts'] else 'NO'}.",
        "",
        f"Phases of the full build: {phases}; outside the build (interpreter, imports, summary) {r['startup'][0]:.1f} s.",
        f"Phases of the resumed build: {again}; outside the build {r['startup'][1]:.1f} s.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
