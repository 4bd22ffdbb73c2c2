"""Answer benchmark: the extractive engine on the dev question files and on CMRC 2018 dev.

Prints, against the targets of the answering issue,
- over corpus/ + ../shared/bench/policy_docs on ../shared/eval/*.jsonl: answer, evidence and
  document accuracy, false and correct refusals, and ask latency after warm-up;
- with --cmrc, over CMRC 2018 dev (each context its own document, all 3,219 questions):
  the share of questions whose gold answer is inside the first 200 characters of the
  answer, and the refusal rate, for hybrid and BM25-only retrieval in the same run;
- with --calibrate, how the refusal thresholds (AnswerSettings.min_*_coverage) trade
  answered against refused on answerable CMRC questions, on CMRC questions whose answer
  sentences are removed from the candidates (the fact is missing from the right
  document, like "营口片区的常住人口有多少?"), on questions asked of the other corpus
  (off-topic) and on the dev files. The defaults in bot/config.py were chosen from it.

    python bench/answers.py [--cmrc] [--calibrate] [--every N] [--json] [--questions FILE…]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
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
    write_cmrc_corpus,
)
from bot.answer.engine import AnswerEngine
from bot.answer.evaluate import evaluate, format_report, load_questions
from bot.answer.question import analyse
from bot.answer.refusal import Gate
from bot.answer.sentences import squeeze
from bot.config import AnswerSettings, Settings
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
CMRC_TARGET = 0.80
# The grid searched by --calibrate: (min_sentence, min_context, min_focus) coverage.
GRID = [(s, c, f) for s in (0.1, 0.2, 0.3) for c in (0.3, 0.4, 0.5) for f in (0.3, 0.5)]


def engine_for(name: str, corpus: list[Path], embedder: Embedder, mode: str = "hybrid"):
    settings = bench_settings(name, corpus)
    run_index(settings, embedder=embedder, show_progress=True)
    engine = AnswerEngine(open_retriever(settings, embedder), settings, mode=mode)
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


def cmrc_report(embedder: Embedder, questions: list[CmrcQuestion]) -> dict:
    rows, result = [], {"questions": len(questions)}
    for mode in ("hybrid", "keyword"):
        engine = engine_for("cmrc_index", [WORK / "cmrc_corpus"], embedder, mode)
        contained = refused = 0
        latencies = []
        for q in questions:
            answer = engine.answer(q.question)
            latencies.append(answer.timings_ms["total"])
            refused += not answer.found
            body = squeeze(answer.text[:BODY_CHARS])
            contained += answer.found and any(squeeze(a) in body for a in q.answers)
        scores = {
            "gold_in_first_200": contained / len(questions),
            "refused": refused / len(questions),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
        }
        result[mode] = scores
        label = "hybrid" if mode == "hybrid" else "BM25 only"
        rows.append([label, *scores.values(), f"≥ {CMRC_TARGET:g}"])
    print(f"\nCMRC 2018 dev: {len(questions)} questions, each context its own document")
    print_table(
        ["retrieval", "gold in first 200 chars", "refused", "p50 ms", "p95 ms", "target"], rows
    )
    return result


def calibrate(embedder: Embedder, questions: list[CmrcQuestion]) -> dict:
    """Answered share of each question set for every threshold triple in GRID."""
    cmrc = engine_for("cmrc_index", [WORK / "cmrc_corpus"], embedder)
    dev = engine_for("dev_index", [ROOT / "corpus", POLICY_DOCS], embedder)
    dev_questions = load_questions(DEV_FILES)
    sets: dict[str, list] = {"cmrc": [], "cmrc, answer removed": [], "other corpus": []}
    golds = []
    for q in questions:
        question, ranked = _ranked(cmrc, q.question)
        gold = [squeeze(a) for a in q.answers]
        golds.append(gold)
        sets["cmrc"].append((question, ranked))
        without = [c for c in ranked if not any(g in squeeze(c.sentence.text) for g in gold)]
        sets["cmrc, answer removed"].append((question, without))
        sets["other corpus"].append(_ranked(dev, q.question))
    sets["other corpus"] += [_ranked(cmrc, g.question) for g in dev_questions]
    sets["dev answerable"] = [_ranked(dev, g.question) for g in dev_questions if g.answerable]
    sets["dev unanswerable"] = [_ranked(dev, g.question) for g in dev_questions if not g.answerable]
    rows, result = [], []
    for triple in GRID:
        settings = _thresholds(cmrc.settings.answer, triple)
        verdicts = {
            name: [Gate(q, ranked, settings).verdict() for q, ranked in items]
            for name, items in sets.items()
        }
        answered = {
            name: sum(v.best is not None for v in vs) / len(vs) for name, vs in verdicts.items()
        }
        right = sum(
            v.best is not None and any(g in squeeze(v.best.sentence.text) for g in gold)
            for v, gold in zip(verdicts["cmrc"], golds, strict=True)
        ) / len(golds)
        result.append({"thresholds": triple, "answered": answered, "cmrc_right": right})
        rows.append([" / ".join(f"{t:g}" for t in triple), right, *answered.values()])
    print("\nRefusal calibration: share answered (want high for cmrc and dev answerable,")
    print("low for the others) per min sentence / context / focus coverage; 'cmrc right':")
    print("answered with the gold answer in the leading sentence.")
    print_table(["thresholds", "cmrc right", *sets], rows)
    return {"grid": result}


def _ranked(engine: AnswerEngine, text: str):
    question = analyse(text)
    return question, engine.rank(question, engine.retrieve(question))


def _thresholds(answer: AnswerSettings, triple: tuple[float, float, float]) -> AnswerSettings:
    sentence, context, focus = triple
    return replace(
        answer,
        min_sentence_coverage=sentence,
        min_context_coverage=context,
        min_focus_coverage=focus,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cmrc", action="store_true", help="also run CMRC 2018 dev")
    parser.add_argument("--calibrate", action="store_true", help="print the refusal sweep")
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
    if args.cmrc or args.calibrate:
        questions = write_cmrc_corpus(WORK / "cmrc_corpus")[:: args.every]
        if args.cmrc:
            result["cmrc"] = cmrc_report(embedder, questions)
        if args.calibrate:
            result["calibration"] = calibrate(embedder, questions)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
