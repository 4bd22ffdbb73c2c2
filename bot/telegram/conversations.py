"""Each user's follow-up history, per chat, with one lock per conversation.

Questions of one conversation are answered one after another (a follow-up never runs
beside the question it follows): the lock is an asyncio lock held by the question's
handler, so it is released when the handler ends — also when the deadline passed and the
answer thread runs on. That thread works on a copy of the conversation (`draft`), which
becomes the conversation only if the answer arrives in time (`commit`); so a thread past
its deadline can neither hold up the next question nor change the history under it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field, replace

from bot.answer.conversation import Conversation

MAX_CONVERSATIONS = 10_000  # chat/user pairs whose follow-up history is kept (most recent)


@dataclass
class GuardedConversation:
    conversation: Conversation
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def draft(self) -> Conversation:
        """A copy for one answer thread to read and extend."""
        return replace(self.conversation, turns=deque(self.conversation.turns))

    def commit(self, draft: Conversation) -> None:
        """The answered question's history becomes the conversation's."""
        self.conversation = draft


class Conversations:
    """Least recently used conversations are forgotten first (never one in use). Used
    from the event loop."""

    def __init__(self, history_turns: int, limit: int = MAX_CONVERSATIONS) -> None:
        self._history_turns = history_turns
        self._limit = limit
        self._guarded: dict[tuple[int, int], GuardedConversation] = {}  # oldest first

    def get(self, chat_id: int, user_id: int) -> GuardedConversation:
        key = (chat_id, user_id)
        guarded = self._guarded.pop(key, None)
        if guarded is None:
            guarded = GuardedConversation(Conversation(self._history_turns))
        self._guarded[key] = guarded  # re-inserted: now the most recent
        if len(self._guarded) > self._limit:
            idle = next((k for k, g in self._guarded.items() if not g.lock.locked()), None)
            if idle is not None:
                del self._guarded[idle]
        return guarded

    def forget(self, user_id: int) -> None:
        """Drop every conversation of `user_id` (/forget)."""
        for key in [k for k in self._guarded if k[1] == user_id]:
            del self._guarded[key]
