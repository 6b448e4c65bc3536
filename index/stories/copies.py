"""One story, many copies: recognise an article already indexed under another id and remember the copy.

A story is the same when its normalised URL is, when its text is (after whitespace and case folding), or
when its word pairs overlap enough (MinHash, see dedupe.py) — a syndicated copy with its own byline and a
reworded first paragraph. The copy is not indexed again; its outlet, headline and link are kept so an
answer can say "also reported by".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..text.article import Article, LoadProblem
from .dedupe import NearDupIndex, normalize_url, text_fingerprint
from .keystore import StoryKeyStore


@dataclass(frozen=True, slots=True)
class Copy:
    """An article recognised as a story already indexed."""

    article: Article
    original: str  # id of the indexed article
    similarity: float  # 1.0 for the same URL or text


class Stories:
    """Filters an ingest stream; keys of what passes are written after the articles are committed."""

    def __init__(self, store: StoryKeyStore, *, threshold: float = 0.8) -> None:
        self.store = store
        self.threshold = threshold
        self._near: NearDupIndex | None = None
        self._pending: dict[str, tuple[str | None, str, bytes | None]] = {}  # id -> keys, not yet stored
        self._pending_by_key: dict[str, str] = {}
        self.copies: list[Copy] = []

    def load(self) -> None:
        """Load the keys now (a long-running writer does this once), so no later ingest pays for it."""
        self._index()

    def _index(self) -> NearDupIndex:
        """Loaded on first use from the stored signatures; articles missing keys (a crash) are keyed now."""
        if self._near is None:
            near = NearDupIndex()
            missing = self.store.articles_without_story_keys()
            if missing:
                self.store.put_story_keys(self._keys(aid, text, url, near)[1] for aid, text, url in missing)
            rows = [(aid, blob) for aid, blob in self.store.story_keys() if blob]
            if rows:
                sigs = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.uint32)
                near.add_signatures([aid for aid, _ in rows], sigs.reshape(len(rows), near.num_perm))
            self._near = near
        return self._near

    @staticmethod
    def _keys(
        aid: str, text: str, url: str | None, near: NearDupIndex
    ) -> tuple[np.ndarray | None, tuple[str, str | None, str, bytes | None]]:
        sig = near.signature(text)
        url_key = normalize_url(url) if url else None
        return sig, (aid, url_key, text_fingerprint(text), sig.tobytes() if sig is not None else None)

    def filter(self, items: Iterable[Article | LoadProblem]) -> Iterator[Article | LoadProblem]:
        """Pass through new stories and updates of known ids; hold back copies (see `copies`)."""
        near = self._index()
        for item in items:
            if isinstance(item, LoadProblem) or self.store.article_hash(item.id) is not None:
                yield item  # a problem, or an update of an article we index: the library decides
                continue
            if self.store.copy_hash(item.id) == item.content_hash:
                continue  # a copy seen before, unchanged
            sig, (aid, url_key, fingerprint, blob) = self._keys(item.id, item.text, item.url, near)
            original, similarity = self._original(url_key, fingerprint, sig, near)
            if original is not None and original != item.id:
                self.copies.append(Copy(item, original, similarity))
                continue
            self._pending[aid] = (url_key, fingerprint, blob)
            self._pending_by_key[fingerprint] = aid
            if url_key:
                self._pending_by_key[url_key] = aid
            if sig is not None:
                near.add_signatures([aid], sig[None, :])
            yield item

    def _original(
        self, url_key: str | None, fingerprint: str, sig: np.ndarray | None, near: NearDupIndex
    ) -> tuple[str | None, float]:
        for column, value in (("url_key", url_key), ("fingerprint", fingerprint)):
            if value is None:
                continue
            found = self._pending_by_key.get(value) or self.store.article_with_key(column, value)
            if found:
                return found, 1.0
        if sig is not None:
            for aid, similarity in near.find_signature(sig, self.threshold):
                if aid in self._pending or self.store.article_hash(aid) is not None:
                    return aid, similarity
        return None, 0.0

    def commit(self) -> None:
        """Store the keys of the articles that made it in, and the copies; one transaction."""
        with self.store.transaction():
            self.store.put_story_keys(
                (aid, *keys)
                for aid, keys in self._pending.items()
                if self.store.article_hash(aid) is not None
            )
            self.store.put_copies(
                (
                    c.article.id,
                    c.original,
                    c.article.title,
                    c.article.url,
                    c.article.source,
                    c.article.published,
                    c.article.content_hash,
                    c.similarity,
                )
                for c in self.copies
            )
        self.reset()

    def reset(self) -> None:
        """Forget what is pending; after a failed ingest the in-memory index is rebuilt from the database."""
        if self._pending:
            self._near = None
        self._pending.clear()
        self._pending_by_key.clear()
        self.copies = []

    def forget(self, article_ids: list[str]) -> None:
        """After a removal: the removed stories no longer match new arrivals."""
        if self._near is not None:
            for aid in article_ids:
                self._near.remove(aid)
