"""The answer engine: question → normalise → retrieve → choose sentences → verify → Answer.

Independent of any transport: the CLI, the terminal chat and the Telegram bot all call
`AnswerEngine.answer(question, conversation)`. The engine is built once per process
(`bot.wiring.build_engine` loads the model and the index) and is safe to call from many threads:
questions asked at once share one embedding pass (`index.batching`), and everything
else works on immutable data and thread-safe caches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

from bot.answer.citations import cite
from bot.answer.conversation import Conversation, Turn
from bot.answer.extractive import Candidate, TermWeights, candidates, compose
from bot.answer.llm import LLMClient
from bot.answer.question import Question, analyse, clean, has_chinese, has_words
from bot.answer.refusal import Gate
from bot.answer.results import NOT_FOUND, Answer, IndexSummary
from bot.config import Settings
from index.documents import Hit
from index.retrieve import HybridRetriever, Mode
from index.textnorm import to_traditional

log = logging.getLogger(__name__)

EMPTY_QUESTION = "请输入要查询的问题，例如：营口片区去年规模以上工业总产值是多少？"
NO_WORDS = "没有看懂这个问题：请用文字（中文）提问。"
NOT_CHINESE = "文档为中文，请尽量用中文提问。(The documents are in Chinese; please ask in Chinese.)"
MAX_SUGGESTIONS = 3
WARM_UP_QUESTION = "营口片区去年规模以上工业总产值是多少？"


class AnswerEngine:
    """Answers questions from one loaded index; see the module docstring."""

    def __init__(
        self,
        retriever: HybridRetriever,
        settings: Settings,
        llm: LLMClient | None = None,
        mode: Mode = "hybrid",
    ) -> None:
        self.retriever = retriever
        self.settings = settings
        self.llm = llm
        self.mode = mode
        self._weights = TermWeights(retriever.document_frequency, len(retriever))

    def info(self) -> IndexSummary:
        return self.retriever.summary()

    def warm_up(self) -> None:
        """Answer one question now, so one-off costs (jieba, torch) do not stall a user."""
        self.answer(WARM_UP_QUESTION)

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer:
        """Answer one question; never raises for bad input (the result says what is wrong)."""
        started = time.perf_counter()
        text = clean(question)
        if not has_words(text):
            return Answer(question, False, NO_WORDS if text else EMPTY_QUESTION)
        notices = []
        limit = self.settings.retrieval.max_query_chars
        if len(text) > limit:  # the retriever refuses longer queries; embedding would cut it
            notices.append(f"问题过长（{len(text)} 字），只按前 {limit} 字作答。")
            text = text[:limit]
        if not has_chinese(text):
            notices.append(NOT_CHINESE)
        standalone = conversation.standalone(text) if conversation else text
        q = analyse(text, standalone[:limit])
        hits = self.retrieve(q)
        retrieved = time.perf_counter()
        answer, notice = self._compose(question, q, hits)
        if q.traditional:
            answer = replace(answer, text=to_traditional(answer.text))  # quotes stay original
        if conversation is not None:
            conversation.add(Turn(q.search))
        done = time.perf_counter()
        timings = {
            "retrieve": (retrieved - started) * 1000,
            "answer": (done - retrieved) * 1000,
            "total": (done - started) * 1000,
        }
        notice = " ".join(n for n in (*notices, notice) if n) or None
        return replace(answer, timings_ms=timings, notice=notice)

    def _compose(self, asked: str, q: Question, hits: list[Hit]) -> tuple[Answer, str | None]:
        """The cited answer, or the refusal with suggestions; plus a notice from the LLM."""
        settings = self.settings.answer
        ranked = self.rank(q, hits)
        gate = Gate(q, ranked, settings)
        verdict = gate.verdict()
        if verdict.best is None:
            log.info("refused %r: %s", q.search, verdict.reason)
            return Answer(asked, False, NOT_FOUND, suggestions=_suggestions(hits)), None
        chosen = compose(q, verdict.best, ranked, lambda c: not gate.objection(c), settings)
        body, citations = cite((c.text, c.chunk) for c in chosen)
        notice = None
        if self.llm is not None:
            body, citations, notice = self.llm.improve(q.search, hits, body, citations)
        return Answer(asked, True, body, citations), notice

    def retrieve(self, question: Question) -> list[Hit]:
        """The passages whose sentences compete for the answer."""
        return self.retriever.search(question.search, self.settings.answer.passages, mode=self.mode)

    def rank(self, question: Question, hits: Sequence[Hit]) -> list[Candidate]:
        """All sentences of the passages, scored, best first (also used for calibration)."""
        return candidates(question, hits, self._weights)


def _suggestions(hits: Sequence[Hit]) -> list[str]:
    """Up to three distinct document titles among the hits, best first."""
    return list(dict.fromkeys(h.chunk.title for h in hits))[:MAX_SUGGESTIONS]
