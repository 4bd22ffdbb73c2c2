"""Chinese numerals as Arabic digits, so that amounts, durations, dates and rates can be
compared whichever way a text writes them: 五倍 = 5倍, 十五日 = 15日, 百分之三十 = 30%."""

from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG = {"万": 10_000, "亿": 100_000_000}
_NUMERAL = "零〇一二两三四五六七八九十百千万亿"
# A numeral counts something only before a measure word; "统一", "一般" stay words.
_MEASURES = "倍日天年个项元月周次人家条款位名种类件台辆吨米岁期批级层"
_COUNTED = re.compile(f"[{_NUMERAL}]+(?=[{_MEASURES}])")
_PERCENT = re.compile(f"百分之([{_NUMERAL}]+)")


def value(numeral: str) -> int | None:
    """十五 → 15, 一百二十 → 120, 三万五千 → 35000; None when it is not a numeral."""
    if len(numeral) > 1 and all(c in _DIGITS for c in numeral):  # 二〇二〇: digit by digit
        return int("".join(str(_DIGITS[c]) for c in numeral))
    total, section, digit = 0, 0, None
    for char in numeral:
        if char in _DIGITS:
            if digit is not None:  # two digits in a row inside a numeral: not a number
                return None
            digit = _DIGITS[char]
        elif char in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[char]
            digit = None
        elif char in _BIG:
            total += (section + (digit or 0)) * _BIG[char]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def arabic(text: str) -> str:
    """The text with counted Chinese numerals and 百分之X written in digits."""

    def percent(match: re.Match[str]) -> str:
        number = value(match[1])
        return match[0] if number is None else f"{number}%"

    def counted(match: re.Match[str]) -> str:
        number = value(match[0])
        return match[0] if number is None else str(number)

    return _COUNTED.sub(counted, _PERCENT.sub(percent, text))
