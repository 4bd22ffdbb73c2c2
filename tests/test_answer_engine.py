"""The answer engine end to end over a small real index (hashing embedder instead of e5)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from answer_support import CORPUS, YINGKOU, small_engine

from bot.answer.conversation import Conversation
from bot.answer.results import RELATED
from bot.answer.sentences import squeeze


@pytest.fixture(scope="module")
def engine():
    return small_engine()


def test_answer_quotes_the_document_and_cites_where_it_stands(engine):
    answer = engine.answer("营口片区去年规模以上工业总产值是多少?")
    assert answer.found and "102.25亿元" in answer.text and answer.text.endswith("[1]")
    (citation,) = answer.citations
    assert citation.verified and citation.chunk.title == YINGKOU
    assert squeeze(answer.text.removesuffix("[1]")) in squeeze(citation.quote)
    assert set(answer.timings_ms) == {"retrieve", "answer", "total"}
    record = answer.to_dict()
    assert {"question", "found", "answer", "citations", "timings_ms"} <= set(record)
    assert set(record["citations"][0]) == {
        "n", "doc_id", "chunk_id", "source", "title", "section", "location", "text", "verified",
        "document",
    }  # fmt: skip


def test_a_missing_fact_is_refused_with_the_closest_provisions_claimed_as_nothing(engine):
    answer = engine.answer("营口片区的常住人口有多少?")  # the report gives no population
    assert not answer.found and answer.text == RELATED and answer.citations == []
    assert answer.related and answer.related[0].chunk.title == YINGKOU
    assert not any(c.verified for c in answer.related) and len(answer.related) <= 2


def test_traditional_question_gets_a_traditional_answer_and_original_quotes(engine):
    answer = engine.answer("營口片區去年實際利用外資完成多少?")
    assert answer.found and "315萬美元" in answer.text
    assert "315万美元" in answer.citations[0].quote  # the document's own text
    assert engine.answer("營口片區的常住人口有多少?").text == "未找到直接答案，以下條文可能相關："


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("", "请输入"),
        ("   \n\t ", "请输入"),
        ("🙂🎉👍", "请用文字"),
        ("<div><b>营口片区</b>去年规模以上工业总产值是多少?</div>", "102.25亿元"),
        ("**营口片区**去年规模以上工业总产值是多少？", "102.25亿元"),
    ],
)
def test_bad_input_gets_a_polite_answer(engine, question, expected):
    assert expected in engine.answer(question).text


def test_english_question_is_answered_politely_with_a_hint(engine):
    answer = engine.answer("What was the industrial output of Yingkou last year?")
    assert not answer.found and "中文" in answer.notice


def test_very_long_question_is_truncated_with_a_notice(engine):
    answer = engine.answer("营口片区去年规模以上工业总产值是多少?" + "啊" * 100_000)
    assert "问题过长" in answer.notice and answer.timings_ms["total"] < 5_000


def test_follow_up_is_answered_in_the_context_of_the_previous_question(engine):
    expected = {
        "营口片区去年实际利用外资完成多少?": "751%",
        "营口片区去年一般公共预算收入是多少?": "5.7%",
    }
    for first, growth in expected.items():
        conversation = Conversation(max_turns=4)
        engine.answer(first, conversation)
        answer = engine.answer("那同比增长多少?", conversation)
        assert answer.found and growth in answer.text
        assert [t.question for t in conversation.turns][-1].endswith("同比增长多少?")


def test_concurrent_questions_get_their_own_answers(engine):
    questions = ["营口片区去年规模以上工业总产值是多少?", "王志斌来自哪个单位?"] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(engine.answer, questions))
    for question, answer in zip(questions, answers, strict=True):
        assert ("102.25亿元" if "总产值" in question else "省农研中心") in answer.text


def test_info_describes_the_loaded_index(engine):
    info = engine.info()
    assert info.chunks == len(CORPUS) and info.files == 3 and YINGKOU in info.documents
