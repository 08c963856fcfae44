"""The resume benchmark's own machinery (benchmarks/resume.py): the code snapshot its three builds
import, and its page section, which must leave the rest of docs/benchmarks.md alone."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.resume import add_to_section, snapshot


def test_the_builds_import_the_snapshot_not_the_checkout(tmp_path):
    code = snapshot(tmp_path)
    out = subprocess.run([sys.executable, "-c", "import builders.workdir as w; print(w.__file__); print(w.code_fingerprint())"],
                         cwd=code, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(code / "builders" / "workdir.py")
    (code / "builders" / "extra.py").write_text("X = 1\n")  # the snapshot's own files make the code key
    again = subprocess.run([sys.executable, "-c", "import builders.workdir as w; print(w.code_fingerprint())"],
                           cwd=code, capture_output=True, text=True, check=True).stdout.strip()
    assert again != out[1]


def test_a_result_goes_at_the_end_of_the_resume_section_only():
    body = "# Benchmarks\n\n## 100 pages\n\nfigures\n\n## Resume\n\nintro\n\n### old run\n\nold\n\n## Later\n\nmore\n"
    out = add_to_section(body, "### new run\n\nnew")
    assert out == ("# Benchmarks\n\n## 100 pages\n\nfigures\n\n## Resume\n\nintro\n\n### old run\n\nold\n\n"
                   "### new run\n\nnew\n\n## Later\n\nmore\n")
    made = add_to_section("# Benchmarks\n\n## 100 pages\n\nfigures\n", "### run")
    assert made.startswith("# Benchmarks\n\n## 100 pages\n\nfigures\n\n## Resume\n\n") and made.endswith("\n\n### run\n")
