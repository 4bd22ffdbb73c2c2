"""Build or update an index: corpus files → documents → chunks → embeddings → index directory.

Incremental by content: an unchanged file's chunks, tokens and vectors are copied from
the live index; a vector is computed only for chunk text the live index has not seen.
An unchanged corpus is detected from file hashes alone, without loading the model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from index.chunk_store import read_chunks, write_chunks
from index.chunking import ChunkerSettings, chunk_document
from index.dense import DenseIndex
from index.documents import Chunk
from index.embeddings import Embedder
from index.errors import EmptyCorpus, IndexNotFound, LoadError, ZonebotError
from index.generations import build_lock, live_generation, new_generation
from index.loaders import SUPPORTED_SUFFIXES, find_corpus_files, load_file
from index.manifest import FORMAT_VERSION, Manifest
from index.structure import parse_documents
from index.textnorm import tokenize

ProgressFn = Callable[[str], None]
EMBED_BATCH = 128  # texts per progress step; the model batches further inside


@dataclass
class BuildSummary:
    files: int = 0
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks whose vectors were computed in this build
    reused: int = 0  # chunks whose vectors came from the previous index
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    up_to_date: bool = False
    notice: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for people: what the build did."""
        if self.up_to_date:
            return f"索引已是最新：{self.files} 个文件，{self.chunks} 个片段（{self.seconds} 秒）。"
        return (
            f"索引完成：{self.files} 个文件，{self.documents} 篇文档，{self.chunks} 个片段"
            f"（新嵌入 {self.embedded}，复用 {self.reused}），用时 {self.seconds} 秒。"
        )


@dataclass
class _Previous:
    """What an incremental build can take from the live index."""

    manifest: Manifest
    chunks_by_source: dict[str, list[tuple[Chunk, list[str]]]]
    vectors_by_text: dict[str, np.ndarray]


def display_path(path: Path, base_dir: Path | None) -> str:
    """A short, stable name for a file: relative to the config directory when inside it."""
    if base_dir is not None:
        try:
            return path.resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def build_index(
    paths: list[Path],
    index_dir: Path,
    embedder: Embedder,
    chunker: ChunkerSettings,
    *,
    rebuild: bool = False,
    base_dir: Path | None = None,
    show_progress: bool = False,
    on_progress: ProgressFn | None = None,
) -> BuildSummary:
    """Index the files under `paths` into `index_dir`; return what was done.

    The previous index stays live until the new one is complete."""
    started = time.perf_counter()
    report = on_progress or (lambda _msg: None)
    with build_lock(index_dir):
        files = _corpus_files(paths, base_dir)
        hashes = {name: _sha256(path) for name, path in files.items()}
        previous, notice = (None, "") if rebuild else _load_previous(index_dir, embedder, chunker)
        if previous and previous.manifest.files == hashes:
            return _up_to_date_summary(previous.manifest, started)

        summary = BuildSummary(files=len(files), notice=notice)
        chunks, tokens = _chunk_corpus(files, hashes, previous, chunker, summary, show_progress)
        if not chunks:
            reasons = "; ".join(f"{k}: {v}" for k, v in summary.skipped.items())
            raise EmptyCorpus(
                "语料为空：没有可以索引的文本。请检查 corpus.paths 中的文件"
                f"（支持 {', '.join(SUPPORTED_SUFFIXES)}）。"
                + (f" 跳过：{reasons}" if reasons else "")
            )
        report(f"分块完成：{len(chunks)} 个片段")
        vectors = _embed(chunks, previous, embedder, summary, show_progress, report)
        with new_generation(index_dir) as directory:
            write_chunks(directory, chunks, tokens)
            DenseIndex.from_vectors(vectors).save(directory)
            summary.chunks = len(chunks)
            summary.documents = len({c.doc_id for c in chunks})
            summary.seconds = round(time.perf_counter() - started, 2)
            _manifest(embedder, chunker, hashes, chunks, vectors, summary).save(directory)
    report(f"索引完成：{summary.chunks} 个片段，用时 {summary.seconds} 秒")
    return summary


def _corpus_files(paths: list[Path], base_dir: Path | None) -> dict[str, Path]:
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise EmptyCorpus(
            f"语料路径不存在：{', '.join(str(p) for p in missing)}。请检查配置中的 corpus.paths。"
        )
    return {display_path(p, base_dir): p for p in find_corpus_files(paths)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_previous(
    index_dir: Path, embedder: Embedder, chunker: ChunkerSettings
) -> tuple[_Previous | None, str]:
    """The live index, when it is usable for an incremental build (same model, same chunker)."""
    try:
        generation = live_generation(index_dir)
        manifest = Manifest.load(generation)
        manifest.check_model(
            embedder.name, embedder.spec.query_prompt, embedder.spec.passage_prompt
        )
        if manifest.chunker != asdict(chunker):
            return None, "分块设置已更改，已全部重新分块。"
        chunks, tokens = read_chunks(generation)
        vectors = DenseIndex.load(generation).vectors()
    except IndexNotFound:
        return None, ""
    except ZonebotError as exc:
        return None, f"旧索引不可复用，已全部重建（{exc}）"
    by_source: dict[str, list[tuple[Chunk, list[str]]]] = {}
    for chunk, toks in zip(chunks, tokens, strict=True):
        by_source.setdefault(chunk.source, []).append((chunk, toks))
    by_text = {c.search_text: v for c, v in zip(chunks, vectors, strict=True)}
    return _Previous(manifest, by_source, by_text), ""


def _up_to_date_summary(manifest: Manifest, started: float) -> BuildSummary:
    return BuildSummary(
        files=len(manifest.files),
        documents=len(manifest.documents),
        chunks=manifest.chunk_count,
        reused=manifest.chunk_count,
        skipped=dict(manifest.skipped),
        seconds=round(time.perf_counter() - started, 2),
        up_to_date=True,
    )


def _chunk_corpus(
    files: dict[str, Path],
    hashes: dict[str, str],
    previous: _Previous | None,
    chunker: ChunkerSettings,
    summary: BuildSummary,
    show_progress: bool,
) -> tuple[list[Chunk], list[list[str]]]:
    """Chunks and keyword tokens for every file, reusing unchanged files' stored chunks."""
    from tqdm import tqdm

    chunks: list[Chunk] = []
    tokens: list[list[str]] = []
    for name, path in tqdm(files.items(), desc="读取文档", unit="file", disable=not show_progress):
        old = previous.chunks_by_source.get(name) if previous else None
        if old and previous.manifest.files.get(name) == hashes[name]:
            chunks.extend(c for c, _ in old)
            tokens.extend(t for _, t in old)
            continue
        try:
            source = load_file(path)
        except LoadError as exc:
            summary.skipped[name] = str(exc)
            continue
        for note in source.notes:  # parts of a file left out, e.g. an unreadable scan page
            summary.skipped[f"{name} · {note.split('：', 1)[0]}"] = note
        new = [
            chunk
            for document in parse_documents(name, source.text, source.page_starts, source.places)
            for chunk in chunk_document(document, chunker)
        ]
        if not new:
            summary.skipped[name] = "没有可索引的文本 (no indexable text)"
        chunks.extend(new)
        tokens.extend(tokenize(c.search_text) for c in new)
    return chunks, tokens


def _embed(
    chunks: list[Chunk],
    previous: _Previous | None,
    embedder: Embedder,
    summary: BuildSummary,
    show_progress: bool,
    report: ProgressFn,
) -> np.ndarray:
    """Vectors for all chunks: reused by identical search text, computed for the rest."""
    from tqdm import tqdm

    reuse = previous.vectors_by_text if previous else {}
    todo = [i for i, c in enumerate(chunks) if c.search_text not in reuse]
    summary.embedded, summary.reused = len(todo), len(chunks) - len(todo)
    vectors = np.zeros((len(chunks), embedder.dim if todo else _dim_of(reuse)), np.float32)
    for i, chunk in enumerate(chunks):
        if chunk.search_text in reuse:
            vectors[i] = reuse[chunk.search_text]
    with tqdm(total=len(todo), desc="嵌入向量", unit="chunk", disable=not show_progress) as bar:
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors[batch] = embedder.encode([chunks[i].search_text for i in batch], "passage")
            bar.update(len(batch))
            report(f"嵌入 {start + len(batch)}/{len(todo)}")
    return vectors


def _dim_of(vectors: dict[str, np.ndarray]) -> int:
    return len(next(iter(vectors.values())))


def _manifest(
    embedder: Embedder,
    chunker: ChunkerSettings,
    hashes: dict[str, str],
    chunks: list[Chunk],
    vectors: np.ndarray,
    summary: BuildSummary,
) -> Manifest:
    titles = list(dict.fromkeys(c.title for c in chunks))
    return Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=int(vectors.shape[1]),
        query_prompt=embedder.spec.query_prompt,
        passage_prompt=embedder.spec.passage_prompt,
        chunker=asdict(chunker),
        files=hashes,
        documents=titles,
        chunk_count=len(chunks),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=summary.seconds,
        skipped=dict(summary.skipped),
    )
