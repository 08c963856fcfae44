"""Site chrome found by corpus statistics: lines a site repeats on pages about different stories.

A site's own chrome (its name and tagline, menus, credit and sign-up lines, "Read also", even
stamps like "Published 03/01/2020 23:55" once digits are folded) recurs on its pages whatever the
story; an article's paragraphs recur across sites, but on one site only under one headline. So a
line (its shape: lower case, digits folded) is chrome for a site when that site shows it on pages
with at least two different headlines, and chrome everywhere when that holds on `min_sites` sites.
A line of a sentence's length must also stand on a good share of the site's pages: stories do
reuse a background sentence or paragraph now and then, while chrome that long (a cookie notice,
an "about us" blurb) is on most pages of its site. Folding digits makes a results table look the
same on every results story, so a line with digits inside the article body counts as chrome only
when it is a stamp or a counter. And a line standing in the article (between its first and last
paragraph, or in the list items and data rows right after its last paragraph) counts as chrome
only when its site shows it on a good share of its pages: "- Surrender her passport" and "Qtr"
recur on a site's court and results stories, while a site's own promo stands on most of its pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from builders.executors.local import LocalExecutor
from builders.stages.base import CorpusStep, Ledger
from builders.stages.clean import Lines, NormalizeWhitespace, _set_text, count_words, prose_lines
from builders.stages.dedup import hash_strings
from builders.stages.registry import clean_step
from builders.text import chrome

# One row per (site, line shape) seen in a batch, plus one row per site with `line` = PAGES_ROW
# counting the site's pages, so the reduce knows what share of a site's pages a line is on.
SUMMARY_SCHEMA = pa.schema(
    [("site", pa.uint64()), ("line", pa.uint64()), ("tmin", pa.uint64()), ("tmax", pa.uint64()),
     ("pages", pa.int64()), ("long", pa.bool_()), ("part", pa.uint8())]
)
#: The reduce works on line shapes in PARTS partitions (by the shape's top bits), as tasks: a line's
#: every (site, line) row is in one partition, so each decides its lines alone.
PARTS = 64
_NO_SITE = np.uint64(0)
PAGES_ROW = np.uint64(0)
#: Lines of at least this many words are sentences that stories may share ...
LONG_LINE_WORDS = 12
#: Rules removed lines are counted under: repeated by the page's site, or chrome on several sites.
REPEATED_RULES = ["site_repeated_line", "cross_site_chrome_line"]
#: ... so they count as a site's chrome only when on at least this share of its pages.
LONG_LINE_SHARE = 0.2


def line_shapes(lines: pa.Array) -> np.ndarray:
    """A hash per line of its shape: case and digits do not matter, so per-page stamps match."""
    shape = pc.replace_substring_regex(pc.utf8_lower(lines), r"\d+", "0")
    # Runs of spaces become one; a lone space is left alone (replacing it costs ten times more).
    shape = pc.replace_substring_regex(shape, r"\s\s+|[\t\n\f\r]", " ")
    return hash_strings(shape)


def _site_keys(table: pa.Table) -> np.ndarray:
    if "source" not in table.column_names:
        return np.zeros(table.num_rows, dtype=np.uint64)
    source = table.column("source").combine_chunks().cast(pa.string())
    keys = hash_strings(pc.fill_null(source, ""))
    keys[pc.is_null(source).to_numpy(zero_copy_only=False)] = _NO_SITE
    return keys


def _headline_keys(table: pa.Table) -> np.ndarray:
    """What tells one story from another on a site: the headline, or the text when there is none."""
    text = pc.fill_null(table.column("text").combine_chunks().cast(pa.string()), "")
    if "title" not in table.column_names:
        return hash_strings(text)
    title = table.column("title").combine_chunks().cast(pa.string())
    return hash_strings(pc.if_else(pc.is_valid(title), pc.utf8_lower(title), text))


#: A stamp or counter: a time, a year, a numeric date, a month, "3 comments", "2 hours ago".
STAMP = (r"(?i)\b\d{1,2}:\d{2}\b|\b(19|20)\d{2}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
         r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\b"
         r"|\b\d[\d,.]*k? (comments?|views?|shares?|replies|responses|reads)\b|\bago\b|\bpage \d+ of \d+\b")


#: A data row: a short line with digits ("Revs 73.4 mln vs 86.7 mln").
_ROW_WORDS = 12


def _article_lines(lines: Lines) -> tuple[np.ndarray, np.ndarray]:
    """(lines standing in the article, its rows): lines between its first and last paragraph, and
    the runs of list items and data rows (with their headers, "Qtr", "... must:") right after its
    last paragraph or just before its first. A page with no paragraph of BODY_WORDS is anchored by
    its sentences instead. Repetition is evidence against an article line only when its site shows
    it on a good share of its pages (its promo stands on most pages), and never against a row of a
    list or table or its header (with digits folded, a results table has the same shape on every
    results story; "- Surrender her passport" and "Qtr" recur on a site's court and results
    stories), nor against a line with digits that is no stamp or counter."""
    body = lines.words >= chrome.BODY_WORDS
    per_doc = np.bincount(lines.doc[body], minlength=len(lines.text))
    anchor = body | (prose_lines(lines) & (per_doc[lines.doc] == 0))
    inside = (lines.upto(anchor) > 0) & (lines.onwards(anchor) > 0)
    after = (lines.onwards(anchor) == 0) & (lines.upto(anchor) > 0) & ~lines.empty
    before = (lines.upto(anchor) == 0) & (lines.onwards(anchor) > 0) & ~lines.empty
    digits = lines.match(r"\d") & ~lines.empty & ~lines.match(STAMP)
    row = lines.match(chrome.LIST_ITEM) | (digits & (lines.words <= _ROW_WORDS))
    _, following = lines.neighbours()
    next_row = (following >= 0) & row[np.maximum(following, 0)]
    header = next_row & ((lines.words <= 4) & ~lines.match(r"[.!?]$") | lines.match(r":$"))
    cont = row | header
    # Runs of rows touching the article: after its last paragraph, or just before its first.
    tail = after & cont & (lines.upto(after & ~cont) == 0)
    head = before & cont & (lines.onwards(before & ~cont) == 0)
    article = inside | tail | head
    # A header above the article's first paragraph may as well be the site's name: rows only there.
    return article, (article & (digits | row)) | ((inside | tail) & header)


def _part(lines: np.ndarray) -> np.ndarray:
    """The partition of each line shape: its hash's top bits."""
    return (lines >> np.uint64(58)).astype(np.uint8) % np.uint8(PARTS)


@dataclass(frozen=True)
class _LinesJob:
    paths: tuple[str, ...]
    parts: tuple[int, ...]
    model: str
    index: int
    min_sites: int


def _read(paths: tuple[str, ...], filters) -> pa.Table:
    tables = [pq.read_table(p, filters=filters, schema=SUMMARY_SCHEMA) for p in paths]
    return pa.concat_tables(tables) if tables else SUMMARY_SCHEMA.empty_table()


def _decide_lines(job: _LinesJob) -> None:
    """One task of the reduce: which lines of its partitions are a site's chrome, which are common
    on their site, which are chrome on at least `min_sites` sites; three small key files."""
    is_count = pc.field("line") == pa.scalar(PAGES_ROW, pa.uint64())
    pages = _read(job.paths, is_count).group_by("site").aggregate([("pages", "sum")])
    counts = pages.rename_columns(["site", "site_pages"])
    stats = _read(job.paths, pc.field("part").isin(pa.array(job.parts, pa.uint8())) & ~is_count)
    stats = stats.group_by(["site", "line"]).aggregate([("tmin", "min"), ("tmax", "max"), ("pages", "sum"), ("long", "max")])
    stats = stats.join(counts, "site")
    varied = pc.and_(pc.not_equal(stats["tmin_min"], stats["tmax_max"]), pc.not_equal(stats["site"], _NO_SITE))
    common = pc.greater_equal(pc.divide(pc.cast(stats["pages_sum"], pa.float64()), stats["site_pages"]), LONG_LINE_SHARE)
    site_chrome = stats.filter(pc.and_(varied, pc.or_(pc.invert(stats["long_max"]), common))).select(["site", "line"])
    per_line = site_chrome.group_by("line").aggregate([("site", "count")])
    everywhere = per_line.filter(pc.greater_equal(per_line["site_count"], job.min_sites))["line"]
    frequent = stats.filter(pc.and_(varied, common)).select(["site", "line"])
    for name, table in (
        ("site-lines", pa.table({"key": np.sort(_pair_keys(site_chrome["site"].to_numpy(), site_chrome["line"].to_numpy()))})),
        ("site-common-lines", pa.table({"key": np.sort(_pair_keys(frequent["site"].to_numpy(), frequent["line"].to_numpy()))})),
        ("lines", pa.table({"line": np.sort(everywhere.to_numpy().astype(np.uint64))})),
    ):
        final = Path(job.model) / name / f"part-{job.index:03d}.parquet"
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_suffix(".tmp")
        pq.write_table(table, temporary)
        temporary.replace(final)  # a retried task replaces, never leaves half a file


def _pair_keys(site: np.ndarray, line: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return site * np.uint64(0x9E3779B97F4A7C15) ^ line


# A corpus step; the blank lines it leaves are folded again right after it.
@clean_step("repeated_lines", 40, when=lambda c: c.repeated_lines,
            make=lambda c: [RepeatedLines(), NormalizeWhitespace()])
class RepeatedLines(CorpusStep):
    stage = "clean"
    label = "chrome lines"

    def __init__(self, min_sites: int = 2) -> None:
        self.min_sites = min_sites
        self.site_pairs: np.ndarray | None = None
        self.common_pairs: np.ndarray | None = None
        self.everywhere: np.ndarray | None = None

    def map(self, table: pa.Table) -> pa.Table | None:
        if table.num_rows == 0:
            return None
        lines = Lines(table.column("text").combine_chunks())
        keep = ~lines.empty
        sites = _site_keys(table)
        kept = lines.lines.filter(pa.array(keep))
        frame = pa.table(
            {
                "site": sites[lines.doc[keep]],
                "line": line_shapes(kept),
                "title": _headline_keys(table)[lines.doc[keep]],
                "long": pa.array(count_words(kept) >= LONG_LINE_WORDS),
            }
        )
        grouped = frame.group_by(["site", "line"]).aggregate(
            [("title", "min"), ("title", "max"), ("title", "count"), ("long", "max")]
        )
        per_site = pa.table({"site": sites}).group_by("site").aggregate([("site", "count")])
        n = per_site.num_rows
        page_rows = pa.table(
            [per_site["site"], pa.array(np.full(n, PAGES_ROW)), pa.array(np.zeros(n, np.uint64)),
             pa.array(np.zeros(n, np.uint64)), per_site["site_count"], pa.array(np.zeros(n, bool)),
             pa.array(np.zeros(n, np.uint8))],
            schema=SUMMARY_SCHEMA,
        )
        line_rows = pa.table(
            [grouped["site"], grouped["line"], grouped["title_min"], grouped["title_max"], grouped["title_count"],
             grouped["long_max"], pa.array(_part(grouped["line"].to_numpy()))],
            schema=SUMMARY_SCHEMA,
        )
        return pa.concat_tables([page_rows, line_rows])

    def reduce(self, summaries, model: Path, shards, output: Path, executor=None) -> None:
        """Partitions of line shapes decided as tasks through the executor: each reads only its
        partitions' rows (and the sites' page counts) from every summary, so memory is bounded by
        a partition, and the union of their decisions is the same however many tasks there are."""
        model.mkdir(parents=True, exist_ok=True)
        paths = tuple(str(p) for _, p in summaries)
        tasks = max(1, min(PARTS, 4 * (getattr(executor, "workers", 1) or 1)))
        jobs = [_LinesJob(paths, tuple(range(k, PARTS, tasks)), str(model), k, self.min_sites) for k in range(tasks)]
        (executor or LocalExecutor(1)).map(_decide_lines, jobs)  # no executor: every task in this process

    def load(self, model: Path, shard: int) -> None:
        def keys(name: str, column: str) -> np.ndarray:
            files = sorted((model / name).glob("part-*.parquet"))
            found = [pq.read_table(f)[column].to_numpy() for f in files]
            return np.sort(np.concatenate(found)) if found else np.empty(0, np.uint64)

        self.site_pairs = keys("site-lines", "key")
        self.common_pairs = keys("site-common-lines", "key")
        self.everywhere = keys("lines", "line")

    def apply(self, table: pa.Table, ledger: Ledger) -> pa.Table:
        if table.num_rows == 0:
            return table
        lines = Lines(table.column("text").combine_chunks())
        shapes = line_shapes(lines.lines)
        pairs = _pair_keys(_site_keys(table)[lines.doc], shapes)
        on_site = np.isin(pairs, self.site_pairs)
        drop = ~lines.empty & (on_site | np.isin(shapes, self.everywhere))
        if drop.any():  # in the article, repetition is evidence only where the site repeats it often
            article, rows = _article_lines(lines)
            drop &= (~article | np.isin(pairs, self.common_pairs)) & ~rows
        lines.removed(ledger, self.stage, REPEATED_RULES, np.where(on_site, 0, 1), drop, table.column("id"))
        return _set_text(table, lines.join(~drop))
