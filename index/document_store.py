"""Where document metadata comes from and where it is kept: the operator's
`documents.yaml`, Markdown front matter, and `documents.json` in each index generation.

`documents.yaml` sits next to the corpus (in a corpus directory, or beside a corpus
file) and maps file names — or glob patterns such as `"*.md"` — to fields:

    上海市优化营商环境条例(2024-09-27).md:
      issuer: 上海市人大常委会
      level: 地方性法规          # 法律 行政法规 地方性法规 规章 规范性文件 其他
      region: 上海市            # 全国, 上海市, 山东省/青岛市 (province first)
      status: in force         # in force, amended, replaced, repealed
      replaced_by: 新文件.md     # with status replaced / repealed
      effective: 2024-10-01

An exact file name wins over a pattern. A mistake in the file stops the build with a
message naming the file, the entry and the key, and the previous index stays live.
"""

from __future__ import annotations

import datetime
import difflib
import fnmatch
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.errors import IndexCorrupt, ZonebotError
from index.metadata import LEVELS, REGION_KINDS, STATUSES, DocumentInfo, Extracted

OVERRIDES_NAME = "documents.yaml"
DOCUMENTS_NAME = "documents.json"
# Bumped whenever `index.metadata` would give other metadata for the same files: an index
# of another version is updated at the next build (its facts are read again; chunks and
# vectors are still reused).
METADATA_VERSION = 3

FIELDS = (
    "title",
    "short_name",
    "issuer",
    "level",
    "region",
    "region_kind",
    "adopted",
    "promulgated",
    "effective",
    "amended",
    "version_date",
    "status",
    "replaced_by",
)
# The same keys in Chinese, for operators who prefer them.
ALIASES = {
    "标题": "title",
    "简称": "short_name",
    "制定机关": "issuer",
    "发布机关": "issuer",
    "效力级别": "level",
    "地区": "region",
    "通过": "adopted",
    "公布": "promulgated",
    "施行": "effective",
    "修正": "amended",
    "状态": "status",
}
CHOICES = {"level": LEVELS, "region_kind": REGION_KINDS, "status": STATUSES}
DATE_FIELDS = ("adopted", "promulgated", "effective", "amended", "version_date")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?\n)---[ \t]*(?:\n|\Z)", re.DOTALL)


class MetadataError(ZonebotError):
    """documents.yaml is unreadable or names an unknown key or value."""


# --------------------------------------------------------------------------- front matter


def split_front_matter(text: str) -> tuple[dict, str]:
    """The known fields of a Markdown front matter block, and the text with the block
    blanked out (same length, newlines kept, so character offsets stay valid). A block
    that is not valid YAML is left in the text; unknown keys are ignored."""
    import yaml

    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    fields = {}
    for key, value in data.items():
        name = ALIASES.get(str(key), str(key))
        if name in FIELDS:
            try:
                fields[name] = _value(name, value)
            except ValueError:
                continue  # a document's own bad value is dropped, not fatal
    blank = re.sub(r"[^\n]", " ", match.group(0))
    return fields, blank + text[match.end() :]


# --------------------------------------------------------------------------- documents.yaml


def load_overrides(corpus_paths: list[Path], display: Callable[[Path], str]) -> Overrides:
    """The operator's fields from every documents.yaml next to the corpus."""
    digest = hashlib.sha256(f"metadata {METADATA_VERSION}\n".encode())
    rules: list[tuple[str, bool, dict]] = []
    for path in _override_files(corpus_paths):
        digest.update(display(path).encode() + b"\0" + path.read_bytes())
        for pattern, fields in _read(path).items():
            glob = any(ch in pattern for ch in "*?[")
            rules.append((display(path.parent / pattern), glob, fields))
    return Overrides(rules, digest.hexdigest())


@dataclass(frozen=True)
class Overrides:
    """documents.yaml rules as (display name or pattern, is a pattern, fields), and a
    digest of the files (with the metadata version) that changes when they change."""

    rules: list[tuple[str, bool, dict]]
    digest: str

    def fields_for(self, source: str) -> dict:
        """The operator's fields for one corpus file: patterns first, its own entry last."""
        fields: dict = {}
        for glob in (True, False):
            for name, is_glob, values in self.rules:
                if is_glob == glob and (fnmatch.fnmatch(source, name) if glob else name == source):
                    fields.update(values)
        return fields

    def unmatched(self, sources: list[str]) -> list[str]:
        """Entries that name no corpus file (a typo, or a file that was removed)."""
        return [
            name
            for name, is_glob, _ in self.rules
            if not any(fnmatch.fnmatch(s, name) if is_glob else s == name for s in sources)
        ]


def _override_files(corpus_paths: list[Path]) -> list[Path]:
    directories = dict.fromkeys(p if p.is_dir() else p.parent for p in corpus_paths)
    return [d / OVERRIDES_NAME for d in directories if (d / OVERRIDES_NAME).is_file()]


def _read(path: Path) -> dict[str, dict]:
    """documents.yaml as {pattern: validated fields}; MetadataError naming the problem."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MetadataError(
            f"无法读取 {path}：{exc}。请修正该文件后重新运行 `zonebot index`。"
        ) from None
    if not isinstance(data, dict):
        raise MetadataError(
            f"{path}：应为“文件名: 字段”的映射 (a mapping of file names to fields)."
        )
    rules = {}
    for pattern, fields in data.items():
        if not isinstance(fields, dict):
            raise MetadataError(f"{path}：{pattern!s} 的值应为字段映射，例如 issuer: 国务院。")
        rules[str(pattern)] = {_key(path, pattern, k): v for k, v in fields.items()}
        for name, value in list(rules[str(pattern)].items()):
            try:
                rules[str(pattern)][name] = _value(name, value)
            except ValueError as exc:
                raise MetadataError(f"{path}：{pattern} 的 {name}：{exc}") from None
    return rules


def _key(path: Path, pattern: object, key: object) -> str:
    name = ALIASES.get(str(key), str(key))
    if name not in FIELDS:
        close = difflib.get_close_matches(str(key), [*FIELDS, *ALIASES], n=1)
        hint = f"（是不是 {close[0]}？）" if close else ""
        raise MetadataError(
            f"{path}：{pattern} 有未知字段 {key!r}{hint}。可用字段：{', '.join(FIELDS)}。"
        )
    return name


def _value(name: str, value: object) -> object:
    """One field's value, checked: a known level/kind/status, an ISO date, a string."""
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if name == "region" and isinstance(value, list):
        return [str(v) for v in value]
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
        raise ValueError(f"值 {value!r} 应为非空文本")
    value = str(value).strip()
    if name in CHOICES and value not in CHOICES[name]:
        raise ValueError(f"值 {value!r} 应为其中之一：{'、'.join(CHOICES[name])}")
    if name in DATE_FIELDS and not _ISO.match(value):
        raise ValueError(f"日期 {value!r} 应写作 YYYY-MM-DD")
    return value


# --------------------------------------------------------------------------- documents.json


def write_documents(directory: Path, infos: list[DocumentInfo], facts: list[Extracted]) -> None:
    """Store the resolved metadata and each document's own facts (the build's cache)."""
    data = {
        "version": METADATA_VERSION,
        "documents": [i.to_dict() for i in infos],
        "facts": [f.to_dict() for f in facts],
    }
    text = json.dumps(data, ensure_ascii=False, indent=1)
    (directory / DOCUMENTS_NAME).write_text(text, encoding="utf-8")


def read_documents(directory: Path) -> tuple[list[DocumentInfo], list[Extracted]]:
    """The stored metadata; empty lists for an index built before metadata existed, and
    no cached facts when they were read by another metadata version."""
    path = directory / DOCUMENTS_NAME
    if not path.is_file():
        return [], []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        infos = [DocumentInfo.from_dict(d) for d in data["documents"]]
        facts = [Extracted.from_dict(f) for f in data["facts"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(
            f"文档信息损坏 ({path}: {exc})。请运行 `zonebot index --rebuild` 重建索引。"
        ) from None
    return infos, facts if data.get("version") == METADATA_VERSION else []


def live_documents(index_dir: Path) -> list[DocumentInfo]:
    """The metadata of the live index, without loading the model or the vectors."""
    from index.generations import live_generation

    infos, _ = read_documents(live_generation(index_dir))
    if not infos:
        raise MetadataError(
            "这个索引还没有文档信息（由旧版本构建）。请运行 `zonebot index` 更新索引。"
            " (The index predates document metadata: run `zonebot index`.)"
        )
    return infos
