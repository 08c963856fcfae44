"""One command to benchmark our build against peer dedup tools on generated corpora and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from benchmarks import machine, report
from benchmarks.corpora import Corpus, ensure_corpus
from benchmarks.proc import run_measured
from benchmarks.scores import line_scores, pair_scores

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "corpora" / "bbc-news.jsonl.gz"
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
BENCH_VENV_PYTHON = REPO / ".venv-bench" / "bin" / "python"
VARIANTS = ("raw", "clean")

PEERS = {
    "datatrove": {
        "module": "benchmarks.peers.datatrove_minhash",
        "label": "datatrove",
        # spacy is what datatrove's English word tokenizer loads; none of its io/processing extras brings it.
        "requires": ["datatrove", "spacy", "orjson", "pyarrow"],
    },
    "datasketch": {
        "module": "benchmarks.peers.datasketch_minhash",
        "label": "datasketch",
        "requires": ["datasketch", "pyarrow"],
        "note": "one process: uses one core whatever --workers is",
    },
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated corpus sizes in pages")
    ap.add_argument("--peers", default="datatrove,datasketch", help=f"comma-separated from {sorted(PEERS)}, or none")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="default", choices=("default", "hard"),
                    help="generator profile: hard adds adversarial stories, copy edits and chrome (builders.synth.hard)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpora and run outputs (gitignored)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="real articles the generator draws from")
    ap.add_argument("--peer-max-pages", type=int, default=None, help="skip peers on corpora larger than this")
    ap.add_argument("--peer-python", default=None, help="interpreter for peers (default: first that imports them)")
    ap.add_argument("--corpus-cmd", default=None, help="command for our build (default: the corpus script)")
    ap.add_argument("--synth-module", default="builders.synth", help="generator module run with this interpreter")
    ap.add_argument("--timeout", type=float, default=None, help="seconds before a run is killed and FAILED")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the markdown from results JSON")
    args = ap.parse_args(argv)
    args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.peer_list = [] if args.peers.strip().lower() in ("", "none") else [p.strip() for p in args.peers.split(",")]
    unknown = [p for p in args.peer_list if p not in PEERS]
    if unknown:
        ap.error(f"unknown peers {unknown}; known: {sorted(PEERS)}")
    return args


def corpus_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "corpus"
    if script.exists():
        return [str(script)]
    found = shutil.which("corpus")
    return [found] if found else [sys.executable, "-m", "builders"]


def find_peer_python(peer: str, explicit: str | None) -> tuple[str | None, str]:
    """The first interpreter that imports everything the peer needs, or None and the last import error."""
    candidates = [explicit] if explicit else [sys.executable, str(BENCH_VENV_PYTHON)]
    error = "no candidate interpreter"
    for py in candidates:
        if not py or not Path(py).exists():
            error = f"interpreter not found: {py}"
            continue
        probe = "import " + ", ".join(PEERS[peer]["requires"])
        res = subprocess.run([py, "-c", probe], capture_output=True, text=True, cwd=REPO)
        if res.returncode == 0:
            return py, ""
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        error = f"{py}: {lines[-1] if lines else 'import failed'}"
    return None, error


def cpu_set(workers: int) -> list[int] | None:
    """The CPUs every run is confined to: the first `workers` available, or None when that is all of them."""
    available = sorted(os.sched_getaffinity(0))
    return None if workers >= len(available) else available[:workers]


def display_command(argv: list[str], module: str = "benchmarks.run") -> str:
    """The command line that ran `module`, with the interpreter relative to the repo when inside it."""
    py = Path(sys.executable)
    try:
        py_s = str(py.relative_to(REPO))
    except ValueError:
        py_s = str(py)
    return shlex.join([py_s, "-m", module, *argv])


def build_config(corpus: Corpus, out: Path, workers: int) -> dict:
    return {
        "name": f"bench-{corpus.pages}",
        "input": {
            "paths": [corpus.raw_glob],
            "format": "auto",
            "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"},
        },
        "clean": {},
        "dedup": {"exact": True, "minhash": {"threshold": 0.8, "num_perm": 128, "ngram": 5}, "keep": "earliest"},
        "publish": {"output": str(out), "formats": ["parquet"]},
        "executor": {"backend": "local", "workers": workers},
    }


def stage_rates(stats: dict) -> list[dict]:
    stages = stats.get("stages") or {}
    items = stages.items() if isinstance(stages, dict) else ((s.get("name", "?"), s) for s in stages)
    out = []
    for name, st in items:
        if not isinstance(st, dict):
            continue
        docs_in, seconds = st.get("docs_in"), st.get("seconds")
        rate = docs_in / seconds if isinstance(docs_in, (int, float)) and seconds else None
        out.append({"name": name, "docs_in": docs_in, "seconds": seconds, "records_per_s": rate})
    return out


class Truth:
    def __init__(self, corpus: Corpus):
        t = pq.read_table(corpus.truth_path, columns=["id", "story"])
        self.ids = t.column("id").to_pylist()
        self.stories = t.column("story").to_pylist()
        self._path = corpus.truth_path
        self._text: dict | None = None

    @property
    def text(self) -> dict:
        if self._text is None:
            t = pq.read_table(self._path, columns=["id", "text"])
            self._text = dict(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))
        return self._text

    def score_clusters(self, path: Path) -> dict:
        c = pq.read_table(path, columns=["id", "cluster"])
        return pair_scores(self.ids, self.stories, c.column("id").to_pylist(), c.column("cluster").to_pylist()).as_dict()


def base_record(system: str, label: str, variant: str) -> dict:
    return {"system": system, "label": label, "variant": variant, "status": "ok"}


def measured_fields(rec: dict, m, pages: int) -> None:
    rec.update(
        wall_seconds=round(m.wall_seconds, 3),
        peak_rss_bytes=m.peak_rss_bytes,
        rss_samples=m.samples,
        docs_per_s=pages / m.wall_seconds if m.wall_seconds > 0 else None,
        returncode=m.returncode,
    )


def run_and_measure(rec: dict, cmd: list[str], run_dir: Path, name: str, corpus: Corpus, args, env=None) -> bool:
    """Run one tool as a whole measured process; on failure mark the record FAILED and say why."""
    try:
        m = run_measured(cmd, run_dir, name, cwd=REPO, env=env, timeout=args.timeout, cpus=cpu_set(args.workers))
    except OSError as exc:
        rec.update(status="FAILED", error=f"could not start: {exc}")
        return False
    measured_fields(rec, m, corpus.pages)
    if m.returncode != 0:
        rec.update(status="FAILED", error=m.error_line())
        return False
    return True


def run_ours(corpus: Corpus, truth: Truth, run_dir: Path, args) -> dict:
    rec = base_record("ours", "our build", "raw")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    out = run_dir / "out"
    run_dir.mkdir(parents=True)
    cfg_path = run_dir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(build_config(corpus, out, args.workers), sort_keys=False))
    cmd = [*corpus_command(args.corpus_cmd), "build", str(cfg_path), "--output", str(out), "--workers", str(args.workers)]
    rec["cmd"] = cmd
    rec["load_before"] = list(os.getloadavg())
    log(f"our build on {corpus.pages} pages: {shlex.join(cmd)}")
    if not run_and_measure(rec, cmd, run_dir, "ours", corpus, args):
        return rec
    try:
        rec["scores"] = truth.score_clusters(out / "dedup" / "clusters.parquet")
        published = []
        for f in sorted(glob.glob(str(out / "data" / "train-*.parquet"))):
            t = pq.read_table(f, columns=["id", "text"])
            published.extend(zip(t.column("id").to_pylist(), t.column("text").to_pylist()))
        rec["published"] = len(published)
        rec["cleaning"] = line_scores(published, truth.text).as_dict()
        stats_path = out / "stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        rec["stages"] = stage_rates(stats)
        rec["phase_seconds"] = stats.get("phase_seconds") or {}
        rec["build_seconds"] = stats.get("seconds")
    except Exception as exc:  # a malformed output is a failed run, reported with its cause
        rec.update(status="FAILED", error=f"scoring our output: {type(exc).__name__}: {exc}")
    return rec


def run_peer(peer: str, variant: str, corpus: Corpus, truth: Truth, run_dir: Path, args) -> dict:
    spec = PEERS[peer]
    rec = base_record(peer, spec["label"], variant)
    if args.peer_max_pages is not None and corpus.pages > args.peer_max_pages:
        rec.update(status="not run", note=f"not run above {args.peer_max_pages:,} pages")
        return rec
    py, err = find_peer_python(peer, args.peer_python)
    if py is None:
        rec.update(status="FAILED", error=f"no interpreter can import {', '.join(spec['requires'])}: {err}")
        return rec
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    glob_ = corpus.raw_glob if variant == "raw" else corpus.clean_glob
    cmd = [py, "-m", spec["module"], "--input", glob_, "--text-field", "text", "--workers", str(args.workers),
           "--out", str(run_dir / "out")]  # fmt: skip
    rec.update(cmd=cmd, python=py, load_before=list(os.getloadavg()))
    if spec.get("note"):
        rec["note"] = spec["note"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log(f"{peer} ({variant}) on {corpus.pages} pages: {shlex.join(cmd)}")
    if not run_and_measure(rec, cmd, run_dir, peer, corpus, args, env=env):
        return rec
    try:
        rec["scores"] = truth.score_clusters(run_dir / "out" / "clusters.parquet")
        info = run_dir / "out" / "peer.json"
        if info.exists():
            rec["peer_info"] = json.loads(info.read_text())
    except Exception as exc:
        rec.update(status="FAILED", error=f"scoring peer output: {type(exc).__name__}: {exc}")
    return rec


def add_speed_ratios(runs: list[dict]) -> None:
    ours = next((r for r in runs if r["system"] == "ours" and r["status"] == "ok"), None)
    for r in runs:
        if ours and r is not ours and r["status"] == "ok" and r.get("docs_per_s"):
            r["speed_ratio"] = ours["docs_per_s"] / r["docs_per_s"]


def benchmark_size(size: int, args, argv: list[str], machine_info: dict) -> dict:
    corpus = ensure_corpus(args.cache, size, args.seed, args.source, synth_module=args.synth_module, log=log,
                           profile=args.profile)
    truth = Truth(corpus)
    runs_root = args.cache / "runs" / corpus.root.name
    load = list(os.getloadavg())
    runs = [run_ours(corpus, truth, runs_root / "ours", args)]
    for peer in args.peer_list:
        for variant in VARIANTS:
            runs.append(run_peer(peer, variant, corpus, truth, runs_root / f"{peer}-{variant}", args))
    add_speed_ratios(runs)
    for r in runs:
        s = r.get("scores") or {}
        log(
            f"{r['label']} ({r['variant']}): {r['status']} {r.get('error', '')} "
            f"F1={s.get('f1')} ARI={s.get('ari')} docs/s={r.get('docs_per_s')} peak={r.get('peak_rss_bytes')}"
        )
    return {
        "schema": 1,
        "size": size,
        "seed": args.seed,
        "profile": args.profile,
        "workers": args.workers,
        "cpus": cpu_set(args.workers),
        "command": display_command(argv),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load,
        "machine": machine_info,
        "corpus": {k: v for k, v in corpus.info.items() if k != "command"},
        "runs": runs,
    }


def _nan_to_null(x):
    if isinstance(x, float) and x != x:
        return None
    if isinstance(x, dict):
        return {k: _nan_to_null(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_null(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.cache = args.cache.resolve()
    results_dir = report.results_dir_for(args.out)
    if not args.report_only:
        peer_pythons = {p: find_peer_python(p, args.peer_python)[0] for p in args.peer_list}
        machine_info = machine.describe({p: py for p, py in peer_pythons.items() if py})
        results_dir.mkdir(parents=True, exist_ok=True)
        for size in args.size_list:
            res = benchmark_size(size, args, argv, machine_info)
            path = results_dir / f"results-{size}.json"
            path.write_text(json.dumps(_nan_to_null(res), indent=2, default=float) + "\n")
            log(f"wrote {path}")
            # Rebuild after every size so an interrupted sweep still leaves a current page.
            report.write_report(args.out)
    md = report.write_report(args.out)
    log(f"wrote {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
