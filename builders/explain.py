"""`corpus explain`: one input document through cleaning, each removed line marked by its rule."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from builders.config import BuildConfig, expand_inputs
from builders.errors import BuildError
from builders.executors.local import LocalExecutor
from builders.readers import plan_shards, reader_for
from builders.stages.base import CorpusStep, Ledger


def find_document(config: BuildConfig, doc_id: str) -> tuple[pa.Table, str]:
    """The input record with this id, read as a build reads it (first match in input order)."""
    files = expand_inputs(config)
    with LocalExecutor(1) as executor:
        shards = plan_shards(config, files, executor, 1)
    for shard in shards:
        for piece in shard.pieces:
            reader = reader_for(piece.format, config.input)
            for table in reader.read([piece], Ledger()):
                hit = table.filter(pc.equal(table.column("id"), doc_id))
                if hit.num_rows:
                    return hit.slice(0, 1), piece.path
    raise BuildError(f"no input record has id {doc_id!r} (ids are as published: the id field, or FILE:POSITION)")


def explain(config: BuildConfig, doc_id: str) -> str:
    """A report: the page as cleaning first sees it with every removed line marked, what later steps
    did, and the text that would be published (or why the document would be dropped)."""
    from builders.pipeline import build_plan

    table, path = find_document(config, doc_id)
    row = table.to_pylist()[0]
    out = [f"id: {doc_id}", f"file: {path}"]
    out += [f"{k}: {row[k]}" for k in ("title", "url", "source", "date") if row.get(k) is not None]
    skipped, verdict, shown = [], None, False
    for stage in build_plan(config) if config.clean else []:
        if stage.stage != "clean":
            continue
        if isinstance(stage, CorpusStep):
            skipped.append(type(stage).__name__)
            continue
        ledger = Ledger()
        ledger.record_lines = True
        before = table.column("text")[0].as_py() or ""
        table = stage(table, ledger)
        removed = ledger.take_lines().to_pylist()
        stats = ledger.stage("clean")
        if removed and not shown:
            # The page as this step saw it, every line it removed marked with its rule.
            marks = {r["line"]: r["rule"] for r in removed}
            width = max(len(rule) for rule in marks.values())
            out += ["", f"--- the page as cleaning sees it ({type(stage).__name__} marks what it removes) ---"]
            for number, line in enumerate(before.split("\n"), 1):
                out.append(f"- {marks[number]:<{width}} | {line}" if number in marks else f"  {'':<{width}} | {line}")
            shown = True
        elif removed:
            out += ["", f"--- {type(stage).__name__} removes ---"]
            out += [f"- {r['rule']} | {r['text']}" for r in removed]
        if stats.lines_removed.get("dateline"):
            out.append(f"  (a wire dateline was cut from the start of a paragraph by {type(stage).__name__})")
        if stats.masked:
            out.append("  (masked: " + ", ".join(f"{k} {n}" for k, n in sorted(stats.masked.items())) + ")")
        if table.num_rows == 0:
            verdict = ", ".join(f"{reason}" for reason in stats.dropped) or "dropped"
            break
    if skipped:
        out += ["", f"(not run here: {', '.join(skipped)}, a corpus-wide step that needs every document; "
                    "a build with clean.record_lines shows what it removes)"]
    if verdict:
        out += ["", f"=== dropped by clean: {verdict} ==="]
    else:
        final = table.to_pylist()[0]
        extra = [f"{k}: {final[k]}" for k in ("title", "agency", "lang") if final.get(k) is not None]
        out += ["", "=== published text" + (f" ({'; '.join(extra)})" if extra else "") + " ===", final["text"] or ""]
    return "\n".join(out) + "\n"
