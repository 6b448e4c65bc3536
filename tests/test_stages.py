"""The ranking's stages, each on its own: the walk just before it (the stages ahead of it run on a small
dated story in a real SQLite store, the fake embedder as model), then what it changed. And the list:
built from the options, a stage left out by `skip`, `Searcher.rank` a loop over it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder

from newsqa.index.search.fusion import Scored
from newsqa.index.search.ranking import Searcher, SearchOptions
from newsqa.index.search.rerank import Reranker
from newsqa.index.search.stages import REQUIRED, STAGES, Stage, build_stages
from newsqa.index.search.timerank import QueryTime, query_time
from newsqa.index.search.walk import Walk, distinct
from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

AS_OF = dt.date(2023, 7, 1)
COPY = "The harbour budget grew to four million pounds."
STORY = [
    Article(
        id="works",
        title="Harbour works",
        text=f"{COPY} The harbour budget was discussed at length by the council.",
        published="2023-03-01",
    ),
    Article(
        id="faq",
        title="Harbour questions",
        text="Who paid for the harbour budget? The council approved the harbour budget in March 2023.",
        published="2023-06-20",
    ),
    Article(
        id="wire", title="Wire", text=f"{COPY}  Rain fell on the harbour all week.", published="2023-06-25"
    ),
    Article(
        id="later",
        title="Harbour works",
        text="The harbour budget grew again to five million pounds.",
        published="2023-08-01",  # after AS_OF: never quoted as of then
    ),
    Article(
        id="names",
        title="Harbour opening",
        text="Mayor Alice Brown opened the harbour. Alice Brown praised the harbour budget. "
        "Bob Green visited the harbour.",
        published="2023-01-10",
    ),
]
OPEN = SearchOptions(min_confidence=-1.0)  # never abstain: every test sees the whole ranking


@pytest.fixture
def lib(tmp_path: Path, embedder: HashingEmbedder) -> Iterator[Library]:
    library = Library(tmp_path / "data", lambda: embedder, model_name=embedder.name)
    library.ingest(STORY)
    yield library
    library.close()


class CouncilQuestions(HashingEmbedder):
    """A "question model" placing every question nearer the council: not the index model's vectors."""

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return super().embed([f"{t} council" for t in texts])


def up_to(searcher: Searcher, name: str, walk: Walk) -> Stage:
    """Run the stages ahead of `name` over `walk`; that stage, not yet applied."""
    for stage in searcher.stages:
        if stage.name == name:
            return stage
        stage.apply(walk)
    raise AssertionError(f"no stage {name} in {[s.name for s in searcher.stages]}")


def text_of(walk: Walk, scored: Sequence[Scored]) -> list[str]:
    return [walk.texts[s.id] for s in scored]


def when(question: str) -> QueryTime:
    return query_time(question, AS_OF)


# -- the list ----------------------------------------------------------------------------------------


def test_the_stages_run_in_their_order_and_skip_leaves_them_out(lib: Library) -> None:
    names = [s.name for s in Searcher(lib).stages]
    assert names == [n for n in STAGES if n not in {"rerank", "answer"}]  # no models given
    skipped = Searcher(lib, SearchOptions(skip="cues, time")).stages
    assert [s.name for s in skipped] == [n for n in names if n not in {"cues", "time"}]
    assert SearchOptions(skip="cues,,time").skipped == {"cues", "time"}


def test_a_stage_whose_weight_is_zero_is_left_out() -> None:
    lib = Library.__new__(Library)  # never read: building the list reads nothing
    options = SearchOptions(period_weight=0.0, lexical_trust=0.0, vote_weight=0.0)
    names = {s.name for s in build_stages(options, lib)}
    assert not names & {"period", "trust", "vote"}


def test_skipping_an_unknown_or_a_required_stage_is_refused(lib: Library) -> None:
    with pytest.raises(ValueError, match="no stage cuse: the stages are question, dense"):
        Searcher(lib, SearchOptions(skip="cuse"))
    for name in REQUIRED:
        with pytest.raises(ValueError, match="cannot be skipped"):
            Searcher(lib, SearchOptions(skip=name))


def test_rank_is_the_loop_over_the_stages(lib: Library) -> None:
    searcher = Searcher(lib, OPEN)
    seen: list[str] = []

    class Spy:
        name = "spy"

        def apply(self, walk: Walk) -> None:
            seen.append(walk.query)

    searcher.stages.insert(3, Spy())
    ranking = searcher.rank("harbour budget")
    assert seen == ["harbour budget"] and ranking.hits


def test_skip_is_set_from_the_evaluations_set_option(lib: Library, tmp_path: Path) -> None:
    import click

    from newsqa.evaluation.command import searcher_for
    from newsqa.settings import Settings
    from newsqa.wiring import Wiring

    ctx = Wiring(Settings(data_dir=tmp_path, answer_model=None))

    class Index:  # what searcher_for asks of the front door: a search with other options
        def searcher(self, options: SearchOptions) -> Searcher:
            return ctx.searcher(lib, options)

    searcher = searcher_for(ctx, Index(), ("skip=cues,time",))  # type: ignore[arg-type]
    assert not {"cues", "time"} & {s.name for s in searcher.stages}
    with pytest.raises(click.BadParameter, match="no stage nope"):
        searcher_for(ctx, Index(), ("skip=nope",))  # type: ignore[arg-type]


# -- each stage --------------------------------------------------------------------------------------


def test_question_is_the_index_models_vector_or_a_blend_with_a_question_model(lib: Library) -> None:
    walk = Walk("harbour budget")
    up_to(Searcher(lib), "question", walk).apply(walk)
    alone = lib.embedder.embed(["harbour budget"])[0]
    assert walk.judge is None and np.allclose(walk.vector, alone)
    walk = Walk("harbour budget")
    up_to(Searcher(lib, questions=CouncilQuestions()), "question", walk).apply(walk)
    assert walk.judge is not None and np.allclose(walk.judge, alone)
    own = CouncilQuestions().embed(["harbour budget"])[0]
    assert np.allclose(walk.vector, (own + alone) / np.linalg.norm(own + alone))  # an even blend


def test_dense_finds_the_nearest_sentences_and_as_of_a_day_only_earlier_ones(lib: Library) -> None:
    searcher = Searcher(lib, SearchOptions(candidates=4))
    walk = Walk("harbour budget grew")
    up_to(searcher, "dense", walk).apply(walk)
    assert len(walk.dense) == 4 and walk.read == {}
    walk = Walk("harbour budget grew", when=when("harbour budget grew"))
    up_to(searcher, "dense", walk).apply(walk)
    assert walk.dense and set(walk.read) == set(walk.dense)
    assert all("five million" not in row.text for row in walk.read.values())


def test_lexical_matches_bm25_within_its_budget(lib: Library) -> None:
    walk = Walk("harbour budget mayor")
    up_to(Searcher(lib), "lexical", walk).apply(walk)
    assert walk.match == ["harbour", "budget", "mayor"] and walk.lexical
    walk = Walk("harbour budget mayor")
    up_to(Searcher(lib, SearchOptions(lexical_budget=2)), "lexical", walk).apply(walk)
    assert walk.match == ["mayor"]  # the common words left out, the rarest kept


def test_period_adds_the_sentences_about_the_asked_days(lib: Library) -> None:
    question = "What happened to the harbour in March 2023?"
    walk = Walk(question, when=when(question))
    up_to(Searcher(lib), "period", walk).apply(walk)
    about = lib.store.sentences_by_id(walk.about_period)
    assert "The council approved the harbour budget in March 2023." in {r.text for r in about.values()}
    walk = Walk(question)  # no moment of asking: no days asked about
    up_to(Searcher(lib), "period", walk).apply(walk)
    assert walk.about_period == []


def test_rows_give_every_candidate_a_cosine_and_a_row_and_drop_later_ones(lib: Library) -> None:
    question = "harbour budget grew again"
    walk = Walk(question)
    up_to(Searcher(lib, SearchOptions(candidates=1)), "rows", walk).apply(walk)
    assert set(walk.lexical) <= set(walk.dense) == set(walk.sentences) == set(walk.texts)
    assert "The harbour budget grew again to five million pounds." in walk.texts.values()
    walk = Walk(question, when=when(question))
    up_to(Searcher(lib), "rows", walk).apply(walk)
    assert "The harbour budget grew again to five million pounds." not in walk.texts.values()
    assert set(walk.dense) == set(walk.sentences) == set(walk.days) and set(walk.lexical) <= set(walk.dense)
    assert all(day is not None and day <= AS_OF for day in walk.days.values())


def test_paragraphs_give_each_candidate_its_paragraphs_bm25(lib: Library) -> None:
    walk = Walk("mayor opened")
    up_to(Searcher(lib), "paragraphs", walk).apply(walk)
    lifted = {walk.texts[i] for i in walk.in_paragraph}
    assert "Bob Green visited the harbour." in lifted  # the paragraph holds "mayor opened", it does not


def test_trust_scales_bm25_by_how_much_of_the_question_its_best_matches_hold(lib: Library) -> None:
    walk = Walk("harbour budget zeppelin quarrel")
    stage = up_to(Searcher(lib), "trust", walk)
    stage.apply(walk)
    assert max(walk.covered.values()) == 0.5 and walk.lexical_scale == pytest.approx(0.5**1.5)


def test_fuse_is_the_weighted_sum_best_first(lib: Library) -> None:
    options = SearchOptions(lexical_trust=0.0)
    walk = Walk("harbour budget grew")
    up_to(Searcher(lib, options), "fuse", walk).apply(walk)
    assert len(walk.fused) == len(walk.dense)
    assert [s.score for s in walk.fused] == sorted((s.score for s in walk.fused), reverse=True)
    s = walk.fused[0]
    expected = options.dense_weight * s.dense + options.lexical_weight * s.lexical
    assert s.score == pytest.approx(expected + options.paragraph_weight * s.paragraph)


def test_cues_lift_the_kind_of_answer_asked_for_and_lower_questions(lib: Library) -> None:
    question = "How much did the harbour budget grow?"
    walk = Walk(question)
    stage = up_to(Searcher(lib, SearchOptions(cue_weight=0.5, form_weight=0.5)), "cues", walk)
    before = {s.id: s.score for s in walk.fused}
    stage.apply(walk)
    change = {walk.texts[s.id]: s.score - before[s.id] for s in walk.fused}
    assert change[COPY] == pytest.approx(0.5)  # "four million": a number
    assert change["Who paid for the harbour budget?"] == pytest.approx(-0.5)  # a question states nothing
    assert change["The harbour budget was discussed at length by the council."] == 0.0


def test_time_lifts_recent_evidence_only_with_a_moment_of_asking(lib: Library) -> None:
    question = "What did the harbour budget do?"
    walk = Walk(question, when=when(question))
    stage = up_to(Searcher(lib), "time", walk)
    before = {s.id: s.score for s in walk.fused}
    stage.apply(walk)
    change = {walk.texts[s.id]: s.score - before[s.id] for s in walk.fused}
    assert change["Rain fell on the harbour all week."] > change["Alice Brown praised the harbour budget."]
    walk = Walk(question)
    stage = up_to(Searcher(lib), "time", walk)
    fused = list(walk.fused)
    stage.apply(walk)
    assert walk.fused == fused


def test_focus_lifts_the_follow_ups_own_words(lib: Library) -> None:
    walk = Walk("harbour budget", focus=("Rain",))
    stage = up_to(Searcher(lib, OPEN), "focus", walk)
    before = {s.id: s.score for s in walk.fused}
    stage.apply(walk)
    lifted = {walk.texts[s.id]: s.score - before[s.id] for s in walk.fused if s.score != before[s.id]}
    assert lifted == {"Rain fell on the harbour all week.": pytest.approx(OPEN.focus_weight)}


def test_evidence_is_the_first_distinct_candidates_cosines(lib: Library) -> None:
    walk = Walk("harbour budget grew")
    up_to(Searcher(lib, SearchOptions(lexical_trust=0.0)), "evidence", walk).apply(walk)
    first = distinct(walk.fused, walk.sentences, limit=5)
    assert walk.evidence == {s.id: walk.dense[s.id] for s in first}
    walk = Walk("harbour budget grew")  # a question model ranks: the index model's vector judges
    searcher = Searcher(lib, SearchOptions(lexical_trust=0.0), questions=CouncilQuestions())
    up_to(searcher, "evidence", walk).apply(walk)
    assert walk.judge is not None and not np.allclose(walk.judge, walk.vector)
    found, vectors = lib.store.live_vectors(list(walk.evidence), lib.dim)
    judged = dict(zip(found.tolist(), (vectors @ walk.judge).tolist(), strict=True))
    assert walk.evidence == pytest.approx(judged)


class FixedReranker(Reranker):
    """Prefers one text (read as "headline. sentence"), indifferent to the rest."""

    def __init__(self, liked: str) -> None:
        super().__init__(HashingEmbedder(), top=20)
        self.liked = liked

    def cosines(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        return {i: 1.0 if t.endswith(self.liked) else 0.0 for i, t in texts.items()}


def test_rerank_puts_the_second_models_cosine_in_place_of_the_first(lib: Library) -> None:
    walk = Walk("harbour budget")
    up_to(
        Searcher(lib, OPEN, reranker=FixedReranker("Bob Green visited the harbour.")), "rerank", walk
    ).apply(walk)
    assert text_of(walk, walk.fused[:1]) == ["Bob Green visited the harbour."]


class Judge:
    name = "scripted"

    def scores(self, question: str, texts: Mapping[int, str]) -> dict[int, float]:
        return {i: 0.9 if "Rain" in t else 0.0 for i, t in texts.items()}


def test_answer_lifts_what_the_answer_model_says_answers(lib: Library) -> None:
    walk = Walk("harbour budget")
    searcher = Searcher(lib, SearchOptions(min_confidence=-1.0, answer_top=20), answers=Judge())
    up_to(searcher, "answer", walk).apply(walk)
    assert text_of(walk, walk.fused[:1]) == ["Rain fell on the harbour all week."]


def test_diversify_counts_copies_once_and_caps_each_article(lib: Library) -> None:
    walk = Walk("harbour budget grew four million")
    up_to(Searcher(lib), "diversify", walk).apply(walk)
    texts = text_of(walk, walk.hits)
    assert texts.count(COPY) == 1 and len(texts) == len(set(texts))
    walk = Walk("harbour budget grew four million")
    up_to(Searcher(lib, SearchOptions(per_article=1)), "diversify", walk).apply(walk)
    articles = [walk.sentences[h.id].article for h in walk.hits]
    assert len(articles) == len(set(articles))


def test_vote_lifts_the_name_the_best_hits_repeat_for_a_name_question(lib: Library) -> None:
    question = "Who opened the harbour?"
    walk = Walk(question)
    stage = up_to(Searcher(lib, SearchOptions(vote_weight=0.5)), "vote", walk)
    before = {s.id: s.score for s in walk.hits}
    stage.apply(walk)
    change = {walk.texts[s.id]: s.score - before[s.id] for s in walk.hits}
    assert change["Alice Brown praised the harbour budget."] > change.get(
        "Bob Green visited the harbour.", 0.0
    )
    walk = Walk("What opened the harbour?")  # not a name question: no vote
    stage = up_to(Searcher(lib, SearchOptions(vote_weight=0.5)), "vote", walk)
    hits = list(walk.hits)
    stage.apply(walk)
    assert walk.hits == hits
