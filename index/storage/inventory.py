"""What an index holds, for `newsqa index stats` and `Newsqa.stats`: the counts from the database (the
source of truth: a manifest's counts lag after a crash), then where it lives and its internals, which each
home knows about itself (`footprint`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .datadir import DataDir
from .pghome import PgHome


@dataclass(frozen=True, slots=True)
class Inventory:
    articles: int
    sentences: int
    newest: str | None  # the newest article's day, None when no article is dated
    where: dict[str, str]  # {"data_dir": path} or {"store": URL without its password}
    size_name: str  # bytes_on_disk or bytes_in_database
    size: int
    internals: dict[str, Any]  # model, dimension, snapshot, build time: what the home records
    listed: list[tuple[str, str, str | None]] | None = None  # (id, headline, day) when asked for

    def to_dict(self) -> dict[str, Any]:
        """The JSON `index stats --json` prints."""
        info: dict[str, Any] = {
            "articles": self.articles,
            "sentences": self.sentences,
            "newest": self.newest,
            **self.where,
            self.size_name: self.size,
            **self.internals,
        }
        if self.listed is not None:
            info["article_ids"] = [aid for aid, _, _ in self.listed]
            info["article_list"] = [{"id": a, "title": t, "published": d} for a, t, d in self.listed]
        return info


def take_inventory(home: DataDir | PgHome, *, list_articles: bool = False) -> Inventory:
    """Read `home`'s index without opening a Library (no model needed, none checked). IndexProblem
    (one line naming the repair) when there is no index or its manifest is missing or damaged."""
    home.checked_manifest()
    store = home.open_store(readonly=True)
    try:
        with store.read_transaction():
            articles, sentences = store.counts()
            newest = store.newest_day()
            listed = store.article_headlines() if list_articles else None
            place = home.footprint(store)
    finally:
        store.close()
    return Inventory(
        articles, sentences, newest, place.where, place.size_name, place.size, place.internals, listed
    )
