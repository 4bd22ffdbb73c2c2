"""Run a parser in a child process with a wall-time and a memory limit.

pypdf, python-docx, BeautifulSoup and friends can loop for ever, allocate without bound or
crash on hostile input, and /reindex runs the build inside the bot. So every file is parsed
in one long-lived child process (spawned, not forked: the parent may hold threads and a
loaded model). The child runs with RLIMIT_AS, so a runaway allocation raises MemoryError
there; the parent waits at most `timeout_s` per file, kills a child that overruns or dies
and starts a fresh one for the next file. Each failure is a `ParseFailed`: one skipped file.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from index.errors import LoadError

START_TIMEOUT_S = 120.0  # a fresh child imports the parsers; slow on a busy machine
# The child's own alarm fires this long after the parent's deadline, so a child whose
# parent was killed (kill -9 of the build) cannot keep parsing for ever.
ORPHAN_GRACE_S = 10


class ParseFailed(LoadError):
    """The parser process overran its time, died, or could not start."""


class Sandbox:
    """`call(*args)` runs `function(*args)` in the child and returns its result.

    Whatever goes wrong raises ParseFailed: an exception in `function` (its message is
    `describe(error)`, computed in the child), a timeout, or a child that died.
    Use as a context manager so the child is always stopped."""

    def __init__(
        self,
        function: Callable[[Any], Any],
        *,
        timeout_s: float,
        memory_mb: int,
        describe: Callable[[BaseException], str] = repr,
    ) -> None:
        self._function = function
        self._timeout_s = timeout_s
        self._memory_mb = memory_mb
        self._describe = describe
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, *arguments: Any) -> Any:
        connection = self._running()
        try:
            connection.send(arguments)
        except OSError:  # the child died since the last file
            raise ParseFailed(f"解析进程异常退出 (parser process died: {self._death()})") from None
        if not connection.poll(self._timeout_s):
            self.close()
            raise ParseFailed(
                f"解析超时（超过 {self._timeout_s:g} 秒），已跳过"
                " (parsing timed out; see corpus.parse_timeout_s)"
            )
        try:
            ok, value = connection.recv()
        except (EOFError, OSError):
            raise ParseFailed(f"解析进程异常退出 (parser process died: {self._death()})") from None
        if not ok:
            raise ParseFailed(value)
        return value

    def close(self) -> None:
        """Stop the child (if any); the next `call` starts a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._process.close()
            self._process = None

    def _running(self) -> Connection:
        if self._process is not None and self._process.is_alive():
            assert self._connection is not None
            return self._connection
        self.close()
        parent, child = self._context.Pipe()
        limits = (self._function, self._timeout_s, self._memory_mb, self._describe)
        self._process = self._context.Process(
            target=_serve, args=(child, *limits), name="zonebot-parser", daemon=True
        )
        self._process.start()
        child.close()
        self._connection = parent
        if not parent.poll(START_TIMEOUT_S):
            self.close()
            raise ParseFailed("解析进程无法启动 (parser process did not start)")
        try:
            parent.recv()  # "ready": imports are done, the time limit starts with the file
        except (EOFError, OSError):
            raise ParseFailed(f"解析进程无法启动 (parser process: {self._death()})") from None
        return parent

    def _death(self) -> str:
        """How the child ended, e.g. 'killed by SIGSEGV' or 'exit code 1'."""
        assert self._process is not None
        self._process.join(5)
        code = self._process.exitcode
        self.close()
        if code is None:
            return "no answer"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


def _serve(
    connection: Connection,
    function: Callable[[Any], Any],
    timeout_s: float,
    memory_mb: int,
    describe: Callable[[BaseException], str],
) -> None:
    """The child's loop: one call's arguments in, `(True, result)` or `(False, reason)` out."""
    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm below ends the process
    connection.send(("ready", None))
    while True:
        try:
            arguments = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe or died
        signal.alarm(math.ceil(timeout_s) + ORPHAN_GRACE_S)
        try:
            reply = (True, function(*arguments))
        except BaseException as error:  # every failure is one skipped file
            reply = (False, describe(error))
        signal.alarm(0)
        connection.send(reply)
