"""`publish.output` as an fsspec URL: the release is assembled in a local staging folder and
uploaded, manifest.json last. `memory://` (fsspec's in-memory filesystem, in this process) stands
for an object store; `file://` URLs are local folders. The release read back through fsspec equals
the same build published to a local folder; a foreign prefix is refused, an interrupted upload is
recognised and replaced (and resumed), and a bad URL is one line with nothing published."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest
import yaml

from builders import release, workdir
from builders.cli import main
from builders.config import load_config
from builders.errors import BuildError
from builders.pipeline import run_build
from conftest import wire_dump, write_config

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A small wire dump, a config, and the test's folder as the current directory (where a URL
    output's release is staged when the config sets no workdir)."""
    wire_dump(tmp_path, stories=5, copies=2, files=2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def url():
    """A fresh memory:// prefix, removed afterwards (the in-memory filesystem is per process)."""
    address = f"memory://corpus-test-{uuid.uuid4().hex[:8]}/corpora/news"
    yield address
    fs, root = fsspec.core.url_to_fs(address)
    if fs.exists(root):
        fs.rm(root, recursive=True)


def build(folder: Path, output: str, workers: int = 1, formats=("parquet",), **extra):
    config = write_config(folder, publish={"output": output, "formats": list(formats), "shard_rows": 4},
                          executor={"backend": "local", "workers": workers}, **extra)
    return load_config(config)


def read_local(out: Path) -> dict:
    return read_fs(fsspec.filesystem("file"), str(out))


def read_fs(fs, root: str) -> dict:
    """What must not depend on where the release went: each data file's name and ids (and whole
    table), the stats counts, the card's YAML header, the rejected ids, the manifest's file list."""
    root = root.rstrip("/")
    data = sorted(fs.glob(f"{root}/data/*.parquet"))
    tables = [pq.read_table(path, filesystem=fs) for path in data]
    stats = json.loads(fs.cat_file(f"{root}/stats.json"))
    card = fs.cat_file(f"{root}/README.md").decode("utf-8")
    manifest = json.loads(fs.cat_file(f"{root}/manifest.json"))
    rejected = sorted(r["id"] for path in sorted(fs.glob(f"{root}/rejected/*.parquet"))
                      for r in pq.read_table(path, filesystem=fs, columns=["id"]).to_pylist())
    return {
        "files": [(path.rsplit("/", 1)[-1], t.column("id").to_pylist()) for path, t in zip(data, tables)],
        "tables": tables,
        "stages": {k: {n: v for n, v in s.items() if n != "seconds"} for k, s in stats["stages"].items()},
        "totals": stats["totals"],
        "header": yaml.safe_load(card.split("---")[1]),
        "rejected": rejected,
        "manifest": sorted(manifest["files"]),
        "fs": fs, "root": root, "manifest_files": manifest["files"],
    }


def assert_same(a: dict, b: dict) -> None:
    assert a["files"] == b["files"] and len(a["files"]) >= 2
    assert all(x.equals(y) for x, y in zip(a["tables"], b["tables"]))
    assert a["stages"] == b["stages"]
    assert a["totals"] == b["totals"] and a["totals"]["reconciled"] and a["totals"]["published"] > 0
    assert a["header"] == b["header"]
    assert a["rejected"] == b["rejected"] and a["rejected"]
    assert a["manifest"] == b["manifest"]


def assert_whole(fs, root: str) -> None:
    """Every file the remote manifest lists is there with its size and sha256, and nothing else."""
    manifest = json.loads(fs.cat_file(f"{root}/manifest.json"))
    present = {p[len(root) + 1:] for p in fs.find(root)}
    assert present == set(manifest["files"]) | {"manifest.json"}
    for rel, entry in manifest["files"].items():
        blob = fs.cat_file(f"{root}/{rel}")
        assert len(blob) == entry["size"] and hashlib.sha256(blob).hexdigest() == entry["sha256"], rel


def test_a_build_to_a_memory_url_equals_the_local_build(project, url):
    local = run_build(build(project, "out-local", formats=("parquet", "hf")))
    result = run_build(build(project, url, workers=2, formats=("parquet", "hf")))  # the upload runs in the driver: the pool never sees the URL
    assert result.output == url and result.files and all(f.startswith(url + "/data/") for f in result.files)
    fs, root = fsspec.core.url_to_fs(url)
    remote = read_fs(fs, root)
    assert_same(remote, read_local(project / "out-local"))
    assert_whole(fs, root)
    assert "hf/dataset_dict.json" in remote["manifest"]
    assert result.stats["totals"] == local.stats["totals"]
    # The staging folder (./.corpus-staging by default) is gone, and so is the lock.
    assert [p.name for p in (project / ".corpus-staging").iterdir()] == []
    # The card shows the output by its name and no path of this machine.
    card = fs.cat_file(f"{root}/README.md").decode()
    assert "output: news" in card and str(project) not in card


def test_verify_checks_a_release_at_a_url(project, url, capsys):
    run_build(build(project, url))
    fs, root = fsspec.core.url_to_fs(url)
    assert main(["verify", url]) == 0
    count = len(json.loads(fs.cat_file(f"{root}/manifest.json"))["files"])
    assert capsys.readouterr().out.strip() == f"ok: {count} files match {url}/manifest.json"
    data = sorted(fs.glob(f"{root}/data/*.parquet"))[0]
    blob = bytearray(fs.cat_file(data))
    blob[100] ^= 0xFF  # same size, other bytes
    fs.pipe_file(data, bytes(blob))
    fs.pipe_file(f"{root}/notes.txt", b"mine")
    assert main(["verify", url]) == 1
    out, err = capsys.readouterr()
    name = data.rsplit("/", 1)[-1]
    assert err.splitlines() == [f"{url}/data/{name}: sha256 differs from the manifest's",
                                f"error: 1 of {count} files do not match {url}/manifest.json"]
    assert out.strip() == f"not in the manifest (ignored): {url}/notes.txt"
    assert main(["verify", "nosuchfs://x/y"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot read nosuchfs://x/y: ValueError: Protocol not known")


def test_a_file_url_is_a_local_folder(project):
    out = project / "out-file"
    run_build(build(project, "out-local"))
    config = build(project, f"file://{out}")
    assert config.publish.output == str(out)
    run_build(config)
    fs, root = fsspec.core.url_to_fs(f"file://{out}")
    assert_same(read_fs(fs, root), read_local(project / "out-local"))
    # --output takes a file:// URL too.
    assert main(["build", str(project / "build.yaml"), "--quiet", "--output", f"file://{project}/out-cli"]) == 0
    assert_same(read_local(project / "out-cli"), read_local(project / "out-local"))


def test_a_rebuild_replaces_the_release_and_a_foreign_prefix_is_refused(project, url, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    config = build(project, url, workdir=str(scratch))
    run_build(config)
    fs, root = fsspec.core.url_to_fs(url)
    first = read_fs(fs, root)
    # Staged in the workdir, not in the current directory; nothing left there after publishing.
    assert not (project / ".corpus-staging").exists() and list(scratch.iterdir()) == []

    # A file the release does not list: refused before any work, nothing touched.
    manifest = fs.cat_file(f"{root}/manifest.json")
    fs.pipe_file(f"{root}/data/train-00099-of-00100.parquet", b"x")
    with pytest.raises(BuildError, match=r"is not a previous build: it holds data/train-00099-of-00100.parquet, "
                                         r"which its manifest.json does not list"):
        run_build(config)
    assert fs.cat_file(f"{root}/manifest.json") == manifest and not fs.exists(f"{root}/{release.PUBLISHING}")
    run_build(config, overwrite=True)
    assert_whole(fs, root)  # the foreign file went with --overwrite

    # A plain rebuild of a release replaces it (a smaller shard_rows: other file names).
    config = config.model_copy(update={"publish": config.publish.model_copy(update={"shard_rows": 2})})
    run_build(config)
    assert_whole(fs, root)
    assert len(read_fs(fs, root)["files"]) > len(first["files"])

    # A prefix holding anything without a manifest is refused.
    other = url + "-other"
    fs.pipe_file(fsspec.core.url_to_fs(other)[1] + "/notes.txt", b"mine")
    with pytest.raises(BuildError, match=r"is not a previous build: it holds notes.txt, and no manifest.json"):
        run_build(build(project, other))
    assert fs.find(fsspec.core.url_to_fs(other)[1]) == [fsspec.core.url_to_fs(other)[1] + "/notes.txt"]


def test_an_interrupted_upload_leaves_no_release_and_the_resumed_build_replaces_it(project, url, monkeypatch, capsys):
    run_build(build(project, "out-local"))
    config = build(project, url)
    run_build(config)
    fs, root = fsspec.core.url_to_fs(url)

    calls = []
    put = type(fs).put_file

    def failing(self, lpath, rpath, *args, **kwargs):
        calls.append(rpath)
        if len(calls) == 4:
            raise ConnectionError("the network went away")
        return put(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(type(fs), "put_file", failing)
    config = config.model_copy(update={"publish": config.publish.model_copy(update={"shard_rows": 3})})
    with pytest.raises(workdir.ResourceError) as failed:
        run_build(config)
    message = str(failed.value)
    assert message.startswith(f"uploading the release to {url} failed: ConnectionError: the network went away")
    assert len(message.splitlines()) == 1
    # No manifest: no complete release; the upload's note says what may be there.
    assert not fs.exists(f"{root}/manifest.json") and fs.exists(f"{root}/{release.PUBLISHING}")
    assert main(["verify", url]) == 1  # no complete release there, and it says why
    assert capsys.readouterr().err == (f"error: {url} has no manifest.json: a release is being uploaded there, "
                                       "or its upload did not finish\n")
    kept = failed.value.work_kept
    assert kept is not None and kept.parent == project / ".corpus-staging" and workdir.resumable(kept)

    monkeypatch.setattr(type(fs), "put_file", put)
    result = run_build(config, resume=True, notice=lambda message: None)
    assert result.reused  # the finished passes were reused
    assert_whole(fs, root)
    again = read_fs(fs, root)
    local = read_local(project / "out-local")
    assert again["totals"] == local["totals"] and again["stages"] == local["stages"]
    assert sorted(i for _, ids in again["files"] for i in ids) == sorted(i for _, ids in local["files"] for i in ids)


def test_one_build_per_url_output(project, url):
    config = build(project, url)
    with workdir.BuildLock(release.local_stand_in(url, None)):
        with pytest.raises(BuildError, match="is being built by another build"):
            run_build(config)
    fs, root = fsspec.core.url_to_fs(url)
    assert not fs.exists(root)


def test_keep_work_keeps_the_local_copy_of_the_uploaded_release(project, url):
    run_build(build(project, url), keep_work=True)
    kept = release.local_stand_in(url, None)
    assert (kept / "_work").is_dir() and (kept / "manifest.json").is_file()
    fs, root = fsspec.core.url_to_fs(url)
    assert not fs.exists(f"{root}/_work")
    assert_whole(fs, root)
    run_build(build(project, url))  # a later build without it removes the kept copy
    assert not kept.exists()


@pytest.mark.parametrize("output, fragment", [
    ("nosuchfs://bucket/corpora/news", "nosuchfs:// is not a filesystem fsspec knows"),
    ("s3://bucket/corpora/news", "s3:// needs a package that is not installed here (Install s3fs"),
    ("memory://", "names no folder"),
])
def test_a_bad_url_is_one_line_and_nothing_is_published(project, capsys, output, fragment):
    if output.startswith("s3://"):
        try:
            import s3fs  # noqa: F401
            pytest.skip("s3fs is installed here")
        except ImportError:
            pass
    write_config(project)
    code = main(["build", str(project / "build.yaml"), "--quiet", "--output", output])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("config error: ") and f"publish.output: '{output}' is not allowed: " in err and fragment in err
    assert not (project / ".corpus-staging").exists() and not (project / "out").exists()


def test_a_url_dedup_index_is_refused_in_one_line(project, capsys):
    write_config(project)
    code = main(["build", str(project / "build.yaml"), "--quiet", "--set", "dedup.index=memory://x/index"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "dedup.index: 'memory://x/index' is not allowed: must be a folder on this machine" in err
    assert "memory-mapped" in err and not (project / "out").exists()


def test_a_url_that_cannot_be_read_fails_before_any_work(project, url, monkeypatch, capsys):
    fs, _ = fsspec.core.url_to_fs(url)

    def denied(self, path, **kwargs):
        raise PermissionError("Access Denied")

    write_config(project)
    with monkeypatch.context() as patch:
        patch.setattr(type(fs), "exists", denied)  # what credentials without access look like
        assert main(["build", str(project / "build.yaml"), "--quiet", "--output", url]) == 1
    err = capsys.readouterr().err
    assert err == f"error: publish.output: cannot read {url}: PermissionError: Access Denied\n"
    staged = project / ".corpus-staging"  # the lock was taken and released; no build folder was made
    assert not any(".building-" in p.name for p in staged.iterdir())
