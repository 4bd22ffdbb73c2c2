"""Plain text to documents: repaired paragraphs with their section, article and page.

Input is what the loaders produce: policy documents with markdown `#` headings or plain
"第一章 总则" lines and "第X条" articles, and newspaper pages extracted line by line, where
sentences are broken across blank lines and photo captions, bylines and column labels sit
between the paragraphs (captions and labels are dropped; a byline stays, as a paragraph of
its own). Each line is first classified on its own (with the blank lines
around it as context), then lines are assembled into paragraphs, sections and documents.

Paragraphs are built only from whole source lines joined across whitespace, so every
paragraph's non-whitespace characters are exactly those of `text[start:end]`; the chunker
relies on this to map chunk offsets back into the source.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from index.documents import Document, Paragraph

_CJK = r"\u4e00-\u9fff"
_NUMERAL = r"[零〇一二三四五六七八九十百千\d]+"

# "第十九条 …" / "第一百二十条之一：…" (optionally **bold**) starts an article; the label
# must be followed by a separator so that prose such as "第二条规定的…" does not match.
_ARTICLE = re.compile(
    rf"^(?:\*\*)?(?P<label>第{_NUMERAL}条(?:之[一二三四五六七八九十]+)?)(?:\*\*)?(?=[\s　:：]|$)"
)

# "第一章  总 则", "第二节 关税", "第一编", "第三部分 保障措施": a legal division heading.
_LEGAL_HEADING = re.compile(
    rf"^(?P<label>第{_NUMERAL}(?P<unit>编|部分|章|节))"
    r"(?:[\s　]+(?P<name>[^。；;，,！？!?]{1,30}))?$"
)
_LEGAL_LEVEL = {"编": 1, "部分": 1, "章": 2, "节": 3}

# "## 标题 ##": a markdown ATX heading; the number of `#`s is its level.
_MD_HEADING = re.compile(r"^(?P<hashes>#{1,6})[ \t]+(?P<name>.*?)(?:[ \t]+#+)?$")
# Markdown that carries no text: an HTML comment on one line, or a horizontal rule.
_MD_NOISE = re.compile(r"^(?:<!--.*-->|-{3,}|\*{3,}|_{3,})$")

# "（一）…", "一、…", "1. …", "①…": an enumerated item; it never continues the line before.
_LIST_ITEM = re.compile(
    r"^(?:[（(][一二三四五六七八九十]+[）)]|[一二三四五六七八九十]+、|\d{1,2}[.、．](?!\d)|[①-⑳])"
)
# Heading levels below the legal divisions, by how the heading is enumerated.
_LIST_LEVELS = ((re.compile(r"^[一二三四五六七八九十]+、"), 4), (re.compile(r"^[（(]"), 5))
_PLAIN_HEADING_LEVEL = 4

# "2019年10月8日 国务院第66次常务会议通过": a dated record line (enactment, amendment);
# a paragraph of its own, never a heading.
_DATELINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日[\s　]")

# "本报记者 佟利德", "（记者 张三 通讯员 李四）", "文/图 王五": who wrote or photographed.
_BYLINE = re.compile(
    rf"""^[（(]?
    (?:
        (?:本报|本刊|新华社|中新社)(?:特约|首席|实习)?(?:记者|通讯员)[\s　:：]*  # 本报记者
      | (?:特约|首席|实习)?(?:记者|通讯员|实习生|撰稿|编辑|摄影|文/图|文|图)
        [\s　:：/]+                          # a bare role needs a separator: "记者 张三"
    )
    [{_CJK}·]{{2,6}}                         # a name
    (?:[\s　、，,]+[{_CJK}·]{{2,6}})*         # more names or roles
    [）)]?$""",
    re.VERBOSE,
)

# A photo caption or credit, recognised by its wording.
_PHOTO_CAPTION = re.compile(
    r"""^图[为：:]          # "图为…" opens a caption
    | [，,。]图为           # "…，图为…": the scene first, then what the photo shows
    | 图片由.{1,40}?提供    # "本版图片由…提供"
    | 供图$ | 图片来源      # credits
    | [\s　]摄$             # "本报记者 张三 摄"
    """,
    re.VERBOSE,
)
_CAPTION_MAX_CHARS = 80
# A caption recognised only by layout: short, one sentence, alone after a blank-line run.
_LONE_CAPTION_MAX_CHARS = 40

# "一线采风 YIXIAN": a newspaper column label, Chinese name plus its pinyin in capitals
# (at least four letters, so that a heading such as "加入 WTO" is kept).
_COLUMN_LABEL = re.compile(rf"^[{_CJK}]{{2,8}}[\s　]+[A-Z]{{4,}}(?:[\s　]+[A-Z]+)*$")
# "3", "- 3 -", "第3页", "3/10", "第 3 页 共 10 页": a page number from a PDF header/footer.
_PAGE_NUMBER = re.compile(
    r"^[-—–\s]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[/／]\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-—–\s]*$"
)

# "——来自辽宁自贸试验区营口片区的报告": a subtitle under a headline.
_SUBTITLE = re.compile(r"^——\s*\S.{0,60}$")

_HEADING_MAX_CHARS = 40
# A line ending in one of these ends its paragraph (":" introduces a list or a quote).
_LINE_FINAL = "。！？；…!?;：:."
# Closing quotes and brackets, looked through when checking how a line ends.
_CLOSERS = "”’」』）)》〉】\"'"
# Punctuation that a heading does not contain.
_SENTENCE_PUNCT = re.compile(r"[。！？；;!?，,]")
_BRACKET_PAIRS = ("“”", "（）", "()", "《》", "「」", "『』", "【】")
# Two single CJK characters spaced apart, as in padded chapter names ("总 则").
_PADDED_CJK = re.compile(rf"(?<=[{_CJK}])[\s　]+(?=[{_CJK}](?:[\s　]|$))")
_SPACES = re.compile(r"[\s　]+")


class _Kind(Enum):
    BODY = "body"  # paragraph text
    ARTICLE = "article"  # first line of a 第X条 article (also paragraph text)
    TABLE = "table"  # "| a | b |" row: a paragraph of its own
    HEADING = "heading"
    SUBTITLE = "subtitle"  # "——…": part of the title when right under it, else body
    BYLINE = "byline"  # a paragraph of its own ("who wrote it?"); marks a news article
    NOISE = "noise"  # captions, credits, column labels, page numbers, markup: dropped


@dataclass
class _Line:
    """One non-blank source line, stripped, with its offsets and surroundings."""

    start: int
    end: int
    text: str
    blanks_before: int
    blank_after: bool
    kind: _Kind = _Kind.BODY
    level: int = 0  # heading level, smaller is higher
    label: str | None = None  # article label, e.g. "第十九条"
    opens: bool = False  # never continues the line before (list item, dated record)


def parse_documents(source: str, text: str, page_starts: tuple[int, ...] = ()) -> list[Document]:
    """Split one file's text into documents of repaired, located paragraphs.

    `source` names the file (used for titles and stable ids), `text` is its decoded text
    and `page_starts` the PDF page offsets from the loader. Documents without any
    paragraph (a lone headline) are left out.
    """
    lines = _split_lines(text)
    _classify(lines)
    return _Assembler(source, text, tuple(page_starts)).run(lines)


def _split_lines(text: str) -> list[_Line]:
    """Non-blank lines with stripped offsets and how many blank lines surround them."""
    lines: list[_Line] = []
    blanks = 0
    offset = 0
    for raw in text.split("\n"):
        line_start, offset = offset, offset + len(raw) + 1
        stripped = raw.strip()
        if not stripped:
            blanks += 1
            if lines:
                lines[-1].blank_after = True
            continue
        start = line_start + len(raw) - len(raw.lstrip())
        lines.append(_Line(start, start + len(stripped), stripped, blanks, blank_after=False))
        blanks = 0
    if lines:
        lines[-1].blank_after = True  # the end of the file separates like a blank line
    return lines


def _classify(lines: list[_Line]) -> None:
    """Decide what each line is; multi-line HTML comments are dropped as a whole."""
    in_comment = False
    for number, line in enumerate(lines):
        if in_comment or (line.text.startswith("<!--") and "-->" not in line.text):
            line.kind = _Kind.NOISE
            in_comment = "-->" not in line.text
            continue
        _classify_line(line, first=number == 0)


def _classify_line(line: _Line, first: bool) -> None:
    """Set kind, level, label and opens for one line from its text and blank context."""
    text = line.text
    md = _MD_HEADING.match(text)
    if md:
        _classify_markdown_heading(line, md)
    elif article := _ARTICLE.match(text):
        line.kind, line.label = _Kind.ARTICLE, article.group("label")
    elif legal := _LEGAL_HEADING.match(text):
        line.kind, line.level = _Kind.HEADING, _LEGAL_LEVEL[legal.group("unit")]
        line.text = _legal_heading_name(legal)
    elif _MD_NOISE.match(text) or _PAGE_NUMBER.match(text) or _COLUMN_LABEL.match(text):
        line.kind = _Kind.NOISE
    elif text.startswith("|") and text.endswith("|"):
        line.kind = _Kind.TABLE
    elif _BYLINE.match(text):
        line.kind = _Kind.BYLINE
    elif not first and _is_caption(line):
        line.kind = _Kind.NOISE
    elif _SUBTITLE.match(text):
        line.kind = _Kind.SUBTITLE
    elif _DATELINE.match(text) or _is_parenthetical(text):
        line.opens = True
    elif _looks_like_heading(text):
        line.kind, line.level = _Kind.HEADING, _enumerated_level(text)
        line.text = _SPACES.sub(" ", text)
    else:
        line.opens = bool(_LIST_ITEM.match(text))


def _classify_markdown_heading(line: _Line, md: re.Match) -> None:
    """A `#` line is a heading, unless it holds an article label ("### 第十九条 …")."""
    name = md.group("name").strip()
    if article := _ARTICLE.match(name):
        line.start += line.text.index(name)  # the paragraph text starts after the `#`s
        line.end = line.start + len(name)
        line.text = name
        line.kind, line.label = _Kind.ARTICLE, article.group("label")
        return
    line.kind = _Kind.HEADING
    legal = _LEGAL_HEADING.match(name)
    if legal:
        line.level, line.text = _LEGAL_LEVEL[legal.group("unit")], _legal_heading_name(legal)
    else:
        line.level, line.text = len(md.group("hashes")), _SPACES.sub(" ", name)


def _legal_heading_name(match: re.Match) -> str:
    """Name a legal division as 第一章 总则 (from "第一章  总 则"): one space, no padding."""
    name = match.group("name")
    if not name:
        return match.group("label")
    name = _PADDED_CJK.sub("", name.strip())
    return f"{match.group('label')} {_SPACES.sub(' ', name)}"


def _is_caption(line: _Line) -> bool:
    """A photo caption or credit: by wording, or a short lone sentence after a gap.

    Newspaper extractions put captions between paragraphs, separated by more than the
    single blank line that separates paragraphs; body text does not end up alone there.
    """
    text = line.text
    if len(text) <= _CAPTION_MAX_CHARS and _PHOTO_CAPTION.search(text):
        return True
    return (
        line.blanks_before >= 2
        and line.blank_after
        and len(text) <= _LONE_CAPTION_MAX_CHARS
        and text.endswith("。")
    )


def _is_parenthetical(text: str) -> bool:
    """A line wholly in brackets, like "（2019年3月15日…通过）", is a note, not a heading."""
    return text[0] in "（(" and text[-1] in "）)" and _balanced(text)


def _looks_like_heading(text: str) -> bool:
    """A short line that is not a sentence: no sentence punctuation, brackets closed.

    This is what separates "驻村先“驻心”" (a heading) from "今年,营口片区将推动建设生物"
    or "“近十年来没有人家在村里办" (sentences broken by the extraction).
    """
    return (
        len(text) <= _HEADING_MAX_CHARS
        and not _SENTENCE_PUNCT.search(text)
        and not _ends_paragraph(text)
        and _balanced(text)
        and re.search(r"\w", text) is not None
    )


def _enumerated_level(text: str) -> int:
    """Level of a plain-text heading: "一、" above "（一）", others like "一、"."""
    for pattern, level in _LIST_LEVELS:
        if pattern.match(text):
            return level
    return _PLAIN_HEADING_LEVEL


def _balanced(text: str) -> bool:
    """Every opening quote or bracket is closed within the line."""
    return all(text.count(open_) == text.count(close) for open_, close in _BRACKET_PAIRS)


def _ends_paragraph(text: str) -> bool:
    """The line ends a sentence (closing quotes and brackets looked through)."""
    unquoted = text.rstrip(_CLOSERS)
    return bool(unquoted) and unquoted[-1] in _LINE_FINAL


def _continues(previous: _Line, line: _Line) -> bool:
    """Whether `line` carries on the sentence that `previous` left unfinished."""
    return (
        previous.kind in (_Kind.BODY, _Kind.ARTICLE)
        and not _ends_paragraph(previous.text)
        and line.kind == _Kind.BODY
        and not line.opens
    )


def _joiner(previous: str, following: str) -> str:
    """Chinese lines join directly; Latin words, numbers and article labels keep a space."""
    if _ARTICLE.fullmatch(previous) or (
        previous[-1].isascii()
        and previous[-1].isalnum()
        and following[0].isascii()
        and following[0].isalnum()
    ):
        return " "
    return ""


def document_id(source: str, ordinal: int) -> str:
    """Stable id of the `ordinal`-th document (0-based) of a file."""
    return hashlib.sha1(f"{source}#{ordinal}".encode()).hexdigest()[:16]


@dataclass
class _Pending:
    """Lines collected for the paragraph being built."""

    lines: list[_Line] = field(default_factory=list)

    def text(self) -> str:
        """The repaired paragraph: the lines joined without their line breaks."""
        parts = [self.lines[0].text]
        for before, line in zip(self.lines, self.lines[1:], strict=False):
            parts.append(_joiner(before.text, line.text) + line.text)
        return "".join(parts)


class _Assembler:
    """Walks classified lines, keeping the current document, section path and article."""

    def __init__(self, source: str, text: str, page_starts: tuple[int, ...]) -> None:
        self.source = source
        self.text = text
        self.page_starts = page_starts
        self.documents: list[Document] = []
        self.ordinal = 0
        self._new_document(Path(source).stem, titled=False)

    def run(self, lines: list[_Line]) -> list[Document]:
        """Assemble all lines; returns the documents that have paragraphs."""
        skip_until = -1
        for number, line in enumerate(lines):
            if number <= skip_until:
                continue
            if line.kind == _Kind.HEADING:
                skip_until = self._heading(lines, number)
            elif line.kind == _Kind.ARTICLE:
                self._end_paragraph()
                self.article = line.label
                self.pending.lines.append(line)
            elif line.kind in (_Kind.BODY, _Kind.SUBTITLE):
                self._body(line)
            elif line.kind in (_Kind.TABLE, _Kind.BYLINE):
                self._end_paragraph()
                self.pending.lines.append(line)
                self._end_paragraph()
            else:  # noise: dropped, and nothing joins across it
                self._end_paragraph()
        self._end_document()
        return self.documents

    def _heading(self, lines: list[_Line], number: int) -> int:
        """Handle a heading: a new news article's headline, the title, or a section.

        A headline is a heading followed by a byline (possibly with a "——" subtitle in
        between). The title is the file's first line when that is a heading other than a
        legal division. Returns the index of the last line consumed: a subtitle right
        under a headline or title is appended to it.
        """
        self._end_paragraph()
        line = lines[number]
        after = _next_lines(lines, number, 2)
        subtitle = after[0] if after and lines[after[0]].kind == _Kind.SUBTITLE else None
        byline_next = any(
            lines[i].kind == _Kind.BYLINE for i in after[: 2 if subtitle is not None else 1]
        )
        started = self.titled or bool(self.document.paragraphs) or bool(self.sections)
        if byline_next and started:
            self._end_document()
            self._new_document(line.text, titled=True)
        elif not started and not _LEGAL_HEADING.match(line.text):
            self.document.title, self.titled = line.text, True
        else:
            self._open_section(line)
            return number
        if subtitle is None:
            return number
        self.document.title += lines[subtitle].text
        return subtitle

    def _open_section(self, line: _Line) -> None:
        """Replace the headings at this level or below, so the path stays a hierarchy."""
        while self.sections and self.sections[-1][0] >= line.level:
            self.sections.pop()
        self.sections.append((line.level, line.text))
        self.article = None
        self.index_in_section = 0

    def _body(self, line: _Line) -> None:
        """Join a body line to the paragraph it continues, or start a new paragraph."""
        if self.pending.lines and not _continues(self.pending.lines[-1], line):
            self._end_paragraph()
        self.pending.lines.append(line)

    def _end_paragraph(self) -> None:
        """Turn the pending lines into a located Paragraph of the current document."""
        if not self.pending.lines:
            return
        first, last = self.pending.lines[0], self.pending.lines[-1]
        self.index_in_section += 1
        self.document.paragraphs.append(
            Paragraph(
                text=self.pending.text(),
                start=first.start,
                end=last.end,
                index=self.index_in_section,
                section=tuple(name for _, name in self.sections),
                article=self.article,
                page=bisect_right(self.page_starts, first.start) if self.page_starts else None,
            )
        )
        self.pending = _Pending()

    def _new_document(self, title: str, titled: bool) -> None:
        """Start collecting the next document of the file; its id counts from 0."""
        self.document = Document(
            doc_id=document_id(self.source, self.ordinal),
            source=self.source,
            title=title,
            source_text=self.text,
        )
        self.ordinal += 1
        self.titled = titled  # False while the title is still the file name
        self.sections: list[tuple[int, str]] = []  # (level, name) from the top down
        self.article: str | None = None
        self.pending = _Pending()
        self.index_in_section = 0

    def _end_document(self) -> None:
        """Keep the current document unless nothing but headings was found."""
        self._end_paragraph()
        if self.document.paragraphs:
            self.documents.append(self.document)


def _next_lines(lines: list[_Line], number: int, count: int) -> list[int]:
    """Indices of the next `count` lines after `number` that are not noise."""
    following = (i for i in range(number + 1, len(lines)) if lines[i].kind != _Kind.NOISE)
    return [i for _, i in zip(range(count), following, strict=False)]
