"""Split the question pool into a training part and a frozen held-out part, by document.

The pool (`bench/questions/pool/*.jsonl`) was written by helpers who never saw the engine.
It is split before any modelling, so the held-out part cannot have shaped the engine:
- questions about the 17 `policy_docs` and the Yingkou report form the *policy* sets
  (corpus: `corpus/` + `policy_docs`); those about other `policy_library` documents form
  the *library* sets (corpus: the whole `policy_library`);
- whole documents go to one side (seeded draw, 40% held out), so no passage is seen in
  training and tested later;
- the Yingkou report is one file, so its questions are split by where their evidence
  stands (the second part of the page is held out); a question without evidence
  (unanswerable) goes by a hash of its id; a follow-up always goes with the question it
  follows.

    python bench/split_pool.py   # writes bench/questions/{train,heldout}_{policy,library}.jsonl
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOL = ROOT / "bench" / "questions" / "pool"
OUT = ROOT / "bench" / "questions"
YINGKOU = ROOT / "corpus" / "yingkou_ftz_report.txt"
SEED = 2026
HELD_OUT_SHARE = 0.4
YINGKOU_SPLIT = 0.55  # evidence after this share of the page is held out


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def held_out_documents(docs: list[str], seed: int) -> set[str]:
    docs = sorted(set(docs))
    count = round(len(docs) * HELD_OUT_SHARE)
    return set(random.Random(seed).sample(docs, count))


def yingkou_side(question: dict, page: str) -> bool:
    """True when a Yingkou question is held out."""
    evidence = question.get("evidence")
    if evidence and squeeze(evidence) in page:
        return page.index(squeeze(evidence)) / len(page) >= YINGKOU_SPLIT
    return int(hashlib.sha256(question["id"].encode()).hexdigest(), 16) % 10 < 4


def split() -> dict[str, list[dict]]:
    page = squeeze(YINGKOU.read_text(encoding="utf-8"))
    policy = [q for f in ("yingkou", "policy_a", "policy_b") for q in load(POOL / f"{f}.jsonl")]
    library = [
        q for f in ("library_c", "library_d", "library_e") for q in load(POOL / f"{f}.jsonl")
    ]
    held_policy = held_out_documents([q["doc"] for q in policy if q["doc"] != "yingkou"], SEED)
    held_library = held_out_documents([q["doc"] for q in library], SEED + 1)
    sets: dict[str, list[dict]] = {
        name: [] for name in ("train_policy", "heldout_policy", "train_library", "heldout_library")
    }
    side: dict[str, bool] = {}
    for corpus, questions, held in (
        ("policy", policy, held_policy),
        ("library", library, held_library),
    ):
        for q in questions:
            if q.get("followup_of") in side:
                out = side[q["followup_of"]]
            elif q["doc"] == "yingkou":
                out = yingkou_side(q, page)
            else:
                out = q["doc"] in held
            side[q["id"]] = out
            sets[f"{'heldout' if out else 'train'}_{corpus}"].append(q)
    return sets


def main() -> int:
    for name, questions in split().items():
        path = OUT / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
        )
        docs = len({q["doc"] for q in questions})
        unanswerable = sum(not q["answers"] for q in questions)
        print(
            f"{path.relative_to(ROOT)}: {len(questions)} questions, {docs} documents, "
            f"{unanswerable} unanswerable"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
