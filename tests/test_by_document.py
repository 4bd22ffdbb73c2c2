"""Answers within a scope and per document: the real engine over the corpus of twins
(tests/twins_support.py), with citations that carry each document's provenance."""

from __future__ import annotations

import pytest
from twins_support import FEES, twins_engine, write_corpus

from bot.answer.conversation import Conversation
from bot.terminal import render_terminal


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("twins")
    return twins_engine(write_corpus(directory / "corpus"), directory / "index")


def cited_titles(answer) -> list[str]:
    return [c.label().split("》")[0].split("《")[1] for c in answer.citations]


def test_parallel_documents_that_differ_get_a_line_each(engine):
    answer = engine.answer("开办企业材料齐全的，多久办结？")
    lines = answer.text.splitlines()
    assert answer.found and len(lines) == 3
    assert {line.split("：")[0] for line in lines} == {"国家", "上海", "北京"}
    national = next(line for line in lines if line.startswith("国家："))
    assert "三个工作日" in national and national.endswith("]")
    assert set(answer.choices) == {"国家", "上海", "北京"}
    assert "优化营商环境条例" in cited_titles(answer)


def test_documents_that_say_the_same_are_said_once_and_all_cited(engine):
    answer = engine.answer("涉企收费目录清单什么时候向社会公开？")
    (line,) = answer.text.splitlines()
    assert "的规定相同：" in line and FEES.rstrip("。") in line
    assert line.endswith("[1][2][3]") and len(answer.citations) == 3
    assert [c.verified for c in answer.citations] == [True, False, False]


def test_only_the_most_relevant_documents_are_shown_and_the_rest_counted(tmp_path):
    engine = twins_engine(write_corpus(tmp_path / "corpus"), tmp_path / "index", max_documents=2)
    answer = engine.answer("开办企业材料齐全的，多久办结？")
    lines = answer.text.splitlines()
    assert len(lines) == 3 and lines[-1].startswith("另有 1 份文件也有相关规定")


def test_a_named_place_is_answered_from_its_documents_only(engine):
    answer = engine.answer("北京的开办企业多久办结？")
    assert answer.found and "一个工作日" in answer.text and answer.scope == "北京"
    assert cited_titles(answer) == ["北京市优化营商环境条例"]
    assert "（北京市人大常委会，2024-11-29 公布）" in answer.citations[0].label()


def test_the_conversation_scope_narrows_later_questions(engine):
    conversation = Conversation()
    conversation.scope = "国家"
    answer = engine.answer("开办企业材料齐全的，多久办结？", conversation)
    assert answer.found and "三个工作日" in answer.text and answer.scope == "国家"
    assert cited_titles(answer) == ["优化营商环境条例"]


def test_an_uncovered_place_is_refused_with_the_covered_places(engine):
    answer = engine.answer("广西自贸区管委会有哪些职责？")
    assert not answer.found and "广西" in answer.text and not answer.citations
    assert all(place in answer.text for place in ("国家", "上海", "北京", "山东"))
    assert "上海" in answer.choices


def test_when_named_documents_took_effect_comes_from_their_metadata(engine):
    answer = engine.answer("优化营商环境条例什么时候施行？")
    lines = answer.text.splitlines()
    assert len(lines) == 4 and all("施行" in line for line in lines)
    assert any(line.startswith("北京：") and "自公布之日起施行" in line for line in lines)
    single = engine.answer("印花税法什么时候开始施行？")
    assert single.text.startswith("第二十条 本法自2022年7月1日起施行。")


def test_the_version_in_force_answers_and_a_named_year_gets_its_own(engine):
    current = engine.answer("上海优化营商环境条例规定证明事项清单多久更新？")
    assert "每一个月" in current.text and "每三个月" not in current.text
    old = engine.answer("2020年版上海优化营商环境条例，证明事项清单多久更新？")
    first, mention = old.text.splitlines()
    assert "每三个月" in first and mention.startswith("（现行 2024 年版第十二条规定：")
    assert "已被取代" in old.citations[0].label() and "已被取代" not in old.citations[1].label()


def test_a_repealed_document_named_by_its_title_says_so(engine):
    answer = engine.answer("印花税暂行条例规定应纳税额不足多少免纳？")
    assert answer.found and "不足一元" in answer.text
    assert "已废止" in answer.citations[0].label()


def test_json_carries_provenance_and_scope(engine):
    record = engine.answer("北京的开办企业多久办结？").to_dict()
    document = record["citations"][0]["document"]
    assert document["issuer"] == "北京市人大常委会" and document["level"] == "地方性法规"
    assert document["provenance"] == "北京市人大常委会，2024-11-29 公布"
    assert record["scope"] == "北京"


def test_terminal_shows_provenance_and_scope(engine):
    text = render_terminal(engine.answer("北京的开办企业多久办结？"))
    assert "《北京市优化营商环境条例》（北京市人大常委会，2024-11-29 公布）" in text
    assert "（范围：北京）" in text
