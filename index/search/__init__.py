"""Questions into answers: BM25 queries, fusion, cues, time, follow-ups, the ranking, the answer path."""
