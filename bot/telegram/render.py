"""Answers and bot texts → Telegram HTML / plain text.

Telegram rejects a whole message when one tag is malformed or the text is longer than
4,096 characters, so everything here is built from plain-text blocks: each block is
measured and, if needed, split *before* it is escaped and wrapped in tags. A message
part therefore never cuts a tag, and the same blocks give the plain-text fallback.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.answer.results import Answer, IndexSummary
from bot.telegram.store import SourcePassage, Stats, WindowStats

# Telegram's limit is 4,096 UTF-16 units after entity parsing; the headroom absorbs the
# few characters the plain-text fallback adds around quotes.
PART_LIMIT = 4000

# Where a too-long text may be cut, best first: paragraphs, lines, then sentence ends.
_BREAKS = (
    re.compile(r"(?<=\n\n)"),
    re.compile(r"(?<=\n)"),
    re.compile(r"(?<=[。！？!?；;…])"),
)

Style = Literal["plain", "bold", "italic", "quote"]


@dataclass(frozen=True)
class Part:
    """One Telegram message: the HTML to send and the plain text to resend if HTML is refused."""

    html: str
    plain: str


@dataclass(frozen=True)
class _Block:
    text: str
    style: Style = "plain"

    def html(self) -> str:
        text = html.escape(self.text, quote=False)
        match self.style:
            case "bold":
                return f"<b>{text}</b>"
            case "italic":
                return f"<i>{text}</i>"
            case "quote":
                return f"<blockquote expandable>{text}</blockquote>"
        return text

    def plain(self) -> str:
        return f"“{self.text}”" if self.style == "quote" else self.text


# A group is a run of blocks kept in one message when it fits (a source line and its quote).
_Group = list[_Block]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: emoji and other astral characters count twice."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = PART_LIMIT) -> list[str]:
    """Cut plain text into pieces of at most `limit` UTF-16 units at the gentlest boundary."""
    return [piece.strip() for piece in _split(text, limit, 0) if piece.strip()]


def _split(text: str, limit: int, level: int) -> list[str]:
    if utf16_len(text) <= limit:
        return [text]
    if level == len(_BREAKS):
        return _hard_split(text, limit)
    pieces: list[str] = []
    current, size = "", 0
    for piece in _BREAKS[level].split(text):
        piece_size = utf16_len(piece)
        if size + piece_size <= limit:
            current, size = current + piece, size + piece_size
            continue
        if current:
            pieces.append(current)
        if piece_size <= limit:
            current, size = piece, piece_size
        else:
            pieces.extend(_split(piece, limit, level + 1))
            current, size = "", 0
    if current:
        pieces.append(current)
    return pieces


def _hard_split(text: str, limit: int) -> list[str]:
    """Last resort for a sentence longer than a message: cut between characters."""
    pieces: list[str] = []
    current, size = [], 0
    for char in text:
        width = utf16_len(char)
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def _size(group: Sequence[_Block]) -> int:
    return sum(utf16_len(b.plain()) for b in group) + len(group) - 1


def _fit(groups: Iterable[_Group], limit: int) -> Iterator[_Group]:
    """Yield groups that fit a message; a group too long for one is broken into its blocks."""
    for group in groups:
        if _size(group) <= limit:
            yield group
            continue
        for block in group:
            for piece in split_text(block.text, limit):
                yield [_Block(piece, block.style)]


def _parts(groups: Iterable[_Group], limit: int = PART_LIMIT) -> list[Part]:
    """Pack groups greedily into messages (blank line between groups, newline inside one)."""
    packed: list[list[_Group]] = [[]]
    size = 0
    for group in _fit(groups, limit):
        group_size = _size(group)
        if packed[-1] and size + 2 + group_size > limit:
            packed.append([])
            size = 0
        size += group_size + (2 if packed[-1] else 0)
        packed[-1].append(group)
    return [
        Part(
            html="\n\n".join("\n".join(b.html() for b in g) for g in message),
            plain="\n\n".join("\n".join(b.plain() for b in g) for g in message),
        )
        for message in packed
        if message
    ]


def _refusal_groups(answer: Answer) -> list[_Group]:
    groups: list[_Group] = [[_Block(f"🤔 {answer.text}")]]
    if answer.notice:
        groups.append([_Block(f"ℹ️ {answer.notice}", "italic")])
    for citation in answer.related:
        groups.append([_Block(citation.label(), "bold"), _Block(citation.quote, "quote")])
    if answer.suggestions:
        lines = "\n".join(f"• 《{title}》" for title in answer.suggestions)
        groups.append([_Block("可以换个说法再问，或看看这些文件是否相关："), _Block(lines)])
    groups.append([_Block("发送 /sources 查看全部已收录的文件。", "italic")])
    return groups


def render_answer(answer: Answer) -> list[Part]:
    """The answer with its `[n]` markers, then 来源: one source line and quote per citation."""
    if not answer.found:
        return _parts(_refusal_groups(answer))
    groups: list[_Group] = [[_Block(answer.text)]]
    if answer.notice:
        groups.append([_Block(f"ℹ️ {answer.notice}", "italic")])
    if answer.scope:
        groups.append([_Block(f"范围：{answer.scope}", "italic")])
    for i, citation in enumerate(answer.citations):
        source = [_Block(citation.label(), "bold"), _Block(citation.quote, "quote")]
        groups.append([_Block("来源", "bold"), *source] if i == 0 else source)
    return _parts(groups)


def render_passage(source: SourcePassage) -> list[Part]:
    """The full chunk a citation points into, shown when its 📄 button is tapped."""
    return _parts([[_Block(source.label, "bold"), _Block(source.text)]])


# ---- bot texts ----------------------------------------------------------------------

_EXAMPLE_TEMPLATES = ("{}的主要内容是什么？", "{}提出了哪些具体措施？", "{}中有哪些关键数据？")


def example_questions(titles: Sequence[str]) -> list[str]:
    """Three starter questions built from the indexed titles (first titles first)."""
    if not titles:
        return []
    return [t.format(f"《{titles[i % len(titles)]}》") for i, t in enumerate(_EXAMPLE_TEMPLATES)]


def render_welcome(examples: Sequence[str]) -> Part:
    groups: list[_Group] = [
        [_Block("你好！我是政策文件问答助手。", "bold")],
        [_Block("我根据已收录的政策文件回答问题，每条结论都标注来源 [n]，可以核对原文。")],
    ]
    if examples:
        groups.append([_Block("可以试试这样问："), _Block("\n".join(f"• {q}" for q in examples))])
    groups.append([_Block("发送 /help 查看用法，/sources 查看文件列表。", "italic")])
    return _parts(groups)[0]


HELP = _parts(
    [
        [
            _Block("我能回答什么", "bold"),
            _Block("已收录政策文件（/sources）里的内容：数据、措施、条款规定等。"),
        ],
        [
            _Block("引用怎么看", "bold"),
            _Block(
                "回答里的 [1]、[2] 对应下方“来源”：文件名 · 章节或条款 · 段落，并附原文摘录。"
                "点按钮 📄 1 查看完整的原文段落。"
            ),
        ],
        [
            _Block("哪个地方的规定", "bold"),
            _Block(
                "问题里写明地区或法规（如“北京的……”“海关法规定……”）就只看这些文件；"
                "各地规定不同时分条列出，点“只看北京”等按钮可以限定范围。"
            ),
        ],
        [
            _Block("找不到答案时", "bold"),
            _Block("文件里没有的内容我会直说，并推荐最相关的文件，不会编造。"),
        ],
        [
            _Block("群聊", "bold"),
            _Block("在群里请 @我 或回复我的消息提问。用 👍 / 👎 告诉我回答是否有用。"),
        ],
        [_Block("/about 查看索引信息。", "italic")],
    ]
)[0]


def _format_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def render_about(info: IndexSummary) -> Part:
    facts = (
        f"文件：{len(info.documents)} 份文档（{info.files} 个文件）\n"
        f"片段：{info.chunks} 个\n"
        f"索引更新：{_format_time(info.built_at)}\n"
        f"模型：{info.model}"
    )
    return _parts([[_Block("索引信息", "bold"), _Block(facts)]])[0]


def render_sources(info: IndexSummary) -> list[Part]:
    """The document list; split over several messages when the corpus is large."""
    if not info.documents:
        return _parts([[_Block("索引中还没有文件。")]])
    lines = "\n".join(f"{i}. 《{title}》" for i, title in enumerate(info.documents, 1))
    return _parts([[_Block(f"已收录 {len(info.documents)} 份文档", "bold"), _Block(lines)]])


def _window_line(label: str, w: WindowStats) -> str:
    if not w.questions:
        return f"{label}：0 个问题"
    share = f"{w.thumbs_up_share:.0%}" if w.thumbs_up_share is not None else "—"
    return (
        f"{label}：{w.questions} 个问题 · p50 {w.p50_ms:.0f} ms · p95 {w.p95_ms:.0f} ms · "
        f"未找到 {w.not_found_rate:.0%} · 👍 {share}（{w.votes} 票）"
    )


def render_stats(stats: Stats) -> Part:
    lines = "\n".join([_window_line("今天", stats.today), _window_line("累计", stats.total)])
    return _parts([[_Block("使用统计", "bold"), _Block(lines)]])[0]


def status_part(title: str, detail: str = "") -> Part:
    """A bold status line with an optional detail (reindex progress, errors for admins)."""
    return _parts([[_Block(title, "bold"), *([_Block(detail)] if detail else [])]])[0]
