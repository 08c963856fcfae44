"""The map's words (`match_words`, over UTF-8 bytes in numpy) are exactly what the Arrow kernels'
definition gives: `_normalize_regex` (lower case, runs of non-letters-and-digits one space,
trimmed) split at spaces; and the map's output is unchanged by how they are computed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from builders.stages import dedup
from builders.stages.dedup import _normalize_regex, match_words, normalize_for_matching

# Characters that take every branch: ASCII letters, digits and punctuation; letters beyond ASCII
# of two, three and four bytes (and their capitals); digits and numbers of other scripts (\pN:
# Arabic-Indic, superscript two, a half, Roman twelve); marks and format characters that are no
# letters (a combining acute, a zero-width space, a soft hyphen); spaces (no-break, ideographic);
# dashes, curly quotes, an emoji (four bytes), CJK.
ALPHABET = list("aZ09 ,.'-\n\t") + list("éÉßøØçÇñÑΣσςЖжאب٣²½Ⅻⅻ\u0301\u200b\u00ad\u00a0\u3000—–’“”😀中文ᚠ𝔄")


def reference(text: pa.Array) -> tuple[list[str], list[list[str]]]:
    normalized = _normalize_regex(text)
    return normalized.to_pylist(), [s.split(" ") if s else [] for s in normalized.to_pylist()]


def words_of(w: dedup.Words) -> list[list[str]]:
    tokens = pc.utf8_rtrim(w.tokens, " ").to_pylist()
    return [tokens[w.offsets[d] : w.offsets[d + 1]] for d in range(len(w.offsets) - 1)]


def check(values, chunked: bool = False) -> dedup.Words:
    text = pa.array(values, pa.string())
    w = match_words(pa.chunked_array([text[: len(text) // 2], text[len(text) // 2 :]]) if chunked else text)
    normalized, tokens = reference(text)
    assert w.normalized.to_pylist() == normalized
    assert words_of(w) == tokens
    assert list(w.empty) == [not t for t in tokens]
    assert w.offsets[0] == 0 and len(w.offsets) == len(values) + 1
    return w


def test_words_of_plain_and_odd_texts():
    check([
        "Hello, World! It's 2024.", "", None, "   ", "...", "a", "A B", "end of one text",
        "Text starts with a word", "Café São Paulo — “quoted” ’tis", "ΣΊΣΥΦΟΣ and Straße",
        "e\u0301 combining", "zero\u200bwidth soft\u00adhyphen no\u00a0break", "٣ ² ½ Ⅻ digits",
        "emoji😀inside 中文 𝔄lpha", "tabs\tand\nnewlines\r\n", "trailing punctuation!!!", "ok",
    ])


def test_words_are_cut_where_texts_meet():
    # Adjacent texts whose last and first bytes are both letters (or both beyond ASCII), with empty
    # and null texts between them, must not merge into one word.
    w = check(["abc", "def", "", "ghi", None, "", "é", "ö", "x y", "", "", "z"])
    assert words_of(w)[:2] == [["abc"], ["def"]]


def test_empty_batches():
    check([])
    check([""])
    check([None, None])
    w = match_words(pa.array([], pa.string()))
    assert len(w.normalized) == 0 and list(w.offsets) == [0]


def test_sliced_and_chunked_input():
    values = ["First text.", "Second, text!", "Third é text", "", "Fifth"]
    text = pa.array(values)
    w = match_words(text.slice(1, 3))
    assert w.normalized.to_pylist() == _normalize_regex(text.slice(1, 3)).to_pylist()
    check(values, chunked=True)


@pytest.mark.parametrize("seed", range(20))
def test_random_texts_equal_the_kernels(seed):
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(200):
        k = int(rng.integers(0, 40))
        values.append("".join(rng.choice(ALPHABET, k)) if rng.random() > 0.05 else None)
    check(values, chunked=bool(seed % 2))
    assert dedup._match_words_bytes(pc.fill_null(pa.array(values, pa.string()), "")) is not None  # no fallback


def test_letters_whose_lower_case_changes_length_take_the_kernels_path():
    # The Kelvin sign lowers to ASCII "k" (3 bytes to 1), capital I with dot to "i" (2 to 1).
    for special in ("\u212a", "\u0130"):
        values = [f"Temperature 300{special} today", "plain text", f"{special}"]
        assert dedup._match_words_bytes(pa.array(values)) is None
        check(values)


def test_invalid_utf8_takes_the_kernels_path():
    # A lead byte without its continuation byte: the bytes path declines; the kernels then raise,
    # as they did before.
    offsets = pa.py_buffer(np.array([0, 3], np.int32))
    text = pa.StringArray.from_buffers(1, offsets, pa.py_buffer(b"a\xc3b"), null_count=0)
    assert dedup._match_words_bytes(text) is None


def test_normalize_for_matching_is_the_definition():
    values = ["Don't STOP-believing!", "  x  ", None, "ÀÉÎ õü"]
    assert normalize_for_matching(pa.array(values)).to_pylist() == ["don t stop believing", "x", "", "àéî õü"]
