"""Sentence selection and the quoted answer: question-type cues, the stretch of the passage
around the best sentence, clause trimming of over-long sentences, lists, verbatim quotes."""

from __future__ import annotations

from answer_support import LAW, LAW_TEXT, VILLAGE, VILLAGE_TEXT, YINGKOU_TEXT, hits_of, make_chunk
from answer_support import weights_for as weights

from bot.answer.compose import compose
from bot.answer.extractive import candidates
from bot.answer.question import analyse
from bot.answer.sentences import clauses, comma_clauses, split_sentences, squeeze
from bot.config import AnswerSettings


def answer_text(question: str, *chunks, **settings) -> str:
    """The answer quoted around the best-scored sentence."""
    q = analyse(question)
    ranked = candidates(q, hits_of(*chunks), weights(*chunks))
    return compose(q, ranked[0], ranked, AnswerSettings(**settings)).text


def clause_text(question: str, *chunks) -> str:
    """The answer when the best sentence is longer than the answer may be: its clause."""
    return answer_text(question, *chunks, max_chars=40)


def test_sentences_are_verbatim_and_split_at_full_stops_and_lines():
    sentences = split_sentences(LAW_TEXT)
    assert [s.text for s in sentences][1:] == [
        "（一）外国投资者单独在中国境内设立外商投资企业；",
        "（二）外国投资者取得中国境内企业的股份。",
    ]
    assert all(s.text in LAW_TEXT for s in sentences)
    assert split_sentences("“干就得干出个样儿来。”他说。")[0].text == "“干就得干出个样儿来。”"


def test_clauses_do_not_cut_inside_brackets():
    assert clauses("甲（乙；丙）丁；戊") == ["甲（乙；丙）丁；", "戊"]
    assert comma_clauses("去年,总产值（亿元，现价）完成102.25亿元") == [
        "去年,",
        "总产值（亿元，现价）完成102.25亿元",
    ]


def test_quantity_question_gets_the_clause_with_the_number_and_its_unit():
    text = clause_text("营口片区去年规模以上工业总产值是多少?", make_chunk(YINGKOU_TEXT))
    assert text == "去年,片区内规模以上工业总产值完成102.25亿元,同比增长13.9%"


def test_the_answer_quotes_whole_sentences_around_the_best_one_within_the_budget():
    text = answer_text(
        "营口片区去年规模以上工业总产值是多少?", make_chunk(YINGKOU_TEXT), max_chars=200
    )
    assert "完成102.25亿元,同比增长13.9%;一般公共预算收入" in text  # the sentence stays whole
    assert text in YINGKOU_TEXT and text.endswith("同比增长751%。") and len(text) <= 200
    assert answer_text(
        "营口片区去年推出了多少项创新政策?", make_chunk(YINGKOU_TEXT), max_sentences=1
    ) == ("去年共推出创新政策73项、创新案例50项、改革措施78项。")


def test_count_question_prefers_the_figure_named_in_its_own_clause():
    chunk = make_chunk(
        "去年,营口片区确定32项创新工作任务,必选任务的实施率达到100%。"
        "营口片区以创新为抓手。去年共推出创新政策73项、创新案例50项。"
    )
    assert "创新政策73项" in answer_text("营口片区去年推出了多少项创新政策?", chunk)


def first_answer(question: str, text: str) -> str:
    """The clause an over-long best sentence is cut to."""
    return clause_text(question, make_chunk(text))


def test_long_sentence_is_cut_to_the_value_clause_and_what_names_it():
    text = first_answer(
        "易办电服务能为企业节约多少办事时间?",
        "去年,他们与国网营口供电公司联合创新推出“易办电”供电服务,通过以函代证、共享租赁等方式,"
        "优化企业办理用电业务全链条流程,平均可为企业节约办事时间超过40天,企业办理临时用电成本压缩55%。",
    )
    assert text.endswith("平均可为企业节约办事时间超过40天") and len(text) < 60


def test_value_clause_wins_over_a_clause_with_more_question_words():
    assert "十万元以上五十万元以下" in first_answer(
        "外国投资者未按信息报告制度报送投资信息、逾期不改正的，罚款是多少?",
        "第三十七条 外国投资者未按照信息报告制度的要求报送投资信息的，由商务主管部门责令限期改正；"
        "逾期不改正的，处十万元以上五十万元以下的罚款。",
    )


def test_the_clause_continuing_the_questions_wording_beats_its_restated_premise():
    answer = first_answer(
        "供电企业年供电可靠率低于国家规定、又拒不改正的，怎么罚?",
        "市城市管理部门应当加强对供电企业年供电可靠率的监督，对年供电可靠率低于国家规定的，"
        "责令改正；拒不改正的，处五万元以上五十万元以下罚款。",
    )
    assert answer.startswith("拒不改正的，处五万元以上五十万元以下罚款")


def test_a_date_before_its_subject_is_kept_and_a_year_in_a_title_is_not_a_date():
    assert first_answer(
        "营口片区优化营商环境大会是哪天召开的?",
        "3月4日,营口片区召开优化营商环境大会,制定并落实《营口片区2022年招商引资工作方案》等"
        "一揽子工作细则,力争实现服务质效再提升、办事流程再精简。",
    ).startswith("3月4日,营口片区召开优化营商环境大会")


def test_where_question_prefers_the_sentence_naming_a_place():
    chunk = make_chunk(
        "王志斌深谋远虑,在文明城市创建中凸显价值,搞成全市商户的聚集地。"
        "去年9月末的一个星期六,王志斌刚走进沈阳的家门,就匆忙下楼开车往回赶。",
        title=VILLAGE,
        section="",
    )
    assert "沈阳" in answer_text("王志斌的家在哪个城市?", chunk, max_sentences=1)


def test_who_question_keeps_the_sentence_with_the_organisation():
    chunk = make_chunk(VILLAGE_TEXT, title=VILLAGE, section="")
    assert "省农研中心" in answer_text("王志斌来自哪个单位?", chunk, max_sentences=1)


def test_list_question_keeps_the_whole_enumeration():
    chunk = make_chunk(LAW_TEXT, title=LAW, article="第二条")
    text = answer_text("外商投资包括哪些情形?", chunk)
    assert "（一）外国投资者单独" in text and "（二）外国投资者取得" in text


def test_law_referring_to_itself_matches_its_title():
    law = make_chunk("第四十二条 本法自2020年1月1日起施行。", title=LAW, doc_id="law")
    other = make_chunk(
        "第九条 外商投资企业依法平等适用国家支持企业发展的各项政策。", title=LAW, n=2
    )
    assert answer_text("外商投资法从什么时候开始施行?", other, law).startswith("第四十二条")


def test_answer_stays_within_the_character_budget_and_sentence_count():
    chunks = [make_chunk(YINGKOU_TEXT, n=i, doc_id=f"d{i}") for i in range(4)]
    for budget in (30, 80, 150):
        text = answer_text("营口片区去年一般公共预算收入是多少?", *chunks, max_chars=budget)
        assert 0 < len(text) <= budget and text in YINGKOU_TEXT


def test_the_stretch_never_skips_a_missing_sentence():
    q = analyse("营口片区去年规模以上工业总产值是多少?")
    chunk = make_chunk(YINGKOU_TEXT)
    ranked = candidates(q, hits_of(chunk), weights(chunk))
    lead = next(c for c in ranked if "102.25亿元" in c.text)
    without_before = [c for c in ranked if c.sentence.position != 1]
    assert compose(q, lead, without_before, AnswerSettings()).text == lead.sentence.text


def test_every_answer_text_is_verbatim_from_its_passage():
    chunks = [make_chunk(YINGKOU_TEXT), make_chunk(VILLAGE_TEXT, title=VILLAGE, n=2)]
    for question in ("营口片区去年实际利用外资完成多少?", "营东大集有多大面积?"):
        q = analyse(question)
        ranked = candidates(q, hits_of(*chunks), weights(*chunks))
        for settings in (AnswerSettings(), AnswerSettings(max_chars=40)):
            c = compose(q, ranked[0], ranked, settings)
            assert squeeze(c.text) in squeeze(c.chunk.text)


def test_a_long_list_says_how_many_items_there_are_and_how_many_are_shown():
    from bot.answer.engine import _list_notice

    items = "".join(
        f"\n（{n}）{'某类主体依法应当办理的一项长长的登记事项' * 3}；" for n in "一二三四五六七"
    )
    chunk = make_chunk(f"第二十条 管委会履行下列职责：{items}", "中国（浙江）自由贸易试验区条例")
    q = analyse("管委会履行哪些职责?")
    ranked = candidates(q, hits_of(chunk), weights(chunk))
    lead = compose(q, ranked[0], ranked, AnswerSettings())
    assert lead.text.startswith("第二十条 管委会履行下列职责：\n（一）")
    shown = lead.text.count("\n")
    assert 1 <= shown < 7 and _list_notice(lead) == f"共7项，以上为前{shown}项；点 📄 1 查看全文。"
    everything = compose(q, ranked[0], ranked, AnswerSettings(max_list_chars=2000))
    assert everything.text.count("\n") == 7 and _list_notice(everything) is None


def test_a_word_only_other_documents_use_counts_when_the_passages_are_narrowed():
    """Judged within one document's passages (a scope), a sentence lacking a question word
    that only another document uses (起征点) scores as it does among both documents'
    passages, not as if no document used that word."""
    own = make_chunk(
        "第九条 小规模纳税人，是指年应征增值税销售额未超过五百万元的纳税人。",
        title="增值税法",
        doc_id="law",
    )
    other = make_chunk(
        "第十七条 纳税人销售额未达到增值税起征点的，免征增值税。",
        title="增值税暂行条例",
        doc_id="old",
        n=2,
    )
    q = analyse("小规模纳税人的增值税起征点是每月销售额多少?")
    weigh = weights(own, other)
    narrowed = candidates(q, hits_of(own), weigh)[0]
    measured = candidates(q, hits_of(own), weigh, vocabulary=hits_of(own, other))[0]
    among_both = next(c for c in candidates(q, hits_of(own, other), weigh) if c.chunk == own)
    assert measured.text == narrowed.text == among_both.text
    assert measured.score < narrowed.score
    assert measured.score == among_both.score
