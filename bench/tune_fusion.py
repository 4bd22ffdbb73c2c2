"""How the hybrid fusion defaults were chosen: a grid over RRF and weighted-sum settings.

Dense and BM25 rankings are computed once per question, then every fusion setting is
scored on them: context-level R@1 / R@5 / MRR@10 on CMRC 2018 dev, and the share of
answerable dev questions (../shared/eval) whose evidence is in a top-5 chunk. Only these
two sources are used for tuning.

    python bench/tune_fusion.py [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    POLICY_DOCS,
    ROOT,
    WORK,
    bench_settings,
    load_dev_questions,
    print_table,
    require_shared,
    write_cmrc_corpus,
)
from bot.answer.sentences import squeeze
from bot.wiring import make_embedder, open_retriever, run_index
from index.retrieve import HybridRetriever, RetrievalSettings, top_positive
from index.textnorm import normalize, tokenize

CANDIDATES = 50
GRID = [("rrf", k, w) for k in (5, 10, 20, 30, 60) for w in (0.3, 0.4, 0.5, 0.6)] + [
    ("weighted", 0, w) for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
]


def rankings(retriever: HybridRetriever, questions: list[str]) -> list[tuple[list, list]]:
    """(dense top-N, keyword top-N) for every question, computed once."""
    texts = [normalize(q) for q in questions]
    vectors = retriever.embedder.encode(texts, "query", progress=True)
    out = []
    for question, vector in zip(questions, vectors, strict=True):
        dense = retriever.index.dense.search(vector, CANDIDATES)
        keyword = top_positive(retriever.index.keyword.scores(tokenize(question)), CANDIDATES)
        out.append((dense, keyword))
    return out


def fused(retriever: HybridRetriever, setting: tuple, dense: list, keyword: list) -> list[int]:
    fusion, k, w = setting
    retriever.settings = RetrievalSettings(fusion=fusion, rrf_k=k or 60, dense_weight=w)
    return [i for i, _ in retriever.fuse(dense, keyword)]


def cmrc_scores(retriever, ranked, files) -> dict[str, list[float]]:
    results = {}
    for setting in GRID:
        ranks = []
        for (dense, keyword), own in zip(ranked, files, strict=True):
            order = fused(retriever, setting, dense, keyword)
            contexts = list(
                dict.fromkeys(Path(retriever.index.chunks[i].source).name for i in order)
            )
            ranks.append(contexts.index(own) + 1 if own in contexts else None)
        n = len(ranks)
        results[setting] = [
            sum(r == 1 for r in ranks) / n,
            sum(r is not None and r <= 5 for r in ranks) / n,
            sum(1 / r for r in ranks if r is not None and r <= 10) / n,
        ]
    return results


def dev_scores(retriever, ranked, questions) -> dict[tuple, float]:
    results = {}
    for setting in GRID:
        found = 0
        for (dense, keyword), q in zip(ranked, questions, strict=True):
            top = [retriever.index.chunks[i] for i in fused(retriever, setting, dense, keyword)[:5]]
            found += any(
                squeeze(q["evidence"]) in squeeze(c.text)
                and (not q.get("doc") or q["doc"] in c.source)
                for c in top
            )
        results[setting] = found / len(questions)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N CMRC questions")
    args = parser.parse_args()
    require_shared()
    cmrc = write_cmrc_corpus(WORK / "cmrc_corpus")[: args.limit or None]
    settings = bench_settings("cmrc_index", [WORK / "cmrc_corpus"])
    embedder = make_embedder(settings)
    run_index(settings, embedder=embedder, show_progress=True)
    retriever = open_retriever(settings, embedder)
    cmrc_results = cmrc_scores(
        retriever, rankings(retriever, [q.question for q in cmrc]), [q.context_file for q in cmrc]
    )

    dev_settings = bench_settings("dev_index", [ROOT / "corpus", POLICY_DOCS])
    run_index(dev_settings, embedder=embedder, show_progress=True)
    dev_retriever = open_retriever(dev_settings, embedder)
    dev = [q for q in load_dev_questions() if q.get("evidence")]
    dev_results = dev_scores(
        dev_retriever, rankings(dev_retriever, [q["question"] for q in dev]), dev
    )

    rows = [
        [fusion, k or "-", w, *cmrc_results[(fusion, k, w)], dev_results[(fusion, k, w)]]
        for fusion, k, w in GRID
    ]
    rows.sort(key=lambda r: (-r[3], -r[4], -r[6]))
    print(f"\n{len(cmrc)} CMRC questions, {len(dev)} answerable dev questions")
    print_table(["fusion", "rrf_k", "dense w", "R@1", "R@5", "MRR@10", "dev evidence@5"], rows)


if __name__ == "__main__":
    main()
