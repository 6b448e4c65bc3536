"""Decoding files and cleaning text: UTF-16/32 with a byte order mark, garbage refused, invisibles gone."""

from __future__ import annotations

import codecs
import json
import random
from pathlib import Path

import pytest

from newsqa.index.ingest.loaders import iter_articles
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article, LoadProblem
from newsqa.index.text.sentences import split_sentences
from newsqa.index.text.textclean import garbage_share

HEADLINE = "Bridge vote in Zürich"
BODY = "The council approved the new bridge on Tuesday. Work starts in May — “at last”, said Ms Müller."


def load(path: Path) -> list[Article | LoadProblem]:
    return list(iter_articles([path]))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_decoded(tmp_path: Path, encoding: str) -> None:
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    path = tmp_path / "story.txt"
    path.write_bytes(bom + f"{HEADLINE}\n{BODY}\n".encode(encoding))
    (item,) = load(path)
    assert isinstance(item, Article), item
    assert item.title == HEADLINE and item.text == BODY


def test_utf16_json_and_jsonl(tmp_path: Path) -> None:
    rec = {"id": "a", "title": HEADLINE, "text": BODY}
    (tmp_path / "one.json").write_bytes(json.dumps(rec, ensure_ascii=False).encode("utf-16"))
    lines = "\n".join(json.dumps({**rec, "id": f"r{i}"}, ensure_ascii=False) for i in range(3))
    (tmp_path / "many.jsonl").write_bytes(lines.encode("utf-16"))
    items = load(tmp_path)
    assert [i.id for i in items if isinstance(i, Article)] == ["r0", "r1", "r2", "a"], items
    assert all(isinstance(i, Article) and i.text == BODY for i in items)


def test_random_high_bytes_are_refused(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(rng.randrange(128, 256) for _ in range(4096)))
    (item,) = load(path)
    assert isinstance(item, LoadProblem) and item.reason.startswith("not text"), item


def test_cp1252_text_with_many_accents_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "fr.txt"
    path.write_bytes("Élu à Genève\nÉlu à Genève, il a été réélu à l'été.".encode("cp1252"))
    (item,) = load(path)
    assert isinstance(item, Article) and item.text == "Élu à Genève, il a été réélu à l'été."


def test_garbage_share_rule() -> None:
    assert garbage_share("plain text") == 0.0
    assert garbage_share("\ufffd" * 9 + "a") == 0.9
    assert garbage_share("a\x01\x02b") == 0.5
    assert garbage_share("tab\tand\nnewline") == 0.0


ZW = "bri\u200bdge coun\u00adcil Tues\u2060day wo\ufeffrk at\u200cl\u200dast"
CLEAN = "bridge council Tuesday work atlast"


@pytest.mark.parametrize("suffix", [".txt", ".json", ".html"])
def test_invisible_characters_are_removed_at_load_time(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"story{suffix}"
    if suffix == ".txt":
        path.write_text(f"Head\u200bline\n{ZW}.", encoding="utf-8")
    elif suffix == ".json":
        path.write_text(json.dumps({"title": "Head\u200bline", "text": f"{ZW}."}), encoding="utf-8")
    else:
        para = (
            f"<p>{ZW}. " + "The council said more about it on the day, at length and in detail. " * 3 + "</p>"
        )
        path.write_text(
            f"<html><head><title>Head\u200bline</title></head><body><article><h1>Head\u200bline</h1>"
            f"{para}</article></body></html>",
            encoding="utf-8",
        )
    (item,) = load(path)
    assert isinstance(item, Article), item
    assert item.title == "Headline" and item.text.startswith(CLEAN)


def test_emoji_joiners_are_kept() -> None:
    from newsqa.index.text.textclean import drop_invisible

    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert drop_invisible(f"a {family} b") == f"a {family} b"


def test_zero_width_words_are_found_and_quoted_verbatim(tmp_path: Path, library: Library) -> None:
    path = tmp_path / "story.txt"
    path.write_text(
        "Bridge\nThe coun\u200bcil approved the bri\u00addge. Nothing else hap\u2060pened.", "utf-8"
    )
    (article,) = load(path)
    assert isinstance(article, Article)
    library.ingest([article])
    assert library.store.sentences_matching("council") == library.store.sentences_matching("bridge") == 1
    (best, _), *_ = library.store.lexical_search(["council", "bridge"], 10)
    assert library.store.sentences_by_id([best])[best].text == "The council approved the bridge."
    for s in split_sentences(article.text):
        assert "\u200b" not in article.text[s.start : s.end]
