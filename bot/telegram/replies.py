"""Sending rendered parts: HTML with a plain-text fallback, split messages, "typing…"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Bot, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError

from bot.logging_setup import event
from bot.telegram import render

log = logging.getLogger(__name__)

TYPING_EVERY = 4.0  # seconds; Telegram shows "typing…" for at most 5 s


@contextlib.asynccontextmanager
async def typing_action(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Keep "typing…" visible while the body runs (one chat action lasts at most 5 s)."""

    async def send() -> None:
        with contextlib.suppress(TelegramError):  # cosmetic: never fail a question over it
            await bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def keep_typing() -> None:
        while True:
            # Shielded: a request cut off mid-flight would cost its keep-alive connection.
            await asyncio.shield(send())
            await asyncio.sleep(TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def reply_part(
    message: Message,
    part: render.Part,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
    quote: bool = False,
) -> Message:
    """Send HTML; if Telegram cannot parse it after all, send the same part as plain text."""
    try:
        return await message.reply_text(part.html, reply_markup=markup, do_quote=quote)
    except BadRequest as exc:
        if "can't parse entities" not in exc.message.lower():
            raise
        log.warning(event("html_rejected", chat=message.chat_id, error=exc.message))
        return await message.reply_text(
            part.plain, parse_mode=None, reply_markup=markup, do_quote=quote
        )


async def reply_parts(
    message: Message,
    parts: list[render.Part],
    markup: InlineKeyboardMarkup | None = None,
    quote: bool = False,
) -> None:
    """Send a split message in order; buttons go under the last part, the quote on the first."""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        await reply_part(message, part, markup if last else None, quote=quote and i == 0)
