"""`ask`, `chat` and `serve` warn when the corpus changed since the index was built (file
names against the manifest, modification times against the build time)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot import wiring
from bot.cli import main
from bot.config import settings_from_dict

TEXT = "营口片区去年规模以上工业总产值完成102.25亿元。\n\n一般公共预算收入完成10.36亿元。\n"


@pytest.fixture
def indexed(tmp_path, real_embedder):
    """A one-file corpus, indexed, and a config file for it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TEXT, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text("corpus: {paths: [corpus]}\nindex: {dir: idx}\n", encoding="utf-8")
    data = {"corpus": {"paths": ["corpus"]}, "index": {"dir": "idx"}}
    settings = settings_from_dict(data, base_dir=tmp_path)
    settings = replace(settings, config_path=config)
    wiring.run_index(settings, embedder=real_embedder)
    return settings


def test_unchanged_corpus_gives_no_warning(indexed):
    assert wiring.corpus_warning(indexed) is None


def test_added_modified_and_removed_files_are_named(indexed):
    corpus = indexed.corpus.paths[0]
    later = time.time() + 5
    os.utime(corpus / "a.txt", (later, later))
    (corpus / "b.txt").write_text(TEXT, encoding="utf-8")
    warning = wiring.corpus_warning(indexed)
    assert warning is not None and "新增 1" in warning and "修改 1" in warning
    assert "zonebot index" in warning
    (corpus / "a.txt").unlink()
    assert "删除 1" in wiring.corpus_warning(indexed)


def test_no_index_is_not_a_change(tmp_path):
    settings = settings_from_dict(
        {"corpus": {"paths": ["corpus"]}, "index": {"dir": "none"}}, base_dir=tmp_path
    )
    assert wiring.corpus_warning(settings) is None


def test_ask_and_serve_warn(indexed, real_engine, monkeypatch, capsys, caplog):
    from bot.telegram import app

    monkeypatch.setattr(wiring, "build_engine", lambda settings, embedder=None: real_engine)
    monkeypatch.setattr(wiring, "make_embedder", lambda settings: None)
    monkeypatch.setattr(app, "run_bot", lambda *args: None)
    (indexed.corpus.paths[0] / "b.txt").write_text(TEXT, encoding="utf-8")
    config = str(indexed.config_path)
    assert main(["ask", "营口片区去年规模以上工业总产值是多少?", "--config", config]) == 0
    assert "注意: 语料在建索引后有变化" in capsys.readouterr().err
    caplog.set_level(logging.WARNING)
    assert main(["serve", "--config", config]) == 0
    assert any(r.getMessage().startswith("corpus_changed ") for r in caplog.records)


def test_a_closed_pipe_ends_quietly(indexed, real_engine, monkeypatch, tmp_path):
    """`zonebot ask --jsonl … | head -1`: the reader leaves; no traceback, exit 141."""
    monkeypatch.setattr(wiring, "build_engine", lambda settings, embedder=None: real_engine)
    questions = tmp_path / "q.jsonl"
    questions.write_text("营口片区去年规模以上工业总产值是多少?\n" * 5, encoding="utf-8")
    read, write = os.pipe()
    os.close(read)
    with open(write, "w", encoding="utf-8") as closed:
        monkeypatch.setattr("sys.stdout", closed)
        code = main(["ask", "--jsonl", str(questions), "--config", str(indexed.config_path)])
    assert code == 141


def test_first_conversion_says_what_it_is_doing(tmp_path, monkeypatch, capsys):
    from index import e5_convert

    monkeypatch.setattr(e5_convert, "parse_e5_file", lambda data: None)
    monkeypatch.setattr(
        e5_convert, "write_model_folder", lambda e5, dest, provenance: Path(dest, "x").touch()
    )
    target = e5_convert.materialize_e5(tmp_path)
    err = capsys.readouterr().err
    assert "正在把内置嵌入模型转换到" in err and str(target) in err and "模型已就绪" in err
    e5_convert.materialize_e5(tmp_path)
    assert capsys.readouterr().err == "", "silent once converted"
