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
COMMAND = filters.COMMAND & NEW
UPLOAD = NEW & filters.ChatType.PRIVATE & filters.Document.ALL  # a file sent to add


class AccessPolicy:
    """Allow-lists and the per-user rates: questions, and actions (button presses and
    commands, which may each send a long passage or list)."""

    def __init__(self, tg: TelegramSettings) -> None:
        limits = tg.rate_limit
        self._limiter = RateLimiter(limits.questions, limits.per_seconds)
        self._actions = RateLimiter(limits.actions, limits.per_seconds)
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
        await self._gate(self._limiter, update, "question")

    async def action_gate(self, update: Update, context: Context) -> None:
        """The same for button presses and commands, with their own bucket: a flood of 📄
        presses is answered once, then costs no message at all."""
        kind = "button" if update.callback_query is not None else "command"
        await self._gate(self._actions, update, kind)

    async def _gate(self, limiter: RateLimiter, update: Update, kind: str) -> None:
        user, chat = update.effective_user, update.effective_chat
        assert user is not None  # QUESTION, COMMAND and callback queries all have a sender
        decision = limiter.take(user.id)
        if decision is Decision.ALLOWED:
            return
        if decision is Decision.LIMITED:
            await _tell_throttled(update)
        log.info(event("throttled", user=user.id, chat=chat.id if chat else None, kind=kind))
        raise ApplicationHandlerStop


async def _tell_throttled(update: Update) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(THROTTLED, show_alert=True)
    elif (message := update.effective_message) is not None:
        await message.reply_text(THROTTLED, do_quote=message.chat.type != ChatType.PRIVATE)
