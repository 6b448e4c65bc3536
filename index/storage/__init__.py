"""What persists: SQLite, FAISS, the data directory, and the opened index that keeps them in step."""
