"""Scoping: which documents a question names (place, zone, law, abbreviation), places the
corpus does not cover, versions, the conversation's and the operator's scope."""

from __future__ import annotations

import pytest
from test_metadata import infos_of
from twins_support import DOCUMENTS

from bot.answer.conversation import Conversation
from bot.answer.scope import Scoper
from bot.config import ConfigError


@pytest.fixture(scope="module")
def infos() -> dict:
    return infos_of(DOCUMENTS)


@pytest.fixture(scope="module")
def scoper(infos) -> Scoper:
    return Scoper(infos.values())


def files(scope, infos) -> set[str]:
    by_id = {i.doc_id: name for name, i in infos.items()}
    return {by_id[d] for d in scope.documents or ()}


@pytest.mark.parametrize(
    "question",
    [
        "北京的开办企业多久办结？",
        "京开办企业多久办结？",
        "北京市企业开办要几天",
        "在北京开办企业要多久",
    ],
)
def test_a_named_place_or_its_abbreviation_scopes_to_its_documents(scoper, infos, question):
    scope = scoper.decide(question)
    assert files(scope, infos) == {"北京市优化营商环境条例(2024-11-29).md"}
    assert scope.named and scope.label == "北京" and not scope.parallel


def test_a_province_means_its_own_documents_not_its_cities(scoper, infos):
    scope = scoper.decide("鲁自贸区的片区管理机构负责什么？")
    assert files(scope, infos) == {"中国（山东）自由贸易试验区条例(2020-09-25).md"}
    assert files(scoper.decide("青岛的政务服务怎么受理？"), infos) == {
        "青岛市优化营商环境条例(2021-01-28).md"
    }


@pytest.mark.parametrize(
    "question", ["上海FTZ管委会管什么？", "沪自贸区管委会", "上海自贸试验区管委会的职责"]
)
def test_place_and_zone_word_name_the_zone(scoper, infos, question):
    assert files(scoper.decide(question), infos) == {"中国（上海）自由贸易试验区条例.md"}


def test_a_zone_word_alone_names_every_zone_of_that_kind(scoper, infos):
    scope = scoper.decide("自贸区管委会有哪些职责？")
    assert scope.parallel and len(files(scope, infos)) == 2


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("海关法规定运输工具到达时谁申报？", "海关法(2021-04-29).md"),
        ("按照《中华人民共和国海关法》，谁应当申报？", "海关法(2021-04-29).md"),
        ("京营商条例里开办企业多久办结？", "北京市优化营商环境条例(2024-11-29).md"),
        ("沪上优化营商环境条例的规定", "上海市优化营商环境条例(2024-09-27).md"),
        ("印花税法什么时候施行？", "印花税法(2021-06-10).md"),
    ],
)
def test_law_names_whole_or_abbreviated(scoper, infos, question, expected):
    assert files(scoper.decide(question), infos) == {expected}


def test_national_before_a_shared_title_names_the_national_text(scoper, infos):
    scope = scoper.decide("国家优化营商环境条例规定开办企业多久办结？")
    assert files(scope, infos) == {"优化营商环境条例(2019-10-22).md"} and not scope.parallel


def test_a_title_shared_by_twins_names_them_all(scoper, infos):
    scope = scoper.decide("优化营商环境条例什么时候施行？")
    assert scope.parallel and len(files(scope, infos)) == 4  # in force: 国家, 上海, 北京, 青岛


@pytest.mark.parametrize(
    ("question", "place"),
    [
        ("广西自贸区管委会有哪些职责？", "广西"),
        ("天津的优化营商环境条例几号施行？", "天津"),
        ("成都办简易注销要公示几天？", "成都"),
        ("江西省政府非税收入管理条例从哪天起施行？", "江西"),
        ("苏州工业园区的外资项目备案吗？", "苏州"),
    ],
)
def test_places_the_corpus_does_not_cover_are_reported(scoper, question, place):
    scope = scoper.decide(question)
    assert scope.uncovered == place and scope.documents is None
    assert {"国家", "上海", "北京"} <= set(scope.covered)


def test_words_that_only_look_like_places_are_not_places(scoper):
    for question in ("中山大学的研究", "美国投资者在华投资要注意什么", "津贴怎么发"):
        assert scoper.decide(question).uncovered is None


def test_a_twin_missing_in_a_covered_place_is_reported_with_the_places_that_have_it(scoper):
    scope = scoper.decide("山东的优化营商环境条例什么时候施行？")
    assert scope.uncovered == "山东" and "青岛" in scope.covered and "上海" in scope.covered


def test_versions_in_force_unless_the_year_or_the_past_is_asked(scoper, infos):
    current, old = "上海市优化营商环境条例(2024-09-27).md", "上海市优化营商环境条例(2020-04-10).md"
    zone = "中国（上海）自由贸易试验区条例.md"  # a regulation of 上海 too
    assert files(scoper.decide("上海的证明事项清单多久更新？"), infos) == {current, zone}
    by_year = scoper.decide("2020年版上海优化营商环境条例，证明事项清单多久更新？")
    assert files(by_year, infos) == {old}
    assert {infos[current].doc_id} == set(by_year.mention)
    past = scoper.decide("上海优化营商环境条例原来规定证明事项清单多久更新？")
    assert files(past, infos) == {old}


def test_a_repealed_law_named_by_its_title_still_answers(scoper, infos):
    scope = scoper.decide("印花税暂行条例规定应纳税额不足多少免纳？")
    assert files(scope, infos) == {"印花税暂行条例(2011-01-08).md"}
    assert infos["印花税暂行条例(2011-01-08).md"].doc_id not in scoper.in_force


def test_the_conversation_scope_applies_when_the_question_names_none(scoper, infos):
    scope = scoper.decide("开办企业多久办结？", chosen="北京")
    assert files(scope, infos) == {"北京市优化营商环境条例(2024-11-29).md"}
    narrowed = scoper.decide("优化营商环境条例什么时候施行？", chosen="北京")
    assert not narrowed.parallel and len(files(narrowed, infos)) == 1
    own = scoper.decide("上海的开办企业多久办结？", chosen="北京")
    assert "上海市优化营商环境条例(2024-09-27).md" in files(own, infos)
    assert "北京市优化营商环境条例(2024-11-29).md" not in files(own, infos)
    national = scoper.decide("开办企业多久办结？", chosen="国家")
    assert "优化营商环境条例(2019-10-22).md" in files(national, infos)
    assert "北京市优化营商环境条例(2024-11-29).md" not in files(national, infos)


def test_the_default_scope_prefers_its_place_and_keeps_national_documents(infos):
    scoper = Scoper(infos.values(), default="上海")
    scope = scoper.decide("开办企业多久办结？")
    assert not scope.named
    assert infos["上海市优化营商环境条例(2024-09-27).md"].doc_id in scope.prefer
    assert infos["海关法(2021-04-29).md"].doc_id in scope.documents
    assert infos["北京市优化营商环境条例(2024-11-29).md"].doc_id not in scope.documents
    with pytest.raises(ConfigError, match="default_scope"):
        Scoper(infos.values(), default="火星")


def test_slash_scope_sets_shows_and_clears_the_conversation_scope(scoper):
    conversation = Conversation()
    assert "北京" in scoper.choose(conversation, "北京") and conversation.scope == "北京"
    assert "当前范围：北京" in scoper.choose(conversation, "")
    assert "没有" in scoper.choose(conversation, "火星") and conversation.scope == "北京"
    scoper.choose(conversation, "off")
    assert conversation.scope is None
    conversation.scope = "北京"
    conversation.clear()
    assert conversation.scope is None
