"""The fault table shared by bench/faults.py (index side) and bench/faults_bot.py (bot side).

A fault is a function `fault(workspace) -> list[FaultRow]`: it provokes one failure against
the real programs (subprocesses of the `zonebot` CLI, the real bot process) and reports
what was expected and what happened. `run_faults` runs a list of them and a fault that
itself raises becomes a failing row, so one broken scenario never hides the others.
bench/faults.py owns the one list of faults (FAULTS): its own, then bench/faults_bot.py's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench.common import ROOT, print_table

ZONEBOT = [sys.executable, "-m", "bot"]


@dataclass(frozen=True)
class FaultRow:
    fault: str
    expected: str
    observed: str
    passed: bool | None  # None: not run here (observed says why)

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "FAIL", None: "skipped"}[self.passed]


@dataclass(frozen=True)
class Run:
    """A finished `zonebot` subprocess."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stdout or "Traceback" in self.stderr

    def last_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


class Workspace:
    """A temporary directory for one bench run, with configs and `zonebot` runs in it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def config(self, directory: Path, corpus: list[Path], index_dir: Path, /, **sections) -> Path:
        """Write `directory/config.yaml` for this corpus and index (plus settings of any
        section, `corpus` included); file names in the index are relative to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        data = {"corpus": {"paths": [str(p) for p in corpus]}, "index": {"dir": str(index_dir)}}
        data["data_dir"] = str(directory / "data")
        for section, values in sections.items():
            data.setdefault(section, {}).update(values)
        path = directory / "config.yaml"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
        return path

    def zonebot(self, *args: str, config: Path, timeout: float = 900) -> Run:
        started = time.perf_counter()
        result = subprocess.run(
            [*ZONEBOT, "--config", str(config), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=timeout,
            env=bench_environment(),
        )
        return Run(result.returncode, result.stdout, result.stderr, time.perf_counter() - started)

    def start(self, *args: str, config: Path) -> subprocess.Popen:
        """A `zonebot` process left running (stderr piped, for its progress bars)."""
        return subprocess.Popen(
            [*ZONEBOT, "--config", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=bench_environment(),
        )


def bench_environment() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


Fault = Callable[[Workspace], list[FaultRow]]


def run_faults(faults: list[Fault], workspace: Workspace, only: str = "") -> list[FaultRow]:
    rows: list[FaultRow] = []
    for fault in faults:
        if only and only not in fault.__name__:
            continue
        print(f"… {fault.__name__}", file=sys.stderr, flush=True)
        try:
            rows.extend(
                replace(row, observed=row.observed.replace(str(workspace.root), "<tmp>"))
                for row in fault(workspace)
            )
        except Exception as error:  # a broken scenario is a failing row, not a lost table
            observed = f"{type(error).__name__}: {error}"[:200]
            rows.append(FaultRow(fault.__name__, "runs", observed, False))
    return rows


def print_rows(rows: list[FaultRow], as_json: bool) -> None:
    if as_json:
        print(json.dumps([asdict(r) | {"verdict": r.verdict} for r in rows], ensure_ascii=False))
        return
    print_table(
        ["fault", "expected behaviour", "observed", "pass"],
        [[r.fault, r.expected, r.observed, r.verdict] for r in rows],
    )
    failed = sum(r.passed is False for r in rows)
    print(
        f"\n{len(rows)} rows: {sum(r.passed is True for r in rows)} pass, {failed} fail, "
        f"{sum(r.passed is None for r in rows)} skipped"
    )


@contextmanager
def temporary_workspace(keep: bool = False) -> Iterator[Workspace]:
    """A workspace in a new temporary directory, removed afterwards unless `keep`."""
    root = Path(tempfile.mkdtemp(prefix="zonebot-faults-"))
    try:
        yield Workspace(root)
    finally:
        if keep:
            print(f"workspace kept: {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
