"""Files and folders into Articles: every input becomes an Article or a LoadProblem, never a crash.

Formats, by extension (case-insensitive):

* ``.txt`` / ``.md``: the first non-empty line is the headline (a leading markdown ``#`` is dropped),
  the rest is the body. A file of one plain line is a body without a headline.
* ``.html`` / ``.htm``: the main text and stated metadata, via `extract_html`.
* ``.json``: one article object, a list of them, or ``{"articles": [...]}``.
* ``.jsonl``: one article object per line, streamed line by line.

Article objects have the keys ``id, title, text, url, published, source``; others are ignored. HTML
character references in JSON strings (``S&#227;o Paulo``) are decoded, values are stripped.

Ids are stable: the same file always gets the same id however it is named on the command line.
A file's id is its resolved absolute path (POSIX form); a JSON record's id is its ``id`` value, or, when
it has none, the file's id plus ``:<line>`` (``.jsonl``, 1-based) or ``[<index>]`` (``.json`` list,
0-based). An absolute path, not one relative to the folder argument, so that loading ``news/`` and
later ``news/2024/a.txt``, or two folders that both hold ``001.txt``, cannot give one article two ids
or two articles one id.

Folders are walked recursively in sorted order, skipping hidden entries (names starting with ``.``),
symlinked folders and files of unknown type. A file named explicitly is loaded even if hidden, and an
unknown type is reported.

Text that is not UTF-8 is still read when it is otherwise text: each byte that is not valid UTF-8 is
read as cp1252 (Latin-1 for the five bytes cp1252 leaves undefined), which keeps the valid UTF-8 around
it intact. That is logged as a warning rather than reported as a problem, because the article loads.
A file starting with a UTF-16 or UTF-32 byte order mark is decoded as such. A file is refused as "not
text" when more than half of the visible characters at its start (`MAX_GARBAGE_SHARE`, measured on the
first 64 K characters) are undecodable bytes, control characters or unassigned code points: random
bytes score about 0.9, a French or German text in cp1252 under 0.3.

Every string an Article carries encodes as UTF-8 (see `textclean`): lone surrogates from JSON escapes
are repaired to U+FFFD, zero-width characters and soft hyphens are removed at load time so the stored
text (which sentence offsets and quotes refer to) never holds them, a record whose id cannot be encoded
and a file whose name is not UTF-8 are LoadProblems. A JSON number too long for Python (over 4,300
digits) fails only its own record, and only when it is the id.
"""

from __future__ import annotations

import codecs
import html
import json
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..text.article import Article, LoadProblem
from ..text.sentences import split_sentences
from ..text.textclean import clean_text, garbage_share, has_surrogates, repair_surrogates
from .html_extract import extract_html

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
#: Longest headline made up from article text when the input has none.
TITLE_CHARS = 120

TEXT_SUFFIXES = frozenset({".txt", ".md"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
JSON_SUFFIX = ".json"
JSONL_SUFFIX = ".jsonl"
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {JSON_SUFFIX, JSONL_SUFFIX}

_BINARY = "binary file, not text"
_EMPTY = "empty file"
_NO_TEXT = "no text"
#: Control bytes that never occur in text files (tab, newlines, form feed and escape are allowed).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1b")
_SNIFF_BYTES = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
# UTF-32 first: its little-endian mark starts with UTF-16's.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Refuse a file when more than this share of its visible characters is garbage (see module docstring).
MAX_GARBAGE_SHARE = 0.5
_BAD_NAME = "file name is not valid UTF-8; rename the file to index it"


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    """Read one byte UTF-8 rejected as cp1252 (Latin-1 where cp1252 has no character), then go on."""
    if not isinstance(err, UnicodeDecodeError):
        raise err
    byte = err.object[err.start : err.start + 1]
    try:
        return byte.decode("cp1252"), err.start + 1
    except UnicodeDecodeError:
        return byte.decode("latin-1"), err.start + 1


codecs.register_error("newsqa-cp1252", _cp1252_fallback)


def iter_articles(
    paths: Iterable[str | Path], *, max_file_bytes: int = MAX_FILE_BYTES, follow_links: bool = False
) -> Iterator[Article | LoadProblem]:
    """Every article in `paths` (files or folders), in order, with a LoadProblem for each bad input.

    Files larger than `max_file_bytes` are refused before they are read. In a folder, a link to a file
    outside it is a LoadProblem unless `follow_links` (see `walk_files`).
    """
    for arg in paths:
        path = Path(arg)
        try:
            st = path.stat()
        except FileNotFoundError:
            yield LoadProblem(str(path), "no such file or directory")
            continue
        except OSError as e:
            yield LoadProblem(str(path), _os_reason(e))
            continue
        if stat.S_ISDIR(st.st_mode):
            for item in walk_files(path, follow_links=follow_links):
                if isinstance(item, LoadProblem):
                    yield item
                else:
                    yield from _load_file(item, max_file_bytes)
        elif path.suffix.lower() not in SUFFIXES:
            kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
            expected = ", ".join(sorted(SUFFIXES))
            yield LoadProblem(str(path), f"unsupported file type {kind}; expected {expected}")
        else:
            yield from _load_file(path, max_file_bytes)


def headline_from_text(text: str, limit: int = TITLE_CHARS) -> str:
    """A headline for an article that has none: its first sentence, cut at a word to `limit` chars."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    sentences = split_sentences(first_line)
    headline = " ".join(first_line[sentences[0].start : sentences[0].end].split()) if sentences else ""
    if len(headline) <= limit:
        return headline
    cut = headline.rfind(" ", 0, limit)
    return headline[: cut if cut > limit // 2 else limit - 1].rstrip() + "…"


def walk_files(
    folder: Path, *, follow_links: bool = False, _root: Path | None = None
) -> Iterator[Path | LoadProblem]:
    """Loadable files under `folder`, depth first in name order; unreadable folders are problems.

    Links to folders are never walked (no loops). A link to a file is taken when it stays inside the
    folder; one that leaves it is a problem unless `follow_links`: a link dropped into a shared or watched
    folder must not index (and quote) a file its owner never put there.
    """
    root = _root or folder.resolve()
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        yield LoadProblem(str(folder), _os_reason(e))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError as e:
            yield LoadProblem(str(path), _os_reason(e))
            continue
        if is_dir:
            yield from walk_files(path, follow_links=follow_links, _root=root)
        elif path.suffix.lower() in SUFFIXES:
            if not follow_links and entry.is_symlink() and not _inside(path, root):
                yield LoadProblem(str(path), "a link to a file outside the folder; not followed")
                continue
            yield path


def _inside(link: Path, root: Path) -> bool:
    """Whether `link` leads (through every link on the way) to a place inside `root`."""
    try:
        return link.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of links, or unreadable
        return False


def _load_file(path: Path, max_file_bytes: int) -> Iterator[Article | LoadProblem]:
    where = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            yield LoadProblem(where, "not a regular file")
            return
        if st.st_size > max_file_bytes:
            yield LoadProblem(where, f"file too large ({_mb(st.st_size)}, limit {_mb(max_file_bytes)})")
            return
        if st.st_size == 0:
            yield LoadProblem(where, _EMPTY)
            return
        file_id = path.resolve().as_posix()
        if has_surrogates(file_id):  # the id must be storable, and a made-up one would not be stable
            yield LoadProblem(where, _BAD_NAME)
            return
        suffix = path.suffix.lower()
        if suffix == JSONL_SUFFIX:
            yield from _load_jsonl(path, file_id, where, max_file_bytes)
            return
        data = _read_capped(path, max_file_bytes)
    except OSError as e:
        yield LoadProblem(where, _os_reason(e))
        return
    if data is None:
        yield LoadProblem(where, f"file too large (over {_mb(max_file_bytes)})")
        return
    text = _decode_text(data, where)
    if isinstance(text, LoadProblem):
        yield text
        return
    if suffix != JSON_SUFFIX:
        text = clean_text(text)  # JSON is cleaned per value, after its escapes are read
    if not text.strip():
        yield LoadProblem(where, _EMPTY)
    elif suffix in TEXT_SUFFIXES:
        yield _from_plain_text(text, file_id, where)
    elif suffix in HTML_SUFFIXES:
        yield _from_html(text, file_id, where)
    else:
        yield from _from_json(text, file_id, where)


def _read_capped(path: Path, max_file_bytes: int) -> bytes | None:
    """The file's bytes, or None if it grew past the cap since it was measured."""
    with path.open("rb") as f:
        data = f.read(max_file_bytes + 1)
    return None if len(data) > max_file_bytes else data


def _looks_binary(data: bytes) -> bool:
    """NUL bytes, or control bytes in more than 1% of the first 64 KiB, mean this is not text."""
    if b"\x00" in data:
        return True
    sample = data[:_SNIFF_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls * 100 > len(sample)


def _wide_encoding(head: bytes) -> str | None:
    """The codec, utf-16 or utf-32, whose byte order mark the bytes start with; None for neither."""
    return next((enc for bom, enc in _WIDE_BOMS if head.startswith(bom)), None)


def _decode_text(data: bytes, where: str) -> str | LoadProblem:
    """A whole file's text, or why it is not text (binary, or mostly garbage once decoded)."""
    wide = _wide_encoding(data)
    if wide is not None:
        text = data.decode(wide, errors="replace")  # the codec reads and drops its byte order mark
        share = garbage_share(text)
    elif _looks_binary(data):
        return LoadProblem(where, _BINARY)
    else:
        share = garbage_share(data[: 4 * 64 * 1024].decode("utf-8", errors="replace"))
        text = "" if share > MAX_GARBAGE_SHARE else _decode(data, where)
    if share > MAX_GARBAGE_SHARE:
        return LoadProblem(where, f"not text: {share:.0%} of its characters are undecodable or controls")
    return text


def _decode(data: bytes, where: str) -> str:
    data = data.removeprefix(_UTF8_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        log.warning("%s: not valid UTF-8; the odd bytes were read as cp1252", where)
        return data.decode("utf-8", errors="newsqa-cp1252")


def _from_plain_text(text: str, file_id: str, where: str) -> Article | LoadProblem:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip())
    headline = lines[first].strip()
    is_heading = headline.startswith("#")
    headline = headline.lstrip("#").strip()
    body = "\n".join(lines[first + 1 :]).strip()
    if not body:
        if is_heading or not headline:
            return LoadProblem(where, _NO_TEXT)
        body, headline = headline, ""  # one plain line: it is the article, not a headline
    return Article(id=file_id, title=headline or headline_from_text(body), text=body, origin=where)


def _parse_int(digits: str) -> int | _LongNumber:
    """JSON integers as Python ints, except those too long for int() (over 4,300 digits)."""
    try:
        return int(digits)
    except ValueError:
        return _LongNumber(len(digits.lstrip("-")))


class _LongNumber(int):
    """Stands in for a JSON integer too long to read; an id of it is a problem, elsewhere it is ignored."""

    def __new__(cls, digits: int) -> _LongNumber:
        return super().__new__(cls, 0)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _json_loads(text: str) -> Any:
    return json.loads(text, parse_int=_parse_int)


def _from_html(text: str, file_id: str, where: str) -> Article | LoadProblem:
    try:
        page = extract_html(text)
    except Exception as e:  # a parser failure on one page must not stop the run
        return LoadProblem(where, f"could not parse the HTML ({type(e).__name__})")
    if page is None:
        return LoadProblem(where, "no article text in the HTML")
    body = clean_text(page.text)
    if not body.strip():
        return LoadProblem(where, "no article text in the HTML")
    return Article(
        id=file_id,
        title=clean_text(page.title or "").strip() or headline_from_text(body),
        text=body,
        url=page.url,
        published=page.published,
        source=clean_text(page.source) if page.source else None,
        origin=where,
    )


def _from_json(text: str, file_id: str, where: str) -> Iterator[Article | LoadProblem]:
    try:
        doc = _json_loads(text)
    except json.JSONDecodeError as e:
        yield LoadProblem(where, f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
        return
    except RecursionError:
        yield LoadProblem(where, "invalid JSON: nested too deeply")
        return
    except ValueError as e:  # anything else json or int() refuses: this file only, in one line
        yield LoadProblem(where, f"invalid JSON: {str(e).splitlines()[0][:120]}")
        return
    if isinstance(doc, dict) and isinstance(doc.get("articles"), list) and "text" not in doc:
        doc = doc["articles"]
    if isinstance(doc, dict):
        yield _from_record(doc, file_id, where)
    elif isinstance(doc, list):
        if not doc:
            yield LoadProblem(where, "no articles in the JSON list")
        for i, record in enumerate(doc):
            yield _from_record(record, f"{file_id}[{i}]", f"{where}[{i}]")
    else:
        shape = 'an article object, a list of them or {"articles": [...]}'
        yield LoadProblem(where, f"JSON is {_kind(doc)}, not {shape}")


def _load_jsonl(path: Path, file_id: str, where: str, max_file_bytes: int) -> Iterator[Article | LoadProblem]:
    """One record per line, read as a stream so a big file is never held in memory (UTF-16 is read whole)."""
    records = 0
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
        f.seek(0)
        lines: Iterator[tuple[int, str | bytes]]
        if _wide_encoding(head) is not None:
            text = _decode_text(f.read(max_file_bytes), where)
            if isinstance(text, LoadProblem):
                yield text
                return
            lines = enumerate(text.split("\n"), 1)  # not splitlines(): U+2028 may sit inside a string
        elif _looks_binary(head):
            yield LoadProblem(where, _BINARY)  # one problem, not one per garbage "line"
            return
        else:
            lines = enumerate(f, 1)
        for lineno, raw in lines:
            if not raw.strip():
                continue
            records += 1
            at = f"{where}:{lineno}"
            try:
                line = raw if isinstance(raw, str) else _decode(raw.removeprefix(_UTF8_BOM), at)
                record = _json_loads(line)
            except json.JSONDecodeError as e:
                yield LoadProblem(at, f"invalid JSON: {e.msg} (column {e.colno})")
                continue
            except RecursionError:
                yield LoadProblem(at, "invalid JSON: nested too deeply")
                continue
            except ValueError as e:
                yield LoadProblem(at, f"invalid JSON: {str(e).splitlines()[0][:120]}")
                continue
            yield _from_record(record, f"{file_id}:{lineno}", at)
    if not records:
        yield LoadProblem(where, _EMPTY)


def _from_record(record: Any, default_id: str, where: str) -> Article | LoadProblem:
    """One JSON article object into an Article; `default_id` is used when it carries no id."""
    if not isinstance(record, dict):
        return LoadProblem(where, f"not a JSON object ({_kind(record)})")
    raw_text = record.get("text")
    if raw_text is not None and not isinstance(raw_text, str):
        return LoadProblem(where, f'"text" is not a string ({_kind(raw_text)})')
    text = clean_text(html.unescape(raw_text or "")).strip()
    if not text:
        return LoadProblem(where, _NO_TEXT)
    raw_id = record.get("id")
    if isinstance(raw_id, _LongNumber):
        return LoadProblem(where, f'"id" is a number of {raw_id.digits} digits, too long to read')
    article_id = str(raw_id).strip() if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else ""
    if has_surrogates(article_id):
        return LoadProblem(where, '"id" holds a lone surrogate escape (half a character): cannot store it')
    source = _string(record.get("source"))
    title = clean_text(html.unescape(_string(record.get("title")) or "")).strip()
    return Article(
        id=article_id or default_id,
        title=title or headline_from_text(text),
        text=text,
        url=_repaired(record.get("url")),
        published=_repaired(record.get("published")),
        source=clean_text(html.unescape(source)).strip() or None if source else None,
        origin=where,
    )


def _repaired(value: Any) -> str | None:
    text = _string(value)
    return repair_surrogates(text) if text else None


def _string(value: Any) -> str | None:
    """A stripped string value; anything else (missing, null, a number) counts as absent."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _os_reason(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied"
    return (e.strerror or type(e).__name__).lower()
