"""Privacy: /forget (a user deletes their own questions and votes, after confirming with
a button) and the retention period (`telegram.log_retention_days`).

The buttons carry the requester's id, so in a group only the person who sent /forget
can confirm it, and what is deleted is always the presser's own data."""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.logging_setup import event
from bot.telegram.conversations import Conversations
from bot.telegram.messages import (
    FORGET_CANCELLED,
    FORGET_CONFIRM,
    FORGET_DONE,
    FORGET_NO,
    FORGET_YES,
    NOT_YOURS,
)
from bot.telegram.state import BotState
from bot.telegram.store import StoreError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

FORGET_DATA = re.compile(r"^forget:(\d{1,20}):(yes|no)$")


class Privacy:
    def __init__(self, state: BotState, conversations: Conversations) -> None:
        self._state = state
        self._conversations = conversations

    async def forget(self, update: Update, context: Context) -> None:
        """Ask first: deleting cannot be undone, and old buttons stop working."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(FORGET_YES, callback_data=f"forget:{user.id}:yes"),
                    InlineKeyboardButton(FORGET_NO, callback_data=f"forget:{user.id}:no"),
                ]
            ]
        )
        await message.reply_text(FORGET_CONFIRM, reply_markup=keyboard, parse_mode=None)

    async def confirm(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and context.match is not None
        user_id = query.from_user.id
        if int(context.match[1]) != user_id:
            await query.answer(NOT_YOURS, show_alert=True)
            return
        await query.answer()
        if context.match[2] == "no":
            await query.edit_message_text(FORGET_CANCELLED, parse_mode=None)
            return
        store = self._state.store
        gone = await store.run(store.forget, user_id)
        self._conversations.forget(user_id)
        log.info(event("forgotten", user=user_id, questions=gone.questions, votes=gone.votes))
        done = FORGET_DONE.format(questions=gone.questions, votes=gone.votes)
        await query.edit_message_text(done, parse_mode=None)


PRUNE_EVERY = 6 * 3600.0  # seconds between retention passes


async def prune_forever(state: BotState, retention_days: int, every: float = PRUNE_EVERY) -> None:
    """Delete questions older than the retention period now and every `every` seconds
    (a task of its own, cancelled at shutdown); 0 days keeps everything."""
    store = state.store
    while retention_days > 0:
        try:
            removed = await store.run(store.prune, retention_days)
        except StoreError as exc:
            log.error(event("prune_failed", error=str(exc)))
        else:
            if removed:
                log.info(event("pruned", questions=removed, retention_days=retention_days))
        await asyncio.sleep(every)
