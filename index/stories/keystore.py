"""What copy detection needs from the index's database: where story keys and copies are kept.

The store (storage/store.py) provides it; `Stories` is handed one. Named here, as a protocol, so copy
detection depends on nothing above it: storage uses stories/, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

#: (copy id, original id, headline, url, outlet, published, content hash, similarity)
CopyRow = tuple[str, str, str, str | None, str | None, str | None, str, float]


class StoryKeyStore(Protocol):
    def transaction(self) -> AbstractContextManager[Any]: ...

    def article_hash(self, article_id: str) -> tuple[int, str] | None: ...

    def story_keys(self) -> list[tuple[str, bytes | None]]: ...

    def articles_without_story_keys(self) -> list[tuple[str, str, str | None]]: ...

    def put_story_keys(self, rows: Iterable[tuple[str, str | None, str, bytes | None]]) -> None: ...

    def article_with_key(self, column: str, value: str) -> str | None: ...

    def copy_hash(self, copy_id: str) -> str | None: ...

    def put_copies(self, rows: Iterable[CopyRow]) -> None: ...
