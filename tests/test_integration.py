"""The real pipeline end to end: real model, real FAISS + BM25 index over corpus/."""

from __future__ import annotations

from index.textnorm import to_traditional


def test_top_hit_holds_the_answer(real_retriever):
    hits = real_retriever.search("营口片区去年规模以上工业总产值是多少?", k=5)
    assert "102.25亿元" in hits[0].chunk.text
    assert hits[0].chunk.title.startswith("走创新路")
    assert hits[0].dense_score is not None and hits[0].keyword_score > 0


def test_traditional_query_finds_simplified_document(real_retriever):
    query = to_traditional("营口片区去年实际利用外资完成多少?")
    assert query != "营口片区去年实际利用外资完成多少?"
    hits = real_retriever.search(query, k=5)
    assert any("315万美元" in h.chunk.text for h in hits[:3])


def test_second_article_of_the_page_is_its_own_document(real_retriever):
    hits = real_retriever.search("王志斌来自哪个单位?", k=3)
    assert "省农研中心" in hits[0].chunk.text
    assert "王志斌" in hits[0].chunk.title


def test_each_mode_ranks_and_hits_serialise(real_retriever):
    for mode in ("hybrid", "dense", "keyword"):
        hits = real_retriever.search("不见面审批事项", k=3, mode=mode)
        assert [h.rank for h in hits] == [1, 2, 3]
        assert hits[0].score >= hits[-1].score
        record = hits[0].to_dict()
        assert set(record) == {
            "rank",
            "score",
            "doc_id",
            "chunk_id",
            "source",
            "title",
            "section",
            "location",
            "text",
        }
        assert record["source"] == "corpus/yingkou_ftz_report.txt"
        assert record["location"].startswith("第")
