"""The dataset card (OUT/README.md) in the Hub's format, its figures and OUT/inputs.json.

The YAML header is what the Hub and `datasets.load_dataset(OUT)` read: license, languages, task
and size categories, `configs` (the Parquet files of each split) and `dataset_info` (features,
splits with num_examples and num_bytes). The body says what the corpus is and how it was built,
from stats.json and the files themselves; it names only files that exist and no absolute path of
the machine that built it.

Figures are drawn here with numpy and zlib (a 5x7 bitmap font, horizontal bars): no plotting
dependency, and the same counts always make the same bytes, so a rebuild's manifest only changes
where the data did.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
import pyarrow.parquet as pq
import yaml

from builders import __version__
from builders.config import BuildConfig, dump_config
from builders.stages.publish import COLUMN_DOCS, KEPT_DOC, LENGTH_BINS, Published, card_languages, hf_features

SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
                   (10_000_000_000, "1B<n<10B")]
KEEP_RULES = {
    "earliest": "the copy with the earliest date (undated copies last), ties to input order",
    "longest": "the copy with the longest text, ties to input order",
    "first": "the first copy in input order",
}
REJECTED_COLUMNS = {
    "id": "the document's id", "stage": "the stage that dropped it", "reason": "why (see the funnel above)",
    "text": "its text as the stage saw it", "url": "page URL", "source": "site",
    "duplicate_of": "for dedup: the id of the published copy it duplicates",
    "_ord": "input position: index of the input file (order of inputs.json) * 2**36 + the record's position in it",
}
CLUSTER_COLUMNS = {
    "cluster": "the surviving copy's id", "kept": "whether this document is the survivor",
    "method": "exact, minhash or lead: the producer that verified it against its survivor; null for a document with no copy",
    "similarity": "the estimated Jaccard similarity of the shingles (of the openings, for lead) that joined it to its "
                  "survivor; null for a survivor",
    "duplicate_of": "the survivor it copies", "size": "documents in its cluster",
}
SAMPLE_CHARS = 300


def size_category(rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>10B"


def portable(path: str, base: Optional[Path]) -> str:
    """A path as the card may show it: URLs as they are, local paths relative to `base` when
    below it, else `<local>/` and the last two parts. Never an absolute path of this machine."""
    if "://" in path or not os.path.isabs(path):
        return path
    rel = os.path.relpath(path, base) if base is not None else ".."
    if not rel.startswith(".."):
        return Path(rel).as_posix()
    return "<local>/" + "/".join(Path(path).parts[-2:])


def portable_config(config: BuildConfig) -> str:
    """The effective config as YAML with every machine path made relative to the release's
    parent folder (or redacted), the output shown as the release folder's name."""
    url = "://" in config.publish.output  # a URL output: local paths have no folder in common with it
    output = Path(config.publish.output.rstrip("/"))
    data = yaml.safe_load(dump_config(config))

    def walk(node):
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and os.path.isabs(node):
            return portable(node, None if url else output.parent)
        return node

    data = walk(data)
    data["publish"]["output"] = output.name
    # Where the intermediate files went says nothing about the dataset (and names a machine's disk).
    data.pop("workdir", None)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def card_header(config: BuildConfig, published: Published) -> dict:
    """The card's YAML metadata: what the Hub shows and `datasets.load_dataset(OUT)` reads."""
    header = {
        "pretty_name": config.name,
        "license": config.publish.license,
        "language": card_languages(published.languages, published.rows),
        "task_categories": ["text-generation"],
        "task_ids": ["language-modeling"],
        "size_categories": [size_category(published.rows)],
        "tags": ["news"],
    }
    if published.files:  # the Parquet files are the data the Hub and load_dataset read
        header["configs"] = [{
            "config_name": "default",
            "data_files": [{"split": name, "path": f"data/{name}-*"} for name in published.splits],
        }]
        header["dataset_info"] = {
            "features": hf_features(published.schema)._to_yaml_list(),
            "splits": [{"name": n, "num_bytes": s.num_bytes, "num_examples": s.rows} for n, s in published.splits.items()],
            "download_size": sum(p.stat().st_size for p in published.files),
            "dataset_size": sum(s.num_bytes for s in published.splits.values()),
        }
    return header


def size_rows(sizes: dict) -> list[tuple[str, int]]:
    """Clusters by size: each size up to 10, then ranges (11-20, 21-50, 51-100, ...)."""
    bounds = [11, 21, 51, 101, 201, 501, 1001, 10**12]
    rows: dict[str, int] = {}
    for size, n in sorted(((int(k), v) for k, v in sizes.items())):
        if size <= 10:
            label = str(size)
        else:
            lo = max(b for b in bounds if b <= size)
            hi = bounds[bounds.index(lo) + 1] - 1
            label = f"{lo:,}-{hi:,}" if hi < 10**11 else f"{lo:,}+"
        rows[label] = rows.get(label, 0) + n
    return list(rows.items())


def dedup_outcome(staging: Path) -> dict | None:
    """OUT/dedup/summary.json when the dedup stage writes it; else counted from clusters.parquet
    batch by batch: clusters of two or more documents by size, duplicates dropped."""
    summary = staging / "dedup" / "summary.json"
    if summary.is_file():
        return json.loads(summary.read_text(encoding="utf-8"))
    clusters = staging / "dedup" / "clusters.parquet"
    if not clusters.is_file():
        return None
    sizes, duplicates = Counter(), 0
    for batch in pq.ParquetFile(clusters).iter_batches(batch_size=65536, columns=["kept", "size"]):
        kept = batch.column(0).to_numpy(zero_copy_only=False)
        size = batch.column(1).to_numpy(zero_copy_only=False)
        duplicates += int((~kept.astype(bool)).sum())
        for value, n in zip(*np.unique(size[kept.astype(bool) & (size >= 2)], return_counts=True)):
            sizes[int(value)] += int(n)
    return {"clusters": sum(sizes.values()), "duplicates": duplicates,
            "sizes": {str(k): sizes[k] for k in sorted(sizes)}}


def write_card(config: BuildConfig, staging: Path, stats: dict, published: Published) -> None:
    inputs_base = Path(os.path.commonpath([i["path"] for i in published.inputs if os.path.isabs(i["path"])]
                                          or [str(Path(config.publish.output).parent)]))
    if len(published.inputs) == 1 and os.path.isfile(published.inputs[0]["path"]):
        inputs_base = inputs_base.parent
    inputs = [{**i, "path": portable(i["path"], inputs_base)} for i in published.inputs]
    (staging / "inputs.json").write_text(json.dumps(inputs, indent=1) + "\n", encoding="utf-8")
    figures = write_figures(staging, published)
    header = yaml.safe_dump(card_header(config, published), sort_keys=False, allow_unicode=True)
    totals = stats["totals"]
    has = {name: (staging / name).exists() for name in ("data", "hf", "rejected", "rejected-lines", "quarantine", "dedup")}
    lines = [
        "---", header.rstrip(), "---", "",
        f"# {config.name}", "",
        f"A corpus of news articles scraped from the web, cleaned{' and deduplicated' if config.dedup else ''}: "
        f"{published.rows:,} documents ({published.words:,} words) from {totals['read']:,} records in "
        f"{len(published.inputs):,} input file(s), built by corpus-builders {__version__} on "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. License: `{config.publish.license}`.",
        "",
        "## Loading", "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("path/to/this/folder")  # or the Hub repository id: every split'
        if published.files else 'ds = datasets.load_from_disk("path/to/this/folder/hf")',
        "```", "",
    ]
    if published.files:
        lines += ["The Parquet files also read with `pandas.read_parquet(\"data\")`, `pyarrow.dataset.dataset(\"data\")` "
                  + ("and `datasets.load_from_disk(\"hf\")`." if has["hf"] else "."), ""]
    if published.files:
        lines += ["## Splits", "", "| split | documents | files | Parquet bytes | Arrow bytes |", "| --- | ---: | ---: | ---: | ---: |"]
    else:
        lines += ["## Splits", "", "| split | documents | Arrow bytes |", "| --- | ---: | ---: |"]
    for name, split in published.splits.items():
        if published.files:
            size = sum(p.stat().st_size for p in split.files)
            lines.append(f"| {name} | {split.rows:,} | {len(split.files)} | {size:,} | {split.num_bytes:,} |")
        else:
            lines.append(f"| {name} | {split.rows:,} | {split.num_bytes:,} |")
    shares = ", ".join(f"{n}: {s:g}" for n, s in sorted(config.publish.splits.items()))
    lines += ["", f"Each document's split comes from its id alone ({shares}): the first 53 bits of xxh3-64 of the "
              "UTF-8 id, as a fraction of 2**53, fall in the shares' cumulative ranges taken in split-name order. "
              "A document keeps its split when documents are added or removed."]
    if published.empty_splits:
        lines.append("Splits with no document (no file): " + ", ".join(published.empty_splits) + ".")
    if config.dedup:
        lines.append("Only one copy of each story is published (see Deduplication), so no story spans two splits.")
    else:
        lines.append("Deduplication was off: copies of a story may be in different splits.")
    lines += ["", "## From records read to documents published", "",
              "| | documents |", "| --- | ---: |", f"| read | {totals['read']:,} |"]
    lines.append(f"| rejected{' (`rejected/`)' if has['rejected'] else ''} | {totals['rejected']:,} |")
    lines.append(f"| quarantined, unreadable{' (`quarantine/`)' if has['quarantine'] else ''} | {totals['quarantined']:,} |")
    lines += [f"| published | {totals['published']:,} |", "",
              "| stage | in | out | dropped |", "| --- | ---: | ---: | --- |"]
    for name, stage in stats["stages"].items():
        notes = [f"{reason}: {n:,}" for reason, n in stage["dropped"].items()]
        notes += [f"quarantined {reason}: {n:,}" for reason, n in stage.get("quarantined", {}).items()]
        notes += [f"skipped {reason}: {n:,}" for reason, n in stage.get("skipped", {}).items()]
        lines.append(f"| {name} | {stage['docs_in']:,} | {stage['docs_out']:,} | {', '.join(notes) or '-'} |")
    unused = stats["stages"].get("ingest", {}).get("unused_keys", {})
    if unused:
        lines += ["", "Input record keys not published (neither mapped to a column nor listed in `input.keep`): "
                  + ", ".join(f"`{k}`" for k in sorted(unused)) + "."]
    outcome = dedup_outcome(staging) if config.dedup else None
    if config.dedup:
        lines += ["", "## Deduplication", ""]
        methods = ["exact copies of the normalised text"] if config.dedup.exact else []
        mh = config.dedup.minhash
        if mh:
            near = (f"near copies by MinHash of word {mh.ngram}-grams (estimated Jaccard >= {mh.threshold:g}"
                    + (f", or a shorter text at least {mh.containment:g} inside a longer one: a truncated copy" if mh.containment else "")
                    + ")")
            methods.append(near)
            if mh.lead:
                methods.append(f"copies that open with the same words (Jaccard of their openings >= {mh.lead:g}, "
                               "the shorter mostly inside the longer)")
        lines.append(f"Matched: {'; '.join(methods) or 'nothing'}. Copies form clusters; the survivor of each "
                     f"is {KEEP_RULES.get(config.dedup.keep, config.dedup.keep)}.")
        if outcome:
            lines += ["", f"{sum(outcome['sizes'].values()):,} clusters of two or more documents; {outcome['duplicates']:,} "
                      "copies dropped.", "", "| cluster size | clusters |", "| ---: | ---: |"]
            lines += [f"| {label} | {n:,} |" for label, n in size_rows(outcome["sizes"])]
    if published.languages:
        lines += ["", "## Languages", "", "| language | documents |", "| --- | ---: |"]
        lines += [f"| {code or 'unknown'} | {n:,} |" for code, n in list(published.languages.items())[:20]]
        if "languages" in figures:
            lines += ["", f"![documents per language]({figures['languages']})"]
    if published.lengths:
        lines += ["", "## Lengths", "", f"Words per document (whitespace-separated), {published.words / max(1, published.rows):,.0f} on average.",
                  "", "| words | documents |", "| --- | ---: |"]
        for lo, n in published.lengths.items():
            lines.append(f"| {_bin_label(lo)} | {n:,} |")
        if "lengths" in figures:
            lines += ["", f"![words per document]({figures['lengths']})"]
    lines += ["", "## Columns", "", "| column | type | meaning |", "| --- | --- | --- |"]
    for column in published.schema:
        lines.append(f"| `{column.name}` | {column.type} | {COLUMN_DOCS.get(column.name, KEPT_DOC)} |")
    if published.samples:
        lines += ["", "## Sample records", "", f"The first documents of the release (text cut at {SAMPLE_CHARS} characters):", "", "```json"]
        for record in published.samples:
            shown = {k: (v[:SAMPLE_CHARS] + "..." if isinstance(v, str) and k == "text" and len(v) > SAMPLE_CHARS else v)
                     for k, v in record.items()}
            lines.append(json.dumps(shown, ensure_ascii=False, default=str))
        lines.append("```")
    lines += ["", "## Files", ""]
    if has["data"]:
        lines.append("- `data/{split}-NNNNN-of-NNNNN.parquet`: the published documents of each split, in input order "
                     f"(zstd; files up to {config.publish.max_shard_size:,} bytes"
                     + (f" or {config.publish.shard_rows:,} documents" if config.publish.shard_rows else "")
                     + "; each column's meaning in its Arrow field's `description`).")
    if has["hf"]:
        lines.append("- `hf/`: the same as a `datasets.DatasetDict` (`datasets.load_from_disk`).")
    if has["dedup"]:
        columns = _columns(staging / "dedup", "clusters.parquet")
        lines.append("- `dedup/clusters.parquet`: every document that reached dedup, one row each: "
                     + ", ".join(f"`{c}`" + (f" ({CLUSTER_COLUMNS[c]})" if c in CLUSTER_COLUMNS else "") for c in columns)
                     + ".")
    if has["rejected"]:
        lines.append("- `rejected/*.parquet`: every dropped document: " + ", ".join(
            f"`{c}` ({REJECTED_COLUMNS.get(c, 'kept from the documents')})" for c in _columns(staging / "rejected")) + ".")
    if has["rejected-lines"]:
        lines.append("- `rejected-lines/*.parquet`: every line cleaning removed: id, stage, line, rule, text.")
    if has["quarantine"]:
        lines.append("- `quarantine/*.parquet`: input records that could not be read: file, position, code, field, reason, raw.")
    if figures:
        lines.append("- `figures/`: " + ", ".join(f"`{Path(p).name}`" for p in figures.values()) + ".")
    lines += [
        "- `stats.json`: counts and timings per stage.",
        "- `inputs.json`: every input file with its size and sha256.",
        "- `manifest.json`: every file of this release with its size and sha256; `corpus verify FOLDER` checks a copy.",
        "", "## How it was built", "",
        f"corpus-builders {__version__} read {len(published.inputs):,} input file(s) "
        f"({sum(i['size'] for i in published.inputs):,} bytes), paths below relative to their common folder:", "",
        "| file | bytes | sha256 |", "| --- | ---: | --- |",
    ]
    lines += [f"| `{i['path']}` | {i['size']:,} | `{i['sha256']}` |" for i in inputs[:20]]
    if len(inputs) > 20:
        lines.append(f"| ... {len(inputs) - 20:,} more in `inputs.json` | | |")
    lines += ["", "The build config (paths relative to the folder holding this release):", "",
              "```yaml", portable_config(config).rstrip(), "```", ""]
    (staging / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _columns(folder: Path, pattern: str = "*.parquet") -> list[str]:
    first = next(iter(sorted(folder.glob(pattern))), None)
    return pq.ParquetFile(first).schema_arrow.names if first else []


def _bin_label(lo: int) -> str:
    i = LENGTH_BINS.index(lo)
    return f"{lo:,}+" if i + 1 == len(LENGTH_BINS) else f"{lo:,}-{LENGTH_BINS[i + 1] - 1:,}"


def write_figures(staging: Path, published: Published) -> dict:
    """figures/languages.png and figures/lengths.png; their paths relative to the release."""
    if not published.rows:
        return {}
    folder = staging / "figures"
    folder.mkdir(exist_ok=True)
    langs = list(published.languages.items())
    top = [(code or "unknown", n) for code, n in langs[:12]]
    if len(langs) > 12:
        top.append(("other", sum(n for _, n in langs[12:])))
    (folder / "languages.png").write_bytes(bar_chart("documents per language", top))
    lengths = [(_bin_label(lo), published.lengths.get(lo, 0)) for lo in LENGTH_BINS]
    (folder / "lengths.png").write_bytes(bar_chart("words per document", lengths))
    return {"languages": "figures/languages.png", "lengths": "figures/lengths.png"}


# A 5x7 bitmap font: each glyph is 7 rows of 5 pixels.
_FONT_ROWS = {
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
    "a": "00000 00000 01110 00001 01111 10001 01111", "b": "10000 10000 10110 11001 10001 10001 11110",
    "c": "00000 00000 01110 10000 10000 10001 01110", "d": "00001 00001 01101 10011 10001 10001 01111",
    "e": "00000 00000 01110 10001 11111 10000 01110", "f": "00110 01001 01000 11100 01000 01000 01000",
    "g": "00000 00000 01111 10001 01111 00001 01110", "h": "10000 10000 10110 11001 10001 10001 10001",
    "i": "00100 00000 01100 00100 00100 00100 01110", "j": "00010 00000 00110 00010 00010 10010 01100",
    "k": "10000 10000 10010 10100 11000 10100 10010", "l": "01100 00100 00100 00100 00100 00100 01110",
    "m": "00000 00000 11010 10101 10101 10001 10001", "n": "00000 00000 10110 11001 10001 10001 10001",
    "o": "00000 00000 01110 10001 10001 10001 01110", "p": "00000 00000 11110 10001 11110 10000 10000",
    "q": "00000 00000 01101 10011 01111 00001 00001", "r": "00000 00000 10110 11001 10000 10000 10000",
    "s": "00000 00000 01110 10000 01110 00001 11110", "t": "01000 01000 11100 01000 01000 01001 00110",
    "u": "00000 00000 10001 10001 10001 10011 01101", "v": "00000 00000 10001 10001 10001 01010 00100",
    "w": "00000 00000 10001 10001 10101 10101 01010", "x": "00000 00000 10001 01010 00100 01010 10001",
    "y": "00000 00000 10001 10001 01111 00001 01110", "z": "00000 00000 11111 00010 00100 01000 11111",
    "-": "00000 00000 00000 11111 00000 00000 00000", "+": "00000 00100 00100 11111 00100 00100 00000",
    ",": "00000 00000 00000 00000 00110 00100 01000", ".": "00000 00000 00000 00000 00000 01100 01100",
    "_": "00000 00000 00000 00000 00000 00000 11111", "?": "01110 10001 00001 00010 00100 00000 00100",
    " ": "00000 00000 00000 00000 00000 00000 00000",
}
_FONT = {ch: np.array([[c == "1" for c in row] for row in rows.split()], dtype=bool) for ch, rows in _FONT_ROWS.items()}
_SCALE = 2
_INK, _BAR, _PAPER = (40, 40, 40), (70, 120, 180), (255, 255, 255)


def _text(canvas: np.ndarray, x: int, y: int, text: str, color=_INK) -> None:
    for ch in text.lower():
        glyph = _FONT.get(ch, _FONT["?"])
        block = np.kron(glyph, np.ones((_SCALE, _SCALE), dtype=bool))
        h, w = block.shape
        if x + w > canvas.shape[1] or y + h > canvas.shape[0]:
            return
        canvas[y:y + h, x:x + w][block] = color
        x += 6 * _SCALE


def bar_chart(title: str, rows: list[tuple[str, int]], width: int = 640) -> bytes:
    """A horizontal bar chart as PNG bytes: a title, then one labelled bar and count per row."""
    char = 6 * _SCALE
    label_w = char * max([len(label) for label, _ in rows] + [4]) + char
    count_w = char * max([len(f"{n:,}") for _, n in rows] + [1]) + char
    line = 11 * _SCALE
    height = line * (len(rows) + 2)
    canvas = np.full((height, width, 3), _PAPER, dtype=np.uint8)
    _text(canvas, char, _SCALE * 3, title)
    top = max(1, max((n for _, n in rows), default=1))
    bar_room = max(10, width - label_w - count_w - char)
    for i, (label, n) in enumerate(rows):
        y = line * (i + 1) + _SCALE * 4
        _text(canvas, label_w - char * (len(label) + 1), y, label)
        length = int(round(bar_room * n / top))
        canvas[y:y + 7 * _SCALE, label_w:label_w + length] = _BAR
        _text(canvas, label_w + length + char // 2, y, f"{n:,}")
    return png(canvas)


def png(rgb: np.ndarray) -> bytes:
    """Encode an RGB uint8 image as PNG (no filtering, zlib level 9)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
