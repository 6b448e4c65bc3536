"""Articles from what an admin sends: an uploaded file or text in a message, read by the file loaders.

The bytes go to a private temporary folder under the file's own name and are read by `iter_articles`,
so an upload is parsed exactly like the same file given to `newsqa index add`. Ids do not keep the temp
path: a file's article becomes `telegram:<file name>` (uploading a corrected file of that name updates
it); records with their own ids keep them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from newsqa.index.ingest.loaders import SUFFIXES, iter_articles
from newsqa.index.text.article import Article, LoadProblem
from newsqa.index.text.textclean import repair_surrogates

_UNSAFE = re.compile(r"[^\w.\-]+")
MAX_NAME_BYTES = 255  # a file name's limit on common file systems, and a sane id length
TEMP_NAME_BYTES = 200  # the temp copy's name, well inside that limit


def supported(filename: str) -> bool:
    return Path(filename).suffix.lower() in SUFFIXES


def supported_types() -> str:
    return ", ".join(sorted(SUFFIXES))


def shorten(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """`name` within `limit` UTF-8 bytes, its extension kept; a cut name ends in a digest of the whole,
    so two long names that share a start stay apart (and the same long name always maps the same)."""
    if len(name.encode("utf-8")) <= limit:
        return name
    suffix = Path(name).suffix
    if len(suffix.encode("utf-8")) > 16:  # not a real extension: the name is just long
        suffix = ""
    tag = "~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]
    budget = limit - len((tag + suffix).encode("utf-8"))
    stem = name[: len(name) - len(suffix)].encode("utf-8")[:budget].decode("utf-8", "ignore")
    return stem + tag + suffix


def safe_name(filename: str) -> str:
    """A bare file name that cannot leave the temp folder and the file system accepts, keeping its
    extension (the loaders pick a reader by it)."""
    name = _UNSAFE.sub("_", Path(filename).name).strip("._") or "upload"
    suffix = Path(filename).suffix.lower()
    name = name if name.lower().endswith(suffix) else name + suffix
    return shorten(name, TEMP_NAME_BYTES)


def load_upload(filename: str, data: bytes, *, article_id: str | None = None) -> list[Article | LoadProblem]:
    """The articles in an uploaded file (or why not), ids rewritten from the temp path to `article_id`."""
    filename = repair_surrogates(filename)  # Telegram's JSON may carry half an emoji; ids must encode
    if not supported(filename):
        return [LoadProblem(filename, f"unsupported file type; send one of {supported_types()}")]
    base_id = article_id or f"telegram:{shorten(Path(filename).name)}"
    with tempfile.TemporaryDirectory(prefix="newsqa-upload-") as tmp:
        path = Path(tmp) / safe_name(filename)
        path.write_bytes(data)
        local = path.resolve().as_posix()
        out: list[Article | LoadProblem] = []
        for item in iter_articles([path]):
            if isinstance(item, Article):
                if item.id.startswith(local):
                    item = replace(item, id=base_id + item.id[len(local) :])
                out.append(replace(item, origin=filename))
            else:
                out.append(LoadProblem(item.where.replace(str(path), filename), item.reason))
        return out


def load_text(text: str) -> list[Article | LoadProblem]:
    """An article typed or forwarded into the chat: first line the headline, like a .txt file.

    Its id is a digest of the text, so adding the same text twice changes nothing.
    """
    text = repair_surrogates(text)
    digest = hashlib.sha1(text.strip().encode("utf-8")).hexdigest()[:16]
    return load_upload("message.txt", text.encode("utf-8"), article_id=f"telegram:text:{digest}")
