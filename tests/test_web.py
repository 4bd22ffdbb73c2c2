"""Saved government pages: title, date and issuer right, and no site furniture indexed."""

from __future__ import annotations

import pytest
from gov_pages import CITY_FEES, COMMERCE, PAGES

from index.chunking import chunk_document
from index.loaders import load_file
from index.structure import parse_documents


def saved(tmp_path, page):
    path = tmp_path / page.name
    path.write_bytes(page.html.encode(page.encoding))
    return path


def chunks_of(path, source):
    documents = parse_documents(path.name, source.text, source.page_starts, source.places)
    return [chunk for document in documents for chunk in chunk_document(document)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_title_date_and_issuer_come_from_the_page(tmp_path, page):
    source = load_file(saved(tmp_path, page))
    assert (source.title, source.published, source.issuer) == (
        page.title,
        page.published,
        page.issuer,
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_menu_meta_line_or_footer_text_reaches_a_chunk(tmp_path, page):
    path = saved(tmp_path, page)
    chunks = chunks_of(path, load_file(path))
    assert {chunk.title for chunk in chunks} == {page.title}
    text = "\n".join(chunk.text for chunk in chunks)
    assert page.answer in text
    assert [word for word in page.furniture if word in text] == []


def test_the_issue_example_title_is_not_the_accessibility_bar(tmp_path):
    source = load_file(saved(tmp_path, COMMERCE))
    assert source.text.startswith(f"# {COMMERCE.title}\n\n各市商务局")
    assert "辽宁省商务厅\n\n2024年3月5日" in source.text  # the signature stays


def test_html_table_with_rowspan_and_colspan_rows_as_sentences(tmp_path):
    path = saved(tmp_path, CITY_FEES)
    source = load_file(path)
    assert (
        "序号：3；收费项目：拖轮使用费；收费标准·计费单位：每艘次；收费标准·金额：3000元。"
        in source.text.split("\n\n")
    )
    locations = [chunk.location for chunk in chunks_of(path, source)]
    assert "表1 第3–5行" in locations


def test_a_page_readability_cannot_use_falls_back_to_the_body(tmp_path):
    path = tmp_path / "short.html"
    path.write_text("<html><body><p>第一条 口岸收费实行清单管理。</p></body></html>")
    assert load_file(path).text == "第一条 口岸收费实行清单管理。"


def test_a_page_nested_thousands_of_tags_deep_is_read_not_refused(tmp_path):
    """The walk keeps its own stack: Python's recursion limit is no limit on a page."""
    body = "<div>" * 6000 + "<p>第一条 本办法自2024年1月1日起施行。</p>" + "</div>" * 6000
    page = tmp_path / "deep.html"
    page.write_text(f"<html><head><title>深页</title></head><body>{body}</body></html>")
    assert "本办法自2024年1月1日起施行" in load_file(page).text
