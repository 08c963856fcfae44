"""Mutations that make one wire story's copies differ the way republished copies do."""

from __future__ import annotations

import math
import random
import re

__all__ = ["edit_copy", "EDIT_PROBABILITIES"]

# Chance that a copy gets each edit; most copies get none or one light edit, so clean copies of a
# story keep a word 5-gram Jaccard of about 0.7-1.0 with each other.
EDIT_PROBABILITIES = {
    "headline": 0.25,
    "truncate": 0.20,
    "drop": 0.08,
    "insert": 0.10,
    "merge": 0.04,
    "words": 0.25,
    "typos": 0.15,
    "quotes": 0.12,
}

_SUBS = {
    "said": "stated", "says": "states", "told": "informed", "about": "around", "around": "about",
    "percent": "per cent", "organisation": "organization", "organization": "organisation",
    "centre": "center", "center": "centre", "programme": "program", "defence": "defense",
    "defense": "defence", "favour": "favor", "colour": "color", "recognise": "recognize",
    "criticised": "criticized", "criticized": "criticised", "analysts": "experts", "experts": "analysts",
    "however": "but", "announced": "reported", "big": "large", "large": "big", "began": "started",
    "started": "began", "also": "further", "nearly": "almost", "almost": "nearly", "government": "executive",
    "minister": "secretary", "company": "firm", "firm": "company", "help": "assist", "buy": "purchase",
    "show": "indicate", "rise": "increase", "fall": "drop", "cut": "reduce", "people": "persons",
    "while": "whilst", "whilst": "while", "among": "amongst", "towards": "toward", "toward": "towards",
    "children": "minors", "police": "officers",
}
_SUB_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _SUBS), key=len, reverse=True)) + r")\b", re.IGNORECASE)
_PER_CENT = re.compile(r"(\d) per cent\b|(\d)%")
_ENTITY = re.compile(r"\b[A-Z][a-z]+(?: (?:of |de |del |the )?[A-Z][a-z]+)+\b")
_TYPO_WORD = re.compile(r"^[A-Za-z]{5,}$")
_KEYBOARD = dict(zip("qwertyuiopasdfghjklzxcvbnm", "wertyuiopqsdfghjkalxcvbnmz"))

_INSERTS = [
    "{site} has contacted {entity} for comment and will update this article with any response.",
    "The information could not be independently verified by {site}.",
    "This article has been updated to include further details.",
    "Earlier, {entity} had declined to comment on the matter when approached by reporters.",
    "Readers can follow further developments on our live page throughout the day.",
    "{site} will continue to report on this story as it develops.",
    "According to local media, {entity} is expected to make a further statement in the coming days.",
    "The story was first reported by {agency}.",
    "In a brief statement to {site}, a spokesperson for {entity} said the matter was under review.",
    "Several readers wrote to {site} on {day} to share their own experience of the issue.",
    "It is not the first time {entity} has been in the headlines this year.",
    "Additional reporting by {site} staff.",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _case_like(src: str, dst: str) -> str:
    if src.isupper() and len(src) > 1:
        return dst.upper()
    if src[:1].isupper():
        return dst[:1].upper() + dst[1:]
    return dst


def _substitute(text: str, rng: random.Random, n: int) -> str:
    matches = list(_SUB_RE.finditer(text))
    if rng.random() < 0.3:
        matches += list(_PER_CENT.finditer(text))
    if not matches:
        return text
    chosen = sorted(rng.sample(matches, min(n, len(matches))), key=lambda m: m.start(), reverse=True)
    for m in chosen:
        src = m.group(0)
        if m.re is _PER_CENT:
            dst = f"{m.group(1)}%" if m.group(1) else f"{m.group(2)} per cent"
        else:
            dst = _case_like(src, _SUBS.get(src, _SUBS.get(src.lower(), src)))
        text = text[: m.start()] + dst + text[m.end():]
    return text


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    c = word[i].lower()
    return word[:i] + _KEYBOARD.get(c, c) + word[i + 1:]


def _typos(paragraphs: list[str], rng: random.Random, n: int) -> None:
    for _ in range(n):
        j = rng.randrange(len(paragraphs))
        words = paragraphs[j].split(" ")
        cands = [k for k, w in enumerate(words) if _TYPO_WORD.match(w)]
        if cands:
            k = rng.choice(cands)
            words[k] = _typo(words[k], rng)
            paragraphs[j] = " ".join(words)


def _requote(text: str, curl: bool) -> str:
    if not curl:
        return text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    text = re.sub(r'(^|[\s(\[])"', "\\1“", text)
    text = text.replace('"', "”")
    text = re.sub(r"(^|[\s(\[])'", "\\1‘", text)
    return text.replace("'", "’")


def _headline(title: str, rng: random.Random, agency_short: str) -> str:
    for _ in range(4):
        r = rng.random()
        if r < 0.22:
            new = rng.choice(["BREAKING: ", "UPDATE: ", "UPDATE 1-", "Watch: ", "LATEST: "]) + title
        elif r < 0.38:
            new = title + rng.choice([" - report", " (UPDATED)", f" | {agency_short}", " - sources", " (video)"])
        elif r < 0.55:
            new = " ".join(w[:1].upper() + w[1:] if len(w) > 3 or i == 0 else w for i, w in enumerate(title.split(" ")))
        elif r < 0.75:
            new = _substitute(title, rng, 1)
        else:
            words = title.split(" ")
            cut = re.split(r"[,:;] | - ", title, maxsplit=1)
            if len(cut) == 2 and len(cut[0].split()) >= 3:
                new = cut[0]
            elif len(words) > 5:
                new = " ".join(words[: len(words) - rng.randint(1, 2)])
            else:
                new = title
        if new != title:
            return new
    return title


def edit_copy(
    title: str,
    paragraphs: tuple[str, ...] | list[str],
    rng: random.Random,
    *,
    site_name: str,
    agency: str,
    agency_short: str,
    probabilities: dict[str, float] | None = None,
) -> tuple[str, list[str], list[str]]:
    """(headline, body paragraphs, names of the edits applied) of one republished copy.

    ``probabilities`` replaces EDIT_PROBABILITIES (the hard profile edits more often).
    """
    paras = list(paragraphs)
    edits: list[str] = []
    p = EDIT_PROBABILITIES if probabilities is None else probabilities
    n = len(paras)
    if rng.random() < p["headline"]:
        new = _headline(title, rng, agency_short)
        if new != title:
            title = new
            edits.append("headline")
    if n >= 3 and rng.random() < p["truncate"]:
        keep = max(2, math.ceil(0.65 * n))
        k = min(rng.choices([1, 2, 3], [6, 3, 1])[0], n - keep)
        if k > 0:
            del paras[n - k:]
            edits.append("truncate")
    if len(paras) >= 4 and rng.random() < p["drop"]:
        del paras[rng.randrange(1, len(paras) - 1)]
        edits.append("drop")
    if rng.random() < p["insert"]:
        ents = _ENTITY.findall(" ".join(paras[:3]))
        text = rng.choice(_INSERTS).format(
            site=site_name, agency=agency, day=rng.choice(_DAYS),
            entity=rng.choice(ents) if ents else "the authorities",
        )
        paras.insert(rng.randint(1, len(paras)), text)
        edits.append("insert")
    if len(paras) >= 3 and rng.random() < p["merge"]:
        j = rng.randrange(1, len(paras) - 1)
        paras[j : j + 2] = [paras[j] + " " + paras[j + 1]]
        edits.append("merge")
    if rng.random() < p["words"]:
        budget = rng.randint(1, 4)
        for j in rng.sample(range(len(paras)), min(budget, len(paras))):
            new = _substitute(paras[j], rng, 1)
            if new != paras[j]:
                paras[j] = new
                if "words" not in edits:
                    edits.append("words")
    if rng.random() < p["typos"]:
        before = list(paras)
        _typos(paras, rng, rng.randint(1, 3))
        if paras != before:
            edits.append("typos")
    if rng.random() < p["quotes"]:
        curl = rng.random() < 0.5
        new_paras = [_requote(x, curl) for x in paras]
        new_title = _requote(title, curl)
        if new_paras != paras or new_title != title:
            paras, title = new_paras, new_title
            edits.append("quotes")
    return title, paras, edits
