"""Shared fixtures: small hand-written dumps and configs, the ../shared folder when present."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Words for filler articles; every article draws its own sequence, so distinct articles share
# few 5-grams while copies of one article share almost all.
VOCAB = (
    "council minister harbour railway budget election storm court ruling farmers river bridge "
    "hospital teachers strike museum festival league coach injury season market shares prices "
    "energy wind solar plant factory workers union talks agreement police inquiry report village "
    "mayor school pupils exam science study researchers vaccine trial ocean fishing quota port "
    "airline flights airport delays weather forecast rain snow drought wildfire forest rescue"
).split()


def article(seed: int, paragraphs: int = 4, words: int = 40) -> str:
    rnd = random.Random(seed)
    paras = []
    for _ in range(paragraphs):
        body = " ".join(rnd.choice(VOCAB) for _ in range(words))
        paras.append(body[0].upper() + body[1:] + ".")
    return "\n\n".join(paras)


def write_jsonl(path: Path, records: list, compress: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        path.write_text(lines, encoding="utf-8")
    return path


def write_config(folder: Path, **sections) -> Path:
    config = {
        "name": "test-build",
        "input": {
            "paths": ["raw/*.jsonl.gz"],
            "fields": {"id": "id", "text": "text", "url": "url", "title": "title", "date": "crawled_at", "source": "site"},
        },
        "clean": {},
        "dedup": {"exact": True, "minhash": {"threshold": 0.8, "num_perm": 128, "ngram": 5}, "keep": "earliest"},
        "publish": {"output": "out", "formats": ["parquet", "hf"]},
        "executor": {"backend": "local", "workers": 1},
    }
    for key, value in sections.items():
        config[key] = value
    path = folder / "build.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def wire_dump(folder: Path, stories: int = 6, copies: int = 4, files: int = 2) -> list[dict]:
    """Pages in `files` shards: each story once as an original and `copies` times with other chrome.

    Returns the records, each with a `story` label for assertions.
    """
    records = []
    for s in range(stories):
        body = article(1000 + s)
        for c in range(copies + 1):
            lines = body.split("\n\n")
            if c % 2 == 1:
                lines = lines[:-1] + [lines[-1].replace("the", "a", 1)]  # a small edit
            chrome_top = f"Home » News » Story {s}\n\nPosted on 2020-09-{10 + c:02d}"
            chrome_end = f"© 2020 Site {c} Media. All rights reserved.\n\nLeave a Reply\n\nSomething else entirely happened in another town today and the people there were...\n\n%d bloggers like this:"
            text = f"{chrome_top}\n\nStory {s} headline\n\n" + "\n\n".join(lines) + f"\n\n{chrome_end}"
            records.append(
                {
                    "id": f"s{s}-c{c}",
                    "url": f"https://site{c}.example/news/story-{s}",
                    "site": f"site{c}.example",
                    "title": f"Story {s} headline",
                    "text": text,
                    "crawled_at": f"2020-09-{10 + c:02d}T08:00:00Z",
                    "story": s,
                }
            )
    records.append({"id": "junk-1", "text": "404 Page not found", "site": "x.example", "crawled_at": "2020-09-01T00:00:00Z", "story": -1})
    for f in range(files):
        write_jsonl(folder / "raw" / f"pages-{f:05d}.jsonl.gz", [r for i, r in enumerate(records) if i % files == f])
    return records


def read_input(path, file_index: int = 0, **options):
    """Read one input the way a build's first pass does: probed, split into pieces, each read.

    Returns (documents or None, ledger, quarantined rows as dicts)."""
    import pyarrow as pa

    from builders.config import InputConfig
    from builders.readers import pieces_of, reader_for
    from builders.stages.base import Ledger

    target = options.pop("target", 1 << 30)
    config = InputConfig(paths=[str(path)], **options)
    pieces = pieces_of(str(path), config, target, file_index)
    ledger = Ledger()
    tables = []
    for piece in pieces:
        tables += list(reader_for(piece.format, config).read([piece], ledger))
    table = pa.concat_tables(tables) if tables else None
    return table, ledger, ledger.take_quarantined().to_pylist()


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}); it holds the real seed page and corpora these tests read")
    return SHARED
