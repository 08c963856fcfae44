"""Anchors: the names and numbers of a text, as a small bitmap per document, for telling copies apart.

Two wire copies of one story keep its names and its figures even when sentences are reworded,
cut or moved; two different stories written from one mould ("Libraries in Birchfield will open
on Sundays after 600 residents signed a petition" and the same sentence about Castlemoor and 900
residents) differ in exactly those words. So a copy check that word overlap alone cannot settle
is settled by the anchors: a shorter text that names a place, person or figure the longer one
does not is not a copy of it.

An anchor is a token (split at any Unicode space) that holds a digit (commas inside numbers dropped: "15,700" is
"15700"), or that starts with a capital letter in mid-sentence (the token before it ends in a
lower-case letter, a digit, a comma, a semicolon, "%" or ")"): "Castlemoor", "Reuters", "Friday", "Moreau" of "Helena Moreau". Sentence-initial and
line-initial words are left out, since every sentence starts with one, and so are runs of RUN_MAX
or more capitalised words (a menu line of section names, a headline in title case) and every token
of a line of fewer than LINE_WORDS words (a site's name, a date stamp, a menu entry the cleaning
missed). Tokens are stripped of
surrounding punctuation and a possessive "'s" and lower-cased, then hashed into BITS bits. A bitmap
loses a few anchors to collisions (a conflict can be missed, never invented) and makes a pair's
check a few vectorised bit operations.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Bits of a document's anchor bitmap (WORDS uint64 words).
BITS = 512
WORDS = BITS // 64
#: Words a line needs for its tokens to be anchors.
LINE_WORDS = 4
#: Capitalised words in a row from which none is an anchor.
RUN_MAX = 4
#: Part of the index's hash configuration: a change here makes old bitmaps incomparable.
VERSION = 4  # 2: runs of RUN_MAX capitalised words; 3: Unicode spaces; 4: line starts, short lines

_STARTS_UPPER = r"^[\"“‘'(\[]*\p{Lu}"
_BEFORE_NAME = r"[\p{Ll}\d,;%)]$"
_EDGES = r"^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$"
_POSSESSIVE = r"['’]s$"


def anchor_bitmaps(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(len(text), WORDS) uint64: each document's anchors hashed into BITS bits (nulls: none)."""
    from builders.stages.dedup import hash_strings  # the dedup stage's stable string hash

    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    n = len(text)
    out = np.zeros((n, WORDS), np.uint64)
    if not n:
        return out
    text = pc.fill_null(text.cast(pa.string()), "")
    lines = pc.split_pattern(text, "\n")
    line_offsets = lines.offsets.to_numpy().astype(np.int64)
    line_offsets -= line_offsets[0]
    line_doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(line_offsets))
    tokens = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(lines.flatten()))
    flat = tokens.flatten()
    if not len(flat):
        return out
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    offsets -= offsets[0]
    per_line = np.diff(offsets)
    line = np.repeat(np.arange(len(per_line), dtype=np.int64), per_line)
    doc = line_doc[line]
    # A line opens a sentence; a line of fewer than LINE_WORDS words (a site's name, a stamp, a
    # menu entry the cleaning missed) names nothing the story is about.
    first = np.zeros(len(flat), bool)
    first[offsets[:-1][per_line > 0]] = True
    short_line = per_line[line] < LINE_WORDS
    # Every test runs once per distinct token (a tenth of the tokens in news text), then is indexed
    # back to the tokens.
    encoded = pc.dictionary_encode(flat)
    distinct, index = encoded.dictionary, encoded.indices.to_numpy()

    def per_token(pattern: str) -> np.ndarray:
        return pc.match_substring_regex(distinct, pattern).to_numpy(zero_copy_only=False)[index]

    number = per_token(r"\d")
    upper = per_token(_STARTS_UPPER)
    before = np.zeros(len(flat), bool)
    before[1:] = per_token(_BEFORE_NAME)[:-1]
    # Runs of RUN_MAX or more capitalised words are a menu of section names or a headline in title
    # case ("Home Business Markets Americas"), which chrome the cleaning missed may leave: not names.
    starts = np.r_[True, (upper[1:] != upper[:-1]) | first[1:]]
    run = np.cumsum(starts) - 1
    long_run = upper & (np.bincount(run)[run] >= RUN_MAX)
    anchor = (number | (upper & before & ~first & ~long_run)) & ~short_line
    picked = np.flatnonzero(anchor)
    if not len(picked):
        return out
    # The anchor word of each distinct token: possessive and edge punctuation off, lower case,
    # commas out of numbers; hashed once.
    words = pc.replace_substring_regex(distinct, _POSSESSIVE, "")
    words = pc.replace_substring_regex(words, _EDGES, "")
    words = pc.utf8_lower(words)
    has_digit = pc.match_substring_regex(distinct, r"\d")
    words = pc.if_else(has_digit, pc.replace_substring(words, ",", ""), words)
    hashes = hash_strings(words).astype(np.uint64)
    nonempty = pc.not_equal(words, "").to_numpy(zero_copy_only=False)
    picked = picked[nonempty[index[picked]]]
    if not len(picked):
        return out
    owner = doc[picked]
    bit = hashes[index[picked]] % np.uint64(BITS)
    np.bitwise_or.at(out, (owner, (bit // np.uint64(64)).astype(np.int64)), np.uint64(1) << (bit % np.uint64(64)))
    return out


def conflicts(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """Anchors (bits) of each `small` bitmap that its `large` bitmap lacks, per row."""
    return np.bitwise_count(small & ~large).sum(axis=1, dtype=np.int64)


def shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Anchors (bits) two bitmaps have in common, per row."""
    return np.bitwise_count(a & b).sum(axis=1, dtype=np.int64)
