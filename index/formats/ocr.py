"""Offline OCR of page images with RapidOCR (PP-OCRv4 models shipped inside its wheel).

A page is recognised line by line; lines are put back in reading order (top to bottom,
left to right within a line of text) and each keeps the recogniser's confidence, so a
page whose text is mostly guesses can be skipped instead of indexed as noise.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache

# A page whose character-weighted mean line confidence is below this is skipped. On the
# generated scans blurred step by step (bench/documents.py prints the sweep) the page
# confidence tracks character accuracy within about 0.03 (0.99 → 0.98, 0.94 → 0.93,
# 0.90 → 0.88, 0.86 → 0.83): at 0.9 a kept page reads at least ~88% of its characters
# right, enough for search; below it numbers and names are too often wrong to cite.
MIN_PAGE_CONFIDENCE = 0.9
# The recogniser drops the space after an article label ("第一条集装箱…"); the label is
# only recognised as an article when something separates it from the text.
_ARTICLE_LABEL = re.compile(
    r"^(第[零〇一二三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?)(?=\S)"
)
_LOCK = threading.Lock()  # one recognition at a time: the engine is not thread-safe


class OcrUnavailable(RuntimeError):
    """rapidocr-onnxruntime is not installed."""


@dataclass(frozen=True)
class OcrPage:
    lines: list[str]
    confidence: float  # character-weighted mean over the lines; 0 when nothing was found

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def recognise(image) -> OcrPage:
    """The text lines of a PIL image, in reading order, with the page's confidence."""
    import numpy as np

    engine = _engine()
    with _LOCK:
        result, _ = engine(np.asarray(image.convert("RGB")))
    boxes = [(box, text.strip(), float(score)) for box, text, score in result or [] if text.strip()]
    if not boxes:
        return OcrPage([], 0.0)
    lines = _reading_order(boxes)
    chars = sum(len(text) for _, text, _ in boxes)
    confidence = sum(len(text) * score for _, text, score in boxes) / chars
    return OcrPage([_ARTICLE_LABEL.sub(r"\1 ", line) for line in lines], confidence)


@cache
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise OcrUnavailable(
            "OCR needs rapidocr-onnxruntime: pip install rapidocr-onnxruntime"
        ) from None
    import logging

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR()


def _reading_order(boxes: list[tuple[list, str, float]]) -> list[str]:
    """Group boxes whose vertical centres lie within half a line height into one line,
    lines top to bottom, boxes in a line left to right (joined by a space)."""
    items = []
    for box, text, _ in boxes:
        ys = [point[1] for point in box]
        xs = [point[0] for point in box]
        items.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    items.sort()
    lines: list[list[tuple[float, float, float, str]]] = []
    for item in items:
        if lines and abs(item[0] - lines[-1][0][0]) < max(item[1], lines[-1][0][1]) / 2:
            lines[-1].append(item)
        else:
            lines.append([item])
    return [" ".join(text for *_, text in sorted(line, key=lambda i: i[2])) for line in lines]
