"""Per-conversation history, bounded, and the rewriting of short follow-up questions.

Without an LLM this is two rules over the previous (standalone) question:
- "那同比增长多少?" after "营口片区去年规模以上工业总产值是多少?": a question that opens with
  a follow-up word (那, 那么, 它, 还有 …) or names no topic of its own (two content terms at
  most, no proper name) gets the previous topic — its text before the interrogative — put
  in front: "营口片区去年规模以上工业总产值同比增长多少?";
- "固定资产投资呢?" after "营口片区去年实际利用外资完成多少?": a question that only names a
  new subject is the previous question about that subject instead:
  "营口片区去年固定资产投资完成多少?".

A `Conversation` holds only plain data, so a transport may pickle it with its chat state.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from bot.answer.question import (
    content_terms,
    proper_names,
    question_kind,
    replace_subject,
    strip_question,
)
from index.textnorm import normalize

FOLLOW_UP_OPENERS = re.compile(
    r"^(?:那么|那|它们?|该|这个|这些|此外|另外|还有|以及|并且|而且|然后)"
)
ELLIPSIS = re.compile(r"(.+?)(?:呢|怎么样|又如何)[?？]?")  # "固定资产投资呢?"
MAX_TOPIC_TERMS = 2  # a question with more content terms than this stands on its own


@dataclass(frozen=True)
class Turn:
    question: str  # the standalone question as answered (normalised)


@dataclass
class Conversation:
    """The last `max_turns` turns of one conversation (chat, terminal session)."""

    max_turns: int = 4
    turns: deque[Turn] = field(default_factory=deque)
    scope: str | None = None  # the place or law the user narrowed to ("北京"), until cleared

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)
        while len(self.turns) > max(self.max_turns, 0):
            self.turns.popleft()

    def clear(self) -> None:
        """A new conversation: no history, no chosen scope."""
        self.turns.clear()
        self.scope = None

    def standalone(self, question: str) -> str:
        """The question completed from history when it is a follow-up, else unchanged."""
        if not self.turns:
            return question
        previous = self.turns[-1].question
        normalised = normalize(question)
        rest = FOLLOW_UP_OPENERS.sub("", normalised).lstrip("，,、 ")
        subject = ELLIPSIS.fullmatch(rest)
        if subject and question_kind(rest) == "other":
            return replace_subject(previous, subject.group(1)) or question
        if not is_follow_up(normalised):
            return question
        topic = strip_question(previous)
        return f"{topic}{rest}" if topic else question


def is_follow_up(normalised: str) -> bool:
    if FOLLOW_UP_OPENERS.match(normalised):
        return True
    return len(content_terms(normalised)) <= MAX_TOPIC_TERMS and not proper_names(normalised)
