"""Saved web pages: the article without the site around it, plus its title, date and issuer.

Government pages wrap a short article in accessibility bars, menus, breadcrumbs, meta
lines ("发布时间… 浏览次数：1268 【字体：大 中 小】 打印本页 关闭窗口"), share bars,
related links and footers (主办单位, ICP备, 网站标识码). readability-lxml picks the main
content block; what furniture remains inside it is dropped line by line. The title comes
from the page's ArticleTitle meta tag, else from <title> without the site and column names
(confirmed by a heading on the page), else from <h1>; date and issuer from the meta tags
or the page's meta line. Tables become row sentences; merged cells (rowspan/colspan)
are expanded.
"""

from __future__ import annotations

import re
from pathlib import Path

from index.formats.encodings import decode_text
from index.formats.source import SourceText, TextBuilder
from index.formats.tables import read_table, write_table

_SPACE = re.compile(r"\s+")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Elements that end the current paragraph; everything else is inline text.
_BLOCKS = frozenset(
    "p div section article main aside header footer blockquote pre ul ol li dl dt dd "
    "table thead tbody tfoot tr td th caption figure figcaption form fieldset address hr "
    "body html center details summary".split()
)
_DROPPED = ("script", "style", "noscript", "template", "head", "nav", "iframe", "form", "button")
# Separators between the article title and the column or site name in <title>.
_TITLE_SEPARATORS = re.compile(r"\s*(?:_+|--+|-|—+|–|\|)\s*")
_META_TITLE = ("articletitle", "og:title")
_META_DATE = ("pubdate", "publishdate", "article:published_time", "firstpublishedtime", "date")
_META_ISSUER = ("contentsource", "source", "author")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_DATE_LABEL = re.compile(
    r"(?:发布时间|发布日期|发文日期|成文日期|时间|日期)\s*[:：]\s*" + _DATE.pattern
)
_ISSUER = re.compile(
    r"(?:信息来源|来源|发布机构|发文机关|发布单位)\s*[:：]\s*([^\s　:：|【】]{2,30})"
)
# Page furniture: a short line holding one of these is not article text.
_FURNITURE = re.compile(
    r"浏览次数|阅读量|阅读次数|点击数|访问量|打印本页|关闭窗口|【打印】|【关闭】|\[打印\]|\[关闭\]"
    r"|字体\s*[:：]?\s*【?\s*大\s*中\s*小|分享到|上一篇|下一篇|责任编辑|ICP备|ICP证"
    r"|网站标识码|公网安备|版权所有|主办单位|承办单位|技术支持|当前位置|您现在的位置|您的位置"
    r"|无障碍浏览|长者模式|设为首页|加入收藏|扫一扫|手机版|友情链接|相关链接|网站地图"
)
# A meta line: a date or a meta label first ("2024-04-12 来源：…", "时间：… 来源：…").
_META_LINE = re.compile(
    r"^(?:发布时间|发布日期|时间|日期|来源|信息来源|作者|发布机构)\s*[:：]"
    r"|^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?\s*(?:\d{1,2}:\d{2}(?::\d{2})?\s*$|来源|作者)"
)
_FURNITURE_MAX_CHARS = 120  # longer blocks are article text even if they mention these
_MIN_ARTICLE_CHARS = 40  # readability found nothing usable below this


def load_html(path: Path, data: bytes) -> SourceText:
    """The page's article as blocks, with its title, publication date and issuer."""
    from bs4 import BeautifulSoup

    markup = decode_text(data, path)
    page = BeautifulSoup(markup, "html.parser")
    metadata = _meta_tags(page)
    title = _title(page, metadata)
    article = _article(markup) or page.body or page
    for tag in article(_DROPPED):
        tag.decompose()
    builder = TextBuilder()
    if title:
        builder.heading(title, 1)
    blocks: list[tuple[str, object]] = []
    _walk(article, blocks, [])
    tables = 0
    for kind, value in blocks:
        if kind == "table":
            tables += 1
            write_table(builder, value, f"表{tables}")
        elif not _is_furniture(value[1], title):
            level, text = value
            if level:
                builder.heading(text, level)
            else:
                builder.add(text)
    page_text = page.get_text("\n")
    return builder.build(
        title=title or None,
        published=metadata.get("date") or _labelled_date(page_text),
        issuer=metadata.get("issuer") or _labelled_issuer(page_text),
    )


def _article(markup: str):
    """The main content block as readability-lxml finds it, parsed again with bs4."""
    from bs4 import BeautifulSoup
    from readability import Document

    try:
        summary = Document(markup).summary(html_partial=True)
    except Exception:  # readability fails on odd markup; the whole page is the fallback
        return None
    article = BeautifulSoup(summary, "html.parser")
    if len(_SPACE.sub("", article.get_text())) < _MIN_ARTICLE_CHARS:
        return None
    return article


def _meta_tags(page) -> dict[str, str]:
    """Title, date and issuer from <meta> (Chinese government sites carry ArticleTitle,
    PubDate and ContentSource by the national website guidelines)."""
    found: dict[str, str] = {}
    for meta in page.find_all("meta"):
        name = (meta.get("name") or meta.get("property") or "").strip().lower()
        content = _SPACE.sub(" ", meta.get("content") or "").strip()
        if not content:
            continue
        if name in _META_TITLE:
            found.setdefault("title", content)
        elif name in _META_DATE and (date := _iso_date(content)):
            found.setdefault("date", date)
        elif name in _META_ISSUER:
            found.setdefault("issuer", content)
        elif name == "sitename":
            found.setdefault("site", content)
        elif name == "columnname":
            found.setdefault("column", content)
    return found


def _title(page, metadata: dict[str, str]) -> str:
    """The article title, never the site's name (see the module docstring)."""
    if metadata.get("title"):
        return metadata["title"]
    raw = _SPACE.sub(" ", page.title.get_text(" ")).strip() if page.title else ""
    furniture = {metadata.get("site"), metadata.get("column")}
    parts = [p for p in _TITLE_SEPARATORS.split(raw) if p and p not in furniture]
    shown = _shown_titles(page)
    on_page = [part for part in parts if part in shown]
    if on_page:  # the longest part of <title> the page also shows: site names are short
        return max(on_page, key=len)
    for text in shown:  # a heading that holds the whole <title> part, e.g. a longer form
        if parts and parts[0] in text and len(text) <= 2 * len(parts[0]):
            return text
    h1 = page.find("h1")
    if h1 is not None and (heading := _SPACE.sub(" ", h1.get_text(" ")).strip()):
        return heading
    return parts[0] if parts else ""


def _shown_titles(page) -> list[str]:
    """Texts of headings and other short, stand-alone elements a title is shown in."""
    shown = []
    for tag in page.find_all(["h1", "h2", "h3", "strong", "b", "div", "p", "td", "span"]):
        text = _SPACE.sub(" ", tag.get_text(" ")).strip()
        if 4 <= len(text) <= 80:
            shown.append(text)
    return shown


def _is_furniture(text: str, title: str) -> bool:
    return text == title or (
        len(text) <= _FURNITURE_MAX_CHARS
        and (_FURNITURE.search(text) is not None or _META_LINE.search(text) is not None)
    )


def _labelled_date(text: str) -> str | None:
    """ "发布时间：2024-03-05", else a meta line that starts with the date."""
    match = _DATE_LABEL.search(text)
    if match:
        return _iso_date(match.group(0))
    for line in text.splitlines():
        line = line.strip()
        if _DATE.match(line) and _META_LINE.search(line):
            return _iso_date(line)
    return None


def _labelled_issuer(text: str) -> str | None:
    match = _ISSUER.search(text)
    return match.group(1) if match else None


def _iso_date(text: str) -> str | None:
    match = _DATE.search(text)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _walk(root, blocks: list, inline: list[str]) -> None:
    """Collect ("text", (level, text)) and ("table", TableText) blocks in order. Walks
    with its own stack, not by recursion: a hostile page nests thousands of tags deep."""
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString

    done = object()
    stack = [(iter(root.children), False)]  # (children to visit, whether a block element)
    while stack:
        children, block = stack[-1]
        child = next(children, done)
        if child is done:
            stack.pop()
            if block:
                _flush(blocks, inline)
        elif isinstance(child, PreformattedString):  # comments, CDATA, doctype
            continue
        elif isinstance(child, NavigableString):
            inline.append(_SPACE.sub(" ", str(child)))
        elif not isinstance(child, Tag):
            continue
        elif child.name in _HEADINGS:
            _flush(blocks, inline)
            text = _SPACE.sub(" ", child.get_text(" ")).strip()
            if text:
                blocks.append(("text", (int(child.name[1]), text)))
        elif child.name == "table" and not _is_layout_table(child):
            _flush(blocks, inline)
            blocks.append(("table", read_table(*_html_grid(child))))
        elif child.name == "br":
            inline.append("\n")
        else:
            if child.name in _BLOCKS:
                _flush(blocks, inline)
            stack.append((iter(child.children), child.name in _BLOCKS))


def _flush(blocks: list, inline: list[str]) -> None:
    """Turn collected inline text into paragraphs (a <br> ends one)."""
    for line in "".join(inline).split("\n"):
        text = line.strip(" \u3000\xa0")
        if text:
            blocks.append(("text", (0, text)))
    inline.clear()


def _is_layout_table(table) -> bool:
    """A table used for page layout: its cells hold paragraphs or further tables."""
    return table.find(["table", "p", "div", "ul"]) is not None


def _html_grid(table):
    """Rows of cell texts and owners, with rowspan/colspan expanded over the grid."""
    cells: dict[tuple[int, int], tuple[str, int]] = {}
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    for r, tr in enumerate(rows):
        c = 0
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, c) in cells:
                c += 1
            text = _SPACE.sub(" ", cell.get_text(" ")).strip()
            for dr in range(_span(cell, "rowspan")):
                for dc in range(_span(cell, "colspan")):
                    cells[(r + dr, c + dc)] = (text, id(cell))
            c += _span(cell, "colspan")
    height = len(rows)
    width = max((c for _, c in cells), default=-1) + 1
    texts = [[cells.get((r, c), ("", (r, c)))[0] for c in range(width)] for r in range(height)]
    owners = [[cells.get((r, c), ("", (r, c)))[1] for c in range(width)] for r in range(height)]
    return texts, owners


def _span(cell, attribute: str) -> int:
    try:
        return max(1, min(int(cell.get(attribute, 1)), 50))
    except (TypeError, ValueError):
        return 1
