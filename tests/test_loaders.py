"""Loaders: encodings, each format on tiny generated files, and the error for each failure."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import docx
import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from index.errors import CorruptFile, EmptyFile, LoadError, UnsupportedFile
from index.loaders import SUPPORTED_SUFFIXES, SourceText, find_corpus_files, load_file

CHINESE = "第一条 为了促进外商投资，营口片区管委会制定本法。\n\n第二条 本法自2020年1月1日起施行。\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one line of text per page, in the built-in Chinese CID font."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for text in pages:
        if text:
            pdf.setFont("STSong-Light", 12)
            pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return path


# --- encodings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(CHINESE.encode("utf-8"), id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + CHINESE.encode("utf-8"), id="utf-8-bom"),
        pytest.param(CHINESE.encode("gbk"), id="gbk"),
        pytest.param(CHINESE.encode("gb18030"), id="gb18030"),
        pytest.param(CHINESE.encode("utf-16"), id="utf-16-bom"),
        pytest.param(CHINESE.replace("\n", "\r\n").encode("gbk"), id="gbk-crlf"),
    ],
)
def test_text_encodings_decode_to_the_same_text(tmp_path, data):
    source = load_file(write(tmp_path, "law.txt", data))
    assert source == SourceText(CHINESE)


def test_short_gbk_text_is_not_mojibake(tmp_path):
    # Short GBK byte strings are what generic detectors most often mistake for a
    # Western code page.
    source = load_file(write(tmp_path, "short.txt", "营口片区".encode("gbk")))
    assert source.text == "营口片区"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        pytest.param(
            "崔家席坊村的歷史可以追溯到清代，相傳當時有對崔氏兄弟闖關東到此搭棚落腳。",
            "big5",
            id="big5",
        ),
        pytest.param("日本語のテキストです。これは試験です。", "shift_jis", id="shift-jis"),
        pytest.param(
            "崔家席坊村的歷史可以追溯到清代，相傳當時有對崔氏兄弟闖關東到此搭棚落腳。",
            "gbk",
            id="traditional-in-gbk",
        ),
    ],
)
def test_valid_gb18030_mojibake_falls_back_to_detection(tmp_path, text, encoding):
    # These bytes are also valid GB18030, decoding to rare characters (mojibake).
    source = load_file(write(tmp_path, "other.txt", text.encode(encoding)))
    assert source.text == text


def test_binary_content_in_a_text_file_is_corrupt(tmp_path):
    with pytest.raises(CorruptFile, match="binary"):
        load_file(write(tmp_path, "bin.txt", b"abc\x00\x01\x02def"))


# --- formats ---------------------------------------------------------------------------


def test_markdown_is_returned_verbatim(tmp_path):
    text = "# 标题\n\n## 第一章 总则\n\n第一条 正文。\n"
    assert load_file(write(tmp_path, "a.md", text.encode())).text == text


def test_docx_headings_become_markdown_and_table_rows_sentences(tmp_path):
    document = docx.Document()
    document.add_heading("中华人民共和国外商投资法", level=0)
    document.add_heading("第一章 总则", level=1)
    document.add_heading("第一节 一般规定", level=2)
    document.add_paragraph("第一条 为了进一步扩大对外开放，制定本法。")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(
        table.rows, [("片区", "面积"), ("济南片区", "37.99平方公里")], strict=True
    ):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    path = tmp_path / "law.docx"
    document.save(path)

    text = load_file(path).text
    assert text.split("\n\n") == [
        "# 中华人民共和国外商投资法",
        "# 第一章 总则",
        "## 第一节 一般规定",
        "第一条 为了进一步扩大对外开放，制定本法。",
        "片区：济南片区；面积：37.99平方公里。",
    ]


def test_html_keeps_headings_and_blocks_and_drops_scripts(tmp_path):
    markup = """<!DOCTYPE html><html><head><title>页面标题</title>
    <style>p { color: red }</style></head><body>
    <nav><a href="/">首页</a> | <a href="/news">新闻</a></nav>
    <h1>营口片区报告</h1>
    <script>var secret = "不应出现";</script>
    <h2>核心提示</h2>
    <p>营口片区以创新为抓手，
       推动项目建设。</p>
    <div>第一行<br>第二行</div>
    <!-- 注释不应出现 -->
    <table><tr><td>济南片区</td><td>37.99</td></tr></table>
    </body></html>"""
    text = load_file(write(tmp_path, "page.html", markup.encode())).text
    assert text.split("\n\n") == [
        "# 营口片区报告",
        "## 核心提示",
        "营口片区以创新为抓手， 推动项目建设。",
        "第一行",
        "第二行",
        "济南片区：37.99。",
    ]


def test_html_title_is_used_when_there_is_no_h1(tmp_path):
    markup = "<html><head><title>优化营商环境条例</title></head><body><p>正文。</p></body></html>"
    text = load_file(write(tmp_path, "page.htm", markup.encode("gbk"))).text
    assert text == "# 优化营商环境条例\n\n正文。"


def test_pdf_text_layer_with_page_starts(tmp_path):
    pages = ["第一条 为了促进外商投资，制定本法。", "第二条 本法自2020年1月1日起施行。"]
    source = load_file(make_pdf(tmp_path / "law.pdf", pages))
    assert len(source.page_starts) == 2
    assert source.page_starts[0] == 0
    for start, page in zip(source.page_starts, pages, strict=True):
        assert source.text[start:].startswith(page)


def test_pdf_without_any_text_or_image_is_empty(tmp_path):
    with pytest.raises(EmptyFile, match="no text layer and no page image"):
        load_file(make_pdf(tmp_path / "blank.pdf", ["", ""]))


# --- failures --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_empty_files_raise_empty_file(tmp_path, suffix):
    with pytest.raises(EmptyFile) as error:
        load_file(write(tmp_path, f"empty{suffix}", b" \n\n "))
    assert f"empty{suffix}" in str(error.value)


def test_docx_without_text_is_empty(tmp_path):
    path = tmp_path / "blank.docx"
    docx.Document().save(path)
    with pytest.raises(EmptyFile):
        load_file(path)


@pytest.mark.parametrize("suffix", [".pdf", ".docx"])
def test_random_bytes_are_corrupt(tmp_path, suffix):
    path = write(tmp_path, f"broken{suffix}", os.urandom(2048))
    with pytest.raises(CorruptFile) as error:
        load_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("name", ["notes.log", "config.json", "README"])
def test_unsupported_suffix(tmp_path, name):
    with pytest.raises(UnsupportedFile, match="not supported"):
        load_file(write(tmp_path, name, b"data"))


@pytest.mark.parametrize("name", ["sheet.xls", "old.doc", "scan.png"])
def test_text_under_a_binary_format_name_is_corrupt(tmp_path, name):
    with pytest.raises(CorruptFile, match="not that of a"):
        load_file(write(tmp_path, name, os.urandom(64)))


def test_missing_file_is_a_load_error(tmp_path):
    with pytest.raises(LoadError, match="not found"):
        load_file(tmp_path / "missing.txt")


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
def test_no_library_exception_escapes(tmp_path, suffix):
    # Whatever a file holds, loading either succeeds or raises one of our errors.
    path = write(tmp_path, f"junk{suffix}", bytes(range(256)) * 4)
    with contextlib.suppress(LoadError):
        load_file(path)


# --- corpus discovery ------------------------------------------------------------------


def test_find_corpus_files_expands_directories(tmp_path):
    for name in [
        "b.md",
        "a.txt",
        "sub/c.pdf",
        "sub/table.xls",
        ".hidden.txt",
        ".git/x.txt",
        "~$lock.docx",
    ]:
        write(tmp_path / "corpus", name, b"x")
    single = write(tmp_path, "single.txt", b"x")

    found = find_corpus_files([tmp_path / "corpus", single, tmp_path / "corpus" / "a.txt"])

    root = tmp_path / "corpus"
    assert found == [
        root / "a.txt",
        root / "b.md",
        root / "sub/c.pdf",
        root / "sub/table.xls",
        single,
    ]
