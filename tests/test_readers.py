"""Every registered format on files the tests write: text, HTML, Parquet, saved datasets, fsspec URLs,
and the registry itself (a new format is one class and one registration)."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.config import InputConfig
from builders.readers import READERS, detect, reader_for
from builders.readers.base import Reader, register
from builders.schema import ORD
from conftest import article, read_input, write_config, write_jsonl


def test_every_format_is_registered_and_allowed_in_the_config():
    assert {"jsonl", "text", "html", "parquet", "hf"} <= set(READERS)
    for name in READERS:
        InputConfig(paths=["x"], format=name)
    with pytest.raises(ValueError, match="must be one of auto, "):
        InputConfig(paths=["x"], format="docx")


def test_a_new_format_is_one_class_and_one_registration(tmp_path):
    import numpy as np

    class Upper(Reader):
        name = "upper-test"
        extensions = ("up",)

        def piece_records(self, piece, ledger):
            lines = open(piece.path, encoding="utf-8").read().splitlines()
            yield pa.table({"text": [line.upper() for line in lines]}), np.arange(1, len(lines) + 1)

    register(Upper)
    try:
        (tmp_path / "a.up").write_text("one\ntwo\n")
        assert detect(str(tmp_path / "a.up"), "auto") == ("upper-test", None)
        table, ledger, _ = read_input(tmp_path / "a.up")
        assert table.column("text").to_pylist() == ["ONE", "TWO"] and ledger.stage("ingest").docs_in == 2
    finally:
        del READERS["upper-test"]


def test_text_files_title_first_line(tmp_path):
    (tmp_path / "a.txt").write_text("The headline\n\nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes("Caf\xe9 title\nBody in cp1252: cr\xe8me.\n".encode("cp1252"))
    (tmp_path / "c.txt").write_text("Only a title\n")
    for name in ("a.txt", "b.txt", "c.txt"):
        table, ledger, quarantined = read_input(tmp_path / name)
        if name == "a.txt":
            assert table.to_pylist()[0]["title"] == "The headline"
            assert table.to_pylist()[0]["text"] == "First paragraph.\n\nSecond paragraph."
            assert table.column("id").to_pylist() == ["a.txt"]
        elif name == "b.txt":
            assert table.to_pylist()[0]["text"] == "Body in cp1252: crème." and table.to_pylist()[0]["title"] == "Café title"
        else:
            assert table is None and quarantined[0]["code"] == "missing_text"


def _page(title: str, body: list[str], lang: str = "en") -> str:
    paras = "".join(f"<p>{p}</p>" for p in body)
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Site</title>'
            f'<meta property="og:title" content="{title}"><meta name="author" content="Ann Writer">'
            f'<meta property="article:published_time" content="2021-03-04T05:06:07Z">'
            f'<link rel="canonical" href="https://www.news.example/{title.replace(" ", "-").lower()}"></head>'
            f'<body><nav><a href="/">Home</a> <a href="/world">World</a></nav><article><h1>{title}</h1>{paras}</article>'
            f'<footer>© 2021 News Example. All rights reserved.</footer></body></html>')


def test_html_folder_extracts_articles_with_metadata(tmp_path):
    folder = tmp_path / "pages" / "2021"
    folder.mkdir(parents=True)
    body = article(3, paragraphs=3).split("\n\n")
    (folder / "one.html").write_text(_page("Storm hits coast", body), encoding="utf-8")
    with gzip.open(folder / "two.html.gz", "wt", encoding="utf-8") as fh:
        fh.write(_page("Second story", article(4, paragraphs=2).split("\n\n")))
    (folder / "empty.html").write_text("<html><body></body></html>")
    config = InputConfig(paths=[str(tmp_path / "pages")], keep=["author"])
    from builders.readers import pieces_of

    pieces = [p for i, name in enumerate(["empty.html", "one.html", "two.html.gz"])
              for p in pieces_of(str(folder / name), config, 1 << 30, file_index=i)]
    assert [p.format for p in pieces] == ["html"] * 3
    from builders.stages.base import Ledger

    ledger = Ledger()
    reader = reader_for("html", config)
    reader.root = str(tmp_path / "pages")
    rows = pa.concat_tables(list(reader.read(pieces, ledger))).to_pylist()
    assert [r["id"] for r in rows] == ["2021/one.html", "2021/two.html.gz"]
    one = rows[0]
    assert one["title"] == "Storm hits coast" and one["url"] == "https://www.news.example/storm-hits-coast"
    assert one["source"] == "news.example" and one["author"] == "Ann Writer"
    assert one["date"].isoformat().startswith("2021-03-04") and one["lang"] == "en"
    assert one["text"].split("\n\n")[-3:] == body  # the paragraphs, a blank line apart
    assert "All rights reserved" not in one["text"]
    assert ledger.take_quarantined().column("code").to_pylist() == ["html_no_text"]


def test_parquet_by_row_groups_with_nested_and_typed_columns(tmp_path):
    n = 5000
    table = pa.table({
        "uid": [f"u{i}" for i in range(n)],
        "doc": [{"body": f"text number {i}", "head": f"T{i}"} for i in range(n)],
        "published": pa.array([pd.Timestamp("2020-01-01") + pd.Timedelta(minutes=i) for i in range(n)],
                              pa.timestamp("ms")),
        "views": list(range(n)),
    })
    path = tmp_path / "export.parquet"
    pq.write_table(table, path, row_group_size=500)
    fields = {"id": "uid", "text": "doc.body", "title": "doc.head", "date": "published"}
    whole, _, q1 = read_input(path, fields=fields, keep=["views"])
    split, ledger, q2 = read_input(path, fields=fields, keep=["views"], target=20_000)
    assert q1 == q2 == [] and ledger.stage("ingest").docs_in == n
    assert whole.equals(split)
    rows = whole.to_pylist()
    assert rows[7]["text"] == "text number 7" and rows[7]["title"] == "T7" and rows[7]["views"] == "7"
    assert rows[7]["date"].isoformat() == "2020-01-01T00:07:00+00:00" and rows[7][ORD] == 8


def test_saved_datasets_dataset_and_dataset_dict(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"text": [article(i) for i in range(5)], "title": [f"T{i}" for i in range(5)]})
    ds.save_to_disk(str(tmp_path / "single"))
    datasets.DatasetDict({"train": ds, "test": ds.select(range(2))}).save_to_disk(str(tmp_path / "dict"))
    assert detect(str(tmp_path / "single"), "auto") == ("hf", None)
    single, _, _ = read_input(tmp_path / "single", fields={"text": "text", "title": "title"})
    assert single.column("title").to_pylist() == [f"T{i}" for i in range(5)]
    both, _, _ = read_input(tmp_path / "dict", fields={"text": "text", "title": "title"})
    assert both.num_rows == 7 and both.column("id").to_pylist()[0] == "dict:1"


def test_fsspec_urls_read_like_local_files(tmp_path):
    import fsspec

    from builders.pipeline import run_build
    from builders.config import load_config

    fs = fsspec.filesystem("memory")
    records = [{"id": f"m{i}", "text": article(50 + i), "url": f"https://m{i}.example/a"} for i in range(4)]
    with fs.open("/dumps/a.jsonl", "w") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records))
    with fs.open("/dumps/sub/b.jsonl.gz", "wb") as fh:
        fh.write(gzip.compress(json.dumps({"id": "m9", "text": article(99)}).encode() + b"\n"))
    try:
        path = write_config(tmp_path, input={"paths": ["memory://dumps/**/*.jsonl*"], "fields": {"id": "id", "url": "url"}},
                            dedup=False)
        result = run_build(load_config(path))
        published = pd.read_parquet(result.output / "data")
        assert published["id"].tolist() == ["m0", "m1", "m2", "m3", "m9"]
        assert published["source"].tolist()[:2] == ["m0.example", "m1.example"]
    finally:
        fs.rm("/dumps", recursive=True)


def test_real_warc_files_give_their_html_responses(shared):
    expected = {"warcfile.warc.gz": (16, {"warc_warcinfo": 1, "warc_request": 17, "warc_metadata": 16}),
                "clueweb-quirk.warc.gz": (29, {"warc_warcinfo": 1}),
                "whirlwind.warc.gz": (1, {"warc_warcinfo": 1, "warc_request": 1, "warc_metadata": 1})}
    for name, (responses, skipped) in expected.items():
        path = shared / "corpora" / "warc" / name
        assert detect(str(path), "auto") == ("warc", None)
        table, ledger, quarantined = read_input(path, keep=["crawl_date", "charset"])
        stats = ledger.stage("ingest")
        # Every HTML response is read: published, or quarantined because no article came out of it.
        assert stats.docs_in == responses and dict(stats.skipped) == skipped
        assert (table.num_rows if table is not None else 0) + len(quarantined) == responses
        assert all(q["code"].startswith("html_") for q in quarantined)
        rows = table.to_pylist()
        assert all(r["id"].startswith("urn:uuid:") and r["url"].startswith("http") and r["source"] for r in rows)
        assert all(r[ORD] >> 36 == 0 for r in rows) and [r[ORD] for r in rows] == sorted(r[ORD] for r in rows)
    # ClueWeb's pages are EUC-JP, declared in the HTTP header only: decoded, not mojibake.
    clue, _, _ = read_input(shared / "corpora" / "warc" / "clueweb-quirk.warc.gz", keep=["charset"])
    assert set(clue.column("charset").to_pylist()) == {"euc-jp"} or all("euc" in c for c in clue.column("charset").to_pylist())
    assert any("吉田カバン" in (t or "") for t in clue.column("title").to_pylist())
    wiki, _, _ = read_input(shared / "corpora" / "warc" / "whirlwind.warc.gz")
    assert wiki.to_pylist()[0]["title"].startswith("Escopete") and wiki.to_pylist()[0]["lang"] == "an"


def test_a_big_warc_is_split_at_record_offsets_and_read_once(tmp_path):
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from builders.readers import pieces_of

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i in range(120):
            html = _page(f"Story number {i}", article(i, paragraphs=3).split("\n\n")).encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://site{i % 5}.example/s/{i}", "response",
                                                          payload=BytesIO(html), http_headers=headers))
            if i % 10 == 0:
                redirect = StatusAndHeaders("301 Moved", [("Location", "https://x.example/")], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(f"https://site{i % 5}.example/old/{i}", "response",
                                                              payload=BytesIO(b""), http_headers=redirect))
    pieces = pieces_of(str(path), InputConfig(paths=[str(path)]), 20_000)
    assert len(pieces) > 4 and all(a.stop == b.start for a, b in zip(pieces, pieces[1:]))
    whole, ledger_whole, _ = read_input(path)
    split, ledger, quarantined = read_input(path, target=20_000)
    assert quarantined == [] and whole.equals(split)
    assert split.num_rows == 120 and dict(ledger.stage("ingest").skipped) == {"http_3xx": 12}
    assert split.column("title").to_pylist()[:2] == ["Story number 0", "Story number 1"]


def test_real_article_pages_build_end_to_end(shared, tmp_path):
    """The 23 real pages in several languages: every one read, published or accounted for, the
    text of each close to what a good extractor returns."""
    from builders.config import load_config
    from builders.pipeline import run_build

    folder = shared / "corpora" / "html-news"
    path = write_config(tmp_path, input={"paths": [str(folder / "*.html.gz")]}, dedup=False,
                        clean={"min_words": 0, "repeated_lines": False})
    result = run_build(load_config(path))
    totals = result.stats["totals"]
    assert totals["read"] == 23 and totals["quarantined"] == 0 and totals["reconciled"]
    frame = pd.read_parquet(result.output / "data").set_index("id")
    from benchmarks.extraction import token_scores

    pairs = [(frame.loc[name, "text"], (folder / name.replace(".html.gz", ".txt")).read_text(encoding="utf-8"))
             for name in frame.index]
    scores = token_scores(pairs)
    assert scores.precision > 0.95 and scores.recall > 0.97, scores
    assert frame.loc["spanish_article.html.gz", "title"] and frame["lang"].notna().sum() >= 10


def test_the_plan_weighs_formats_by_their_cost(tmp_path):
    """A few megabytes of HTML pages are spread over the workers; as many of JSON Lines are not."""
    from builders.config import load_config
    from builders.executors.local import LocalExecutor
    from builders.readers import plan_shards

    for i in range(200):
        (tmp_path / "html").mkdir(exist_ok=True)
        (tmp_path / "html" / f"p{i:03d}.html").write_text(_page(f"Story {i}", article(i).split("\n\n")) + " " * 20_000)
    write_jsonl(tmp_path / "json" / "a.jsonl", [{"text": article(i) + " " * 20_000} for i in range(200)], compress=False)
    shards = {}
    for kind in ("html", "json"):
        config = load_config(write_config(tmp_path, input={"paths": [str(tmp_path / kind)]}))
        shards[kind] = plan_shards(config, [str(p) for p in sorted((tmp_path / kind).iterdir())], LocalExecutor(1), 2)
    assert len(shards["json"]) == 1  # 4 MB of JSON Lines: one task is less than the floor
    assert len(shards["html"]) >= 8  # the same bytes of HTML: several tasks per worker
    pages = [p.path for s in shards["html"] for p in s.pieces]
    assert pages == sorted(pages) and len(pages) == 200  # every page once, in order
