"""Answer benchmark: the extractive engine on the dev question files and on CMRC 2018 dev.

Prints, against the targets of the answering issue,
- over corpus/ + ../shared/bench/policy_docs on ../shared/eval/*.jsonl: answer, evidence and
  document accuracy, false and correct refusals, and ask latency after warm-up;
- with --cmrc, over CMRC 2018 dev (each context its own document, all 3,219 questions):
  the share of questions whose gold answer is inside the first 200 characters of the
  answer, the refusal rate, and how often the same question is still answered when the
  sentences holding its answer are removed (a near miss: it should be refused), for
  hybrid and BM25-only retrieval in the same run;
  reported separately for its held-out slice (every 5th context, never used to fit the
  answer model: see bench/fit_answer_model.py) and its training slice.

    python bench/answers.py [--cmrc] [--every N] [--json] [--questions FILE…]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    DEV_FILES,
    POLICY_DOCS,
    ROOT,
    WORK,
    CmrcQuestion,
    bench_settings,
    percentile,
    print_table,
    require_shared,
    without_gold,
    write_cmrc_corpus,
)
from bot.answer.engine import AnswerEngine
from bot.answer.evaluate import evaluate, format_report, load_questions
from bot.answer.sentences import squeeze
from bot.config import Settings
from bot.wiring import make_embedder, open_retriever, run_index
from index.embeddings import Embedder

BODY_CHARS = 200  # the CMRC measure: gold answer within the first 200 characters
DEV_TARGETS = {  # metric: (label, target, higher is better)
    "answer_accuracy": ("answer contains gold", 0.95, True),
    "evidence_accuracy": ("evidence in a cited passage", 0.95, True),
    "doc_accuracy": ("right document cited", 0.95, True),
    "false_refusal_rate": ("answerable wrongly refused", 0.05, False),
    "refusal_accuracy": ("unanswerable refused", 1.0, True),
    "latency_p50_ms": ("latency p50 ms", 50.0, False),
    "latency_p95_ms": ("latency p95 ms", 120.0, False),
}
CMRC_TARGET = 0.85
CMRC_HELD_OUT_EVERY = 5  # contexts 0, 5, 10, … never fit the answer model


def engine_for(name: str, corpus: list[Path], embedder: Embedder):
    settings = bench_settings(name, corpus)
    run_index(settings, embedder=embedder, show_progress=True)
    engine = AnswerEngine(open_retriever(settings, embedder), settings)
    engine.warm_up()  # the first call pays one-off costs (jieba, torch)
    return engine


def dev_report(embedder: Embedder, files: list[Path]) -> dict:
    engine = engine_for("dev_index", [ROOT / "corpus", POLICY_DOCS], embedder)
    report = evaluate(engine.answer, load_questions(files))
    summary = report.summary()
    rows = []
    for key, (label, target, higher) in DEV_TARGETS.items():
        value = summary[key]
        met = value is not None and (value >= target if higher else value <= target)
        rows.append([label, value, f"{'≥' if higher else '≤'} {target:g}", "yes" if met else "NO"])
    answerable = sum(1 for o in report.outcomes if o.gold.answerable)
    names = ", ".join(path.name for path in files)
    print(
        f"\n{names} ({len(report.outcomes)} questions, {answerable} answerable) over "
        "corpus/ + policy_docs, extractive mode:"
    )
    print_table(["metric", "value", "target", "met"], rows)
    print("\nPer question type:")
    print(format_report(report))
    return report.to_dict()


def cmrc_report(embedder: Embedder, questions: list[CmrcQuestion], name: str) -> dict:
    """Hybrid retrieval only: the answer decision is fitted on its features (the cosines
    among them); bench/retrieval.py compares the retrieval modes."""
    engine = engine_for("cmrc_index", [WORK / "cmrc_corpus"], embedder)
    contained = refused = removed_answered = 0
    latencies = []
    for q in questions:
        answer = engine.answer(q.question)
        latencies.append(answer.timings_ms["total"])
        refused += not answer.found
        body = squeeze(answer.text[:BODY_CHARS])
        contained += answer.found and any(squeeze(a) in body for a in q.answers)
        removed_answered += _answered_without_gold(engine, q)
    scores = {
        "gold_in_first_200": contained / len(questions),
        "refused": refused / len(questions),
        "answer_removed_answered": removed_answered / len(questions),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }
    print(f"\nCMRC 2018 dev, {name}: {len(questions)} questions, each context its own document")
    print_table(
        ["gold in first 200 chars", "refused", "answer removed: answered", "p50 ms", "p95 ms",
         "target"],
        [[*scores.values(), f"≥ {CMRC_TARGET:g}"]],
    )  # fmt: skip
    return {"questions": len(questions), "hybrid": scores}


def _answered_without_gold(engine: AnswerEngine, q: CmrcQuestion) -> bool:
    """Would the engine still answer if the sentences holding the answer were not in the
    document (the near miss: the right document, the fact missing)?"""
    question = engine.analyse(q.question)
    hits = engine.retrieve(question)
    ranked = without_gold(engine.rank(question, hits), q.answers)
    judged = engine.judge_ranked(question, ranked, hits)
    return judged.best is not None and judged.probability >= engine.threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cmrc", action="store_true", help="also run CMRC 2018 dev")
    parser.add_argument("--every", type=int, default=1, help="only every Nth CMRC question")
    parser.add_argument("--json", action="store_true", help="also print all numbers as JSON")
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        default=DEV_FILES,
        help="question files about corpus/ and policy_docs (default: ../shared/eval/*.jsonl)",
    )
    args = parser.parse_args()
    require_shared()
    embedder = make_embedder(Settings())
    result = {"dev": dev_report(embedder, args.questions)}
    if args.cmrc:
        questions = write_cmrc_corpus(WORK / "cmrc_corpus")
        contexts = sorted({q.context_file for q in questions})
        held_out = set(contexts[::CMRC_HELD_OUT_EVERY])
        for name, inside in (("held-out slice", True), ("training slice", False)):
            part = [q for q in questions if (q.context_file in held_out) == inside]
            result[f"cmrc {name}"] = cmrc_report(embedder, part[:: args.every], name)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
