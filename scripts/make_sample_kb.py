"""Generate the binary files of the sample knowledge base examples/acme/ (fictional company Acme).

    .venv/bin/python scripts/make_sample_kb.py

Writes returns-policy.pdf (reportlab: 3 pages, headings, a footer repeated on every page) and
warranty.docx (python-docx: headings and a table). The text files of examples/acme/ are
written by hand and committed as they are. Output is deterministic (fixed PDF metadata dates)
so re-running the script does not churn the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "examples" / "acme"

RETURNS = [
    ("h1", "Acme Returns and Refunds Policy"),
    ("p", "This policy applies to all orders placed in the Acme online store and in Acme retail shops. "
          "It explains how long you have to return an item, what condition it must be in, and how refunds are paid."),
    ("h2", "1. Return window"),
    ("p", "You have 30 days from the date of delivery to return an item for a refund. "
          "Members of Acme Plus have an extended return window of 60 days. "
          "Items bought during the holiday season (1 November to 24 December) can be returned until 31 January of the following year."),
    ("p", "The return window is counted from the delivery date shown in your order tracking, not from the order date."),
    ("h2", "2. Condition of returned items"),
    ("p", "Items must be unused, in their original packaging, and include all accessories, manuals and gifts that came with them. "
          "Clothing must have its tags attached. We may refuse a return or deduct up to 15% of the price for items that show signs of use."),
    ("h2", "3. Items that cannot be returned"),
    ("li", "Gift cards and downloadable software."),
    ("li", "Personalised or engraved products."),
    ("li", "Perishable goods such as food and flowers."),
    ("li", "Underwear, swimwear and earrings, for hygiene reasons, unless the seal is unbroken."),
    ("li", "Items marked as Final Sale on the product page."),
    ("pagebreak", ""),
    ("h2", "4. How to start a return"),
    ("p", "Log in to your Acme account, open Orders, choose the item and select Return item. "
          "Print the prepaid return label, pack the item securely and drop it at any parcel point within 7 days. "
          "Guest customers can start a return with their order number and e-mail address at acme.example/returns."),
    ("p", "You can also return online orders to any Acme retail shop. Bring the order confirmation and the item in its packaging."),
    ("h2", "5. Return shipping costs"),
    ("p", "Returns of faulty, damaged or wrongly shipped items are free: Acme pays the return shipping. "
          "For change-of-mind returns, a return shipping fee of $6.95 is deducted from your refund. "
          "Acme Plus members never pay return shipping."),
    ("h2", "6. Refunds"),
    ("p", "Once your return arrives at our warehouse we inspect it within 2 business days. "
          "Refunds are issued to the original payment method within 5 to 7 business days after inspection. "
          "Original shipping charges are refunded only when the item was faulty or wrongly shipped."),
    ("pagebreak", ""),
    ("h2", "7. Exchanges"),
    ("p", "If you want a different size or colour, start a return and place a new order; "
          "exchanges of the same item in another size are shipped free of charge once the return is scanned at the parcel point."),
    ("h2", "8. Damaged or faulty items"),
    ("p", "If an item arrives damaged, contact customer service within 48 hours of delivery with a photo of the damage and of the packaging. "
          "We will send a replacement or a full refund, including the original shipping costs. "
          "Faults that appear later are covered by the Acme warranty; see the Warranty Policy."),
    ("h2", "9. Contact"),
    ("p", "Questions about a return? Chat with us in the Acme app, e-mail support@acme.example, "
          "or call 1-800-555-0199, Monday to Friday, 8:00 to 20:00."),
]

WARRANTY_PERIODS = [
    ("Product category", "Warranty period", "Acme Care+ extension"),
    ("Laptops and tablets", "2 years", "+2 years"),
    ("Phones", "1 year", "+1 year"),
    ("Headphones and speakers", "1 year", "+1 year"),
    ("Kitchen appliances", "3 years", "+2 years"),
    ("Batteries and chargers", "6 months", "not available"),
]


def make_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import ListFlowable, ListItem, PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()

    def footer(canvas: object, doc: object) -> None:
        c = canvas
        c.saveState()  # type: ignore[attr-defined]
        c.setFont("Helvetica", 8)  # type: ignore[attr-defined]
        c.drawString(2 * cm, 1.2 * cm, "Acme Inc. - Returns and Refunds Policy - version 2026-01 - internal ref. POL-RET-7")  # type: ignore[attr-defined]
        c.drawRightString(19 * cm, 1.2 * cm, f"Page {c.getPageNumber()}")  # type: ignore[attr-defined]
        c.restoreState()  # type: ignore[attr-defined]

    story: list[object] = []
    bullets: list[object] = []
    for kind, text in RETURNS + [("end", "")]:
        if kind != "li" and bullets:
            story.append(ListFlowable(bullets, bulletType="bullet", start="-"))
            bullets = []
        if kind == "h1":
            story.append(Paragraph(text, styles["Title"]))
        elif kind == "h2":
            story.append(Paragraph(text, styles["Heading2"]))
        elif kind == "p":
            story.append(Paragraph(text, styles["BodyText"]))
            story.append(Spacer(1, 4))
        elif kind == "li":
            bullets.append(ListItem(Paragraph(text, styles["BodyText"])))
        elif kind == "pagebreak":
            story.append(PageBreak())
    doc = SimpleDocTemplate(
        str(path), pagesize=A4, title="Acme Returns and Refunds Policy", author="Acme Inc.",
        creator="scripts/make_sample_kb.py", invariant=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Acme Warranty Policy"
    d.core_properties.author = "Acme Inc."
    from datetime import datetime

    fixed = datetime(2026, 1, 1)
    d.core_properties.created = fixed
    d.core_properties.modified = fixed
    d.core_properties.last_printed = fixed
    d.add_heading("Acme Warranty Policy", level=1)
    d.add_paragraph(
        "Every product sold by Acme comes with the Acme manufacturer warranty at no extra cost. "
        "The warranty covers defects in materials and workmanship under normal use."
    )
    d.add_heading("Warranty periods", level=2)
    d.add_paragraph("The warranty starts on the delivery date. Periods by product category:")
    table = d.add_table(rows=0, cols=3)
    for row in WARRANTY_PERIODS:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    d.add_heading("What the warranty covers", level=2)
    d.add_paragraph(
        "Repair or replacement of a defective product, including parts and labour. "
        "If a repair is not possible, Acme replaces the product with the same or an equivalent model, "
        "or refunds the purchase price."
    )
    d.add_heading("What the warranty does not cover", level=2)
    for text in (
        "Accidental damage such as drops, cracked screens and liquid damage (covered by Acme Care+ only).",
        "Normal wear and tear, cosmetic scratches and battery capacity loss below 80% after the first year.",
        "Products repaired or opened by anyone other than Acme or an authorised service partner.",
    ):
        d.add_paragraph(text, style="List Bullet")
    d.add_heading("How to make a warranty claim", level=2)
    d.add_paragraph(
        "Open a warranty claim in your Acme account under Orders > Get help, or visit any Acme retail shop with "
        "the product and proof of purchase. Acme arranges free pick-up for products over 10 kg. "
        "Most repairs are completed within 10 business days; you receive a loan device for laptops and phones "
        "when the repair takes longer than 5 business days."
    )
    d.add_heading("Acme Care+", level=2)
    d.add_paragraph(
        "Acme Care+ is an optional protection plan bought within 30 days of delivery. It extends the warranty "
        "(see the table above) and adds two accidental damage claims per year with a $49 service fee each."
    )
    d.save(str(path))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    make_pdf(OUT / "returns-policy.pdf")
    make_docx(OUT / "warranty.docx")
    print(f"wrote {OUT / 'returns-policy.pdf'} and {OUT / 'warranty.docx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
