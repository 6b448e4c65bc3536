"""The article record every loader produces and the store keeps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


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

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"
