"""The anchored rule: short copies reworded past the MinHash rules are found by their names and
numbers; stories written from one mould, and long articles sharing half their text, are not merged."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.config import DedupConfig
from builders.stages.dedup import DedupFeatures, reduce
from builders.text import anchors
from conftest import article
from test_dedup import docs

# A 60-word brief, written for this test, in the mould of a local news item.
BRIEF = ("Libraries in Birchfield will open on Sundays from September after 1,200 residents signed a petition, "
         "the council said on Thursday. The change costs 24,200 dollars a year. Andrei Kaur, who started the "
         "petition, said students had nowhere quiet to work. Opening hours on weekdays stay the same. Volunteers "
         "will staff 5 of the branches, and the town's mayor Helena Moreau said more could follow.")
# The same story as a local site ran it: two words changed, one typo, the last clause cut.
COPY = ("Libraries in Birchfield will open on Sundays from September after 1,200 locals signed a petition, "
        "the council said on Thursday. The change costs 24,200 dollars a year. Andrei Kaur, who started the "
        "petition, stated students had nowhere quiet to work. Openinng hours on weekdays stay the same. "
        "Volunteers will staff 5 of the branches.")
# Another story from the same mould: the same sentences about another town, its figures, its people.
MOULD = (BRIEF.replace("Birchfield", "Castlemoor").replace("1,200", "900").replace("24,200", "18,500")
         .replace("Andrei Kaur", "Maria Olsen"))


def bitmaps(*texts):
    return anchors.anchor_bitmaps(pa.array(list(texts)))


def count(bits):
    return np.bitwise_count(anchors.bitmap(bits)).sum(axis=1).tolist()


def test_anchors_are_numbers_and_mid_sentence_capitals():
    bits = bitmaps("Libraries in Birchfield will open after 1,200 residents signed, the council said on Thursday.",
                   "The Town Hall met. Reuters's report said 1200 people (Birchfield) came.", "", None,
                   "nothing here at all")
    # Birchfield, 1200, Thursday; "Libraries" opens the sentence.
    assert count(bits)[0] == 3
    # "The" opens a sentence but "Town" and "Hall" follow a lower-case letter: names; "Reuters's"
    # follows a full stop; 1200 and (Birchfield) count, the possessive and brackets stripped.
    assert count(bits)[1] == 4
    assert anchors.conflicts(bits[[1]], bits[[0]]).tolist() == [2]  # Town, Hall; "1200" is "1,200"
    assert anchors.shared(bits[[1]], bits[[0]]).tolist() == [2]
    assert count(bits)[2:] == [0, 0, 0]


def test_a_menu_line_or_title_case_headline_names_nobody():
    bits = bitmaps("Metro Digest\n\nHome Business Markets Americas Environment Technology\n\nShares rose, Reuters said.",
                   "Shares rose, Reuters said.")
    assert count(bits) == [1, 1]  # "Reuters" only: a run of four capitalised words, and lines under four words, name nothing
    assert anchors.conflicts(bits[[0]], bits[[1]]).tolist() == [0]
    stamped = bitmaps("Summit Beacon\n\n2020-01-16 10:48\n\nShares in the firm rose, Reuters said on Friday.",
                      "Shares in the firm rose, Reuters said on Friday.\nCastlemoor council met on the day.")
    assert count(stamped) == [2, 2]  # Reuters, Friday; "Castlemoor" opens its line


def test_a_mould_story_conflicts_and_a_copy_does_not():
    bits = bitmaps(BRIEF, COPY, MOULD)
    assert anchors.conflicts(bits[[1]], bits[[0]]).tolist() == [0]
    # Castlemoor, 900, 18500, Olsen ("Maria" opens a sentence)
    assert anchors.conflicts(bits[[2]], bits[[0]]).tolist() == [4]


def cluster(rows, **minhash):
    config = DedupConfig(minhash=minhash)
    return {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config).to_pylist()}


def test_a_reworded_brief_is_a_copy_only_by_its_anchors():
    rows = [("brief", BRIEF, 1), ("copy", COPY, 2), ("mould", MOULD, 3)]
    found = cluster(rows)
    assert found["copy"]["duplicate_of"] == "brief" and found["copy"]["method"] == "anchored"
    assert found["mould"]["kept"] and found["mould"]["size"] == 1
    without = cluster(rows, anchored=False)
    assert all(r["kept"] for r in without.values())  # the MinHash rules alone miss it


def test_a_brief_cut_to_its_first_sentence_is_a_copy():
    first = BRIEF.split(". ")[0] + ". " + BRIEF.split(". ")[1] + "."
    found = cluster([("brief", BRIEF, 1), ("cut", first, 2)])
    assert found["cut"]["duplicate_of"] == "brief"


def test_long_articles_sharing_half_their_text_are_not_copies():
    # Two long articles (about 300 words each) with the same names, the second reusing the first's
    # second half: half the smaller's shingles are missing, far more than a few edits.
    names = ("Helena Moreau", "Birchfield", "Andrei Kaur", "1,200", "24,200")
    para = [f"In paragraph {i} the council of Birchfield and Helena Moreau discussed item {i} with Andrei Kaur, "
            f"who said {i * 7} residents wanted changes costing {i * 100} dollars before the vote." for i in range(12)]
    first = "\n\n".join(para)
    update = "\n\n".join([f"Update {i}: officials in Birchfield said Helena Moreau would answer {i * 3} questions "
                          f"from Andrei Kaur on the budget of {i * 11} dollars this week." for i in range(6)] + para[6:])
    assert all(n in first and n.split(",")[0] in update for n in names[:3])
    found = cluster([("first", first, 1), ("update", update, 2)])
    assert found["update"]["kept"] and found["first"]["kept"]


def test_index_refuses_another_anchor_setting(tmp_path):
    import pytest
    from builders.errors import BuildError
    from test_dedup_index import _build, _split_dump

    _split_dump(tmp_path)
    index = tmp_path / "index"
    _build(tmp_path / "a", f"dedup.index={index}")
    assert (next(index.glob("gen-*/s*")) / "anchors.npy").exists()  # what verification needs is indexed
    with pytest.raises(BuildError) as caught:
        _build(tmp_path / "b", f"dedup.index={index}", "dedup.minhash.anchored=false")
    assert "\n" not in str(caught.value) and "anchors" in str(caught.value)


# A story cut to its first sentence (under 20 words) and the rule that too-short pages never survive.
FIRST = BRIEF.split(", the council")[0] + "."  # 16 words: "Libraries in Birchfield ... signed a petition."


def test_a_short_copy_joins_its_story_but_never_survives_it():
    assert len(FIRST.split()) < 20
    # The cut copy is the earliest: by the keep rule it would survive, and then be dropped as too short.
    rows = [("cut", FIRST, 1), ("brief", BRIEF, 2), ("stub", "Opening hours stay the same in Birchfield, 1,200 said.", 3),
            ("stub2", "Opening hours stay the same in Birchfield, 1,200 said.", 4)]
    config = DedupConfig()
    found = {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config, min_words=20).to_pylist()}
    assert found["brief"]["kept"] and found["cut"]["duplicate_of"] == "brief"
    # Two pages too short to publish do not make a cluster of their own: each is left to too_short.
    assert found["stub"]["kept"] and found["stub2"]["kept"] and found["stub"]["size"] == 1
    # Without min_words too: the cut is a fragment of the brief (a third of its shingles), and a
    # fragment never survives a copy holding it, however early; the fuller text is kept.
    plain = {r["id"]: r for r in reduce(DedupFeatures(config)(docs(rows)), config).to_pylist()}
    assert plain["brief"]["kept"] and plain["cut"]["duplicate_of"] == "brief"


def test_a_build_drops_a_cut_copy_as_a_copy_and_a_stub_as_too_short(tmp_path):
    import pyarrow.parquet as pq

    from builders.config import load_config
    from builders.pipeline import run_build
    from conftest import write_config, write_jsonl

    pages = [{"id": "orig", "text": BRIEF, "site": "a.example", "crawled_at": "2020-09-02T08:00:00Z"},
             {"id": "cut", "text": FIRST, "site": "b.example", "crawled_at": "2020-09-01T08:00:00Z"},
             {"id": "stub", "text": "Opening hours stay the same, the council said.", "site": "c.example",
              "crawled_at": "2020-09-03T08:00:00Z"}]
    write_jsonl(tmp_path / "raw" / "pages.jsonl.gz", pages)
    run_build(load_config(write_config(tmp_path), ["publish.formats=[parquet]"]))
    out = tmp_path / "out"
    assert pq.read_table(out / "data", columns=["id"]).column("id").to_pylist() == ["orig"]
    rejected = {r["id"]: r for r in pq.read_table(out / "rejected").to_pylist()}
    assert (rejected["cut"]["stage"], rejected["cut"]["reason"], rejected["cut"]["duplicate_of"]) == \
        ("dedup", "near_duplicate", "orig")
    assert (rejected["stub"]["stage"], rejected["stub"]["reason"]) == ("clean", "too_short(<20 words)")
    published = pq.read_table(out / "data", columns=["copies", "copy_sources"]).to_pylist()
    assert published == [{"copies": 2, "copy_sources": ["b.example"]}]


def test_a_story_cut_to_its_opening_words_is_a_copy_and_one_that_only_opens_alike_is_not(monkeypatch):
    from conftest import article
    from builders.stages import dedup_edges

    story = article(21, paragraphs=6)  # no names or numbers: the anchored rule has nothing to go on
    words = story.split()
    cut = " ".join(words[:16]) + "."
    other = " ".join(words[:8] + article(22, paragraphs=1, words=10).lower().split()) + "."
    rows = [("story", story, 1), ("cut", cut, 2), ("other", other, 3)]
    found = cluster(rows)
    assert found["cut"]["duplicate_of"] == "story" and found["cut"]["method"] == "opening"
    assert found["other"]["kept"] and found["other"]["size"] == 1
    monkeypatch.setattr(dedup_edges, "OPENING_MAX_SHINGLES", 0)
    assert cluster(rows)["cut"]["kept"]  # no other rule finds it


def test_containment_alone_does_not_merge_stories_that_name_other_people_and_places():
    # Two stories sharing one long background paragraph (written for this test), each with a
    # short lead of its own: the smaller lies 0.8 inside the other, which the containment rule
    # calls a truncated copy; its lead names a town, a figure and a person the other lacks.
    background = ("The border through the plateau has been disputed since a poll moved several markers, and talks "
                  "between the two governments broke down years ago after a long dispute over water rights, grazing "
                  "land and the road that farmers use to take their cattle to the markets on the far side of the "
                  "valley, where most of the families in the area still sell what they grow and buy what they need "
                  "for the winter months ahead of them")
    a = f"Flooding in Castlemoor forced 900 people from their homes, Maria Olsen said.\n\n{background}."
    b = f"A storm hit Birchfield on Friday and closed 1,200 schools for the week.\n\n{background}."
    rows = [("a", a, 1), ("b", b, 2)]
    assert all(r["kept"] for r in cluster(rows).values())
    merged = cluster(rows, anchored=False)  # no anchors kept: the containment rule alone decides
    assert merged["b"]["duplicate_of"] == "a" and merged["b"]["method"] == "minhash"


# A background paragraph and a story around it (written for this test): a text made of a lead of
# its own and that paragraph lies two thirds inside the story and names only what it names.
RESERVOIR = ("The Redmoor reservoir, built in 1962 by the Dunmore Water Board, holds 14 billion litres and supplies "
             "220,000 homes across the valley; engineer Tomas Varga warned in 2019 that its clay dam would need 40 "
             "million pounds of repairs within a decade.")
BILLS = ("Water bills in the valley will rise by 9 percent from April, the regulator said on Tuesday. Households "
         "will pay about 31 pounds more a year, and the money will fund new pipes.\n\n" + RESERVOIR)
ANGLERS = "Anglers who fish the lake every summer say the water has turned green and the fish have gone.\n\n" + RESERVOIR


def test_a_copy_opens_with_its_originals_first_words():
    dropped = BILLS.split(". ", 1)[1]  # the first sentence dropped
    reworded = "It emerged on Friday that w" + BILLS[1:]  # a local site's lead
    bits = bitmaps(BILLS, dropped, reworded, ANGLERS, "")
    inside = anchors.opens_inside(bits[[1, 2, 3]], bits[[0, 0, 0]]).tolist()
    assert inside[0] >= 4 and inside[1] >= 4  # about a quarter of 32 values
    assert inside[2] == 0  # its first words are nowhere in the story's opening
    assert bits.shape == (5, anchors.WORDS) and anchors.WORDS == anchors.BITMAP_WORDS + 2 * anchors.SKETCH_WORDS


def test_a_text_sharing_a_paragraph_but_not_the_opening_is_not_a_copy(monkeypatch):
    from builders.stages import dedup_edges

    rows = [("bills", BILLS, 1), ("anglers", ANGLERS, 2)]
    found = cluster(rows)
    assert found["anglers"]["kept"] and found["anglers"]["size"] == 1
    # Without the opening check the anchored rule takes it for a copy: two thirds of its shingles
    # are in the story, the rest is fewer than ten word edits, and it names nothing the story lacks.
    monkeypatch.setattr(dedup_edges, "OPENING_MATCHES", 0)
    merged = cluster(rows)
    assert merged["anglers"]["duplicate_of"] == "bills" and merged["anglers"]["method"] == "anchored"


def test_opening_sketches_from_the_maps_shingles_equal_those_computed_alone():
    """The dedup map hands its word 5-gram hashes to the anchors (not tokenised twice): the
    records must be those computed from the text alone, for short texts, texts of long tokens
    whose first words run past the characters the lone path reads, empty and null texts."""
    from builders.stages.dedup import hash_strings, match_words
    from builders.text import minhash

    long_words = " ".join(f"Word{i}" + "x" * 40 for i in range(80))  # 60 words well past 1,500 characters
    texts = [article(5), "Three words only", "", None, long_words, "Short text. " * 200,
             "Ünïcödé Names in Zürich and Malmö said 12,5 % on Tuesday " * 30]
    array = pa.array(texts, pa.string())
    words = match_words(array)
    encoded = pc.dictionary_encode(words.tokens)
    word_hashes = hash_strings(pc.utf8_rtrim(encoded.dictionary, " "))[encoded.indices.to_numpy()]
    shingles, doc = minhash.shingle_hashes(word_hashes, words.offsets, anchors.OPENING_NGRAM)
    alone = anchors.anchor_bitmaps(array)
    assert np.array_equal(anchors.anchor_bitmaps(array, shingles, doc), alone)
    # And the map passes them: its anchors column equals the records computed alone.
    config = DedupConfig()
    table = docs([(str(i), t or "", 1) for i, t in enumerate(texts)])
    table = table.set_column(table.schema.get_field_index("text"), "text", array)
    from builders.stages.dedup_reduce import unpack_rows

    mapped = unpack_rows(DedupFeatures(config)(table).column("anchors"), np.uint64)
    assert np.array_equal(mapped, alone)


# Characters that decide tokens and anchors: Unicode spaces and line breaks, openers, possessives,
# commas in numbers, capitals and lower-case letters beyond ASCII, punctuation at a token's ends.
_TRICKY = ["a", "b", "Z", "Ö", "é", "ß", "İ", "Σ", "ǅ", "0", "7", "١", ",", ";", "%", ")", "(", "[", '"', "'", "’", "“", "‘",
           "s", "S", "-", ".", "\u2014", " ", " ", " ", "\t", "\n", "\n", "\r", "\u00a0", "\u2009", "\u3000", "\u0085",
           "\u2028", "\x1c", "\u200b", "😀", "\x00"]


def test_anchor_bitmaps_over_bytes_equal_the_kernels_definition():
    """`_bitmaps` reads tokens and their tests off the UTF-8 bytes; `_bitmaps_kernels` (lines,
    whitespace tokens, regular expressions per token) is the definition: the same bitmaps, for
    news text and for strings built from the characters that decide tokens and anchors."""
    from hypothesis import given, settings, strategies as st

    words = st.text(alphabet=st.sampled_from(_TRICKY), max_size=12)
    named = st.sampled_from(["Birchfield", "Reuters's", "Moreau’s", "(Kaur", "“Olsen", "1,200", "24,200,", "Zürich",
                             "ÉCOLE", "it's", "'s", "''s"])
    text = st.lists(st.one_of(words, named), max_size=20).map(" ".join)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(text, min_size=1, max_size=6))
    def check(texts):
        array = pa.array(texts, pa.string())
        fast = anchors._bitmaps_bytes(array)
        assert fast is not None
        assert np.array_equal(fast, anchors._bitmaps_kernels(array))

    check()
    news = pa.array([BRIEF, COPY, MOULD, "", BRIEF.replace(" ", "\n"), article(3), "Ünïcödé Names in Zürich said 12,5 %"])
    assert np.array_equal(anchors._bitmaps_bytes(news), anchors._bitmaps_kernels(news))
    # A slice (offset into shared buffers) reads its own texts.
    assert np.array_equal(anchors._bitmaps_bytes(news.slice(2, 4)), anchors._bitmaps_kernels(news.slice(2, 4)))
