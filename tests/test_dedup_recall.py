"""Recall rules of the dedup edge producers on heavily edited copies (texts written for these tests)."""

from __future__ import annotations

from builders.config import DedupConfig
from builders.stages import dedup_edges
from builders.stages.dedup import DedupFeatures, reduce
from test_dedup import docs

# A 150-word local story: names and figures in most sentences.
STORY = ("Workers at the Foxley bottling plant voted on Monday to strike for three days next month after talks "
         "over a 4 percent pay offer broke down, the Allied Trades union said. The plant employs 640 people and "
         "supplies drinks to shops across the county. Union organiser Maria Lindqvist said members had waited "
         "nine months for a fair deal and that the company had made 12 million pounds last year. A spokesman for "
         "Brennan Drinks, which owns the plant, said the offer was generous and that the doors would stay open "
         "for further talks. The last strike at the site, in 2017, lasted a week and cost the firm about 2 "
         "million pounds in lost orders. Local councillor Peter Osei urged both sides to return to the table "
         "before the walkout begins on the 14th, saying that many families in Foxley depend on the plant.")
# A copy that changed a word in most sentences ("voted" -> "decided", "talks" -> "negotiations", ...).
EDITED = (STORY.replace("voted on Monday", "decided on Monday").replace("talks over", "negotiations over")
          .replace("employs 640 people", "has 640 staff").replace("supplies drinks", "sells drinks")
          .replace("had waited", "have waited").replace("fair deal", "decent deal")
          .replace("said the offer was generous", "called the offer generous")
          .replace("the doors would stay open", "its doors remain open").replace("lasted a week", "went on a week")
          .replace("lost orders", "missed orders").replace("urged both sides", "asked both sides"))


def cluster(rows, **minhash):
    config = DedupConfig(minhash=minhash)
    return {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config).to_pylist()}


def test_a_story_with_a_word_changed_in_most_sentences_is_a_copy(monkeypatch):
    rows = [("story", STORY, 1), ("edited", EDITED, 2)]
    found = cluster(rows)
    assert found["edited"]["duplicate_of"] == "story" and found["edited"]["method"] == "anchored"
    # Eleven edits cost more shingles than ten word edits' worth: the old budget missed it.
    monkeypatch.setattr(dedup_edges, "ANCHORED_EDITS", 10)
    assert all(r["kept"] for r in cluster(rows).values())


BRIEF = ("Libraries in Birchfield will open on Sundays from September after 1,200 residents signed a petition, "
         "the council said on Thursday. The change costs 24,200 dollars a year. Andrei Kaur, who started the "
         "petition, said students had nowhere quiet to work. Opening hours on weekdays stay the same. Volunteers "
         "will staff 5 of the branches, and the town's mayor Helena Moreau said more could follow.")
# A site's copy with two typos in names, and a site that ran that copy's first sentence.
TYPOS = BRIEF.replace("Birchfield", "Birchfeild").replace("Sundays", "Sundyas")
CUT = TYPOS.split(" The change")[0]


def test_a_cut_copy_confirmed_by_a_copy_with_the_same_typos_joins_its_story(monkeypatch):
    rows = [("brief", BRIEF, 1), ("typos", TYPOS, 2), ("cut", CUT, 3)]
    found = cluster(rows)
    assert found["typos"]["duplicate_of"] == "brief"
    # The cut names two words the brief lacks against three it shares: too many for a copy on its
    # own, enough for one the typos copy (verified) corroborates.
    assert found["cut"]["duplicate_of"] == "brief"
    monkeypatch.setattr(dedup_edges, "RELAXED_ANCHOR_CONFLICTS", 0.5)
    old = cluster(rows)
    assert old["typos"]["duplicate_of"] == "brief" and old["cut"]["kept"]
