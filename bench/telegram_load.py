"""Telegram load benchmark: simulated users asking questions through the fake Bot API.

50 users × 10 questions by default. Each user sends its next question the moment the
previous answer arrives (a closed loop), so questions come as fast as the bot and the
fake deliver them. The bot runs in its own process through `run_bot`, exactly as
`zonebot serve` does (polling, HTML answers, typing, SQLite log, per-user rate limit,
PTB's flood limiter), against the fake server (tests/fake_telegram.py) in this process.

Checks that every question is answered exactly once and that no handler failed; prints
end-to-end latency (question pushed -> answer received by the fake), questions/s and
the peak RSS of the bot process. By default it runs twice: without a flood limit (the
bot's own capacity, as the fake imposes none) and with
Telegram's 30 messages/s, which caps any bot at that rate.

    python bench/telegram_load.py [--engine real|double] [--config config.yaml]
                                  [--users 50] [--questions 10] [--flood-limit 0 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from bench.common import (
    DEV_FILES,
    DOUBLE_QUESTIONS,
    ROOT,
    load_dev_questions,
    percentile,
    print_table,
)
from bot.config import (
    Settings,
    TelegramSettings,
    config_path_from,
    load_settings,
    settings_from_dict,
)
from bot.logging_setup import FORMAT
from bot.telegram import app as telegram_app
from bot.telegram.state import Engine
from tests.fake_telegram import Call, FakeTelegram

START_TIMEOUT = 900.0  # seconds for the bot process to (re)build the index and load it
ANSWER_TIMEOUT = 120.0  # seconds one answer may take before the question counts as lost
GRACE = 1.0  # seconds to wait after the last answer for duplicates


def choose_engine(choice: str) -> str:
    """ "real" when the answer engine is importable, else "double" (with a message)."""
    if choice == "real":
        try:
            from bot.answer.engine import AnswerEngine  # noqa: F401
        except ImportError as exc:
            print(f"real engine not importable yet ({exc}); using the engine double instead")
            return "double"
    return choice


def make_engine(choice: str, settings: Settings) -> Engine:
    """Runs in the bot process: the double, or the real engine over the built index."""
    if choice == "double":
        from tests.tg_support import EngineDouble

        return EngineDouble()
    from bot.wiring import build_engine

    return build_engine(settings)


def serve_bot(settings: Settings, choice: str, log_path: Path) -> None:
    """The bot process: `zonebot serve` pointed at the fake; logs go to `log_path`."""
    logging.basicConfig(filename=log_path, level=logging.WARNING, format=FORMAT)
    telegram_app.run_bot(settings, partial(make_engine, choice, settings))


def bot_settings(base: Settings, fake: FakeTelegram, workdir: Path, flood_limit: int) -> Settings:
    """The configured settings, pointed at the fake, open to all, writing into `workdir`."""
    token_file = workdir / "token"
    token_file.write_text(fake.token, encoding="utf-8")
    telegram = replace(
        base.telegram,
        token_env="ZONEBOT_BENCH_TOKEN_UNSET",
        token_file=token_file,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        allowed_users=[],
        allowed_chats=[],
        admin_chat=None,
        flood_limit=flood_limit,
    )
    return replace(base, data_dir=workdir / "data", telegram=telegram)


def is_answer(call: Call) -> bool:
    """The last part of an answer carries the 👍/👎 buttons."""
    return call.method == "sendMessage" and any(d.startswith("fb:") for _, d in call.buttons)


async def simulate(
    fake: FakeTelegram, questions: list[str], users: int, n: int
) -> tuple[list[float], int, int, float]:
    """Run the users; return latencies, lost questions, duplicate answers and wall time."""
    loop = asyncio.get_running_loop()
    inbox: dict[int, asyncio.Queue[Call]] = {u: asyncio.Queue() for u in range(1, users + 1)}

    def deliver(call: Call) -> None:  # runs in the fake's server threads
        if is_answer(call):
            loop.call_soon_threadsafe(inbox[call.params["chat_id"]].put_nowait, call)

    fake.on_call = deliver
    asked = cycle(questions)
    plan = {u: [next(asked) for _ in range(n)] for u in inbox}

    async def user(uid: int) -> list[float]:
        latencies = []
        for question in plan[uid]:
            started = time.perf_counter()
            fake.push_text(uid, uid, question)
            try:
                answer = await asyncio.wait_for(inbox[uid].get(), ANSWER_TIMEOUT)
            except TimeoutError:
                return latencies
            latencies.append(answer.at - started)
        return latencies

    started = time.perf_counter()
    per_user = await asyncio.gather(*(user(u) for u in inbox))
    seconds = time.perf_counter() - started
    await asyncio.sleep(GRACE)
    latencies = [t for user_latencies in per_user for t in user_latencies]
    duplicates = sum(q.qsize() for q in inbox.values())
    return latencies, users * n - len(latencies), duplicates, seconds


def wait_until_polling(fake: FakeTelegram, bot: multiprocessing.process.BaseProcess) -> None:
    """The bot polls once it has loaded its engine; fail fast if its process dies first."""
    deadline = time.monotonic() + START_TIMEOUT
    while not fake.find("deleteWebhook"):
        if not bot.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the bot process did not start; see the log above")
        time.sleep(0.2)


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (Linux `VmHWM`), NaN where not readable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return float("nan")
    kilobytes = next(
        (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), ""
    )
    return int(kilobytes) / 1024 if kilobytes else float("nan")


@dataclass
class Run:
    """One load run: what came back and how the bot process ended."""

    latencies: list[float]
    lost: int
    duplicates: int
    seconds: float
    errors: int
    peak_mb: float
    exit_ok: bool
    log: str

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.errors == 0 and self.exit_ok


def run_load(
    base: Settings, choice: str, questions: list[str], users: int, n: int, flood_limit: int
) -> Run:
    """Start a bot process against a fresh fake, run the users, stop the bot."""
    fake = FakeTelegram().start()
    try:
        with tempfile.TemporaryDirectory(prefix="zonebot-load-") as workdir:
            log_path = Path(workdir) / "bot.log"
            settings = bot_settings(base, fake, Path(workdir), flood_limit)
            process = multiprocessing.get_context("spawn").Process(
                target=serve_bot, args=(settings, choice, log_path)
            )
            process.start()
            try:
                wait_until_polling(fake, process)
                latencies, lost, duplicates, seconds = asyncio.run(
                    simulate(fake, questions, users, n)
                )
                peak_mb = peak_rss_mb(process.pid)
            finally:
                process.terminate()  # SIGTERM: PTB stops cleanly
                process.join(60)
            log = log_path.read_text(encoding="utf-8") if log_path.exists() else ""
    finally:
        fake.stop()
    errors = sum(" ERROR " in line for line in log.splitlines())
    exit_ok = process.exitcode == 0
    return Run(latencies, lost, duplicates, seconds, errors, peak_mb, exit_ok, log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["real", "double"], default="real")
    parser.add_argument("--config", help="config file (default: $ZONEBOT_CONFIG or config.yaml)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="questions per user")
    parser.add_argument(
        "--flood-limit",
        type=int,
        nargs="+",
        default=[0, TelegramSettings.flood_limit],
        help="messages/s the bot allows itself across chats, one run each (default: 0 = off, "
        "the bot's own capacity, as the fake imposes no limit; then Telegram's 30)",
    )
    args = parser.parse_args(argv)

    choice = choose_engine(args.engine)
    if choice == "real":
        from bot.wiring import run_index

        base = load_settings(config_path_from(args.config))
        run_index(base)  # like `zonebot index`: here, so the bot process only loads it
        questions = [q["question"] for q in load_dev_questions() if q.get("doc") is None]
        print(f"real engine over {[str(p) for p in base.corpus.paths]}; questions: {DEV_FILES[0]}")
    else:
        base = settings_from_dict({"corpus": {"paths": ["corpus"]}}, base_dir=ROOT)
        questions = DOUBLE_QUESTIONS

    headers = [
        "engine",
        "flood limit /s",
        "users × questions",
        "answered",
        "lost",
        "duplicates",
        "handler errors",
        "p50 s",
        "p95 s",
        "max s",
        "questions/s",
        "bot peak RSS MB",
    ]
    rows, runs = [], []
    for flood_limit in args.flood_limit:
        run = run_load(base, choice, questions, args.users, args.questions, flood_limit)
        runs.append(run)
        rows.append(
            [
                choice,
                flood_limit or "off",
                f"{args.users} × {args.questions}",
                len(run.latencies),
                run.lost,
                run.duplicates,
                run.errors,
                percentile(run.latencies, 50),
                percentile(run.latencies, 95),
                max(run.latencies, default=float("nan")),
                len(run.latencies) / run.seconds,
                round(run.peak_mb),
            ]
        )
    print_table(headers, rows)
    for flood_limit in args.flood_limit:
        if flood_limit:
            print(
                f"with {flood_limit} messages/s, {args.users} users asking back to back cannot "
                f"wait less than {args.users / flood_limit:.2f} s on average (users ÷ rate)"
            )
    ok = all(run.ok for run in runs)
    print("every question answered exactly once, no handler errors" if ok else "FAILED")
    for run in runs:
        if run.errors:
            print(run.log, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
