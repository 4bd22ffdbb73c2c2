"""What the answer model sees: one row of numbers per retrieved passage.

Each sentence of a passage is described first (`FEATURES`): how the hand-weighted
sentence score ranks it, lexical coverage of the question, whether it holds a value of
the asked type and the hard checks (`bot.answer.checks`), alignment with the question's
wording. A passage's row (`PASSAGE_FEATURES`) is its retrieval evidence (rank, cosine and
BM25 and how they compare with the best passage) plus the best and worst of its
sentences' descriptions and the question's type: the model judges whether the passage
answers, since the answering sentence is often not the one that shares the most words.
The names are stored with the fitted weights, so a model fitted on other columns is
refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from bot.answer.checks import Flags
from bot.answer.extractive import Candidate, slot_alignment
from bot.answer.question import Question
from bot.answer.sentences import char_bigrams
from index.documents import Hit

KINDS = ("list", "time", "quantity", "who", "howto", "definition", "yesno", "place", "what")
# The passage's retrieval evidence: its rank, its cosine and BM25 and how they compare
# with the best passage's, and whether it is from the best passage's document.
RETRIEVAL = (
    "passage_rank",
    "dense",
    "dense_top",
    "dense_gap",
    "keyword",
    "keyword_top",
    "same_document_as_top",
)
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
    *RETRIEVAL,
    "bigram",
    "slot",
    "sentence_chars",
    "question_chars",
    "terms",
    *(f"kind_{kind}" for kind in KINDS),
)


# Sentence features summarised per passage by their maximum ("some sentence holds a value
# of the asked type") or minimum ("some sentence names every proper name").
PASSAGE_MAX = (
    "hand_score",
    "hand_rank",
    "gap_to_best",
    "coverage",
    "context_coverage",
    "focus_coverage",
    "value",
    "bigram",
    "slot",
)
PASSAGE_MIN = ("names_missing", "value_missing", "person_missing", "focus_missing")
PASSAGE_FEATURES = (
    *RETRIEVAL,
    "passage_chars",
    "sentences",
    "passes_checks",
    "best_among_passages",
    *(f"max_{name}" for name in PASSAGE_MAX),
    *(f"min_{name}" for name in PASSAGE_MIN),
    "question_chars",
    "terms",
    *(f"kind_{kind}" for kind in KINDS),
)
_COLUMN = {name: i for i, name in enumerate(FEATURES)}
_MAX_COLUMNS = [_COLUMN[name] for name in PASSAGE_MAX]
_MIN_COLUMNS = [_COLUMN[name] for name in PASSAGE_MIN]


def _retrieval_evidence(hits: Sequence[Hit]) -> Callable[[Hit], list[float]]:
    """The values of RETRIEVAL for a hit, measured against the best of `hits`."""
    dense_top = max((h.dense_score or 0.0 for h in hits), default=0.0)
    keyword_top = max((h.keyword_score for h in hits), default=0.0)
    top_doc = hits[0].chunk.doc_id if hits else ""

    def evidence(hit: Hit) -> list[float]:
        cosine = hit.dense_score or 0.0
        return [
            1.0 / math.sqrt(hit.rank),
            cosine,
            dense_top,
            dense_top - cosine,
            hit.keyword_score / keyword_top if keyword_top > 0 else 0.0,
            math.log1p(keyword_top),
            float(hit.chunk.doc_id == top_doc),
        ]

    return evidence


def passage_rows(
    question: Question, hits: Sequence[Hit], members: Sequence[Sequence[int]], rows: np.ndarray
) -> np.ndarray:
    """One row of PASSAGE_FEATURES per hit, from the sentence `rows` (see `feature_rows`);
    `members[i]` lists the rows of hit i's sentences. A hit without sentences gets zeros
    for them."""
    evidence = _retrieval_evidence(hits)
    kind = [float(question.kind == k) for k in KINDS]
    best_hand = [
        max((rows[j, _COLUMN["hand_score"]] for j in member), default=0.0) for member in members
    ]
    top_hand = max(best_hand, default=0.0)
    out = []
    for hit, member, hand in zip(hits, members, best_hand, strict=True):
        own = rows[list(member)] if member else np.zeros((1, len(FEATURES)))
        missing = own[:, _MIN_COLUMNS]  # a sentence passes when none of its checks fails
        out.append(
            [
                *evidence(hit),
                math.log1p(len(hit.chunk.text)),
                float(len(member)),
                float(bool(member) and (missing.max(axis=1) == 0).any()),
                float(hand >= top_hand),
                *own[:, _MAX_COLUMNS].max(axis=0),
                *missing.min(axis=0),
                math.log1p(len(question.search)),
                float(len(question.terms)),
                *kind,
            ]
        )
    return np.asarray(out, dtype=np.float64).reshape(len(out), len(PASSAGE_FEATURES))


def feature_rows(
    question: Question, top: Sequence[Candidate], flags: Sequence[Flags], hits: Sequence[Hit]
) -> np.ndarray:
    """One row of FEATURES per candidate of `top` (the best-scored sentences, in order),
    given each one's `Checks` flags."""
    evidence = _retrieval_evidence(hits)
    question_grams = char_bigrams(" ".join(question.terms))
    kind = [float(question.kind == k) for k in KINDS]
    best = top[0].score if top else 0.0
    rows = []
    for i, (c, checked) in enumerate(zip(top, flags, strict=True)):
        following = top[i + 1].score if i + 1 < len(top) else 0.0
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
                *evidence(c.hit),
                shared,
                slot_alignment(question.slot, c.sentence.norm),
                math.log1p(len(c.sentence.norm)),
                math.log1p(len(question.search)),
                float(len(question.terms)),
                *kind,
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
