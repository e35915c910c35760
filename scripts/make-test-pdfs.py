#!/usr/bin/env python3
"""Generates the PDF fixtures under test/fixtures/docs/ (committed; tests never run this).

Needs fpdf2 and pikepdf (pip), DejaVu Sans and WenQuanYi Micro Hei (Debian: fonts-dejavu-core,
fonts-wqy-microhei). Run: python3 scripts/make-test-pdfs.py

Every sentence the tests look for is written here once; test/docs/pdf.test.ts repeats them.
"""
import datetime
import os
import zlib

import pikepdf
from fpdf import FPDF

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'docs')
DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
DEJAVU_BOLD = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'
WQY = '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc'
FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class Report(FPDF):
    """A4 pages with a running header and a 'Page N of M' footer, as real reports have."""

    def header(self):
        self.set_font('dejavu', size=9)
        self.cell(0, 8, 'Squeeze Quarterly Report', align='C')
        self.ln(14)

    def footer(self):
        self.set_y(-15)
        self.set_font('dejavu', size=9)
        self.cell(0, 8, f'Page {self.page_no()} of {{nb}}', align='C')


def new_pdf(cls=FPDF):
    pdf = cls()
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_font('dejavu', fname=DEJAVU)
    pdf.add_font('dejavu', style='B', fname=DEJAVU_BOLD)
    pdf.add_font('wqy', fname=WQY)
    pdf.set_font('dejavu', size=11)
    pdf.set_auto_page_break(False)
    return pdf


def paragraph(pdf, text, width=0):
    pdf.multi_cell(width, 6, text, new_x='LMARGIN', new_y='NEXT')
    pdf.ln(3)


def report():
    pdf = new_pdf(Report)
    # Page 1: prose, with a word hyphenated across a line end.
    pdf.add_page()
    pdf.set_font('dejavu', size=16)
    pdf.cell(0, 10, 'Introduction', new_x='LMARGIN', new_y='NEXT')
    pdf.set_font('dejavu', size=11)
    paragraph(pdf, 'The lighthouse keeper counted forty-two ships in the harbour on Monday.')
    pdf.cell(0, 6, 'Every assistant must read the whole docu-', new_x='LMARGIN', new_y='NEXT')
    pdf.cell(0, 6, 'ment before it answers a question about it.', new_x='LMARGIN', new_y='NEXT')
    pdf.ln(3)
    paragraph(pdf, 'The annual budget for the observatory was set at nine million euros.')

    # Page 2: a table.
    pdf.add_page()
    pdf.set_font('dejavu', size=16)
    pdf.cell(0, 10, 'Regional results', new_x='LMARGIN', new_y='NEXT')
    pdf.set_font('dejavu', size=11)
    paragraph(pdf, 'The table below lists revenue by region for the third quarter.')
    rows = [('Region', 'Revenue', 'Growth'),
            ('Northland', '1200', '4%'),
            ('Southmark', '950', '-2%'),
            ('Eastvale', '2310', '11%')]
    with pdf.table(col_widths=(60, 60, 60), text_align='LEFT') as table:
        for row in rows:
            r = table.row()
            for cell in row:
                r.cell(cell)
    pdf.ln(4)
    paragraph(pdf, 'Eastvale grew fastest because of the new harbour bridge.')

    # Page 3: a title across the page, then two columns of prose.
    pdf.add_page()
    pdf.set_font('dejavu', size=16)
    pdf.cell(0, 10, 'Two perspectives', new_x='LMARGIN', new_y='NEXT')
    pdf.set_font('dejavu', size=11)
    top = pdf.get_y() + 2
    left = ('Left column begins here. The northern team studied glaciers for three summers and '
            'measured how quickly the ice retreated each year. Their conclusion was that the '
            'retreat doubled within a decade. Left column ends here.')
    right = ('Right column begins here. The southern team surveyed coral reefs along the coast '
             'and recorded the water temperature every morning. They found that bleaching '
             'followed every heat wave. Right column ends here.')
    pdf.set_xy(10, top)
    pdf.multi_cell(88, 6, left)
    pdf.set_xy(112, top)
    pdf.multi_cell(88, 6, right)

    # Page 4: Unicode text (accents, Greek, CJK).
    pdf.add_page()
    pdf.set_font('dejavu', size=16)
    pdf.cell(0, 10, 'Unicode', new_x='LMARGIN', new_y='NEXT')
    pdf.set_font('dejavu', size=11)
    paragraph(pdf, 'Crème brûlée and a naïve façade in Zürich cost 12 €.')
    paragraph(pdf, 'Greek letters: αβγ δέλτα.')
    pdf.set_font('wqy', size=12)
    paragraph(pdf, '文档助手可以阅读整个文件。')
    pdf.set_font('dejavu', size=11)
    paragraph(pdf, 'This is the last sentence of the report.')
    pdf.output(os.path.join(OUT, 'report.pdf'))


def grey_image(path):
    """A small PNG with no text in it (what a scanner produces, minus the words)."""
    w, h = 64, 48
    raw = b''.join(b'\x00' + bytes((x * 4 + y) % 256 for x in range(w)) for y in range(h))

    def chunk(kind, data):
        body = kind + data
        return len(data).to_bytes(4, 'big') + body + zlib.crc32(body).to_bytes(4, 'big')

    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', w.to_bytes(4, 'big') + h.to_bytes(4, 'big') + b'\x08\x00\x00\x00\x00')
           + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(png)


def scanned(image):
    pdf = new_pdf()
    for _ in range(2):
        pdf.add_page()
        pdf.image(image, x=10, y=10, w=190)
    pdf.output(os.path.join(OUT, 'scanned.pdf'))


def mixed(image):
    pdf = new_pdf()
    pdf.add_page()
    paragraph(pdf, 'The first page of the mixed file has a text layer.')
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    pdf.add_page()
    paragraph(pdf, 'The third page of the mixed file has text again.')
    pdf.output(os.path.join(OUT, 'mixed.pdf'))


def damaged_page():
    """mixed.pdf with page 1's content stream replaced by bytes that are not valid Flate data."""
    with pikepdf.open(os.path.join(OUT, 'mixed.pdf')) as doc:
        doc.pages[0].obj.Contents.write(b'\x78\x9c' + bytes(range(200)), filter=pikepdf.Name.FlateDecode)
        doc.save(os.path.join(OUT, 'damaged-page.pdf'), static_id=True)


def encrypted():
    pdf = new_pdf()
    pdf.add_page()
    paragraph(pdf, 'The vault combination is written on this secret page.')
    plain = os.path.join(OUT, 'plain-secret.tmp.pdf')
    pdf.output(plain)
    with pikepdf.open(plain) as doc:
        doc.save(os.path.join(OUT, 'encrypted.pdf'),
                 encryption=pikepdf.Encryption(owner='owner-pw', user='squeeze', R=6))
    os.remove(plain)


def corrupt():
    """A PDF header followed by bytes that are no PDF structure at all."""
    body = bytes((i * 37 + 11) % 251 for i in range(2048))
    with open(os.path.join(OUT, 'corrupt.pdf'), 'wb') as f:
        f.write(b'%PDF-1.7\n' + body)


def rotated():
    """A landscape page stored the way scanners and office suites write it: a portrait page whose
    content is drawn turned 90 degrees, with /Rotate 90 so viewers show it upright."""
    pdf = new_pdf()
    pdf.add_page()
    lines = ['Landscape page, first line: the quarterly totals follow.',
             'Second line: the ferry carried 8100 passengers in August.',
             'Third line: this page is shown rotated by ninety degrees.']
    with pdf.rotation(angle=90, x=105, y=148.5):
        for i, line in enumerate(lines):
            pdf.text(105 - 148.5 + 20, 148.5 - 105 + 30 + 10 * i, line)
    plain = os.path.join(OUT, 'rotated.tmp.pdf')
    pdf.output(plain)
    with pikepdf.open(plain) as doc:
        doc.pages[0].obj.Rotate = 90
        doc.save(os.path.join(OUT, 'rotated.pdf'), static_id=True)
    os.remove(plain)


def main():
    os.makedirs(OUT, exist_ok=True)
    image = os.path.join(OUT, 'scan.tmp.png')
    grey_image(image)
    report()
    scanned(image)
    mixed(image)
    damaged_page()
    encrypted()
    corrupt()
    rotated()
    os.remove(image)


if __name__ == '__main__':
    main()
