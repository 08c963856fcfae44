"""Command line for the synthetic corpus generator: python -m builders.synth --help."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .generate import PROFILES, SAMPLE_OUT, generate, generate_sample


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m builders.synth",
        description="Generate a labelled synthetic scraped-news corpus (raw pages, truth.parquet, manifest.json).",
    )
    ap.add_argument("--source", help="JSONL or JSONL.gz of source articles with title and text")
    ap.add_argument("--pages", type=int, help="exact number of pages to write")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--formats", default="jsonl", help="comma list of jsonl,html,warc (jsonl is always written)")
    ap.add_argument("--shard-pages", type=int, default=10000, help="pages per shard (default 10000)")
    ap.add_argument("--stories", default=None,
                    help='number of distinct stories, or "source" for exactly the source articles (default: drawn)')
    ap.add_argument("--junk", type=int, default=None, help="number of junk pages (default: 0.3%% of pages)")
    ap.add_argument("--followup-rate", type=float, default=0.03, help="share of stories that follow up an earlier one")
    ap.add_argument("--sites", type=int, default=300, help="number of simulated sites (default 300)")
    ap.add_argument("--profile", choices=PROFILES, default="default",
                    help="hard: adversarial stories, copy edits and chrome, with line-level truth in labels/")
    ap.add_argument("--sample", action="store_true",
                    help=f"regenerate the shipped sample from builders/synth/data/sample_stories.jsonl into {SAMPLE_OUT} (or --out)")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    if args.sample:
        manifest = generate_sample(args.out)
    else:
        missing = [n for n in ("source", "pages", "out") if getattr(args, n) is None]
        if missing:
            ap.error("missing " + ", ".join("--" + m for m in missing) + " (or use --sample)")
        try:
            manifest = generate(
                args.source, args.out, args.pages, seed=args.seed, formats=args.formats.split(","),
                shard_pages=args.shard_pages,
                stories=args.stories if args.stories in (None, "source") else int(args.stories),
                junk=args.junk, followup_rate=args.followup_rate, n_sites=args.sites, profile=args.profile,
            )
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elapsed = time.perf_counter() - t
    print(json.dumps({"pages": manifest["pages"], "stories": manifest["stories"], "kinds": manifest["kinds"],
                      "seconds": round(elapsed, 1)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
