"""Structure parsing: line repair, captions, headings, articles and documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SHARED

from bot.answer.sentences import squeeze
from index.documents import Document
from index.loaders import load_file
from index.structure import parse_documents

REPO = Path(__file__).resolve().parents[1]
CORPUS_FILE = REPO / "corpus" / "yingkou_ftz_report.txt"
POLICY_DIR = SHARED / "bench" / "policy_docs"
needs_policy_docs = pytest.mark.skipif(
    not POLICY_DIR.is_dir(), reason=f"policy documents not found at {POLICY_DIR}"
)
_ARTICLE_LINE = re.compile(r"^第[一二三四五六七八九十百零]+条", re.MULTILINE)


def parse_file(path: Path) -> list[Document]:
    source = load_file(path)
    return parse_documents(str(path), source.text, source.page_starts)


def texts(docs: list[Document]) -> list[str]:
    return [p.text for doc in docs for p in doc.paragraphs]


@pytest.fixture(scope="module")
def report() -> list[Document]:
    return parse_file(CORPUS_FILE)


def policy_paths() -> list[Path]:
    return sorted(POLICY_DIR.glob("*.md")) if POLICY_DIR.is_dir() else []


# --- the newspaper page ----------------------------------------------------------------


def test_report_has_two_articles_with_their_titles(report):
    assert [doc.title for doc in report] == [
        "走创新路 闯改革关 书发展篇——来自辽宁自贸试验区营口片区的报告",
        "驻进了村民心里的“第一书记”王志斌",
    ]


@pytest.mark.parametrize(
    "joined",
    [
        "今年,营口片区将推动建设生物降解材料创新中心,",
        "节约融资成本637.7万元。",
        "围绕全面提升政务服务水平,组织承接新一批省、市下放权限",
        "“近十年来没有人家在村里办过婚礼,连过年都很少听见鞭炮声。",
        "大型车库物流中心,一个错落有致",
        "建大集,村集体拿不出钱。王志斌协调租用村里土地",
    ],
)
def test_lines_broken_mid_sentence_are_rejoined(report, joined):
    assert sum(joined in text for text in texts(report)) == 1


def test_captions_credits_and_labels_are_dropped(report):
    everything = "\n".join(texts(report))
    for dropped in [
        "中国(辽宁)自由贸易试验区营口片区管委会。",
        "本版图片由",
        "图为营口片区管委会行政审批大厅",
        "天元航材(营口)科技股份有限公司生产研发现场",
        "营口片区企业辽宁东盛集团。",
        "YIXIAN",
    ]:
        assert dropped not in everything
    sections = {name for doc in report for p in doc.paragraphs for name in p.section}
    assert not any("YIXIAN" in name for name in sections)


def test_report_headings_become_sections(report):
    def sections(doc: Document) -> list[tuple[str, ...]]:
        return list(dict.fromkeys(p.section for p in doc.paragraphs))

    assert sections(report[0]) == [
        (),  # the byline, before the first heading
        ("核心提示",),
        ("制度再创新 工作效能不断提升",),
        ("服务再创新 营商环境持续优化",),
        ("创新驱动 加速产业转型升级",),
    ]
    assert sections(report[1]) == [
        (),
        ("驻村先“驻心”",),
        ("“第一书记”得敢于“站出来”",),
        ("喊破嗓子不如干出样子",),
    ]


def test_paragraph_numbers_restart_in_each_section(report):
    for doc in report:
        expected = 0
        for before, paragraph in zip([None, *doc.paragraphs], doc.paragraphs, strict=False):
            expected = 1 if before is None or before.section != paragraph.section else expected + 1
            assert paragraph.index == expected


def test_paragraph_offsets_cover_exactly_their_source(report):
    text = load_file(CORPUS_FILE).text
    for doc in report:
        assert doc.source_text == text
        for paragraph in doc.paragraphs:
            assert squeeze(text[paragraph.start : paragraph.end]) == squeeze(paragraph.text)
            assert paragraph.page is None


def test_document_ids_are_stable_and_distinct(report):
    again = parse_file(CORPUS_FILE)
    assert [d.doc_id for d in again] == [d.doc_id for d in report]
    assert len({d.doc_id for d in report}) == 2


# --- small synthetic texts -------------------------------------------------------------


def parse(text: str, page_starts: tuple[int, ...] = ()) -> list[Document]:
    return parse_documents("docs/sample.md", text, page_starts)


def test_mixed_markdown_and_plain_legal_headings():
    text = (
        "# 示例条例\n\n2020年1月1日 施行\n\n<!-- INFO END -->\n\n"
        "## 第一章  总 则\n\n第一条 为了规范管理，制定本条例。\n\n"
        "第二条 本条例适用于下列情形：\n\n（一）进口货物；\n\n（二）出口货物。\n\n"
        "前款规定的情形以外，\n\n适用其他规定。\n\n"
        "第二章　管理体制\n\n第一节 一般规定\n\n第三条 管理机构负责实施。\n\n"
        "### 第四条\n\n管理机构应当公开信息。\n\n"
        "第二节 特别规定\n\n第五条 另有规定的，从其规定。\n"
    )
    [doc] = parse(text)
    assert doc.title == "示例条例"
    located = [(p.section, p.article, p.index, p.text) for p in doc.paragraphs]
    assert located == [
        ((), None, 1, "2020年1月1日 施行"),
        (("第一章 总则",), "第一条", 1, "第一条 为了规范管理，制定本条例。"),
        (("第一章 总则",), "第二条", 2, "第二条 本条例适用于下列情形："),
        (("第一章 总则",), "第二条", 3, "（一）进口货物；"),
        (("第一章 总则",), "第二条", 4, "（二）出口货物。"),
        (("第一章 总则",), "第二条", 5, "前款规定的情形以外，适用其他规定。"),
        (("第二章 管理体制", "第一节 一般规定"), "第三条", 1, "第三条 管理机构负责实施。"),
        (("第二章 管理体制", "第一节 一般规定"), "第四条", 2, "第四条 管理机构应当公开信息。"),
        (("第二章 管理体制", "第二节 特别规定"), "第五条", 1, "第五条 另有规定的，从其规定。"),
    ]


def test_title_falls_back_to_file_name_when_text_starts_with_prose():
    [doc] = parse("营口片区以创新为抓手，推动项目建设。\n\n核心提示\n\n正文一句。\n")
    assert doc.title == "sample"
    assert [p.section for p in doc.paragraphs] == [(), ("核心提示",)]


def test_headings_are_not_glued_to_unfinished_lines():
    text = "标题\n\n加快实施数字赋能,成功发债\n\n服务再创新 营商环境持续优化\n\n2月7日,召开大会。\n"
    [doc] = parse(text)
    assert [(p.section, p.text) for p in doc.paragraphs] == [
        ((), "加快实施数字赋能,成功发债"),
        (("服务再创新 营商环境持续优化",), "2月7日,召开大会。"),
    ]


def test_lines_are_not_joined_across_a_dropped_caption():
    # Joining would put the caption's characters inside the paragraph's source span.
    text = "标题\n\n营口片区的第一段说到这里,还没有\n\n图为管委会大楼。\n\n说完的后半句在这里。\n"
    [doc] = parse(text)
    assert [p.text for p in doc.paragraphs] == [
        "营口片区的第一段说到这里,还没有",
        "说完的后半句在这里。",
    ]


def test_news_article_starts_at_a_headline_followed_by_a_byline():
    text = (
        "第一篇报道\n\n本报记者 张三\n\n第一篇正文。\n\n小标题\n\n更多正文。\n\n"
        "第二篇报道\n\n——副标题说明\n\n（记者 李四 王五）\n\n第二篇正文。\n"
    )
    first, second = parse(text)
    assert (first.title, second.title) == ("第一篇报道", "第二篇报道——副标题说明")
    assert [p.text for p in first.paragraphs] == ["本报记者 张三", "第一篇正文。", "更多正文。"]
    assert [(p.section, p.text) for p in second.paragraphs] == [
        ((), "（记者 李四 王五）"),  # a paragraph of its own: "who wrote it?"
        ((), "第二篇正文。"),
    ]


def test_pdf_pages_are_assigned_from_page_starts():
    text = "第一条 第一页的内容。\n\n3\n\n第二条 第二页的内容。"
    page_two = text.index("3")
    [doc] = parse(text, (0, page_two))
    assert [(p.article, p.page) for p in doc.paragraphs] == [("第一条", 1), ("第二条", 2)]


def test_sentence_final_lines_are_not_headings():
    text = "标题\n\n“干就得干出个样儿来。”\n\n这乡村,咋振兴?\n"
    [doc] = parse(text)
    assert all(p.section == () for p in doc.paragraphs)
    assert len(doc.paragraphs) == 2


# --- policy documents ------------------------------------------------------------------


@needs_policy_docs
@pytest.mark.parametrize("path", policy_paths(), ids=lambda p: p.stem)
def test_policy_documents_have_title_chapters_and_every_article(path):
    raw = path.read_text(encoding="utf-8")
    [doc] = parse_file(path)
    assert doc.title == raw.splitlines()[0].lstrip("# ").strip()
    labels = list(dict.fromkeys(p.article for p in doc.paragraphs if p.article))
    assert labels == [m.group() for m in _ARTICLE_LINE.finditer(raw)]
    first_chapter = re.search(r"^#* *第一章", raw, re.MULTILINE)
    for paragraph in doc.paragraphs:
        if paragraph.article and first_chapter and paragraph.start > first_chapter.start():
            assert paragraph.section[0].startswith("第")
        assert squeeze(raw[paragraph.start : paragraph.end]) == squeeze(paragraph.text)


@needs_policy_docs
def test_hainan_article_19_is_located():
    [doc] = parse_file(POLICY_DIR / "海南自由贸易港法(2021-06-10).md")
    [article] = [p for p in doc.paragraphs if p.article == "第十九条"]
    assert article.section == ("第三章 投资自由便利",)
    assert article.text.startswith("第十九条 海南自由贸易港对外商投资实行准入前国民待遇加负面清单")
