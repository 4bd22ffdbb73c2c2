"""Index builds: incremental by content, atomic generations, mismatch and corruption handling.

A tiny deterministic embedder stands in for the real model here so that these tests can
count what gets embedded; the real model is exercised in test_integration.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from index.build import build_index
from index.chunking import ChunkerSettings
from index.errors import EmptyCorpus, IndexCorrupt, IndexMismatch, IndexNotFound
from index.generations import POINTER, live_generation
from index.retrieve import HybridRetriever, RetrievalSettings, open_index
from tests.index_support import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent

ARTICLES = """# 测试条例

## 第一章 总则

第一条 为了促进自由贸易试验区建设，制定本条例。

第二条 本条例适用于试验区内的企业和管理机构。管理机构负责日常事务。

## 第二章 投资

第三条 外商投资实行准入前国民待遇加负面清单管理制度。
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    directory = tmp_path / "corpus"
    directory.mkdir()
    shutil.copy(ROOT / "corpus" / "yingkou_ftz_report.txt", directory)
    (directory / "rules.md").write_text(ARTICLES, encoding="utf-8")
    return directory


def build(corpus: Path, index_dir: Path, embedder: FakeEmbedder, **kwargs):
    return build_index([corpus], index_dir, embedder, ChunkerSettings(), **kwargs)


def test_first_build_then_unchanged_corpus_is_up_to_date(corpus, tmp_path):
    embedder = FakeEmbedder()
    first = build(corpus, tmp_path / "idx", embedder)
    assert first.files == 2 and first.chunks > 10 and first.embedded == first.chunks
    embedder.embedded.clear()
    again = build(corpus, tmp_path / "idx", embedder)
    assert again.up_to_date and again.chunks == first.chunks
    assert embedder.embedded == []


def test_changed_added_and_deleted_files_reembed_only_new_text(corpus, tmp_path):
    embedder = FakeEmbedder()
    build(corpus, tmp_path / "idx", embedder)
    (corpus / "rules.md").write_text(ARTICLES + "\n第四条 本条例自公布之日起施行。\n", "utf-8")
    (corpus / "new.txt").write_text("海南自由贸易港实行零关税政策。", encoding="utf-8")
    embedder.embedded.clear()
    summary = build(corpus, tmp_path / "idx", embedder)
    assert not summary.up_to_date
    assert summary.embedded == len(embedder.embedded) <= 3
    assert any("第四条" in text for text in embedder.embedded)
    assert any("零关税" in text for text in embedder.embedded)

    (corpus / "new.txt").unlink()
    embedder.embedded.clear()
    summary = build(corpus, tmp_path / "idx", embedder)
    assert embedder.embedded == []
    loaded = open_index(tmp_path / "idx", embedder)
    assert not any("零关税" in c.text for c in loaded.chunks)
    assert len(loaded.chunks) == summary.chunks == len(loaded.dense)


def test_rebuild_reembeds_everything(corpus, tmp_path):
    embedder = FakeEmbedder()
    first = build(corpus, tmp_path / "idx", embedder)
    embedder.embedded.clear()
    again = build(corpus, tmp_path / "idx", embedder, rebuild=True)
    assert again.embedded == first.chunks == len(embedder.embedded)


def test_crash_mid_build_keeps_previous_index_usable(corpus, tmp_path):
    good = FakeEmbedder()
    build(corpus, tmp_path / "idx", good)
    before = live_generation(tmp_path / "idx")

    class Exploding(FakeEmbedder):
        def encode(self, texts, kind, progress=False, on_batch=None):
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C while embedding

    (corpus / "more.txt").write_text("新增的文件内容，需要嵌入。", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build(corpus, tmp_path / "idx", Exploding())
    assert live_generation(tmp_path / "idx") == before
    leftovers = [p.name for p in (tmp_path / "idx").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    hits = HybridRetriever(open_index(tmp_path / "idx", good), good, RetrievalSettings()).search(
        "规模以上工业总产值"
    )
    assert hits and hits[0].chunk.source.endswith("yingkou_ftz_report.txt")


def test_bad_and_unsupported_files_are_skipped_and_listed(corpus, tmp_path):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "table.xlsx").write_bytes(b"PK\x03\x04")
    summary = build(corpus, tmp_path / "idx", FakeEmbedder())
    skipped = " ".join(summary.skipped)
    assert "broken.pdf" in skipped and "empty.txt" in skipped and "table.xlsx" in skipped
    assert summary.chunks > 10


def test_empty_corpus_is_a_clear_error_and_keeps_old_index(corpus, tmp_path):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyCorpus, match=r"corpus\.paths"):
        build(empty, tmp_path / "idx", FakeEmbedder())
    assert open_index(tmp_path / "idx", FakeEmbedder()).chunks


def test_missing_index_mismatched_model_and_corruption_say_rebuild(corpus, tmp_path):
    with pytest.raises(IndexNotFound, match="zonebot index"):
        open_index(tmp_path / "idx", FakeEmbedder())
    build(corpus, tmp_path / "idx", FakeEmbedder())
    with pytest.raises(IndexMismatch, match="--rebuild"):
        open_index(tmp_path / "idx", FakeEmbedder(model="other-model"))
    generation = live_generation(tmp_path / "idx")
    (generation / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        open_index(tmp_path / "idx", FakeEmbedder())
    (tmp_path / "idx" / POINTER).write_text("gen-missing\n")
    with pytest.raises(IndexCorrupt, match="--rebuild"):
        open_index(tmp_path / "idx", FakeEmbedder())


def test_index_with_another_model_is_rebuilt_by_index_command(corpus, tmp_path):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    other = FakeEmbedder(model="other-model")
    summary = build(corpus, tmp_path / "idx", other)
    assert summary.embedded == summary.chunks and summary.notice
    assert open_index(tmp_path / "idx", other).manifest.model == "other-model"


def test_index_from_another_backend_is_refused_and_rebuilt(corpus, tmp_path):
    build(corpus, tmp_path / "idx", FakeEmbedder())
    int8 = FakeEmbedder(backend="fake-int8")
    with pytest.raises(IndexMismatch, match=r"fake-fp32.*embedding\.backend.*--rebuild"):
        open_index(tmp_path / "idx", int8)
    summary = build(corpus, tmp_path / "idx", int8)
    assert summary.embedded == summary.chunks and summary.notice
    assert open_index(tmp_path / "idx", int8).manifest.backend == "fake-int8"


def test_progress_reports_every_embedded_chunk(corpus, tmp_path):
    messages: list[str] = []
    summary = build(corpus, tmp_path / "idx", FakeEmbedder(), on_progress=messages.append)
    assert f"嵌入 {summary.embedded}/{summary.embedded}" in messages
