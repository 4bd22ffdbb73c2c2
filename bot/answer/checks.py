"""The hard facts about a candidate answer sentence that the answer model weighs.

Retrieval always returns *something*, and its scores say how similar a passage is, not
whether it answers. These checks look at the sentence itself:
1. every proper name of the question (临港, 王志斌 …) occurs in its passage or headings:
   a passage about another place or person rarely answers;
2. a 多少 / 什么时候 question's sentence holds a value of the asked kind (常住人口有多少
   wants a number of people, not the 102.25亿元 of the sentence next to it);
3. a 谁 question about a role finds a person's name;
4. a quantity or list question's sentence names what is asked about (规划面积 is not
   盘活面积).
The answer starts from the best-scored sentence that passes all four; whether that
sentence is good enough is the learned decision's call (`bot.answer.decision`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.answer.extractive import Candidate, term_forms
from bot.answer.question import Question, has_person
from index.textnorm import normalize

FOCUS_NAMED = 0.5  # share of the focus terms' weight that counts as naming the focus


@dataclass(frozen=True)
class Flags:
    names_missing: bool
    value_missing: bool
    person_missing: bool
    focus_missing: bool

    def any(self) -> bool:
        return self.names_missing or self.value_missing or self.person_missing or self.focus_missing


class Checks:
    """The checks for one question over its ranked candidate sentences."""

    def __init__(self, question: Question, ranked: Sequence[Candidate]) -> None:
        self.question = question
        # Only quantity and list answers must name their focus ("常住人口有多少", "有哪些
        # 税收优惠"); a list's only when some retrieved sentence mentions it at all, since
        # lists often leave their category unsaid ("哪些功能区" → 农业公园、水产养殖区…).
        self.focus_required = bool(question.focus) and (
            question.kind == "quantity"
            or (question.kind == "list" and any(c.focus_coverage > 0 for c in ranked))
        )
        self.documents = _retrieved_documents(ranked)

    def flags(self, candidate: Candidate) -> Flags:
        """A name counts as mentioned when any retrieved passage of the sentence's document
        mentions it (the topic is often named once, at the start)."""
        q = self.question
        document = self.documents[candidate.chunk.doc_id]
        return Flags(
            names_missing=any(not any(f in document for f in term_forms(n)) for n in q.names),
            value_missing=q.needs_value() and not candidate.value,
            person_missing=q.person and not has_person(candidate.sentence.norm, q.names),
            focus_missing=self.focus_required and candidate.focus_coverage < FOCUS_NAMED,
        )


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
