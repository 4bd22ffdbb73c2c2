"""`zonebot documents`: the indexed documents with their metadata, as text and JSON,
without loading the model."""

from __future__ import annotations

import json

from twins_support import build, write_corpus

from bot.cli import main
from index.document_store import DOCUMENTS_NAME
from index.generations import live_generation


def configured(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    build(corpus, tmp_path / "index")
    config = tmp_path / "config.yaml"
    config.write_text("corpus:\n  paths: [corpus]\nindex:\n  dir: index\n", encoding="utf-8")
    return config


def test_documents_lists_provenance_and_what_is_missing(tmp_path, capsys):
    config = configured(tmp_path)
    assert main(["--config", str(config), "documents"]) == 0
    out = capsys.readouterr().out
    assert "上海市人大常委会 · 地方性法规 · 上海市" in out
    assert "已被取代（→《上海市优化营商环境条例》2024-09-27）" in out
    assert "缺少：制定机关" in out and out.strip().endswith("份。")

    assert main(["--config", str(config), "documents", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["documents"]
    zone = next(r for r in rows if r["title"] == "中国（上海）自由贸易试验区条例")
    assert zone["missing"] == ["issuer"] and zone["region_kind"] == "zone"
    assert {r["status"] for r in rows} == {"in force", "amended", "replaced", "repealed"}


def test_an_index_without_metadata_says_to_reindex(tmp_path, capsys):
    config = configured(tmp_path)
    (live_generation(tmp_path / "index") / DOCUMENTS_NAME).unlink()
    assert main(["--config", str(config), "documents"]) == 1
    assert "zonebot index" in capsys.readouterr().err
