"""Publish: Parquet shards with Hub file names, a saved `datasets` dataset, stats.json and a dataset card."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders import __version__
from builders.config import BuildConfig, dump_config
from builders.schema import CORE_SCHEMA, public_columns

SPLIT = "train"

COLUMN_DOCS = {
    "id": "unique document id, from the input or made from file and line",
    "text": "the cleaned article text, paragraphs separated by a blank line",
    "title": "headline",
    "url": "page URL",
    "source": "site or domain the page came from",
    "agency": "news agency whose story it is, from the input or found in the dateline or credit line",
    "date": "publication or crawl time, UTC",
    "lang": "language code (ISO 639-1): from the input, else identified by fastText's lid.176",
    "lang_score": "the identifier's probability for `lang` (null when the input gave the language)",
}


@dataclass
class Published:
    rows: int
    files: list[Path]
    schema: pa.Schema
    #: Published documents per language code (None: unknown), most frequent first.
    languages: dict = field(default_factory=dict)


def publish(config: BuildConfig, staging: Path, sources: list[Path], executor=None) -> Published:
    """Re-chunk the surviving documents, in input order, into equal Parquet shards (and `datasets`).

    Each output shard is one task (through `executor` when given): its rows are a fixed range of
    the documents in order, found from the sources' Parquet metadata, so the files are the same
    whatever ran them.
    """
    counts = [pq.ParquetFile(s).metadata.num_rows for s in sources]
    total = sum(counts)
    # As few files as publish.shard_rows allows, of equal size (105,000 rows at 100,000 a file make
    # two of 52,500, not 100,000 and 5,000), so the tasks writing them share the work evenly.
    n_files = max(1, math.ceil(total / config.publish.shard_rows))
    per_file = max(1, math.ceil(total / n_files))
    data = staging / "data"
    data.mkdir(parents=True, exist_ok=True)
    names = [data / f"{SPLIT}-{i:05d}-of-{n_files:05d}.parquet" for i in range(n_files)]
    schema = public_columns(pq.ParquetFile(sources[0]).schema_arrow.empty_table()).schema if sources \
        else public_columns(CORE_SCHEMA.empty_table()).schema
    # Published files are the contract with users' loaders: written even when no shards
    # were asked for, because the `datasets` copy is made from them.
    jobs = [_ShardJob(str(names[i]), [str(s) for s in sources], counts, i * per_file, min(total, (i + 1) * per_file),
                      schema, config.input.batch_size) for i in range(n_files)]
    counts = [write_shard(job) for job in jobs] if executor is None else executor.map(write_shard, jobs)
    languages = Counter()
    for _, langs in counts:
        languages.update(langs)
    published = Published(total, names, schema, dict(languages.most_common()))
    if "hf" in config.publish.formats:
        save_hf(published, staging)
    if "parquet" not in config.publish.formats:
        for name in names:
            name.unlink()
        data.rmdir()
        published.files = []
    return published


@dataclass(frozen=True)
class _ShardJob:
    """Rows [start, stop) of the documents in order, read from `sources`, written to `path`."""

    path: str
    sources: list[str]
    counts: list[int]
    start: int
    stop: int
    schema: pa.Schema
    batch_size: int


def write_shard(job: _ShardJob) -> tuple[int, Counter]:
    """One published Parquet file: only the row groups of the sources that hold its rows are read.
    Returns the rows written and their languages."""
    written, languages = 0, Counter()
    with pq.ParquetWriter(job.path, job.schema) as writer:
        before = 0
        for source, count in zip(job.sources, job.counts):
            lo, hi = max(job.start, before), min(job.stop, before + count)
            if lo < hi:
                reader = pq.ParquetFile(source, pre_buffer=False)
                meta = reader.metadata
                groups, first, offset = [], None, 0
                for g in range(meta.num_row_groups):
                    rows = meta.row_group(g).num_rows
                    if offset + rows > lo - before and offset < hi - before:
                        groups.append(g)
                        first = offset if first is None else first
                    offset += rows
                at = before + (first or 0)  # global index of the first row read
                for batch in reader.iter_batches(batch_size=job.batch_size, row_groups=groups):
                    table = pa.Table.from_batches([batch])
                    a, b = max(lo - at, 0), min(hi - at, table.num_rows)
                    if a < b:
                        part = public_columns(table.slice(a, b - a)).cast(job.schema)
                        writer.write_table(part)
                        written += part.num_rows
                        if "lang" in part.column_names:
                            for item in pc.value_counts(part.column("lang")).to_pylist():
                                languages[item["values"]] += item["counts"]
                    at += table.num_rows
            before += count
    return written, languages


def save_hf(published: Published, staging: Path) -> None:
    """A `datasets.load_from_disk`-able copy, built from the Parquet shards with a private cache."""
    import datasets

    datasets.disable_progress_bars()
    if published.rows == 0:
        # The Parquet builder refuses files with no rows; an empty dataset still has its columns.
        features = datasets.Features.from_arrow_schema(published.schema)
        dataset = datasets.Dataset.from_dict({name: [] for name in published.schema.names}, features=features, split=SPLIT)
    else:
        cache = staging / "_work" / "hf-cache"
        dataset = datasets.Dataset.from_parquet(
            [str(f) for f in published.files], cache_dir=str(cache), split=SPLIT, keep_in_memory=False
        )
    # num_shards=1 for an empty dataset: `datasets` otherwise saves no shard and cannot load it back.
    dataset.save_to_disk(str(staging / "hf"), num_shards=1 if published.rows == 0 else None)


def card_languages(languages: dict, rows: int) -> list[str]:
    """Language codes for the card's header: those of at least 1% of the documents (all when few)."""
    known = [(code, n) for code, n in languages.items() if code]
    return [code for code, n in known if n * 100 >= rows] or [code for code, _ in known[:1]] or ["und"]


def write_stats(staging: Path, stats: dict) -> None:
    (staging / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")


def write_card(config: BuildConfig, staging: Path, stats: dict, published: Published) -> None:
    """README.md in the Hub's dataset-card format: metadata header, then what is in it and how it was made."""
    totals = stats["totals"]
    lines = [
        "---",
        f"pretty_name: {config.name}",
        "language:",
        *[f"- {code}" for code in card_languages(published.languages, published.rows)],
        "task_categories:",
        "- text-generation",
        "configs:",
        "- config_name: default",
        "  data_files:",
        f"  - split: {SPLIT}",
        f"    path: data/{SPLIT}-*.parquet",
        "---",
        "",
        f"# {config.name}",
        "",
        f"A cleaned and deduplicated news corpus built by corpus-builders {__version__} on "
        f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from {stats['inputs']} input file(s).",
        "",
        "## Counts",
        "",
        "| | documents |",
        "| --- | ---: |",
        f"| read | {totals['read']:,} |",
        f"| published | {totals['published']:,} |",
        f"| rejected (see `rejected/`) | {totals['rejected']:,} |",
        f"| quarantined, unreadable (see `quarantine/`) | {totals['quarantined']:,} |",
        "",
        "| stage | in | out | dropped |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, stage in stats["stages"].items():
        notes = [f"{reason}: {n:,}" for reason, n in stage["dropped"].items()]
        notes += [f"quarantined {reason}: {n:,}" for reason, n in stage.get("quarantined", {}).items()]
        notes += [f"skipped {reason}: {n:,}" for reason, n in stage.get("skipped", {}).items()]
        dropped = ", ".join(notes) or "-"
        lines.append(f"| {name} | {stage['docs_in']:,} | {stage['docs_out']:,} | {dropped} |")
    unused = stats["stages"].get("ingest", {}).get("unused_keys", {})
    if unused:
        lines += ["", "Input record keys not published (neither mapped to a column nor listed in `input.keep`): "
                  + ", ".join(f"`{k}`" for k in sorted(unused)) + "."]
    if published.languages:
        lines += ["", "## Languages", "", "| language | documents |", "| --- | ---: |"]
        lines += [f"| {code or 'unknown'} | {n:,} |" for code, n in list(published.languages.items())[:20]]
    lines += ["", "## Columns", "", "| column | type | meaning |", "| --- | --- | --- |"]
    for column in published.schema:
        meaning = COLUMN_DOCS.get(column.name, "kept from the input records (input.keep)")
        lines.append(f"| `{column.name}` | {column.type} | {meaning} |")
    lines += [
        "",
        "## Files",
        "",
        "- `data/train-NNNNN-of-NNNNN.parquet`: the published documents, in input order.",
        "- `hf/`: the same as a `datasets` dataset (`datasets.load_from_disk`)." if "hf" in config.publish.formats else None,
        "- `dedup/clusters.parquet`: every document that reached dedup, its cluster (the surviving copy's id), "
        "whether it was kept and how it matched (exact or minhash)." if config.dedup else None,
        "- `rejected/*.parquet`: every dropped document with its stage, reason and text.",
        "- `quarantine/*.parquet`: input records that could not be read, with file, position and reason.",
        "- `stats.json`: counts and timings per stage.",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("parquet", data_dir="data", split="train")',
        "```",
        "",
        "## Build config",
        "",
        "```yaml",
        dump_config(config).rstrip(),
        "```",
        "",
    ]
    (staging / "README.md").write_text("\n".join(line for line in lines if line is not None) + "\n", encoding="utf-8")
