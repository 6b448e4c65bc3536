"""The same story twice (same URL, same text, a syndicated near-copy) is indexed once, copies remembered."""

from __future__ import annotations

from pathlib import Path

from fakes import HashingEmbedder

from newsqa.index.storage.library import Library
from newsqa.index.text.article import Article

STORY = (
    "The city council approved the new bridge on Tuesday after a two-year delay caused by funding problems. "
    "Construction will begin in the spring and is expected to last eighteen months, officials said. "
    "Residents of the east bank have campaigned for a crossing since the old ferry service closed in 2019. "
    "The mayor called the vote a turning point for the district and promised regular progress reports. "
    "Opposition councillors questioned the cost, which has risen by a third since it was first drawn up. "
    "The bridge will carry two lanes of traffic, a cycle path and a footway on each side of the deck. "
    "Engineers chose a steel design after tests showed the riverbed could not carry heavy concrete piers. "
    "Local businesses said the crossing would bring more customers to the market streets near the water. "
    "A public meeting about the building works is planned for next month at the community hall. "
    "The council said it would publish the full contract once negotiations with the builder are complete."
)
REWRITE = STORY.replace(
    "The city council approved the new bridge on Tuesday after a two-year delay caused by funding problems.",
    "LONDON (Reuters) - Councillors finally gave the go-ahead for a bridge on Tuesday, two years late.",
)


def story(aid: str, text: str = STORY, **kw: str) -> Article:
    return Article(id=aid, title=kw.pop("title", "Bridge approved"), text=text, **kw)


def test_copies_are_remembered_not_indexed(library: Library) -> None:
    library.ingest([story("local", url="https://local.example/bridge?utm_source=x", source="Local News")])
    report = library.ingest(
        [
            story("same-url", url="https://LOCAL.example/bridge", title="Bridge (updated link)"),
            story("same-text", source="Other Paper", title="Council backs bridge"),
            story(
                "wire", REWRITE, source="Reuters", url="https://wire.example/1", title="Bridge gets go-ahead"
            ),
            story(
                "unrelated", "A cat was rescued from a tree by firefighters on Sunday morning in the village."
            ),
        ]
    )
    assert report.added == 1 and sorted(report.copies) == [
        ("same-text", "local"),
        ("same-url", "local"),
        ("wire", "local"),
    ]
    assert library.counts()[0] == 2
    outlets = [row[3] for row in library.store.copies_of("local")]
    assert sorted(o or "" for o in outlets) == ["", "Other Paper", "Reuters"]
    # seen again unchanged: nothing happens
    again = library.ingest(
        [story("wire", REWRITE, source="Reuters", url="https://wire.example/1", title="Bridge gets go-ahead")]
    )
    assert (again.added, again.copies, again.unchanged) == (0, [], 0)


def test_copies_within_one_batch_and_after_restart(tmp_path: Path, embedder: HashingEmbedder) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    report = lib.ingest([story("a"), story("b", REWRITE)])
    assert report.added == 1 and report.copies == [("b", "a")]
    lib.close()
    reopened = Library(tmp_path, lambda: embedder, model_name=embedder.name)
    assert reopened.ingest([story("c", REWRITE, url="https://third.example/x")]).copies == [("c", "a")]


def test_removing_the_story_lets_a_copy_in_later(library: Library) -> None:
    library.ingest([story("a")])
    library.ingest([story("b", REWRITE)])
    library.remove(["a"])
    assert library.store.copies_of("a") == []
    report = library.ingest([story("b", REWRITE)])
    assert report.added == 1


def test_disabled_for_evaluation_pools(tmp_path: Path, embedder: HashingEmbedder) -> None:
    lib = Library(tmp_path, lambda: embedder, model_name=embedder.name, copy_threshold=None)
    assert lib.ingest([story("a"), story("b")]).added == 2


def test_answers_cite_the_other_outlets(library: Library) -> None:
    from newsqa.index.search.qa import QuestionAnswerer
    from newsqa.index.search.ranking import Searcher

    library.ingest(
        [
            story("local", source="Local News"),
            story("wire", REWRITE, source="Reuters", url="https://w.example/1"),
        ]
    )
    answer = QuestionAnswerer(Searcher(library)).ask("Why did the council delay the bridge?")
    citation = answer.passages[0].article.to_dict()
    assert citation["id"] == "local"
    assert [o["source"] for o in citation["also_reported_by"]] == ["Reuters"]
