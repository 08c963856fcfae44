"""Input and configs as an attacker writes them: YAML tags, pickles, paths in record ids and URLs.

- A config is loaded with yaml.safe_load: a `!!python/object` tag is a one-line config error and
  is never executed, in the file or in a `--set` value.
- Nothing from the input is unpickled, evaluated or executed: the source is audited for the calls
  that could (the audit is tested on a snippet that has them, so it can fail).
- Record ids, WARC target URIs and input file names never name output files: a build over hostile
  names writes only the files a release is made of, inside OUT, and nothing beside it.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import article

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    """The CLI of this tree (python -m builders), as a user runs `corpus`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "builders", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def one_line_error(result, *fragments) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- YAML


def _config(tmp_path: Path, name_line: str) -> Path:
    (tmp_path / "in.jsonl").write_text(json.dumps({"text": "x"}) + "\n")
    path = tmp_path / "build.yaml"
    path.write_text(f"{name_line}\ninput: {{paths: [in.jsonl]}}\npublish: {{output: out}}\n", encoding="utf-8")
    return path


TAGS = ["!!python/object/apply:os.system", "!!python/object/new:os.system", "!!python/name:os.system",
        "!!python/object:builders.config.BuildConfig", "!!python/module:os"]


def test_python_tags_in_a_config_are_an_error_never_executed(tmp_path):
    from builders.config import load_config
    from builders.errors import ConfigError

    sentinel = tmp_path / "PWNED"
    for tag in TAGS:
        path = _config(tmp_path, f'name: {tag} ["touch {sentinel}"]')
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert "invalid YAML" in str(caught.value) and "python/" in str(caught.value) and "\n" not in str(caught.value)
    _config(tmp_path, f'name: {TAGS[0]} ["touch {sentinel}"]')
    result = run_cli("config", "build.yaml", cwd=tmp_path)
    one_line_error(result, "config error:", "build.yaml", "invalid YAML", "python/")
    assert result.returncode == 2 and not sentinel.exists()


def test_python_tags_in_a_set_value_are_text_never_executed(tmp_path):
    sentinel = tmp_path / "PWNED"
    _config(tmp_path, "name: fine")
    result = run_cli("config", "build.yaml", "--set", f'name=!!python/object/apply:os.system ["touch {sentinel}"]',
                     cwd=tmp_path)
    one_line_error(result, "config error:", "name:")
    assert not sentinel.exists()


def test_configs_that_are_not_text_or_too_deep_or_aliased_to_billions_fail_in_one_line(tmp_path):
    import time

    from builders.config import load_config
    from builders.errors import ConfigError

    path = _config(tmp_path, "name: fine")
    text = path.read_text()
    cases = {
        "binary": b"name: \xff\xfe\x00\x81\n" + text.encode(),
        "deep": ("extra: " + "[" * 50_000 + "]" * 50_000 + "\n" + text).encode(),
        # nine aliases deep: 9**8 strings if written out (the repr of the value took 14 s and 300 MB)
        "laughs": ("a0: &a0 [" + ", ".join(["lol"] * 9) + "]\n"
                   + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
                   + text.replace("name: fine", "name: *a8")).encode(),
    }
    for what, data in cases.items():
        path.write_bytes(data)
        started = time.perf_counter()
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        message = str(caught.value)
        assert time.perf_counter() - started < 5, what
        assert "\n" not in message and len(message) < 600, (what, message[:1000])
    result = run_cli("config", "build.yaml", cwd=tmp_path)
    one_line_error(result, "config error:", "name:")


# --------------------------------------------------------------------------- no pickle, eval or exec

#: Calls that run code or build objects from bytes: never on anything that came from input.
_DANGEROUS = {
    "eval", "exec", "compile", "__import__", "pickle.load", "pickle.loads", "cPickle.loads", "marshal.load",
    "marshal.loads", "shelve.open", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads",
    "yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all",
    "pd.read_pickle", "pandas.read_pickle", "joblib.load", "torch.load", "os.system", "subprocess.call",
    "subprocess.run", "subprocess.Popen", "subprocess.check_output",
}


def dangerous_calls(source: str, filename: str = "<src>") -> list[str]:
    """`file:line name` of every call above, and of any call passing allow_pickle=True."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in _DANGEROUS or name.split(".")[-1] in ("read_pickle", "unsafe_load") or any(
                k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords):
            found.append(f"{filename}:{node.lineno} {name}")
    return found


def test_the_audit_finds_what_it_looks_for():
    snippet = ("import pickle, yaml, numpy as np\npickle.loads(b)\neval(s)\nyaml.load(t)\n"
               "np.load(p, allow_pickle=True)\nyaml.safe_load(t)\n")
    assert [f.split(" ")[1] for f in dangerous_calls(snippet)] == ["pickle.loads", "eval", "yaml.load", "np.load"]


def test_no_pickle_eval_or_exec_in_the_builder():
    # The executor pickles its own task objects between processes (concurrent.futures); nothing in
    # builders/ unpickles, evaluates or runs anything it read. The benchmark generator is not a builder.
    found = []
    for path in sorted((ROOT / "builders").rglob("*.py")):
        if "synth" in path.relative_to(ROOT).parts:
            continue
        found += dangerous_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == []


# --------------------------------------------------------------------------- names from input

HOSTILE_IDS = ["../../escape-id", "/etc/passwd-id", "..", "a/../../b", "nul\x00id", "C:\\Windows\\evil-id",
               "~/.ssh/evil-id", "-rf evil-id", "%2e%2e%2fevil-id", "\u202eevil-id", " ", "x" * 5000]
HOSTILE_URIS = ["https://evil.example/../../../../tmp/evil-uri", "file:///etc/passwd", "../../evil-uri",
                "https://evil.example/a%2f..%2f..%2fevil-uri?x=../../y#../z"]
#: File names that are legal but look like paths or options (a name starting with a dot is a hidden
#: file, which a folder given as input leaves out, as glob does).
HOSTILE_FILES = ["a..evil-file.html", "-rf evil-file.html", "%2e%2e%2fevil-file.html", "evil-file\u202e.html"]


def _warc(uri: str, body: str) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    html = "<html><head><title>T</title></head><body><article>" + "".join(
        f"<p>{p}</p>" for p in body.split("\n\n")) + "</article></body></html>"
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(html.encode()),
                                                  http_headers=headers))
    return out.getvalue()


def test_hostile_ids_urls_and_file_names_never_name_output_files(tmp_path):
    work = tmp_path / "work"
    raw = work / "raw"
    raw.mkdir(parents=True)
    records = [{"id": rid, "text": article(9000 + i), "url": HOSTILE_URIS[i % len(HOSTILE_URIS)]}
               for i, rid in enumerate(HOSTILE_IDS)]
    with gzip.open(raw / "records.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    (raw / "crawl.warc.gz").write_bytes(b"".join(_warc(uri, article(9100 + i)) for i, uri in enumerate(HOSTILE_URIS)))
    for i, name in enumerate(HOSTILE_FILES):
        body = "".join(f"<p>{p}</p>" for p in article(9200 + i).split("\n\n"))
        (raw / name).write_text(f"<html><head><title>T{i}</title></head><body><article>{body}</article></body></html>")
    (work / "build.yaml").write_text(yaml.safe_dump({
        "name": "hostile-names", "input": {"paths": ["raw"], "fields": {"id": "id", "url": "url"}},
        "clean": {"min_words": 5, "language_id": False}, "dedup": False,
        "publish": {"output": "out", "formats": ["parquet", "hf"]}, "executor": {"workers": 1}}))
    before = {p for p in tmp_path.rglob("*")}

    result = run_cli("build", "build.yaml", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]

    out = work / "out"
    # Nothing was written anywhere but inside OUT.
    assert {p for p in tmp_path.rglob("*") if out not in p.parents and p != out} == before
    # Every file in OUT is one a release is made of: plain names, no trace of a record's id or URL.
    files = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert files
    for rel in files:
        for part in rel.parts:
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", part), rel
            assert "evil" not in part and "escape" not in part and "passwd" not in part, rel
    # ... while the hostile ids, URLs and file names are all there, as data.
    data = pd.read_parquet(out / "data")
    assert set(HOSTILE_IDS) <= set(data["id"])
    assert {u for u in HOSTILE_URIS if "://" in u} <= set(data["url"].dropna())
    assert {f for f in HOSTILE_FILES} <= set(data["id"])
