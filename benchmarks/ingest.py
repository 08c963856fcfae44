"""Ingest benchmark: MB/s per input format, 1 → N worker scaling, peak memory on a big JSONL.gz,
and the WARC path's quality against the JSONL path on the same generated pages.

    python -m benchmarks.ingest [--pages 10000] [--big-mb 400] [--scaling-mb 2000] [--gz-gb 2] [--workers 2] [--repeat 1]
                                [--sections throughput,scaling,memory,quality,extraction] [--report-only]

Every build is one whole `corpus build` subprocess, timed by wall clock, with the peak summed RSS of
its process tree (benchmarks/proc.py), confined to `--workers` CPUs. Inputs are made from the pages
`builders.synth` generates from the BBC articles in ../shared and cached under `--cache`; results go
to docs/benchmarks/ingest-results.json and the page docs/benchmarks-ingest.md is rendered from it.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
import yaml

from benchmarks.run import _nan_to_null, corpus_command, cpu_set
from benchmarks.run import display_command as run_command_line  # the same as the dedup benchmark's
from benchmarks import machine
from benchmarks.corpora import generator_fingerprint, shard_pages_for
from benchmarks.proc import run_measured
from benchmarks.scores import line_scores, pair_scores

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared"
DEFAULT_SOURCE = DEFAULT_SHARED / "corpora" / "bbc-news.jsonl.gz"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache" / "ingest"
DEFAULT_OUT = REPO / "docs" / "benchmarks-ingest.md"
DEFAULT_RESULTS = REPO / "docs" / "benchmarks" / "ingest-results.json"
SECTIONS = ("throughput", "scaling", "memory", "quality", "extraction")
SCHEMA = 1
MB = 10**6
MIB = 2**20

#: Targets the ingest work was specified against.
TARGET_SPEEDUP = 1.7
TARGET_PEAK_BYTES = 10**9  # 1 GB
TARGET_F1_GAP = 0.02

#: How the generated JSONL records map onto the core columns (the same as benchmarks/run.py).
JSONL_FIELDS = {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"}
GZ_PARTS = 8  # the gzipped copy is cut into this many files: one gzip stream cannot be read in pieces
GZ_LEVEL = 6  # gzip's own default, what dumps are usually written with
PARQUET_ROW_GROUP = 5000
HUGE_GZ_LEVEL = 1  # the memory corpus is big: written fast
#: Quarantine reasons a generated page may rightly get from HTML extraction (junk pages with no article).
PAGE_QUARANTINE = ("html_no_text",)
RUNNER_PACKAGES = [*machine.RUNNER_PACKAGES, "trafilatura", "lxml", "fastwarc", "warcio", "resiliparse"]


def log(msg: str) -> None:
    print(f"[ingest {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- arguments


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10_000,
                    help="generated pages (JSONL + HTML + WARC): WARC throughput, the HTML folder, quality")
    ap.add_argument("--big-mb", type=float, default=400,
                    help="MB of uncompressed JSONL (the pages repeated with new ids) for JSONL/Parquet throughput "
                         "and 1-vs-N scaling")
    ap.add_argument("--scaling-mb", type=float, default=2000,
                    help="MB of the one uncompressed JSONL file of the ingest-only 1-vs-N scaling run")
    ap.add_argument("--gz-gb", type=float, default=2.0, help="compressed GB of the one-file JSONL.gz of the memory run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of each throughput and scaling build; the fastest is reported")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="seconds to wait, before each build, for other processes to leave the CPUs idle")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated from {', '.join(SECTIONS)}")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="inputs and run outputs (gitignored)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown page to write")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results JSON (sections not run are kept)")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (real pages for extraction)")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="real articles the generator draws from")
    ap.add_argument("--corpus-cmd", default=None, help="command for our build (default: the corpus script)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a build is killed and FAILED")
    ap.add_argument("--report-only", action="store_true", help="only render the markdown from the results JSON")
    args = ap.parse_args(argv)
    args.section_list = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.section_list if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    if args.workers < 1 or args.repeat < 1 or args.pages < 1:
        ap.error("--workers, --repeat and --pages must be at least 1")
    return args


def code_version() -> dict:
    """The commit the builds ran and whether builders/ differed from it (others may be editing)."""
    import subprocess

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "builders").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "builders_changed": changed}


def display_command(argv: list[str]) -> str:
    return run_command_line(argv, "benchmarks.ingest")


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (/proc/stat), idle and iowait excluded."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class ForeignLoad:
    """How many CPUs other processes (not this harness, not its builds) kept busy over an interval."""

    def __init__(self) -> None:
        self.t0, self.busy0, self.own0 = time.perf_counter(), _busy_seconds(), _own_seconds()

    def cores(self) -> float:
        wall = time.perf_counter() - self.t0
        foreign = (_busy_seconds() - self.busy0) - (_own_seconds() - self.own0)
        return max(0.0, foreign / wall) if wall > 0 else 0.0


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> dict:
    """Wait (up to `max_wait` s) until other processes use less than `threshold` CPUs over a second."""
    t0 = time.perf_counter()
    told = False
    while True:
        probe = ForeignLoad()
        time.sleep(1.0)
        cores = probe.cores()
        waited = time.perf_counter() - t0
        if cores < threshold or waited >= max_wait:
            return {"foreign_cores_before": round(cores, 2), "waited_seconds": round(waited, 1)}
        if not told:
            log(f"other processes keep {cores:.1f} CPUs busy; waiting up to {max_wait:.0f} s for them")
            told = True


# --------------------------------------------------------------------------- inputs


def _marker_ok(marker: Path, fingerprint: dict) -> Optional[dict]:
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("fingerprint") == fingerprint:
            return info
    return None


def _cached_or_fresh(root: Path, marker: str, fingerprint: dict, label: str) -> Optional[dict]:
    """The cached inputs' record when `root` holds them for `fingerprint`; else None, with `root`
    emptied and ready to be filled."""
    info = _marker_ok(root / marker, fingerprint)
    if info:
        log(f"{label}: cached at {root}")
        return info
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return None


def ensure_synth(cache: Path, pages: int, seed: int, source: Path) -> dict:
    """The generated corpus: raw/*.jsonl.gz, html/*/p*.html, warc/*.warc.gz, truth.parquet."""
    root = cache / "corpora" / f"pages{pages}-seed{seed}"
    fp = {"generator": generator_fingerprint("builders.synth", source), "pages": pages, "seed": seed}
    info = _cached_or_fresh(root, "corpus.json", fp, f"synth corpus {pages} pages")
    if info:
        return info
    from builders.synth import generate

    shard_pages = shard_pages_for(pages)
    log(f"generating {pages} pages (jsonl, html, warc) into {root}")
    t0 = time.perf_counter()
    manifest = generate(source, root, pages, seed=seed, formats=("jsonl", "html", "warc"), shard_pages=shard_pages)
    info = {
        "root": str(root),
        "pages": pages,
        "seed": seed,
        "source": str(source),
        "shard_pages": shard_pages,
        "kinds": manifest.get("kinds"),
        "stories": manifest.get("stories"),
        "generated_seconds": round(time.perf_counter() - t0, 2),
        "fingerprint": fp,
    }
    (root / "corpus.json").write_text(json.dumps(info, indent=2))
    return info


def base_records(corpus_root: Path) -> list[dict]:
    """The generated pages as records, in shard order."""
    out = []
    for f in sorted((corpus_root / "raw").glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh if line.strip())
    return out


def repeated_lines(records: list[dict]) -> Iterator[bytes]:
    """JSONL lines of the records over and over: round 0 as generated, round r with ids `ID-rR` and
    each text's lines rotated by r, so no two records share an id or (beyond the chrome) a text."""
    r = 0
    while True:
        for rec in records:
            if r:
                lines = rec["text"].split("\n")
                k = r % len(lines)
                rec = dict(rec, id=f"{rec['id']}-r{r}", text="\n".join(lines[k:] + lines[:k]))
            yield (json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8")
        r += 1


def write_repeated(records: list[dict], path: Path, target_bytes: int, level: Optional[int] = None,
                   flush_every: int = 2000) -> dict:
    """Write repeated records to `path` (gzipped at `level`, or plain) until its stored size reaches
    `target_bytes`; returns the records written and the stored and uncompressed byte counts."""
    if not records:
        raise ValueError("no records to repeat")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = content = 0
    with open(tmp, "wb") as raw:
        sink = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) if level else raw
        try:
            buf: list[bytes] = []
            for line in repeated_lines(records):
                buf.append(line)
                if len(buf) >= flush_every:
                    block = b"".join(buf)
                    sink.write(block)
                    n, content, buf = n + len(buf), content + len(block), []
                    if raw.tell() >= target_bytes:
                        break
                    if not level and content >= target_bytes:
                        break
        finally:
            if level:
                sink.close()
    os.replace(tmp, path)
    return {"records": n, "stored_bytes": path.stat().st_size, "content_bytes": content}


def ensure_big(cache: Path, corpus: dict, big_mb: float) -> dict:
    """One uncompressed JSONL of about `big_mb` MB, the same records gzipped in GZ_PARTS files, and
    one Parquet file of them."""
    root = cache / "big" / f"{big_mb:g}mb-from-pages{corpus['pages']}-seed{corpus['seed']}"
    fp = {"corpus": corpus["fingerprint"], "big_mb": big_mb, "gz_parts": GZ_PARTS, "gz_level": GZ_LEVEL,
          "row_group": PARQUET_ROW_GROUP, "v": 1}
    info = _cached_or_fresh(root, "inputs.json", fp, f"big inputs {big_mb:g} MB")
    if info:
        return info
    t0 = time.perf_counter()
    jsonl = root / "pages.jsonl"
    log(f"writing {big_mb:g} MB of JSONL to {jsonl}")
    made = write_repeated(base_records(Path(corpus["root"])), jsonl, int(big_mb * MB), flush_every=500)
    log(f"gzipping it into {GZ_PARTS} files (level {GZ_LEVEL})")
    gz_files = split_gzip(jsonl, root / "gz", GZ_PARTS, made["records"], GZ_LEVEL)
    log("writing it as Parquet")
    parquet = root / "pages.parquet"
    write_parquet(jsonl, parquet, list(JSONL_FIELDS.values()) + ["id"], PARQUET_ROW_GROUP)
    info = {
        "fingerprint": fp,
        "records": made["records"],
        "jsonl": {"paths": [str(jsonl)], "files": 1, "stored_bytes": made["stored_bytes"]},
        "jsonl_gz": {"paths": [str(f) for f in gz_files], "files": len(gz_files),
                     "stored_bytes": sum(f.stat().st_size for f in gz_files), "level": GZ_LEVEL},
        "parquet": {"paths": [str(parquet)], "files": 1, "stored_bytes": parquet.stat().st_size,
                    "row_groups": pq.ParquetFile(parquet).metadata.num_row_groups},
        "content_bytes": made["content_bytes"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (root / "inputs.json").write_text(json.dumps(info, indent=2))
    return info


def ensure_scaling_file(cache: Path, corpus: dict, mb: float) -> dict:
    """One uncompressed JSONL of about `mb` MB for the ingest-only scaling run (no other forms)."""
    root = cache / "scaling" / f"{mb:g}mb-from-pages{corpus['pages']}-seed{corpus['seed']}"
    fp = {"corpus": corpus["fingerprint"], "mb": mb, "v": 1}
    info = _cached_or_fresh(root, "inputs.json", fp, f"scaling input {mb:g} MB")
    if info:
        return info
    jsonl = root / "pages.jsonl"
    log(f"writing {mb:g} MB of JSONL to {jsonl}")
    made = write_repeated(base_records(Path(corpus["root"])), jsonl, int(mb * MB), flush_every=500)
    info = {"fingerprint": fp, "records": made["records"], "paths": [str(jsonl)],
            "stored_bytes": made["stored_bytes"], "content_bytes": made["content_bytes"]}
    (root / "inputs.json").write_text(json.dumps(info, indent=2))
    return info


def split_gzip(jsonl: Path, folder: Path, parts: int, records: int, level: int) -> list[Path]:
    """The lines of `jsonl` in `parts` consecutive runs, each a gzip file."""
    folder.mkdir(parents=True, exist_ok=True)
    per = -(-records // parts)
    files: list[Path] = []
    raw = out = None
    try:
        with open(jsonl, "rb") as fh:
            for i, line in enumerate(fh):
                if i % per == 0:
                    if out is not None:
                        out.close()
                        raw.close()
                    files.append(folder / f"part-{len(files):05d}.jsonl.gz")
                    raw = open(files[-1], "wb")
                    out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level)
                out.write(line)
    finally:
        if out is not None:
            out.close()
            raw.close()
    return files


def write_parquet(jsonl: Path, path: Path, keys: list[str], row_group: int) -> None:
    """The JSONL's records as Parquet, every key a string column, in row groups of `row_group` rows."""
    schema = pa.schema([(k, pa.string()) for k in dict.fromkeys(keys)])
    table = pajson.read_json(jsonl, read_options=pajson.ReadOptions(block_size=16 << 20),
                             parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
    pq.write_table(table, path, row_group_size=row_group)


def ensure_huge(cache: Path, corpus: dict, gz_gb: float) -> dict:
    """One JSONL.gz of about `gz_gb` GB stored, written streaming at gzip level 1."""
    root = cache / "huge" / f"{gz_gb:g}gb-from-pages{corpus['pages']}-seed{corpus['seed']}"
    fp = {"corpus": corpus["fingerprint"], "gz_gb": gz_gb, "level": HUGE_GZ_LEVEL, "v": 1}
    info = _cached_or_fresh(root, "inputs.json", fp, f"{gz_gb:g} GB JSONL.gz")
    if info:
        return info
    path = root / "pages.jsonl.gz"
    log(f"writing {gz_gb:g} GB of gzipped JSONL to {path} (takes a few minutes; cached afterwards)")
    t0 = time.perf_counter()
    made = write_repeated(base_records(Path(corpus["root"])), path, int(gz_gb * 10**9), level=HUGE_GZ_LEVEL)
    info = {"fingerprint": fp, "paths": [str(path)], "files": 1, "records": made["records"],
            "stored_bytes": made["stored_bytes"], "content_bytes": made["content_bytes"], "level": HUGE_GZ_LEVEL,
            "seconds": round(time.perf_counter() - t0, 1)}
    (root / "inputs.json").write_text(json.dumps(info, indent=2))
    return info


def stored_bytes(paths: Iterable[str]) -> tuple[int, int]:
    """(files, bytes) under the paths (files, globs or folders)."""
    files = total = 0
    for p in paths:
        matches = [p] if os.path.isfile(p) else (
            [str(f) for f in Path(p).rglob("*") if f.is_file()] if os.path.isdir(p) else glob.glob(p))
        for m in matches:
            files += 1
            total += os.path.getsize(m)
    return files, total


def warm(paths: Iterable[str]) -> None:
    """Read the inputs once, so every build starts with them in the page cache."""
    for p in paths:
        matches = [Path(p)] if os.path.isfile(p) else (
            [f for f in Path(p).rglob("*") if f.is_file()] if os.path.isdir(p) else [Path(m) for m in glob.glob(p)])
        for m in matches:
            with open(m, "rb") as fh:
                while fh.read(16 << 20):
                    pass


# --------------------------------------------------------------------------- builds


def build_config(name: str, paths: list[str], out: Path, workers: int, fields: Optional[dict], full: bool) -> dict:
    """A build of the inputs: clean and dedup off (ingest + publish only) unless `full` (the defaults)."""
    cfg: dict = {"name": name, "input": {"paths": list(paths), "format": "auto"}}
    if fields:
        cfg["input"]["fields"] = dict(fields)
    cfg["clean"] = {} if full else False
    cfg["dedup"] = {} if full else False
    cfg["publish"] = {"output": str(out), "formats": ["parquet"]}
    cfg["executor"] = {"backend": "local", "workers": workers}
    return cfg


def run_build(name: str, label: str, paths: list[str], workers: int, args, *, fields: Optional[dict] = None,
              full: bool = False, keep_output: bool = False, repeat: Optional[int] = None,
              content_bytes: Optional[int] = None, expected: Optional[int] = None,
              allowed_quarantine: tuple[str, ...] = ()) -> dict:
    """One build as a measured subprocess (the fastest of `repeat`); its record with stats and rates.

    With `expected`, a build that read another number of records, or quarantined records for
    reasons not in `allowed_quarantine`, is INVALID: its figures are kept but not taken as results.
    """
    run_dir = args.cache / "runs" / name
    files, size = stored_bytes(paths)
    rec = {"name": name, "label": label, "workers": workers, "cpus": cpu_set(workers), "files": files,
           "stored_bytes": size, "status": "ok", "full_build": full}
    if content_bytes:
        rec["content_bytes"] = content_bytes
    walls = []
    for attempt in range(repeat or args.repeat):
        if run_dir.exists():
            shutil.rmtree(run_dir)
        out = run_dir / "out"
        run_dir.mkdir(parents=True)
        cfg_path = run_dir / "config.yaml"
        cfg_path.write_text(yaml.safe_dump(build_config(f"ingest-{name}", paths, out, workers, fields, full), sort_keys=False))
        cmd = [*corpus_command(args.corpus_cmd), "build", str(cfg_path), "--output", str(out),
               "--workers", str(workers), "--quiet"]  # fmt: skip
        warm(paths)
        quiet = wait_for_quiet(args.quiet_wait)
        load = list(os.getloadavg())
        log(f"{label} ({workers} worker{'s' if workers > 1 else ''}, run {attempt + 1}): {shlex.join(cmd)}")
        foreign = ForeignLoad()
        try:
            m = run_measured(cmd, run_dir, "build", cwd=REPO, timeout=args.timeout, cpus=cpu_set(workers))
        except OSError as exc:
            rec.update(status="FAILED", error=f"could not start: {exc}")
            return rec
        if m.returncode != 0:
            rec.update(status="FAILED", error=m.error_line(), wall_seconds=round(m.wall_seconds, 3))
            return rec
        foreign_cores = foreign.cores()
        walls.append(m.wall_seconds)
        rec.setdefault("foreign_cores_all", []).append(round(foreign_cores, 2))
        if m.wall_seconds > min(walls):
            continue  # a slower repeat: keep the record of the fastest
        stats = json.loads((out / "stats.json").read_text())
        ingest = (stats.get("stages") or {}).get("ingest") or {}
        rec.update(
            cmd=cmd,
            load_before=load,
            foreign_cores=round(foreign_cores, 2),
            **quiet,
            wall_seconds=round(m.wall_seconds, 3),
            peak_rss_bytes=m.peak_rss_bytes,
            rss_samples=m.samples,
            build_seconds=stats.get("seconds"),
            phase_seconds=stats.get("phase_seconds") or {},
            shards=stats.get("shards"),
            ingest_seconds=ingest.get("seconds"),
            records_read=ingest.get("docs_in"),
            quarantined=ingest.get("quarantined") or {},
            skipped=ingest.get("skipped") or {},
            published=(stats.get("totals") or {}).get("published"),
            stages={k: {kk: v.get(kk) for kk in ("docs_in", "docs_out", "seconds", "dropped")}
                    for k, v in (stats.get("stages") or {}).items()},
        )
        rec["mb_per_s"] = size / MB / m.wall_seconds if m.wall_seconds else None
        rec["mb_per_core_s"] = size / MB / rec["ingest_seconds"] if rec["ingest_seconds"] else None
        rec["docs_per_s"] = rec["records_read"] / m.wall_seconds if rec["records_read"] and m.wall_seconds else None
    rec["walls"] = [round(w, 3) for w in walls]
    if expected is not None and rec["status"] == "ok":
        problems = []
        if rec.get("records_read") != expected:
            problems.append(f"read {rec.get('records_read'):,} records of {expected:,}")
        bad = {k: v for k, v in (rec.get("quarantined") or {}).items() if k not in allowed_quarantine}
        if bad:
            problems.append("quarantined " + ", ".join(f"{k} {v:,}" for k, v in bad.items()))
        if problems:
            rec.update(status="INVALID", error="; ".join(problems))
            log(f"{label}: INVALID: {rec['error']}")
    if not keep_output:
        shutil.rmtree(run_dir / "out" / "data", ignore_errors=True)  # big; stats.json stays
    return rec


def pass0_seconds(rec: dict) -> Optional[float]:
    for k, v in (rec.get("phase_seconds") or {}).items():
        if k.startswith("pass 0"):
            return v
    return None


# --------------------------------------------------------------------------- sections


def section_throughput(args, corpus: dict, big: dict) -> list[dict]:
    root = Path(corpus["root"])
    w = args.workers
    runs = [
        run_build("jsonl-gz", "JSONL.gz", big["jsonl_gz"]["paths"], w, args, fields=JSONL_FIELDS,
                  content_bytes=big["content_bytes"], expected=big["records"]),
        run_build("jsonl", "JSONL", big["jsonl"]["paths"], w, args, fields=JSONL_FIELDS,
                  content_bytes=big["content_bytes"], expected=big["records"]),
        run_build("parquet", "Parquet", big["parquet"]["paths"], w, args, fields=JSONL_FIELDS,
                  content_bytes=big["content_bytes"], expected=big["records"]),
        run_build("warc", "WARC.gz + HTML extraction", [str(root / "warc" / "*.warc.gz")], w, args, keep_output=True,
                  expected=corpus["pages"], allowed_quarantine=PAGE_QUARANTINE),
    ]
    return runs


def section_scaling(args, corpus: dict, big: dict, throughput: list[dict]) -> list[dict]:
    """1 worker against `--workers` on one big JSONL and on a folder of small HTML files."""
    root = Path(corpus["root"])
    w = args.workers
    out = []
    big_one = ensure_scaling_file(args.cache, corpus, args.scaling_mb)
    one = run_build("jsonl-scaling-w1", "JSONL", big_one["paths"], 1, args, fields=JSONL_FIELDS,
                    content_bytes=big_one["content_bytes"], expected=big_one["records"])
    many = run_build(f"jsonl-scaling-w{w}", "JSONL", big_one["paths"], w, args, fields=JSONL_FIELDS,
                     content_bytes=big_one["content_bytes"], expected=big_one["records"])
    out.append(scaling_record(f"one big JSONL file ({big_one['stored_bytes'] / MB:,.0f} MB)", one, many))
    # The same file through a whole default build (clean + dedup): what a user's build of one big
    # dump does, where ingest is a small part of the work.
    one = run_build("jsonl-full-w1", "JSONL, full build", big["jsonl"]["paths"], 1, args, fields=JSONL_FIELDS,
                    full=True, content_bytes=big["content_bytes"], expected=big["records"])
    many = run_build(f"jsonl-full-w{w}", "JSONL, full build", big["jsonl"]["paths"], w, args, fields=JSONL_FIELDS,
                     full=True, content_bytes=big["content_bytes"], expected=big["records"])
    out.append(scaling_record("one big JSONL file, full build (clean + dedup)", one, many))
    html = [str(root / "html")]
    one = run_build("html-w1", "HTML folder", html, 1, args, expected=corpus["pages"], allowed_quarantine=PAGE_QUARANTINE)
    many = run_build(f"html-w{w}", "HTML folder", html, w, args, expected=corpus["pages"],
                     allowed_quarantine=PAGE_QUARANTINE)
    out.append(scaling_record(f"{corpus['pages']:,} HTML files", one, many))
    if w > 1:
        log(f"machine ceiling: HTML extraction in 1 process, then in {w} at once")
        out[-1]["ceiling"] = machine_ceiling(root, w)
    return out


_CEILING_SNIPPET = """
import sys, time
from pathlib import Path
from builders.text.html import ExtractionError, extract_article
pages = [Path(p).read_bytes() for p in sys.argv[1:]]
def run():
    for raw in pages:
        try:
            extract_article(raw)
        except ExtractionError:
            pass
run()  # warm-up: imports, lazy initialisation
t0 = time.process_time(); w0 = time.perf_counter()
run()
print(time.perf_counter() - w0, time.process_time() - t0)
"""


def machine_ceiling(corpus_root: Path, workers: int, pages: int = 200) -> dict:
    """How much `workers` CPU-bound processes gain over one on this machine: the same extraction of
    `pages` HTML pages in one process on one CPU, then in `workers` processes at once, one per CPU.
    The ratio of page throughputs bounds any build's speedup (virtual CPUs may share physical cores)."""
    import subprocess

    files = [str(f) for f in sorted((corpus_root / "html").glob("*/p*.html"))[:pages]]
    cpus = sorted(os.sched_getaffinity(0))[:workers]

    def launch(cpu: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _CEILING_SNIPPET, *files], cwd=REPO, stdout=subprocess.PIPE,
                                text=True, preexec_fn=lambda: os.sched_setaffinity(0, [cpu]))

    def result(p: subprocess.Popen) -> tuple[float, float]:
        out, _ = p.communicate()
        wall, cpu = (float(x) for x in out.split())
        return wall, cpu

    wait_for_quiet(60)
    foreign = ForeignLoad()
    alone = result(launch(cpus[0]))
    together = [result(p) for p in [launch(c) for c in cpus]]
    slowest = max(w for w, _ in together)
    return {"pages": len(files), "workers": len(cpus), "one_wall": alone[0], "one_cpu": alone[1],
            "many_walls": [w for w, _ in together], "many_cpus": [c for _, c in together],
            "ceiling": len(cpus) * alone[0] / slowest if slowest else None,
            "cpu_per_page_ratio": (sum(c for _, c in together) / len(together)) / alone[1] if alone[1] else None,
            "foreign_cores": round(foreign.cores(), 2)}


def scaling_record(label: str, one: dict, many: dict) -> dict:
    rec = {"label": label, "one": one, "many": many, "speedup": None, "pass0_speedup": None}
    if one["status"] == "ok" and many["status"] == "ok":
        rec["speedup"] = one["wall_seconds"] / many["wall_seconds"]
        p1, pn = pass0_seconds(one), pass0_seconds(many)
        if p1 and pn:
            rec["pass0_speedup"] = p1 / pn
    return rec


def section_memory(args, huge: dict) -> dict:
    rec = run_build("jsonl-gz-huge", f"one {huge['stored_bytes'] / 10**9:.2f} GB JSONL.gz", huge["paths"],
                    args.workers, args, fields=JSONL_FIELDS, content_bytes=huge["content_bytes"], repeat=1,
                    expected=huge["records"])
    rec["target_bytes"] = TARGET_PEAK_BYTES
    return rec


def warc_id_map(corpus_root: Path) -> dict[str, str]:
    """WARC-Record-ID (as the reader gives it, without angle brackets) -> page id.

    The generator writes the n-th response record of warc/pages-K.warc.gz for the n-th line of
    raw/pages-K.jsonl.gz; each pair is checked by its URL, so a changed generator fails loudly.
    """
    from warcio.archiveiterator import ArchiveIterator

    out: dict[str, str] = {}
    for raw in sorted((corpus_root / "raw").glob("pages-*.jsonl.gz")):
        warc = corpus_root / "warc" / raw.name.replace(".jsonl.gz", ".warc.gz")
        with gzip.open(raw, "rt", encoding="utf-8") as fh:
            pages = [json.loads(line) for line in fh if line.strip()]
        with open(warc, "rb") as fh:
            records = [(r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Target-URI"))
                       for r in ArchiveIterator(fh) if r.rec_type == "response"]
        if len(records) != len(pages):
            raise RuntimeError(f"{warc.name}: {len(records)} responses for {len(pages)} pages in {raw.name}")
        for page, (rid, uri) in zip(pages, records):
            if uri != page["url"]:
                raise RuntimeError(f"{warc.name}: record {rid} is {uri}, page {page['id']} is {page['url']}")
            out[rid.strip().strip("<>")] = page["id"]
    return out


class Truth:
    def __init__(self, corpus_root: Path):
        t = pq.read_table(corpus_root / "truth.parquet", columns=["id", "story", "text", "kind"])
        self.ids = t.column("id").to_pylist()
        self.stories = t.column("story").to_pylist()
        self.text = dict(zip(self.ids, t.column("text").to_pylist()))
        self.kind = dict(zip(self.ids, t.column("kind").to_pylist()))


def published_texts(out: Path, id_map: Optional[dict] = None) -> list[tuple[str, str]]:
    rows = []
    for f in sorted(glob.glob(str(out / "data" / "*.parquet"))):
        t = pq.read_table(f, columns=["id", "text"])
        ids = t.column("id").to_pylist()
        if id_map is not None:
            ids = [id_map.get(i, i) for i in ids]
        rows.extend(zip(ids, t.column("text").to_pylist()))
    return rows


def score_build(rec: dict, truth: Truth, id_map: Optional[dict]) -> None:
    """Dedup pair scores and cleaning line scores of a full build, ids mapped to truth ids."""
    out = Path(rec["out"])
    c = pq.read_table(out / "dedup" / "clusters.parquet", columns=["id", "cluster"])
    ids, clusters = c.column("id").to_pylist(), c.column("cluster").to_pylist()
    if id_map is not None:
        ids = [id_map.get(i, i) for i in ids]
        clusters = [id_map.get(i, i) for i in clusters]
    rec["dedup"] = pair_scores(truth.ids, truth.stories, ids, clusters).as_dict()
    published = published_texts(out, id_map)
    rec["published_ids"] = [i for i, _ in published]
    rec["cleaning"] = line_scores(published, truth.text).as_dict()


def _trafilatura_one(item: tuple[str, str]) -> tuple[str, str]:
    import trafilatura

    page_id, path = item
    html = Path(path).read_text(encoding="utf-8")
    return page_id, trafilatura.extract(html) or ""


def trafilatura_alone(corpus_root: Path, workers: int) -> tuple[dict[str, str], float]:
    """`trafilatura.extract(html)` with its defaults on every generated page; pages/s per process."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    items = [(f.stem, str(f)) for f in sorted((corpus_root / "html").glob("*/p*.html"))]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        texts = dict(pool.map(_trafilatura_one, items, chunksize=64))
    seconds = time.perf_counter() - t0
    return texts, len(items) / seconds / workers if seconds else float("nan")


def section_quality(args, corpus: dict, throughput: list[dict]) -> dict:
    root = Path(corpus["root"])
    truth = Truth(root)
    id_map = warc_id_map(root)
    w = args.workers
    jsonl = run_build("quality-jsonl", "JSONL.gz pages, full build", [str(root / "raw" / "*.jsonl.gz")], w, args,
                      fields=JSONL_FIELDS, full=True, keep_output=True, repeat=1, expected=corpus["pages"])
    warc = run_build("quality-warc", "WARC.gz of the same pages, full build", [str(root / "warc" / "*.warc.gz")], w,
                     args, full=True, keep_output=True, repeat=1, expected=corpus["pages"],
                     allowed_quarantine=PAGE_QUARANTINE)
    res: dict = {"jsonl": jsonl, "warc": warc}
    for rec, mapping in ((jsonl, None), (warc, id_map)):
        if rec["status"] in ("ok", "INVALID"):  # an INVALID build is scored too, to show what it did
            rec["out"] = str(args.cache / "runs" / rec["name"] / "out")
            try:
                score_build(rec, truth, mapping)
            except Exception as exc:  # a malformed output is a failed run, reported with its cause
                rec.update(status="FAILED", error=f"scoring: {type(exc).__name__}: {exc}")
    if jsonl["status"] == "ok" and warc["status"] == "ok":
        res["f1_gap"] = jsonl["dedup"]["f1"] - warc["dedup"]["f1"]

    # Line scores of extraction alone (ours: the clean-off WARC build; trafilatura with defaults),
    # on the pages the full WARC build published and on every page with an article.
    log(f"trafilatura.extract defaults on {corpus['pages']:,} pages")
    traf, traf_rate = trafilatura_alone(root, w)
    sets = {"all": [i for i in truth.ids if truth.text.get(i)]}
    if warc.get("published_ids") is not None:
        sets["published"] = warc["published_ids"]
    extract_only = {}
    ours_raw = next((r for r in throughput if r["name"] == "warc" and r["status"] == "ok"), None)
    raw_out = args.cache / "runs" / "warc" / "out"
    if ours_raw and ours_raw.get("records_read") == corpus["pages"] and (raw_out / "data").exists():
        extract_only = dict(published_texts(raw_out, id_map))
    scored: dict = {}
    for set_name, ids in sets.items():
        entry = {"pages": len(ids),
                 "trafilatura": line_scores(((i, traf.get(i, "")) for i in ids), truth.text).as_dict()}
        if extract_only:
            entry["ours_extract"] = line_scores(((i, extract_only.get(i, "")) for i in ids), truth.text).as_dict()
        if set_name == "published" and warc.get("cleaning"):
            entry["ours_full"] = warc["cleaning"]
        scored[set_name] = entry
    res["extraction_lines"] = scored
    res["trafilatura_pages_per_s_per_core"] = traf_rate
    res["trafilatura_empty"] = sum(1 for i in sets["all"] if not traf.get(i, "").strip())
    for rec in (jsonl, warc):
        rec.pop("published_ids", None)
    return res


def section_extraction(args) -> dict:
    try:
        from benchmarks import extraction
    except Exception as exc:  # noqa: BLE001 - another engineer's module: any failure skips the section
        return {"status": "skipped", "error": f"benchmarks.extraction does not import: {type(exc).__name__}: {exc}"}
    try:
        rows = extraction.benchmark(args.shared)
        return {"status": "ok", "rows": rows, "markdown": extraction.markdown(rows)}
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        return {"status": "skipped", "error": f"benchmarks.extraction.benchmark failed: {type(exc).__name__}: {exc}"}


# --------------------------------------------------------------------------- targets and report


def targets(res: dict) -> list[dict]:
    out = []
    for s in res.get("scaling") or []:
        out.append({"what": f"speedup 1 → {s['many']['workers']} workers, {s['label']} (wall)",
                    "target": f"≥ {TARGET_SPEEDUP}", "value": s.get("speedup"),
                    "met": None if s.get("speedup") is None else s["speedup"] >= TARGET_SPEEDUP})
    m = res.get("memory")
    if m:
        peak = m.get("peak_rss_bytes") if m.get("status") == "ok" else None
        out.append({"what": f"peak RSS, {m['label']}, {m['workers']} workers", "target": "< 1 GB",
                    "value": peak, "unit": "bytes", "met": None if peak is None else peak < TARGET_PEAK_BYTES})
    q = res.get("quality")
    if q:
        gap = q.get("f1_gap")
        out.append({"what": "dedup pair F1, JSONL build − WARC build", "target": f"≤ {TARGET_F1_GAP}", "value": gap,
                    "met": None if gap is None else gap <= TARGET_F1_GAP})
        pub = (q.get("extraction_lines") or {}).get("published") or {}
        if pub.get("ours_full") and pub.get("trafilatura"):
            o, t = pub["ours_full"], pub["trafilatura"]
            out.append({"what": "WARC build line precision / recall vs trafilatura.extract alone (same pages)",
                        "target": "≥ both", "value": [o["precision"], o["recall"], t["precision"], t["recall"]],
                        "met": o["precision"] >= t["precision"] and o["recall"] >= t["recall"]})
    return out


def _num(x, fmt: str = "{:.3f}") -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return fmt.format(x)


def _mib(b) -> str:
    return "—" if not b else f"{b / MIB:,.0f} MiB"


def _met(flag) -> str:
    return "—" if flag is None else ("yes" if flag else "**no**")


def _code(code: Optional[dict]) -> str:
    if not code or not code.get("commit"):
        return ""
    changed = code.get("builders_changed") or []
    return f" at commit {code['commit']}" + (f" with uncommitted changes in {', '.join(changed)}" if changed else "")


def _ran(res: dict, name: str) -> list[str]:
    ran = (res.get("section_runs") or {}).get(name)
    if not ran:
        return []
    return [f"Ran {ran['date']} with `{ran['command']}`{_code(ran)}.", ""]


def _phases(rec: dict) -> str:
    phases = rec.get("phase_seconds") or {}
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in phases.items() if v >= 0.05)
    startup = None
    if rec.get("wall_seconds") and rec.get("build_seconds"):
        startup = rec["wall_seconds"] - rec["build_seconds"]
    return parts + (f"; outside the build (interpreter start, imports, exit) {startup:.1f} s" if startup else "")


def _failed(rec: dict) -> Optional[str]:
    """Why a build has no figures (it FAILED), or None; an INVALID build keeps its figures."""
    if rec.get("status") in ("ok", "INVALID"):
        return None
    return f"{rec.get('status')}: {rec.get('error', '')}".replace("|", "\\|")


def _label(rec: dict) -> str:
    label = rec.get("label", rec.get("name", "?"))
    if rec.get("status") == "INVALID":
        label += f" — **INVALID**: {rec.get('error', '')}".replace("|", "\\|")
    return label


METHOD = """\
How to read this: every build is one whole `corpus build` subprocess on cached generated inputs
(read once beforehand, so they are in the page cache), timed by wall clock from start to exit and
confined to as many CPUs as it has workers (a 1-worker build runs on one CPU). Peak RSS is the
largest sum of the resident set sizes of the build process and all its workers, sampled every 50 ms.
MB are 10^6 bytes of input **as stored** (compressed bytes for .gz); MB/s (wall) divides them by the
build's whole wall time, start-up and publish included; MB/s per core divides them by the ingest
stage's own seconds summed over workers (`stages.ingest.seconds` in stats.json: reading,
decompressing, parsing or extracting, mapping onto the schema; not writing). Throughput, scaling and
memory builds run with `clean: false` and `dedup: false`, so they measure ingest and publish
(`publish.formats: [parquet]`); the quality builds are full default builds (clean + dedup).

The inputs are generated by `builders.synth` from the 2,225 BBC articles in `../shared`: wire copies
of stories on simulated sites, each page wrapped in its site's chrome, with the truth. JSONL, JSONL.gz
and Parquet hold the generated pages repeated (each round with new ids and each page's lines rotated)
up to the asked size; the WARC and HTML inputs are the generated pages themselves (one `response`
record or one file per page), so their MB/s includes trafilatura extraction of every page.
"""


LOAD_NOTE = (
    "*other load*: CPUs kept busy by processes other than the build and this harness during the build "
    "(from /proc/stat, less the CPU time of the build's process tree), averaged over its wall time; the machine "
    "is shared, so a build with other load above about 0.2 ran slower than it would alone. Each build waits "
    "(up to `--quiet-wait` s) for the machine to be idle before it starts, and runs `--repeat` times: the "
    "fastest is shown."
)


def render(res: dict) -> str:
    lines = [
        "# Ingest benchmarks",
        "",
        "Generated by `python -m benchmarks.ingest`; do not edit by hand (rerun it: the raw results are in",
        "`benchmarks/ingest-results.json` beside this file).",
        "",
        f"Last run {res.get('date', '?')} with `{res.get('command', '?')}`{_code(res.get('code'))}."
        " Sections a run skipped keep their earlier results; each says when it ran.",
        "",
    ]
    m = res.get("machine") or {}
    if m:
        lines.append(
            f"Machine: {m.get('cpu_model', '?')}; {m.get('logical_cpus', '?')} logical CPUs "
            f"({m.get('physical_cpus', '?')} physical); {_num(m.get('ram_gib'), '{:.1f}')} GiB RAM; {m.get('os', '?')}."
        )
        for env_name, env in (m.get("environments") or {}).items():
            pk = ", ".join(f"{k} {v}" for k, v in sorted(env.get("packages", {}).items()))
            lines.append(f"{env_name}: Python {env.get('python', '?')}; {pk}.")
        lines.append("")
    lines += [METHOD]

    tg = res.get("targets") or []
    if tg:
        lines += ["## Targets", "", "| what | target | measured | met |", "| --- | --- | ---: | --- |"]
        for t in tg:
            v = t.get("value")
            if t.get("unit") == "bytes":
                shown = _mib(v) + (f" ({v / 10**9:.2f} GB)" if v else "")
            elif isinstance(v, list):
                shown = f"ours P {v[0]:.3f} / R {v[1]:.3f}; trafilatura P {v[2]:.3f} / R {v[3]:.3f}"
            else:
                shown = _num(v, "{:.2f}" if "speedup" in t["what"] else "{:.4f}")
            lines.append(f"| {t['what']} | {t['target']} | {shown} | {_met(t.get('met'))} |")
        lines.append("")

    thr = res.get("throughput")
    if thr:
        lines += ["## 1. Ingest throughput", ""] + _ran(res, "throughput")
        big = (res.get("inputs") or {}).get("big") or {}
        corpus = res.get("corpus") or {}
        if big:
            lines.append(
                f"JSONL, JSONL.gz and Parquet: the same {big.get('records', 0):,} records "
                f"({big.get('content_bytes', 0) / MB:,.0f} MB of JSONL): one uncompressed file (cut into byte ranges), "
                f"{(big.get('jsonl_gz') or {}).get('files', '?')} gzip files (level {(big.get('jsonl_gz') or {}).get('level', '?')}; "
                f"a gzip stream cannot be entered in the middle, so one worker reads one file), one Parquet file "
                f"(snappy, {(big.get('parquet') or {}).get('row_groups', '?')} row groups of {PARQUET_ROW_GROUP:,} rows). "
                f"WARC: the {corpus.get('pages', 0):,} generated pages, one gzip member per record, "
                f"{corpus.get('shard_pages', 0):,} records per file."
            )
            lines.append("")
        lines += [
            "| input | files | stored MB | records | workers | wall s | MB/s (wall) | MB/s per core | records/s (wall) | peak RSS | other load |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in thr:
            bad = _failed(r)
            if bad:
                lines.append(f"| {r['label']} | {r.get('files', '')} | {_num(r.get('stored_bytes', 0) / MB, '{:,.1f}')} | {bad} | | | | | | | |")
                continue
            lines.append(
                f"| {_label(r)} | {r['files']} | {r['stored_bytes'] / MB:,.1f} | {_num(r.get('records_read'), '{:,}')} | "
                f"{r['workers']} | {r['wall_seconds']:.1f} | {_num(r.get('mb_per_s'), '{:,.1f}')} | "
                f"{_num(r.get('mb_per_core_s'), '{:,.1f}')} | {_num(r.get('docs_per_s'), '{:,.0f}')} | {_mib(r.get('peak_rss_bytes'))} | "
                f"{_num(r.get('foreign_cores'), '{:.2f}')} |"
            )
        lines += ["", LOAD_NOTE, ""]
        for r in thr:
            if r.get("status") in ("ok", "INVALID"):
                note = f"- {r['label']}: {r.get('shards', '?')} shards; {_phases(r)}"
                if r.get("content_bytes") and r["content_bytes"] != r["stored_bytes"]:
                    note += f"; {r['content_bytes'] / MB / r['wall_seconds']:,.1f} MB/s of uncompressed JSONL"
                if r.get("quarantined"):
                    note += "; quarantined: " + ", ".join(f"{k} {v}" for k, v in r["quarantined"].items())
                lines.append(note + ".")
        lines.append("")

    sc = res.get("scaling")
    if sc:
        lines += [
            "## 2. Scaling from 1 worker",
            "",
            *_ran(res, "scaling"),
            "The same build with `--workers 1` (on one CPU) and with more workers; speedup is the ratio of wall",
            "times. The ingest-pass speedup is the ratio of the `pass 0: ingest` phase alone (stats.json",
            "`phase_seconds`), without interpreter start-up, planning and the one-process publish.",
            "",
            "| input | stored MB | 1 worker wall s | N workers wall s | speedup (wall) | ingest pass speedup | peak RSS 1 / N | other load 1 / N |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in sc:
            one, many = s["one"], s["many"]
            bad = _failed(one) or _failed(many)
            if bad:
                lines.append(f"| {s['label']} | {bad} | | | | | | |")
                continue
            invalid = [f"{r['workers']} worker(s) **INVALID**: {r.get('error', '')}" for r in (one, many)
                       if r.get("status") == "INVALID"]
            lines.append(
                f"| {s['label']}{' — ' + '; '.join(invalid) if invalid else ''} | {one['stored_bytes'] / MB:,.1f} | "
                f"{one['wall_seconds']:.1f} | "
                f"{many['wall_seconds']:.1f} ({many['workers']}) | {_num(s.get('speedup'), '{:.2f}')} | "
                f"{_num(s.get('pass0_speedup'), '{:.2f}')} | {_mib(one.get('peak_rss_bytes'))} / {_mib(many.get('peak_rss_bytes'))} | "
                f"{_num(one.get('foreign_cores'), '{:.2f}')} / {_num(many.get('foreign_cores'), '{:.2f}')} |"
            )
        lines.append("")
        for s in sc:
            c = s.get("ceiling")
            if c and c.get("ceiling"):
                lines += [
                    f"Machine ceiling: the same extraction of {c['pages']} HTML pages (`extract_article`) in one process on "
                    f"one CPU took {c['one_wall']:.2f} s; in {c['workers']} processes at once, one per CPU, "
                    + ", ".join(f"{x:.2f}" for x in c["many_walls"])
                    + f" s, so {c['workers']} CPUs give at most **{c['ceiling']:.2f}×** the throughput of one here "
                    f"(CPU seconds per page {c['cpu_per_page_ratio']:.2f}× those of the lone process; other load "
                    f"{c['foreign_cores']:.2f}). Virtual CPUs of one VM may share physical cores.",
                    "",
                ]
        for s in sc:
            for r in (s["one"], s["many"]):
                if r.get("status") in ("ok", "INVALID"):
                    lines.append(f"- {s['label']}, {r['workers']} worker(s): {r.get('shards', '?')} shards; {_phases(r)}; "
                                 f"ingest {r.get('ingest_seconds') or 0:.1f} worker-seconds.")
        lines.append("")

    mem = res.get("memory")
    if mem:
        lines += ["## 3. Memory on a big JSONL.gz", ""] + _ran(res, "memory")
        bad = _failed(mem)
        if bad:
            lines += [bad, ""]
        else:
            lines += [
                f"One gzip file (level {HUGE_GZ_LEVEL}) of {mem['stored_bytes'] / 10**9:.2f} GB stored, "
                f"{_num(mem.get('content_bytes', 0) / 10**9, '{:.2f}')} GB of JSONL, {mem.get('records_read', 0):,} records; "
                f"one build with {mem['workers']} workers, clean and dedup off."
                + (f" **INVALID**: {mem.get('error', '')}." if mem.get("status") == "INVALID" else ""),
                "",
                "| peak RSS | target | wall s | MB/s (wall, stored) | MB/s per core | records/s | other load |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                f"| {_mib(mem.get('peak_rss_bytes'))} ({mem['peak_rss_bytes'] / 10**9:.2f} GB) | < 1 GB | {mem['wall_seconds']:.1f} | "
                f"{_num(mem.get('mb_per_s'), '{:,.1f}')} | {_num(mem.get('mb_per_core_s'), '{:,.1f}')} | {_num(mem.get('docs_per_s'), '{:,.0f}')} | "
                f"{_num(mem.get('foreign_cores'), '{:.2f}')} |",
                "",
                f"- {mem.get('shards', '?')} shard(s); {_phases(mem)}.",
                "",
            ]

    q = res.get("quality")
    if q:
        lines += ["## 4. WARC path against JSONL path", ""] + _ran(res, "quality")
        corpus = res.get("corpus") or {}
        lines += [
            f"The same {corpus.get('pages', 0):,} generated pages, read once from `raw/*.jsonl.gz` (the page text as the "
            "generator renders it) and once from `warc/*.warc.gz` (the same pages as HTML, extracted with our "
            "trafilatura settings), each in a full default build (clean + dedup). WARC ids (WARC-Record-IDs) are "
            "mapped back to page ids by record order, checked by URL. Dedup pairs are scored against the truth stories "
            "from `dedup/clusters.parquet`; a page dropped before dedup counts as a singleton.",
            "",
            "| build | records read | quarantined | published | pair F1 | precision | recall | ARI | line precision | line recall | wall s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for key in ("jsonl", "warc"):
            r = q.get(key) or {}
            bad = _failed(r)
            if bad:
                lines.append(f"| {r.get('label', key)} | {bad} | | | | | | | | | |")
                continue
            d, c = r.get("dedup") or {}, r.get("cleaning") or {}
            lines.append(
                f"| {_label(r)} | {_num(r.get('records_read'), '{:,}')} | {sum((r.get('quarantined') or {}).values()):,} | "
                f"{_num(r.get('published'), '{:,}')} | {_num(d.get('f1'))} | {_num(d.get('precision'))} | {_num(d.get('recall'))} | "
                f"{_num(d.get('ari'))} | {_num(c.get('precision'))} | {_num(c.get('recall'))} | {r['wall_seconds']:.1f} |"
            )
        lines.append("")
        if q.get("f1_gap") is not None:
            lines += [f"F1 of the JSONL build minus F1 of the WARC build: {q['f1_gap']:+.4f} (target ≤ {TARGET_F1_GAP}).", ""]
        w = q.get("warc") or {}
        if w.get("quarantined"):
            lines += ["WARC build quarantined: " + ", ".join(f"{k} {v}" for k, v in w["quarantined"].items()) + ".", ""]
        el = q.get("extraction_lines") or {}
        if el:
            lines += [
                "Line scores (non-empty stripped lines of each text against the truth article, as multisets, summed) of "
                "extraction alone beside the full WARC build. *ours, extraction only* is the clean-off WARC build of "
                "section 1 (our trafilatura settings, no cleaning); *trafilatura.extract defaults* is "
                "`trafilatura.extract(html)` on the same pages' HTML; *ours, full build* is the published text of "
                "the WARC build above (extraction, then cleaning).",
                "",
                "| pages | extractor | pages scored | line precision | line recall | output lines | truth lines |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
            ]
            names = {"ours_full": "ours, full build (extract + clean)", "ours_extract": "ours, extraction only",
                     "trafilatura": "trafilatura.extract defaults"}
            for set_name, title in (("published", "published by the WARC build"), ("all", "every page with an article")):
                entry = el.get(set_name)
                if not entry:
                    continue
                for key in ("ours_full", "ours_extract", "trafilatura"):
                    s = entry.get(key)
                    if s:
                        lines.append(f"| {title} | {names[key]} | {s['docs']:,} | {_num(s['precision'])} | "
                                     f"{_num(s['recall'])} | {s['lines_out']:,} | {s['lines_truth']:,} |")
            lines.append("")
            if q.get("trafilatura_pages_per_s_per_core"):
                lines += [f"trafilatura.extract defaults ran {q['trafilatura_pages_per_s_per_core']:,.0f} pages/s per process "
                          f"and returned nothing for {q.get('trafilatura_empty', 0):,} pages with an article.", ""]

    ex = res.get("extraction")
    if ex:
        lines += ["## 5. Extraction on real news pages", ""] + _ran(res, "extraction")
        if ex.get("status") == "ok":
            lines += ["From `benchmarks.extraction.benchmark` on `../shared/corpora/html-news` (real pages, token scores; "
                      "pages/s on one core in the harness process):", "", ex["markdown"], ""]
        else:
            lines += [f"Skipped: {ex.get('error', '')}", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- main


def write_outputs(res: dict, results_path: Path, md_path: Path) -> None:
    res["targets"] = targets(res)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(_nan_to_null(res), indent=2, ensure_ascii=False, default=float) + "\n")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(render(res), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.cache = args.cache.resolve()
    res: dict = json.loads(args.results.read_text()) if args.results.exists() else {}
    if args.report_only:
        write_outputs(res, args.results, args.out)
        log(f"wrote {args.out}")
        return 0
    if res.get("schema") != SCHEMA:
        res = {}
    t_start = time.perf_counter()
    res.update(schema=SCHEMA, command=display_command(argv), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               workers=args.workers, repeat=args.repeat, code=code_version())
    res["machine"] = machine.describe({})
    res["machine"]["environments"] = {"runner and our build": machine.environment(sys.executable, RUNNER_PACKAGES)}
    sections = args.section_list
    corpus = ensure_synth(args.cache, args.pages, args.seed, args.source)
    res["corpus"] = {k: v for k, v in corpus.items() if k not in ("fingerprint", "root")}
    inputs = res.setdefault("inputs", {})
    big = None
    if "throughput" in sections or "scaling" in sections:
        big = ensure_big(args.cache, corpus, args.big_mb)
        inputs["big"] = {k: v for k, v in big.items() if k != "fingerprint"}

    def step(name: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        ran = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": res["command"], **code_version()}
        res[name] = fn()
        res.setdefault("section_runs", {})[name] = ran
        res.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        write_outputs(res, args.results, args.out)  # after every section, so an interrupted run leaves a page
        log(f"{name} done in {time.perf_counter() - t0:.0f} s; wrote {args.results} and {args.out}")

    throughput: list[dict] = res.get("throughput") or []  # an earlier run's, when this one skips it
    if "throughput" in sections:
        step("throughput", lambda: section_throughput(args, corpus, big))
        throughput = res["throughput"]
    if "scaling" in sections:
        step("scaling", lambda: section_scaling(args, corpus, big, throughput))
    if "memory" in sections and args.gz_gb > 0:
        huge = ensure_huge(args.cache, corpus, args.gz_gb)
        inputs["huge"] = {k: v for k, v in huge.items() if k != "fingerprint"}
        step("memory", lambda: section_memory(args, huge))
    if "quality" in sections:
        step("quality", lambda: section_quality(args, corpus, throughput))
    if "extraction" in sections:
        step("extraction", lambda: section_extraction(args))
    res["total_seconds"] = round(time.perf_counter() - t_start, 1)
    write_outputs(res, args.results, args.out)
    for t in res["targets"]:
        log(f"target {t['what']}: {t['value']} ({t['target']}) met={t['met']}")
    log(f"done in {res['total_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
