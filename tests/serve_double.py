"""`zonebot serve` in a process of its own with the engine double instead of the real
engine: the real command line (logging set-up, signals, polling), without loading the
model, for tests that kill or restart the bot.

    python -m tests.serve_double [zonebot options] serve
"""

from __future__ import annotations

import sys

from bot import cli, wiring
from tests.tg_support import EngineDouble


def _double(settings, embedder=None, mode="hybrid") -> EngineDouble:
    engine = EngineDouble()
    engine.slow["慢"] = 1.5  # a question that is still in flight when a signal arrives
    return engine


if __name__ == "__main__":
    wiring.build_engine = _double
    wiring.make_embedder = lambda settings: None
    wiring.follow_job = lambda settings, embedder: None  # the double has no index to follow
    sys.exit(cli.main(sys.argv[1:]))
