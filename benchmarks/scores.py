"""Accuracy scores for a benchmark run: duplicate-pair P/R/F1 and ARI of clusters, line-level cleaning P/R."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


@dataclass
class PairScores:
    """Pair counts are unordered pairs of pages; precision is NaN when no pair was predicted."""

    n: int
    truth_pairs: int
    predicted_pairs: int
    true_pairs: int
    precision: float
    recall: float
    f1: float
    ari: float
    missing: int  # truth ids absent from the prediction, scored as singletons
    extra: int  # predicted ids absent from the truth, ignored

    def as_dict(self) -> dict:
        return asdict(self)


def align_labels(
    truth_ids: Sequence, truth_labels: Sequence, pred_ids: Sequence, pred_labels: Sequence
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Integer label arrays over the truth ids; unknown or null predictions become singletons."""
    truth = pd.Series(np.asarray(truth_labels, dtype=object), index=pd.Index(np.asarray(truth_ids, dtype=object)))
    if not truth.index.is_unique:
        raise ValueError("truth ids are not unique")
    pred = pd.Series(np.asarray(pred_labels, dtype=object), index=pd.Index(np.asarray(pred_ids, dtype=object)))
    # A document written twice by a tool is one page: keep its first label.
    pred = pred[~pred.index.duplicated(keep="first")]
    extra = int((~pred.index.isin(truth.index)).sum())

    t_codes, _ = pd.factorize(truth, use_na_sentinel=True)
    if (t_codes < 0).any():
        raise ValueError("truth labels contain nulls")
    p = pred.reindex(truth.index)
    p_codes, p_uniques = pd.factorize(p, use_na_sentinel=True)
    missing_mask = p_codes < 0
    missing = int(missing_mask.sum())
    # Fresh codes past the last real cluster make every missing page its own singleton.
    p_codes = p_codes.astype(np.int64)
    p_codes[missing_mask] = len(p_uniques) + np.arange(missing, dtype=np.int64)
    return t_codes.astype(np.int64), p_codes, missing, extra


def pair_scores_from_codes(t_codes: np.ndarray, p_codes: np.ndarray, missing: int = 0, extra: int = 0) -> PairScores:
    """Scores from two integer labelings of the same pages, via scikit-learn's contingency-based pair counts."""
    n = int(len(t_codes))
    if n == 0:
        return PairScores(0, 0, 0, 0, float("nan"), float("nan"), 1.0, 1.0, missing, extra)
    # Imported here so line scores work without the bench extra installed.
    from sklearn.metrics.cluster import pair_confusion_matrix

    c = pair_confusion_matrix(t_codes, p_codes)
    # scikit-learn counts ordered pairs in int64; halve and move to Python ints before any product.
    tn, fp, fn, tp = (int(x) // 2 for x in (c[0, 0], c[0, 1], c[1, 0], c[1, 1]))
    predicted, truth = tp + fp, tp + fn
    precision = tp / predicted if predicted else float("nan")
    recall = tp / truth if truth else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    if fn == 0 and fp == 0:
        ari = 1.0
    else:
        ari = 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))
    return PairScores(n, truth, predicted, tp, precision, recall, f1, ari, missing, extra)


def pair_scores(
    truth_ids: Sequence, truth_labels: Sequence, pred_ids: Sequence, pred_labels: Sequence
) -> PairScores:
    """Duplicate-pair precision/recall/F1 and adjusted Rand index of predicted clusters against truth stories."""
    t, p, missing, extra = align_labels(truth_ids, truth_labels, pred_ids, pred_labels)
    return pair_scores_from_codes(t, p, missing, extra)


def text_lines(text: str | None) -> list[str]:
    if not text:
        return []
    return [s for s in (line.strip() for line in text.splitlines()) if s]


@dataclass
class LineScores:
    docs: int
    lines_out: int
    lines_truth: int
    lines_matched: int
    precision: float
    recall: float
    unknown_ids: int  # published ids absent from the truth, not scored

    def as_dict(self) -> dict:
        return asdict(self)


def line_scores(published: Iterable[tuple[str, str]], truth_text: Mapping[str, str]) -> LineScores:
    """Micro-averaged line P/R of published texts against the truth articles of the same ids.

    Lines are compared as multisets of non-empty stripped lines; recall counts only the truth
    lines of the documents that were published, so dropped pages are dedup's business, not cleaning's.
    """
    docs = out = tru = matched = unknown = 0
    for doc_id, text in published:
        if doc_id not in truth_text:
            unknown += 1
            continue
        got = Counter(text_lines(text))
        want = Counter(text_lines(truth_text[doc_id]))
        docs += 1
        out += sum(got.values())
        tru += sum(want.values())
        matched += sum((got & want).values())
    precision = matched / out if out else float("nan")
    recall = matched / tru if tru else float("nan")
    return LineScores(docs, out, tru, matched, precision, recall, unknown)
