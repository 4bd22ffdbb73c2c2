"""Where answers run: one daemon thread per question, at most `limit` threads alive.

A question's deadline (`answer.timeout_s`) frees the user and the conversation, but a
thread cannot be killed: work past its deadline (a stuck LLM or embedding call, a slow
question) runs on until it returns. Each such thread keeps its slot until then, so
runaway work is bounded by `limit` threads, never piles up: when every slot is taken, a
new question waits for one inside its own deadline and, if none frees in time, gets the
timeout apology without ever starting. One thread per question (not a small pool) lets
questions asked together be embedded together (index.batching); daemon threads cannot
keep the process alive after SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from bot.logging_setup import event

log = logging.getLogger(__name__)

T = TypeVar("T")


class AnswerThreads:
    """Runs blocking work off the event loop, `limit` threads at most. Event loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._slots = asyncio.Semaphore(self.limit)
        self.alive = 0  # threads running now, those past their question's deadline included

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in a thread of its own. Cancelling the caller (its deadline) before a
        slot is free means the work never starts; after that, the thread runs to its end
        and its result is dropped."""
        if self._slots.locked():
            log.warning(event("answer_threads_full", limit=self.limit))
        await self._slots.acquire()
        self.alive += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            self._free()
            if not future.done():  # cancelled when the deadline passed
                outcome()

        def body() -> None:
            try:
                outcome = partial(future.set_result, work())
            except BaseException as exc:
                outcome = partial(future.set_exception, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
                loop.call_soon_threadsafe(settle, outcome)

        try:
            threading.Thread(target=body, name="answer", daemon=True).start()
        except BaseException:
            self._free()
            raise
        return await future

    def _free(self) -> None:
        self.alive -= 1
        self._slots.release()
