"""Hand-made chunks, hits and a small real-code engine for the answer tests.

`small_engine` runs the real HybridRetriever, BM25 and answer engine over a few chunks;
only the embedding model is replaced by a hashing embedder (character bigrams into a
fixed-size vector), so these tests take milliseconds and need no model files.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from bot.answer.engine import AnswerEngine
from bot.answer.extractive import TermWeights
from bot.config import Settings
from index.dense import DenseIndex
from index.documents import Chunk, Hit
from index.keyword import KeywordIndex
from index.manifest import FORMAT_VERSION, Manifest
from index.retrieve import HybridRetriever, LoadedIndex
from index.textnorm import normalize, tokenize

DIMENSION = 64

YINGKOU = "走创新路 闯改革关 书发展篇——来自辽宁自贸试验区营口片区的报告"
YINGKOU_TEXT = (
    "营口片区以创新为抓手,推动项目建设。去年共推出创新政策73项、创新案例50项、改革措施78项。"
    "去年,片区内规模以上工业总产值完成102.25亿元,同比增长13.9%;一般公共预算收入完成10.36亿元,"
    "同比增长5.7%;实际利用外资完成315万美元,同比增长751%。"
)
VILLAGE = "驻进了村民心里的“第一书记”王志斌"
VILLAGE_TEXT = (
    "“近十年来没有人家在村里办过婚礼。”王志斌来自省农研中心,在原单位时也经常下基层调研。"
    "大集挺大,有4万多平方米,用的是迁而未征的土地。"
)
LAW = "中华人民共和国外商投资法"
LAW_TEXT = (
    "第二条 本法所称外商投资，是指外国投资者直接或者间接在中国境内进行的投资活动，"
    "包括下列情形：\n（一）外国投资者单独在中国境内设立外商投资企业；\n"
    "（二）外国投资者取得中国境内企业的股份。"
)


def make_chunk(
    text: str,
    title: str = YINGKOU,
    section: str = "核心提示",
    n: int = 1,
    doc_id: str = "yingkou",
    article: str | None = None,
) -> Chunk:
    return Chunk(
        chunk_id=f"{doc_id}-{n}",
        doc_id=doc_id,
        source=f"corpus/{doc_id}.txt",
        title=title,
        section=section,
        article=article,
        page=None,
        paragraph=n,
        start=0,
        end=len(text),
        text=text,
        search_text=normalize(f"{title} {section} {article or ''}\n{text}"),
    )


def hits_of(*chunks: Chunk) -> list[Hit]:
    return [Hit(c, rank, 1 / rank, 0.9, 1.0) for rank, c in enumerate(chunks, start=1)]


def weights_for(*chunks: Chunk) -> TermWeights:
    """IDF weights over the given chunks, as the engine computes them over an index."""
    tokens = [set(tokenize(c.search_text)) for c in chunks]
    return TermWeights(lambda term: sum(term in t for t in tokens), len(chunks))


CORPUS = (
    make_chunk(YINGKOU_TEXT),
    make_chunk(VILLAGE_TEXT, title=VILLAGE, section="", doc_id="village"),
    make_chunk(LAW_TEXT, title=LAW, section="第一章 总则", doc_id="law", article="第二条"),
)


class HashEmbedder:
    """Character-bigram hashing into a unit vector: similar texts get similar vectors."""

    name = "hash-bigrams"

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(len(text) - 1):
                digest = hashlib.blake2b(text[i : i + 2].encode(), digest_size=2).digest()
                out[row, int.from_bytes(digest) % DIMENSION] += 1
            out[row] /= np.linalg.norm(out[row]) or 1
        return out

    def embed_query(self, query: str) -> np.ndarray:
        return self.encode([query], "query")[0]


def small_retriever(chunks: tuple[Chunk, ...] = CORPUS) -> HybridRetriever:
    embedder = HashEmbedder()
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dimension=DIMENSION,
        query_prompt="",
        passage_prompt="",
        chunker={},
        files={c.source: "0" for c in chunks},
        documents=list(dict.fromkeys(c.title for c in chunks)),
        chunk_count=len(chunks),
        built_at="2026-01-01T00:00:00+00:00",
        build_seconds=0.0,
    )
    vectors = embedder.encode([c.search_text for c in chunks], "passage")
    index = LoadedIndex(
        manifest,
        list(chunks),
        DenseIndex.from_vectors(vectors),
        KeywordIndex([tokenize(c.search_text) for c in chunks]),
    )
    return HybridRetriever(index, embedder, Settings().retrieval)


def small_engine(chunks: tuple[Chunk, ...] = CORPUS, **answer: object) -> AnswerEngine:
    """The hashing embedder's cosines mean nothing to the fitted answer model, so by
    default this engine answers with the first sentence that passes the checks
    (`min_probability` 0); the fitted decision is tested with the real model."""
    answer.setdefault("min_probability", 0.0)
    settings = Settings()
    settings = replace(settings, answer=replace(settings.answer, **answer))
    return AnswerEngine(small_retriever(chunks), settings)
