"""Typed results of the answer engine. JSON output (`zonebot ask --json`) is their serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.documents import Chunk
from index.metadata import DocumentInfo
from index.retrieve import IndexSummary

__all__ = ["NOT_FOUND", "RELATED", "Answer", "Citation", "IndexSummary"]

NOT_FOUND = "未在文档中找到相关内容。"
RELATED = "未找到直接答案，以下条文可能相关："


@dataclass(frozen=True)
class Citation:
    """Source [n] of an answer: the chunk and the exact passage that supports the claims."""

    n: int
    chunk: Chunk
    quote: str  # the passage shown to the user (verbatim from the chunk's display text)
    verified: bool  # the passage contains the sentence(s) it supports
    document: DocumentInfo | None = None  # who issued it, when, whether in force

    def label(self) -> str:
        """`[n] 《title》（issuer，date 公布） · section · location`, leaving out what is
        unknown; every transport shows a source this way."""
        chunk = self.chunk
        title = self.document.title if self.document else chunk.title
        provenance = self.document.provenance() if self.document else ""
        head = f"《{title}》" + (f"（{provenance}）" if provenance else "")
        place = " · ".join(p for p in (head, chunk.section, chunk.location) if p)
        return f"[{self.n}] {place}"

    def to_dict(self) -> dict:
        document = self.document.to_dict() if self.document else None
        if document is not None:
            document.pop("origin", None)
            document["provenance"] = self.document.provenance()
        return {
            "n": self.n,
            **self.chunk.reference(),
            "text": self.quote,
            "verified": self.verified,
            "document": document,
        }


@dataclass(frozen=True)
class Answer:
    """What the engine says to a question. `text` carries `[n]` markers into `citations`.

    When `found` is False, `citations` is empty and `text` is the refusal: RELATED with the
    one or two closest provisions in `related` (nothing in them is claimed as the answer),
    or NOT_FOUND with up to three document titles that came closest in `suggestions`.
    """

    question: str
    found: bool
    text: str
    citations: list[Citation] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    notice: str | None = None  # e.g. "问题过长，已截断" or "LLM 不可用，已使用摘录模式"
    scope: str | None = None  # the documents it was answered from, when narrowed: 北京, 《海关法》
    choices: list[str] = field(default_factory=list)  # scopes to narrow to: 北京, 国家

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "found": self.found,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "suggestions": self.suggestions,
            "related": [c.to_dict() for c in self.related],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            **({"notice": self.notice} if self.notice else {}),
            **({"scope": self.scope} if self.scope else {}),
            **({"choices": self.choices} if self.choices else {}),
        }
