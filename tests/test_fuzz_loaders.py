"""Fuzz tier: whatever bytes, JSON or file names arrive, the loaders yield Articles and LoadProblems only.

Every string they yield encodes as UTF-8 (so SQLite, hashing and printing cannot fail on it), and an
Article's text is non-empty, stripped and free of the invisible characters `textclean` removes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fakes import HashingEmbedder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsqa.index.ingest.loaders import SUFFIXES, iter_articles
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article, LoadProblem

pytestmark = pytest.mark.fuzz
# quick in the default run; NEWSQA_FUZZ_EXAMPLES=2000 for a deeper search
FAST = settings(
    max_examples=int(os.environ.get("NEWSQA_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
INVISIBLE = "\u200b\u2060\ufeff\u00ad"

# any code point, lone surrogates included (what a JSON "\ud83d" escape gives)
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)
# text that looks like news, so that some inputs get as far as becoming articles
WORDY = st.text(st.sampled_from([*"abc XYZ.,!?\n\t-\"'0é€", "\u200b", "\u00ad", "\ud800", "\x1b"]))
JSON_SCALARS = st.none() | st.booleans() | st.floats() | st.integers() | ANY_TEXT | WORDY
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={k: JSON_VALUES | WORDY for k in ("id", "title", "text", "url", "published", "source")},
)


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="newsqa-fuzz-") as tmp:
        yield Path(tmp)


def check(items: list[Article | LoadProblem]) -> None:
    for item in items:
        assert isinstance(item, Article | LoadProblem), item
        if isinstance(item, LoadProblem):
            strings = [item.where, item.reason, str(item)]
            assert item.reason and "\n" not in item.reason
        else:
            strings = [item.id, item.title, item.text, item.url, item.published, item.source]
            assert item.text and item.text == item.text.strip()
            assert not any(ch in item.text for ch in INVISIBLE)
        for s in strings:
            (s or "").encode("utf-8")  # raises if it cannot be stored or printed


@FAST
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(sorted(SUFFIXES)))
def test_any_bytes_in_any_supported_file(data: bytes, suffix: str) -> None:
    with folder() as tmp:
        path = tmp / f"story{suffix}"
        path.write_bytes(data)
        check(list(iter_articles([path])))


@FAST
@given(doc=JSON_VALUES | st.lists(RECORDS, max_size=5) | RECORDS, ascii_escapes=st.booleans())
def test_any_json_document(doc: object, ascii_escapes: bool) -> None:
    with folder() as tmp:
        path = tmp / "doc.json"
        path.write_bytes(json.dumps(doc, ensure_ascii=ascii_escapes).encode("utf-8", "surrogatepass"))
        check(list(iter_articles([path])))


@FAST
@given(records=st.lists(RECORDS | JSON_VALUES, max_size=6), long_number=st.integers(0, 6))
def test_any_json_lines_with_an_overlong_number(records: list[object], long_number: int) -> None:
    lines = [json.dumps(r) for r in records]
    lines.insert(min(long_number, len(lines)), '{"id": ' + "7" * 4400 + ', "text": "A story."}')
    with folder() as tmp:
        path = tmp / "feed.jsonl"
        path.write_text("\n".join(lines), encoding="utf-8")
        items = list(iter_articles([path]))
        check(items)
        assert any(isinstance(i, LoadProblem) and "4400 digits" in i.reason for i in items)


NAME_BYTES = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\0" not in b)


@FAST
@given(name=NAME_BYTES, suffix=st.sampled_from(sorted(SUFFIXES)), body=WORDY)
def test_any_file_name_in_a_folder(name: bytes, suffix: str, body: str) -> None:
    with folder() as tmp:
        raw = os.path.join(os.fsencode(tmp), name.lstrip(b".") + b"x" + suffix.encode())
        with open(raw, "wb") as f:
            f.write(("Headline\n" + body).encode("utf-8", "surrogatepass"))
        check(list(iter_articles([tmp])))


@pytest.fixture(scope="module")
def shared_library() -> Iterator[Library]:
    embedder = HashingEmbedder()
    with tempfile.TemporaryDirectory(prefix="newsqa-fuzz-lib-") as tmp:
        lib = Library(Path(tmp), lambda: embedder, model_name=embedder.name)
        yield lib
        lib.close()


@settings(FAST, max_examples=min(FAST.max_examples, 25), suppress_health_check=list(HealthCheck))
@given(records=st.lists(RECORDS, min_size=1, max_size=4))
def test_whatever_the_loaders_yield_ingests(shared_library: Library, records: list[object]) -> None:
    with folder() as tmp:
        path = tmp / "feed.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
        items = list(iter_articles([path]))
        report = shared_library.ingest(items)
    # (<=, not ==: a copy of a known story seen again unchanged is dropped uncounted, index/stories/copies.py)
    counted = report.added + report.updated + report.unchanged + len(report.copies) + len(report.skipped)
    assert counted <= len(items)
    for problem in report.skipped:
        str(problem).encode("utf-8")
