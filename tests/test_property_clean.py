"""Property-based, the cleaning steps: random Unicode texts (NUL, \\r, U+2028, controls, very long
lines, empty strings, null texts, titles and ids) never crash a step; a step that rewrites keeps every row,
a step that drops rows counts each one in the Ledger by reason, and a step that removes lines from
a document it keeps counts them (lines_removed).

Every per-document step of `build_plan` is run in order, as the first pass of a build runs them
(corpus steps, which need the whole corpus, are left out). Derandomized for repeatable CI.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders.config import BuildConfig
from builders.pipeline import build_plan
from builders.schema import empty_documents
from builders.stages.base import CorpusStep, Filter, Ledger, Transform

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NASTY = st.sampled_from(["\x00", "\r", "\r\n", "\n", "\n\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\ufeff",
                         "\u200b", "\u00a0", "\ufffd", "\x1b[31m", "\t", "  ", "...", "…", "©", "Ã©", "&amp;", "&#8217;",
                         "%d bloggers like this:", "Leave a Reply", "Share this:", "http://x.example/a?b=c",
                         "john@example.com", "+44 20 7946 0958", "192.168.0.1", "😀", "中文", "مرحبا"])
WORDS = st.lists(st.sampled_from("the council met on tuesday to discuss harbour budget and railway".split()),
                 min_size=1, max_size=30).map(" ".join)
TEXT = st.one_of(
    st.just(""),
    st.text(max_size=200),  # any Unicode but surrogates (Arrow strings are UTF-8: ingest never makes one)
    st.lists(st.one_of(WORDS, NASTY, st.text(max_size=20)), max_size=30).map("".join),
    st.lists(st.one_of(WORDS, NASTY), max_size=12).map("\n".join),
    st.integers(1000, 60_000).map(lambda n: ("word " * n)[:n]),  # one very long line
)
ROW = st.fixed_dictionaries({"id": st.one_of(st.text(max_size=8), st.just("x")), "text": st.one_of(TEXT, st.none()),
                             "title": st.one_of(st.none(), st.text(max_size=30), WORDS),
                             "url": st.one_of(st.none(), st.just("https://www.site.example/a/b"), st.text(max_size=20)),
                             "source": st.one_of(st.none(), st.sampled_from(["site.example", "other.example", ""])),
                             "agency": st.one_of(st.none(), st.just("Reuters"))})

CONFIGS = [
    {},  # the defaults
    {"quality": True, "mask_pii": True, "record_lines": True, "min_words": 3},
    {"fix_unicode": False, "strip_chrome": False, "titles": False, "language_id": False, "min_words": 0},
    {"languages": ["en"], "min_words": 1},
]


def nonblank_lines(text) -> int:
    return sum(1 for line in (text or "").split("\n") if line.strip())


@SETTINGS
@given(rows=st.lists(ROW, max_size=12), which=st.sampled_from(range(len(CONFIGS))))
def test_clean_steps_never_crash_and_count_every_drop_and_removed_line(rows, which):
    config = BuildConfig.model_validate({"name": "t", "input": {"paths": ["x"]}, "publish": {"output": "o"},
                                         "clean": CONFIGS[which], "dedup": False})
    schema = empty_documents().schema
    table = pa.Table.from_pylist([{**row, "_ord": i} for i, row in enumerate(rows)], schema=schema)
    ledger = Ledger()
    ledger.record_lines = bool(CONFIGS[which].get("record_lines"))
    stats = ledger.stage("clean")
    steps = [step for step in build_plan(config) if not isinstance(step, CorpusStep)]
    assert steps
    for step in steps:
        before_rows, before_ids = table.num_rows, table.column("_ord").to_pylist()
        before_texts = dict(zip(before_ids, table.column("text").to_pylist()))
        before_nulls = table.column("text").null_count
        dropped_before = sum(stats.dropped.values())
        removed_before = sum(stats.lines_removed.values())
        table = step(table, ledger)
        name = type(step).__name__
        assert table.schema.names[: len(schema)] == schema.names, name
        assert table.column("text").null_count <= before_nulls, name  # a null text is dropped (empty), never made
        dropped = sum(stats.dropped.values()) - dropped_before
        if isinstance(step, Transform):
            assert table.num_rows == before_rows and dropped == 0, name
        else:
            assert isinstance(step, Filter), name
            assert table.num_rows + dropped == before_rows, name
            assert set(table.column("_ord").to_pylist()) <= set(before_ids), name
        # Lines gone from documents that were kept: removed by a rule, and counted as such.
        lost = sum(max(0, nonblank_lines(before_texts[o]) - nonblank_lines(t))
                   for o, t in zip(table.column("_ord").to_pylist(), table.column("text").to_pylist()))
        if name not in ("FixUnicode", "NormalizeWhitespace"):  # these rewrite characters, never drop a line of text
            assert sum(stats.lines_removed.values()) - removed_before >= lost, (name, lost)
    assert table.column("text").null_count == 0  # the empty-text filter dropped every null
    assert ledger.take_rejected().num_rows == sum(stats.dropped.values()) == len(rows) - table.num_rows
