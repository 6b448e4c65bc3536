"""Ingest, sentences, embeddings, FAISS and search: everything that turns articles into answers."""
