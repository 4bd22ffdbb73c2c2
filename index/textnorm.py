"""Normalisation and word segmentation used for search only; display text is never altered.

Both documents and queries go through the same steps, so a Traditional-Chinese, full-width
or abbreviated (自贸港) query meets the Simplified, half-width, spelled-out (自由贸易港)
documents on equal terms.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"\w", re.UNICODE)

# Function words that carry no topic; kept short on purpose (question words such as
# 多少/什么 are removed, content words never).
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 等 对 为 把 被 从 向 以 于 之 其 这 那 有 也 都 而 并 就 又 "
    "吗 呢 吧 啊 么 个 中 上 下 里 将 要 会 能 可 可以 什么 多少 哪些 哪个 哪家 哪几 哪 谁 "
    "怎么 怎样 如何 为什么 何时 什么时候 几 多 是否 是不是 请问 一下 我 你 他 她 它 我们 "
    "他们 有没有 没有 吗 哪里 如何 怎么样".split()
)


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    # Rules say "十五日内向海关申报" (within 15 days, to customs) all the time and never
    # mean 内向 (introverted), which jieba's dictionary would cut out of it.
    jieba.del_word("内向")
    return jieba


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), Traditional → Simplified and the zone names in one
    form, for matching only. Laws write 自由贸易试验区/自由贸易港, people and the press
    自贸试验区/自贸港/自贸区: both become 自贸…, in documents and questions alike."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).replace("自由贸易", "自贸")


def to_traditional(text: str) -> str:
    """Simplified → Traditional, to answer a Traditional-Chinese question in its own script."""
    return _s2t().convert(text)


def is_traditional(text: str) -> bool:
    """True when converting to Simplified changes the text, i.e. it uses Traditional forms."""
    nfkc = unicodedata.normalize("NFKC", text)
    return _t2s().convert(nfkc) != nfkc


def tokenize(text: str) -> list[str]:
    """Keyword tokens: jieba search-mode words of the normalised text, lower-cased,
    without punctuation and stopwords."""
    words = _jieba().lcut_for_search(normalize(text).lower())
    return [w for w in words if _WORD.search(w) and w not in STOPWORDS and not w.isspace()]


def jieba_words(text: str) -> list[str]:
    """jieba's words of `text` (as given), in order, without tags."""
    return _jieba().lcut(text)


def pos_tags(text: str) -> list[tuple[str, str]]:
    """jieba's words of `text` (as given, not normalised) with part-of-speech tags."""
    _jieba()  # initialised here, quietly, before jieba.posseg would do it noisily
    import jieba.posseg

    return [(w.word, w.flag) for w in jieba.posseg.lcut(text)]


def word_frequency(word: str) -> int:
    """How often `word` occurs in jieba's dictionary corpus (0 for unknown words)."""
    return _jieba().dt.FREQ.get(word, 0) or 0
