"""Chunking: sentence splitting, size and boundary rules, offsets, ids, eval evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SHARED

from bot.answer.sentences import squeeze
from index.chunking import ChunkerSettings, chunk_document, split_sentences
from index.documents import Chunk, Document
from index.loaders import load_file
from index.structure import parse_documents
from index.textnorm import normalize

REPO = Path(__file__).resolve().parents[1]
CORPUS_FILE = REPO / "corpus" / "yingkou_ftz_report.txt"
POLICY_DIR = SHARED / "bench" / "policy_docs"
EVAL_DIR = SHARED / "eval"
SETTINGS = ChunkerSettings()


def corpus_paths() -> list[Path]:
    policy = sorted(POLICY_DIR.glob("*.md")) if POLICY_DIR.is_dir() else []
    return [CORPUS_FILE, *policy]


def build(path: Path) -> tuple[str, list[tuple[Document, list[Chunk]]]]:
    source = load_file(path)
    docs = parse_documents(str(path), source.text, source.page_starts)
    return source.text, [(doc, chunk_document(doc, SETTINGS)) for doc in docs]


@pytest.fixture(scope="module")
def built() -> dict[Path, tuple[str, list[tuple[Document, list[Chunk]]]]]:
    return {path: build(path) for path in corpus_paths()}


def all_chunks(built) -> list[Chunk]:
    return [chunk for _, pairs in built.values() for _, chunks in pairs for chunk in chunks]


# --- sentences -------------------------------------------------------------------------


def test_sentences_keep_closing_quotes_and_split_on_all_marks():
    text = (
        "王志斌说：“干就得干出个样儿来。”这乡村,咋振兴?同比增长13.9%;"
        "一般公共预算收入完成10.36亿元……真的吗？！（完）"
    )
    assert split_sentences(text) == [
        "王志斌说：“干就得干出个样儿来。”",
        "这乡村,咋振兴?",
        "同比增长13.9%;",
        "一般公共预算收入完成10.36亿元……",
        "真的吗？！",
        "（完）",
    ]


def test_oversized_sentence_is_split_at_commas_only():
    clause = "营口片区推出创新政策七十三项，"
    doc = make_document([[clause * 40 + "完。"]])
    chunks = chunk_document(doc, SETTINGS)
    assert len(chunks) > 1
    assert all(len(c.text) <= SETTINGS.max_chars for c in chunks)
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    assert squeeze("".join(c.text for c in chunks)) == squeeze(clause * 40 + "完。")


# --- synthetic documents ---------------------------------------------------------------


NUMERALS = "一二三四五六七八九"


def make_document(sections: list[list[str]], article_per_paragraph: bool = False) -> Document:
    """Markdown with one `##` chapter per list and its strings as paragraphs, parsed;
    with `article_per_paragraph` each paragraph is an article 第一条, 第二条, …"""
    parts = ["# 测试文件"]
    articles = iter(NUMERALS)
    for chapter, paragraphs in zip(NUMERALS, sections, strict=False):
        parts.append(f"## 第{chapter}章 部分")
        for paragraph in paragraphs:
            label = f"第{next(articles)}条 " if article_per_paragraph else ""
            parts.append(label + paragraph)
    [doc] = parse_documents("test.md", "\n\n".join(parts) + "\n")
    return doc


def sentence(number: int, length: int = 50) -> str:
    """A distinct sentence of exactly `length` characters."""
    body = f"第{number}句话"
    return body + "内" * (length - len(body) - 1) + "。"


def test_short_articles_stay_apart_and_sections_are_never_crossed():
    doc = make_document(
        [[sentence(1, 30), sentence(2, 30)], [sentence(3, 30)]], article_per_paragraph=True
    )
    chunks = chunk_document(doc, SETTINGS)
    assert [(c.section, c.article) for c in chunks] == [
        ("第一章 部分", "第一条"),
        ("第一章 部分", "第二条"),
        ("第二章 部分", "第三条"),
    ]


def test_small_tail_is_merged_and_overlap_is_one_sentence_within_a_paragraph():
    paragraph = "".join(sentence(n, 60) for n in range(1, 8))  # 7 × 60 characters
    doc = make_document([[paragraph]])
    chunks = chunk_document(doc, SETTINGS)
    texts = [split_sentences(c.text) for c in chunks]
    # 5 sentences reach the target; the tail (2 sentences plus 1 of overlap, 180 < min)
    # cannot be folded back (7 × 60 > max), so it stays, starting with the repeat.
    assert [len(t) for t in texts] == [5, 3]
    assert texts[1][0] == texts[0][-1]


def test_paragraph_break_ends_a_chunk_that_is_long_enough():
    paragraphs = ["".join(sentence(n, 44) for n in range(k, k + 5)) for k in (1, 6, 11)]
    doc = make_document([paragraphs])  # 220 characters each: above min, below target
    chunks = chunk_document(doc, SETTINGS)
    assert [c.text for c in chunks] == paragraphs
    assert [c.paragraph for c in chunks] == [1, 2, 3]


def test_search_text_carries_title_section_and_article():
    doc = make_document([["體制機制性因素和條件。"]], article_per_paragraph=True)
    [chunk] = chunk_document(doc, SETTINGS)
    assert chunk.search_text == normalize("测试文件 第一章 部分 第一条\n" + chunk.text)
    assert "体制机制性因素和条件" in chunk.search_text


# --- invariants over the real corpus ---------------------------------------------------


def test_chunks_respect_the_size_limits(built):
    for chunk in all_chunks(built):
        if len(chunk.text) > SETTINGS.max_chars:
            assert len(split_sentences(chunk.text)) == 1, chunk.text


def test_chunk_offsets_locate_the_text_in_the_source(built):
    for text, pairs in built.values():
        for _, chunks in pairs:
            for chunk in chunks:
                assert squeeze(chunk.text) in squeeze(text[chunk.start : chunk.end])
                assert squeeze(chunk.text).startswith(text[chunk.start])
                assert squeeze(chunk.text).endswith(text[chunk.end - 1])


def test_no_chunk_crosses_an_article_or_section(built):
    for _, pairs in built.values():
        for doc, chunks in pairs:
            for chunk in chunks:
                inside = [p for p in doc.paragraphs if p.start < chunk.end and chunk.start < p.end]
                assert {p.article for p in inside} == {chunk.article}
                assert {" › ".join(p.section) for p in inside} == {chunk.section}


def test_every_sentence_is_in_some_chunk(built):
    for _, pairs in built.values():
        for doc, chunks in pairs:
            chunk_texts = [squeeze(c.text) for c in chunks]
            for paragraph in doc.paragraphs:
                for part in split_sentences(paragraph.text):
                    assert any(squeeze(part) in text for text in chunk_texts), part


def test_chunk_ids_are_unique_and_stable(built):
    ids = [c.chunk_id for c in all_chunks(built)]
    assert len(ids) == len(set(ids))
    rebuilt = [c.chunk_id for path in corpus_paths() for _, cs in build(path)[1] for c in cs]
    assert rebuilt == ids


@pytest.mark.skipif(not POLICY_DIR.is_dir(), reason=f"policy documents not found at {POLICY_DIR}")
def test_hainan_article_19_is_one_article_chunk(built):
    [(_, chunks)] = built[POLICY_DIR / "海南自由贸易港法(2021-06-10).md"][1]
    [chunk] = [c for c in chunks if c.article == "第十九条"]
    assert chunk.text.startswith("第十九条 ")
    assert "准入前国民待遇加负面清单" in chunk.text
    assert chunk.location == "第十九条"
    assert "第二十条" not in chunk.text


def eval_rows() -> list[dict]:
    rows = []
    for path in sorted(EVAL_DIR.glob("*.jsonl")) if EVAL_DIR.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("evidence"):
                    rows.append(row)
    return rows


@pytest.mark.skipif(not EVAL_DIR.is_dir(), reason=f"eval questions not found at {EVAL_DIR}")
@pytest.mark.parametrize("row", eval_rows(), ids=lambda row: row["id"])
def test_eval_evidence_is_inside_one_chunk_of_the_right_document(built, row):
    if "doc" in row:
        if not POLICY_DIR.is_dir():
            pytest.skip(f"policy documents not found at {POLICY_DIR}")
        paths = [p for p in built if p.parent == POLICY_DIR and row["doc"] in p.name]
    else:
        paths = [CORPUS_FILE]
    assert paths, f"no document matches {row.get('doc')}"
    chunks = [c for path in paths for _, cs in built[path][1] for c in cs]
    assert any(squeeze(row["evidence"]) in squeeze(c.text) for c in chunks)
