"""Crash- and disk-safe generations: fsync before the swap, debris removed, a full disk told
as such with the previous index still live, kill -9 at any point, inconsistent counts refused."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from index import build as build_module
from index import diskspace, generations
from index.build import _needed_bytes, build_index
from index.chunk_store import STORE_NAME, read_chunks
from index.chunking import ChunkerSettings
from index.dense import DenseIndex
from index.errors import DiskFull, IndexCorrupt, IndexNotFound
from index.generations import POINTER, live_generation
from index.manifest import MANIFEST_NAME, Manifest
from index.retrieve import open_index
from tests.index_support import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    directory = tmp_path / "corpus"
    directory.mkdir()
    shutil.copy(ROOT / "corpus" / "yingkou_ftz_report.txt", directory)
    return directory


def build(corpus: Path, index_dir: Path, **kwargs):
    return build_index([corpus], index_dir, FakeEmbedder(), ChunkerSettings(), **kwargs)


def change(corpus: Path) -> None:
    (corpus / "added.md").write_text("# 新增\n\n第一条 新增的文件需要重新写索引。\n", "utf-8")


def entries(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir()}


def assert_previous_is_live(index_dir: Path, before: Path, chunks: int) -> None:
    assert live_generation(index_dir) == before
    assert len(open_index(index_dir, FakeEmbedder()).chunks) == chunks
    assert entries(index_dir) == {POINTER, ".lock", before.name}, "debris left"


def test_debris_of_interrupted_builds_is_removed_at_the_start_of_the_next(corpus, tmp_path):
    index_dir = tmp_path / "idx"
    build(corpus, index_dir)
    live = live_generation(index_dir)
    (index_dir / "gen-20200101T000000-dead.tmp").mkdir()
    (index_dir / "gen-20200101T000000-dead.tmp" / STORE_NAME).write_bytes(b"half")
    (index_dir / "gen-20200101T000001-orphan").mkdir()  # renamed, never made live
    (index_dir / "CURRENT.tmp").write_text("gen-x\n")
    summary = build(corpus, index_dir)  # nothing to do, yet the debris goes
    assert summary.up_to_date
    assert entries(index_dir) == {POINTER, ".lock", live.name}


def test_every_file_and_directory_is_fsynced_before_current_names_them(
    corpus, tmp_path, monkeypatch
):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(generations.os, "fsync", fsync)
    monkeypatch.setattr(generations.os, "replace", replace)
    index_dir = tmp_path / "idx"
    build(corpus, index_dir)
    generation = live_generation(index_dir)
    swap = events.index(("replace", str(index_dir / POINTER)))
    synced_before = {path for kind, path in events[:swap] if kind == "fsync"}
    tmp = f"{generation}.tmp"
    for name in (STORE_NAME, "dense.faiss", MANIFEST_NAME):
        assert f"{tmp}/{name}" in synced_before
    assert tmp in synced_before and str(index_dir) in synced_before
    assert str(index_dir / "CURRENT.tmp") in synced_before
    assert ("fsync", str(index_dir)) in events[swap:]


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        RuntimeError(
            "Error in faiss::write_index: write error in x: 1 != 2 (No space left on device)"
        ),
    ],
    ids=["ENOSPC", "EDQUOT", "faiss"],
)
def test_a_full_disk_while_writing_is_one_line_and_leaves_the_previous_index(
    corpus, tmp_path, monkeypatch, error
):
    index_dir = tmp_path / "idx"
    first = build(corpus, index_dir)
    before = live_generation(index_dir)
    real_write = build_module.write_chunks

    def write_then_fill(directory, chunks, tokens):
        real_write(directory, chunks, tokens)  # a partial generation exists now
        raise error

    monkeypatch.setattr(build_module, "write_chunks", write_then_fill)
    change(corpus)
    with pytest.raises(DiskFull) as caught:
        build(corpus, index_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert "磁盘已满" in message and str(index_dir) in message and "约需" in message
    assert "needs about" in message
    assert_previous_is_live(index_dir, before, first.chunks)


def test_sqlite_reporting_a_full_disk_is_recognised():
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA max_page_count = 2")
    db.execute("CREATE TABLE t (x)")
    with pytest.raises(sqlite3.OperationalError) as caught:
        db.executemany("INSERT INTO t VALUES (?)", (("x" * 4000,) for _ in range(10)))
    assert diskspace.is_disk_full(caught.value)
    assert not diskspace.is_disk_full(sqlite3.OperationalError("no such table"))
    assert not diskspace.is_disk_full(OSError(errno.EACCES, "Permission denied"))


def test_too_little_free_space_is_refused_before_writing(corpus, tmp_path, monkeypatch):
    index_dir = tmp_path / "idx"
    first = build(corpus, index_dir)
    before = live_generation(index_dir)
    monkeypatch.setattr(diskspace, "free_bytes", lambda _directory: 1000)
    written: list[Path] = []
    monkeypatch.setattr(build_module, "write_chunks", lambda d, c, t: written.append(d))
    change(corpus)
    with pytest.raises(DiskFull, match="约需"):
        build(corpus, index_dir)
    assert written == []
    assert_previous_is_live(index_dir, before, first.chunks)


def test_the_space_estimate_covers_what_a_generation_takes(corpus, tmp_path):
    change(corpus)
    index_dir = tmp_path / "idx"
    build(corpus, index_dir)
    generation = live_generation(index_dir)
    chunks, tokens = read_chunks(generation)
    vectors = DenseIndex.load(generation).vectors()
    used = sum(p.stat().st_size for p in generation.iterdir())
    assert used <= _needed_bytes(chunks, tokens, vectors) <= 2 * used + (1 << 20)


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB tmpfs (needs root and mount rights; skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def fill(disk: Path, leave_bytes: int) -> None:
    """Fill the disk until only about `leave_bytes` are free."""
    with open(disk / "filler", "wb") as handle:
        free = shutil.disk_usage(disk).free - leave_bytes
        handle.write(b"\0" * max(free, 0))


@pytest.mark.parametrize("preflight", [True, False], ids=["checked-up-front", "while-writing"])
def test_a_real_full_disk_keeps_the_previous_index(corpus, small_disk, monkeypatch, preflight):
    index_dir = small_disk / "idx"
    first = build(corpus, index_dir)
    before = live_generation(index_dir)
    fill(small_disk, leave_bytes=16 << 10)
    if not preflight:  # let sqlite/faiss run into ENOSPC themselves
        monkeypatch.setattr(generations, "ensure_space", lambda directory, needed: None)
    change(corpus)
    with pytest.raises(DiskFull, match="磁盘已满"):
        build(corpus, index_dir)
    assert_previous_is_live(index_dir, before, first.chunks)
    (small_disk / "filler").unlink()
    assert not build(corpus, index_dir).up_to_date  # once there is room it builds
    assert len(open_index(index_dir, FakeEmbedder()).chunks) > first.chunks


# kill -9 during a build: a child process builds with a pause at one point; it is killed there.

KILL_SCRIPT = """
import sys, time
from pathlib import Path
from index import build, generations
from index.chunking import ChunkerSettings
from tests.index_support import FakeEmbedder

point, corpus, index_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

def pause_at(name, function, after=False):
    def paused(*args, **kwargs):
        result = function(*args, **kwargs) if after else None
        if name == point:
            print("AT", name, flush=True)
            time.sleep(600)
        return result if after else function(*args, **kwargs)
    return paused

build._file_chunks = pause_at("parse", build._file_chunks)
FakeEmbedder.encode = pause_at("embed", FakeEmbedder.encode)
build.write_chunks = pause_at("write", build.write_chunks, after=True)
generations._fsync = pause_at("sync", generations._fsync)
generations._point_to = pause_at("swap", generations._point_to)
build.build_index([corpus], index_dir, FakeEmbedder(), ChunkerSettings())
print("DONE", flush=True)
"""


@pytest.mark.parametrize("point", ["parse", "embed", "write", "sync", "swap"])
def test_kill_9_at_any_point_of_a_build_leaves_the_previous_index(corpus, tmp_path, point):
    index_dir = tmp_path / "idx"
    first = build(corpus, index_dir)
    before = live_generation(index_dir)
    change(corpus)
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, point, str(corpus), str(index_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline().strip()
    child.kill()
    child.wait()
    assert line == f"AT {point}"
    assert live_generation(index_dir) == before
    assert len(open_index(index_dir, FakeEmbedder()).chunks) == first.chunks
    summary = build(corpus, index_dir)  # the next build cleans up and succeeds
    generation = live_generation(index_dir)
    assert summary.chunks > first.chunks and entries(index_dir) == {
        POINTER,
        ".lock",
        generation.name,
    }


# open_index refuses a generation whose parts disagree


def corrupt_rows(generation: Path) -> None:
    with sqlite3.connect(generation / STORE_NAME) as db:
        db.execute("DELETE FROM chunks WHERE id >= 3")
    db.close()


def corrupt_vectors(generation: Path) -> None:
    vectors = DenseIndex.load(generation).vectors()
    DenseIndex.from_vectors(vectors[:3]).save(generation)


def corrupt_manifest(generation: Path) -> None:
    manifest = Manifest.load(generation)
    manifest.chunk_count += 5
    manifest.save(generation)


@pytest.mark.parametrize("damage", [corrupt_rows, corrupt_vectors, corrupt_manifest])
def test_open_index_refuses_an_inconsistent_generation_with_rebuild_advice(
    corpus, tmp_path, damage
):
    index_dir = tmp_path / "idx"
    build(corpus, index_dir)
    damage(live_generation(index_dir))
    with pytest.raises(IndexCorrupt, match="不一致") as caught:
        open_index(index_dir, FakeEmbedder())
    assert "--rebuild" in str(caught.value) and "\n" not in str(caught.value)
    summary = build(corpus, index_dir)  # `zonebot index` rebuilds it in full
    assert "旧索引不可复用" in summary.notice and summary.embedded == summary.chunks
    loaded = open_index(index_dir, FakeEmbedder())
    assert len(loaded.chunks) == len(loaded.dense) == loaded.manifest.chunk_count


def test_kill_9_during_the_first_build_leaves_no_half_index(corpus, tmp_path):
    index_dir = tmp_path / "idx"
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, "write", str(corpus), str(index_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "AT write"
    child.kill()
    child.wait()
    with pytest.raises(IndexNotFound):
        open_index(index_dir, FakeEmbedder())
    build(corpus, index_dir)
    assert entries(index_dir) == {POINTER, ".lock", live_generation(index_dir).name}
