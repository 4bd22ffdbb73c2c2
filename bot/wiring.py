"""Wiring: settings in, the embedder, the index, the answer engine and the /reindex job out.

The one place that knows how the pieces fit; the CLI, `zonebot serve` and /reindex all
build through it, and /reindex reuses the live embedder instead of loading a second model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.answer.engine import AnswerEngine
from bot.answer.llm import LLMClient
from bot.config import Settings, llm_api_key
from index.build import BuildSummary, ProgressFn, build_index
from index.embeddings import Embedder
from index.freshness import corpus_changes
from index.generations import live_generation
from index.retrieve import HybridRetriever, Mode, open_index


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embedding)


def base_dir(settings: Settings) -> Path:
    """Directory that file names in citations are shown relative to (the config's)."""
    return settings.config_path.parent if settings.config_path else Path.cwd()


def run_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    on_progress: ProgressFn | None = None,
) -> BuildSummary:
    """Build or update the configured index."""
    return build_index(
        settings.corpus.paths,
        settings.index.dir,
        embedder or make_embedder(settings),
        settings.chunking,
        limits=settings.corpus,
        rebuild=rebuild,
        base_dir=base_dir(settings),
        show_progress=show_progress,
        on_progress=on_progress,
        dense=settings.index.dense,
    )


def corpus_warning(settings: Settings) -> str | None:
    """A one-line warning when the corpus changed since the live index was built."""
    changes = corpus_changes(settings.corpus.paths, settings.index.dir, base_dir(settings))
    return changes.describe() if changes else None


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> HybridRetriever:
    """Load the live index and a retriever over it (loads the model)."""
    embedder = embedder or make_embedder(settings)
    index = open_index(settings.index.dir, embedder, settings.index.dense)
    return HybridRetriever(index, embedder, settings.retrieval)


def build_engine(
    settings: Settings, embedder: Embedder | None = None, mode: Mode = "hybrid"
) -> AnswerEngine:
    """The answer engine over the live index; raises a ZonebotError with advice on failure."""
    llm = None
    if settings.answer.mode == "llm":
        llm = LLMClient(settings.llm, llm_api_key(settings.llm))
    return AnswerEngine(open_retriever(settings, embedder), settings, llm, mode=mode)


def follow_job(
    settings: Settings, embedder: Embedder
) -> Callable[[], tuple[AnswerEngine, str] | None]:
    """On a read-only replica: a warmed-up engine over the generation index.dir/CURRENT
    names, with its name, once it is another than the one loaded; None while unchanged.
    A generation still being shipped raises IndexCorrupt (the caller tries again later)."""
    loaded = [live_generation(settings.index.dir).name]  # before the first engine loads

    def follow() -> tuple[AnswerEngine, str] | None:
        name = live_generation(settings.index.dir).name
        if name == loaded[0]:
            return None
        engine = build_engine(settings, embedder)
        engine.warm_up()
        loaded[0] = name
        return engine, name

    return follow


def index_job(
    settings: Settings, embedder: Embedder
) -> Callable[[Callable[[str], None]], tuple[AnswerEngine, BuildSummary]]:
    """Update the index with the live embedder, then a warmed-up engine over it (uploads)."""

    def update(progress: Callable[[str], None]) -> tuple[AnswerEngine, BuildSummary]:
        summary = run_index(settings, embedder=embedder, on_progress=progress)
        engine = build_engine(settings, embedder)
        engine.warm_up()
        return engine, summary

    return update


def reindex_job(
    settings: Settings, embedder: Embedder
) -> Callable[[Callable[[str], None]], tuple[AnswerEngine, str]]:
    """/reindex: `index_job` with a one-line summary."""
    update = index_job(settings, embedder)

    def reindex(progress: Callable[[str], None]) -> tuple[AnswerEngine, str]:
        engine, summary = update(progress)
        return engine, summary.describe()

    return reindex
