"""The shipped sample through the real command: one clean document per story, junk rejected."""

from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pytest

from conftest import ROOT
from test_cli import corpus_command


@pytest.fixture(scope="module")
def sample_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "news-sample"
    result = subprocess.run(corpus_command() + ["build", str(ROOT / "configs" / "news-sample.yaml"), "--output", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


def test_every_story_is_published_once_and_junk_is_rejected(sample_build):
    out, _ = sample_build
    truth = pd.read_parquet(ROOT / "data" / "sample" / "truth.parquet")
    published = pd.read_parquet(out / "data").merge(truth[["id", "story", "kind"]], on="id")
    stories = truth.loc[truth["kind"] != "junk", "story"]
    assert sorted(published["story"]) == sorted(stories.unique())  # each story exactly once
    assert not (published["kind"] == "junk").any()
    rejected = pd.read_parquet(out / "rejected")
    junk = set(truth.loc[truth["kind"] == "junk", "id"])
    assert junk <= set(rejected["id"])
    # Every dropped copy names a published survivor of the same story.
    copies = rejected[rejected["stage"] == "dedup"].merge(truth[["id", "story"]], on="id")
    survivors = truth.set_index("id")["story"]
    assert (copies["duplicate_of"].map(survivors) == copies["story"]).all()
    assert set(copies["duplicate_of"]) <= set(published["id"])


def test_follow_ups_are_not_taken_for_copies(sample_build):
    out, _ = sample_build
    truth = pd.read_parquet(ROOT / "data" / "sample" / "truth.parquet")
    follow_ups = set(truth.loc[truth["kind"] == "followup", "id"])
    assert follow_ups and follow_ups <= set(pd.read_parquet(out / "data")["id"])


def test_counts_reconcile_and_match_the_readme(sample_build):
    out, stdout = sample_build
    totals = json.loads((out / "stats.json").read_text())["totals"]
    assert totals["reconciled"] and totals["read"] == 300
    assert totals["read"] == totals["published"] + totals["rejected"] + totals["quarantined"]
    readme = (ROOT / "README.md").read_text()
    stale = "README's worked example is stale: rebuild the sample and update it"
    line = re.search(r"read \d+ = published \d+ \+ rejected \d+ \+ quarantined \d+", stdout).group(0)
    assert line in readme, stale
    stages = json.loads((out / "stats.json").read_text())["stages"]
    for stage in ("clean", "dedup"):
        for reason, count in stages[stage]["dropped"].items():
            assert re.search(rf"{re.escape(reason)}: {count} +│", readme), stale


def test_loads_with_pandas_and_datasets(sample_build):
    import datasets

    out, _ = sample_build
    n = len(pd.read_parquet(out / "data"))
    assert len(datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train")) == n
    assert len(datasets.load_from_disk(str(out / "hf"))["train"]) == n  # a DatasetDict, one entry per split
