"""HTML pages: visible text, headings as `#` lines, each block a paragraph, table rows."""

from __future__ import annotations

import re
from pathlib import Path

from index.formats.encodings import decode_text
from index.formats.source import SourceText

# Whitespace runs in HTML text, which a browser renders as one space (<br> is the only
# line break, added separately).
_HTML_SPACE = re.compile(r"\s+")

_HTML_DROPPED = ("script", "style", "nav", "noscript", "template", "head")
_HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Elements that end the current paragraph; everything else is inline text.
_HTML_BLOCKS = frozenset(
    "p div section article main aside header footer blockquote pre ul ol li dl dt dd "
    "table thead tbody tfoot tr caption figure figcaption form fieldset address hr body "
    "html center details summary".split()
)


def load_html(path: Path, data: bytes) -> SourceText:
    return SourceText(_html_text(decode_text(data, path)))


def _html_text(markup: str) -> str:
    """Visible text of an HTML page: headings as `#` lines, each block a paragraph."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_HTML_DROPPED):
        tag.decompose()
    blocks: list[str] = []
    if title and soup.find("h1") is None:
        blocks.append(f"# {title}")
    _html_blocks(soup, blocks, [])
    return "\n\n".join(blocks)


def _html_blocks(node, blocks: list[str], inline: list[str]) -> None:
    """Walk the tree, collecting inline text and flushing it at every block boundary."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    for child in node.children:
        if isinstance(child, PreformattedString):  # comments, CDATA, doctype
            continue
        if isinstance(child, NavigableString):
            inline.append(_HTML_SPACE.sub(" ", str(child)))
        elif isinstance(child, Tag) and child.name in _HTML_HEADINGS:
            _flush(blocks, inline)
            text = _HTML_SPACE.sub(" ", child.get_text(" ")).strip()
            if text:
                blocks.append(f"{'#' * int(child.name[1])} {text}")
        elif isinstance(child, Tag) and child.name == "tr":
            _flush(blocks, inline)
            cells = [_HTML_SPACE.sub(" ", c.get_text(" ")).strip() for c in child(["td", "th"])]
            if any(cells):
                blocks.append("| " + " | ".join(cells) + " |")
        elif isinstance(child, Tag) and child.name == "br":
            inline.append("\n")
        elif isinstance(child, Tag) and child.name in _HTML_BLOCKS:
            _flush(blocks, inline)
            _html_blocks(child, blocks, inline)
            _flush(blocks, inline)
        elif isinstance(child, Tag):
            _html_blocks(child, blocks, inline)


def _flush(blocks: list[str], inline: list[str]) -> None:
    """Turn collected inline text into a paragraph (lines kept where <br> put them)."""
    lines = (line.strip() for line in "".join(inline).split("\n"))
    text = "\n".join(line for line in lines if line)
    if text:
        blocks.append(text)
    inline.clear()
