"""Records and pure text rules every part shares: articles, sentences, text hygiene, time expressions."""
