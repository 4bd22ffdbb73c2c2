"""Bot-side faults against the real bot process: `zonebot serve` (real engine, real index
of corpus/) polling the fake Bot API (tests/fake_telegram.py) on 127.0.0.1.

Each case is a function that returns one `FaultRow` (fault, expected behaviour, observed,
passed), so these rows can join the index-side ones of bench/faults.py in one table:

- questions waiting when the bot starts (one of them older than telegram.max_backlog_age);
- SIGTERM with a question in flight;
- kill -9, questions sent while the bot is dead, restart;
- kill -9 in the middle of an answer (the question fetched and confirmed to Telegram, the
  LLM call under it hanging), restart;
- a flood of 📄 presses from one user while others ask;
- an LLM endpoint that accepts connections and never replies (answer.mode llm): once
  with the LLM timeout inside the answer deadline (extractive fallback), once outside
  it (the deadline's apology);
- an answer past its deadline whose thread runs on, then the next question in that chat
  (an endpoint that hangs once, then fails at once).

    python bench/faults_bot.py [--only NAME ...]

Every bot start loads the model; the whole run takes about five minutes here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from bench.common import ROOT, WORK, print_table
from bench.fault_table import FaultRow
from bot.answer.llm import UNAVAILABLE
from bot.telegram import messages
from tests.fake_telegram import Call, FakeTelegram

QUESTION = "营口片区去年规模以上工业总产值是多少？"
ANSWER = "102.25亿元"
OTHER_QUESTIONS = ["易办电能为企业节约多少办事时间？", "不见面审批事项达到多少项？"]
HANG_QUESTION, HANG_ANSWER = "营口片区的企业开办需要多长时间？", "半个工作日"
HANG_WORDS = "企业开办需要多长时间"  # what SilentLLM looks for in the (normalised) prompt
START_TIMEOUT = 300.0  # seconds for `zonebot serve` to load the model and start polling
ANSWER_TIMEOUT = 60.0  # seconds one answer may take before it counts as lost
ACTIONS = 10  # telegram.rate_limit.actions for the flood case


def is_answer(call: Call) -> bool:
    """The last part of an answer carries the 👍/👎 buttons."""
    return call.method == "sendMessage" and any(d.startswith("fb:") for _, d in call.buttons)


class BotProcess:
    """`zonebot serve` with a config of its own (the shared index, its own data dir)."""

    def __init__(self, fake: FakeTelegram, workdir: Path, extra: str = "") -> None:
        self.fake = fake
        self.config = workdir / "config.yaml"
        self.config.write_text(
            f"corpus: {{paths: ['{ROOT / 'corpus'}']}}\n"
            f"index: {{dir: '{WORK / 'faults_bot'}'}}\n"
            f"data_dir: '{workdir / 'data'}'\n"
            f"telegram:\n  base_url: {fake.base_url}\n  base_file_url: {fake.base_file_url}\n"
            f"  rate_limit: {{actions: {ACTIONS}}}\n{extra}",
            encoding="utf-8",
        )
        self.log = workdir / "serve.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start and wait until it polls (setMyCommands is its last start-up call)."""
        before = len(self.fake.find("setMyCommands"))
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": self.fake.token, "HF_HUB_OFFLINE": "1"}
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(self.config), "serve"],
                cwd=ROOT,
                env=env,
                stderr=log,
            )
        self.fake.wait_for("setMyCommands", before + 1, timeout=START_TIMEOUT)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -999  # did not stop in time

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def bot_process(extra: str = "") -> Iterator[BotProcess]:
    """A fresh fake Bot API and a bot configured for it; both gone afterwards."""
    fake = FakeTelegram().start()
    with tempfile.TemporaryDirectory(prefix="zonebot-faults-") as tmp:
        bot = BotProcess(fake, Path(tmp), extra)
        try:
            yield bot
        finally:
            if bot.process is not None and bot.process.poll() is None:
                bot.stop(signal.SIGKILL)
            fake.stop()


def answers(fake: FakeTelegram, chat_id: int) -> list[Call]:
    return [c for c in fake.find("sendMessage", chat_id=chat_id) if is_answer(c)]


def wait_answered(fake: FakeTelegram, chats: list[int], timeout: float = ANSWER_TIMEOUT) -> None:
    """Until every chat has an answer, or the time is up (then the row shows what is missing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(answers(fake, c) for c in chats):
        time.sleep(0.1)


def tracebacks(text: str) -> int:
    return text.count("Traceback")


# ---- the cases ----------------------------------------------------------------------


def restart_with_questions_waiting() -> FaultRow:
    """Questions sent while the bot is down are answered at start, the old one with an
    apology first; then SIGTERM with a question in flight."""
    with bot_process() as bot:
        chats = [201, 202, 203]
        for chat in chats[:2]:
            bot.fake.push_text(chat, chat, QUESTION)
        bot.fake.push_text(chats[2], chats[2], QUESTION, age=2 * 3600)
        bot.start()
        wait_answered(bot.fake, chats)
        counts = [len(answers(bot.fake, c)) for c in chats]
        apologised = bool(bot.fake.find("sendMessage", chat_id=chats[2], contains="暂时离线"))
        right = all(ANSWER in a.text for c in chats for a in answers(bot.fake, c))
        code = bot.stop()
    observed = f"answers per question {counts}, backlog apology {apologised}, exit {code}"
    return FaultRow(
        "restart with 3 questions waiting (one 2 h old)",
        "each answered once; the 2 h old one after a short apology",
        observed,
        counts == [1, 1, 1] and apologised and right and code == 0,
    )


def sigterm_with_a_question_in_flight() -> FaultRow:
    with bot_process() as bot:
        bot.start()
        bot.fake.push_text(204, 204, QUESTION)
        bot.fake.wait_for("sendChatAction", chat_id=204, timeout=ANSWER_TIMEOUT)
        started = time.monotonic()
        code = bot.stop()
        seconds = time.monotonic() - started
        answered = len(answers(bot.fake, 204))
        log = bot.log_text()
    stopped = "stopped" in log
    observed = (
        f"answered {answered}x before exit {code} after {seconds:.1f} s; "
        f"tracebacks in the log: {tracebacks(log)}"
    )
    return FaultRow(
        "SIGTERM with a question in flight",
        "the question is answered, then a clean exit (0) within answer.timeout_s",
        observed,
        answered == 1 and code == 0 and stopped and seconds < 30 and not tracebacks(log),
    )


def kill_9_with_questions_waiting() -> FaultRow:
    with bot_process() as bot:
        bot.start()
        bot.fake.push_text(205, 205, QUESTION)
        wait_answered(bot.fake, [205])
        code = bot.stop(signal.SIGKILL)
        chats = [206, 207, 208]
        for chat in chats:
            bot.fake.push_text(chat, chat, QUESTION)  # sent while the bot is dead
        bot.start()
        wait_answered(bot.fake, chats)
        counts = [len(answers(bot.fake, c)) for c in [205, *chats]]
        bot.stop()
    return FaultRow(
        "kill -9, 3 questions sent while down, restart",
        "all answered once after the restart, none twice",
        f"killed (exit {code}); answers per question {counts}",
        code == -signal.SIGKILL and counts == [1, 1, 1, 1],
    )


def flood_of_source_presses() -> FaultRow:
    """One user presses 📄 200 times while five others ask; the flooder gets ACTIONS
    passages and one notice, the others are answered as usual."""
    with bot_process() as bot:
        bot.start()
        bot.fake.push_text(210, 210, QUESTION)
        wait_answered(bot.fake, [210])
        (answer,) = answers(bot.fake, 210)
        source = next(data for label, data in answer.buttons if label.startswith("📄"))
        started = time.monotonic()
        for _ in range(200):
            bot.fake.push_callback(210, answer.result, source)
        others = list(range(211, 216))
        for chat in others:
            bot.fake.push_text(chat, chat, OTHER_QUESTIONS[chat % 2])
        wait_answered(bot.fake, others)
        others_seconds = time.monotonic() - started
        time.sleep(2.0)  # let the flood drain
        passages = len(bot.fake.find("sendMessage", chat_id=210)) - 1
        notices = [
            c
            for c in bot.fake.find("answerCallbackQuery")
            if c.params.get("text") == messages.THROTTLED
        ]
        served = sum(bool(answers(bot.fake, c)) for c in others)
        bot.stop()
    observed = (
        f"flooder got {passages} passages and {len(notices)} notice; "
        f"{served}/5 others answered within {others_seconds:.1f} s"
    )
    return FaultRow(
        "200 📄 presses from one user while 5 others ask",
        f"at most {ACTIONS} passages and one notice; the others all answered",
        observed,
        passages <= ACTIONS and len(notices) == 1 and served == len(others),
    )


class SilentLLM:
    """An 'LLM endpoint' that accepts connections and never replies: to every request, or
    only to those whose body holds `hang_on` — the others are closed at once, as by an
    endpoint that died. (The bot's warm-up question goes to the LLM too.)"""

    def __init__(self, hang_on: str | None = None) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._connections: list[socket.socket] = []
        self._hang_on = hang_on
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/v1"

    def __enter__(self) -> SilentLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Gone: connections are refused from now on."""
        self._server.close()
        for connection in self._connections:
            connection.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            self._connections.append(connection)  # held open, never answered …
            if self._hang_on is not None:  # … unless it asks about something else
                threading.Thread(target=self._triage, args=(connection,), daemon=True).start()

    def _triage(self, connection: socket.socket) -> None:
        """Read one request; close the connection unless its body holds `hang_on`."""
        assert self._hang_on is not None
        wanted = (self._hang_on.encode(), json.dumps(self._hang_on)[1:-1].encode())
        data = b""
        with contextlib.suppress(OSError):
            connection.settimeout(10)
            while chunk := connection.recv(1 << 16):
                data += chunk
                head, separator, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if separator and length and len(body) >= int(length[1]):
                    break
        if not any(w in data for w in wanted):
            connection.close()


def llm_hangs(llm_timeout: float, answer_timeout: float) -> FaultRow:
    """answer.mode llm against SilentLLM, one question in flight per user: the user's
    second question must be taken (its slot freed), not refused as busy."""
    with SilentLLM() as llm, bot_process(llm_config(llm, llm_timeout, answer_timeout)) as bot:
        bot.start()
        replies, seconds = [], []
        for n in (1, 2):
            started = time.monotonic()
            bot.fake.push_text(220, 220, QUESTION)
            sent = bot.fake.wait_for("sendMessage", n, chat_id=220, timeout=ANSWER_TIMEOUT)
            replies.append(sent[-1].text)
            seconds.append(time.monotonic() - started)
        stopping = time.monotonic()
        code = bot.stop()
        stop_seconds = time.monotonic() - stopping
    if llm_timeout < answer_timeout:
        expected = f"extractive answers with the LLM notice after ~{llm_timeout:g} s"
        ok = all(ANSWER in r and UNAVAILABLE in r for r in replies)
    else:
        expected = f"the timeout apology after ~{answer_timeout:g} s, each time (never busy)"
        ok = replies == [messages.TIMEOUT] * 2
    shown = " / ".join(repr(r.split("\n")[0][:24]) for r in replies)
    return FaultRow(
        f"LLM endpoint never replies (llm.timeout_s {llm_timeout:g}, "
        f"answer.timeout_s {answer_timeout:g})",
        expected + "; clean exit",
        f"{shown} after {' / '.join(f'{t:.1f}' for t in seconds)} s; "
        f"exit {code} {stop_seconds:.1f} s after SIGTERM",
        ok and max(seconds) < min(llm_timeout, answer_timeout) + 5 and code == 0,
    )


def llm_config(llm: SilentLLM, llm_timeout: float, answer_timeout: float) -> str:
    """answer.mode llm against `llm`, one question in flight per user."""
    return (
        "  rate_limit: {in_flight: 1}\n"
        f"answer: {{mode: llm, timeout_s: {answer_timeout}}}\n"
        f"llm: {{base_url: '{llm.base_url}', timeout_s: {llm_timeout}}}\n"
    )


def kill_9_mid_answer() -> FaultRow:
    """The question is fetched and Telegram told so (nothing pending there), its LLM call
    hangs; kill -9, restart (the endpoint is gone now: the extractive answer): answered
    once, from the inbox."""
    with SilentLLM(hang_on=HANG_WORDS) as llm, bot_process(llm_config(llm, 60, 90)) as bot:
        bot.start()
        bot.fake.push_text(230, 230, HANG_QUESTION)
        bot.fake.wait_for("sendChatAction", chat_id=230, timeout=ANSWER_TIMEOUT)
        deadline = time.monotonic() + 10
        while bot.fake.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the answer is waiting on the LLM, not about to be sent
        pending = bot.fake.pending
        code = bot.stop(signal.SIGKILL)
        before = len(answers(bot.fake, 230))
        llm.close()
        started = time.monotonic()
        bot.start()
        wait_answered(bot.fake, [230])
        seconds = time.monotonic() - started
        bot.fake.push_text(231, 231, OTHER_QUESTIONS[0])  # later: a duplicate came first
        wait_answered(bot.fake, [231])
        replies = answers(bot.fake, 230)
        exit_code = bot.stop()
        log = bot.log_text()
    right = bool(replies) and HANG_ANSWER in replies[0].text
    observed = (
        f"{pending} updates pending at Telegram when killed (exit {code}); answered "
        f"{before}x before, {len(replies)}x after the restart "
        f"({seconds:.1f} s incl. start-up, {'right' if right else 'WRONG'} answer); "
        f"exit {exit_code}; tracebacks: {tracebacks(log)}"
    )
    return FaultRow(
        "kill -9 mid-answer (question fetched and confirmed, LLM call hanging), restart",
        "answered once after the restart (from the inbox), none twice",
        observed,
        pending == 0
        and code == -signal.SIGKILL
        and before == 0
        and len(replies) == 1
        and right
        and exit_code == 0
        and not tracebacks(log),
    )


def deadline_frees_the_conversation(answer_timeout: float = 4, llm_timeout: float = 30) -> FaultRow:
    """The first answer's LLM call hangs past answer.timeout_s and its thread runs on (up
    to llm.timeout_s); the next question in the same chat must not wait for it."""
    with (
        SilentLLM(hang_on=HANG_WORDS) as llm,
        bot_process(llm_config(llm, llm_timeout, answer_timeout)) as bot,
    ):
        bot.start()
        started = time.monotonic()
        bot.fake.push_text(232, 232, HANG_QUESTION)
        (first,) = bot.fake.wait_for("sendMessage", chat_id=232, timeout=ANSWER_TIMEOUT)
        first_seconds = time.monotonic() - started
        started = time.monotonic()
        bot.fake.push_text(232, 232, QUESTION)
        sent = bot.fake.wait_for("sendMessage", 2, chat_id=232, timeout=ANSWER_TIMEOUT)
        second_seconds = time.monotonic() - started
        code = bot.stop()
    second = sent[-1].text
    ok = (
        first.text == messages.TIMEOUT
        and ANSWER in second
        and second_seconds < answer_timeout
        and code == 0
    )
    return FaultRow(
        f"answer past answer.timeout_s {answer_timeout:g} (its LLM call hangs up to "
        f"{llm_timeout:g} s), then a 2nd question in that chat",
        "the apology; the 2nd question answered at once, not after the stuck one",
        f"{first.text[:12]!r}… after {first_seconds:.1f} s; then {second.splitlines()[0][:20]!r}"
        f" after {second_seconds:.1f} s; exit {code}",
        ok,
    )


CASES: dict[str, Callable[[], FaultRow]] = {
    "restart": restart_with_questions_waiting,
    "sigterm": sigterm_with_a_question_in_flight,
    "kill9": kill_9_with_questions_waiting,
    "kill9_mid_answer": kill_9_mid_answer,
    "flood": flood_of_source_presses,
    "llm_fallback": lambda: llm_hangs(llm_timeout=3, answer_timeout=10),
    "llm_deadline": lambda: llm_hangs(llm_timeout=30, answer_timeout=4),
    "deadline_frees": deadline_frees_the_conversation,
}


def build_index() -> None:
    """The shared index of corpus/ (incremental: nothing to do when it is current)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"corpus: {{paths: ['{ROOT / 'corpus'}']}}\nindex: {{dir: '{WORK / 'faults_bot'}'}}\n",
            encoding="utf-8",
        )
        subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "index"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def rows(names: list[str] | None = None) -> list[FaultRow]:
    """Run the named cases (all by default); a case that crashes is a failed row."""
    build_index()
    results = []
    for name in names or list(CASES):
        try:
            results.append(CASES[name]())
        except Exception as exc:  # the table must show it, not stop at it
            results.append(FaultRow(name, "the case runs", f"{type(exc).__name__}: {exc}", False))
        print(f"  {name}: {'pass' if results[-1].passed else 'FAIL'}", file=sys.stderr)
    return results


def print_rows(results: list[FaultRow]) -> None:
    print_table(
        ["fault", "expected behaviour", "observed", "pass"],
        [[r.fault, r.expected, r.observed, "yes" if r.passed else "NO"] for r in results],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(CASES), help="run only these cases")
    args = parser.parse_args()
    results = rows(args.only)
    print_rows(results)
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} bot-side fault cases pass")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
