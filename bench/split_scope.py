"""Split the scoping question set into a training part and a frozen held-out part.

The set (`/work/helpers/scope_questions/scope.jsonl`, or the file given) was written for
issue 10 by people who never saw the engine: questions that name a region, zone or law
(`scoped`), that name none while several parallel documents answer (`ambiguous`), that
name a place the corpus does not cover (`uncovered`) and that ask about an old or the
current version (`version`). It is split before any development, deterministically by
a hash of what each question is about, so no document is in both parts:
- scoped / version: the regulation's title (both versions of one regulation go together);
- ambiguous: the set of parallel documents it names;
- uncovered: the place.
About 30% of those keys are held out (the share was chosen for the parts' sizes before
anything was run). The held-out part is measured once, at the end.

    python bench/split_scope.py [SOURCE]   # writes bench/questions/scope_{train,heldout}.jsonl
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/work/helpers/scope_questions/scope.jsonl")
OUT = ROOT / "bench" / "questions"
HELD_OUT_TENTHS = 3  # keys whose hash mod 10 is 0–2 are held out (about 30%)


def key(question: dict) -> str:
    """What a question is about, so that related questions land on the same side."""
    if question["type"] == "uncovered":
        return f"place:{question['place']}"
    if question["type"] == "ambiguous":
        return "docs:" + "|".join(sorted(question["docs"]))
    return "doc:" + question["doc"].split("(")[0]


def held_out(question: dict) -> bool:
    digest = hashlib.sha256(key(question).encode("utf-8")).hexdigest()
    return int(digest, 16) % 10 < HELD_OUT_TENTHS


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    parts = {
        "train": [q for q in rows if not held_out(q)],
        "heldout": [q for q in rows if held_out(q)],
    }
    for name, questions in parts.items():
        path = OUT / f"scope_{name}.jsonl"
        path.write_text(
            "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
        )
        kinds = {
            t: sum(q["type"] == t for q in questions)
            for t in ("scoped", "ambiguous", "uncovered", "version")
        }
        print(f"{path.relative_to(ROOT)}: {len(questions)} questions {kinds}")


if __name__ == "__main__":
    main()
