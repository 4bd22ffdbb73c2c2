"""A read-only replica picks up each index generation shipped to it: the build node builds,
the generation directory is copied first and CURRENT last (as the README's rsync lines
do), and the replica's engine answers from the new documents without a restart."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bot.config import settings_from_dict
from bot.telegram.follow import follow_forever
from bot.telegram.state import BotState
from index.errors import IndexCorrupt
from index.generations import POINTER, live_generation
from tests.replicas import ship
from tests.tg_support import EngineDouble

NEW_FACT = "第一条 营口片区对新设立的跨境电商企业给予每家三十万元的一次性开办补贴。"


def test_a_replica_loads_a_shipped_generation(tmp_path, real_embedder):
    from bot.wiring import build_engine, follow_job, run_index

    corpus = tmp_path / "build" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "既有.txt").write_text("第一条 营口片区实行企业开办一日办结。", encoding="utf-8")
    build = settings_from_dict(
        {"corpus": {"paths": ["corpus"]}, "index": {"dir": "index"}}, base_dir=tmp_path / "build"
    )
    replica = settings_from_dict(
        {"corpus": {"paths": ["corpus"]}, "index": {"dir": "index", "read_only": True}},
        base_dir=tmp_path / "replica",
    )
    run_index(build, embedder=real_embedder)
    ship(build.index.dir, replica.index.dir)

    follow = follow_job(replica, real_embedder)
    engine = build_engine(replica, real_embedder)
    assert follow() is None, "nothing new shipped yet"
    assert engine.info().files == 1

    (corpus / "补贴.txt").write_text(NEW_FACT, encoding="utf-8")
    run_index(build, embedder=real_embedder)
    (replica.index.dir / POINTER).write_text("gen-still-on-its-way\n", encoding="utf-8")
    with pytest.raises(IndexCorrupt):  # a pointer shipped before its generation
        follow()
    ship(build.index.dir, replica.index.dir)
    found = follow()
    assert found is not None
    engine, name = found
    assert name == live_generation(build.index.dir).name and engine.info().files == 2
    answer = engine.answer("营口片区给新设立的跨境电商企业多少开办补贴？")
    assert answer.found and "三十万元" in answer.text
    assert follow() is None, "loaded once"


async def test_the_bot_swaps_in_what_follow_finds_and_survives_a_bad_look():
    old, new = EngineDouble(label="【旧】"), EngineDouble(label="【新】")
    looks = iter([IndexCorrupt("still shipping"), None, (new, "gen-2")])

    def follow():
        outcome = next(looks, None)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    state = BotState(old, store=None)  # type: ignore[arg-type]
    task = asyncio.create_task(follow_forever(state, follow, every=0.01))
    for _ in range(200):
        if state.engine is new:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert state.engine is new, "the third look found gen-2 after a failed and an empty one"
