"""Admin commands: /reindex in the background with progress edits, /stats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.logging_setup import event
from bot.telegram import render
from bot.telegram.messages import ADMIN_ONLY, NO_REINDEX, REINDEX_RUNNING
from bot.telegram.replies import reply_part
from bot.telegram.state import BotState, Reindex
from index.errors import ZonebotError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

PROGRESS_EVERY = 1.0  # seconds between edits of a status message (/reindex, uploads)
T = TypeVar("T")


async def run_with_progress(
    job: Callable[[Callable[[str], None]], T], status: Message, title: str = "⏳ 正在重建索引…"
) -> T:
    """Run an index job in a thread; edit `status` with its latest progress line meanwhile."""
    latest: deque[str] = deque(maxlen=1)  # appended by the worker thread, read here
    task = asyncio.ensure_future(asyncio.to_thread(job, latest.append))
    shown = ""
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EVERY)
        if latest and latest[0] != shown and not task.done():
            shown = latest[0]
            with contextlib.suppress(TelegramError):  # progress is cosmetic
                await status.edit_text(render.status_part(title, shown).html)
    return task.result()


class AdminCommands:
    """Registered for admins only; everybody else gets ADMIN_ONLY from `admin_only`."""

    def __init__(self, state: BotState, reindex: Reindex | None) -> None:
        self._state = state
        self._reindex = reindex
        self._reindexing = False

    async def stats(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        store = self._state.store
        await reply_part(
            update.effective_message, render.render_stats(await store.run(store.stats))
        )

    async def admin_only(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(ADMIN_ONLY)

    async def reindex(self, update: Update, context: Context) -> None:
        """Start a rebuild in the background; questions keep using the current engine."""
        message = update.effective_message
        assert message is not None
        if self._reindex is None or self._reindexing:
            await message.reply_text(NO_REINDEX if self._reindex is None else REINDEX_RUNNING)
            return
        self._reindexing = True  # set before any await: two /reindex cannot both pass
        # No `update=`: a failure is logged for the admins, not apologised for in the chat.
        context.application.create_task(self._run_reindex(self._reindex, message))

    async def _run_reindex(self, reindex: Reindex, request: Message) -> None:
        """Rebuild while one status message shows progress; swap the engine when done."""
        try:
            status = await reply_part(request, render.status_part("⏳ 开始重建索引…"))
            try:
                engine, summary = await run_with_progress(reindex, status)
            except Exception as exc:
                domain = isinstance(exc, ZonebotError)  # its message is written for people
                detail = str(exc) if domain else "内部错误，详情见日志"
                failed = render.status_part("❌ 重建失败，继续使用原索引", detail)
                await status.edit_text(failed.html)
                if domain:
                    return
                raise
        finally:
            self._reindexing = False
        self._state.engine = engine
        log.info(event("reindexed", summary=summary))
        await status.edit_text(render.status_part("✅ 索引已更新", summary).html)
