"""OFD (GB/T 33190, the national electronic document format): the text layer.

An OFD file is a zip: OFD.xml names each document's Document.xml, which lists its pages;
each page's Content.xml holds TextObjects (a boundary box, a font size, and TextCode runs
at offsets inside the box). Text is put back in reading order by position: runs on one
baseline form a line, lines go top to bottom; the structure parser repairs paragraphs.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from index.errors import CorruptFile, EmptyFile
from index.formats.source import SourceText, TextBuilder


@dataclass(frozen=True)
class _Run:
    y: float
    x: float
    size: float
    text: str


def load_ofd(path: Path, data: bytes = b"") -> SourceText:
    builder = TextBuilder()
    title = None
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.lower(): name for name in archive.namelist()}
            root = _xml(archive, names["ofd.xml"])
            title = _first_text(root, "Title")
            for doc_root in _all(root, "DocRoot"):
                document = _resolve("", doc_root.text or "")
                for page in _pages(archive, names, document):
                    builder.page()
                    builder.add("\n".join(_lines(page)))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as error:
        raise CorruptFile(
            f"{path}: the OFD file could not be read ({type(error).__name__}). "
            "Re-export it from the OFD reader."
        ) from None
    if builder.empty:
        raise EmptyFile(
            f"{path}: the OFD file has no text layer (probably a scan inside OFD). "
            "Export it as PDF and add that: its scanned pages are read by OCR."
        )
    return builder.build(title=title)


def _pages(archive: zipfile.ZipFile, names: dict[str, str], document: str):
    """Each page's runs, in page order."""
    doc = _xml(archive, names[document.lower()])
    for page in _all(doc, "Page"):
        location = _resolve(posixpath.dirname(document), page.get("BaseLoc", ""))
        yield list(_runs(_xml(archive, names[location.lower()])))


def _runs(content: ElementTree.Element):
    for text_object in _all(content, "TextObject"):
        x, y = (float(v) for v in (text_object.get("Boundary") or "0 0 0 0").split()[:2])
        size = float(text_object.get("Size") or 3.5)
        for code in _all(text_object, "TextCode"):
            if code.text and code.text.strip():
                yield _Run(
                    y + float(code.get("Y") or 0), x + float(code.get("X") or 0), size, code.text
                )


def _lines(runs: list[_Run]) -> list[str]:
    """Runs on about the same baseline (within half a font size) are one line."""
    lines: list[list[_Run]] = []
    for run in sorted(runs, key=lambda r: (r.y, r.x)):
        if lines and abs(run.y - lines[-1][0].y) < run.size / 2:
            lines[-1].append(run)
        else:
            lines.append([run])
    return [_join(sorted(line, key=lambda r: r.x)) for line in lines]


def _join(line: list[_Run]) -> str:
    """Runs joined directly (Chinese), with a space between two Latin words or numbers."""
    text = line[0].text
    for run in line[1:]:
        if text[-1].isascii() and text[-1].isalnum() and run.text[0].isascii():
            text += " "
        text += run.text
    return text


def _resolve(base: str, location: str) -> str:
    """A zip member name from an OFD location: absolute ("/Doc_0/…") or relative."""
    if location.startswith("/"):
        return posixpath.normpath(location.lstrip("/"))
    return posixpath.normpath(posixpath.join(base, location))


def _xml(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    return ElementTree.fromstring(archive.read(name))


def _all(element: ElementTree.Element, local_name: str) -> list[ElementTree.Element]:
    """Descendants by local name, whatever the namespace prefix (files differ)."""
    return [e for e in element.iter() if e.tag.rsplit("}", 1)[-1] == local_name]


def _first_text(element: ElementTree.Element, local_name: str) -> str | None:
    found = _all(element, local_name)
    return (found[0].text or "").strip() or None if found else None
