"""Plan and write a labelled synthetic scraped-news corpus (raw pages, HTML, WARC, truth, manifest)."""

from __future__ import annotations

import array
import bisect
import gzip
import hashlib
import io
import json
import math
import random
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .edits import edit_copy
from .sites import (
    AGENCIES,
    AGENCY_INDEX,
    CITIES,
    SECTIONS,
    Page,
    build_blocks,
    junk_blocks,
    make_site,
    page_url,
    render_html,
    render_text,
)
from .stories import StoryPool, load_articles

__all__ = ["generate", "PROFILES", "GENERATOR_VERSION", "KINDS", "TRUTH_SCHEMA", "SAMPLE_SOURCE", "generate_sample"]

GENERATOR_VERSION = "1.0.0"
KINDS = ("original", "copy", "exact_copy", "recrawl", "followup", "junk")
ORIGINAL, COPY, EXACT, RECRAWL, FOLLOWUP, JUNK = range(len(KINDS))
JUNK_KINDS = ("404", "listing", "short", "empty")

TRUTH_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("story", pa.string()),
        ("site", pa.string()),
        ("kind", pa.string()),
        ("title", pa.string()),
        ("text", pa.string()),
        ("parent", pa.string()),  # follow-ups: the story they follow up; else ""
        ("duplicate_of", pa.string()),  # exact_copy / recrawl: the page id they repeat; else ""
        ("edits", pa.string()),  # comma-separated edits this copy got
    ]
)

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_SOURCE = PACKAGE_DIR / "data" / "sample_stories.jsonl"
# Recorded in the sample's manifest instead of an absolute path, so the sample is the same on
# every checkout.
SAMPLE_SOURCE_LABEL = "builders/synth/data/sample_stories.jsonl"
SAMPLE_OUT = PACKAGE_DIR.parents[1] / "data" / "sample"
SAMPLE_ARGS = dict(pages=300, seed=0, shard_pages=100, stories="source", junk=5, followup_rate=0.0, n_sites=60,
                   max_copies=20)

EXACT_RATE = 0.06
RECRAWL_RATE = 0.04
DEFAULT_JUNK_RATE = 0.003
START = datetime(2020, 1, 1, tzinfo=timezone.utc)
PROFILES = ("default", "hard")


def copy_count(rng: random.Random) -> int:
    """Pages one story gets: many once, many 2-5 times, some wire stories 10-50 times."""
    r = rng.random()
    if r < 0.48:
        return 1
    if r < 0.86:
        return rng.choices((2, 3, 4, 5), (16, 10, 7, 5))[0]
    if r < 0.94:
        return rng.randint(6, 9)
    return int(round(math.exp(rng.uniform(math.log(10), math.log(50.5)))))


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _splice_titles(first: str, second: str) -> str:
    a, b = first.split(), second.split()
    return " ".join(a[: max(2, len(a) // 2)] + b[len(b) // 2 :])


class _Plan:
    """Who publishes what, where and when: compact arrays, one entry per story or page."""

    def __init__(self) -> None:
        # per story
        self.content = array.array("q")
        self.parent = array.array("q")
        self.explicit = array.array("b")  # follow-up written as such in the source
        self.agency = array.array("q")
        self.city = array.array("q")
        self.section = array.array("q")
        self.date0 = array.array("q")
        self.sseed = array.array("q")
        # per page (plan order)
        self.story = array.array("q")
        self.kind = array.array("b")
        self.site = array.array("q")
        self.pub = array.array("q")
        self.crawl = array.array("q")
        self.eseed = array.array("q")
        self.emode = array.array("b")  # 1: body and headline get copy edits
        self.cseed = array.array("q")
        self.ref = array.array("q")
        self.urlvar = array.array("q")

    def add_page(self, story, kind, site, pub, crawl, eseed, emode, cseed, ref=-1, urlvar=0) -> int:
        self.story.append(story)
        self.kind.append(kind)
        self.site.append(site)
        self.pub.append(pub)
        self.crawl.append(crawl)
        self.eseed.append(eseed)
        self.emode.append(emode)
        self.cseed.append(cseed)
        self.ref.append(ref)
        self.urlvar.append(urlvar)
        return len(self.story) - 1


class _Generator:
    # Hooks a profile may replace (builders.synth.hard): how copies are edited and pages laid out.
    edit = staticmethod(edit_copy)
    blocks = staticmethod(build_blocks)

    def __init__(self, pool: StoryPool, seed: int, pages: int, *, stories: int | None, junk: int | None,
                 followup_rate: float, n_sites: int, max_copies: int):
        if pages < 1:
            raise ValueError("pages must be >= 1")
        self.pool = pool
        self.n_sites = n_sites
        self.sites = [make_site(i) for i in range(n_sites)]
        rng = random.Random(seed)
        n_junk = round(pages * DEFAULT_JUNK_RATE) if junk is None else junk
        n_junk = min(n_junk, pages - 1)
        counts = self._counts(rng, pages - n_junk, stories, min(max_copies, max(1, 4 * n_sites)))
        if len(counts) > pool.capacity:
            raise ValueError(f"{len(counts)} stories needed but the source gives at most {pool.capacity}")
        self.n_stories = len(counts)
        self.story = lru_cache(maxsize=16384)(self._story)
        self.plan = p = _Plan()
        self._assign_stories(rng, counts, followup_rate)

        order = list(range(n_sites))
        rng.shuffle(order)
        weights = [0.0] * n_sites
        for rank, s in enumerate(order):
            weights[s] = 1.0 / (rank + 1) ** 0.7  # a few big publishers, a long tail of small ones
        cum = list(np.cumsum(weights))
        total = cum[-1]

        def pick_site() -> int:
            return min(bisect.bisect_left(cum, rng.random() * total), n_sites - 1)

        span = max(30, min(730, self.n_stories // 40)) * 86400
        start = int(START.timestamp())
        for k, c in enumerate(counts):
            if p.parent[k] >= 0:
                t0 = p.date0[p.parent[k]] + rng.randint(86400, 20 * 86400)
            else:
                t0 = start + rng.randrange(span)
            p.date0.append(t0)
            used: dict[int, int] = {}
            site = pick_site()
            used[site] = 1
            first_crawl = t0 + 300 + min(int(rng.expovariate(1 / 7200)), 12 * 3600)
            first = p.add_page(k, FOLLOWUP if p.parent[k] >= 0 else ORIGINAL, site, t0, first_crawl,
                               rng.getrandbits(62), 0, rng.getrandbits(62))
            content_pages = [first]
            for _ in range(c - 1):
                r = rng.random()
                if r < EXACT_RATE + RECRAWL_RATE:
                    target = rng.choice(content_pages)
                    same_site = r >= EXACT_RATE or rng.random() < 0.5
                    if same_site:
                        site, delay = p.site[target], rng.randint(3600, 30 * 86400)
                    else:
                        site, delay = self._new_site(pick_site, used), rng.randint(600, 3 * 86400)
                        used[site] = used.get(site, 0) + 1
                    p.add_page(k, RECRAWL if r >= EXACT_RATE else EXACT, site, p.pub[target], p.crawl[target] + delay,
                               p.eseed[target], p.emode[target], rng.getrandbits(62), target, p.urlvar[target])
                    continue
                site = self._new_site(pick_site, used)
                urlvar = used.get(site, 0)
                used[site] = urlvar + 1
                pub = t0 + 600 + min(int(rng.expovariate(1 / (20 * 3600))), 10 * 86400)
                # The original is crawled before any of its copies.
                crawl = max(pub + 300 + int(rng.expovariate(1 / 7200)), first_crawl + 60)
                content_pages.append(p.add_page(k, COPY, site, pub, crawl,
                                                rng.getrandbits(62), 1, rng.getrandbits(62), -1, urlvar))
        for j in range(n_junk):
            t = start + rng.randrange(span)
            p.add_page(-1 - j, JUNK, pick_site(), t, t, j, 0, rng.getrandbits(62))

        crawl = np.frombuffer(p.crawl, dtype=np.int64)
        self.order = np.lexsort((np.arange(len(crawl)), crawl))  # crawl order; ties in plan order
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(len(self.order))
        self.id_width = max(7, len(str(pages - 1)))
        self.story_width = max(6, len(str(self.n_stories - 1)))

    @staticmethod
    def _new_site(pick_site, used: dict[int, int]) -> int:
        # Copies of a story land on sites that do not have it yet, when the draw allows.
        for _ in range(8):
            s = pick_site()
            if s not in used:
                return s
        return s

    @staticmethod
    def _counts(rng: random.Random, n: int, stories: int | None, cap: int) -> list[int]:
        if stories is None:
            counts: list[int] = []
            total = 0
            while total < n:
                c = min(copy_count(rng), cap)
                counts.append(c)
                total += c
            counts[-1] -= total - n
            return counts
        if not 1 <= stories <= n:
            raise ValueError(f"stories must be between 1 and the non-junk page count {n}")
        counts = [min(copy_count(rng), cap) for _ in range(stories)]
        total = sum(counts)
        while total > n:
            k = rng.randrange(stories)
            if counts[k] > 1:
                counts[k] -= 1
                total -= 1
        while total < n:
            # Rich get richer: topping up in proportion to the count keeps the tail heavy.
            k = rng.choices(range(stories), counts)[0]
            if counts[k] < cap:
                counts[k] += 1
                total += 1
            elif all(c >= cap for c in counts):
                raise ValueError("pages exceed stories * max_copies")
        return counts

    def _assign_stories(self, rng: random.Random, counts: list[int], followup_rate: float) -> None:
        p, pool = self.plan, self.pool
        arts = pool.articles
        seq = [i for i in range(pool.n_base) if arts[i].follows is None]
        rng.shuffle(seq)
        # Hand-written follow-ups go somewhere after the story they follow.
        for f in range(pool.n_base):
            par = arts[f].follows
            if par is not None:
                pos = seq.index(par) if par in seq else len(seq) - 1
                seq.insert(rng.randint(pos + 1, len(seq)), f)
        n_recombined = 0
        position = {c: k for k, c in enumerate(seq)}
        for k in range(len(counts)):
            if k < len(seq):
                c = seq[k]
            else:
                c = pool.n_base + n_recombined
                n_recombined += 1
            p.content.append(c)
            art = arts[c] if c < pool.n_base else None
            parent, explicit = -1, 0
            if art is not None and art.follows is not None and position.get(art.follows, k) < k:
                parent, explicit = position[art.follows], 1
            p.parent.append(parent)
            p.explicit.append(explicit)
            known = AGENCY_INDEX.get(art.agency.lower()) if art is not None and art.agency else None
            p.agency.append(known if known is not None else rng.randrange(len(AGENCIES)))
            p.city.append(-1 if art is not None and art.city else rng.randrange(len(CITIES)))
            p.section.append(rng.randrange(len(SECTIONS)))
            p.sseed.append(rng.getrandbits(62))
            if parent < 0 and k > 0 and followup_rate > 0 and rng.random() < followup_rate:
                cand = rng.randrange(k)
                if not set(pool.paragraph_ids(c)) & set(self.story(cand)[2]):
                    p.parent[k] = cand
        self.n_recombined = n_recombined

    # ---------------------------------------------------------------- content
    def _story(self, k: int) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
        """(title, paragraphs, source paragraph ids) of story ``k`` as first published."""
        p = self.plan
        title, paras = self.pool.content(p.content[k])
        ids = self.pool.paragraph_ids(p.content[k])
        par = p.parent[k]
        if par >= 0 and not p.explicit[k]:
            ptitle, pparas, pids = self.story(par)
            srng = random.Random(p.sseed[k])
            j = srng.randrange(1, len(pparas)) if len(pparas) > 1 else 0
            pos = srng.randint(1, min(3, len(paras)))
            paras = paras[:pos] + (pparas[j],) + paras[pos:]
            ids = ids[:pos] + (pids[j],) + ids[pos:]
            title = _splice_titles(ptitle, title)
        return title, paras, ids

    def city(self, k: int) -> str:
        c = self.plan.city[k]
        if c < 0:
            return self.pool.articles[self.plan.content[k]].city or CITIES[0]
        return CITIES[c]

    def story_label(self, k: int) -> str:
        return f"s{k:0{self.story_width}d}"

    def page_id(self, i: int) -> str:
        return f"p{int(self.rank[i]):0{self.id_width}d}"

    def _related(self, k: int, rng: random.Random) -> list[tuple[str, str, int]]:
        """Eight other stories for teasers and links: (title, text start, story index)."""
        out = []
        for _ in range(8):
            o = rng.randrange(self.n_stories)
            if o == k and self.n_stories > 1:
                o = (o + 1) % self.n_stories
            t, paras, _ = self.story(o)
            out.append((t, " ".join(paras[:2]), o))
        return out

    def related_urls(self, rec: dict) -> list[str]:
        site = self.sites[rec["site_index"]]
        p = self.plan
        return [page_url(site, t, datetime.fromtimestamp(p.date0[o], timezone.utc), SECTIONS[p.section[o]], 100000 + o)
                for t, _, o in rec["related"]]

    def build(self, i: int) -> dict:
        """Page ``i`` (plan order) as its raw record plus truth and render inputs."""
        p = self.plan
        kind = p.kind[i]
        if kind == EXACT:
            rec = dict(self.build(p.ref[i]))
            site = self.sites[p.site[i]]
            if site.domain != rec["site"]:
                # Syndicated verbatim: the original site's page, chrome and all, on another domain.
                rec["url"] = rec["url"].replace(f"https://{rec['site']}/", f"https://{site.domain}/", 1)
                rec["site"] = site.domain
            rec.update(kind=EXACT, i=i, duplicate_of=self.page_id(p.ref[i]), crawl=p.crawl[i], parent="")
            rec["story"] = self.story_label(p.story[i])
            return rec
        site = self.sites[p.site[i]]
        crng = random.Random(p.cseed[i])
        crawl = datetime.fromtimestamp(p.crawl[i], timezone.utc)
        k = p.story[i]
        if kind == JUNK:
            jk = JUNK_KINDS[p.eseed[i] % len(JUNK_KINDS)]  # eseed holds the junk page's index
            fake = Page(headline="", paragraphs=[], agency=0, city=CITIES[0], story_time=crawl, pub=crawl,
                        crawl=crawl, url="", related=self._related(-1, crng) if jk == "listing" else [],
                        prevnext=("", ""), section=SECTIONS[p.eseed[i] % len(SECTIONS)])
            title, blocks = junk_blocks(site, jk, fake, crng)
            path = {"empty": "", "404": "wp-login-redirect/", "listing": f"category/{fake.section.lower()}/page/2/",
                    "short": "subscribe/"}[jk]
            return dict(i=i, kind=JUNK, site=site.domain, site_index=site.index, page_title=title,
                        url=f"https://{site.domain}/{path}", headline="", body=[], blocks=blocks, edits=jk,
                        story=f"junk{-1 - k:05d}", parent="", duplicate_of="", crawl=p.crawl[i], related=fake.related)
        title0, paras0, _ = self.story(k)
        agency = p.agency[k]
        if p.emode[i]:
            erng = random.Random(p.eseed[i])
            headline, body, edits = self.edit(title0, paras0, erng, site_name=site.name,
                                              agency=AGENCIES[agency][0], agency_short=AGENCIES[agency][1])
        else:
            headline, body, edits = title0, list(paras0), []
        pub = datetime.fromtimestamp(p.pub[i], timezone.utc)
        section = SECTIONS[p.section[k]]
        url = page_url(site, headline, pub, section, 100000 + p.eseed[i] % 900000)
        if p.urlvar[i]:
            url = url.rstrip("/") + f"-{p.urlvar[i] + 1}" + ("/" if url.endswith("/") else "")
        related = self._related(k, crng)
        prevnext = (self.story(crng.randrange(self.n_stories))[0], self.story(crng.randrange(self.n_stories))[0])
        page = Page(headline=headline, paragraphs=body, agency=agency, city=self.city(k),
                    story_time=datetime.fromtimestamp(p.date0[k], timezone.utc), pub=pub, crawl=crawl, url=url,
                    related=related, prevnext=prevnext, section=section)
        blocks = self.blocks(site, page, crng)
        parent = self.story_label(p.parent[k]) if kind == FOLLOWUP else ""
        return dict(i=i, kind=kind, site=site.domain, site_index=site.index, page_title=headline + site.title_suffix,
                    url=url, headline=headline, body=body, blocks=blocks, edits=",".join(edits),
                    story=self.story_label(k), parent=parent,
                    duplicate_of=self.page_id(p.ref[i]) if kind == RECRAWL else "", crawl=p.crawl[i],
                    related=related)


def _write_gzip(path: Path, lines: list[str]) -> None:
    with open(path, "wb") as raw:
        # mtime=0 and no file name in the header: same input, same bytes. Level 4 is twice as
        # fast as the default 6 on these pages, for 5% more bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=4) as gz:
            for j in range(0, len(lines), 2000):
                gz.write(("\n".join(lines[j : j + 2000]) + "\n").encode("utf-8"))


def _clear_outputs(out: Path) -> None:
    """Remove files a previous run left that this run might not overwrite."""
    for pattern in ("raw/pages-*.jsonl.gz", "warc/pages-*.warc.gz", "html/*/p*.html", "truth.parquet", "manifest.json",
                    "labels/*.parquet"):
        for f in out.glob(pattern):
            f.unlink()
    for d in sorted(out.glob("html/*")):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def _record_id(seed: int, page_id: str) -> str:
    h = hashlib.blake2b(f"{seed}/{page_id}".encode(), digest_size=16).hexdigest()
    return f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}>"


def generate(
    source: str | Path,
    out_dir: str | Path,
    pages: int,
    seed: int = 0,
    formats: Iterable[str] = ("jsonl",),
    shard_pages: int = 10000,
    *,
    stories: int | str | None = None,
    junk: int | None = None,
    followup_rate: float = 0.03,
    n_sites: int = 300,
    max_copies: int = 50,
    source_label: str | None = None,
    profile: str = "default",
) -> dict:
    """Write a labelled synthetic scraped-news corpus to ``out_dir`` and return its manifest.

    ``source`` is a JSONL(.gz) of {title, text} articles. ``stories`` fixes the number of
    distinct stories ("source": exactly the source's articles, none recombined; default: as many
    as the copy-count distribution gives); ``junk`` the number of junk pages (default 0.3% of
    pages). The jsonl shards are always written; ``formats`` may add "html" and "warc".
    ``profile="hard"`` makes adversarial stories, edits and chrome and also writes line-level truth
    to labels/ (see builders.synth.hard); the default profile's output does not depend on it.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {list(PROFILES)}")
    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    bad = set(formats) - {"jsonl", "html", "warc"}
    if bad:
        raise ValueError(f"unknown formats: {sorted(bad)}")
    if shard_pages < 1:
        raise ValueError("shard_pages must be >= 1")
    out = Path(out_dir)
    pool = StoryPool(load_articles(source), seed)
    n_stories = pool.n_base if stories == "source" else stories
    if n_stories is not None and not isinstance(n_stories, int):
        raise ValueError('stories must be an int, "source" or None')
    gen_cls = _Generator
    hard = profile == "hard"
    if hard:
        from . import hard as hard_mod

        gen_cls = hard_mod.HardGenerator
        (out / "labels").mkdir(parents=True, exist_ok=True)
    gen = gen_cls(pool, seed, pages, stories=n_stories, junk=junk, followup_rate=followup_rate,
                     n_sites=n_sites, max_copies=max_copies)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    _clear_outputs(out)
    want_html, want_warc = "html" in formats, "warc" in formats
    if want_warc:
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        (out / "warc").mkdir(exist_ok=True)

    kinds: Counter = Counter()
    n_shards = (pages + shard_pages - 1) // shard_pages
    writer = pq.ParquetWriter(out / "truth.parquet", TRUTH_SCHEMA, compression="zstd")
    if hard:
        # Written shard by shard, as the truth is: a row per line of every page held to the end
        # took 24 GB at 1M pages.
        label_writer = pq.ParquetWriter(out / "labels" / "lines.parquet", hard_mod.LINE_LABEL_SCHEMA, compression="zstd")
        page_writer = pq.ParquetWriter(out / "labels" / "pages.parquet", hard_mod.PAGE_LABEL_SCHEMA, compression="zstd")
    try:
        for shard in range(n_shards):
            cols: dict[str, list] = {name: [] for name in TRUTH_SCHEMA.names}
            lines: list[str] = []
            label_rows: list[dict] = []
            page_rows: list[dict] = []
            html_dir = out / "html" / f"{shard:05d}"
            if want_html:
                html_dir.mkdir(parents=True, exist_ok=True)
            with ExitStack() as stack:
                warc = None
                if want_warc:
                    warc_fh = stack.enter_context(open(out / "warc" / f"pages-{shard:05d}.warc.gz", "wb"))
                    warc = WARCWriter(warc_fh, gzip=True)
                for pos in range(shard * shard_pages, min(pages, (shard + 1) * shard_pages)):
                    i = int(gen.order[pos])
                    rec = gen.build(i)
                    pid = f"p{pos:0{gen.id_width}d}"
                    site = gen.sites[rec["site_index"]]
                    text = render_text(site, rec["blocks"])
                    crawled = _iso(rec["crawl"])
                    lines.append(json.dumps({"id": pid, "url": rec["url"], "site": rec["site"], "title": rec["page_title"],
                                             "text": text, "crawled_at": crawled}, ensure_ascii=False))
                    kind = KINDS[rec["kind"]]
                    kinds[kind] += 1
                    cols["id"].append(pid)
                    cols["story"].append(rec["story"])
                    cols["site"].append(rec["site"])
                    cols["kind"].append(kind)
                    cols["title"].append(rec["headline"])
                    cols["text"].append("\n\n".join(rec["body"]))
                    cols["parent"].append(rec["parent"])
                    cols["duplicate_of"].append(rec["duplicate_of"])
                    cols["edits"].append(rec["edits"])
                    if hard:
                        rows, page_row = hard_mod.line_labels(gen, rec, pid)
                        label_rows.extend(rows)
                        page_rows.append(page_row)
                    if want_html or want_warc:
                        doc = render_html(site, rec["page_title"], rec["url"], rec["blocks"], gen.related_urls(rec))
                        if want_html:
                            (html_dir / f"{pid}.html").write_text(doc, encoding="utf-8")
                        if want_warc:
                            body = doc.encode("utf-8")
                            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                               ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
                            warc.write_record(warc.create_warc_record(
                                rec["url"], "response", payload=io.BytesIO(body), length=None, http_headers=http,
                                warc_headers_dict={"WARC-Date": crawled, "WARC-Record-ID": _record_id(seed, pid)}))
            _write_gzip(out / "raw" / f"pages-{shard:05d}.jsonl.gz", lines)
            writer.write_table(pa.table(cols, schema=TRUTH_SCHEMA))
            if hard:
                label_writer.write_table(pa.Table.from_pylist(label_rows, schema=hard_mod.LINE_LABEL_SCHEMA))
                page_writer.write_table(pa.Table.from_pylist(page_rows, schema=hard_mod.PAGE_LABEL_SCHEMA))
    finally:
        writer.close()
        if hard:
            label_writer.close()
            page_writer.close()

    manifest = {
        "generator": "builders.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "pages": pages,
        "source": source_label if source_label is not None else str(source),
        "source_articles": pool.n_base,
        "shards": n_shards,
        "shard_pages": shard_pages,
        "formats": ["jsonl"] + [f for f in formats if f != "jsonl"],
        "kinds": {k: kinds.get(k, 0) for k in KINDS},
        "stories": gen.n_stories,
        "recombined_stories": gen.n_recombined,
        "junk": kinds.get("junk", 0),
        "sites": n_sites,
        "options": {"stories": stories, "junk": junk, "followup_rate": followup_rate, "max_copies": max_copies},
    }
    if hard:
        manifest["profile"] = profile  # absent for the default profile, whose manifests predate profiles
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def generate_sample(out_dir: str | Path | None = None) -> dict:
    """Regenerate the small corpus the repository ships in data/sample."""
    return generate(SAMPLE_SOURCE, out_dir or SAMPLE_OUT, source_label=SAMPLE_SOURCE_LABEL, **SAMPLE_ARGS)
