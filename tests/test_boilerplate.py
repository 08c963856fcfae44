"""Repeated-line chrome: what a site repeats across stories goes, what a story repeats across sites stays."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from builders.stages.base import Ledger
from builders.stages.boilerplate import RepeatedLines
from conftest import article


NAMES = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet"]


def page(site: int, story: int, day: int) -> dict:
    chrome_top = [f"The {NAMES[site]} Gazette", f"Updated {day} Sep 2020, {10 + day}:0{site} GMT"]
    chrome_end = ["Read also", "Sign up for our daily briefing", "Skip to content"]
    return {
        "id": f"{site}-{story}",
        "source": f"site{site}.example",
        "title": f"Story {story} headline",
        "text": "\n\n".join(chrome_top + [article(500 + story)] + chrome_end),
    }


def run(pages, tmp_path, min_sites=2, ledger=None):
    table = pa.Table.from_pylist(pages)
    step = RepeatedLines(min_sites=min_sites)
    pq.write_table(step.map(table), tmp_path / "summary.parquet")
    step.reduce([(0, tmp_path / "summary.parquet")], tmp_path / "model", [0], tmp_path)
    step.load(tmp_path / "model", 0)
    # Blank lines left where chrome was are folded later by NormalizeWhitespace.
    return {r["id"]: [line for line in r["text"].split("\n") if line] for r in step(table, ledger or Ledger()).to_pylist()}


def lines_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


def test_site_chrome_goes_and_articles_stay(tmp_path):
    # Sites 0-2 each carry three stories; story 0 appears on all three sites (a wire story).
    pages = [page(site, story, day=site + story) for site in range(3) for story in (0, site + 1, site + 4)]
    ledger = Ledger()
    texts = run(pages, tmp_path, ledger=ledger)
    for p in pages:
        body = article(500 + int(p["id"].split("-")[1]))
        assert texts[p["id"]] == lines_of(body), p["id"]
    # Every removed line is counted under the repeated-line rules.
    removed = sum(len(lines_of(p["text"])) - len(texts[p["id"]]) for p in pages)
    counted = ledger.stage("clean").lines_removed
    assert set(counted) <= {"site_repeated_line", "cross_site_chrome_line"} and sum(counted.values()) == removed > 0


def test_a_site_seen_once_loses_only_chrome_other_sites_share(tmp_path):
    pages = [page(site, story, day=story) for site in range(3) for story in (site, site + 3)]
    lone = page(9, 7, day=2)
    texts = run(pages + [lone], tmp_path)
    lines = texts["9-7"]
    # "Read also" and friends are chrome on three sites, so they go everywhere, as does the
    # "Updated ..." stamp, whose digits are folded; the lone site's own name cannot be told from
    # content with one page, so it stays.
    assert "Read also" not in lines and "Skip to content" not in lines
    assert lines[0] == "The Juliet Gazette"
    assert lines[1:] == lines_of(article(507))


def test_recrawls_of_one_story_keep_their_text(tmp_path):
    same = [dict(page(0, 1, day=d), id=f"crawl-{d}") for d in (1, 2, 3)]
    other = [page(0, 2, day=4), page(0, 3, day=5)]
    texts = run(same + other, tmp_path)
    assert texts["crawl-1"] == lines_of(article(501))


def test_a_paragraph_two_stories_share_stays_but_a_long_notice_on_every_page_goes(tmp_path):
    notice = ("We use cookies to give you the best experience on our website and to show you relevant "
              "adverts; by continuing to browse you agree to our use of cookies and similar tools.")
    background = article(900, paragraphs=1)  # one long paragraph both stories reuse
    pages = []
    for story in range(20):  # two of twenty pages: a tenth of the site
        body = article(600 + story, paragraphs=3)
        if story in (2, 7):
            body += "\n\n" + background
        pages.append({"id": f"p{story}", "source": "one.example", "title": f"Headline number {story}",
                      "text": "\n\n".join([notice, body])})
    texts = run(pages, tmp_path)
    assert all(notice not in lines for lines in texts.values())
    assert texts["p2"][-1] == background and texts["p7"][-1] == background


def test_financial_tables_in_the_body_stay_while_stamps_go(tmp_path):
    """Once digits are folded, results tables look alike on every results story of a site; inside
    the article they are data, not chrome. A stamp at the page's top still goes."""
    import random

    rnd = random.Random(5)
    pages = []
    for story in range(6):
        a, b = (f"{rnd.uniform(10, 99):.1f}" for _ in range(2))
        table_lines = [f"Revs {a} mln vs {b} mln", f"Shr profit {rnd.randint(1, 40)} cts vs loss {rnd.randint(1, 40)} cts",
                       f"Avg shrs {rnd.uniform(1, 30):.1f} mln vs {rnd.uniform(1, 30):.1f} mln"]
        body = article(900 + story, paragraphs=2).split("\n\n")
        text = "\n\n".join([f"Updated {rnd.randint(10, 23)}:{rnd.randint(10, 59)} GMT", body[0], *table_lines, body[1]])
        pages.append({"id": f"m-{story}", "source": "money.example", "title": f"Results story {story}", "text": text,
                      "table": table_lines, "body": body})
    texts = run(pages, tmp_path)
    for p in pages:
        assert texts[p["id"]] == [p["body"][0], *p["table"], p["body"][1]], p["id"]


def test_lists_and_tables_at_the_article_edges_stay_while_a_promo_on_every_page_goes(tmp_path):
    """A court story's conditions recur word for word on a site's court stories, a results table's
    headers ("Qtr", "Year") on its results stories: in the article (after its last paragraph or
    before its first) they are text. A site's promo line inside every article is still chrome."""
    pages = []
    for story in range(8):
        body = article(700 + story, paragraphs=2).split("\n\n")
        if story % 2:  # court story: a list after the last paragraph
            tail = ["Under the terms of the sentence, he must:", "- Surrender his passport",
                    "- Report to a probation officer every week", "- Undergo treatment for alcohol abuse"]
            lines = [body[0], "Get our app for breaking news alerts", body[1], *tail]
        else:  # results story: the table before the first paragraph and after the last
            tail = ["Qtr", f"Net {story}.5 mln vs {story + 3}.1 mln", "Year", f"Net {story}9.0 mln vs 1{story}.2 mln"]
            lines = [tail[1], body[0], "Get our app for breaking news alerts", body[1], *tail]
        pages.append({"id": f"s-{story}", "source": "wire-news.example", "title": f"Story {story}",
                      "text": "\n\n".join(["Wire News", *lines]), "want": [l for l in lines if not l.startswith("Get our app")]})
    texts = run(pages, tmp_path)
    for p in pages:
        assert texts[p["id"]] == p["want"], p["id"]


def test_the_reduce_runs_as_tasks_and_decides_the_same_whatever_their_number(tmp_path):
    """Partitions of line shapes are decided by tasks through the executor; the decisions do not
    depend on how many tasks there are (four per worker; in this process when there is no executor)."""
    from builders.executors.local import LocalExecutor

    pages = [page(site, story, day) for site in range(4) for story, day in ((site, 1), (site + 10, 2))]
    table = pa.Table.from_pylist(pages)
    step = RepeatedLines()
    pq.write_table(step.map(table.slice(0, 4)), tmp_path / "s0.parquet")
    pq.write_table(step.map(table.slice(4)), tmp_path / "s1.parquet")
    summaries = [(0, tmp_path / "s0.parquet"), (1, tmp_path / "s1.parquet")]
    decided = []
    for name, executor in (("inline", None), ("one", LocalExecutor(1)), ("two", LocalExecutor(2))):
        step.reduce(summaries, tmp_path / name, [0, 1], tmp_path, executor)
        if executor:
            executor.close()
        step.load(tmp_path / name, 0)
        decided.append((step.site_pairs.tolist(), step.common_pairs.tolist(), step.everywhere.tolist()))
        assert len(list((tmp_path / name / "site-lines").glob("*.parquet"))) == (8 if name == "two" else 4)
    assert decided[0] == decided[1] == decided[2] and len(decided[0][0]) > 0
