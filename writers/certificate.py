"""The printable certificate: an A4 landscape PDF with the holder, validity, modules and the
verification code (as text and as a QR code).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from records import idcard
from records.models import PATH_SEP, Certificate
from writers.pdf import FONT, register_font

_RED = "#9b1b1b"
_GOLD = "#b8912f"
_INK = "#222222"
_DIGITS = "〇一二三四五六七八九"


def chinese_date(day: dt.date) -> str:
    """2026-11-01 → 二〇二六年十一月一日, as official documents write it."""
    def small(n: int) -> str:
        if n < 10:
            return _DIGITS[n]
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")

    year = "".join(_DIGITS[int(d)] for d in str(day.year))
    return f"{year}年{small(day.month)}月{small(day.day)}日"


def issuer_for(unit_path: str) -> str:
    """The office that prints the certificate: the street/town of the unit, or the
    district/city emergency-management bureau for units above streets."""
    parts = unit_path.split(PATH_SEP)
    if len(parts) >= 3:
        street = parts[2]
        suffix = "人民政府" if street.endswith(("镇", "乡")) else "办事处"
        return "".join(parts[1:3]) + suffix
    return "".join(parts) + "应急管理局"


def render_pdf(cert: Certificate, out: Path, *, modules: list[str],
               hours: str = "", drills: str = "") -> Path:
    """Write an A4 landscape certificate. `modules` are the titles of the modules passed."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    register_font()
    out.parent.mkdir(parents=True, exist_ok=True)
    width, height = landscape(A4)
    # invariant=1: the same certificate gives the same bytes (no timestamp or random id).
    pdf = canvas.Canvas(str(out), pagesize=(width, height), invariant=1)
    pdf.setTitle(f"培训合格证书 {cert.number}")
    pdf.setAuthor(issuer_for(cert.unit_path))
    pdf.setSubject("SafeTrain")
    _frame(pdf, width, height)
    _heading(pdf, cert, width, height)
    _body(pdf, cert, width, height, modules, hours, drills)
    _seal(pdf, cert, width)
    _verification(pdf, cert)
    if cert.revoked_on is not None:
        _revoked(pdf, width, height)
    pdf.showPage()
    pdf.save()
    return out


def _frame(pdf: Any, width: float, height: float) -> None:
    """Paper colour, a red border, a double gold rule and red corner dots."""
    from reportlab.lib.colors import HexColor

    pdf.setFillColor(HexColor("#fffdf6"))
    pdf.rect(0, 0, width, height, stroke=0, fill=1)
    pdf.setStrokeColor(HexColor(_RED))
    pdf.setLineWidth(7)
    pdf.rect(22, 22, width - 44, height - 44)
    pdf.setStrokeColor(HexColor(_GOLD))
    pdf.setLineWidth(1.2)
    pdf.rect(34, 34, width - 68, height - 68)
    pdf.rect(38, 38, width - 76, height - 76)
    for x, y in ((34, 34), (width - 34, 34), (34, height - 34), (width - 34, height - 34)):
        pdf.setFillColor(HexColor(_RED))
        pdf.circle(x, y, 5, stroke=0, fill=1)


def _heading(pdf: Any, cert: Certificate, width: float, height: float) -> None:
    """The number top right, the title and the subtitle with its rule."""
    from reportlab.lib.colors import HexColor

    pdf.setFillColor(HexColor(_INK))
    pdf.setFont("Courier", 10)
    pdf.drawRightString(width - 70, height - 66, cert.number)
    pdf.setFont(FONT, 10)
    pdf.drawRightString(width - 70 - pdf.stringWidth(cert.number, "Courier", 10), height - 66,
                        "证书编号：")
    pdf.setFillColor(HexColor(_RED))
    pdf.setFont(FONT, 36)
    pdf.drawCentredString(width / 2, height - 118, "培 训 合 格 证 书")
    pdf.setFont(FONT, 13)
    pdf.setFillColor(HexColor(_GOLD))
    pdf.drawCentredString(width / 2, height - 142, "基层应急管理与安全生产人员")
    pdf.setStrokeColor(HexColor(_GOLD))
    pdf.setLineWidth(0.8)
    pdf.line(width / 2 - 150, height - 152, width / 2 + 150, height - 152)


def _body(pdf: Any, cert: Certificate, width: float, height: float, modules: list[str],
          hours: str, drills: str) -> None:
    """Holder, unit and post (record text escaped: data, never markup), validity, modules."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph

    body = ParagraphStyle("body", fontName=FONT, fontSize=15, leading=28,
                          textColor=HexColor(_INK), wordWrap="CJK", firstLineIndent=29)
    small = ParagraphStyle("small", fontName=FONT, fontSize=10, leading=15,
                           textColor=HexColor("#555555"), wordWrap="CJK")
    pdf.setFillColor(HexColor(_INK))
    pdf.setFont(FONT, 18)
    pdf.drawString(80, height - 200, f"{cert.holder_name} 同志：")
    facts = "".join(f"，{x}" for x in (hours, drills) if x)
    text = (f"身份证号 {idcard.mask(cert.person.id_number)}，所在单位"
            f"<u>{escape(cert.unit_path.replace(PATH_SEP, ''))}</u>，岗位<u>{escape(cert.role.label)}</u>。"
            f"经考核，已通过本岗位规定的全部必修课程{facts}，符合持证要求，特发此证。")
    para = Paragraph(text, body)
    _, used = para.wrap(width - 190, 200)
    para.drawOn(pdf, 95, height - 218 - used)
    y = height - 244 - used
    pdf.setFont(FONT, 15)
    pdf.setFillColor(HexColor(_RED))
    pdf.drawString(95, y, f"有效期：{chinese_date(cert.valid_from)} 至 {chinese_date(cert.valid_until)}")
    if modules:
        listing = Paragraph("已通过课程：" + escape("；".join(modules)), small)
        _, used = listing.wrap(width - 190, 120)
        listing.drawOn(pdf, 95, y - 16 - used)


def _seal(pdf: Any, cert: Certificate, width: float) -> None:
    """Seal area: the office stamps the printed copy; a printed seal would prove nothing."""
    from reportlab.lib.colors import HexColor

    cx, cy = width - 190, 128
    pdf.setStrokeColor(HexColor("#d9a0a0"))
    pdf.setDash(3, 3)
    pdf.circle(cx, cy, 48)
    pdf.setDash()
    pdf.setFillColor(HexColor("#c9a0a0"))
    pdf.setFont(FONT, 10)
    pdf.drawCentredString(cx, cy - 4, "（盖章）")
    pdf.setFillColor(HexColor(_INK))
    pdf.setFont(FONT, 14)
    pdf.drawCentredString(cx, cy + 8, issuer_for(cert.unit_path))
    pdf.drawCentredString(cx, cy - 22, chinese_date(cert.issued_on))


def _verification(pdf: Any, cert: Certificate) -> None:
    """The verification code as a QR code and as text, and how to check it."""
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.colors import HexColor

    code_text = f"SafeTrain 证书 {cert.number} 验证码 {cert.code}"
    widget = QrCodeWidget(code_text, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    size = 78
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, 70, 58)
    pdf.setFillColor(HexColor(_INK))
    pdf.setFont(FONT, 11)
    pdf.drawString(158, 116, "验证码：")
    pdf.setFont("Courier-Bold", 12)  # Latin monospace: no 0/O or 1/I doubt when typed back
    pdf.drawString(158 + 44, 116, cert.code)
    pdf.setFont(FONT, 9)
    pdf.setFillColor(HexColor("#555555"))
    pdf.drawString(158, 99, "核验方法：safetrain cert verify 验证码")
    pdf.drawString(158, 85, "可查证书是否有效，是否已被撤销或篡改。")


def _revoked(pdf: Any, width: float, height: float) -> None:
    """A revoked certificate says so across the page."""
    from reportlab.lib.colors import HexColor

    pdf.saveState()
    pdf.translate(width / 2, height / 2)
    pdf.rotate(25)
    pdf.setFillColor(HexColor("#cc0000"))
    pdf.setFillAlpha(0.35)
    pdf.setFont(FONT, 90)
    pdf.drawCentredString(0, -30, "已 撤 销")
    pdf.restoreState()
