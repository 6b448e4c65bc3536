"""Copy detection: one story reported by many outlets (same URL, same text, MinHash near-duplicates)."""
