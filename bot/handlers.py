"""Telegram handlers: thin async callbacks that call the engine and the renderer.

All state (engine, store, rate limiter) lives on one `ZoneBot` made by
`build_application`; PTB's `bot_data` is not used, so nothing here depends on
persistence. The engine is CPU-bound and blocking, so it always runs in a worker
thread; the engine reference is swapped whole after `/reindex`, and a question in
flight keeps the engine it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from telegram import (
    Bot,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatType, MessageEntityType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, filters

from bot import render
from bot.config import Settings
from bot.conversation import Conversation
from bot.feedback_store import FeedbackStore, new_answer_id
from bot.logging_setup import RedactingFilter, event
from bot.ratelimit import Decision, RateLimiter
from bot.results import Answer, IndexInfo
from index.errors import ZonebotError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

TYPING_EVERY = 4.0  # seconds; Telegram shows "typing…" for at most 5 s
PROGRESS_EVERY = 1.0  # seconds between edits of the /reindex status message
ADMIN_TRACE_CHARS = 3500  # tail of a traceback sent to the admin chat (message limit 4096)
WARM_UP_QUESTION = "营商环境"
MAX_CONVERSATIONS = 10_000  # chat/user pairs whose follow-up history is kept (most recent)

NON_TEXT = "目前只支持文字提问，请直接输入你的问题。"
THROTTLED = "提问太频繁，请稍后再试。"
NOT_ALLOWED = "抱歉，这个机器人目前只对授权用户开放。如需使用，请联系管理员。"
ADMIN_ONLY = "这个命令只有管理员可以使用。"
APOLOGY = "抱歉，处理时出了点问题，请稍后再试。"
EXPIRED = "这条回答已过期，请重新提问。"
THANKS = "感谢反馈！"
EMPTY_QUESTION = "请在 @我 之后写上你的问题。"
UNKNOWN_COMMAND = "没有这个命令。发送 /help 查看用法。"
NO_REINDEX = "这个部署没有配置重建索引。"
REINDEX_RUNNING = "索引正在重建中，请等它完成。"

COMMANDS = [
    ("start", "开始使用与示例问题"),
    ("help", "能问什么、引用怎么看"),
    ("about", "索引信息"),
    ("sources", "已收录的文件"),
]

SOURCE_DATA = re.compile(r"^src:([0-9a-f]{12}):(\d{1,3})$")
FEEDBACK_DATA = re.compile(r"^fb:([0-9a-f]{12}):(up|down)$")


class Engine(Protocol):
    """What the Telegram layer needs from the answer engine (bot.answer.AnswerEngine)."""

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer: ...

    def info(self) -> IndexInfo: ...


# Rebuilds the index in a worker thread, reporting progress lines; returns the new
# engine and a one-line summary.
Reindex = Callable[[Callable[[str], None]], tuple[Engine, str]]


class Addressed(filters.MessageFilter):
    """Private chats always; in groups only messages that @mention the bot or reply to it."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        mention = f"@{bot.username}".lower()
        mentions = message.parse_entities([MessageEntityType.MENTION]).values()
        return any(text.lower() == mention for text in mentions)


# `UpdateType.MESSAGE` keeps edited messages out: a bare TEXT filter would answer every edit.
QUESTION = filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE & Addressed()
NON_TEXT_PRIVATE = (
    filters.UpdateType.MESSAGE
    & filters.ChatType.PRIVATE
    & ~filters.TEXT
    & ~filters.StatusUpdate.ALL
)
UNKNOWN_PRIVATE_COMMAND = filters.COMMAND & filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE


def strip_mention(text: str, username: str) -> str:
    """Remove `@botname` wherever it appears, so the engine sees only the question."""
    return re.sub(rf"@{re.escape(username)}(?![A-Za-z0-9_])", "", text, flags=re.I).strip()


def answer_keyboard(answer_id: str, answer: Answer) -> InlineKeyboardMarkup:
    """📄 n per source (five a row), then 👍 / 👎; callback data stays far below 64 bytes."""
    sources = [
        InlineKeyboardButton(f"📄 {c.n}", callback_data=f"src:{answer_id}:{c.n}")
        for c in answer.citations
    ]
    votes = [
        InlineKeyboardButton("👍", callback_data=f"fb:{answer_id}:up"),
        InlineKeyboardButton("👎", callback_data=f"fb:{answer_id}:down"),
    ]
    return InlineKeyboardMarkup([*(sources[i : i + 5] for i in range(0, len(sources), 5)), votes])


@contextlib.asynccontextmanager
async def typing_action(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Keep "typing…" visible while the body runs (one chat action lasts at most 5 s)."""

    async def send() -> None:
        with contextlib.suppress(TelegramError):  # cosmetic: never fail a question over it
            await bot.send_chat_action(chat_id, ChatAction.TYPING)

    async def keep_typing() -> None:
        while True:
            # Shielded: a request cut off mid-flight would cost its keep-alive connection.
            await asyncio.shield(send())
            await asyncio.sleep(TYPING_EVERY)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def reply_part(
    message: Message,
    part: render.Part,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None,
    quote: bool = False,
) -> Message:
    """Send HTML; if Telegram cannot parse it after all, send the same part as plain text."""
    try:
        return await message.reply_text(part.html, reply_markup=markup, do_quote=quote)
    except BadRequest as exc:
        if "can't parse entities" not in exc.message.lower():
            raise
        log.warning(event("html_rejected", chat=message.chat_id, error=exc.message))
        return await message.reply_text(
            part.plain, parse_mode=None, reply_markup=markup, do_quote=quote
        )


async def reply_parts(
    message: Message,
    parts: list[render.Part],
    markup: InlineKeyboardMarkup | None = None,
    quote: bool = False,
) -> None:
    """Send a split message in order; buttons go under the last part, the quote on the first."""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        await reply_part(message, part, markup if last else None, quote=quote and i == 0)


def warm_up(engine: Engine) -> Engine:
    """Answer one question now, so a model loaded on first use does not stall a user."""
    engine.answer(WARM_UP_QUESTION)
    return engine


def _rebuild(reindex: Reindex, progress: Callable[[str], None]) -> tuple[Engine, str]:
    engine, summary = reindex(progress)
    return warm_up(engine), summary


async def _rebuild_with_progress(reindex: Reindex, status: Message) -> tuple[Engine, str]:
    """Run the rebuild in a thread; edit `status` with its latest progress line meanwhile."""
    latest: deque[str] = deque(maxlen=1)  # appended by the worker thread, read here
    job = asyncio.ensure_future(asyncio.to_thread(_rebuild, reindex, latest.append))
    shown = ""
    while not job.done():
        await asyncio.wait({job}, timeout=PROGRESS_EVERY)
        if latest and latest[0] != shown and not job.done():
            shown = latest[0]
            with contextlib.suppress(TelegramError):  # progress is cosmetic
                await status.edit_text(render.status_part("⏳ 正在重建索引…", shown).html)
    return job.result()


class ZoneBot:
    """The bot's state and its handlers; `build_application` registers the methods."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        reindex: Reindex | None,
        store: FeedbackStore,
        token: str,
    ) -> None:
        tg = settings.telegram
        self.engine = engine
        self.store = store
        self._reindex = reindex
        self._reindexing = False
        self._limiter = RateLimiter(tg.rate_limit.questions, tg.rate_limit.per_seconds)
        self._allowed_users = {*tg.allowed_users, *tg.admins}
        self._allowed_chats = set(tg.allowed_chats)
        self._open = not tg.allowed_users and not tg.allowed_chats
        self._refused: set[int] = set()  # strangers already told, so they are told once
        self._admin_chat = tg.admin_chat
        self._redactor = RedactingFilter([token])
        self._history_turns = settings.answer.history_turns
        self._conversations: dict[tuple[int, int], Conversation] = {}  # oldest first
        # One thread per question in flight (asyncio's default pool has ~6): questions
        # waiting together in the engine are embedded together (index.batching).
        self._answer_threads = ThreadPoolExecutor(
            max_workers=max(1, tg.concurrent_updates), thread_name_prefix="answer"
        )

    # ---- lifecycle ------------------------------------------------------------------

    async def post_init(self, app: Application) -> None:
        await app.bot.set_my_commands(COMMANDS)
        log.info(event("started", bot=app.bot.username, chunks=self.engine.info().chunks))

    async def post_shutdown(self, app: Application) -> None:
        self._answer_threads.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    # ---- gates (groups -2 and -1) -----------------------------------------------------

    def _allowed(self, user: User | None, chat: Chat | None) -> bool:
        if self._open:
            return True
        return (user is not None and user.id in self._allowed_users) or (
            chat is not None and chat.id in self._allowed_chats
        )

    async def access_gate(self, update: Update, context: Context) -> None:
        """Strangers get one polite refusal in private and silence in groups."""
        user, chat = update.effective_user, update.effective_chat
        if self._allowed(user, chat):
            return
        private = chat is not None and chat.type == ChatType.PRIVATE
        if update.callback_query is not None:
            await update.callback_query.answer()
        elif private and user is not None and user.id not in self._refused:
            self._refused.add(user.id)
            await chat.send_message(NOT_ALLOWED)
        log.info(event("refused", user=user.id if user else None, chat=chat.id if chat else None))
        raise ApplicationHandlerStop

    async def rate_gate(self, update: Update, context: Context) -> None:
        """Per-user token bucket for questions; a flood gets one notice, then silence."""
        user, message = update.effective_user, update.effective_message
        assert user is not None and message is not None  # QUESTION only matches such updates
        decision = self._limiter.take(user.id)
        if decision is Decision.ALLOWED:
            return
        if decision is Decision.LIMITED:
            await message.reply_text(THROTTLED, do_quote=message.chat.type != ChatType.PRIVATE)
        log.info(event("throttled", user=user.id, chat=message.chat_id))
        raise ApplicationHandlerStop

    # ---- commands -------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """Welcome with three example questions; in private chats they are tappable."""
        message = update.effective_message
        assert message is not None
        examples = render.example_questions(self.engine.info().documents)
        keyboard = None
        if examples and message.chat.type == ChatType.PRIVATE:
            keyboard = ReplyKeyboardMarkup(
                [[q] for q in examples],
                resize_keyboard=True,
                one_time_keyboard=True,
                input_field_placeholder="输入你的问题…",
            )
        await reply_part(message, render.render_welcome(examples), keyboard)

    async def help(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply_part(update.effective_message, render.HELP)

    async def about(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply_part(update.effective_message, render.render_about(self.engine.info()))

    async def sources(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply_parts(update.effective_message, render.render_sources(self.engine.info()))

    async def unknown_command(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(UNKNOWN_COMMAND)

    async def admin_only(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(ADMIN_ONLY)

    async def stats(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply_part(update.effective_message, render.render_stats(self.store.stats()))

    async def reindex(self, update: Update, context: Context) -> None:
        """Start a rebuild in the background; questions keep using the current engine."""
        message = update.effective_message
        assert message is not None
        if self._reindex is None or self._reindexing:
            await message.reply_text(NO_REINDEX if self._reindex is None else REINDEX_RUNNING)
            return
        self._reindexing = True  # set before any await: two /reindex cannot both pass
        # No `update=`: a failure is logged for the admins, not apologised for in the chat.
        context.application.create_task(self._run_reindex(self._reindex, message))

    async def _run_reindex(self, reindex: Reindex, request: Message) -> None:
        """Rebuild while one status message shows progress; swap the engine when done."""
        try:
            status = await reply_part(request, render.status_part("⏳ 开始重建索引…"))
            try:
                engine, summary = await _rebuild_with_progress(reindex, status)
            except Exception as exc:
                domain = isinstance(exc, ZonebotError)  # its message is written for people
                detail = str(exc) if domain else "内部错误，详情见日志"
                failed = render.status_part("❌ 重建失败，继续使用原索引", detail)
                await status.edit_text(failed.html)
                if domain:
                    return
                raise
        finally:
            self._reindexing = False
        self.engine = engine
        log.info(event("reindexed", summary=summary))
        await status.edit_text(render.status_part("✅ 索引已更新", summary).html)

    # ---- questions and buttons ------------------------------------------------------

    async def question(self, update: Update, context: Context) -> None:
        """Answer in a worker thread with "typing…" shown, then reply with sources and buttons."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.text is not None and user is not None
        text = strip_mention(message.text, context.bot.username)
        group = message.chat.type != ChatType.PRIVATE
        if not text:
            await message.reply_text(EMPTY_QUESTION, do_quote=group)
            return
        started, engine = time.perf_counter(), self.engine
        conversation = self._conversation(message.chat_id, user.id)
        async with typing_action(context.bot, message.chat_id):
            answer = await asyncio.get_running_loop().run_in_executor(
                self._answer_threads, engine.answer, text, conversation
            )
        answer_id = new_answer_id()
        parts = render.render_answer(answer)
        await reply_parts(message, parts, answer_keyboard(answer_id, answer), quote=group)
        self._record(answer_id, user.id, message.chat_id, answer, started, len(parts))

    def _conversation(self, chat_id: int, user_id: int) -> Conversation:
        """Each user's follow-up history, per chat; the least recently used are forgotten."""
        key = (chat_id, user_id)
        conversation = self._conversations.pop(key, None)
        if conversation is None:
            conversation = Conversation(self._history_turns)
        self._conversations[key] = conversation  # re-inserted: now the most recent
        if len(self._conversations) > MAX_CONVERSATIONS:
            del self._conversations[next(iter(self._conversations))]
        return conversation

    def _record(
        self, answer_id: str, user_id: int, chat_id: int, answer: Answer, started: float, parts: int
    ) -> None:
        """One log line and one SQLite row per answered question."""
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        self.store.log_question(answer_id, user_id, chat_id, answer, latency_ms)
        chunks = [c.chunk.chunk_id for c in answer.citations]
        log.info(
            event(
                "question",
                user=user_id,
                chat=chat_id,
                answer=answer_id,
                found=answer.found,
                latency_ms=latency_ms,
                chunks=chunks,
                parts=parts,
            )
        )

    async def show_source(self, update: Update, context: Context) -> None:
        """📄 n: reply to the answer with the whole passage the citation points into."""
        query = update.callback_query
        assert query is not None and context.match is not None
        citation = self.store.citation(context.match[1], int(context.match[2]))
        if citation is None or not isinstance(query.message, Message):
            await query.answer(EXPIRED, show_alert=True)
            return
        await query.answer()
        await reply_parts(query.message, render.render_passage(citation), quote=True)

    async def feedback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and context.match is not None
        vote = 1 if context.match[2] == "up" else -1
        known = self.store.record_vote(context.match[1], query.from_user.id, vote)
        await query.answer(THANKS if known else EXPIRED)

    async def non_text(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(NON_TEXT)

    # ---- errors -----------------------------------------------------------------------

    async def on_error(self, update: object, context: Context) -> None:
        """Domain errors are shown as written; anything else is logged and apologised for."""
        error = context.error
        if isinstance(error, Forbidden) or (
            isinstance(error, BadRequest) and "not modified" in error.message.lower()
        ):
            log.warning(event("telegram_error_ignored", error=str(error)))
            return
        if isinstance(error, ZonebotError):
            log.warning(event("domain_error", type=type(error).__name__, message=str(error)))
            text = str(error)
        else:
            log.error("unhandled error while processing an update", exc_info=error)
            text = APOLOGY
            await self._notify_admin_chat(context.bot, error)
        message = update.effective_message if isinstance(update, Update) else None
        if message is not None:
            with contextlib.suppress(TelegramError):
                await message.reply_text(text, parse_mode=None)

    async def _notify_admin_chat(self, bot: Bot, error: BaseException | None) -> None:
        if self._admin_chat is None or error is None:
            return
        trace = self._redactor.redact("".join(traceback.format_exception(error)))
        text = f"<b>zonebot 错误</b>\n<pre>{html.escape(trace[-ADMIN_TRACE_CHARS:])}</pre>"
        with contextlib.suppress(TelegramError):
            await bot.send_message(self._admin_chat, text)
