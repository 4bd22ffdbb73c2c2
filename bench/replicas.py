"""Several bot replicas on one PostgreSQL question log: questions through the fake Bot API,
split across the replicas by a load balancer, every 📄 pressed on another replica than the
one that answered, every vote given twice (once on each of two replicas).

The deployment of the README's "Several replicas" section on one machine: a throwaway
PostgreSQL cluster (tests/pg_support.py, fsync on), N `zonebot serve` processes in webhook
mode with `index.read_only` (tests/replicas.py), each on its own copy of the index a build
node made (shipped as rsync would; checked unchanged by serving), behind a round-robin
balancer (tests/balancer.py). Users ask in a closed loop (the next question when the
previous answer and its buttons are done). Prints one table; the targets: none lost, every
📄 and every 👍/👎 works on any replica, each answer's two identical votes are counted
once, /stats agrees on every replica. Then the build node indexes one more document and
ships the generation: every replica must load it by itself and answer from it.

    python bench/replicas.py [--engine real|double] [--questions 500] [--users 50]
                             [--replicas 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from bench.common import (
    DOUBLE_QUESTIONS,
    ROOT,
    load_dev_questions,
    percentile,
    print_table,
    require_shared,
)
from bot.telegram.messages import THANKS
from tests.fake_telegram import Call, FakeTelegram
from tests.pg_support import throwaway_cluster, unavailable
from tests.replicas import replicas, ship, stop

NEW_FACT = "第一条 营口片区对新设立的跨境电商企业给予每家三十万元的一次性开办补贴。"
NEW_QUESTION = "营口片区给新设立的跨境电商企业多少开办补贴？"
NEW_ANSWER = "三十万元"
ADMIN = 9_000_000  # chats from here on are the bench's own (/stats, the pickup questions)
FOLLOW_S = 1.0  # how often the replicas look for a new generation
WAIT_S = 120.0  # an answer, passage or acknowledgement later than this counts as lost
START_TIMEOUT_S = 600.0  # a replica loading the real model and index
GENEROUS = {"questions": 10_000, "actions": 10_000, "per_seconds": 60}  # not the limiter's bench


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # question pushed -> answer sent
    lost: int = 0
    sources_pressed: int = 0
    sources_cross: int = 0  # taken by another replica than the one that answered
    sources_working: int = 0
    votes_pressed: int = 0
    votes_split: int = 0  # answers whose two votes two different replicas took
    votes_thanked: int = 0
    expected_votes: dict[str, int] = field(default_factory=dict)  # answer id -> 1 / -1


class Inbox:
    """What the bot sends, sorted per chat as it arrives (the fake calls `deliver` from
    its server threads; everything else runs on the event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.answers: dict[int, asyncio.Queue[Call]] = defaultdict(asyncio.Queue)
        self.passages: dict[int, asyncio.Queue[Call]] = defaultdict(asyncio.Queue)
        self.others: list[Call] = []
        self._acks: dict[str, asyncio.Future[Call]] = {}

    def deliver(self, call: Call) -> None:
        self._loop.call_soon_threadsafe(self._sort, call)

    def _sort(self, call: Call) -> None:
        if call.method == "sendMessage" and call.params.get("chat_id") == ADMIN:
            self.others.append(call)
        elif call.method == "answerCallbackQuery":
            self.ack(call.params["callback_query_id"]).set_result(call)
        elif call.method == "sendMessage" and any(d.startswith("fb:") for _, d in call.buttons):
            self.answers[call.params["chat_id"]].put_nowait(call)
        elif call.method == "sendMessage" and call.params.get("reply_parameters"):
            self.passages[call.params["chat_id"]].put_nowait(call)
        elif call.method == "sendMessage":
            self.others.append(call)

    def ack(self, query_id: str) -> asyncio.Future[Call]:
        if query_id not in self._acks:
            self._acks[query_id] = self._loop.create_future()
        return self._acks[query_id]


class Router:
    """Where the balancer sends each update: questions round robin; a 📄 press to a
    replica that did not give the answer; a vote where the user's flow says."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.answered_by: dict[str, int] = {}  # answer id -> replica
        self.vote_to: dict[int, int] = {}  # user -> replica for the user's next vote

    def __call__(self, update: dict) -> int | None:
        query = update.get("callback_query")
        if query is None:
            return None
        kind, answer_id, _ = query["data"].split(":")
        if kind == "src":
            return (self.answered_by[answer_id] + 1) % self.count
        return self.vote_to[query["from"]["id"]]


async def user_flow(
    uid: int, questions: list[str], fake: FakeTelegram, balancer, router: Router, inbox: Inbox
) -> Tally:
    tally = Tally()
    for i, question in enumerate(questions):
        started = time.perf_counter()
        message = await asyncio.to_thread(fake.push_text, uid, uid, question)
        try:
            answer = await asyncio.wait_for(inbox.answers[uid].get(), WAIT_S)
        except TimeoutError:
            tally.lost += 1
            continue
        tally.latencies.append(answer.at - started)
        answered_by = balancer.messages[(uid, message["message_id"])]
        buttons = dict(answer.buttons)
        answer_id = buttons["👍"].split(":")[1]
        router.answered_by[answer_id] = answered_by
        for label, data in answer.buttons:
            if data.startswith("src:"):
                tally.sources_pressed += 1
                ack, took = await press(fake, balancer, inbox, uid, answer, data)
                tally.sources_cross += took != answered_by
                passage = await next_or_none(inbox.passages[uid])
                n = label.split()[1]
                working = ack is not None and not ack.params.get("text") and passage is not None
                tally.sources_working += working and passage.text.startswith(f"[{n}] ")
        vote = "👍" if (uid + i) % 3 else "👎"
        tally.expected_votes[answer_id] = 1 if vote == "👍" else -1
        took = set()
        for replica in (answered_by, (answered_by + 1) % router.count):  # the same vote twice
            router.vote_to[uid] = replica
            tally.votes_pressed += 1
            ack, replica_took = await press(fake, balancer, inbox, uid, answer, buttons[vote])
            took.add(replica_took)
            tally.votes_thanked += ack is not None and ack.params.get("text") == THANKS
        tally.votes_split += len(took) == 2
    return tally


async def press(
    fake: FakeTelegram, balancer, inbox: Inbox, uid: int, answer: Call, data: str
) -> tuple[Call | None, int | None]:
    """Press a button; the bot's acknowledgement (None if lost) and which replica took it."""
    query_id = await asyncio.to_thread(fake.push_callback, uid, answer.result, data)
    took = balancer.callbacks.get(query_id)
    try:
        return await asyncio.wait_for(inbox.ack(query_id), WAIT_S), took
    except TimeoutError:
        return None, took


async def next_or_none(queue: asyncio.Queue[Call]) -> Call | None:
    try:
        return await asyncio.wait_for(queue.get(), WAIT_S)
    except TimeoutError:
        return None


async def run_users(fake, balancer, count: int, questions: list[str], users: int, total: int):
    loop = asyncio.get_running_loop()
    inbox = Inbox(loop)
    fake.on_call = inbox.deliver
    router = Router(count)
    balancer.route = router
    asked = cycle(questions)
    plans: dict[int, list[str]] = {u: [] for u in range(1, users + 1)}
    for k in range(total):
        plans[1 + k % users].append(next(asked))
    started = time.perf_counter()
    tallies = await asyncio.gather(
        *(user_flow(u, plan, fake, balancer, router, inbox) for u, plan in plans.items())
    )
    seconds = time.perf_counter() - started
    stats_texts = []
    for replica in range(count):  # /stats asked of every replica
        balancer.route = lambda update, r=replica: r
        before = len(inbox.others)
        await asyncio.to_thread(fake.push_text, ADMIN, ADMIN, "/stats")
        deadline = time.monotonic() + WAIT_S
        while len(inbox.others) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stats_texts.append(inbox.others[-1].text if len(inbox.others) > before else "")
    fake.on_call = None  # this loop ends here
    unexpected = [c.text for c in inbox.others if c.params["chat_id"] != ADMIN]
    return tallies, seconds, stats_texts, unexpected


def tree_digest(directory: Path) -> str:
    """Names, sizes and contents of every file under `directory`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory)}:{path.stat().st_size}".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def recorded_votes(cluster, url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url, password=cluster.password) as db:
        return dict(db.execute("SELECT answer_id, vote FROM feedback").fetchall())


@dataclass
class Pickup:
    """After the load: a new generation built on the build node, shipped to every replica."""

    loaded: int = 0  # replicas that logged generation_loaded
    seconds: float = float("nan")  # shipped -> the last replica loaded it
    answered: int = 0  # replicas that then answered from the new document


def build_node(workdir: Path):
    """The build node: its own corpus (a copy of corpus/) and a writable index."""
    from bot.config import settings_from_dict
    from bot.wiring import make_embedder, run_index

    corpus = workdir / "build" / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_from_dict(
        {"corpus": {"paths": [str(corpus)]}, "index": {"dir": str(workdir / "build" / "index")}},
        base_dir=workdir / "build",
    )
    embedder = make_embedder(settings)
    run_index(settings, embedder=embedder)
    return settings, embedder


def pick_up(build, embedder, fake: FakeTelegram, balancer, started, workdir: Path) -> Pickup:
    """Add a document on the build node, index it, ship the generation; wait for every
    replica to load it and to answer from it."""
    from bot.wiring import run_index

    (build.corpus.paths[0] / "新政策.txt").write_text(NEW_FACT, encoding="utf-8")
    run_index(build, embedder=embedder)
    shipped_at = time.monotonic()
    for replica in started:
        ship(build.index.dir, workdir / f"replica-{replica.index}" / "index")
    pickup = Pickup()
    deadline = shipped_at + WAIT_S
    waiting = list(started)
    while waiting and time.monotonic() < deadline:
        waiting = [r for r in waiting if "generation_loaded" not in r.log()]
        time.sleep(0.1)
    pickup.loaded = len(started) - len(waiting)
    if not waiting:
        pickup.seconds = time.monotonic() - shipped_at
    for replica in started:
        balancer.route = lambda update, r=replica.index: r
        chat = ADMIN + 1 + replica.index
        fake.push_text(chat, chat, NEW_QUESTION)
        answer = fake.wait_for("sendMessage", chat_id=chat, timeout=WAIT_S)[-1]
        pickup.answered += NEW_ANSWER in answer.text
    return pickup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["real", "double"], default="real")
    parser.add_argument("--questions", type=int, default=500, help="questions in all")
    parser.add_argument("--users", type=int, default=50, help="users asking at once")
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args(argv)
    if reason := unavailable():
        raise SystemExit(f"cannot start PostgreSQL for the bench: {reason}")
    real = args.engine == "real"
    if real:
        require_shared()  # the questions
        questions = [q["question"] for q in load_dev_questions() if q.get("doc") is None]
    else:
        questions = DOUBLE_QUESTIONS
    extra: dict = {"telegram": {"admins": [ADMIN], "flood_limit": 0, "rate_limit": GENEROUS}}
    # a replica has no corpus, only its copy of the index (relative to its config)
    extra["index"] = {"dir": "index", "read_only": True, "follow_s": FOLLOW_S}

    with tempfile.TemporaryDirectory(prefix="zonebot-replicas-") as tmp:
        workdir = Path(tmp)
        shipped: list[tuple[Path, str]] = []
        node = build_node(workdir) if real else None
        for i in range(args.replicas if node else 0):
            copy = workdir / f"replica-{i}" / "index"
            ship(node[0].index.dir, copy)
            shipped.append((copy, tree_digest(copy)))
        with throwaway_cluster(durable=True) as cluster:
            url = cluster.create_database("replicas")
            fake = FakeTelegram().start()
            try:
                with replicas(
                    workdir,
                    fake,
                    url,
                    cluster.password,
                    args.replicas,
                    "bot" if real else "tests.serve_double",
                    START_TIMEOUT_S,
                    **extra,
                ) as (balancer, started):
                    tallies, seconds, stats_texts, unexpected = asyncio.run(
                        run_users(
                            fake, balancer, args.replicas, questions, args.users, args.questions
                        )
                    )
                    unchanged = all(tree_digest(copy) == digest for copy, digest in shipped)
                    pickup = node and pick_up(*node, fake, balancer, started, workdir)
                    per_replica = [0] * args.replicas
                    for (chat, _), index in balancer.messages.items():
                        per_replica[index] += chat < ADMIN
                    exits = [stop(r) for r in started]
                    logs = [r.log() for r in started]
            finally:
                fake.stop()
            votes = recorded_votes(cluster, url)
            password = cluster.password

    expected: dict[str, int] = {}
    for tally in tallies:
        expected |= tally.expected_votes
    latencies = [t for tally in tallies for t in tally.latencies]
    answered, lost = len(latencies), sum(t.lost for t in tallies)
    pressed = sum(t.sources_pressed for t in tallies)
    cross = sum(t.sources_cross for t in tallies)
    split = sum(t.votes_split for t in tallies)
    working = sum(t.sources_working for t in tallies)
    votes_pressed = sum(t.votes_pressed for t in tallies)
    thanked = sum(t.votes_thanked for t in tallies)
    totals = [re.search(r"累计：(\d+) 个问题.*（(\d+) 票）", text) for text in stats_texts]
    stats_agree = all(totals) and len(set(stats_texts)) == 1
    stats_right = stats_agree and totals[0].groups() == (str(answered), str(len(expected)))
    errors = sum(log.count(" ERROR ") + log.count("Traceback") for log in logs)
    leaked = any(password in log for log in logs)

    headers = [
        "replicas",
        "engine",
        "questions sent",
        "answered",
        "lost",
        "📄 pressed",
        "of them cross-replica",
        "📄 working",
        "votes pressed",
        "answers voted on 2 replicas",
        "votes thanked",
        "votes recorded",
        "recorded = expected",
        "/stats agree",
        "p50 s",
        "p95 s",
        "questions/s",
    ]
    row = [
        args.replicas,
        args.engine,
        args.questions,
        answered,
        lost,
        pressed,
        cross,
        working,
        votes_pressed,
        split,
        thanked,
        len(votes),
        votes == expected,
        stats_right,
        percentile(latencies, 50),
        percentile(latencies, 95),
        answered / seconds,
    ]
    print_table(headers, [row])
    print(f"questions per replica: {' / '.join(map(str, per_replica))}")
    if pickup is not None:
        print(f"index copies unchanged by serving: {unchanged}")
        print(
            f"a new generation built on the build node and shipped: loaded by {pickup.loaded}/"
            f"{args.replicas} replicas within {pickup.seconds:.1f} s (index.follow_s = "
            f"{FOLLOW_S:g}), answered from by {pickup.answered}/{args.replicas}"
        )
    ok = (
        lost == 0
        and answered == args.questions
        and working == pressed == cross
        and split == answered
        and thanked == votes_pressed
        and votes == expected
        and stats_right
        and not unexpected
        and errors == 0
        and not leaked
        and all(code == 0 for code in exits)
        and unchanged
        and (pickup is None or pickup.loaded == pickup.answered == args.replicas)
    )
    if unexpected:
        print(f"unexpected messages: {unexpected[:5]}")
    if errors or leaked:
        print(f"replica logs: {errors} errors; password in a log: {leaked}")
        bad = [line for log in logs for line in log.splitlines() if " ERROR " in line]
        print("\n".join(bad[:5]))
    print("targets met: none lost, every 📄 and vote works on any replica" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
