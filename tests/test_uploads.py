"""Adding documents through the bot: the upload folder's safety, and the Telegram flow
against the fake Bot API (getFile and file downloads), with an engine double and with
the real index and engine."""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import ConfigError, settings_from_dict
from bot.telegram.messages import UPLOAD_ADMIN_ONLY
from bot.upload_dir import UploadDir, UploadError, safe_name
from tests.tg_support import EngineDouble, running_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMIN = 42
STRANGER = 77


# ---- the upload folder ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\通知.docx", "通知.docx"),
        (".bashrc", "bashrc"),
        ("~$锁定.docx", "锁定.docx"),
        ("a\x00b<>.pdf", "a_b__.pdf"),
        ("..", "document"),
        ("长" * 300 + ".pdf", "长" * 96 + ".pdf"),
    ],
)
def test_names_are_sanitised(given, safe):
    assert safe_name(given) == safe


def saved_names(folder: UploadDir, name: str, data: bytes) -> list[str]:
    partial = folder.partial()
    partial.write_bytes(data)
    return [saved.name for saved in folder.save(partial, name)]


def test_a_second_file_of_the_same_name_never_overwrites(tmp_path):
    folder = UploadDir(tmp_path / "uploads")
    assert saved_names(folder, "通知.txt", "第一版。".encode()) == ["通知.txt"]
    assert saved_names(folder, "../通知.txt", "第二版。".encode()) == ["通知 (2).txt"]
    assert (folder.root / "通知.txt").read_text() == "第一版。"
    assert folder.names() == ["通知 (2).txt", "通知.txt"]  # no .partial- leftovers


def test_a_zip_is_unpacked_flat_and_cannot_escape(tmp_path):
    folder = UploadDir(tmp_path / "uploads")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("政策/a.txt", "第一条。")
        bundle.writestr("../../evil.txt", "x")
        bundle.writestr("__MACOSX/._a.txt", "junk")
    assert sorted(saved_names(folder, "bundle.zip", archive.getvalue())) == ["a.txt", "evil.txt"]
    assert not (tmp_path / "evil.txt").exists()


def test_a_docx_is_not_unpacked_as_an_archive(tmp_path):
    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    assert saved_names(UploadDir(tmp_path / "u"), "a.docx", buffer.getvalue()) == ["a.docx"]


def test_remove_takes_only_an_uploaded_name(tmp_path):
    folder = UploadDir(tmp_path / "uploads")
    saved_names(folder, "a.txt", b"x")
    (tmp_path / "outside.txt").write_text("keep")
    assert not folder.remove("../outside.txt")
    assert folder.remove("a.txt") and folder.names() == []
    assert (tmp_path / "outside.txt").exists()


def test_a_full_disk_is_a_clear_error(tmp_path, monkeypatch):
    import errno
    import os

    folder = UploadDir(tmp_path / "uploads")

    def no_space(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "link", no_space)
    with pytest.raises(UploadError, match="磁盘已满"):
        saved_names(folder, "a.txt", b"x")


def test_upload_dir_must_be_one_of_the_corpus_paths(tmp_path):
    base = {"corpus": {"paths": ["corpus"]}, "index": {"dir": "index"}}
    settings = settings_from_dict({**base, "telegram": {"upload_dir": "corpus"}}, tmp_path)
    assert settings.telegram.upload_dir == tmp_path / "corpus"
    with pytest.raises(ConfigError, match=r"must be one of corpus\.paths"):
        settings_from_dict({**base, "telegram": {"upload_dir": "elsewhere"}}, tmp_path)


# ---- the Telegram flow with an index job double -------------------------------------


@dataclass
class Report:
    skipped: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return "done"


class IndexJobDouble:
    """Reports progress, then a new engine; files named "bad…" are skipped by the build."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runs = 0
        self.lock = threading.Lock()

    def __call__(self, progress):
        with self.lock:
            self.runs += 1
        progress("嵌入 10/20")
        names = [p.name for p in self.folder.iterdir() if p.name.startswith("bad")]
        skipped = {f"corpus/{name}": "not a document format zonebot knows" for name in names}
        return EngineDouble(label="新"), Report(skipped)


async def test_admin_files_sent_together_are_indexed_once_with_one_status(tmp_path):
    job = IndexJobDouble(tmp_path / "corpus")
    async with running_bot(tmp_path, index_job=job, admins=[ADMIN], upload_dir="corpus") as h:
        h.fake.push_document(
            ADMIN, ADMIN, "通知.txt", "第一条 口岸收费实行清单管理。".encode(), media_group_id="g"
        )
        h.fake.push_document(ADMIN, ADMIN, "bad.bin", b"\x00\x01", media_group_id="g")
        h.fake.push_document(ADMIN, ADMIN, "big.pdf", b"%PDF-", file_size=25 * 1024 * 1024)
        done = await h.wait_for("editMessageText", contains="已添加", chat_id=ADMIN, timeout=15)
        text = done[-1].text
        assert "✅ 已添加 1 个文件" in text and "• 通知.txt" in text
        assert "bad.bin：not a document format" in text
        assert "big.pdf" in text and "20 MB" in text
        assert len(h.fake.find("sendMessage", chat_id=ADMIN)) == 1  # one status message
        assert job.runs == 1
        assert (tmp_path / "corpus" / "通知.txt").is_file()
        assert not (tmp_path / "corpus" / "big.pdf").exists()


async def test_a_non_admin_cannot_add_documents(tmp_path):
    job = IndexJobDouble(tmp_path / "corpus")
    async with running_bot(tmp_path, index_job=job, admins=[ADMIN], upload_dir="corpus") as h:
        h.fake.push_document(STRANGER, STRANGER, "x.txt", b"text")
        await h.wait_for("sendMessage", contains=UPLOAD_ADMIN_ONLY, chat_id=STRANGER)
        assert job.runs == 0 and not (tmp_path / "corpus").exists()


async def test_documents_are_listed_in_pages(tmp_path):
    engine = EngineDouble(titles=[f"文档{i}" for i in range(1, 26)])
    async with running_bot(tmp_path, engine=engine, admins=[ADMIN], upload_dir="corpus") as h:
        h.fake.push_text(ADMIN, ADMIN, "/documents")
        first = (await h.wait_for("sendMessage", contains="第 1/3 页", chat_id=ADMIN))[-1]
        assert "1. 《文档1》" in first.text and "《文档11》" not in first.text
        assert first.buttons == [("下一页 ▶", "docs:1")]
        h.fake.push_callback(ADMIN, first.result, "docs:1")
        second = (await h.wait_for("editMessageText", contains="第 2/3 页"))[-1]
        assert "11. 《文档11》" in second.text
        assert second.buttons == [("◀ 上一页", "docs:0"), ("下一页 ▶", "docs:2")]


async def test_remove_asks_for_confirmation_then_reindexes(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "旧通知.txt").write_text("第一条 旧规定。")
    job = IndexJobDouble(tmp_path / "corpus")
    async with running_bot(tmp_path, index_job=job, admins=[ADMIN], upload_dir="corpus") as h:
        h.fake.push_text(STRANGER, STRANGER, "/remove 旧通知.txt")
        await h.wait_for("sendMessage", contains="只有管理员", chat_id=STRANGER)
        h.fake.push_text(ADMIN, ADMIN, "/remove 旧通知.txt")
        ask = (await h.wait_for("sendMessage", contains="确定从语料中删除", chat_id=ADMIN))[-1]
        assert (tmp_path / "corpus" / "旧通知.txt").exists()  # nothing happens before the tap
        yes = next(data for label, data in ask.buttons if label == "确认删除")
        h.fake.push_callback(ADMIN, ask.result, yes)
        await h.wait_for("editMessageText", contains="✅ 已删除 旧通知.txt", chat_id=ADMIN)
        assert not (tmp_path / "corpus" / "旧通知.txt").exists() and job.runs == 1
        h.fake.push_text(ADMIN, ADMIN, "/remove 不存在.txt")
        await h.wait_for("sendMessage", contains="没有这个上传的文件", chat_id=ADMIN)


# ---- the real index and engine -----------------------------------------------------


async def test_an_uploaded_document_answers_questions(tmp_path, real_embedder):
    """The admin's .docx goes through the real loaders, index and engine."""
    from samples import policy_docx

    from bot.config import settings_from_dict as settings_of
    from bot.wiring import build_engine, index_job, run_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "既有.txt").write_text("第一条 营口片区实行企业开办一日办结。", encoding="utf-8")
    settings = settings_of(
        {"corpus": {"paths": ["corpus"]}, "index": {"dir": "index"}}, base_dir=tmp_path
    )
    run_index(settings, embedder=real_embedder)
    engine = build_engine(settings, real_embedder)
    job = index_job(settings, real_embedder)
    data = policy_docx(tmp_path / "notice.docx").read_bytes()
    async with running_bot(
        tmp_path, engine=engine, index_job=job, admins=[ADMIN], upload_dir="corpus"
    ) as h:
        h.fake.push_document(ADMIN, ADMIN, "收费管理办法.docx", data)
        await h.wait_for("editMessageText", contains="已添加 1 个文件", chat_id=ADMIN, timeout=120)
        h.fake.push_text(7, 7, "口岸经营单位应当在哪里公示收费项目和收费标准?")
        answer = await h.wait_for("sendMessage", contains="营业场所", chat_id=7, timeout=30)
        assert "收费管理办法" in answer[-1].text or answer[-1].buttons
