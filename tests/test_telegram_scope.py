"""The 只看… buttons end to end: the real Application polls the fake Bot API and the real
engine answers over the corpus of twins (tests/twins_support.py)."""

from __future__ import annotations

import pytest
from twins_support import twins_engine, write_corpus

from tests.tg_support import running_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

QUESTION = "开办企业材料齐全的，多久办结？"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("twins")
    return twins_engine(write_corpus(directory / "corpus"), directory / "index")


async def test_narrowing_re_asks_within_the_place_and_is_remembered(tmp_path, engine):
    async with running_bot(tmp_path, engine=engine) as h:
        answer = await h.ask(21, QUESTION)
        assert "国家：" in answer.text and "北京：" in answer.text
        assert "《优化营商环境条例》（国务院，2019-10-22 公布）" in answer.text
        buttons = dict(answer.buttons)
        assert {"只看国家", "只看上海", "只看北京"} <= set(buttons)

        h.fake.push_callback(21, answer.result, buttons["只看北京"])
        (ack,) = await h.wait_for("answerCallbackQuery")
        assert "北京" in ack.params["text"]
        narrowed = (await h.wait_for("sendMessage", 2, chat_id=21))[-1]
        assert "一个工作日" in narrowed.text and "国家：" not in narrowed.text
        assert "范围：北京" in narrowed.text
        assert "取消范围" in dict(narrowed.buttons)

        later = await h.ask(21, "开办企业要几个工作日？")
        assert "范围：北京" in later.text and "三个工作日" not in later.text

        h.fake.push_callback(21, later.result, dict(later.buttons)["取消范围"])
        await h.wait_for("answerCallbackQuery", 2)
        again = (await h.wait_for("sendMessage", 4, chat_id=21))[-1]
        assert "国家：" in again.text  # all documents again


async def test_an_uncovered_place_offers_the_covered_ones(tmp_path, engine):
    async with running_bot(tmp_path, engine=engine) as h:
        answer = await h.ask(22, "广西自贸区管委会有哪些职责？")
        assert "文档中没有广西的相关文件" in answer.text
        assert "只看上海" in dict(answer.buttons)
