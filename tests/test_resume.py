"""Resume (issue 11): a real build killed with SIGKILL at several points and resumed gives the same
release as an uninterrupted one; a changed config or input redoes what it affects; leftovers;
resource failures (full disk, permissions, a read-only output, inputs changed mid-build)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from builders import release, workdir
from conftest import ROOT

SHARDS = 6


def corpus(*args, env=None, script=None) -> subprocess.CompletedProcess:
    """The `corpus` CLI in a subprocess (its own session, so a killed build's workers go with it);
    `script` runs first in that process (to put a failing writer in place)."""
    code = (script or "") + "\nimport sys\nfrom builders.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    full_env = {**os.environ, "COLUMNS": "250", **(env or {})}
    proc = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=full_env, cwd=str(ROOT), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # workers of a killed build, if any are left
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """900 generated pages in 6 files (one shard each), and a config building them."""
    folder = tmp_path_factory.mktemp("resume")
    subprocess.run([sys.executable, "-m", "builders.synth", "--source", str(ROOT / "builders/synth/data/sample_stories.jsonl"),
                    "--pages", "900", "--shard-pages", "150", "--out", str(folder / "gen"), "--seed", "11"],
                   check=True, capture_output=True, cwd=str(ROOT))
    config = {
        "name": "resume-test",
        "input": {"paths": [str(folder / "gen" / "raw" / "*.jsonl.gz")], "shard_size": 65536,
                  "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"}},
        "clean": {"record_lines": True},
        "dedup": {"exact": True, "minhash": {"threshold": 0.8}},
        "publish": {"output": str(folder / "unused"), "formats": ["parquet", "hf"], "max_shard_size": 60000},
        "executor": {"workers": 1},
    }
    (folder / "build.yaml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture(scope="module")
def reference(corpus_dir):
    """An uninterrupted build."""
    out = corpus_dir / "out"  # named as the tests' outputs: the card shows the output folder's name
    result = corpus("build", corpus_dir / "build.yaml", "--output", out, "--quiet")
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["shards"] == SHARDS  # the kill points below name shards of this plan
    assert len(list((out / "data").glob("*.parquet"))) > 1  # several release files: the same rows in the same files
    return out


def local_config(corpus_dir: Path, folder: Path) -> Path:
    """A copy of the inputs and the config in `folder`: the card shows input paths relative to the
    release's parent, so a release in `folder` compares with the reference only then."""
    shutil.copytree(corpus_dir / "gen", folder / "gen")
    config = yaml.safe_load((corpus_dir / "build.yaml").read_text())
    config["input"]["paths"] = [str(folder / "gen" / "raw" / "*.jsonl.gz")]
    (folder / "build.yaml").write_text(yaml.safe_dump(config))
    return folder / "build.yaml"


def _timeless_stats(path: Path) -> dict:
    stats = json.loads(path.read_text())
    for key in ("seconds", "phase_seconds", "workers"):
        stats.pop(key)
    for stage in stats["stages"].values():
        stage.pop("seconds")
    return stats


def assert_same_release(a: Path, b: Path) -> None:
    """Every file of the release byte for byte (manifest sha256), but for what an uninterrupted
    build also changes from run to run: the build time in the card, timings in stats.json and the
    random fingerprint `datasets` writes into hf/*/state.json."""
    files_a = json.loads((a / "manifest.json").read_text())["files"]
    files_b = json.loads((b / "manifest.json").read_text())["files"]
    assert sorted(files_a) == sorted(files_b)
    assert release.verify(b)[0] == []
    varying = {"stats.json", "README.md"} | {f for f in files_a if f.endswith("state.json")}
    differ = [f for f in files_a if f not in varying and files_a[f]["sha256"] != files_b[f]["sha256"]]
    assert differ == []
    assert _timeless_stats(a / "stats.json") == _timeless_stats(b / "stats.json")
    card = [[line for line in (f / "README.md").read_text().splitlines() if " UTC" not in line] for f in (a, b)]
    assert card[0] == card[1]
    for name in (f for f in files_a if f.endswith("state.json")):
        states = [json.loads((f / name).read_text()) for f in (a, b)]
        for state in states:
            state.pop("_fingerprint")
        assert states[0] == states[1]
    # And as tables: the same rows in the same files, the same clusters, the same rejects.
    parquet = sorted(f for f in files_a if f.endswith(".parquet"))
    assert any(f.startswith("dedup/clusters") for f in parquet) and any(f.startswith("rejected/") for f in parquet)
    for name in parquet:
        assert pq.read_table(a / name).equals(pq.read_table(b / name)), name


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(".out.building-"))


def reused(result) -> list[str]:
    prefix = "reused from the unfinished build: "
    return [line[len(prefix):].strip() for line in result.stdout.splitlines() if line.startswith(prefix)]


P0, P1, P2 = "pass 0 (ingest+clean)", "pass 1 (clean+dedup)", "pass 2 (dedup+clean)"
ALL = f"{SHARDS} of {SHARDS} shards"
PLAN = f"the shard plan ({SHARDS} shards)"
CHROME, CLUSTERS = "chrome lines (the reduce after pass 0)", "dedup clusters (the reduce after pass 1)"


@pytest.mark.parametrize("point, workers, expected", [
    ("pass0:2", 1, [PLAN, f"{P0}: 2 of {SHARDS} shards"]),          # during ingest and cleaning
    ("reduce0", 1, [PLAN, f"{P0}: {ALL}"]),                          # the repeated-line statistics' reduce
    ("pass1:3", 2, None),                                             # cleaning and dedup's map, two workers
    # the dedup reduce, killed after its first step: resumed from the next
    ("reduce1", 1, [PLAN, f"{P0}: {ALL}", CHROME, f"{P1}: {ALL}", f"{CLUSTERS[:-1]}): its finished steps scatter"]),
    ("pass2:1", 1, [PLAN, f"{P0}: {ALL}", CHROME, f"{P1}: {ALL}", CLUSTERS, f"{P2}: 1 of {SHARDS} shards"]),
    ("publish", 1, [PLAN, f"{P0}: {ALL}", CHROME, f"{P1}: {ALL}", CLUSTERS, f"{P2}: {ALL}"]),
])
def test_a_killed_build_resumes_to_the_release_of_an_uninterrupted_one(corpus_dir, reference, tmp_path, point, workers,
                                                                       expected):
    config = local_config(corpus_dir, tmp_path)
    out = tmp_path / "out"
    killed = corpus("build", config, "--output", out, "--quiet", "--workers", workers,
                    env={workdir.KILL_ENV: point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists()
    [work] = leftovers(tmp_path)
    if point.startswith("pass"):  # killed mid-write: the shard's file is there only under its temporary name
        k, shard = point[4:].split(":")
        final = work / "_work" / f"pass{k}" / f"part-{int(shard):05d}.parquet"
        assert final.with_name(f".{final.name}.part").exists() and not final.exists()
        assert not workdir.shard_marker(work, int(k), int(shard)).exists()

    resumed = corpus("build", config, "--output", out, "--resume", "--workers", 1)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming the unfinished build in {work}" in resumed.stderr
    assert "taking over the lock of a build that did not finish" in resumed.stderr and "no longer running" in resumed.stderr
    got = reused(resumed)
    if expected is None:  # two workers: which pass-1 shards finished before the kill varies
        assert got[:3] == [PLAN, f"{P0}: {ALL}", CHROME] and len(got) == 4 and got[3].startswith(f"{P1}: ")
        assert got[3] != f"{P1}: {ALL}"
    else:
        assert got == expected
    assert_same_release(reference, out)
    assert leftovers(tmp_path) == [] and not (tmp_path / ".out.lock").exists() and not (out / "_work").exists()


def _fail_publish(monkeypatch, late=False):
    """Fail the build once every pass and reduce is done (a disk that fills up while publishing):
    before any release file is written, or `late`, once the data files are."""
    from builders.stages import publish as publish_stage

    def full(*args, **kwargs):
        raise OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(publish_stage, "write_stats" if late else "publish", full)


def _in_process(corpus_dir, out, overrides=(), resume=False, notices=None):
    from builders.config import load_config
    from builders.pipeline import run_build

    config = load_config(corpus_dir / "build.yaml", list(overrides), output=str(out))
    return run_build(config, resume=resume, notice=(notices.append if notices is not None else lambda m: None))


def _reference(folder: Path, overrides=(), name="ref") -> Path:
    """A build from the start into folder/out (the name the card shows), moved aside to compare."""
    result = _in_process(folder, folder / "out", overrides)
    assert result.reused == []
    (folder / "out").rename(folder / name)
    return folder / name


def test_a_changed_config_redoes_exactly_the_passes_it_affects(corpus_dir, tmp_path, monkeypatch):
    from builders.errors import BuildError

    local_config(corpus_dir, tmp_path)
    low = _reference(tmp_path, ["dedup.minhash.threshold=0.6"], "low")
    big = _reference(tmp_path, ["publish.max_shard_size=90000"], "big")
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _fail_publish(patch)
        with pytest.raises(BuildError, match="no space left on the device") as failed:
            _in_process(tmp_path, out)
    assert failed.value.work_kept == leftovers(tmp_path)[0]
    # Dedup's threshold: the first pass and its reduce are reused, the rest redone.
    result = _in_process(tmp_path, out, ["dedup.minhash.threshold=0.6"], resume=True)
    assert result.reused == [PLAN, f"{P0}: {ALL}", CHROME]
    assert_same_release(low, out)
    # A clean setting is read by the first pass: nothing is reused (a run ending on a full disk again).
    with monkeypatch.context() as patch:
        _fail_publish(patch)
        with pytest.raises(BuildError):
            _in_process(tmp_path, out, ["clean.min_words=120"])
    result = _in_process(tmp_path, out, ["clean.min_words=150"], resume=True)
    assert result.reused == [PLAN]  # the plan depends on the input section only
    assert result.stats["stages"]["clean"]["dropped"]["too_short(<150 words)"] > 0
    # Publish settings are read by publish alone, which always runs again; the files the failed
    # publish wrote (more, smaller ones) are not taken into the release.
    with monkeypatch.context() as patch:
        _fail_publish(patch, late=True)
        with pytest.raises(BuildError):
            _in_process(tmp_path, out)
    result = _in_process(tmp_path, out, ["publish.max_shard_size=90000"], resume=True)
    assert result.reused == [PLAN, f"{P0}: {ALL}", CHROME, f"{P1}: {ALL}", CLUSTERS, f"{P2}: {ALL}"]
    assert_same_release(big, out)


def test_a_changed_input_redoes_its_shard_and_what_follows_and_never_reuses_stale_results(corpus_dir, tmp_path, monkeypatch):
    from builders.errors import BuildError

    local_config(corpus_dir, tmp_path)
    data = tmp_path / "gen"
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _fail_publish(patch)
        with pytest.raises(BuildError):
            _in_process(tmp_path, out)
    # A page of input 3 changes (its size barely): shard 3 and everything after the first reduce are redone.
    import gzip

    path = data / "raw" / "pages-00003.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    page = json.loads(lines[0])
    page["text"] = page["text"].replace(" the ", " THE ")
    lines[0] = json.dumps(page) + "\n"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    result = _in_process(tmp_path, out, resume=True)
    assert result.reused == [f"{P0}: {SHARDS - 1} of {SHARDS} shards"]
    assert result.stats["totals"]["read"] == 900
    published = pq.read_table(out / "data", columns=["id", "text"]).to_pylist()
    assert [d["text"].count(" THE ") for d in published if d["id"] == page["id"]] in ([], [page["text"].count(" THE ")])
    out.rename(tmp_path / "resumed")
    assert_same_release(_reference(tmp_path), tmp_path / "resumed")


def test_leftovers_of_a_dead_build_are_removed_with_a_notice(corpus_dir, tmp_path):
    config = local_config(corpus_dir, tmp_path)
    out = tmp_path / "out"
    killed = corpus("build", config, "--output", out, "--quiet", env={workdir.KILL_ENV: "reduce1"})
    assert killed.returncode == -signal.SIGKILL
    [work] = leftovers(tmp_path)
    size = workdir.folder_size(work)
    assert size > 100_000
    built = corpus("build", config, "--output", out, "--quiet")
    assert built.returncode == 0, built.stderr
    notices = built.stderr.strip().splitlines()
    assert notices[-1] == (f"removed {work} ({workdir.human(size)}), left by a build of {out} that did not finish; "
                           "--resume would have continued it")
    assert len(notices) == 2 and notices[0].startswith("taking over the lock")
    assert leftovers(tmp_path) == [] and release.verify(out)[0] == []
    # --resume with nothing to resume says so and builds from the start.
    again = corpus("build", config, "--output", out, "--quiet", "--resume")
    assert again.returncode == 0
    assert again.stderr.strip() == f"--resume: no unfinished build of {out} was found; building from the start"


def test_a_full_disk_is_one_line_keeps_the_release_and_the_work_which_resumes(corpus_dir, reference, tmp_path):
    """ENOSPC as Arrow raises it (no file name, errno in the text) on the 4th Parquet write of the
    second pass's shards: one line naming the file, exit 1, previous release untouched, resumable."""
    config = local_config(corpus_dir, tmp_path)
    out = tmp_path / "out"
    first = corpus("build", config, "--output", out, "--quiet", "--set", "dedup.minhash.threshold=0.7")
    assert first.returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    script = """
import pyarrow.parquet as pq
real, calls = pq.ParquetWriter.write_table, []
def write_table(self, table, *args, **kwargs):
    if "pass1" in str(getattr(self, "where", "")):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(28, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    return real(self, table, *args, **kwargs)
real_init = pq.ParquetWriter.__init__
def init(self, where, *args, **kwargs):
    real_init(self, where, *args, **kwargs)
    self.where = where
pq.ParquetWriter.__init__, pq.ParquetWriter.write_table = init, write_table
"""
    failed = corpus("build", config, "--output", out, "--quiet", script=script)
    assert failed.returncode == 1
    [work] = leftovers(tmp_path)
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in failed.stderr
    assert lines[0].startswith(f"error: cannot write {work}/_work/pass1")
    assert ".parquet: no space left on the device (disk full); finished work is kept in " in lines[0]
    assert lines[0].endswith(f"{work}: run the same command with --resume to continue")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (tmp_path / ".out.lock").exists()
    resumed = corpus("build", config, "--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert reused(resumed)[:3] == [PLAN, f"{P0}: {ALL}", CHROME]
    assert_same_release(reference, out)


FAIL_AT_SWAP = """
import errno, os, types
from builders import release
def rename(src, dst, *args, **kwargs):
    raise OSError(errno.{code}, os.strerror(errno.{code}), str(src))
release._exchange = lambda a, b: False
release.os = types.SimpleNamespace(**{{**vars(os), "rename": rename}})
"""


@pytest.mark.parametrize("code, what", [("EROFS", "read-only file system"), ("EACCES", "permission denied")])
def test_a_read_only_or_forbidden_output_is_one_line_and_the_work_resumes(corpus_dir, reference, tmp_path, code, what):
    """The release cannot be moved into place (a read-only file system, no write permission on
    the output's folder; raised by a wrapper, since this runs as root): one line naming OUT."""
    config = local_config(corpus_dir, tmp_path)
    out = tmp_path / "out"
    first = corpus("build", config, "--output", out, "--quiet", "--set", "publish.formats=[parquet]")
    assert first.returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    failed = corpus("build", config, "--output", out, "--quiet", script=FAIL_AT_SWAP.format(code=code))
    assert failed.returncode == 1
    [work] = leftovers(tmp_path)
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write {out}: {what}" if code == "EROFS"
                                                   else f"error: cannot access {out}: {what}")
    assert f"finished work is kept in {work}" in lines[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    resumed = corpus("build", config, "--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert reused(resumed) == [PLAN, f"{P0}: {ALL}", CHROME, f"{P1}: {ALL}", CLUSTERS, f"{P2}: {ALL}"]
    assert_same_release(reference, out)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_an_output_folder_without_write_permission_is_one_line(corpus_dir, tmp_path):
    config = local_config(corpus_dir, tmp_path)
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        failed = corpus("build", config, "--output", parent / "out", "--quiet")
    finally:
        parent.chmod(0o755)
    assert failed.returncode == 1
    assert failed.stderr.strip() == f"error: cannot access {parent}/.out.lock: permission denied"


@pytest.mark.parametrize("change", ["truncated", "deleted"])
def test_an_input_changed_during_the_build_fails_in_one_line_and_resumes(corpus_dir, reference, tmp_path, monkeypatch, change):
    """An input truncated or deleted after the build started (here: once shard 1 is done): the build
    stops naming it instead of publishing a release that silently lacks records."""
    from builders import pipeline
    from builders.errors import BuildError

    local_config(corpus_dir, tmp_path)
    data = tmp_path / "gen"
    victim = data / "raw" / "pages-00004.jsonl.gz"
    saved = victim.read_bytes()
    real = pipeline.run_pass

    def run_pass(task):
        report = real(task)
        if task.pass_index == 0 and task.index == 1:
            victim.write_bytes(saved[: len(saved) // 2]) if change == "truncated" else victim.unlink()
        return report

    monkeypatch.setattr(pipeline, "run_pass", run_pass)
    with pytest.raises(BuildError) as failed:
        _in_process(tmp_path, tmp_path / "out")
    message = str(failed.value)
    if change == "truncated":
        assert message == f"input {victim} changed during the build ({len(saved):,} -> {len(saved) // 2:,} bytes)"
    else:
        assert message == f"input {victim} was deleted during the build"
    assert failed.value.work_kept == leftovers(tmp_path)[0] and not (tmp_path / "out").exists()
    monkeypatch.setattr(pipeline, "run_pass", real)
    victim.write_bytes(saved)  # put back (a new mtime): the shards that did not read it are reused
    result = _in_process(tmp_path, tmp_path / "out", resume=True)
    assert result.reused == [f"{P0}: 4 of {SHARDS} shards"]  # shards 2 and 3 did not read it, and finished
    assert_same_release(reference, tmp_path / "out")


def test_a_workdir_elsewhere_holds_the_work_resumes_and_is_cleaned_up(corpus_dir, reference, tmp_path):
    """`workdir`: the intermediate files go to another folder (a scratch disk), the release is
    still assembled beside OUT; a killed build resumes from there to the same release, and nothing
    is left in either folder afterwards; a dead build's work there is removed with its leftovers."""
    config = local_config(corpus_dir, tmp_path)
    scratch = tmp_path / "scratch"
    out = tmp_path / "out"
    killed = corpus("build", config, "--output", out, "--quiet", "--set", f"workdir={scratch}",
                    env={workdir.KILL_ENV: "reduce1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [staging] = leftovers(tmp_path)
    [work] = list(scratch.iterdir())
    assert work.name.startswith("out.work-") and (staging / "_work").resolve() == work.resolve()
    assert list((work / "pass1").glob("part-*.parquet")) and not list(staging.glob("pass*"))
    resumed = corpus("build", config, "--output", out, "--resume", "--set", f"workdir={scratch}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{P1}: {ALL}" in reused(resumed)
    assert_same_release(reference, out)
    assert leftovers(tmp_path) == [] and list(scratch.iterdir()) == [] and not (out / "_work").exists()
    # A dead build's work in the workdir goes with its staging folder, and its size is counted.
    killed = corpus("build", config, "--output", out, "--quiet", "--overwrite", "--set", f"workdir={scratch}",
                    env={workdir.KILL_ENV: "reduce1"})
    assert killed.returncode == -signal.SIGKILL
    [staging] = leftovers(tmp_path)
    size = workdir.folder_size(staging)
    assert size > 100_000
    built = corpus("build", config, "--output", out, "--quiet", "--overwrite")
    assert built.returncode == 0, built.stderr
    assert f"removed {staging} ({workdir.human(size)})" in built.stderr
    assert list(scratch.iterdir()) == [] and leftovers(tmp_path) == []


def test_workdir_must_be_a_local_folder(tmp_path):
    from builders.config import validate
    from builders.errors import ConfigError

    raw = {"name": "x", "input": {"paths": ["a.jsonl"]}, "publish": {"output": "out"}, "workdir": "s3://bucket/work"}
    with pytest.raises((ConfigError, ValueError), match="workdir"):
        validate(raw)


def test_a_reduce_step_whose_files_changed_since_it_was_marked_is_done_again(tmp_path):
    from builders.stages.base import Phases

    model = tmp_path / "model"
    runs = []

    def step(name):
        def fn():
            runs.append(name)
            (model / name).mkdir(parents=True, exist_ok=True)
            (model / name / "part.bin").write_bytes(b"x" * 100)
        return fn

    first = Phases(model, plan="4 partitions")
    first.run("a", step("a"), [model / "a"])
    first.run("b", step("b"), [model / "b"])
    again = Phases(model, plan="4 partitions")
    again.run("a", step("a"), [model / "a"])
    again.run("b", step("b"), [model / "b"])
    assert runs == ["a", "b"] and again.reused == ["a", "b"]
    (model / "a" / "part.bin").write_bytes(b"x" * 10)  # truncated (a power loss before the flush)
    third = Phases(model, plan="4 partitions")
    third.run("a", step("a"), [model / "a"])
    third.run("b", step("b"), [model / "b"])  # reads a's files: done again too
    assert runs == ["a", "b", "a", "b"] and third.reused == []
    other = Phases(model, plan="2 partitions")  # laid out for another partition count
    other.run("a", step("a"), [model / "a"])
    assert runs[-1] == "a" and other.reused == []
