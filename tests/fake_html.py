"""What the fake Bot API shares with its callers: Telegram's HTML parse mode (its tag
whitelist, and the 400 "can't parse entities" a bad tag earns), UTF-16 lengths, and the
error a request gets."""

from __future__ import annotations

import html
import re
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def payload(self) -> dict:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


_TAGS: dict[str, set[str]] = {  # allowed tag -> allowed attributes
    **{tag: set() for tag in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del")},
    "span": {"class"},
    "tg-spoiler": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
_TAG = re.compile(
    r"<(/?)([A-Za-z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([\w-]+)(?:\s*=)?")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """Telegram's HTML parse mode: the plain text, or ApiError 400 like the real server."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            offset = len(text[:pos].encode())
            match = _TAG.match(text, pos)
            if match is None:
                raise entities_error(f"Unexpected < at byte offset {offset}")
            closing, name, attrs = match[1], match[2].lower(), match[3]
            if name not in _TAGS:
                kind = "end" if closing else "start"
                raise entities_error(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise entities_error(f'Unmatched end tag "{name}" at byte offset {offset}')
                stack.pop()
            else:
                for attr in _ATTR.findall(attrs):
                    if attr.lower() not in _TAGS[name]:
                        raise entities_error(f'Unsupported attribute "{attr}" of tag "{name}"')
                stack.append(name)
            pos = match.end()
        elif char == "&" and (match := _ENTITY.match(text, pos)):
            out.append(html.unescape(match[0]))
            pos = match.end()
        else:
            out.append(char)
            pos += 1
    if stack:
        raise entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def entities_error(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")
