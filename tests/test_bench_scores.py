"""Fast checks of the benchmark scorer and report writer on hand-computed cases (no peers, no timings)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is not part of the installed package, and the bare `pytest` script does not put the
# repository root on sys.path the way `python -m pytest` does.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402
from benchmarks.peers.common import UnionFind  # noqa: E402
from benchmarks.scores import line_scores, pair_scores, pair_scores_from_codes  # noqa: E402


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


# The bench extra (scikit-learn, psutil, matplotlib) may be absent where only the core is installed.
needs_sklearn = pytest.mark.skipif(bool(_missing("sklearn")), reason="scikit-learn (bench extra) not installed")
needs_runner = pytest.mark.skipif(bool(_missing("psutil", "yaml")), reason="psutil (bench extra) not installed")
needs_mpl = pytest.mark.skipif(bool(_missing("matplotlib")), reason="matplotlib (bench extra) not installed")


def comb2(k: int) -> int:
    return k * (k - 1) // 2


@needs_sklearn
def test_hand_case():
    # Pages 0..5. Truth stories a,a,a,b,b,c; predicted clusters 1,1,2,2,2,3.
    # Truth pairs: a -> (0,1) (0,2) (1,2); b -> (3,4); c -> none          = 4
    # Predicted pairs: 1 -> (0,1); 2 -> (2,3) (2,4) (3,4); 3 -> none      = 4
    # In both: (0,1) and (3,4)                                             TP = 2
    # FP = 4 - 2 = 2, FN = 4 - 2 = 2, TN = C(6,2) - 2 - 2 - 2 = 15 - 6 = 9
    # P = R = F1 = 2/4 = 0.5
    # ARI = 2(TP*TN - FN*FP) / ((TP+FN)(FN+TN) + (TP+FP)(FP+TN))
    #     = 2(18 - 4) / (4*11 + 4*11) = 28/88 = 7/22
    ids = [f"p{i}" for i in range(6)]
    s = pair_scores(ids, list("aaabbc"), ids, [1, 1, 2, 2, 2, 3])
    assert (s.truth_pairs, s.predicted_pairs, s.true_pairs) == (4, 4, 2)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.5)
    assert s.f1 == pytest.approx(0.5)
    assert s.ari == pytest.approx(7 / 22)
    assert (s.missing, s.extra) == (0, 0)


@needs_sklearn
def test_order_and_label_types_do_not_matter():
    ids = [f"p{i}" for i in range(6)]
    a = pair_scores(ids, list("aaabbc"), ids, [1, 1, 2, 2, 2, 3])
    # Same prediction listed in another order with string cluster labels.
    order = [5, 3, 0, 4, 1, 2]
    labels = {0: "x", 1: "x", 2: "y", 3: "y", 4: "y", 5: "z"}
    b = pair_scores(ids, list("aaabbc"), [ids[i] for i in order], [labels[i] for i in order])
    assert a == b


@needs_sklearn
def test_perfect():
    ids = list("abcdefg")
    truth = [0, 0, 1, 1, 1, 2, 3]
    s = pair_scores(ids, truth, ids, [9, 9, 7, 7, 7, 5, 4])
    assert (s.precision, s.recall, s.f1, s.ari) == (1.0, 1.0, 1.0, 1.0)


@needs_sklearn
def test_all_singletons_predicted():
    ids = list("abcde")
    s = pair_scores(ids, [0, 0, 0, 1, 1], ids, list(range(5)))
    # 3 + 1 truth pairs, none predicted: precision undefined, recall and F1 zero.
    assert s.truth_pairs == 4 and s.predicted_pairs == 0
    assert math.isnan(s.precision)
    assert s.recall == 0.0 and s.f1 == 0.0
    assert s.ari == pytest.approx(0.0)


@needs_sklearn
def test_no_duplicates_anywhere_is_perfect_agreement():
    ids = list("abc")
    s = pair_scores(ids, [0, 1, 2], ids, [0, 1, 2])
    assert math.isnan(s.precision) and math.isnan(s.recall)
    assert s.f1 == 1.0 and s.ari == 1.0


@needs_sklearn
def test_missing_ids_are_singletons_and_extras_ignored():
    ids = ["p1", "p2", "p3", "p4", "p5"]
    truth = ["s", "s", "t", "t", "t"]
    # p3 and p4 never reached dedup; p5 was clustered with p1 and p2; "zz" is unknown to the truth.
    # Predicted pairs: (p1,p2) (p1,p5) (p2,p5) = 3, true: (p1,p2) = 1.
    # Truth pairs: (p1,p2) (p3,p4) (p3,p5) (p4,p5) = 4. The two missing pages must not pair up.
    s = pair_scores(ids, truth, ["p1", "p2", "p5", "zz"], [7, 7, 7, 7])
    assert (s.truth_pairs, s.predicted_pairs, s.true_pairs) == (4, 3, 1)
    assert s.precision == pytest.approx(1 / 3)
    assert s.recall == pytest.approx(1 / 4)
    assert (s.missing, s.extra) == (2, 1)


@needs_sklearn
def test_null_cluster_is_singleton_and_duplicate_rows_keep_first():
    ids = ["a", "b", "c"]
    s = pair_scores(ids, [1, 1, 1], ["a", "b", "c", "c"], [None, None, 5, 0])
    # a and b have no cluster: singletons, so nothing is predicted.
    assert s.predicted_pairs == 0


def test_unique_truth_ids_required():
    with pytest.raises(ValueError):
        pair_scores(["a", "a"], [1, 1], ["a"], [1])


@needs_sklearn
def test_large_n_does_not_overflow():
    # 1,200,000 pages: truth is 1,200 stories of 1,000 pages, the prediction splits each story in
    # half and also merges stories 0 and 1. Ordered-pair counts reach ~1.4e12, far past int32.
    n, story, half = 1_200_000, 1000, 500
    idx = np.arange(n, dtype=np.int64)
    truth = idx // story
    pred = idx // half
    pred[pred == 2] = 0  # the first half of story 1 joins the first half of story 0
    truth_pairs = (n // story) * comb2(story)
    # Halves give 2,400 clusters of 500, then one of them absorbs another: 2,398 of 500 and one of 1,000.
    predicted_pairs = 2398 * comb2(half) + comb2(1000)
    true_pairs = (n // half) * comb2(half)  # every half is inside its story; the merge adds only false pairs
    total = comb2(n)
    tp, fp, fn = true_pairs, predicted_pairs - true_pairs, truth_pairs - true_pairs
    tn = total - tp - fp - fn
    ari = 2 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))

    s = pair_scores_from_codes(truth, pred)
    assert (s.truth_pairs, s.predicted_pairs, s.true_pairs) == (truth_pairs, predicted_pairs, true_pairs)
    assert s.precision == pytest.approx(tp / predicted_pairs)
    assert s.recall == pytest.approx(tp / truth_pairs)
    assert s.ari == pytest.approx(ari)

    # One giant story: sum of squared cluster sizes is n^2 = 1.44e12.
    s = pair_scores_from_codes(np.zeros(n, dtype=np.int64), idx // (n // 2))
    assert s.truth_pairs == comb2(n)
    assert s.true_pairs == 2 * comb2(n // 2)
    assert s.recall == pytest.approx(2 * comb2(n // 2) / comb2(n))
    assert s.precision == 1.0


def test_line_scores_hand_case():
    truth = {
        "d1": "Para one.\n\nPara two.\n\nPara two.",
        "d2": "Only line.",
    }
    published = [
        # d1 keeps chrome "Menu" and one of the two identical "Para two." lines, with stray spaces.
        ("d1", "Menu\n  Para one.  \nPara two.\n\n"),
        # d2 exactly right.
        ("d2", "Only line."),
        ("unknown", "whatever"),
    ]
    s = line_scores(published, truth)
    # Output lines 3 + 1 = 4; truth lines of published docs 3 + 1 = 4; matched 2 + 1 = 3.
    assert (s.docs, s.lines_out, s.lines_truth, s.lines_matched, s.unknown_ids) == (2, 4, 4, 3, 1)
    assert s.precision == pytest.approx(3 / 4)
    assert s.recall == pytest.approx(3 / 4)


def test_line_scores_empty():
    s = line_scores([], {})
    assert math.isnan(s.precision) and math.isnan(s.recall)


def test_union_find():
    uf = UnionFind()
    for _ in range(6):
        uf.add()
    uf.union(0, 1)
    uf.union(2, 3)
    uf.union(1, 3)
    assert len({uf.find(i) for i in range(4)}) == 1
    assert uf.find(4) != uf.find(5) != uf.find(0)


@needs_runner
def test_stage_rates_accepts_dict_or_list():
    from benchmarks.run import stage_rates

    d = stage_rates({"stages": {"ingest": {"docs_in": 100, "seconds": 2.0}, "odd": {"docs_in": 5}}})
    assert d[0] == {"name": "ingest", "docs_in": 100, "seconds": 2.0, "records_per_s": 50.0}
    assert d[1]["records_per_s"] is None
    lst = stage_rates({"stages": [{"name": "clean", "docs_in": 30, "seconds": 3}]})
    assert lst[0]["records_per_s"] == 10.0
    assert stage_rates({}) == []


def fake_results(size: int, date: str) -> dict:
    ok = {"status": "ok", "wall_seconds": 10.0, "peak_rss_bytes": 300 * 2**20}
    return {
        "schema": 1,
        "size": size,
        "seed": 0,
        "workers": 2,
        "command": f".venv/bin/python -m benchmarks.run --sizes {size}",
        "date": date,
        "load_before": [0.5, 0.4, 0.3],
        "machine": {
            "cpu_model": "Test CPU",
            "logical_cpus": 2,
            "physical_cpus": 1,
            "ram_gib": 24.0,
            "os": "Linux",
            "environments": {"runner": {"python": "3.11.7", "executable": "py", "packages": {"numpy": "2"}}},
        },
        "corpus": {"raw_pages": size, "stories": size // 3, "raw_files": 2},
        "runs": [
            {
                **ok,
                "system": "ours",
                "label": "our build",
                "variant": "raw",
                "load_before": [0.25, 0.2, 0.1],
                "docs_per_s": size / 10.0,
                "scores": {"f1": 0.9, "ari": 0.89, "precision": 0.95, "recall": 0.855},
                "cleaning": {
                    "docs": 10, "lines_out": 100, "lines_truth": 90, "lines_matched": 80,
                    "precision": 0.8, "recall": 80 / 90,
                },  # fmt: skip
                "stages": [{"name": "clean", "docs_in": size, "seconds": 2.0, "records_per_s": size / 2.0}],
            },
            {
                **ok,
                "system": "datatrove",
                "label": "datatrove",
                "variant": "raw",
                "docs_per_s": size / 40.0,
                "load_before": [1.75, 0.2, 0.1],
                "speed_ratio": 4.0,
                "scores": {"f1": 0.5, "ari": 0.49, "precision": None, "recall": 0.3},
            },
            {"system": "datatrove", "label": "datatrove", "variant": "clean", "status": "FAILED",
             "error": "ModuleNotFoundError: No module named 'spacy'"},  # fmt: skip
            {"system": "datasketch", "label": "datasketch", "variant": "raw", "status": "not run",
             "note": "not run above 1,000 pages"},  # fmt: skip
        ],
    }


@needs_mpl
def test_report_writer(tmp_path: Path):
    md = tmp_path / "docs" / "benchmarks.md"
    rdir = report.results_dir_for(md)
    assert rdir == tmp_path / "docs" / "benchmarks"
    rdir.mkdir(parents=True)
    (rdir / "results-10000.json").write_text(json.dumps(fake_results(10000, "2025-01-02 10:00 UTC")))
    (rdir / "results-1000.json").write_text(json.dumps(fake_results(1000, "2025-01-01 10:00 UTC")))
    report.write_report(md)
    text = md.read_text()

    assert text.index("## 1,000 pages") < text.index("## 10,000 pages")
    assert "| our build | raw | 0.900 | 0.890 | 0.950 | 0.855 | 1,000 | 300 MiB | — |" in text
    assert "| datatrove | raw | 0.500 | 0.490 | — | 0.300 | 250 | 300 MiB | 4.00× |" in text
    assert "FAILED: ModuleNotFoundError: No module named 'spacy'" in text
    assert "| datasketch | raw | not run above 1,000 pages |" in text
    assert "precision 0.800, recall 0.889" in text
    assert "| clean | 10,000 | 2.00 | 5,000 |" in text
    assert "`.venv/bin/python -m benchmarks.run --sizes 10000`" in text
    assert "1-minute load average before each run: 0.25 to 1.75 on 2 CPUs." in text
    assert "Test CPU; 2 logical CPUs" in text and "24.0 GiB RAM" in text
    assert "(2025-01-02 10:00 UTC, 10,000 pages)" in text  # machine from the latest run
    assert "![throughput and peak memory against corpus size](benchmarks-scaling.png)" in text
    png = report.plot_path_for(md)
    assert png == tmp_path / "docs" / "benchmarks-scaling.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_writer_without_results(tmp_path: Path):
    md = tmp_path / "benchmarks.md"
    report.write_report(md)
    assert "No results yet." in md.read_text()
    assert not report.plot_path_for(md).exists()


@needs_sklearn
def test_ari_agrees_with_scikit_learn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 300, size=5000)
    pred = np.where(rng.random(5000) < 0.8, truth, rng.integers(0, 5000, size=5000))
    assert pair_scores_from_codes(truth, pred).ari == pytest.approx(adjusted_rand_score(truth, pred), abs=1e-12)
