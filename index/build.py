"""Build or update an index: corpus files → documents → chunks → embeddings → index directory.

Incremental by content: an unchanged file's chunks, tokens and vectors are copied from
the live index; a vector is computed only for chunk text the live index has not seen.
An unchanged corpus is detected from file hashes alone, without loading the model.
No single file can stop a build: each is hashed and parsed under the limits of
`index.ingest` (parsing in the `index.sandbox` process) and skipped with a reason.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from index.chunk_store import read_chunks, write_chunks
from index.chunking import ChunkerSettings, chunk_document
from index.corpus import CorpusScan, display_path, scan_corpus
from index.dense import DenseIndex, DenseSettings
from index.document_store import (
    Overrides,
    load_overrides,
    read_documents,
    write_documents,
)
from index.documents import Chunk
from index.embeddings import Embedder
from index.errors import EmptyCorpus, IndexNotFound, ZonebotError
from index.generations import build_lock, live_generation, new_generation, remove_debris
from index.ingest import FileLoader, IngestLimits, ParsedFile, parse_within_limits, skip_reason
from index.loaders import SUPPORTED_SUFFIXES, load_file
from index.manifest import FORMAT_VERSION, Manifest
from index.metadata import DocumentInfo, Extracted, extract, resolve
from index.sandbox import Sandbox
from index.textnorm import tokenize

ProgressFn = Callable[[str], None]


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
            skipped = f"，跳过 {len(self.skipped)} 个" if self.skipped else ""
            return (
                f"索引已是最新：{self.files} 个文件{skipped}，{self.chunks} 个片段"
                f"（{self.seconds} 秒）。"
            )
        skipped = f"，跳过 {len(self.skipped)} 个文件" if self.skipped else ""
        return (
            f"索引完成：{self.files} 个文件，{self.documents} 篇文档，{self.chunks} 个片段"
            f"（新嵌入 {self.embedded}，复用 {self.reused}）{skipped}，用时 {self.seconds} 秒。"
        )


@dataclass
class _Previous:
    """What an incremental build can take from the live index."""

    manifest: Manifest
    chunks_by_source: dict[str, list[tuple[Chunk, list[str]]]]
    vectors_by_text: dict[str, np.ndarray]
    facts_by_source: dict[str, list[Extracted]]  # metadata facts; empty for older indexes


def build_index(
    paths: list[Path],
    index_dir: Path,
    embedder: Embedder,
    chunker: ChunkerSettings,
    *,
    limits: IngestLimits | None = None,
    loader: FileLoader = load_file,
    rebuild: bool = False,
    base_dir: Path | None = None,
    show_progress: bool = False,
    on_progress: ProgressFn | None = None,
    dense: DenseSettings | None = None,
) -> BuildSummary:
    """Index the files under `paths` into `index_dir`; return what was done.

    A file that cannot be read within `limits` is skipped with its reason; `loader` (a
    module-level function, it runs in the parser process) turns one file into text.
    The previous index stays live until the new one is complete."""
    started = time.perf_counter()
    report = on_progress or (lambda _msg: None)
    limits = limits or IngestLimits()
    with build_lock(index_dir):
        remove_debris(index_dir)
        scan = scan_corpus(paths, base_dir, limits)
        overrides = load_overrides(paths, lambda p: display_path(p, base_dir))
        previous, notice = (
            (None, "") if rebuild else _load_previous(index_dir, embedder, chunker, limits)
        )
        if previous and _unchanged(previous.manifest, scan, limits, overrides):
            return _up_to_date_summary(previous.manifest, started)

        summary = BuildSummary(files=len(scan.paths), notice=notice, skipped=dict(scan.refused))
        _load_model_meanwhile(embedder)
        chunks, tokens, facts = _chunk_corpus(
            scan, previous, chunker, limits, loader, summary, show_progress
        )
        if not chunks:
            reasons = "; ".join(f"{k}: {v}" for k, v in summary.skipped.items())
            raise EmptyCorpus(
                "语料为空：没有可以索引的文本。请检查 corpus.paths 中的文件"
                f"（支持 {', '.join(SUPPORTED_SUFFIXES)}）。"
                + (f" 跳过：{reasons}" if reasons else "")
            )
        report(f"分块完成：{len(chunks)} 个片段")
        vectors = _embed(chunks, previous, embedder, summary, show_progress, report)
        infos, facts = _metadata(facts, chunks, overrides, summary)
        with new_generation(index_dir, _needed_bytes(chunks, tokens, vectors)) as directory:
            write_chunks(directory, chunks, tokens)
            DenseIndex.from_vectors(vectors, dense).save(directory)
            write_documents(directory, infos, facts)
            summary.chunks = len(chunks)
            summary.documents = len({c.doc_id for c in chunks})
            summary.seconds = round(time.perf_counter() - started, 2)
            manifest = _manifest(embedder, chunker, limits, scan, chunks, vectors, summary)
            manifest.metadata = overrides.digest
            manifest.save(directory)
    report(f"索引完成：{summary.chunks} 个片段，用时 {summary.seconds} 秒")
    return summary


def _load_model_meanwhile(embedder: Embedder) -> None:
    """Load the model on the other core while this one parses and tokenises (imports
    and weights take seconds). A failure is raised again by the first embedding call."""

    def load() -> None:
        with contextlib.suppress(Exception):
            _ = embedder.dim

    threading.Thread(target=load, name="model-load", daemon=True).start()


def _load_previous(
    index_dir: Path, embedder: Embedder, chunker: ChunkerSettings, limits: IngestLimits
) -> tuple[_Previous | None, str]:
    """The live index, when it is usable for an incremental build (same model, same chunker).

    Under other limits every file is read again (a file may now pass or fail them); the
    vectors are still reused by text."""
    try:
        generation = live_generation(index_dir)
        manifest = Manifest.load(generation)
        spec = embedder.spec
        manifest.check_model(
            embedder.name, spec.query_prompt, spec.passage_prompt, embedder.backend
        )
        if manifest.chunker != asdict(chunker):
            return None, "分块设置已更改，已全部重新分块。"
        chunks, tokens = read_chunks(generation)
        dense = DenseIndex.load(generation)
        manifest.check_counts(len(chunks), len(dense), generation)
        vectors = dense.vectors()
    except IndexNotFound:
        return None, ""
    except ZonebotError as exc:
        return None, f"旧索引不可复用，已全部重建（{exc}）"
    by_source: dict[str, list[tuple[Chunk, list[str]]]] = {}
    if manifest.limits == limits.to_dict():
        for chunk, toks in zip(chunks, tokens, strict=True):
            by_source.setdefault(chunk.source, []).append((chunk, toks))
    by_text = {c.search_text: v for c, v in zip(chunks, vectors, strict=True)}
    facts: dict[str, list[Extracted]] = {}
    for fact in read_documents(generation)[1]:
        facts.setdefault(fact.source, []).append(fact)
    return _Previous(manifest, by_source, by_text, facts), ""


def _unchanged(
    manifest: Manifest, scan: CorpusScan, limits: IngestLimits, overrides: Overrides
) -> bool:
    """Same file contents, same files refused unread (for the same reasons), same limits,
    same documents.yaml and metadata version."""
    return (
        manifest.files == scan.hashes
        and manifest.refused == scan.refused
        and manifest.limits == limits.to_dict()
        and manifest.metadata == overrides.digest
    )


def _up_to_date_summary(manifest: Manifest, started: float) -> BuildSummary:
    return BuildSummary(
        files=len(manifest.files) + len(manifest.refused),
        documents=len(manifest.documents),
        chunks=manifest.chunk_count,
        reused=manifest.chunk_count,
        skipped=dict(manifest.skipped),
        seconds=round(time.perf_counter() - started, 2),
        up_to_date=True,
    )


def _chunk_corpus(
    scan: CorpusScan,
    previous: _Previous | None,
    chunker: ChunkerSettings,
    limits: IngestLimits,
    loader: FileLoader,
    summary: BuildSummary,
    show_progress: bool,
) -> tuple[list[Chunk], list[list[str]], list[Extracted]]:
    """Chunks, keyword tokens and metadata facts for every readable file, reusing
    unchanged files' chunks and facts.

    Each file is loaded and parsed into documents in the sandboxed parser process;
    whatever fails, there or here, skips that file only."""
    from tqdm import tqdm

    chunks: list[Chunk] = []
    tokens: list[list[str]] = []
    facts: list[Extracted] = []
    parse = partial(parse_within_limits, limits=IngestLimits(**limits.to_dict()), loader=loader)
    sandbox = Sandbox(
        parse,
        timeout_s=limits.parse_timeout_s,
        memory_mb=limits.parse_memory_mb,
        describe=skip_reason,
    )
    files = tqdm(scan.hashes.items(), desc="读取文档", unit="file", disable=not show_progress)
    with sandbox:
        for name, digest in files:
            old = previous.chunks_by_source.get(name) if previous else None
            old_facts = previous.facts_by_source.get(name) if previous else None
            if old and old_facts and previous.manifest.files.get(name) == digest:
                chunks.extend(c for c, _ in old)
                tokens.extend(t for _, t in old)
                facts.extend(old_facts)
                continue
            path = scan.paths[name]
            try:
                parsed = sandbox.call(name, path)
                new, found = _file_chunks(parsed, chunker)
            except Exception as error:  # one bad file is one skipped file
                summary.skipped[name] = skip_reason(error).removeprefix(f"{path}: ")
                continue
            for note in parsed.source.notes:  # parts left out, e.g. an unreadable scan page
                summary.skipped[f"{name} · {note.split('：', 1)[0]}"] = note
            if not new:
                summary.skipped[name] = "没有可索引的文本 (no indexable text)"
            chunks.extend(new)
            tokens.extend(tokenize(c.search_text) for c in new)
            facts.extend(found)
    return chunks, tokens, facts


def _file_chunks(
    parsed: ParsedFile, chunker: ChunkerSettings
) -> tuple[list[Chunk], list[Extracted]]:
    """One file's chunks and its documents' metadata facts, from its documents (which came
    from the parser process, front matter already read and blanked out)."""
    documents = parsed.documents
    chunks = [chunk for document in documents for chunk in chunk_document(document, chunker)]
    return chunks, [extract(document, parsed.front_matter) for document in documents]


def _metadata(
    facts: list[Extracted], chunks: list[Chunk], overrides: Overrides, summary: BuildSummary
) -> tuple[list[DocumentInfo], list[Extracted]]:
    """Every indexed document's metadata and facts; documents.yaml entries that match no
    file are reported in the summary's notice."""
    indexed = {c.doc_id for c in chunks}
    facts = [f for f in facts if f.doc_id in indexed]
    sources = sorted({f.source for f in facts})
    unmatched = overrides.unmatched(sources)
    if unmatched:
        note = f"documents.yaml 中这些条目没有对应的文件：{'、'.join(unmatched)}"
        summary.notice = " ".join(n for n in (summary.notice, note) if n)
    return resolve(facts, {s: overrides.fields_for(s) for s in sources}), facts


def _embed(
    chunks: list[Chunk],
    previous: _Previous | None,
    embedder: Embedder,
    summary: BuildSummary,
    show_progress: bool,
    report: ProgressFn,
) -> np.ndarray:
    """Vectors for all chunks: reused by identical search text, computed for the rest.
    The new texts go to the embedder in one call, which sorts them all by length, so
    batches carry little padding."""
    reuse = previous.vectors_by_text if previous else {}
    todo = [i for i, c in enumerate(chunks) if c.search_text not in reuse]
    summary.embedded, summary.reused = len(todo), len(chunks) - len(todo)
    vectors = np.zeros((len(chunks), embedder.dim if todo else _dim_of(reuse)), np.float32)
    for i, chunk in enumerate(chunks):
        if chunk.search_text in reuse:
            vectors[i] = reuse[chunk.search_text]
    done = 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        report(f"嵌入 {done}/{len(todo)}")

    if todo:
        texts = [chunks[i].search_text for i in todo]
        vectors[todo] = embedder.encode(texts, "passage", progress=show_progress, on_batch=on_batch)
    return vectors


def _dim_of(vectors: dict[str, np.ndarray]) -> int:
    return len(next(iter(vectors.values())))


def _needed_bytes(chunks: list[Chunk], tokens: list[list[str]], vectors: np.ndarray) -> int:
    """About what the new generation takes on disk: the vectors with their ids, chunk
    texts and tokens in UTF-8, plus a quarter for SQLite pages and a MB for the rest."""
    text = sum(
        len((c.text + c.search_text + c.title + c.source + c.section).encode()) + 64 for c in chunks
    )
    text += sum(len("\t".join(t).encode()) for t in tokens)
    return int(1.25 * (vectors.nbytes + 8 * len(vectors) + text)) + (1 << 20)


def _manifest(
    embedder: Embedder,
    chunker: ChunkerSettings,
    limits: IngestLimits,
    scan: CorpusScan,
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
        files=scan.hashes,
        documents=titles,
        chunk_count=len(chunks),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=summary.seconds,
        skipped=dict(summary.skipped),
        refused=dict(scan.refused),
        limits=limits.to_dict(),
        backend=embedder.backend,
    )
