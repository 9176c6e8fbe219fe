"""Structure-aware chunking: FAQ entries whole, heading paths, sentence splits (zh and en),
token limit including the embed prefix, overlap, tables."""

from __future__ import annotations

import re
from pathlib import Path

from indexes.types import CONTINUES, Document, sha256_hex
from ingest.chunking import chunk_elements, chunk_faq
from ingest.loaders import Element, FaqRow, rows_to_faq


def count(text: str) -> int:
    """A deterministic stand-in for embedder.count_tokens: words, CJK characters, punctuation."""
    return len(re.findall(r"[\u4e00-\u9fff]|[A-Za-z0-9]+|[^\sA-Za-z0-9\u4e00-\u9fff]", text))


def doc(title: str = "Policy", lang: str = "en", **meta: object) -> Document:
    return Document(id="d1", source="policy.md", title=title, lang=lang, metadata=meta)


def test_faq_entries_never_split() -> None:
    long_answer = "Returns are free. " * 200
    rows = [FaqRow("0042", "How do returns work?", long_answer, {"tags": ("returns",)}), FaqRow("7", "Hi?", "Hello.")]
    d = Document(id="f1", source="faq.csv", title="faq", lang="en", kind="faq", metadata={"groups": ("staff",)})
    chunks = chunk_faq(d, rows, count)
    assert len(chunks) == 2
    c = chunks[0]
    assert c.text == f"Q: How do returns work?\nA: {long_answer}"
    assert (c.question, c.answer, c.faq_id, c.kind) == ("How do returns work?", long_answer, "0042", "faq")
    assert c.source_id == "faq.csv#0042" and c.groups == ("staff",) and "returns" in c.tags
    assert len({x.id for x in chunks}) == 2


def test_an_faq_entry_is_located_by_its_id_and_its_question() -> None:
    # "FAQ e9339c0d4c24" (the id made from the entry's text where the sheet has no id column) named
    # nothing an agent could find in the sheet; its question does (a count of the entries would not
    # match the sheet's rows: the row without an answer is skipped)
    d = Document(id="f1", source="telecom_faq.csv", title="telecom faq", lang="zh", kind="faq")
    header = ["question", "answer"]
    long_q = "What happens to my unused mobile data at the end of the month if I change my plan halfway?"
    rows, _ = rows_to_faq(header, [["5G畅享套餐每月多少钱？", "129元。"], ["No answer?", ""],
                                   ["How do I reset my password?", "Use the link."], [long_q, "It rolls over."],
                                   ["How do I reset my password?", "Use the link."]], "telecom_faq.csv")
    chunks = chunk_faq(d, rows, count)
    assert [c.locator for c in chunks] == [
        "FAQ: 5G畅享套餐每月多少钱？",
        "FAQ: How do I reset my password?",
        "FAQ: What happens to my unused mobile data at the end of the…",
        "FAQ: How do I reset my password?",
    ]
    # the ids that deletes, updates and the eval's gold ("faq.csv#1") key on are as they were
    assert chunks[0].faq_id == sha256_hex("5G畅享套餐每月多少钱？\n129元。", 12)
    assert chunks[3].faq_id == f"{chunks[1].faq_id}-2"
    assert chunks[0].source_id == f"telecom_faq.csv#{chunks[0].faq_id}"
    # a sheet's own ids name its entries
    curated = chunk_faq(d, [FaqRow("7", "Hi?", "Hello."), FaqRow("S16", "Can I pay by card?", "Yes.")], count)
    assert [c.locator for c in curated] == ["FAQ #7: Hi?", "FAQ S16: Can I pay by card?"]
    assert [c.source_id for c in curated] == ["telecom_faq.csv#7", "telecom_faq.csv#S16"]


def test_heading_paths_and_merging() -> None:
    els = [
        Element("heading", "Refund policy", level=1),
        Element("paragraph", "Intro."),
        Element("heading", "Exceptions", level=2),
        Element("paragraph", "Gift cards are final."),
        Element("list_item", "Software."),
        Element("heading", "Deep", level=3),
        Element("paragraph", "Deep text."),
        Element("heading", "Refunds", level=2),
        Element("paragraph", "Five days."),
    ]
    chunks = chunk_elements(doc("Refund policy"), els, count, 64, 8)
    paths = [c.heading_path for c in chunks]
    assert paths == [
        ("Refund policy",),
        ("Refund policy", "Exceptions"),
        ("Refund policy", "Exceptions", "Deep"),
        ("Refund policy", "Refunds"),
    ]
    assert chunks[1].text == "Gift cards are final.\n- Software."  # small blocks of a section merged
    assert chunks[1].locator == "Refund policy > Exceptions"
    assert chunks[1].embed_text().startswith("Refund policy > Exceptions\n")
    assert [c.position for c in chunks] == [0, 1, 2, 3]


def test_a_list_item_numbered_in_its_text_keeps_its_number_without_a_bullet() -> None:
    els = [Element("heading", "How to make a claim", level=1), Element("list_item", "1. Sign in."),
           Element("list_item", "2) Ship it."), Element("list_item", "Keep the box.")]
    chunks = chunk_elements(doc("Warranty"), els, count, 64, 8)
    assert chunks[0].text == "1. Sign in.\n2) Ship it.\n- Keep the box."  # not "- 1. Sign in."


def test_chinese_sentences_split_and_limit_respected() -> None:
    sentence = "退货运费由买家承担，质量问题由卖家承担。"
    els = [Element("heading", "退换货政策", level=1), Element("paragraph", sentence * 30)]
    chunks = chunk_elements(doc("退换货政策", lang="zh"), els, count, 60, 10)
    assert len(chunks) > 3
    for c in chunks:
        assert count(c.embed_text()) <= 60
        assert c.text.endswith("。")  # split on sentence boundaries
        assert c.lang == "zh"
    # overlap: each chunk after the first starts with the previous chunk's last sentence
    assert chunks[1].text.startswith(sentence)


def test_english_limit_with_long_title_prefix() -> None:
    title = "Acme Returns and Refunds Policy for All Stores"
    text = " ".join(f"Sentence number {i} explains one rule of the policy." for i in range(80))
    els = [Element("heading", "A rather long section heading about refunds", level=2), Element("paragraph", text)]
    chunks = chunk_elements(doc(title), els, count, 48, 8)
    assert all(count(c.embed_text()) <= 48 for c in chunks)
    assert all(c.n_tokens == count(c.embed_text()) for c in chunks)
    joined = " ".join(c.text for c in chunks)
    for i in range(80):
        assert f"Sentence number {i} explains" in joined  # nothing lost


def test_a_chunk_a_few_tokens_over_is_cut_between_its_lines_not_inside_one() -> None:
    """The tokens of a chunk's joined lines can be more than their sum ("\n" between them costs a
    token with some tokenizers): "Bags heavier than 32 kg ... must be sent as cargo." lost "as
    cargo." to a chunk of its own, cut where the tokens ran out. Such a chunk is cut at the line
    break nearest its middle, each piece whole."""

    def count_nl(text: str) -> int:
        return count(text) + 2 * text.count("\n")

    items = ["1. An additional checked bag costs EUR 35 when added online.", "2. The same bag costs EUR 50 at the airport.",
             "3. A bag between 23 kg and 32 kg costs EUR 70 more.", "4. Bags heavier than 32 kg must be sent as cargo."]
    els = [Element("heading", "Fees", level=2)] + [Element("list_item", t) for t in items]
    chunks = chunk_elements(doc(), els, count_nl, 60, 0)
    assert [c.text for c in chunks] == ["\n".join(items[:2]), "\n".join(items[2:])]
    assert all(c.n_tokens <= 60 and not c.text.startswith(CONTINUES) for c in chunks)
    # one line alone over the limit is cut inside, as before, and says so
    long = [Element("paragraph", " ".join(["word"] * 70))]
    pieces = chunk_elements(doc(), long, count_nl, 60, 0)
    assert len(pieces) > 1 and pieces[1].text.startswith(CONTINUES)


def test_overlong_sentence_hard_split() -> None:
    for text in ("word " * 300, "word  " * 300, "字" * 300):
        chunks = chunk_elements(doc(), [Element("paragraph", text.strip())], count, 40, 0)
        assert all(count(c.embed_text()) <= 40 for c in chunks)
        assert sum(c.text.count("word") + c.text.count("字") for c in chunks) == 300
        # each chunk after the first starts inside the sentence, and says so; what is embedded
        # and indexed does not
        assert not chunks[0].text.startswith(CONTINUES)
        assert len(chunks) > 1 and all(c.text.startswith(CONTINUES) for c in chunks[1:])
        assert not any(c.embed_text().split("\n")[-1].startswith(CONTINUES) for c in chunks)


def test_a_chunk_starts_with_the_continues_mark_only_inside_a_split_sentence() -> None:
    long = "Acme " + "really " * 60 + "likes returns."
    els = [Element("paragraph", "Returns are free. Exchanges are free too."), Element("paragraph", long),
           Element("paragraph", "Refunds take five days.")]
    chunks = chunk_elements(doc(), els, count, 40, 0)
    starts = [c.text.startswith(CONTINUES) for c in chunks]
    # whole sentences open the first chunk and the long sentence's first; its later pieces are
    # marked, also the one the next paragraph joins
    opening = next(i for i, c in enumerate(chunks) if "Acme really" in c.text)
    assert starts[: opening + 1] == [False] * (opening + 1) and all(starts[opening + 1 :])
    assert chunks[-1].text.endswith("likes returns.\nRefunds take five days.")


def test_table_kept_whole_or_split_with_header() -> None:
    small = "| Product | Period |\n|---|---|\n| Laptop | 2 years |\n| Phone | 1 year |"
    chunks = chunk_elements(doc(), [Element("heading", "Warranty", level=1), Element("table", small)], count, 64, 8)
    assert [c.kind for c in chunks] == ["table"] and chunks[0].text == small
    rows = "\n".join(f"| Product {i} | {i} years |" for i in range(40))
    big = "| Product | Period |\n|---|---|\n" + rows
    chunks = chunk_elements(doc(), [Element("table", big)], count, 64, 8)
    assert len(chunks) > 1
    for c in chunks:
        assert c.kind == "table"
        assert c.text.startswith("| Product | Period |\n|---|---|\n")
        assert count(c.embed_text()) <= 64
    assert sum(c.text.count("years") for c in chunks) == 40
    # a table that fits goes with its section's text: its lead-in says what it lists
    els = [Element("heading", "Shipping in the United States", level=1),
           Element("paragraph", "We offer two shipping speeds."), Element("table", small),
           Element("paragraph", "Orders ship the same day."), Element("heading", "Canada", level=1),
           Element("paragraph", "Shipping to Canada takes 7 days.")]
    chunks = chunk_elements(doc(), els, count, 64, 8)
    assert [c.text for c in chunks] == [f"We offer two shipping speeds.\n{small}\nOrders ship the same day.",
                                        "Shipping to Canada takes 7 days."]
    assert [c.kind for c in chunks] == ["text", "text"]


def test_a_table_piece_cut_to_fit_begins_with_the_table_s_header() -> None:
    # a piece of a table that came out a few tokens over the limit (the embedder counts the joined
    # text, not its rows) was cut again at its lines: "| Price (billed annually) | $6.40 | $13.60 |
    # Custom |" went to a chunk of its own without "| Feature | Starter | Pro | Enterprise |", and
    # no answer could say which plan costs what
    from ingest.chunking import _boundary_split

    head = "| Feature | Starter | Pro | Enterprise |\n|---|---|---|---|"
    rows = ["| Price (billed monthly) | $8 | $17 | Contact sales |", "| Price (billed annually) | $6.40 | $13.60 | Custom |",
            "| Maximum users | 10 | 250 | Unlimited |"]
    text = "All prices are per user per month.\n" + head + "\n" + "\n".join(rows) + "\nPrices exclude VAT."
    pieces = _boundary_split(text, 60, count)
    assert pieces is not None and len(pieces) > 1
    for row in rows:  # every row is said once, under the header
        (piece,) = [p for p in pieces if row in p]
        assert head in piece, piece
    assert all(count(p) <= 60 for p in pieces)
    assert pieces[-1].endswith("Prices exclude VAT.")
    # text without a table is cut as before
    plain = " ".join(f"Sentence number {i} says one thing." for i in range(20))
    assert all(not p.startswith("|") for p in _boundary_split(plain, 30, count) or ["x"])


def test_an_faq_entry_in_the_other_language_of_its_sheet_is_of_its_own(tmp_path: Path) -> None:
    # a sheet of English and Chinese entries was one language: with the language filter zh,
    # "下单后多久发货？", an entry of it in Chinese, was refused, and lang en gave its answer
    from ingest.chunking import ChunkSettings, chunk_loaded
    from ingest.loaders import load_file

    (tmp_path / "faq.csv").write_text(
        "id,question,answer\n1,How long does shipping take?,Standard shipping takes 3 to 5 business days.\n"
        "2,Do you ship to Canada?,Yes. Orders to Canada arrive in 7 to 10 days.\n"
        "3,Can I pay by card?,Yes. We accept Visa and Mastercard.\n4,下单后多久发货？,订单付款后48小时内发货，节假日顺延。\n",
        encoding="utf-8",
    )
    chunks, _ = chunk_loaded(load_file(tmp_path / "faq.csv", tmp_path, 5), count, ChunkSettings())
    assert {c.faq_id: c.lang for c in chunks} == {"1": "en", "2": "en", "3": "en", "4": "zh"}
    # a language the sheet names is every entry's
    (tmp_path / "faq.csv.meta.json").write_text('{"lang": "en"}', encoding="utf-8")
    chunks, _ = chunk_loaded(load_file(tmp_path / "faq.csv", tmp_path, 5), count, ChunkSettings())
    assert {c.lang for c in chunks} == {"en"}


def test_metadata_and_stable_ids() -> None:
    d = doc(groups=("staff",), tags=("x",), valid_from="2026-01-01")
    els = [Element("paragraph", "One.", page=2), Element("paragraph", "Two.", page=3)]
    a = chunk_elements(d, els, count, 64, 8)
    b = chunk_elements(d, els, count, 64, 8)
    assert [c.id for c in a] == [c.id for c in b]
    assert a[0].groups == ("staff",) and a[0].tags == ("x",) and a[0].valid_from == "2026-01-01"
    assert a[0].page == 2


def test_heading_only_document_still_has_a_chunk() -> None:
    chunks = chunk_elements(doc("Connecting with HDMI"), [Element("heading", "Connecting with HDMI", level=1)], count, 64, 8)
    assert [c.text for c in chunks] == ["Connecting with HDMI"]


def test_a_hard_split_keeps_the_line_breaks_where_its_pieces_join() -> None:
    from ingest.chunking import _hard_split

    # a lead-in and a list item on the next line were joined into one line ("…办理挂失：1. 登录…")
    text = "请按以下方式办理挂失：\n1. 登录手机银行App。\n2. 点击卡片管理，选择临时挂失。"
    pieces = _hard_split(text, 1000, len)
    assert pieces == [text]
    assert _hard_split(text, 30, len) == ["请按以下方式办理挂失：", "1. 登录手机银行App。\n2. 点击卡片管理，", "选择临时挂失。"]
    assert _hard_split(text.replace("：\n", "：\n\n"), 40, len)[0].startswith("请按以下方式办理挂失：\n\n1. 登录")


def test_chunks_that_repeat_one_another_under_the_same_heading_are_indexed_once() -> None:
    # QA: one word repeated over 1 MB made 1,731 chunks with one vector, which filled every
    # candidate list and pushed the return window out of the answers
    from ingest.chunking import without_repeats

    d = doc()
    els = [Element("heading", "Filler", level=1), Element("text", " ".join(["word"] * 400)),
           Element("heading", "Returns", level=1), Element("text", "Items can be returned within 30 days.")]
    chunks = chunk_elements(d, els, count, 40, 0)
    kept, said = without_repeats(chunks, d)
    filler = [c.text for c in kept if c.heading_path == ("Filler",)]
    assert len(chunks) >= 10 and len(filler) == len(set(filler)) <= 3  # (the first and the last differ)
    assert [c.position for c in kept] == list(range(len(kept)))
    assert said == f"policy.md: {len(chunks) - len(kept)} of its {len(chunks)} chunks repeat another word for word under the same heading; each is indexed once"
    # the same words under another heading are another passage
    twice = [Element("heading", "A", level=1), Element("text", "Call us."), Element("heading", "B", level=1),
             Element("text", "Call us.")]
    same = chunk_elements(d, twice, count, 40, 0)
    assert without_repeats(same, d) == (same, None)


def test_a_wide_table_s_row_is_a_piece_of_its_own_with_the_header() -> None:
    # a seven-column benefits table: the header and a row did not fit 64 tokens together, and each
    # row was cut as text without its header ("| Bronze | $7, 000 / $14, 000 | $60 | ..."): no answer
    # could say which amount is the deductible and which the specialist copay
    head = ("| Plan tier | Deductible (individual / family) | Primary care copay | Specialist copay | Emergency room copay"
            " | Coinsurance |\n|---|---|---|---|---|---|")
    rows = ["| Bronze | $7,000 / $14,000 | $60 | $100 | $500 | 40% |", "| Gold | $1,500 / $3,000 | $20 | $50 | $300 | 20% |"]
    chunks = chunk_elements(doc(), [Element("heading", "Costs by plan tier", level=1),
                                    Element("table", head + "\n" + "\n".join(rows))], count, 64, 8)
    assert [c.text for c in chunks] == [f"{head}\n{row}" for row in rows]
    assert all(64 < c.n_tokens <= 2 * 64 for c in chunks)


def test_a_hard_split_does_not_cut_a_number() -> None:
    from ingest.chunking import _hard_split

    text = "The deductible is $7,000 per person, and $14,000 per family; opening hours 10:30 to 18:00, daily"
    pieces = _hard_split(text, 12, count)
    assert len(pieces) > 1 and " ".join(pieces) == text, pieces
    assert any("$7,000" in p for p in pieces) and any("10:30" in p for p in pieces)


def test_a_short_paragraph_above_a_table_cut_into_pieces_heads_every_piece() -> None:
    # a score sheet's lead line ("2020年浙江省录取分数线 … 各专业录取分数线") was a chunk of its own, which
    # "2020年浙江省法学的最低录取分数线" found, and no piece of the table below it named the sheet
    rows = [f"| 专业{i} | {600 + i} | {590 + i} |" for i in range(30)]
    table = "| 专业名称 | 最高分 | 最低分 |\n|---|---|---|\n" + "\n".join(rows)
    lead = "2020年浙江省录取分数线 各专业录取分数线"
    els = [Element("heading", "录取分数线", level=1), Element("paragraph", "本页列出各省分数。很多专业都有。"),
           Element("paragraph", lead), Element("table", table)]
    chunks = chunk_elements(doc("录取分数线", lang="zh"), els, count, 60, 0)
    pieces = [c for c in chunks if c.kind == "table"]
    assert len(pieces) > 1 and all(c.heading_path == ("录取分数线", lead) for c in pieces)
    assert all(lead in c.embed_text() and lead not in c.text for c in pieces)
    assert not any(c.text == lead for c in chunks)  # no chunk of the lead alone
    assert any("本页列出各省分数" in c.text and c.kind == "text" for c in chunks)  # the text before it stays text
    # a long paragraph above it, or a sentence, is text, as before
    for text in ("本页列出各省各专业的最高分和最低分，数据来自招生办公室" * 3, "分数均为投档最低分。"):
        els[2] = Element("paragraph", text)
        chunks = chunk_elements(doc("录取分数线", lang="zh"), els, count, 60, 0)
        assert all(c.heading_path == ("录取分数线",) for c in chunks if c.kind == "table")
        assert any(text[:12] in c.text for c in chunks)
