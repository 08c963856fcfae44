"""Render docs/benchmarks.md and the scaling plot from every results-<size>.json present."""

from __future__ import annotations

import re

import json
import math
from pathlib import Path

RESULTS_GLOB = "results-*.json"


def results_dir_for(md_path: Path) -> Path:
    return md_path.with_suffix("")


def plot_path_for(md_path: Path) -> Path:
    return md_path.with_name(md_path.stem + "-scaling.png")


def load_results(results_dir: Path) -> list[dict]:
    out = []
    for p in results_dir.glob(RESULTS_GLOB):
        out.append(json.loads(p.read_text()))
    return sorted(out, key=lambda r: r["size"])


def _num(x, fmt: str = "{:.3f}") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return fmt.format(x)


def _mib(b) -> str:
    return "—" if not b else f"{b / 2**20:,.0f} MiB"


def _run_name(run: dict) -> str:
    return f"{run['label']} ({run['variant']})"


def size_section(res: dict) -> list[str]:
    size = res["size"]
    corpus = res.get("corpus", {})
    lines = [f"## {size:,} pages", ""]
    where = f"Run {res['date']} with `{res['command']}`, seed {res['seed']}."
    if corpus:
        where += (
            f" Corpus: {corpus.get('raw_pages', size):,} pages of {_num(corpus.get('stories'), '{:,}')} stories"
            f" in {corpus.get('raw_files', '?')} JSONL.gz shards."
        )
    lines.append(where)
    # The machine may be shared: the 1-minute load before each run says how much to trust the speeds.
    loads = [r["load_before"][0] for r in res["runs"] if r.get("load_before")]
    if loads:
        lines[-1] += (
            f" 1-minute load average before each run: {min(loads):.2f} to {max(loads):.2f} "
            f"on {(res.get('machine') or {}).get('logical_cpus', '?')} CPUs."
        )
    lines += [
        "",
        "| run | input | F1 | ARI | precision | recall | docs/s | peak RSS | ours ÷ this (docs/s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for run in res["runs"]:
        status = run["status"]
        if status != "ok":
            detail = (run.get("error") or run.get("note") or "").replace("|", "\\|")
            cell = detail if status == "not run" and detail else f"{status}: {detail}"
            lines.append(f"| {run['label']} | {run['variant']} | {cell} | | | | | | |".replace("\n", " "))
            continue
        s = run.get("scores") or {}
        ratio = run.get("speed_ratio")
        lines.append(
            f"| {run['label']} | {run['variant']} | {_num(s.get('f1'))} | {_num(s.get('ari'))} | "
            f"{_num(s.get('precision'))} | {_num(s.get('recall'))} | {_num(run.get('docs_per_s'), '{:,.0f}')} | "
            f"{_mib(run.get('peak_rss_bytes'))} | {'—' if ratio is None else f'{ratio:.2f}×'} |"
        )
        note = f"- {run['label']}: {run['note']}" if run.get("note") else None
        if note and note not in notes:
            notes.append(note)
        stage_s = (run.get("peer_info") or {}).get("stage_seconds")
        if stage_s:
            parts = ", ".join(f"{k} {v:.1f} s" for k, v in stage_s.items())
            notes.append(f"- {run['label']} ({run['variant']}) stages inside its {run['wall_seconds']:.1f} s: {parts}")
    if notes:
        lines += ["", *notes]

    for run in res["runs"]:
        if run["status"] != "ok" or run["system"] != "ours":
            continue
        c = run.get("cleaning")
        if c:
            lines += [
                "",
                f"Cleaning, line level ({c['docs']:,} published documents against their truth articles): "
                f"precision {_num(c['precision'])}, recall {_num(c['recall'])} "
                f"({c['lines_matched']:,} of {c['lines_out']:,} output lines match; "
                f"{c['lines_truth']:,} truth lines).",
            ]
        stages = run.get("stages") or []
        if stages:
            lines += ["", "| our stage | records in | seconds | records/s |", "| --- | ---: | ---: | ---: |"]
            for st in stages:
                lines.append(
                    f"| {st['name']} | {_num(st.get('docs_in'), '{:,}')} | {_num(st.get('seconds'), '{:.2f}')} | "
                    f"{_num(st.get('records_per_s'), '{:,.0f}')} |"
                )
            lines += [
                "",
                "Stage seconds are as our `stats.json` reports them: summed over the workers, so records/s "
                "here is per worker-second, not wall-clock throughput.",
            ]
            phases = run.get("phase_seconds") or {}
            if phases:
                lines[-1] += " Wall-clock phases inside the build's own " + (
                    f"{run['build_seconds']:.1f} s: " if run.get("build_seconds") else ""
                ) + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + "."
    lines.append("")
    return lines


def machine_section(res: dict) -> list[str]:
    m = res.get("machine") or {}
    lines = ["## Machine", "", f"As recorded by the latest run ({res['date']}, {res['size']:,} pages):", ""]
    lines.append(
        f"- {m.get('cpu_model', '?')}; {m.get('logical_cpus', '?')} logical CPUs "
        f"({m.get('physical_cpus', '?')} physical); {_num(m.get('ram_gib'), '{:.1f}')} GiB RAM; {m.get('os', '?')}"
    )
    for env_name, env in (m.get("environments") or {}).items():
        pk = ", ".join(f"{k} {v}" for k, v in sorted(env.get("packages", {}).items()))
        lines.append(f"- {env_name}: Python {env.get('python', '?')} (`{env.get('executable', '?')}`); {pk}")
    lines.append("")
    return lines


METHOD = """\
How to read this: every run is one whole subprocess on the same generated files with the same
number of cores (`--workers`; when that is fewer than the machine has, each run is confined to
that many CPUs by affinity), timed by wall clock from start to exit. docs/s is corpus pages
divided by wall seconds, whatever the tool did with them. Peak RSS is the largest sum of the
resident set sizes of the process and all its descendants, sampled every 50 ms with psutil; pages
shared between forked workers are counted once per process, so multi-process tools are
over-stated somewhat, and a spike shorter than 50 ms can be missed.

Accuracy is scored against the generator's truth: two pages are a duplicate pair when they carry
the same story label. Precision, recall and F1 are over those pairs, counted from the contingency
table (no pair is ever enumerated); ARI is the adjusted Rand index of the two partitions. A page a
tool dropped before dedup, or did not report, is scored as its own singleton cluster. Precision is
"—" when a run predicted no pair at all.

Each peer runs twice: on the raw scraped pages (`raw`, site chrome included) and on the truth's
clean article text (`clean`, the same ids sharded the same way), which separates what its dedup
can do from what the chrome costs it. Our build runs on the raw pages only, since cleaning is part
of it; its cleaning is scored line by line: the non-empty stripped lines of each published text
against those of the truth article for the same id, as multisets, summed over the corpus.

- **our build**: `corpus build` with the generated config (exact + MinHash, threshold 0.8,
  128 permutations, word 5-grams) and `--workers N`.
- **datatrove**: its 4-stage MinHash (signatures → buckets → cluster → filter) with the default
  `MinhashConfig` (word 5-grams, 14 buckets × 8 hashes, 64-bit xxhash), `JsonlReader` on the same
  files, `LocalPipelineExecutor` with N tasks and N workers (stage 2 runs 14 tasks on N workers,
  stage 3 one task); cluster ids come from the filter stage's `minhash_cluster_id` metadata.
- **datasketch**: a `MinHash(num_perm=128)` per document over lower-cased whitespace word
  5-grams, `MinHashLSH(threshold=0.8, num_perm=128)` query then insert, union-find over the
  candidates returned (no Jaccard check); one process, so it uses one core whatever N is.

To reproduce: install the project with its `bench` extra, run `bash benchmarks/setup-peers.sh`
once (the peers live in their own `.venv-bench`, since datatrove 0.10.1 pins `xxhash<4` and
`trafilatura<1.12`), then the command shown under each size. Corpora and run outputs are cached
in `benchmarks/.cache/`; a rerun of one size replaces only that size's results.
"""


def render_markdown(results: list[dict], plot_name: str | None) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m benchmarks.run`; do not edit by hand (rerun it: each size's raw results are",
        "kept in `benchmarks/results-<size>.json` beside this file and the page is rebuilt from all of them).",
        "",
        METHOD,
    ]
    if not results:
        lines += ["No results yet.", ""]
        return "\n".join(lines)
    latest = max(results, key=lambda r: r["date"])
    lines += machine_section(latest)
    if plot_name:
        lines += ["## Scaling", "", f"![throughput and peak memory against corpus size]({plot_name})", ""]
    for res in results:
        lines += size_section(res)
    return "\n".join(lines).rstrip() + "\n"


def render_plot(results: list[dict], path: Path) -> bool:
    series: dict[str, list[tuple[int, float, float]]] = {}
    for res in results:
        for run in res["runs"]:
            if run["status"] == "ok" and run.get("docs_per_s"):
                series.setdefault(_run_name(run), []).append(
                    (res["size"], run["docs_per_s"], (run.get("peak_rss_bytes") or 0) / 2**20)
                )
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, pts in sorted(series.items()):
        pts.sort()
        xs = [p[0] for p in pts]
        style = "-o" if name.startswith("our build") else "--s"
        ax1.plot(xs, [p[1] for p in pts], style, label=name)
        ax2.plot(xs, [p[2] for p in pts], style, label=name)
    for ax, ylabel in ((ax1, "pages per second (wall clock)"), (ax2, "peak RSS of process tree (MiB)")):
        ax.set_xscale("log")
        # Tools differ by orders of magnitude in speed; a log scale keeps the slow ones readable.
        ax.set_yscale("log")
        ax.set_xlabel("corpus size (pages)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_title("Throughput")
    ax2.set_title("Peak memory")
    ax2.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


#: Sections of the page other benchmark scripts write (benchmarks/resume.py, the Ray overhead):
#: a rewrite keeps the existing page from the first of these headings on.
FOREIGN_SECTIONS = ("## Resume", "## Ray")


def foreign_tail(text: str) -> str:
    """The part of an existing page from the first heading another script owns, or ''."""
    starts = [m.start() for h in FOREIGN_SECTIONS for m in re.finditer(rf"(?m)^{re.escape(h)}\b", text)]
    return text[min(starts):] if starts else ""


def write_report(md_path: Path) -> Path:
    md_path = Path(md_path)
    results = load_results(results_dir_for(md_path))
    plot = plot_path_for(md_path)
    has_plot = render_plot(results, plot)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    tail = foreign_tail(md_path.read_text()) if md_path.exists() else ""
    page = render_markdown(results, plot.name if has_plot else None)
    md_path.write_text(page.rstrip("\n") + "\n\n" + tail if tail else page)
    return md_path
