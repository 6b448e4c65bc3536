"""Models newsqa trains and ships itself (docs/model.md)."""
