from __future__ import annotations

import numpy as np
import pytest

from newsqa.index.stories.dedupe import NearDupIndex, normalize_url, text_fingerprint, word_shingles

HARBOUR = "\n\n".join(
    [
        (
            "The city council approved a plan on Tuesday to rebuild the old harbour wall, which was badly "
            "damaged in last winter's storms, at a cost of 48 million euros."
        ),
        (
            "Work is due to start in March and should take about two years, according to the council's "
            "infrastructure department. Fishing boats will be moved to a temporary mooring on the northern "
            "pier while the wall is rebuilt."
        ),
        (
            "The harbour master, Ines Duarte, said the current wall could not survive another season of "
            'strong storms. "We were lucky that nobody was hurt in January," she told reporters after the '
            'vote. "Some sections have already moved by more than a metre."'
        ),
        (
            "Engineers found that the foundations of the wall, built in 1896, had been weakened by decades of"
            " erosion. The new design raises the top of the wall by 1.5 metres and adds a concrete apron to "
            "break the force of incoming waves."
        ),
        (
            "Local fishermen welcomed the decision but warned that the temporary mooring was too exposed. The"
            " fishermen's association asked the council to extend the northern pier before work begins, a "
            "request the council said it would consider next month."
        ),
        (
            "The national government will pay for 60 percent of the project from its coastal protection fund,"
            " and the rest will come from the city's own budget and a loan from the regional development "
            "bank."
        ),
        (
            "Opposition councillors voted against the plan, arguing that the city should first publish a full"
            " environmental study of the bay. The mayor rejected the criticism, saying the study had been "
            "completed in the autumn and would be released with the tender documents."
        ),
        (
            "Tenders for the construction contract will open in two weeks. The council expects to choose a "
            "builder before the end of February."
        ),
    ]
)

# The same wire story as another outlet ran it: new headline (not part of the text), a byline and a
# reworded first paragraph, two words changed further down.
HARBOUR_SYNDICATED = "\n\n".join(
    [
        (
            "LISBON (Reuters) - The city council approved a plan on Tuesday to rebuild its old harbour wall, "
            "badly damaged in storms last winter, at a cost of 48 million euros ($52 million)."
        ),
        (
            "Work is due to start in March and should take about two years, according to the council's "
            "infrastructure department. Fishing boats will be moved to a temporary mooring on the northern "
            "pier while the wall is rebuilt."
        ),
        (
            "The harbour master, Ines Duarte, said the current wall could not survive another season of "
            'strong storms. "We were lucky that nobody was hurt in January," she told journalists after the '
            'vote. "Some sections have already moved by more than a metre."'
        ),
        (
            "Engineers found that the foundations of the wall, built in 1896, had been weakened by decades of"
            " erosion. The new design raises the top of the wall by 1.5 metres and adds a concrete apron to "
            "break the force of incoming waves."
        ),
        (
            "Local fishermen welcomed the decision but warned that the temporary mooring was too exposed. The"
            " fishermen's association asked the council to extend the northern pier before work begins, a "
            "request the council said it would consider next month."
        ),
        (
            "The national government will pay for 60 percent of the project from its coastal protection fund,"
            " and the rest will come from the city's own budget and a loan from the regional development "
            "bank."
        ),
        (
            "Opposition councillors voted against the plan, arguing that the city should first publish a "
            "complete environmental study of the bay. The mayor rejected the criticism, saying the study had "
            "been completed in the autumn and would be released with the tender documents."
        ),
        (
            "Tenders for the construction contract will open in two weeks. The council expects to choose a "
            "builder before the end of February."
        ),
    ]
)

ELECTION = "\n\n".join(
    [
        (
            "Voters in the northern province went to the polls on Sunday in a regional election seen as a "
            "test for the national government, with turnout reaching 61 percent by early evening."
        ),
        (
            "The centre-left alliance that has governed the province for twelve years was projected to lose "
            "its majority, according to an exit poll published by the public broadcaster. A new party "
            "campaigning on housing costs was expected to finish second."
        ),
        (
            "Rents in the provincial capital have risen by almost a third in five years, and the housing "
            "party's leader, a former tenants' rights lawyer, built her campaign around a promise to cap "
            "them. Official results are expected on Monday morning."
        ),
    ]
)

VACCINE = "\n\n".join(
    [
        (
            "A new vaccine against a common childhood respiratory virus cut hospital admissions by more than "
            "two thirds in a large trial, researchers reported on Wednesday in a medical journal."
        ),
        (
            "The trial followed 8,000 infants in four countries through their first winter. Babies whose "
            "mothers received the vaccine during pregnancy were far less likely to need hospital care, and no"
            " serious safety problems were found."
        ),
        (
            "Health officials said they would review the data before deciding whether to add the shot to the "
            "national immunisation schedule. The manufacturer said it could supply enough doses for next "
            "winter if the vaccine is approved."
        ),
    ]
)


def test_identical_text_is_similarity_one() -> None:
    index = NearDupIndex()
    index.add("harbour", HARBOUR)
    assert index.find(HARBOUR) == [("harbour", 1.0)]


def test_syndicated_copy_found_above_threshold_unrelated_not() -> None:
    index = NearDupIndex()
    index.add("original", HARBOUR)
    index.add("election", ELECTION)
    index.add("vaccine", VACCINE)
    hits = index.find(HARBOUR_SYNDICATED, threshold=0.8)
    assert [doc for doc, _ in hits] == ["original"]
    assert 0.8 <= hits[0][1] < 1.0
    assert index.find(VACCINE.replace("Wednesday", "Thursday"), threshold=0.8)[0][0] == "vaccine"
    assert index.find(ELECTION + " " + VACCINE, threshold=0.8) == []  # a digest of two stories is neither


def test_trimmed_copy_found_at_a_lower_threshold() -> None:
    # Outlets also cut the last paragraphs: still recognisable at a looser threshold.
    trimmed = HARBOUR_SYNDICATED.rsplit("\n\n", 1)[0]
    index = NearDupIndex()
    index.add("original", HARBOUR)
    [(doc, similarity)] = index.find(trimmed, threshold=0.6)
    assert doc == "original"
    assert similarity < 1.0


def test_estimate_tracks_true_jaccard() -> None:
    a = word_shingles(HARBOUR)
    b = word_shingles(HARBOUR_SYNDICATED)
    true_jaccard = len(a & b) / len(a | b)
    index = NearDupIndex()
    index.add("original", HARBOUR)
    [(_, estimate)] = index.find(HARBOUR_SYNDICATED, threshold=0.0)
    assert abs(estimate - true_jaccard) < 0.1  # 128 permutations: standard error ~0.035


def test_unrelated_articles_are_not_candidates() -> None:
    index = NearDupIndex()
    index.add("election", ELECTION)
    index.add("vaccine", VACCINE)
    assert index.find(HARBOUR, threshold=0.3) == []


def test_empty_text_is_not_indexed_and_matches_nothing() -> None:
    index = NearDupIndex()
    assert index.add("empty", "  \n ") is False
    assert len(index) == 0
    assert index.find("") == []


def test_readding_replaces_and_remove_forgets() -> None:
    index = NearDupIndex()
    index.add("doc", ELECTION)
    index.add("doc", VACCINE)
    assert index.find(ELECTION) == []
    assert index.find(VACCINE) == [("doc", 1.0)]
    index.remove("doc")
    assert "doc" not in index
    assert index.find(VACCINE) == []


def test_signatures_are_deterministic_across_instances() -> None:
    # Persisted signatures must stay comparable after a restart: no per-process hashing.
    assert np.array_equal(NearDupIndex().signature(HARBOUR), NearDupIndex().signature(HARBOUR))


def test_many_documents_through_sorted_buckets_and_tail() -> None:
    # Past tail_limit the buckets are merged; finds must work on both sides of the merge.
    index = NearDupIndex()
    index.tail_limit = 64
    rng = np.random.default_rng(7)
    vocabulary = np.array([f"w{i}" for i in range(5000)])
    docs = [" ".join(rng.choice(vocabulary, 80)) for _ in range(150)]
    for i, doc in enumerate(docs):
        index.add(f"doc{i}", doc)
    for i in (0, 63, 64, 100, 149):
        assert index.find(docs[i]) == [(f"doc{i}", 1.0)]
    edited = docs[10].split()
    edited[40] = "changed"
    hits = index.find(" ".join(edited), threshold=0.8)
    assert [doc for doc, _ in hits] == ["doc10"]


def test_text_fingerprint_ignores_whitespace_and_case_only() -> None:
    assert text_fingerprint("The  Mayor said\n\nyes.") == text_fingerprint("the mayor SAID yes.")
    assert text_fingerprint("The mayor said yes.") != text_fingerprint("The mayor said no.")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://News.Example.COM/World/Story-1", "https://news.example.com/World/Story-1"),
        ("https://news.example.com/story/?utm_source=rss&utm_medium=feed", "https://news.example.com/story"),
        ("https://news.example.com/story#comments", "https://news.example.com/story"),
        ("http://news.example.com:80/story", "http://news.example.com/story"),
        ("https://news.example.com:443/story", "https://news.example.com/story"),
        ("https://news.example.com:8443/story", "https://news.example.com:8443/story"),
        ("https://news.example.com/story?id=5&fbclid=abc&gclid=x", "https://news.example.com/story?id=5"),
        ("https://news.example.com/story?b=2&a=1", "https://news.example.com/story?a=1&b=2"),
        ("https://news.example.com", "https://news.example.com/"),
        ("https://news.example.com/?utm_campaign=x", "https://news.example.com/"),
        ("  https://news.example.com/a  ", "https://news.example.com/a"),
        ("not a url", "not a url"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_normalize_url_keeps_meaningful_parameters_and_path_case() -> None:
    assert normalize_url("https://x.org/read?article=12") != normalize_url("https://x.org/read?article=13")
    assert normalize_url("https://x.org/A") != normalize_url("https://x.org/a")
