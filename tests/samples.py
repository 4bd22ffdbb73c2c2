"""Generated documents in every format the loaders read, for tests and bench/documents.py.

Each generator writes a real file of its format from Chinese text: an OFD package laid
out as GB/T 33190 describes, an .xlsx with merged header cells, RTF with GBK escapes,
a .doc converted by LibreOffice, scans rendered with Pillow in a CJK font.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

FEE_ROWS = [
    ("集装箱查验费", "每标箱", "200元", "2024年3月1日起执行"),
    ("冷链仓储费", "每吨每天", "15元", "含冷藏"),
    ("危险品堆存费", "每吨每天", "30元", ""),
]
FONT_HINT = "install a CJK font: apt-get install fonts-noto-cjk (or fonts-wqy-zenhei)"
TALLY_ROWS = [
    ("理货费", "每标箱", "30元", "外贸集装箱"),
    ("港口作业包干费", "每标箱", "650元", "含装卸"),
]
_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def cjk_font() -> str | None:
    """A font file with Chinese glyphs, or None (tests then skip with FONT_HINT)."""
    return next((path for path in _FONT_PATHS if Path(path).is_file()), None)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


# --- spreadsheets and tables -------------------------------------------------------------


def fee_workbook(path: Path) -> Path:
    """An .xlsx whose header has merged cells: a title row over all columns, "收费项目"
    and "备注" spanning two rows, "收费标准" spanning its two sub-columns."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "口岸收费"
    sheet.append(["营口港口岸收费标准"])
    sheet.merge_cells("A1:D1")
    sheet.append(["收费项目", "收费标准", None, "备注"])
    sheet.append([None, "计费单位", "金额", None])
    for row in FEE_ROWS:
        sheet.append(list(row))
    sheet.merge_cells("A2:A3")
    sheet.merge_cells("B2:C2")
    sheet.merge_cells("D2:D3")
    other = workbook.create_sheet("联系方式")
    other.append(["部门", "电话"])
    other.append(["口岸服务中心", "0417-6250001"])
    workbook.save(path)
    return path


def fee_xls(path: Path) -> Path:
    """The same sheet as `fee_workbook` in Excel 97 (BIFF8) format, merged cells and all,
    as WPS Spreadsheets also writes its .et files."""
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("口岸收费")
    sheet.write_merge(0, 0, 0, 3, "营口港口岸收费标准")
    sheet.write_merge(1, 2, 0, 0, "收费项目")
    sheet.write_merge(1, 1, 1, 2, "收费标准")
    sheet.write_merge(1, 2, 3, 3, "备注")
    sheet.write(2, 1, "计费单位")
    sheet.write(2, 2, "金额")
    for r, row in enumerate(FEE_ROWS, start=3):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    workbook.save(str(path))
    return path


def fee_csv(path: Path, encoding: str = "gbk") -> Path:
    lines = ["收费项目,计费单位,金额,备注"] + [",".join(row) for row in FEE_ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def convert(path: Path, target: str, out: Path) -> Path:
    """Convert with LibreOffice headless (`target` like "doc" or "xls")."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            [soffice(), f"-env:UserInstallation=file://{work}/p", "--headless",
             "--convert-to", target, "--outdir", work, str(path)],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip
        produced = Path(work, f"{path.stem}.{target.split(':')[0]}")
        shutil.move(produced, out)
    return out


def policy_docx(path: Path) -> Path:
    """A Word notice with a heading, articles and a tally-fee table between them."""
    import docx

    document = docx.Document()
    document.add_heading("营口港口岸收费管理办法", level=1)
    document.add_paragraph("第一条 为规范口岸收费行为，降低企业通关成本，制定本办法。")
    document.add_paragraph("第二条 口岸经营单位应当在营业场所公示收费项目和收费标准。")
    table = document.add_table(rows=1 + len(TALLY_ROWS), cols=4)
    for cell, text in zip(
        table.rows[0].cells, ("收费项目", "计费单位", "金额", "备注"), strict=True
    ):
        cell.text = text
    for row, values in zip(table.rows[1:], TALLY_ROWS, strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    document.add_paragraph("第三条 本办法自2024年3月1日起施行。")
    document.save(path)
    return path


# --- RTF, OFD ------------------------------------------------------------------------------


def rtf_file(path: Path, paragraphs: list[str]) -> Path:
    """RTF as Chinese Word writes it: code page 936, GBK bytes as \\'xx escapes."""
    body = "".join(
        "".join(c if ord(c) < 128 else "".join(f"\\'{b:02x}" for b in c.encode("gbk")) for c in p)
        + "\\par\n"
        for p in paragraphs
    )
    path.write_bytes(
        ("{\\rtf1\\ansi\\ansicpg936\\deff0{\\fonttbl{\\f0\\fnil\\fcharset134 SimSun;}}\n"
         f"\\f0\\fs24 {body}}}").encode("ascii")
    )  # fmt: skip
    return path


_OFD_NS = "http://www.ofdspec.org/2016"


def ofd_file(path: Path, title: str, pages: list[list[str]], chars_per_line: int = 28) -> Path:
    """An OFD package (GB/T 33190): OFD.xml → Doc_0/Document.xml → one Content.xml per
    page; every paragraph wrapped into lines of TextObjects on an A4 page (mm units)."""
    size = 5.0  # font size in mm
    files = {
        "OFD.xml": f"""<?xml version="1.0" encoding="UTF-8"?>
<ofd:OFD xmlns:ofd="{_OFD_NS}" Version="1.0" DocType="OFD"><ofd:DocBody>
<ofd:DocInfo><ofd:DocID>6c3a1e2f</ofd:DocID><ofd:Title>{title}</ofd:Title>
<ofd:CreationDate>2024-03-01</ofd:CreationDate></ofd:DocInfo>
<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>""",
    }
    page_refs = []
    for number, paragraphs in enumerate(pages):
        objects, y, object_id = [], 30.0, 100 * (number + 1)
        for paragraph in paragraphs:
            for start in range(0, len(paragraph), chars_per_line):
                line = paragraph[start : start + chars_per_line]
                object_id += 1
                objects.append(
                    f'<ofd:TextObject ID="{object_id}" Boundary="25 {y:.1f} 160 7" Font="3" '
                    f'Size="{size}"><ofd:FillColor Value="0 0 0"/>'
                    f'<ofd:TextCode X="0" Y="{size:.1f}" DeltaX="g {len(line) - 1} {size}">'
                    f"{line}</ofd:TextCode></ofd:TextObject>"
                )
                y += 8.0
            y += 4.0
        files[f"Doc_0/Pages/Page_{number}/Content.xml"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<ofd:Page xmlns:ofd="{_OFD_NS}"><ofd:Content><ofd:Layer ID="{number + 2}">
{"".join(objects)}</ofd:Layer></ofd:Content></ofd:Page>"""
        page_refs.append(
            f'<ofd:Page ID="{number + 10}" BaseLoc="Pages/Page_{number}/Content.xml"/>'
        )
    files["Doc_0/Document.xml"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<ofd:Document xmlns:ofd="{_OFD_NS}"><ofd:CommonData><ofd:MaxUnitID>999</ofd:MaxUnitID>
<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>
<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData>
<ofd:Pages>{"".join(page_refs)}</ofd:Pages></ofd:Document>"""
    files["Doc_0/PublicRes.xml"] = f"""<?xml version="1.0" encoding="UTF-8"?>
<ofd:Res xmlns:ofd="{_OFD_NS}" BaseLoc="Res"><ofd:Fonts>
<ofd:Font ID="3" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


# --- scans -------------------------------------------------------------------------------

SCAN_DPI = 200
_A4 = (1654, 2339)  # pixels at 200 dpi


def render_scan(
    paragraphs: list[str], *, chars_per_line: int = 34, blur: float = 0.6, height: int = _A4[1]
):
    """A page as a scanner gives it: black 宋体-like text on an A4 page at 200 dpi, each
    paragraph indented two characters and wrapped, a slight tilt, blur and speckle."""
    import random

    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font_path = cjk_font()
    if font_path is None:
        raise RuntimeError(FONT_HINT)
    font = ImageFont.truetype(font_path, 40)
    size = (_A4[0], height)
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    y = 150
    for paragraph in paragraphs:
        text = "\u3000\u3000" + paragraph
        for start in range(0, len(text), chars_per_line):
            draw.text((150, y), text[start : start + chars_per_line], font=font, fill=20)
            y += 64
        y += 24
    page = page.rotate(0.4, fillcolor=255, resample=Image.BICUBIC)
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    speckle = random.Random(len("".join(paragraphs)))
    pixels = page.load()
    for _ in range(3000):
        pixels[speckle.randrange(size[0]), speckle.randrange(size[1])] = speckle.choice((0, 255))
    return page


def scan_pdf(path: Path, pages: list) -> Path:
    """An image-only PDF (no text layer), one rendered page image per page."""
    first, *rest = [page.convert("RGB") for page in pages]
    first.save(path, "PDF", resolution=SCAN_DPI, save_all=True, append_images=rest)
    return path


# --- a corpus of every format, with a question about each ----------------------------------

CLEARANCE = (
    "第三条 营口片区推行进口货物船边直提和出口货物抵港直装模式，企业通关时间压缩至平均1.5小时。"
)
CREDIT = "第四条 海关对高级认证企业实施信用分级管理，查验率不高于0.5%。"
CROSS_BORDER = (
    "第五条 跨境电商零售进口商品单次交易限值为人民币5000元，年度交易限值为人民币26000元。"
)
LICENCE = (
    "第一条 为推进电子证照在口岸通关中的应用，营口片区对企业提交的电子证照与纸质证照同等对待。"
)
REGISTRATION = (
    "第五条 登记机关应当在收到申请材料之日起3个工作日内完成审核，并一次性告知需要补正的材料。"
)
START_UP_ROWS = [
    ("营业执照办理", "1个工作日", "免费"),
    ("公章刻制", "0.5个工作日", "政府买单"),
    ("税务发票申领", "当场办结", "免费"),
]


@dataclass(frozen=True)
class Case:
    """One generated file and a question that only it answers."""

    file: str
    format: str
    question: str
    answer: str


def sample_corpus(directory: Path) -> tuple[list[Case], dict[str, str]]:
    """Write one file of every format into `directory`; return the questions about them
    and the formats that could not be generated here, with the reason."""
    from gov_pages import PAGES

    directory.mkdir(parents=True, exist_ok=True)
    cases = [
        Case("fees.xlsx", "xlsx", "集装箱查验费的收费金额是多少?", "200元"),
        Case("start_up.csv", "csv", "公章刻制的办理时限是多久?", "0.5个工作日"),
        Case(
            "notice.doc",
            "docx named .doc",
            "口岸经营单位应当在哪里公示收费项目和收费标准?",
            "营业场所",
        ),
        Case("fees_list.rtf", "rtf", "口岸收费实行什么管理?", "目录清单管理"),
        Case("licence.ofd", "ofd", "营口片区对企业提交的电子证照与纸质证照如何对待?", "同等对待"),
        Case(
            "clearance_scan.pdf",
            "scanned pdf",
            "营口片区企业通关时间压缩至平均多少小时?",
            "1.5小时",
        ),
        Case("clearance_scan.pdf", "scanned pdf", "海关对高级认证企业的查验率不高于多少?", "0.5%"),
        Case("limits_scan.png", "png scan", "跨境电商零售进口商品单次交易限值是多少?", "5000元"),
    ]
    skipped: dict[str, str] = {}
    fee_workbook(directory / "fees.xlsx")
    start_up = ["事项,办理时限,费用"] + [",".join(row) for row in START_UP_ROWS]
    (directory / "start_up.csv").write_bytes("\r\n".join(start_up).encode("gbk"))
    policy_docx(directory / "notice.docx").rename(directory / "notice.doc")
    rtf_file(
        directory / "fees_list.rtf", ["第一条 口岸收费实行目录清单管理，清单之外一律不得收费。"]
    )
    ofd_file(
        directory / "licence.ofd",
        "电子证照应用通知",
        [[LICENCE]],
    )
    if cjk_font() is None:
        skipped["scans"] = FONT_HINT
        cases = [case for case in cases if "scan" not in case.format]
    else:
        scan_pdf(
            directory / "clearance_scan.pdf", [render_scan([CLEARANCE]), render_scan([CREDIT])]
        )
        render_scan([CROSS_BORDER]).save(directory / "limits_scan.png")
    if soffice() is None:
        skipped[".doc"] = "LibreOffice absent: apt-get install libreoffice-writer-nogui"
    else:
        convert(
            registration_docx(directory / "registration.docx"),
            "doc",
            directory / "registration.doc",
        )
        (directory / "registration.docx").unlink()
        cases.append(
            Case(
                "registration.doc",
                "doc (Word 97)",
                "登记机关应当在收到申请材料之日起几个工作日内完成审核?",
                "3个工作日",
            )
        )
    for page in PAGES:
        (directory / page.name).write_bytes(page.html.encode(page.encoding))
        cases.append(Case(page.name, "web page", page.question, page.answer))
    return cases, skipped


def registration_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("营口片区外商投资企业登记管理办法", level=1)
    document.add_paragraph("第一条 为便利外商投资企业登记，制定本办法。")
    document.add_paragraph(REGISTRATION)
    document.save(path)
    return path
