"""Keyword retrieval: BM25 (bm25s) over jieba tokens of each chunk's search text."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np


class KeywordIndex:
    """BM25 over pre-tokenised chunks. Built in memory at load time: it takes well under a
    second for thousands of chunks, so only the tokens are stored, not the matrix.

    Tokens may be streamed (`ChunkStore.tokens()`): each chunk's are turned into
    vocabulary ids as they arrive, so a large index never holds every token string."""

    def __init__(self, tokens: Iterable[list[str]]) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG, which would print through the root handler.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25 = bm25s.BM25()
        vocabulary: dict[str, int] = {}
        # An empty document would break bm25s' vocabulary; give it a placeholder token.
        ids = [
            [vocabulary.setdefault(t, len(vocabulary)) for t in toks or ["\u2205"]]
            for toks in tokens
        ]
        self._size = len(ids)
        if ids:
            self._bm25.index((ids, vocabulary), show_progress=False)

    def __len__(self) -> int:
        return self._size

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when nothing matches)."""
        if not self._size or not query_tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(query_tokens), dtype=np.float32)
