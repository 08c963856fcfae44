"""Source stories for the synthetic corpus: loading, source dedup and recombination into new stories."""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import xxhash

__all__ = ["Article", "StoryPool", "load_articles", "shingles", "jaccard"]

_WORD = re.compile(r"\w+")
# A sentence ends at . ! ? (optionally closed by a quote) followed by a capital or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"”’']?)\s+(?=[A-Z\"“‘'(])")

# Wire paragraphs are one to three sentences; sources like the BBC set glue many into one.
LONG_PARAGRAPH_WORDS = 70
TARGET_PARAGRAPH_WORDS = 35
MIN_POOL_PARAGRAPH_WORDS = 15
MAX_POOL_PARAGRAPH_WORDS = 80


@dataclass(frozen=True)
class Article:
    title: str
    paragraphs: tuple[str, ...]
    agency: str | None = None
    city: str | None = None
    follows: int | None = None  # index (in the loaded list) of the story this one follows up


def shingles(text: str, n: int = 5) -> set[int]:
    """Word n-gram hashes of a text, the measure the dedup stages use."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {xxhash.xxh64_intdigest(" ".join(words).encode())} if words else set()
    return {xxhash.xxh64_intdigest(" ".join(words[i : i + n]).encode()) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def split_long_paragraph(paragraph: str) -> list[str]:
    if len(paragraph.split()) <= LONG_PARAGRAPH_WORDS:
        return [paragraph]
    parts = _SENTENCE_END.split(paragraph)
    # re.split keeps the captured closing quote as its own item: glue it back to its sentence.
    sentences: list[str] = []
    for i in range(0, len(parts), 2):
        s = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
        if s.strip():
            sentences.append(s.strip())
    out: list[str] = []
    cur: list[str] = []
    cur_words = 0
    for s in sentences:
        cur.append(s)
        cur_words += len(s.split())
        if cur_words >= TARGET_PARAGRAPH_WORDS:
            out.append(" ".join(cur))
            cur, cur_words = [], 0
    if cur:
        if out and cur_words < MIN_POOL_PARAGRAPH_WORDS:
            out[-1] = out[-1] + " " + " ".join(cur)
        else:
            out.append(" ".join(cur))
    return out


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def load_articles(path: str | Path, *, split_long: bool = True, dedupe: bool = True) -> list[Article]:
    """Read a JSONL or JSONL.gz of {title, text[, agency, city, follows]}.

    With ``dedupe`` the later of two source articles that repeat each other (same text, a shared
    paragraph, or word 5-gram Jaccard >= 0.2) is dropped, so that distinct story labels stay true.
    ``follows`` names the title of an earlier article this one is a follow-up of.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    raw: list[dict] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            title = " ".join(str(obj.get("title") or "").split())
            text = str(obj.get("text") or "")
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
            paragraphs = [p for p in paragraphs if p]
            if split_long:
                paragraphs = [q for p in paragraphs for q in split_long_paragraph(p)]
            if not title or len(paragraphs) < 2:
                continue
            raw.append({**obj, "title": title, "paragraphs": paragraphs})

    kept: list[dict] = []
    if dedupe:
        seen_text: set[str] = set()
        seen_para: set[str] = set()
        sketches: dict[int, list[int]] = {}  # bottom-k shingle hash -> kept indices
        kept_shingles: list[set[int]] = []
        for r in raw:
            norm_paras = [_norm(p) for p in r["paragraphs"]]
            full = " ".join(norm_paras)
            if full in seen_text:
                continue
            # Hand-written follow-ups share one paragraph with their parent on purpose.
            if not r.get("follows") and any(len(p.split()) >= 8 and p in seen_para for p in norm_paras):
                continue
            sh = shingles(full)
            bottom = sorted(sh)[:16]
            cands: dict[int, int] = {}
            for h in bottom:
                for j in sketches.get(h, ()):
                    cands[j] = cands.get(j, 0) + 1
            limit = 0.35 if r.get("follows") else 0.2
            if any(jaccard(sh, kept_shingles[j]) >= limit for j, n in cands.items() if n >= 1):
                continue
            seen_text.add(full)
            seen_para.update(p for p in norm_paras if len(p.split()) >= 8)
            for h in bottom:
                sketches.setdefault(h, []).append(len(kept))
            kept_shingles.append(sh)
            kept.append(r)
    else:
        kept = raw

    index_by_title: dict[str, int] = {}
    for i, r in enumerate(kept):
        index_by_title.setdefault(r["title"], i)
    articles = []
    for i, r in enumerate(kept):
        follows = r.get("follows")
        parent = index_by_title.get(" ".join(str(follows).split())) if follows else None
        articles.append(
            Article(
                title=r["title"],
                paragraphs=tuple(r["paragraphs"]),
                agency=r.get("agency") or None,
                city=r.get("city") or None,
                follows=parent if parent is not None and parent < i else None,
            )
        )
    return articles


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    f = 3
    while f * f <= n:
        if n % f == 0:
            return False
        f += 2
    return True


class StoryPool:
    """Story contents by index: the source articles first, then recombined stories.

    Recombined stories are lines of an affine plane over Z_p: column j (one per paragraph slot)
    holds p paragraphs, and story (a, b) takes paragraph (a + b*(j+1)) mod p of column j. Two
    distinct lines meet in at most one point, so two recombined stories share at most one
    paragraph. Column 0 holds the source articles' leads, so each story opens like news; the rest
    of an article feeds one other column, so a recombined story shares at most two paragraphs
    (the lead and one more) with any source article. That keeps "different story" labels true at
    any scale, with p*p recombined stories available.
    """

    COLUMNS = 8
    MIN_RECOMBINED_PARAGRAPHS = 5  # with 4, one shared long paragraph can reach Jaccard 0.3

    def __init__(self, articles: list[Article], seed: int = 0):
        if not articles:
            raise ValueError("no usable source articles (need title and >= 2 paragraphs)")
        self.articles = articles
        self.n_base = len(articles)
        self._para_offset: list[int] = []
        off = 0
        for a in articles:
            self._para_offset.append(off)
            off += len(a.paragraphs)

        rng = random.Random(f"synth-pool-{seed}")
        order = list(range(self.n_base))
        rng.shuffle(order)
        columns: list[list[tuple[int, int]]] = [[] for _ in range(self.COLUMNS)]
        for ai in order:
            usable = [
                (ai, pj)
                for pj, p in enumerate(articles[ai].paragraphs)
                if MIN_POOL_PARAGRAPH_WORDS <= len(p.split()) <= MAX_POOL_PARAGRAPH_WORDS
            ]
            if usable and usable[0][1] == 0:
                columns[0].append(usable.pop(0))
            if not usable:
                continue
            col = min(range(1, self.COLUMNS), key=lambda c: (len(columns[c]), c))
            columns[col].extend(usable)
        smallest = min(len(c) for c in columns)
        p = smallest
        while p >= 2 and not _is_prime(p):
            p -= 1
        self.p = p if p >= 2 else 0
        for c in columns:
            rng.shuffle(c)  # spread one article's paragraphs over the column
        self._columns = [c[: self.p] for c in columns]
        self.content = lru_cache(maxsize=8192)(self._content)

    @property
    def capacity(self) -> int:
        """How many distinct story contents the pool can give."""
        return self.n_base + self.p * self.p

    def _line(self, r: int) -> tuple[int, int, int]:
        a, b = r % self.p, r // self.p
        length = self.MIN_RECOMBINED_PARAGRAPHS + (r * 2654435761 >> 7) % (self.COLUMNS - self.MIN_RECOMBINED_PARAGRAPHS + 1)
        return a, b, length

    def paragraph_ids(self, c: int) -> tuple[int, ...]:
        """Global ids of the source paragraphs a content uses (for overlap checks)."""
        if c < self.n_base:
            off = self._para_offset[c]
            return tuple(off + j for j in range(len(self.articles[c].paragraphs)))
        a, b, length = self._line(c - self.n_base)
        out = []
        for j in range(length):
            ai, pj = self._columns[j][(a + b * (j + 1)) % self.p]
            out.append(self._para_offset[ai] + pj)
        return tuple(out)

    def _content(self, c: int) -> tuple[str, tuple[str, ...]]:
        """(title, paragraphs) of content ``c``."""
        if c < self.n_base:
            art = self.articles[c]
            return art.title, art.paragraphs
        if c >= self.capacity:
            raise IndexError(f"content {c} beyond pool capacity {self.capacity}")
        a, b, length = self._line(c - self.n_base)
        picks = [self._columns[j][(a + b * (j + 1)) % self.p] for j in range(length)]
        paragraphs = tuple(self.articles[ai].paragraphs[pj] for ai, pj in picks)
        # Headline spliced from the titles of the first three paragraphs' articles: one title
        # alone would repeat across every recombined story that shares a lead paragraph.
        t = [self.articles[ai].title.split() for ai, _ in picks[:3]]
        n0, n1, n2 = len(t[0]), len(t[1]), len(t[2])
        words = t[0][: max(2, (n0 + 1) // 2)] + t[1][n1 // 3 : max(n1 // 3 + 1, (2 * n1) // 3)] + t[2][(2 * n2) // 3 :]
        title = " ".join(words)
        return title[:1].upper() + title[1:], paragraphs
