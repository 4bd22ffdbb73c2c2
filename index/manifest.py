"""The index manifest: what an index directory holds and how it was built.

Loading compares it with the current configuration and refuses a mismatch with a
message that says to rebuild, instead of returning nonsense scores.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.errors import IndexCorrupt, IndexMismatch

# Bumped whenever stored chunks or tokens would come out differently (chunking, text
# normalisation): an index of another version is rebuilt, never mixed with new chunks.
# 2: "自由贸易" is normalised to "自贸". 3: news bylines are kept as paragraphs.
# 4: jieba no longer knows 内向. 5: chunks carry their table rows and OCR mark.
FORMAT_VERSION = 5
MANIFEST_NAME = "manifest.json"
REBUILD_HINT = "请运行 `zonebot index --rebuild` 重建索引 (run `zonebot index --rebuild`)."


@dataclass
class Manifest:
    format_version: int
    model: str
    dimension: int
    query_prompt: str
    passage_prompt: str
    chunker: dict
    files: dict[str, str]  # source path -> sha256 of its bytes
    documents: list[str]  # document titles, in corpus order
    chunk_count: int
    built_at: str  # ISO 8601 UTC
    build_seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # source path -> reason
    refused: dict[str, str] = field(default_factory=dict)  # of those, the files never read
    limits: dict[str, float] = field(default_factory=dict)  # IngestLimits the files met
    # What computed the vectors (index.embeddings.resolve_backend); indexes from before
    # backends existed were all made by torch in float32.
    backend: str = "torch-fp32"
    metadata: str = ""  # digest of documents.yaml + metadata version (index.document_store)

    def save(self, directory: Path) -> None:
        text = json.dumps(asdict(self), ensure_ascii=False, indent=2)
        (directory / MANIFEST_NAME).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(**data)
        except FileNotFoundError:
            raise IndexCorrupt(f"索引不完整：缺少 {path}。{REBUILD_HINT}") from None
        except (ValueError, TypeError) as exc:
            raise IndexCorrupt(f"索引清单损坏 ({path}: {exc})。{REBUILD_HINT}") from None
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatch(
                f"索引格式版本为 {manifest.format_version}，当前程序需要 {FORMAT_VERSION}。"
                f"{REBUILD_HINT}"
            )
        return manifest

    def check_model(self, model: str, query_prompt: str, passage_prompt: str, backend: str) -> None:
        """Refuse to search vectors made by another model, backend or with other prompts."""
        if backend != self.backend:
            raise IndexMismatch(
                f"索引的向量由 {self.backend} 计算，当前配置为 {backend}。The index's vectors "
                f"were made by the {self.backend} backend and queries would be embedded by "
                f"{backend}: set `embedding.backend` to match, or {REBUILD_HINT}"
            )
        if (self.model, self.query_prompt, self.passage_prompt) != (
            model,
            query_prompt,
            passage_prompt,
        ):
            raise IndexMismatch(
                f"索引由模型 {self.model!r} 构建，但当前配置的模型是 {model!r}"
                f"（或提示词不同）。The index was built with another embedding model. "
                f"{REBUILD_HINT}"
            )

    def check_counts(self, chunks: int, vectors: int, directory: Path) -> None:
        """Refuse a generation whose chunk rows, vectors and manifest disagree: searching
        it would hand out ids with no chunk behind them."""
        if not self.chunk_count == chunks == vectors:
            raise IndexCorrupt(
                f"索引不一致：清单记录 {self.chunk_count} 个片段，片段库有 {chunks} 行，"
                f"向量索引有 {vectors} 个向量 ({directory})。{REBUILD_HINT}"
            )

    def check_dimension(self, dimension: int) -> None:
        if self.dimension != dimension:
            raise IndexMismatch(
                f"索引向量维度为 {self.dimension}，当前模型输出 {dimension} 维。{REBUILD_HINT}"
            )
