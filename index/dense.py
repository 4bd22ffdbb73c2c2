"""Dense retrieval: a FAISS inner-product index over L2-normalised embeddings (cosine).

Exact search (`IndexFlatIP`) up to `DenseSettings.hnsw_above` vectors; above it, an HNSW
graph (`IndexHNSWFlat`), whose search time grows with the log of the index size instead
of linearly. Both keep the full vectors, so a hit's exact cosine is always known, and a
search within a few documents scores their vectors exactly with either kind.
bench/scale.py measures HNSW's recall@10 against exact search.

faiss is imported where it is used, so commands that never search start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from index.errors import IndexCorrupt
from index.manifest import REBUILD_HINT

if TYPE_CHECKING:
    import faiss

DENSE_NAME = "dense.faiss"
# An HNSW search filtered to at least this share of the index (every text in force, say)
# still walks the graph, which such a filter prunes little; a smaller one is exact.
GRAPH_FILTER_SHARE = 0.5


@dataclass(frozen=True)
class DenseSettings:
    """`index.dense` in config.yaml: which FAISS index a build writes, and HNSW's knobs."""

    kind: Literal["auto", "flat", "hnsw"] = "auto"  # auto: hnsw above `hnsw_above` chunks
    # Exact search of 50,000 vectors takes a few ms on 2 cores; HNSW pays off above it.
    hnsw_above: int = 50_000
    hnsw_m: int = 32  # graph neighbours per vector (memory: ~2·m·4 bytes per vector)
    # Build- and query-time search widths: recall against build time and latency. At
    # 13,000 law_library chunks 128/128 found 0.987 of exact search's top 10, 256/256
    # 0.999 at 0.6 ms a query (bench/scale.py, library training questions).
    ef_construction: int = 256
    ef_search: int = 256

    def kind_for(self, count: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "hnsw" if count > self.hnsw_above else "flat"


class DenseIndex:
    """Cosine search; ids are chunk positions in the chunk store."""

    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, settings: DenseSettings | None = None) -> DenseIndex:
        import faiss

        settings = settings or DenseSettings()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if settings.kind_for(len(vectors)) == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = settings.ef_construction
            inner.hnsw.efSearch = settings.ef_search
        else:
            inner = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(inner)
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
        return cls(index)

    @classmethod
    def load(cls, directory: Path, settings: DenseSettings | None = None) -> DenseIndex:
        path = directory / DENSE_NAME
        if not path.is_file():
            raise IndexCorrupt(f"索引不完整：缺少 {path}。{REBUILD_HINT}")
        import faiss

        try:
            dense = cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise IndexCorrupt(f"向量索引损坏 ({path}: {exc})。{REBUILD_HINT}") from None
        hnsw = dense._hnsw()
        if hnsw is not None:
            hnsw.hnsw.efSearch = (settings or DenseSettings()).ef_search
        return dense

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(directory / DENSE_NAME))

    @property
    def kind(self) -> str:
        """ "hnsw" or "flat": what this index searches with."""
        return "hnsw" if self._hnsw() is not None else "flat"

    @property
    def dimension(self) -> int:
        return self._index.d

    def __len__(self) -> int:
        return self._index.ntotal

    def vectors(self) -> np.ndarray:
        """All stored vectors in id order, so an incremental build can reuse them."""
        if len(self) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._index.reconstruct_batch(np.arange(len(self), dtype=np.int64))

    def vector(self, i: int) -> np.ndarray:
        return self._index.reconstruct(i)

    def search(
        self, query: np.ndarray, k: int, among: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (id, cosine) pairs for one normalised query vector; only ids in `among`
        when given (a document filter: exact, except that a filter keeping most of an
        HNSW index is as approximate as the unfiltered graph)."""
        import faiss

        k = min(k, len(self) if among is None else len(among))
        if k == 0:
            return []
        # One query gains nothing from OpenMP threads, and on a busy machine a team's
        # barrier waits for a descheduled thread (2.7 ms alone, 10 ms with two threads at
        # 13,000 vectors). Concurrent questions run on their own threads anyway.
        faiss.omp_set_num_threads(1)
        query = query.reshape(1, -1).astype(np.float32)
        if among is None:
            scores, ids = self._index.search(query, k)
        else:
            scores, ids = self._search_among(query, k, np.asarray(among, dtype=np.int64))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _search_among(
        self, query: np.ndarray, k: int, among: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Filtered search. An HNSW graph walked with a filter only collects selected
        vectors near the query's entry path: a small selection elsewhere in the graph
        comes back incomplete (fewer than k, or the wrong ones). So unless the selection
        is most of the index, its vectors are scored exactly, by a scan of the graph's
        flat storage that computes only the selected ones (as a flat index does)."""
        import faiss

        selected = faiss.IDSelectorBatch(among)
        hnsw = self._hnsw()
        if hnsw is None or len(among) >= GRAPH_FILTER_SHARE * len(self):
            return self._index.search(query, k, params=faiss.SearchParameters(sel=selected))
        # The storage is addressed by insertion position; the id map translates.
        translated = faiss.IDSelectorTranslated(self._index.id_map, selected)
        storage = faiss.downcast_index(hnsw.storage)
        scores, positions = storage.search(query, k, params=faiss.SearchParameters(sel=translated))
        id_map = self._index.id_map
        return scores, np.array([[id_map.at(int(p)) if p >= 0 else -1 for p in positions[0]]])

    def _hnsw(self):
        import faiss

        inner = faiss.downcast_index(self._index.index)
        return inner if isinstance(inner, faiss.IndexHNSW) else None
