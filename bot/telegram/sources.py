"""The buttons under an answer: 📄 n shows the whole cited passage, 👍/👎 records a vote."""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot.answer.results import Answer
from bot.telegram import render
from bot.telegram.messages import EXPIRED, THANKS
from bot.telegram.replies import reply_parts
from bot.telegram.scoping import scope_rows
from bot.telegram.state import BotState

Context = ContextTypes.DEFAULT_TYPE

SOURCE_DATA = re.compile(r"^src:([0-9a-f]{12}):(\d{1,3})$")
FEEDBACK_DATA = re.compile(r"^fb:([0-9a-f]{12}):(up|down)$")


def answer_keyboard(answer_id: str, answer: Answer) -> InlineKeyboardMarkup:
    """📄 n per source (five a row), then 👍 / 👎, then 只看… to narrow the scope;
    callback data stays below Telegram's 64 bytes."""
    sources = [
        InlineKeyboardButton(f"📄 {c.n}", callback_data=f"src:{answer_id}:{c.n}")
        for c in answer.citations
    ]
    votes = [
        InlineKeyboardButton("👍", callback_data=f"fb:{answer_id}:up"),
        InlineKeyboardButton("👎", callback_data=f"fb:{answer_id}:down"),
    ]
    rows = [*(sources[i : i + 5] for i in range(0, len(sources), 5)), votes]
    return InlineKeyboardMarkup([*rows, *scope_rows(answer)])


class SourceButtons:
    def __init__(self, state: BotState) -> None:
        self._state = state

    async def show_source(self, update: Update, context: Context) -> None:
        """📄 n: reply to the answer with the whole passage the citation points into."""
        query = update.callback_query
        assert query is not None and context.match is not None
        store = self._state.store
        source = await store.run(store.source, context.match[1], int(context.match[2]))
        if source is None or not isinstance(query.message, Message):
            await query.answer(EXPIRED, show_alert=True)
            return
        await query.answer()
        await reply_parts(query.message, render.render_passage(source), quote=True)

    async def feedback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and context.match is not None
        vote = 1 if context.match[2] == "up" else -1
        store = self._state.store
        known = await store.run(store.record_vote, context.match[1], query.from_user.id, vote)
        await query.answer(THANKS if known else EXPIRED)
