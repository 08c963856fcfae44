"""Clean stages on small tables: repair, chrome, whitespace and the drop filters."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from builders.config import BuildConfig
from builders.stages.base import Ledger
from builders.pipeline import build_plan
from builders.stages.clean import EmptyText, FixUnicode, NormalizeWhitespace, StripChrome, TooShort
from conftest import article


def run(stages, texts, titles=None):
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts,
                      "title": titles or [None] * len(texts)})
    ledger = Ledger()
    for stage in stages:
        table = stage(table, ledger)
    return table, ledger


def test_seed_page_cleans_to_the_expected_article(shared):
    page = (shared / "samples" / "seed-page.txt").read_text(encoding="utf-8")
    expected = json.loads((shared / "samples" / "seed-article.expected.json").read_text(encoding="utf-8"))
    fixed = [s for s in build_plan(plan_config()) if type(s).__name__ not in ("RepeatedLines", "Dedup")]
    table, ledger = run(fixed, [page], [expected["title"]])
    assert table.column("text").to_pylist() == [expected["text"]]
    assert table.column("agency").to_pylist() == [expected["agency"]]


def test_seed_page_built_as_a_text_file_gives_title_text_and_agency(shared, tmp_path):
    """The page the project was specified from, as a user would feed it: a text file."""
    import pandas as pd

    from builders.config import load_config
    from builders.pipeline import run_build
    from conftest import write_config

    expected = json.loads((shared / "samples" / "seed-article.expected.json").read_text(encoding="utf-8"))
    path = write_config(tmp_path, input={"paths": [str(shared / "samples" / "seed-page.txt")], "format": "text"},
                        dedup=False)
    result = run_build(load_config(path))
    row = pd.read_parquet(result.output / "data").iloc[0]
    assert (row["title"], row["text"], row["agency"]) == (expected["title"], expected["text"], expected["agency"])
    assert row["id"] == "seed-page.txt" and row["lang"] == "en"


def test_agency_from_the_dateline_or_the_credit_line():
    paras = _body(3)
    texts = ["MADRID, 3 Jan. (EUROPA PRESS) - " + "\n\n".join(paras),
             "\n\n".join(paras) + "\n\nCopyright 2021 The Associated Press. All rights reserved.",
             "\n\n".join(paras) + "\n\n— Reuters",
             "SEOUL, Aug. 20 (Yonhap) -- " + "\n\n".join(paras) + "\n\n© 2020 Europa Press.",
             "Monetary Policy Committee (MPC) - Paul Tucker voted.\n\n" + "\n\n".join(paras),
             "\n\n".join(paras) + "\n\n(c) 2020 Tap Media"]
    table, _ = run([StripChrome()], texts)
    assert table.column("agency").to_pylist() == ["Europa Press", "AP", "Reuters", "Yonhap", None, None]
    # An agency the input gives is kept.
    given = pa.table({"id": ["a"], "text": [texts[0]], "title": [None], "agency": ["Own Wire"]})
    assert StripChrome()(given, Ledger()).column("agency").to_pylist() == ["Own Wire"]


def test_fix_unicode_repairs_mojibake_but_keeps_curly_quotes():
    table, _ = run([FixUnicode()], ["The cafÃ© said â€œyesâ€\x9d.", "“Good” text it’s fine &amp; here", "plain"])
    assert table.column("text").to_pylist() == ["The café said “yes”.", "“Good” text it’s fine & here", "plain"]


def test_whitespace():
    table, _ = run([NormalizeWhitespace()], ["  a\u00a0\u00a0b \t c  \r\n\r\n\r\n\n d\u200b e  \n"])
    assert table.column("text").to_pylist() == ["a b c\n\nd e"]


def test_strip_chrome_removes_chrome_keeps_article():
    body = article(1)
    page = "\n\n".join([
        "Home » World » Europe", "Minister resigns over harbour deal", "Posted on September 13, 2020 by admin", body,
        "© 2020 Europa Press.", "Share this:", "Facebook Twitter WhatsApp", "Tags: Russia, Belarus",
        "Leave a Reply", "Other story title", "Something else happened somewhere else in the world and then...",
    ])
    table, _ = run([StripChrome(), NormalizeWhitespace()], [page], ["Minister resigns over harbour deal | Daily Site"])
    assert table.column("text").to_pylist() == [body]


def test_strip_chrome_leaves_an_article_that_mentions_chrome_words_early():
    text = "Comments\n\nThe minister said the related reforms were popular and would continue into next year..." \
           "\n\n" + article(2)
    table, _ = run([StripChrome(), NormalizeWhitespace()], [text])
    # The marker line itself is chrome, but standing in the top part of the page it cuts nothing,
    # and an ellipsis up there is not a teaser.
    assert table.column("text")[0].as_py() == text[len("Comments\n\n"):]


def test_an_ellipsis_inside_a_paragraph_is_not_a_teaser():
    quoted = ("He said: \"I have never had any such conversation... and I do not hold that view.\" "
              "The party later added there was no truth in the report at all, officials said.")
    text = "\n\n".join([article(4), "Short title line", quoted, article(5)])
    table, _ = run([StripChrome()], [text])
    assert table.column("text").to_pylist() == [text]


def test_filters_count_reasons_and_keep_rejected_text():
    table, ledger = run([EmptyText(), TooShort(5)], ["", "one two three", article(3), None])
    assert table.column("id").to_pylist() == ["2"]
    assert dict(ledger.stage("clean").dropped) == {"empty": 2, "too_short(<5 words)": 1}
    rejected = ledger.take_rejected().to_pylist()
    assert {r["id"]: r["reason"] for r in rejected} == {"0": "empty", "3": "empty", "1": "too_short(<5 words)"}
    assert all(r["stage"] == "clean" for r in rejected)
    assert [r["text"] for r in rejected if r["id"] == "1"] == ["one two three"]


def plan_config(**clean):
    return BuildConfig.model_validate({"name": "t", "input": {"paths": ["x"]}, "publish": {"output": "o"}, "clean": clean})


def test_error_pages_are_dropped_but_articles_about_them_are_not():
    from builders.stages.clean import ErrorPage

    error = "Oops! That page can’t be found.\n\nIt looks like nothing was found at this location. Maybe try a search?"
    story = article(6, paragraphs=5) + " The outage left users staring at a 404 error page not found for hours."
    table, ledger = run([ErrorPage()], [error, story])
    assert table.column("id").to_pylist() == ["1"]
    assert dict(ledger.stage("clean").dropped) == {"error_page": 1}


def test_listing_pages_are_dropped():
    from builders.stages.clean import ListingPage

    teaser = "The council approved a new harbour plan on Monday after months of debate among members and..."
    listing = "\n\n".join(["First story title", teaser, "Second story title", teaser.replace("council", "mayor"), "Page 1 of 9"])
    table, ledger = run([ListingPage()], [listing, article(7) + "\n\n" + teaser])
    assert table.column("id").to_pylist() == ["1"] and dict(ledger.stage("clean").dropped) == {"listing_page": 1}


def test_switches():
    names = [type(s).__name__ for s in build_plan(plan_config())]
    assert names == ["FixUnicode", "StripChrome", "NormalizeWhitespace", "RepeatedLines", "NormalizeWhitespace",
                     "Titles", "EmptyText", "ErrorPage", "ListingPage", "IdentifyLanguage", "Dedup", "TooShort"]
    off = plan_config(fix_unicode=False, strip_chrome=False, repeated_lines=False, min_words=0, language_id=False,
                      titles=False)
    assert [type(s).__name__ for s in build_plan(off)] == ["NormalizeWhitespace", "EmptyText", "ErrorPage", "ListingPage", "Dedup"]
    assert "QualityFilter" not in names  # off unless asked for
    assert "QualityFilter" in [type(s).__name__ for s in build_plan(plan_config(quality=True))]
    only = plan_config(languages=["en", "es"])
    assert [type(s).__name__ for s in build_plan(only)][-4:] == ["IdentifyLanguage", "KeepLanguages", "Dedup", "TooShort"]


def test_languages_are_identified_and_kept_by_choice(shared):
    """Real pages in several languages: each identified, and `clean.languages` keeps the chosen ones."""
    from builders.stages.clean import IdentifyLanguage, KeepLanguages
    from conftest import read_input

    folder = shared / "corpora" / "html-news"
    expected = {"spanish_article": "es", "latvian_article": "lv", "arabic_article": "ar", "japanese_article": "ja",
                "chinese_article": "zh", "thai_article": "th", "cnn_article": "en", "yna_co_kr": "en"}
    tables = [read_input(folder / f"{name}.html.gz", file_index=i)[0] for i, name in enumerate(expected)]
    table = pa.concat_tables(tables).drop(["lang"]).append_column("lang", pa.nulls(len(expected), pa.string()))
    table = IdentifyLanguage()(table, Ledger())
    found = dict(zip(expected, table.column("lang").to_pylist()))
    assert found == expected
    assert all(0.5 < s <= 1 for s in table.column("lang_score").to_pylist())
    ledger = Ledger()
    kept = KeepLanguages(["en", "ES"])(table, ledger)
    assert sorted(kept.column("lang").to_pylist()) == ["en", "en", "es"]
    assert dict(ledger.stage("clean").dropped) == {"other_language": len(expected) - 3}
    # A language the input gives is kept, with no score of ours.
    given = IdentifyLanguage()(table.set_column(table.schema.get_field_index("lang"), "lang",
                                                pa.array(["xx"] * len(expected))), Ledger())
    assert set(given.column("lang").to_pylist()) == {"xx"} and given.column("lang_score").null_count == len(expected)


def test_a_per_document_filter_needs_only_its_check_method():
    from builders.stages.base import DocFilter

    class NoDigits(DocFilter):
        def check(self, text):
            return "has_digits" if any(c.isdigit() for c in text) else None

    table, ledger = run([NoDigits()], ["no digits here", "route 66", None])
    assert table.column("id").to_pylist() == ["0", "2"]
    assert dict(ledger.stage("clean").dropped) == {"has_digits": 1}
    assert ledger.take_rejected().column("text").to_pylist() == ["route 66"]


def test_every_removed_line_is_counted_by_rule_and_can_be_recorded(tmp_path):
    import json

    import pandas as pd

    from builders.config import load_config
    from builders.pipeline import run_build
    from conftest import wire_dump, write_config

    records = wire_dump(tmp_path, stories=4, copies=2, files=1)
    result = run_build(load_config(write_config(tmp_path, clean={"record_lines": True}, dedup=False)))
    clean = json.loads((result.output / "stats.json").read_text())["stages"]["clean"]
    removed = clean["lines_removed"]
    # The wire dump's chrome, each by its rule: breadcrumbs, stamps, copyright, the comment form,
    # the teaser and its end marker, the headline repeated above the article.
    assert removed == dict.fromkeys(["bloggers_like", "breadcrumb", "comment_form", "copyright", "headline",
                                     "posted_stamp", "teaser"], 12)
    assert clean["chars_removed"]["copyright"] == 12 * len("© 2020 Site 1 Media. All rights reserved.")
    lines = pd.read_parquet(result.output / "rejected-lines")
    assert list(lines.columns) == ["id", "stage", "line", "rule", "text"]
    assert len(lines) == sum(removed.values()) - removed.get("dateline", 0)
    assert lines.groupby("rule").size().to_dict() == {k: v for k, v in removed.items() if k != "dateline"}
    # Each recorded line is the line at that number of its document's text as cleaning saw it.
    by_id = {r["id"]: r["text"] for r in records}
    first = lines[lines["rule"] == "breadcrumb"].iloc[0]
    assert by_id[first["id"]].split("\n")[first["line"] - 1] == first["text"] and first["line"] == 1
    # Published texts keep none of those lines; the article's own lines all stay.
    published = pd.read_parquet(result.output / "data")
    assert not any("All rights reserved" in t for t in published["text"])
    assert len(pd.read_parquet(result.output / "data")) == len(records) - 1


def _body(seed: int, n: int = 3) -> list[str]:
    return article(seed, paragraphs=n).split("\n\n")


def test_article_shapes_that_look_like_chrome_keep_every_line():
    """Lines of real articles that the old rules cut: dashed lists, sentences opening with "Next" or
    "Older", quotes and reader comments ending in "...", an acronym in brackets before a dash."""
    paras = _body(1)
    listed = ["The sentence handed down means he must:", "- Spend three years on probation",
              "- Do 100 hours community service", "- Have random drug tests", "- Pay costs"]
    nav_words = ["Next has said its annual profit will be £5m lower than previously expected after a poor sale.",
                 "Older people are increasingly taking charge of protecting home computers, a study found."]
    comment = ("Listened to it on the radio this morning while driving into work and I still think it is "
               "the best song ever made, whatever anyone says about it...")
    quote = "The minister said the plan would take years, adding: \"We will get there, but slowly...\""
    mpc = "Monetary Policy Committee (MPC) - Paul Tucker - voted to raise rates to 5% in the end."
    texts = ["\n\n".join([paras[0], *listed, paras[1], *nav_words, paras[2]]),
             "\n\n".join([paras[0], paras[1], comment, "Another reader wrote in to disagree.", comment + " again..."]),
             "\n\n".join([mpc, paras[0], quote, paras[1]])]
    table, ledger = run([StripChrome()], texts)
    assert table.column("text").to_pylist() == texts
    assert not ledger.stage("clean").lines_removed


def test_chrome_of_those_shapes_still_goes():
    paras = _body(2)
    teasers = ["Victory of the American golfer in the last day",
               "The American took advantage of the last day of the Honda Classic of golf, included in the "
               "circuit of the PGA, to...",
               "“Strenuous,” says Jeb Bush about Trump’s first term in office",
               "Florida's former governor today called the first half in a sense incomplete and urged the president..."]
    page = "\n\n".join(["MADRID, 3 Jan. (EUROPA PRESS) - " + paras[0], paras[1], paras[2], "— Reuters",
                        "« Previous Post", "Next article: Storm closes the harbour", "Older posts", *teasers,
                        "%d bloggers like this:"])
    table, ledger = run([StripChrome(), NormalizeWhitespace()], [page])
    assert table.column("text").to_pylist() == ["\n\n".join(paras)]
    removed = ledger.stage("clean").lines_removed
    assert removed["teaser"] == 2 and removed["teaser_title"] == 2 and removed["dateline"] == 1
    assert removed["dash_line"] == 1 and removed["previous_next"] == 3


def test_clean_articles_lose_no_line(shared, tmp_path):
    """The 2,225 BBC articles are already clean: cleaning must leave every line of them in place."""
    import gzip
    import html

    import pandas as pd

    from builders.config import load_config
    from builders.pipeline import run_build
    from conftest import write_config

    source = shared / "corpora" / "bbc-news.jsonl.gz"
    path = write_config(tmp_path, input={"paths": [str(source)], "format": "jsonl",
                                         "fields": {"id": "id", "text": "text", "title": "title"}},
                        dedup=False, clean={"record_lines": True})
    result = run_build(load_config(path))
    published = pd.read_parquet(result.output / "data").set_index("id")["text"].to_dict()
    lost = long_lost = total = 0
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for record in map(json.loads, fh):
            # Entities are repaired on purpose ("&amp;" becomes "&"): compare the repaired source.
            want = [" ".join(html.unescape(line).split()) for line in record["text"].splitlines() if line.strip()]
            got = {" ".join(line.split()) for line in published.get(str(record["id"]), "").splitlines()}
            missing = [line for line in want if line not in got]
            total += len(want)
            lost += len(missing)
            long_lost += sum(len(line.split()) >= 12 for line in missing)
    assert total > 10_000 and lost <= total // 1000 and long_lost == 0, (lost, long_lost)
    assert not (result.output / "rejected-lines").exists()  # no line removed at all


def test_pii_is_masked_and_counted_but_news_numbers_stay():
    from builders.stages.clean import MaskPII

    texts = ["Write to jane.doe@example.co.uk or call +44 20 7946 0958 or (555) 123-4567; the server was 192.168.1.20.",
             "In 2020 prices rose 3.5% to £1,250,000; the score was 3-1 on 12-03-2021 and 1.2.3 is a version, "
             "flight BA 2490 left at 10.30, turnout 62.5 per cent, 999.1.1.1 is no address."]
    table, ledger = run([MaskPII()], texts)
    assert table.column("text").to_pylist() == [
        "Write to <EMAIL> or call <PHONE> or <PHONE>; the server was <IP>.", texts[1]]
    assert dict(ledger.stage("clean").masked) == {"email": 1, "phone": 2, "ip": 1}


def test_a_new_cleaning_step_is_one_class_and_one_registration():
    """No pipeline edit: a registered step joins the plan at its order, switched by the config."""
    import pyarrow.compute as pc

    from builders.stages.base import Filter
    from builders.stages.registry import CLEAN_STEPS, clean_step

    @clean_step("no_shouting", 75, when=lambda c: c.min_words > 0)
    class NoShouting(Filter):
        def reasons(self, table):
            return pc.if_else(pc.utf8_is_upper(table.column("text")), "shouting", None)

    try:
        names = [type(s).__name__ for s in build_plan(plan_config())]
        assert names.index("NoShouting") == names.index("ListingPage") + 1
        assert "NoShouting" not in [type(s).__name__ for s in build_plan(plan_config(min_words=0))]
        table, ledger = run([s for s in build_plan(plan_config()) if type(s).__name__ == "NoShouting"],
                            ["LOUD NEWS TODAY", "Quiet news today"])
        assert table.column("text").to_pylist() == ["Quiet news today"]
        assert dict(ledger.stage("clean").dropped) == {"shouting": 1}
    finally:
        del CLEAN_STEPS["no_shouting"]


def test_quality_checks_drop_junk_and_keep_articles():
    from builders.config import QualityConfig
    from builders.stages.clean import QualityFilter

    good = article(11, paragraphs=4) + "\n\nThe council said that the plan of the city and the region would have to wait."
    spam = "buy cheap buy cheap " * 40
    texts = {
        "good": good,
        "long_words": " ".join(["Incomprehensibilities"] * 30),
        "symbols": " ".join(f"#tag{i} ..." for i in range(30)),
        "ellipses": "\n".join(f"Teaser number {i} about the story of the day and..." for i in range(6)) + "\n" + good,
        "bullets": "\n".join(f"- item {i} of the list with the words" for i in range(12)),
        "repeats": "\n".join(["The same line of the page, again and again."] * 8 + [good]),
        "spam": "the of and " + spam,
        "no_stop_words": article(12),  # words drawn at random from a list without them
        "spanish": "El gobierno de la ciudad ha anunciado que los trabajos del puerto empiezan en marzo y duran un año.",
    }
    table = pa.table({"id": list(texts), "text": list(texts.values()),
                      "lang": ["en"] * 8 + ["es"]})
    reasons = dict(zip(texts, QualityFilter(QualityConfig()).reasons(table).to_pylist()))
    assert reasons == {"good": None, "long_words": "quality_mean_word_length", "symbols": "quality_symbol_ratio",
                       "ellipses": "quality_ellipsis_lines", "bullets": "quality_bullet_lines",
                       "repeats": "quality_duplicate_lines", "spam": "quality_top_bigram",
                       "no_stop_words": "quality_stop_words", "spanish": None}
    # Languages written without spaces are not judged by word length or word pairs.
    chinese = pa.table({"id": ["zh"], "text": ["中华人民共和国国务院今天发布了关于进一步加强城市规划建设管理工作的若干意见。" * 3],
                        "lang": ["zh"]})
    assert QualityFilter(QualityConfig()).reasons(chinese).to_pylist() == [None]
    # Every check can be switched off on its own.
    off = QualityConfig(max_top_bigram=None, mean_word_length=None)
    reasons = dict(zip(texts, QualityFilter(off).reasons(table).to_pylist()))
    assert reasons["long_words"] == "quality_stop_words" and reasons["spam"] != "quality_top_bigram"


def test_quality_checks_keep_every_clean_article(shared):
    """On the 2,225 BBC articles (real, clean prose) the default checks drop none."""
    import gzip

    from builders.config import QualityConfig
    from builders.stages.clean import QualityFilter

    with gzip.open(shared / "corpora" / "bbc-news.jsonl.gz", "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts, "lang": ["en"] * len(texts)})
    dropped = [r for r in QualityFilter(QualityConfig()).reasons(table).to_pylist() if r]
    assert len(texts) == 2225 and dropped == []


def test_titles_from_the_opening_headline_and_without_the_site_name():
    from builders.stages.clean import Titles

    paras = _body(21)
    table = pa.table({
        "id": ["a", "b", "c", "d", "e"],
        "text": ["Storm closes the harbour for a week\n\n" + "\n\n".join(paras),
                 "\n\n".join(paras),  # opens with a paragraph: no headline to take
                 "Police are investigating.\n\n" + "\n\n".join(paras),  # a sentence, not a headline
                 "\n\n".join(paras), "\n\n".join(paras)],
        "title": [None, None, None, "Rail strike ends | City Report", "Brexit - what happens next"],
        "source": ["city-report.example"] * 5,
    })
    ledger = Ledger()
    out = Titles()(table, ledger).to_pylist()
    assert [r["title"] for r in out] == ["Storm closes the harbour for a week", None, None, "Rail strike ends",
                                         "Brexit - what happens next"]
    assert out[0]["text"] == "\n\n".join(paras) and out[2]["text"] == table.column("text")[2].as_py()
    assert dict(ledger.stage("clean").lines_removed) == {"title_line": 1}


# --- fast paths must agree with what they replace ---------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(list("ab \t\n\r\f\v\u00a0é€\u2028")), max_size=30)),
                max_size=20), st.integers(0, 5))
def test_count_words_agrees_with_re2_word_count(values, offset):
    from builders.stages.clean import count_words

    array = pa.array(values, pa.string())[min(offset, len(values)):]  # sliced arrays too
    expected = pc.fill_null(pc.count_substring_regex(array, r"\S+"), 0).to_numpy(zero_copy_only=False)
    assert count_words(array).tolist() == expected.tolist()


def test_nfc_class_covers_every_character_nfc_can_change():
    """The NFC pre-check must catch every text NFC would change: rebuilt from unicodedata here."""
    import re

    from builders.text.unicode import NFC_UNSTABLE, unstable_code_points

    covered = set()
    for a, b in re.findall(r"\\x\{([0-9a-f]+)\}(?:-\\x\{([0-9a-f]+)\})?", NFC_UNSTABLE):
        covered.update(range(int(a, 16), int(b or a, 16) + 1))
    assert unstable_code_points() <= covered


def test_nfc_changes_only_texts_that_need_it():
    from builders.text.unicode import nfc

    texts = pa.array(["Cafe\u0301 con leche", "plain “quoted” text", None, "\u212b ngstr\u00f6m", "\u1100\u1161"])
    assert nfc(texts).to_pylist() == pc.utf8_normalize(texts, "NFC").to_pylist()
    assert nfc(texts).to_pylist()[0] == "Café con leche"


# --- per-page chrome and short stories (the hard generator's shapes) --------------------------

SHORT_STORY = ["Redcliff beat Saltash 2-4 on Friday, with Emil Pereira getting a penalty in the second half.",
               "A crowd of 57,000 watched the fixture, the largest of the season.",
               "The win lifts Redcliff to third place with 5 matches left."]


def test_per_page_chrome_goes_around_a_long_article():
    paras = _body(2, 2)
    page = "\n".join([
        "By Thomas Wilson - January 2, 2020",
        "Written by Peter Taylor on January 2, 2020. Reading time: 2 min",
        paras[0], paras[1],
        "117 Shares | 14 Comments | 1,170 Views", "Comments (4)", "Shares: 25", "7 SHARES",
        "(dpa)",
        "Tags", "Dunhaven", "Okafor", "Politics",
        "Previous article", "Owen determined to stay in Madrid", "Next Post →", "Glenrock rail line to close",
        "Top Stories", "1. Flood damages 235 houses in Kilmorey", "2. Chelsea hold Arsenal",
    ])
    table, ledger = run([StripChrome(), NormalizeWhitespace()], [page])
    assert table.column("text").to_pylist() == ["\n".join(paras)]
    assert table.column("agency").to_pylist() == ["dpa"]
    removed = ledger.stage("clean").lines_removed
    assert removed["tag_run"] == 3 and removed["previous_next_title"] == 2 and removed["counter"] == 4
    assert removed["byline"] == 2 and removed["agency_credit"] == 1 and removed["after_end_marker"] >= 2


def test_a_short_story_loses_its_teasers_and_tail_but_keeps_every_sentence():
    """No paragraph of 20 words: one sentence says the article has begun."""
    teasers = ["Thornbury Gazette drops paywall for flood coverage",
               "The Thornbury Gazette removed the subscription paywall from its coverage of the floods on Wednesday [...]",
               "Greystone beat Foxley 5-0",
               "Greystone beat Foxley 5-0 on Friday, with Ana Janssen getting a penalty in the second half... Read more"]
    page = "\n".join(["Home > Sport > Redcliff beat Saltash", *SHORT_STORY, "Related", *teasers,
                      "3 Comments", "Same old story every year.", "Does anyone have a link to the original statement?"])
    table, ledger = run([StripChrome(), NormalizeWhitespace()], [page])
    assert table.column("text").to_pylist() == ["\n".join(SHORT_STORY)]
    # Without the "Related" marker the teasers go by their shape.
    page = "\n".join([*SHORT_STORY, *teasers])
    table, ledger = run([StripChrome()], [page])
    assert table.column("text").to_pylist() == ["\n".join(SHORT_STORY)]
    assert ledger.stage("clean").lines_removed["teaser"] == 2


def test_article_lines_that_resemble_the_new_rules_stay():
    """Quotes ending in an ellipsis after a quote line, a paragraph opening with "Tags", a one-word
    line in a results table, a sentence about views and shares, a marker word mid-article with
    paragraphs after it."""
    paras = _body(3)
    quote_story = [paras[0], 'Ana Wilson, a farmer, stood outside what was left of her house. "Everything we owned…"',
                   "Firefighters worked through the night. By morning, 25 streets were still shut and the power was off…"]
    table_story = [paras[0], "Qtr", "Shr 91 cts vs 44 cts", "Year", "Shr 1.34 dlrs vs 1.17 dlrs", paras[1]]
    prose = [paras[0], "Tags on the animals showed they travelled 4,000 km, the researchers said in their paper.",
             "The video drew 1,200 views and 340 shares in its first hour, the company said.",
             "Related", paras[1], paras[2]]
    texts = ["\n".join(quote_story), "\n".join(table_story), "\n".join(prose)]
    table, ledger = run([StripChrome()], texts)
    # The bare "Related" label goes by its own rule; the paragraphs after it stay.
    assert table.column("text").to_pylist() == texts[:2] + ["\n".join(p for p in prose if p != "Related")]
    assert dict(ledger.stage("clean").lines_removed) == {"section_label": 1}


def test_a_short_story_under_teasers_is_no_listing_page():
    from builders.stages.clean import ListingPage

    teasers = ["Pennock library to open on Sundays",
               "Libraries in Pennock will open on Sundays from December after 1,200 inhabitants signed a petition...",
               "Daniel Mendes sentenced for assault",
               "A court in Millbourne on Wednesday sentenced Daniel Mendes, 43, a former nurse, to two years..."]
    texts = ["\n".join(["1417 teachers walked out on Monday over a pension change, their union reported.", *teasers]),
             "\n".join(["Latest news", *teasers])]
    reasons = ListingPage().reasons(pa.table({"text": texts})).to_pylist()
    assert reasons == [None, "listing_page"]


# Written for this test: a short Spanish wire story.
SPANISH_STORY = [
    "El Ayuntamiento de Valdemora aprobó este martes un plan para renovar la red de autobuses urbanos, que "
    "incluye tres líneas nuevas y la compra de 24 vehículos eléctricos antes de que acabe el año próximo.",
    "Según explicó la alcaldesa, Marta Ibáñez, el proyecto costará 18 millones de euros y se financiará en parte "
    "con fondos europeos destinados a la movilidad sostenible en ciudades medianas.",
    "La oposición votó en contra al considerar que el calendario es demasiado optimista y pidió que se publiquen "
    "los informes técnicos antes de adjudicar los contratos.",
]


def test_spanish_chrome_goes_and_a_spanish_article_stays():
    page = "\n".join([
        "Inicio » Local » Valdemora renovará sus autobuses", "Por Lucía Fernández Gómez",
        "Publicado el 14 de septiembre de 2020", "14 de septiembre de 2020 a las 10:32 h", "hace 3 horas",
        "Utilizamos cookies propias y de terceros para mejorar nuestros servicios. Si continúa navegando, acepta su uso.",
        "Aceptar", *SPANISH_STORY, "Fuente: Europa Press", "Compartir", "Etiquetas: Valdemora, autobuses, movilidad",
        "Noticias relacionadas", "Otra noticia cualquiera", "Deja un comentario", "Tu dirección de correo electrónico "
        "no será publicada.", "Nombre *", "Correo electrónico *", "Publicar comentario",
    ])
    table, ledger = run([StripChrome(), NormalizeWhitespace()], [page, "\n\n".join(SPANISH_STORY)])
    assert table.column("text").to_pylist() == ["\n".join(SPANISH_STORY), "\n\n".join(SPANISH_STORY)]
    assert table.column("agency").to_pylist() == ["Europa Press", None]
    removed = ledger.stage("clean").lines_removed
    for rule in ("breadcrumb", "byline", "posted_stamp", "date_stamp", "time_ago", "cookie_notice", "cookie_buttons",
                 "source_credit", "share_buttons", "tag_list"):
        assert removed[rule] >= 1, rule
