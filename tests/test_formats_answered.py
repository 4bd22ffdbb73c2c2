"""A question about each generated format is answered from it (real model and engine)."""

from __future__ import annotations

import pytest
from samples import sample_corpus

from bot.answer.engine import AnswerEngine
from bot.config import settings_from_dict
from bot.wiring import open_retriever, run_index


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    cases, skipped = sample_corpus(root / "corpus")
    settings = settings_from_dict(
        {"corpus": {"paths": [str(root / "corpus")]}, "index": {"dir": str(root / "index")}},
        base_dir=root,
    )
    return settings, cases, skipped


@pytest.fixture(scope="module")
def built(corpus, real_embedder):
    settings = corpus[0]
    summary = run_index(settings, embedder=real_embedder)
    engine = AnswerEngine(open_retriever(settings, real_embedder), settings)
    return summary, engine


def test_every_generated_file_is_indexed(corpus, built):
    summary, _ = built
    _, cases, _ = corpus
    assert summary.skipped == {}
    assert summary.files == len({case.file for case in cases})


def test_each_format_answers_its_question(corpus, built):
    _, engine = built
    _, cases, _ = corpus
    failures = []
    for case in cases:
        answer = engine.answer(case.question)
        cited = {c.chunk.source.rsplit("/", 1)[-1] for c in answer.citations}
        if not (answer.found and case.answer in answer.text and case.file in cited):
            failures.append((case.format, case.question, answer.text, sorted(cited)))
    assert failures == []


def test_a_table_row_is_answered_with_its_headers_and_cited_by_row(corpus, built):
    _, engine = built
    answer = engine.answer("集装箱查验费的收费金额是多少?")
    assert "收费项目：集装箱查验费" in answer.text
    assert any("第4" in c.chunk.location and "行" in c.chunk.location for c in answer.citations)


def test_ocr_text_is_cited_with_its_page_and_mark(built):
    _, engine = built
    answer = engine.answer("海关对高级认证企业的查验率不高于多少?")
    assert any(c.chunk.page == 2 and c.chunk.location.endswith("OCR") for c in answer.citations)


def test_page_furniture_is_not_an_answer(built):
    _, engine = built
    assert not engine.answer("网站标识码是多少?").found
