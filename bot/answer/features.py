"""What the answer model sees of each candidate sentence: one row of numbers per sentence.

Retrieval evidence (the passage's rank, cosine and BM25 and how they compare with the best
passage), how the hand-weighted sentence score ranks it, lexical coverage of the question,
whether it holds a value of the asked type and the other hard checks (`bot.answer.checks`),
alignment with the question's wording, and the question's type. The names in `FEATURES`
are stored with the fitted weights, so a model fitted on other columns is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.answer.checks import Flags
from bot.answer.extractive import Candidate, slot_alignment
from bot.answer.question import Question
from bot.answer.sentences import char_bigrams
from index.documents import Hit

KINDS = ("list", "time", "quantity", "who", "howto", "definition", "yesno", "place", "what")
FEATURES = (
    "hand_score",
    "hand_rank",
    "gap_to_best",
    "gap_to_next",
    "coverage",
    "context_coverage",
    "focus_coverage",
    "value",
    "names_missing",
    "value_missing",
    "person_missing",
    "focus_missing",
    "passage_rank",
    "dense",
    "dense_top",
    "dense_gap",
    "keyword",
    "keyword_top",
    "same_document_as_top",
    "bigram",
    "slot",
    "sentence_chars",
    "question_chars",
    "terms",
    *(f"kind_{kind}" for kind in KINDS),
)


def feature_rows(
    question: Question, top: Sequence[Candidate], flags: Sequence[Flags], hits: Sequence[Hit]
) -> np.ndarray:
    """One row of FEATURES per candidate of `top` (the best-scored sentences, in order),
    given each one's `Checks` flags."""
    dense = [h.dense_score or 0.0 for h in hits]
    dense_top = max(dense, default=0.0)
    keyword_top = max((h.keyword_score for h in hits), default=0.0)
    top_doc = hits[0].chunk.doc_id if hits else ""
    question_grams = char_bigrams(" ".join(question.terms))
    kind = [float(question.kind == k) for k in KINDS]
    best = top[0].score if top else 0.0
    rows = []
    for i, (c, checked) in enumerate(zip(top, flags, strict=True)):
        following = top[i + 1].score if i + 1 < len(top) else 0.0
        cosine = c.hit.dense_score or 0.0
        shared = (
            len(question_grams & c.sentence.bigrams) / len(question_grams)
            if question_grams
            else 0.0
        )
        rows.append(
            [
                c.score,
                1.0 / (1 + i),
                c.score - best,
                c.score - following,
                c.coverage,
                c.context_coverage,
                c.focus_coverage,
                float(c.value),
                float(checked.names_missing),
                float(checked.value_missing),
                float(checked.person_missing),
                float(checked.focus_missing),
                1.0 / math.sqrt(c.hit.rank),
                cosine,
                dense_top,
                dense_top - cosine,
                c.hit.keyword_score / keyword_top if keyword_top > 0 else 0.0,
                math.log1p(keyword_top),
                float(c.chunk.doc_id == top_doc),
                shared,
                slot_alignment(question.slot, c.sentence.norm),
                math.log1p(len(c.sentence.norm)),
                math.log1p(len(question.search)),
                float(len(question.terms)),
                *kind,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
