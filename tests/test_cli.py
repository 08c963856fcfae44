"""The `corpus` command through its real entry point: exit codes, one-line errors, documented options."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from builders.cli import make_parser
from builders.config import BuildConfig
from conftest import ROOT, wire_dump, write_config


def corpus_command() -> list[str]:
    script = Path(sys.executable).parent / "corpus"
    if script.exists():
        return [str(script)]
    found = shutil.which("corpus")
    if found is None:
        pytest.fail("the `corpus` console script is not installed; run pip install -e .")
    return [found]


def corpus(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(corpus_command() + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture
def project(tmp_path):
    wire_dump(tmp_path, stories=3, copies=2, files=2)
    return tmp_path, write_config(tmp_path)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_build_with_overrides(project):
    folder, config = project
    result = corpus("build", str(config), "--set", "dedup.minhash.threshold=0.7", "--set", "publish.formats=[parquet]",
                    "--output", "elsewhere", "--workers", "2", cwd=folder)
    assert result.returncode == 0, result.stderr
    stats = json.loads((folder / "elsewhere" / "stats.json").read_text())
    assert stats["workers"] == 2 and stats["totals"]["published"] == 3 and stats["totals"]["reconciled"]
    assert "threshold: 0.7" in (folder / "elsewhere" / "README.md").read_text()
    assert not (folder / "elsewhere" / "hf").exists()
    # The summary table names every stage and the reconciliation line adds up.
    for stage in ("ingest", "clean", "dedup", "publish"):
        assert stage in result.stdout
    assert re.search(r"read 10 = published 3 \+ rejected 7 \+ quarantined 0", result.stdout)


def test_quiet_build_prints_nothing(project):
    folder, config = project
    result = corpus("build", str(config), "--quiet")
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
    assert (folder / "out" / "data" / "train-00000-of-00001.parquet").exists()


def test_config_command_prints_effective_config(project):
    _, config = project
    result = corpus("config", str(config), "--set", "dedup.minhash=false")
    assert result.returncode == 0
    effective = BuildConfig.model_validate(yaml.safe_load(result.stdout))
    assert effective.dedup.minhash is None and effective.executor.workers == 1


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--set", "dedup.minhash.treshold=0.7"], ["config error", "dedup.minhash.treshold: unknown key"]),
        (["--set", "dedup.minhash.threshold=lots"], ["config error", "dedup.minhash.threshold", "'lots'"]),
        (["--set", "input.paths=[nowhere/*.jsonl]"], ["config error", "input.paths", "matched no files"]),
        (["--set", "input.paths=[missing.jsonl]"], ["config error", "input.paths", "does not exist"]),
        (["--set", "executor.workers=-1"], ["config error", "executor.workers"]),
        (["--set", "input.paths=[nosuchproto://bucket/*.jsonl]"], ["config error", "input.paths", "nosuchproto"]),
        (["--set", "input.format=docx"], ["config error", "input.format", "must be one of auto, csv"]),
        (["--set", "input.keep=[url]"], ["config error", "input", "the builder owns"]),
    ],
)
def test_bad_config_fails_fast_with_one_line(project, args, fragments):
    folder, config = project
    result = corpus("build", str(config), *args)
    assert result.returncode == 2
    assert_one_line_error(result, *fragments)
    assert not (folder / "out").exists()


def test_missing_config_file(tmp_path):
    assert_one_line_error(corpus("build", str(tmp_path / "absent.yaml")), "config file not found")


def test_runtime_error_is_one_line_and_debug_shows_traceback(project):
    folder, config = project
    (folder / "out").mkdir()
    (folder / "out" / "mine.txt").write_text("not a build")
    result = corpus("build", str(config))
    assert result.returncode == 1
    assert_one_line_error(result, "error:", "is not a previous build")
    debug = corpus("build", str(config), "--debug")
    assert "Traceback" in debug.stderr and debug.returncode == 1


def test_python_dash_m_works_too(project):
    _, config = project
    result = subprocess.run([sys.executable, "-m", "builders", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0 and "name: test-build" in result.stdout


def _options(parser):
    for action in parser._actions:
        yield from (s for s in action.option_strings if s.startswith("--"))
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield f"corpus {name}"
                yield from _options(sub)


def test_every_command_and_option_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted({o for o in _options(make_parser()) if o not in readme} - {"--help"})
    assert not missing, f"README.md does not document: {missing}"


def _config_keys(model, prefix=""):
    from builders.config import _section_type

    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        yield key
        try:
            yield from _config_keys(_section_type(field.annotation), key + ".")
        except TypeError:
            pass


def test_every_config_key_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [k for k in _config_keys(BuildConfig) if f"`{k}`" not in readme]
    assert not missing, f"README.md's config reference lacks: {missing}"


def test_explain_marks_each_removed_line_with_its_rule(project):
    folder, config = project
    result = corpus("explain", str(config), "s0-c1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^- breadcrumb +\| Home » News » Story 0$", out, re.M)
    assert re.search(r"^- copyright +\| © 2020 Site 1 Media\. All rights reserved\.$", out, re.M)
    assert re.search(r"^- teaser +\| Something else entirely", out, re.M)
    body = out.split("=== published text", 1)[1]
    assert "Leave a Reply" not in body and "Home »" not in body and len(body.split()) > 100
    dropped = corpus("explain", str(config), "junk-1")
    assert dropped.returncode == 0 and "=== dropped by clean: error_page ===" in dropped.stdout
    assert_one_line_error(corpus("explain", str(config), "no-such-id"), "no input record has id 'no-such-id'")
