from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from newsqa.index.ingest.loaders import MAX_FILE_BYTES, TITLE_CHARS, headline_from_text, iter_articles
from newsqa.index.text.article import Article, LoadProblem

BODY = "The council met on Tuesday. It approved the new bridge."


def load(*paths: str | Path, **kw: int) -> list[Article | LoadProblem]:
    return list(iter_articles(paths, **kw))


def only_article(*paths: str | Path) -> Article:
    items = load(*paths)
    assert len(items) == 1 and isinstance(items[0], Article), items
    return items[0]


def only_problem(*paths: str | Path, **kw: int) -> LoadProblem:
    items = load(*paths, **kw)
    assert len(items) == 1 and isinstance(items[0], LoadProblem), items
    return items[0]


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- formats -----------------------------------------------------------------------------------------


def test_txt_headline_and_body(tmp_path: Path) -> None:
    f = write(tmp_path / "story.txt", f"\n\n  Bridge approved  \r\n{BODY}\r\n\r\nSecond paragraph.\r\n")
    a = only_article(f)
    assert a == Article(
        id=f.resolve().as_posix(), title="Bridge approved", text=f"{BODY}\n\nSecond paragraph."
    )
    assert a.origin == str(f)
    assert (a.url, a.published, a.source) == (None, None, None)


def test_md_strips_heading_marks(tmp_path: Path) -> None:
    a = only_article(write(tmp_path / "story.MD", f"## Bridge approved\n\n{BODY}\n"))
    assert (a.title, a.text) == ("Bridge approved", BODY)


def test_single_plain_line_is_the_text(tmp_path: Path) -> None:
    a = only_article(write(tmp_path / "note.txt", BODY + "\n"))
    assert (a.title, a.text) == ("The council met on Tuesday.", BODY)


def test_headline_only_has_no_text(tmp_path: Path) -> None:
    p = only_problem(write(tmp_path / "h.md", "# Just a heading\n\n\n"))
    assert (p.where, p.reason) == (str(tmp_path / "h.md"), "no text")


def test_html_file(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Bridge approved | The Herald</title>"
        "<meta property='og:site_name' content='The Herald'>"
        "<meta property='article:published_time' content='2022-03-01'>"
        "<link rel='canonical' href='https://herald.example/bridge'></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><p>{BODY}</p></article></body></html>"
    )
    f = write(tmp_path / "page.htm", html)
    a = only_article(f)
    assert a == Article(
        id=f.resolve().as_posix(),
        title="Bridge approved",
        text=BODY,
        url="https://herald.example/bridge",
        published="2022-03-01",
        source="The Herald",
    )


def test_html_without_article(tmp_path: Path) -> None:
    f = write(tmp_path / "menu.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>")
    assert only_problem(f).reason == "no article text in the HTML"


def test_json_single_object_list_and_articles_key(tmp_path: Path) -> None:
    one = write(tmp_path / "one.json", json.dumps({"id": "x1", "title": "T", "text": BODY}))
    assert only_article(one) == Article(id="x1", title="T", text=BODY)

    many = write(tmp_path / "many.json", json.dumps([{"id": "a", "text": "A text."}, {"text": "B text."}]))
    items = load(many)
    assert [(a.id, a.text) for a in items if isinstance(a, Article)] == [
        ("a", "A text."),
        (f"{many.resolve().as_posix()}[1]", "B text."),
    ]

    wrapped = write(tmp_path / "wrapped.json", json.dumps({"articles": [{"id": 7, "text": "Seven."}]}))
    assert only_article(wrapped).id == "7"


def test_json_record_fields(tmp_path: Path) -> None:
    record = {
        "id": "  business/001 ",
        "category": "business",
        "title": " Growth in S&#227;o Paulo &amp; Rio ",
        "text": "  Profits at S&#227;o Paulo firms rose 3.5% to $1.13bn.\n\nShares &gt; forecast.  ",
        "url": " https://news.example/a?x=1&amp;y=2 ",
        "published": "March 2005",
        "source": "BBC &amp; friends",
        "extra": {"ignored": True},
    }
    a = only_article(write(tmp_path / "r.json", json.dumps(record)))
    assert a == Article(
        id="business/001",
        title="Growth in São Paulo & Rio",
        text="Profits at São Paulo firms rose 3.5% to $1.13bn.\n\nShares > forecast.",
        url="https://news.example/a?x=1&amp;y=2",
        published="March 2005",
        source="BBC & friends",
    )


def test_json_non_string_values_are_absent(tmp_path: Path) -> None:
    record = {"id": True, "title": 5, "text": BODY, "published": 20050301, "url": None}
    f = write(tmp_path / "r.json", json.dumps(record))
    a = only_article(f)
    assert (a.id, a.title, a.published, a.url) == (
        f.resolve().as_posix(),
        "The council met on Tuesday.",
        None,
        None,
    )


def test_missing_title_is_first_sentence_truncated(tmp_path: Path) -> None:
    long_first = "Word " * 60 + "end. Second sentence."
    a = only_article(write(tmp_path / "r.json", json.dumps({"id": "x", "text": long_first})))
    assert len(a.title) <= TITLE_CHARS and a.title.endswith("…") and a.title.startswith("Word Word")
    assert headline_from_text("\n\n  Short one.  Another.") == "Short one."
    assert headline_from_text("x" * 300, limit=50) == "x" * 49 + "…"


def test_jsonl_bbc_like_records(tmp_path: Path) -> None:
    lines = [
        {
            "id": "business/001",
            "category": "business",
            "title": "Ad sales boost",
            "text": "Profits jumped 76%.",
        },
        {"category": "sport", "title": "Match report", "text": "They won in S&#227;o Paulo."},
    ]
    f = write(tmp_path / "a.jsonl", "\ufeff" + "\n".join(json.dumps(x) for x in lines) + "\n\n")
    items = load(f)
    assert items == [
        Article(id="business/001", title="Ad sales boost", text="Profits jumped 76%."),
        Article(id=f"{f.resolve().as_posix()}:2", title="Match report", text="They won in São Paulo."),
    ]
    assert [a.origin for a in items if isinstance(a, Article)] == [f"{f}:1", f"{f}:2"]


def test_jsonl_bad_lines_do_not_stop_good_ones(tmp_path: Path) -> None:
    content = "\n".join(
        [
            json.dumps({"id": "1", "text": "One."}),
            '{"id": "2", "text": "Two.",',
            "[1, 2]",
            json.dumps({"id": "4", "title": "No text"}),
            json.dumps({"id": "5", "text": 5}),
            json.dumps({"id": "6", "text": "Six."}),
        ]
    )
    f = write(tmp_path / "mixed.jsonl", content)
    items = load(f)
    assert [a.id for a in items if isinstance(a, Article)] == ["1", "6"]
    problems = [(p.where, p.reason) for p in items if isinstance(p, LoadProblem)]
    assert [w for w, _ in problems] == [f"{f}:2", f"{f}:3", f"{f}:4", f"{f}:5"]
    assert problems[0][1].startswith("invalid JSON: ")
    assert problems[1][1] == "not a JSON object (a list)"
    assert problems[2][1] == "no text"
    assert problems[3][1] == '"text" is not a string (a number)'


# --- bad input -----------------------------------------------------------------------------------------


def test_binary_files(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    for name in ("image.txt", "image.json", "image.jsonl", "image.html"):
        p = only_problem(write(tmp_path / name, png))
        assert (p.where, p.reason) == (str(tmp_path / name), "binary file, not text")
    # Control characters without NULs are not text either.
    assert (
        only_problem(write(tmp_path / "ctl.txt", b"ab\x01\x02\x03\x04" * 50)).reason
        == "binary file, not text"
    )


def test_empty_files(tmp_path: Path) -> None:
    for name, content in [
        ("e.txt", ""),
        ("w.md", "  \n\t\n"),
        ("e.json", ""),
        ("e.jsonl", "\n \n"),
        ("e.html", ""),
    ]:
        assert only_problem(write(tmp_path / name, content)).reason == "empty file", name


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    f = write(tmp_path / "bad.json", '{\n  "id": "x",\n  "text": oops\n}')
    assert only_problem(f).reason == "invalid JSON: Expecting value (line 3, column 11)"


def test_json_that_is_not_articles(tmp_path: Path) -> None:
    assert only_problem(write(tmp_path / "n.json", "42")).reason.startswith(
        "JSON is a number, not an article"
    )
    assert only_problem(write(tmp_path / "s.json", '"text"')).reason.startswith("JSON is a string, not")
    items = load(write(tmp_path / "l.json", '[{"text": "Fine."}, "nope", {"id": "z"}]'))
    assert [type(x).__name__ for x in items] == ["Article", "LoadProblem", "LoadProblem"]
    assert [x.where for x in items if isinstance(x, LoadProblem)] == [
        f"{tmp_path / 'l.json'}[1]",
        f"{tmp_path / 'l.json'}[2]",
    ]
    assert only_problem(write(tmp_path / "e.json", "[]")).reason == "no articles in the JSON list"


def test_too_large_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "big.txt", "Headline\n" + "word " * 400)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", refuse)
    p = only_problem(f, max_file_bytes=1000)
    assert p.where == str(f) and p.reason.startswith("file too large (0.0 MB")
    monkeypatch.undo()
    assert isinstance(only_article(f), Article)
    assert MAX_FILE_BYTES == 50 * 1024 * 1024


def test_missing_path_and_unknown_type(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert (only_problem(missing).where, only_problem(missing).reason) == (
        str(missing),
        "no such file or directory",
    )
    pdf = write(tmp_path / "paper.pdf", "%PDF-1.4")
    assert only_problem(pdf).reason.startswith("unsupported file type '.pdf'; expected .htm, .html, .json")
    assert only_problem(write(tmp_path / "README", "hi")).reason.startswith(
        "unsupported file type (no extension)"
    )


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert only_problem(fifo).reason == "not a regular file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    f = write(tmp_path / "secret.txt", "Headline\nBody text.")
    f.chmod(0)
    try:
        assert only_problem(f).reason == "permission denied"
    finally:
        f.chmod(0o644)


def test_non_utf8_text_is_read_as_cp1252(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # One cp1252 byte in an otherwise UTF-8 file: the UTF-8 around it must survive, not turn to mojibake.
    raw = b"Headline\nCaf" + b"\xe9 costs \x80" + "5 — in São Paulo.".encode()
    with caplog.at_level(logging.WARNING, logger="newsqa.index.ingest.loaders"):
        a = only_article(write(tmp_path / "legacy.txt", raw))
    assert a.text == "Café costs €5 — in São Paulo."
    assert "legacy.txt: not valid UTF-8" in caplog.text
    bom = only_article(write(tmp_path / "bom.txt", b"\xef\xbb\xbfHeadline\nBody."))
    assert bom.title == "Headline"


# --- folders and ids -----------------------------------------------------------------------------------


def test_folder_recursion_order_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "news"
    for rel in ["b.txt", "a/z.txt", "a/b/c.md", "C.txt", ".hidden/x.txt", ".h.txt", "notes.pdf", "a/img.png"]:
        write(root / rel, f"Headline {rel}\nBody of {rel}.")
    items = load(root)
    assert all(isinstance(x, Article) for x in items)
    assert [x.origin for x in items if isinstance(x, Article)] == [
        str(root / "C.txt"),
        str(root / "a/b/c.md"),
        str(root / "a/z.txt"),
        str(root / "b.txt"),
    ]
    # A hidden file named explicitly is loaded.
    assert only_article(root / ".h.txt").title == "Headline .h.txt"


def test_folder_problems_do_not_stop_the_run(tmp_path: Path) -> None:
    write(tmp_path / "1.txt", "Good one\nBody.")
    write(tmp_path / "2.txt", b"\x00\x01")
    write(tmp_path / "3.json", "{")
    write(tmp_path / "4.txt", "Good two\nBody.")
    items = load(tmp_path, tmp_path / "missing")
    kinds = [(type(x).__name__, Path(x.origin if isinstance(x, Article) else x.where).name) for x in items]
    assert kinds == [
        ("Article", "1.txt"),
        ("LoadProblem", "2.txt"),
        ("LoadProblem", "3.json"),
        ("Article", "4.txt"),
        ("LoadProblem", "missing"),
    ]


def test_ids_are_stable_however_the_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path / "news" / "2024" / "a.txt", "Headline\nBody.")
    jl = write(tmp_path / "news" / "b.jsonl", json.dumps({"text": "No id here."}))
    via_folder = {a.origin: a.id for a in load(tmp_path / "news") if isinstance(a, Article)}
    monkeypatch.chdir(tmp_path / "news")
    assert only_article("2024/a.txt").id == via_folder[str(f)] == f.resolve().as_posix()
    assert only_article(Path("2024") / ".." / "2024" / "a.txt").id == via_folder[str(f)]
    assert only_article("b.jsonl").id == via_folder[f"{jl}:1"] == f"{jl.resolve().as_posix()}:1"
    # Same name in two folders: two different articles.
    g = write(tmp_path / "other" / "2024" / "a.txt", "Headline\nBody.")
    assert only_article(g).id != only_article(f).id
