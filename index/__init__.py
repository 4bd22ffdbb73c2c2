"""Documents to ranked chunks: ingestion, chunking, embeddings, FAISS + BM25 index, retrieval.

Nothing in this package knows about answering or Telegram; see `bot/` for that.
"""
