"""What the handlers share: the live engine (swapped whole by /reindex) and the question log.

The Telegram layer sees the answer engine only through the `Engine` protocol, so it never
imports the index, FAISS or the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.answer.conversation import Conversation
from bot.answer.results import Answer, IndexSummary
from bot.telegram.store import FeedbackStore


class Engine(Protocol):
    """What the Telegram layer needs from the answer engine (bot.answer.engine.AnswerEngine)."""

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer: ...

    def info(self) -> IndexSummary: ...

    def warm_up(self) -> None: ...


# Rebuilds the index in a worker thread, reporting progress lines; returns the new
# engine (warmed up) and a one-line summary.
Reindex = Callable[[Callable[[str], None]], tuple[Engine, str]]

# On a read-only replica: the engine over a newly shipped index generation and its name,
# or None while the live one is unchanged (bot.wiring.follow_job).
Follow = Callable[[], tuple[Engine, str] | None]


@dataclass
class BotState:
    """Shared by every handler. A question in flight keeps the engine it started with."""

    engine: Engine
    store: FeedbackStore
