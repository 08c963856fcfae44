"""Fast checks of the benchmark harness plumbing: process-tree memory sampling, clean twin shards, config."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("psutil", "yaml")), reason="psutil (bench extra) not installed"
)

MIB = 2**20


def test_peak_rss_counts_child_processes(tmp_path: Path):
    from benchmarks.proc import run_measured

    # The parent stays small; only its child touches 150 MiB, so the peak must come from the tree.
    child = "x = b'x' * (150 * 2**20); import time; time.sleep(0.6)"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], check=True)"
    m = run_measured([sys.executable, "-c", parent], tmp_path, "tree")
    assert m.returncode == 0
    assert m.peak_rss_bytes > 150 * MIB
    assert m.samples >= 2


def test_failed_command_reports_its_last_error_line(tmp_path: Path):
    from benchmarks.proc import run_measured

    m = run_measured([sys.executable, "-c", "import sys; print('noise', file=sys.stderr); sys.exit('boom: bad')"],
                     tmp_path, "fail")  # fmt: skip
    assert m.returncode == 1
    assert m.error_line() == "boom: bad"


def test_shard_sizes():
    from benchmarks.corpora import shard_pages_for

    assert shard_pages_for(1000) == 500  # two shards so two workers both get a file
    assert shard_pages_for(10_000) == 2500
    assert shard_pages_for(1_000_000) == 15625  # capped at 64 shards


def test_clean_twin_mirrors_raw_shards(tmp_path: Path):
    from benchmarks.corpora import write_clean_twin

    raw = tmp_path / "raw"
    raw.mkdir()
    shards = [["b", "a"], ["c"]]
    for i, ids in enumerate(shards):
        with gzip.open(raw / f"pages-{i:05d}.jsonl.gz", "wt") as fh:
            for doc_id in ids:
                fh.write(json.dumps({"id": doc_id, "text": f"chrome\n{doc_id} body\nfooter"}) + "\n")
    pq.write_table(
        pa.table({"id": ["a", "b", "c"], "story": ["s1", "s1", "s2"], "text": ["A body", "B body", ""]}),
        tmp_path / "truth.parquet",
    )
    counts = write_clean_twin(tmp_path, sorted(raw.glob("*.jsonl.gz")))
    assert counts == [2, 1]
    got = [
        [json.loads(line) for line in gzip.open(tmp_path / "clean" / f"pages-{i:05d}.jsonl.gz", "rt")]
        for i in range(2)
    ]
    assert got == [[{"id": "b", "text": "B body"}, {"id": "a", "text": "A body"}], [{"id": "c", "text": ""}]]


def test_build_config_matches_the_documented_shape(tmp_path: Path):
    from benchmarks.corpora import Corpus
    from benchmarks.run import build_config

    cfg = build_config(Corpus(tmp_path, 1000, 0, {}), tmp_path / "out", 2)
    assert cfg["input"]["paths"] == [str(tmp_path / "raw" / "*.jsonl.gz")]
    assert cfg["input"]["fields"]["date"] == "crawled_at" and cfg["input"]["fields"]["source"] == "site"
    assert cfg["dedup"]["minhash"] == {"threshold": 0.8, "num_perm": 128, "ngram": 5}
    assert cfg["executor"] == {"backend": "local", "workers": 2}
    assert cfg["publish"] == {"output": str(tmp_path / "out"), "formats": ["parquet"]}


def test_datasketch_shingles():
    from benchmarks.peers.datasketch_minhash import shingles

    assert shingles("A b c d e F") == {"a b c d e", "b c d e f"}
    assert shingles("too short") == {"too short"}
    assert shingles("   ") == set()


def test_the_report_keeps_sections_other_scripts_wrote(tmp_path: Path):
    from benchmarks import report

    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\nold generated text\n\n## Resume\n\nresume figures\n\n## Ray\n\nray figures\n")
    report.write_report(md)
    text = md.read_text()
    assert "old generated text" not in text  # the generated part is rebuilt
    assert text.endswith("## Resume\n\nresume figures\n\n## Ray\n\nray figures\n")
    report.write_report(md)
    assert md.read_text() == text  # and a rewrite keeps it once, not twice
