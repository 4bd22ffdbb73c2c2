"""Retrieval benchmark: CMRC 2018 dev (848 contexts, 3,219 questions) and the dev question files.

Prints context-level R@1, R@5 and MRR@10 for BM25-only, dense-only and hybrid in one run,
index build throughput, query latency and the peak RSS of `zonebot search`; then, over
corpus/ + policy_docs, whether each answerable dev question's evidence is in a top-5 chunk.

    python bench/retrieval.py [--rebuild] [--limit N] [--backend B] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    POLICY_DOCS,
    ROOT,
    WORK,
    bench_settings,
    load_dev_questions,
    percentile,
    print_table,
    require_shared,
    write_cmrc_corpus,
)
from bot.answer.sentences import squeeze
from bot.wiring import make_embedder, open_retriever, run_index


def context_ranks(retriever, questions, mode: str) -> tuple[list[int | None], list[float]]:
    """1-based rank of each question's own context among distinct retrieved contexts."""
    ranks, latencies = [], []
    for q in questions:
        started = time.perf_counter()
        hits = retriever.search(q.question, k=30, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        contexts = list(dict.fromkeys(Path(h.chunk.source).name for h in hits))
        ranks.append(contexts.index(q.context_file) + 1 if q.context_file in contexts else None)
    return ranks, latencies


def recall(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: list[int | None], k: int = 10) -> float:
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks)


# A fresh, small interpreter starts `zonebot search` and reports the child's peak RSS.
# Measuring from this (large) process would be wrong: Linux carries the peak RSS of the
# forking parent over into the child across exec.
_MEASURE_CHILD = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def search_peak_rss_mb(config: Path) -> float:
    """Peak RSS of one `zonebot search` process (model + index load + one query)."""
    search = [sys.executable, "-m", "bot", "--config", str(config), "search", "营口片区的总产值"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE_CHILD, *search],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(measured.stdout.split()[-1]) / 1024


def cmrc_report(args: argparse.Namespace) -> dict:
    questions = write_cmrc_corpus(WORK / "cmrc_corpus")
    if args.limit:
        questions = questions[: args.limit]
    backend = {"embedding": {"backend": args.backend}} if args.backend else {}
    name = f"cmrc_index_{args.backend}" if args.backend else "cmrc_index"
    settings = bench_settings(name, [WORK / "cmrc_corpus"], **backend)
    embedder = make_embedder(settings)
    summary = run_index(settings, rebuild=args.rebuild, embedder=embedder, show_progress=True)
    retriever = open_retriever(settings, embedder)
    retriever.search("预热", k=5)  # warm-up: first call pays one-off costs
    rows, result = [], {"questions": len(questions)}
    for mode in ("keyword", "dense", "hybrid"):
        ranks, latencies = context_ranks(retriever, questions, mode)
        scores = {"R@1": recall(ranks, 1), "R@5": recall(ranks, 5), "MRR@10": mrr(ranks)}
        scores |= {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)}
        result[mode] = scores
        rows.append([mode, *scores.values()])
    print(
        f"\nCMRC 2018 dev: {len(questions)} questions over {summary.chunks} chunks "
        f"(embedding backend {embedder.backend})"
    )
    print_table(["mode", "R@1", "R@5", "MRR@10", "p50 ms", "p95 ms"], rows)
    if summary.embedded:
        rate = summary.embedded / summary.seconds
        result["build"] = {
            "chunks": summary.embedded,
            "seconds": summary.seconds,
            "chunks_per_s": rate,
        }
        print(
            f"index build: {summary.embedded} chunks embedded in {summary.seconds:.1f} s "
            f"= {rate:.1f} chunks/s"
        )
    else:
        print("index build: reused (run with --rebuild to measure throughput)")
    return result


def dev_report() -> dict:
    settings = bench_settings("dev_index", [ROOT / "corpus", POLICY_DOCS])
    run_index(settings, show_progress=True)
    retriever = open_retriever(settings)
    missing, answerable = [], [q for q in load_dev_questions() if q.get("evidence")]
    for q in answerable:
        hits = retriever.search(q["question"], k=5)
        found = any(
            squeeze(q["evidence"]) in squeeze(h.chunk.text)
            and (not q.get("doc") or q["doc"] in h.chunk.source)
            for h in hits
        )
        if not found:
            missing.append(q["id"])
    rate = 1 - len(missing) / len(answerable)
    print(
        f"\ndev files: evidence in a top-5 chunk for {len(answerable) - len(missing)}"
        f"/{len(answerable)} answerable questions ({rate:.3f}); missing: {missing or 'none'}"
    )
    config = WORK / "dev_config.yaml"
    config.write_text(
        json.dumps(
            {
                "corpus": {"paths": [str(ROOT / "corpus"), str(POLICY_DOCS)]},
                "index": {"dir": str(settings.index.dir)},
            }
        ),
        encoding="utf-8",
    )
    rss = search_peak_rss_mb(config)
    print(f"peak RSS of `zonebot search`: {rss:.0f} MB")
    return {"evidence_top5": rate, "missing": missing, "search_peak_rss_mb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the CMRC index (timed)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N CMRC questions")
    parser.add_argument("--skip-cmrc", action="store_true", help="only the dev-file check")
    parser.add_argument("--skip-dev", action="store_true", help="only the CMRC benchmark")
    parser.add_argument(
        "--backend", choices=["torch", "torch-bf16", "onnx-int8"], help="embedding.backend"
    )
    parser.add_argument("--json", action="store_true", help="also print all numbers as JSON")
    args = parser.parse_args()
    require_shared()
    result = {} if args.skip_cmrc else {"cmrc": cmrc_report(args)}
    if not args.skip_dev:
        result["dev"] = dev_report()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
