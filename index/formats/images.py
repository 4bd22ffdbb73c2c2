"""Image files (.png/.jpg/.tif, every frame of a multi-page TIFF) and scanned PDF pages
to text by OCR: one page at a time, with a progress bar, marked as OCR'd text."""

from __future__ import annotations

from pathlib import Path

from index.errors import CorruptFile, EmptyFile, UnsupportedFile
from index.formats.ocr import MIN_PAGE_CONFIDENCE, OcrUnavailable, recognise
from index.formats.source import SourceText, TextBuilder

# Larger images are scaled down before recognition: detection time grows with the area,
# and an A4 page at 1600 pixels (about 140 dpi) still reads 10-point text as well as at
# 200 dpi (measured on the generated scans: same text, 0.99 confidence, a third faster).
_MAX_SIDE = 1600


def load_image(path: Path, data: bytes = b"") -> SourceText:
    """The text of an image file, each frame a page."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise CorruptFile(
            f"{path}: the image could not be read ({type(error).__name__}). Re-save it as PNG."
        ) from None
    frames = getattr(image, "n_frames", 1)
    builder = TextBuilder()
    with ocr_progress(path, frames) as bar:
        for number in range(1, frames + 1):
            ocr_page(builder, path, number, _frame(image, number))
            bar.update(1)
    if builder.empty:
        raise EmptyFile(
            f"{path}: no text recognised in the image"
            + (f" ({'; '.join(builder.notes)})" if builder.notes else "")
            + ". Use a sharper scan (300 dpi, black text on white)."
        )
    return builder.build()


def ocr_progress(path: Path, pages: int):
    """A progress bar over the pages of one file to recognise (shown on a terminal)."""
    from tqdm import tqdm

    return tqdm(
        total=pages,
        desc=f"OCR {path.name}",
        unit="页",
        leave=False,
        disable=None if pages else True,
    )


def ocr_page(builder: TextBuilder, path: Path, number: int, image) -> None:
    """Recognise page `number` into `builder` as one block marked OCR; a page below the
    confidence threshold is left out with a note saying so."""
    builder.page()
    try:
        page = recognise(_bounded(image))
    except OcrUnavailable as error:
        raise UnsupportedFile(f"{path}: {error}") from None
    if not page.lines:
        return
    if page.confidence < MIN_PAGE_CONFIDENCE:
        builder.notes.append(
            f"第{number}页：OCR 置信度 {page.confidence:.2f} 低于 {MIN_PAGE_CONFIDENCE}，"
            "已跳过（扫描不清晰，请提供更清晰的扫描件）"
        )
        return
    builder.add(page.text, ocr=True)


def _frame(image, number: int):
    image.seek(number - 1)
    return image.copy()


def _bounded(image):
    """The image at most _MAX_SIDE pixels a side, in greyscale-safe RGB."""
    scale = _MAX_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    return image.convert("RGB")
