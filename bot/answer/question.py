"""What a question asks: its cleaned text, its type, the terms and names it is about.

The extractive engine never "understands" a question; it matches. So this module turns
the question into the things a matcher needs: content terms to look for, the proper
names that must be present in any passage that answers it, and the question type with
the kind of value the answer has to contain (a 多少 question needs a number with a
fitting unit, a 什么时候 question a date). All matching happens on normalised text
(NFKC, Simplified), so a Traditional question meets Simplified documents.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

from index.punctuation import sentence_spans
from index.textnorm import is_traditional, normalize, pos_tags, tokenize, word_frequency

# --------------------------------------------------------------------------- cleaning

_TAG = re.compile(r"<[^>]{0,200}>")
# Code pasted inside <script>/<style> is not part of the question: drop it with its tags.
_CODE_BLOCK = re.compile(r"<(script|style)\b[^>]{0,200}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"[*_`#>|~]+")
_SPACE = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")


def clean(text: str) -> str:
    """The question as plain text: HTML tags and entities, Markdown marks and runs of
    whitespace removed (users paste from web pages and chat apps)."""
    text = html.unescape(_TAG.sub(" ", _CODE_BLOCK.sub(" ", text or "")))
    text = _MD_MARKS.sub(" ", _MD_LINK.sub(r"\1", text))
    return _SPACE.sub(" ", text).strip()


def has_words(text: str) -> bool:
    """False for text made only of emoji, punctuation and symbols."""
    return bool(_WORDLIKE.search(text))


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


# --------------------------------------------------------------------------- types

_COUNTED = "个项户天年次名人家种所条位倍岁元处只台件篇座批辆套份"  # measure words: 多少项
# Question types, tried in this order; the first whose cue occurs wins. Each cue is the
# interrogative phrase, so the type is a property of how the question is asked.
KIND_CUES: tuple[tuple[str, str], ...] = (
    (
        "list",
        r"哪些|哪几|哪[两三四五六七八九十]+[个项类种条家]|有几[个项类种方面]|包括什么|包含什么"
        r"|都有什么|有什么(?:内容|方面|措施)",
    ),
    (
        "time",
        r"什么时候|何时|哪天|哪一天|哪一?年|几月|几号|什么时间|什么年代|哪个朝代|何年|多会儿"
        r"|什么日期|哪个月",
    ),
    (
        "quantity",
        rf"多少[{_COUNTED}]?|几[{_COUNTED}万千百十亿]|多大|多长|多久|多高|多远|"
        r"多重|多宽|多深|多快|百分之几|几成|比例是",
    ),
    (
        "who",
        r"谁|哪个单位|哪家|哪个部门|哪个机构|什么单位|什么机构|什么部门|哪个公司|什么公司|哪位"
        r"|什么人|哪个人|哪个组织|什么组织|哪个机关|什么机关|哪一级",
    ),
    ("howto", r"怎么|如何|怎样|怎么样|通过什么|用什么办法|什么办法|什么方式|什么措施|哪种方式"),
    ("definition", r"是什么|是指什么|什么是|指什么|什么意思|含义|定义|什么性质"),
    # A-not-A (是不是, 能不能, 需不需要, 允不允许) is Chinese grammar's yes/no question.
    ("yesno", r"吗\??$|能否|是否|可否|有没有|([\u4e00-\u9fff])不\1"),
    ("place", r"哪里|在哪个|在哪|什么地方|哪个地区|哪个城市|哪个国家|何处|哪儿"),
    ("what", r"什么|哪[个一种支所座条部本首国场队届次类只名间张片门]|何种|啥"),
)

# Units that a quantity answer may carry, by the dimension asked about, with the words in
# a question that ask about that dimension. A question whose dimension is known needs a
# number with one of these units; otherwise any number will do.
UNIT_CLASSES: dict[str, tuple[str, str]] = {
    "money": (
        r"元|美元|欧元|港元|英镑|日元",
        r"钱|金额|产值|收入|投资|资金|罚|费用|成本|税|价格|资产|营业额|销售额|总额|奖励"
        r"|奖金|贷款|融资|利润|补贴|工资|预算|经费|价值",
    ),
    "time": (
        r"秒|分钟|小时|天|日|周|星期|个月|月|年|工作日|自然日|世纪",
        r"多久|多长时间|时限|时间|期限|工期|周期|时长|几天|几年|有效期",
    ),
    "area": (r"平方米|平方公里|平方千米|亩|公顷|平米", r"面积|多大"),
    "length": (
        r"米|公里|千米|英里|厘米|毫米",
        r"长度|全长|距离|多远|多高|海拔|高度|多长|多深|多宽",
    ),
    "ratio": (
        r"%|％|百分之|个百分点|倍|成",
        r"增长|增幅|下降|降低|压缩|提高|比例|比重|占比|减少|率|缩短|节约|节省|上升|涨|少了|多了",
    ),
    "people": (r"人|名|位|万人|人次", r"人口|人数|员工|职工|多少人|几人|成员|会员"),
}

_NUMERAL = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千万亿半]+)"  # 半个工作日
# "多少平方公里", "几个工作日": the interrogative with the unit it asks in.
_ASKED_WITH_UNIT = re.compile(
    rf"(?:多少|几)个?[万亿千百]?(?P<unit>{'|'.join(units for units, _ in UNIT_CLASSES.values())})"
)
# "多少项" / "几个" / "多少亿元": an explicit measure word after the interrogative.
_ASKED_UNIT = re.compile(r"(?:多少|几)(?:个)?([万亿千百]?[\u4e00-\u9fff%])")
_MEASURE_WORDS = frozenset(_COUNTED.replace("个", "") + "米")
_DATE = re.compile(
    r"\d{2,4}年|\d{1,2}月|\d{1,2}日|[〇零一二三四五六七八九十]{2,4}年|[一二三四五六七八九十]{1,3}月"
    r"|世纪|年代|[夏商周秦汉晋隋唐宋元明清]代|[夏商周秦汉晋隋唐宋元明清]朝|时期|年初|年底|年末|月底"
    r"|今年|去年|明年|前年|起施行|之日起|那天|当天|这天|当年|那年|上午|下午|晚上|早上|凌晨|周末"
    r"|星期[一二三四五六日天]|春节|元旦|除夕|小年|国庆|中秋|端午|清明"
)
_ANY_NUMBER = re.compile(_NUMERAL)

# jieba part-of-speech tags for proper names: places, people, organisations, other names,
# and Latin-script words.
_NAME_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz", "eng"})
_NOUNISH = ("n", "vn", "j", "l", "an", "eng")
# jieba tags of pronouns, prepositions and conjunctions: words a question leans on but an
# answer need not repeat.
_FUNCTION_TAGS = frozenset({"r", "p", "c"})
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_EVERYDAY_FREQUENCY = 100  # jieba dictionary count: 换人 167, 天成 46, 博落回 2
# The most common Chinese surnames (together well over 90% of the population), and the
# first characters of common compound ones (欧阳, 司马, 诸葛, 上官, 皇甫, 令狐).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马胡朱郭何罗高林郑梁谢唐许冯宋韩邓彭曹曾田于萧肖潘袁董叶杜丁"
    "蒋程余吕魏蔡苏任卢沈姜姚钟崔陆谭汪石傅贾范金方韦夏廖侯白孟邹秦尹江熊薛邱阎闫段雷龙黎"
    "史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文施洪辛柯庄牛樊葛邢安齐伍耿关兰殷付聂"
    "申翟祝岳倪童欧司诸上皇令单舒柳左鲁季包鲍焦梅章詹荣涂宁穆甘蓝纪项祁尚路霍盛谷郎卓池"
    "蒲房滕桂柴晏喻冉温翁管游骆饶苗卜窦车连费宫褚闵解岑缪戚邬尤庞"
)
# Roles whose holder is a person: "管委会主任是谁" is answered by a name, not by 管委会.
_PERSON_ROLE = re.compile(
    r"主任|书记|局长|市长|省长|县长|区长|部长|主席|董事长|总经理|经理|负责人|作者|校长|院长|厂长"
    r"|村长|队长|领导人|创始人|创办人|法定代表人|总裁|行长|社长|主编|导演|编剧|教练|妻子|丈夫"
    r"|记者|通讯员|编辑|摄影师"
    r"|儿子|女儿|父亲|母亲"
)
_COPULAS = frozenset("是 有 为 叫 叫做 称为 指 是指 指的是 达到 达 约 共 共有 一共 总共 了".split())
_INTERROGATIVE = re.compile(
    r"哪些|哪几|哪个|哪家|哪位|哪种|哪一|什么时候|什么|啥|多少|几|谁|怎么|如何|怎样|何时|何种"
    r"|多大|多长时间|多长|多久|多高|多远|吗"
)
# Words that name the answer's category or the property asked about rather than content
# an answer repeats: "哪个单位" is answered by 国网营口供电公司, "职业是什么" by 足球运动员.
_FRAME_WORDS = (
    "单位 部门 机构 公司 组织 时间 时候 时期 年代 朝代 日期 地方 地点 位置 方面 内容 情况 "
    "方式 办法 措施 东西 原因 理由 目的 意义 作用 用途 要求 规定 意思 含义 定义 概念 类型 "
    "种类 性质 特点 特征 特色 优势 颜色 形状 外观 外形 样子 名字 名称 全称 简称 别称 称号 "
    "职业 职务 职位 官职 身份 地位 国籍 籍贯 作品 著作 奖项 荣誉 成就 学科 专业 学位 学校 "
    "人 人物 国家 地区 城市 事情 问题 结果 影响 关系 额度 数额 数量 数目 幅度 目标 任务 "
    "举措".split()
)
# Interrogatives with the category word after them, one pattern per question type, removed
# in type order (so "哪一年" goes as a whole before "在哪" could take its first half).
_CUES_WITH_FRAME = [re.compile(rf"(?:{cue})(?:{'|'.join(_FRAME_WORDS)})?") for _, cue in KIND_CUES]
# A long message tells a story before it asks ("我们是一家做跨境电商的小公司，去年刚在青岛注册，
# …，想问一下…?"); the story's interrogatives ("能少跑几趟") must not decide the question's form.
LONG_MESSAGE = 45  # characters: shorter messages are a question, not a story
SHORT_CORE = 12  # characters: a core this short leans on the sentence before it
_ASKS = re.compile(r"[?？]$|吗$|呢$")
# "这种申报不实…", "那…": the core refers back to the story's last sentence.
_REFERS_BACK = re.compile(r"^(?:这种|这个|这样|这些|那种|那个|那样|那|此|该|其|它)")


@dataclass(frozen=True)
class Question:
    """A question ready for matching. `text` is what the user asked (cleaned); `search` is
    what retrieval sees (normalised, and for a follow-up completed from history)."""

    text: str
    search: str
    kind: str
    terms: tuple[str, ...]  # content terms, normalised, without question and frame words
    focus: tuple[str, ...]  # the terms naming what is asked about ("常住人口有多少" → 常住人口)
    slot: tuple[str, str]  # text before and after the interrogative
    names: tuple[str, ...]  # proper names that an answer's passage must mention
    person: bool  # asks who holds a role: the answer must name a person
    units: tuple[str, ...]  # acceptable unit patterns for a quantity answer; () = any
    traditional: bool

    def needs_value(self) -> bool:
        """Quantity and time questions are only answered by a sentence with such a value."""
        return self.kind in ("quantity", "time")


def analyse(text: str, search: str | None = None) -> Question:
    """Analyse `search` (default: `text`), the standalone form of the question. The form
    of a long message's question (its kind, interrogative, focus, unit) comes from its
    asking sentence, its content (terms, names, what retrieval sees) from all of it."""
    search = normalize(search or text)
    form = asking_sentence(search)
    kind = question_kind(form)
    return Question(
        text=text,
        search=search,
        kind=kind,
        terms=content_terms(search),
        focus=focus_terms(form),
        slot=around_interrogative(form),
        names=proper_names(search),
        person=kind == "who" and bool(_PERSON_ROLE.search(form)),
        units=expected_units(form) if kind == "quantity" else (),
        traditional=is_traditional(text),
    )


def asking_sentence(normalised: str) -> str:
    """The sentence of a long message that asks (with the one before it when it leans on
    it); a short message, or one whose asking sentence cannot be found, unchanged."""
    if len(normalised) <= LONG_MESSAGE:
        return normalised
    spans = sentence_spans(normalised, semicolons=True, lines=True)
    sentences = [normalised[start:end] for start, end in spans]
    asking = [i for i, s in enumerate(sentences) if _asks(s)]
    if len(sentences) < 2 or not asking:
        return normalised
    first = last = asking[-1]
    if first > 0 and (len(sentences[first]) < SHORT_CORE or _REFERS_BACK.match(sentences[first])):
        first -= 1
    return normalised[spans[first][0] : spans[last][1]]


def _asks(sentence: str) -> bool:
    text = sentence.strip().rstrip("。！!；;")
    return bool(_ASKS.search(text)) or question_kind(text) != "other"


def question_kind(normalised: str) -> str:
    for kind, cue in KIND_CUES:
        if re.search(cue, normalised):
            return kind
    return "other"


def strip_question(normalised: str) -> str:
    """The question without its interrogative and everything after it: the topic.
    "营口片区去年规模以上工业总产值是多少?" → "营口片区去年规模以上工业总产值"."""
    before, _ = around_interrogative(normalised)
    return before or _strip(normalised)


def around_interrogative(normalised: str) -> tuple[str, str]:
    """The question's text before and after its first interrogative (and the category
    word after it), without copulas and punctuation at the seam: an answer sentence tends
    to continue the one and lead into the other ("负面清单由谁发布" → "负面清单由", "发布")."""
    span = _interrogative_span(normalised)
    if span is None:
        return "", ""
    start, end = span
    before = re.sub(r"(?:是|有|为|的|在|了|都)+$", "", _strip(normalised[:start]))
    after = re.sub(r"^(?:是|的)+", "", _strip(normalised[end:]))
    return before, re.sub(r"(?:吗|呢|呀|啊|么)+$", "", after)


def replace_subject(normalised: str, subject: str) -> str | None:
    """The question asked about `subject` instead: its last noun phrase before the
    interrogative is replaced ("营口片区去年实际利用外资完成多少?" + 固定资产投资 →
    "营口片区去年固定资产投资完成多少?"). Names and time words stay: they are context."""
    span = _interrogative_span(normalised)
    if span is None:
        return None
    words = list(_tagged(normalised[: span[0]]))
    end = len(words)
    while end and (words[end - 1][0] in _COPULAS or words[end - 1][1] in ("v", "uj", "ul")):
        end -= 1
    start = end
    while start and words[start - 1][1].startswith(_NOUNISH) and words[start - 1][1] != "t":
        start -= 1
    if start == end:
        return None
    head = "".join(w for w, _ in words[:start])
    seam = "".join(w for w, _ in words[end:])
    return f"{head}{subject}{seam}{normalised[span[0] :]}"


def _interrogative_span(normalised: str) -> tuple[int, int] | None:
    spans = [m.span() for cue in _CUES_WITH_FRAME for m in cue.finditer(normalised)]
    return min(spans) if spans else None


def _strip(text: str) -> str:
    return text.strip("?？!！。 ,，、:：")


@lru_cache(maxsize=4096)
def content_terms(normalised: str) -> tuple[str, ...]:
    """Keyword tokens of the question without its interrogatives and the category or unit
    words right after them ("哪个单位", "多少时间", "多少平方公里"), and without pronouns,
    prepositions and conjunctions ("这个村名", "关于…的报道", "如果…"), deduplicated in
    order: an answer need not repeat them."""
    function_words = {w for w, flag in _tagged(normalised) if flag in _FUNCTION_TAGS}
    normalised = _ASKED_WITH_UNIT.sub(" ", normalised)  # the unit is checked as a value
    for cue in _CUES_WITH_FRAME:
        normalised = cue.sub(" ", normalised)
    return tuple(t for t in dict.fromkeys(tokenize(normalised)) if t not in function_words)


@lru_cache(maxsize=4096)
def _tagged(normalised: str) -> tuple[tuple[str, str], ...]:
    """jieba words with part-of-speech tags; interrogatives are set apart first so that
    "多大面积" is not segmented as 多 + 大面积."""
    spaced = _INTERROGATIVE.sub(r" \g<0> ", normalised)
    return tuple((word, flag) for word, flag in pos_tags(spaced) if word.strip())


def _everyday_word(word: str) -> bool:
    return word_frequency(word) >= _EVERYDAY_FREQUENCY and word[0] not in _SURNAMES


def proper_names(normalised: str) -> tuple[str, ...]:
    """Place, person and organisation names (jieba POS tags) of two or more characters.
    jieba's dictionary also tags some everyday words as people's names (换人); a common
    dictionary word tagged so counts only when it starts with a common surname."""
    names = [
        part.lower()
        for word, flag in _tagged(normalised)
        if flag in _NAME_TAGS and not (flag in _PERSON_TAGS and _everyday_word(word))
        for part in re.split(r"[和与及、]", word)  # jieba tags "江文也和郭芝苑" as one name
        if len(part) >= 2 and has_words(part) and part not in _FRAME_WORDS
    ]
    return tuple(dict.fromkeys(names))


@lru_cache(maxsize=4096)
def focus_terms(normalised: str) -> tuple[str, ...]:
    """Terms of the noun phrase the question asks about: the one right after the
    interrogative ("有哪些税收优惠", "多少项创新政策"), else the one right before it
    ("常住人口有多少", "营商环境是指什么"). Category words (单位, 时间) and the words of a
    dimension that the value check covers (面积, 人口, 金额) are left out."""
    words = list(_tagged(normalised))
    at = next((i for i, (w, _) in enumerate(words) if _INTERROGATIVE.fullmatch(w)), None)
    if at is None:
        return ()
    phrase = _noun_run(words[at + 1 :], skip=lambda w, f: f in ("m", "q") or w in "个项")
    if not [w for w in phrase if w not in _FRAME_WORDS]:
        # "X是多少 / X有多少 / X是什么 / X叫什么": X is what is asked about. Not so in
        # "X有什么要求", where X is only the topic and the answer may well not repeat it.
        before = list(reversed(words[:at]))
        linked = [w for w, _ in before[:2] if w in _COPULAS]
        if not linked or (linked[0] in ("有", "共有") and question_kind(normalised) != "quantity"):
            return ()
        phrase = list(reversed(_noun_run(before, skip=lambda w, f: w in _COPULAS)))
    dimension = "|".join(cues for _, cues in UNIT_CLASSES.values())
    terms = tokenize(" ".join(w for w in phrase if w not in _FRAME_WORDS))
    return tuple(t for t in dict.fromkeys(terms) if not re.fullmatch(dimension, t))


def _noun_run(words: list[tuple[str, str]], skip) -> list[str]:
    """The leading noun phrase (nouns, possibly with verbs inside: 创新政策) after
    skipping the leading words `skip` accepts."""
    i = 0
    while i < len(words) and skip(*words[i]):
        i += 1
    run = []
    for word, flag in words[i:]:
        if not flag.startswith((*_NOUNISH, "v")):
            break
        run.append((word, flag))
    while run and not run[-1][1].startswith(_NOUNISH):
        run.pop()
    while run and not run[0][1].startswith(_NOUNISH):
        run.pop(0)
    return [word for word, _ in run]


def expected_units(normalised: str) -> tuple[str, ...]:
    """Unit patterns a quantity answer may carry: the measure word the question names, or
    the units of every dimension its words ask about; () when nothing says."""
    asked = _ASKED_UNIT.search(normalised)
    if asked and asked.group(1)[-1] in _MEASURE_WORDS:
        unit = asked.group(1)[-1]  # 天 also accepts 日/工作日, 元 also 美元: its whole class
        same = [pattern for pattern, _ in UNIT_CLASSES.values() if re.fullmatch(pattern, unit)]
        return tuple(same) or (re.escape(unit),)
    if re.search(r"多少钱|几块钱", normalised):
        return (UNIT_CLASSES["money"][0],)
    named = _units_after_interrogative(normalised)
    if named:
        return named
    units = [pattern for pattern, cues in UNIT_CLASSES.values() if re.search(cues, normalised)]
    return tuple(units)


def _units_after_interrogative(normalised: str) -> tuple[str, ...]:
    """The unit classes of a unit word right after 多少/几 ("多少个工作日", "多少平方公里",
    "多少万元"): what the question itself says the value is measured in."""
    asked = _ASKED_WITH_UNIT.search(normalised)
    if asked is None:
        return ()
    return tuple(p for p, _ in UNIT_CLASSES.values() if re.fullmatch(p, asked["unit"]))


def has_person(text: str, besides: tuple[str, ...] = ()) -> bool:
    """Does the (normalised) text name a person other than those in `besides`?"""
    return any(flag in _PERSON_TAGS and w not in besides for w, flag in _names_in(text))


def has_place(text: str, besides: tuple[str, ...] = ()) -> bool:
    """Does the (normalised) text name a place other than those in `besides`?"""
    return any(flag == "ns" and w not in besides for w, flag in _names_in(text))


@lru_cache(maxsize=20_000)
def _names_in(text: str) -> tuple[tuple[str, str], ...]:
    """Person and place names (jieba tags) of two or more characters in a sentence."""
    return tuple(
        (word, flag)
        for word, flag in pos_tags(text)
        if (flag in _PERSON_TAGS or flag == "ns") and len(word) >= 2
    )


def has_value(sentence: str, question: Question) -> bool:
    """Does the (normalised) sentence hold the kind of value the question asks for?"""
    if question.kind == "time":
        return bool(_DATE.search(sentence))
    if question.kind != "quantity":
        return True
    if not question.units:
        return bool(_ANY_NUMBER.search(sentence))
    pattern = rf"{_NUMERAL}(?:多|余|几)?[万亿千百]?(?:多|余)?(?:个)?(?:{'|'.join(question.units)})"
    return bool(re.search(pattern, sentence)) or (
        "%" in "".join(question.units) and bool(re.search(r"百分之|%|％", sentence))
    )
