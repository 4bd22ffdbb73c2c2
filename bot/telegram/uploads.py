"""Admins add documents by sending them to the bot in a private chat; /documents, /remove.

Files (or a zip of them) are saved to `telegram.upload_dir` right away; files that arrive
together (an album, or several sent at once) are indexed as one batch once the chat has
been quiet for BATCH_QUIET_S, in the background, with progress in one edited message
and a final list of what was added and what was skipped and why. Questions keep using
the current engine until the new one replaces it. One index job runs at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.logging_setup import event
from bot.telegram import render
from bot.telegram.admin import run_with_progress
from bot.telegram.messages import ADMIN_ONLY, UPLOAD_ADMIN_ONLY, UPLOAD_NOT_CONFIGURED
from bot.telegram.replies import reply_part
from bot.telegram.state import BotState, Engine
from bot.upload_dir import Saved, UploadDir, UploadError, safe_name
from index.errors import ZonebotError

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Telegram's bots may download files up to 20 MB
BATCH_QUIET_S = 1.5  # the files of one album arrive as separate messages within this
PAGE_SIZE = 10  # /documents entries per page
DOCUMENTS_DATA = r"^docs:\d+$"
REMOVE_DATA = r"^rm:[0-9a-f]{8}:(yes|no)$"
TOO_BIG = (
    "文件 {name} 有 {size:.1f} MB，超过 Telegram 机器人 20 MB 的下载上限。"
    "请压缩或拆分后再发送，或把它直接放到服务器的上传目录后发送 /reindex。"
)


class BuildReport(Protocol):
    """What an index job reports (index.build.BuildSummary)."""

    skipped: dict[str, str]

    def describe(self) -> str: ...


# Updates the index for the files now in the corpus; returns the new engine and the report.
IndexJob = Callable[[Callable[[str], None]], tuple[Engine, BuildReport]]


@dataclass
class _Batch:
    saved: list[Saved] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # original name -> reason
    request: Message | None = None
    timer: asyncio.TimerHandle | None = None


class UploadHandlers:
    def __init__(
        self,
        state: BotState,
        folder: UploadDir | None,
        index_job: IndexJob | None,
        admins: list[int],
    ) -> None:
        self._state = state
        self._folder = folder
        self._index_job = index_job
        self._admins = set(admins)
        self._batches: dict[int, _Batch] = {}
        self._lock = asyncio.Lock()  # one index job at a time
        self._removals: dict[str, str] = {}  # token -> file name awaiting confirmation

    # ---- receiving files -------------------------------------------------------------

    async def document(self, update: Update, context: Context) -> None:
        """Save one sent file (private chats); index it with the others of its batch."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and message.document is not None
        if user is None or user.id not in self._admins:
            await message.reply_text(UPLOAD_ADMIN_ONLY)
            return
        if self._folder is None or self._index_job is None:
            await message.reply_text(UPLOAD_NOT_CONFIGURED)
            return
        name = message.document.file_name or "document"
        saved, refused = [], {}
        try:
            saved = await self._download(message, name)
        except UploadError as error:
            refused[name] = str(error)
        # Joined only now: a batch whose timer fired during the download is already gone.
        batch = self._batches.setdefault(message.chat_id, _Batch(request=message))
        batch.saved.extend(saved)
        batch.refused.update(refused)
        if batch.timer is not None:
            batch.timer.cancel()
        loop = asyncio.get_running_loop()
        batch.timer = loop.call_later(
            BATCH_QUIET_S,
            lambda: context.application.create_task(self._index_batch(message.chat_id)),
        )

    async def _download(self, message: Message, name: str) -> list[Saved]:
        assert self._folder is not None and message.document is not None
        size = message.document.file_size or 0
        if size > DOWNLOAD_LIMIT:
            raise UploadError(TOO_BIG.format(name=name, size=size / 1024 / 1024))
        partial = self._folder.partial()
        try:
            telegram_file = await message.document.get_file()
            await telegram_file.download_to_drive(partial)
        except BadRequest as error:
            partial.unlink(missing_ok=True)
            if "too big" in error.message.lower():
                raise UploadError(TOO_BIG.format(name=name, size=size / 1024 / 1024)) from None
            raise UploadError(
                f"Telegram 拒绝下载 {name}（{error.message}），请重新发送。"
            ) from None
        except TelegramError as error:
            partial.unlink(missing_ok=True)
            raise UploadError(f"下载 {name} 失败（{error}），请重新发送。") from None
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise UploadError(f"文件无法保存（{error.strerror}）。") from None
        return await asyncio.to_thread(self._folder.save, partial, name)

    async def _index_batch(self, chat_id: int) -> None:
        """Index what the chat sent; one status message shows progress, then the result."""
        batch = self._batches.pop(chat_id)
        assert batch.request is not None
        count = len(batch.saved) + len(batch.refused)
        status = await reply_part(batch.request, render.status_part(f"⏳ 已收到 {count} 个文件"))
        if not batch.saved:
            await status.edit_text(_result_part(batch.saved, batch.refused, {}).html)
            return
        report = await self._run_index(status, f"⏳ 正在索引 {len(batch.saved)} 个文件…")
        if report is None:
            return
        skipped = _skipped_uploads(report.skipped, [s.name for s in batch.saved])
        log.info(event("uploaded", chat=chat_id, added=len(batch.saved) - len(skipped)))
        await status.edit_text(_result_part(batch.saved, batch.refused, skipped).html)

    async def _run_index(self, status: Message, title: str) -> BuildReport | None:
        """Run the index job (waiting for any other); swap the engine; None on failure,
        after saying so in `status`."""
        assert self._index_job is not None
        async with self._lock:
            try:
                engine, report = await run_with_progress(self._index_job, status, title)
            except Exception as exc:
                domain = isinstance(exc, ZonebotError)
                detail = str(exc) if domain else "内部错误，详情见日志"
                with contextlib.suppress(TelegramError):
                    await status.edit_text(render.status_part("❌ 索引失败", detail).html)
                if domain:
                    return None
                raise
        self._state.engine = engine
        return report

    # ---- /documents and /remove --------------------------------------------------------

    async def documents(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        text, markup = self._documents_page(0)
        await update.effective_message.reply_text(text, reply_markup=markup, parse_mode=None)

    async def documents_page(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        await query.answer()
        text, markup = self._documents_page(int(query.data.split(":")[1]))
        with contextlib.suppress(BadRequest):  # "not modified": tapped the same page twice
            await query.edit_message_text(text, reply_markup=markup, parse_mode=None)

    def _documents_page(self, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
        titles = [f"《{title}》" for title in self._state.engine.info().documents]
        uploaded = [f"📎 {name}" for name in (self._folder.names() if self._folder else [])]
        entries = titles + uploaded
        if not entries:
            return "索引中还没有文档。", None
        pages = (len(entries) + PAGE_SIZE - 1) // PAGE_SIZE
        page = max(0, min(page, pages - 1))
        shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        lines = [f"{page * PAGE_SIZE + i}. {entry}" for i, entry in enumerate(shown, 1)]
        head = (
            f"共 {len(titles)} 篇文档，通过机器人添加的文件 {len(uploaded)} 个"
            "（📎，管理员可用 /remove 文件名 删除）"
        )
        text = f"{head}\n第 {page + 1}/{pages} 页\n\n" + "\n".join(lines)
        buttons = [
            InlineKeyboardButton(label, callback_data=f"docs:{target}")
            for label, target in (("◀ 上一页", page - 1), ("下一页 ▶", page + 1))
            if 0 <= target < pages
        ]
        return text, InlineKeyboardMarkup([buttons]) if buttons else None

    async def remove(self, update: Update, context: Context) -> None:
        """/remove <name>: ask for confirmation with a button (admins only)."""
        message, user = update.effective_message, update.effective_user
        assert message is not None
        if user is None or user.id not in self._admins:
            await message.reply_text(ADMIN_ONLY)
            return
        name = " ".join(context.args or []).strip()
        if self._folder is None or not name or name not in self._folder.names():
            known = "、".join(self._folder.names()[:5]) if self._folder else ""
            await message.reply_text(
                f"没有这个上传的文件：{name or '（未给出文件名）'}。用法：/remove 文件名"
                + (f"\n上传的文件：{known}" if known else ""),
                parse_mode=None,
            )
            return
        token = secrets.token_hex(4)
        self._removals[token] = name
        buttons = [
            InlineKeyboardButton("确认删除", callback_data=f"rm:{token}:yes"),
            InlineKeyboardButton("取消", callback_data=f"rm:{token}:no"),
        ]
        await message.reply_text(
            f"确定从语料中删除 {name} 吗？",
            reply_markup=InlineKeyboardMarkup([buttons]),
            parse_mode=None,
        )

    async def confirm_remove(self, update: Update, context: Context) -> None:
        query, user = update.callback_query, update.effective_user
        assert query is not None and query.data is not None
        await query.answer()
        if user is None or user.id not in self._admins:
            return
        _, token, choice = query.data.split(":")
        name = self._removals.pop(token, None)
        if name is None or choice == "no" or self._folder is None:
            await query.edit_message_text("已取消。" if choice == "no" else "这个确认已过期。")
            return
        if not self._folder.remove(name):
            await query.edit_message_text(f"{name} 已不在上传目录中。", parse_mode=None)
            return
        status = query.message
        assert isinstance(status, Message)
        await status.edit_text(render.status_part(f"🗑 已删除 {name}，正在更新索引…").html)
        if await self._run_index(status, f"🗑 已删除 {name}，正在更新索引…") is not None:
            await status.edit_text(render.status_part(f"✅ 已删除 {name}，索引已更新").html)


def _skipped_uploads(skipped: dict[str, str], names: list[str]) -> dict[str, str]:
    """The build's skipped entries that concern the uploaded files (a whole file, or
    part of one: "a.pdf · 第3页"), keyed as the build named them without the folder."""
    found = {}
    for key, reason in skipped.items():
        base = key.rsplit("/", 1)[-1]
        if any(base == name or base.startswith(f"{name} · ") for name in names):
            found[base] = reason
    return found


def _result_part(saved: list[Saved], refused: dict[str, str], skipped: dict[str, str]):
    """ "✅ 已添加…" and "⚠️ 未添加…" with each reason."""
    added = [s for s in saved if s.name not in skipped]
    lines = []
    for item in added:
        renamed = f"（原名 {item.original}）" if item.name != safe_name(item.original) else ""
        partly = [f"    {r}" for key, r in skipped.items() if key.startswith(f"{item.name} · ")]
        lines.append(f"• {item.name}{renamed}")
        lines.extend(partly)
    problems = {**refused, **{k: v for k, v in skipped.items() if " · " not in k}}
    detail = "\n".join(lines)
    if problems:
        detail += (
            ("\n\n" if detail else "")
            + "⚠️ 未添加：\n"
            + "\n".join(f"• {name}：{reason}" for name, reason in problems.items())
        )
    title = f"✅ 已添加 {len(added)} 个文件" if added else "❌ 没有添加任何文件"
    return render.status_part(title, detail)
