"""The 只看… buttons: narrow a conversation to one place's documents (or the national ones),
remembered until cleared, and re-ask the last question within it.

An answer that came from several parallel documents, or a refusal for a place the corpus
does not cover, offers the places it could be narrowed to (`Answer.choices`); an answer
given within a chosen scope offers to clear it. The scope lives on the conversation
(`Conversation.scope`), which the engine reads for every question that names none.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, Message, Update
from telegram.ext import ContextTypes

from bot.answer.results import Answer
from bot.telegram.messages import EXPIRED

Context = ContextTypes.DEFAULT_TYPE

CLEAR = "-"
MAX_CHOICES = 4  # buttons per answer (one row)
MAX_LABEL_BYTES = 40  # callback data is limited to 64 bytes; "scope:" + a place name fits
SCOPE_DATA = re.compile(r"^scope:(.+)$")


def scope_rows(answer: Answer) -> list[list[InlineKeyboardButton]]:
    """One row of 只看… buttons, or 取消范围 when the answer was given in a chosen scope."""
    choices = [c for c in answer.choices if len(c.encode()) <= MAX_LABEL_BYTES][:MAX_CHOICES]
    if choices:
        return [[InlineKeyboardButton(f"只看{c}", callback_data=f"scope:{c}") for c in choices]]
    if answer.scope and answer.found:
        return [[InlineKeyboardButton("取消范围", callback_data=f"scope:{CLEAR}")]]
    return []


class ScopeButtons:
    """Handles a 只看… / 取消范围 tap for the user who tapped it."""

    def __init__(self, questions) -> None:  # bot.telegram.questions.QuestionHandler
        self._questions = questions

    async def narrow(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and context.match is not None
        if not isinstance(query.message, Message):
            await query.answer(EXPIRED, show_alert=True)
            return
        chosen, user_id = context.match[1], query.from_user.id
        guarded = self._questions.conversations.get(query.message.chat_id, user_id)
        async with guarded.lock:  # a question of this conversation may be being answered
            conversation = guarded.conversation
            conversation.scope = None if chosen == CLEAR else chosen
            last = conversation.turns.pop().question if conversation.turns else None
        await query.answer("已取消范围限定" if chosen == CLEAR else f"之后只看{chosen}的文件")
        if last is not None:  # the question the buttons were under, asked again
            await self._questions.ask(query.message, user_id, last, context)
