"""`zonebot serve` in a process of its own with the engine double instead of the real
engine: the real command line (logging set-up, signals, polling), without loading the
model, for tests that kill or restart the bot.

    python -m tests.serve_double [zonebot options] serve
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from bot import cli, wiring
from bot.answer.conversation import Conversation
from bot.answer.results import Answer
from tests.tg_support import EngineDouble

HANG_PHRASE = "挂起"


class ServedDouble(EngineDouble):
    """The double as served: "慢" takes 1.5 s (still in flight when a signal arrives);
    HANG_PHRASE hangs in the first process asked it (it leaves `marker`) and is answered
    by the next, so a test can kill -9 the bot in the middle of an answer."""

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.slow["慢"] = 1.5
        self._marker = marker

    def answer(self, question: str, conversation: Conversation | None = None) -> Answer:
        if HANG_PHRASE in question and not self._marker.exists():
            self._marker.parent.mkdir(parents=True, exist_ok=True)
            self._marker.write_text(str(os.getpid()), encoding="utf-8")
            time.sleep(3600)
        return super().answer(question, conversation)


def _double(settings, embedder=None, mode="hybrid") -> EngineDouble:
    return ServedDouble(settings.data_dir / "hung-once")


if __name__ == "__main__":
    wiring.build_engine = _double
    wiring.make_embedder = lambda settings: None
    wiring.follow_job = lambda settings, embedder: None  # the double has no index to follow
    sys.exit(cli.main(sys.argv[1:]))
