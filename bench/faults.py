"""Faults against the real `zonebot` CLI; prints one table: fault, expected, observed, pass.

Index side (here): kill -9 at several points of a build, a full disk (a real tmpfs; needs
root), a corpus of hostile files, files hostile to structure parsing, an inconsistent
index generation. Bot side: the rows of
bench/faults_bot.py (restarts, SIGTERM, a 📄 flood, a hanging LLM), in the same table.
Every index scenario runs `zonebot index`, `zonebot ask` and `zonebot search` as
subprocesses on a temporary copy of a base index (corpus/ plus ../shared/bench/policy_docs
when present), which is built once under data/bench/faults and reused by later runs.

    python bench/faults.py [--json] [--only NAME] [--keep]
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import POLICY_DOCS, ROOT, WORK
from bench.fault_table import (
    Fault,
    FaultRow,
    Run,
    Workspace,
    print_rows,
    run_faults,
    temporary_workspace,
)
from tests.hostile_files import write_hostile_corpus, write_hostile_structure

QUESTION = "营口片区去年规模以上工业总产值是多少?"
ANSWER = "102.25亿元"
BASE = WORK / "faults"
STILL_ANSWERS = "previous index stays live and answers; no traceback"


@dataclass(frozen=True)
class Scenario:
    """A private copy of the base corpus and index, with its config."""

    directory: Path
    corpus: Path
    index: Path
    config: Path


@functools.cache
def base_scenario(workspace: Workspace) -> Scenario:
    """The base corpus and its index under data/bench/faults (built on the first run)."""
    corpus = BASE / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    sources = [ROOT / "corpus" / "yingkou_ftz_report.txt"]
    sources += sorted(POLICY_DOCS.glob("*.md")) if POLICY_DOCS.is_dir() else []
    for source in sources:
        if not (corpus / source.name).exists():
            shutil.copy(source, corpus)
    base = Scenario(BASE, corpus, BASE / "index", workspace.config(BASE, [corpus], BASE / "index"))
    run = workspace.zonebot("index", config=base.config)
    if run.returncode != 0:
        raise RuntimeError(f"base index could not be built: {run.last_line()}")
    return base


def scenario(workspace: Workspace, name: str, index_root: Path | None = None) -> Scenario:
    """Copy the base corpus and index into the workspace (the index under `index_root`)."""
    base = base_scenario(workspace)
    directory = workspace.path(name)
    corpus = directory / "corpus"
    index = (index_root or directory) / "index"
    shutil.copytree(base.corpus, corpus)
    shutil.copytree(base.index, index, ignore=shutil.ignore_patterns(".lock"))
    return Scenario(directory, corpus, index, workspace.config(directory, [corpus], index))


def add_document(corpus: Path, n: int) -> None:
    """A new file, so that the next build has something to parse, embed and write."""
    text = f"# 补充规定{n}\n\n第一条 第{n}号补充规定自发布之日起施行。\n"
    (corpus / f"added-{n}.md").write_text(text, encoding="utf-8")


def live(index: Path) -> str | None:
    try:
        return (index / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None


def debris(index: Path) -> list[str]:
    """What a build may leave behind: non-live generations and temporary files."""
    current = live(index)
    return sorted(
        p.name
        for p in index.iterdir()
        if p.name.endswith(".tmp") or (p.name.startswith("gen-") and p.name != current)
    )


def ask(workspace: Workspace, config: Path) -> tuple[bool, str]:
    run = workspace.zonebot("ask", "--json", QUESTION, config=config)
    if run.returncode != 0 or run.traceback:
        return False, f"ask failed (exit {run.returncode}: {run.last_line()[:80]})"
    answer = json.loads(run.stdout)["answer"]
    return ANSWER in answer, f"ask answers {ANSWER!r}" if ANSWER in answer else f"ask: {answer!r}"


def error_line(run: Run) -> str:
    """The CLI's one-line error (it starts with 错误:)."""
    lines = [line for line in run.stderr.splitlines() if line.startswith("错误")]
    return lines[0] if len(lines) == 1 else f"{len(lines)} error lines"


class StderrWatcher:
    """Collects a running process's stderr (tqdm bars end in \\r, not \\n) in a thread."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        while chunk := os.read(process.stderr.fileno(), 4096):
            self.text += chunk.decode("utf-8", "replace")

    def wait_for(self, process: subprocess.Popen, words: str) -> str | None:
        while process.poll() is None:
            if words in self.text:
                return f"at {words!r}"
            time.sleep(0.01)
        return None


def wait_for_tmp(process: subprocess.Popen, index: Path) -> str | None:
    """Poll (every ms) until a gen-*.tmp directory appears; say what it held."""
    while process.poll() is None:
        for name in os.listdir(index):
            if name.startswith("gen-") and name.endswith(".tmp"):
                try:
                    held = sorted(os.listdir(index / name))
                except FileNotFoundError:
                    continue
                return f"while writing {name[:8]}….tmp ({', '.join(held) or 'empty'})"
        time.sleep(0.001)
    return None


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def gone(pids: list[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and _not_zombie(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# The faults


def kill_during_build(workspace: Workspace) -> list[FaultRow]:
    """kill -9 of `zonebot index` while it reads, embeds and writes the new generation."""
    run = scenario(workspace, "kill")
    points = [
        ("reading files", lambda p, w: w.wait_for(p, "读取文档")),
        ("embedding", lambda p, w: w.wait_for(p, "Embedding:")),  # its progress bar
        ("writing the generation", lambda p, w: wait_for_tmp(p, run.index)),
    ]
    rows = []
    for n, (point, reach) in enumerate(points, start=1):
        add_document(run.corpus, n)
        before = live(run.index)
        process = workspace.start("index", config=run.config)
        where = reach(process, StderrWatcher(process))
        helpers = children(process.pid)  # the parser process, multiprocessing's tracker
        process.kill()
        process.wait()
        if where is None:
            rows.append(
                FaultRow(f"kill -9 while {point}", STILL_ANSWERS, "build ended first", None)
            )
            continue
        answered, said = ask(workspace, run.config)
        unchanged = live(run.index) == before
        helpers_gone = gone(helpers, within_s=30)
        observed = f"killed {where}; CURRENT {'unchanged' if unchanged else 'CHANGED'}; {said}" + (
            f"; child processes {'gone' if helpers_gone else 'LEFT RUNNING'}" if helpers else ""
        )
        rows.append(
            FaultRow(
                f"kill -9 while {point}",
                STILL_ANSWERS,
                observed,
                answered and unchanged and helpers_gone,
            )
        )
    left = debris(run.index)
    final = workspace.zonebot("index", config=run.config)
    ok = final.returncode == 0 and not debris(run.index)
    rows.append(
        FaultRow(
            "next build after the kills",
            "succeeds and removes what the killed builds left",
            f"exit {final.returncode} in {final.seconds:.0f} s; left before: "
            f"{len(left)} ({', '.join(n[:8] + '…' for n in left) or 'none'}); after: "
            f"{len(debris(run.index))}",
            ok,
        )
    )
    return rows


def full_disk(workspace: Workspace) -> list[FaultRow]:
    """The index on a small real tmpfs: full before a build, filling during one, freed."""
    expected = "exit 1, one line: disk full, where, MB needed; previous index answers; no debris"
    names = ["disk full when a build starts", "disk fills while the generation is written"]
    if os.geteuid() != 0:
        return [FaultRow(name, expected, "needs root to mount a tmpfs", None) for name in names]
    mountpoint = workspace.path("disk")
    mountpoint.mkdir()
    base = base_scenario(workspace)
    base_size = sum(p.stat().st_size for p in base.index.rglob("*") if p.is_file())
    size_mb = max(4, 3 * base_size // (1 << 20) + 2)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        why = f"cannot mount a tmpfs: {mount.stderr.strip()}"
        return [FaultRow(name, expected, why, None) for name in names]
    try:
        return _full_disk_rows(workspace, mountpoint, expected, names, size_mb)
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _full_disk_rows(
    workspace: Workspace, mountpoint: Path, expected: str, names: list[str], size_mb: int
) -> list[FaultRow]:
    run = scenario(workspace, "disk-full", index_root=mountpoint)
    filler = mountpoint / "filler"
    rows = []

    # 1. Already full: nothing but a few KB left.
    with open(filler, "wb") as handle:
        handle.write(bytes(max(shutil.disk_usage(mountpoint).free - (64 << 10), 0)))
    add_document(run.corpus, 1)
    before = live(run.index)
    result = workspace.zonebot("index", config=run.config)
    setting = f"{size_mb} MB tmpfs, 64 KB free"
    rows.append(_full_row(workspace, run, before, names[0], expected, result, setting))

    # 2. Room at the start; another writer fills the disk once the new generation appears.
    filler.unlink()
    add_document(run.corpus, 2)
    before = live(run.index)
    process = workspace.start("index", config=run.config)
    watcher = StderrWatcher(process)
    if wait_for_tmp(process, run.index) is None:
        process.wait()
        rows.append(FaultRow(names[1], expected, "build finished before the disk filled", None))
    else:
        _fill(filler)
        process.wait()
        result = Run(process.returncode, "", watcher.text, 0.0)
        if result.returncode == 0:  # it won the race: the disk filled after the swap
            why = "the build finished writing before the disk filled"
            rows.append(FaultRow(names[1], expected, why, None))
        else:
            setting = "filled while writing"
            rows.append(_full_row(workspace, run, before, names[1], expected, result, setting))

    filler.unlink(missing_ok=True)
    again = workspace.zonebot("index", config=run.config)
    rows.append(
        FaultRow(
            "disk freed again",
            "the next build succeeds",
            f"exit {again.returncode} in {again.seconds:.0f} s; debris: {len(debris(run.index))}",
            again.returncode == 0 and not debris(run.index),
        )
    )
    return rows


def _fill(filler: Path) -> None:
    with open(filler, "ab") as handle:
        try:
            while True:
                handle.write(bytes(1 << 20))
                handle.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise


def _full_row(
    workspace: Workspace,
    run: Scenario,
    before: str | None,
    name: str,
    expected: str,
    result: Run,
    setting: str,
) -> FaultRow:
    line = error_line(result)
    answered, said = ask(workspace, run.config)
    left = debris(run.index)
    ok = (
        result.returncode == 1
        and "磁盘已满" in line
        and "约需" in line
        and not result.traceback
        and not left
        and answered
        and live(run.index) == before
    )
    observed = f"{setting}: exit {result.returncode}, “{line[:90]}…”; debris: {len(left)}; {said}"
    return FaultRow(name, expected, observed, ok)


def hostile_corpus(workspace: Workspace) -> list[FaultRow]:
    """One good file among hostile ones, indexed with the default limits."""
    corpus = workspace.path("hostile", "corpus")
    kinds = write_hostile_corpus(corpus, bomb_mb=1024)
    config = workspace.config(
        workspace.path("hostile"), [corpus], workspace.path("hostile", "index")
    )
    build = workspace.zonebot("index", "--json", config=config)
    summary = json.loads(build.stdout) if build.returncode == 0 else {}
    skipped = {Path(name).name: reason for name, reason in summary.get("skipped", {}).items()}
    search = workspace.zonebot("search", "--json", "-k", "1", "负面清单管理", config=config)
    found = search.returncode == 0 and json.loads(search.stdout)["results"][0]["source"].endswith(
        "good.md"
    )
    rows = [
        FaultRow(
            "corpus of hostile files: zonebot index",
            "exit 0, no traceback; the good file indexed and found",
            f"exit {build.returncode} in {build.seconds:.0f} s; {summary.get('chunks', 0)} chunks;"
            f" {len(skipped)} of {len(kinds) + 1} files skipped; search "
            + ("finds good.md" if found else "FAILS"),
            build.returncode == 0 and not build.traceback and found,
        )
    ]
    for name, kind in kinds.items():
        reason = skipped.get(name)
        if name == "deep.html" and reason is None:  # a loader that walks deep trees
            rows.append(FaultRow(kind, "indexed, or skipped with a reason", "indexed", True))
            continue
        one_line = reason is not None and "\n" not in reason
        shown = reason if reason is None or len(reason) <= 90 else reason[:89] + "…"
        rows.append(FaultRow(kind, "skipped with a one-line reason", f"{name}: {shown}", one_line))
    return rows


STRUCTURE_TIMEOUT_S = 20  # corpus.parse_timeout_s for the structure case


def hostile_structure(workspace: Workspace) -> list[FaultRow]:
    """Markdown that every loader reads at once but that is hostile to finding headings
    and articles: skipped at the parse time limit, or indexed, never a stuck build."""
    directory = workspace.path("structure")
    corpus = directory / "corpus"
    kinds = write_hostile_structure(corpus)
    (corpus / "good.md").write_text("# 测试条例\n\n第一条 试验区实行负面清单管理。\n", "utf-8")
    limits = {"parse_timeout_s": STRUCTURE_TIMEOUT_S}
    config = workspace.config(directory, [corpus], directory / "index", corpus=limits)
    build = workspace.zonebot("index", "--json", config=config)
    summary = json.loads(build.stdout) if build.returncode == 0 else {}
    skipped = {Path(name).name: reason for name, reason in summary.get("skipped", {}).items()}
    search = workspace.zonebot("search", "--json", "-k", "3", "负面清单管理", config=config)
    results = json.loads(search.stdout)["results"] if search.returncode == 0 else []
    found = {Path(r["source"]).name for r in results}
    ok_build = build.returncode == 0 and not build.traceback and "good.md" in found
    build_line = (
        f"zonebot index exit {build.returncode} in {build.seconds:.0f} s; "
        f"search finds {', '.join(sorted(found)) or 'nothing'}"
    )

    def outcome(name: str) -> tuple[str, bool]:
        """What happened to one file, and whether that is allowed: indexed and found, or
        skipped with a one-line reason."""
        reason = skipped.get(name)
        if reason is None:
            return "indexed", name in found
        return f"skipped: {reason[:90]}", "\n" not in reason

    spaces, spaces_ok = outcome("spaces.md")
    nested, nested_ok = outcome("nested.md")
    return [
        FaultRow(
            kinds["spaces.md"],
            f"skipped after corpus.parse_timeout_s ({STRUCTURE_TIMEOUT_S} s) with a one-line "
            "reason (or indexed); the build goes on",
            f"{spaces}; {build_line}",
            ok_build and spaces_ok and (spaces == "indexed" or "timed out" in spaces),
        ),
        FaultRow(
            kinds["nested.md"],
            "indexed within the limit (or skipped with a reason)",
            nested,
            ok_build and nested_ok,
        ),
    ]


def inconsistent_generation(workspace: Workspace) -> list[FaultRow]:
    """Chunk rows deleted from the live generation: refused, then rebuilt by zonebot index.

    On an index of corpus/ alone: the rebuild re-embeds everything."""
    directory = workspace.path("inconsistent")
    index = directory / "index"
    config = workspace.config(directory, [ROOT / "corpus"], index)
    built = workspace.zonebot("index", config=config)
    if built.returncode != 0:
        raise RuntimeError(f"index of corpus/ could not be built: {built.last_line()}")
    run = Scenario(directory, ROOT / "corpus", index, config)
    with sqlite3.connect(index / live(index) / "chunks.sqlite") as db:
        db.execute("DELETE FROM chunks WHERE id >= 10")
    db.close()
    refused = workspace.zonebot("ask", QUESTION, config=run.config)
    line = error_line(refused)
    rows = [
        FaultRow(
            "inconsistent generation (chunk rows deleted)",
            "ask refuses in one line with the rebuild advice; no traceback",
            f"exit {refused.returncode}, “{line[:100]}…”",
            refused.returncode == 1 and "--rebuild" in line and not refused.traceback,
        )
    ]
    rebuilt = workspace.zonebot("index", "--json", config=run.config)
    notice = json.loads(rebuilt.stdout).get("notice", "") if rebuilt.returncode == 0 else ""
    answered, said = ask(workspace, run.config)
    rows.append(
        FaultRow(
            "zonebot index on it",
            "rebuilds in full, then answers",
            f"exit {rebuilt.returncode} in {rebuilt.seconds:.0f} s; “{notice[:40]}…”; {said}",
            rebuilt.returncode == 0 and "旧索引不可复用" in notice and answered,
        )
    )
    return rows


def bot_side(_workspace: Workspace) -> list[FaultRow]:
    """The rows of bench/faults_bot.py: the real `zonebot serve` against the fake Bot API
    (its own index and processes)."""
    from bench.faults_bot import rows

    return rows()


# The one list of faults, in the order of the table.
FAULTS: list[Fault] = [
    kill_during_build,
    full_disk,
    hostile_corpus,
    hostile_structure,
    inconsistent_generation,
    bot_side,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--only", default="", help="run only faults whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    with temporary_workspace(args.keep) as workspace:
        rows = run_faults(FAULTS, workspace, args.only)
    print_rows(rows, args.json)
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
