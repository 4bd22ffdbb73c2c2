"""Question analysis (type, terms, focus, names, units) and follow-up rewriting."""

from __future__ import annotations

import pickle

import pytest

from bot.answer.conversation import Conversation, Turn
from bot.answer.question import analyse, clean, has_value


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("营口片区去年规模以上工业总产值是多少?", "quantity"),
        ("一般类企业办照需要多长时间?", "quantity"),
        ("“易办电”是和哪家单位联合推出的?", "who"),
        ("外商投资法从什么时候开始施行?", "time"),
        ("崔家席坊村的历史可以追溯到什么时候?", "time"),
        ("山东自贸试验区包括哪几个片区?", "list"),
        ("“三贷”中心指的是哪三个中心?", "list"),
        ("營東大集的工程款是怎麼解決的?", "howto"),
        ("营商环境是指什么?", "definition"),
        ("保税区内可以住人吗?", "yesno"),
    ],
)
def test_question_type_comes_from_the_interrogative(question, kind):
    assert analyse(question).kind == kind


def test_terms_leave_out_interrogatives_and_the_category_word_after_them():
    q = analyse("王志斌来自哪个单位?")
    assert q.terms == ("王志斌", "来自") and q.names == ("王志斌",)
    assert "城市" not in analyse("王志斌的家在哪个城市?").terms


def test_terms_leave_out_pronouns_prepositions_and_conjunctions():
    assert analyse("崔家席坊这个村名是怎么得来的?").terms[:2] == ("崔家席坊", "村名")
    terms = analyse("如果企业按照规定申报，应当由哪个部门审核?").terms
    assert not {"如果", "按照", "由"} & set(terms) and {"企业", "申报", "审核"} <= set(terms)


def test_within_n_days_to_an_authority_is_not_cut_as_introverted():
    q = analyse("进口货物的收货人应当自申报进境之日起多少日内向海关申报?")
    assert "内向" not in q.terms and {"海关", "申报"} <= set(q.terms)


def test_only_words_that_can_be_names_are_required_names():
    # jieba's dictionary tags 换人 as a transliterated name and 许可 as a person's name.
    assert analyse("在河南投资，领导换人了，优惠条件还算数吗?").names == ("河南",)
    assert analyse("王志斌来自哪个单位?").names == ("王志斌",)
    assert "临港" in analyse("上海自贸试验区临港新片区有哪些税收优惠?").names
    assert "米泽" in analyse("米泽车站在哪里?").names  # unknown to the dictionary: a name


def test_abbreviated_zone_names_meet_the_spelled_out_ones():
    assert analyse("海南自贸港对外商投资实行什么制度?").search.startswith("海南自贸港")
    assert "自贸港" in analyse("海南自由贸易港对外商投资实行什么制度?").terms


def test_focus_is_what_is_asked_about():
    assert analyse("营口片区的常住人口有多少?").focus == ("常住", "常住人口")
    assert analyse("上海自贸试验区临港新片区有哪些税收优惠?").focus == ("税收", "优惠")
    assert analyse("国家对政务服务事项的在线办理有什么要求?").focus == ()
    assert analyse("营口片区力争实现哪些目标?").focus == ()  # the answer lists the goals


def test_units_follow_the_measure_word_or_the_dimension_asked_about():
    q = analyse("“拿地即开工+验收”改革把审批时限压缩到多少天?")
    assert has_value("审批时限压缩至40个自然日", q) and not has_value("压缩至40%", q)
    people = analyse("营口片区的常住人口有多少?")
    assert has_value("常住人口约12.5万人", people)
    assert not has_value("总产值完成102.25亿元", people)
    area = analyse("营东大集有多大面积?")
    assert has_value("有4万多平方米", area) and not has_value("有4个出口", area)
    assert has_value("一般类企业两小时办照", analyse("一般类企业办照需要多长时间?"))
    assert has_value("半个工作日开办", analyse("企业开办要多久?"))


def test_a_unit_named_after_the_interrogative_beats_the_topic_words():
    # 投资人 would make it a money question; the question says it counts 工作日.
    q = analyse("企业投资人承诺后，税务机关在多少个工作日内完成核查?")
    assert has_value("税务机关未在十个工作日内完成核查", q)
    assert not has_value("投资十万元", q)
    area = analyse("试验区规划面积是多少平方公里?")
    assert has_value("面积达3.2平方公里", area)
    assert not {"平方", "公里", "平方公里"} & set(area.terms)  # checked as the value's unit
    fine = analyse("行业协会组织垄断协议的，由市场监管部门罚多少?")
    assert has_value("处二十万元以上五十万元以下的罚款", fine) and not has_value("第三项", fine)
    fewer = analyse("办证要交的材料比以前少了多少?")  # a comparison: by how much (%)
    assert has_value("审批材料压缩32%", fewer) and not has_value("对5个行业试点", fewer)


def test_traditional_question_is_matched_in_simplified_and_remembered():
    q = analyse("營口片區去年實際利用外資完成多少?")
    assert q.traditional and "营口" in q.search and "外资" in q.terms


def test_cleaning_removes_markup_but_keeps_the_words():
    assert clean("<p>营口片区<b>去年</b>&amp;总产值</p>") == "营口片区 去年 &总产值"
    assert clean("**营口片区** [报告](http://x.cn) `代码`") == "营口片区 报告 代码"
    assert clean("<script>alert('x')</script>营口片区<STYLE>p{}</STYLE>总产值") == "营口片区 总产值"


def test_follow_up_is_completed_with_the_previous_topic():
    conversation = Conversation(max_turns=2)
    conversation.add(Turn("营口片区去年规模以上工业总产值是多少?"))
    assert (
        conversation.standalone("那同比增长多少?") == "营口片区去年规模以上工业总产值同比增长多少?"
    )
    assert conversation.standalone("王志斌来自哪个单位?") == "王志斌来自哪个单位?"


@pytest.mark.parametrize(
    ("previous", "follow_up", "standalone"),
    [
        (
            "营口片区去年实际利用外资完成多少?",
            "固定资产投资呢?",
            "营口片区去年固定资产投资完成多少?",
        ),
        ("营口片区的常住人口有多少?", "那户籍人口呢?", "营口片区的户籍人口有多少?"),
        ("王志斌来自哪个单位?", "孙桂玲呢?", "孙桂玲来自哪个单位?"),
    ],
)
def test_a_new_subject_alone_asks_the_previous_question_about_it(previous, follow_up, standalone):
    conversation = Conversation()
    conversation.add(Turn(previous))
    assert conversation.standalone(follow_up) == standalone


def test_who_holds_a_role_needs_a_person_and_when_needs_a_date():
    q = analyse("营口片区管委会主任是谁?")
    assert q.person and not analyse("“易办电”是和哪家单位联合推出的?").person
    assert has_value("“小年那天开的集,最火的一天”", analyse("营东大集是哪天开的集?"))
    assert not has_value("大集挺大,有4万多平方米", analyse("营东大集是哪天开的集?"))


def test_history_is_bounded_and_picklable():
    conversation = Conversation(max_turns=2)
    for n in range(5):
        conversation.add(Turn(f"问题{n}"))
    assert [t.question for t in conversation.turns] == ["问题3", "问题4"]
    restored = pickle.loads(pickle.dumps(conversation))
    assert restored.turns == conversation.turns
    assert Conversation().standalone("那同比增长多少?") == "那同比增长多少?"


def test_a_long_messages_form_comes_from_its_asking_sentence():
    message = (
        "我在营口开了家超市,朋友说有个“一业一证”改革能少跑几趟。"
        "想问下,这个改革是不是在所有行业都推开了?"
    )
    q = analyse(message)
    assert q.kind == "yesno"  # not the 几 of the story
    assert "超市" in q.terms  # the story still counts for what is asked about
    assert analyse("刻公章要收费吗?").kind == "yesno"
