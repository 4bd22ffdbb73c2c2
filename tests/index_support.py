"""A tiny deterministic embedder for index tests that need to count what gets embedded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FakeSpec:
    model: str = "fake-model"
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "


class FakeEmbedder:
    """Bag-of-characters vectors: similar texts get similar vectors; counts what it embeds."""

    dim = 64

    def __init__(self, model: str = "fake-model", backend: str = "fake-fp32") -> None:
        self.spec = FakeSpec(model=model)
        self.name = model
        self.backend = backend
        self.embedded: list[str] = []

    def encode(self, texts: list[str], kind: str, progress=False, on_batch=None) -> np.ndarray:
        if kind == "passage":
            self.embedded.extend(texts)
        if on_batch:
            on_batch(len(texts))
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for char in text:
                vectors[row, hashlib.md5(char.encode()).digest()[0] % self.dim] += 1
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)

    def embed_query(self, query: str) -> np.ndarray:
        return self.encode([query], "query")[0]
