"""Who may use the bot and which messages are addressed to it: the gates run before any
handler (groups -2 and -1), so a refused or throttled update never reaches the engine."""

from __future__ import annotations

import logging

from telegram import Chat, Message, Update, User
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import ApplicationHandlerStop, ContextTypes, filters

from bot.config import TelegramSettings
from bot.logging_setup import event
from bot.telegram.limits import Decision, RateLimiter
from bot.telegram.messages import NOT_ALLOWED, THROTTLED

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class Addressed(filters.MessageFilter):
    """Private chats always; in groups only messages that @mention the bot or reply to it."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        mention = f"@{bot.username}".lower()
        mentions = message.parse_entities([MessageEntityType.MENTION]).values()
        return any(text.lower() == mention for text in mentions)


# New messages only (`UpdateType.MESSAGE`): an edited message is not a new question.
NEW = filters.UpdateType.MESSAGE
QUESTION = filters.TEXT & ~filters.COMMAND & NEW & Addressed()
NON_TEXT_PRIVATE = NEW & filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL
UNKNOWN_PRIVATE_COMMAND = filters.COMMAND & NEW & filters.ChatType.PRIVATE


class AccessPolicy:
    """Allow-lists and the per-user question rate."""

    def __init__(self, tg: TelegramSettings) -> None:
        self._limiter = RateLimiter(tg.rate_limit.questions, tg.rate_limit.per_seconds)
        self._allowed_users = {*tg.allowed_users, *tg.admins}
        self._allowed_chats = set(tg.allowed_chats)
        self._open = not tg.allowed_users and not tg.allowed_chats
        self._refused: set[int] = set()  # strangers already told, so they are told once

    def allowed(self, user: User | None, chat: Chat | None) -> bool:
        if self._open:
            return True
        return (user is not None and user.id in self._allowed_users) or (
            chat is not None and chat.id in self._allowed_chats
        )

    async def access_gate(self, update: Update, context: Context) -> None:
        """Strangers get one polite refusal in private and silence in groups."""
        user, chat = update.effective_user, update.effective_chat
        if self.allowed(user, chat):
            return
        private = chat is not None and chat.type == ChatType.PRIVATE
        if update.callback_query is not None:
            await update.callback_query.answer()
        elif private and user is not None and user.id not in self._refused:
            self._refused.add(user.id)
            await chat.send_message(NOT_ALLOWED)
        log.info(event("refused", user=user.id if user else None, chat=chat.id if chat else None))
        raise ApplicationHandlerStop

    async def rate_gate(self, update: Update, context: Context) -> None:
        """Per-user token bucket for questions; a flood gets one notice, then silence."""
        user, message = update.effective_user, update.effective_message
        assert user is not None and message is not None  # QUESTION only matches such updates
        decision = self._limiter.take(user.id)
        if decision is Decision.ALLOWED:
            return
        if decision is Decision.LIMITED:
            await message.reply_text(THROTTLED, do_quote=message.chat.type != ChatType.PRIVATE)
        log.info(event("throttled", user=user.id, chat=message.chat_id))
        raise ApplicationHandlerStop
