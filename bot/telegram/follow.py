"""A replica of a shipped index (index.read_only) swaps in each new generation by itself.

The build node writes a generation and ships it, generation first and CURRENT last; every
`index.follow_s` seconds the replica asks `Follow` whether CURRENT names another one, and
swaps the engine it returns in, as /reindex does on a single node: questions in flight
finish on the engine they started with. A generation that cannot be opened yet (still
being shipped) is tried again at the next look, while the old one keeps answering.
"""

from __future__ import annotations

import asyncio
import logging

from bot.logging_setup import event
from bot.telegram.state import BotState, Follow
from index.errors import ZonebotError

log = logging.getLogger(__name__)


async def follow_forever(state: BotState, follow: Follow, every: float) -> None:
    """Look for a new generation every `every` seconds (a task of its own, cancelled at
    shutdown); loading runs in a thread, so answering never waits for it."""
    while True:
        await asyncio.sleep(every)
        try:
            found = await asyncio.to_thread(follow)
        except ZonebotError as exc:
            log.warning(event("generation_not_loaded", error=str(exc)))
            continue
        except Exception:  # keep looking: a dead task would silently stop updates
            log.exception(event("generation_not_loaded", error="unexpected"))
            continue
        if found is not None:
            state.engine, name = found
            log.info(event("generation_loaded", generation=name, chunks=state.engine.info().chunks))
