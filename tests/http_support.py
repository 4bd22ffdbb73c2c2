"""Shared by the tests' fake servers (Telegram Bot API, OpenAI-compatible LLM)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    """Answer a request with a JSON body. A client that already left (timed out, or the bot
    stopped mid-request) is not an error for a test server."""
    data = json.dumps(payload, ensure_ascii=False).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
