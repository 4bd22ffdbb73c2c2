"""Each user's follow-up history, per chat, with one lock per conversation.

A `Conversation` is read and extended by the engine in an answer thread; two questions
from one user at once would otherwise change it from two threads. The lock is taken in
the answer thread, so a question whose deadline passed keeps the conversation until its
thread is done, and the next question of that conversation waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.answer.conversation import Conversation
from bot.answer.results import Answer

MAX_CONVERSATIONS = 10_000  # chat/user pairs whose follow-up history is kept (most recent)

Answerer = Callable[[str, Conversation | None], Answer]


@dataclass
class GuardedConversation:
    conversation: Conversation
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, answer: Answerer, question: str) -> Answer:
        """Run `answer(question, conversation)` holding this conversation's lock."""
        with self.lock:
            return answer(question, self.conversation)


class Conversations:
    """Least recently used conversations are forgotten first. Used from the event loop."""

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
            del self._guarded[next(iter(self._guarded))]
        return guarded

    def forget(self, user_id: int) -> None:
        """Drop every conversation of `user_id` (/forget)."""
        for key in [k for k in self._guarded if k[1] == user_id]:
            del self._guarded[key]
