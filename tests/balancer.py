"""A load balancer on 127.0.0.1 in front of webhook replicas, for tests and benches.

Telegram POSTs each update to one webhook URL; in a deployment of several replicas that
URL is a load balancer's, which hands each update to one replica. This one forwards the
request (path, body, secret-token header) to the replica `route(update)` names, round
robin when it names none, and to the next replica when that one refuses the connection
(a replica restarting). It records which replica took each update.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.http_support import send_json

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FORWARD_TIMEOUT_S = 10


class Balancer:
    def __init__(self, replicas: list[str]) -> None:
        """`replicas`: each replica's webhook base URL (http://127.0.0.1:port)."""
        self.replicas = replicas
        self.route: Callable[[dict], int | None] = lambda update: None
        self.taken: dict[int, int] = {}  # update_id -> index of the replica that took it
        self.messages: dict[tuple[int, int], int] = {}  # (chat id, message id) -> the same
        self.callbacks: dict[str, int] = {}  # callback query id -> the same
        self._turns = itertools.cycle(range(len(replicas)))
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.balancer = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Balancer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(self, path: str, body: bytes, secret: str) -> tuple[int, dict]:
        update = json.loads(body or b"{}")
        first = self.route(update)
        with self._lock:
            first = next(self._turns) if first is None else first
        order = [(first + i) % len(self.replicas) for i in range(len(self.replicas))]
        for index in order:
            request = urllib.request.Request(
                self.replicas[index] + path,
                data=body,
                headers={"Content-Type": "application/json", SECRET_HEADER: secret},
            )
            try:
                with self._opener.open(request, timeout=FORWARD_TIMEOUT_S) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, ConnectionError):
                continue  # this replica is down: the next one takes the update
            with self._lock:
                self.taken[update.get("update_id", -1)] = index
                if message := update.get("message"):
                    self.messages[(message["chat"]["id"], message["message_id"])] = index
                if query := update.get("callback_query"):
                    self.callbacks[query["id"]] = index
            return status, {}
        return 502, {"ok": False, "description": "no replica answered"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        balancer: Balancer = self.server.balancer  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, payload = balancer.forward(self.path, body, self.headers.get(SECRET_HEADER, ""))
        send_json(self, status, payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per update would drown the test output."""
