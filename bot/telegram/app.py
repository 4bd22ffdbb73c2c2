"""`zonebot serve`: the PTB Application — builder settings and handler registration only.

The handlers live in the modules beside this one, by concern; the engine is built by the
caller (`bot.wiring`) and passed in, so this module never imports the index or the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError
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

from bot.config import Settings, TelegramSettings, bot_token, store_password, webhook_secret
from bot.logging_setup import RedactingFilter, event, install_redaction
from bot.telegram.access import (
    COMMAND,
    NEW,
    NON_TEXT_PRIVATE,
    QUESTION,
    UNKNOWN_PRIVATE_COMMAND,
    UPLOAD,
    AccessPolicy,
)
from bot.telegram.admin import AdminCommands
from bot.telegram.commands import COMMANDS, InfoCommands
from bot.telegram.errors import ErrorReporter
from bot.telegram.follow import follow_forever
from bot.telegram.inbox import Inbox, InboxProcessor, InboxQueue, keep_claims
from bot.telegram.privacy import FORGET_DATA, Privacy, prune_forever
from bot.telegram.questions import QuestionHandler
from bot.telegram.scoping import SCOPE_DATA, ScopeButtons
from bot.telegram.sources import FEEDBACK_DATA, SOURCE_DATA, SourceButtons
from bot.telegram.state import BotState, Engine, Follow, Reindex
from bot.telegram.store import open_store
from bot.telegram.uploads import DOCUMENTS_DATA, REMOVE_DATA, IndexJob, UploadHandlers
from bot.upload_dir import UploadDir
from index.errors import ZonebotError

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
MAX_RETRIES = 2  # resends of one request after Telegram's 429 retry_after


class TokenRejected(ZonebotError):
    """Telegram answered getMe with 401/404: the token is wrong or revoked."""


class TelegramUnreachable(ZonebotError):
    """The Bot API could not be reached at start-up (no network, proxy, DNS, firewall)."""


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


class _QuietStartFailure(logging.Filter):
    """PTB logs a start-up that cannot reach Telegram with a traceback; `run_bot` says so
    itself, in one line (TelegramUnreachable)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, NetworkError) and "Bootstrap" in record.getMessage())


_QUIET_START = _QuietStartFailure()


def _builder(
    tg: TelegramSettings,
    token: str,
    queue: InboxQueue,
    request: BaseRequest | None,
    get_updates_request: BaseRequest | None,
) -> ApplicationBuilder:
    """Token, endpoints, the inbox's queue and processor, concurrency, flood limit and
    defaults (HTML, no link previews)."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .update_queue(queue)
        .concurrent_updates(InboxProcessor(queue.inbox, max(1, tg.concurrent_updates)))
        .rate_limiter(_FloodLimiter(overall_max_rate=tg.flood_limit, max_retries=MAX_RETRIES))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    return builder


def build_application(
    settings: Settings,
    engine: Engine,
    reindex: Reindex | None = None,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    index_job: IndexJob | None = None,
    follow: Follow | None = None,
) -> Application:
    """The configured Application with every handler registered; nothing is started.
    `follow`: on a read-only replica, how to pick up newly shipped index generations."""
    tg = settings.telegram
    token = bot_token(tg)
    state = BotState(engine, open_store(tg.store, settings.data_dir, store_password(tg)))
    queue = InboxQueue(Inbox(state.store))
    access = AccessPolicy(tg)
    info = InfoCommands(state)
    admin = AdminCommands(state, reindex)
    questions = QuestionHandler(
        state,
        settings.answer.history_turns,
        tg.rate_limit.in_flight,
        settings.answer.timeout_s,
        tg.max_backlog_age,
        threads=2 * max(1, tg.concurrent_updates),  # as many again for answers past deadline
    )
    privacy = Privacy(state, questions.conversations)
    buttons = SourceButtons(state)
    errors = ErrorReporter(tg.admin_chat, [token])
    background: list[asyncio.Task] = []
    folder = UploadDir(tg.upload_dir) if tg.upload_dir else None
    uploads = UploadHandlers(state, folder, index_job, tg.admins)

    async def post_init(app: Application) -> None:
        # Before polling starts, so the unanswered go first.
        await queue.replay(app.bot, everything=not state.store.shared)
        await app.bot.set_my_commands(COMMANDS)
        background.append(asyncio.create_task(prune_forever(state, tg.log_retention_days)))
        if state.store.shared:
            background.append(asyncio.create_task(keep_claims(queue, app.bot)))
        if follow is not None and settings.index.follow_s > 0:
            every = settings.index.follow_s
            background.append(asyncio.create_task(follow_forever(state, follow, every)))
        log.info(event("started", bot=app.bot.username, chunks=state.engine.info().chunks))

    async def post_shutdown(app: Application) -> None:
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        state.store.close()
        if background:  # started: post_init ran (it does not when Telegram is unreachable)
            log.info(event("stopped"))

    app = _builder(tg, token, queue, request, get_updates_request).post_init(post_init)
    app = app.post_shutdown(post_shutdown).build()

    admins = NEW & filters.User(user_id=tg.admins)  # an edited "/start" is not a new command
    app.add_handler(TypeHandler(Update, access.access_gate), group=-2)
    app.add_handlers(
        [
            MessageHandler(QUESTION, access.rate_gate),
            MessageHandler(COMMAND, access.action_gate),
            CallbackQueryHandler(access.action_gate),
        ],
        group=-1,
    )
    app.add_handlers(
        [
            CommandHandler("start", info.start, filters=NEW),
            CommandHandler("help", info.help, filters=NEW),
            CommandHandler("about", info.about, filters=NEW),
            CommandHandler("sources", info.sources, filters=NEW),
            CommandHandler("forget", privacy.forget, filters=NEW),
            CommandHandler("stats", admin.stats, filters=admins),
            CommandHandler("reindex", admin.reindex, filters=admins),
            CommandHandler(["stats", "reindex"], admin.admin_only, filters=NEW),
            CommandHandler("documents", uploads.documents, filters=NEW),
            CommandHandler("remove", uploads.remove, filters=NEW),
            MessageHandler(QUESTION, questions.question),
            MessageHandler(UPLOAD, uploads.document),
            MessageHandler(NON_TEXT_PRIVATE, questions.non_text),
            MessageHandler(UNKNOWN_PRIVATE_COMMAND, info.unknown_command),
            CallbackQueryHandler(buttons.show_source, pattern=SOURCE_DATA),
            CallbackQueryHandler(buttons.feedback, pattern=FEEDBACK_DATA),
            CallbackQueryHandler(privacy.confirm, pattern=FORGET_DATA),
            CallbackQueryHandler(uploads.documents_page, pattern=DOCUMENTS_DATA),
            CallbackQueryHandler(uploads.confirm_remove, pattern=REMOVE_DATA),
            CallbackQueryHandler(ScopeButtons(questions).narrow, pattern=SCOPE_DATA),
        ]
    )
    app.add_error_handler(errors.on_error)
    return app


def run_bot(
    settings: Settings,
    engine_factory: Callable[[], Engine],
    reindex: Reindex | None = None,
    index_job: IndexJob | None = None,
    follow: Follow | None = None,
) -> None:
    """Load the engine once, then poll (or serve the webhook) until SIGINT/SIGTERM.

    Updates that waited while the bot was down are kept and answered (never dropped), and
    so are questions a killed process had fetched but not answered (bot.telegram.inbox). On
    SIGTERM, PTB stops fetching and finishes the questions in flight, each bounded by
    `answer.timeout_s`, before the process exits."""
    tg = settings.telegram
    token = bot_token(tg)
    secret = webhook_secret(tg) if tg.webhook.enabled else None
    install_redaction(token, *([secret] if secret else []), store_password(tg))
    logging.getLogger("telegram.ext").addFilter(_QUIET_START)  # once, however often called
    engine = engine_factory()
    engine.warm_up()  # before the event loop runs: nothing to block yet
    app = build_application(settings, engine, reindex, index_job=index_job, follow=follow)
    try:
        if secret is None:
            app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
        else:
            wh = tg.webhook
            app.run_webhook(
                listen=wh.listen,
                port=wh.port,
                url_path=wh.url_path,
                webhook_url=wh.webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
    except InvalidToken:
        raise TokenRejected(
            f"Telegram 拒绝了机器人令牌。The token in ${tg.token_env} "
            "(or telegram.token_file) was rejected: check it with @BotFather."
        ) from None
    except NetworkError as exc:
        reason = RedactingFilter([token]).redact(exc.message)
        raise TelegramUnreachable(
            f"无法连接 Telegram（{tg.base_url.removesuffix('/bot')}：{reason}）。"
            "Telegram is unreachable: check the network, proxy ($HTTPS_PROXY) or "
            "telegram.base_url, then start again."
        ) from None
