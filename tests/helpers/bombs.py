"""Files an attacker or a careless clerk could drop into knowledge/: small on disk, huge once read.

* :func:`alias_bomb_md`: a few hundred bytes of Markdown whose YAML ``title`` is nine levels of
  aliases (a "billion laughs": 9⁹ strings once the title is read as text);
* :func:`docx_bomb`: a valid DOCX whose ``word/document.xml`` unpacks to ``size`` bytes;
* :func:`many_pages_pdf`: a valid PDF of ``pages`` pages sharing one content stream (8 MB for 50,000);
* :func:`big_xlsx`: a workbook of ``rows`` rows of meal-site-like cells.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import openpyxl


def alias_bomb_md(levels: int = 9) -> str:
    """Markdown whose front matter expands to 9**levels strings when its title is read."""
    lines = ["---", "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * 9) + "]")
    lines.append("title: [" + ",".join([f"*a{levels - 1}"] * 9) + "]")
    lines += ["---", "", "# 低保申请", "", "申请低保请到户籍所在镇（街道）。", ""]
    return "\n".join(lines)


def docx_bomb(path: Path, size: int, paragraph: str = "低保" * 2000) -> Path:
    """A DOCX (python-docx's own template) whose document.xml is ``size`` bytes of one paragraph repeated."""
    template = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("汕尾市民政局")
    document.save(template)
    source = zipfile.ZipFile(io.BytesIO(template.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                out.writestr(info, source.read(info))
                continue
            head = source.read(info).decode("utf-8").split("<w:body>")[0] + "<w:body>"
            block = (f"<w:p><w:r><w:t>{paragraph}</w:t></w:r></w:p>" * 50).encode("utf-8")
            with out.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(head.encode("utf-8"))
                written = 0
                while written < size:
                    member.write(block)
                    written += len(block)
                member.write(b"<w:sectPr/></w:body></w:document>")
    return path


def many_pages_pdf(path: Path, pages: int, text: str = "Shanwei dibao standard") -> Path:
    """A PDF of ``pages`` pages, each showing ``text`` (ASCII) from one shared content stream."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{5 + i} 0 R' for i in range(pages))}] /Count {pages} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects[4] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
    for i in range(pages):
        objects[5 + i] = page
    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    count = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, count))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    path.write_bytes(bytes(out))
    return path


def big_xlsx(path: Path, rows: int) -> Path:
    """A workbook of ``rows`` rows (six columns, like the meal-site directory)."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("点位")
    sheet.append(["序号", "名称", "地址", "电话", "供餐时段", "备注"])
    for i in range(rows):
        sheet.append(
            [
                i,
                f"长者饭堂{i}号",
                f"汕尾市城区香城路{i}号",
                f"0660-33{i % 100000:05d}",
                "11:00-13:00",
                "送餐上门",
            ]
        )
    workbook.save(path)
    return path
