"""Document metadata: header lines and 题注, resolution into issuer / level / region /
dates / status, documents.yaml and front matter, and how builds store and reuse it."""

from __future__ import annotations

import json

import pytest
from test_build import FakeEmbedder
from twins_support import DOCUMENTS, build, write_corpus

from index.dense import DenseSettings
from index.document_store import (
    DOCUMENTS_NAME,
    MetadataError,
    live_documents,
    read_documents,
    split_front_matter,
)
from index.generations import live_generation
from index.header import parse_events
from index.manifest import Manifest
from index.metadata import extract, resolve
from index.retrieve import HybridRetriever, RetrievalSettings, open_index
from index.structure import parse_documents


def infos_of(documents: dict[str, str], overrides: dict | None = None) -> dict:
    facts = [
        extract(d, split_front_matter(text)[0])
        for name, text in documents.items()
        for d in parse_documents(name, split_front_matter(text)[1])
    ]
    return {i.source: i for i in resolve(facts, overrides or {})}


@pytest.fixture(scope="module")
def twins() -> dict:
    return infos_of(DOCUMENTS)


def test_lawrefbook_header_lines_become_dated_events_with_their_bodies():
    events = parse_events(
        [
            "2019年10月8日 国务院第66次常务会议通过",
            "2019年10月22日 中华人民共和国国务院令第722号公布",
            "2020年1月1日 施行",
        ]
    )
    assert [(e.date, e.kind, e.body) for e in events] == [
        ("2019-10-08", "通过", "国务院"),
        ("2019-10-22", "公布", "国务院"),
        ("2020-01-01", "施行", None),
    ]


def test_a_bracketed_tizhu_with_an_amendment_by_decision_is_read_too():
    (adopted, amended) = parse_events(
        [
            "（2011年11月17日上海市第十三届人民代表大会常务委员会第三十次会议通过　根据2020年"
            "5月14日上海市第十五届人民代表大会常务委员会第二十一次会议《关于修改本市部分地方性"
            "法规的决定》修正）"
        ]
    )
    assert (adopted.kind, adopted.body) == ("通过", "上海市人大常委会")
    assert (amended.date, amended.kind, amended.by_decision) == ("2020-05-14", "修正", True)


def test_national_and_local_documents_get_issuer_level_region_and_dates(twins):
    national = twins["优化营商环境条例(2019-10-22).md"]
    assert (national.issuer, national.level, national.region_kind) == (
        "国务院",
        "行政法规",
        "national",
    )
    assert (national.adopted, national.promulgated, national.effective) == (
        "2019-10-08",
        "2019-10-22",
        "2020-01-01",
    )
    shanghai = twins["上海市优化营商环境条例(2024-09-27).md"]
    assert (shanghai.issuer, shanghai.level, shanghai.places) == (
        "上海市人大常委会",
        "地方性法规",
        ("上海市",),
    )
    assert shanghai.amended == shanghai.version_date == "2024-09-27"
    assert shanghai.provenance() == "上海市人大常委会，2024-09-27 公布"
    customs = twins["海关法(2021-04-29).md"]
    assert (customs.issuer, customs.level, customs.short_name) == (
        "全国人大常委会",
        "法律",
        "海关法",
    )


def test_a_city_regulation_lies_in_the_province_that_approved_it(twins):
    qingdao = twins["青岛市优化营商环境条例(2021-01-28).md"]
    assert qingdao.places == ("山东省", "青岛市") and qingdao.region_kind == "city"
    assert qingdao.issuer == "青岛市人大常委会" and qingdao.place_label == "青岛"


def test_free_trade_zones_are_zones_of_their_province(twins):
    zone = twins["中国（上海）自由贸易试验区条例.md"]
    assert (
        zone.places == ("上海市", "中国（上海）自由贸易试验区") and zone.zone_kind == "自贸试验区"
    )
    assert zone.short_name == "上海自贸试验区条例" and zone.family == "自贸试验区条例"
    assert zone.issuer is None and zone.missing() == ["issuer"]  # it has no header lines


def test_a_newer_version_replaces_the_older_and_a_repealing_law_repeals(twins):
    old = twins["上海市优化营商环境条例(2020-04-10).md"]
    new = twins["上海市优化营商环境条例(2024-09-27).md"]
    assert (old.status, old.replaced_by) == ("replaced", new.doc_id) and new.status == "amended"
    assert "已被取代" in old.provenance()
    stamp = twins["印花税暂行条例(2011-01-08).md"]
    assert (stamp.status, stamp.replaced_by) == (
        "repealed",
        twins["印花税法(2021-06-10).md"].doc_id,
    )


def test_parallel_documents_share_their_family(twins):
    families = {i.family for name, i in twins.items() if "优化营商环境条例" in name}
    assert families == {"优化营商环境条例"}


def test_operator_fields_win_over_the_document_and_a_pattern_over_nothing():
    name = "中国（上海）自由贸易试验区条例.md"
    infos = infos_of(
        {name: DOCUMENTS[name]},
        {name: {"issuer": "上海市人大常委会", "version_date": "2014-07-25"}},
    )
    info = infos[name]
    assert (info.issuer, info.version_date, info.missing()) == (
        "上海市人大常委会",
        "2014-07-25",
        [],
    )
    assert info.origin["issuer"] == "documents.yaml"


def test_front_matter_is_read_and_blanked_keeping_offsets():
    text = "---\nissuer: 某市人民政府\nlevel: 规章\ntags: [x]\n---\n# 某市办法\n\n第一条 内容。\n"
    fields, blanked = split_front_matter(text)
    assert fields == {"issuer": "某市人民政府", "level": "规章"}
    assert len(blanked) == len(text) and blanked.index("# 某市办法") == text.index("# 某市办法")
    (info,) = infos_of({"办法.md": text}).values()
    assert (info.title, info.issuer, info.origin["issuer"]) == (
        "某市办法",
        "某市人民政府",
        "front matter",
    )


def test_broken_front_matter_is_left_as_text():
    text = "---\nissuer: [unclosed\n---\n正文。\n"
    assert split_front_matter(text) == ({}, text)


def test_build_stores_metadata_and_documents_yaml_changes_rebuild_without_embedding(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    embedder = FakeEmbedder()
    build(corpus, tmp_path / "idx", embedder)
    infos = {i.source.split("/")[-1]: i for i in live_documents(tmp_path / "idx")}
    assert infos["海关法(2021-04-29).md"].issuer == "全国人大常委会"

    (corpus / "documents.yaml").write_text(
        "中国（上海）自由贸易试验区条例.md:\n  issuer: 上海市人大常委会\n"
        "'*.md':\n  region_kind: national\n"
        "没有这个文件.md:\n  level: 规章\n",
        encoding="utf-8",
    )
    embedder.embedded.clear()
    summary = build(corpus, tmp_path / "idx", embedder)
    assert not summary.up_to_date and embedder.embedded == []
    assert "没有这个文件.md" in summary.notice
    infos = {i.source.split("/")[-1]: i for i in live_documents(tmp_path / "idx")}
    assert infos["中国（上海）自由贸易试验区条例.md"].issuer == "上海市人大常委会"
    assert {i.region_kind for i in infos.values()} == {"national"}
    assert build(corpus, tmp_path / "idx", embedder).up_to_date


def test_a_bad_documents_yaml_stops_the_build_naming_the_key(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    build(corpus, tmp_path / "idx")
    (corpus / "documents.yaml").write_text("海关法(2021-04-29).md:\n  isuer: 国务院\n", "utf-8")
    with pytest.raises(MetadataError, match=r"isuer.*issuer"):
        build(corpus, tmp_path / "idx")
    (corpus / "documents.yaml").write_text("海关法(2021-04-29).md:\n  level: 法规\n", "utf-8")
    with pytest.raises(MetadataError, match="level"):
        build(corpus, tmp_path / "idx")
    assert live_documents(tmp_path / "idx")  # the previous index is still live


def test_an_index_built_before_metadata_is_upgraded_without_embedding(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    embedder = FakeEmbedder()
    build(corpus, tmp_path / "idx", embedder)
    generation = live_generation(tmp_path / "idx")
    (generation / DOCUMENTS_NAME).unlink()
    manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    del manifest["metadata"]
    (generation / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Manifest.load(generation).metadata == ""
    with pytest.raises(MetadataError, match="zonebot index"):
        live_documents(tmp_path / "idx")

    embedder.embedded.clear()
    build(corpus, tmp_path / "idx", embedder)
    assert embedder.embedded == []
    infos, facts = read_documents(live_generation(tmp_path / "idx"))
    assert len(infos) == len(facts) == len(DOCUMENTS)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_within_documents_never_leaves_them(tmp_path, kind):
    corpus = write_corpus(tmp_path / "corpus")
    embedder = FakeEmbedder()
    build(corpus, tmp_path / "idx", embedder, dense=DenseSettings(kind=kind))
    retriever = HybridRetriever(
        open_index(tmp_path / "idx", embedder), embedder, RetrievalSettings()
    )
    beijing = next(
        d.doc_id
        for d in retriever.documents()
        if d.source.endswith("北京市优化营商环境条例(2024-11-29).md")
    )
    hits = retriever.search("开办企业多久办结", 10, within={beijing})
    assert hits and {h.chunk.doc_id for h in hits} == {beijing}
    dense = retriever.search("开办企业多久办结", 10, mode="dense", within={beijing})
    assert len(dense) == min(10, len(retriever.chunks_of(beijing)))  # every chunk reachable
    assert retriever.search("开办企业多久办结", 10, within=set()) == []
    assert len(retriever.search("开办企业多久办结", 10)) == 10
