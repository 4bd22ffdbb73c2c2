"""Word 97–2003 .doc and WPS Office .wps (both OLE2 "WordDocument" files) through an
external tool: LibreOffice headless when installed (converted to .docx, so headings and
tables survive), else antiword, else catdoc (text only). Which one ran is not recorded:
all three give the document's text; the first keeps the most structure."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from index.errors import CorruptFile, EmptyFile, UnsupportedFile
from index.formats.encodings import newlines
from index.formats.office import load_docx
from index.formats.source import SourceText, TextBuilder

TOOL_TIMEOUT_S = 120
MISSING_TOOL = (
    "reading .doc/.wps needs LibreOffice or antiword: apt-get install antiword "
    "(or libreoffice-writer-nogui), or save the file as .docx"
)


def load_word_binary(path: Path, data: bytes = b"") -> SourceText:
    if soffice := shutil.which("soffice") or shutil.which("libreoffice"):
        return _with_libreoffice(soffice, path)
    if antiword := shutil.which("antiword"):
        return _text_of(path, [antiword, "-m", "UTF-8.txt", "-w", "0", str(path)])
    if catdoc := shutil.which("catdoc"):
        return _text_of(path, [catdoc, "-d", "utf-8", "-w", str(path)])
    raise UnsupportedFile(f"{path}: {MISSING_TOOL}.")


def _with_libreoffice(soffice: str, path: Path) -> SourceText:
    """Convert to .docx in a private temporary profile (so parallel runs never share one)."""
    with tempfile.TemporaryDirectory(prefix="zonebot-lo-") as work:
        source = Path(work, "input.doc")
        shutil.copyfile(path, source)
        command = [
            soffice,
            f"-env:UserInstallation=file://{work}/profile",
            "--headless",
            "--norestore",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
            work,
            str(source),
        ]
        _run(path, command)
        converted = Path(work, "input.docx")
        if not converted.is_file():
            raise CorruptFile(
                f"{path}: LibreOffice could not convert it; the file looks damaged. "
                "Open it in WPS or Word and save it again as .docx."
            )
        return load_docx(converted)


def _text_of(path: Path, command: list[str]) -> SourceText:
    output = _run(path, command)
    builder = TextBuilder()
    for block in newlines(output).split("\n\n"):
        builder.add(block)
    if builder.empty:
        raise EmptyFile(f"{path}: no text found in the Word file.")
    return builder.build()


def _run(path: Path, command: list[str]) -> str:
    tool = Path(command[0]).name
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=TOOL_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise CorruptFile(
            f"{path}: {tool} did not finish within {TOOL_TIMEOUT_S} s. Save it as .docx."
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise CorruptFile(
            f"{path}: {tool} could not read it ({message[0][:100]}). "
            "Open it in WPS or Word and save it again as .docx."
        )
    return done.stdout.decode("utf-8", "replace")
