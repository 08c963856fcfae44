"""The hard profile: adversarial stories, heavier copy edits and per-page chrome, with line-level truth.

``generate(..., profile="hard")`` uses ``HardGenerator`` instead of the default generator. The
default profile does not import this module, so its output stays byte for byte what it was.

What changes against the default:

* stories: about 60% of stories are written from templates (``hard_stories``): results tables,
  dash/bullet lists, quotes ending in "..." or "…", one-paragraph briefs, short 60-120 word
  stories, prose about cookies/newsletters/comments/sharing/subscriptions; some have their
  headline (as is, upper case, or a deck line) as the first line of the text. Precision traps:
  stories of one company share its boilerplate paragraph, stories of one region a background
  paragraph, follow-ups repeat facts and one paragraph of their parent. None of them are copies.
* copies: edited more often, plus truncation at any paragraph, dropped or swapped sentences,
  swapped paragraphs, more word substitutions, rewritten leads and wholly new headlines.
* chrome: per-page "Posted on <date> by <author>" and "Last updated <time>" stamps, comment/share/
  view counters, breadcrumbs repeating (or cutting) the headline, tag lists, previous/next links and
  related-post teasers ending in "...", "…" or "[…]".
* truth: besides truth.parquet, ``labels/lines.parquet`` gives every non-empty line of every page
  its role (``body`` or the chrome block's role) and, for body lines, its shape; and
  ``labels/pages.parquet`` each page's story family and story-level shapes.
"""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import timedelta

import pyarrow as pa

from .edits import EDIT_PROBABILITIES, _substitute, edit_copy
from .generate import _Generator
from .hard_stories import (FAMILIES, FOLLOWUP_FAMILIES, StorySpec, company, line_shape, make_story, region)
from .sites import DAYS, MON, MONTHS, Page, Site, build_blocks

__all__ = ["HardGenerator", "hard_edit", "hard_blocks", "LINE_LABEL_SCHEMA", "PAGE_LABEL_SCHEMA", "line_labels"]

TEMPLATED_SHARE = 0.6
FAMILY_WEIGHTS = {"earnings": 14, "dividend": 5, "court": 12, "quotes": 12, "brief": 16, "media": 10, "short": 31}
FOLLOWUP_SHARE = 0.1  # of templated stories: a follow-up of an earlier templated story
SAME_COMPANY = 0.5  # a company story is about a company seen recently: shares its boilerplate
REGION_SHARE = 0.3  # quotes/short stories that carry a region's background paragraph
N_REGIONS = 36
HEADLINE_TOP_TEMPLATED = 0.2
HEADLINE_TOP_POOL = 0.08

HARD_EDIT_PROBABILITIES = dict(EDIT_PROBABILITIES, headline=0.35, truncate=0.3, drop=0.15, insert=0.12, merge=0.06,
                               words=0.5, typos=0.2)
EXTRA_EDITS = {"truncate_any": 0.15, "sentences": 0.2, "reorder": 0.08, "lead": 0.2, "words_heavy": 0.3, "retitle": 0.2}

LINE_LABEL_SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int32()), ("role", pa.string()), ("shape", pa.string()),
                               ("text", pa.string())])
PAGE_LABEL_SCHEMA = pa.schema([("id", pa.string()), ("family", pa.string()), ("shapes", pa.string())])

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_SAID = re.compile(r"^(?P<subj>[^,]{3,80}?) said on (?P<day>\w+) (?:that )?(?P<rest>.+)\.$")


# --------------------------------------------------------------------------- copy edits


def _retitle(paras: list[str], rng: random.Random) -> str:
    lead = next((p for p in paras if len(p.split()) >= 8), paras[0])
    first = _SENT.split(lead)[0].rstrip(".")
    words = first.split()
    n = min(len(words), rng.randint(6, 10))
    head = " ".join(words[:n]).rstrip(",;:")
    return rng.choice(["{h}", "{h}", "What we know: {h}", "{h} - latest", "REPORT: {h}"]).format(h=head[:1].upper() + head[1:])


def _rewrite_lead(paras: list[str], rng: random.Random) -> bool:
    j = next((i for i, p in enumerate(paras) if len(p.split()) >= 8 and "\n" not in p), None)
    if j is None:
        return False
    sents = _SENT.split(paras[j])
    m = _SAID.match(sents[0])
    if m and rng.random() < 0.7:
        rest = m.group("rest")
        sents[0] = f"{rest[:1].upper()}{rest[1:]}, {m.group('subj')} said on {m.group('day')}."
    elif len(sents) >= 2 and rng.random() < 0.5:
        del sents[0]
    else:
        first = sents[0]
        if first.split()[0] in ("The", "A", "An"):
            first = first[:1].lower() + first[1:]
        sents[0] = rng.choice(["According to reports, ", "It emerged on " + rng.choice(DAYS) + " that ",
                               "Officials confirmed that ", "In the latest development, "]) + first
    new = " ".join(sents)
    if new == paras[j]:
        return False
    paras[j] = new
    return True


def _sentences(paras: list[str], rng: random.Random) -> bool:
    cands = [i for i, p in enumerate(paras) if "\n" not in p and len(_SENT.split(p)) >= 2]
    if not cands:
        return False
    i = rng.choice(cands)
    sents = _SENT.split(paras[i])
    if rng.random() < 0.5:
        del sents[rng.randrange(len(sents))]
    else:
        a = rng.randrange(len(sents) - 1)
        sents[a], sents[a + 1] = sents[a + 1], sents[a]
    new = " ".join(sents)
    if new == paras[i] or not new:
        return False
    paras[i] = new
    return True


def hard_edit(title: str, paragraphs, rng: random.Random, *, site_name: str, agency: str, agency_short: str,
              shared_lead: bool = False):
    """The default copy edits, more often, then heavier ones: (headline, body paragraphs, edit names).

    `shared_lead`: the story's lead paragraph also opens other stories (the source pool's
    recombined stories share their leads), so a cut keeps a second paragraph of prose: a copy cut
    to a lead that many stories open with would be a copy of each of them, and its label arbitrary."""
    title, paras, edits = edit_copy(title, paragraphs, rng, site_name=site_name, agency=agency,
                                    agency_short=agency_short, probabilities=HARD_EDIT_PROBABILITIES)
    x = EXTRA_EDITS
    # Cut after any paragraph, keeping at least one of real prose (not only a headline or table line).
    prose = [j for j, q in enumerate(paras) if len(q.split()) >= 10 and "\n" not in q]
    keep = prose[1 if shared_lead else 0] if len(prose) > (1 if shared_lead else 0) else len(paras)
    if keep + 1 < len(paras) and rng.random() < x["truncate_any"]:
        del paras[rng.randint(keep + 1, len(paras) - 1):]
        edits.append("truncate_any")
    if rng.random() < x["lead"] and _rewrite_lead(paras, rng):
        edits.append("lead")
    if rng.random() < x["sentences"] and _sentences(paras, rng):
        edits.append("sentences")
    if len(paras) >= 3 and rng.random() < x["reorder"]:
        j = rng.randrange(1, len(paras) - 1)
        paras[j], paras[j + 1] = paras[j + 1], paras[j]
        edits.append("reorder")
    if rng.random() < x["words_heavy"]:
        before = list(paras)
        for j in range(len(paras)):
            paras[j] = _substitute(paras[j], rng, rng.randint(1, 3))
        if paras != before:
            edits.append("words_heavy")
    if rng.random() < x["retitle"]:
        new = _retitle(paras, rng)
        if new and new != title:
            title = new
            edits.append("retitle")
    return title, paras, edits


# --------------------------------------------------------------------------- chrome


@dataclasses.dataclass(frozen=True)
class HardChrome:
    stamp: str  # "" | a format with {date} {author} {time} {ago} {datetime}
    stamp_after_body: bool
    counters: tuple[str, ...]
    counters_top: bool
    crumbs: int  # 0 none, 1 full headline, 2 headline cut with "…"
    tags: int  # 0 none, 1 "Tags" + one per line, 2 "Filed Under: a, b", 3 "Topics: a · b"
    prevnext: int  # 0 none, 1 "Previous article / Next article", 2 "← Previous Post" / "Next Post →"
    teaser_end: str  # "…", " […]", "... Read more", "..."
    teaser_heading: str
    teaser_n: int


_STAMPS = ["Posted on {date} by {author}", "Last updated {time}", "Last updated: {ago}", "Updated {datetime}",
           "Published {date} | Last updated {time}", "By {author} - {date}", "Posted {ago} by {author}"]


def hard_chrome(site: Site) -> HardChrome:
    rng = random.Random(f"synth-hard-site-{site.index}")
    counters = tuple(rng.sample(["comments", "shares", "views", "shares_label", "comments_paren"], rng.randint(1, 3)))
    return HardChrome(
        stamp=rng.choice(_STAMPS) if rng.random() < 0.8 else "",
        stamp_after_body=rng.random() < 0.35,
        counters=counters if rng.random() < 0.7 else (),
        counters_top=rng.random() < 0.5,
        crumbs=rng.choice([0, 1, 1, 2]),
        tags=rng.choice([0, 1, 2, 3]),
        prevnext=rng.choice([0, 1, 2]),
        teaser_end=rng.choice(["…", " […]", "... Read more", "...", "…"]),
        teaser_heading=rng.choice(["Related Posts", "You might also like", "More in this category", "Read next", ""]),
        teaser_n=rng.randint(2, 5),
    )


def _count(rng: random.Random, scale: int) -> int:
    return int(rng.paretovariate(1.1) * scale) - scale


def _counter(kind: str, rng: random.Random) -> str:
    n = _count(rng, 4)
    if kind == "comments":
        return "No Comments" if n == 0 else ("1 Comment" if n == 1 else f"{n} Comments")
    if kind == "comments_paren":
        return f"Comments ({n})"
    if kind == "shares":
        return f"{_count(rng, 40)} Shares"
    if kind == "shares_label":
        return f"Shares {_count(rng, 40)}"
    v = _count(rng, 300)
    return f"{v:,} Views" if v < 100000 else f"{v / 1000:.0f}K Views"


def _tag_words(page: Page, rng: random.Random) -> list[str]:
    prose = [q for q in page.paragraphs[:3] if "\n" not in q]  # not the words of a table's lines
    caps = [w for w in re.findall(r"\b[A-Z][a-z]{3,}\b", page.headline + " " + " ".join(prose))
            if w not in ("This", "That", "There", "They", "When", "After", "Under", "According")]
    tags = list(dict.fromkeys(caps))
    rng.shuffle(tags)
    return tags[: rng.randint(2, 5)] + [page.section]


def hard_blocks(site: Site, page: Page, rng: random.Random) -> list[tuple[str, str]]:
    """The default page layout plus the hard profile's per-page chrome."""
    blocks = build_blocks(site, page, rng)
    hc = hard_chrome(site)
    hr = random.Random(rng.getrandbits(62))
    title_at = next(i for i, (r, _) in enumerate(blocks) if r == "title")
    body_at = next((i for i, (r, _) in enumerate(blocks) if r == "body"), title_at)
    after_title: list[tuple[str, str]] = []
    after_body: list[tuple[str, str]] = []
    end: list[tuple[str, str]] = []
    if hc.stamp:
        t = page.pub + timedelta(seconds=hr.randint(0, 3 * 3600))
        upd = min(t + timedelta(seconds=hr.randint(300, 9 * 3600)), page.crawl) if page.crawl > t else t
        hours = max(1, int((page.crawl - t).total_seconds() // 3600))
        stamp = hc.stamp.format(
            date=f"{MONTHS[t.month - 1]} {t.day}, {t.year}", author=site.authors[hr.randrange(len(site.authors))],
            time=f"{upd.hour:02d}:{upd.minute:02d} GMT" if hr.random() < 0.5 else f"{upd.day} {MON[upd.month - 1]} {upd.year} {upd.hour:02d}:{upd.minute:02d}",
            ago=f"{hours} hours ago" if hours < 48 else f"{hours // 24} days ago",
            datetime=f"{upd.day:02d}.{upd.month:02d}.{upd.year} {upd.hour:02d}:{upd.minute:02d}")
        (after_body if hc.stamp_after_body else after_title).append(("stamp", stamp))
    if hc.counters:
        text = ("\n" if hr.random() < 0.5 else " | ").join(_counter(c, hr) for c in hc.counters)
        (after_title if hc.counters_top else after_body).append(("counter", text))
    if hc.tags:
        tags = _tag_words(page, hr)
        end.append(("htags", {1: "Tags\n" + "\n".join(tags), 2: "Filed Under: " + ", ".join(tags),
                              3: "Topics: " + " · ".join(tags)}[hc.tags]))
    if hc.prevnext and page.prevnext[0]:
        prev, nxt = page.prevnext
        end.append(("hprevnext", f"Previous article\n{prev}\nNext article\n{nxt}" if hc.prevnext == 1
                    else f"← Previous Post\n{prev}\n\nNext Post →\n{nxt}"))
    items = page.related[-hc.teaser_n:]
    if items:
        parts = [hc.teaser_heading] if hc.teaser_heading else []
        for t, s, _ in items:
            words = s.split()[: hr.randint(12, 30)]
            parts.append(f"{t}\n{' '.join(words).rstrip('.,;:')}{hc.teaser_end}")
        end.append(("hrelated", "\n\n".join(parts)))
    out = list(blocks)
    if hc.crumbs:
        head = page.headline if hc.crumbs == 1 else " ".join(page.headline.split()[:5]) + "…"
        out.insert(title_at, ("hcrumbs", f"Home › {page.section} › {head}"))
        body_at += 1
        title_at += 1
    if after_body:
        out[body_at + 1 : body_at + 1] = after_body
    if after_title:
        # After the meta line when there is one right after the title, else right after the title.
        at = title_at + 1 + (1 if title_at + 1 < len(out) and out[title_at + 1][0] == "meta" else 0)
        out[at:at] = after_title
    # Page-end chrome goes before the footer, the last block on most sites.
    tail_at = next((i for i, (r, _) in enumerate(out) if r in ("footer", "bloggers")), len(out))
    out[tail_at:tail_at] = end
    return out


# --------------------------------------------------------------------------- generator


class HardGenerator(_Generator):
    _shared_lead = False

    def edit(self, title, paragraphs, rng, **kw):
        return hard_edit(title, paragraphs, rng, shared_lead=self._shared_lead, **kw)

    def __init__(self, pool, seed: int, pages: int, **kw):
        self.seed = seed
        self.spec: dict[int, StorySpec] = {}
        self.htop: dict[int, int] = {}
        self._tops: set[str] = set()
        super().__init__(pool, seed, pages, **kw)

    def _assign_stories(self, rng, counts, followup_rate):
        super()._assign_stories(rng, counts, followup_rate)
        p = self.plan
        hr = random.Random(f"synth-hard-{self.seed}")
        fams, weights = list(FAMILY_WEIGHTS), list(FAMILY_WEIGHTS.values())
        followable: list[int] = []
        recent_companies: list[int] = []
        n_companies = 0
        for k in range(len(counts)):
            if hr.random() >= TEMPLATED_SHARE:
                if hr.random() < HEADLINE_TOP_POOL:
                    self.htop[k] = hr.choice([1, 2, 3])
                continue
            p.parent[k], p.explicit[k] = -1, 1
            top = hr.choice([1, 2, 3]) if hr.random() < HEADLINE_TOP_TEMPLATED else 0
            if followable and hr.random() < FOLLOWUP_SHARE:
                # One follow-up per story: two of one parent would tell much the same new facts.
                par = followable.pop(len(followable) - 1 - hr.randrange(min(len(followable), 300)))
                pspec = dataclasses.replace(self.spec[par], headline_top=0)
                self.spec[k] = StorySpec(pspec.family, hr.getrandbits(48), headline_top=top, parent=pspec)
                p.parent[k] = par
                continue
            fam = hr.choices(fams, weights)[0]
            comp = reg = -1
            if fam in ("earnings", "dividend") or (fam == "media" and hr.random() < 0.4):
                if recent_companies and hr.random() < SAME_COMPANY:
                    comp = hr.choice(recent_companies[-40:])
                else:
                    comp = n_companies
                    n_companies += 1
                    recent_companies.append(comp)
            if fam in ("quotes", "short") and hr.random() < REGION_SHARE:
                reg = hr.randrange(N_REGIONS)
            self.spec[k] = StorySpec(fam, hr.getrandbits(48), company=comp, region=reg, headline_top=top)
            if fam in FOLLOWUP_FAMILIES:
                followable.append(k)
        self.story.cache_clear()  # the default generator's follow-up check filled it with pool content

    def _story(self, k):
        spec = self.spec.get(k)
        if spec is None:
            title, paras, ids = super()._story(k)
            top = self.htop.get(k, 0)
            if top:
                line = {1: title, 2: title.upper(), 3: " ".join(paras[0].split()[:9]).rstrip(",;:.")}[top]
                self._tops.add(line)
                paras, ids = (line,) + tuple(paras), (-1,) + tuple(ids)
            return title, paras, ids
        st = make_story(spec)
        if "headline_top" in st.shapes:
            self._tops.add(st.paragraphs[0])
        # Negative ids: never equal to a source paragraph's id.
        return st.title, st.paragraphs, tuple(-(k * 16 + j) - 2 for j in range(len(st.paragraphs)))

    def story_shapes(self, k: int) -> tuple[str, dict[str, str]]:
        """(family, {paragraph text: shape}) of story ``k`` as first published."""
        spec = self.spec.get(k)
        title, paras, _ = self.story(k)
        shapes: dict[str, str] = {}
        if spec is None:
            fam, boiler, background = "pool", "", ""
        else:
            fam = "followup" if spec.parent is not None else spec.family
            comp = spec.company if spec.parent is None else spec.parent.company
            boiler = company(comp)["boilerplate"] if comp >= 0 else ""
            background = region(spec.region)["background"] if spec.region >= 0 else ""
        for j, para in enumerate(paras):
            if j == 0 and para in self._tops:
                shapes[para] = "headline_top"
            elif para == boiler:
                shapes[para] = "boilerplate"
            elif spec is not None and spec.parent is not None and j == len(paras) - 1:
                shapes[para] = "repeated"  # the paragraph a follow-up repeats from its parent
            elif para == background:
                shapes[para] = "background"
            elif fam == "media":
                shapes[para] = "chromeprose"
            elif fam == "brief":
                shapes[para] = "one_paragraph"
            elif fam in ("short", "dividend"):
                shapes[para] = "short"
            else:
                shapes[para] = "prose"
        return fam, shapes

    def build(self, i: int) -> dict:
        # Stories from the source pool share their lead with other stories; templated ones do not.
        self._shared_lead = self.plan.story[i] >= 0 and self.spec.get(self.plan.story[i]) is None
        rec = super().build(i)
        body = rec["body"]
        if body and body[0] in self._tops and _page_headline(body[0], rec["page_title"]):
            # The page's own headline over its text: the builder moves it to `title` instead of
            # keeping it twice (README), so the truth has it as the page's title line, not text.
            at = next(j for j, (role, _) in enumerate(rec["blocks"]) if role == "body")
            first, _, rest = rec["blocks"][at][1].partition("\n")
            if first.strip() == body[0].strip():
                rec["blocks"] = (rec["blocks"][:at] + [("title", first)] + ([("body", rest)] if rest.strip() else [])
                                 + rec["blocks"][at + 1 :])
                rec["body"] = body[1:]
        return rec

    def blocks(self, site, page, rng):
        if site.dateline_style == "inline" and page.paragraphs and page.paragraphs[0] in self._tops:
            site = dataclasses.replace(site, dateline_style="line")  # no dateline glued to a headline line
        return hard_blocks(site, page, rng)


def _page_headline(line: str, page_title: str) -> bool:
    """The line is the page's headline: its title, or its title before a site's suffix."""
    line, title = line.strip().lower(), page_title.strip().lower()
    return len(line) >= 15 and (line == title or title.startswith(line + " "))


def line_labels(gen: HardGenerator, rec: dict, page_id: str) -> tuple[list[dict], dict]:
    """Per non-empty page line: role and (body lines) shape; and the page's family and story shapes."""
    k = gen.plan.story[rec["i"]]
    if rec["kind"] == 5:  # junk
        fam, pshapes = "junk", {}
    else:
        fam, pshapes = gen.story_shapes(k)
    prefixes = {" ".join(t.split()[:6]): s for t, s in pshapes.items()}
    body = rec["body"]
    rows = []
    n = 0
    for role, text in rec["blocks"]:
        for ln in text.split("\n"):
            if not ln.strip():
                continue
            shape = ""
            if role == "body":
                shape = line_shape(ln)
                if not shape:
                    para = next((p for p in body if ln in p.split("\n")), None)
                    src = pshapes.get(para) if para is not None else None
                    if src is None and para is not None:
                        src = prefixes.get(" ".join(para.split()[:6]))
                    if para is None:
                        src = "dateline_first"  # the first line with the site's inline dateline glued on
                    shape = src or "edited"
            rows.append(dict(id=page_id, n=n, role=role, shape=shape, text=ln))
            n += 1
    story_shapes = sorted(set(pshapes.values()) | {line_shape(x) for p in body for x in p.split("\n")} - {""})
    if len(" ".join(body).split()) <= 120 and body:
        story_shapes.append("under120words")
    return rows, dict(id=page_id, family=fam, shapes=",".join(story_shapes))
