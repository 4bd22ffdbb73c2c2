"""A throwaway PostgreSQL cluster for tests and benches: `initdb` and `pg_ctl` in a
temporary directory, reachable only through a unix socket in that directory, with a
random password (scram-sha-256), stopped and deleted afterwards.

PostgreSQL refuses to run as root. Run as root (CI), the server runs as the
unprivileged user `nobody` through `runuser`, in a directory handed to that user;
otherwise it runs as the current user. `unavailable()` says why no cluster can be had
(no PostgreSQL binaries, no psycopg, root without runuser), for a skip reason.
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER_USER = "nobody"  # who runs the server when we are root
ROLE = "zonebot"  # the cluster's superuser
PORT = 5432  # only names the socket file; the socket directory is private
START_TIMEOUT_S = 60


def pg_bin() -> Path | None:
    """The directory with initdb and pg_ctl: $ZONEBOT_PG_BIN, else `pg_config --bindir`
    on PATH, else Debian's /usr/lib/postgresql/<newest>/bin."""
    candidates = []
    if os.environ.get("ZONEBOT_PG_BIN"):
        candidates.append(Path(os.environ["ZONEBOT_PG_BIN"]))
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(bindir.stdout.strip()))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: -int(p.name))]
    return next((c for c in candidates if (c / "initdb").is_file()), None)


def unavailable() -> str | None:
    """Why a throwaway cluster cannot be started here; None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        return f"psycopg is not importable ({exc}): run make setup"
    if pg_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: PostgreSQL cannot be started"
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no user {SERVER_USER!r} to run PostgreSQL"
    return None


class Cluster:
    """A running throwaway cluster; `url(db)` for telegram.store, `password` beside it."""

    def __init__(self, root: Path, bindir: Path, durable: bool = False) -> None:
        self.root = root
        self.durable = durable  # fsync on (benches); tests need no crash safety
        self.socket_dir = root  # short path: a unix socket path has ~107 bytes at most
        self.data = root / "data"
        self.bin = bindir
        self.password = secrets.token_urlsafe(16)
        self._names = itertools.count(1)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{ROLE}@/{dbname}?host={self.socket_dir}&port={PORT}"

    def create_database(self, prefix: str = "zonebot") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{next(self._names)}"
        with psycopg.connect(self.url(), password=self.password, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        self._hand_over(self.root, pwfile)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            ROLE,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        self.serve()

    def serve(self) -> None:
        """Start the server of the initialised cluster (again, after `stop`)."""
        options = f"-c listen_addresses='' -k {self.socket_dir} -p {PORT}"
        if not self.durable:
            options += " -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _hand_over(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            for path in paths:
                os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr.strip()}\n{tail}")


@contextmanager
def throwaway_cluster(durable: bool = False) -> Iterator[Cluster]:
    """Start a cluster; stop it and delete its directory afterwards, whatever happened."""
    reason = unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    bindir = pg_bin()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="zpg-", dir="/tmp"))
    cluster = Cluster(root, bindir, durable)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
