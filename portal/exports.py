"""CSV (streamed) and PDF (reportlab) exports, shared by the UI tables and the API (`?format=csv`)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

__all__ = ["csv_response", "pdf_response", "safe_cell"]

PDF_MAX_ROWS = 5000
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """Text for a spreadsheet cell; a leading formula character is defused (CSV injection)."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _Echo:
    def write(self, value):
        return value


def _filename(name: str, ext: str) -> str:
    return f"{slugify(name) or 'export'}-{timezone.now():%Y%m%d-%H%M}.{ext}"


def csv_response(name: str, headers: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """Stream rows as CSV, never holding the whole table in memory."""
    writer = csv.writer(_Echo())

    def generate():
        yield "\ufeff"  # so spreadsheet programs read UTF-8
        yield writer.writerow(list(headers))
        for row in rows:
            yield writer.writerow([safe_cell(value) for value in row])

    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "csv")}"'
    return response


def pdf_response(name: str, title: str, headers: Sequence[str], rows: Iterable[Sequence], subtitle: str = "") -> HttpResponse:
    """A landscape A4 PDF with a title and a striped table (at most PDF_MAX_ROWS rows)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    cell_style = styles["BodyText"].clone("cell", fontSize=7, leading=8.5)
    head_style = cell_style.clone("head", textColor=colors.white, fontName="Helvetica-Bold")
    data = [[Paragraph(_escape(h), head_style) for h in headers]]
    truncated = False
    for index, row in enumerate(rows):
        if index >= PDF_MAX_ROWS:
            truncated = True
            break
        data.append([Paragraph(_escape("" if v is None else str(v)), cell_style) for v in row])

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm, topMargin=10 * mm,
        bottomMargin=10 * mm, title=title,
    )
    story = [Paragraph(_escape(title), styles["Title"])]
    meta = f"Exported {timezone.now():%Y-%m-%d %H:%M} UTC · {len(data) - 1} rows"
    if subtitle:
        meta = f"{subtitle} · {meta}"
    if truncated:
        meta += f" (first {PDF_MAX_ROWS}; use CSV for all)"
    story += [Paragraph(_escape(meta), styles["Normal"]), Spacer(1, 4 * mm)]
    table = Table(data, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#4f46e5")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f4f6")]),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d1d5db")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)
    doc.build(story)
    response = HttpResponse(buffer.getvalue(), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "pdf")}"'
    return response


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
