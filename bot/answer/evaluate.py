"""Answer-quality metrics over golden question files (the `../shared/eval/*.jsonl` format).

Used by `zonebot eval` (users checking their own golden set before deploying a corpus)
and by bench/answers.py. A question line holds `question`, `answers` (the answer is right
when its text contains one of them, whitespace removed), `evidence` (a cited passage must
contain it), optionally `doc` (a fragment of the cited file name), `type` and `id`. An
empty `answers` list marks a question the documents cannot answer: it must be refused.
With `all: true` every string of `answers` must appear (lists); a question with
`followup_of` is asked in the conversation of the question it follows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.answer.conversation import Conversation
from bot.answer.results import Answer
from bot.answer.sentences import squeeze
from index.errors import ZonebotError


class EvalFileError(ZonebotError):
    """A golden file is missing or has a malformed line; the message names the line."""


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    answers: list[str]
    evidence: str | None = None
    doc: str | None = None
    type: str = "factoid"
    all: bool = False  # every string of `answers` must appear (lists)
    followup_of: str | None = None  # asked in the conversation of this question

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class Outcome:
    """How the engine did on one question. A check that does not apply is None."""

    gold: GoldQuestion
    answer: Answer
    latency_ms: float

    @property
    def refused(self) -> bool:
        return not self.answer.found

    @property
    def answer_ok(self) -> bool | None:
        if not self.gold.answerable:
            return None
        text = squeeze(self.answer.text)
        match = all if self.gold.all else any
        return self.answer.found and match(squeeze(a) in text for a in self.gold.answers)

    @property
    def evidence_ok(self) -> bool | None:
        if not self.gold.answerable or not self.gold.evidence:
            return None
        needle = squeeze(self.gold.evidence)
        return any(needle in squeeze(c.quote) for c in self.answer.citations if c.verified)

    @property
    def doc_ok(self) -> bool | None:
        if not self.gold.answerable or not self.gold.doc:
            return None
        return any(self.gold.doc in c.chunk.source for c in self.answer.citations)

    @property
    def ok(self) -> bool:
        if not self.gold.answerable:
            return self.refused
        return all(v is not False for v in (self.answer_ok, self.evidence_ok, self.doc_ok))

    def problems(self) -> list[str]:
        if not self.gold.answerable:
            return [] if self.refused else ["answered an unanswerable question"]
        if self.refused:
            return ["refused"]
        checks = {"answer": self.answer_ok, "evidence": self.evidence_ok, "doc": self.doc_ok}
        return [f"wrong {name}" for name, value in checks.items() if value is False]


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def summary(self, outcomes: list[Outcome] | None = None) -> dict[str, float | int | None]:
        """The metrics of the given outcomes (default: all)."""
        outcomes = self.outcomes if outcomes is None else outcomes
        answerable = [o for o in outcomes if o.gold.answerable]
        unanswerable = [o for o in outcomes if not o.gold.answerable]
        latencies = [o.latency_ms for o in outcomes]
        return {
            "questions": len(outcomes),
            "answer_accuracy": _rate(o.answer_ok for o in answerable),
            "evidence_accuracy": _rate(o.evidence_ok for o in answerable),
            "doc_accuracy": _rate(o.doc_ok for o in answerable),
            "false_refusal_rate": _rate(o.refused for o in answerable),
            "refusal_accuracy": _rate(o.refused for o in unanswerable),
            "latency_p50_ms": float(np.percentile(latencies, 50)) if latencies else None,
            "latency_p95_ms": float(np.percentile(latencies, 95)) if latencies else None,
        }

    def by_type(self) -> dict[str, dict[str, float | int | None]]:
        types = dict.fromkeys(o.gold.type for o in self.outcomes)
        return {t: self.summary([o for o in self.outcomes if o.gold.type == t]) for t in types}

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict:
        return {
            "summary": self.summary(),
            "by_type": self.by_type(),
            "failures": [
                {
                    "id": o.gold.id,
                    "question": o.gold.question,
                    "type": o.gold.type,
                    "problems": o.problems(),
                    "answer": o.answer.text,
                }
                for o in self.failures()
            ],
        }


def _rate(values: Iterable[bool | None]) -> float | None:
    """Share of True among the values that apply (None = does not apply)."""
    applicable = [v for v in values if v is not None]
    return sum(applicable) / len(applicable) if applicable else None


def load_questions(paths: Iterable[Path]) -> list[GoldQuestion]:
    """Read golden files; a malformed line raises EvalFileError naming file and line."""
    questions = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise EvalFileError(f"无法读取 {path}: {exc.strerror}") from None
        for number, line in enumerate(lines, start=1):
            if line.strip():
                questions.append(_parse(line, f"{Path(path).name}:{number}"))
    return questions


def _parse(line: str, where: str) -> GoldQuestion:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalFileError(f"{where}: invalid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("question"), str):
        raise EvalFileError(f"{where}: needs a string field 'question'")
    answers = record.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise EvalFileError(f"{where}: 'answers' must be a list of strings")
    return GoldQuestion(
        id=str(record.get("id") or where),
        question=record["question"],
        answers=answers,
        evidence=record.get("evidence") or None,
        doc=record.get("doc") or None,
        type=record.get("type") or ("factoid" if answers else "unanswerable"),
        all=bool(record.get("all", False)),
        followup_of=record.get("followup_of") or None,
    )


def evaluate(
    answer: Callable[[str, Conversation], Answer],
    questions: Iterable[GoldQuestion],
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Ask every question in a conversation of its own, except that a follow-up is asked
    in the conversation of the question it follows."""
    report = Report()
    conversations: dict[str, Conversation] = {}
    for gold in questions:
        conversation = conversations.get(gold.followup_of or "") or Conversation()
        conversations[gold.id] = conversation
        result = answer(gold.question, conversation)
        outcome = Outcome(gold, result, result.timings_ms.get("total", float("nan")))
        report.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return report


METRICS = (
    ("answer_accuracy", "answer"),
    ("evidence_accuracy", "evidence"),
    ("doc_accuracy", "doc"),
    ("false_refusal_rate", "wrongly refused"),
    ("refusal_accuracy", "unanswerable refused"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def format_report(report: Report) -> str:
    """The report as plain-text tables (valid Markdown): overall, per type, failures."""
    headers = ["questions", *(label for _, label in METRICS)]
    rows = [["all", *_cells(report.summary())]]
    rows += [[kind, *_cells(summary)] for kind, summary in report.by_type().items()]
    lines = [format_table(["set", *headers], rows)]
    failures = report.failures()
    lines.append(f"\n{len(failures)} failing question(s)" + (":" if failures else "."))
    for o in failures:
        answer = o.answer.text.replace("\n", " ")
        lines.append(f"- {o.gold.id} [{o.gold.type}] {o.gold.question}")
        lines.append(f"    {', '.join(o.problems())}: {answer[:120]}")
    return "\n".join(lines)


def _cells(summary: dict[str, float | int | None]) -> list[object]:
    return [summary["questions"], *(summary[key] for key, _ in METRICS)]


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain aligned table (also valid Markdown); floats with three decimals, None as -."""
    cells = [headers, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
