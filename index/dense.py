"""Dense retrieval: a FAISS inner-product index over L2-normalised embeddings (cosine).

faiss is imported where it is used, so commands that never search start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import IndexCorrupt
from index.manifest import REBUILD_HINT

if TYPE_CHECKING:
    import faiss

DENSE_NAME = "dense.faiss"


class DenseIndex:
    """Exact cosine search; ids are chunk positions in the chunk store."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> DenseIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        return cls(index)

    @classmethod
    def load(cls, directory: Path) -> DenseIndex:
        path = directory / DENSE_NAME
        if not path.is_file():
            raise IndexCorrupt(f"索引不完整：缺少 {path}。{REBUILD_HINT}")
        import faiss

        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorrupt(f"向量索引损坏 ({path}: {exc})。{REBUILD_HINT}") from None

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(directory / DENSE_NAME))

    @property
    def dimension(self) -> int:
        return self._index.d

    def __len__(self) -> int:
        return self._index.ntotal

    def vectors(self) -> np.ndarray:
        """All stored vectors in id order, so an incremental build can reuse them."""
        if len(self) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._index.reconstruct(i) for i in range(len(self))])

    def vector(self, i: int) -> np.ndarray:
        return self._index.reconstruct(i)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top-k (id, cosine) pairs for one normalised query vector."""
        k = min(k, len(self))
        if k == 0:
            return []
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
