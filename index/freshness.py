"""Has the corpus changed since the live index was built? A cheap check for `ask`, `chat`
and `serve`, which answer from the index as built: file names against the manifest,
modification times against the build time. Nothing is read or hashed (`zonebot index`
does that), so a file copied in with an old modification time goes unnoticed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from index.corpus import display_path
from index.errors import ZonebotError
from index.generations import live_generation
from index.loaders import find_corpus_files
from index.manifest import Manifest


@dataclass(frozen=True)
class CorpusChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.modified)

    def describe(self) -> str:
        """One line: what changed and what to run."""
        counts = [
            f"{label} {len(names)}"
            for label, names in (
                ("新增", self.added),
                ("删除", self.removed),
                ("修改", self.modified),
            )
            if names
        ]
        example = (self.added + self.modified + self.removed)[0]
        return (
            f"语料在建索引后有变化（{'、'.join(counts)} 个文件，如 {example}），回答仍来自旧索引。"
            "运行 `zonebot index` 更新。(The corpus changed since the index was built.)"
        )


def corpus_changes(paths: list[Path], index_dir: Path, base_dir: Path | None) -> CorpusChanges:
    """What changed under `paths` since the live index in `index_dir` was built; nothing
    when there is no readable index (opening it reports that) or a path is missing."""
    try:
        manifest = Manifest.load(live_generation(index_dir))
        # built_at is written when the build ends, in whole seconds
        built = datetime.fromisoformat(manifest.built_at).timestamp() + 1.0
        found = [p for p in find_corpus_files(paths) if p.exists() or p.is_symlink()]
        files = {display_path(p, base_dir): p for p in found}
        modified = [name for name, path in files.items() if _mtime(path) > built]
    except (ZonebotError, OSError, ValueError):
        return CorpusChanges()
    indexed = set(manifest.files) | set(manifest.refused)  # skipped also names file parts
    return CorpusChanges(
        added=sorted(set(files) - indexed),
        removed=sorted(indexed - set(files)),
        modified=sorted(name for name in modified if name in indexed),
    )


def _mtime(path: Path) -> float:
    """The file's modification time; a dangling link's own (the build skipped it)."""
    return (path.stat() if path.exists() else path.lstat()).st_mtime
