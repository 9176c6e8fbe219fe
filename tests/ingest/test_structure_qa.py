"""Structure the QA testers found lost at ingest: a PDF's numbered steps, a PDF's ruled table, a
policy's article lines (DOCX, TXT), a notice's dated entries (TXT), and what `kb delete` says of a
name it does not find, and a bullet's sub-bullets (Markdown)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ingest.chunking import chunk_elements
from ingest.loaders import Element, load_file


def _elements(path: Path) -> list[Element]:
    return list(load_file(path, path.parent, 50).elements)


def _chunk_texts(path: Path) -> list[str]:
    loaded = load_file(path, path.parent, 50)
    return [c.text for c in chunk_elements(loaded.document, loaded.elements, lambda t: len(t.split()), 200, 0)]


# --------------------------------------------------------------------------------------------
# 1. a PDF's numbered list keeps its numbers

STEPS = [
    "1. Lock the card in the app under Cards > Lock card.",
    "2. Call 1-800-555-0177 to report the card lost or stolen.",
    "3. Review your recent transactions with the agent.",
    "4. Confirm your mailing address for the new card.",
]


def _steps_pdf(path: Path) -> Path:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = [Paragraph("Card help", styles["Title"]), Paragraph("Reporting a lost card", styles["Heading2"]),
             Paragraph("If your card is lost or stolen, act right away.", styles["BodyText"])]
    story += [Paragraph(step, styles["BodyText"]) for step in STEPS]
    story.append(Paragraph("- Keep your card number to hand.", styles["BodyText"]))
    SimpleDocTemplate(str(path)).build(story)
    return path


def test_a_pdf_numbered_list_keeps_its_numbers_as_markdown_does(tmp_path: Path) -> None:
    els = _elements(_steps_pdf(tmp_path / "cards.pdf"))
    items = [el.text for el in els if el.kind == "list_item"]
    # were "Lock the card ...", chunked as "- Lock the card ...": no steps to say in order
    assert items == [*STEPS, "Keep your card number to hand."]
    text = "\n".join(_chunk_texts(tmp_path / "cards.pdf"))
    assert "\n".join(STEPS) in text and "- 1." not in text
    assert "- Keep your card number to hand." in text  # a bullet is still a bullet


# --------------------------------------------------------------------------------------------
# 2. a PDF's table drawn with ruling lines is read as a Markdown table

ROWS = [
    ["Card", "Delivery", "Fee", "Arrives in"],
    ["Debit card", "Standard", "$0", "7 to 10 business days"],
    ["Debit card", "Expedited", "$25", "2 business days"],
    ["Credit card", "Standard", "$0", "5 to 7 business days"],
    ["Credit card", "Expedited", "$15", "1 to 2 business days"],
]
TABLE_MD = "\n".join(
    ["| Card | Delivery | Fee | Arrives in |", "|---|---|---|---|"]
    + ["| " + " | ".join(r) + " |" for r in ROWS[1:]]
)


def _table_pdf(path: Path, rows: list[list[str]] = ROWS, pages: int = 1, grid: bool = True) -> Path:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph("Card Services", styles["Title"])]
    for n in range(pages):
        story += [
            Paragraph(f"Card replacement {n + 1}", styles["Heading2"]),
            Paragraph("You can order a replacement card in the app, online, or by calling us.", styles["BodyText"]),
            Table(rows, style=TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")] if grid else [])),
            Paragraph("Premier customers pay no fee for expedited delivery.", styles["BodyText"]),
        ]
        if n + 1 < pages:
            story.append(PageBreak())
    SimpleDocTemplate(str(path)).build(story)
    return path


def test_a_pdf_table_drawn_with_ruling_lines_is_one_markdown_table_in_reading_order(tmp_path: Path) -> None:
    els = _elements(_table_pdf(tmp_path / "card-services.pdf"))
    # was "Card" / "Delivery" / "Fee Arrives in" / "Debit card" / "Standard" / "$0" ...: one paragraph a cell
    assert [(el.kind, el.text) for el in els] == [
        ("heading", "Card Services"),
        ("heading", "Card replacement 1"),
        ("paragraph", "You can order a replacement card in the app, online, or by calling us."),
        ("table", TABLE_MD),
        ("paragraph", "Premier customers pay no fee for expedited delivery."),
    ]
    texts = _chunk_texts(tmp_path / "card-services.pdf")
    assert "| Debit card | Expedited | $25 | 2 business days |" in "\n".join(texts)
    assert not any(t.strip() in ("Standard", "$0", "Debit card") for t in "\n".join(texts).splitlines())


def test_a_ruled_table_cell_of_two_lines_is_one_cell_and_a_bar_in_it_is_escaped(tmp_path: Path) -> None:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph

    body = getSampleStyleSheet()["BodyText"]
    rows: list[list[Any]] = [["Plan", "Includes"],
                             ["Basic", Paragraph("Online banking and the mobile app, with alerts by email", body)],
                             ["Plus | Gold", "Everything in Basic"]]
    els = _elements(_table_pdf(tmp_path / "plans.pdf", rows))
    table = next(el.text for el in els if el.kind == "table")
    lines = table.split("\n")
    assert lines[2].startswith("| Basic | Online banking and the mobile app") and lines[2].endswith("email |")
    assert lines[3] == "| Plus \\| Gold | Everything in Basic |"


def test_a_merged_cell_of_a_ruled_table_stands_in_every_column_it_spans(tmp_path: Path) -> None:
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    rows = [["Service", "Fee", "Note"], ["Wire transfer", "$30", "per transfer"], ["Stop payment", "Free for Premier", ""]]
    style = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"), ("SPAN", (1, 2), (2, 2))])
    path = tmp_path / "fees.pdf"
    SimpleDocTemplate(str(path)).build([Table(rows, style=style)])
    table = next(el.text for el in _elements(path) if el.kind == "table")
    assert table.split("\n")[3] == "| Stop payment | Free for Premier | Free for Premier |"


def test_a_pdf_table_without_ruling_lines_and_a_framed_page_are_read_as_before(tmp_path: Path) -> None:
    # no rules: no table is guessed from the text's columns (read as it was)
    els = _elements(_table_pdf(tmp_path / "plain.pdf", grid=False))
    assert not any(el.kind == "table" for el in els)
    assert any(el.text == "Debit card" for el in els)
    # a frame around a page and a rule under its heading: a grid, but no table
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "framed.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.rect(40, 40, 515, 760)
    c.line(40, 740, 555, 740)
    c.line(300, 40, 300, 740)
    c.setFont("Helvetica", 16)
    c.drawString(60, 760, "Branch guide")
    c.setFont("Helvetica", 10)
    for i in range(60):  # two columns of text, far more words than a table's cell holds
        c.drawString(60, 720 - 11 * i, f"Line {i} of the left column tells how the branch opens on weekdays.")
        c.drawString(310, 720 - 11 * i, f"Line {i} of the right column tells you about safe boxes.")
    c.save()
    els = _elements(path)
    assert not any(el.kind == "table" for el in els)
    assert "Line 0 of the left column" in " ".join(el.text for el in els)


def test_ruled_tables_keep_a_long_pdf_fast(tmp_path: Path) -> None:
    rows = [["Service", "Fee", "When"]] + [[f"Service {i}", f"${i}", f"{i} days"] for i in range(25)]
    path = _table_pdf(tmp_path / "long.pdf", rows, pages=50)
    started = time.perf_counter()
    els = _elements(path)
    took = time.perf_counter() - started
    assert sum(el.kind == "table" for el in els) == 50
    assert took < 60, f"50 pages with tables took {took:.1f} s"


# --------------------------------------------------------------------------------------------
# 3. a policy's article lines are its headings (DOCX, TXT)

ARTICLES = [
    ("第一条 适用范围", "本政策适用于在中国大陆地区购买的全部车型。"),
    ("第五条 二手车质保转移", "车辆过户后30日内，新车主可到任一授权服务网点办理质保转移，办理免费。"),
    ("第六条 质保除外情形", "以下情形不在质保范围内：交通事故造成的损坏。"),
]


def _policy_docx(path: Path, closing: str = "第七条 本政策自2026年1月1日起施行。") -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph("启航汽车质保政策", style="Title")
    for head, text in ARTICLES:
        d.add_paragraph(head)
        d.add_paragraph(text)
    d.add_paragraph(closing)
    d.save(str(path))
    return path


def test_docx_article_lines_are_headings_under_the_title_and_their_text_is_not(tmp_path: Path) -> None:
    els = _elements(_policy_docx(tmp_path / "warranty_policy.docx"))
    assert [(el.kind, el.level, el.text) for el in els if el.kind == "heading"] == [
        ("heading", 1, "启航汽车质保政策"), *(("heading", 2, head) for head, _ in ARTICLES)]
    # an article that goes on into its text on its paragraph is text
    assert els[-1].kind == "paragraph" and els[-1].text.startswith("第七条 本政策")
    texts = _chunk_texts(tmp_path / "warranty_policy.docx")
    assert not any("第五条 二手车质保转移" in t for t in texts)  # a heading, never a stray sentence
    assert not any("30日内" in t and "交通事故" in t for t in texts)  # no chunk across two articles


def test_chapters_sections_and_articles_nest(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("会员章程", style="Title")
    for line in ("第一章 总则", "第一节 会员资格", "第一条 入会条件", "年满18周岁的用户可申请入会。",
                 "第二章　积分", "第二条：积分有效期", "积分自获得之日起12个月内有效。"):
        d.add_paragraph(line)
    d.save(str(tmp_path / "rules.docx"))
    heads = [(el.level, el.text) for el in _elements(tmp_path / "rules.docx") if el.kind == "heading"]
    assert heads == [(1, "会员章程"), (2, "第一章 总则"), (3, "第一节 会员资格"), (4, "第一条 入会条件"),
                     (2, "第二章 积分"), (4, "第二条：积分有效期")]


def test_txt_article_lines_are_headings_even_over_a_short_text_and_in_a_run(tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_text(
        "会员章程\n\n第一章 总则\n第一条 入会条件\n年满18周岁的用户可申请入会。\n\n"
        "第五条 二手车质保转移\n办理免费。\n\n第六条 本政策自2026年1月1日起施行。\n",
        encoding="utf-8",
    )
    els = _elements(path)
    heads = [el.text for el in els if el.kind == "heading"]
    # "第五条 ..." over a text less than twice its width, and "第一条 ..." third in a run of short lines
    assert heads == ["会员章程", "第一章 总则", "第一条 入会条件", "第五条 二手车质保转移"]
    assert any(el.kind == "paragraph" and el.text == "办理免费。" for el in els)
    assert any(el.kind == "paragraph" and el.text.startswith("第六条 本政策") for el in els)


# --------------------------------------------------------------------------------------------
# 4. a notice's dated entries are headings (TXT)

NOTICE = """HARBOR BANK - NOTICE OF FEE CHANGES

This notice lists changes to the Harbor Bank Fee Schedule. Where this notice and the Fee Schedule differ, this notice applies.

March 1, 2026 - Overdraft fee reduced (in effect)
The overdraft fee for Everyday and Plus Checking is reduced from $35 to $29 per item. The maximum number of overdraft fees per day is reduced from 3 to 2.

July 15, 2026 - Expedited debit card delivery (in effect)
The fee for expedited delivery of a replacement debit card is reduced from $25 to $20.

2027年2月1日 境外汇款手续费调整
境外汇款手续费调整为55元。
"""


def test_txt_dated_entries_are_headings_of_their_text_however_short(tmp_path: Path) -> None:
    path = tmp_path / "fee-changes.txt"
    path.write_text(NOTICE, encoding="utf-8")
    els = _elements(path)
    pairs = [(el.kind, el.text) for el in els]
    # was one paragraph "July 15, 2026 - Expedited debit card delivery (in effect) The fee for ...",
    # cited under the March entry
    i = pairs.index(("heading", "July 15, 2026 - Expedited debit card delivery (in effect)"))
    assert pairs[i + 1] == ("paragraph", "The fee for expedited delivery of a replacement debit card is reduced from $25 to $20.")
    assert ("heading", "2027年2月1日 境外汇款手续费调整") in pairs
    assert ("heading", "March 1, 2026 - Overdraft fee reduced (in effect)") in pairs


def test_a_dated_entry_the_partitioner_took_for_text_is_a_heading_too(tmp_path: Path) -> None:
    # of a utility's two entries the one with the shorter title was read as a sentence, run into
    # the entry above it and quoted in its answers (QA)
    path = tmp_path / "gas.txt"
    path.write_text("江城公用事业集团燃气价格调整公告\n\n2026年11月10日 - 居民燃气第一档价格调整\n"
                    "自2026年12月1日起，居民管道天然气第一档价格调整为每立方米2.61元（原为2.53元），第二档、第三档价格不变。\n\n"
                    "2026年11月15日 - 燃气表更换\n2026年12月起对使用满10年的燃气表免费更换，工作人员将提前电话预约，不收取任何费用。\n",
                    encoding="utf-8")
    pairs = [(el.kind, el.text) for el in _elements(path)]
    i = pairs.index(("heading", "2026年11月15日 - 燃气表更换"))
    assert pairs[i + 1][0] == "paragraph" and pairs[i + 1][1].startswith("2026年12月起对使用满10年")
    assert ("heading", "2026年11月10日 - 居民燃气第一档价格调整") in pairs
    # a schedule of dated lines is text, every line of it in a chunk (a regression hunt's)
    path.write_text("停电检修通知\n\n检修安排如下：\n2026年11月3日 滨江路、江南大道沿线\n2026年11月5日 解放路、人民路沿线\n"
                    "2026年11月8日 江北新区全域\n\n检修时间为当日8时至17时，如遇雨天顺延。\n", encoding="utf-8")
    els = _elements(path)
    assert not any(el.kind == "heading" and "沿线" in el.text for el in els)
    assert "解放路" in "\n".join(el.text for el in els)


def test_a_date_alone_over_a_letter_is_not_made_a_heading(tmp_path: Path) -> None:
    path = tmp_path / "letter.txt"
    path.write_text("Harbor Bank\n\n12 March 2026\nWe are writing to tell you about a change to your account.\n",
                    encoding="utf-8")
    assert not any(el.kind == "heading" and el.text == "12 March 2026" for el in _elements(path))


# --------------------------------------------------------------------------------------------
# 5. `kb delete` of a name it does not find says what to do


@pytest.fixture()
def harbor(tmp_path: Path, fake_embedder: Any) -> tuple[Any, Any, Path]:
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "faq.csv").write_text("question,answer\nHow do I order a card?,In the app.\n", encoding="utf-8")
    (docs / "fees.md").write_text("# Fees\n\nA wire transfer costs $30.\n", encoding="utf-8")
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["question", "answer"])
    ws.append(["Can I lock my card?", "Yes, under Cards > Lock card."])
    wb.save(str(docs / "faq.xlsx"))
    kb = KnowledgeBase(tmp_path / "home", "harbor")
    ingest_paths(kb, [docs], fake_embedder)
    return kb, fake_embedder, docs


def test_kb_delete_of_a_typo_suggests_the_nearest_name(harbor: tuple[Any, Any, Path]) -> None:
    from ingest.pipeline import delete_sources

    kb, emb, _ = harbor
    got = delete_sources(kb, ["faq.xls"], emb, paths=True)
    assert got.deleted == 0
    assert got.failed[0]["error"] == (
        "faq.xls: not in the knowledge base (did you mean 'faq.xlsx'?); `kb status --sources` lists them")


def test_kb_delete_of_a_cited_faq_entry_says_it_goes_with_its_file(harbor: tuple[Any, Any, Path]) -> None:
    # QA: "kb delete faq/club-faq.csv#da08c7f843db", an id answers cite, was "not in the knowledge
    # base"; the HTTP delete says what to do
    from ingest.pipeline import delete_sources

    kb, emb, _ = harbor
    got = delete_sources(kb, ["faq.xlsx#3adb76ecb007"], emb, paths=True)
    assert got.deleted == 0 and got.failed[0]["error"] == (
        "faq.xlsx#3adb76ecb007: an FAQ entry goes with its file; kb delete faq.xlsx removes the file's entries, "
        "or remove the row from the file and ingest it again")


def test_kb_delete_of_a_deleted_document_says_it_is_deleted_already(harbor: tuple[Any, Any, Path]) -> None:
    from ingest.pipeline import delete_sources

    kb, emb, docs = harbor
    assert delete_sources(kb, ["faq.xlsx"], emb, paths=True).deleted == 1
    again = delete_sources(kb, ["faq.xlsx"], emb, paths=True).failed[0]["error"]
    # was "faq.xlsx: not in the knowledge base; `kb status --sources` lists them"
    assert again.startswith("faq.xlsx: already deleted (on ")
    assert f"to add it back, run kb ingest {docs.resolve() / 'faq.xlsx'}" in again and "\n" not in again
    # its typo, once it is gone, is told of the deleted document rather than of nothing
    typo = delete_sources(kb, ["faq.xls"], emb, paths=True).failed[0]["error"]
    assert typo == ("faq.xls: not in the knowledge base (did you mean 'faq.xlsx'? it was deleted with kb delete); "
                    "`kb status --sources` lists the documents it holds")
    far = delete_sources(kb, ["handbook.pdf"], emb, paths=True).failed[0]["error"]
    assert far == "handbook.pdf: not in the knowledge base; `kb status --sources` lists them"


# --------------------------------------------------------------------------------------------
# a bullet's sub-bullets say whose they are


def test_a_roles_sub_bullets_are_read_as_that_roles(tmp_path: Path) -> None:
    from rag.compose import passage_sentences

    # an admin guide's roles (QA): the sub-bullets were chunked flat, "- Can see invoices, …"
    # after "- Billing manager – …" with nothing tying it to that role, and "Can Admins see
    # invoices?" was answered "Can see invoices, update the payment method and change the plan"
    path = tmp_path / "admin-guide.md"
    path.write_text(
        "## Roles and permissions\n\nEvery person has exactly one role.\n\n"
        "- **Admin** – manages people and settings.\n  - Can invite and remove members.\n"
        "  - Cannot see billing pages unless also given the Billing manager role.\n"
        "- **Billing manager** – an extra role.\n  - Can see invoices, update the payment method and change the plan.\n"
        "  - Cannot manage people.\n",
        encoding="utf-8",
    )
    (text,) = _chunk_texts(path)
    said = passage_sentences(text)
    assert "Billing manager: Can see invoices, update the payment method and change the plan." in said
    assert "Admin: Cannot see billing pages unless also given the Billing manager role." in said
    assert not any(s.startswith(("Can ", "Cannot ")) for s in said)
