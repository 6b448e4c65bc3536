"""Where the embedder was before the models got their room (index/models/embedder.py): kept only for
search/ranking.py, which imports it from here until the ranking-stages work moves that import."""

from __future__ import annotations

from .models.embedder import Embedder, embed_queries

__all__ = ["Embedder", "embed_queries"]
