"""`zonebot ask`, `chat` and `eval` as a user runs them (the session's real engine)."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot import wiring
from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "营口片区去年规模以上工业总产值是多少?"


@pytest.fixture
def config(tmp_path, real_settings) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"corpus: {{paths: ['{ROOT / 'corpus'}']}}\nindex: {{dir: '{real_settings.index.dir}'}}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def zonebot(config, real_engine, monkeypatch, capsys):
    """Run the CLI in-process with the session's engine (the model loads once)."""
    monkeypatch.setattr(wiring, "build_engine", lambda settings, embedder=None: real_engine)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_ask_prints_the_answer_and_its_sources(zonebot):
    code, out, _ = zonebot("ask", QUESTION)
    assert code == 0
    assert "102.25亿元" in out and "[1] 《走创新路" in out and "“" in out


def test_ask_json(zonebot):
    code, out, _ = zonebot("ask", QUESTION, "--json")
    record = json.loads(out)
    assert code == 0 and record["found"] and record["question"] == QUESTION
    assert record["citations"][0]["verified"] and "102.25亿元" in record["citations"][0]["text"]
    assert set(record["timings_ms"]) == {"retrieve", "answer", "total"}


def test_ask_jsonl_takes_objects_and_plain_lines_in_order(zonebot, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps({"id": 7, "question": QUESTION}, ensure_ascii=False),
                "营口片区的常住人口有多少?",
                "{not json",
                json.dumps({"query": "没有 question 字段"}, ensure_ascii=False),
                json.dumps({"question": ""}),
            ]
        ),
        encoding="utf-8",
    )
    code, out, _ = zonebot("ask", "--jsonl", str(batch))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 5
    assert lines[0]["found"] and "102.25亿元" in lines[0]["answer"]
    assert lines[1]["found"] is False and lines[1]["question"] == "营口片区的常住人口有多少?"
    assert "invalid JSON" in lines[2]["error"] and lines[2]["line"] == 3
    assert "question" in lines[3]["error"]
    assert lines[4]["found"] is False and "请输入" in lines[4]["answer"]


def test_chat_keeps_context_and_quits(zonebot, monkeypatch):
    lines = iter([QUESTION, "那同比增长多少?", "/new", "", "/quit"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(lines))
    code, out, _ = zonebot("chat")
    assert code == 0 and "102.25亿元" in out and "13.9%" in out and "新的对话" in out


def test_chat_ends_on_ctrl_d(zonebot, monkeypatch):
    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(builtins, "input", eof)
    assert zonebot("chat")[0] == 0


def test_eval_reports_metrics_and_failures(zonebot, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(record, ensure_ascii=False)
            for record in [
                {
                    "id": "a",
                    "question": QUESTION,
                    "answers": ["102.25亿元"],
                    "evidence": "102.25亿元",
                },
                {
                    "id": "b",
                    "question": "营口片区的常住人口有多少?",
                    "answers": [],
                    "type": "unanswerable",
                },
                {"id": "c", "question": "王志斌来自哪个单位?", "answers": ["国务院"]},
            ]
        ),
        encoding="utf-8",
    )
    code, out, _ = zonebot("eval", str(gold))
    assert code == 0 and "| all " in out and "unanswerable refused" in out
    assert "1 failing question(s):" in out and "- c [factoid]" in out
    code, out, _ = zonebot("eval", str(gold), "--json")
    report = json.loads(out)
    assert (
        report["summary"]["answer_accuracy"] == 0.5 and report["summary"]["refusal_accuracy"] == 1
    )


def test_eval_names_a_bad_golden_line(zonebot, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"question": 1}\n', encoding="utf-8")
    code, _, err = zonebot("eval", str(gold))
    assert code == 1 and "gold.jsonl:1" in err and "Traceback" not in err


def test_ask_in_a_fresh_process(config):
    """The real command: model and index load, answer printed, nothing else on stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "ask", "--jsonl", "-"],
        input=f"{QUESTION}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "102.25亿元" in json.loads(result.stdout)["answer"]
    assert "jieba" not in result.stderr and "prefix dict" not in result.stderr
