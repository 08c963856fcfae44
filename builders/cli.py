"""The `corpus` command: build a corpus from a config, or show the effective config."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Optional, Sequence

from builders import __version__
from builders.errors import BuildError, ConfigError

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpus", description="Build cleaned, deduplicated NLP corpora from raw scraped-news dumps."
    )
    parser.add_argument("--version", action="version", version=f"corpus-builders {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def config_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("config", metavar="CONFIG", help="the build's YAML config file")
        sub.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
            help="override one config value by its dotted key; the value is read as YAML "
                 "(e.g. --set dedup.minhash.threshold=0.7, --set dedup.minhash=false); repeatable",
        )
        sub.add_argument("--output", metavar="DIR", help="publish here instead of publish.output (a folder, or a URL: s3://...)")
        sub.add_argument("--workers", type=int, metavar="N", help="worker processes (executor.workers)")
        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")

    build = commands.add_parser("build", help="run the whole build and publish the result")
    config_options(build)
    build.add_argument("--quiet", action="store_true", help="no progress display and no summary table")
    build.add_argument("--keep-work", action="store_true", help="keep intermediate files (OUT/_work) for inspection")
    build.add_argument("--strict", action="store_true",
                       help="fail when any record is quarantined (input.max_quarantined=0)")
    build.add_argument("--overwrite", action="store_true",
                       help="replace the output folder even when it holds files that are not the previous release's")
    build.add_argument("--resume", action="store_true",
                       help="continue the unfinished build of the same output (killed, or failed on a full disk): "
                            "reuse each finished shard and reduce whose config and inputs are unchanged, redo the rest")

    show = commands.add_parser("config", help="validate a config and print it with every default filled in")
    config_options(show)

    explain = commands.add_parser("explain", help="show how cleaning treats one input document, line by line")
    config_options(explain)
    explain.add_argument("id", metavar="ID", help="the document's id (as published, or FILE:POSITION)")
    cluster = commands.add_parser("show-cluster", help="print a dedup cluster's members and what differs between them")
    cluster.add_argument("folder", metavar="OUT", help="the build's output folder")
    cluster.add_argument("id", metavar="ID", help="the id of any document of the cluster")
    cluster.add_argument("--full", action="store_true", help="every diff line, not the first 80 per copy")
    cluster.add_argument("--debug", action="store_true", help="show the traceback of an error")
    _release_commands(commands)
    return parser


def _release_commands(commands) -> None:
    verify = commands.add_parser("verify", help="check a release against its manifest.json (sizes and sha256)")
    verify.add_argument("folder", metavar="OUT", help="the release folder, or the URL it was published to")
    verify.add_argument("--debug", action="store_true", help="show the traceback of an error")
    publish = commands.add_parser("publish", help="upload a finished, verified release to the Hugging Face Hub")
    publish.add_argument("folder", metavar="OUT", help="the release folder")
    publish.add_argument("--to-hub", required=True, metavar="REPO", help="dataset repository id, e.g. user/news-corpus")
    publish.add_argument("--private", action="store_true", help="create the repository private")
    publish.add_argument("--debug", action="store_true", help="show the traceback of an error")


def _release(args) -> int:
    from pathlib import Path

    from builders import release

    if args.command == "verify" and release.is_url(args.folder):  # a release published to a URL
        folder = args.folder.rstrip("/")
        problems, extra, count = release.verify_url(folder)
        return _verified(folder, problems, extra, count)
    folder = Path(args.folder.removeprefix("file://"))
    if args.command == "publish":
        print(f"uploaded {folder} to {args.to_hub}: {release.upload(folder, args.to_hub, private=args.private)}")
        return EXIT_OK
    return _verified(folder, *release.verify(folder))


def _verified(folder, problems: list, extra: list, count: int) -> int:
    for problem in problems:
        print(f"{folder}/{problem}", file=sys.stderr)
    for rel in extra:
        print(f"not in the manifest (ignored): {folder}/{rel}")
    if problems:
        print(f"error: {len(problems)} of {count} files do not match {folder}/manifest.json", file=sys.stderr)
        return EXIT_FAILED
    print(f"ok: {count} files match {folder}/manifest.json")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        if args.command == "show-cluster":
            from builders.stages.dedup_show import show_cluster

            sys.stdout.write(show_cluster(args.folder, args.id, args.full))
            return EXIT_OK
        if args.command in ("verify", "publish"):
            return _release(args)
        from builders.config import dump_config, load_config

        overrides = list(args.overrides)
        if getattr(args, "strict", False):
            overrides.append("input.max_quarantined=0")
        config = load_config(args.config, overrides, output=args.output, workers=args.workers)
        if args.command == "config":
            sys.stdout.write(dump_config(config))
            return EXIT_OK
        if args.command == "explain":
            from builders.explain import explain

            sys.stdout.write(explain(config, args.id))
            return EXIT_OK
        return _build(config, args)
    except ConfigError as exc:
        return _fail(f"config error: {exc}", EXIT_CONFIG, args.debug)
    except BuildError as exc:
        return _fail(f"error: {exc}{_kept(exc)}", EXIT_FAILED, args.debug)
    except KeyboardInterrupt as exc:
        return _fail(f"interrupted{_kept(exc)}", 130, args.debug)
    except Exception as exc:  # a bug or an unforeseen environment problem: still one line by default
        return _fail(f"error: {type(exc).__name__}: {_first_line(exc)} (run with --debug for details){_kept(exc)}",
                     EXIT_FAILED, args.debug)


def _kept(exc: BaseException) -> str:
    """The end of a failed build's error line: where its finished work is kept for --resume."""
    kept = getattr(exc, "work_kept", None)
    return f"; finished work is kept in {kept}: run the same command with --resume to continue" if kept else ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(message, file=sys.stderr)
    return code


def _build(config, args) -> int:
    from rich.console import Console

    from builders.pipeline import run_build

    err = Console(stderr=True)
    if args.quiet:
        result = run_build(config, keep_work=args.keep_work, overwrite=args.overwrite, resume=args.resume)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=False,
        ) as bar:
            tasks: dict[str, int] = {}

            def tell(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done, total=total)

            result = run_build(config, progress=tell, keep_work=args.keep_work, overwrite=args.overwrite,
                               resume=args.resume)
    if not args.quiet:
        _summary(result, Console())
    if not result.stats["totals"]["reconciled"]:
        print("error: counts do not reconcile (read != published + rejected + quarantined); see stats.json", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _summary(result, console) -> None:
    from rich.table import Table

    stats = result.stats
    table = Table(title=f"{stats['name']}: published to {result.output}")
    for column in ("stage", "in", "out", "dropped", "seconds"):
        table.add_column(column, justify="left" if column in ("stage", "dropped") else "right")
    for name, stage in stats["stages"].items():
        notes = [f"{reason}: {n:,}" for reason, n in stage["dropped"].items()]
        notes += [f"quarantined {reason}: {n:,}" for reason, n in stage.get("quarantined", {}).items()]
        notes += [f"skipped {reason}: {n:,}" for reason, n in stage.get("skipped", {}).items()]
        dropped = "\n".join(notes) or "-"
        table.add_row(name, f"{stage['docs_in']:,}", f"{stage['docs_out']:,}", dropped, f"{stage['seconds']:.2f}")
    console.print(table)
    t = stats["totals"]
    console.print(
        f"read {t['read']:,} = published {t['published']:,} + rejected {t['rejected']:,} "
        f"+ quarantined {t['quarantined']:,} in {stats['seconds']:.1f}s with {stats['workers']} worker(s)"
        + (f" ({stats['workers_from']})" if stats.get("workers_from", "executor.workers") != "executor.workers" else "")
    )
    unused = stats["stages"].get("ingest", {}).get("unused_keys", {})
    if unused:
        names = ", ".join(sorted(unused)[:12]) + (", ..." if len(unused) > 12 else "")
        console.print(f"input keys not published (input.keep carries them): {names}", markup=False, highlight=False)
    for line in result.reused:
        console.print(f"reused from the unfinished build: {line}", markup=False, highlight=False)
    for q in result.quarantine_examples:
        field = f" field {q['field']!r}:" if q["field"] else ""
        console.print(f"quarantined: {q['file']}:{q['position']}:{field} {q['reason']}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    raise SystemExit(main())
