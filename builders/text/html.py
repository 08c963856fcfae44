"""HTML page bytes -> article text and metadata: pure functions, one page per call, no pipeline state.

`decode_html` turns page bytes into text (declared charset, BOM, <meta>, then detection);
`extract_article` decodes, extracts the main text with trafilatura (default) or resiliparse and
returns an `Article`, or raises `ExtractionError(code, message)` for a page it cannot use.
trafilatura, charset_normalizer and resiliparse are imported on first use, so importing this
module is cheap.
"""

from __future__ import annotations

import codecs
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date as _date
from datetime import datetime as _datetime
from typing import Iterator
from urllib.parse import urljoin, urlsplit

EXTRACTORS = ("trafilatura", "resiliparse")


class ExtractionError(Exception):
    """A page that gives no article: `.code` is short snake_case, `.message` one line."""

    def __init__(self, code: str, message: str):
        message = " ".join(str(message).split())[:300]
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class Article:
    text: str  # body paragraphs joined by "\n\n"
    title: str | None
    date: str | None  # ISO 8601 date or datetime
    author: str | None
    sitename: str | None
    url: str | None  # canonical / og:url when the page names one, else the url passed in
    lang: str | None  # primary language subtag, lower-cased, from <html lang> or <meta>
    charset: str  # Python codec name used to decode the bytes ("utf-8", "cp1252", "cp932", ...)


# --------------------------------------------------------------------------- decoding

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Labels browsers know and Python does not, by lower-cased label.
_LABEL_ALIASES = {
    "windows-874": "cp874",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "x-gbk": "gb18030",
    "x-euc-jp": "euc_jp",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
}
# What browsers decode a declared encoding as (WHATWG Encoding Standard), by Python codec name:
# pages declared Latin-1 or ASCII are written in windows-1252, GB2312 pages in GBK/GB18030, etc.
_WHATWG = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
_SINGLE_BYTE_PREFIXES = ("cp125", "cp874", "cp437", "cp850", "cp866", "iso8859", "koi8", "mac-", "tis-620", "ascii")

_CT_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([^"';,\s]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([A-Za-z0-9_:.\-]+)""", re.I)
_PRESCAN_BYTES = 4096


def _codec(label: str | None, *, from_meta: bool = False) -> str | None:
    """Python codec name for a charset label, mapped as browsers map it; None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _LABEL_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    name = _WHATWG.get(name, name)
    if from_meta and name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # a page that can say so in ASCII is not UTF-16 (HTML spec)
    if name in ("utf-7", "rot-13") or "codec" in name:
        return None
    return name


def _is_single_byte(name: str) -> bool:
    return name.startswith(_SINGLE_BYTE_PREFIXES)


def _valid_utf8_with_non_ascii(raw: bytes) -> bool:
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect(raw: bytes) -> str | None:
    """charset_normalizer's guess on the page's text (tags stripped, first 256 KB)."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with trafilatura
        return None
    sample = re.sub(rb"<(script|style)\b.*?</\1\s*>|<[^>]*>", b" ", raw[:262144], flags=re.I | re.S)
    if sample.isascii():
        sample = raw[:262144]
    best = from_bytes(sample).best()
    return _codec(best.encoding) if best is not None else None


def decode_html(raw: bytes, http_content_type: str | None = None) -> tuple[str, str]:
    """(text, charset): charset from a BOM, then the HTTP Content-Type header, then <meta charset> /
    http-equiv / an XML declaration in the first 4 KB, then detection (strict UTF-8, then
    charset_normalizer, then windows-1252); undecodable bytes replaced, never raises.

    A byte order mark wins over the header, as in browsers (the bytes cannot lie about it). A page
    declared in a single-byte charset (Latin-1, windows-125x, ...) whose bytes are valid UTF-8 with
    non-ASCII characters in them is decoded as UTF-8: a mislabelled server default, not a
    windows-1252 page (such bytes are vanishingly rare in real single-byte text). Labels are mapped
    as browsers map them (ISO-8859-1 and ASCII to cp1252, GB2312/GBK to gb18030, Shift_JIS to cp932,
    EUC-KR to cp949). `charset` is the Python codec name.
    """
    try:
        raw = bytes(raw)
        for bom, name in _BOMS:
            if raw.startswith(bom):
                return raw[len(bom) :].decode(name, errors="replace"), name
        declared = None
        if http_content_type:
            m = _CT_CHARSET.search(http_content_type)
            declared = _codec(m.group(1)) if m else None
        if declared is None:
            head = raw[:_PRESCAN_BYTES]
            m = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
            declared = _codec(m.group(1).decode("ascii", "replace"), from_meta=True) if m else None
        if declared is not None:
            if _is_single_byte(declared) and _valid_utf8_with_non_ascii(raw):
                declared = "utf-8"
            return raw.decode(declared, errors="replace"), declared
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        name = None
        try:
            name = _detect(raw)
        except Exception:  # noqa: BLE001 - detection is best effort
            name = None
        name = name or "cp1252"
        return raw.decode(name, errors="replace"), name
    except Exception:  # noqa: BLE001 - never raise: last resort
        return bytes(raw).decode("utf-8", errors="replace"), "utf-8"


# --------------------------------------------------------------------------- time limit


class _Timeout(BaseException):
    """Raised by our SIGALRM handler; a BaseException so that `except Exception` in the
    extractor libraries cannot swallow it."""

    def __init__(self, token: object):
        super().__init__("time limit")
        self.token = token


class _Limit:
    """State of one `_time_limit` block; `outer_exc` is what the caller's own alarm handler raised
    inside it, which must reach the caller unchanged (not become a parse_error)."""

    outer_fired = False
    outer_exc: BaseException | None = None


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[_Limit]:
    """Raise ExtractionError("timeout") if the block runs longer than `seconds` (main thread only).

    Uses ITIMER_REAL/SIGALRM, so it only works in the main thread of a process; elsewhere (and
    where setitimer is missing, or without a positive limit) the block just runs. Re-entrant: an
    alarm already armed by the caller (an outer limit, pytest-timeout, anyone's setitimer) keeps
    its deadline: if that falls inside our block, the caller's handler is called on time (and what
    it raises is re-raised after the block even if the extractor swallowed it), otherwise it is
    re-armed with the time it has left when we leave. The previous handler is always restored.
    C code (the HTML parsers) is interrupted only when it returns to Python.
    """
    limit = _Limit()
    if (
        not seconds
        or seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield limit
        return
    token = object()
    start = time.monotonic()
    deadline = start + seconds
    prev_handler = signal.getsignal(signal.SIGALRM)
    prev_delay, prev_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    prev_deadline = start + prev_delay if prev_delay > 0 else None

    def _arm() -> None:
        now = time.monotonic()
        due = deadline if prev_deadline is None or limit.outer_fired else min(deadline, prev_deadline)
        signal.setitimer(signal.ITIMER_REAL, max(due - now, 1e-4))

    def _handler(signum, frame):  # noqa: ANN001
        now = time.monotonic()
        if prev_deadline is not None and not limit.outer_fired and now >= prev_deadline - 1e-4:
            limit.outer_fired = True  # the caller's alarm is due: deliver it as it would have been
            if now < deadline - 1e-4:
                _arm()  # first, so that our limit still holds if the caller's handler returns
            try:
                if callable(prev_handler):
                    prev_handler(signum, frame)
                elif prev_handler == signal.SIG_DFL:
                    signal.signal(signal.SIGALRM, signal.SIG_DFL)
                    signal.raise_signal(signal.SIGALRM)  # the default action terminates the process
            except BaseException as exc:
                limit.outer_exc = exc
                raise
            if now < deadline - 1e-4:
                return
        if now >= deadline - 1e-4:
            raise _Timeout(token)
        _arm()  # woken early (clock rounding): sleep again

    try:
        signal.signal(signal.SIGALRM, _handler)
        _arm()
        yield limit
        if limit.outer_exc is not None:
            raise limit.outer_exc  # the extractor swallowed the caller's exception: give it back
    except _Timeout as exc:
        if exc.token is not token:
            raise
        raise ExtractionError("timeout", f"extraction took longer than {seconds:g} s") from None
    finally:
        while True:  # an alarm of ours landing here must not skip the restore
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, prev_handler if prev_handler is not None else signal.SIG_DFL)
                break
            except _Timeout as exc:
                if exc.token is not token:
                    raise
        if prev_deadline is not None:
            if limit.outer_fired:
                if prev_interval > 0:
                    signal.setitimer(signal.ITIMER_REAL, prev_interval, prev_interval)
            else:
                signal.setitimer(signal.ITIMER_REAL, max(prev_deadline - time.monotonic(), 1e-4), prev_interval)


# --------------------------------------------------------------------------- page checks and metadata

_BINARY_MAGIC = (b"%PDF-", b"\x89PNG", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"BZh9", b"\xfd7zXZ", b"(\xb5/\xfd", b"RIFF", b"\x00\x00\x01\x00", b"OggS", b"ID3", b"wOFF", b"wOF2", b"\x7fELF")
_NON_HTML_TYPES = re.compile(r"^\s*(image|audio|video|font)/|^\s*application/(pdf|zip|gzip|x-gzip|x-bzip2|x-xz|zstd|msword|x-shockwave-flash)", re.I)
_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9:-]*[\s/>]|!doctype|!--)", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_HEAD_END = re.compile(r"</head\s*>|<body\b", re.I)
_HTML_LANG = re.compile(r"""<html\b[^>]*?\s(?:xml:)?lang\s*=\s*["']?\s*([A-Za-z]{2,3})(?![A-Za-z])""", re.I)
_META_TAG = re.compile(r"<meta\b[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_LANG_METAS = ("content-language", "language", "og:locale", "dc.language", "lang", "inlanguage")
_LANG_CODE = re.compile(r"^\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*$")


def _not_html_reason(raw: bytes, http_content_type: str | None) -> str | None:
    if http_content_type and _NON_HTML_TYPES.search(http_content_type):
        return f"Content-Type {http_content_type.split(';')[0].strip()}"
    head = raw[:16].lstrip()
    for magic in _BINARY_MAGIC:
        if head.startswith(magic):
            return f"binary file (starts with {magic[:4]!r})"
    return None


def _head(html: str) -> str:
    m = _HEAD_END.search(html, 0, 300_000)
    return html[: m.start() if m else 100_000]


def _metas(head: str) -> Iterator[dict[str, str]]:
    for tag in _META_TAG.finditer(head):
        attrs = {}
        for m in _ATTR.finditer(tag.group(0)):
            value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
            attrs[m.group(1).lower()] = value
        yield attrs


def _lang(html: str) -> str | None:
    """Primary language subtag from <html lang> or a language <meta> in the head, lower-cased."""
    head = _head(html)
    m = _HTML_LANG.search(head)
    if m:
        return m.group(1).lower()
    for attrs in _metas(head):
        key = (attrs.get("http-equiv") or attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").lower()
        if key in _LANG_METAS:
            m = _LANG_CODE.match(attrs.get("content") or "")
            if m:
                return m.group(1).lower()
    return None


def _iso_date(value: str | None) -> str | None:
    """`value` as an ISO 8601 date or datetime string, or None when it is not one."""
    if not value:
        return None
    value = value.strip()
    try:
        return _date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return _datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value).isoformat()
    except ValueError:
        return None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


# --------------------------------------------------------------------------- text layout

# Wide East Asian characters other than Hangul (Korean puts spaces between words).
_CJK_WIDE = r"\u2e80-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uff9f"
_CJK_BREAK = re.compile(rf"[\r\n][ \t\r\n]*(?=[{_CJK_WIDE}])")
_CJK_CHAR = re.compile(rf"[{_CJK_WIDE}]")
_LINE_BREAK = re.compile(r"\s*[\r\n]\s*")


def _join_cjk_lines(html: str) -> str:
    """Drop line breaks of the page source between two wide East Asian characters, as browsers
    do (CSS Text 3 segment-break transformation): 香港\\n道歉 is 香港道歉, not 香港 道歉. Every other
    source line break is a space, which both extractors already make of it (see `_unwrap`)."""

    # Pages in these scripts show one in their first 64 KB (title, menus); others skip the pass.
    if not _CJK_CHAR.search(html, 0, 65536):
        return html

    def join(m: re.Match) -> str:
        i = m.start()
        return "" if i > 0 and _CJK_CHAR.match(html, i - 1) else m.group(0)

    return _CJK_BREAK.sub(join, html)


def _unwrap(text: str) -> str:
    """A line break inside a text node of the page is white space, not a paragraph break."""
    return _LINE_BREAK.sub(" ", text)


def _paragraphs(text: str | None) -> list[str]:
    return [p for p in (" ".join(line.split()) for line in (text or "").splitlines()) if p]


# --------------------------------------------------------------------------- trafilatura

# Options, measured with benchmarks/extraction.py on the 23 pages of ../shared/corpora/html-news
# (token precision / recall, micro-averaged, CJK by character; pages/s through extract_article on
# one core of a busy 2-core machine, so compare rows, not absolute figures):
#   trafilatura.extract(html) defaults (no metadata) ................ P 0.941  R 0.998  35/s
#   bare_extraction, include_comments=False ......................... P 0.941  R 0.998
#     + favor_recall ................................................ P 0.925  R 0.997
#     + favor_precision ............................................. P 0.974  R 0.994  27/s
#     + favor_precision, fast=True (no readability/justext fallback)  P 0.974  R 0.994  34/s
#     include_tables=False: no measurable change (P +0.0004, R -0.001)
#   deduplicate=True: never. Its LRU cache is process-global, so a page's text depends on the
#     pages the worker saw before (re-run pages in our grid fell to recall 0.17 ... 0.003).
#   chosen (the only setting at least as good as the defaults on both P and R):
#     a favor_precision pass (fast=True) locates the article; a default-options pass on the same
#     parsed tree gives the lines between its first and last line (interior lines the precision
#     pass pruned: in-story links, table rows) and, just above them, the standfirst when it is
#     the page's <meta> description .................................. P 0.975  R 0.998  17/s
#     with fast=True on both passes ................................... P 0.975  R 0.997  21/s
#   So the two passes cost about half the throughput of one favor_precision pass, for +0.004
#   recall (a lead paragraph, and teaser/product lines inside article bodies that the expected
#   texts keep). include_comments=False: reader comments are not the article.
_TRAFILATURA_OPTIONS = dict(include_comments=False, include_tables=True, deduplicate=False, with_metadata=False)
_MAX_WIDEN_RATIO = 1.5  # a widened span this much longer than the precision text is not interior chrome


def _trafilatura_lines(doc) -> list[str]:  # noqa: ANN001
    if doc is None or doc.body is None:
        return []
    from trafilatura.xml import xmltotxt

    body = doc.body
    for el in body.iter():
        if el.text and el.tag != "code" and ("\n" in el.text or "\r" in el.text):  # <pre> keeps its lines
            el.text = _unwrap(el.text)
        if el.tail and ("\n" in el.tail or "\r" in el.tail):
            el.tail = _unwrap(el.tail)
    return _paragraphs(xmltotxt(body, False))


def _widen(precise: list[str], full: list[str], description: str | None) -> list[str]:
    """The full run's lines between the first and last precision lines, plus the standfirst above."""
    if not precise:
        return full
    counts: dict[str, int] = {}
    for line in full:
        counts[line] = counts.get(line, 0) + 1
    kept = set(precise)
    anchors = [i for i, line in enumerate(full) if line in kept and counts[line] == 1]
    if not anchors:
        return precise
    lo, hi = anchors[0], anchors[-1]
    span = full[lo : hi + 1]
    if lo > 0 and description:
        above, desc = full[lo - 1], " ".join(description.split()).rstrip(" .…")
        if len(desc) >= 40 and above.startswith(desc) and above not in kept:
            span.insert(0, above)
    if sum(map(len, span)) > _MAX_WIDEN_RATIO * sum(map(len, precise)) + 200:
        return precise
    return span


def _run_trafilatura(html: str, url: str | None) -> dict:
    import trafilatura
    from trafilatura.metadata import extract_metadata
    from trafilatura.utils import load_html

    tree = load_html(_XML_DECL.sub("", html, count=1))
    if tree is None:
        raise ExtractionError("parse_error", "trafilatura could not parse the page")
    # bare_extraction works on its own copy of a tree it is given: parse once, extract twice.
    precise = _trafilatura_lines(
        trafilatura.bare_extraction(tree, url=url, favor_precision=True, fast=True, **_TRAFILATURA_OPTIONS)
    )
    full = _trafilatura_lines(trafilatura.bare_extraction(tree, url=url, **_TRAFILATURA_OPTIONS))
    if not precise and not full:
        return {"text": "", "title": None, "date": None, "author": None, "sitename": None, "url": url}
    meta = extract_metadata(tree, default_url=url)  # last use of the tree: no copy
    lines = _widen(precise, full, meta.description)
    return {
        "text": "\n\n".join(lines),
        "title": _clean(meta.title),
        "date": _iso_date(meta.date),
        "author": _clean(meta.author),
        "sitename": _clean(meta.sitename),
        "url": _clean(meta.url) or url,
    }


# --------------------------------------------------------------------------- resiliparse

# extract_plain_text(main_content=True) options, measured like the trafilatura ones above:
#   defaults (alt_texts, list_bullets, comments, post_meta on) ...... P 0.840  R 0.9997
#   alt_texts=False, comments=False, post_meta=False .................. P 0.898  R 0.998
# list_bullets does not change tokens; off, so list items are plain paragraphs. About 15 times
# the pages/s of our trafilatura extraction.
_RESILIPARSE_OPTIONS = dict(main_content=True, alt_texts=False, comments=False, post_meta=False, list_bullets=False)
# Its main-content pass is super-quadratic in nesting depth and runs in C, out of SIGALRM's reach
# (measured: 1,000 nested <div> 0.02 s, 10,000 2.3 s, 20,000 11 s, 100,000 nearly 5 minutes).
# A CSS child chain finds an element nested deeper than this in about 5 ms, 0.3 ms on real pages.
_MAX_DEPTH = 1000
_TOO_DEEP = "*" + " > *" * _MAX_DEPTH


def _attr(tree, selector: str, name: str) -> str | None:  # noqa: ANN001
    el = tree.document.query_selector(selector)
    return _clean(el.getattr(name)) if el is not None else None


def _absolute_url(candidate: str | None, base: str | None) -> str | None:
    """`candidate` as an absolute http(s) URL (a root-relative one joined to `base`), else None."""
    if not candidate:
        return None
    if candidate.startswith("/") and not candidate.startswith("//"):
        candidate = urljoin(base, candidate) if base else ""
    elif candidate.startswith("//"):
        candidate = urljoin(base, candidate) if base else "https:" + candidate
    parts = urlsplit(candidate)
    return candidate if parts.scheme in ("http", "https") and parts.netloc else None


def _run_resiliparse(html: str, url: str | None) -> dict:
    try:
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree
    except ImportError as exc:
        raise ExtractionError("extractor_missing", f"resiliparse is not installed ({exc})") from None
    tree = HTMLTree.parse(html)
    if tree.document is None:
        return {"text": "", "title": None, "date": None, "author": None, "sitename": None, "url": url}
    if tree.document.query_selector(_TOO_DEEP) is not None:
        raise ExtractionError("parse_error", f"resiliparse: elements nested more than {_MAX_DEPTH} deep")
    text = extract_plain_text(tree, **_RESILIPARSE_OPTIONS)
    page_url = None
    for candidate in (_attr(tree, 'link[rel~="canonical" i]', "href"), _attr(tree, 'meta[property="og:url" i]', "content")):
        page_url = _absolute_url(candidate, url)
        if page_url:
            break
    date = None
    for selector in ('meta[property="article:published_time" i]', 'meta[itemprop="datePublished" i]', 'meta[name="date" i]'):
        date = _iso_date(_attr(tree, selector, "content"))
        if date:
            break
    author = _attr(tree, 'meta[name="author" i]', "content")
    return {
        "text": "\n\n".join(_paragraphs(text)),
        "title": _clean(tree.title) or _attr(tree, 'meta[property="og:title" i]', "content"),
        "date": date,
        "author": None if author and author.startswith(("http://", "https://")) else author,
        "sitename": _attr(tree, 'meta[property="og:site_name" i]', "content"),
        "url": page_url or url,
    }


# --------------------------------------------------------------------------- hostile markup

# Markup the parsers take super-linear time on, in C code that SIGALRM cannot interrupt (measured
# on a busy core): one tag with n distinct attributes is quadratic in both lxml and lexbor
# (40,000: lxml 2.6 s; 500,000: many minutes), and lexbor's adoption agency is quadratic in
# misnested formatting elements (`<a><b><i><u>` x 20,000: 1.5 s, x 100,000: 21 s). Real pages
# have tags of a few dozen attributes and a handful of unclosed <b> or <font>.
MAX_ATTRIBUTES = 1000
MAX_UNCLOSED_FORMATTING = 10_000
_START_TAG = re.compile(r"""<[A-Za-z](?:[^>"']+|"[^"]*"|'[^']*')*""")  # a start tag, quoted values skipped
_QUOTED = re.compile(r""""[^"]*"|'[^']*'""")
_ATTRIBUTE = re.compile(r"[^\s=/]+(?:\s*=\s*[^\s=/]*)?")
_FORMATTING = r"(?:a|b|big|code|em|font|i|nobr|s|small|strike|strong|tt|u)"
_FORMATTING_START = re.compile(rf"<{_FORMATTING}[\s/>]", re.I)
_FORMATTING_END = re.compile(rf"</{_FORMATTING}[\s>]", re.I)


def _hostile_markup(html: str, extractor: str) -> str | None:
    """Why the page would hold a parser for minutes in C code, or None (regex passes, 2-6 ms per MB)."""
    for m in _START_TAG.finditer(html):
        if m.end() - m.start() > 4 * MAX_ATTRIBUTES:  # shorter tags cannot hold that many attributes
            count = len(_ATTRIBUTE.findall(_QUOTED.sub("''", m.group(0)))) - 1  # the first is the tag name
            if count > MAX_ATTRIBUTES:
                name = m.group(0)[1:40].split()[0]
                return f"a <{name}> tag with {count:,} attributes (more than {MAX_ATTRIBUTES:,})"
    if extractor == "resiliparse" and html.count("<") > MAX_UNCLOSED_FORMATTING:  # fewer tags: none unclosed enough
        unclosed = len(_FORMATTING_START.findall(html)) - len(_FORMATTING_END.findall(html))
        if unclosed > MAX_UNCLOSED_FORMATTING:
            return f"{unclosed:,} unclosed formatting elements (<a>, <b>, <i>, ...; more than {MAX_UNCLOSED_FORMATTING:,})"
    return None


# --------------------------------------------------------------------------- entry point


def extract_article(
    raw: bytes,
    *,
    url: str | None = None,
    http_content_type: str | None = None,
    extractor: str = "trafilatura",
    max_bytes: int = 5_000_000,
    timeout: float = 10.0,
) -> Article:
    """The article in one HTML page's bytes.

    Raises ExtractionError with code "too_large" (more than `max_bytes`, checked before any
    parsing), "not_html" (a binary file or no markup), "too_complex" (markup a parser would take
    minutes on, out of the time limit's reach: see `_hostile_markup`), "timeout" (longer than `timeout` seconds;
    enforced only in the main thread), "parse_error" (the extractor failed; one line),
    "no_text" (nothing extracted) or "extractor_missing" (resiliparse not installed); ValueError
    for an extractor name not in EXTRACTORS (a caller's mistake, not the page's).
    """
    if extractor not in EXTRACTORS:
        raise ValueError(f"unknown extractor {extractor!r}; one of {', '.join(EXTRACTORS)}")
    size = len(raw)
    if size > max_bytes:
        raise ExtractionError("too_large", f"page is {size:,} bytes, over the {max_bytes:,}-byte limit")
    reason = _not_html_reason(raw, http_content_type)
    if reason:
        raise ExtractionError("not_html", reason)
    with _time_limit(timeout) as limit:
        html, charset = decode_html(raw, http_content_type)
        if "\x00" in html:
            html = html.replace("\x00", "")
        html = _join_cjk_lines(html)
        if not _TAG.search(html):
            raise ExtractionError("not_html", "no HTML markup in the page")
        hostile = _hostile_markup(html, extractor)
        if hostile:
            raise ExtractionError("too_complex", hostile)
        run = _run_trafilatura if extractor == "trafilatura" else _run_resiliparse
        try:
            fields = run(html, url)
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - garbage pages: any failure is this page's
            if exc is limit.outer_exc:
                raise  # the caller's own alarm handler raised it: not ours to convert
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ExtractionError("parse_error", f"{extractor}: {type(exc).__name__}: {first}") from None
        lang = _lang(html)
    if not fields["text"].strip():
        raise ExtractionError("no_text", f"{extractor} found no article text")
    return Article(lang=lang, charset=charset, **fields)
