"""Composing the answer from the chosen passage: its best sentence with the sentences
around it, a sentence longer than the answer cut to the clause that carries the answer,
enumerations with their items.

The answering fact is often in the sentence next to the one that shares the question's
words (the provision's opening names the topic, the next sentence gives the number), so
the answer quotes a contiguous stretch of the passage around its best sentence, up to
`max_chars`: the following sentences first, then the preceding ones. A sentence that
introduces items ("包括下列情形：") is given with them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from bot.answer.extractive import Candidate, slot_alignment, term_forms
from bot.answer.question import Question, has_value
from bot.answer.sentences import Sentence, clauses, comma_clauses, normalised, split_sentences
from bot.config import AnswerSettings

TRIM_ABOVE = 60  # characters; longer sentences may be cut to their answering clause
VALUE_WINDOW = 3  # comma clauses a value answer may span
SLOT_DECISIVE = 0.5  # clause choice: alignment with the question's wording that decides
_BOOK_TITLE = re.compile(r"《[^《》]*》")
DANGLING = "；;，,：:、 \n"  # separators left at the end of a clause cut from a sentence
LIST_ITEM = re.compile(
    r"^\s*(?:（[一二三四五六七八九十]+）|\([一二三四五六七八九十\d]+\)|\d+[.、]|[一二三四五六七八九十]+、)"
)


def compose(
    question: Question, lead: Candidate, ranked: Sequence[Candidate], settings: AnswerSettings
) -> Candidate:
    """The answer quoted from `lead`'s passage: `lead` with up to `settings.max_sentences`
    contiguous sentences around it within `settings.max_chars` (a list question's
    introduction and items within `settings.max_list_chars`). The sentences come from
    `ranked`, the candidates; one missing there ends the stretch, so an answer never
    skips a sentence."""
    listed = _extend_list(lead, settings.max_list_chars)
    if listed is not lead:
        return listed
    if len(lead.sentence.text) > settings.max_chars:
        return _trim(question, lead, settings.max_chars)
    own = lead.chunk.chunk_id
    at = {c.sentence.position: c.sentence for c in ranked if c.chunk.chunk_id == own}
    first = last = lead.sentence
    used = len(lead.sentence.text)
    for step in (1, -1):
        edge = last if step == 1 else first
        while (last.position - first.position + 1) < settings.max_sentences:
            neighbour = at.get(edge.position + step)
            if neighbour is None or used + len(neighbour.text) > settings.max_chars:
                break
            used += len(neighbour.text)
            edge = neighbour
            first, last = (first, edge) if step == 1 else (edge, last)
    text = lead.chunk.text[first.start : last.end].strip()
    return replace(lead, text=text) if text != lead.text else lead


def _trim(question: Question, candidate: Candidate, max_chars: int) -> Candidate:
    """Cut a long sentence to the clause that carries the answer, so the answer stays
    short: first at ；, then, for a value question, to the comma clause holding the value
    (with the clauses before it that name what is asked); a sentence still longer than
    `max_chars` to its best run of comma clauses. List answers keep their enumeration."""
    text = candidate.text
    if question.kind != "list" and len(text) > TRIM_ABOVE:
        pieces = clauses(text)
        if question.needs_value():  # only a clause with the value can answer
            pieces = [p for p in pieces if _has_value(question, p)] or pieces
        if len(pieces) > 1:
            text = _best_clause(question, pieces)
        if question.needs_value() and len(text) > TRIM_ABOVE:
            text = _value_window(question, comma_clauses(text)) or text
    if len(text) > max_chars:
        text = _best_window(question, comma_clauses(text), max_chars)
    text = text.rstrip(DANGLING)
    return replace(candidate, text=text) if text != candidate.text else candidate


def _value_window(question: Question, pieces: list[str]) -> str | None:
    """The comma clause holding the asked value with the most question terms, extended
    by up to two neighbouring clauses as long as each adds question terms: first to the
    left ("去年年末,营口片区共奖励…406万元"), then to the right ("3月4日,营口片区召开…")."""
    found = [_found_terms(question, p) for p in pieces]
    values = [i for i, p in enumerate(pieces) if _has_value(question, p)]
    if not values:
        return None
    start = end = max(values, key=lambda i: len(found[i]))
    covered = set(found[end])
    while start > 0 and end - start < VALUE_WINDOW - 1 and found[start - 1] - covered:
        start -= 1
        covered |= found[start]
    while end + 1 < len(pieces) and end - start < VALUE_WINDOW - 1 and found[end + 1] - covered:
        end += 1
        covered |= found[end]
    return "".join(pieces[start : end + 1])


def _has_value(question: Question, piece: str) -> bool:
    """Whether a clause holds the asked value outside 《…》: the year in a document's
    title ("《2022年招商引资工作方案》") names the document, it is not a date."""
    return has_value(normalised(_BOOK_TITLE.sub("", piece)), question)


def _found_terms(question: Question, piece: str) -> set[str]:
    norm = normalised(piece)
    return {t for t in question.terms if any(f in norm for f in term_forms(t))}


def _piece_score(question: Question, piece: str) -> float:
    value = question.needs_value() and _has_value(question, piece)
    return len(_found_terms(question, piece)) + (2 if value else 0)


def _best_clause(question: Question, pieces: list[str]) -> str:
    """The clause that continues the question's own wording around its interrogative,
    when one does so clearly and alone ("又拒不改正的，怎么罚" → "拒不改正的，处…罚款"); else the
    one with the most question terms (and the asked value). The clause that restates the
    question's premise shares more words but holds the answer less often."""
    alignment = [slot_alignment(question.slot, normalised(p)) for p in pieces]
    best, runner_up = sorted(alignment, reverse=True)[:2]
    if best >= SLOT_DECISIVE and best > runner_up:
        return pieces[alignment.index(best)]
    return max(pieces, key=lambda p: _piece_score(question, p))


def list_items(candidate: Candidate) -> list[Sentence]:
    """The enumerated items ("（一）…") that follow a sentence introducing them ("包括下列
    情形：") in its passage; none when the sentence introduces nothing."""
    if not candidate.sentence.text.endswith(("：", ":")):
        return []
    items = []
    for sentence in split_sentences(candidate.chunk.text)[candidate.sentence.position + 1 :]:
        if not LIST_ITEM.match(sentence.text):
            break
        items.append(sentence)
    return items


def _extend_list(candidate: Candidate, max_chars: int) -> Candidate:
    """A sentence that introduces items ("依照下列顺序清偿：") says nothing without them: it
    gets the items, as many as fit in `max_chars` (the engine says how many there are
    when some are left out)."""
    items = list_items(candidate)
    if not items:
        return candidate
    text = candidate.sentence.text
    for item in items:
        if len(text) + len(item.text) + 1 > max_chars:
            break
        text += "\n" + item.text
    return replace(candidate, text=text) if text != candidate.text else candidate


def _best_window(question: Question, pieces: list[str], max_chars: int) -> str:
    """The run of consecutive clauses that fits in `max_chars` and scores best; of equal
    runs from one start the longest, since an answer tends to follow the words that
    name its topic."""
    best, best_score, best_start = pieces[0][:max_chars], -1.0, 0
    for start in range(len(pieces)):
        text = ""
        for piece in pieces[start:]:
            if len(text) + len(piece) > max_chars:
                break
            text += piece
            score = _piece_score(question, text)
            if score > best_score or (score == best_score and start == best_start):
                best, best_score, best_start = text, score, start
    return best
