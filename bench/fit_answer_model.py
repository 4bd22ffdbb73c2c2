"""Fit the answer decision (bot/answer/answer_model.json) and choose its thresholds.

The engine judges every retrieved passage: the model says how likely the answer quoted
from it (its best sentence and the sentences around it, `bot.answer.compose`) contains
the answer, and the engine answers from the most likely passage when that probability
reaches the threshold. So each training question gives one row per passage, labelled 1
when the quote from that passage contains a gold answer.

Training data, never the held-out parts:
- the training parts of the question pool: `train` and the held-out parts already
  measured at a milestone, `heldout` and `heldout2` (`bench/questions/<part>_policy.jsonl`
  over `corpus/` + `policy_docs`, `<part>_library.jsonl` over `corpus/` +
  `policy_library`), and the project's earlier question files (`blind_*`, `fresh_*`, over
  `corpus/` + `policy_docs`); `heldout3` and `heldout4` are never read here,
  follow-ups asked in their conversation;
- CMRC 2018 dev, training slice (contexts whose position is not a multiple of 5; the
  others are the held-out slice `bench/answers.py --cmrc` reports), every `--every`th
  question three times: as asked, with the answering sentences taken out of the
  candidates (the fact is missing from the right document), and asked of the policy
  corpus (off-topic).
Pool rows weigh POOL_WEIGHT, CMRC rows 1. The answer threshold maximises the utility
(right answers minus wrong ones, an answered unanswerable question counting as wrong, per
question) averaged over the two sources: the pool's training questions scored out of
fold (folds by document) and the CMRC training variants scored by the final model, so
neither lay near-miss questions nor encyclopedic factoids alone set it; ties go to the
higher threshold. Below it, related provisions are shown from `related_threshold` on:
the lowest threshold at which at most 2% of the off-topic questions (CMRC asked of the
policy corpus) would be shown any. Prints the sweeps and the calibration.

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
from bot.answer.features import PASSAGE_FEATURES
from bot.answer.question import clean
from bot.answer.sentences import squeeze
from bot.wiring import make_embedder, open_retriever, run_index
from index.embeddings import Embedder

TRAINING_PARTS = ("train", "heldout", "heldout2")  # measured once each; training data since
# The project's first question files (over corpus/ + policy_docs), written the same way.
DEV_SETS = ("blind_policy", "blind_yingkou", "fresh_policy", "fresh_yingkou")
POOL_WEIGHT = 12.0  # the pool is the distribution the product serves; CMRC is auxiliary
FOLDS = 5
C = 0.3  # inverse L2 strength of the logistic regression
OFF_TOPIC_RELATED = 0.02  # share of off-topic questions that may be shown related provisions
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
_WIDTH = len(PASSAGE_FEATURES)
# Used while fitting: the engine's judgement without a fitted model (every p = 0.5).
PLACEHOLDER = AnswerModel(np.zeros(_WIDTH), np.ones(_WIDTH), np.zeros(_WIDTH), 0.0, 0.5, 0.5)


@dataclass(frozen=True, eq=False)  # compared by identity: rows are arrays
class Example:
    """One question: a row per judged passage (none when no passage has a sentence, so
    the engine refuses whatever the model says), and whether each passage's quote holds
    a gold answer."""

    rows: np.ndarray
    right: np.ndarray  # per row
    answerable_rows: np.ndarray  # per row: some sentence passes the checks, so it may answer
    answerable: bool
    off_topic: bool  # asked of a corpus that cannot answer it
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
    every: bool = False,
    off_topic: bool = False,
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
    order = judged.order
    match = all if every else any
    right = [
        bool(gold) and match(g in squeeze(engine.quote(q, judged, i).text) for g in gold)
        for i in order
    ]
    rows = judged.rows[order] if order else np.zeros((0, _WIDTH))
    may_answer = np.array([judged.answerable[i] for i in order], dtype=bool)
    return Example(
        rows, np.array(right, dtype=bool), may_answer, bool(gold), off_topic, source, key
    )


def pool_examples(engines: dict[str, AnswerEngine]) -> list[Example]:
    examples = []
    sets = [(f"{part}_{corpus}", corpus) for part in TRAINING_PARTS for corpus in CORPORA]
    sets += [(name, "policy") for name in DEV_SETS]
    for name, corpus in sets:
        conversations: dict[str, Conversation] = {}
        for gold in load_questions([QUESTIONS / f"{name}.jsonl"]):
            conversation = conversations.get(gold.followup_of or "") or Conversation()
            conversations[gold.id] = conversation
            examples.append(
                example(
                    engines[corpus],
                    gold.question,
                    gold.answers,
                    "pool",
                    gold.doc or "",
                    conversation,
                    every=gold.all,
                )
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
        examples.append(example(engines["policy"], q.question, [], "cmrc", key, off_topic=True))
    return examples


def fit(examples: list[Example]):
    """(mean, scale, fitted LogisticRegression) over all passages of the examples."""
    from sklearn.linear_model import LogisticRegression

    rows = np.vstack([e.rows for e in examples])
    labels = np.concatenate([e.right for e in examples]).astype(float)
    weights = np.concatenate(
        [np.full(len(e.rows), POOL_WEIGHT if e.source == "pool" else 1.0) for e in examples]
    )
    mean, scale = rows.mean(axis=0), rows.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, max_iter=5000)
    model.fit((rows - mean) / scale, labels, sample_weight=weights)
    return mean, scale, model


@dataclass(frozen=True)
class Scored:
    """A question judged by a model: the probability of its most likely passage that may
    answer, whether that passage's quote is right, and whether either of the two most
    likely passages (related provisions) is."""

    probability: float
    right: bool
    related_right: bool
    top_probability: float  # of the most likely passage: decides on related provisions
    example: Example


def score(example: Example, mean: np.ndarray, scale: np.ndarray, model) -> Scored:
    if not len(example.rows):
        return Scored(0.0, False, False, 0.0, example)
    p = model.predict_proba((example.rows - mean) / scale)[:, 1]
    order = np.argsort(-p, kind="stable")
    related = bool(example.right[order[:2]].any())
    may_answer = [int(i) for i in order if example.answerable_rows[i]]
    top = float(p[order[0]])
    if not may_answer:
        return Scored(0.0, False, related, top, example)
    best = may_answer[0]
    return Scored(float(p[best]), bool(example.right[best]), related, top, example)


def out_of_fold(examples: list[Example]) -> list[Scored]:
    """Each pool question scored by a model fitted without its document."""
    pool = [e for e in examples if e.source == "pool"]
    keys = sorted({e.fold_key for e in pool})
    fold_of = {k: i % FOLDS for i, k in enumerate(keys)}
    scored = []
    for fold in range(FOLDS):
        held = [e for e in pool if fold_of[e.fold_key] == fold]
        mean, scale, model = fit([e for e in examples if e not in held])
        scored.extend(score(e, mean, scale, model) for e in held)
    return scored


def utility(scored: list[Scored], t: float) -> float:
    """(right − wrong − answered unanswerable) per question at threshold t."""
    given = [s for s in scored if s.probability >= t]
    right = sum(s.right for s in given)
    return (right - (len(given) - right)) / len(scored)


def related_shown(s: Scored, t: float, r: float) -> bool:
    """Refused at answer threshold t, with related provisions from r on."""
    return s.probability < t and s.top_probability >= r


def sweep(pool: list[Scored], cmrc: list[Scored]) -> tuple[float, list[list[object]]]:
    answerable = [s for s in pool if s.example.answerable]
    unanswerable = [s for s in pool if not s.example.answerable]
    rows, best, chosen = [], None, 0.5
    for t in THRESHOLDS:
        combined = (utility(pool, t) + utility(cmrc, t)) / 2
        if best is None or combined >= best:
            best, chosen = combined, float(t)
        rows.append(
            [
                float(t),
                sum(s.right for s in answerable if s.probability >= t) / len(answerable),
                sum(not s.right for s in answerable if s.probability >= t) / len(answerable),
                sum(s.probability < t for s in unanswerable) / len(unanswerable),
                utility(pool, t),
                utility(cmrc, t),
                combined,
            ]
        )
    return chosen, rows


def related_sweep(
    pool: list[Scored], cmrc: list[Scored], t: float
) -> tuple[float, list[list[object]]]:
    """The lowest related threshold at which at most OFF_TOPIC_RELATED of the off-topic
    questions are shown related provisions: below it, related provisions turn into
    noise."""
    off_topic = [s for s in cmrc if s.example.off_topic]
    answerable = [s for s in pool if s.example.answerable]
    rows, chosen = [], None
    for r in (r for r in THRESHOLDS if r <= t):
        shown = sum(related_shown(s, t, r) for s in off_topic) / len(off_topic)
        if chosen is None and shown <= OFF_TOPIC_RELATED:
            chosen = float(r)
        right = sum(related_shown(s, t, r) and s.related_right for s in answerable)
        rows.append([float(r), right / len(answerable), shown])
    return (t if chosen is None else chosen), rows


def calibration(scored: list[Scored]) -> list[list[object]]:
    rows = []
    for low in np.arange(0.0, 1.0, 0.1):
        inside = [s for s in scored if len(s.example.rows) and low <= s.probability < low + 0.1]
        if inside:
            predicted = float(np.mean([s.probability for s in inside]))
            observed = float(np.mean([s.right for s in inside]))
            rows.append([f"{low:.1f}–{low + 0.1:.1f}", len(inside), predicted, observed])
    return rows


def write_model(mean: np.ndarray, scale: np.ndarray, model, threshold: float, related: float):
    data = {
        "version": 3,
        "features": list(PASSAGE_FEATURES),
        "mean": mean.round(6).tolist(),
        "scale": scale.round(6).tolist(),
        "coef": model.coef_[0].round(6).tolist(),
        "intercept": round(float(model.intercept_[0]), 6),
        "threshold": threshold,
        "related_threshold": related,
        "fitted_by": "bench/fit_answer_model.py on bench/questions/{train,heldout,heldout2}_"
        "{policy,library}.jsonl, {blind,fresh}_{policy,yingkou}.jsonl "
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
    cmrc_scored = [score(e, mean, scale, model) for e in examples if e.source == "cmrc"]
    threshold, table = sweep(scored, cmrc_scored)
    related, related_table = related_sweep(scored, cmrc_scored, threshold)
    pool = sum(e.source == "pool" for e in examples)
    print(f"\n{pool} pool questions, {len(examples) - pool} CMRC question variants")
    print("\nAnswer threshold sweep (pool training questions out-of-fold; utility per question):")
    headers = [
        "threshold",
        "pool answerable right",
        "pool answerable wrong",
        "pool unanswerable refused",
    ]
    print_table([*headers, "pool utility", "CMRC utility", "mean utility"], table)
    print(f"chosen: {threshold:g}")
    print("\nRelated threshold sweep (below the answer threshold):")
    print_table(
        ["related from", "pool refused, related right", "CMRC off-topic shown"],
        related_table,
    )
    print(f"chosen: {related:g}")
    print("\nCalibration (pool training questions, out-of-fold):")
    print_table(["predicted", "questions", "mean predicted", "observed right"], calibration(scored))
    write_model(mean, scale, model, threshold, related)
    print(f"\nwrote {MODEL_FILE}; largest weights (standardised features):")
    ranked = sorted(zip(PASSAGE_FEATURES, model.coef_[0], strict=True), key=lambda fw: -abs(fw[1]))
    for name, weight in ranked[:10]:
        print(f"  {name:22s} {weight:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
