"""The release as its users meet it: one-line loading everywhere, a card that matches the data,
shards of the asked size, stable splits, a manifest that catches damage, atomic replacement."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import yaml

from builders import release
from builders.cli import main
from builders.config import load_config
from builders.errors import BuildError
from builders.pipeline import run_build
from builders.stages.publish import split_of
from conftest import ROOT, article, wire_dump, write_config, write_jsonl

SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def build(folder: Path, overrides=(), overwrite=False, **sections):
    return run_build(load_config(write_config(folder, **sections), list(overrides)), overwrite=overwrite)


def card_header(out: Path) -> dict:
    text = (out / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """One build with three splits, dedup on, a rejected document: the release the tests read."""
    folder = tmp_path_factory.mktemp("release")
    wire_dump(folder, stories=40, copies=1, files=3)
    result = build(folder, [f"publish.splits={json.dumps(SPLITS)}", "publish.license=cc-by-4.0", "executor.workers=2"])
    return folder, folder / "out", result


def test_every_loader_reads_the_same_rows_and_features(released, tmp_path):
    import datasets

    _, out, _ = released
    # A cache of this test's own: `datasets` keys its cache of a local folder by the files' mtimes.
    cache = str(tmp_path / "cache")
    from_card = datasets.load_dataset(str(out), cache_dir=cache)  # the card's configs, as the Hub reads the folder
    from_parquet = datasets.load_dataset("parquet", data_dir=str(out / "data"), cache_dir=cache)
    from_disk = datasets.load_from_disk(str(out / "hf"))
    assert set(from_card) == set(from_parquet) == set(from_disk) == set(SPLITS)
    frame = pd.read_parquet(out / "data")
    table = pads.dataset(out / "data", format="parquet").to_table()
    assert len(frame) == table.num_rows == sum(len(from_card[s]) for s in SPLITS) == 40
    features = from_card["train"].features
    for split in SPLITS:
        assert from_parquet[split].features == from_disk[split].features == features
        ids = from_card[split]["id"]
        assert ids == from_parquet[split]["id"] == from_disk[split]["id"]
        assert ids == [i for i in frame["id"] if split_of([i], SPLITS)[0] == sorted(SPLITS).index(split)]
        assert from_card[split].to_pandas().equals(from_disk[split].to_pandas())
    assert list(frame.columns) == list(features) == table.column_names
    assert not [c for c in frame.columns if c.startswith("_")]
    assert sorted(frame["id"]) == sorted(f"s{s}-c0" for s in range(40))  # one copy of each story
    # Every column says what it is, in the Parquet schema itself.
    schema = pq.read_schema(next((out / "data").glob("train-*.parquet")))
    assert all(f.metadata and f.metadata[b"description"] for f in schema)
    assert b"huggingface" in schema.metadata


def test_card_header_parses_and_matches_the_data(released):
    import datasets

    folder, out, _ = released
    header = card_header(out)
    assert header["license"] == "cc-by-4.0" and header["language"] == ["en"]
    assert header["size_categories"] == ["n<1K"] and header["task_categories"] == ["text-generation"]
    files = sorted((out / "data").iterdir())
    [config] = header["configs"]
    assert config["config_name"] == "default"
    for entry in config["data_files"]:
        matched = sorted(out.glob(entry["path"]))
        assert matched == [f for f in files if f.name.startswith(entry["split"] + "-")] and matched
    info = header["dataset_info"]
    assert datasets.Features._from_yaml_list(info["features"]) == datasets.load_from_disk(str(out / "hf"))["train"].features
    rows = {s["name"]: s["num_examples"] for s in info["splits"]}
    assert rows == {s: sum(pq.ParquetFile(f).metadata.num_rows for f in files if f.name.startswith(s + "-")) for s in SPLITS}
    assert info["download_size"] == sum(f.stat().st_size for f in files)
    arrow = {s: pq.read_table([f for f in files if f.name.startswith(s + "-")][0]).nbytes for s in SPLITS}
    # num_bytes is the split's size in Arrow memory (within the few bytes of validity buffers
    # Arrow may or may not allocate when it reads the file back).
    for entry in info["splits"]:
        assert abs(entry["num_bytes"] - arrow[entry["name"]]) <= arrow[entry["name"]] * 0.01
    assert info["dataset_size"] == sum(s["num_bytes"] for s in info["splits"])


def test_card_body_is_honest_and_portable(released):
    folder, out, result = released
    card = (out / "README.md").read_text(encoding="utf-8")
    # No path of the machine that built it: not the build folder, not the home or working folder.
    for local in {str(folder), str(folder.resolve()), os.path.expanduser("~"), os.getcwd(), str(ROOT)}:
        assert local not in card
    assert not re.search(r"(?<![\w.:/])/(?:tmp|home|work|root|Users|var)/", card)
    assert "paths: [raw/*.jsonl.gz]" in card and "output: out" in card
    # The funnel with every drop reason, from stats.json.
    stats = json.loads((out / "stats.json").read_text())
    for stage in stats["stages"].values():
        for reason, n in stage["dropped"].items():
            assert f"{reason}: {n:,}" in card
    assert f"| published | {stats['totals']['published']:,} |" in card
    # Inputs with their sizes and hashes.
    inputs = json.loads((out / "inputs.json").read_text())
    assert [i["path"] for i in inputs] == [f"pages-{f:05d}.jsonl.gz" for f in range(3)]
    for item in inputs:
        assert item["size"] == (folder / "raw" / item["path"]).stat().st_size
        assert f"`{item['sha256']}`" in card and item["sha256"] == release.sha256(folder / "raw" / item["path"])
    # Dedup outcome from the clusters actually written: 40 clusters of two, 40 copies dropped.
    assert "40 clusters of two or more documents; 40 copies dropped." in card and "| 2 | 40 |" in card
    assert "no story spans two splits" in card
    # Folders named exist; the ones that do not are not named.
    assert "quarantine/" not in card and not (out / "quarantine").exists()
    assert "`rejected/*.parquet`" in card and (out / "rejected").is_dir()
    for named in set(re.findall(r"`((?:data|hf|rejected|dedup|figures|quarantine|rejected-lines)/)", card)):
        assert (out / named).is_dir(), named
    # Every column of rejected files is documented, internal ones too; no other file has any.
    for path in (out / "rejected").glob("*.parquet"):
        for column in pq.read_schema(path).names:
            assert f"`{column}` (" in card
    for path in out.rglob("*.parquet"):
        if path.parent.name != "rejected":
            assert not [c for c in pq.read_schema(path).names if c.startswith("_")], path
    for column in pq.read_schema(out / "dedup" / "clusters.parquet").names:
        assert f"`{column}`" in card
    # Figures: real PNG files of the size the header says, referenced by the card.
    for name in ("languages.png", "lengths.png"):
        data = (out / "figures" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and f"](figures/{name})" in card
        width, height = np.frombuffer(data[16:24], ">u4")
        assert width == 640 and 40 < height < 1000
    # Samples are real published records.
    first = pd.read_parquet(out / "data" / "train-00000-of-00001.parquet")["id"][0]
    assert f'"id": "{first}"' in card


def test_manifest_lists_every_file_and_verify_catches_damage(released, tmp_path, capsys):
    import shutil

    _, out, _ = released
    manifest = json.loads((out / "manifest.json").read_text())
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(manifest["files"]) == on_disk
    assert all(len(v["sha256"]) == 64 for v in manifest["files"].values())
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert main(["verify", str(copy)]) == 0
    shard = copy / "data" / "train-00000-of-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    (copy / "data" / "test-00000-of-00001.parquet").unlink()
    (copy / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert f"{copy}/data/train-00000-of-00001.parquet: sha256 differs from the manifest's" in err
    assert f"{copy}/data/test-00000-of-00001.parquet: missing" in err
    assert err[-1].startswith("error: 2 of ")
    assert main(["verify", str(tmp_path)]) == 1  # not a release: one line
    assert "has no manifest.json" in capsys.readouterr().err


def test_publish_to_hub_uploads_the_verified_folder_in_one_commit(released, monkeypatch, capsys, tmp_path):
    import shutil

    import datasets
    from huggingface_hub.utils import filter_repo_objects

    _, out, _ = released
    calls = []
    remote = tmp_path / "remote"  # what the repository holds after the commit
    remote.mkdir()
    (remote / "data").mkdir()
    (remote / "data" / "train-00000-of-00009.parquet").write_text("a shard of an older release")

    class FakeApi:
        """Records the calls; applies the one commit to `remote` as the Hub would."""

        def create_repo(self, **kwargs):
            calls.append(("create_repo", kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            local = Path(kwargs["folder_path"])
            files = [p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()]
            upload = set(filter_repo_objects(files, allow_patterns=kwargs["allow_patterns"]))
            there = [p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()]
            for rel in filter_repo_objects(there, allow_patterns=kwargs["delete_patterns"]):
                if rel not in upload and rel != ".gitattributes":
                    (remote / rel).unlink()
            for rel in upload:
                (remote / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(local / rel, remote / rel)
            return type("CommitInfo", (), {"commit_url": "https://huggingface.co/datasets/me/news/commit/abc"})()

    monkeypatch.setattr(release, "hf_api", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    assert main(["publish", str(out), "--to-hub", "me/news", "--private"]) == 0
    assert "commit/abc" in capsys.readouterr().out
    (create, kwargs), (upload, up) = calls
    assert kwargs == {"repo_id": "me/news", "repo_type": "dataset", "private": True, "exist_ok": True, "token": "hf_test"}
    assert up["folder_path"] == str(out) and up["repo_id"] == "me/news" and up["repo_type"] == "dataset"
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(up["allow_patterns"]) == sorted(["manifest.json", *manifest["files"]])
    assert "README.md" in up["allow_patterns"] and up["delete_patterns"] == ["*"]
    # The repository now holds exactly the release: it verifies, the old shard is gone, and it
    # loads as the Hub would load it.
    assert release.verify(remote) == ([], [], len(manifest["files"]))
    assert not (remote / "data" / "train-00000-of-00009.parquet").exists()
    loaded = datasets.load_dataset(str(remote), cache_dir=str(tmp_path / "cache"))
    assert {s: len(loaded[s]) for s in loaded} == {s: len(d) for s, d in datasets.load_from_disk(str(out / "hf")).items()}
    # No token, or a bad repository id: one line, nothing called.
    calls.clear()
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert main(["publish", str(out), "--to-hub", "me/news"]) == 1
    assert "no Hugging Face token" in capsys.readouterr().err and not calls


def test_shards_are_cut_at_the_byte_target_whatever_the_workers(tmp_path):
    """200KB shards of a build of ~3 MB: every file but the last of a split within 10% of the
    target, and the same bytes with one worker or two and another input shard plan."""
    records = [{"id": f"d{i}", "text": article(i, paragraphs=6, words=60), "site": f"s{i % 9}.example",
                "crawled_at": "2021-01-01T00:00:00Z"} for i in range(1500)]
    for f in range(4):
        write_jsonl(tmp_path / "raw" / f"pages-{f:05d}.jsonl.gz", records[f::4])
    target = 200_000
    outputs = {}
    for workers, shard_size in ((1, "1GB"), (2, "64KiB")):
        out = tmp_path / f"out-{workers}"
        build(tmp_path, [f"publish.output={out}", f"executor.workers={workers}", f"publish.max_shard_size={target}",
                         "publish.splits={train: 0.9, test: 0.1}", "publish.formats=[parquet]", "dedup=false"],
              input={"paths": ["raw/*.jsonl.gz"], "shard_size": shard_size,
                     "fields": {"id": "id", "text": "text", "date": "crawled_at", "source": "site"}})
        outputs[workers] = {p.name: p.read_bytes() for p in sorted((out / "data").iterdir())}
    assert list(outputs[1]) == list(outputs[2])
    for name in outputs[1]:
        if outputs[1][name] != outputs[2][name]:
            one, two = (pq.read_table(tmp_path / f"out-{w}" / "data" / name) for w in (1, 2))
            differ = [c for c in one.column_names if not one[c].equals(two[c])]
            pytest.fail(f"{name}: {len(outputs[1][name])} and {len(outputs[2][name])} bytes; columns that differ: {differ}")
    names = list(outputs[1])
    train = [n for n in names if n.startswith("train-")]
    assert len(train) >= 4 and train[0] == f"train-00000-of-{len(train):05d}.parquet"
    for split in ("train", "test"):
        files = [n for n in names if n.startswith(split + "-")]
        for name in files[:-1]:
            assert abs(len(outputs[1][name]) - target) <= target * 0.1, (name, len(outputs[1][name]))
        assert len(outputs[1][files[-1]]) <= target * 1.1
    meta = pq.ParquetFile(tmp_path / "out-1" / "data" / train[0]).metadata
    assert meta.num_row_groups >= 5 and meta.row_group(0).column(1).compression == "ZSTD"
    assert sum(pq.ParquetFile(tmp_path / "out-1" / "data" / n).metadata.num_rows for n in names) == 1500


def test_shard_rows_caps_documents_per_file_evenly(tmp_path):
    wire_dump(tmp_path, stories=10, copies=0, files=2)
    build(tmp_path, ["publish.shard_rows=4", "publish.formats=[parquet]"])
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in sorted((tmp_path / "out" / "data").iterdir())]
    assert sizes == [4, 4, 2]  # as few files as 4 a file allows, equal but the last


def test_splits_are_stable_when_documents_are_added():
    ids = [f"doc-{i}" for i in range(20000)]
    before = split_of(ids, SPLITS)
    after = split_of(ids + [f"new-{i}" for i in range(5000)], SPLITS)
    assert (after[: len(ids)] == before).all()
    shares = np.bincount(before, minlength=3) / len(ids)
    assert np.allclose(shares, [SPLITS[s] for s in sorted(SPLITS)], atol=0.01)
    # The same shares written in another order give the same assignment.
    assert (split_of(ids, dict(reversed(list(SPLITS.items())))) == before).all()


def test_a_refresh_keeps_documents_in_their_split(tmp_path):
    wire_dump(tmp_path, stories=30, copies=0, files=1)
    splits = f"publish.splits={json.dumps(SPLITS)}"
    build(tmp_path, [splits, "dedup=false", "publish.formats=[parquet]"])
    first = {s: set(pd.read_parquet(tmp_path / "out" / "data", filters=None)["id"]) for s in ["all"]}
    where = {i: s for s in SPLITS for f in (tmp_path / "out" / "data").glob(f"{s}-*") for i in pq.read_table(f)["id"].to_pylist()}
    more = [{"id": f"extra-{i}", "text": article(9000 + i), "site": "x.example"} for i in range(30)]
    write_jsonl(tmp_path / "raw" / "pages-00009.jsonl.gz", more)
    build(tmp_path, [splits, "dedup=false", "publish.formats=[parquet]"])
    again = {i: s for s in SPLITS for f in (tmp_path / "out" / "data").glob(f"{s}-*") for i in pq.read_table(f)["id"].to_pylist()}
    assert first["all"] == set(where) and set(where) < set(again)
    assert {i: again[i] for i in where} == where


def test_a_rebuild_replaces_only_a_release_and_names_a_foreign_file(tmp_path):
    wire_dump(tmp_path, stories=3, copies=1, files=1)
    build(tmp_path, ["publish.formats=[parquet]"])
    out = tmp_path / "out"
    build(tmp_path, ["publish.formats=[parquet, hf]"])  # only the release's files there: replaced
    assert (out / "hf").is_dir()
    (out / "figures" / "notes.txt").write_text("my analysis")
    with pytest.raises(BuildError, match=r"is not a previous build: it holds figures/notes.txt, which its manifest"):
        build(tmp_path)
    assert (out / "figures" / "notes.txt").read_text() == "my analysis"
    (out / "figures" / "notes.txt").unlink()
    (out / "stats.json").write_text("{}")  # an edited release file counts as foreign too
    with pytest.raises(BuildError, match="it holds stats.json"):
        build(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    build(tmp_path, ["publish.formats=[parquet]"], overwrite=True)
    assert not (out / "hf").exists() and release.verify(out)[0] == []


def test_overwrite_from_the_command_line(tmp_path):
    from test_cli import assert_one_line_error, corpus

    wire_dump(tmp_path, stories=3, copies=1, files=1)
    config = write_config(tmp_path, publish={"output": "out", "formats": ["parquet"]})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert_one_line_error(corpus("build", str(config), "--quiet"), "it holds keep.txt", "--overwrite")
    result = corpus("build", str(config), "--quiet", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "out" / "keep.txt").exists()
    assert corpus("verify", str(tmp_path / "out")).returncode == 0


KILLER = """
import os, signal, sys
from builders import release
from builders.stages import publish
from builders.config import load_config
from builders.pipeline import run_build

point = sys.argv[2]
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
if point == "shard":  # in the middle of writing the Parquet shards
    real = publish._SplitWriter._flush
    calls = []
    def flush(self):
        real(self)
        calls.append(1)
        if len(calls) == 3:
            die()
    publish._SplitWriter._flush = flush
elif point == "manifest":  # writing the manifest, the release's last file
    def partial(folder, name=""):
        (folder / "manifest.json").write_text('{"files": {')
        die()
    release.write_manifest = partial
elif point == "swap":  # everything written and flushed, just before the exchange
    release._exchange = die
elif point == "fsync":  # everything written, flushing it to disk before the rename
    release.fsync_tree = die
run_build(load_config(sys.argv[1], ["publish.max_shard_size=20000", "publish.formats=[parquet, hf]"]))
"""


@pytest.mark.parametrize("point", ["shard", "manifest", "swap"])
def test_a_build_killed_during_publish_leaves_the_previous_release_whole(tmp_path, point):
    wire_dump(tmp_path, stories=20, copies=1, files=2)
    config = write_config(tmp_path)
    run_build(load_config(config, ["publish.formats=[parquet]"]))
    out = tmp_path / "out"
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    write_jsonl(tmp_path / "raw" / "pages-00005.jsonl.gz", [{"id": f"n{i}", "text": article(700 + i)} for i in range(50)])
    killed = subprocess.run([sys.executable, "-c", KILLER, str(config), point], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert release.verify(out)[0] == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.building-")]  # the killed build's leftovers


def test_a_first_build_killed_during_publish_leaves_no_output(tmp_path):
    wire_dump(tmp_path, stories=20, copies=1, files=2)
    config = write_config(tmp_path)
    killed = subprocess.run([sys.executable, "-c", KILLER, str(config), "fsync"], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "out").exists()
    # The next build is not confused by the killed one's leftovers.
    run_build(load_config(config))
    assert release.verify(tmp_path / "out")[0] == []
