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

Beside the bitmap, each document's record holds two small MinHash sketches that say where a
text opens: one of the shingles of its first OPENING_WORDS words, one of the shingles of its
first REGION_WORDS words (`opens_inside`). A copy cut at the end, its lead reworded or its first
sentence dropped still opens with words of its original's first paragraphs; a text that shares
one paragraph with another story (a background paragraph, a repeated quote) and opens with a
lead of its own does not, however many of its shingles and names the other holds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Bits of a document's anchor bitmap (BITMAP_WORDS uint64 words).
BITS = 512
BITMAP_WORDS = BITS // 64
#: The opening sketch covers the shingles within a text's first OPENING_WORDS words, the region
#: sketch those within its first REGION_WORDS words (about its first two or three paragraphs).
OPENING_WORDS = 20
REGION_WORDS = 60
#: Word n-grams of the sketches, and their MinHash permutations (16-bit values each).
OPENING_NGRAM = 5
OPENING_PERMS = 32
OPENING_SEED = 7
SKETCH_WORDS = OPENING_PERMS // 4
#: Characters of a text the sketches read: its first REGION_WORDS words fit in them but in texts
#: of hardly any words (a run of links), and the map tokenises a fraction of each long text.
OPENING_CHARS = 1500
#: uint64 words of a document's record: the bitmap, then the opening and the region sketches.
WORDS = BITMAP_WORDS + 2 * SKETCH_WORDS
#: Words a line needs for its tokens to be anchors.
LINE_WORDS = 4
#: Capitalised words in a row from which none is an anchor.
RUN_MAX = 4
#: Part of the index's hash configuration: a change here makes old bitmaps incomparable.
VERSION = 5  # 2: runs of RUN_MAX capitalised words; 3: Unicode spaces; 4: line starts, short lines; 5: opening sketches

_OPENERS = r"[\"“‘'(\[]"  # what may come before a name's capital: quotes, brackets
_STARTS_UPPER = r"^" + _OPENERS + r"*\p{Lu}"
_BEFORE_NAME = r"[\p{Ll}\d,;%)]$"
_EDGES = r"^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$"
_POSSESSIVE = r"['’]s$"


def _anchor_tokens(number, upper, before, first, short_line):
    """Which tokens are anchors, from per-token flags: numbers, and capitalised words after a
    lower-case word, digit or comma, not first in a sentence or line, outside runs of RUN_MAX or
    more capitalised words (a menu of section names or a headline in title case, "Home Business
    Markets Americas", which chrome the cleaning missed may leave), on lines of LINE_WORDS words."""
    starts = np.r_[True, (upper[1:] != upper[:-1]) | first[1:]]
    run = np.cumsum(starts) - 1
    long_run = upper & (np.bincount(run)[run] >= RUN_MAX)
    return (number | (upper & before & ~first & ~long_run)) & ~short_line


def anchor_bitmaps(text: pa.Array | pa.ChunkedArray, shingles: np.ndarray | None = None,
                   doc: np.ndarray | None = None) -> np.ndarray:
    """(len(text), WORDS) uint64 records: each document's anchors hashed into BITS bits (nulls:
    none), then its opening and region sketches (`opening_sketches`; `shingles` and `doc`: the
    texts' word OPENING_NGRAM-gram hashes as the dedup map computes them, so they are not
    computed twice)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    n = len(text)
    out = np.zeros((n, WORDS), np.uint64)
    if not n:
        return out
    text = pc.fill_null(text.cast(pa.string()), "")
    out[:, BITMAP_WORDS:] = opening_sketches(text, shingles, doc)
    out[:, :BITMAP_WORDS] = _bitmaps(text)
    return out


def _bitmaps(text: pa.Array) -> np.ndarray:
    """(len(text), BITMAP_WORDS) anchor bitmaps of non-null texts: over the UTF-8 bytes in numpy
    (`_bitmaps_bytes`), or with the Arrow kernels when only they can say (text that is not valid
    UTF-8)."""
    out = _bitmaps_bytes(text)
    return _bitmaps_kernels(text) if out is None else out


def _bitmaps_kernels(text: pa.Array) -> np.ndarray:
    """The definition of the anchor bitmaps, in Arrow kernels: lines, tokens, per-token patterns."""
    from builders.stages.dedup import hash_strings  # the dedup stage's stable string hash
    from builders.stages.dedup_reduce import distinct_inverse

    n = len(text)
    out = np.zeros((n, BITMAP_WORDS), np.uint64)
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
    picked = np.flatnonzero(_anchor_tokens(number, upper, before, first, short_line))
    if not len(picked):
        return out
    # The anchor word of each distinct token picked (a fifth of the distinct tokens): possessive
    # and edge punctuation off, lower case, commas out of numbers; hashed once.
    chosen, which = distinct_inverse(index[picked])
    tokens = distinct.take(pa.array(chosen))
    words = pc.replace_substring_regex(tokens, _POSSESSIVE, "")
    words = pc.replace_substring_regex(words, _EDGES, "")
    words = pc.utf8_lower(words)
    has_digit = pc.match_substring_regex(tokens, r"\d")
    words = pc.if_else(has_digit, pc.replace_substring(words, ",", ""), words)
    hashes = hash_strings(words).astype(np.uint64)
    nonempty = pc.not_equal(words, "").to_numpy(zero_copy_only=False)
    kept = nonempty[which]
    picked, which = picked[kept], which[kept]
    if not len(picked):
        return out
    owner = doc[picked]
    bit = hashes[which] % np.uint64(BITS)
    np.bitwise_or.at(out, (owner, (bit // np.uint64(64)).astype(np.int64)), np.uint64(1) << (bit % np.uint64(64)))
    return out


# Flags of a character for `_bitmaps_bytes`: what the kernel path's patterns say of it alone.
_SPACE, _DIGIT, _UPPER, _BEFORE, _OPENER, _WORD = 1, 2, 4, 8, 16, 32


def _char_flags(chars: pa.Array) -> np.ndarray:
    """uint8 flags of single characters, by the kernels and patterns `_bitmaps_kernels` uses: a
    space (where `utf8_split_whitespace` splits), a digit (`\\d`), a capital (`\\p{Lu}`), what
    may end the token before a name (`_BEFORE_NAME`), an opener (`_OPENERS`), a letter or digit
    (what `_EDGES` keeps)."""
    def match(pattern: str) -> np.ndarray:
        return pc.match_substring_regex(chars, pattern).to_numpy(zero_copy_only=False).astype(np.uint8)

    space = (pc.list_value_length(pc.utf8_split_whitespace(chars)).to_numpy() != 1).astype(np.uint8)
    return (space * _SPACE | match(r"\d") * _DIGIT | match(r"^\p{Lu}") * _UPPER | match(_BEFORE_NAME) * _BEFORE
            | match("^" + _OPENERS + "$") * _OPENER | match(r"^[\p{L}\p{N}]$") * _WORD).astype(np.uint8)


_SEEN_FLAGS: dict[str, int] = {}


def _known_flags(chars: pa.Array) -> np.ndarray:
    """`_char_flags` of distinct characters, each classified once per process (the patterns'
    compilation, not their matching, is what costs: a few milliseconds a batch)."""
    chars = chars.to_pylist()
    new = [c for c in chars if c not in _SEEN_FLAGS]
    if new:
        if len(_SEEN_FLAGS) + len(new) > 100_000:  # bounded: start over
            _SEEN_FLAGS.clear()
            new = chars
        _SEEN_FLAGS.update(zip(new, _char_flags(pa.array(new, pa.string())).tolist()))
    return np.array([_SEEN_FLAGS[c] for c in chars], np.uint8)


_ASCII_FLAGS = np.zeros(256, np.uint8)
_ASCII_FLAGS[:128] = _char_flags(pa.array([chr(c) for c in range(128)], pa.string()))
_ASCII_TABLE = _ASCII_FLAGS.tobytes()


def _bitmaps_bytes(text: pa.Array) -> np.ndarray | None:
    """`_bitmaps_kernels` of a string array without nulls, byte for byte, over its UTF-8 bytes:
    splitting lines and tokens and the per-token patterns were nine tenths of the anchors' cost in
    the dedup map. Each character is classified once (`_char_flags`: ASCII by table, others once
    per distinct character by the same kernels); a token's tests read its bytes' flags: a digit
    anywhere, a capital first after openers, what its last character is. Only the anchor tokens'
    words (a few in a hundred tokens) go through the kernels, once per distinct word, to be lower-
    cased. None when the bytes are not valid UTF-8."""
    from builders.stages.dedup import distinct_chars, hash_strings

    n = len(text)
    out = np.zeros((n, BITMAP_WORDS), np.uint64)
    _, offsets_buffer, data_buffer = text.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[text.offset : text.offset + n + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    offsets -= lo
    if hi <= lo:
        return out
    data = np.frombuffer(data_buffer, np.uint8)[lo:hi]
    # Every byte of a character carries the character's flags (bytes.translate: a table lookup
    # four times as fast as numpy's indexing).
    flags = np.frombuffer(bytearray(data).translate(_ASCII_TABLE), np.uint8)
    beyond = np.flatnonzero(data >= 0x80)
    if len(beyond):
        found = distinct_chars(data, offsets, beyond)
        if found is None:
            return None
        _, size, which, chars = found
        flags[beyond] = np.repeat(_known_flags(chars)[which], size)
    # Tokens: runs of bytes that are no space, cut where one text ends and the next begins.
    word = (flags & _SPACE) == 0
    edge = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    inner = offsets[1:-1]
    inner = inner[(inner > 0) & (inner < len(data))]
    edge[inner[word[inner - 1] & word[inner]]] = 2  # one token ends and the next starts here
    starts, ends = np.flatnonzero(edge > 0), np.flatnonzero((edge == -1) | (edge == 2))
    del edge, word
    if not len(starts):
        return out
    # A token opens its line when a line break or a text's start comes before it (and after the
    # token before it).
    first = np.zeros(len(starts) + 1, bool)
    first[np.searchsorted(starts, np.flatnonzero(data == 10))] = True
    first[np.searchsorted(starts, offsets[:-1])] = True
    first = first[:-1]
    first[0] = True
    line_starts = np.flatnonzero(first)
    per_line = np.diff(np.r_[line_starts, len(starts)])
    short_line = np.repeat(per_line < LINE_WORDS, per_line)
    # Per token: a digit anywhere; a capital first once openers are passed; what the token before
    # it ends with. Bytes inside tokens that are neither letters nor digits (punctuation, openers)
    # are few: found once, as runs.
    number = np.zeros(len(starts) + 1, bool)
    number[np.searchsorted(starts, np.flatnonzero(flags & _DIGIT), "right") - 1] = True
    number = number[:-1]
    odd = np.flatnonzero((flags & (_SPACE | _WORD)) == 0)
    head = starts.copy()
    opened = np.flatnonzero(flags[starts] & _OPENER)
    if len(opened):
        head[opened] = _past_run(odd[(flags[odd] & _OPENER) != 0], starts[opened], ends[opened])
    upper = (head < ends) & ((flags[np.minimum(head, len(data) - 1)] & _UPPER) != 0)
    before = np.zeros(len(starts), bool)
    before[1:] = (flags[ends[:-1] - 1] & _BEFORE) != 0
    picked = np.flatnonzero(_anchor_tokens(number, upper, before, first, short_line))
    if not len(picked):
        return out
    # The anchor word: a possessive "'s" off, then what is no letter or digit at either end,
    # commas out of numbers.
    s, e = starts[picked], ends[picked]
    length = e - s
    ess = data[e - 1] == 0x73
    straight = ess & (length >= 2) & (data[np.maximum(e - 2, 0)] == 0x27)
    curly = ess & (length >= 4) & (data[np.maximum(e - 4, 0)] == 0xE2) & (data[np.maximum(e - 3, 0)] == 0x80) \
        & (data[np.maximum(e - 2, 0)] == 0x99)
    e = e - 2 * straight - 4 * curly
    s_word = _past_run(odd, s, e)
    e_word = _before_run(odd, s_word, e)
    keep = s_word < e_word
    picked, s_word, e_word, digits = picked[keep], s_word[keep], e_word[keep], number[picked][keep]
    if not len(picked):
        return out
    lengths = e_word - s_word
    owner = np.repeat(np.arange(len(picked)), lengths)
    at = np.repeat(s_word - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(int(lengths.sum()))
    chars = data[at]
    comma = (chars == 0x2C) & digits[owner]
    if comma.any():
        chars = chars[~comma]
        lengths = lengths - np.bincount(owner[comma], minlength=len(picked))
    bounds = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    words = pa.StringArray.from_buffers(len(picked), pa.py_buffer(bounds), pa.py_buffer(np.ascontiguousarray(chars)))
    encoded = pc.dictionary_encode(words)
    hashes = hash_strings(pc.utf8_lower(encoded.dictionary)).astype(np.uint64)[encoded.indices.to_numpy()]
    bit = hashes % np.uint64(BITS)
    doc = np.searchsorted(offsets, starts[picked], "right") - 1
    np.bitwise_or.at(out, (doc, (bit // np.uint64(64)).astype(np.int64)), np.uint64(1) << (bit % np.uint64(64)))
    return out


def _runs(marked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of `marked` (ascending byte positions): where its run of consecutive marked bytes
    starts and ends (exclusive)."""
    if not len(marked):
        return marked, marked
    new = np.r_[True, marked[1:] != marked[:-1] + 1]
    run = np.cumsum(new) - 1
    first = marked[new]
    last = np.r_[marked[np.flatnonzero(new)[1:] - 1], marked[-1]] + 1
    return first[run], last[run]


def _past_run(marked: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per range [starts, ends): the first position not in `marked` (ascending), at most `ends`."""
    if not len(marked):
        return starts.copy()
    _, run_end = _runs(marked)
    k = np.minimum(np.searchsorted(marked, starts), len(marked) - 1)
    hit = marked[k] == starts
    return np.where(hit, np.minimum(run_end[k], ends), starts)


def _before_run(marked: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per range [starts, ends): the end once the marked positions ending it are dropped, at least
    `starts`."""
    if not len(marked):
        return ends.copy()
    run_start, _ = _runs(marked)
    k = np.minimum(np.searchsorted(marked, ends - 1), len(marked) - 1)
    hit = marked[k] == ends - 1
    return np.where(hit, np.maximum(run_start[k], starts), ends)


def opening_sketches(text: pa.Array, shingles: np.ndarray | None = None, doc: np.ndarray | None = None) -> np.ndarray:
    """(len(text), 2 * SKETCH_WORDS) uint64: per document, OPENING_PERMS 16-bit MinHash values of
    the word OPENING_NGRAM-grams within its first OPENING_WORDS words, then as many of those within
    its first REGION_WORDS words (the same permutations), four values to a word. Words are the
    dedup stage's (`match_words`); a text with no words has all-ones sketches. The dedup map
    passes the shingle hashes it has (`shingles`, `doc`: documents in order); without them they
    are computed here, from the words of each text's first OPENING_CHARS characters when those
    hold REGION_WORDS words, else of the whole text (the same shingles either way)."""
    from builders.stages.dedup import hash_strings, match_words
    from builders.text import minhash

    n = len(text)
    if shingles is None:
        words = match_words(pc.utf8_slice_codeunits(text, 0, OPENING_CHARS))
        counts = np.diff(words.offsets)
        if (counts[pc.utf8_length(text).to_numpy(zero_copy_only=False) > OPENING_CHARS] <= REGION_WORDS).any():
            words = match_words(text)  # a cut text of few words: its last word may be cut too
        encoded = pc.dictionary_encode(words.tokens)
        word_hashes = hash_strings(pc.utf8_rtrim(encoded.dictionary, " "))[encoded.indices.to_numpy()] \
            if len(words.tokens) else np.zeros(0, np.uint64)
        shingles, doc = minhash.shingle_hashes(word_hashes, words.offsets, OPENING_NGRAM)
    # Each shingle's position in its document (documents in order): a count, not a search.
    counts = np.bincount(doc, minlength=n)
    position = np.arange(len(doc)) - np.repeat(np.cumsum(counts) - counts, counts)
    region = position <= REGION_WORDS - OPENING_NGRAM
    sig, opening = minhash.signatures_and_leads(shingles[region], doc[region], n, OPENING_PERMS, OPENING_SEED,
                                                lead=OPENING_WORDS - OPENING_NGRAM + 1)
    values = np.concatenate([opening, sig], axis=1) >> np.uint32(16)
    return np.ascontiguousarray(values.astype(np.uint16)).view(np.uint64)


def bitmap(records: np.ndarray) -> np.ndarray:
    """The anchor bitmaps of records (or bitmaps alone)."""
    return records[:, :BITMAP_WORDS]


def conflicts(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """Anchors (bits) of each `small` bitmap that its `large` bitmap lacks, per row."""
    return np.bitwise_count(bitmap(small) & ~bitmap(large)).sum(axis=1, dtype=np.int64)


def shared(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Anchors (bits) two bitmaps have in common, per row."""
    return np.bitwise_count(bitmap(a) & bitmap(b)).sum(axis=1, dtype=np.int64)


def opens_inside(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """Per row: of OPENING_PERMS permutations, how many give the `small` record's opening and the
    `large` record's region the same minimum. With the opening's shingles inside the region's
    (a copy that opens with its original's words) about a quarter do; sharing none, one in two
    thousand rows has one by a 16-bit collision."""
    a = np.ascontiguousarray(small[:, BITMAP_WORDS : BITMAP_WORDS + SKETCH_WORDS]).view(np.uint16)
    b = np.ascontiguousarray(large[:, BITMAP_WORDS + SKETCH_WORDS :]).view(np.uint16)
    from builders.text.minhash import agreeing

    return agreeing(a, b)
