"""Everyone's commands: /start with tappable examples, /help, /about, /sources."""

from __future__ import annotations

from telegram import ReplyKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.telegram import render
from bot.telegram.messages import UNKNOWN_COMMAND
from bot.telegram.replies import reply_part, reply_parts
from bot.telegram.state import BotState

Context = ContextTypes.DEFAULT_TYPE

COMMANDS = [
    ("start", "开始使用与示例问题"),
    ("help", "能问什么、引用怎么看"),
    ("about", "索引信息"),
    ("sources", "已收录的文件"),
    ("forget", "删除我的提问记录"),
    ("documents", "文档列表（分页）"),
]


class InfoCommands:
    def __init__(self, state: BotState) -> None:
        self._state = state

    async def start(self, update: Update, context: Context) -> None:
        """Welcome with three example questions; in private chats they are tappable."""
        message = update.effective_message
        assert message is not None
        examples = render.example_questions(self._state.engine.info().documents)
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
        await reply_part(update.effective_message, render.render_about(self._state.engine.info()))

    async def sources(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply_parts(
            update.effective_message, render.render_sources(self._state.engine.info())
        )

    async def unknown_command(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(UNKNOWN_COMMAND)
