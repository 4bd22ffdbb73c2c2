"""The refusal rule: names, value type, focus and coverage, on hand-made passages."""

from __future__ import annotations

from answer_support import YINGKOU_TEXT, hits_of, make_chunk
from answer_support import weights_for as weights

from bot.answer.extractive import candidates
from bot.answer.question import analyse
from bot.answer.refusal import Gate
from bot.config import AnswerSettings

SHANGHAI = "上海市优化营商环境条例"
SHANGHAI_FTZ = "中国（上海）自由贸易试验区条例"


def verdict(question: str, *chunks, **settings):
    q = analyse(question)
    ranked = candidates(q, hits_of(*chunks), weights(*chunks))
    return Gate(q, ranked, AnswerSettings(**settings)).verdict()


def test_answerable_question_is_answered_from_the_right_sentence():
    v = verdict("营口片区去年规模以上工业总产值是多少?", make_chunk(YINGKOU_TEXT))
    assert v.best is not None and "102.25亿元" in v.best.sentence.text


def test_quantity_without_a_value_of_the_asked_kind_is_refused():
    # the right document, plenty of numbers, none of them a number of people
    v = verdict("营口片区的常住人口有多少?", make_chunk(YINGKOU_TEXT))
    assert v.best is None


def test_a_value_for_another_measure_of_the_same_kind_is_refused():
    # 盘活面积 is an area, but the question asks for the planned area (规划面积), which no
    # passage mentions. Coverage checks are off: the focus check alone must refuse it.
    chunk = make_chunk(
        "加快盘活存量资源,盘活闲置厂房16处,盘活面积8.1万平方米,通过盘活闲置厂房落地项目7个。"
    )
    lenient = {"min_sentence_coverage": 0.0, "min_context_coverage": 0.0}
    assert verdict("营口片区的规划面积是多少平方公里?", chunk, **lenient).best is None
    assert verdict("营口片区的盘活面积是多少平方米?", chunk, **lenient).best is not None


def test_a_name_the_passage_never_mentions_is_refused():
    chunk = make_chunk(
        "第三十三条 自贸试验区按照国家规定，实施促进投资和贸易的有关税收政策。", SHANGHAI_FTZ
    )
    assert verdict("深圳前海有哪些税收政策?", chunk).best is None


def test_entity_and_focus_split_over_two_passages_is_refused():
    # one article names 临港新片区 without tax, the other regulation has tax but no 临港
    lingang = make_chunk(
        "第十一条 在中国（上海）自由贸易试验区和临港新片区实行外商投资试验性政策措施。",
        SHANGHAI,
        doc_id="sh",
    )
    tax = make_chunk(
        "第三十三条 自贸试验区按照国家规定，实施促进投资和贸易的有关税收政策。",
        SHANGHAI_FTZ,
        doc_id="ftz",
    )
    assert verdict("上海自贸试验区临港新片区有哪些税收优惠?", lingang, tax).best is None
    # …while the same passages answer what they do say
    assert verdict("临港新片区实行什么政策措施?", lingang, tax).best is not None


def test_a_role_question_needs_a_person_in_the_sentence():
    chunk = make_chunk("在管委会行政审批大厅正式启动运行“三贷”中心。王志斌任管委会主任。")
    v = verdict("营口片区管委会主任是谁?", chunk)
    assert v.best is not None and "王志斌" in v.best.sentence.text
    assert (
        verdict("营口片区管委会主任是谁?", make_chunk("管委会行政审批大厅启动运行。")).best is None
    )


def test_words_of_the_documents_title_need_not_be_repeated_by_the_sentence():
    byline = make_chunk("本报记者 佟利德", section="")
    v = verdict(
        "《走创新路 闯改革关 书发展篇》这篇报告是哪位记者写的?", byline, make_chunk(YINGKOU_TEXT)
    )
    assert v.best is not None and "佟利德" in v.best.sentence.text


def test_off_topic_question_is_refused_and_thresholds_matter():
    chunk = make_chunk(YINGKOU_TEXT)
    assert verdict("明天北京天气怎么样?", chunk).best is None
    loose = verdict(
        "明天营口片区天气怎么样?", chunk, min_sentence_coverage=0, min_context_coverage=0
    )
    assert loose.best is not None  # with no coverage threshold anything mentioning 营口 would do


def test_no_passages_no_answer():
    assert verdict("营口片区去年规模以上工业总产值是多少?").reason == "no passage retrieved"
