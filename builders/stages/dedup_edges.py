"""Edge producers: each way of finding copies (exact text, MinHash, ...) registers here by name.

A producer does two things and nothing else:

- `keys(ctx)`, in the map: for every document a fixed number of uint64 keys (0: no key). Two
  documents sharing a key in the same column are candidates; the keys are written partitioned
  by hash, and candidates are found partition by partition.
- `verify(store, a, b)`: for pairs of dense document numbers, the similarity that makes them
  copies (a float), or NaN when they are not. Candidates are verified this way, and so is every
  cluster member against its cluster's survivor.

One shared step (builders/stages/dedup_reduce.py) clusters the verified edges and chooses the
survivors, so adding a method adds one class here and touches nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from builders.config import DedupConfig
from builders.text import anchors, minhash

#: LSH looks for candidates down to this fraction of the threshold; verification then decides.
CANDIDATE_FACTOR = 0.4
#: Shingles of a document's opening that the lead index covers (about its first 60 words).
LEAD_SHINGLES = 56
#: Containment links need at least this fraction of the Jaccard threshold too.
CONTAINMENT_JACCARD_FLOOR = 0.5
#: Pairs a rule judges at once: the rows it gathers (two signatures, leads, anchors) stay in cache
#: (4,096 pairs of 128-value signatures: 4 MB), about twice as fast as 65,536 at a time.
_EDGE_BLOCK = 1 << 12
#: A member corroborated by a verified member is checked against its survivor with these shares
#: of `minhash.containment`, of the containment rule's Jaccard floor and of `minhash.lead`:
#: two pieces of evidence (on the 10k hard benchmark: recall 0.71 -> 0.86, precision 0.9998).
RELAXED_CONTAINMENT = 0.7
RELAXED_FLOOR = 0.5
RELAXED_LEAD = 0.6
#: A member every rule rejects against its survivor, relaxed ones too, still joins when at least
#: this many members that joined are verified copies of it, every document it was verified a copy
#: of is in the cluster, and it names what the survivor names (`verify_corroborated`): a copy
#: cut, added to and reworded, whose truncated or rewritten survivor shares too little of it. One
#: corroborating member is not enough (A~B~C between two stories). On the hard benchmark, pairwise
#: recall 0.9723 -> 0.9743 at 100k pages, 0.9809 -> 0.9839 at 10k, precision unchanged (0.9969,
#: 0.9989).
CORROBORATIONS = 2
#: Openings alike are a copy only when the smaller text lies at least this much inside the other.
LEAD_CONTAINMENT = 0.6


@dataclass
class MapContext:
    """What the map computed about a batch, for producers to derive their keys from."""

    n: int
    exact: np.ndarray  # uint64 hash of the normalised text
    table: object = None  # the batch itself (pa.Table), for producers keyed on other columns
    shingles: np.ndarray | None = None  # shingle count per document
    signature: np.ndarray | None = None  # (n, num_perm) uint32
    lead_signature: np.ndarray | None = None  # (n, num_perm) uint32 of the opening shingles
    anchors: np.ndarray | None = None  # (n, anchors.WORDS) uint64: bitmaps of names and numbers, opening sketches
    shingle_hashes: np.ndarray | None = None  # uint32 hash of every shingle, documents in order
    shingle_doc: np.ndarray | None = None  # the document of each shingle
    empty: np.ndarray | None = None  # documents with no word at all (bool)
    opening: np.ndarray | None = None  # uint64 key of each document's first words (`opening_keys`)


class EdgeProducer:
    """Base of a registered producer; subclasses set `name` and implement the three methods."""

    name: ClassVar[str] = ""
    #: Producers run (and name a member's method) in this order.
    order: ClassVar[int] = 100

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        raise NotImplementedError

    @staticmethod
    def width(config: DedupConfig) -> int:
        raise NotImplementedError

    @staticmethod
    def keys(ctx: MapContext, config: DedupConfig) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def verify(store, a: np.ndarray, b: np.ndarray, config: DedupConfig) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def verify_relaxed(cls, store, a: np.ndarray, b: np.ndarray, config: DedupConfig) -> np.ndarray:
        """The check of a member against its survivor when a member the survivor verified is a
        verified copy of it too; the same as `verify` unless a producer says otherwise."""
        return cls.verify(store, a, b, config)

    @classmethod
    def verify_corroborated(cls, store, a: np.ndarray, b: np.ndarray, config: DedupConfig) -> np.ndarray:
        """The check of a member against its survivor when, the relaxed rules failing, at least
        CORROBORATIONS members that joined are verified copies of it and nothing else is: no such
        rule (all NaN) unless a producer has one."""
        return np.full(len(a), np.nan, np.float32)


class VerifyOnly(EdgeProducer):
    """A producer that adds no keys: it verifies the candidates other producers' keys find."""

    @staticmethod
    def width(config: DedupConfig) -> int:
        return 0

    @staticmethod
    def keys(ctx: MapContext, config: DedupConfig) -> np.ndarray:
        return np.zeros((ctx.n, 0), np.uint64)


PRODUCERS: dict[str, type[EdgeProducer]] = {}


def edge_producer(cls: type[EdgeProducer]) -> type[EdgeProducer]:
    """Class decorator: register a producer under its `name`."""
    if not cls.name:
        raise ValueError("an edge producer needs a name")
    PRODUCERS[cls.name] = cls
    return cls


def active(config: DedupConfig) -> list[type[EdgeProducer]]:
    """The producers a config switches on, in their order (then by name)."""
    return sorted((p for p in PRODUCERS.values() if p.enabled(config)), key=lambda p: (p.order, p.name))


def layout(config: DedupConfig) -> list[tuple[str, int]]:
    """(name, number of key columns) of each active producer: the band ids of the key index."""
    return [(p.name, p.width(config)) for p in active(config)]


def candidate_params(mh) -> tuple[int, int]:
    """LSH bands and rows for candidates: tuned for a threshold well below the one verified."""
    return minhash.lsh_params(mh.threshold * CANDIDATE_FACTOR, mh.num_perm)


def containment_of(jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    """Share of the smaller document's shingles that the larger holds, from their Jaccard
    similarity (or its estimate) and shingle counts: |A∩B| = J(|A|+|B|)/(1+J)."""
    size_a, size_b = size_a.astype(np.float64), size_b.astype(np.float64)
    return jaccard * (size_a + size_b) / (1 + jaccard) / np.maximum(np.minimum(size_a, size_b), 1)


def verify_signatures(sig_a: np.ndarray, sig_b: np.ndarray, size_a: np.ndarray, size_b: np.ndarray,
                      threshold: float, containment: float | None, floor: float = CONTAINMENT_JACCARD_FLOOR) -> np.ndarray:
    """Estimated Jaccard similarity of pairs that are copies judged on their signatures, NaN otherwise.

    A pair is a copy when its estimated Jaccard similarity reaches the threshold, or when the
    smaller document lies inside the larger one to at least `containment` (a truncated copy) and
    their Jaccard similarity is at least half the threshold: |A∩B| = J(|A|+|B|)/(1+J) from the
    Jaccard estimate J and the shingle counts.
    """
    return judge_jaccard((sig_a == sig_b).mean(axis=1), size_a, size_b, threshold, containment, floor)


def agreement(store, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of permutations on which the signatures of x and y agree (float64: their Jaccard
    estimate); from the store's own `agreement` when it has one (a StoreView computes each
    pair's once, however many producers ask)."""
    own = getattr(store, "agreement", None)
    return own(x, y) if own is not None else (store.signatures(x) == store.signatures(y)).mean(axis=1)


def judge_jaccard(jaccard: np.ndarray, size_a: np.ndarray, size_b: np.ndarray, threshold: float,
                  containment: float | None, floor: float = CONTAINMENT_JACCARD_FLOOR) -> np.ndarray:
    """`verify_signatures` from the pairs' Jaccard estimates."""
    ok = jaccard >= threshold
    if containment is not None:
        contained = containment_of(jaccard, size_a, size_b) >= containment
        # A short text inside a long one (a shared background paragraph) is not a copy of it:
        # a truncated copy keeps most of its original, so its Jaccard stays well above zero.
        ok |= contained & (jaccard >= threshold * floor)
    ok &= (size_a > 0) & (size_b > 0)
    return np.where(ok, jaccard, np.nan).astype(np.float32)


@edge_producer
class Exact(EdgeProducer):
    """Same words after lower-casing and removing punctuation: the key is the verification."""

    name = "exact"
    order = 0

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        return bool(config.exact)

    @staticmethod
    def width(config: DedupConfig) -> int:
        return 1

    @staticmethod
    def keys(ctx: MapContext, config: DedupConfig) -> np.ndarray:
        keys = np.where(ctx.exact == 0, np.uint64(1), ctx.exact).reshape(-1, 1)
        if ctx.empty is not None:
            keys[ctx.empty] = 0  # texts with no words are no copies of each other: nothing to keep one for
        return keys

    @staticmethod
    def verify(store, a, b, config):
        same = store.info(a, "exact") == store.info(b, "exact")
        return np.where(same, 1.0, np.nan).astype(np.float32)


@edge_producer
class MinHash(EdgeProducer):
    """MinHash LSH on word n-gram shingles: bands of the whole text's signature, and bands of the
    opening's signature (wire copies are cut at the end, rarely at the start, so a copy that lost
    half its story still shares its lead); verified on the whole signatures."""

    name = "minhash"
    order = 10

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        return config.minhash is not None

    @staticmethod
    def width(config: DedupConfig) -> int:
        return 2 * candidate_params(config.minhash)[0]

    @staticmethod
    def keys(ctx: MapContext, config: DedupConfig) -> np.ndarray:
        bands, rows = candidate_params(config.minhash)
        keys = np.concatenate([minhash.band_hashes(ctx.signature, bands, rows),
                               minhash.band_hashes(ctx.lead_signature, bands, rows)], axis=1)
        return _no_empty(keys, ctx)

    @staticmethod
    def verify(store, a, b, config, factor: float = 1.0, floor: float = 1.0, allowed: float | None = None):
        mh = config.minhash
        containment = None if mh.containment is None else mh.containment * factor
        out = np.empty(len(a), np.float32)
        for lo in range(0, len(a), _EDGE_BLOCK):
            x, y = a[lo : lo + _EDGE_BLOCK], b[lo : lo + _EDGE_BLOCK]
            sim = judge_jaccard(agreement(store, x, y), store.info(x, "shingles"), store.info(y, "shingles"),
                                mh.threshold, containment, CONTAINMENT_JACCARD_FLOOR * floor)
            # A copy found by containment alone must name what its original names.
            weak = ~np.isnan(sim) & (sim < mh.threshold)
            if weak.any():
                sim[weak] = np.where(same_anchors(store, x[weak], y[weak], allowed or WEAK_ANCHOR_CONFLICTS, capped=False),
                                     sim[weak], np.nan)
            out[lo : lo + _EDGE_BLOCK] = sim
        return out

    @classmethod
    def verify_relaxed(cls, store, a, b, config):
        """The containment rule at RELAXED_CONTAINMENT of `minhash.containment` and RELAXED_FLOOR of
        its Jaccard floor: a copy that lost its end and gained a site's line, confirmed by another."""
        return cls.verify(store, a, b, config, RELAXED_CONTAINMENT, RELAXED_FLOOR, RELAXED_ANCHOR_CONFLICTS)


def same_anchors(store, x: np.ndarray, y: np.ndarray, allowed: float | None = None, least: int = 0,
                 capped: bool = True) -> np.ndarray:
    """Pairs whose smaller text (by characters) names at most `allowed` (default ANCHOR_CONFLICTS)
    anchors the larger lacks per anchor they share, and that share at least `least` anchors; all
    true when the build keeps no anchors (`minhash.anchored: false`)."""
    if not store.anchor_words:
        return np.ones(len(x), bool)
    allowed = ANCHOR_CONFLICTS if allowed is None else allowed
    counts = getattr(store, "anchor_counts", None)
    if counts is not None:  # a StoreView: each pair's counted once, whichever rule asks
        common, differ, _, _ = counts(x, y)
    else:
        bits_x, bits_y = store.anchors(x), store.anchors(y)
        x_smaller = (store.info(x, "length") <= store.info(y, "length"))[:, None]
        small, large = np.where(x_smaller, bits_x, bits_y), np.where(x_smaller, bits_y, bits_x)
        common = anchors.shared(small, large)
        differ = anchors.conflicts(small, large)
    ok = (common >= least) & (differ <= allowed * common)
    if capped:
        ok &= differ <= (ANCHOR_CONFLICTS_MAX if allowed <= ANCHOR_CONFLICTS else RELAXED_ANCHOR_CONFLICTS_MAX)
    return ok


#: A member joining its survivor by a relaxed rule (corroborated by a member that joined) and
#: naming an anchor the survivor lacks must share at least this many with it (two for the rules
#: themselves): two stories of one mould about one place share its name and a weekday, and differ
#: in figures ("81 millimetres of rain in 47 hours" against "128 in 21"), and a copy of one of them
#: that joined the other's survivor corroborated the rest of its story. On the 1M hard benchmark
#: (cluster step rerun on a kept build's edges): precision 0.9948 -> 0.9953, recall 0.9706 ->
#: 0.9703; 100k: 0.9986/0.9738 -> 0.9987/0.9732; 10k seeds 0 and 1 unchanged.
RELAXED_ANCHORS_SHARED = 3


def names_what_it_joins(store, member: np.ndarray, survivor: np.ndarray) -> np.ndarray:
    """Pairs whose member names nothing its survivor lacks, or shares RELAXED_ANCHORS_SHARED
    anchors with it at least; all true when the build keeps no anchors."""
    if not store.anchor_words or not len(member):
        return np.ones(len(member), bool)
    bits_m, bits_s = store.anchors(member), store.anchors(survivor)
    return (anchors.conflicts(bits_m, bits_s) == 0) | (anchors.shared(bits_m, bits_s) >= RELAXED_ANCHORS_SHARED)


def opens_inside(store, x: np.ndarray, y: np.ndarray, larger: bool = False) -> np.ndarray:
    """Pairs whose smaller text (by characters) opens with words of the larger's first paragraphs
    (anchors.opens_inside: OPENING_MATCHES sketch values at least); with `larger`, the other way
    round: the larger opens with words of the smaller's first paragraphs. All true when the build
    keeps no anchors."""
    if not store.anchor_words:
        return np.ones(len(x), bool)
    counts = getattr(store, "anchor_counts", None)
    if counts is not None:
        _, _, inside, outside = counts(x, y)
        return (outside if larger else inside) >= OPENING_MATCHES
    rec_x, rec_y = store.anchors(x), store.anchors(y)
    x_smaller = (store.info(x, "length") <= store.info(y, "length"))[:, None]
    small, large = np.where(x_smaller, rec_x, rec_y), np.where(x_smaller, rec_y, rec_x)
    if larger:
        small, large = large, small
    return anchors.opens_inside(small, large) >= OPENING_MATCHES


def _no_empty(keys: np.ndarray, ctx: MapContext) -> np.ndarray:
    keys[keys == 0] = 1
    keys[ctx.shingles == 0] = 0  # documents with no words have no signature: never let them meet
    return keys


#: Permutations of the opening's signature kept for verification (its first values).
LEAD_PERMS = 64


@edge_producer
class Lead(VerifyOnly):
    """The same opening: a copy whose page kept chrome the cleaning missed, or that was cut short
    or had paragraphs added, still opens with the story's first ~60 words. Candidates come from the
    MinHash producer's lead bands (this producer adds no keys of its own); a pair is a copy when
    the Jaccard similarity of the openings' shingles reaches `minhash.lead` and the smaller text
    lies at least LEAD_CONTAINMENT inside the other (stories that only open alike are not copies:
    at 100k pages, without it, precision fell to 0.925)."""

    name = "lead"
    order = 20

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        return config.minhash is not None and config.minhash.lead is not None

    @classmethod
    def verify_relaxed(cls, store, a, b, config):
        return cls.verify(store, a, b, config, RELAXED_LEAD)

    @staticmethod
    def verify(store, a, b, config, factor: float = 1.0):
        out = np.empty(len(a), np.float32)
        for lo in range(0, len(a), _EDGE_BLOCK):
            x, y = a[lo : lo + _EDGE_BLOCK], b[lo : lo + _EDGE_BLOCK]
            lx, ly = store.leads(x), store.leads(y)
            jaccard = minhash.agreeing(lx, ly) / lx.shape[1]  # the mean of equal values, as a count
            size_x, size_y = store.info(x, "shingles").astype(np.float64), store.info(y, "shingles").astype(np.float64)
            # The whole texts must overlap too: two stories that open with the same paragraph
            # (an update, a story rewritten around an agency's lead) share little after it.
            whole = agreement(store, x, y)
            contained = whole * (size_x + size_y) / (1 + whole) / np.maximum(np.minimum(size_x, size_y), 1)
            ok = (jaccard >= config.minhash.lead * factor) & (contained >= LEAD_CONTAINMENT * factor)
            ok &= (size_x > 0) & (size_y > 0)
            ok &= same_anchors(store, x, y, RELAXED_ANCHOR_CONFLICTS if factor < 1 else WEAK_ANCHOR_CONFLICTS, capped=False)
            out[lo : lo + _EDGE_BLOCK] = np.where(ok, jaccard, np.nan)
        return out


#: Anchors two texts must share for the anchored rule: words in common are no evidence of a copy
#: when neither names anything.
ANCHORS_SHARED = 2
#: Anchors of the smaller text the larger lacks, per anchor they share, that the anchored rule
#: allows: a local site adds "It emerged on Friday that", a typo changes a name ("Tdiemouth"),
#: but at most one anchor in five differs. On the 10k hard benchmark's pairs, against none
#: allowed: pairwise recall 0.862 -> 0.917 at the same precision (0.997).
ANCHOR_CONFLICTS = 0.25
#: ... and never more than this many (anchored and opening rules; relaxed: the second): two
#: stories that share a long paragraph (a background paragraph, a quote) share its many names,
#: and differ in a few names of their own.
ANCHOR_CONFLICTS_MAX = 2
RELAXED_ANCHOR_CONFLICTS_MAX = 4
#: For a member corroborated by a verified member: two per three shared (four at most), at
#: RELAXED_ANCHORED of `minhash.anchored`: a short copy whose typos or site's line name two
#: words the survivor lacks, confirmed by a copy that has them too. On the 100k hard benchmark,
#: against one per two: recall 0.9704 -> 0.9718, precision 0.9970 -> 0.9969.
RELAXED_ANCHOR_CONFLICTS = 0.67
RELAXED_ANCHORED = 0.8
#: ... only for pairs that open alike both ways: the larger text opens with words of the smaller's
#: first paragraphs too (`opens_inside(larger=True)`), as a copy cut at its end or lightly edited
#: does. A follow-up story (a lead and a paragraph of its own, then its parent's lead) and its
#: parent (that lead, then paragraphs of its own) share the lead and its names; the parent opens
#: inside the follow-up's first paragraphs, but not the other way round, and each names two or
#: three people and days the other lacks. Such a pair, when a copy of one of them corroborates
#: it, joined the other's cluster. On the hard benchmark's pairs (cluster step rerun on the kept
#: builds' candidates): precision 0.9969 -> 0.9973 at 100k pages, recall 0.9743 -> 0.9742;
#: 10k seed 1: 0.9974/0.9712 -> 0.9987/0.9742; 10k seed 0 unchanged (0.9989/0.9839).
RELAXED_OPENS_ALIKE = True
#: For the containment rule's and the lead rule's matches: two per five shared, uncapped (long
#: copies that lost or gained a paragraph naming people differ in more names than a brief).
WEAK_ANCHOR_CONFLICTS = 0.4
#: The anchored rule is for copies a few edits away: the smaller text's shingles missing from the
#: larger must be at most this many word edits' worth (each edit costs `ngram` shingles). A copy
#: with a few words changed keeps half the shingles of a 60-word brief but nearly all of a
#: 400-word story; two long articles sharing half their text (a story and its update, a story
#: and a follow-up quoting its background paragraphs) are different articles. Fourteen: a
#: 150-word story with a word changed in most sentences is still a copy; such pairs that do not
#: open alike are the opening check's (`opens_inside`). On the 100k hard benchmark, against ten
#: (with the relaxed conflicts above): recall 0.9718 -> 0.9723, precision 0.9969.
ANCHORED_EDITS = 14
#: Values of the smaller text's opening sketch that the anchored rule needs in the larger's region
#: sketch (anchors.opens_inside): its first words are among the larger's first paragraphs. A text
#: made of a lead of its own and a paragraph another story has too (a background paragraph, a
#: story's quote repeated in a follow-up) shares many of the other's shingles and names, but not
#: its opening. On the 100k hard benchmark: precision 0.9943 -> 0.9970, recall 0.9656 -> 0.9704.
OPENING_MATCHES = 1


@edge_producer
class Anchored(VerifyOnly):
    """Containment with the same names and numbers: a copy reworded too much for the MinHash rules
    (a 60-word brief with four words changed keeps half its 5-grams) or cut to a few paragraphs
    still names only people, places and figures of its original; two stories written from one
    mould do not. A pair is a copy when
    - the smaller text's shingles lie at least `minhash.anchored` inside the other (estimated from
      the signatures, as the containment rule does), and those missing are at most ANCHORED_EDITS
      word edits' worth;
    - they share at least ANCHORS_SHARED anchors (builders/text/anchors.py), and the smaller (by
      characters) names at most one anchor the larger lacks per four they share, two at most;
    - the smaller opens with words of the larger's first paragraphs (`opens_inside`): a copy is
      cut at its end, its lead reworded or its first sentence dropped, but it does not open with
      a lead the original lacks.
    Candidates come from the MinHash producer's bands."""

    name = "anchored"
    order = 30

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        return config.minhash is not None and config.minhash.anchored is not None

    @classmethod
    def verify_relaxed(cls, store, a, b, config):
        """At RELAXED_ANCHORED of `minhash.anchored` and RELAXED_ANCHOR_CONFLICTS; but a pair whose
        larger text does not open with words of the smaller's first paragraphs keeps the strict
        conflicts (ANCHOR_CONFLICTS, ANCHOR_CONFLICTS_MAX): see RELAXED_OPENS_ALIKE."""
        out = cls.verify(store, a, b, config, RELAXED_ANCHORED, RELAXED_ANCHOR_CONFLICTS)
        passed = np.flatnonzero(~np.isnan(out))
        if RELAXED_OPENS_ALIKE and len(passed):
            x, y = a[passed], b[passed]
            ok = opens_inside(store, x, y, larger=True) | same_anchors(store, x, y, ANCHOR_CONFLICTS, ANCHORS_SHARED)
            out[passed[~ok]] = np.nan
        return out

    @classmethod
    def verify_corroborated(cls, store, a, b, config):
        """A member two joined members verify and nothing else does names what the survivor names:
        at least ANCHORS_SHARED anchors shared, the smaller naming at most two the other lacks per
        five shared (WEAK_ANCHOR_CONFLICTS), four at most; no share of the text is asked for (such
        a member is a copy edited too much, cut and added to, for any rule against the survivor)."""
        out = np.empty(len(a), np.float32)
        for lo in range(0, len(a), _EDGE_BLOCK):
            x, y = a[lo : lo + _EDGE_BLOCK], b[lo : lo + _EDGE_BLOCK]
            whole = agreement(store, x, y)
            ok = same_anchors(store, x, y, WEAK_ANCHOR_CONFLICTS, ANCHORS_SHARED)
            ok &= (store.info(x, "shingles") > 0) & (store.info(y, "shingles") > 0)
            out[lo : lo + _EDGE_BLOCK] = np.where(ok, whole, np.nan)
        return out

    @staticmethod
    def verify(store, a, b, config, factor: float = 1.0, allowed: float = ANCHOR_CONFLICTS):
        out = np.empty(len(a), np.float32)
        for lo in range(0, len(a), _EDGE_BLOCK):
            x, y = a[lo : lo + _EDGE_BLOCK], b[lo : lo + _EDGE_BLOCK]
            size_x, size_y = store.info(x, "shingles").astype(np.float64), store.info(y, "shingles").astype(np.float64)
            whole = agreement(store, x, y)
            contained = whole * (size_x + size_y) / (1 + whole) / np.maximum(np.minimum(size_x, size_y), 1)
            smaller = np.minimum(size_x, size_y)
            ok = contained >= config.minhash.anchored * factor
            ok &= (1 - contained) * smaller <= ANCHORED_EDITS * config.minhash.ngram
            ok &= same_anchors(store, x, y, allowed, ANCHORS_SHARED)
            ok &= opens_inside(store, x, y)
            ok &= (size_x > 0) & (size_y > 0)
            out[lo : lo + _EDGE_BLOCK] = np.where(ok, whole, np.nan)
        return out


#: Shingles of the opening key: with 5-grams, the first eight words.
OPENING_SHINGLES = 4
#: The opening rule is for texts of at most this many shingles (about 45 words at 5-grams).
OPENING_MAX_SHINGLES = 40
#: ... that lie at least this much inside the other's opening (estimated on the lead signatures).
OPENING_CONTAINMENT = 0.6


def opening_keys(ctx: MapContext) -> np.ndarray:
    """uint64 per document: its first and OPENING_SHINGLES-th shingle hashes mixed (0: no words)."""
    keys = np.zeros(ctx.n, np.uint64)
    has = np.flatnonzero(ctx.shingles > 0)
    if len(has):
        first = np.searchsorted(ctx.shingle_doc, has)
        last = first + np.minimum(OPENING_SHINGLES, ctx.shingles[has]) - 1
        h = ctx.shingle_hashes
        keys[has] = minhash._mix64((h[first].astype(np.uint64) << np.uint64(32)) | h[last].astype(np.uint64))
        keys[has[keys[has] == 0]] = 1
    return keys


@edge_producer
class Opening(EdgeProducer):
    """The same opening words, for a story cut to its first sentence or two. Such a copy shares a
    fifth of its original's lead and a twentieth of its whole text: too little for the MinHash
    bands to bring the two together, or for a Jaccard estimate to say much. It still opens with
    the original's words. Documents opening with the same OPENING_SHINGLES shingles are
    candidates; a pair is a copy when they open alike, the smaller has at most
    OPENING_MAX_SHINGLES shingles lying at least OPENING_CONTAINMENT inside the other's opening,
    and the anchored rule's names-and-numbers check passes (with no anchor shared, none may
    differ)."""

    name = "opening"
    order = 40

    @staticmethod
    def enabled(config: DedupConfig) -> bool:
        return config.minhash is not None and config.minhash.anchored is not None and config.minhash.lead is not None

    @staticmethod
    def width(config: DedupConfig) -> int:
        return 1

    @staticmethod
    def keys(ctx: MapContext, config: DedupConfig) -> np.ndarray:
        keys = (ctx.opening if ctx.opening is not None else opening_keys(ctx)).reshape(-1, 1).copy()
        keys[ctx.shingles == 0] = 0
        return keys

    @staticmethod
    def verify(store, a, b, config):
        out = np.empty(len(a), np.float32)
        for lo in range(0, len(a), _EDGE_BLOCK):
            x, y = a[lo : lo + _EDGE_BLOCK], b[lo : lo + _EDGE_BLOCK]
            size_x, size_y = store.info(x, "shingles"), store.info(y, "shingles")
            ok = (store.info(x, "opening") == store.info(y, "opening")) & (np.minimum(size_x, size_y) > 0)
            ok &= np.minimum(size_x, size_y) <= OPENING_MAX_SHINGLES
            lead_x = np.minimum(size_x, LEAD_SHINGLES).astype(np.float64)
            lead_y = np.minimum(size_y, LEAD_SHINGLES).astype(np.float64)
            lx, ly = store.leads(x), store.leads(y)
            jaccard = minhash.agreeing(lx, ly) / lx.shape[1]  # the mean of equal values, as a count
            ok &= jaccard * (lead_x + lead_y) / (1 + jaccard) / np.maximum(np.minimum(lead_x, lead_y), 1) \
                >= OPENING_CONTAINMENT
            ok &= same_anchors(store, x, y)
            out[lo : lo + _EDGE_BLOCK] = np.where(ok, jaccard, np.nan)
        return out


def producer(name: str) -> type[EdgeProducer]:
    return PRODUCERS[name]


def verify_corroborated(store, a: np.ndarray, b: np.ndarray, config: DedupConfig,
                        producers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Similarity and producer (index, -1: none) of each twice-corroborated member `a` against its
    survivor `b`: the first producer, in order, whose `verify_corroborated` passes. Few pairs (the
    members every relaxed rule rejected), read straight from the store."""
    sim = np.full(len(a), np.nan, np.float32)
    how = np.full(len(a), -1, np.int64)
    for p, name in enumerate(producers):
        todo = np.flatnonzero(how < 0)
        if not len(todo):
            break
        got = producer(name).verify_corroborated(store, a[todo], b[todo], config)
        ok = ~np.isnan(got)
        sim[todo[ok]], how[todo[ok]] = got[ok], p
    return sim, how


VerifyFn = Callable[[object, np.ndarray, np.ndarray, DedupConfig], np.ndarray]
