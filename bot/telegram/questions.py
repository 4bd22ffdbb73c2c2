"""Questions: answer in a worker thread with "typing…" shown, reply with sources and buttons,
log the question. Each user's follow-up history is kept per chat."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.answer.conversation import Conversation
from bot.answer.results import Answer
from bot.logging_setup import event
from bot.telegram import render
from bot.telegram.messages import NON_TEXT
from bot.telegram.replies import reply_parts, typing_action
from bot.telegram.sources import answer_keyboard
from bot.telegram.state import BotState
from bot.telegram.store import new_answer_id

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

MAX_CONVERSATIONS = 10_000  # chat/user pairs whose follow-up history is kept (most recent)


def strip_mention(text: str, username: str) -> str:
    """Remove `@botname` wherever it appears, so the engine sees only the question."""
    return re.sub(rf"@{re.escape(username)}(?![A-Za-z0-9_])", "", text, flags=re.I).strip()


class QuestionHandler:
    """The engine is CPU-bound and blocking, so it runs in a pool of one thread per
    question in flight (asyncio's default pool has ~6): questions waiting together in the
    engine are embedded together (index.batching)."""

    def __init__(self, state: BotState, history_turns: int, threads: int) -> None:
        self._state = state
        self._history_turns = history_turns
        self._conversations: dict[tuple[int, int], Conversation] = {}  # oldest first
        self._threads = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="answer")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def question(self, update: Update, context: Context) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.text is not None and user is not None
        text = strip_mention(message.text, context.bot.username)
        group = message.chat.type != ChatType.PRIVATE
        started, engine = time.perf_counter(), self._state.engine
        conversation = self._conversation(message.chat_id, user.id)
        async with typing_action(context.bot, message.chat_id):
            answer = await asyncio.get_running_loop().run_in_executor(
                self._threads, engine.answer, text, conversation
            )
        answer_id = new_answer_id()
        parts = render.render_answer(answer)
        await reply_parts(message, parts, answer_keyboard(answer_id, answer), quote=group)
        self._record(answer_id, user.id, message.chat_id, answer, started, len(parts))

    async def non_text(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(NON_TEXT)

    def _conversation(self, chat_id: int, user_id: int) -> Conversation:
        """Each user's follow-up history, per chat; the least recently used are forgotten."""
        key = (chat_id, user_id)
        conversation = self._conversations.pop(key, None)
        if conversation is None:
            conversation = Conversation(self._history_turns)
        self._conversations[key] = conversation  # re-inserted: now the most recent
        if len(self._conversations) > MAX_CONVERSATIONS:
            del self._conversations[next(iter(self._conversations))]
        return conversation

    def _record(
        self, answer_id: str, user_id: int, chat_id: int, answer: Answer, started: float, parts: int
    ) -> None:
        """One log line and one SQLite row per answered question."""
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        self._state.store.log_question(answer_id, user_id, chat_id, answer, latency_ms)
        chunks = [c.chunk.chunk_id for c in answer.citations]
        log.info(
            event(
                "question",
                user=user_id,
                chat=chat_id,
                answer=answer_id,
                found=answer.found,
                latency_ms=latency_ms,
                chunks=chunks,
                parts=parts,
            )
        )
