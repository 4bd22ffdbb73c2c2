"""Ingestion that bad files cannot knock over: the per-file guard, size caps, zip bombs,
and the parser process with its time and memory limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from index import corpus as corpus_module
from index.build import build_index
from index.chunking import ChunkerSettings
from index.errors import CorruptFile, LoadError
from index.ingest import IngestLimits, load_within_limits, skip_reason
from index.retrieve import open_index
from index.sandbox import ORPHAN_GRACE_S, ParseFailed, Sandbox
from index.zipcheck import check_zip_sizes
from tests import hostile_files
from tests.hostile_files import (
    GOOD_TEXT,
    write_hostile_corpus,
    write_hostile_structure,
    write_zip_bomb,
)
from tests.index_support import FakeEmbedder

ROOT = Path(__file__).resolve().parent.parent


def build(corpus: Path, index_dir: Path, **kwargs):
    return build_index([corpus], index_dir, FakeEmbedder(), ChunkerSettings(), **kwargs)


def good_file(directory: Path, name: str = "good.md") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("# 测试条例\n\n" + GOOD_TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A corpus of one good file and every hostile file, built once."""
    directory = tmp_path_factory.mktemp("hostile") / "corpus"
    kinds = write_hostile_corpus(directory)
    summary = build(directory, directory.parent / "idx")
    return directory, kinds, summary


def test_hostile_files_are_skipped_one_by_one_and_the_good_file_is_indexed(hostile):
    directory, kinds, summary = hostile
    skipped = {Path(name).name: reason for name, reason in summary.skipped.items()}
    # The HTML loader may learn to walk deep trees without recursion; then deep.html is
    # simply indexed. Every other hostile file must be skipped.
    assert set(kinds) - {"deep.html"} <= set(skipped)
    for reason in skipped.values():
        assert reason.strip() and "\n" not in reason and len(reason) <= 300
    loaded = open_index(directory.parent / "idx", FakeEmbedder())
    sources = {Path(c.source).name for c in loaded.chunks}
    assert "good.md" in sources
    assert sources <= {"good.md", "deep.html"}
    assert summary.files == len(kinds) + 1


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("dangling.pdf", "dangling symlink"),
        ("oversize.txt", "corpus.max_file_mb"),
        ("pipe.txt", "not a regular file"),
        ("bomb.docx", "zip bomb"),
        ("binary.txt", "binary"),
        ("empty.txt", "empty"),
        ("random.pdf", "damaged"),
    ],
)
def test_each_reason_says_what_is_wrong(hostile, name, words):
    _, _, summary = hostile
    reasons = {Path(k).name: v for k, v in summary.skipped.items()}
    assert words in reasons[name]


def test_deeply_nested_html_is_indexed_or_skipped_with_a_reason(hostile):
    directory, _, summary = hostile
    reason = summary.skipped.get(str(directory / "deep.html"))
    if reason is not None:
        assert "RecursionError" in reason
    else:
        loaded = open_index(directory.parent / "idx", FakeEmbedder())
        assert any(c.source.endswith("deep.html") for c in loaded.chunks)


def test_unchanged_hostile_corpus_is_up_to_date_and_still_lists_the_skips(hostile):
    directory, _, first = hostile
    again = build(directory, directory.parent / "idx")
    assert again.up_to_date and again.skipped == first.skipped and again.files == first.files


def test_a_dangling_link_that_gets_its_target_is_indexed_next_time(tmp_path):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    (corpus / "later.md").symlink_to(tmp_path / "target.md")
    first = build(corpus, tmp_path / "idx")
    assert "dangling symlink" in first.skipped[str(corpus / "later.md")]
    (tmp_path / "target.md").write_text("# 后来的条例\n\n第一条 后来补上的文件。\n", "utf-8")
    second = build(corpus, tmp_path / "idx")
    assert not second.up_to_date and not second.skipped
    assert any("后来补上" in c.text for c in open_index(tmp_path / "idx", FakeEmbedder()).chunks)


def test_text_longer_than_max_chars_is_skipped_until_the_cap_is_raised(tmp_path):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    (corpus / "long.md").write_text("# 长文件\n\n" + GOOD_TEXT * 20, encoding="utf-8")
    first = build(corpus, tmp_path / "idx", limits=IngestLimits(max_chars=500))
    assert "corpus.max_chars" in first.skipped[str(corpus / "long.md")]
    # Other limits: not up to date, every file read again.
    second = build(corpus, tmp_path / "idx", limits=IngestLimits(max_chars=10_000))
    assert not second.up_to_date and not second.skipped


def test_file_over_max_file_mb_is_not_even_hashed(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    (corpus / "big.txt").write_bytes(b"a" * 3 * (1 << 20))
    opened: list[str] = []
    real_open = open

    def recording_open(path, *args, **kwargs):
        opened.append(Path(path).name)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(corpus_module, "open", recording_open, raising=False)
    summary = build(corpus, tmp_path / "idx", limits=IngestLimits(max_file_mb=2))
    assert "max_file_mb" in summary.skipped[str(corpus / "big.txt")]
    assert "big.txt" not in opened and "good.md" in opened


def test_unreadable_file_is_skipped_with_a_reason(tmp_path, monkeypatch):
    """Hashing runs inside the guard too (as root chmod cannot deny reading, so the
    permission error is injected where the file is opened)."""
    corpus = tmp_path / "corpus"
    good_file(corpus)
    good_file(corpus, "secret.md")
    real_open = open

    def denying_open(path, *args, **kwargs):
        if Path(path).name == "secret.md":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(corpus_module, "open", denying_open, raising=False)
    summary = build(corpus, tmp_path / "idx")
    assert "permission" in summary.skipped[str(corpus / "secret.md")]
    assert summary.chunks > 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission_is_skipped(tmp_path):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    secret = good_file(corpus, "secret.md")
    secret.chmod(0)
    summary = build(corpus, tmp_path / "idx")
    assert "permission" in summary.skipped[str(secret)]


# Zip bombs


def test_zip_bomb_is_refused_from_declared_sizes_before_inflating(tmp_path):
    bomb = tmp_path / "bomb.docx"
    write_zip_bomb(bomb, 64)
    assert bomb.stat().st_size < (1 << 20)
    with pytest.raises(CorruptFile, match="zip bomb"):
        check_zip_sizes(bomb, max_bytes=1 << 40)
    with pytest.raises(CorruptFile, match="max_unzipped_mb"):
        check_zip_sizes(bomb, max_bytes=32 << 20)

    def must_not_run(path: Path):
        raise AssertionError("the loader inflated a zip bomb")

    with pytest.raises(CorruptFile):
        load_within_limits(bomb, IngestLimits(), loader=must_not_run)


def test_real_docx_passes_the_zip_check(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("测试条例", 1)
    document.add_paragraph("第一条 为了促进自由贸易试验区建设，制定本条例。" * 50)
    path = tmp_path / "real.docx"
    document.save(path)
    check_zip_sizes(path, max_bytes=int(IngestLimits().max_unzipped_mb) << 20)
    assert "第一条" in load_within_limits(path, IngestLimits()).text


def test_broken_zip_container_is_a_load_error(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"PK\x03\x04 then nothing of a zip")
    with pytest.raises(CorruptFile, match="zip"):
        check_zip_sizes(path, 1 << 30)
    with zipfile.ZipFile(tmp_path / "ok.zip", "w") as archive:
        archive.writestr("a.txt", "small")
    check_zip_sizes(tmp_path / "ok.zip", 1 << 30)


# The parser process


def sandbox(loader, timeout_s: float = 5.0, memory_mb: int = 1024) -> Sandbox:
    from functools import partial

    function = partial(load_within_limits, limits=IngestLimits(), loader=loader)
    return Sandbox(function, timeout_s=timeout_s, memory_mb=memory_mb, describe=skip_reason)


def marked(tmp_path: Path, marker: str) -> Path:
    path = tmp_path / f"{marker.lower()}.txt"
    path.write_text(f"{marker} 第一条 内容。", encoding="utf-8")
    return path


def test_a_hanging_parser_is_killed_at_the_time_limit_and_replaced(tmp_path):
    good = good_file(tmp_path)
    with sandbox(hostile_files.hang_on_marker, timeout_s=2) as parser:
        started = time.perf_counter()
        with pytest.raises(ParseFailed, match="timed out"):
            parser.call(marked(tmp_path, "HANG"))
        assert time.perf_counter() - started < 10
        assert "第一条" in parser.call(good).text


def test_a_parser_over_its_memory_limit_fails_that_file_only(tmp_path):
    good = good_file(tmp_path)
    with sandbox(hostile_files.allocate_on_marker, memory_mb=512) as parser:
        with pytest.raises(ParseFailed, match="MemoryError"):
            parser.call(marked(tmp_path, "ALLOCATE"))
        assert "第一条" in parser.call(good).text


def test_a_crashing_parser_is_reported_and_replaced(tmp_path):
    good = good_file(tmp_path)
    with sandbox(hostile_files.crash_on_marker) as parser:
        with pytest.raises(ParseFailed, match="SIGSEGV"):
            parser.call(marked(tmp_path, "CRASH"))
        assert "第一条" in parser.call(good).text


def test_recursion_and_load_errors_come_back_as_reasons(tmp_path):
    with sandbox(hostile_files.recurse_on_marker) as parser:
        with pytest.raises(ParseFailed, match="RecursionError"):
            parser.call(marked(tmp_path, "RECURSE"))
        (tmp_path / "empty.txt").write_bytes(b"")
        with pytest.raises(LoadError, match="empty"):
            parser.call(tmp_path / "empty.txt")


def test_a_build_survives_a_hanging_file_and_indexes_the_rest(tmp_path):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    marked(corpus, "HANG")
    started = time.perf_counter()
    summary = build(
        corpus,
        tmp_path / "idx",
        loader=hostile_files.hang_on_marker,
        limits=IngestLimits(parse_timeout_s=2),
    )
    assert time.perf_counter() - started < 30
    assert "timed out" in summary.skipped[str(corpus / "hang.txt")]
    assert summary.chunks > 0


def test_structure_parsing_is_under_the_parse_time_limit_too(tmp_path):
    """A heading line of 200,000 spaces is a 200 KB file every loader reads at once, but
    matching it as a heading takes minutes: it costs its file, not the build, because
    headings and articles are found in the parser process, within corpus.parse_timeout_s."""
    corpus = tmp_path / "corpus"
    good_file(corpus)
    write_hostile_structure(corpus, headings=6)
    started = time.perf_counter()
    summary = build(corpus, tmp_path / "idx", limits=IngestLimits(parse_timeout_s=2))
    assert time.perf_counter() - started < 30
    reason = summary.skipped.get(str(corpus / "spaces.md"))
    assert reason is None or "timed out" in reason  # None: heading matching became fast
    sources = {Path(c.source).name for c in open_index(tmp_path / "idx", FakeEmbedder()).chunks}
    assert {"good.md", "nested.md"} <= sources


def test_two_hundred_thousand_nested_headings_keep_a_six_level_section_path(tmp_path):
    corpus = tmp_path / "corpus"
    write_hostile_structure(corpus, spaces=1)
    summary = build(corpus, tmp_path / "idx")
    assert str(corpus / "nested.md") not in summary.skipped
    chunks = open_index(tmp_path / "idx", FakeEmbedder()).chunks
    sections = {c.section for c in chunks if c.source.endswith("nested.md")}
    assert sections == {" › ".join(f"第{level}级" for level in range(1, 7))}


def test_parser_process_does_not_outlive_a_killed_parent(tmp_path):
    """kill -9 of the build leaves no parser behind: the child's own alarm ends it."""
    hang = marked(tmp_path, "HANG")
    script = (
        "import pathlib\n"
        "from functools import partial\n"
        "from index.ingest import IngestLimits, load_within_limits, skip_reason\n"
        "from index.sandbox import Sandbox\n"
        "from tests.hostile_files import hang_on_marker\n"
        "fn = partial(load_within_limits, limits=IngestLimits(), loader=hang_on_marker)\n"
        "box = Sandbox(fn, timeout_s=3, memory_mb=512, describe=skip_reason)\n"
        f"box.call(pathlib.Path({str(hang)!r}))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    marker = Path(f"{hang}.hanging")
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    parent.kill()  # before its 3 s deadline: nobody will kill the child
    parent.wait()
    child = int(marker.read_text())
    assert _alive(child)
    deadline = time.monotonic() + 3 + ORPHAN_GRACE_S + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return status != "Z"


# Configuration


def test_limits_are_configured_under_corpus_and_validated(tmp_path):
    path = tmp_path / "config.yaml"
    base = "index: {dir: idx}\ncorpus:\n  paths: [docs]\n"
    path.write_text(base + "  max_file_mb: 5\n  max_chars: 1000\n", encoding="utf-8")
    settings = load_settings(path)
    assert settings.corpus.max_file_mb == 5.0 and settings.corpus.max_chars == 1000
    assert settings.corpus.parse_timeout_s == IngestLimits().parse_timeout_s
    for bad in ("max_file_mb: 0", "max_chars: -3", "parse_timeout_s: soon", "max_chars: 1.5"):
        path.write_text(base + f"  {bad}\n", encoding="utf-8")
        key = bad.split(":")[0]
        with pytest.raises(ConfigError, match=rf"corpus\.{key}"):
            load_settings(path)


def test_zonebot_index_lists_skipped_files_in_text_and_json(tmp_path):
    corpus = tmp_path / "corpus"
    good_file(corpus)
    (corpus / "dangling.pdf").symlink_to(tmp_path / "gone.pdf")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    config = tmp_path / "config.yaml"
    config.write_text(f"corpus: {{paths: ['{corpus}']}}\nindex: {{dir: '{tmp_path / 'idx'}'}}\n")
    command = [sys.executable, "-m", "bot", "--config", str(config), "index"]
    result = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    assert result.returncode == 0, result.stderr
    skipped = json.loads(result.stdout)["skipped"]
    assert {Path(k).name for k in skipped} == {"dangling.pdf", "binary.txt"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "跳过 2 个" in result.stdout
    assert "dangling symlink" in result.stdout and "binary" in result.stdout


def test_loader_errors_stay_one_line():
    assert "\n" not in skip_reason(LoadError("a\nb\n" + "x" * 1000))
    assert len(skip_reason(ValueError("y" * 1000))) <= 300
    assert "RecursionError" in skip_reason(RecursionError())


def test_a_skipped_dangling_link_is_not_reported_as_a_corpus_change(tmp_path):
    from index.freshness import corpus_changes

    corpus = tmp_path / "corpus"
    good_file(corpus)
    (corpus / "gone.pdf").symlink_to(tmp_path / "nowhere.pdf")
    build(corpus, tmp_path / "idx")
    assert not corpus_changes([corpus], tmp_path / "idx", None)
    (corpus / "gone.pdf").unlink()
    assert corpus_changes([corpus], tmp_path / "idx", None).removed == [str(corpus / "gone.pdf")]


def test_a_file_with_parts_left_out_is_up_to_date_next_time_and_not_a_change(tmp_path):
    from index.freshness import corpus_changes

    corpus = tmp_path / "corpus"
    good_file(corpus)
    first = build(corpus, tmp_path / "idx", loader=hostile_files.noting_loader)
    assert list(first.skipped) == [f"{corpus / 'good.md'} · 第2页"] and first.chunks
    again = build(corpus, tmp_path / "idx", loader=hostile_files.noting_loader)
    assert again.up_to_date and again.skipped == first.skipped
    assert not corpus_changes([corpus], tmp_path / "idx", None)
