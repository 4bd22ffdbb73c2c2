"""The durable inbox: a question is in the store before Telegram is told it arrived, and
is marked done only once it has been handled (answered, refused, throttled, apologised for).

PTB confirms fetched updates to Telegram (the next getUpdates offset) as soon as they are
in its update queue, long before they are answered, so a bot killed in between lost them.
Here the update queue itself writes each question to the store as it is put
(`InboxQueue`): PTB's offset moves on only after that write, and a webhook answers
Telegram's POST only after it too. The update processor marks the question done when its
handling ends (`InboxProcessor`). At start-up, before polling, whatever is not done is put
back into the queue (`InboxQueue.replay`) and handled like a new question; one that waited
longer than telegram.max_backlog_age gets the usual apology first.

Each entry names the process handling it. A SQLite store has one bot process, so at
start every entry not done is an orphan. Replicas sharing a PostgreSQL store cannot tell
a replica that died from one still answering, so there each process renews its claims
every RENEW_EVERY_S (`keep_claims`) and takes over entries whose claim is older than
LEASE_S: a replica's questions are answered by another (or by itself restarted) within
about a minute of its death, never while it lives.

Delivery is at least once. A bot killed between a reply and its done mark answers that
question again after the restart — once: each handling counts an attempt, and after
MAX_ATTEMPTS the question is given up with an apology, so a question that kills the bot
cannot make it crash and answer in a loop. Telegram delivering an update again (the bot
died before confirming it) is recognised by (chat, message id) and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Bot, ReplyParameters, Update
from telegram.error import TelegramError
from telegram.ext import SimpleUpdateProcessor

from bot.logging_setup import event
from bot.telegram.access import QUESTION
from bot.telegram.messages import GAVE_UP
from bot.telegram.store import FeedbackStore, InboxEntry, StoreError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # handlings of one question (the first and two replays), then an apology
RENEW_EVERY_S = 20.0  # on a shared store: how often a process renews its claims
LEASE_S = 60.0  # … and how old an unrenewed claim is before another process takes it over
_NAMES = ("first_name", "last_name", "username")  # not kept: the inbox needs only ids
_REPLIED_KEYS = ("message_id", "date", "chat", "from")  # what "addressed to the bot" reads

Key = tuple[int, int]  # (chat id, message id)


class Inbox:
    """The questions between fetched and done, in the store and in `_held`. Event loop only."""

    def __init__(self, store: FeedbackStore) -> None:
        self._store = store
        self._held: set[Key] = set()
        # This process, for the store and for people reading it: host, pid and a nonce.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def admit(self, update: object) -> bool:
        """Whether to queue `update`. A question is stored first; False when it was
        already known (delivered again). When the store fails the question is still
        answered, only not safe from a kill."""
        if not isinstance(update, Update) or not QUESTION.check_update(update):
            return True
        message = update.effective_message
        assert message is not None and message.text is not None
        entry = InboxEntry(
            chat_id=message.chat_id,
            message_id=message.message_id,
            user_id=message.from_user.id if message.from_user else None,
            text=message.text,
            sent_at=message.date.timestamp(),
            update=_stored_update(update),
        )
        try:
            added = await self._store.run(self._store.inbox_add, entry, self.owner)
        except StoreError as exc:
            log.error(event("inbox_failed", chat=entry.chat_id, error=str(exc)))
            return True
        if not added:
            log.info(event("duplicate_update", chat=entry.chat_id, message=entry.message_id))
            return False
        self._held.add((entry.chat_id, entry.message_id))
        return True

    async def settle(self, update: object) -> None:
        """`update` has been handled: a question of the inbox is done."""
        message = update.effective_message if isinstance(update, Update) else None
        key = (message.chat_id, message.message_id) if message is not None else None
        if key not in self._held:
            return
        self._held.discard(key)
        try:
            await self._store.run(self._store.inbox_done, *key)
        except StoreError as exc:
            log.error(event("inbox_failed", chat=key[0], error=str(exc)))

    async def renew(self) -> None:
        await self._store.run(self._store.inbox_renew, self.owner)

    async def take_over(self, bot: Bot, stale_before: float | None) -> list[Update]:
        """The questions other processes fetched and never finished (see
        FeedbackStore.inbox_claim), to handle here; those tried MAX_ATTEMPTS times
        already get an apology instead."""
        updates, given_up = [], 0
        try:
            claimed = await self._store.run(self._store.inbox_claim, self.owner, stale_before)
        except StoreError as exc:  # then they wait for the next start (or sweep)
            log.error(event("inbox_failed", error=str(exc)))
            return []
        for entry in claimed:
            if entry.attempts > MAX_ATTEMPTS:
                await self._give_up(bot, entry)
                given_up += 1
                continue
            self._held.add((entry.chat_id, entry.message_id))
            updates.append(Update.de_json(json.loads(entry.update), bot))
        if updates or given_up:
            log.info(event("inbox_replayed", questions=len(updates), given_up=given_up))
        return updates

    async def _give_up(self, bot: Bot, entry: InboxEntry) -> None:
        log.warning(event("inbox_given_up", chat=entry.chat_id, attempts=entry.attempts - 1))
        with contextlib.suppress(TelegramError):
            await bot.send_message(
                entry.chat_id,
                GAVE_UP,
                parse_mode=None,
                reply_parameters=ReplyParameters(
                    entry.message_id, allow_sending_without_reply=True
                ),
            )
        try:
            await self._store.run(self._store.inbox_done, entry.chat_id, entry.message_id)
        except StoreError as exc:
            log.error(event("inbox_failed", chat=entry.chat_id, error=str(exc)))


class InboxQueue(asyncio.Queue):
    """PTB's update queue (polling and webhook put into it): a question is in the inbox
    before `put` returns, and one delivered again is never queued."""

    def __init__(self, inbox: Inbox) -> None:
        super().__init__()
        self.inbox = inbox

    async def put(self, item: object) -> None:
        if await self.inbox.admit(item):
            await super().put(item)

    async def replay(self, bot: Bot, everything: bool) -> int:
        """Queue the questions of the inbox that no live process handles: all of them
        (`everything`: at start, on a store of this process alone) or those whose claim
        has not been renewed for LEASE_S. Returns how many."""
        stale_before = None if everything else time.time() - LEASE_S
        updates = await self.inbox.take_over(bot, stale_before)
        for update in updates:
            self.put_nowait(update)  # already in the inbox: not admitted again
        return len(updates)


async def keep_claims(queue: InboxQueue, bot: Bot) -> None:
    """On a store replicas share: renew this process's claims, then take over the
    questions of processes that stopped renewing theirs; every RENEW_EVERY_S (a task of
    its own, cancelled at shutdown)."""
    while True:
        await asyncio.sleep(RENEW_EVERY_S)
        try:
            await queue.inbox.renew()
        except StoreError as exc:
            log.error(event("inbox_failed", error=str(exc)))
        await queue.replay(bot, everything=False)


class InboxProcessor(SimpleUpdateProcessor):
    """Handles updates as PTB does (up to `max_concurrent_updates` at once), then marks a
    question of the inbox done. Not when the handling was cancelled: that one is replayed."""

    def __init__(self, inbox: Inbox, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._inbox = inbox

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await coroutine
        except Exception:
            await self._inbox.settle(update)
            raise
        await self._inbox.settle(update)


def _stored_update(update: Update) -> str:
    """The update as JSON without people's names, and of a replied-to message only what
    tells whether the question was addressed to the bot."""
    data = update.to_dict()
    message = data["message"]
    if "reply_to_message" in message:
        replied = message["reply_to_message"]
        message["reply_to_message"] = {k: replied[k] for k in _REPLIED_KEYS if k in replied}
    _drop_names(data)
    return json.dumps(data, ensure_ascii=False)


def _drop_names(value: object) -> None:
    if isinstance(value, dict):
        for key in _NAMES:
            if key in value:
                value[key] = ""  # first_name is required by the Bot API types
        for inner in value.values():
            _drop_names(inner)
    elif isinstance(value, list):
        for inner in value:
            _drop_names(inner)
