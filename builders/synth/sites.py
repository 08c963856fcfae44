"""Simulated news sites: per-site chrome profiles and rendering a page to scraped text and HTML."""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "AGENCIES",
    "AGENCY_INDEX",
    "CITIES",
    "SECTIONS",
    "Page",
    "Site",
    "build_blocks",
    "format_dateline",
    "junk_blocks",
    "make_site",
    "page_url",
    "render_html",
    "render_text",
    "slugify",
]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
MON = [m[:3] for m in MONTHS]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# (name used in credits, form used in datelines, dateline template)
AGENCIES = [
    ("Europa Press", "EUROPA PRESS", "{CITY}, {d} {Mon}. ({AG}) -"),
    ("Reuters", "Reuters", "{CITY} ({AG}) -"),
    ("AFP", "AFP", "{City} ({AG}) -"),
    ("The Associated Press", "AP", "{CITY} ({AG}) —"),
    ("EFE", "EFE", "{City}, {Mon} {d} ({AG}).-"),
    ("dpa", "dpa", "{City} ({AG}) -"),
    ("ANSA", "ANSA", "{City}, {d} {Month} ({AG}) -"),
    ("PA Media", "PA", "{City} (PA) -"),
    ("Xinhua", "Xinhua", "{CITY}, {Mon}. {d} ({AG}) --"),
    ("Kyodo", "Kyodo", "{CITY}, {Mon}. {d} ({AG}) -"),
    ("UPI", "UPI", "{City}, {Mon}. {d} ({AG}) --"),
    ("Bloomberg", "Bloomberg", "{City} ({AG}) --"),
]
AGENCY_INDEX = {a[0].lower(): i for i, a in enumerate(AGENCIES)}
AGENCY_INDEX.update({a[1].lower(): i for i, a in enumerate(AGENCIES)})

CITIES = ["Madrid", "London", "Paris", "Berlin", "Rome", "Brussels", "Washington", "New York", "Moscow",
          "Beijing", "Tokyo", "Lisbon", "Vienna", "Geneva", "Warsaw", "Athens", "Dublin", "Stockholm",
          "Oslo", "Copenhagen", "Amsterdam", "Ottawa", "Mexico City", "Buenos Aires", "Bogota", "Lima",
          "Santiago", "Cairo", "Nairobi", "Johannesburg", "Lagos", "New Delhi", "Jakarta", "Manila",
          "Seoul", "Sydney", "Wellington", "Istanbul", "Kyiv", "Barcelona", "Milan", "Frankfurt",
          "Edinburgh", "Manchester", "Chicago", "Los Angeles", "Sao Paulo", "Montevideo"]

_PREFIX = ["daily", "the", "metro", "valley", "north", "south", "east", "west", "city", "global", "world",
           "national", "coastal", "capital", "evening", "morning", "weekly", "free", "new", "central",
           "harbor", "river", "summit", "pioneer", "liberty", "union", "county", "island", "prairie",
           "lakeside"]
_NOUN = ["tribune", "herald", "post", "times", "gazette", "observer", "chronicle", "ledger", "dispatch",
         "courier", "journal", "sentinel", "record", "register", "star", "bulletin", "monitor", "express",
         "mirror", "standard", "press", "review", "examiner", "telegraph", "news", "wire", "digest",
         "report", "voice", "beacon"]
_TAGLINES = ["Your trusted source for news", "News that matters", "Independent journalism since 1998",
             "All the news, all the time", "Breaking news and analysis", "Local news, global view",
             "Latest headlines from around the world", "The news you need", "Informing the community",
             "Fast news. Fair news."]
SECTIONS = ["World", "Politics", "Business", "Economy", "Sport", "Science", "Technology", "Health",
            "Weather", "Entertainment", "Culture", "Opinion", "Local", "Courts", "Environment", "Europe",
            "Americas", "Asia", "Markets", "Lifestyle"]
_FIRST = ["Maria", "John", "Ana", "David", "Laura", "James", "Sofia", "Daniel", "Elena", "Peter",
          "Carmen", "Michael", "Julia", "Robert", "Lucia", "Thomas", "Sarah", "Pablo", "Emma", "Marco",
          "Hannah", "Carlos", "Olivia", "Luis", "Grace", "Ahmed", "Priya", "Kenji", "Ingrid", "Tom"]
_LAST = ["Garcia", "Smith", "Martin", "Brown", "Lopez", "Wilson", "Rossi", "Muller", "Novak", "Jensen",
         "Costa", "Taylor", "Moreau", "Kowalski", "Fernandez", "Clarke", "Silva", "Nakamura", "Haddad",
         "Okafor", "Larsen", "Ivanova", "Byrne", "Santos", "Weber", "Evans", "Rahman", "Dubois"]
_COMMENTS = [
    "Great article, thanks for sharing.",
    "This is exactly what I was afraid of.",
    "Interesting read. I wonder what happens next.",
    "Can anyone explain why this is only being reported now?",
    "Thanks for keeping us informed.",
    "I don't agree with this at all.",
    "Very well written, as always.",
    "Does anyone have a link to the original statement?",
    "We will see how long this lasts.",
    "Finally some good news.",
    "The headline is misleading, read the whole thing.",
    "This affects all of us, not just them.",
    "Sad to hear. My thoughts are with the families.",
    "Same old story every year.",
    "Good to see this getting attention.",
    "Where are the numbers to back this up?",
]
_COOKIE = [
    "We use cookies to ensure that we give you the best experience on our website. If you continue to use this site we will assume that you are happy with it.\nOk\nPrivacy policy",
    "This website uses cookies to improve your experience. We'll assume you're ok with this, but you can opt-out if you wish.\nAccept\nRead More",
    "By continuing to browse the site you are agreeing to our use of cookies.\nAccept all\nManage settings",
    "Privacy & Cookies: This site uses cookies. By continuing to use this website, you agree to their use.\nTo find out more, including how to control cookies, see here: Cookie Policy",
    "We and our partners use cookies to personalise content and ads and to analyse our traffic.\nI agree\nMore options",
]
_NEWSLETTER = [
    "Subscribe to our newsletter\n\nEnter your email address to subscribe to this blog and receive notifications of new posts by email.\n\nEmail Address\n\nSubscribe",
    "Sign up for our daily briefing\n\nGet the top stories delivered to your inbox every morning.\n\nYour email\n\nSign up",
    "Newsletter\n\nDon't miss a story. Join {subs} readers who get our headlines first.\n\nSubscribe now",
    "Stay informed\n\nSubscribe to the {name} newsletter. You can unsubscribe at any time.\n\nEmail *\n\nSubscribe",
]
_FORMS = [
    "Leave a Reply",
    "Leave a Reply\n\nYour email address will not be published. Required fields are marked *\n\nComment\n\nName *\n\nEmail *\n\nWebsite\n\nSave my name, email, and website in this browser for the next time I comment.\n\nPost Comment",
    "Leave a Reply Cancel reply\n\nYou must be logged in to post a comment.",
    "Add a comment\n\nComments are moderated and will appear after approval.\n\nName\n\nEmail\n\nComment\n\nSubmit",
    "Leave a comment\n\nYour email address will not be published.\n\nComment *\n\nName *\n\nEmail *\n\nNotify me of follow-up comments by email.\n\nNotify me of new posts by email.\n\nPost Comment",
]
_SHARE = [
    "Share this:\n\nTwitter\nFacebook\nWhatsApp",
    "Share this:\n\nClick to share on Twitter (Opens in new window)\nClick to share on Facebook (Opens in new window)\nClick to email a link to a friend (Opens in new window)",
    "Share\n\nFacebook Twitter WhatsApp Email",
    "Facebook Twitter WhatsApp Telegram Pinterest Email",
    "SHARE\n\nFacebook\nTwitter\nLinkedIn\nEmail\nPrint",
]
_LIKE = ["Like this:\n\nLike Loading...", "Like this:\n\nLike\nLoading...", "Like this:\nLike Loading..."]
_RELATED_HEADINGS = ["", "Related", "Related Posts", "You may also like", "More from {name}", "Read also",
                     "Related News", "Recommended for you", "More stories"]
_MOST_READ = ["Most Read", "Most Popular", "Trending Now", "Top Stories"]
_FOOTERS = [
    "© {year} {name}. All rights reserved.",
    "Copyright © {year} {name} | Powered by WordPress | Theme: {theme}",
    "About Us | Contact | Privacy Policy | Terms of Use\n\n© {year} {name}",
    "{name} © {year} - All rights reserved.\nPrivacy Policy | Cookie Policy | Advertise with us",
    "Proudly powered by WordPress | Theme: {theme}.",
    "Home | About | Advertise | Contact\n\nCopyright {year} {domain}",
]
_THEMES = ["Newsup by Themeansar", "ColorMag by ThemeGrill", "Newspaper by tagDiv", "Astra",
           "Magazine Lite by Mystery Themes", "JNews", "Twenty Twenty", "Soledad by PenciDesign"]
_CREDITS = [
    "© {year} {agency}.",
    "({short})",
    "Source: {agency}",
    "With information from {agency}.",
    "Copyright {year} {agency}. All rights reserved.",
    "This story was provided by {agency}.",
    "— {agency}",
    "Source: {short}/{name}",
    "(c) {year} {agency}",
]
_META = [
    "Posted on {date} by {author}",
    "By {author} | Published {datetime} | Updated {updated}",
    "{date} {author}",
    "Published: {datetime}",
    "By {author}\n{datetime}",
    "{ago}",
    "{date} | {comments}",
    "Last updated: {updated}",
    "Written by {author} on {date}. Reading time: {read} min",
]
_JUNK_404 = [
    "Oops! That page can’t be found.\n\nIt looks like nothing was found at this location. Maybe try one of the links below or a search?\n\nSearch for:",
    "404\n\nPage not found\n\nThe page you are looking for might have been removed, had its name changed, or is temporarily unavailable.\n\nBack to homepage",
    "Nothing Found\n\nSorry, but nothing matched your search terms. Please try again with some different keywords.",
]
_JUNK_SHORT = [
    "Please enable JavaScript to view this page.",
    "Access denied\n\nYou don't have permission to access this resource.",
    "This content is for subscribers only.\n\nAlready a subscriber? Log in\n\nSubscribe now for unlimited access",
    "Before you continue\n\nWe use cookies and data to deliver and maintain our services.\n\nReject all\n\nAccept all",
    "Loading...",
]


@dataclass(frozen=True)
class Site:
    index: int
    domain: str
    name: str
    platform: str
    url_style: int
    title_suffix: str
    para_sep: str
    dateline_style: str  # "inline" | "line" | "none"
    header: tuple[str, ...]
    footer: tuple[str, ...]
    nav: tuple[str, ...]
    nav_sep: str
    crumb_sep: str
    meta_fmt: str
    meta_before_title: bool
    authors: tuple[str, ...]
    credit_fmt: str
    share: str
    like: str
    related_heading: str
    related_n: tuple[int, int]
    teaser_words: int
    teaser_space: bool
    form: str
    cookie: str
    newsletter: str
    footer_text: str
    tagline: str
    glue_bloggers: bool


def _site_name(i: int) -> tuple[str, str]:
    n = len(_PREFIX) * len(_NOUN)
    k = (i * 7919) % n  # 7919 is prime and coprime with 900: a bijection over the combinations
    pre, noun = _PREFIX[k // len(_NOUN)], _NOUN[k % len(_NOUN)]
    suffix = "" if i < n else str(i // n + 1)
    slug = f"{pre}-{noun}{suffix}"
    name = f"{pre.capitalize()} {noun.capitalize()}" + (f" {suffix}" if suffix else "")
    return slug + ".example", name


def make_site(i: int) -> Site:
    """Site ``i``'s profile. Depends only on ``i`` so a site looks the same in every corpus."""
    rng = random.Random(f"synth-site-{i}")
    domain, name = _site_name(i)
    platform = rng.choices(["wordpress", "minimal", "portal", "aggregator", "blog"], [35, 10, 30, 12, 13])[0]
    header: list[str]
    footer: list[str]
    if platform == "minimal":
        header = []
        footer = ["credit", "form", "related", "bloggers"]
    elif platform == "wordpress":
        header = [h for h in ("skip", "sitename", "nav", "crumbs") if rng.random() < 0.7]
        footer = ["credit", "share", "like", "tags", "prevnext", "related", "comments", "form", "footer", "bloggers"]
        footer = [f for f in footer if f in ("credit", "bloggers") or rng.random() < 0.75]
    elif platform == "portal":
        header = ["datebar", "sitename", "nav"] + (["trending"] if rng.random() < 0.5 else []) + ["crumbs"]
        if rng.random() < 0.5:
            header.insert(0, "cookie")
        footer = ["credit", "tags", "sharecount", "share", "related", "mostread", "comments", "newsletter", "footer"]
        footer = [f for f in footer if f == "credit" or rng.random() < 0.8]
        if "cookie" not in header and rng.random() < 0.6:
            footer.append("cookie")
    elif platform == "aggregator":
        header = ["sitename", "nav"] if rng.random() < 0.7 else ["nav"]
        footer = ["credit", "related", "mostread", "footer"]
        footer = [f for f in footer if f == "credit" or rng.random() < 0.8]
    else:  # blog
        header = ["sitename"] + (["nav"] if rng.random() < 0.5 else [])
        footer = ["credit", "share", "tags", "related", "comments", "form", "newsletter", "footer"]
        footer = [f for f in footer if f == "credit" or rng.random() < 0.7]
    if "related" not in footer:
        # Every site shows other stories' teasers: chrome that changes from page to page.
        footer.insert(max(1, len(footer) - 1), "related")
    nav = ["Home"] + rng.sample(SECTIONS, rng.randint(4, 9))
    if rng.random() < 0.5:
        nav.append(rng.choice(["Contact", "About", "Subscribe", "Podcasts", "Video"]))
    authors = tuple(
        rng.choice(["Staff", "admin", "Newsroom", "Editorial Team", "Web Desk", f"{name} Staff"])
        if rng.random() < 0.3
        else f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        for _ in range(rng.randint(1, 6))
    )
    suffix_fmt = rng.choices(["", " | {name}", " - {name}", " – {NAME}", " :: {name}"], [55, 20, 15, 5, 5])[0]
    return Site(
        index=i,
        domain=domain,
        name=name,
        platform=platform,
        url_style=rng.randrange(5),
        title_suffix=suffix_fmt.format(name=name, NAME=name.upper()),
        para_sep="\n\n" if rng.random() < 0.85 else "\n",
        dateline_style=rng.choices(["inline", "line", "none"], [45, 25, 30])[0],
        header=tuple(header),
        footer=tuple(footer),
        nav=tuple(nav),
        nav_sep=rng.choice([" | ", " ", "\n", " · ", " / "]),
        crumb_sep=rng.choice([" » ", " > ", " / ", " › "]),
        meta_fmt="" if platform == "minimal" else rng.choice(_META),
        meta_before_title=rng.random() < 0.25,
        authors=authors,
        credit_fmt=rng.choice(_CREDITS),
        share=rng.choice(_SHARE),
        like=rng.choice(_LIKE),
        related_heading=("" if platform == "minimal" else rng.choice(_RELATED_HEADINGS)).format(name=name),
        related_n=(3, 6) if platform == "minimal" else (rng.randint(2, 4), rng.randint(4, 8)),
        teaser_words=25 if platform == "minimal" else rng.randint(18, 30),
        teaser_space=platform == "minimal" or rng.random() < 0.3,
        form=_FORMS[0] if platform == "minimal" else rng.choice(_FORMS),
        cookie=rng.choice(_COOKIE),
        newsletter=rng.choice(_NEWSLETTER).format(name=name, subs=f"{rng.randint(2, 90)},{rng.randint(100, 999)}"),
        footer_text=rng.choice(_FOOTERS).replace("{name}", name).replace("{theme}", rng.choice(_THEMES)).replace("{domain}", domain),
        tagline=rng.choice(_TAGLINES),
        glue_bloggers=platform == "minimal" or rng.random() < 0.5,
    )


@dataclass
class Page:
    """Everything one page shows; chrome that changes per page is drawn by the renderer's rng."""

    headline: str
    paragraphs: list[str]
    agency: int
    city: str
    story_time: datetime  # when the story first ran: the dateline's date
    pub: datetime  # when this copy was posted on this site
    crawl: datetime
    url: str
    related: list[tuple[str, str, int]]  # (title, text start, story index) of other stories
    prevnext: tuple[str, str]
    section: str


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def slugify(title: str, max_words: int = 9) -> str:
    s = _SLUG_DROP.sub("-", title.lower().replace("’", "").replace("'", "")).strip("-")
    return "-".join(s.split("-")[:max_words]) or "story"


def page_url(site: Site, title: str, pub: datetime, section: str, num: int) -> str:
    slug = slugify(title)
    st = site.url_style
    if st == 0:
        path = f"{pub.year}/{pub.month:02d}/{pub.day:02d}/{slug}/"
    elif st == 1:
        path = f"news/{section.lower()}/{slug}-{num}"
    elif st == 2:
        path = f"article/{slug}.html"
    elif st == 3:
        path = f"{section.lower()}/{pub.year}{pub.month:02d}{pub.day:02d}/{slug}"
    else:
        path = f"{pub.year}/{pub.month:02d}/{slug}-{num}.html"
    return f"https://{site.domain}/{path}"


def format_dateline(agency: int, city: str, when: datetime) -> str:
    _, short, tmpl = AGENCIES[agency]
    return tmpl.format(
        CITY=city.upper(), City=city, d=when.day, Mon=MON[when.month - 1], Month=MONTHS[when.month - 1],
        AG=short.upper() if short == "EUROPA PRESS" else short,
    )


def _hm(t: datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def _ampm(t: datetime) -> str:
    h = t.hour % 12 or 12
    return f"{h}:{t.minute:02d} {'am' if t.hour < 12 else 'pm'}"


def _long_date(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day}, {t.year}"


def _datetime_fmt(site: Site, t: datetime) -> str:
    s = site.index % 4
    if s == 0:
        return f"{t.day:02d}/{t.month:02d}/{t.year} {_hm(t)}"
    if s == 1:
        return f"{_long_date(t)} at {_ampm(t)}"
    if s == 2:
        return f"{t.day} {MON[t.month - 1]} {t.year}, {_hm(t)} GMT"
    return f"{t.year}-{t.month:02d}-{t.day:02d} {_hm(t)}"


def _count(rng: random.Random, scale: int) -> int:
    # Engagement is heavy-tailed: most pages get a few shares, some get thousands.
    return int(rng.paretovariate(1.2) * scale) - scale


def _shares(rng: random.Random) -> str:
    n = _count(rng, 20)
    shown = f"{n / 1000:.1f}K" if n >= 1000 else str(n)
    return rng.choice([f"{shown} Shares", f"{shown} shares", f"Shares: {shown}", f"{shown} SHARES"])


def _comments_label(n: int) -> str:
    return "No Comments" if n == 0 else ("1 Comment" if n == 1 else f"{n} Comments")


_TAG_STOP = {"The", "A", "An", "In", "On", "Of", "For", "To", "And", "But", "With", "As", "At", "By", "After",
             "Before", "Over", "Under", "New", "More", "Why", "How", "What", "Who", "Is", "Are", "Was", "Will",
             "This", "That", "It", "He", "She", "They", "We", "Mr", "Mrs", "Ms", "Dr", "From", "Its", "His",
             "Her", "Their", "Our", "Not", "No", "Up", "Out", "Into", "About", "BREAKING", "UPDATE", "Last",
             "First", "One", "Two", "If", "When", "While", "There", "Here", "Some", "All", "Most", "Also"}
_CAP = re.compile(r"\b[A-Z][a-zA-Z]{2,}\b")


def _tags(page: Page, rng: random.Random) -> list[str]:
    seen: list[str] = []
    for w in _CAP.findall(page.headline + " " + (page.paragraphs[0] if page.paragraphs else "")):
        if w not in _TAG_STOP and w not in seen:
            seen.append(w)
    rng.shuffle(seen)
    tags = seen[: rng.randint(2, 5)]
    if rng.random() < 0.5:
        tags.append(page.section)
    return tags


def _teaser(site: Site, text: str, first: bool = False) -> str:
    words = text.split(None, site.teaser_words + 1)[: site.teaser_words]
    # WordPress excerpts can open with a no-break space, as the seed page's first teaser does.
    return ("\xa0" if site.teaser_space and first else "") + " ".join(words) + "..."


def build_blocks(site: Site, page: Page, rng: random.Random) -> list[tuple[str, str]]:
    """The page as (role, text) blocks in reading order."""
    blocks: list[tuple[str, str]] = []
    for h in site.header:
        if h == "skip":
            blocks.append(("header", "Skip to content"))
        elif h == "sitename":
            blocks.append(("sitename", f"{site.name}\n{site.tagline}" if site.index % 3 == 0 else site.name))
        elif h == "datebar":
            t = page.crawl
            blocks.append(("datebar", f"{DAYS[t.weekday()]}, {_long_date(t)}"))
        elif h == "nav":
            blocks.append(("nav", site.nav_sep.join(site.nav)))
        elif h == "trending":
            titles = [r[0] for r in page.related[:2]]
            blocks.append(("trending", "Trending: " + " | ".join(titles)))
        elif h == "crumbs":
            blocks.append(("crumbs", site.crumb_sep.join(["Home", page.section, page.headline])))
        elif h == "cookie":
            blocks.append(("cookie", site.cookie))

    meta = ""
    if site.meta_fmt:
        updated = min(page.pub + timedelta(seconds=rng.randint(600, 6 * 3600)), page.crawl)
        hours = max(1, int((page.crawl - page.pub).total_seconds() // 3600))
        ago = f"{hours} hours ago" if hours < 24 else f"{hours // 24} days ago"
        meta = site.meta_fmt.format(
            date=_long_date(page.pub),
            datetime=_datetime_fmt(site, page.pub),
            updated=_datetime_fmt(site, updated),
            author=site.authors[rng.randrange(len(site.authors))],
            ago=ago if hours > 1 else "1 hour ago",
            comments=_comments_label(_count(rng, 3)),
            read=max(1, sum(len(p.split()) for p in page.paragraphs) // 220),
        )
    if meta and site.meta_before_title:
        blocks.append(("meta", meta))
    blocks.append(("title", page.headline))
    if meta and not site.meta_before_title:
        blocks.append(("meta", meta))

    body = list(page.paragraphs)
    dateline = format_dateline(page.agency, page.city, page.story_time)
    if site.dateline_style == "line":
        blocks.append(("dateline", dateline))
    elif site.dateline_style == "inline" and body:
        body[0] = f"{dateline} {body[0]}"
    if body:
        blocks.append(("body", site.para_sep.join(body)))

    agency_name, agency_short, _ = AGENCIES[page.agency]
    n_comments = None
    for f in site.footer:
        if f == "credit":
            blocks.append(("credit", site.credit_fmt.format(
                year=page.story_time.year, agency=agency_name, short=agency_short, name=site.name)))
        elif f == "share":
            blocks.append(("share", site.share))
        elif f == "sharecount":
            blocks.append(("share", _shares(rng)))
        elif f == "like":
            blocks.append(("like", site.like))
        elif f == "tags":
            blocks.append(("tags", "Tags: " + ", ".join(_tags(page, rng))))
        elif f == "prevnext":
            prev, nxt = page.prevnext
            blocks.append(("prevnext", f"Post navigation\n\n← {prev}\n\n{nxt} →" if site.index % 2 else f"« Previous: {prev}\nNext: {nxt} »"))
        elif f == "related":
            lo, hi = site.related_n
            items = page.related[: rng.randint(lo, hi)]
            if items:
                parts = [site.related_heading] if site.related_heading else []
                parts += [f"{t}\n\n{_teaser(site, s, n == 0)}" for n, (t, s, _) in enumerate(items)]
                blocks.append(("related", "\n\n".join(parts)))
        elif f == "mostread":
            titles = [r[0] for r in page.related[-4:]]
            blocks.append(("mostread", _MOST_READ[site.index % len(_MOST_READ)] + "\n\n" + "\n".join(f"{i + 1}. {t}" for i, t in enumerate(titles))))
        elif f == "comments":
            n_comments = _count(rng, 2)
            if site.index % 2:
                head = "One thought on" if n_comments == 1 else f"{n_comments} thoughts on"
                lines = [f"{head} “{page.headline}”"]
            else:
                lines = [_comments_label(n_comments)]
            t = page.pub
            for _ in range(min(n_comments, 3)):
                t += timedelta(seconds=rng.randint(60, 8 * 3600))
                lines.append(
                    f"{rng.choice(_FIRST)} {rng.choice(_LAST)[0]}. says:\n{_long_date(t)} at {_ampm(t)}\n\n"
                    f"{rng.choice(_COMMENTS)}\n\nReply"
                )
            blocks.append(("comments", "\n\n".join(lines)))
        elif f == "form":
            blocks.append(("form", site.form))
        elif f == "newsletter":
            blocks.append(("newsletter", site.newsletter))
        elif f == "cookie":
            blocks.append(("cookie", site.cookie))
        elif f == "footer":
            blocks.append(("footer", site.footer_text.replace("{year}", str(page.crawl.year))))
        elif f == "bloggers":
            blocks.append(("bloggers", "%d bloggers like this:"))
    return blocks


def render_text(site: Site, blocks: list[tuple[str, str]]) -> str:
    """A scraper's plain-text export of the page."""
    out: list[str] = []
    for role, text in blocks:
        if out:
            if role == "bloggers" and site.glue_bloggers:
                sep = "\n"  # as on the seed page: no blank line before the widget's text
            elif role == "related" and site.platform == "minimal":
                sep = "\n\n\n"
            else:
                sep = "\n\n"
            out.append(sep)
        out.append(text)
    return "".join(out)


def junk_blocks(site: Site, kind: str, page: Page, rng: random.Random) -> tuple[str, list[tuple[str, str]]]:
    """(page title, blocks) of a page a cleaner should reject."""
    head = [("sitename", site.name), ("nav", site.nav_sep.join(site.nav))]
    foot = [("footer", site.footer_text.replace("{year}", str(page.crawl.year)))]
    if kind == "empty":
        return "", []
    if kind == "404":
        return f"Page not found{site.title_suffix or ' - ' + site.name}", head + [("junk", rng.choice(_JUNK_404))] + foot
    if kind == "listing":
        section = page.section
        items = "\n\n".join(f"{t}\n\n{_teaser(site, s)}\n\nRead More" for t, s, _ in page.related)
        return f"{section} Archives - {site.name}", head + [("junk", f"Category: {section}"), ("related", items), ("junk", "Older posts\n\nPage 1 of 37")] + foot
    return site.name, [("junk", rng.choice(_JUNK_SHORT))]


def _E(text: str) -> str:
    return html.escape(text, quote=False)


def _A(value: str) -> str:
    return html.escape(value, quote=True)


def render_html(site: Site, title: str, url: str, blocks: list[tuple[str, str]], related_urls: list[str] | None = None) -> str:
    """A realistic HTML document for the same page."""
    related_urls = related_urls or []
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_E(title)}</title>\n<link rel=\"canonical\" href=\"{_A(url)}\">\n"
        f"<meta property=\"og:site_name\" content=\"{_A(site.name)}\">\n"
        f"<meta property=\"og:url\" content=\"{_A(url)}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<link rel=\"stylesheet\" href=\"https://{site.domain}/wp-content/themes/site/style.css\">\n"
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}</script>\n"
        "</head>\n"
    )
    parts = [head, f"<body class=\"{site.platform} single-post\">\n<header class=\"site-header\">\n"]
    in_header = True
    in_article = False
    for role, text in blocks:
        if in_header and role not in ("header", "sitename", "datebar", "nav", "trending", "cookie"):
            parts.append("</header>\n<main id=\"main\">\n")
            in_header = False
        if not in_header and not in_article and role in ("meta", "title", "dateline", "body", "junk"):
            parts.append("<article class=\"post\">\n")
            in_article = True
        if in_article and role not in ("meta", "title", "dateline", "body", "credit", "junk"):
            parts.append("</article>\n")
            in_article = False
        lines = [ln for ln in text.split("\n") if ln.strip()]
        if role == "header":
            parts.append(f"<a class=\"skip-link\" href=\"#main\">{_E(text)}</a>\n")
        elif role == "sitename":
            parts.append(f"<div class=\"site-branding\"><p class=\"site-title\"><a href=\"https://{site.domain}/\">{_E(lines[0])}</a></p>"
                         + "".join(f"<p class=\"site-description\">{_E(x)}</p>" for x in lines[1:]) + "</div>\n")
        elif role == "nav":
            items = [x for x in re.split(r" \| | · | / |\n", text) if x]
            if len(items) == 1:
                items = text.split(" ")
            parts.append("<nav class=\"main-navigation\"><ul>" + "".join(
                f"<li><a href=\"https://{site.domain}/{slugify(x)}/\">{_E(x)}</a></li>" for x in items) + "</ul></nav>\n")
        elif role == "crumbs":
            items = text.split(site.crumb_sep)
            parts.append("<nav class=\"breadcrumbs\">" + _E(site.crumb_sep).join(
                f"<a href=\"https://{site.domain}/{slugify(x)}/\">{_E(x)}</a>" for x in items[:-1]) + _E(site.crumb_sep) + f"<span>{_E(items[-1])}</span></nav>\n")
        elif role == "title":
            parts.append(f"<h1 class=\"entry-title\">{_E(text)}</h1>\n")
        elif role == "meta":
            parts.append("<div class=\"entry-meta\">" + "<br>".join(f"<span>{_E(x)}</span>" for x in lines) + "</div>\n")
        elif role == "dateline":
            parts.append(f"<p class=\"dateline\"><strong>{_E(text)}</strong></p>\n")
        elif role == "body":
            parts.append("<div class=\"entry-content\">\n" + "".join(f"<p>{_E(p)}</p>\n" for p in lines) + "</div>\n")
        elif role == "credit":
            parts.append(f"<p class=\"credit\"><em>{_E(text)}</em></p>\n")
        elif role == "related":
            paras = [p for p in text.split("\n\n")]
            heading = ""
            if len(paras) % 2 == 1:
                heading, paras = paras[0], paras[1:]
            items = []
            for k in range(0, len(paras), 2):
                href = related_urls[k // 2] if k // 2 < len(related_urls) else f"https://{site.domain}/{slugify(paras[k])}/"
                items.append(f"<li><h4><a href=\"{_A(href)}\">{_E(paras[k])}</a></h4><p>{_E(paras[k + 1].strip())}</p></li>")
            parts.append("<aside class=\"related-posts\">" + (f"<h3>{_E(heading)}</h3>" if heading else "") + "<ul>" + "".join(items) + "</ul></aside>\n")
        elif role == "form":
            parts.append("<div id=\"respond\" class=\"comment-respond\"><h3 class=\"comment-reply-title\">" + _E(lines[0]) + "</h3>"
                         "<form action=\"/wp-comments-post.php\" method=\"post\" id=\"commentform\">"
                         + "".join(f"<p>{_E(x)}</p>" for x in lines[1:-1])
                         + "<textarea id=\"comment\" name=\"comment\"></textarea>"
                         + (f"<input name=\"submit\" type=\"submit\" value=\"{_A(lines[-1])}\">" if len(lines) > 1 else "")
                         + "</form></div>\n")
        elif role == "comments":
            parts.append("<section id=\"comments\" class=\"comments-area\">" + "".join(f"<p>{_E(x)}</p>" for x in lines) + "</section>\n")
        elif role == "footer":
            parts.append("<footer class=\"site-footer\">" + "".join(f"<p>{_E(x)}</p>" for x in lines) + "</footer>\n")
        elif role == "cookie":
            parts.append("<div class=\"cookie-notice\" role=\"dialog\"><p>" + _E(lines[0]) + "</p>"
                         + "".join(f"<button>{_E(x)}</button>" for x in lines[1:]) + "</div>\n")
        elif role == "tags":
            label, _, rest = text.partition(": ")
            parts.append(f"<div class=\"tags-links\">{_E(label)}: " + ", ".join(
                f"<a href=\"https://{site.domain}/tag/{slugify(x)}/\" rel=\"tag\">{_E(x)}</a>" for x in rest.split(", ")) + "</div>\n")
        else:
            tag = {"share": "div class=\"sharedaddy\"", "like": "div class=\"likes\"", "prevnext": "nav class=\"post-navigation\"",
                   "mostread": "aside class=\"widget popular-posts\"", "newsletter": "aside class=\"widget newsletter\"",
                   "datebar": "div class=\"top-bar-date\"", "trending": "div class=\"ticker\"", "bloggers": "div class=\"likes-widget\"",
                   "junk": "div class=\"page-content\""}.get(role, "div")
            close = tag.split(" ")[0]
            parts.append(f"<{tag}>" + "".join(f"<p>{_E(x)}</p>" for x in lines) + f"</{close}>\n")
    if in_article:
        parts.append("</article>\n")
    if in_header:
        parts.append("</header>\n<main id=\"main\">\n")
    parts.append("</main>\n<script src=\"https://%s/wp-includes/js/site.min.js\"></script>\n</body>\n</html>\n" % site.domain)
    return "".join(parts)
