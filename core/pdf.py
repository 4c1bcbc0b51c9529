"""A finished checklist or questionnaire as a PDF: the firm's name, the dossier number, the
date, and every question with its answer, section by section.

fpdf2 (pure Python, well kept) draws it; a Unicode TrueType font (DejaVu, present on Debian)
is used when there, so names like "Ærø" and amounts in € print as they are; without it the
built-in font prints what Latin-1 can. Rendering is CPU work: callers run it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

FONTS = Path("/usr/share/fonts/truetype/dejavu")


@dataclass
class PdfSection:
    title: str
    rows: list[tuple[str, str]]  # (question, answer)


def _font(pdf: FPDF) -> str:
    regular, bold = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("DejaVu", "", str(regular))
        pdf.add_font("DejaVu", "B", str(bold))
        return "DejaVu"
    return "Helvetica"


def _safe(text: str, font: str) -> str:
    if font != "Helvetica":
        return text
    return text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")


def render_checklist(
    *,
    firm: str,
    title: str,
    dossier: str,
    client: str,
    date_text: str,
    labels: dict[str, str],
    sections: list[PdfSection],
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(f"{title} - {dossier}")
    pdf.set_author(firm)
    font = _font(pdf)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font(font, "B", 16)
    pdf.multi_cell(width, 8, _safe(firm, font), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "B", 13)
    pdf.multi_cell(width, 7, _safe(title, font), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, "", 10)
    for name, value in (
        (labels["dossier"], dossier),
        (labels["client"], client),
        (labels["date"], date_text),
    ):
        pdf.multi_cell(width, 5, _safe(f"{name}: {value}", font), new_x="LMARGIN", new_y="NEXT")
    for section in sections:
        pdf.ln(4)
        pdf.set_font(font, "B", 12)
        pdf.multi_cell(width, 7, _safe(section.title, font), new_x="LMARGIN", new_y="NEXT")
        for question, answer in section.rows:
            pdf.set_font(font, "B", 10)
            pdf.multi_cell(width, 5, _safe(question, font), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(font, "", 10)
            pdf.multi_cell(width, 5, _safe(answer, font), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
    return bytes(pdf.output())
