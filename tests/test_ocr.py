"""OCR on generated scans: image-only PDF pages and image files, offline (RapidOCR)."""

from __future__ import annotations

import pytest
from samples import CLEARANCE, CREDIT, FONT_HINT, cjk_font, render_scan, scan_pdf

from index.chunking import chunk_document
from index.errors import EmptyFile
from index.loaders import load_file
from index.structure import parse_documents

pytestmark = pytest.mark.skipif(cjk_font() is None, reason=FONT_HINT)
pytest.importorskip("rapidocr_onnxruntime", reason="pip install rapidocr-onnxruntime")


def page(*paragraphs, blur=0.6):
    return render_scan(list(paragraphs), blur=blur, height=700)


@pytest.fixture(scope="module")
def scanned_pdf(tmp_path_factory):
    """Three image-only pages; the second is blurred beyond reading."""
    path = tmp_path_factory.mktemp("scan") / "notice.pdf"
    return scan_pdf(path, [page(CLEARANCE), page(CREDIT, blur=3.8), page(CREDIT)])


def test_scanned_pdf_pages_are_recognised_with_page_numbers(scanned_pdf):
    source = load_file(scanned_pdf)
    documents = parse_documents("notice.pdf", source.text, source.page_starts, source.places)
    chunks = [chunk for document in documents for chunk in chunk_document(document)]
    by_page = {chunk.page: chunk for chunk in chunks}
    assert sorted(by_page) == [1, 3]
    assert "船边直提" in by_page[1].text and "1.5小时" in by_page[1].text
    assert "0.5%" in by_page[3].text
    assert [chunk.location for chunk in chunks] == ["第三条 · OCR", "第四条 · OCR"]


def test_a_page_below_the_confidence_threshold_is_skipped_with_a_reason(scanned_pdf):
    notes = load_file(scanned_pdf).notes
    assert len(notes) == 1
    assert notes[0].startswith("第2页：OCR 置信度") and "已跳过" in notes[0]


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_image_files_are_recognised(tmp_path, suffix):
    path = tmp_path / f"scan{suffix}"
    page(CREDIT).convert("RGB").save(path)
    source = load_file(path)
    assert "高级认证企业" in source.text
    assert source.places[0].ocr


def test_an_image_without_text_is_empty_with_advice(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (800, 600), 255).save(path)
    with pytest.raises(EmptyFile, match="sharper scan"):
        load_file(path)
