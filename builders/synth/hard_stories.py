"""Story texts for the hard profile, written from templates with varied names and numbers.

Every text here is generated: fictional companies, people and places filled into sentence
templates written for this project. Each family produces one of the shapes real wire copy has and
our default stories lack: financial results tables, bulleted lists, quotes trailing off in "...",
one-paragraph briefs, prose about cookies/newsletters/comments/subscriptions, a headline repeated
at the top of the text. Two precision traps are built in: stories of one company end with the same
"About <company>" boilerplate, stories of one region share a background paragraph, and follow-ups
repeat facts (and one paragraph) of the story they follow. All of them are distinct stories.

``make_story(spec)`` is a pure function of its spec, so a story can be rebuilt at any time.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

__all__ = ["FAMILIES", "FOLLOWUP_FAMILIES", "Story", "StorySpec", "make_story", "company", "region",
           "line_shape", "TABLE_LINE", "LIST_LINE"]

FAMILIES = ("earnings", "dividend", "court", "quotes", "brief", "media", "short")
FOLLOWUP_FAMILIES = ("earnings", "court", "quotes", "short")

_FIRST = ["Maria", "John", "Ana", "David", "Laura", "James", "Sofia", "Daniel", "Elena", "Peter", "Carmen",
          "Michael", "Julia", "Robert", "Lucia", "Thomas", "Sarah", "Pablo", "Emma", "Marco", "Hannah",
          "Carlos", "Olivia", "Luis", "Grace", "Ahmed", "Priya", "Kenji", "Ingrid", "Tom", "Fatima", "Oskar",
          "Nadia", "Victor", "Helena", "Samuel", "Irene", "Mateo", "Agnes", "Felix", "Rosa", "Andrei",
          "Leila", "Bruno", "Yara", "Hugo", "Clara", "Tariq", "Maeve", "Joaquin", "Aino", "Rafael",
          "Dalia", "Stefan", "Noor", "Emil", "Beatriz", "Kofi", "Mirela", "Henrik"]
_LAST = ["Garcia", "Smith", "Martin", "Brown", "Lopez", "Wilson", "Rossi", "Muller", "Novak", "Jensen",
         "Costa", "Taylor", "Moreau", "Kowalski", "Fernandez", "Clarke", "Silva", "Nakamura", "Haddad",
         "Okafor", "Larsen", "Ivanova", "Byrne", "Santos", "Weber", "Evans", "Rahman", "Dubois", "Lindqvist",
         "Mendes", "Horvat", "Petrov", "Quinn", "Achterberg", "Baptiste", "Castellano", "Delgado", "Eriksen",
         "Fontaine", "Gallo", "Hughes", "Iglesias", "Janssen", "Kaur", "Lambert", "Marchetti", "Nowak",
         "Oyelaran", "Pereira", "Reyes", "Sorensen", "Toivonen", "Urquhart", "Vidal", "Walsh", "Yilmaz",
         "Zeller", "Abbott", "Brennan", "Carvalho"]
_TOWNS = ["Alderbrook", "Bramwell", "Castlemoor", "Dunhaven", "Elmstead", "Fairholt", "Glenrock", "Hartsfield",
          "Ivybridge", "Kilmorey", "Larkspur", "Millbourne", "Northwick", "Oakhurst", "Pennock", "Queensferry",
          "Redcliff", "Stanmere", "Thornbury", "Upton Vale", "Westerley", "Yarrowdale", "Ashcombe", "Birchfield",
          "Coldharbour", "Deepdale", "Eastwold", "Foxley", "Greystone", "Hollins", "Kingsmere", "Lowther",
          "Marden", "Netherby", "Orford", "Pinehurst", "Rushmere", "Saltash", "Tidemouth", "Wendover"]
_REGIONS = ["the Saravan basin", "the northern Kessel valley", "the Orvieto plateau", "the Lamanda delta",
            "the eastern Tarkan highlands", "the Velmar coast", "the Brisca lowlands", "the upper Draven river",
            "the Koros steppe", "the southern Almara hills", "the Istrel lakes district", "the Pardo wetlands"]
_CO_HEAD = ["Norvane", "Castellix", "Brightmoor", "Quorra", "Halvern", "Tessaly", "Ombrix", "Pellion",
            "Maravel", "Dunmore", "Sylvatek", "Corvanta", "Ardent", "Kestrel", "Luminar", "Vantor", "Grenlow",
            "Ostrava", "Bellwick", "Rivanta", "Zephon", "Marlow", "Cindral", "Hexabay", "Tamsin", "Orelia",
            "Ferron", "Galvena", "Idris", "Jorvik", "Kalmar", "Lisandro", "Mendal", "Nyhavn", "Oberlin",
            "Prescott", "Quillon", "Rothbury", "Selkirk", "Truvia"]
_CO_TAIL = [("Industries", "industrial equipment"), ("Foods", "packaged foods"), ("Energy", "power generation"),
            ("Pharma", "generic medicines"), ("Logistics", "freight and warehousing"), ("Bancorp", "regional banking"),
            ("Mining", "copper and zinc mining"), ("Retail", "discount stores"), ("Systems", "payroll software"),
            ("Motors", "car parts"), ("Textiles", "technical fabrics"), ("Media", "regional newspapers")]
_SECTORS = {"Industries": "pumps and valves", "Foods": "frozen meals", "Energy": "wind farms", "Pharma": "antibiotics",
            "Logistics": "cold storage", "Bancorp": "farm loans", "Mining": "copper concentrate",
            "Retail": "household goods", "Systems": "accounting software", "Motors": "brake systems",
            "Textiles": "protective clothing", "Media": "local news sites"}
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_MON = [m[:3] for m in _MONTHS]
_ORD = ["first", "second", "third", "fourth"]
_ORD_SHORT = ["1st", "2nd", "3rd", "4th"]

TABLE_LINE = re.compile(
    r"^(?:(?:Shr|Oper shr|Net|Oper net|Revs|Sales|Avg shrs|Qtr|Year|Nine mths|Six mths|\d(?:st|nd|rd|th) qtr|"
    r"Qtly div|Mthly div|Pay|Record|Prior pay)\b|NOTE:|Note:)"
)
LIST_LINE = re.compile(r"^(- |• |\* |– )")


def line_shape(line: str) -> str:
    """The shape an article line has, as the hard profile's truth labels it."""
    s = line.strip()
    if TABLE_LINE.match(s) and len(s.split()) <= 14:
        return "table"
    if LIST_LINE.match(s):
        return "list"
    if s.endswith("...") or s.endswith("…") or s.endswith("...”") or s.endswith('..."') or s.endswith("…”") or s.endswith('…"'):
        return "ellipsis"
    return ""


@dataclass(frozen=True)
class StorySpec:
    family: str
    seed: int
    company: int = -1  # stories of one company share its boilerplate paragraph
    region: int = -1  # stories of one region share its background paragraph
    headline_top: int = 0  # 0 none, 1 same as headline, 2 upper case, 3 a deck line
    parent: "StorySpec | None" = None  # follow-ups: the story they follow


@dataclass
class Story:
    title: str
    paragraphs: tuple[str, ...]
    shapes: tuple[str, ...]  # story-level shapes: short, table, list, ellipsis, chromeprose, boilerplate, ...
    facts: dict = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _amt(rng: random.Random, lo: float, hi: float) -> str:
    return f"{rng.uniform(lo, hi):.1f}"


def _int_comma(n: int) -> str:
    return f"{n:,}"


def company(j: int) -> dict:
    """Company ``j``: name, ticker, home town, line of business and its fixed boilerplate paragraph."""
    rng = random.Random(f"hard-company-{j}")
    head = _CO_HEAD[j % len(_CO_HEAD)]
    tail, business = _CO_TAIL[(j // len(_CO_HEAD) + j) % len(_CO_TAIL)]
    if j >= len(_CO_HEAD) * len(_CO_TAIL):
        head = head + rng.choice(["", "ia", "on", "ex"]) + str(j // (len(_CO_HEAD) * len(_CO_TAIL)))
    name = f"{head} {tail}"
    ticker = (head[:3] + tail[0]).upper()
    town = rng.choice(_TOWNS)
    year = rng.randint(1890, 2005)
    staff = rng.randint(4, 90) * 100
    countries = rng.randint(3, 40)
    ceo = _name(rng)
    boiler = rng.choice([
        "About {name}: {name} ({ticker}) is a {town}-based supplier of {business}, founded in {year}. The group employs "
        "about {staff} people in {countries} countries and sells {product} to customers in manufacturing, "
        "construction and public services. Its shares are listed on the {town} stock exchange.",
        "{name}, founded in {year} and headquartered in {town}, is one of the largest independent providers of "
        "{business} in the region. It has {staff} employees, operates in {countries} countries and is best known "
        "for its {product}. Chief executive {ceo} has led the company since {since}.",
        "Founded in {year}, {name} ({ticker}) makes {product} and provides {business} from its base in {town}. "
        "With around {staff} staff and sales offices in {countries} countries, it describes itself as a family "
        "of specialist businesses built on engineering, service and long customer relationships.",
    ]).format(name=name, ticker=ticker, town=town, business=business, year=year, staff=_int_comma(staff),
              countries=countries, product=_SECTORS[tail], ceo=ceo, since=rng.randint(2006, 2019))
    return dict(name=name, ticker=ticker, town=town, business=business, product=_SECTORS[tail], ceo=ceo,
                boilerplate=_vary_after(boiler, rng, "About "))


def region(j: int) -> dict:
    """Region ``j``: a place with a long-running story and the background paragraph every report repeats."""
    rng = random.Random(f"hard-region-{j}")
    place = _REGIONS[j % len(_REGIONS)]
    topic = rng.choice(["drought", "dam", "border"])
    year = rng.randint(2009, 2018)
    if topic == "drought":
        bg = (f"Rainfall in {place} has been below average in {rng.randint(5, 9)} of the last ten years, and the "
              f"regional water authority has rationed supplies to farms every summer since {year}. Reservoirs "
              f"held {rng.randint(18, 45)} percent of their capacity at the end of last month, according to the "
              f"latest official figures, against a ten-year average of {rng.randint(55, 70)} percent.")
    elif topic == "dam":
        bg = (f"The dam on {place} was approved in {year} after a decade of legal challenges and is due to supply "
              f"electricity to around {rng.randint(2, 9) * 100},000 homes. Environmental groups say the reservoir "
              f"will flood {_int_comma(rng.randint(30, 120) * 100)} hectares of farmland and forest and displace "
              f"more than {_int_comma(rng.randint(20, 90) * 100)} residents of riverside villages.")
    else:
        bg = (f"The border through {place} has been disputed since a survey in {year} moved several markers, and "
              f"talks between the two governments broke down {rng.randint(2, 5)} years ago. About "
              f"{_int_comma(rng.randint(8, 60) * 1000)} people live in the contested strip, most of them farmers "
              f"who cross the line every day to reach their fields and markets.")
    return dict(place=place, topic=topic, background=_vary(bg, rng, 0.6))


# --------------------------------------------------------------------------- variation

# Each templated story rewords its own prose with these (per story, per occurrence), so that two
# stories from one template share few word 5-grams beyond their names and numbers.
_VARY = {
    "said": ["said", "stated", "announced", "reported"], "damaged": ["damaged", "hit", "affected"],
    "homes": ["homes", "houses", "properties"], "emergency services": ["emergency services", "rescue workers", "paramedics"],
    "were treated in hospital": ["were treated in hospital", "needed hospital treatment", "were taken to hospital"],
    "about": ["about", "around", "roughly"], "more than": ["more than", "over", "upwards of"],
    "percent": ["percent", "per cent"], "company": ["company", "group", "firm"], "expected": ["expected", "forecast", "projected"],
    "council": ["council", "local authority", "municipality"], "after": ["after", "following"], "because": ["because", "as"],
    "rose": ["rose", "increased", "climbed"], "fell": ["fell", "dropped", "declined"],
    "a year earlier": ["a year earlier", "a year ago", "in the same period last year"],
    "chief executive": ["chief executive", "CEO", "managing director"], "residents": ["residents", "locals", "inhabitants"],
    "officials": ["officials", "the authorities"], "users": ["users", "customers", "account holders"],
    "readers": ["readers", "visitors"], "closed": ["closed", "shut"], "found": ["found", "discovered", "identified"],
    "last year": ["last year", "in the previous year", "over the past twelve months"], "at least": ["at least", "a minimum of"],
    "the regulator": ["the regulator", "the authority", "the watchdog"], "website": ["website", "site", "web portal"],
    "articles": ["articles", "stories", "reports"], "spokesperson": ["spokesperson", "spokeswoman", "spokesman", "representative"],
    "according to": ["according to", "citing"], "told": ["told", "informed"], "judge": ["judge", "magistrate"],
    "prison": ["prison", "jail"], "lawyer": ["lawyer", "attorney", "solicitor"], "began": ["began", "started"],
    "warning": ["warning", "alert"], "match": ["match", "game", "fixture"], "study": ["study", "trial", "analysis"],
    "patients": ["patients", "volunteers", "participants"], "researchers": ["researchers", "scientists"],
    "passengers": ["passengers", "travellers", "commuters"], "replaced": ["replaced", "renewed", "relaid"],
    "operator": ["operator", "rail company", "train company"], "journeys": ["journeys", "trips", "travel times"],
    "talks": ["talks", "negotiations"], "members": ["members", "workers", "staff"], "an offer": ["an offer", "a proposal", "a deal"],
    "rise": ["rise", "increase"], "stoppage": ["stoppage", "walkout", "strike"], "consent": ["consent", "permission", "agreement"],
    "visitors": ["visitors", "readers", "users"], "devices": ["devices", "computers and phones", "browsers"],
    "would appeal": ["would appeal", "would challenge the decision", "planned to contest the ruling"], "changed": ["changed", "redesigned", "altered"],
    "messages": ["messages", "posts"], "rumours": ["rumours", "false claims", "hoaxes"], "survey": ["survey", "poll", "study"],
    "taken down": ["taken down", "removed", "deleted"], "editor": ["editor", "editor-in-chief", "chief editor"],
    "moderating": ["moderating", "policing", "checking"],
    "published": ["published", "printed", "run"], "town centre": ["town centre", "high street", "centre"],
    "shop owners": ["shop owners", "retailers", "traders"], "footfall": ["footfall", "visitor numbers", "trade"],
    "engineers": ["engineers", "inspectors", "surveyors"], "traffic": ["traffic", "vehicles", "cars"],
    "repairs": ["repairs", "the work", "repair work"], "diverted": ["diverted", "rerouted"],
    "appointed": ["appointed", "named", "chosen as"], "retired": ["retired", "stepped down", "left"],
    "handed back": ["handed back", "returned", "given back"], "curator": ["curator", "museum director", "keeper"],
    "collector": ["collector", "private buyer", "dealer"], "missing": ["missing", "lost", "absent"],
    "forecasters": ["forecasters", "meteorologists", "the weather service"], "drivers": ["drivers", "motorists"],
    "scoring": ["scoring", "netting", "getting"], "coach": ["coach", "manager"],
    "larger": ["larger", "bigger", "wider"], "needed": ["needed", "required", "necessary"],
    "the court": ["the court", "the hearing", "judges"], "remorse": ["remorse", "regret", "contrition"],
    "repaid": ["repaid", "paid back", "returned"], "so far": ["so far", "to date", "until now"],
    "revenue": ["revenue", "sales", "turnover"],
    "net income": ["net income", "net profit", "earnings"], "shares": ["shares", "stock"],
    "analyst": ["analyst", "market analyst", "broker"], "dividend": ["dividend", "payout", "distribution"],
    "shareholders": ["shareholders", "investors", "stockholders"], "payable": ["payable", "to be paid"],
    "volunteers": ["volunteers", "helpers"], "debris": ["debris", "rubble", "wreckage"], "insurers": ["insurers", "insurance assessors"],
    "payments": ["payments", "payouts", "claims"], "recover": ["recover", "get back on its feet", "rebuild"],
    "worked through the night": ["worked through the night", "worked overnight", "did not stop all night"],
}
_VARY_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _VARY), key=len, reverse=True)) + r")\b", re.IGNORECASE)


def _vary_after(text: str, rng: random.Random, prefix: str) -> str:
    """``_vary`` the text, except the "About <name>:" heading a boilerplate may open with."""
    if text.startswith(prefix) and ": " in text:
        head, rest = text.split(": ", 1)
        return head + ": " + _vary(rest, rng, 0.5)
    return _vary(text, rng, 0.5)


def _vary(text: str, rng: random.Random, rate: float = 0.7) -> str:
    def sub(m: re.Match) -> str:
        src = m.group(0)
        if rng.random() >= rate:
            return src
        alts = _VARY[src.lower()]
        dst = rng.choice(alts)
        return dst[:1].upper() + dst[1:] if src[:1].isupper() else dst

    return _VARY_RE.sub(sub, text)


# --------------------------------------------------------------------------- families


def _fin_pair(rng: random.Random, unit: str) -> str:
    if unit == "cts":
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        return f"{a} cts vs {b} cts" if rng.random() < 0.6 else f"profit {a} cts vs loss {b} cts"
    if unit == "dlrs":
        return f"{rng.uniform(0.5, 4):.2f} dlrs vs {rng.uniform(0.5, 4):.2f} dlrs"
    a, b = _amt(rng, 1, 400), _amt(rng, 1, 400)
    return rng.choice([f"{a} mln vs {b} mln", f"{a} mln vs {b} mln", f"profit {a} mln vs loss {b} mln",
                       f"loss {a} mln vs profit {b} mln"])


def _table(rng: random.Random, q: int, net: str = "", net0: str = "", rev: str = "") -> tuple[str, list[str]]:
    periods = rng.choice([[], [_ORD_SHORT[q].capitalize() + " qtr" if rng.random() < 0.3 else "Qtr", "Year"],
                          ["Qtr", "Nine mths"] if q == 2 else ["Qtr", "Six mths"], ["Year"]])
    lines: list[str] = []
    for n_per, per in enumerate(periods or [""]):
        if per:
            lines.append(per)
        lines.append("Shr " + _fin_pair(rng, rng.choice(["cts", "cts", "dlrs"])))
        if rng.random() < 0.3:
            lines.append("Oper shr " + _fin_pair(rng, "cts"))
        first = n_per == 0 and net
        lines.append("Net " + (f"{net} mln vs {net0} mln" if first else _fin_pair(rng, "mln")))
        r1, r0 = (rev, _amt(rng, 40, 900)) if first else (_amt(rng, 40, 900), _amt(rng, 40, 900))
        lines.append(rng.choice(["Revs", "Revs", "Sales"]) + f" {r1} mln vs {r0} mln")
        if rng.random() < 0.6:
            lines.append(f"Avg shrs {_amt(rng, 5, 90)} mln vs {_amt(rng, 5, 90)} mln")
    if rng.random() < 0.3:
        lines.append(rng.choice(["NOTE: Year-ago figures restated for discontinued operations.",
                                 f"NOTE: Latest quarter includes a {_amt(rng, 1, 30)} mln dlr charge for plant closures.",
                                 "Note: Per share figures adjusted for a two-for-one split."]))
    return "\n".join(lines), lines


def _earnings(spec: StorySpec, rng: random.Random) -> Story:
    co = company(spec.company)
    q = rng.randrange(4)
    net, net0 = _amt(rng, 1, 90), _amt(rng, 1, 90)
    rev = _amt(rng, 40, 900)
    up = float(net) > float(net0)
    day = rng.choice(_DAYS[:5])
    title = rng.choice([
        f"{co['name']} {_ORD[q]}-quarter profit {'rises' if up else 'falls'} to {net} million dollars",
        f"{co['name']} posts {'higher' if up else 'lower'} {_ORD[q]}-quarter earnings",
        f"{co['name']} quarterly net {'up' if up else 'down'} as {co['product']} sales {rng.choice(['slow', 'recover', 'grow'])}",
    ])
    lead = rng.choice([
        f"{co['name']}, the {co['town']} maker of {co['product']}, said on {day} that its {_ORD[q]}-quarter net "
        f"income {'rose' if up else 'fell'} to {net} million dollars from {net0} million a year earlier, on "
        f"revenue of {rev} million dollars.",
        f"{co['name']} reported {'higher' if up else 'lower'} {_ORD[q]}-quarter profit on {day}, with net income of "
        f"{net} million dollars against {net0} million in the same period last year.",
    ])
    table, _ = _table(rng, q, net, net0, rev)
    paras = [lead, table]
    if rng.random() < 0.7:
        paras.append(rng.choice([
            f"\"Demand for {co['product']} held up better than we expected in {rng.choice(_MONTHS)},\" chief "
            f"executive {co['ceo']} said in a statement, adding that the company expected full-year sales growth "
            f"of {rng.randint(2, 12)} percent.",
            f"The company said costs for raw materials rose {rng.randint(3, 25)} percent in the quarter and that it "
            f"would close its plant in {rng.choice(_TOWNS)} by {rng.choice(_MONTHS)}, affecting {rng.randint(40, 600)} jobs.",
        ]))
    shapes = ["table"]
    if rng.random() < 0.75:
        paras.append(co["boilerplate"])
        shapes.append("boilerplate")
    top = f"{co['name'].upper()} <{co['ticker']}> {_ORD_SHORT[q].upper()} QTR NET"
    return Story(title, tuple(paras), tuple(shapes),
                 dict(company=co, q=q, net=net, net0=net0, rev=rev, up=up, lead=lead, top=top))


def _dividend(spec: StorySpec, rng: random.Random) -> Story:
    co = company(spec.company)
    cts = rng.randint(3, 60)
    mon, d = rng.randrange(12), rng.randint(1, 28)
    title = rng.choice([f"{co['name']} sets quarterly dividend of {cts} cents",
                        f"{co['name']} {'raises' if rng.random() < 0.5 else 'keeps'} payout to shareholders"])
    lines = [f"{rng.choice(['Qtly div', 'Mthly div'])} {cts} cts vs {rng.randint(3, 60)} cts prior",
             f"Pay {_MON[mon]} {d}", f"Record {_MON[(mon + 11) % 12]} {rng.randint(1, 28)}"]
    lead = (f"The board of {co['name']} declared a dividend of {cts} cents a share on {rng.choice(_DAYS[:5])}, "
            f"payable on {_MONTHS[mon]} {d} to shareholders of record.")
    paras = [lead, "\n".join(lines), co["boilerplate"]]
    top = f"{co['name'].upper()} <{co['ticker']}> SETS DIVIDEND"
    return Story(title, tuple(paras), ("table", "short", "boilerplate"), dict(company=co, lead=lead, top=top))


_CONDITIONS = [
    "Spend {n} years on probation", "Pay {amt} dollars in restitution to the victims",
    "Complete {h} hours of community service", "Surrender {his} passport", "Stay away from {town}",
    "Undergo treatment for alcohol abuse", "Not contact any of the {k} witnesses",
    "Wear an electronic tag for {m} months", "Pay a fine of {amt2} dollars", "Report to a probation officer every week",
    "Not hold a company directorship for {n2} years", "Attend a {w}-week driving course",
]
_CRIMES = [("fraud", "taking {amt} dollars from a pension fund he managed"),
           ("dangerous driving", "causing a crash on the {town} bypass that injured {k} people"),
           ("bribery", "accepting {amt} dollars from a contractor bidding for a school project"),
           ("assault", "attacking a security guard outside a bar in {town}"),
           ("theft", "stealing equipment worth {amt} dollars from the council depot in {town}"),
           ("tax evasion", "hiding {amt} dollars of income in accounts abroad")]


def _court(spec: StorySpec, rng: random.Random) -> Story:
    name = _name(rng)
    last = name.split()[1]
    age = rng.randint(23, 71)
    role = rng.choice(["accountant", "councillor", "school bursar", "taxi driver", "bank manager", "builder", "nurse"])
    crime, how = rng.choice(_CRIMES)
    town = rng.choice(_TOWNS)
    fill = dict(amt=_int_comma(rng.randint(12, 900) * 500), town=town, k=rng.randint(2, 9))
    how = how.format(**fill)
    months = rng.choice([6, 9, 12, 18, 24, 30])
    suspended = rng.random() < 0.5
    title = rng.choice([f"Former {role} {'avoids jail' if suspended else 'jailed'} over {crime} in {town}",
                        f"{name} sentenced for {crime} after {rng.choice(['two-week', 'three-day', 'month-long'])} trial",
                        f"{town} {role} given {months}-month {'suspended ' if suspended else ''}sentence"])
    lead = (f"A court in {town} on {rng.choice(_DAYS[:5])} sentenced {name}, {age}, a former {role}, to {months} "
            f"months in prison{', suspended for two years,' if suspended else ''} for {how}.")
    bullet = rng.choice(["- ", "- ", "• ", "* ", "– "])
    conds = rng.sample(_CONDITIONS, rng.randint(3, 6))
    his = rng.choice(["his", "her"])
    items = [bullet + c.format(n=rng.randint(1, 5), amt=_int_comma(rng.randint(2, 80) * 250), h=rng.choice([80, 120, 150, 200, 240]),
                               his=his, town=rng.choice(_TOWNS), k=rng.randint(2, 12), m=rng.randint(3, 12),
                               amt2=_int_comma(rng.randint(5, 60) * 100), n2=rng.randint(3, 10), w=rng.randint(4, 12))
             for c in conds]
    intro = rng.choice([f"Under the terms of the sentence, {last} must:", f"Judge {_name(rng)} ordered that {last}:",
                        f"The conditions of {last}'s sentence are:"])
    if intro.endswith("that " + last + ":"):
        items = [it[:len(bullet)] + it[len(bullet):][:1].lower() + it[len(bullet) + 1:] for it in items]
    paras = [lead, intro, "\n".join(items)]
    if rng.random() < 0.7:
        paras.append(rng.choice([
            f"Prosecutor {_name(rng)} told the court that {last} had shown \"no real remorse\" and had repaid only "
            f"{_int_comma(rng.randint(1, 40) * 100)} dollars so far.",
            f"{last}'s lawyer said {'his' if his == 'his' else 'her'} client accepted the sentence and would not appeal, "
            f"describing the case as \"{rng.choice(['a terrible lapse', 'the lowest point of a long career', 'a mistake made under pressure'])}\".",
        ]))
    return Story(title, tuple(paras), ("list",), dict(name=name, last=last, crime=crime, how=how, town=town,
                                                       months=months, lead=lead, role=role, top=title.upper()))


_EVENTS = [("flood", "the river burst its banks", "the water"), ("fire", "the fire spread through the warehouses", "the flames"),
           ("storm", "the storm tore roofs off", "the wind"), ("landslide", "the hillside gave way", "the mud"),
           ("flood", "a dam upstream overflowed", "the water"), ("fire", "a grass fire jumped the ring road", "the smoke"),
           ("hailstorm", "hailstones the size of eggs fell for twenty minutes", "the ice"),
           ("gas explosion", "a gas main exploded under the market square", "the blast")]


def _quotes(spec: StorySpec, rng: random.Random) -> Story:
    kind, what, agent = rng.choice(_EVENTS)
    town = rng.choice(_TOWNS)
    n_homes = rng.randint(12, 480)
    day = rng.choice(_DAYS)
    who1, who2 = _name(rng), _name(rng)
    title = rng.choice([f"{kind.capitalize()} damages {n_homes} homes in {town}",
                        f"Residents count the cost after {kind} hits {town}",
                        f"'It came so fast': {town} {kind} leaves {n_homes} families homeless"])
    dots = rng.choice(["...", "…"])
    hurt = rng.randint(2, 40)
    lead = rng.choice([
        f"{'More than ' if rng.random() < 0.5 else ''}{n_homes} homes were damaged in {town} on {day} when {what}, "
        f"and emergency services said {hurt} people were treated in hospital.",
        f"Emergency services in {town} said {hurt} people were treated in hospital on {day} after {what}, "
        f"damaging {n_homes} homes.",
        f"The {kind} that struck {town} on {day} damaged {n_homes} homes and left {hurt} people in hospital, "
        f"officials said.",
        f"{hurt} people were hurt and {n_homes} families forced from their homes in {town} on {day} after {what}.",
    ])
    q1 = rng.choice([f"\"We had ten minutes to get the children out. Then {agent} was in the kitchen, the hall, everywhere{dots}\" said {who1}, {rng.randint(25, 80)}.",
                     f"\"I keep thinking about what we could have saved{dots}\" said {who1}, who has lived in {town} for {rng.randint(5, 60)} years.",
                     f"{who1}, a {rng.choice(['teacher', 'baker', 'farmer', 'retired nurse', 'mechanic'])}, stood outside what was left of her house. \"Everything we owned{dots}\""])
    q2 = rng.choice([f"Mayor {who2} said the town would need months to recover, and that the council had asked for emergency funds{dots}",
                     f"\"We will rebuild, we always do{dots}\" said mayor {who2}, before adding that insurers had yet to visit.",
                     f"Firefighters worked through the night. By morning, {rng.randint(3, 30)} streets were still closed and the power was off{dots}"])
    paras = [lead, q1, q2]
    shapes = ["ellipsis"]
    if spec.region >= 0:
        paras.append(region(spec.region)["background"])
        shapes.append("background")
    return Story(title, tuple(paras), tuple(shapes), dict(town=town, kind=kind, homes=n_homes, lead=lead,
                                                          mayor=who2, top=title.upper()))


def _pick(rng: random.Random, options: list[str], k: int) -> list[str]:
    return rng.sample(options, min(k, len(options)))


def _brief(spec: StorySpec, rng: random.Random) -> Story:
    town = rng.choice(_TOWNS)
    name, name2 = _name(rng), _name(rng)
    n = rng.randint(3, 900)
    day, month = rng.choice(_DAYS), rng.choice(_MONTHS)
    topic = rng.randrange(6)
    if topic == 0:
        thing = rng.choice(["old stone", "north", "river", "rail", "footpath", "harbour"])
        title = rng.choice([f"{town} {thing} bridge closed after inspection finds cracks",
                            f"Cracks shut {thing} bridge in {town}", f"{town} loses {thing} bridge for {rng.randint(2, 12)} weeks"])
        first = (f"The {thing} bridge in {town} was closed on {day} after engineers found cracks in "
                 f"{rng.randint(2, 9)} of its {rng.choice(['supporting beams', 'piers', 'cables', 'arches'])}, the council said.")
        more = [f"Buses will be diverted for at least {rng.randint(2, 12)} weeks.",
                f"A temporary walkway will open by {rng.choice(_DAYS)}, council leader {name} said.",
                f"Repairs are expected to cost about {_amt(rng, 0.3, 9)} million dollars.",
                f"The bridge, built in {rng.randint(1840, 1975)}, carries {_int_comma(rng.randint(2, 40) * 1000)} vehicles a day.",
                f"Local firms said the closure would add {rng.randint(10, 50)} minutes to deliveries."]
    elif topic == 1:
        title = rng.choice([f"{name} named head of {town} hospital trust", f"{town} hospitals get new chief",
                            f"New chief executive for {town} health trust"])
        first = (f"{name}, who ran the emergency department at {rng.choice(_TOWNS)} General for {rng.randint(3, 15)} "
                 f"years, was appointed chief executive of the {town} hospital trust on {day}.")
        more = [f"{name.split()[0]} replaces {name2}, who retired in {month}.",
                f"The trust runs {n} beds and has promised to cut its waiting list by a third.",
                f"Staff representatives welcomed the appointment but asked for {rng.randint(20, 300)} more nurses.",
                f"The post pays {_int_comma(rng.randint(150, 290) * 1000)} dollars a year."]
    elif topic == 2:
        change = rng.choice(["scrap", "double", "freeze", "cut", "extend"])
        title = rng.choice([f"{town} council votes to {change} parking charges", f"Parking charges: {town} decides to {change} them",
                            f"{town} councillors {change} town centre parking fees"])
        first = (f"Councillors in {town} voted {rng.randint(12, 30)} to {rng.randint(2, 11)} on {day} to {change} "
                 f"parking charges in the town centre from {month}.")
        more = [f"Shop owners had asked for the change after footfall fell {rng.randint(4, 30)} percent, said {name}, who chairs the traders' association.",
                f"The decision will cost the council about {_int_comma(rng.randint(40, 900) * 1000)} dollars a year.",
                f"Opposition councillor {name2} called it \"{rng.choice(['a gimmick', 'long overdue', 'a gamble'])}\".",
                f"The charges were last changed in {rng.randint(2009, 2019)}."]
    elif topic == 3:
        obj = rng.choice(["painting", "manuscript", "violin", "sculpture", "clock", "map"])
        title = rng.choice([f"{rng.choice(['Rare', 'Lost', 'Stolen'])} {obj} returned to {town} museum",
                            f"{town} museum gets its {obj} back", f"Missing {obj} back in {town} after decades"])
        first = (f"A {rng.choice(['17th', '18th', '19th'])}-century {obj} missing from the {town} museum since "
                 f"{rng.randint(1960, 2015)} was handed back on {day}, curator {name} said.")
        more = [f"A collector bought it at auction for {_int_comma(n * 100)} dollars without knowing its history.",
                f"It will go on show again in {month}.", f"Police said no charges would be brought.",
                f"Experts from {rng.choice(_TOWNS)} confirmed it was genuine."]
    elif topic == 4:
        animal = rng.choice(["lynx", "seal", "bear cub", "eagle", "otter", "wolf"])
        title = rng.choice([f"Escaped {animal} found near {town}", f"{animal.capitalize()} sighting closes {town} park",
                            f"{town} park reopens after {animal} caught"])
        first = (f"A {animal} that escaped from a wildlife park near {town} on {day} was found "
                 f"{rng.randint(1, 30)} kilometres away, park director {name} said.")
        more = [f"Walkers had been asked to keep dogs on leads.", f"The animal was unhurt and is back in its enclosure.",
                f"Inspectors will visit the park in {month}.", f"It was the {rng.choice(['second', 'third'])} escape in {rng.randint(2, 6)} years."]
    else:
        title = rng.choice([f"{town} library to open on Sundays", f"Sunday opening for {town} libraries",
                            f"{town} extends library hours"])
        first = (f"Libraries in {town} will open on Sundays from {month} after {_int_comma(rng.randint(2, 30) * 100)} "
                 f"residents signed a petition, the council said on {day}.")
        more = [f"Volunteers will staff {rng.randint(2, 9)} of the branches.", f"The change costs {_int_comma(n * 50)} dollars a year.",
                f"{name}, who started the petition, said students had nowhere quiet to work.",
                f"Opening hours on weekdays stay the same."]
    text = " ".join([first] + _pick(rng, more, rng.randint(2, 4)))
    return Story(title, (text,), ("short", "one_paragraph"), dict(town=town, lead=text, top=title.upper()))


def _media(spec: StorySpec, rng: random.Random) -> Story:
    co = company(spec.company) if spec.company >= 0 else None
    paper = f"{rng.choice(_TOWNS)} {rng.choice(['Courier', 'Gazette', 'Evening Post', 'Herald', 'Mercury', 'Advertiser'])}"
    amt = _amt(rng, 0.2, 40)
    pct = rng.randint(3, 60)
    day, month = rng.choice(_DAYS), rng.choice(_MONTHS)
    variant = rng.randrange(4)
    if variant == 0:
        firm = co["name"] if co else f"{rng.choice(_CO_HEAD)} {rng.choice(['Online', 'Shop', 'Travel', 'Games'])}"
        title = rng.choice([f"Regulator fines {firm} {amt} million euros over cookies", f"{firm} fined for cookie banner",
                            f"Cookie consent: {firm} must pay {amt} million euros"])
        lead = (f"The data protection authority fined {firm} {amt} million euros on {day} for placing advertising "
                f"cookies on visitors' devices without first asking for their consent.")
        more = [f"The regulator said the website made it easier to accept cookies than to refuse them, with a single "
                f"button to accept and {rng.randint(3, 7)} clicks through settings pages to refuse.",
                f"{firm} said it would appeal and had already changed the banner.",
                f"Visitors who reject cookies can still read every article and subscribe to the newsletters, a spokesperson said.",
                f"It is the {rng.choice(['second', 'third', 'largest'])} cookie fine the authority has imposed since {rng.randint(2018, 2020)}.",
                f"The investigation began after {rng.randint(12, 400)} complaints from users in {rng.choice(_TOWNS)}."]
    elif variant == 1:
        title = rng.choice([f"{paper} to close comments and charge for newsletters", f"{paper} shuts comment sections",
                            f"No more comments under {paper} articles"])
        lead = (f"The {paper} will close the comments section under most of its articles from {month}, editor "
                f"{_name(rng)} said on {day}, because moderating them cost {_int_comma(rng.randint(40, 400) * 1000)} dollars last year.")
        more = ["Readers will still be able to share articles on social media and by email.",
                f"Letters to the editor will be published in print every {rng.choice(_DAYS)}.",
                f"Digital subscriptions rose {pct} percent last year to {_int_comma(rng.randint(5, 90) * 1000)}, the paper said.",
                f"Its morning newsletter, free for subscribers, will cost others {rng.randint(2, 9)} dollars a month.",
                f"Comments will stay open on {rng.randint(3, 20)} opinion columns a week."]
    elif variant == 2:
        app = f"{rng.choice(_CO_HEAD)}{rng.choice(['Chat', 'Gram', 'Talk', 'Post', 'Link', 'Circle'])}"
        title = rng.choice([f"{app} limits sharing to fight false rumours", f"{app} caps forwarding of messages",
                            f"Messages on {app} can now be shared with only a few chats"])
        lead = (f"{app} will limit how many times a message can be shared to {rng.randint(3, 10)} chats at once, the "
                f"messaging service said on {day}, after false rumours about "
                f"{rng.choice(['a vaccine', 'an election', 'a flood', 'a kidnapping', 'a bank'])} spread through {rng.choice(_TOWNS)}.")
        more = ["Users who try to share a message more widely will see a warning.",
                f"Comments on public posts will be switched off by default for new accounts for {rng.randint(7, 60)} days.",
                f"The company said {pct} percent of its {rng.randint(2, 90)} million users had read at least one of the rumours.",
                f"Police in {rng.choice(_TOWNS)} had asked the company to act in {month}."]
    else:
        title = rng.choice([f"{paper} drops paywall for flood coverage", f"{paper} makes emergency news free to read"])
        lead = (f"The {paper} removed the subscription paywall from its coverage of the {rng.choice(['floods', 'fires', 'storm'])} "
                f"on {day}, saying residents needed information more than the paper needed revenue.")
        more = [f"Subscriptions had risen {pct} percent in the week before, publisher {_name(rng)} said.",
                "Readers who want to support the paper can still subscribe or sign up for its daily newsletter.",
                f"The paper's website had {_int_comma(rng.randint(20, 900) * 1000)} visits on {rng.choice(_DAYS)}, a record.",
                f"Other titles in {rng.choice(_TOWNS)} said they would do the same."]
    paras = [lead] + _pick(rng, more, rng.randint(2, 3))
    if rng.random() < 0.4:
        paras = [lead, " ".join(paras[1:])]
    shapes = ["chromeprose"]
    if co is not None and rng.random() < 0.5:
        paras.append(co["boilerplate"])
        shapes.append("boilerplate")
    return Story(title, tuple(paras), tuple(shapes), dict(lead=paras[0], top=title.upper()))


_SHORT_TOPICS = [
    ("strike", "{n} {workers} at {town}'s {place} walked out on {day} over {issue}, {union} said.",
     ["The stoppage is the {ord} this year. Management said talks would resume on {day2}.",
      "{name}, a union organiser, said members had rejected an offer of a {pct} percent rise.",
      "Services were expected to return to normal by {day2}, the operator said."]),
    ("weather", "Forecasters issued a {colour} warning for {town} and surrounding areas on {day}, with up to "
                "{mm} millimetres of rain expected in {h} hours.",
     ["Schools in {n2} districts will open late on {day2}, officials said.",
      "{name}, a meteorologist, said the front would move east by {day2} night.",
      "Drivers were asked to avoid the coast road between {town} and {town2}."]),
    ("sport", "{town} beat {town2} {g1}-{g2} on {day}, with {name} scoring {twice} in the second half.",
     ["The win lifts {town} to {ord} place with {n2} matches left.",
      "{town2} coach {name2} said his side had \"run out of ideas\" after the break.",
      "A crowd of {crowd} watched the match, the largest of the season."]),
    ("science", "Researchers at the University of {town} said on {day} they had found a {find} that could "
                "{benefit}, in a study of {n} patients.",
     ["The results were published in the journal {journal}.",
      "Lead author {name} said larger trials were needed before any treatment could be offered.",
      "The study was funded by a {pct}-million-dollar grant from the {town2} Foundation."]),
    ("transport", "The {town} to {town2} rail line will close for {n2} weekends from {month} while "
                  "{n} kilometres of track are replaced, the operator said on {day}.",
     ["Replacement buses will add about {h}0 minutes to journeys.",
      "{name}, who commutes daily, said passengers had been given too little notice.",
      "The work is part of a {pct}-million-dollar upgrade due to finish in {year}."]),
]
_FILL = dict(
    workers=["bus drivers", "nurses", "dock workers", "refuse collectors", "teachers", "airport staff"],
    place=["main hospital", "port", "bus depot", "airport", "recycling plant"],
    issue=["pay", "shift patterns", "staff shortages", "a pension change", "safety"],
    union=["the workers' union", "their union", "the transport union", "a union spokesperson"],
    colour=["yellow", "amber", "red"],
    find=["protein marker", "gene variant", "blood test", "bacterium"],
    benefit=["predict heart disease years earlier", "speed up diagnosis of sepsis", "explain why some patients recover faster"],
    journal=["Clinical Findings", "The Medical Review", "Science Reports", "Health Letters"],
    twice=["twice", "the winner", "a penalty"],
)


def _short(spec: StorySpec, rng: random.Random) -> Story:
    topic, lead_t, rest = rng.choice(_SHORT_TOPICS)
    t1, t2 = rng.sample(_TOWNS, 2)
    vals = dict(n=rng.randint(20, 3000), town=t1, town2=t2, day=rng.choice(_DAYS), day2=rng.choice(_DAYS),
                name=_name(rng), name2=_name(rng), pct=rng.randint(2, 40), ord=rng.choice(["second", "third", "fourth", "fifth"]),
                mm=rng.randint(40, 200), h=rng.randint(3, 48), n2=rng.randint(2, 14), g1=rng.randint(1, 5), g2=rng.randint(0, 4),
                crowd=_int_comma(rng.randint(2, 60) * 1000), month=rng.choice(_MONTHS), year=rng.randint(2021, 2030),
                **{k: rng.choice(v) for k, v in _FILL.items()})
    lead = lead_t.format(**vals)
    body = [s.format(**vals) for s in rng.sample(rest, rng.randint(2, 3))]
    if rng.random() < 0.5:
        paras = [lead, " ".join(body)]
    else:
        paras = [lead] + body
    titles = {"strike": f"{vals['workers'].capitalize()} strike in {t1} over {vals['issue']}",
              "weather": f"{vals['colour'].capitalize()} rain warning for {t1}",
              "sport": f"{t1} beat {t2} {vals['g1']}-{vals['g2']}" if vals["g1"] > vals["g2"] else f"{t1} and {t2} in {vals['g1']}-{vals['g2']} thriller",
              "science": f"{t1} researchers find {vals['find']} linked to disease",
              "transport": f"{t1}-{t2} rail line to close for {vals['n2']} weekends"}
    shapes = ["short"]
    if spec.region >= 0 and topic in ("strike", "weather", "transport"):  # no border dispute under a match report
        paras.append(region(spec.region)["background"])
        shapes.append("background")
    return Story(titles[topic], tuple(paras), tuple(shapes), dict(lead=lead, town=t1, topic=topic, top=titles[topic].upper()))


# --------------------------------------------------------------------------- follow-ups


def _followup(spec: StorySpec, rng: random.Random) -> Story:
    """A later, different story on the parent's topic: new lead, repeated facts and one repeated paragraph."""
    par = make_story(spec.parent)
    f = par.facts
    fam = spec.parent.family
    day = rng.choice(_DAYS)
    if fam == "earnings":
        co = f["company"]
        drop = rng.randint(2, 19)
        title = f"{co['name']} shares {'fall' if rng.random() < 0.6 else 'slip'} {drop} percent after results"
        lead = (f"Shares in {co['name']} fell {drop} percent on {day}, a day after the company reported "
                f"{_ORD[f['q']]}-quarter net income of {f['net']} million dollars, against {f['net0']} million a year "
                f"earlier.")
        mid = (f"Analyst {_name(rng)} said revenue of {f['rev']} million dollars had missed expectations and that "
               f"the outlook for {co['product']} was \"{rng.choice(['cloudy', 'weaker than hoped', 'hard to read'])}\".")
        reuse = co["boilerplate"] if "boilerplate" in par.shapes else par.paragraphs[0]
    elif fam == "court":
        title = rng.choice([f"{f['name']} to appeal {f['crime']} sentence", f"Appeal lodged in {f['town']} {f['crime']} case"])
        lead = (f"{f['name']}, the former {f['role']} sentenced last month to {f['months']} months for {f['how']}, "
                f"has lodged an appeal, lawyers said on {day}.")
        mid = (f"The appeal argues that the judge gave too little weight to {f['last']}'s {rng.choice(['health', 'clean record', 'guilty plea'])}. "
               f"A hearing is set for {rng.choice(_MONTHS)} {rng.randint(1, 28)}.")
        reuse = par.paragraphs[-1] if len(par.paragraphs) > 3 else par.paragraphs[2]
    elif fam == "quotes":
        title = rng.choice([f"Clean-up begins in {f['town']} after {f['kind']}", f"{f['town']} asks for aid after {f['kind']} damage"])
        lead = (f"Volunteers began clearing debris in {f['town']} on {day}, {rng.randint(2, 6)} days after the {f['kind']} "
                f"that damaged {f['homes']} homes.")
        mid = (f"Mayor {f['mayor']} said insurers had now visited {rng.randint(10, 90)} percent of the damaged houses "
               f"and that the first payments were expected within weeks.")
        reuse = par.paragraphs[-1]
    else:
        title = f"Update: {par.title}"
        lead = (f"{rng.choice(['Officials', 'Organisers', 'The authorities'])} in {f['town']} gave more details on {day} "
                f"about the events first reported earlier this week.")
        mid = f"{_name(rng)} said further information would be published by {rng.choice(_DAYS)}."
        reuse = par.paragraphs[0]
    paras = [lead, mid, reuse]
    return Story(title, tuple(paras), ("followup",), dict(lead=lead, top=title.upper(), town=f.get("town", "")))


_MAKERS = {"earnings": _earnings, "dividend": _dividend, "court": _court, "quotes": _quotes, "brief": _brief,
           "media": _media, "short": _short}


def _is_table(par: str) -> bool:
    return all(TABLE_LINE.match(x) for x in par.split("\n"))


def make_story(spec: StorySpec) -> Story:
    rng = random.Random(f"hard-story-{spec.family}-{spec.seed}")
    story = _followup(spec, rng) if spec.parent is not None else _MAKERS[spec.family](spec, rng)
    # Shared paragraphs (boilerplate, background, a follow-up's repeated one) and tables stay as they are.
    keep = set()
    if spec.company >= 0:
        keep.add(company(spec.company)["boilerplate"])
    if spec.region >= 0:
        keep.add(region(spec.region)["background"])
    if spec.parent is not None:
        keep.add(story.paragraphs[-1])
    vrng = random.Random(f"hard-vary-{spec.seed}")
    paras = tuple(p if p in keep or _is_table(p) else _vary(p, vrng) for p in story.paragraphs)
    story = Story(_vary(story.title, vrng, 0.4), paras, story.shapes, story.facts)
    if spec.headline_top:
        top = {1: story.title, 2: story.facts.get("top", story.title.upper()), 3: _deck(story, rng)}[spec.headline_top]
        story = Story(story.title, (top,) + story.paragraphs, story.shapes + ("headline_top",), story.facts)
    return story


def _deck(story: Story, rng: random.Random) -> str:
    first = re.split(r"(?<=[.!?])\s", story.paragraphs[0])[0]
    words = first.rstrip(".").split()
    return " ".join(words[: min(len(words), rng.randint(7, 11))]).rstrip(",;:")
