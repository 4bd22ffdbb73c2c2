"""Fit the answer decision (bot/answer/answer_model.json) and choose its threshold.

The engine's answer starts from the best-scored candidate sentence that passes the hard
checks (names, value type, person, focus: `bot.answer.checks`); the model says how likely
that sentence answers the question, and the engine answers only above the threshold. So
each training question gives one row: that sentence's features, labelled 1 when it
contains a gold answer.

Training data, never the held-out parts:
- the training part of the question pool (`bench/questions/train_policy.jsonl` over
  `corpus/` + `policy_docs`, `train_library.jsonl` over `corpus/` + `policy_library`),
  follow-ups asked in their conversation;
- CMRC 2018 dev, training slice (contexts whose position is not a multiple of 5; the
  others are the held-out slice `bench/answers.py --cmrc` reports), every `--every`th
  question three times: as asked, with the answering sentences taken out of the
  candidates (the fact is missing from the right document), and asked of the policy
  corpus (off-topic).
Pool rows weigh POOL_WEIGHT, CMRC rows 1. The threshold maximises the utility (right
answers minus wrong ones, an answered unanswerable question counting as wrong, per
question) averaged over the two sources: the pool's training questions scored out of
fold (folds by document) and the CMRC training variants scored by the final model, so
neither lay near-miss questions nor encyclopedic factoids alone set it; ties go to the
higher threshold. Prints the sweep and the calibration.

    python bench/fit_answer_model.py [--every N]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.answers import CMRC_HELD_OUT_EVERY
from bench.common import (
    WORK,
    CmrcQuestion,
    bench_settings,
    print_table,
    require_shared,
    without_gold,
    write_cmrc_corpus,
)
from bench.pool import CORPORA, QUESTIONS
from bot.answer.conversation import Conversation, Turn
from bot.answer.decision import MODEL_FILE, AnswerModel
from bot.answer.engine import AnswerEngine
from bot.answer.evaluate import load_questions
from bot.answer.features import FEATURES
from bot.answer.question import clean
from bot.answer.sentences import squeeze
from bot.wiring import make_embedder, open_retriever, run_index
from index.embeddings import Embedder

POOL_WEIGHT = 4.0  # the pool is the distribution the product serves; CMRC is auxiliary
FOLDS = 5
C = 1.0  # inverse L2 strength of the logistic regression
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
_WIDTH = len(FEATURES)
# Used while fitting: the engine's judgement without a fitted model (every p = 0.5).
PLACEHOLDER = AnswerModel(np.zeros(_WIDTH), np.ones(_WIDTH), np.zeros(_WIDTH), 0.0, 0.5)


@dataclass(frozen=True, eq=False)  # compared by identity: rows are arrays
class Example:
    """One question: the features of its first passing sentence (None when no sentence
    passes the checks, so the engine refuses whatever the model says)."""

    row: np.ndarray | None
    right: bool  # that sentence contains a gold answer
    answerable: bool
    source: str  # "pool" or "cmrc"
    fold_key: str  # the document, for the pool


def engine_over(corpus: list[Path], name: str, embedder: Embedder) -> AnswerEngine:
    settings = bench_settings(name, corpus)
    run_index(settings, embedder=embedder, show_progress=True)
    return AnswerEngine(open_retriever(settings, embedder), settings, model=PLACEHOLDER)


def example(
    engine: AnswerEngine,
    text: str,
    golds: list[str],
    source: str,
    key: str,
    conversation: Conversation | None = None,
    drop_gold: bool = False,
) -> Example:
    q = engine.analyse(clean(text), conversation)
    if conversation is not None:
        conversation.add(Turn(q.search))
    hits = engine.retrieve(q)
    ranked = engine.rank(q, hits)
    gold = [squeeze(g) for g in golds if squeeze(g)]
    if drop_gold:  # the fact is missing from the right document: no sentence holds it
        ranked = without_gold(ranked, gold)
        gold = []
    judged = engine.judge_ranked(q, ranked, hits)
    if judged.best is None:
        return Example(None, False, bool(gold), source, key)
    right = any(g in squeeze(judged.best.sentence.text) for g in gold)
    return Example(judged.rows[judged.first], right, bool(gold), source, key)


def pool_examples(engines: dict[str, AnswerEngine]) -> list[Example]:
    examples = []
    for part, corpus in (("train_policy", "policy"), ("train_library", "library")):
        conversations: dict[str, Conversation] = {}
        for gold in load_questions([QUESTIONS / f"{part}.jsonl"]):
            conversation = conversations.get(gold.followup_of or "") or Conversation()
            conversations[gold.id] = conversation
            engine = engines[corpus]
            examples.append(
                example(engine, gold.question, gold.answers, "pool", gold.doc or "", conversation)
            )
    return examples


def cmrc_examples(
    engines: dict[str, AnswerEngine], questions: list[CmrcQuestion], every: int
) -> list[Example]:
    contexts = sorted({q.context_file for q in questions})
    held_out = set(contexts[::CMRC_HELD_OUT_EVERY])
    train = [q for q in questions if q.context_file not in held_out][::every]
    examples = []
    for q in train:
        key = q.context_file
        examples.append(example(engines["cmrc"], q.question, q.answers, "cmrc", key))
        examples.append(example(engines["cmrc"], q.question, q.answers, "cmrc", key, None, True))
        examples.append(example(engines["policy"], q.question, [], "cmrc", key))
    return examples


def fit(examples: list[Example]):
    """(mean, scale, fitted LogisticRegression) over the examples that have a row."""
    from sklearn.linear_model import LogisticRegression

    usable = [e for e in examples if e.row is not None]
    rows = np.vstack([e.row for e in usable])
    labels = np.array([float(e.right) for e in usable])
    weights = np.array([POOL_WEIGHT if e.source == "pool" else 1.0 for e in usable])
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=3000)
    model.fit((rows - mean) / scale, labels, sample_weight=weights)
    return mean, scale, model


def out_of_fold(examples: list[Example]) -> list[tuple[float, Example]]:
    """Each pool question's probability from a model fitted without its document."""
    pool = [e for e in examples if e.source == "pool"]
    keys = sorted({e.fold_key for e in pool})
    fold_of = {k: i % FOLDS for i, k in enumerate(keys)}
    scored = []
    for fold in range(FOLDS):
        held = [e for e in pool if fold_of[e.fold_key] == fold]
        mean, scale, model = fit([e for e in examples if e not in held])
        for e in held:
            p = 0.0 if e.row is None else model.predict_proba(((e.row - mean) / scale)[None])[0, 1]
            scored.append((float(p), e))
    return scored


def utility(scored: list[tuple[float, Example]], t: float) -> float:
    """(right − wrong − answered unanswerable) per question at threshold t."""
    given = [e for p, e in scored if p >= t]
    right = sum(e.right for e in given if e.answerable)
    wrong = sum(not e.right for e in given if e.answerable) + sum(not e.answerable for e in given)
    return (right - wrong) / len(scored)


def sweep(
    pool: list[tuple[float, Example]], cmrc: list[tuple[float, Example]]
) -> tuple[float, list[list[object]]]:
    answerable = sum(e.answerable for _, e in pool)
    unanswerable = len(pool) - answerable
    rows, best, chosen = [], None, 0.5
    for t in THRESHOLDS:
        given = [e for p, e in pool if p >= t]
        combined = (utility(pool, t) + utility(cmrc, t)) / 2
        if best is None or combined >= best:
            best, chosen = combined, float(t)
        rows.append(
            [
                float(t),
                sum(e.right for e in given if e.answerable) / answerable,
                sum(not e.right for e in given if e.answerable) / answerable,
                1 - sum(not e.answerable for e in given) / unanswerable,
                utility(pool, t),
                utility(cmrc, t),
                combined,
            ]
        )
    return chosen, rows


def calibration(scored: list[tuple[float, Example]]) -> list[list[object]]:
    rows = []
    for low in np.arange(0.0, 1.0, 0.1):
        inside = [(p, e.right) for p, e in scored if e.row is not None and low <= p < low + 0.1]
        if inside:
            predicted = float(np.mean([p for p, _ in inside]))
            observed = float(np.mean([r for _, r in inside]))
            rows.append([f"{low:.1f}–{low + 0.1:.1f}", len(inside), predicted, observed])
    return rows


def write_model(mean: np.ndarray, scale: np.ndarray, model, threshold: float) -> None:
    data = {
        "version": 2,
        "features": list(FEATURES),
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "coef": model.coef_[0].round(6).tolist(),
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": threshold,
        "fitted_by": "bench/fit_answer_model.py on bench/questions/train_{policy,library}.jsonl "
        "and the CMRC 2018 dev training slice",
    }
    MODEL_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=2, help="every Nth CMRC training question")
    args = parser.parse_args()
    require_shared()
    embedder = make_embedder(bench_settings("dev_index", []))
    engines = {c: engine_over(paths, name, embedder) for c, (name, paths) in CORPORA.items()}
    cmrc = write_cmrc_corpus(WORK / "cmrc_corpus")
    engines["cmrc"] = engine_over([WORK / "cmrc_corpus"], "cmrc_index", embedder)
    examples = pool_examples(engines) + cmrc_examples(engines, cmrc, args.every)
    scored = out_of_fold(examples)
    mean, scale, model = fit(examples)
    cmrc_scored = [
        (
            0.0
            if e.row is None
            else float(model.predict_proba(((e.row - mean) / scale)[None])[0, 1]),
            e,
        )
        for e in examples
        if e.source == "cmrc"
    ]
    threshold, table = sweep(scored, cmrc_scored)
    pool = sum(e.source == "pool" for e in examples)
    print(f"\n{pool} pool questions, {len(examples) - pool} CMRC question variants")
    print("\nThreshold sweep (pool training questions out-of-fold; utility per question):")
    headers = [
        "threshold",
        "pool answerable right",
        "pool answerable wrong",
        "pool unanswerable refused",
    ]
    print_table([*headers, "pool utility", "CMRC utility", "mean utility"], table)
    print(f"chosen: {threshold:g}")
    print("\nCalibration (pool training questions, out-of-fold):")
    print_table(["predicted", "questions", "mean predicted", "observed right"], calibration(scored))
    write_model(mean, scale, model, threshold)
    print(f"\nwrote {MODEL_FILE}; largest weights (standardised features):")
    ranked = sorted(zip(FEATURES, model.coef_[0], strict=True), key=lambda fw: -abs(fw[1]))
    for name, weight in ranked[:10]:
        print(f"  {name:22s} {weight:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
