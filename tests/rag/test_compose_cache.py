"""The extractive composer keeps sentence vectors: a passage seen before is not embedded again,
and the composed answer is the same as without the cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from indexes.embedders import HashingEmbedder, get_embedder
from indexes.types import Chunk
from rag.compose import ExtractiveComposer
from rag.types import Hit


def _hit(n: int, text: str, title: str | None = None, score: float | None = None) -> Hit:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", source=f"doc{n}.md", position=0, text=text, title=title or f"Doc {n}")
    return Hit(chunk=chunk, score=1.0 - 0.1 * n if score is None else score)


def test_second_compose_embeds_only_new_texts_and_gives_the_same_answer() -> None:
    emb = get_embedder("hashing:64")
    hits = [
        _hit(1, "Items can be returned within 30 days of delivery. Refunds are paid to the original card."),
        _hit(2, "Shipping is free above 50 euros. Parcels arrive in two to four working days."),
    ]
    cached = ExtractiveComposer(emb)
    first = cached.compose("How long do I have to return an item?", hits)
    texts_after_first = emb.texts_embedded
    again = cached.compose("How long do I have to return an item?", hits)
    # only the question is embedded again (as a query: asymmetric models embed queries differently);
    # every passage sentence came from the cache
    assert emb.texts_embedded == texts_after_first + 1
    assert again.text == first.text

    other = cached.compose("How long is the return window?", hits)
    assert emb.texts_embedded == texts_after_first + 2

    fresh = ExtractiveComposer(get_embedder("hashing:64"), cache_size=0)
    assert fresh.compose("How long is the return window?", hits).text == other.text


def test_a_long_sentence_is_embedded_by_its_first_tokens() -> None:
    """The embedder's time grows with the tokens it reads (multilingual-e5-small: about 1.2 ms a
    token on one core): three long sentences of a Chinese policy, 200 tokens each, took 760 ms
    of an answer. A candidate is embedded by its first ``sentence_tokens`` tokens, a short one
    whole; its vector is kept under the whole sentence."""

    class Recording(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(64)
            self.passages: list[str] = []

        def embed(self, texts, kind="passage"):  # type: ignore[no-untyped-def]
            if kind == "passage":
                self.passages.extend(texts)
            return super().embed(texts, kind)

    emb = Recording()
    long = ("Returns of opened software, downloadable content, gift cards, personalised items, perishable "
            "goods, hygiene products and any item marked as final sale are not accepted at any store.")
    short = "Items can be returned within 30 days."
    composer = ExtractiveComposer(emb, sentence_tokens=8)
    question = "Which items can be returned within 30 days?"
    first = composer.compose(question, [_hit(1, f"{short} {long}")])
    assert short in emb.passages
    (head,) = [t for t in emb.passages if t != short]
    assert long.startswith(head) and len(head) < len(long) and emb.count_tokens(head) <= 8
    before = len(emb.passages)
    assert composer.compose(question, [_hit(1, f"{short} {long}")]).text == first.text
    assert len(emb.passages) == before  # both vectors came from the cache, by the whole sentence
    whole = ExtractiveComposer(Recording(), sentence_tokens=1000)
    whole.compose(question, [_hit(1, f"{short} {long}")])
    assert long in whole.embedder.passages


def test_cache_is_bounded() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"), cache_size=3)
    composer.compose("returns", [_hit(1, "One sentence here. Two sentences here. Three here. Four here.")])
    assert len(composer._cache) <= 3


def test_an_answer_does_not_depend_on_the_embedder_speed_or_on_earlier_questions() -> None:
    """A fixed number of candidate sentences is embedded per answer: a slow embedder, a cold or a
    warm cache, a first or a later question all give one question the same answer. (The count
    used to follow the embedder's measured speed: 10 sentences for a process's first question,
    then 3 or 4 as the load moved the measurement.)"""
    import time

    class Slow:
        def __init__(self, delay: float) -> None:
            self.inner = get_embedder("hashing:64")
            self.id, self.dim = "slow:64", 64
            self.delay, self.texts = delay, 0

        def embed(self, texts, kind="passage"):  # type: ignore[no-untyped-def]
            time.sleep(self.delay * len(texts))
            self.texts += len(texts)
            return self.inner.embed(texts, kind)

    many = " ".join(f"Returns rule number {i} applies to order type {i}." for i in range(12))
    other = " ".join(f"Shipping rule number {i} covers parcel size {i}." for i in range(12))
    q1, q2 = "Which returns rule applies?", "Which shipping rule covers parcels?"
    alone = ExtractiveComposer(Slow(0.0), embed_sentences=3)
    first = alone.compose(q2, [_hit(2, other)])
    assert alone.embedder.texts == 1 + 3  # the question, then three sentences
    later = ExtractiveComposer(Slow(0.02), embed_sentences=3)
    later.compose(q1, [_hit(1, many)])
    before = later.embedder.texts
    second = later.compose(q2, [_hit(2, other)])
    assert later.embedder.texts - before == 1 + 3
    assert second.text == first.text and second.sentences == first.sentences
    again = later.compose(q2, [_hit(2, other)])  # every sentence vector cached now
    assert again.text == first.text


def test_sentences_about_the_document_itself_are_not_answers() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, "This policy explains how long you have to return an item and how refunds are paid. "
                    "You have 30 days from delivery to return an item."),
            _hit(2, "本政策说明了退货的期限和退款方式。自签收之日起三十天内可以退货。")]
    en = composer.compose("How long do I have to return an item?", hits)
    assert "30 days from delivery" in en.text and "This policy explains" not in en.text
    zh = composer.compose("退货的期限是多久？", hits[1:], lang="zh")
    assert "三十天内可以退货" in zh.text and "本政策说明" not in zh.text
    # a sentence that merely starts like one still counts
    plain = composer.compose("What does the policy cover?", [_hit(1, "The policy covers damage in transit.")])
    assert "covers damage in transit" in plain.text


def test_notes_on_a_documents_pictures_are_not_answers() -> None:
    # "Universal Guide The image on your TV may differ from the image above depending on the model
    # and geographical area" opened the answer to "What is Universal Guide?" (a heading run in)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, "Universal Guide The image on your TV may differ from the image above depending on the model. "
                    "Universal Guide is an app that gathers TV shows, movies and music in one place.")]
    out = composer.compose("What is Universal Guide?", hits)
    assert "gathers TV shows" in out.text and "may differ" not in out.text
    zh = composer.compose("这款冰箱有几个门？", [_hit(1, "图片仅供参考，请以实物为准。这款冰箱有四个门。")], lang="zh")
    assert "四个门" in zh.text and "仅供参考" not in zh.text
    # a difference the question asks about is an answer
    plain = composer.compose("Do web pages look the same as on a PC?",
                             [_hit(1, "The web pages may differ from those on a PC.")])
    assert "may differ from those on a PC" in plain.text


def test_notes_on_who_a_document_is_for_are_not_answers() -> None:
    # "Internal document for Acme customer service staff." was quoted to "怎么取消订单"
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, "Internal document for Acme customer service staff. Do not share with customers. "
                    "Cancel an order under Orders > Cancel until it has shipped.")]
    out = composer.compose("How do I cancel an order for customer service?", hits)
    assert "Orders > Cancel" in out.text and "Internal document" not in out.text and "Do not share" not in out.text
    zh = composer.compose("怎么取消订单", [_hit(1, "内部文件，请勿外传。在“我的订单”中可以取消尚未发货的订单。")], lang="zh")
    assert "取消尚未发货的订单" in zh.text and "内部文件" not in zh.text
    # advice in the same words is an answer
    plain = composer.compose("Can I share my password?", [_hit(1, "Do not share your password with anyone.")])
    assert "Do not share your password" in plain.text


def test_a_sentence_repeated_in_passages_is_said_once() -> None:
    # crawled pages repeat sentences, within a passage and across mirrored copies
    same = "The school offers two majors, Mathematics and Data Computing."
    hits = [_hit(1, f"{same} {same} Mathematics trains researchers."), _hit(2, f"{same.upper()}  Data Computing.")]
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("Which majors does the school offer?", hits)
    said = [s for n, s, _ in out.sentences]
    assert len(said) == len({s.lower() for s in said})
    assert sum(s.lower() == same.lower() for s in said) == 1
    assert out.text.count("two majors") + out.text.count("TWO MAJORS") == 1


def test_a_comparing_question_is_answered_from_each_document_it_names() -> None:
    hits = [
        _hit(1, "Game Mode and Movie Mode are picture modes. Game Mode and Movie Mode differ in lag. "
             "Picture settings hold both Game Mode and Movie Mode.", "Picture settings", 0.9),
        _hit(2, "Game Mode and Movie Mode can be switched in Picture settings.", "Picture settings", 0.85),
        _hit(3, "Sound modes change the equaliser.", "Sound", 0.8),
        _hit(4, "The remote switches inputs.", "Remote", 0.75),
        _hit(5, "Movie Mode uses warm colours for films.", "Movie Mode", 0.7),
        _hit(6, "Game Mode lowers input lag for consoles.", "Game Mode", 0.65),
    ]
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("What is the difference between Game Mode and Movie Mode?", hits)
    cited = {n for n, _, _ in out.sentences}
    assert {5, 6} <= cited  # both named documents answer, though below the first four passages
    assert "[5]" in out.text and "[6]" in out.text
    # asking about one of them reads the first four passages only, as before
    one = composer.compose("How does Game Mode work?", hits)
    assert {n for n, _, _ in one.sentences} <= {1, 2, 3, 4}


def test_the_words_a_question_compares_by_do_not_pick_its_sentences() -> None:
    # manuals say "may differ depending on the model" everywhere: that answers no comparison
    hits = [_hit(1, "Features may differ depending on the model. Game Mode lowers input lag for consoles."),
            _hit(2, "Menus may differ by region. Movie Mode uses warm colours for films.")]
    composer = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2)
    out = composer.compose("What is the difference between Game Mode and Movie Mode, how do they differ?", hits)
    assert "input lag" in out.text and "warm colours" in out.text
    assert "may differ" not in out.text


def test_a_follow_up_is_answered_with_what_it_asks_now() -> None:
    # the condensed query carries the earlier turn ("how much"); its words must not choose the
    # sentences of the answer to "and how long does it take?"
    hits = [
        _hit(1, "Express shipping costs 12.95 euros. Express shipping is free for members."),
        _hit(2, "Express shipping takes one business day. Standard shipping takes three to five days."),
    ]
    composer = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2)
    question = "and how long does it take?"
    query = f"{question} How much does express shipping cost?"
    out = composer.compose(question, hits, query=query)
    assert "one business day" in out.text and "12.95" not in out.text
    # asked on its own, the stand-alone text is still about the price
    assert "12.95" in composer.compose(query, hits).text
    # a follow-up without a word of its own, or whose words no sentence holds, is about its
    # stand-alone form (by words alone here, where nothing else would pick a sentence)
    lexical = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2, w_dense=0.0)
    for q in ("why?", "and to Switzerland?"):
        assert "12.95" in lexical.compose(q, hits, query=f"{q} How much does express shipping cost?").text


def test_table_rows_are_read_out_with_their_headers() -> None:
    from indexes.text import table_rows_as_sentences

    table = (
        "Personal data we collect:\n"
        "| Data | How long we keep it |\n|---|---|\n| Order history | 7 years |\n"
        # a table split across two chunks repeats its header where the passage merges them
        "| Data | How long we keep it |\n| :-- | --: |\n| Customer service chats | 2 years |\n"
        "We answer within 30 days."
    )
    text, cells = table_rows_as_sentences(table)
    assert text.split("\n") == [
        "Personal data we collect:",
        "Data: Order history; How long we keep it: 7 years.",
        "Data: Customer service chats; How long we keep it: 2 years.",
        "We answer within 30 days.",
    ]
    assert cells["Data: Customer service chats; How long we keep it: 2 years."] == "Customer service chats 2 years"
    # no header: the cells alone; Chinese punctuation in Chinese
    assert table_rows_as_sentences("| a | b |\n| c | d. |")[0] == "a; b.\nc; d."
    assert table_rows_as_sentences("| 项目 | 期限 |\n|---|---|\n| 退货 | 30天 |", "zh")[0] == "项目：退货，期限：30天。"
    # an answer quotes the row the question names, with its headers, and never the header row
    composer = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=1)
    out = composer.compose("How long do you keep customer service chats?", [_hit(1, table)])
    assert out.text.startswith("Data: Customer service chats; How long we keep it: 2 years")
    assert "|" not in out.text
    # the headers, in every row, do not make every row an answer: rows are matched by their cells
    rows = "| Data | How long we keep it |\n|---|---|\n" + "".join(
        f"| {d} | {t} |\n" for d, t in [("Order history", "7 years"), ("Browsing data", "13 months"),
                                       ("Customer service chats", "2 years"), ("Name and address", "while open")]
    )
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("How long do you keep customer service chats?", [_hit(1, rows)])
    assert out.text.count("Data:") == 1 and "Customer service chats" in out.text


def test_a_cell_of_several_sentences_keeps_its_row_one_sentence() -> None:
    # "Code: E3001; Meaning: The invitation link has expired. Invitations are valid for 7 days.; ..."
    # was cut in two by the splitter, neither piece a row, and "What does error E3001 mean?" was
    # told two other codes' rows with it (QA: a SaaS help centre's error-code table)
    from indexes.text import split_sentences, table_rows_as_sentences

    codes = (
        "| Code | Meaning | How to fix |\n|---|---|---|\n"
        "| E2005 | The file is larger than the maximum file size for your plan. | Compress the file. |\n"
        "| E2010 | Seat or plan limit reached. | Deactivate members or choose a larger plan. |\n"
        "| E3001 | The invitation link has expired. Invitations are valid for 7 days. | Ask an Admin to resend it. |"
    )
    text = table_rows_as_sentences(codes)[0]
    assert "Code: E3001; Meaning: The invitation link has expired, Invitations are valid for 7 days; How to fix: Ask an Admin to resend it." in split_sentences(text)
    assert table_rows_as_sentences("| 项目 | 说明 |\n|---|---|\n| 退货 | 30天内可退。需保留包装。 |", "zh")[0] == "项目：退货，说明：30天内可退，需保留包装。"
    # (a Chinese cell's "。" before the next cell's "，" cut the row too: a regression hunt's)
    cards = "| 卡种 | 年费 | 说明 |\n|---|---|---|\n| 普卡 | 年费50元。首年免年费。 | 刷卡满5次免次年年费。 |\n| 金卡 | 年费200元。 | 机场贵宾厅。 |"
    assert split_sentences(table_rows_as_sentences(cards, "zh")[0]) == [
        "卡种：普卡，年费：年费50元，首年免年费，说明：刷卡满5次免次年年费。", "卡种：金卡，年费：年费200元，说明：机场贵宾厅。"]
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("What does error E3001 mean?", [_hit(1, codes)])
    assert "E3001" in out.text and "E2005" not in out.text and "E2010" not in out.text, out.text


def test_a_question_naming_a_column_finds_the_row() -> None:
    # headers count half (every row has them), not nothing: "hours" names the column asked for
    contact = (
        "Our customer service team helps you with orders and returns.\n"
        "| Channel | Hours | Contact |\n|---|---|---|\n"
        "| Phone | Monday to Friday, 8:00 to 20:00 | 1-800-555-0199 |\n"
        "| E-mail | Answered within 1 business day | support@acme.example |"
    )
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    out = composer.compose("What are your customer service phone hours?", [_hit(1, contact)])
    # the intro shares "customer service"; the phone row, with its "Hours" header, is close behind,
    # said by the column asked for (asked_cells)
    assert "Channel: Phone; Hours: Monday to Friday, 8:00 to 20:00 [1]." in out.text
    assert "E-mail" not in out.text


def test_list_items_are_read_out_with_their_lead_in() -> None:
    from rag.compose import list_items_as_sentences

    policy = (
        "Returns are free. Some items cannot be returned:\n"
        "- Gift cards and downloadable software.\n- Personalised products;\n* Items marked as Final Sale\n"
        "Start a return in your account."
    )
    text, own = list_items_as_sentences(policy)
    # the lead-in leaves the sentence before it in place and takes the list as one sentence
    assert text.split("\n") == [
        "Returns are free.",
        "Some items cannot be returned: Gift cards and downloadable software; Personalised products; "
        "Items marked as Final Sale.",
        "Start a return in your account.",
    ]
    assert own == {}  # the whole sentence is matched by all its words
    # a list too long for one sentence: each item after the lead-in, matched by the item's words
    steps = "To reset your password:\n" + "\n".join(f"{i}. Step {i} " + "x" * 60 for i in range(1, 8))
    text, own = list_items_as_sentences(steps)
    lines = text.split("\n")
    assert len(lines) == 7 and all(line.startswith("To reset your password: Step ") for line in lines)
    assert own[lines[0]] == "Step 1 " + "x" * 60
    # no lead-in: the bullets go; Chinese punctuation in Chinese
    assert list_items_as_sentences("- Gift cards\n- Final Sale items.")[0] == "Gift cards.\nFinal Sale items."
    assert list_items_as_sentences("不能退货的商品：\n- 礼品卡\n- 定制商品", "zh")[0] == "不能退货的商品：礼品卡，定制商品。"
    # an answer never quotes the lead-in alone
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("Which items cannot be returned?", [_hit(1, policy)])
    assert "cannot be returned: Gift cards" in out.text and "returned: [1]" not in out.text


def test_a_word_alone_on_a_line_is_no_sentence_of_an_answer() -> None:
    # a PDF's section title read as a line of text: "Reimbursement [1]" was said to "Are traffic
    # fines reimbursed?"
    passage = "Reimbursement\nTraffic and parking fines are not reimbursed.\nClaims are filed within 30 days."
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("Are traffic fines reimbursed?", [_hit(1, passage)])
    assert out.text.startswith("Traffic and parking fines are not reimbursed [1].") and "Reimbursement [1]" not in out.text


def test_chinese_items_that_are_sentences_are_read_one_by_one_and_the_one_asked_is_said() -> None:
    """"住院垫付：确诊需住院治疗…结算。" and its sibling items, sentences of their own, were read
    as one sentence joined by "，", which no sentence of the passage supports: the answer was
    handed off. Read one by one, the item asked about is said, not its siblings."""
    from rag.compose import list_items_as_sentences

    services = ("## 七、增值服务\n1. 住院垫付：预估费用超过1万元的，可申请住院费用垫付。\n"
                "2. 重疾绿通：确诊重大疾病后，可申请专家门诊预约，每年限用1次。\n3. 高风险运动发生的意外，不属于保障范围。")
    lines = list_items_as_sentences(services, "zh")[0].split("\n")
    assert lines[1:] == ["七、增值服务：住院垫付：预估费用超过1万元的，可申请住院费用垫付。",
                         "七、增值服务：重疾绿通：确诊重大疾病后，可申请专家门诊预约，每年限用1次。",
                         "七、增值服务：高风险运动发生的意外，不属于保障范围。"]
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("重疾绿通每年能用几次？", [_hit(1, services)], "zh")
    assert "每年限用1次" in out.text and "住院垫付" not in out.text and "高风险" not in out.text, out.text


def test_a_list_item_of_two_sentences_keeps_the_items_after_it() -> None:
    from rag.compose import list_items_as_sentences

    steps = (
        "Follow these steps:\n1. Sign in.\n2. Print the return label. Labels expire after 14 days.\n"
        "3. Drop the package at any UPS store.\n退货步骤：\n- 打印标签。标签14天内有效\n- 寄回包裹"
    )
    text, _ = list_items_as_sentences(steps)
    assert text.split("\n")[0] == (
        "Follow these steps: Sign in; Print the return label — Labels expire after 14 days; "
        "Drop the package at any UPS store."
    )
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("How do I return it?", [_hit(1, steps)])
    assert "Drop the package at any UPS store" in out.text, out.text
    # a long item, or one with a piece of one word, stays as written (a plain-text page's numbered
    # lines run together); a heading that asks leads without its question mark, which read as a
    # question to the support scorer and handed the answer off
    long = "Parts: 2. Getting started 1. Unplug the modem. 2. Connect it"
    assert list_items_as_sentences(f"Steps:\n- {long}\n- Wait.")[0] == f"Steps: {long}; Wait."
    text, _ = list_items_as_sentences("## How do I reset my password?\n- Open the login page.\n- Choose Forgot password.")
    assert text.split("\n")[1] == "How do I reset my password: Open the login page; Choose Forgot password."


@pytest.mark.parametrize(("question", "one", "other", "said"), [
    # "积分有什么用？" names 积分, as the sentence on expiry does: it took that sentence, ranked
    # first, and "积分会过期吗？", whose sentence it is, was left with none
    ("积分有什么用？积分会过期吗？", "积分有效期为获得之日起12个月，过期自动清零。", "积分可以在结算时抵扣现金，100积分抵扣1元。",
     ("12个月", "抵扣现金")),
    # "积分怎么获得？" is named by the expiry sentence too ("自获得之日起"), tied with the one on earning
    # points: the first part took it, and "会过期吗？", whose sentence it is, was left with none
    ("积分怎么获得？会过期吗？", "积分有效期为自获得之日起至次年12月31日，过期自动清零。", "每消费1元累计1积分，评价晒单可额外获得10积分。",
     ("12月31日", "累计1积分")),
])
def test_each_ask_gets_a_sentence_of_its_own(question: str, one: str, other: str, said: tuple[str, str]) -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    for hits in ([_hit(1, one), _hit(2, other)], [_hit(1, other), _hit(2, one)]):
        out = composer.compose(question, hits, "zh")
        assert all(s in out.text for s in said), out.text


def test_a_documents_reply_answers_the_question_its_section_is_headed_by() -> None:
    # a help page's accordion ("Can I use my card in every country?" over "No. Cards cannot be used
    # in ..."): "Can I use my card in Canada?" was told "No." first, the opposite of the truth
    page = ("## Can I use my card in every country?\nNo. Cards cannot be used in countries under US sanctions, "
            "such as Cuba and Iran.")
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    for question in ("Can I use my card in Canada?", "Which countries can I use my card in?"):
        out = composer.compose(question, [_hit(1, page)])
        assert out.text.startswith("Cards cannot be used in countries under US sanctions"), (question, out.text)
    out = composer.compose("Can I use my card in every country?", [_hit(1, page)])
    assert out.text.startswith("No. Cards cannot be used"), out.text


def test_a_how_to_answer_keeps_a_sentence_saying_the_asked_thing_cannot_be_done() -> None:
    # "How do I switch my business account?" was told the switch's steps only: the how-to section's
    # sentences leave out other sections', and "Business accounts ... cannot be switched" was one
    guide = ("The Switch Service moves your payments to Harbor in 7 business days.\n## Before you start\n"
             "Business accounts and savings accounts cannot be switched.\n## How to switch\n"
             "1. In the app, go to Account > Switch to Harbor.\n2. Pick a switch date at least 7 business days away.\n"
             "3. Sign the switch agreement in the app.")
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("How do I switch my business account to Harbor?", [_hit(1, guide)])
    assert "cannot be switched" in out.text and "Account > Switch to Harbor" in out.text, out.text
    out = composer.compose("How do I switch to Harbor?", [_hit(1, guide)])
    assert "cannot be switched" not in out.text and "Account > Switch to Harbor" in out.text, out.text


def test_a_numbered_item_that_leads_in_to_bullets_is_their_lead_in() -> None:
    # the loader gives a sub-list without its indent: the section's items ran into one sentence,
    # "一、七天无理由退货：…齐全，以下商品不适用七天无理由退货：，生鲜食品、鲜花绿植，…", which no passage supports
    from rag.compose import list_items_as_sentences

    passage = ("## 一、七天无理由退货\n1. 自签收次日起计算7天，商品须保持原包装。\n2. 以下商品不适用七天无理由退货：\n"
               "- 生鲜食品、鲜花绿植；\n- 个人定制商品（如刻字首饰）；\n- 已拆封的内衣。\n3. 赠品需随主商品一并退回。")
    assert list_items_as_sentences(passage, "zh")[0].split("\n") == [
        "## 一、七天无理由退货", "自签收次日起计算7天，商品须保持原包装。",
        "以下商品不适用七天无理由退货：生鲜食品、鲜花绿植，个人定制商品（如刻字首饰），已拆封的内衣。", "赠品需随主商品一并退回。",
    ]
    steps = "## Returns\n1. Return within 30 days.\n2. These items cannot be returned:\n- Gift cards\n- Underwear"
    assert list_items_as_sentences(steps)[0].split("\n")[2] == "These items cannot be returned: Gift cards; Underwear."
    # an item that leads in is followed by no separator ("…：，…"), wherever it stands
    assert list_items_as_sentences("## 规则\n- 以下商品不退：\n- 鲜花；\n- 内衣。", "zh")[0] == "## 规则\n规则：以下商品不退：鲜花，内衣。"


def test_a_list_that_opens_a_section_is_read_after_its_heading() -> None:
    from rag.compose import list_items_as_sentences

    # the retriever writes a section's heading before a part that opens with a list (HEADING_MARK)
    passage = (
        "We may refuse a return for items that show signs of use.\n"
        "## 3. Items that cannot be returned\n- Gift cards.\n- Items marked as Final Sale\n"
        "## 4. How to start a return\nLog in to your account."
    )
    text, _ = list_items_as_sentences(passage)
    assert "Items that cannot be returned: Gift cards; Items marked as Final Sale." in text.split("\n")
    # the heading line stays where the section starts: the sentence before it is of another section
    assert list_items_as_sentences("## 退货例外\n- 礼品卡\n- 定制商品", "zh")[0] == "## 退货例外\n退货例外：礼品卡，定制商品。"
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("Which items cannot be returned?", [_hit(1, passage)])
    assert "Items that cannot be returned: Gift cards; Items marked as Final Sale [1]." in out.text
    # a heading is never a sentence of an answer, nor is its section number
    assert "How to start a return" not in out.text and "##" not in out.text and "3." not in out.text


def test_a_list_that_opens_a_section_is_said_first_when_it_answers() -> None:
    # the end of the section before it is quoted too (it shares "return" and "card" with the
    # question), but it is no part of the list's run: the list, which names gift cards, opens the
    # answer (the two used to read as one run, in the passage's order)
    passage = (
        "Items must be unused and in their original packaging. "
        "We may refuse a return of a card that shows signs of use.\n"
        "## 3. Items that cannot be returned\n- Gift cards and downloadable software.\n- Items marked as Final Sale"
    )
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    out = composer.compose("Can I return a gift card?", [_hit(1, passage)])
    said = [s for _, s, _ in out.sentences]
    assert said[0].startswith("Items that cannot be returned: Gift cards"), said
    assert any(s.startswith("We may refuse a return") for s in said[1:]), said


def test_how_long_asks_for_a_duration_not_for_the_word_long() -> None:
    privacy = "Your phone number is kept as long as the account is open."
    warranty = "Phones carry a one year warranty."
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)  # by words alone
    out = composer.compose("How long is the warranty on phones?", [_hit(1, privacy), _hit(2, warranty)])
    assert out.text == "Phones carry a one year warranty [2]."


def test_an_faq_entrys_question_is_never_quoted_as_an_answer() -> None:
    faq = _hit(1, "Q: My parcel is late. What should I do?\nA: Report a late parcel with its order number.")
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("My parcel is late, can I get a refund?", [faq])
    assert out.text == "Report a late parcel with its order number [1]."


def test_a_sentence_cut_short_in_one_passage_is_quoted_whole_from_another() -> None:
    """Mirrored pages and overlapping windows cut one sentence at different places: the answer
    says it once, whole, cited to the passage that holds it whole."""
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [
        _hit(1, "英语属于基础课程，主要在大一、大二开设。从教学效果来看，中法学院学生的英语能力普遍较"),
        _hit(2, "从教学效果来看，中法学院学生的英语能力普遍较高。毕业前申请国外高校的学生均取得了优异的成绩。"),
    ]
    out = composer.compose("中法学院学生的英语能力怎么样？", hits, lang="zh")
    quoted = [s for _, s, _ in out.sentences]
    assert "从教学效果来看，中法学院学生的英语能力普遍较高。" in quoted
    assert not any(s.endswith("普遍较") for s in quoted)
    assert (2, "从教学效果来看，中法学院学生的英语能力普遍较高。") in [(n, s) for n, s, _ in out.sentences]


def test_a_passage_that_ends_inside_a_bracket_is_quoted_up_to_the_bracket() -> None:
    """A page cut off inside a bracket or a title mark leaves its last sentence open: the answer
    quotes what comes before the open bracket, marked as cut, or nothing of that sentence when too
    little comes before it; a closed bracket leaves a sentence alone."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    cut = _hit(1, "我校2016年国防生招生专业为新闻学和信息管理(政务信息管理)。新闻学专业计划招生30人，信息管理与信息系统(政务")
    out = composer.compose("新闻学专业计划招生多少人？", [cut], lang="zh")
    quoted = [s for _, s, _ in out.sentences]
    assert "新闻学专业计划招生30人，信息管理与信息系统…" in quoted
    assert not any("(政务" in s and "政务信息管理)" not in s for s in quoted)
    assert "我校2016年国防生招生专业为新闻学和信息管理(政务信息管理)。" in quoted

    title_cut = _hit(1, "报名时须提交以下材料。(二)报名材料 1.《中国人民大学2020年保送生申请表")
    out = composer.compose("报名材料有哪些？", [title_cut], lang="zh")
    assert [s for _, s, _ in out.sentences] == ["报名时须提交以下材料。"]

    english = _hit(1, "Press Home to open the menu. Then choose Settings (the gear icon")
    out = composer.compose("How do I open Settings?", [english])
    assert "Then choose Settings…" in [s for _, s, _ in out.sentences]


def test_a_request_is_answered_by_what_it_asks_for_not_by_its_request_words() -> None:
    """ "I want a refund" asks about refunds: "If you want a different size" shares only its
    "want", which says that something is asked for, not what."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    policy = _hit(1, "If you want a different size, start a return and place a new order. "
                     "Refunds are paid to the original payment method within 5 days.")
    out = composer.compose("I want a refund", [policy])
    assert out.text.startswith("Refunds are paid"), out.text


def test_a_chinese_passage_that_breaks_off_on_a_word_quotes_its_last_clause_as_cut() -> None:
    """A crawled page cut at a fixed length stops on a word ("…英语能力普遍较"): its last sentence of
    clauses is quoted with the cut mark, not as if it were whole. A title line without a comma, and
    an FAQ answer written without its full stop, are whole and quoted as they are."""
    from dataclasses import replace

    from indexes.types import CONTINUES

    def _zh(hit: Hit) -> Hit:
        return replace(hit, chunk=replace(hit.chunk, lang="zh"))

    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    cut = _hit(1, "英语属于基础课程，主要在大一开设。从教学效果来看，中法学院学生的英语能力普遍较")
    quoted = [s for _, s, _ in composer.compose("中法学院学生的英语能力", [_zh(cut)], lang="zh").sentences]
    assert f"从教学效果来看，中法学院学生的英语能力普遍较{CONTINUES}" in quoted
    assert "从教学效果来看，中法学院学生的英语能力普遍较" not in quoted

    title = _hit(1, "学院的招生简章已经发布。2023年本科招生专业目录")
    quoted = [s for _, s, _ in composer.compose("2023年本科招生专业目录", [_zh(title)], lang="zh").sentences]
    assert "2023年本科招生专业目录" in quoted

    entry = Chunk(id="f1", doc_id="faq", source="faq.csv#1", position=0, kind="faq", lang="zh", title="如何退货",
                  text="问：如何退货？\n答：登录账户，在我的订单中申请退货")
    out = composer.compose("如何退货", [Hit(chunk=entry, score=0.9)], lang="zh")
    assert [s for _, s, _ in out.sentences] == ["登录账户，在我的订单中申请退货"]


def test_a_passage_that_starts_inside_a_sentence_quotes_that_piece_as_the_cut_it_is() -> None:
    """A chunk the chunker started inside a sentence (:data:`CONTINUES`) opens with a piece of it:
    quoted, it keeps the mark, so that "们捐助眼镜和书包文具。" does not read as a whole sentence;
    the mark is not read (the piece matches as its words do)."""
    from indexes.types import CONTINUES

    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    cut = _hit(1, f"{CONTINUES}们捐助眼镜和书包文具。这次，学校又为孩子们捐助一套多媒体教学设备。")
    quoted = [s for _, s, _ in composer.compose("捐助眼镜和书包文具", [cut], lang="zh").sentences]
    assert quoted[0] == f"{CONTINUES}们捐助眼镜和书包文具。"
    english = _hit(1, f"{CONTINUES}and games by installing the app. Open Smart Hub to install apps.")
    out = composer.compose("games installing app", [english])
    assert [s for _, s, _ in out.sentences][0] == f"{CONTINUES}and games by installing the app."
    assert out.text.startswith(f"{CONTINUES}and games by installing the app [1].")
    # a crawled page that starts inside a sentence opens with its comma: the piece shows the mark
    page = _hit(1, "，打造培养高水平能源经济学人才的教育基地。学院设有能源经济专业。")
    quoted = [s for _, s, _ in composer.compose("能源经济学人才的教育基地", [page], lang="zh").sentences]
    assert quoted[0] == f"{CONTINUES}打造培养高水平能源经济学人才的教育基地。"


def test_distinct_sentences_keeps_what_differs_by_a_number_and_drops_repeats() -> None:
    from indexes.text import wording
    from rag.compose import distinct_sentences

    texts = [
        "Refunds for unopened items are paid within 5 working days of receipt.",  # 0
        "Refunds for unopened items are paid within 7 working days of receipt.",  # 1: another number
        "for unopened items are paid within 5 working days",  # 2: a piece of 0
        "You can view the model number, the software version and the call center number.",  # 3
        "You can view the model number, the software version, the call center number and more.",  # 4
        "Yes.",  # 5: too short to be a piece of anything
    ]
    keys = [wording(t) for t in texts]
    assert distinct_sentences(range(6), keys, 10) == [0, 1, 3, 5]
    # the piece ranked first gives way to the whole sentence, unless it is pinned
    assert distinct_sentences([2, 0], keys, 10) == [0]
    assert distinct_sentences([2, 0], keys, 10, pinned=frozenset({2})) == [2]
    assert distinct_sentences(range(6), keys, 2) == [0, 1]


def test_a_how_long_question_is_answered_with_the_duration() -> None:
    """Of two sentences that share the question's words, the one that says how long answers
    "how long" (and "多久")."""
    policy = _hit(
        1,
        "Refunds are issued to the original payment method. Refunds are issued within 5 to 7 business days.",
    )
    zh = _hit(1, "退款将原路退回到支付账户。退款将在 5 至 7 个工作日内原路退回。")
    for question, hit, want in [
        ("How long until refunds are issued?", policy, "Refunds are issued within 5 to 7 business days."),
        ("退款需要多久？", zh, "退款将在 5 至 7 个工作日内原路退回。"),
    ]:
        lang = "zh" if want.endswith("。") else "en"
        by_words = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
        assert [s for _, s, _ in by_words.compose(question, [hit], lang=lang).sentences] == [want]
        blind = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1, kind_bonus=0.0)
        assert [s for _, s, _ in blind.compose(question, [hit], lang=lang).sentences] != [want]


def test_the_answer_comes_from_the_best_passage_not_from_wherever_the_question_words_are() -> None:
    """Retrieval ranked the FAQ entry first on everything it weighs (its curated question among
    them); its answer shares no word with the question, while a lower passage repeats them. The
    answer is the entry's, not a collage of the sentences with the most question words."""
    entry = _hit(1, "Q: Has anyone in the United States gotten infected?\nA: Yes. There have been cases in the U.S. "
                    "related to travel and through close contact.", score=1.0)
    other = _hit(2, "Some viruses infect people and animals. Rarely, viruses that infect animals infect people.",
                 score=0.55)
    composer = ExtractiveComposer(get_embedder("hashing:64"), embed_sentences=3)
    # (asked of "America": "US" would be a word of "the U.S.", indexes.text._countries)
    out = composer.compose("Are there infected people in America?", [entry, other])
    cases = "There have been cases in the U.S. related to travel and through close contact."
    assert (1, cases) in [(n, s) for n, s, _ in out.sentences]
    # sentences chosen by their question words first never even weigh it
    by_words = ExtractiveComposer(get_embedder("hashing:64"), embed_sentences=3, w_rank=0.5, w_prior=0.1)
    assert cases not in [s for _, s, _ in by_words.compose("Are there infected people in America?", [entry, other]).sentences]


def test_a_list_that_lost_its_bullets_is_read_with_its_lead_in() -> None:
    """A spreadsheet cell or a pasted page keeps a list as bare lines after its lead-in; quoted
    alone, "taking these actions:" answers nothing."""
    from rag.compose import bulleted_bare_lists

    cell = (
        "A: Pregnant women should do what everyone does. You can help stop the spread by taking these actions:\n\n"
        "Cover your cough (using your elbow is a good technique)\nAvoid people who are sick\n"
        "You can find more information at the CDC."
    )
    assert bulleted_bare_lists(cell).split("\n")[1:] == [
        "- Cover your cough (using your elbow is a good technique)",
        "- Avoid people who are sick",
        "You can find more information at the CDC.",  # a sentence, not an item
    ]
    # a bulleted list after a blank line still follows its lead-in; a colon at a heading's end is none
    assert bulleted_bare_lists("Bring:\n\n- a receipt\n- the box") == "Bring:\n- a receipt\n- the box"
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("How can I help stop the spread?", [_hit(1, cell)])
    assert "taking these actions: Cover your cough (using your elbow is a good technique); Avoid people who are sick" in out.text
    assert "actions: [1]" not in out.text


def test_a_sentence_broken_over_lines_is_read_whole_and_a_piece_of_one_never() -> None:
    from rag.compose import joined_broken_lines

    manual = "When Usage Mode is set to Retail Mode ,\nthe TV's settings are reset every 5 minutes.\n- Eco mode"
    assert joined_broken_lines(manual) == (
        "When Usage Mode is set to Retail Mode , the TV's settings are reset every 5 minutes.\n- Eco mode"
    )
    assert joined_broken_lines("招生专业包括社会学、\n社会工作。") == "招生专业包括社会学、社会工作。"
    # a page cut mid-sentence, and the next entry's question in quotes, are no sentences of an answer
    page = _hit(1, "国家专项计划定向招收贫困地区学生。\n4、招生的规模有多大？\"圆梦计划\"招多少人？\n考生须按要求填写志愿，")
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("国家专项计划招收哪些学生？", [page], lang="zh")
    assert [s for _, s, _ in out.sentences] == ["国家专项计划定向招收贫困地区学生。"]
    cut = _hit(1, "Refunds are paid to the original card. To speed it up, press the button on the")
    said = [s for _, s, _ in ExtractiveComposer(get_embedder("hashing:64")).compose("How are refunds paid?", [cut]).sentences]
    assert said == ["Refunds are paid to the original card."]


def test_a_reply_is_quoted_only_to_the_question_its_entry_asked() -> None:
    """ "Yes, choose Click & Collect" answered "Can I pick up my order in a shop?": quoted to "Can I
    bring my dog into the shop?" its "Yes" would say what the knowledge base never said."""
    entry = Chunk(id="f1", doc_id="faq", source="faq.csv#S10", position=0, kind="faq",
                  title="faq", question="Can I pick up my order in a shop?",
                  text="Q: Can I pick up my order in a shop?\nA: Yes, choose Click & Collect at checkout.")
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    hit = Hit(chunk=entry, score=0.9)
    assert composer.compose("Can I bring my dog into the shop?", [hit]).text.startswith("Choose Click & Collect")
    assert composer.compose("Can I pick up my order in the shop?", [hit]).text.startswith("Yes, choose Click")
    # a bare reply with its verb is no sentence, with or without its "Yes"
    bare = _hit(1, "Is express delivery available on Sundays? Yes, it is. Sunday orders ship on Monday.")
    said = [s for _, s, _ in ExtractiveComposer(get_embedder("hashing:64")).compose("Is it?", [bare]).sentences]
    assert not any(s.lower().startswith(("it is", "yes")) for s in said), said
    zh = _hit(1, "可以，登录账户后在订单页面修改收货地址。")
    assert composer.compose("可以带宠物进店吗？", [zh], lang="zh").text.startswith("登录账户后")


def test_a_curated_answer_the_answer_keeps_to_is_said_whole() -> None:
    """An answer from one curated FAQ entry says the entry's answer as written, in its order, not
    the three sentences most like the question (which left out what qualifies them). Not where
    the answer draws on other passages too, where the entry is longer than an answer may be, where
    a reply's "Yes" was left out for another question, or where an instruction was redacted
    from the passage."""
    answer = ("Most orders arrive in 3 to 5 business days. Orders placed after 2 pm ship the next day. "
              "Remote areas can take 2 days longer. Track your parcel in the app. Holidays add a day.")

    def entry(text: str = answer, score: float = 0.95, passage: str | None = None) -> Hit:
        chunk = Chunk(id="f1", doc_id="faq", source="faq.csv#1", position=0, kind="faq", title="faq",
                      question="How long does delivery take?", answer=text, text=f"Q: How long does delivery take?\nA: {text}")
        return Hit(chunk=chunk, score=score, text=passage)

    composer = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2)
    out = composer.compose("How long does delivery take?", [entry()])
    assert out.text.startswith("Most orders arrive in 3 to 5 business days [1]. Orders placed after 2 pm"), out.text
    assert out.text.endswith("Holidays add a day [1]."), out.text
    assert [s for _, s, _ in out.sentences][-1] == "Holidays add a day."
    # longer than an answer may be: the sentences chosen, as before
    short = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2, max_chars=len(answer) - 1)
    assert "Holidays add a day" not in short.compose("How long does delivery take?", [entry()]).text
    # instructions redacted from the passage: its answer as written is not said
    redacted = entry(passage="Q: How long does delivery take?\nA: Most orders arrive in 3 to 5 business days. [removed]")
    assert "Holidays" not in composer.compose("How long does delivery take?", [redacted]).text
    # a reply said for another question than the entry's keeps its "Yes" out
    yes = entry("Yes, choose Click & Collect at checkout. Collect it within 7 days.")
    assert composer.compose("Can I bring my dog into the shop?", [yes]).text.startswith("Choose Click & Collect")
    # an answer drawing on another passage too is composed as before
    other = _hit(2, "Express delivery takes 1 business day and costs $12.95.", score=0.94)
    mixed = composer.compose("How long does express delivery take?", [entry(), other])
    assert "[2]" in mixed.text and "Holidays add a day" not in mixed.text, mixed.text
    # a bare reply is said back only to the entry's own question
    replied = entry("Yes. Most orders arrive in 3 to 5 business days. Remote areas can take 2 days longer.")
    assert composer.compose("How long does delivery take?", [replied]).text.startswith("Yes [1]. Most orders")
    asked_else = composer.compose("When will my parcel arrive?", [replied]).text
    assert "Most orders arrive" in asked_else and "Yes" not in asked_else, asked_else
    # ... or to a question answered by yes or no: "How much ...?" is told the price, not "Yes"
    offered = Hit(chunk=Chunk(
        id="f2", doc_id="faq", source="faq.csv#2", position=0, kind="faq", title="faq", question="Do you offer a static IP address?",
        answer="Yes. A static IP address costs $5 per month.", text="Q: Do you offer a static IP address?\nA: Yes. A static IP address costs $5 per month.",
    ), score=0.95)
    assert composer.compose("How much is a static IP address?", [offered]).text.startswith("A static IP address costs $5")
    assert composer.compose("Is there a static IP address?", [offered]).text.startswith("Yes [1]. A static IP")
    # a list, read as one sentence of items, is found in the entry that writes one item a line
    listed = entry("To avoid delays:\n\nCheck your address\nKeep your phone on\nYou can track the parcel in the app.")
    out = composer.compose("How can I avoid delays?", [listed])
    assert out.text.startswith("To avoid delays: [1]\n\nCheck your address [1]\nKeep your phone on [1]"), out.text
    # a follow-up that names another subject is answered by what the entry says of it alone
    fees = entry("Standard shipping costs $4.95. Members ship free.")
    members = composer.compose("And for members?", [fees], query="How much is shipping? And for members?")
    assert members.text == "Members ship free [1].", members.text


def test_a_how_to_question_answered_from_a_how_to_section_keeps_to_it() -> None:
    """"How do I claim warranty?" went on from "How to make a warranty claim" to what Acme Care+
    costs, the section merged after it in the passage: once a sentence of a section headed as
    telling how is chosen, the other sections' sentences are not said. Without such a heading
    (the steps found by a menu path) the section's other sentences may still be said."""
    passage = ("## How to make a warranty claim\nOpen a warranty claim in your account under Orders > Get help.\n\n"
               "## Acme Care+\nAcme Care+ is an optional protection plan. It adds two claims per year with a $49 fee.")
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="warranty.md", position=0, text=passage, title="Warranty"),
              score=0.9, text=passage)
    out = composer.compose("How do I make a warranty claim?", [hit])
    assert out.text == "Open a warranty claim in your account under Orders > Get help [1].", out.text
    # a section headed as telling how to do something else does not hold the answer: "怎么注销账户？"
    # was answered how points are used
    # (here no sentence shares a word with the question, and the embedder puts them all alike)
    points = "## 积分有效期\n账户注销后，剩余积分同时作废。\n\n## 如何使用积分\n100 积分可抵扣 1 美元。"
    hit = Hit(chunk=Chunk(id="c2", doc_id="d2", source="points.md", position=0, text=points, title="积分", lang="zh"),
              score=0.9, text=points)
    out = ExtractiveComposer(_Flat(), max_sentences=1).compose("怎样关闭我的会员？", [hit], lang="zh")
    assert out.text.startswith("账户注销后，剩余积分同时作废"), out.text
    plain = passage.replace("## How to make a warranty claim", "## Warranty claims")
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="warranty.md", position=0, text=plain, title="Warranty"),
              score=0.9, text=plain)
    assert "Acme Care+" in composer.compose("How do I make a warranty claim?", [hit]).text


def test_a_how_to_question_answered_by_a_numbered_step_is_told_every_step() -> None:
    # "How do I switch to eSIM?" said steps 1 and 2 of 5 (and the number staying the same)
    passage = (
        "Your phone number stays the same when you switch from a physical SIM to an eSIM.\n"
        "1. Check that your phone supports eSIM under Settings > About > EID.\n"
        "2. Open the MyTel app and go to Account > SIM > Switch to eSIM.\n"
        "3. Scan the QR code shown in the app with your phone's camera.\n"
        "4. Keep your phone connected to Wi-Fi until the eSIM profile is installed.\n"
        "5. Restart your phone."
    )
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="sim.docx", position=0, text=passage, title="SIM"),
              score=0.9, text=passage)
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("How do I switch to eSIM?", [hit]).text
    steps = ["Check that your phone", "Open the MyTel app", "Scan the QR code", "Keep your phone connected",
             "Restart your phone"]
    assert all(s in out for s in steps), out
    assert [out.index(s) for s in steps] == sorted(out.index(s) for s in steps), out  # in order
    # a question that asks no how is answered as before: not every step
    kind = ExtractiveComposer(get_embedder("hashing:64")).compose("Does my phone number stay the same?", [hit]).text
    assert not all(s in kind for s in steps), kind


def test_a_sentence_is_said_with_the_exception_that_follows_it() -> None:
    # "Can I keep my number if I switch to eSIM?" was told the number stays the same, without "The
    # only exception is prepaid Lite lines", the next sentence
    passage = (
        "Your phone number stays the same when you switch from a physical SIM to an eSIM. The only exception "
        "is prepaid Lite lines: a new number is issued with the eSIM. Keep your phone on Wi-Fi during the switch. "
        "The eSIM profile downloads in ten minutes."
    )
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="sim.docx", position=0, text=passage, title="SIM"),
              score=0.9, text=passage)
    out = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=1).compose(
        "Can I keep my phone number if I switch to an eSIM?", [hit]).text
    assert out.startswith("Your phone number stays the same") and "The only exception is prepaid Lite lines" in out, out


def test_a_tables_rows_are_said_by_the_row_asked_about_else_in_the_tables_order() -> None:
    from rag.compose import reading_order

    phone, laptop = frozenset({"phone", "warranti"}), frozenset({"warranti"})
    # a lead-in, then three rows: the one that names what only it names comes first after the lead-in
    spots = [(1, 0), (1, 1), (1, 2), (1, 3)]
    rows = [None, laptop, phone, laptop]
    assert reading_order(spots, [0.5, 0.6, 0.6, 0.5], None, rows) == [0, 2, 1, 3]
    # rows that all name the same terms (the column headers) keep the table's order
    same = frozenset({"data", "keep"})
    assert reading_order(spots[1:], [0.5, 0.9, 0.7], None, [same, same, same]) == [0, 1, 2]
    # a sentence that is no row still reads as written
    assert reading_order(spots, [0.5, 0.6, 0.9, 0.5]) == [0, 1, 2, 3]

    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=3)
    table = _hit(1, "Periods by product category:\n| Product category | Warranty period |\n|---|---|\n"
                    "| Laptops | 2 years |\n| Phones | 1 year |\n| Kitchen appliances | 3 years |")
    out = composer.compose("And on a phone?", [table], query="And on a phone? How long is the warranty on a laptop?")
    assert out.text.startswith("Product category: Phones; Warranty period: 1 year"), out.text


def test_a_follow_up_that_only_names_another_subject_asks_what_the_turn_before_asked() -> None:
    """ "And for members?" after "How long do I have to return an item?" asks how long: it is
    answered with the members' return window, not with what else is said of members."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    policy = _hit(1, "You have 30 days to return an item. Members never pay return shipping. "
                     "Members have an extended return window of 60 days.")
    question = "And for members?"
    out = composer.compose(question, [policy], query=f"{question} How long do I have to return an item?")
    assert out.text.startswith("Members have an extended return window of 60 days"), out.text


def test_the_kind_the_turn_before_asked_for_is_given_only_about_the_subject_named_now() -> None:
    """ "注销账户后呢？" (and after closing the account?) after "积分多久过期？" (when do points
    expire?) is answered by what is said of closing the account, which gives no duration, not by
    another sentence's duration that shares only "后" with it, though the embedder puts that one
    closer to the turn as condensed (as multilingual-e5-small did)."""
    import numpy as np

    class Leaning:
        id = "fake:leaning"
        dim = 2

        def embed(self, texts: list[str], kind: str = "passage") -> np.ndarray:
            return np.array([[0.96, 0.28] if "注销" in t and kind == "passage" else [1.0, 0.0] for t in texts], dtype=np.float32)

    composer = ExtractiveComposer(Leaning())
    rules = _hit(1, "## 如何获得积分\n积分在订单签收 30 天后到账。\n## 积分有效期\n账户注销后，剩余积分同时作废。")
    question = "注销账户后呢？"
    out = composer.compose(question, [rules], "zh", query=f"{question} 积分多久过期？")
    assert out.text.startswith("账户注销后，剩余积分同时作废"), out.text
    # a sentence that names the subject and gives the kind still opens the answer
    policy = _hit(1, "You have 30 days to return an item. Members never pay return shipping. "
                     "Members have an extended return window of 60 days.")
    one = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    out = one.compose("And for members?", [policy], query="And for members? How long do I have to return an item?")
    assert out.text.startswith("Members have an extended return window of 60 days"), out.text


def test_the_answer_is_said_first_and_a_sentence_never_before_the_one_it_leans_on() -> None:
    from rag.compose import leans_on_previous, reading_order

    # runs of consecutive sentences of a passage read as written, the run with the best sentence first
    assert reading_order([(1, 0), (1, 1), (1, 3)], [1.0, 1.02, 1.03]) == [2, 0, 1]
    assert reading_order([(1, 0), (2, 0)], [0.5, 0.9]) == [1, 0]
    # sentences on either side of a heading are not consecutive: a section boundary ends a run
    from indexes.text import split_sentences
    from rag.compose import SECTION_BREAK, _readable

    sections = _readable("Refunds exclude shipping.\n## Refund times\nRefunds arrive within 5 days.", "en")[0]
    assert split_sentences(sections) == ["Refunds exclude shipping.", SECTION_BREAK, "Refunds arrive within 5 days."]
    # "But ..." stays after the sentence of its passage it leans on, however relevant it is
    assert reading_order([(1, 0), (1, 2), (2, 0)], [0.5, 0.9, 0.7], [False, True, False]) == [0, 1, 2]
    assert [leans_on_previous(s) for s in ("It takes 5 days.", "Items ship daily.", "但是在此基础上，", "其他问题请来电。")] == [
        True, False, True, False,
    ]
    # "Elsewhere" is elsewhere than what the sentence before it named ("Express delivery arrives the
    # next business day in all major cities. Elsewhere it takes 1 to 2 business days.")
    assert leans_on_previous("Elsewhere it takes 1 to 2 business days.")
    account = _hit(1, "You need an e-mail address and a password of ten characters to create an account. "
                      "You can change your password and e-mail address under Settings. Mail us about anything else. "
                      "To reset your password, choose Forgot password on the login page.")
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    out = composer.compose("How do I reset my password?", [account])
    assert [s.split()[:2] for _, s, _ in out.sentences] == [["To", "reset"], ["You", "need"], ["You", "can"]]


def test_a_rare_question_word_counts_more_than_a_common_one() -> None:
    # "pay" is in many passages of a shop's knowledge base, "PayPal" in one: a sentence that only
    # says "pay" shares a common word with the question, not what it asks
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [
        _hit(1, "Acme Plus members never pay return shipping. Returns are free for faulty items.", "Returns", 0.9),
        _hit(2, "We accept Visa, Mastercard and PayPal.", "Payment", 0.85),
    ]
    idf = {"pay": 0.3, "paypal": 4.0}
    weighted = composer.compose("Can I pay with PayPal?", hits, "en", term_weight=lambda t: idf.get(t, 0.0))
    assert weighted.text == "We accept Visa, Mastercard and PayPal [2]."
    # counted alike, the two words would quote the return-shipping sentence first
    plain = composer.compose("Can I pay with PayPal?", hits, "en")
    assert plain.text.startswith("Acme Plus members never pay return shipping [1].")


def test_the_sentence_that_says_the_kind_of_answer_asked_for_comes_first() -> None:
    # "how long" wants a duration: the run that gives one opens the answer, even where another
    # sentence shares more of the question's words
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    passage = (
        "申请退货退款需要在订单页面提交，退货运费由买家承担。\n\n## 检验\n\n"
        "仓库收到退货后 2 个工作日内完成检验。检验通过后，款项将在 5 至 7 个工作日内原路退回。"
    )
    out = composer.compose("退货需要多长时间退款？", [_hit(1, passage, "退款时效", 0.9)], "zh")
    assert out.text.startswith("仓库收到退货后 2 个工作日内完成检验[1]。"), out.text


def test_a_price_question_is_answered_with_a_price_not_with_another_number() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    hits = [
        _hit(1, "Express delivery arrives the next business day when you order before 14:00.", score=0.9),
        _hit(2, "Delivery of large appliances is by a two-person team, for $29.", score=0.9),
    ]
    out = composer.compose("How much is delivery for a fridge?", hits)
    assert out.text.startswith("Delivery of large appliances"), out.text


def test_what_to_do_about_something_is_no_how_to_question() -> None:
    """ "退货的话积分怎么办？" asks what happens to points on a return, as "What should I do?" asks no
    procedure: it is answered from the section about returns and points, not from "如何使用积分"."""
    from dataclasses import replace

    from indexes.text import asks_how_to

    assert asks_how_to("积分怎么用？") and asks_how_to("退货怎样操作") and asks_how_to("如何退货")
    assert not asks_how_to("退货的话积分怎么办？") and not asks_how_to("这个商品怎么样")
    assert asks_how_to("首次申领社保卡怎么办理？")  # ("怎么办理" asks how to go through the procedure)
    # asking for the steps asks how ("What are the steps to set up the router?" was answered with
    # step 6, then steps 1 and 2)
    assert asks_how_to("What are the steps to set up the router?") and asks_how_to("开发票的步骤是什么？")
    assert asks_how_to("What is the process for returning an item?") and asks_how_to("Walk me through a return")
    assert not asks_how_to("What is the first step?") and not asks_how_to("How long does each step take?")
    page = _hit(1, "## 如何使用积分\n100 积分可抵扣 1 美元，最多抵扣订单金额的 20%。\n"
                   "## 退货对积分的影响\n退货后，该商品获得的积分将被扣回。", "积分规则", 0.9)
    page = replace(page, chunk=replace(page.chunk, lang="zh"))
    out = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0).compose("退货的话积分怎么办？", [page], lang="zh")
    assert out.text.startswith("退货后，该商品获得的积分将被扣回"), out.text


def test_the_labels_of_a_written_out_faq_are_not_quoted() -> None:
    """A Markdown page that writes its FAQ as "问题：…" / "答案：…" lines is answered with the answer,
    without its label, and never with the question line."""
    page = _hit(1, "问题：退货需要多长时间退款？\n答案：仓库收到退货后，退款将在 5 至 7 个工作日内原路退回。", "退货")
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("退款多久到账？", [page], lang="zh")
    said = [s for _, s, _ in out.sentences]
    assert any("5 至 7 个工作日" in s for s in said)
    assert not any(s.startswith(("答案", "问题")) or "多长时间退款" in s for s in said)


def test_a_sentence_that_leans_on_the_one_before_counts_its_words() -> None:
    """"It adds ... a $49 service fee" is about the plan the sentence before it names: asked what
    the plan costs, the answer holds the fee although that sentence never names the plan."""
    plan = _hit(1, "Acme Care+ is an optional protection plan bought within 30 days of delivery. "
                   "It adds two accidental damage claims per year with a $49 service fee each. "
                   "Acme repairs most products within 10 business days. "
                   "Acme arranges free pick-up for products over 10 kg.")
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("What does Acme Care+ cost?", [plan])
    assert any("$49 service fee" in s for _, s, _ in out.sentences), out.text


def test_a_merged_passage_is_read_from_the_section_of_its_own_chunk() -> None:
    from dataclasses import replace

    # the retriever merged the account section's end (a retrieved neighbour) before the chunk it
    # matched, the "Forgotten password" section; every sentence names the password, one the reset
    before = (
        "You need an e-mail address and a password of ten characters to create an account. "
        "You can change your password under Settings."
    )
    own = 'Choose "Forgot password" on the login page. We send a reset link that is valid for 30 minutes.'
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    idf = {"reset": 2.0, "password": 1.0}.get

    def said(passage: str) -> list[str]:
        hit = replace(_hit(1, own), text=passage)
        out = composer.compose("How do I reset my password?", [hit], term_weight=lambda t: idf(t, 0.0))
        return [s for _, s, _ in out.sentences]

    # its section's sentences are read first, from the section's start: the reset steps in order
    # (the account sentences used to win the ties, being earlier in the passage)
    got = said(f"{before}\n## Forgotten password\n{own}")
    assert got[:2] == ['Choose "Forgot password" on the login page.', "We send a reset link that is valid for 30 minutes."]
    # a passage without headings is one section, read from its start as before
    assert said(f"{before}\n{own}")[0] == "We send a reset link that is valid for 30 minutes."


def test_an_answer_is_said_in_one_language() -> None:
    # a bilingual knowledge base says many things twice; both sentences name Acme Plus as well
    english = _hit(1, "Acme Plus members never pay return shipping.", "Returns", 0.9)
    chinese = _hit(2, "Acme Plus 会员的退货期限延长至 60 天。", "退换货政策", 0.9)
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    out = composer.compose("What is Acme Plus?", [english, chinese])
    assert [s for _, s, _ in out.sentences] == ["Acme Plus members never pay return shipping."]
    # in the language of its most relevant sentence, whichever that is
    out = composer.compose("What is Acme Plus?", [chinese, english])
    assert [s for _, s, _ in out.sentences] == ["Acme Plus 会员的退货期限延长至 60 天。"]
    # a question only the other language's documents answer still gets their sentences
    assert composer.compose("Acme Plus?", [chinese]).text.startswith("Acme Plus 会员的退货期限延长至 60 天")


def test_a_bare_yes_is_never_quoted() -> None:
    # "Yes." answers the question of the FAQ entry it is in, not the one asked now: the demo said
    # "Do you deliver on Sundays?" "... for express orders. Yes [2]." (multilingual-e5-small puts a
    # bare "Yes" close to any yes/no question)
    sunday = _hit(1, "Standard parcels are delivered Monday to Saturday. Sunday delivery is available for express orders.")
    express = _hit(2, "Q: Do you offer express delivery?\nA: Yes. Express delivery arrives the next business day.")
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("Do you deliver on Sundays?", [sunday, express])
    assert out.sentences and "Yes" not in out.text
    # with nothing else to say, there is no answer rather than a "Yes" to another question
    assert composer.compose("Do you deliver on Sundays?", [_hit(1, "Q: Do you offer express delivery?\nA: Yes.")]).text == ""
    from rag.compose import _is_bare_reply

    assert [_is_bare_reply(s) for s in ("Yes.", "No, you can't.", "是的。", "Yes, express delivery is available.")] == [
        True, True, True, False,
    ]


def test_a_sentence_counts_the_question_terms_of_its_section_heading_that_the_section_never_says() -> None:
    """"商品须未经使用…齐全" is a condition of a return because it stands under "退货条件", though no
    sentence of the section says 条件: asked "退货需要什么条件？", the answer is that section's,
    not the return period's sentences, which say 退货 more often."""
    from dataclasses import replace

    period = "自签收之日起 30 天内，可申请无理由退货。退货期限以物流签收日期为准，而不是下单日期。"
    terms = "商品须未经使用，包装、配件、说明书和赠品齐全。服装类商品须保留吊牌。"
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    idf = {"条件": 3.0, "退货": 0.5, "需要": 1.0}.get

    def said(hits: list[Hit]) -> list[str]:
        out = composer.compose("退货需要什么条件？", hits, "zh", term_weight=lambda t: idf(t, 0.0))
        return [s for _, s, _ in out.sentences]

    def chunk_in(n: int, text: str, heading: str) -> Hit:
        hit = _hit(n, text, "退换货政策", 0.9)
        return replace(hit, chunk=replace(hit.chunk, lang="zh", heading_path=("退换货政策", heading)))

    # the conditions merged after the return period (both sections retrieved): the heading stands
    # between them in the passage
    merged = replace(chunk_in(1, terms, "退货条件"), text=f"{period}\n## 退货条件\n{terms}")
    assert said([merged])[:2] == ["商品须未经使用，包装、配件、说明书和赠品齐全。", "服装类商品须保留吊牌。"]
    # a chunk alone is in the section its heading path ends with
    assert said([chunk_in(1, period, "退货期限"), chunk_in(2, terms, "退货条件")])[0] == "商品须未经使用，包装、配件、说明书和赠品齐全。"
    # without the heading, the period's sentences win on 退货
    assert said([_hit(1, f"{period}\n{terms}", "退换货政策", 0.9)])[0] != "商品须未经使用，包装、配件、说明书和赠品齐全。"


def test_a_one_character_chinese_word_is_said_by_the_words_that_begin_with_it() -> None:
    """jieba keeps 退 in "什么商品不能退？" as a word of its own, and cuts no page's 退货 into it: the
    sentence that names the goods that cannot be returned ("…不支持无理由退货") matched only 商品, as
    each sentence before it did, and the answer's three sentences were those. 退货 begins with 退,
    so it says 退, half."""
    from dataclasses import replace

    rules = "商品须未经使用，包装、配件齐全。商品签收后请当面检查。仓库收到商品后完成检验。以下商品不支持无理由退货：礼品卡和生鲜食品。"
    hit = _hit(1, rules, "退换货政策", 0.9)
    hit = replace(hit, chunk=replace(hit.chunk, lang="zh"))
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone

    said = [s for _, s, _ in composer.compose("什么商品不能退？", [hit], "zh").sentences]
    assert said[0] == "以下商品不支持无理由退货：礼品卡和生鲜食品。", said
    assert "仓库收到商品后完成检验。" not in said


def test_an_answer_that_ends_on_a_clause_cut_at_a_semicolon_ends_with_a_full_stop() -> None:
    """"积分将被扣回；" is a sentence to the splitter, but an answer that ends on it reads as broken
    off: the last sentence ends with a full stop. One in the middle keeps its semicolon."""
    passage = "退货后，该商品获得的积分将被扣回；如积分已使用，将从退款金额中扣除相应金额。账户注销后，剩余积分同时作废。"
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    out = composer.compose("退货后积分会被扣回吗？", [_hit(1, passage, "会员积分规则")], "zh")
    assert out.text == "退货后，该商品获得的积分将被扣回[1]。", out.text
    both = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=2, mmr=1.0)
    out = both.compose("退货后积分会被扣回，已使用的积分从退款金额中扣除吗？", [_hit(1, passage, "会员积分规则")], "zh")
    assert out.text.startswith("退货后，该商品获得的积分将被扣回[1]；如积分已使用"), out.text


def test_a_lead_in_is_said_with_what_it_introduces_or_not_at_all() -> None:
    lead = "To use the voice assistant, you must:"
    after = "Agree to the Terms of Use and sign in to your account."
    hits = [_hit(1, f"{lead}\n{after} The voice assistant answers in the language of the menu."),
            _hit(2, "The voice assistant needs a microphone on the remote.")]
    question = "What must I do to use the voice assistant?"
    out = ExtractiveComposer(get_embedder("hashing:64")).compose(question, hits)
    said = [s for _, s, _ in out.sentences]
    assert lead in said and said[said.index(lead) + 1].startswith("Agree to the Terms"), out.text
    # no room for what follows it: the lead-in is left out, not quoted alone
    tight = ExtractiveComposer(get_embedder("hashing:64"), max_chars=len(lead) + 60)
    out = tight.compose(question, hits)
    assert out.sentences and lead not in out.text, out.text
    # a long sentence that ends with a colon (a table's rows before a page's "分享到：") says
    # something itself: it is quoted though nothing follows it
    rows = " ".join(f"{i} 第{i}中学" for i in range(1, 40)) + " 分享到："
    hits = [_hit(1, rows), _hit(2, "名单按音序排列。第3中学的名单每年更新。")]
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("名单里的第3中学是哪所？", hits, lang="zh")
    assert "1 第1中学" in out.text, out.text


def test_a_passage_that_retrieval_put_clearly_first_answers_alone() -> None:
    """Retrieval is sure of the payment entry (it leads the next by more than ``lead_margin``):
    the returns entry's sentences about paying are about another question, and do not fill up
    the answer. With the two entries close, the answer may draw on both, as before."""
    pay = _hit(1, "Q: Which payment methods do you accept?\nA: We accept Visa, Mastercard, PayPal and Acme gift cards.",
               score=1.0)
    text = "Q: Who pays for return shipping?\nA: Acme pays the return shipping for faulty items. " \
           "Acme Plus members never pay return shipping."
    returns = _hit(2, text, score=0.7)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    sure = composer.compose("Can I pay with PayPal?", [pay, returns])
    assert [n for n, _, _ in sure.sentences] == [1]
    assert "[2]" not in sure.text
    close = composer.compose("Can I pay with PayPal?", [pay, _hit(2, text, score=0.95)])
    assert 2 in {n for n, _, _ in close.sentences}
    # the margin is the composer's to set: at 0.5 the first case reads both entries again
    wide = ExtractiveComposer(get_embedder("hashing:64"), lead_margin=0.5)
    assert 2 in {n for n, _, _ in wide.compose("Can I pay with PayPal?", [pay, returns]).sentences}


def test_a_chinese_question_keeps_to_the_best_passage_however_close_the_next() -> None:
    """The embedder scores a Chinese question about the same against every sentence of the same
    domain, so the sentences of the next FAQ entry are not told apart from the answer: where the
    best sentence is the best passage's, the answer keeps to it even when the next passage is
    close behind. An English question keeps the margin (the second passage is often the right
    one), and the Chinese margin is the composer's to set."""
    raise_ = _hit(1, "Q: 信用卡额度可以提高吗？\nA: 持卡满6个月的客户可在手机银行“额度管理”中申请提额。", score=0.97)
    temp = _hit(2, "Q: 如何申请临时额度？\nA: 在手机银行“额度管理-临时额度”中申请，临时额度有效期一般为30天。",
                score=0.95)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("我想申请提高额度", [raise_, temp], lang="zh")
    assert [n for n, _, _ in out.sentences] == [1], out.text
    assert "[2]" not in out.text
    pay = _hit(1, "Q: Which payment methods do you accept?\nA: We accept Visa, Mastercard, PayPal and gift cards.",
               score=1.0)
    returns = _hit(2, "Q: Who pays for return shipping?\nA: Acme pays the return shipping for faulty items. "
                      "Members never pay return shipping.", score=0.95)
    assert 2 in {n for n, _, _ in composer.compose("Can I pay with PayPal?", [pay, returns]).sentences}
    wide = ExtractiveComposer(get_embedder("hashing:64"), lead_margin_cjk=0.2)
    assert 2 in {n for n, _, _ in wide.compose("我想申请提高额度", [raise_, temp], lang="zh").sentences}


def test_a_chinese_answer_from_one_passage_keeps_to_its_first_sentences_section() -> None:
    """"哪些商品不能退？" went on from the goods that cannot be returned to who pays the return
    shipping, the section merged after it in the passage, by the words it shares; an English
    answer may still read on into the next section."""
    zh = ("## 退货条件\n以下商品不支持无理由退货：礼品卡、定制商品。\n\n"
          "## 退货运费谁承担？\n非质量问题的退货，运费由买家承担。商品质量问题的退货，运费由 Acme 承担。")
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="returns.zh.md", position=0, text=zh, title="退换货政策",
                          lang="zh"), score=0.9, text=zh)
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("哪些商品不能退货？", [hit], lang="zh")
    assert out.text.startswith("以下商品不支持无理由退货") and "运费" not in out.text, out.text
    wide = ExtractiveComposer(get_embedder("hashing:64"))
    en = ("## Conditions\nGift cards and custom goods cannot be returned.\n\n"
          "## Return shipping\nFor goods returned by choice the buyer pays return shipping.")
    hit = Hit(chunk=Chunk(id="c2", doc_id="d2", source="returns.md", position=0, text=en, title="Returns"),
              score=0.9, text=en)
    assert "buyer pays" in wide.compose("Which goods cannot be returned?", [hit]).text


def test_a_part_that_names_nothing_asks_the_part_before_for_another_kind_of_answer() -> None:
    """"How much is express shipping and how long does it take?" was read as one question and
    answered with the prices alone: "how long does it take?" asks how long express shipping takes."""
    prices = _hit(1, "Q: How much does shipping cost?\nA: Standard shipping costs $4.95. Express shipping costs "
                     "$12.95. Members ship free. Orders over $50 ship free. Gift wrap costs $3.", score=0.95)
    times = _hit(2, "Q: Do you offer express delivery?\nA: Express shipping arrives the next business day. "
                    "It is available in all major cities.", score=0.80)
    composer = ExtractiveComposer(_Flat())
    out = composer.compose("How much is express shipping and how long does it take?", [prices, times])
    assert "$12.95" in out.text and "next business day" in out.text, out.text


def test_a_row_about_another_entry_of_the_table_is_not_said() -> None:
    """"What is the warranty on a phone?" was answered with the Phones row, then the Laptops row
    after it: a row that names none of the question's own terms is about another entry, where a
    row that names one is there. A question that names only what the headers name ("What data
    do you keep?") is answered by every row, as before, though one cell says "data" too."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=3)
    table = _hit(1, "Periods by product category:\n| Product category | Warranty period |\n|---|---|\n"
                    "| Laptops | 2 years |\n| Phones | 1 year |\n| Kitchen appliances | 3 years |")
    out = composer.compose("What is the warranty period on a phone?", [table])
    assert "Phones" in out.text and "Laptops" not in out.text and "Kitchen" not in out.text, out.text
    data = _hit(1, "| Data | How long we keep it |\n|---|---|\n| Order history | 7 years |\n"
                   "| Browsing data in the app | 13 months |")
    kept = composer.compose("What data do you keep?", [data])
    assert "Order history" in kept.text and "Browsing data" in kept.text, kept.text


def test_a_row_of_a_table_whose_rows_the_question_does_not_name_is_said_with_the_others() -> None:
    """"How long is the warranty?" and "... on a washing machine?" (no row names one) were
    answered with the Laptops row alone, as if it were the whole answer: every row answers alike,
    so every row is said, in the table's order, after the lead-in that says what the rows are. A
    question that names a row still gets that row alone, and a table too long for the answer's
    room is not read out whole."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=3)
    rows = [("Laptops and tablets", "2 years"), ("Phones", "1 year"), ("Headphones", "1 year"),
            ("Kitchen appliances", "3 years"), ("Batteries and chargers", "6 months")]
    table = "Periods by product category:\n| Product category | Warranty period |\n|---|---|\n" + "\n".join(
        f"| {a} | {b} |" for a, b in rows
    )
    for question in ("How long is the warranty period?", "How long is the warranty period on a washing machine?"):
        out = composer.compose(question, [_hit(1, table)])
        said = [out.text.find(a) for a in ("Periods by product category", *(a for a, _ in rows))]
        assert all(at >= 0 for at in said) and said == sorted(said), out.text
    named = composer.compose("How long is the warranty period on phones?", [_hit(1, table)])
    assert "Phones" in named.text and "Laptops" not in named.text, named.text
    small = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=3, max_chars=150)
    out = small.compose("How long is the warranty period?", [_hit(1, table)])
    assert "Batteries" not in out.text and "Laptops" in out.text, out.text


def test_a_question_asking_for_a_phone_number_is_answered_first_by_a_sentence_that_gives_one() -> None:
    """"What is your phone number?" opened with the privacy table's row that
    names "phone number" among the data kept: the contact row that gives the number comes first."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    privacy = _hit(1, "| Data | Why we use it |\n|---|---|\n| Name, address, phone number | Delivering orders |",
                   score=1.0)
    contact = _hit(2, "| Channel | Contact |\n|---|---|\n| Phone | 1-800-555-0199 |", score=0.9)
    out = composer.compose("What is your phone number?", [privacy, contact])
    assert out.text.startswith("Channel: Phone; Contact: 1-800-555-0199"), out.text


def test_a_kind_question_answered_by_one_sentence_gets_no_unrelated_filler() -> None:
    """Once a sentence gives the kind of answer asked for ("多久": a duration), sentences that give
    none, and stand apart from it, are left out: "多久能退款？" was answered with its 5 to 7 working
    days, then with who pays the return shipping. (Both passages may be read: the margin of an
    English question, as a Chinese answer otherwise keeps to the best passage.)"""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, lead_margin_cjk=0.2)
    hits = [
        _hit(1, "检验通过后，退款将在 5 至 7 个工作日内原路退回。", "退款", 0.9),
        _hit(2, "非质量问题的退货，运费由买家承担，退款时将扣除退货运费。", "退货运费", 0.85),
    ]
    without_kind = composer.compose("能退款吗？", hits, "zh")  # no kind asked: both passages may speak
    assert "[2]" in without_kind.text, without_kind.text
    out = composer.compose("多久能退款？", hits, "zh")
    assert out.text == "检验通过后，退款将在 5 至 7 个工作日内原路退回[1]。", out.text


class _Flat:
    """An embedder that puts every text at the same point: sentences are told apart by their
    words alone, and each is as close to the question as the others."""

    id = "fake:flat"
    dim = 2

    def embed(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        return np.array([[1.0, 0.0] for _ in texts], dtype=np.float32)


def test_a_sentence_that_gives_the_kind_about_something_else_is_left_out() -> None:
    """Of the sentences that give the kind asked for (a duration), one that names less than half
    of what the best-named one names is about something else: "How long is the reset link valid?"
    was answered with its 30 minutes, then with how long order history is kept (the embedder
    put every sentence of the passage about as close to the question: ``_Flat`` here). A run of
    such sentences in one passage is one answer and stays whole."""
    composer = ExtractiveComposer(_Flat())
    account = _hit(1, "We send a reset link that is valid for 30 minutes. Write to us if you lost access. "
                      "Your order history is kept for 7 years because tax law requires it.", "Account", 0.9)
    out = composer.compose("How long is the reset link valid?", [account])
    assert "30 minutes [1]" in out.text and "7 years" not in out.text, out.text
    prices = _hit(1, "Standard shipping is free on orders over $50. Below $50 it costs $4.95. "
                     "Express shipping costs $12.95, and is free for members.", "Shipping", 0.9)
    out = composer.compose("How much does express shipping cost?", [prices])
    assert out.text.startswith("Standard shipping is free on orders over $50 [1]. Below $50"), out.text


def test_a_question_that_asks_two_things_is_answered_on_both() -> None:
    """ "Can I return an item and how long does the refund take?" was answered with the returns
    passage alone, whose sentences share most of its words: the sentence that says most of each
    part (and gives the kind of answer that part asks for) is said too."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    hits = [
        _hit(1, "You can return an item within 30 days of delivery. Return an item in its original packaging. "
                "Start a return of an item in your account under Orders.", "Returns", 0.9),
        _hit(2, "Refunds take 5 to 7 business days after inspection.", "Refunds", 0.7),
    ]
    out = composer.compose("Can I return an item and how long does the refund take?", hits)
    assert out.text.startswith("You can return an item within 30 days of delivery [1]."), out.text
    assert "Refunds take 5 to 7 business days after inspection [2]" in out.text, out.text


def test_each_part_of_a_two_part_question_gets_a_sentence_of_its_own() -> None:
    """ "You have 30 days ... to return an item for a refund" says most of "Can I return an item"
    and names the refund and a duration as "Refunds are issued within 5 to 7 business days" does:
    the second part gets the best sentence that the first has not taken."""
    composer = ExtractiveComposer(_Flat())
    returns = _hit(1, "You have 30 days from delivery to return an item for a refund. Members can return an item "
                      "within 60 days. An item bought in December can be returned until 31 January. Refunds are "
                      "issued within 5 to 7 business days after inspection.", "Returns", 0.9)
    out = composer.compose("Can I return an item and how long will the refund take?", [returns])
    assert out.text.startswith("You have 30 days from delivery to return an item for a refund [1]."), out.text
    assert "5 to 7 business days" in out.text, out.text


def test_a_lead_in_that_shares_no_word_of_the_question_does_not_bring_its_table() -> None:
    """ "Can I extend it?" after the headphones' warranty went on from Acme Care+ to "Periods by
    product category:" and every row of the periods table: a lead-in picked after the answer has
    begun, sharing no word of the question, says nothing asked and brings its whole list."""
    composer = ExtractiveComposer(_Flat())
    text = ("Acme Care+ extends the warranty and adds two claims a year with a $49 fee each.\n"
            "The warranty starts on the delivery date. Periods by product category:\n"
            "| Product | Period |\n|---|---|\n| Phones | 1 year |\n| Laptops | 2 years |\n| Headphones | 1 year |")
    out = composer.compose("Can I extend it?", [_hit(1, text, "Warranty", 0.9)],
                           query="Can I extend it? How long is the warranty on my headphones?")
    assert out.text.startswith("Acme Care+ extends the warranty"), out.text
    assert "Periods by product category" not in out.text and "Phones" not in out.text, out.text


class _Cosines:
    """An embedder that puts the query at (1, 0) and a sentence at the cosine given for the first
    of ``cosines``' words it holds (0.1 for none)."""

    id = "fake:cosines"
    dim = 2

    def __init__(self, cosines: dict[str, float]) -> None:
        self.cosines = cosines

    def embed(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        def at(text: str) -> list[float]:
            c = 1.0 if kind == "query" else next((c for w, c in self.cosines.items() if w in text), 0.1)
            return [c, (1.0 - c * c) ** 0.5]

        return np.array([at(t) for t in texts], dtype=np.float32)


def test_a_how_to_question_opens_with_the_sentence_that_says_where_to_do_it() -> None:
    """ "How do I delete my account?" opened with "everything else is deleted within 30 days", which
    shares the rarer word and which the embedder put closer, before "You can close your account
    under Account > Settings > Close account": where no section is headed as telling how, a
    sentence that names a menu path tells it."""
    composer = ExtractiveComposer(_Cosines({"deleted": 0.9, "close your": 0.8}))
    account = _hit(1, "## Closing your account\nYou can close your account under Account > Settings > Close "
                      "account. Open orders and returns must be completed first.\nYour order history is kept "
                      "for 7 years because tax law requires it; everything else is deleted within 30 days.",
                   "Account", 0.9)
    out = composer.compose("How do I delete my account?", [account])
    assert out.text.startswith("You can close your account under Account > Settings > Close account [1]."), out.text


def test_a_follow_up_that_only_names_another_subject_is_answered_by_what_is_said_of_it() -> None:
    """ "评价呢？" (and reviews?) after "怎么获得积分？" (how do I earn points?) was answered with
    every way of earning points again, the one about reviews last: the sentences that name the
    subject asked about now answer it, where one does (the embedder put the three alike)."""
    composer = ExtractiveComposer(_Flat())
    rules = _hit(1, "## 如何获得积分\n每消费 1 美元获得 1 积分；会员获得双倍积分。商品评价审核通过后，每条评价奖励 20 积分。", "积分")
    question = "评价呢？"
    out = composer.compose(question, [rules], "zh", query=f"{question} 怎么获得积分？")
    assert out.text == "商品评价审核通过后，每条评价奖励 20 积分[1]。", out.text
    # where no sentence names it, the answer is what is said of the topic before
    out = composer.compose("那退货呢？", [rules], "zh", query="那退货呢？ 怎么获得积分？")
    assert out.text.startswith("每消费 1 美元获得 1 积分"), out.text


def test_a_follow_up_of_another_kind_keeps_the_topic_not_the_price_asked_before() -> None:
    """ "and how long does it take?" after "How much does shipping cost?" asks how long shipping
    takes: "cost", what the turn before asked, chose the prices again (they name shipping and
    the rarer cost; the delivery times name shipping only)."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    hits = [
        _hit(1, "Q: How much does shipping cost?\nA: Standard shipping costs $4.95. Express shipping costs $12.95.",
             "Shipping costs", 0.95),
        _hit(2, "Q: How long does standard shipping take?\nA: Standard shipping takes 3 to 5 business days.",
             "Shipping times", 0.87),
    ]
    question = "and how long does it take?"
    idf = {"cost": 3.0, "shipping": 1.0}  # shipping is in many entries of a shop's FAQ, cost in few
    out = composer.compose(question, hits, query=f"{question} How much does shipping cost?",
                           term_weight=lambda t: idf.get(t, 2.0))
    assert out.text.startswith("Standard shipping takes 3 to 5 business days [2]"), out.text


def test_a_sentence_that_says_the_answer_is_not_known_stays() -> None:
    """"The duration ... is not yet known" answers "How long ...?" too, and is not left out as
    holding no duration."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    hits = [
        _hit(1, "The incubation period of the virus may range from 2 to 14 days.", "Incubation", 0.9),
        _hit(2, "The duration of the infectious period of the virus is not yet known.", "Infectious period", 0.88),
    ]
    out = composer.compose("How long is the infectious period of the virus?", hits)
    assert "not yet known [2]" in out.text and "2 to 14 days [1]" in out.text, out.text


def test_a_sentence_before_a_lead_in_to_the_answer_stays() -> None:
    """A lead-in and the rows it introduces are one unit: the sentence before "Periods by product
    category:" stands next to the answer, and stays ("The warranty starts on the delivery date")."""
    from rag.compose import _kind_answered

    texts = ["The warranty starts on the delivery date.", "Periods by product category:", "Phones: 1 year."]
    places = [(1, 3), (1, 5)]
    lead_in = lambda n, pos: (n, pos) == (1, 4)  # noqa: E731
    assert _kind_answered([0, 2], places, [False, True], texts, lead_in) == [0, 2]
    assert _kind_answered([0, 2], places, [False, True], texts) == [2]  # no lead-in between: apart


def test_a_phone_number_question_opens_with_a_sentence_that_gives_one() -> None:
    """"What is your phone number?" was answered with the privacy table's row that names phone
    numbers (more of the question's words, a better-ranked passage, and no number), not with the
    contact table's phone row, which the passage ranking left out of the sentences weighed."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    hits = [
        _hit(1, "Data: Name, address, phone number; Why we use it: Delivering orders.", "Personal data", 0.95),
        _hit(2, "Our parcels are tracked by the carrier.", "Tracking", 0.62),
        _hit(3, "Channel: Phone; Hours: Monday to Friday; Contact: 1-800-555-0199.", "Opening hours", 0.57),
    ]
    out = composer.compose("What is your phone number?", hits)
    assert out.text == "Channel: Phone; Hours: Monday to Friday; Contact: 1-800-555-0199 [3].", out.text
    # a question that names a phone number without asking for one is answered by the row that
    # shares its words
    for question in ("Why do you keep my phone number?", "How do I update my phone number?"):
        assert composer.compose(question, hits).text.startswith("Data: Name"), question


def test_a_follow_up_about_it_is_answered_from_the_passages_that_name_what_it_is() -> None:
    # "How much does it cost?" after "What is the warranty on a laptop?" was answered with the
    # shipping prices: retrieval put the warranty first, the shipping FAQ not far behind, and the
    # question's own word and the price it asks for are in the shipping entry
    hits = [
        _hit(1, "Every product sold by Acme comes with the manufacturer warranty at no extra cost. "
                "Laptops have a warranty of two years.", title="Warranty", score=0.94),
        _hit(2, "Standard shipping is free on orders over $50. Below $50 it costs $4.95.", title="Shipping", score=0.80),
    ]
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    for question in ("How much does it cost?", "How much does that cost?"):
        got = composer.compose(question, hits, query=f"{question} What is the warranty on a laptop?").text
        assert "no extra cost" in got and "$4.95" not in got, (question, got)
    # asked first, or naming its own topic, the same words are answered from what they name
    assert "$4.95" in composer.compose("How much does shipping cost?", hits).text
    named = composer.compose("Does it cost more for shipping?", hits, query="Does it cost more for shipping? What is the warranty?")
    assert "$4.95" in named.text, named.text
    # what retrieval put first is the measure: the cancelling entry names an order, the warranty
    # table the kitchen appliance, a rarer word of the turn before, and "Can I cancel it?" was
    # answered with the table's row
    hits = [
        _hit(1, "You can cancel an order free of charge until it has shipped.", title="Cancelling", score=0.9),
        _hit(2, "Kitchen appliances have a warranty of three years.", title="Warranty", score=0.8),
    ]
    rare = {"kitchen": 3.0, "applianc": 3.0, "order": 0.5}
    got = composer.compose("Can I cancel it?", hits, query="Can I cancel it? I ordered a kitchen appliance",
                           term_weight=lambda t: rare.get(t, 1.0)).text
    assert got.startswith("You can cancel an order"), got


def test_the_row_a_price_question_names_opens_the_answer() -> None:
    """"How much does the Max plan cost?" was answered with roaming's "included at no extra cost
    on Plus and Max plans", which names the plan and "cost", and the Max row was left out: its
    header words count half, so it named less than half of what that sentence did. The row the
    question names by its first cell is about what is asked, and it opens the answer before a
    sentence that names the plan in passing ("20% off its monthly price"), where its cells and
    headers hold all the question asks about."""
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    plans = _hit(1, "## Monthly plans\n| Plan | Price per month | Data |\n|---|---|---|\n| Max | $50 | Unlimited |\n"
                    "## Family discount\nAdd up to 4 extra lines to a Plus or Max plan and each extra line gets 20% "
                    "off its monthly price.", score=0.91)
    roaming = _hit(2, "Roaming zones: Zone 1 – Canada and Mexico: included at no extra cost on Plus and Max plans; "
                      "Lite customers pay $5 per day.", score=0.88)
    for question in ("How much does the Max plan cost?", "How much is the Max plan?"):
        out = composer.compose(question, [plans, roaming])
        assert out.text.startswith("Plan: Max; Price per month: $50"), out.text
    # a question about something else of the plan is not answered with its monthly price first
    out = composer.compose("How much does roaming cost on the Max plan?", [plans, roaming])
    assert not out.text.startswith("Plan: Max"), out.text


def test_the_row_a_question_names_is_said_without_the_rows_beside_it() -> None:
    """"How much is the Go 20 plan?" went on with the Go 35 and Go 10 rows, which name "Go" too;
    a Chinese row ("套餐：畅享88，月费：88元") was never named at all: its first cell ended at a
    Chinese comma, which names_row did not read as a cell's end."""
    from indexes.text import names_row

    assert names_row(frozenset({"畅享", "88", "月费"}), "套餐：畅享88，月费：88元，流量：60GB")
    assert not names_row(frozenset({"畅享", "88", "月费"}), "套餐：畅享58，月费：58元，流量：30GB")
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    prepaid = _hit(1, "## Prepaid plans\n| Plan | Price per 30 days | Data |\n|---|---|---|\n"
                      "| Go 10 | $10 | 2 GB |\n| Go 20 | $20 | 8 GB |\n| Go 35 | $35 | 20 GB |")
    out = composer.compose("How much is the Go 20 plan?", [prepaid])
    assert out.text.startswith("Plan: Go 20; Price per 30 days: $20") and "Go 35" not in out.text, out.text
    # a table cut across passages is one table; a follow-up names the row the turn before named
    first = _hit(1, "## Prepaid plans\n| Plan | Price per 30 days | Data |\n|---|---|---|\n| Go 10 | $10 | 2 GB |\n"
                    "| Go 20 | $20 | 8 GB |")
    second = _hit(2, "| Plan | Price per 30 days | Data |\n|---|---|---|\n| Go 35 | $35 | 20 GB |\n| Go 50 | $50 | 40 GB |")
    out = composer.compose("How much data does it include?", [first, second],
                           query="How much data does it include? How much is the Go 20 plan?")
    assert out.text.startswith("Plan: Go 20") and "Go 35" not in out.text and "Go 10" not in out.text, out.text
    # a follow-up that names its own row leans on no other ("And Go 35?" said the Go 20 row too)
    out = composer.compose("And Go 35?", [first, second], query="And Go 35? How much is the Go 20 plan?")
    assert out.text.startswith("Plan: Go 35") and "Go 20" not in out.text, out.text
    # of two rows named, the one whose label holds the other's is meant
    pro = _hit(1, "| Plan | Price per month |\n|---|---|\n| Max | $50 |\n| Max Pro | $65 |")
    out = composer.compose("How much is the Max Pro plan?", [pro])
    assert out.text.startswith("Plan: Max Pro; Price per month: $65") and "$50" not in out.text, out.text
    # a row whose label names something else asked is asked about too, and a question that asks
    # for others reads every row (QA: the laptops' row and the Max row were left out)
    periods = _hit(1, "| Product category | Warranty period |\n|---|---|\n| Laptops and tablets | 2 years |\n"
                      "| Phones | 1 year |\n| Kitchen appliances | 3 years |")
    out = composer.compose("What is the warranty for phones and laptops?", [periods])
    assert "Laptops and tablets" in out.text and "Phones" in out.text and "Kitchen" not in out.text, out.text
    out = composer.compose("What plans are there other than Max Pro?", [pro])
    assert "Plan: Max; Price per month: $50" in out.text, out.text
    # a Chinese term is held where its characters stand ("月费" of 月 and 费)
    assert names_row(frozenset({"畅享", "88", "月", "费"}), "套餐：畅享88，月费：88元，流量：60GB")
    zh = _hit(1, "## 套餐资费\n| 套餐 | 月费 | 流量 |\n|---|---|---|\n| 畅享58 | 58元 | 30GB |\n| 畅享88 | 88元 | 60GB |")
    zh = Hit(chunk=dataclasses.replace(zh.chunk, lang="zh"), score=zh.score)
    out = composer.compose("畅享88月费多少？", [zh])
    assert out.text.startswith("套餐：畅享88，月费：88元") and "畅享58" not in out.text, out.text
    # a row the question names in short ("物业费" for 住宅物业服务费) is meant over a row of the same
    # table whose label names less of the question (a regression hunt's: the 商铺 row was said too)
    fees = _hit(1, "单位：元\n| 项目 | 收费标准 | 计费单位 |\n|---|---|---|\n| 住宅物业服务费 | 2.8 | 每平方米每月 |\n"
                   "| 商铺物业服务费 | 5.5 | 每平方米每月 |\n| 车位管理费 | 80 | 每个每月 |")
    fees = Hit(chunk=dataclasses.replace(fees.chunk, lang="zh"), score=fees.score)
    out = composer.compose("住宅物业费多少钱？", [fees])
    assert out.text.startswith("项目：住宅物业服务费") and "商铺" not in out.text, out.text
    out = composer.compose("住宅和商铺的物业费有什么区别？", [fees])
    assert "住宅" in out.text and "商铺" in out.text, out.text


def test_a_long_how_to_list_under_its_heading_is_told_in_order_under_its_lead_once() -> None:
    """A section's numbered steps are read with its heading as their lead-in ("How to start a
    return: Sign in ..."), and were known as steps by the whole line, lead included, so
    "How do I start a return?" said three of twelve steps, each opening with "How to start a
    return:". They are known by their own words, said in order as many as fit, under the lead once."""
    steps = [f"Step {w} of the return: do the {w} thing with the parcel and the label" for w in (
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")]
    passage = "## How to start a return\n" + "\n".join(f"{i}. {s}." for i, s in enumerate(steps, 1))
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="returns.md", position=0, text=passage, title="Returns"),
              score=0.9, text=passage)
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("How do I start a return?", [hit]).text
    said = [s for s in steps if s in out]
    assert said == steps[: len(said)] and len(said) >= 8, out
    assert out.count("How to start a return") == 1 and out.startswith("How to start a return: Step one"), out
    # a step cut at a comma by the chunker ("6. On your phone," then "open the Wi-Fi settings ...")
    # is known by the whole step, as it is read
    from rag.compose import _numbered_steps

    assert _numbered_steps("6. On your phone,\nopen the Wi-Fi settings.") == frozenset({"onyourphoneopenthewifise"})
    # a lead-in is said once an answer, where its items are said out of their order too, and
    # once for each passage's list
    from rag.compose import _lead_said_once

    chosen = [(1, 6, "Setup: Open Wi-Fi.", 1.0), (1, 1, "Setup: Unpack it.", 0.9), (2, 1, "Setup: Plug in.", 0.8)]
    assert [s for _, _, s, _ in _lead_said_once(chosen, lambda n, pos: "Setup: ")] == [
        "Setup: Open Wi-Fi.", "Unpack it.", "Setup: Plug in."]


def test_a_chinese_how_to_question_is_told_every_step_of_a_list_run_into_one_line() -> None:
    # "怎么申请退款？" was told steps 1, 2 and 4: the Markdown paragraph held "1、… 2、… 3、… 4、…"
    # in one line, which was no list, and step 3 (uploading the photos) fell out
    passage = ("申请退款的步骤如下：\n1、登录App，进入“我的订单”。 2、找到要退款的订单，点击“申请退款”。 "
               "3、选择退款原因并上传商品照片。 4、提交申请后，等待客服审核，审核结果会通过短信通知您。")
    hit = Hit(chunk=Chunk(id="c1", doc_id="d1", source="refund.md", position=0, text=passage, title="退款指南",
                          lang="zh"), score=0.9, text=passage)
    out = ExtractiveComposer(get_embedder("hashing:64")).compose("怎么申请退款？", [hit], lang="zh").text
    steps = ["登录App", "点击“申请退款”", "上传商品照片", "等待客服审核"]
    assert all(s in out for s in steps), out
    assert [out.index(s) for s in steps] == sorted(out.index(s) for s in steps), out
    assert "2、" not in out and "3、" not in out, out  # the marks are not read out mid-sentence


def test_a_long_chinese_list_is_read_item_by_item() -> None:
    from rag.compose import list_items_as_sentences

    # joined with "，", which the items hold too, a long list ran its steps into one sentence of 300
    # characters; a short one still reads as one sentence, a "what to do" answered whole
    step = "，请仔细核对页面上显示的订单号、金额、抬头和税号等全部信息，确认无误后再继续下一步操作"
    steps = f"如何开具发票：\n1、在订单详情页点击“申请发票”{step}。\n2、填写抬头和税号{step}。\n3、电子发票将在2个工作日内发送到您的邮箱{step}。"
    text, own = list_items_as_sentences(steps, "zh")
    assert len(text.split("\n")) == 3 and all(line.startswith("如何开具发票：") for line in text.split("\n"))
    out = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=1).compose(
        "电子发票多久发到邮箱？", [_hit(1, steps)], "zh").text
    assert "2个工作日" in out and "填写抬头和税号，" not in out, out
    short = "如何开具发票：\n1、点击“申请发票”。\n2、填写抬头和税号。"
    assert list_items_as_sentences(short, "zh")[0] == "如何开具发票：点击“申请发票”，填写抬头和税号。"
    # a list of things reads as one sentence, and a section's heading ("（二）黄金会员") is no item
    assert list_items_as_sentences("不能退货的商品：\n1、礼品卡\n2、定制商品", "zh")[0] == "不能退货的商品：礼品卡，定制商品。"
    policy = "（二）黄金会员\n黄金会员享受九五折优惠。"
    assert list_items_as_sentences(policy, "zh")[0] == policy


def test_a_question_whether_something_may_be_done_with_a_price_in_its_name_is_answered_yes_or_no() -> None:
    """"使用优惠券的订单可以申请价格保护吗？" names a price (价格保护) and asks whether it may be had,
    not for an amount: read as asking for a price, it was answered by the one sentence of its
    merged passage with an amount, the return-shipping subsidy of the section before ("…最高12元的
    运费补贴"), and never by the sentence that says no, which holds none. English has the same
    shape ("Can I get price protection on a sale item?"). The real embedder put every sentence of
    the passage about as close to the question (``_Flat`` here)."""
    composer = ExtractiveComposer(_Flat())

    def said(own: str, before: str, question: str, lang: str) -> str:
        passage = f"{before}\n{own}"  # the section before is merged in front of the matched chunk
        chunk = Chunk(id="c1", doc_id="d1", source="returns.md", position=0, text=own, title="Returns", lang=lang)
        return composer.compose(question, [Hit(chunk=chunk, score=0.9, text=passage)], lang).text

    zh = said("## 七、价格保护\n自签收之日起30天内，如同一商品在商城降价，可申请价格保护，差价以原支付方式退回。"
              "秒杀、拼团及使用优惠券的订单不参加价格保护。",
              "## 五、退货运费\n非质量问题的退货，寄回运费由买家承担。开通“退货无忧”服务的订单，每单可获得最高12元的运费补贴。",
              "使用优惠券的订单可以申请价格保护吗？", "zh")
    assert "使用优惠券的订单不参加价格保护[1]" in zh and "12元" not in zh, zh
    en = said("## Price protection\nIf the price of an item drops within 30 days of delivery, you can claim price "
              "protection and we refund the difference. Sale items are not eligible for price protection.",
              "## Return shipping\nThe buyer pays return shipping. Orders with Returns Plus get up to $12 back on "
              "return shipping.",
              "Can I get price protection on a sale item?", "en")
    # (an English answer may read on into the next section: it opens with the one asked about)
    assert "Sale items are not eligible for price protection [1]" in en and en.startswith("If the price"), en


_VIP = (
    "年交保费累计满¥5,000的客户，自动成为尊享VIP会员，有效期一年。年交保费累计满20000元的客户为钻石VIP。\n"
    "## VIP权益\n"
    "- 重疾绿色通道：确诊重大疾病后，可预约全国三甲医院专家门诊，3个工作日内安排就诊；\n"
    "- 住院垫付：住院押金由我们先行垫付，单次最高贰万元（¥20,000）；\n"
    "- 专属客服：VIP客户拨打热线后按“9”，由专属客服经理一对一服务；\n"
    "- 年度体检：钻石VIP每年可享一次免费健康体检，尊享VIP每年可享体检八折优惠。"
)

_GOLD = (
    "## Gold membership benefits\n"
    "- Priority boarding: Gold members board in the first group on every flight we operate, before all other economy passengers.\n"
    "- Extra baggage: one additional checked bag of up to 23 kg is included on every booking, at no extra charge.\n"
    "- Lounge access: the member and one guest may use our partner lounges at all hubs, up to three hours before departure.\n"
    "- Bonus miles: every flight earns fifty percent more miles than the standard rate, credited within seven days.\n"
    "- Dedicated line: a service desk for Gold members answers the phone around the clock, every day of the year."
)


def test_a_question_for_what_a_class_holds_is_told_the_whole_list_in_chinese() -> None:
    """"VIP有啥好处" was told one benefit of four: the list, too long for one sentence, is read item
    by item after "VIP权益：", and only the item that repeats VIP was said. The question asks for
    every member of what the heading names: all four, in order."""
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hit = _hit(1, _VIP)
    hit = dataclasses.replace(hit, chunk=dataclasses.replace(hit.chunk, lang="zh"))
    for question in ("VIP有啥好处", "VIP有哪些好处", "VIP有什么好处"):
        out = composer.compose(question, [hit], "zh")
        at = [out.text.find(item) for item in ("重疾绿色通道", "住院垫付", "专属客服", "年度体检")]
        assert -1 not in at and at == sorted(at), (question, out.text)
        assert out.text.count("VIP权益") == 1 and "自动成为" not in out.text, out.text


def test_a_question_for_what_a_class_holds_is_told_the_whole_list_in_english() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    for question in ("What are the benefits of Gold membership?", "Which perks does Gold membership include?"):
        out = composer.compose(question, [_hit(1, _GOLD)])
        at = [out.text.find(item) for item in ("Priority boarding", "Extra baggage", "Lounge access", "Bonus miles", "Dedicated line")]
        assert -1 not in at and at == sorted(at), (question, out.text)


def test_a_narrower_ask_of_a_list_is_not_told_the_whole_list() -> None:
    """An item named by the question answers it ("lounge" is named by one item, not by the
    heading), and a question that asks for no members is told what it asks."""
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    out = composer.compose("Which lounges can Gold members use?", [_hit(1, _GOLD)])
    assert "Lounge access" in out.text and "Bonus miles" not in out.text, out.text
    hit = _hit(1, _VIP)
    hit = dataclasses.replace(hit, chunk=dataclasses.replace(hit.chunk, lang="zh"))
    out = composer.compose("年度体检有哪些优惠？", [hit], "zh")
    assert "年度体检" in out.text and "住院垫付" not in out.text, out.text
    # a list of another kind than asked for: "VIP权益" lists benefits, not the conditions asked
    out = composer.compose("VIP有哪些条件", [hit], "zh")
    assert not all(item in out.text for item in ("重疾绿色通道", "住院垫付", "专属客服", "年度体检")), out.text


def test_a_row_is_said_by_the_columns_the_question_names() -> None:
    from rag.compose import asked_cells

    # a score sheet read back as a table: the question names one stream's lowest score
    scores = (("专业名称", "金融学类"), ("文史/历史类 最高", "634"), ("文史/历史类 最低", "630"),
              ("理工/物理类 最高", "675"), ("理工/物理类 最低", "673"))
    asked = "在2022年陕西省的理工/物理类专业中，金融学类的高考最低录取分数线能告诉我吗？"
    assert asked_cells(asked, scores) == (("专业名称", "金融学类"), ("理工/物理类 最低", "673"))
    # three of a header's four terms name it ("物理类" for "理工/物理类"); a header whose terms are
    # written apart in the question is named by its characters ("最低分": 最低 … 分数线)
    assert asked_cells("2020年云南省的物理类专业中，金融学类的最低录取分数线是多少？", scores) == (
        ("专业名称", "金融学类"), ("理工/物理类 最低", "673"))
    assert asked_cells("浙江省法学专业的最低录取分数线是多少？", (("专业名称", "法学"), ("最高分", "697"), ("最低分", "693"))) == (
        ("专业名称", "法学"), ("最低分", "693"))
    # a question that names no column, or every one alike, is told the whole row
    assert asked_cells("云南省2020年法学专业的录取分数线是多少？", scores) is None
    assert asked_cells("理工类金融学类分数线", scores) is None
    plans = (("Plan", "Plus"), ("Price per month", "$30"), ("Data", "25 GB"), ("Notes", "12-month contract"))
    assert asked_cells("How much is Plus?", plans) is None
    assert asked_cells("What do the Plus plan's data and price per month come to?", plans) is None
    # a row of one cell besides its label has no other column to leave out
    assert asked_cells("How much data is on Plus?", (("Plan", "Plus"), ("Data", "25 GB"))) is None
    # the notes go with any cell: they say what it holds under
    assert asked_cells("How much data do I get on Plus?", plans) == (("Plan", "Plus"), ("Data", "25 GB"), ("Notes", "12-month contract"))
    # naming no column, a question for a kind of answer is told the cells that give one
    assert asked_cells("How much is Plus?", plans, "money") == (("Plan", "Plus"), ("Price per month", "$30"), ("Notes", "12-month contract"))
    warranty = (("Category", "Phones"), ("Warranty period", "2 years"), ("Covers", "Parts and labour"))
    assert asked_cells("How long is the guarantee on phones?", warranty, "duration") == (("Category", "Phones"), ("Warranty period", "2 years"))
    # not a mere number, which most cells of a table of figures are; not where no cell gives one
    assert asked_cells("How many do I get on Plus?", (("Plan", "Plus"), ("Minutes", "300"), ("Texts", "500")), "number") is None
    assert asked_cells("Whom do I call about Plus?", plans, "contact") is None
    # (the notes give how long a plan runs)
    assert asked_cells("How long does Plus run?", plans, "duration") == (("Plan", "Plus"), ("Notes", "12-month contract"))


def test_an_answer_says_the_cell_asked_for_with_what_its_row_is_of() -> None:
    from indexes.text import row_sentence, table_row_cells, words_key

    plans = (
        "Our plans:\n| Plan | Price per month | Data | Calls |\n|---|---|---|---|\n"
        "| Basic | $10 | 2 GB | 100 minutes |\n| Plus | $30 | 25 GB | Unlimited |\n"
    )
    # a row's cells, found by its sentence however it is spaced or ended, write it back as it was
    cells = table_row_cells(plans)
    plus = cells[words_key("Plan: Plus; Price per month: $30; Data: 25 GB; Calls: Unlimited")]
    assert plus == (("Plan", "Plus"), ("Price per month", "$30"), ("Data", "25 GB"), ("Calls", "Unlimited"))
    assert row_sentence(plus) == "Plan: Plus; Price per month: $30; Data: 25 GB; Calls: Unlimited."
    assert row_sentence((("项目", "退货"), ("", "30天")), "zh") == "项目：退货，30天。"
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    out = composer.compose("How much data do I get on the Plus plan?", [_hit(1, plans)])
    assert out.text == "Plan: Plus; Data: 25 GB [1]."
    # the checked sentence is the one said
    assert [s for _, s, _ in out.sentences] == ["Plan: Plus; Data: 25 GB."]
    out = composer.compose("How much does the Plus plan cost?", [_hit(1, plans)])
    assert out.text == "Plan: Plus; Price per month: $30 [1]."
    # asked for the whole row, the whole row
    out = composer.compose("Tell me about the Plus plan", [_hit(1, plans)])
    assert out.text == "Plan: Plus; Price per month: $30; Data: 25 GB; Calls: Unlimited [1]."


def test_a_subject_is_named_by_a_passages_text_before_its_title() -> None:
    # every entry of a sheet titled "水电燃气常见问题" named 燃气 by its title, and "那燃气呢" after
    # "居民水价多少" was told the water prices again (QA: a utility's FAQ)
    from indexes.types import Chunk
    from rag.compose import _naming

    def entry(i: int, text: str) -> Hit:
        return Hit(chunk=Chunk(id=f"c{i}", doc_id="d", source="faq.csv", position=i, title="水电燃气常见问题",
                               text=text, lang="zh"), score=1.0, text=text)

    hits = [entry(0, "Q: 居民水价是多少？ A: 第一档每立方米2.85元。"), entry(1, "Q: 居民燃气价格多少？ A: 第一档每立方米2.53元。"),
            entry(2, "Q: 水费多久交一次？ A: 两个月一次。")]
    assert _naming([0, 1, 2], hits, {"燃气"}, most=True) == [1]
    assert _naming([0, 2], hits, {"燃气"}, most=True) == [0, 2]  # named by the title alone: all of them


def test_a_price_named_by_what_it_is_of_asks_a_price() -> None:
    # "居民水价多少？" asked a number, and was told the electricity price of the next section, whose
    # sentence names 居民, over the water price under its own heading (QA: a utility's FAQ page)
    from indexes.text import answer_kind, price_words
    from indexes.types import Chunk

    assert answer_kind("居民水价多少？") == "money" and answer_kind("票价多少") == "money"
    assert answer_kind("物价多少") == "number" and answer_kind("评价怎么样") is None
    assert price_words("居民水价多少？") == []  # (水价 names the topic, as 运费 does)
    text = ("居民生活用水实行阶梯水价。第一阶梯每立方米3.5元，第二阶梯每立方米4.9元。\n## 居民电价多少？\n"
            "居民生活用电每千瓦时0.56元。峰谷电价用户峰时0.62元，谷时0.32元。")
    chunk = Chunk(id="c1", doc_id="d1", source="faq.html", position=0, title="水电燃气常见问题", lang="zh",
                  heading_path=("水电燃气常见问题", "居民水价多少？"), text=text.split("\n")[0])
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)  # by words alone
    out = composer.compose("居民水价多少？", [Hit(chunk=chunk, score=1.0, text=text)], lang="zh")
    assert "3.5元" in out.text and "0.56元" not in out.text, out.text


_PER_DIEM = (
    "Rates in EUR per full day.\n| Country | City | Daily rate (EUR) | Hotel cap per night (EUR) |\n|---|---|---|---|\n"
    "| Germany | Berlin | 56 | 160 |\n| Germany | Other cities | 48 | 130 |\n"
    "| France | Paris | 68 | 210 |\n| France | Other cities | 52 | 140 |\n| Poland | Warsaw | 40 | 120 |\n"
)


def test_a_column_named_with_the_rows_cell_says_which_row_not_what_is_asked() -> None:
    # "What is the per diem for other cities in France?" names the column "City" by "cities", and
    # was told "Country: France; City: Other cities", no rate (QA 2026-12-07)
    from rag.compose import asked_cells

    row = (("Country", "France"), ("City", "Other cities"), ("Daily rate (EUR)", "52"), ("Hotel cap per night (EUR)", "140"))
    assert asked_cells("What is the per diem for other cities in France?", row) is None
    assert asked_cells("What is the per diem in the city of Warsaw?", (("Country", "Poland"), ("City", "Warsaw"),
                       ("Daily rate (EUR)", "40"), ("Hotel cap per night (EUR)", "120"))) is None
    # a column asked for is said with it ("City" names 1 of 1 terms, "Daily rate (EUR)" 2 of 3)
    assert asked_cells("What is the daily rate for other cities in France?", row) == (
        ("Country", "France"), ("City", "Other cities"), ("Daily rate (EUR)", "52"))
    # near misses: a column named without its cell is asked for; a cell that only shares the
    # header's word ("city" in "Other cities") is no key of the row
    assert asked_cells("Which city is it?", row) == (("Country", "France"), ("City", "Other cities"))
    assert asked_cells("What is the daily rate in France?", row) == (("Country", "France"), ("Daily rate (EUR)", "52"))
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0, max_sentences=1)
    out = composer.compose("What is the per diem in the city of Warsaw?", [_hit(1, _PER_DIEM)])
    assert "40" in out.text, out.text


def test_a_row_named_by_a_cell_that_says_other_is_that_row_alone() -> None:
    # "other" in a cell the question says ("Other cities") asks across no rows, and of two rows
    # named by their first cell ("France") the one more of whose cells it says is meant: "What is
    # the per diem for other cities in France?" was told the Paris row too (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    out = composer.compose("What is the per diem for other cities in France?", [_hit(1, _PER_DIEM)])
    assert "52" in out.text and "Paris" not in out.text, out.text
    out = composer.compose("What is the per diem for other cities in Germany?", [_hit(1, _PER_DIEM)])
    assert "48" in out.text and "Berlin" not in out.text, out.text
    # near misses: a question across rows is told each ("each city", "other than Paris")
    out = composer.compose("What is the daily rate for each city in Germany?", [_hit(1, _PER_DIEM)])
    assert "56" in out.text and "48" in out.text, out.text
    out = composer.compose("What are the daily rates in France other than Paris?", [_hit(1, _PER_DIEM)])
    assert "52" in out.text, out.text
    # a column of names named best says of which rows; a column of figures named too is asked
    from rag.compose import asked_cells

    row = (("Country", "Germany"), ("City", "Berlin"), ("Daily rate (EUR)", "56"), ("Hotel cap per night (EUR)", "160"))
    assert asked_cells("Which city has the highest daily rate?", row) == (
        ("Country", "Germany"), ("City", "Berlin"), ("Daily rate (EUR)", "56"))


def test_a_row_named_by_its_label_phrase_and_a_column_is_told_that_cell() -> None:
    # "How much is the non-sterling transaction fee on Plus?" was told the credit cards' fees, never
    # the Plus row's 1.5% (QA 2026-12-07)
    fees = (
        "The table shows the fees of each tier.\n| Fee or limit | Basic | Plus | Premier |\n|---|---|---|---|\n"
        "| Daily ATM cash withdrawal limit | £300 | £500 | £1,000 |\n"
        "| Non-sterling transaction fee | 2.99% | 1.5% | £0 |\n"
        "| Non-sterling ATM withdrawal fee | £1.50 per withdrawal | £1.00 per withdrawal | £0 |\n"
        "| Emergency cash abroad | Not available | £35 | Free |\n"
    )
    cards = "The Classic credit card charges a non-sterling transaction fee of 2.99%. Premier customers pay no non-sterling fee."
    composer = ExtractiveComposer(get_embedder("hashing:64"), w_dense=0.0)
    out = composer.compose("How much is the non-sterling transaction fee on Plus?", [_hit(1, cards), _hit(2, fees)])
    assert "Plus: 1.5%" in out.text, out.text
    out = composer.compose("Is emergency cash free on Plus?", [_hit(1, fees)])
    assert "£35" in out.text, out.text
    # near misses: the row's first cell named whole, and a question across the tiers
    out = composer.compose("What is the daily ATM cash withdrawal limit on Premier?", [_hit(1, fees)])
    assert "£1,000" in out.text and "2.99%" not in out.text, out.text
    out = composer.compose("What is the daily ATM cash withdrawal limit for each tier?", [_hit(1, fees)])
    assert all(x in out.text for x in ("£300", "£500", "£1,000")), out.text
