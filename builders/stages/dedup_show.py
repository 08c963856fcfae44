"""`corpus show-cluster OUT ID`: a cluster's members, and what differs between each and its survivor."""

from __future__ import annotations

import difflib
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from builders.errors import BuildError

#: Diff lines shown per member unless asked for all.
DIFF_LINES = 80
WRAP = 100


def _texts(folder: Path, ids: list[str]) -> dict[str, dict]:
    """id -> {text, source} from the published Parquet, then the rejected Parquet."""
    found: dict[str, dict] = {}
    wanted = pa.array(ids, pa.string())
    for sub in ("data", "rejected"):
        path = folder / sub
        if not path.is_dir():
            continue
        dataset = ds.dataset(path, format="parquet")
        table = dataset.to_table(columns=["id", "text", "source"], filter=pc.field("id").isin(wanted))
        for row in table.to_pylist():
            found.setdefault(row["id"], row)
    return found


def _lines(text: str) -> list[str]:
    """Paragraphs wrapped at a fixed width: a diff then shows the words that changed, not whole paragraphs."""
    out = []
    for paragraph in (text or "").split("\n"):
        out += textwrap.wrap(paragraph, WRAP) or [""]
    return out


def show_cluster(folder: str | Path, doc_id: str, full: bool = False) -> str:
    folder = Path(folder)
    path = folder / "dedup" / "clusters.parquet"
    if not path.is_file():
        raise BuildError(f"{folder}: no dedup/clusters.parquet (not a build output, or built with dedup: false)")
    clusters = ds.dataset(path, format="parquet")
    row = clusters.to_table(filter=pc.field("id") == doc_id).to_pylist()
    if not row:
        raise BuildError(f"{doc_id}: not in {path}")
    cluster = row[0]["cluster"]
    members = clusters.to_table(filter=pc.field("cluster") == cluster).to_pylist()
    members.sort(key=lambda r: (not r["kept"], r["id"] != cluster))
    texts = _texts(folder, [m["id"] for m in members] + [cluster])
    survivor = texts.get(cluster)
    lines = [f"cluster {cluster}: {len(members)} document(s) in this release"
             + (f", {members[0]['size']} with its copies" if members and members[0]["size"] != len(members) else "")]
    if not any(m["id"] == cluster for m in members):
        lines.append(f"survivor {cluster} was published by an earlier release (dedup.index); its text is not here")
    lines.append("")
    width = max(len(m["id"]) for m in members)
    lines.append(f"  {'id':<{width}}  {'role':<9}  {'method':<8}  {'similarity':>10}  source")
    for m in members:
        role = "survivor" if m["kept"] else "copy"
        sim = "" if m["similarity"] is None else f"{m['similarity']:.3f}"
        source = (texts.get(m["id"]) or {}).get("source") or ""
        lines.append(f"  {m['id']:<{width}}  {role:<9}  {m['method'] or '':<8}  {sim:>10}  {source}")
    for m in members:
        if m["id"] == cluster:
            continue
        lines += ["", f"--- {cluster} (survivor)  +++ {m['id']}"]
        mine = texts.get(m["id"])
        if survivor is None or mine is None:
            lines.append("  (text not available in this release)")
            continue
        diff = list(difflib.unified_diff(_lines(survivor["text"]), _lines(mine["text"]), lineterm="", n=1))[2:]
        if not diff:
            lines.append("  (same text once published; the page around it differed)")
            continue
        shown = diff if full else diff[:DIFF_LINES]
        lines += ["  " + d for d in shown]
        if len(shown) < len(diff):
            lines.append(f"  ... {len(diff) - len(shown)} more diff lines (--full shows them)")
    return "\n".join(lines) + "\n"
