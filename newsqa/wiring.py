"""How the parts are made from the settings: the embedder, the index (a Library), search and fetch
options, the answerer.

Every front end (the `newsqa` commands, the bot, the evaluation, the benchmark) makes them here, so none
of them needs another's command module. Heavy libraries (torch, faiss) load only when a part is made.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from newsqa.index.models.embedder import model_name
from newsqa.index.web.netguard import AllowList
from newsqa.settings import Settings

if TYPE_CHECKING:
    from newsqa.index.models.answer_model import AnswerModel
    from newsqa.index.models.embedder import Embedder
    from newsqa.index.models.index_model import IndexModelCard
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.search.ranking import Searcher, SearchOptions
    from newsqa.index.search.rerank import Reranker
    from newsqa.index.storage.datadir import DataDir
    from newsqa.index.storage.library import Library
    from newsqa.index.storage.pghome import PgHome
    from newsqa.index.web.fetch import FetchOptions


@dataclass(frozen=True, slots=True)
class Wiring:
    """The settings, and an embedder to use instead of the model they name (tests inject a fake one).

    A value: it holds nothing loaded. The models searches share are kept by `shared_reranker`,
    `shared_question_encoder` and `shared_answer_model` below, one per spec in the process."""

    settings: Settings
    injected_embedder: Callable[[], Embedder] | None = None

    def allowing(self, hosts: AllowList) -> Wiring:
        """The same wiring, fetching from `hosts` besides public addresses (a command's --allow-host)."""
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, allow_hosts=hosts))

    def embedder_factory(self) -> Callable[[], Embedder]:
        """How to make the embedder; the index calls it only when something must be embedded."""
        if self.injected_embedder is not None:
            return self.injected_embedder
        spec, batch_size, models = self.settings.model, self.settings.batch_size, self.settings.models_dir

        def make() -> Embedder:
            from newsqa.index.models.embedder import SentenceTransformerEmbedder

            return SentenceTransformerEmbedder(spec, batch_size=batch_size, models_dir=models)

        return make

    def reranker(self) -> Reranker | None:
        """The --rerank-model, loaded on first use and then shared (None: not asked for). Its own batch
        size: it embeds ~20 texts at a time."""
        spec = self.settings.rerank_model
        if not spec:
            return None
        return shared_reranker(spec, self.settings.models_dir)

    def question_encoder(self) -> Embedder | None:
        """The --question-model, loaded on first use and then shared; None where questions are embedded by
        the index model: none asked for, a test's injected embedder, or an index of another model (the
        question model was trained against all-MiniLM-L6-v2's sentence vectors and fits no others).
        An injected embedder counts by its name: the terminal's loading spinner wraps the real model."""
        from newsqa.index.models.question_encoder import PAIRS_WITH

        spec = self.settings.question_model
        if not spec or self.model_name() != PAIRS_WITH:
            return None
        return shared_question_encoder(spec)

    def answer_model(self) -> AnswerModel | None:
        """The --answer-model, loaded on first use and then shared; None when off. It reads text, so it
        serves an index of any model."""
        spec = self.settings.answer_model
        if not spec:
            return None
        return shared_answer_model(spec)

    def searcher(self, lib: Library, options: SearchOptions | None = None) -> Searcher:
        """The search every front end uses: the measured options (or `options`), the question model, the
        answer model and the reranker where they apply."""
        from newsqa.index.search.ranking import Searcher

        return Searcher(
            lib,
            options or self.search_options(),
            reranker=self.reranker(),
            questions=self.question_encoder(),
            answers=self.answer_model(),
            judge=self.abstain_judge(),
        )

    def model_name(self) -> str:
        """The model's name as an index records it (without loading the model)."""
        if self.injected_embedder is not None:
            return self.injected_embedder().name
        return model_name(self.settings.model)

    def keeping_index_model(self) -> Wiring:
        """This wiring with the model the index records, for settings that chose none: an index keeps its
        model until another is chosen. Itself where there is no index yet, or a test's injected embedder."""
        if self.injected_embedder is not None:
            return self
        recorded = self.recorded_model()
        if recorded is None:
            return self
        from newsqa.index.models.index_model import followed_spec

        return dataclasses.replace(
            self, settings=dataclasses.replace(self.settings, model=followed_spec(recorded))
        )

    def recorded_model(self) -> str | None:
        """The model the index in the settings' home was built with (None: no index yet, or one that
        cannot be read: the command opening it says why, in its own words)."""
        try:
            return self.home().recorded_model()
        except Exception:  # a damaged or unreachable index is reported by the command that opens it
            return None

    def home(self) -> DataDir | PgHome:
        """Where the index lives: the PostgreSQL database of --store, else the data directory."""
        if self.settings.store is not None:
            from newsqa.index.storage.pghome import PgHome

            return PgHome(self.settings.store)
        from newsqa.index.storage.datadir import DataDir

        return DataDir(self.settings.data_dir)

    def library(
        self, *, create: bool = True, compressed: bool | None = None, detect_copies: bool = True
    ) -> Library:
        """The index in the settings' home; `compressed` None keeps the vector layout it has;
        `detect_copies` False indexes every article as given (an evaluation pool)."""
        from newsqa.index.storage.library import COPY_THRESHOLD, Library
        from newsqa.index.storage.vectors import IndexPolicy

        return Library(
            self.home(),
            self.embedder_factory(),
            model_name=self.model_name(),
            readonly=not create,
            vector_policy=IndexPolicy(compressed=compressed),
            copy_threshold=COPY_THRESHOLD if detect_copies else None,
        )

    def fetch_options(self) -> FetchOptions:
        from newsqa.index.web.fetch import FetchOptions

        return FetchOptions.allowing(self.settings.allow_hosts)

    def search_options(self) -> SearchOptions:
        """The measured defaults (the --rerank-model's own weight among them), with the user's
        --min-confidence if given."""
        from newsqa.index.models.modelparts import KNOWN
        from newsqa.index.search.ranking import SearchOptions

        opts = SearchOptions()
        threshold = self.model_threshold()
        if threshold is not None:
            opts = dataclasses.replace(opts, min_confidence=threshold)
        reranker = KNOWN.get(self.settings.rerank_model or "")
        if reranker is not None:
            opts = dataclasses.replace(opts, rerank_weight=reranker.rerank_weight)
        if self.settings.min_confidence is not None:
            opts = dataclasses.replace(opts, min_confidence=self.settings.min_confidence)
        return opts

    def model_threshold(self) -> float | None:
        """The abstain threshold measured for the index model, when it is newsqa's own and its manifest
        records one (on its abstain judge's cosines, or on its own, which are on another scale than
        all-MiniLM-L6-v2's); a test's injected embedder counts by its name."""
        card = self._own_index_model()
        return None if card is None else card.min_confidence

    def abstain_judge(self) -> Reranker | None:
        """The model whose cosines decide abstaining, when the index model is newsqa's own and its
        manifest names one (loaded on first use, shared like a reranker); None: the index model's own."""
        card = self._own_index_model()
        if card is None or card.judge is None:
            return None
        return shared_reranker(card.judge, self.settings.models_dir)

    def _own_index_model(self) -> IndexModelCard | None:
        """The index model's card when it is newsqa's own and is what the index records."""
        from newsqa.index.models.index_model import index_model_card

        card = index_model_card(self.settings.model or "default")
        if card is None or card.recorded != self.model_name():
            return None
        return card

    def answerer(self, lib: Library, k: int) -> QuestionAnswerer:
        from newsqa.index.search.qa import QuestionAnswerer

        return QuestionAnswerer(self.searcher(lib), k=k)


@functools.cache
def shared_reranker(spec: str, models_dir: Path) -> Reranker:
    """The --rerank-model, loaded once per process: every searcher shares it (one model in memory, one
    cache of vectors: the evaluation's indexes, the bot's refreshes)."""
    from newsqa.index.models.embedder import reranker_embedder
    from newsqa.index.search.rerank import Reranker

    return Reranker(reranker_embedder(spec, models_dir))


@functools.cache
def shared_question_encoder(spec: str) -> Embedder:
    """The --question-model, loaded once per process and shared the same way."""
    from newsqa.index.models.question_encoder import QuestionEncoder

    return QuestionEncoder(spec)


@functools.cache
def shared_answer_model(spec: str) -> AnswerModel:
    """The --answer-model, loaded once per process and shared the same way."""
    from newsqa.index.models.answer_model import AnswerModel

    return AnswerModel(spec)
