"""A small corpus of twins, versions and a repeal in the LawRefBook format, for the
metadata, scoping and per-document tests: the national 优化营商环境条例 and its 上海 (two
versions) and 北京 twins, a 青岛 city regulation approved by 山东, two free-trade-zone
regulations, the Customs Law, and 印花税暂行条例 repealed by 印花税法."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_build import FakeEmbedder

from bot.answer.engine import AnswerEngine
from bot.config import Settings
from index.build import build_index
from index.chunking import ChunkerSettings
from index.retrieve import HybridRetriever, RetrievalSettings, open_index

OPENING = "开办企业材料齐全的，有关部门应当在{}内办结。"
SHANGHAI_AMENDED = (
    "2024年9月27日 上海市第十六届人民代表大会常务委员会第十六次会议"
    "《关于修改〈上海市优化营商环境条例〉的决定》第三次修正"
)
CUSTOMS_AMENDED = (
    "2021年4月29日 第十三届全国人民代表大会常务委员会第二十八次会议"
    "《关于修改〈中华人民共和国道路交通安全法〉等八部法律的决定》第六次修正"
)
STAMP_REPEALS = (
    "第二十条 本法自2022年7月1日起施行。"
    "1988年8月6日国务院发布的《中华人民共和国印花税暂行条例》同时废止。"
)
FEES = "涉企收费目录清单应当在每年一月三十一日前向社会公开。"

DOCUMENTS = {
    "优化营商环境条例(2019-10-22).md": f"""# 优化营商环境条例

2019年10月8日 国务院第66次常务会议通过

2019年10月22日 中华人民共和国国务院令第722号公布

2020年1月1日 施行

<!-- INFO END -->

## 第一章 总则

第一条 为了持续优化营商环境，制定本条例。

第十条 {OPENING.format("三个工作日")}

第十一条 {FEES}

第七十二条 本条例自2020年1月1日起施行。
""",
    "上海市优化营商环境条例(2020-04-10).md": f"""# 上海市优化营商环境条例

2020年4月10日 上海市第十五届人民代表大会常务委员会第二十次会议通过

<!-- INFO END -->

## 第一章 总则

第一条 为了持续优化营商环境，结合本市实际，制定本条例。

第十条 {OPENING.format("两个工作日")}

第十一条 {FEES}

第十二条 证明事项清单应当每三个月更新一次。

第九十条 本条例自2020年4月10日起施行。
""",
    "上海市优化营商环境条例(2024-09-27).md": f"""# 上海市优化营商环境条例

2020年4月10日 上海市第十五届人民代表大会常务委员会第二十次会议通过

{SHANGHAI_AMENDED}

<!-- INFO END -->

## 第一章 总则

第一条 为了持续优化营商环境，结合本市实际，制定本条例。

第十条 {OPENING.format("一个工作日")}

第十一条 {FEES}

第十二条 证明事项清单应当每一个月更新一次。

第九十条 本条例自2020年4月10日起施行。
""",
    "北京市优化营商环境条例(2024-11-29).md": f"""# 北京市优化营商环境条例

2020年3月27日 北京市第十五届人民代表大会常务委员会第二十次会议通过

2024年11月29日 北京市第十六届人民代表大会常务委员会第十三次会议第一次修订

<!-- INFO END -->

## 第一章 总则

第一条 为了持续优化营商环境，制定本条例。

第十条 {OPENING.format("一个工作日")}

第十一条 {FEES}

第九十四条 本条例自公布之日起施行。
""",
    "青岛市优化营商环境条例(2021-01-28).md": """# 青岛市优化营商环境条例

2020年11月18日 青岛市第十六届人民代表大会常务委员会第二十七次会议通过

2021年1月28日 山东省第十三届人民代表大会常务委员会第二十五次会议批准

<!-- INFO END -->

第一条 为了持续优化营商环境，制定本条例。

第二十条 市政务服务部门应当推行“一窗受理”。

第七十条 本条例自2021年3月1日起施行。
""",
    "中国（上海）自由贸易试验区条例.md": """# 中国（上海）自由贸易试验区条例

<!-- INFO END -->

## 第一章 总则

第一条 为推进和保障中国（上海）自由贸易试验区建设，制定本条例。

第八条 自贸试验区管理委员会统筹管理和协调自贸试验区有关行政事务。

第五十七条 本条例自2014年8月1日起施行。
""",
    "中国（山东）自由贸易试验区条例(2020-09-25).md": """# 中国（山东）自由贸易试验区条例

2020年9月25日 山东省第十三届人民代表大会常务委员会第二十三次会议通过

<!-- INFO END -->

第一条 为了推进和保障中国（山东）自由贸易试验区建设，制定本条例。

第九条 自贸试验区各片区管理机构负责片区的开发建设和日常管理。

第五十九条 本条例自2021年1月1日起施行。
""",
    "海关法(2021-04-29).md": f"""# 中华人民共和国海关法

1987年1月22日 第六届全国人民代表大会常务委员会第十九次会议通过

{CUSTOMS_AMENDED}

<!-- INFO END -->

第十四条 进出境运输工具到达或者驶离设立海关的地点时，运输工具负责人应当向海关如实申报。
""",
    "印花税暂行条例(2011-01-08).md": """# 中华人民共和国印花税暂行条例

1988年8月6日 中华人民共和国国务院令第11号发布

<!-- INFO END -->

第五条 应纳税额不足一元的，免纳印花税。

第十六条 本条例自1988年10月1日起施行。
""",
    "印花税法(2021-06-10).md": f"""# 中华人民共和国印花税法

2021年6月10日 第十三届全国人民代表大会常务委员会第二十九次会议通过

<!-- INFO END -->

{STAMP_REPEALS}
""",
}


def write_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def build(corpus: Path, index_dir: Path, embedder: FakeEmbedder | None = None, **kwargs):
    embedder = embedder or FakeEmbedder()
    return build_index([corpus], index_dir, embedder, ChunkerSettings(), **kwargs)


def twins_engine(corpus: Path, index_dir: Path, **answer: object) -> AnswerEngine:
    """The real engine over the corpus (fake embedder; every passing sentence answers, as
    in tests/answer_support.small_engine, unless `min_probability` says otherwise)."""
    embedder = FakeEmbedder()
    build(corpus, index_dir, embedder)
    answer.setdefault("min_probability", 0.0)
    settings = Settings()
    settings = replace(settings, answer=replace(settings.answer, **answer))
    retriever = HybridRetriever(open_index(index_dir, embedder), embedder, RetrievalSettings())
    return AnswerEngine(retriever, settings)
