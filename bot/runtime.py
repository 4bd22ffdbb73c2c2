"""Wiring from settings to the index: one place that builds the embedder, the index and
the retriever, shared by the CLI and the Telegram bot."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from index.build import BuildSummary, ProgressFn, build_index
from index.embeddings import Embedder
from index.retrieve import HybridRetriever, open_index


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
        rebuild=rebuild,
        base_dir=base_dir(settings),
        show_progress=show_progress,
        on_progress=on_progress,
    )


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> HybridRetriever:
    """Load the live index and a retriever over it (loads the model)."""
    embedder = embedder or make_embedder(settings)
    return HybridRetriever(open_index(settings.index.dir, embedder), embedder, settings.retrieval)
