"""benchmarks/corpora.py: a cached corpus is replaced only by a generation that succeeded."""

from __future__ import annotations

import json
import sys

import pytest

from benchmarks.corpora import MARKER, corpus_dir, ensure_corpus

GENERATOR = '''
import argparse, gzip, json, sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
ap = argparse.ArgumentParser()
for name in ("--source", "--pages", "--seed", "--out", "--formats", "--shard-pages", "--profile"):
    ap.add_argument(name)
args = ap.parse_args()
if Path(args.source).read_text() == "fail":
    out = Path(args.out)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    (out / "raw" / "pages-00000.jsonl.gz").write_bytes(b"half a file")
    sys.exit(3)
out = Path(args.out)
(out / "raw").mkdir(parents=True, exist_ok=True)
with gzip.open(out / "raw" / "pages-00000.jsonl.gz", "wt") as f:
    f.write(json.dumps({"id": "p0", "text": "page text"}) + "\\n")
pq.write_table(pa.table({"id": ["p0"], "story": ["s0"], "text": ["story text"]}), out / "truth.parquet")
'''


@pytest.fixture
def fake_generator(tmp_path, monkeypatch):
    package = tmp_path / "modules" / "fakegen"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(GENERATOR)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "modules"))
    return "fakegen"


def test_a_failed_generation_leaves_the_cached_corpus_and_a_good_one_replaces_it(tmp_path, fake_generator):
    cache, source = tmp_path / "cache", tmp_path / "source.txt"
    source.write_text("ok")
    first = ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    root = corpus_dir(cache, 1, 0)
    assert first.root == root and json.loads((root / MARKER).read_text())["truth_pages"] == 1
    # The source changes (so the fingerprint does) and the generator fails: the old corpus stays.
    source.write_text("fail")
    with pytest.raises(RuntimeError, match="generator failed"):
        ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    assert (root / MARKER).exists() and (root / "truth.parquet").exists()
    assert json.loads((root / MARKER).read_text())["fingerprint"] == first.info["fingerprint"]
    # A generation that succeeds replaces it, and nothing is left beside it.
    source.write_text("ok again")
    again = ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    assert again.root == root and again.info["fingerprint"] != first.info["fingerprint"]
    assert sorted(p.name for p in root.parent.iterdir()) == [root.name]


def test_a_source_copied_afresh_with_the_same_bytes_keeps_the_cached_corpus(tmp_path, fake_generator):
    import os

    from benchmarks.corpora import legacy_fingerprint

    cache, source = tmp_path / "cache", tmp_path / "source.txt"
    source.write_text("ok")
    first = ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    generated = first.info["generated_at"]
    st = source.stat()
    os.utime(source, (st.st_atime, st.st_mtime + 3600))  # ../shared provisioned again: new mtime
    again = ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    assert again.info["generated_at"] == generated and again.info["fingerprint"] == first.info["fingerprint"]
    # A corpus stamped the old way (path, size, mtime) by this generator is restamped, not regenerated.
    marker = corpus_dir(cache, 1, 0) / MARKER
    info = json.loads(marker.read_text())
    info["fingerprint"] = legacy_fingerprint(fake_generator, source)
    marker.write_text(json.dumps(info))
    kept = ensure_corpus(cache, 1, 0, source, synth_module=fake_generator, log=lambda m: None)
    assert kept.info["generated_at"] == generated and kept.info["fingerprint"] == first.info["fingerprint"]
    assert json.loads(marker.read_text())["legacy_fingerprint"] == info["fingerprint"]
