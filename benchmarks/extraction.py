"""HTML article extraction scored on real news pages: token precision/recall, micro-averaged.

The pages are `../shared/corpora/html-news/NAME.html.gz`, each with the article text a good
extractor returns in `NAME.txt` (newspaper4k's test data). Scores compare bags of tokens, so
line breaks and paragraph boundaries do not count, only which text was kept. Tokens are words
(letters, digits and combining marks, case-folded, NFKC) except in scripts written without
spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar, Tibetan), where every character
is a token.

    python -m benchmarks.extraction [--shared PATH] [--repeat N]

prints a markdown table: our extractor (builders.text.html) with trafilatura and with
resiliparse, beside both libraries called with their defaults, and pages/s on one core.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared"
HTML_NEWS = Path("corpora") / "html-news"

# Scripts written without spaces between words: every character is a token.
_NO_SPACE_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended-B
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x323AF),  # CJK extensions B-H
)
_STARTS = [lo for lo, _ in _NO_SPACE_RANGES]


def _no_space_script(ch: str) -> bool:
    cp = ord(ch)
    i = bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp <= _NO_SPACE_RANGES[i][1]


def tokens(text: str) -> list[str]:
    """Words, or single characters in scripts without word spaces; punctuation and spaces dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        if _no_space_script(ch):
            if word:
                out.append("".join(word))
                word = []
            if unicodedata.category(ch)[0] in "LMN":
                out.append(ch)
        elif ch.isalnum() or (word and unicodedata.category(ch)[0] == "M"):
            word.append(ch)
        elif word:
            out.append("".join(word))
            word = []
    if word:
        out.append("".join(word))
    return out


@dataclass
class TokenScores:
    pages: int
    predicted: int  # tokens extracted
    expected: int  # tokens in the expected texts
    matched: int  # multiset overlap, summed over pages
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def page_counts(predicted: str, expected: str) -> tuple[int, int, int]:
    """(predicted tokens, expected tokens, matched tokens) of one page, tokens as a multiset."""
    p, e = Counter(tokens(predicted)), Counter(tokens(expected))
    return sum(p.values()), sum(e.values()), sum((p & e).values())


def token_scores(pairs: Iterable[tuple[str, str]]) -> TokenScores:
    """Micro-averaged token precision/recall over (predicted, expected) text pairs.

    A page with nothing extracted adds to the expected tokens only (it lowers recall). Precision
    is 1.0 when nothing at all was predicted (no wrong token), recall 1.0 when nothing was expected.
    """
    pages = predicted = expected = matched = 0
    for pred, exp in pairs:
        p, e, m = page_counts(pred or "", exp or "")
        pages += 1
        predicted += p
        expected += e
        matched += m
    precision = matched / predicted if predicted else 1.0
    recall = matched / expected if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TokenScores(pages, predicted, expected, matched, precision, recall, f1)


@dataclass
class Page:
    name: str
    html: bytes
    expected: str


def load_pages(shared: Path) -> list[Page]:
    folder = Path(shared) / HTML_NEWS
    pages = []
    for gz in sorted(folder.glob("*.html.gz")):
        name = gz.name[: -len(".html.gz")]
        txt = folder / f"{name}.txt"
        if txt.exists():
            pages.append(Page(name, gzip.decompress(gz.read_bytes()), txt.read_text(encoding="utf-8")))
    return pages


# --- extractors under comparison: page bytes -> text ("" when the extractor gives nothing) ---


def ours(extractor: str) -> Callable[[bytes], str]:
    from builders.text.html import ExtractionError, extract_article

    def run(raw: bytes) -> str:
        try:
            return extract_article(raw, extractor=extractor).text
        except ExtractionError:
            return ""

    return run


def trafilatura_defaults(raw: bytes) -> str:
    import trafilatura

    return trafilatura.extract(raw) or ""


def resiliparse_defaults(raw: bytes) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    html = bytes_to_str(raw, detect_encoding(raw))
    return extract_plain_text(HTMLTree.parse(html), main_content=True)


EXTRACTORS: dict[str, Callable[[], Callable[[bytes], str]]] = {
    "ours (trafilatura)": lambda: ours("trafilatura"),
    "ours (resiliparse)": lambda: ours("resiliparse"),
    "trafilatura.extract defaults": lambda: trafilatura_defaults,
    "resiliparse defaults": lambda: resiliparse_defaults,
}


def run_extractor(fn: Callable[[bytes], str], pages: list[Page], repeat: int = 1) -> tuple[list[str], float]:
    """Texts of the first pass and pages/s over all passes (one core, this process)."""
    fn(pages[0].html)  # warm-up: imports and lazy initialisation are not per-page work
    texts: list[str] = []
    start = time.perf_counter()
    for r in range(repeat):
        out = [fn(p.html) for p in pages]
        if r == 0:
            texts = out
    elapsed = time.perf_counter() - start
    return texts, len(pages) * repeat / elapsed if elapsed > 0 else float("inf")


def benchmark(shared: Path, repeat: int = 1, names: Iterable[str] | None = None) -> list[dict]:
    pages = load_pages(shared)
    if not pages:
        raise SystemExit(f"no pages in {Path(shared) / HTML_NEWS}")
    rows = []
    for name in names or EXTRACTORS:
        texts, rate = run_extractor(EXTRACTORS[name](), pages, repeat)
        s = token_scores(zip(texts, (p.expected for p in pages)))
        empty = sum(1 for t in texts if not t.strip())
        rows.append({"extractor": name, **s.as_dict(), "empty": empty, "pages_per_s": rate})
    return rows


def markdown(rows: list[dict]) -> str:
    pages = rows[0]["pages"] if rows else 0
    lines = [
        f"Token scores micro-averaged over {pages} html-news pages (CJK/Thai/Burmese by character).",
        "",
        "| extractor | precision | recall | F1 | empty pages | pages/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['extractor']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['empty']} | {r['pages_per_s']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (default: ../shared)")
    ap.add_argument("--repeat", type=int, default=3, help="passes over the pages for the pages/s figure")
    args = ap.parse_args(argv)
    if not (args.shared / HTML_NEWS).is_dir():
        print(f"no {HTML_NEWS} under {args.shared}", file=sys.stderr)
        return 2
    print(markdown(benchmark(args.shared, repeat=args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
