"""HTML that would hold a parser for minutes: bounded in time and depth, quarantined with a reason.

The time limit (input.html.timeout, SIGALRM) cannot interrupt the parsers' C code, so markup they
take super-linear time on is refused before parsing. Each page is extracted in a child process
with a hard timeout: before the guard, these pages took minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
P = b"<p>The council met on Tuesday to discuss the budget for the new harbour bridge and the railway line.</p>"

PAGES = {
    # one tag, 300,000 distinct attributes: quadratic in lxml and lexbor alike (minutes)
    "many_attributes": lambda: b"<html><body><div " + b" ".join(b"a%d=x" % i for i in range(300_000)) + b">" + P * 5
                               + b"</div></body></html>",
    # the same with '>' and '<' inside quoted values, which a naive scan would take for tag ends
    "many_quoted_attributes": lambda: b"<html><body><div " + b" ".join(b'a%d=">" b%d=\'<\'' % (i, i) for i in range(100_000))
                                      + b">" + P * 5 + b"</div></body></html>",
    # misnested formatting elements: lexbor's adoption agency is quadratic (100,000 x 4: 21 s)
    "misnested_formatting": lambda: b"<html><body><p>" + b"<a><b><i><u>" * 100_000 + b"text</body></html>",
    # 100,000 nested <div>: resiliparse's main-content pass is super-quadratic in depth
    "deep_divs": lambda: b"<html><body>" + b"<div>" * 100_000 + P + b"</div>" * 100_000 + b"</body></html>",
    "deep_unclosed": lambda: b"<html><body>" + b"<div><span>" * 200_000 + P + b"</body></html>",
    "deep_tables": lambda: b"<html><body>" + b"<table><tr><td>" * 50_000 + P + b"</body></html>",
}

_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from builders.text.html import ExtractionError, extract_article
page = open(sys.argv[2], "rb").read()
started = time.perf_counter()
try:
    article = extract_article(page, extractor=sys.argv[3], timeout=5)
    result = {"code": "ok", "text": article.text[:200]}
except ExtractionError as exc:
    result = {"code": exc.code, "message": exc.message}
result["seconds"] = time.perf_counter() - started
print(json.dumps(result))
"""


def extract_in_child(tmp_path: Path, page: bytes, extractor: str) -> dict:
    path = tmp_path / "page.html"
    path.write_bytes(page)
    try:
        result = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(path), extractor],
                                capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{extractor} took over 60 s on a {len(page):,}-byte page (the time limit is 5 s)")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("extractor", ["trafilatura", "resiliparse"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_hostile_markup_is_bounded_in_time(tmp_path, name, extractor):
    if extractor == "resiliparse":
        pytest.importorskip("resiliparse")
    page = PAGES[name]()
    assert len(page) <= 5_000_000  # within input.html.max_bytes: only the guards stand in the way
    got = extract_in_child(tmp_path, page, extractor)
    # the time limit is 5 s; what SIGALRM cannot cut short is refused before parsing
    assert got["seconds"] < 15, got
    if name.startswith("many_"):
        assert got["code"] == "too_complex" and "attributes" in got["message"], got
    elif name == "misnested_formatting" and extractor == "resiliparse":
        assert got["code"] == "too_complex" and "unclosed formatting" in got["message"], got
    else:
        assert got["code"] in ("ok", "no_text", "parse_error", "timeout", "too_complex"), got


def test_real_markup_is_not_refused():
    """Long tags that are not attribute bombs (a data: URI, a long style, 900 attributes) and a page
    with a few hundred unclosed <b> are extracted as before."""
    from builders.text.html import _hostile_markup

    data_uri = '<img src="data:image/png;base64,' + "QUFB" * 200_000 + '=" alt="a b c d">'
    style = '<div style="' + "color: red; margin: 0 1px 2px 3px; " * 5000 + '">'
    many = "<div " + " ".join(f'data-x{i} = "v {i}"' for i in range(900)) + ">"
    sloppy = "<p>" + "<b>bold " * 500 + "</p>"
    for page in (data_uri, style, many, sloppy):
        assert _hostile_markup(f"<html><body>{page}</body></html>", "resiliparse") is None
    assert _hostile_markup("<div " + " ".join(f"a{i}" for i in range(1001)) + ">", "trafilatura")


def test_hostile_markup_pages_are_quarantined_by_the_reader(tmp_path):
    from conftest import read_input

    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "bomb.html").write_bytes(b"<html><body><div " + b" ".join(b"a%d" % i for i in range(5000)) + b">"
                                       + P * 5 + b"</div></body></html>")
    started = time.perf_counter()
    table, ledger, quarantined = read_input(folder / "bomb.html")
    assert time.perf_counter() - started < 30
    assert table is None and ledger.stage("ingest").docs_in == 1
    [entry] = quarantined
    assert entry["code"] == "html_too_complex" and entry["position"] == 0 and entry["field"] == "text"
    assert entry["file"].endswith("bomb.html") and "5,000 attributes" in entry["reason"]
