"""Serving a large index: chunks read lazily from SQLite, BM25 built from streamed tokens,
HNSW above a configurable size. The fake embedder of test_build keeps these fast."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.chunk_store import ChunkStore, read_chunks
from index.dense import DenseIndex, DenseSettings
from index.generations import live_generation
from index.keyword import KeywordIndex
from index.retrieve import HybridRetriever, RetrievalSettings, open_index
from index.textnorm import tokenize
from tests.test_build import FakeEmbedder, build, corpus  # noqa: F401 (fixture)


@pytest.fixture
def index_dir(corpus, tmp_path):  # noqa: F811
    build(corpus, tmp_path / "idx", FakeEmbedder())
    return tmp_path / "idx"


def test_chunk_store_reads_what_was_written(index_dir):
    generation = live_generation(index_dir)
    chunks, tokens = read_chunks(generation)
    store = ChunkStore(generation)
    assert len(store) == len(chunks) > 10
    assert store[0] == chunks[0] and store[-1] == chunks[-1]
    assert list(store) == chunks and list(store.tokens()) == tokens
    with pytest.raises(IndexError):
        store[len(chunks)]


def test_chunk_store_is_shared_by_threads(index_dir):
    store = ChunkStore(live_generation(index_dir))
    expected = list(store)
    ids = [i % len(store) for i in range(400)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(store.__getitem__, ids))
    assert got == [expected[i] for i in ids]


def test_open_index_keeps_chunks_on_disk(index_dir):
    loaded = open_index(index_dir, FakeEmbedder())
    assert isinstance(loaded.chunks, ChunkStore)
    hits = HybridRetriever(loaded, FakeEmbedder(), RetrievalSettings()).search("工业总产值")
    assert hits and all(hit.chunk == loaded.chunks[_position(loaded, hit)] for hit in hits)


def _position(loaded, hit) -> int:
    return next(i for i, c in enumerate(loaded.chunks) if c.chunk_id == hit.chunk.chunk_id)


def test_open_index_still_reads_after_a_rebuild_replaced_its_generation(corpus, index_dir):  # noqa: F811
    """/reindex deletes the old generation while the old engine still answers."""
    old_generation = live_generation(index_dir)
    embedder = FakeEmbedder()
    retriever = HybridRetriever(open_index(index_dir, embedder), embedder, RetrievalSettings())
    (corpus / "new.md").write_text("# 新文件\n\n第一条 新增内容。\n", encoding="utf-8")
    build(corpus, index_dir, FakeEmbedder(), rebuild=True)
    assert not old_generation.exists()
    hits = retriever.search("规模以上工业总产值")
    assert hits and hits[0].chunk.text


def test_streamed_bm25_scores_equal_bm25s_over_token_strings(index_dir):
    import bm25s

    tokens = list(ChunkStore(live_generation(index_dir)).tokens())
    reference = bm25s.BM25()
    reference.index([t or ["\u2205"] for t in tokens], show_progress=False)
    ours = KeywordIndex(iter(tokens))
    for query in ("营口 片区 工业", "外商投资 负面清单", "不存在的词"):
        q = tokenize(query)
        np.testing.assert_allclose(ours.scores(q), reference.get_scores(q), rtol=1e-6)


def _unit_vectors(n: int, dim: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    vectors = centres[rng.integers(0, 40, n)] + 0.4 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_auto_kind_switches_to_hnsw_above_the_threshold():
    settings = DenseSettings(hnsw_above=1000)
    assert DenseIndex.from_vectors(_unit_vectors(1000), settings).kind == "flat"
    assert DenseIndex.from_vectors(_unit_vectors(1001), settings).kind == "hnsw"
    assert DenseIndex.from_vectors(_unit_vectors(50), DenseSettings(kind="hnsw")).kind == "hnsw"
    assert DenseIndex.from_vectors(_unit_vectors(5000), DenseSettings(kind="flat")).kind == "flat"


def test_hnsw_finds_what_flat_search_finds(tmp_path):
    vectors, queries = _unit_vectors(8000), _unit_vectors(200, seed=1)
    flat = DenseIndex.from_vectors(vectors, DenseSettings(kind="flat"))
    DenseIndex.from_vectors(vectors, DenseSettings(kind="hnsw")).save(tmp_path)
    hnsw = DenseIndex.load(tmp_path, DenseSettings())
    assert hnsw.kind == "hnsw" and len(hnsw) == len(vectors)
    found = [
        len({i for i, _ in flat.search(q, 10)} & {i for i, _ in hnsw.search(q, 10)}) / 10
        for q in queries
    ]
    # Tight random clusters are harder than real embeddings (bench/scale.py measures those).
    assert np.mean(found) >= 0.95
    np.testing.assert_array_equal(hnsw.vectors(), vectors)  # exact cosines stay available


def test_build_writes_the_configured_kind(corpus, tmp_path):  # noqa: F811
    build(corpus, tmp_path / "idx", FakeEmbedder(), dense=DenseSettings(kind="hnsw"))
    loaded = open_index(tmp_path / "idx", FakeEmbedder())
    assert loaded.dense.kind == "hnsw"
    hits = HybridRetriever(loaded, FakeEmbedder(), RetrievalSettings()).search("工业总产值")
    assert hits and hits[0].dense_score is not None


def test_dense_settings_come_from_the_config(tmp_path):
    from bot.config import ConfigError, settings_from_dict

    settings = settings_from_dict({"index": {"dense": {"kind": "hnsw", "ef_search": 64}}}, tmp_path)
    assert settings.index.dense == DenseSettings(kind="hnsw", ef_search=64)
    with pytest.raises(ConfigError, match="'auto', 'flat', 'hnsw'"):
        settings_from_dict({"index": {"dense": {"kind": "ivf"}}}, tmp_path)


def test_hnsw_search_within_a_selection_is_exact():
    """A graph walk filtered to a few documents' chunks far from the query finds none of
    them (0 or 1 hit here for every query with the filter on the graph), and misses 1 or 2
    of the top 10 of a scattered 5%; both must give exact search's top 10."""
    vectors = _unit_vectors(8000)
    hnsw = DenseIndex.from_vectors(vectors, DenseSettings(kind="hnsw"))
    rng = np.random.default_rng(2)
    for query in _unit_vectors(20, seed=1):
        far = np.sort(np.argsort(vectors @ query)[:40])  # the 40 least like the query
        scattered = np.sort(rng.choice(len(vectors), 400, replace=False))
        for among in (far, scattered):
            exact = among[np.argsort(-(vectors[among] @ query))[:10]]
            found = hnsw.search(query, 10, among)
            assert {i for i, _ in found} == set(exact.tolist())
            np.testing.assert_allclose([s for _, s in found], vectors[exact] @ query, atol=1e-5)
    assert len(hnsw.search(query, 10, far[:3])) == 3


def test_hnsw_search_within_most_of_the_index_walks_the_graph():
    """A filter keeping most chunks (the texts in force) prunes little of the graph."""
    vectors, queries = _unit_vectors(8000), _unit_vectors(100, seed=1)
    hnsw = DenseIndex.from_vectors(vectors, DenseSettings(kind="hnsw"))
    among = np.flatnonzero(np.random.default_rng(3).random(len(vectors)) < 0.9)
    found = []
    for query in queries:
        exact = among[np.argsort(-(vectors[among] @ query))[:10]]
        hits = hnsw.search(query, 10, among)
        assert len(hits) == 10 and {i for i, _ in hits} <= set(among.tolist())
        found.append(len({i for i, _ in hits} & set(exact.tolist())) / 10)
    assert np.mean(found) >= 0.95
