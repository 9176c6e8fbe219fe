"""What the extractive composer says to a question that compares passages titled alike, and to a
how-to question on a Chinese help page (no model: the hashing embedder)."""

from __future__ import annotations

from indexes.embedders import get_embedder
from indexes.types import Chunk
from rag.compose import ExtractiveComposer
from rag.types import Hit


def _hit(n: int, text: str, title: str | None = None, score: float | None = None) -> Hit:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", source=f"doc{n}.md", position=0, text=text, title=title or f"Doc {n}")
    return Hit(chunk=chunk, score=1.0 - 0.1 * n if score is None else score)


def test_a_question_comparing_passages_titled_alike_is_answered_from_each() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [
        _hit(1, "2016年音乐表演专业招生计划30人，不分省。考生须参加校考。", "中国人民大学2016年艺术类（音乐表演）专业招生简章"),
        _hit(2, "2016年校考在北京举行，考生须携带身份证。", "中国人民大学2016年艺术类（音乐表演）专业招生简章"),
        _hit(3, "2018年音乐表演专业招生计划29人，不分省。考生须参加校考。", "中国人民大学2018年艺术类（音乐表演）专业招生简章"),
    ]
    text = composer.compose("2016年和2018年音乐表演专业的招生计划分别是多少人？", hits, lang="zh").text
    assert "30人" in text and "29人" in text, text


RETURNS_ZH = (
    "本文介绍七天无理由退货、换货的规则与操作步骤。\n## 一、七天无理由退货\n"
    "大件家电（如冰箱、洗衣机）支持七天无理由退货，但需在未安装、未使用的前提下申请，上门取件费按每件50元收取。\n"
    "## 二、如何申请退货\n1. 打开App，进入“我的订单”。\n2. 找到要退的商品，点击“申请售后”。\n"
    "3. 选择“退货退款”，填写退货原因并上传照片。\n## 三、退款到账时间\n退款在3个工作日内原路退回。"
)


def test_a_how_to_question_on_a_chinese_help_page_gets_the_numbered_steps() -> None:
    # "怎么申请退货？" was told the bulky-goods rule of section 一 (its words: 申请, 退货), never the
    # steps under "二、如何申请退货" (a heading numbered 二、 was not read as telling how); nor is
    # the page's note on itself ("本文介绍…") an answer
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    text = composer.compose("怎么申请退货？", [_hit(1, RETURNS_ZH, "退换货帮助中心")], lang="zh").text
    assert "打开App" in text and "申请售后" in text and "上门取件费" not in text, text
    assert "本文介绍" not in composer.compose("退货和换货有什么规则？", [_hit(1, RETURNS_ZH, "退换货帮助中心")], lang="zh").text


def test_a_page_s_note_on_itself_is_told_from_what_it_says_of_what_it_lists() -> None:
    from rag.compose import _is_meta

    for note in ("本文介绍七天无理由退货、换货的规则与操作步骤。", "本頁說明寄送至香港、澳門、台灣地區的配送規則",
                 "This article explains how to recover access to your account."):
        assert _is_meta(note), note
    # a regression hunt's facts, which open the same way: what the page lists is said of
    for fact in ("本页列出的商品均支持七天无理由退货和价格保护。", "本文介绍的优惠活动仅限新注册用户参加。",
                 "This guide covers phones and tablets; laptops are not accepted.", "本店支持七天无理由退货。",
                 "This plan covers up to 10 users."):
        assert not _is_meta(fact), fact


ORDERS_ZH = (
    "## 一、运费说明\n普通商品运费为10元，满99元包邮。\n## 二、下单流程\n1. 选择商品加入购物车。\n2. 在购物车点击“结算”。\n"
    "3. 选择支付方式并付款。\n## 三、修改收货地址\n订单发货前可以在订单详情页修改收货地址，发货后无法修改。\n"
    "## 四、取消订单步骤\n1. 进入“我的订单”。\n2. 点击“取消订单”并选择原因。"
)
PASSWORD_EN = (
    "## Reset your password\nIf you forgot your password, you can reset it from the sign-in page.\n"
    "1. Go to the sign-in page and click Forgot password.\n2. Enter your email address and click Send reset link.\n"
    "## Reset two-factor authentication (2FA)\n1. On the sign-in page, enter your email and password, then click Use a "
    "recovery code.\n2. Go to Settings > Security and click Reset 2FA."
)


def test_a_section_of_steps_tells_how_where_its_heading_names_most_of_the_question() -> None:
    # "How do I reset my password?" was told the 2FA steps (their first says "password"); a section
    # of numbered steps tells how, however headed. But not where another section's heading names
    # more of the question: "下单后怎么修改地址？" was told how to order, under "二、下单流程" (a
    # regression hunt's)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    text = composer.compose("How do I reset my password?", [_hit(1, PASSWORD_EN, "Account help")]).text
    assert "Forgot password" in text and "Reset 2FA" not in text, text
    orders = [_hit(1, ORDERS_ZH, "订单帮助")]
    address = composer.compose("下单后怎么修改地址？", orders, lang="zh").text
    assert "修改收货地址" in address and "加入购物车" not in address, address
    steps = composer.compose("怎么取消订单？", orders, lang="zh").text
    assert "点击“取消订单”" in steps, steps
