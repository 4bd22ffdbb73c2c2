"""Eval metrics: golden-file parsing, per-question checks, summaries and the report."""

from __future__ import annotations

import json

import pytest
from answer_support import YINGKOU_TEXT, make_chunk
from conftest import SHARED, needs_shared

from bot.answer.evaluate import EvalFileError, GoldQuestion, evaluate, format_report, load_questions
from bot.answer.results import NOT_FOUND, Answer, Citation

CHUNK = make_chunk(YINGKOU_TEXT)
GOLD = [
    GoldQuestion("q1", "总产值是多少?", ["102.25亿元"], "102.25亿元", "corpus/", "factoid"),
    GoldQuestion("q2", "外资完成多少?", ["315万美元"], "315万美元", None, "factoid"),
    GoldQuestion("q3", "常住人口有多少?", [], None, None, "unanswerable"),
    GoldQuestion("q4", "三贷中心是哪三个?", ["首次贷款中心"], "首次贷款中心", None, "list"),
]


def found(text: str) -> Answer:
    return Answer(
        "", True, text, [Citation(1, CHUNK, CHUNK.text, True)], timings_ms={"total": 10.0}
    )


REPLIES = {
    "总产值是多少?": found("总产值完成102.25 亿元 [1]"),  # whitespace is ignored
    "外资完成多少?": Answer("", False, NOT_FOUND, timings_ms={"total": 20.0}),  # wrongly refused
    "常住人口有多少?": found("常住人口很多 [1]"),  # should have refused
    "三贷中心是哪三个?": found("首次贷款中心 [1]"),  # right text, evidence not in the passage
}


@pytest.fixture
def report():
    return evaluate(lambda q, conversation: REPLIES[q], GOLD)


def test_each_check_counts_where_it_applies(report):
    summary = report.summary()
    assert summary["questions"] == 4
    assert summary["answer_accuracy"] == pytest.approx(2 / 3)
    assert summary["evidence_accuracy"] == pytest.approx(1 / 3)
    assert summary["doc_accuracy"] == 1.0  # only q1 names a document
    assert summary["false_refusal_rate"] == pytest.approx(1 / 3)
    assert summary["refusal_accuracy"] == 0.0
    assert summary["latency_p50_ms"] == 10.0


def test_per_type_and_failures(report):
    by_type = report.by_type()
    assert set(by_type) == {"factoid", "unanswerable", "list"}
    assert by_type["unanswerable"]["answer_accuracy"] is None
    problems = {o.gold.id: o.problems() for o in report.failures()}
    assert problems == {
        "q2": ["refused"],
        "q3": ["answered an unanswerable question"],
        "q4": ["wrong evidence"],
    }
    text = format_report(report)
    assert "| all " in text and "3 failing question(s):" in text and "q4 [list]" in text
    assert json.loads(json.dumps(report.to_dict(), ensure_ascii=False))["failures"][0]["id"] == "q2"


def test_golden_file_lines_are_validated_with_their_position(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"question": "总产值?", "answers": ["1"]}\n\n{"answers": []}\n', "utf-8")
    with pytest.raises(EvalFileError, match=r"gold\.jsonl:3: needs a string field 'question'"):
        load_questions([path])
    path.write_text('{"question": "q", "answers": "102.25亿元"}\n', "utf-8")
    with pytest.raises(EvalFileError, match="must be a list"):
        load_questions([path])
    with pytest.raises(EvalFileError, match="无法读取"):
        load_questions([tmp_path / "missing.jsonl"])


def test_defaults_of_a_minimal_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"question": "a?", "answers": ["x"]}\n{"question": "b?"}\n', "utf-8")
    first, second = load_questions([path])
    assert (first.id, first.type, first.answerable) == ("gold.jsonl:1", "factoid", True)
    assert (second.type, second.answerable) == ("unanswerable", False)


@needs_shared
def test_shared_dev_files_parse():
    questions = load_questions(sorted((SHARED / "eval").glob("*.jsonl")))
    assert len(questions) >= 38 and {q.type for q in questions} >= {"factoid", "unanswerable"}
