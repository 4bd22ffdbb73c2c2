"""`zonebot serve`: the PTB Application — builder settings and handler registration only.

The handlers live in `bot.handlers`; the engine is built by the caller and passed in,
so this module never imports the index or the model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Settings, TelegramSettings
from bot.feedback_store import STORE_FILE, FeedbackStore
from bot.handlers import (
    FEEDBACK_DATA,
    NON_TEXT_PRIVATE,
    QUESTION,
    SOURCE_DATA,
    UNKNOWN_PRIVATE_COMMAND,
    Engine,
    Reindex,
    ZoneBot,
    warm_up,
)
from bot.logging_setup import install_redaction, setup_logging
from index.errors import ZonebotError

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
MAX_RETRIES = 2  # resends of one request after Telegram's 429 retry_after


class TokenMissing(ZonebotError):
    """No bot token in the environment or the token file."""


class TokenRejected(ZonebotError):
    """Telegram answered getMe with 401/404: the token is wrong or revoked."""


def read_token(tg: TelegramSettings) -> str:
    """The bot token from `$<token_env>`, else `token_file`; never from config.yaml."""
    token = os.environ.get(tg.token_env, "").strip()
    if not token and tg.token_file is not None:
        try:
            token = tg.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenMissing(
                f"无法读取令牌文件 telegram.token_file = {tg.token_file}（{exc.strerror}）。"
            ) from None
    if not token:
        raise TokenMissing(
            f"缺少 Telegram 机器人令牌。Set the token from @BotFather in ${tg.token_env} "
            "or point telegram.token_file at a file holding it (never put it in config.yaml)."
        )
    return token


class _FloodLimiter(AIORateLimiter):
    """Telegram's 30 messages/s budget is for messages; "typing…" must not use it up."""

    async def process_request(
        self,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint == "sendChatAction":
            data = {}  # no chat id: skips the message limiters, keeps the 429 retry logic
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def build_application(
    settings: Settings,
    engine: Engine,
    reindex: Reindex | None = None,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> Application:
    """The configured Application with every handler registered; nothing is started."""
    tg = settings.telegram
    token = read_token(tg)
    store = FeedbackStore(settings.data_dir / STORE_FILE)
    bot = ZoneBot(settings, engine, reindex, store, token)
    defaults = Defaults(
        parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .concurrent_updates(max(1, tg.concurrent_updates))
        .rate_limiter(
            _FloodLimiter(overall_max_rate=settings.telegram.flood_limit, max_retries=MAX_RETRIES)
        )
        .defaults(defaults)
        .post_init(bot.post_init)
        .post_shutdown(bot.post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    app = builder.build()

    new = filters.UpdateType.MESSAGE  # commands too: an edited "/start" is not a new command
    admins = new & filters.User(user_id=tg.admins)
    app.add_handler(TypeHandler(Update, bot.access_gate), group=-2)
    app.add_handler(MessageHandler(QUESTION, bot.rate_gate), group=-1)
    app.add_handlers(
        [
            CommandHandler("start", bot.start, filters=new),
            CommandHandler("help", bot.help, filters=new),
            CommandHandler("about", bot.about, filters=new),
            CommandHandler("sources", bot.sources, filters=new),
            CommandHandler("stats", bot.stats, filters=admins),
            CommandHandler("reindex", bot.reindex, filters=admins),
            CommandHandler(["stats", "reindex"], bot.admin_only, filters=new),
            MessageHandler(QUESTION, bot.question),
            MessageHandler(NON_TEXT_PRIVATE, bot.non_text),
            MessageHandler(UNKNOWN_PRIVATE_COMMAND, bot.unknown_command),
            CallbackQueryHandler(bot.show_source, pattern=SOURCE_DATA),
            CallbackQueryHandler(bot.feedback, pattern=FEEDBACK_DATA),
        ]
    )
    app.add_error_handler(bot.on_error)
    return app


def _webhook_secret(settings: Settings) -> str:
    wh = settings.telegram.webhook
    if not wh.webhook_url:
        raise ZonebotError(
            "telegram.webhook.enabled 需要 telegram.webhook.webhook_url"
            "（Telegram 调用的公网 HTTPS 地址）。"
        )
    secret = os.environ.get(wh.secret_token_env, "").strip()
    if not secret:
        raise TokenMissing(
            f"Webhook 模式需要密钥：set ${wh.secret_token_env} (1-256 characters A-Z a-z 0-9 _ -); "
            "Telegram sends it with every update and other requests are refused."
        )
    return secret


def run_bot(
    settings: Settings, engine_factory: Callable[[], Engine], reindex: Reindex | None = None
) -> None:
    """Load the engine once, then poll (or serve the webhook) until SIGINT/SIGTERM."""
    token = read_token(settings.telegram)
    wh = settings.telegram.webhook
    secret = _webhook_secret(settings) if wh.enabled else None
    setup_logging()
    install_redaction(token, *([secret] if secret else []))
    engine = warm_up(engine_factory())  # before the event loop runs: nothing to block yet
    app = build_application(settings, engine, reindex)
    try:
        if secret is None:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=True)
        else:
            app.run_webhook(
                listen=wh.listen,
                port=wh.port,
                url_path=wh.url_path,
                webhook_url=wh.webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=True,
            )
    except InvalidToken:
        raise TokenRejected(
            f"Telegram 拒绝了机器人令牌。The token in ${settings.telegram.token_env} "
            "(or telegram.token_file) was rejected: check it with @BotFather."
        ) from None
