"""Invoices as PDF: a small PDF 1.4 writer for pages of text, with the standard Helvetica
and Courier fonts (every PDF reader has them, so nothing is embedded and nothing is added
to the project's dependencies).
"""

from __future__ import annotations

from collections.abc import Iterable

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN, LEADING = 48, 13
LINES_PER_PAGE = (PAGE_H - 2 * MARGIN) // LEADING
FONTS = {"F1": "Helvetica", "F2": "Helvetica-Bold", "F3": "Courier"}


def _text(value: str) -> bytes:
    """A PDF string literal in the fonts' WinAnsi encoding (unmappable characters as ?)."""
    raw = value.replace("\u2212", "-").encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_stream(lines: list[tuple[str, int, str]]) -> bytes:
    out = [b"BT", f"{MARGIN} {PAGE_H - MARGIN} Td".encode()]
    for font, size, text in lines:
        out.append(f"/{font} {size} Tf {LEADING} TL".encode())
        out.append(_text(text) + b" '")
    out.append(b"ET")
    return b"\n".join(out)


def render_pdf(lines: Iterable[tuple[str, int, str]], title: str) -> bytes:
    """A PDF of `lines`, each (font key of FONTS, size in points, text), flowed onto pages."""
    rows = list(lines)
    pages = [rows[i : i + LINES_PER_PAGE] for i in range(0, len(rows), LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = []  # object n is objects[n - 1]
    font_ids = {}
    objects.append(b"")  # 1: catalog, filled below
    objects.append(b"")  # 2: page tree, filled below
    objects.append(b"<< /Title " + _text(title) + b" /Producer (Tollgate) >>")  # 3: info
    for key, name in FONTS.items():
        objects.append(
            f"<< /Type /Font /Subtype /Type1 /BaseFont /{name} "
            "/Encoding /WinAnsiEncoding >>".encode()
        )
        font_ids[key] = len(objects)
    fonts = " ".join(f"/{k} {n} 0 R" for k, n in font_ids.items())
    kids = []
    for page in pages:
        stream = _page_stream(page)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] "
            f"/Resources << /Font << {fonts} >> >> /Contents {content} 0 R >>".encode()
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = (
        f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] "
        f"/Count {len(kids)} >>".encode()
    )
    body, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R /Info 3 0 R >>\n" % (len(objects) + 1)
    body += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(body)
