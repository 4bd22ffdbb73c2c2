"""Every format on generated files: the type comes from the content, and what is read."""

from __future__ import annotations

import shutil

import pytest
from samples import (
    convert,
    fee_csv,
    fee_workbook,
    fee_xls,
    ofd_file,
    policy_docx,
    rtf_file,
    soffice,
)

from index.errors import CorruptFile, UnsupportedFile
from index.formats.detect import Kind, detect
from index.loaders import load_file
from index.structure import parse_documents

needs_soffice = pytest.mark.skipif(
    soffice() is None,
    reason="LibreOffice is absent: apt-get install libreoffice-writer-nogui (makes the .doc)",
)
FEE_SENTENCE = "收费项目：集装箱查验费；计费单位：每标箱；金额：200元；备注：2024年3月1日起执行。"
TALLY_SENTENCE = "收费项目：理货费；计费单位：每标箱；金额：30元；备注：外贸集装箱。"


def kind(path):
    return detect(path, path.read_bytes())


# --- detection from content --------------------------------------------------------------


def test_a_docx_renamed_doc_is_read_as_docx(tmp_path):
    path = policy_docx(tmp_path / "notice.docx").rename(tmp_path / "notice.doc")
    assert kind(path) == Kind.DOCX
    assert "第一条 为规范口岸收费行为" in load_file(path).text


def test_signatures_decide_not_names(tmp_path):
    xlsx = fee_workbook(tmp_path / "fees.xlsx").rename(tmp_path / "fees.txt")
    rtf = rtf_file(tmp_path / "notice.doc", ["通知正文。"])
    ofd = ofd_file(tmp_path / "notice.zip", "通知", [["正文。"]])
    html = tmp_path / "export.xls"
    html.write_text("<html><body><table><tr><td>项目</td></tr></table></body></html>")
    png = tmp_path / "scan.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    assert [kind(p) for p in (xlsx, rtf, ofd, html, png)] == [
        Kind.XLSX,
        Kind.RTF,
        Kind.OFD,
        Kind.HTML,
        Kind.IMAGE,
    ]


def test_html_saved_as_txt_is_html_and_gbk_text_is_text(tmp_path):
    page = tmp_path / "page.txt"
    page.write_bytes("<!DOCTYPE html><html><head><title>通知</title></head></html>".encode("gbk"))
    text = tmp_path / "law.txt"
    text.write_bytes("第一条 本办法所称口岸。".encode("gbk"))
    assert (kind(page), kind(text)) == (Kind.HTML, Kind.TEXT)


def test_other_containers_are_refused_with_what_to_do(tmp_path):
    archive = tmp_path / "bundle.zip"
    with __import__("zipfile").ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(UnsupportedFile, match="unpack it"):
        load_file(archive)


# --- formats -----------------------------------------------------------------------------


def test_xlsx_merged_headers_name_every_column(tmp_path):
    source = load_file(fee_workbook(tmp_path / "fees.xlsx"))
    blocks = source.text.split("\n\n")
    assert blocks[:2] == ["# 营口港口岸收费标准", "## 营口港口岸收费标准"]
    assert blocks[2] == (
        "收费项目：集装箱查验费；收费标准·计费单位：每标箱；收费标准·金额：200元；"
        "备注：2024年3月1日起执行。"
    )
    assert "## 联系方式" in blocks
    assert "部门：口岸服务中心；电话：0417-6250001。" in blocks
    rows = [(p.table, p.row) for p in source.places]
    assert rows[:3] == [
        ("营口港口岸收费标准", 4),
        ("营口港口岸收费标准", 5),
        ("营口港口岸收费标准", 6),
    ]


def test_table_rows_are_cited_by_table_and_row(tmp_path):
    from index.chunking import chunk_document

    source = load_file(fee_workbook(tmp_path / "fees.xlsx"))
    documents = parse_documents("fees.xlsx", source.text, source.page_starts, source.places)
    chunks = [c for d in documents for c in chunk_document(d)]
    assert chunks[0].location == "营口港口岸收费标准 第4–6行"
    assert chunks[0].title == "营口港口岸收费标准"
    assert chunks[-1].location == "联系方式 第2行"


def test_csv_in_gbk_is_a_table(tmp_path):
    source = load_file(fee_csv(tmp_path / "fees.csv"))
    assert FEE_SENTENCE in source.text.split("\n\n")
    assert source.places[0].table == "fees"


def test_docx_table_keeps_its_place_between_articles(tmp_path):
    source = load_file(policy_docx(tmp_path / "notice.docx"))
    blocks = source.text.split("\n\n")
    assert blocks.index(TALLY_SENTENCE) == blocks.index("第三条 本办法自2024年3月1日起施行。") - 2
    assert {p.table for p in source.places} == {"表1"}


def test_rtf_with_gbk_escapes(tmp_path):
    source = load_file(rtf_file(tmp_path / "notice.rtf", ["第一条 口岸收费实行目录清单管理。"]))
    assert source.text == "第一条 口岸收费实行目录清单管理。"


def test_ofd_text_layer_in_reading_order_with_pages(tmp_path):
    long = (
        "第一条 为推进电子证照在口岸通关中的应用，营口片区对企业提交的电子证照与纸质证照同等对待。"
    )
    path = ofd_file(
        tmp_path / "notice.ofd", "电子证照应用通知", [[long], ["第二条 本通知自印发之日起施行。"]]
    )
    source = load_file(path)
    assert source.title == "电子证照应用通知"
    assert len(source.page_starts) == 2
    paragraphs = parse_documents("notice.ofd", source.text, source.page_starts)[0].paragraphs
    assert [(p.text, p.page) for p in paragraphs] == [
        (long, 1),
        ("第二条 本通知自印发之日起施行。", 2),
    ]


def test_broken_ofd_is_corrupt(tmp_path):
    path = ofd_file(tmp_path / "notice.ofd", "t", [["正文"]])
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Doc_0/Document.xml", b"Doc_9/Document.xml", 1))
    with pytest.raises(CorruptFile, match="OFD"):
        load_file(path)


@needs_soffice
@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_word_97_doc_and_wps(tmp_path, suffix):
    doc = convert(policy_docx(tmp_path / "notice.docx"), "doc", tmp_path / f"notice{suffix}")
    assert kind(doc) == Kind.WORD_BINARY
    source = load_file(doc)
    assert "第二条 口岸经营单位应当在营业场所公示收费项目和收费标准。" in source.text
    assert TALLY_SENTENCE in source.text.split("\n\n")


def test_xls_and_wps_et_are_read_like_xlsx(tmp_path):
    xls = fee_xls(tmp_path / "fees.xls")
    et = tmp_path / "fees.et"
    shutil.copyfile(xls, et)
    for path in (xls, et):
        assert kind(path) == Kind.SHEET_BINARY
        assert "收费项目：集装箱查验费；收费标准·计费单位：每标箱" in load_file(path).text


def test_doc_without_any_tool_says_what_to_install(tmp_path, monkeypatch):
    if soffice() is None:
        pytest.skip("needs LibreOffice to make the .doc: apt-get install libreoffice-writer-nogui")
    doc = convert(policy_docx(tmp_path / "notice.docx"), "doc", tmp_path / "notice.doc")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UnsupportedFile, match="apt-get install antiword"):
        load_file(doc)


@pytest.mark.skipif(
    shutil.which("antiword") is None, reason="antiword absent: apt-get install antiword"
)
def test_antiword_reads_the_doc_when_libreoffice_is_absent(tmp_path, monkeypatch):
    if soffice() is None:
        pytest.skip("needs LibreOffice to make the .doc: apt-get install libreoffice-writer-nogui")
    doc = convert(policy_docx(tmp_path / "notice.docx"), "doc", tmp_path / "notice.doc")
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if "office" in name else real_which(name)
    )
    assert "营口港口岸收费管理办法" in load_file(doc).text


def test_an_image_without_the_ocr_package_says_what_to_install(tmp_path, monkeypatch):
    from PIL import Image

    import index.formats.images as images
    from index.formats.ocr import OcrUnavailable

    def unavailable(image):
        raise OcrUnavailable("OCR needs rapidocr-onnxruntime: pip install rapidocr-onnxruntime")

    monkeypatch.setattr(images, "recognise", unavailable)
    path = tmp_path / "scan.png"
    Image.new("L", (200, 100), 255).save(path)
    with pytest.raises(UnsupportedFile, match="pip install rapidocr-onnxruntime"):
        load_file(path)
