"""Helpers shared by the benchmark scripts: bench data paths, corpora, settings, statistics."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.evaluate import format_table
from bot.answer.sentences import squeeze
from bot.config import Settings, settings_from_dict

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ZONEBOT_SHARED", ROOT.parent / "shared"))  # as tests/conftest.py
CMRC = SHARED / "bench" / "cmrc2018_dev.json"
POLICY_DOCS = SHARED / "bench" / "policy_docs"
DEV_FILES = [SHARED / "eval" / "seed_dev.jsonl", SHARED / "eval" / "policy_dev.jsonl"]
WORK = ROOT / "data" / "bench"


@dataclass(frozen=True)
class CmrcQuestion:
    question: str
    answers: list[str]
    context_file: str  # the file name of the context's document


def without_gold(ranked: list, answers: list[str]) -> list:
    """The ranked candidate sentences without those holding a gold answer: the question
    as if the fact were missing from the right document (a near miss)."""
    gold = [squeeze(a) for a in answers if squeeze(a)]
    return [c for c in ranked if not any(g in squeeze(c.sentence.text) for g in gold)]


def require_shared() -> None:
    if not SHARED.is_dir():
        raise SystemExit(f"bench data not found: {SHARED} (the benchmarks need ../shared)")


def write_cmrc_corpus(directory: Path) -> list[CmrcQuestion]:
    """Write each CMRC context as its own markdown document; return the questions."""
    directory.mkdir(parents=True, exist_ok=True)
    questions = []
    for article in json.loads(CMRC.read_text(encoding="utf-8"))["data"]:
        for n, paragraph in enumerate(article["paragraphs"]):
            name = f"{article['id']}-{n}.md"
            text = f"# {article['title']}\n\n{paragraph['context']}\n"
            path = directory / name
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            for qa in paragraph["qas"]:
                answers = [a["text"] for a in qa["answers"]]
                questions.append(CmrcQuestion(qa["question"], answers, name))
    return questions


# What the Telegram benches ask when the bot runs the engine double (tests/serve_double.py)
# instead of the real engine: three answered, one refused.
DOUBLE_QUESTIONS = [
    "营口片区去年规模以上工业总产值是多少？",
    "易办电能为企业节约多少办事时间？",
    "负面清单以外的外商投资项目怎么管理？",
    "营口片区的常住人口有多少？",  # refused: no 📄, votes only
]


def load_dev_questions() -> list[dict]:
    """The development question sets (`../shared/eval/*.jsonl`)."""
    rows = []
    for path in DEV_FILES:
        rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return rows


def bench_settings(name: str, corpus: list[Path], **overrides: dict) -> Settings:
    """Settings for a benchmark index kept under data/bench/<name> (reused across runs)."""
    data = {"corpus": {"paths": [str(p) for p in corpus]}, "index": {"dir": str(WORK / name)}}
    data.update(overrides)
    return settings_from_dict(data, base_dir=ROOT)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear interpolation); NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A plain aligned table (also valid Markdown), for the README."""
    print(format_table(headers, rows))
