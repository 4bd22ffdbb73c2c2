"""The `zonebot` command line as a user runs it: help, errors without tracebacks, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def zonebot(*args: str, config: Path | None = None, stdin: str | None = None):
    command = [sys.executable, "-m", "bot"]
    if config:
        command += ["--config", str(config)]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, input=stdin, cwd=ROOT, timeout=300
    )


@pytest.fixture
def config_for(tmp_path):
    def make(index_dir: Path, corpus: Path = ROOT / "corpus") -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(f"corpus: {{paths: ['{corpus}']}}\nindex: {{dir: '{index_dir}'}}\n")
        return path

    return make


def test_help_is_fast_and_does_not_import_torch():
    code = (
        "import sys\nfrom bot.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY' if {'torch', 'faiss'} & set(sys.modules) else 'LIGHT')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "search" in result.stdout and "index" in result.stdout
    assert result.stdout.strip().endswith("LIGHT")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "营口"], "zonebot index"),
        (["search", ""], "问题为空"),
        (["search", "营" * 40_000], "问题过长"),  # near the OS limit for one argument
        (["search", "营口", "-k", "0"], "-k"),
    ],
)
def test_bad_input_gives_a_message_not_a_traceback(config_for, tmp_path, args, message):
    result = zonebot(*args, config=config_for(tmp_path / "no-index"))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{absent}", "index"],
        ["index", "--config", "{absent}"],
        ["-v", "index", "--log-format", "json", "--config", "{absent}"],
    ],
)
def test_global_options_go_before_or_after_the_command(tmp_path, args):
    absent = str(tmp_path / "absent.yaml")
    result = zonebot(*(a.format(absent=absent) for a in args))
    assert result.returncode == 1 and absent in result.stderr
    assert "unrecognized arguments" not in result.stderr


def test_repeated_ask_gets_a_hint_once_in_a_while(tmp_path, capsys):
    from bot.cli import ASK_HINT, _hint_if_repeated

    stamp = tmp_path / "data" / ".last_ask"
    _hint_if_repeated(stamp, now=1000.0)
    _hint_if_repeated(stamp, now=1030.0)
    _hint_if_repeated(stamp, now=2000.0)
    assert capsys.readouterr().err.count(ASK_HINT) == 1
    (tmp_path / "file").write_text("")
    _hint_if_repeated(tmp_path / "file" / "x", now=1.0)  # an unwritable stamp: no hint, no error
    _hint_if_repeated(tmp_path / "file" / "x", now=2.0)
    assert capsys.readouterr().err == ""


def test_missing_config_and_empty_corpus(config_for, tmp_path):
    result = zonebot("search", "营口", config=tmp_path / "absent.yaml")
    assert result.returncode == 1 and "--config" in result.stderr
    (tmp_path / "empty").mkdir()
    result = zonebot("index", config=config_for(tmp_path / "idx", tmp_path / "empty"))
    assert result.returncode == 1 and "corpus.paths" in result.stderr
    assert "Traceback" not in result.stderr


def test_index_search_json_and_batch(config_for, tmp_path):
    config = config_for(tmp_path / "idx")
    result = zonebot("index", config=config)
    assert result.returncode == 0, result.stderr
    assert "索引完成" in result.stdout and "2 篇文档" in result.stdout
    result = zonebot("index", "--json", config=config)
    assert json.loads(result.stdout)["up_to_date"] is True

    result = zonebot("search", "易办电是和哪家单位联合推出的", "-k", "2", "--json", config=config)
    payload = json.loads(result.stdout)
    assert len(payload["results"]) == 2
    assert "国网营口供电公司" in " ".join(r["text"] for r in payload["results"])

    lines = "\n".join(
        [
            json.dumps({"query": "不见面审批事项有多少项"}, ensure_ascii=False),
            "{not json",
            json.dumps({"query": "  "}),
            json.dumps({"question": "崔家席坊村的历史"}, ensure_ascii=False),
            json.dumps({"text": "no query field"}),
            json.dumps({"query": "营" * 100_000}),
        ]
    )
    result = zonebot("search", "--jsonl", "-", "-k", "3", config=config, stdin=lines)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 6
    assert "388项" in " ".join(r["text"] for r in out[0]["results"])
    assert "error" in out[1] and "error" in out[2] and "error" in out[4]
    assert "问题过长" in out[5]["error"]
    assert out[3]["results"][0]["rank"] == 1
