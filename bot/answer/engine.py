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
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from bot.answer.by_document import ByDocument
from bot.answer.checks import Checks
from bot.answer.citations import cite, with_documents
from bot.answer.compose import compose, list_items
from bot.answer.conversation import Conversation, Turn
from bot.answer.decision import AnswerModel
from bot.answer.extractive import Candidate, TermWeights, candidates
from bot.answer.features import feature_rows, passage_rows
from bot.answer.llm import UNAVAILABLE, LLMClient, LLMError
from bot.answer.question import Question, analyse, clean, has_chinese, has_words
from bot.answer.results import NOT_FOUND, RELATED, Answer, Citation, IndexSummary
from bot.answer.scope import Scoper
from bot.config import Settings
from index.documents import Hit
from index.retrieve import HybridRetriever, Mode
from index.textnorm import to_traditional

log = logging.getLogger(__name__)

EMPTY_QUESTION = "请输入要查询的问题，例如：营口片区去年规模以上工业总产值是多少？"
NO_WORDS = "没有看懂这个问题：请用文字（中文）提问。"
NOT_CHINESE = "文档为中文，请尽量用中文提问。(The documents are in Chinese; please ask in Chinese.)"
MAX_SUGGESTIONS = 3
MAX_RELATED = 2
WARM_UP_QUESTION = "营口片区去年规模以上工业总产值是多少？"


class AnswerEngine:
    """Answers questions from one loaded index; see the module docstring."""

    def __init__(
        self,
        retriever: HybridRetriever,
        settings: Settings,
        llm: LLMClient | None = None,
        mode: Mode = "hybrid",
        model: AnswerModel | None = None,
    ) -> None:
        self.retriever = retriever
        self.settings = settings
        self.llm = llm
        self.mode = mode
        self.model = model or AnswerModel.load()
        override = settings.answer.min_probability
        self.threshold = self.model.threshold if override is None else override
        self.related_threshold = min(self.model.related_threshold, self.threshold)
        self._weights = TermWeights(retriever.document_frequency, len(retriever))
        # Scoping (bot/answer/scope.py) and per-document answers (bot/answer/by_document.py)
        self.documents = {d.doc_id: d for d in retriever.documents()}
        self.scoper = Scoper(self.documents.values(), settings.answer.default_scope)
        self._by_document = ByDocument(self, self.scoper)

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
        q = self.analyse(text, conversation)
        # ---- scope: the documents the question names (or the conversation chose) ----
        scope = self.scoper.decide(q.search, conversation.scope if conversation else None)
        scoped = time.perf_counter()
        answer, notice = self._by_document.answer(question, q, scope)
        answer = replace(
            answer,
            citations=with_documents(answer.citations, self.documents),
            related=with_documents(answer.related, self.documents),
        )
        # ---- end of scope ----
        if q.traditional:
            answer = replace(answer, text=to_traditional(answer.text))  # quotes stay original
        if conversation is not None:
            conversation.add(Turn(q.search))
        done = time.perf_counter()
        retrieved = (scoped - started) * 1000 + answer.timings_ms.get("retrieve", 0.0)
        total = (done - started) * 1000
        timings = {"retrieve": retrieved, "answer": total - retrieved, "total": total}
        notice = " ".join(n for n in (*notices, notice) if n) or None
        return replace(answer, timings_ms=timings, notice=notice)

    def compose_answer(
        self, asked: str, q: Question, hits: list[Hit], vocabulary: Sequence[Hit] = ()
    ) -> tuple[Answer, str | None]:
        """The cited answer, or the refusal with related passages or suggestions; plus a
        notice from the LLM. `vocabulary`: see `extractive.candidates`."""
        judged = self.judge(q, hits, vocabulary)
        if judged.best is None or judged.probability < self.threshold:
            log.info("refused %r: p=%.3f < %.3f", q.search, judged.probability, self.threshold)
            refusal = self._refusal(asked, q, judged, hits)
            if self.llm is not None and refusal.related:  # relevant passages: the LLM may read them
                return self._llm_answer(asked, q, hits, refusal)
            return refusal, None
        assert judged.chosen is not None
        chosen = self.quote(q, judged, judged.chosen)
        body, citations = cite([(chosen.text, chosen.chunk)])
        notice = _list_notice(chosen)
        if self.llm is not None:
            body, citations, notice = self.llm.improve(q.search, hits, body, citations)
        return Answer(asked, True, body, citations), notice

    def quote(self, q: Question, judged: Judgement, passage: int) -> Candidate:
        """What the answer quotes from one judged passage."""
        lead = judged.leads[passage]
        assert lead is not None, "only passages with sentences are ranked"
        return compose(q, lead, judged.top, self.settings.answer)

    def _llm_answer(
        self, asked: str, q: Question, hits: Sequence[Hit], refusal: Answer
    ) -> tuple[Answer, str | None]:
        """What the LLM can verifiably answer from passages the extractive decision found
        relevant but not answering; else the refusal."""
        assert self.llm is not None
        try:
            drafted = self.llm.draft(q.search, hits)
        except LLMError as exc:
            log.warning("LLM call failed: %s", exc)
            return refusal, UNAVAILABLE
        if drafted is None:
            return refusal, None
        return Answer(asked, True, *drafted), None

    def judge(self, q: Question, hits: Sequence[Hit], vocabulary: Sequence[Hit] = ()) -> Judgement:
        """The model's probability that each passage answers the question, and each
        passage's best sentence."""
        return self.judge_ranked(q, self.rank(q, hits, vocabulary), hits)

    def judge_ranked(
        self, q: Question, ranked: Sequence[Candidate], hits: Sequence[Hit]
    ) -> Judgement:
        """`judge` over given ranked sentences (bench/fit_answer_model.py removes some)."""
        top = list(ranked)
        checks = Checks(q, top)
        flags = [checks.flags(c) for c in top]
        rows = feature_rows(q, top, flags, hits)
        position = {h.chunk.chunk_id: i for i, h in enumerate(hits)}
        members: list[list[int]] = [[] for _ in hits]
        for j, candidate in enumerate(top):
            members[position[candidate.chunk.chunk_id]].append(j)
        # A passage's best sentence: the best-scored one passing the checks, else its best.
        passing = [next((j for j in member if not flags[j].any()), None) for member in members]
        leads = [
            top[member[0] if first is None else first] if member else None
            for member, first in zip(members, passing, strict=True)
        ]
        passage_features = passage_rows(q, hits, members, rows)
        probabilities = self.model.probabilities(passage_features).tolist()
        answerable = [first is not None for first in passing]
        return Judgement(top, members, leads, answerable, passage_features, probabilities)

    def _refusal(self, asked: str, q: Question, judged: Judgement, hits: Sequence[Hit]) -> Answer:
        """ "Not found" with the most likely passages as related provisions when the best
        is likely enough to be on the subject, else with the closest documents."""
        related: list[Citation] = []
        for passage in judged.order[:MAX_RELATED]:
            if judged.probabilities[passage] < self.related_threshold:
                break
            quote = self.quote(q, judged, passage)
            related.append(Citation(len(related) + 1, quote.chunk, quote.text, False))
        if related:
            return Answer(asked, False, RELATED, related=related)
        return Answer(asked, False, NOT_FOUND, suggestions=_suggestions(hits))

    def analyse(self, text: str, conversation: Conversation | None = None) -> Question:
        """The question as matched: completed from the conversation when it is a follow-up."""
        standalone = conversation.standalone(text) if conversation else text
        return analyse(text, standalone[: self.settings.retrieval.max_query_chars])

    def retrieve(
        self, question: Question, within: frozenset[str] | None = None, k: int | None = None
    ) -> list[Hit]:
        """The passages whose sentences compete for the answer (only of the documents
        `within` names, when given)."""
        k = k or self.settings.answer.passages
        return self.retriever.search(question.search, k, mode=self.mode, within=within)

    def rank(
        self, question: Question, hits: Sequence[Hit], vocabulary: Sequence[Hit] = ()
    ) -> list[Candidate]:
        """All sentences of the passages, scored, best first (also used for calibration)."""
        return candidates(question, hits, self._weights, vocabulary)


@dataclass(frozen=True)
class Judgement:
    """The judged passages of one question. `top` holds all their sentences, best-scored
    first; per passage (by its position in the hits), `members` lists its sentences in
    `top`, `leads` its best sentence (None when it has none left), `answerable` whether
    some sentence of it passes the checks (only such a passage may answer; any may be
    related) and `probabilities` the model's probability that it answers."""

    top: list[Candidate]
    members: list[list[int]]
    leads: list[Candidate | None]
    answerable: list[bool]
    rows: np.ndarray  # the passages' features
    probabilities: list[float]

    @cached_property
    def order(self) -> list[int]:
        """Passages with sentences, most likely to answer first."""
        ranked = [i for i, lead in enumerate(self.leads) if lead is not None]
        return sorted(ranked, key=lambda i: -self.probabilities[i])

    @cached_property
    def chosen(self) -> int | None:
        """The most likely passage that may answer."""
        return next((i for i in self.order if self.answerable[i]), None)

    @property
    def best(self) -> Candidate | None:
        """The answer's lead sentence: the best passing one of the chosen passage."""
        return None if self.chosen is None else self.leads[self.chosen]

    @property
    def probability(self) -> float:
        return 0.0 if self.chosen is None else self.probabilities[self.chosen]


def _list_notice(lead: Candidate) -> str | None:
    """ "共七项，以上为前四项" when a list answer could not show every item."""
    items = list_items(lead)
    shown = sum(1 for item in items if item.text in lead.text)
    if not items or shown == len(items):
        return None
    return f"共{len(items)}项，以上为前{shown}项；点 📄 1 查看全文。"


def _suggestions(hits: Sequence[Hit]) -> list[str]:
    """Up to three distinct document titles among the hits, best first."""
    return list(dict.fromkeys(h.chunk.title for h in hits))[:MAX_SUGGESTIONS]
