"""The shard plan a resume depends on (issue 11): a corpus big for its workers is cut into many
shards of about the same work, so a kill loses little and a resumed pass ends evenly."""

from __future__ import annotations

import random

import pytest

from builders import readers
from builders.config import load_config
from builders.executors.local import LocalExecutor
from builders.readers import SHARDS_PER_WORKER, cost, plan_shards
from conftest import article, write_config, write_jsonl


@pytest.fixture
def small_floor(monkeypatch):
    """The plan's floor (4 MB pieces) scaled down with the test's corpus."""
    monkeypatch.setattr(readers, "MIN_PIECE", 1024)


def _plan(tmp_path, paths, workers=2):
    config = load_config(write_config(tmp_path, input={"paths": paths}, executor={"backend": "local", "workers": workers}))
    files = sorted(str(p) for p in tmp_path.glob("raw/*") if p.is_file())
    return plan_shards(config, files, LocalExecutor(1), workers), files


def test_many_equal_files_make_many_shards_of_one_file_each(tmp_path, small_floor):
    """64 gzipped files of the same size on 2 workers: 64 shards of one file, in order (the target
    falls just above a file's size, so the old rule, a shard closes once it reaches the target,
    made 32 shards of two; fewer shards per worker made fewer and larger ones)."""
    rnd = random.Random(3)
    for i in range(64):
        write_jsonl(tmp_path / "raw" / f"pages-{i:03d}.jsonl.gz",
                    [{"id": f"{i}-{j}", "text": article(rnd.randrange(1 << 30))} for j in range(20)])
    shards, files = _plan(tmp_path, ["raw/*.jsonl.gz"])
    assert [[p.path for p in s.pieces] for s in shards] == [[f] for f in files]


def test_unequal_files_are_grouped_to_about_the_target(tmp_path, small_floor):
    """Files of one and of three articles: no shard holds much more than the target, none but the
    last much less, and their number is about the corpus over the target."""
    rnd = random.Random(5)
    for i in range(90):
        write_jsonl(tmp_path / "raw" / f"p-{i:03d}.jsonl",
                    [{"id": f"{i}-{j}", "text": article(rnd.randrange(1 << 30))} for j in range(3 if i % 4 == 0 else 1)],
                    compress=False)
    shards, files = _plan(tmp_path, ["raw/*.jsonl"])
    assert [p.path for s in shards for p in s.pieces] == files  # every file once, in order
    total = sum(cost(p) for s in shards for p in s.pieces)
    target = total // (2 * SHARDS_PER_WORKER) + 1
    weights = [sum(cost(p) for p in s.pieces) for s in shards]
    assert max(weights) < 1.6 * target and min(weights[:-1]) > 0.45 * target, (target, weights)
    assert abs(len(shards) - total / target) <= 0.25 * total / target


def test_a_big_file_is_split_into_many_pieces_per_worker(tmp_path, small_floor):
    """One uncompressed JSON Lines file on 2 workers: about SHARDS_PER_WORKER pieces each, split on
    line boundaries, every line in exactly one piece."""
    rnd = random.Random(7)
    write_jsonl(tmp_path / "raw" / "big.jsonl", [{"id": str(j), "text": article(rnd.randrange(1 << 30))} for j in range(1500)],
                compress=False)
    shards, _ = _plan(tmp_path, ["raw/big.jsonl"])
    assert 1.5 * SHARDS_PER_WORKER <= len(shards) <= 2.5 * SHARDS_PER_WORKER
    data = (tmp_path / "raw" / "big.jsonl").read_bytes()
    pieces = [s.pieces[0] for s in shards]
    assert pieces[0].start == 0 and pieces[-1].stop is None
    assert all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))  # contiguous byte ranges
    assert all(p.first == data[:p.start].count(b"\n") for p in pieces)  # lines before each, counted once


def test_a_small_corpus_stays_in_few_shards(tmp_path):
    """Without the test floor: a few hundred kilobytes are one task, not dozens of tiny ones."""
    write_jsonl(tmp_path / "raw" / "a.jsonl.gz", [{"id": str(j), "text": article(j)} for j in range(300)])
    write_jsonl(tmp_path / "raw" / "b.jsonl.gz", [{"id": f"b{j}", "text": article(1000 + j)} for j in range(300)])
    shards, _ = _plan(tmp_path, ["raw/*.jsonl.gz"])
    assert len(shards) == 1
