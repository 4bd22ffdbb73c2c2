"""Questions: answer in a worker thread with "typing…" shown and a deadline, log the
question, then reply with sources and buttons.

Every question ends in exactly one outcome, logged as one `question` line before the
reply: answered, refused (not in the documents), timeout (the deadline passed: the user
gets an apology, and their slot and the conversation are freed; the thread is left to
finish within the bound of `AnswerThreads`), busy (the user has `in_flight` questions
being answered already) or error (the error handler apologises). The question row is
written before the reply too, so a button under an answer always finds its row; if the
row cannot be written (full disk), the answer goes out without buttons instead of with
dead ones.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.answer.results import Answer
from bot.logging_setup import event
from bot.telegram import render
from bot.telegram.answer_threads import AnswerThreads
from bot.telegram.conversations import Conversations
from bot.telegram.limits import InFlight
from bot.telegram.messages import BACKLOG, BUSY, NON_TEXT, TIMEOUT
from bot.telegram.replies import reply_parts, typing_action
from bot.telegram.sources import answer_keyboard
from bot.telegram.state import BotState
from bot.telegram.store import StoreError, new_answer_id

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


def strip_mention(text: str, username: str) -> str:
    """Remove `@botname` wherever it appears, so the engine sees only the question."""
    return re.sub(rf"@{re.escape(username)}(?![A-Za-z0-9_])", "", text, flags=re.I).strip()


class QuestionHandler:
    def __init__(
        self,
        state: BotState,
        history_turns: int,
        in_flight: int,
        timeout_s: float,
        max_backlog_age: float,
        threads: int,
    ) -> None:
        self._state = state
        self.conversations = Conversations(history_turns)
        self.threads = AnswerThreads(threads)
        self._in_flight = InFlight(in_flight)
        self._timeout_s = timeout_s
        self._max_backlog_age = max_backlog_age

    async def question(self, update: Update, context: Context) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.text is not None and user is not None
        await self.ask(message, user.id, strip_mention(message.text, context.bot.username), context)

    async def ask(self, message: Message, user_id: int, text: str, context: Context) -> None:
        """Answer `text` from `user_id`, replying to `message` (the question, or the answer
        whose scope was narrowed when bot.telegram.scoping asks again)."""
        started = time.perf_counter()
        waited = (datetime.now(UTC) - message.date).total_seconds()
        if waited > self._max_backlog_age:
            await message.reply_text(BACKLOG.format(minutes=round(waited / 60)), parse_mode=None)
        if not self._in_flight.enter(user_id):
            self._log(message, user_id, "busy")
            await message.reply_text(BUSY, do_quote=_is_group(message))
            return
        try:  # the slot is held while the engine works, not while replies are sent
            answer = await self._work(message, user_id, text, context, started)
        finally:
            self._in_flight.leave(user_id)
        if answer is None:
            self._log(message, user_id, "timeout", started)
            await message.reply_text(TIMEOUT, do_quote=_is_group(message))
        else:
            await self._reply(message, user_id, answer, started)

    async def non_text(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(NON_TEXT)

    async def _work(
        self, message: Message, user_id: int, text: str, context: Context, started: float
    ) -> Answer | None:
        """The engine's answer, or None when the deadline passed first (waiting for the
        conversation and for a thread count towards it)."""
        engine = self._state.engine
        guarded = self.conversations.get(message.chat_id, user_id)
        try:
            deadline = asyncio.timeout(self._timeout_s)
            async with typing_action(context.bot, message.chat_id), deadline, guarded.lock:
                draft = guarded.draft()
                answer = await self.threads.run(lambda: engine.answer(text, draft))
                guarded.commit(draft)
                return answer
        except TimeoutError:
            return None
        except Exception:
            self._log(message, user_id, "error", started)
            raise

    async def _reply(self, message: Message, user_id: int, answer: Answer, started: float) -> None:
        """Log the question (row and line), then send the answer with its buttons."""
        answer_id = new_answer_id()
        keyboard = answer_keyboard(answer_id, answer)
        latency_ms = _ms_since(started)
        store = self._state.store
        try:
            await store.run(
                store.log_question, answer_id, user_id, message.chat_id, answer, latency_ms
            )
        except StoreError as exc:
            log.error(event("store_failed", answer=answer_id, error=str(exc)))
            keyboard = None  # buttons without their row would only say "expired"
        parts = render.render_answer(answer)
        outcome = "answered" if answer.found else "refused"
        self._log(message, user_id, outcome, started, answer, answer_id)
        await reply_parts(message, parts, keyboard, quote=_is_group(message))

    def _log(
        self,
        message: Message,
        user_id: int,
        outcome: str,
        started: float | None = None,
        answer: Answer | None = None,
        answer_id: str | None = None,
    ) -> None:
        """The one `question` line of this question, whatever its outcome."""
        fields: dict[str, object] = {
            "user": user_id,
            "chat": message.chat_id,
            "chat_type": message.chat.type,
            "outcome": outcome,
        }
        if started is not None:
            fields["latency_ms"] = _ms_since(started)
        if answer is not None:
            fields |= {"answer": answer_id, "chunks": [c.chunk.chunk_id for c in answer.citations]}
        log.info(event("question", **fields))


def _is_group(message: Message) -> bool:
    return message.chat.type != ChatType.PRIVATE


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
