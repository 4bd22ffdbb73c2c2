"""A fake Telegram Bot API on 127.0.0.1, for running the real PTB Application offline.

It behaves like Telegram wherever the bot depends on it: the token is part of the URL
(a wrong one gets 401), parameters arrive form-encoded with JSON inside, `getUpdates`
long-polls and honours offset/timeout/allowed_updates, HTML is parsed with Telegram's
tag whitelist (a bad tag is a 400 "can't parse entities"), texts over 4,096 UTF-16
units are refused, and messages are stored as plain text, as Telegram stores them.
Unknown methods answer 400, not 404, because PTB reads 404 as an invalid token.
With a webhook set (`setWebhook`), pushed updates are POSTed to it instead of queued.
Updates queued while no bot polls stay queued, as Telegram keeps them, until a
`deleteWebhook`/`setWebhook` with `drop_pending_updates=true` throws them away.

Tests push updates (`push_text`, `push_callback`, `push_sticker`, `push_edit`,
`push_document`, `push_again` for a redelivery) and wait for the bot's calls (`wait_for`)
from a thread; `fail_next` injects 429/500/400; `on_confirm` sees the moment a getUpdates
offset confirms updates (after which Telegram would not deliver them again). A pushed
document is served as Telegram serves files: `getFile` gives its file_path (or 400 "file
is too big" above 20 MB) and GET /file/bot<token>/<file_path> its bytes.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fake_html import ApiError, parse_html, utf16_len
from tests.http_support import send_json

TOKEN = "123456:TEST-SECRET-TOKEN"
BOT_USERNAME = "zonebot_test"
MAX_TEXT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # what the Bot API lets a bot download

_JSON_PARAMS = {
    "reply_markup",
    "allowed_updates",
    "reply_parameters",
    "entities",
    "commands",
    "scope",
    "link_preview_options",
}
_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id"}
_COMMAND = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?")
_MENTION = re.compile(r"@[A-Za-z0-9_]{5,32}")


@dataclass
class Call:
    """One Bot API request the bot made, and what the fake answered."""

    method: str
    params: dict[str, Any]
    result: Any = None
    error: str | None = None
    at: float = field(default_factory=time.perf_counter)

    @property
    def text(self) -> str:
        """The stored (plain) text of a sent or edited message."""
        return self.result.get("text", "") if isinstance(self.result, dict) else ""

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard under the message."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _entities(text: str) -> list[dict]:
    """bot_command and mention entities with UTF-16 offsets, as Telegram's clients send them."""
    found = []
    if command := _COMMAND.match(text):
        found.append(("bot_command", 0, command.end()))
    found += [("mention", m.start(), m.end()) for m in _MENTION.finditer(text)]
    return [
        {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}
        for kind, start, end in found
    ]


class FakeTelegram:
    """The fake server; `base_url`/`base_file_url` go to ApplicationBuilder."""

    def __init__(self, token: str = TOKEN, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Zonebot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.commands: list[dict] = []
        self.webhook: dict[str, Any] = {}
        self.on_call: Callable[[Call], None] | None = None  # called in the server thread
        # Called (in the server thread) with the ids of updates a getUpdates offset confirms,
        # before Telegram forgets them.
        self.on_confirm: Callable[[list[int]], None] | None = None
        self._cond = threading.Condition()
        self._updates: list[dict] = []
        self._allowed: set[str] | None = None
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict] = {}
        self._files: dict[str, bytes] = {}
        self._file_sizes: dict[str, int] = {}
        self._chats: dict[int, dict] = {}
        self._errors: dict[str, deque[ApiError]] = defaultdict(deque)
        self._stopping = False
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # ---- test helpers ---------------------------------------------------------------

    def fail_next(
        self, method: str, status: int = 429, *, retry_after: int = 1, description: str = ""
    ) -> None:
        """Make the next call of `method` fail: 429 with retry_after, 500, or any 400."""
        if status == 429:
            error = ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        else:
            error = ApiError(status, description or "Internal Server Error")
        with self._cond:
            self._errors[method].append(error)

    def push_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        reply_to: dict | None = None,
        entities: list[dict] | None = None,
        age: float = 0.0,
    ) -> dict:
        """A user sends `text` (`age` seconds ago); unless given, command and mention
        entities are generated as a client does."""
        content: dict[str, Any] = {"text": text}
        if entities := _entities(text) if entities is None else entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = reply_to
        message = self._user_message(chat_id, user_id, chat_type, content, age)
        self._push("message", message)
        return message

    def push_sticker(self, chat_id: int, user_id: int, *, chat_type: str = "private") -> dict:
        sticker = {
            "file_id": "STK",
            "file_unique_id": "STKU",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        message = self._user_message(chat_id, user_id, chat_type, {"sticker": sticker})
        self._push("message", message)
        return message

    def push_document(
        self,
        chat_id: int,
        user_id: int,
        file_name: str,
        data: bytes,
        *,
        file_size: int | None = None,
        media_group_id: str | None = None,
        chat_type: str = "private",
    ) -> dict:
        """A user sends a file; `file_size` may claim more than `data` (a 25 MB file)."""
        with self._cond:
            file_id = f"DOC{len(self._files) + 1}"
            self._files[file_id] = data
            self._file_sizes[file_id] = file_size if file_size is not None else len(data)
        document = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": file_name,
            "mime_type": "application/octet-stream",
            "file_size": self._file_sizes[file_id],
        }
        content: dict[str, Any] = {"document": document}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        message = self._user_message(chat_id, user_id, chat_type, content)
        self._push("message", message)
        return message

    def file_bytes(self, path: str) -> bytes | None:
        """What GET /file/bot<token>/<path> serves, or None for an unknown path."""
        path = unquote(path)  # the client percent-encodes the token's ":"
        match = re.fullmatch(r"/file/bot(?P<token>[^/]+)/documents/(?P<id>\w+)", path)
        if match is None or match["token"] != self.token:
            return None
        with self._cond:
            return self._files.get(match["id"])

    def push_again(self, message: dict) -> None:
        """Deliver a message the bot was sent before in a new update, as Telegram does when
        the bot died before confirming it."""
        self._push("message", message)

    def push_edit(self, message: dict, text: str) -> dict:
        edited = {**message, "text": text, "edit_date": int(time.time())}
        self._push("edited_message", edited)
        return edited

    def push_callback(self, user_id: int, message: dict, data: str) -> str:
        """A user taps an inline button with `data` under the bot's `message`; returns its id."""
        query_id = str(next(self._callback_ids))
        sender = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        self._push(
            "callback_query",
            {
                "id": query_id,
                "from": sender,
                "chat_instance": "1",
                "message": message,
                "data": data,
            },
        )
        return query_id

    @property
    def pending(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates with a higher offset."""
        with self._cond:
            return len(self._updates)

    @property
    def errors(self) -> list[Call]:
        """Calls the fake refused (injected failures, bad HTML, too long, ...)."""
        with self._cond:
            return [c for c in self.calls if c.error is not None]

    def find(self, method: str, contains: str = "", **match: Any) -> list[Call]:
        """Successful calls of `method` whose params equal `match` and whose text has `contains`."""
        with self._cond:
            return [c for c in self.calls if _matches(c, method, contains, match)]

    def wait_for(
        self, method: str, n: int = 1, timeout: float = 10.0, contains: str = "", **match: Any
    ) -> list[Call]:
        """Block until `n` calls as `find` describes them were made; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.calls if _matches(c, method, contains, match)]
                if len(found) >= n:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.error or c.text[:30]) for c in self.calls[-8:]]
                    raise AssertionError(f"{len(found)}/{n} {method} {match}; last calls: {seen}")
                self._cond.wait(remaining)

    # ---- internals ------------------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str) -> dict:
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}
        self._chats[chat_id] = chat
        return chat

    def _user_message(
        self, chat_id: int, user_id: int, chat_type: str, content: dict, age: float = 0.0
    ) -> dict:
        with self._cond:
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time() - age),
                "chat": self._chat(chat_id, chat_type),
                "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
                **content,
            }
            self._messages[(chat_id, message["message_id"])] = message
        return message

    def _push(self, kind: str, payload: dict) -> None:
        with self._cond:
            update = {"update_id": next(self._update_ids), kind: payload}
            webhook = dict(self.webhook)
            if not webhook:
                self._updates.append(update)
                self._cond.notify_all()
                return
        request = urllib.request.Request(
            webhook["url"],
            data=json.dumps(update).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": webhook.get("secret_token", ""),
            },
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=5) as response:
            response.read()

    def dispatch(self, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        match = re.fullmatch(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if match["token"] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = match["method"]
        call = Call(method, params)
        try:
            with self._cond:
                if self._errors[method]:
                    raise self._errors[method].popleft()
            api = getattr(self, f"_api_{method}", None)
            if api is None:
                raise ApiError(400, f"Bad Request: method {method} not found")
            call.result = api(params)
            status, body = 200, {"ok": True, "result": call.result}
        except ApiError as exc:
            call.error = exc.description
            status, body = exc.status, exc.payload()
        if method != "getUpdates":
            with self._cond:
                self.calls.append(call)
                self._cond.notify_all()
            if self.on_call is not None and call.error is None:
                self.on_call(call)
        return status, body

    def _text(self, params: dict) -> str:
        text = params.get("text", "")
        plain = parse_html(text) if params.get("parse_mode") == "HTML" else text
        plain = plain.strip()
        if not plain:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        return plain

    def _bot_message(self, params: dict, text: str) -> dict:
        chat_id = params["chat_id"]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chats.get(chat_id) or self._chat(chat_id, "private"),
            "from": self.bot_user,
            "text": text,
        }
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if reply := params.get("reply_parameters"):
            replied = self._messages.get((chat_id, reply["message_id"]))
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
        return message

    # ---- Bot API methods ------------------------------------------------------------

    def _api_getMe(self, params: dict) -> dict:
        return self.bot_user

    def _api_deleteWebhook(self, params: dict) -> bool:
        with self._cond:
            self.webhook = {}
            self._drop_pending(params)
        return True

    def _api_setWebhook(self, params: dict) -> bool:
        with self._cond:
            self.webhook = {k: params[k] for k in ("url", "secret_token") if k in params}
            self._drop_pending(params)
        return True

    def _drop_pending(self, params: dict) -> None:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._updates.clear()

    def _api_getUpdates(self, params: dict) -> list[dict]:
        offset = params.get("offset") or 0
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._cond:
            if "allowed_updates" in params:
                self._allowed = set(params["allowed_updates"]) or None
            confirmed = [u["update_id"] for u in self._updates if u["update_id"] < offset]
            if confirmed and self.on_confirm is not None:
                self.on_confirm(confirmed)
            while True:
                self._updates = [
                    u
                    for u in self._updates
                    if u["update_id"] >= offset
                    and (self._allowed is None or _kind(u) in self._allowed)
                ]
                remaining = deadline - time.monotonic()
                if self._updates or self._stopping or remaining <= 0:
                    return self._updates[: int(params.get("limit") or 100)]
                self._cond.wait(remaining)

    def _api_sendMessage(self, params: dict) -> dict:
        text = self._text(params)
        with self._cond:
            message = self._bot_message(params, text)
            self._messages[(params["chat_id"], message["message_id"])] = message
        return message

    def _api_editMessageText(self, params: dict) -> dict:
        text = self._text(params)
        key = (params.get("chat_id"), params.get("message_id"))
        with self._cond:
            message = self._messages.get(key)
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            markup = params.get("reply_markup")
            if message["text"] == text and message.get("reply_markup") == markup:
                raise ApiError(
                    400,
                    "Bad Request: message is not modified: specified new "
                    "message content and reply markup are exactly the same",
                )
            message["text"] = text
            if markup:
                message["reply_markup"] = markup
            return dict(message)

    def _api_sendChatAction(self, params: dict) -> bool:
        return True

    def _api_getFile(self, params: dict) -> dict:
        file_id = params.get("file_id", "")
        with self._cond:
            if file_id not in self._files:
                raise ApiError(400, "Bad Request: invalid file_id")
            size = self._file_sizes[file_id]
        if size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_size": size,
            "file_path": f"documents/{file_id}",
        }

    def _api_answerCallbackQuery(self, params: dict) -> bool:
        return True

    def _api_setMyCommands(self, params: dict) -> bool:
        self.commands = params.get("commands", [])
        return True

    def _api_deleteMyCommands(self, params: dict) -> bool:
        self.commands = []
        return True

    def _api_getMyCommands(self, params: dict) -> list[dict]:
        return self.commands


def _kind(update: dict) -> str:
    return next(k for k in update if k != "update_id")


def _matches(call: Call, method: str, contains: str, match: dict[str, Any]) -> bool:
    return (
        call.method == method
        and call.error is None
        and contains in call.text
        and all(call.params.get(k) == v for k, v in match.items())
    )


def _decode(raw: str, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(raw) if raw else {}
    params: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        if key in _JSON_PARAMS:
            params[key] = json.loads(value)
        elif key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
            params[key] = int(value)
        else:
            params[key] = value
    return params


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default backlog of 5 drops connections under load
    fake: FakeTelegram

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (the bot stopping) is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    protocol_version = "HTTP/1.1"  # keep-alive, as PTB's httpx pool expects

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/file/"):
            self._serve_file(parts.path)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = _decode(parts.query, "") | _decode(body, self.headers.get("Content-Type", ""))
        send_json(self, *self.server.fake.dispatch(parts.path, params))

    def _serve_file(self, path: str) -> None:
        data = self.server.fake.file_bytes(path)
        if data is None:
            send_json(self, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (it would print the token-bearing path)."""
