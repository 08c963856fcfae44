"""Which lines cleaning gets wrong on a generated corpus, by shape and by rule, with examples.

    python -m benchmarks.lines_report --corpus CORPUS_DIR --run BUILD_OUT [--out report.md]
    python -m benchmarks.lines_report --corpus CORPUS_DIR --build BUILD_OUT [--out report.md]

``--run`` builds CORPUS_DIR/raw with the benchmark's config plus ``clean: {record_lines: true}``
into BUILD_OUT first; ``--build`` reads an existing build (one made with record_lines names the
rule that removed each line). The corpus is one from ``python -m builders.synth`` (for example
benchmarks/.cache/corpora/pages10000-seed0-hard); with the hard profile its labels/lines.parquet
names each page line's role (body or a chrome block) and each article line's shape, so the report
says which shapes lose lines and which chrome survives. Scoring is the benchmark's: published
documents only, lines compared as multisets of stripped non-empty lines.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from benchmarks.scores import text_lines

REPO = Path(__file__).resolve().parent.parent


def read_table(pattern: str, columns: list[str]):
    files = sorted(glob.glob(pattern))
    if not files:
        return None
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])


def run_build(corpus: Path, out: Path, workers: int, corpus_cmd: list[str]) -> None:
    from benchmarks.corpora import Corpus
    from benchmarks.run import build_config

    cfg = build_config(Corpus(corpus, 0, 0, {}), out, workers)
    cfg["name"] = "lines-report"
    cfg["clean"] = {"record_lines": True}
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = out.parent / f"{out.name}-config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = [*corpus_cmd, "build", str(cfg_path), "--output", str(out), "--workers", str(workers)]
    print("running:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, cwd=REPO)


def analyse(corpus: Path, build: Path, n_examples: int = 8) -> dict:
    truth = pq.read_table(corpus / "truth.parquet", columns=["id", "text", "kind"]).to_pylist()
    truth_text = {r["id"]: r["text"] for r in truth}
    kind = {r["id"]: r["kind"] for r in truth}
    pub = read_table(str(build / "data" / "train-*.parquet"), ["id", "text"])
    if pub is None:
        raise SystemExit(f"no published data under {build}/data")
    published = dict(zip(pub.column("id").to_pylist(), pub.column("text").to_pylist()))

    # Rule that removed each line: (id, stripped text) -> rules (a line may repeat on a page).
    removed: dict[tuple[str, str], list[str]] = defaultdict(list)
    lines_tab = read_table(str(build / "rejected-lines" / "*.parquet"), ["id", "stage", "rule", "text"])
    if lines_tab is not None:
        for i, st, rule, text in zip(*(lines_tab.column(c).to_pylist() for c in ("id", "stage", "rule", "text"))):
            removed[(i, text.strip())].append(f"{st}:{rule}")

    # Page line roles and article line shapes (hard profile labels).
    roles: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    fam: dict[str, str] = {}
    labels = corpus / "labels" / "lines.parquet"
    if labels.exists():
        lab = pq.read_table(labels, columns=["id", "role", "shape", "text"])
        for i, role, shape, text in zip(*(lab.column(c).to_pylist() for c in ("id", "role", "shape", "text"))):
            if i in published:
                roles[i][text.strip()].append((role, shape))
        pages_lab = pq.read_table(corpus / "labels" / "pages.parquet", columns=["id", "family"])
        fam = dict(zip(pages_lab.column("id").to_pylist(), pages_lab.column("family").to_pylist()))

    def shape_of(doc: str, line: str) -> str:
        hits = roles[doc].get(line)
        body = [s for r, s in hits or () if r == "body"]
        if body:
            return body[0] or "prose"
        if any(r == "body" and t.endswith(" " + line) for t, rs in roles[doc].items() for r, _ in rs):
            return "dateline_first"  # the page shows it with the site's dateline glued on
        return "?" if not roles[doc] else "prose"

    def role_of(doc: str, line: str) -> str:
        hits = roles[doc].get(line)
        if hits:
            chrome = [r for r, _ in hits if r != "body"]
            return chrome[0] if chrome else "body:" + (hits[0][1] or "prose") + " (extra copy)"
        if not roles[doc]:
            return "?"
        if any(line in t or t in line for t, rs in roles[doc].items() for r, _ in rs if r == "body" and len(t) > 20):
            return "body (changed by cleaning)"
        return "not on page (changed by cleaning)"

    lost = Counter()
    lost_ex: dict[tuple, list] = defaultdict(list)
    kept = Counter()
    kept_ex: dict[str, list] = defaultdict(list)
    truth_by_shape = Counter()
    chrome_total = Counter()
    out_lines = truth_lines = matched = 0
    for doc, text in published.items():
        if doc not in truth_text:
            continue
        got, want = Counter(text_lines(text)), Counter(text_lines(truth_text[doc]))
        out_lines += sum(got.values())
        truth_lines += sum(want.values())
        matched += sum((got & want).values())
        for line, n in want.items():
            truth_by_shape[shape_of(doc, line)] += n
        for line, rs in roles[doc].items():
            chrome_total[next((r for r, _ in rs if r != "body"), None)] += sum(r != "body" for r, _ in rs)
        for line, n in (want - got).items():
            shape = shape_of(doc, line)
            rules = removed.get((doc, line)) or (
                ["(kept, with its dateline)"] if shape == "dateline_first" else ["(not recorded: changed or run without record_lines)"])
            key = (shape, rules[0])
            lost[key] += n
            if len(lost_ex[key]) < n_examples:
                lost_ex[key].append((doc, fam.get(doc, ""), line))
        for line, n in (got - want).items():
            role = role_of(doc, line)
            kept[role] += n
            if len(kept_ex[role]) < n_examples:
                kept_ex[role].append((doc, fam.get(doc, ""), line))
    chrome_total.pop(None, None)

    # Whole pages with an article that never reached the output, by the stage and reason that dropped them.
    dropped = Counter()
    dropped_ex: dict[str, list] = defaultdict(list)
    rej = read_table(str(build / "rejected" / "*.parquet"), ["id", "stage", "reason"])
    if rej is not None:
        for i, st, reason in zip(*(rej.column(c).to_pylist() for c in ("id", "stage", "reason"))):
            if st == "dedup" or not truth_text.get(i):
                continue
            key = f"{st}:{reason} ({kind.get(i)}, {fam.get(i, '')})"
            dropped[key] += 1
            if len(dropped_ex[key]) < 3:
                dropped_ex[key].append(i)
    return dict(docs=len(published), lines_out=out_lines, lines_truth=truth_lines, matched=matched,
                precision=matched / out_lines if out_lines else float("nan"),
                recall=matched / truth_lines if truth_lines else float("nan"),
                truth_by_shape=truth_by_shape, lost=lost, lost_ex=lost_ex, kept=kept, kept_ex=kept_ex,
                chrome_total=chrome_total, dropped=dropped, dropped_ex=dropped_ex)


def _cell(s: str, width: int = 160) -> str:
    s = s.replace("|", "\\|").replace("\xa0", "␣")
    return s if len(s) <= width else s[: width - 1] + "…"


def render(res: dict, corpus: Path, build: Path) -> str:
    out = [f"# Cleaning line errors: {corpus.name}", "",
           f"Build `{build}`: {res['docs']:,} published documents, {res['lines_out']:,} lines out, "
           f"{res['lines_truth']:,} truth lines, line precision {res['precision']:.4f}, recall {res['recall']:.4f}.", ""]
    lost_by_shape = Counter()
    for (shape, _), n in res["lost"].items():
        lost_by_shape[shape] += n
    out += ["## Article lines by shape", "", "| shape | truth lines | lost | recall |", "| --- | ---: | ---: | ---: |"]
    for shape, n in res["truth_by_shape"].most_common():
        k = lost_by_shape.get(shape, 0)
        out.append(f"| {shape} | {n:,} | {k:,} | {1 - k / n:.3f} |")
    out += ["", "## Lost article lines by shape and rule", "", "| shape | rule | lines |", "| --- | --- | ---: |"]
    for (shape, rule), n in res["lost"].most_common():
        out.append(f"| {shape} | {rule} | {n:,} |")
    out += ["", "Examples (page id, story family, line):", ""]
    for (shape, rule), _ in res["lost"].most_common():
        out.append(f"- **{shape} / {rule}**")
        out += [f"  - `{d}` {f}: {_cell(t)!r}" for d, f, t in res["lost_ex"][(shape, rule)]]
    out += ["", "## Chrome lines kept, by role", "",
            "| role | lines on published pages | kept | kept share |", "| --- | ---: | ---: | ---: |"]
    for role, n in res["kept"].most_common():
        tot = res["chrome_total"].get(role)
        out.append(f"| {role} | {tot if tot is not None else '-'} | {n:,} | "
                   + (f"{n / tot:.3f}" if tot else "-") + " |")
    out += ["", "Examples (page id, story family, line):", ""]
    for role, _ in res["kept"].most_common():
        out.append(f"- **{role}**")
        out += [f"  - `{d}` {f}: {_cell(t)!r}" for d, f, t in res["kept_ex"][role]]
    if res["dropped"]:
        out += ["", "## Pages with an article rejected whole (not by dedup)", "", "| stage:reason (kind, family) | pages | examples |",
                "| --- | ---: | --- |"]
        for key, n in res["dropped"].most_common():
            out.append(f"| {key} | {n:,} | {', '.join(res['dropped_ex'][key])} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="a generated corpus (truth.parquet, raw/, labels/)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--build", type=Path, help="an existing build output of that corpus")
    g.add_argument("--run", type=Path, help="build the corpus (with clean.record_lines) into this directory first")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--corpus-cmd", default=None, help="command for our build (default: as benchmarks.run)")
    ap.add_argument("--examples", type=int, default=8, help="examples per group")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (default: stdout)")
    ap.add_argument("--json", type=Path, default=None, help="also write the counts as JSON")
    args = ap.parse_args(argv)
    build = args.build
    if args.run:
        from benchmarks.run import corpus_command

        run_build(args.corpus.resolve(), args.run.resolve(), args.workers, corpus_command(args.corpus_cmd))
        build = args.run
    res = analyse(args.corpus, build, args.examples)
    md = render(res, args.corpus, build)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md, encoding="utf-8")
    else:
        sys.stdout.write(md)
    if args.json:
        args.json.write_text(json.dumps({
            "precision": res["precision"], "recall": res["recall"], "docs": res["docs"],
            "truth_by_shape": dict(res["truth_by_shape"]),
            "lost": {f"{s} / {r}": n for (s, r), n in res["lost"].most_common()},
            "kept": dict(res["kept"].most_common()), "chrome_total": dict(res["chrome_total"]),
            "dropped": dict(res["dropped"].most_common()),
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
