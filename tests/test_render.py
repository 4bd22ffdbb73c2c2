"""Rendering: escaping, Telegram-safe splitting (UTF-16), the plain fallback, the CLI format.

Every HTML part is checked with the fake server's parser, which follows Telegram's rules.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.answer.results import NOT_FOUND, RELATED, Answer, Citation, IndexSummary
from bot.telegram import render
from bot.telegram.render import render_answer, split_text, utf16_len
from bot.telegram.store import SourcePassage, Stats, WindowStats
from bot.terminal import render_terminal
from tests.fake_html import parse_html
from tests.fake_telegram import MAX_TEXT
from tests.tg_support import APPROVAL, LONG_PHRASE, NEGATIVE_LIST, OUTPUT, REPORT, EngineDouble


def _valid(parts: list[render.Part]) -> list[str]:
    """Parse every part like Telegram; return the plain texts Telegram would store."""
    texts = [parse_html(p.html) for p in parts]
    assert all(utf16_len(t) <= MAX_TEXT for t in texts)
    assert all(utf16_len(p.plain) <= MAX_TEXT for p in parts)
    return texts


def test_answer_has_markers_sources_and_expandable_quotes():
    answer = EngineDouble().answer("易办电是什么？")
    (part,) = render_answer(answer)
    (text,) = _valid([part])
    assert text.startswith(answer.text)
    assert f"来源\n[1] 《{REPORT}》 · 制度再创新 工作效能不断提升 · 第1段" in text
    assert part.html.count("<blockquote expandable>") == 2


def test_user_and_document_text_is_escaped():
    evil = "<script>alert(1)</script> & <b>"
    chunk = replace(NEGATIVE_LIST, title=f"《条例》<i>{evil}", section="第一章 <总则>")
    answer = Answer(evil, True, f"答案 {evil}[1]", [Citation(1, chunk, evil, True)], notice=evil)
    (part,) = render_answer(answer)
    (text,) = _valid([part])
    assert "<script>" not in part.html and "&lt;script&gt;" in part.html
    assert text.count(evil) == 4  # body, notice, title, quote: all shown literally
    assert "第一章 <总则>" in text


def test_plain_fallback_keeps_the_content_without_markup():
    (part,) = render_answer(EngineDouble().answer("工业总产值多少"))
    assert "<" not in part.plain
    assert "“去年,片区内规模以上工业总产值完成102.25亿元,同比增长13.9%”" in part.plain
    assert part.plain.startswith("营口片区去年规模以上工业总产值完成102.25亿元")


def test_long_answer_is_split_between_paragraphs_and_no_tag_is_cut():
    answer = EngineDouble().answer(LONG_PHRASE)
    parts = render_answer(answer)
    texts = _valid(parts)
    assert len(parts) >= 2
    assert all(t.endswith("。") or "来源" in t for t in texts[:-1])  # cut at a boundary
    joined = "\n\n".join(texts)
    assert all(f"第{i}项：" in joined for i in range(1, 61))
    assert "来源" in texts[-1] and texts[-1].count("[") >= 3


def test_huge_quote_is_split_into_balanced_blockquotes():
    quote = "营口片区推出“马上行、自在营”品牌战略。" * 600  # ~12,000 characters, one block
    answer = Answer("q", True, "答案[1]", [Citation(1, APPROVAL, quote, True)])
    parts = render_answer(answer)
    texts = _valid(parts)
    assert len(parts) >= 3
    assert sum(t.count("营口片区推出") for t in texts) == 600


def test_split_prefers_paragraphs_then_lines_then_sentences():
    paragraphs = "\n\n".join(["甲" * 30, "乙" * 30, "丙" * 30])
    assert split_text(paragraphs, 70) == ["甲" * 30 + "\n\n" + "乙" * 30, "丙" * 30]
    lines = "\n".join(["甲" * 30, "乙" * 30, "丙" * 30])
    assert split_text(lines, 40) == ["甲" * 30, "乙" * 30, "丙" * 30]
    sentences = "第一句话。" * 10
    pieces = split_text(sentences, 12)
    assert pieces == ["第一句话。第一句话。"] * 5


def test_split_counts_emoji_as_two_utf16_units():
    text = "😀" * 3000  # 3,000 characters but 6,000 UTF-16 units, no boundary at all
    pieces = split_text(text, 4000)
    assert [utf16_len(p) for p in pieces] == [4000, 2000]
    assert "".join(pieces) == text
    assert split_text("短" * 10, 4000) == ["短" * 10]


def test_emoji_heavy_answer_stays_under_the_limit():
    body = "\n".join(f"{'🚀' * 40}第{i}条[1]。" for i in range(100))
    parts = render_answer(Answer("q", True, body, [Citation(1, OUTPUT, "引文", True)]))
    assert len(parts) >= 2
    _valid(parts)


def test_refusal_is_friendly_and_suggests_documents():
    answer = Answer("q", False, NOT_FOUND, suggestions=["甲文件", "乙 <文件>"])
    (text,) = _valid(render_answer(answer))
    assert text.startswith("🤔 未在文档中找到相关内容。")
    assert "• 《甲文件》\n• 《乙 <文件>》" in text and "/sources" in text
    (bare,) = _valid(render_answer(Answer("q", False, NOT_FOUND, notice="请用中文提问")))
    assert "可以换个说法" not in bare and "/sources" in bare and "ℹ️ 请用中文提问" in bare


def test_source_line_skips_an_empty_section():
    citation = Citation(3, replace(NEGATIVE_LIST, section=""), "x", True)
    assert citation.label() == "[3] 《中国（上海）自由贸易试验区条例》 · 第十四条"


def test_passage_shows_the_whole_chunk():
    label = Citation(2, APPROVAL, "半个工作日开办", True).label()
    (part,) = render.render_passage(SourcePassage(2, APPROVAL.chunk_id, label, APPROVAL.text))
    (text,) = _valid([part])
    assert text == f"[2] 《{REPORT}》 · 制度再创新 工作效能不断提升 · 第2段\n{APPROVAL.text}"


def test_terminal_format():
    answer = Answer(
        "q",
        True,
        "营口片区去年规模以上工业总产值完成102.25亿元[1]。",
        [Citation(1, OUTPUT, "工业总产值完成102.25亿元,\n同比增长13.9%", True)],
    )
    assert render_terminal(answer) == (
        "营口片区去年规模以上工业总产值完成102.25亿元[1]。\n"
        "\n"
        f"[1] 《{REPORT}》 · 核心提示 · 第2段\n"
        "    “工业总产值完成102.25亿元,\n"
        "    同比增长13.9%”"
    )
    refusal = Answer("q", False, NOT_FOUND, suggestions=["甲"], notice="问题过长")
    assert render_terminal(refusal) == f"{NOT_FOUND}\n（问题过长）\n\n可以看看这些文件：\n  《甲》"


def test_examples_welcome_about_and_stats():
    assert render.example_questions([]) == []
    examples = render.example_questions(["甲"])
    assert len(examples) == 3 and all("《甲》" in q for q in examples)
    _valid([render.render_welcome(examples), render.HELP])

    info = IndexSummary(["甲", "乙"], 1, 7, "2026-11-27T10:52:00+00:00", "m")
    (about,) = _valid([render.render_about(info)])
    assert "2 份文档（1 个文件）" in about and "2026-11-27 10:52 UTC" in about
    assert "已在建" in _valid([render.render_about(replace(info, built_at="已在建"))])[0]

    empty = WindowStats(0, None, None, None, 0, None)
    full = WindowStats(20, 120.4, 980.0, 0.25, 4, 0.75)
    (stats,) = _valid([render.render_stats(Stats(today=empty, total=full))])
    assert stats == (
        "使用统计\n今天：0 个问题\n"
        "累计：20 个问题 · p50 120 ms · p95 980 ms · 未找到 25% · 👍 75%（4 票）"
    )


@pytest.mark.parametrize("limit", [50, 200, 4000])
def test_split_never_exceeds_the_limit(limit):
    text = EngineDouble().answer(LONG_PHRASE).text
    pieces = split_text(text, limit)
    assert all(utf16_len(p) <= limit for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_related_provisions_are_shown_as_quotes_not_as_an_answer():
    related = [Citation(1, APPROVAL, "半个工作日开办", False)]
    answer = Answer("q", False, RELATED, related=related)
    (text,) = _valid(render_answer(answer))
    assert text.startswith(f"🤔 {RELATED}") and "半个工作日开办" in text
    assert f"[1] 《{REPORT}》" in text and "来源" not in text
    assert render_terminal(answer) == (
        f"{RELATED}\n\n[1] 《{REPORT}》 · 制度再创新 工作效能不断提升 · 第2段\n    “半个工作日开办”"
    )
    assert answer.to_dict()["related"][0]["verified"] is False
