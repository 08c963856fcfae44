"""Fixed rules that recognise site chrome lines in scraped article text (RE2 syntax, for Arrow)."""

from __future__ import annotations

# Every pattern is matched against one stripped line, case-insensitively, and must cover the
# whole line: a rule removes a line only when the line is nothing but chrome.

#: Lines that are always chrome, wherever they stand.
CHROME_LINES = [
    r"(©|\(c\)|copyright\b).{0,120}",
    r".{0,80}\ball rights reserved\.?",
    r"%d bloggers like this:?",
    r"(like|share) this:?",
    r"like loading\.*|loading\.\.\.",
    r"((share|tweet|email|print|pin|facebook|twitter|whatsapp|telegram|linkedin|reddit|pinterest|messenger|x)( on \w+)?[\s|·•,]*){1,10}",
    r"(leave a (reply|comment)|cancel reply|post a comment|add a comment|join the discussion)\.?",
    r"(no|\d[\d,.]*k?) (comments?|responses?|shares?|views?)",
    r"your email address will not be published\..{0,80}",
    r"(required fields are marked|save my name, email).{0,160}",
    r".{0,60}\b(we|this (web)?site) uses? cookies\b.{0,240}",
    r"(accept( all)?( cookies)?|manage (cookie )?preferences|cookie (policy|settings))",
    r"(subscribe|sign up)( now)? (to|for) (our|the) (daily |weekly )?(newsletter|updates).{0,160}",
    r"(tags?|filed under|categories|category|topics?)\s*:.{0,300}",
    r"(posted|published|updated|last updated)( on| at)?\s*:?\s.{0,80}",
    r"(«|‹|<)?\s*(previous|next|older|newer) (post|article|story)\s*(»|›|>)?\s*:?.{0,200}",
    r"home\s*(»|›|>|/|\|)\s*.{0,200}",
    r"(advertisement|sponsored content|read more|continue reading|click here to read more)\.?",
    r"(related|related (posts|articles|stories|news)|you may also like|more (from|stories|news).{0,60}|recommended( for you)?|post navigation|comments|trending( now)?)\s*:?",
]

#: Lines after which, in the lower part of a page, nothing more belongs to the article.
TAIL_MARKERS = [
    r"leave a (reply|comment)",
    r"related|related (posts|articles|stories|news)|you may also like|recommended( for you)?",
    r"more (from|stories|news).{0,60}",
    r"post navigation|comments|share this:?|like this:?|%d bloggers like this:?",
]

#: A teaser of another story: a line cut off with an ellipsis (the title line before it goes too).
TEASER_LINE = r"^.{40,}(\.\.\.|…)$"

#: Teasers and tail markers count only in the part of the page below this fraction of its lines,
#: so an article that merely mentions "Comments" near its top is not cut short.
TAIL_FROM = 0.3


def whole_line(patterns: list[str]) -> str:
    """One case-insensitive RE2 pattern that matches a line made only of one of `patterns`."""
    return "(?i)^(?:" + "|".join(f"(?:{p})" for p in patterns) + r")$"
