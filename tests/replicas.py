"""Several `zonebot serve` processes on one PostgreSQL question log, behind a load
balancer, against the fake Bot API: the deployment the README describes, on one machine.

Each replica is the real command line in a process of its own (`tests.serve_double` for
the engine double, `bot` for the real engine), in webhook mode on its own port, with its
own data directory; all of them share the fake, the balancer's webhook URL, the secret,
the index directory and the database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from index.generations import POINTER, live_generation
from tests.balancer import Balancer
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
SECRET_ENV = "ZONEBOT_REPLICA_WEBHOOK_SECRET"
PASSWORD_ENV = "ZONEBOT_REPLICA_PGPASSWORD"
WEBHOOK_SECRET = "replica-webhook-secret_1"
URL_PATH = "telegram"


@dataclass
class Replica:
    index: int
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def ship(build_index: Path, replica_index: Path) -> str:
    """Copy the build node's live generation to a replica as rsync would: the generation
    directory first, the CURRENT pointer last (replaced whole). Its name."""
    generation = live_generation(build_index)
    replica_index.mkdir(parents=True, exist_ok=True)
    shutil.copytree(generation, replica_index / generation.name, dirs_exist_ok=True)
    pointer = replica_index / f"{POINTER}.part"
    shutil.copy2(build_index / POINTER, pointer)
    pointer.replace(replica_index / POINTER)
    return generation.name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    workdir: Path, fake: FakeTelegram, webhook_url: str, port: int, store: str, **extra: object
) -> Path:
    """One replica's config.yaml; `extra` adds top-level sections (corpus, index, telegram
    keys are merged)."""
    token_file = workdir / "bot-token"
    token_file.write_text(fake.token, encoding="utf-8")
    telegram = {
        "token_file": str(token_file),
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "store": store,
        "store_password_env": PASSWORD_ENV,
        "webhook": {
            "enabled": True,
            "listen": "127.0.0.1",
            "port": port,
            "url_path": URL_PATH,
            "webhook_url": f"{webhook_url}/{URL_PATH}",
            "secret_token_env": SECRET_ENV,
        },
    } | dict(extra.pop("telegram", {}))  # type: ignore[call-overload]
    config = {"corpus": {"paths": ["corpus"]}, "index": {"dir": "index"}} | extra
    config |= {"data_dir": str(workdir / "data"), "telegram": telegram}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def replicas(
    workdir: Path,
    fake: FakeTelegram,
    store: str,
    password: str,
    count: int = 2,
    module: str = "tests.serve_double",
    start_timeout: float = 60.0,
    **extra: object,
) -> Iterator[tuple[Balancer, list[Replica]]]:
    """Start `count` replicas behind a balancer; stop them with SIGTERM afterwards."""
    ports = [free_port() for _ in range(count)]
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports]).start()
    env = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "TELEGRAM_BOT_TOKEN": "",
        SECRET_ENV: WEBHOOK_SECRET,
        PASSWORD_ENV: password,
    }
    started: list[Replica] = []
    try:
        for i, port in enumerate(ports):
            home = workdir / f"replica-{i}"
            home.mkdir(parents=True, exist_ok=True)
            config = write_config(home, fake, balancer.url, port, store, **dict(extra))
            log_path = home / "serve.log"
            with log_path.open("w", encoding="utf-8") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", module, "serve", "--config", str(config)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started.append(Replica(i, port, process, log_path))
        for replica in started:
            _wait_until_serving(replica, start_timeout)
        fake.wait_for("setMyCommands", count, timeout=start_timeout)
        yield balancer, started
    finally:
        for replica in started:
            stop(replica)
        balancer.stop()


def stop(replica: Replica, timeout: float = 30.0) -> int:
    """SIGTERM (PTB finishes what is in flight), then SIGKILL if it hangs; the exit code."""
    if replica.process.poll() is None:
        replica.process.send_signal(signal.SIGTERM)
        try:
            replica.process.wait(timeout)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()
    return replica.process.returncode


def _wait_until_serving(replica: Replica, timeout: float) -> None:
    """The replica's webhook port accepts connections; fail with its log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"replica {replica.index} exited:\n{replica.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", replica.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"replica {replica.index} did not start in {timeout:.0f} s")
