"""Citation numbering and verification: [n] only where passage n contains the sentence."""

from __future__ import annotations

from answer_support import YINGKOU_TEXT, make_chunk

from bot.answer.citations import cite, markers, strip_markers, supports


def test_support_ignores_whitespace_but_nothing_else():
    passage = "去年,片区内规模以上工业总产值完成\n102.25亿元,同比增长13.9%;"
    assert supports(passage, "片区内规模以上工业总产值完成102.25 亿元")
    assert not supports(passage, "片区内规模以上工业总产值完成102.26亿元")
    assert not supports(passage, "   ")


def test_units_from_one_passage_share_its_number_in_order_of_first_use():
    a, b = make_chunk(YINGKOU_TEXT, n=1), make_chunk("王志斌来自省农研中心。", n=2)
    text, citations = cite(
        [("去年共推出创新政策73项", a), ("王志斌来自省农研中心。", b), ("同比增长13.9%", a)]
    )
    assert text.splitlines() == [
        "去年共推出创新政策73项 [1]",
        "王志斌来自省农研中心。 [2]",
        "同比增长13.9% [1]",
    ]
    assert [(c.n, c.chunk.chunk_id, c.verified) for c in citations] == [
        (1, a.chunk_id, True),
        (2, b.chunk_id, True),
    ]
    assert citations[0].quote == a.text


def test_a_unit_its_passage_does_not_contain_gets_no_citation():
    a = make_chunk(YINGKOU_TEXT)
    text, citations = cite([("营口片区常住人口为50万人", a)])
    assert text == "" and citations == []


def test_marker_forms_an_llm_writes_are_read():
    assert markers("总产值102.25亿元[1][3]，增长【2】 [4, 5]") == [1, 3, 2, 4, 5]
    assert strip_markers("总产值102.25亿元 [1]。") == "总产值102.25亿元。"
