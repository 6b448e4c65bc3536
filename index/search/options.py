"""The ranking's knobs, one frozen value per search: which stages run (stages.py) and with what weights."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """Knobs of the ranking; defaults are the values measured best (see docs/quality.md)."""

    candidates: int = 100  # from each retriever before fusion
    dense_weight: float = 0.66  # cosine of question and "headline. sentence"
    lexical_weight: float = 0.16  # BM25 of the sentence
    paragraph_weight: float = 0.18  # BM25 of the sentence's paragraph
    min_confidence: float = 0.42  # below it the articles do not answer: abstain (docs/quality.md)
    context: int = 1  # neighbouring sentences each side in an excerpt
    per_article: int = 0  # at most this many passages from one article; 0: no cap (measured: a cap of 3
    # costs ReQA 0.013 MRR and 0.054 R@10, see docs/quality.md)
    focus_weight: float = 0.3  # added per fraction of a follow-up's own words a sentence contains
    lexical_budget: int = 10_000  # BM25 scores at most about this many matches (lexical.within_budget)
    bare_weight: float = 0.0  # share of the sentence-alone cosine in the dense signal (context.py)
    lexical_trust: float = 1.5  # both BM25 weights times (best BM25 match's share of the question's words)
    # ** this: a question sharing few words with every sentence leans on meaning (lexical.py; 0: off)
    question_mix: float = 0.5  # with a question model: its share of the question's vector, the index
    # model's the rest (an even blend, fixed before measuring: docs/model.md)
    rerank_weight: float = 1.0  # with --rerank-model: its cosine's weight, in place of the dense one
    answer_top: int = 10  # with an answer model: the first distinct candidates it judges
    answer_weight: float = 1.0  # its probability that a candidate answers, added to the candidate's score
    # (fixed before measuring: the model's judgement outweighs the other signals' spread; docs/model.md)
    cue_weight: float = 0.1  # added when a sentence holds the number or date a question asks for (cues.py)
    name_weight: float = 0.0  # the same for a name ("Who ...", "Which team ..."; cues.py)
    place_weight: float = 0.05  # the same for a place of the kind asked ("Which country ..."; places.py)
    form_weight: float = 0.1  # taken off a question or heading, which never states an answer (cues.py)
    vote_weight: float = 0.1  # for a name question: lift for the name the best sentences repeat most
    vote_depth: int = 10  # how many of the best sentences vote (redundancy.py)
    # time (timerank.py; measured on the dated news set, docs/quality.md)
    period_weight: float = 0.1  # evidence from or about the days a question names
    recent_weight: float = 0.3  # recency prior for a question that names no days
    now_weight: float = 0.3  # the same for a question about the present ("latest", "still")
    half_life_days: float = 7.0  # the prior halves every this-many days before the newest candidate
    period_candidates: int = 200  # sentences naming the asked days, added to the candidates
    # stages left out of the ranking, comma-separated (`--set skip=cues,time` measures them off; the
    # names are stages.STAGES, those in stages.REQUIRED cannot be left out)
    skip: str = ""

    @property
    def skipped(self) -> frozenset[str]:
        """The stage names in `skip`."""
        return frozenset(n for n in (part.strip() for part in self.skip.split(",")) if n)
