"""Clean: repair text, strip fixed site chrome, normalise whitespace, drop empty and too-short documents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.config import CleanConfig
from builders.stages.base import Filter, Stage, Transform
from builders.text import chrome

STAGE = "clean"

# Cheap evidence that ftfy may have work to do: C1 controls, UTF-8 read as Latin-1/cp1252,
# HTML entities, replacement characters. Documents without any of it skip ftfy entirely.
_MOJIBAKE_HINT = r"[\x{80}-\x{9f}\x{fffd}]|[ÃÂâÐÑØ][\x{80}-\x{bf}€™œšžŸ¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾“”‘’–—…]|&(#\d{2,6}|#x[0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});"


def _set_text(table: pa.Table, text) -> pa.Table:
    return table.set_column(table.schema.get_field_index("text"), "text", text)


class FixUnicode(Transform):
    """Repairs mojibake and entities with ftfy, keeping the publisher's curly quotes; NFC throughout."""

    def apply(self, table, ledger):
        text = pc.utf8_normalize(table.column("text").combine_chunks(), "NFC")
        suspect = pc.fill_null(pc.match_substring_regex(text, _MOJIBAKE_HINT), False).to_numpy(zero_copy_only=False)
        if suspect.any():
            import ftfy

            values = text.to_pylist()
            for i in np.flatnonzero(suspect):
                values[i] = ftfy.fix_text(values[i], uncurl_quotes=False)
            text = pa.array(values, pa.string())
        return _set_text(table, text)


class NormalizeWhitespace(Transform):
    """One space between words, no trailing spaces, paragraphs separated by one blank line."""

    RULES = [
        (r"\r\n?", "\n"),
        (r"[\x{200b}\x{200c}\x{200d}\x{2060}\x{feff}]", ""),
        (r"[\t\f\v \x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]+", " "),
        (r"(?m)^ +| +$", ""),
        (r"\n{3,}", "\n\n"),
    ]

    def apply(self, table, ledger):
        text = table.column("text")
        for pattern, replacement in self.RULES:
            text = pc.replace_substring_regex(text, pattern, replacement)
        return _set_text(table, pc.utf8_trim(text, "\n "))


class StripChrome(Transform):
    """Removes lines that fixed rules know as chrome, the page's own title line, teasers of other
    stories and everything after an end-of-article marker in the lower part of the page.

    Works on all lines of the batch at once: one flat array of lines, regex masks, numpy offsets.
    """

    _chrome = chrome.whole_line(chrome.CHROME_LINES)
    _tail = chrome.whole_line(chrome.TAIL_MARKERS)

    def apply(self, table, ledger):
        text = table.column("text").combine_chunks()
        if len(text) == 0:
            return table
        lines_list = pc.split_pattern(pc.fill_null(text, ""), "\n")
        offsets = lines_list.offsets.to_numpy().astype(np.int64)
        offsets -= offsets[0]  # a sliced list array's offsets need not start at zero
        lines = pc.utf8_trim_whitespace(lines_list.flatten())
        n_lines = len(lines)
        doc = np.repeat(np.arange(len(text)), np.diff(offsets))
        rel = (np.arange(n_lines) - offsets[:-1][doc]) / np.maximum(np.diff(offsets)[doc], 1)
        lower_part = rel >= chrome.TAIL_FROM

        def mask(pattern: str) -> np.ndarray:
            return pc.fill_null(pc.match_substring_regex(lines, pattern), False).to_numpy(zero_copy_only=False)

        empty = pc.equal(lines, "").to_numpy(zero_copy_only=False)
        drop = mask(self._chrome)

        # A teaser drops with the title line just above it (the nearest non-empty line).
        teaser = mask(chrome.TEASER_LINE) & lower_part
        idx = np.where(~empty, np.arange(n_lines), -1)
        prev_nonempty = np.maximum.accumulate(np.r_[-1, idx[:-1]])
        titles = prev_nonempty[teaser]
        titles = titles[(titles >= 0) & (doc[np.maximum(titles, 0)] == doc[teaser])]
        drop |= teaser
        drop[titles] = True

        # Everything from the first end-of-article marker in the lower part of a page goes.
        marker = mask(self._tail) & lower_part
        seen = np.zeros(n_lines, dtype=np.int64)
        if marker.any():
            cum = np.cumsum(marker)
            before_doc = np.r_[0, cum][offsets[:-1]][doc]
            seen = cum - before_doc
        drop |= seen > 0

        # The page's headline repeated as its first line belongs in `title`, not in `text`.
        if "title" in table.column_names:
            first = np.flatnonzero(~empty & ~drop)
            if len(first):
                first = first[np.r_[True, doc[first][1:] != doc[first][:-1]]]
                title = pc.utf8_trim_whitespace(table.column("title").combine_chunks().cast(pa.string()).take(pa.array(doc[first])))
                same = pc.fill_null(pc.equal(lines.take(pa.array(first)), title), False)
                drop[first[same.to_numpy(zero_copy_only=False)]] = True

        keep = ~drop
        kept_lines = lines.filter(pa.array(keep))
        new_offsets = np.r_[0, np.cumsum(np.bincount(doc[keep], minlength=len(text)))].astype(np.int32)
        rebuilt = pa.ListArray.from_arrays(pa.array(new_offsets), kept_lines)
        joined = pc.binary_join(rebuilt, "\n")
        return _set_text(table, pc.if_else(pc.is_null(text), None, joined))


class EmptyText(Filter):
    """Drops documents with no text left."""

    def reasons(self, table):
        empty = pc.equal(pc.utf8_length(pc.fill_null(table.column("text"), "")), 0)
        return pc.if_else(empty, "empty", pa.scalar(None, pa.string()))


class TooShort(Filter):
    """Drops documents with fewer than `min_words` words: teasers, stubs, error pages."""

    def __init__(self, min_words: int) -> None:
        self.min_words = min_words

    def reasons(self, table):
        words = pc.count_substring_regex(pc.fill_null(table.column("text"), ""), r"\S+")
        return pc.if_else(pc.less(words, self.min_words), f"too_short(<{self.min_words} words)", pa.scalar(None, pa.string()))


def clean_stages(config: CleanConfig) -> list[Stage]:
    """The clean stages in order, as the config switches them."""
    stages: list[Stage] = []
    if config.fix_unicode:
        stages.append(FixUnicode())
    if config.strip_chrome:
        stages.append(StripChrome())
    stages.append(NormalizeWhitespace())
    stages.append(EmptyText())
    if config.min_words > 0:
        stages.append(TooShort(config.min_words))
    return stages
