"""The article record every loader produces and the store keeps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from .textclean import has_surrogates, printable, repair_surrogates


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as ingested.

    `id` is the caller's stable key (a file path, a JSON id or a URL); re-ingesting the same id with
    different content replaces the article, with the same content it is skipped (see `content_hash`).
    """

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO 8601 date or datetime, as given by the source
    source: str | None = None  # the outlet, e.g. "BBC News"
    origin: str = field(default="", compare=False)  # where it was read from, for messages only

    @property
    def content_hash(self) -> str:
        """A digest of everything stored about the article, so unchanged re-ingests cost nothing."""
        h = hashlib.sha256()
        for part in (self.title, self.text, self.url or "", self.published or "", self.source or ""):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """An input that could not become an article: reported, skipped, never fatal."""

    where: str  # "path" or "path:line"
    reason: str  # one line, for the user

    def __post_init__(self) -> None:
        # a path's undecodable bytes must not make the report itself unprintable
        object.__setattr__(self, "where", printable(self.where))
        object.__setattr__(self, "reason", printable(self.reason))

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def storable(article: Article) -> Article | LoadProblem:
    """The article with every string encodable as UTF-8, or a problem when its id is not.

    Lone surrogates in the other fields are repaired one-for-one (U+FFFD), which keeps any sentence
    offsets a caller computed valid; an id is a key, so it is never silently changed.
    """
    fields = (article.title, article.text, article.url, article.published, article.source)
    if not has_surrogates(article.id) and not any(f and has_surrogates(f) for f in fields):
        return article
    if has_surrogates(article.id):
        return LoadProblem(article.origin or article.id, "id is not valid Unicode (a lone surrogate)")
    return replace(
        article,
        title=repair_surrogates(article.title),
        text=repair_surrogates(article.text),
        url=repair_surrogates(article.url) if article.url else article.url,
        published=repair_surrogates(article.published) if article.published else article.published,
        source=repair_surrogates(article.source) if article.source else article.source,
        origin=printable(article.origin),
    )
