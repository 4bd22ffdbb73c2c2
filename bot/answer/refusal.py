"""When to say "未在文档中找到相关内容。" instead of answering.

Retrieval always returns *something*, and its scores say how similar a passage is, not
whether it answers. So the decision looks at answer sentences themselves. A sentence can
only answer when
1. every proper name of the question (临港, 王志斌 …) occurs in its passage or headings:
   a passage about another place or person does not answer;
2. for a 多少 / 什么时候 question, it holds a value of the asked kind (常住人口有多少 wants
   a number of people, not the 102.25亿元 of the sentence next to it);
3. it names what is asked about: enough of the focus terms' weight (税收优惠 in
   "临港新片区有哪些税收优惠") is in the sentence or its headings.
The best-scoring sentence that passes these checks is then accepted only if enough of the
question's term weight is in it and in its surroundings (thresholds in `AnswerSettings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.answer.extractive import Candidate, term_forms
from bot.answer.question import Question, has_person
from bot.config import AnswerSettings
from index.textnorm import normalize


@dataclass(frozen=True)
class Verdict:
    best: Candidate | None  # the sentence the answer starts from, when found
    reason: str  # why not, for logs and `zonebot eval`; "" when found


class Gate:
    """The refusal checks for one question over its ranked candidate sentences."""

    def __init__(
        self, question: Question, ranked: Sequence[Candidate], settings: AnswerSettings
    ) -> None:
        self.question = question
        self.ranked = ranked
        self.settings = settings
        # Only quantity and list answers must name their focus ("常住人口有多少", "有哪些
        # 税收优惠"); a list's only when some retrieved sentence mentions it at all, since
        # lists often leave their category unsaid ("哪些功能区" → 农业公园、水产养殖区…).
        # Measured on CMRC dev, requiring it of other question types refused more right
        # answers (职业是什么 → 足球运动员) than wrong ones.
        self.focus_required = bool(question.focus) and (
            question.kind == "quantity"
            or (question.kind == "list" and any(c.focus_coverage > 0 for c in ranked))
        )
        self.documents = _retrieved_documents(ranked)

    def verdict(self) -> Verdict:
        """Accept the best candidate that can answer, or refuse with the reason of the best."""
        if not self.ranked:
            return Verdict(None, "no passage retrieved")
        first_reason = ""
        for candidate in self.ranked:
            reason = self.objection(candidate)
            if not reason:
                return Verdict(candidate, "")
            first_reason = first_reason or reason
        return Verdict(None, first_reason)

    def objection(self, candidate: Candidate) -> str:
        """Why this sentence cannot be (part of) the answer; "" when it can. A name counts
        as mentioned when any retrieved passage of the sentence's document mentions it
        (the topic is often named once, at the start)."""
        q, settings = self.question, self.settings
        document = self.documents[candidate.chunk.doc_id]
        missing = [n for n in q.names if not any(f in document for f in term_forms(n))]
        if missing:
            return f"passage does not mention {'、'.join(missing)}"
        if q.needs_value() and not candidate.value:
            return f"no {q.kind} value in the sentence"
        if q.person and not has_person(candidate.sentence.norm, q.names):
            return "no person named in the sentence"
        if self.focus_required and candidate.focus_coverage < settings.min_focus_coverage:
            return f"sentence lacks what is asked about ({'、'.join(q.focus)})"
        if candidate.coverage < settings.min_sentence_coverage:
            return f"sentence covers {candidate.coverage:.2f} of the question"
        if candidate.context_coverage < settings.min_context_coverage:
            return f"passage covers {candidate.context_coverage:.2f} of the question"
        return ""


def _retrieved_documents(ranked: Sequence[Candidate]) -> dict[str, str]:
    """Normalised text (with headings) of the retrieved passages, joined per document."""
    passages: dict[str, dict[str, str]] = {}
    for candidate in ranked:
        chunk = candidate.chunk
        texts = passages.setdefault(chunk.doc_id, {})
        if chunk.chunk_id not in texts:
            texts[chunk.chunk_id] = _passage(chunk.title, chunk.section, chunk.text)
    return {doc_id: "\n".join(texts.values()) for doc_id, texts in passages.items()}


@lru_cache(maxsize=50_000)
def _passage(title: str, section: str, text: str) -> str:
    return normalize(f"{title} {section} {text}").lower()
