"""Source lines classified on their own: heading, 第X条 article, list item, byline, caption,
table row or noise, with the blank lines around them as context (`index.structure`
then assembles them into paragraphs and documents)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from index.punctuation import CLAUSE_ENDS, COMMAS, SENTENCE_ENDS, TRAILING

_CJK = r"\u4e00-\u9fff"
_NUMERAL = r"[零〇一二三四五六七八九十百千\d]+"

# "第十九条 …" / "第一百二十条之一：…" (optionally **bold**) starts an article; the label
# must be followed by a separator so that prose such as "第二条规定的…" does not match.
_ARTICLE = re.compile(
    rf"^(?:\*\*)?(?P<label>第{_NUMERAL}条(?:之[一二三四五六七八九十]+)?)(?:\*\*)?(?=[\s　:：]|$)"
)

# "第一章  总 则", "第二节 关税", "第一编", "第三部分 保障措施": a legal division heading.
LEGAL_HEADING = re.compile(
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
_LINE_FINAL = SENTENCE_ENDS + CLAUSE_ENDS + "：:."
# Punctuation that a heading does not contain.
_SENTENCE_PUNCT = re.compile(f"[{re.escape(SENTENCE_ENDS + CLAUSE_ENDS + COMMAS)}]")
_BRACKET_PAIRS = ("“”", "（）", "()", "《》", "「」", "『』", "【】")
# Two single CJK characters spaced apart, as in padded chapter names ("总 则").
_PADDED_CJK = re.compile(rf"(?<=[{_CJK}])[\s　]+(?=[{_CJK}](?:[\s　]|$))")
_SPACES = re.compile(r"[\s　]+")


class LineKind(Enum):
    BODY = "body"  # paragraph text
    ARTICLE = "article"  # first line of a 第X条 article (also paragraph text)
    TABLE = "table"  # "| a | b |" row: a paragraph of its own
    HEADING = "heading"
    SUBTITLE = "subtitle"  # "——…": part of the title when right under it, else body
    BYLINE = "byline"  # a paragraph of its own ("who wrote it?"); marks a news article
    NOISE = "noise"  # captions, credits, column labels, page numbers, markup: dropped


@dataclass
class Line:
    """One non-blank source line, stripped, with its offsets and surroundings."""

    start: int
    end: int
    text: str
    blanks_before: int
    blank_after: bool
    kind: LineKind = LineKind.BODY
    level: int = 0  # heading level, smaller is higher
    label: str | None = None  # article label, e.g. "第十九条"
    opens: bool = False  # never continues the line before (list item, dated record)


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with stripped offsets and how many blank lines surround them."""
    lines: list[Line] = []
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
        lines.append(Line(start, start + len(stripped), stripped, blanks, blank_after=False))
        blanks = 0
    if lines:
        lines[-1].blank_after = True  # the end of the file separates like a blank line
    return lines


def classify_lines(lines: list[Line]) -> None:
    """Decide what each line is; multi-line HTML comments are dropped as a whole."""
    in_comment = False
    for number, line in enumerate(lines):
        if in_comment or (line.text.startswith("<!--") and "-->" not in line.text):
            line.kind = LineKind.NOISE
            in_comment = "-->" not in line.text
            continue
        _classify_line(line, first=number == 0)


def _classify_line(line: Line, first: bool) -> None:
    """Set kind, level, label and opens for one line from its text and blank context."""
    text = line.text
    md = _MD_HEADING.match(text)
    if md:
        _classify_markdown_heading(line, md)
    elif article := _ARTICLE.match(text):
        line.kind, line.label = LineKind.ARTICLE, article.group("label")
    elif legal := LEGAL_HEADING.match(text):
        line.kind, line.level = LineKind.HEADING, _LEGAL_LEVEL[legal.group("unit")]
        line.text = _legal_heading_name(legal)
    elif _MD_NOISE.match(text) or _PAGE_NUMBER.match(text) or _COLUMN_LABEL.match(text):
        line.kind = LineKind.NOISE
    elif text.startswith("|") and text.endswith("|"):
        line.kind = LineKind.TABLE
    elif _BYLINE.match(text):
        line.kind = LineKind.BYLINE
    elif not first and _is_caption(line):
        line.kind = LineKind.NOISE
    elif _SUBTITLE.match(text):
        line.kind = LineKind.SUBTITLE
    elif _DATELINE.match(text) or _is_parenthetical(text):
        line.opens = True
    elif _looks_like_heading(text):
        line.kind, line.level = LineKind.HEADING, _enumerated_level(text)
        line.text = _SPACES.sub(" ", text)
    else:
        line.opens = bool(_LIST_ITEM.match(text))


def _classify_markdown_heading(line: Line, md: re.Match) -> None:
    """A `#` line is a heading, unless it holds an article label ("### 第十九条 …")."""
    name = md.group("name").strip()
    if article := _ARTICLE.match(name):
        line.start += line.text.index(name)  # the paragraph text starts after the `#`s
        line.end = line.start + len(name)
        line.text = name
        line.kind, line.label = LineKind.ARTICLE, article.group("label")
        return
    line.kind = LineKind.HEADING
    legal = LEGAL_HEADING.match(name)
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


def _is_caption(line: Line) -> bool:
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
    unquoted = text.rstrip(TRAILING)
    return bool(unquoted) and unquoted[-1] in _LINE_FINAL


def continues(previous: Line, line: Line) -> bool:
    """Whether `line` carries on the sentence that `previous` left unfinished."""
    return (
        previous.kind in (LineKind.BODY, LineKind.ARTICLE)
        and not _ends_paragraph(previous.text)
        and line.kind == LineKind.BODY
        and not line.opens
    )


def joiner(previous: str, following: str) -> str:
    """Chinese lines join directly; Latin words, numbers and article labels keep a space."""
    if _ARTICLE.fullmatch(previous) or (
        previous[-1].isascii()
        and previous[-1].isalnum()
        and following[0].isascii()
        and following[0].isalnum()
    ):
        return " "
    return ""
