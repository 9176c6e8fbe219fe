"""A notice that says a rule's old value in the rule's own words ("（原为开学后两周内）", "(previously
within 14 days)") is of that rule, whatever else the question names (no model: the hashing embedder)."""

from __future__ import annotations

import datetime

from indexes.embedders import get_embedder
from indexes.quantity import quotes_before
from indexes.types import Chunk
from rag.compose import ExtractiveComposer
from rag.types import Hit


def _hit(n: int, text: str, title: str, score: float, lang: str) -> Hit:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", source=f"doc{n}.md", position=0, text=text, title=title, lang=lang)
    return Hit(chunk=chunk, score=score)


RULE_ZH = (
    "## 第五章 退费\n学生因退学、休学等原因提前离校的，按以下规定退还学费：\n"
    "1. 在开学后两周内（含两周）办结离校手续的，退还当学年全部学费；\n"
    "2. 开学两周后至学期结束前离校的，按实际在校月数计收学费；\n3. 学期结束后离校的，本学期学费不予退还。"
)
NOTICE_ZH = "自2026年3月1日起，在开学后四周内（含四周）办结离校手续的，退还当学年全部学费（原为开学后两周内）。"


def test_a_change_that_quotes_the_old_rule_is_told_in_its_place() -> None:
    # "开学三周退学学费能全退吗" was told the 2024 rule's "在开学后两周内（含两周）…退还当学年全部学费" first and
    # the notice's four weeks after it: the question's 退学, which the rule names and the notice does
    # not, read the notice as a change of something else (QA: a university's fees)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, RULE_ZH, "学费与退费管理办法", 0.9, "zh"), _hit(2, NOTICE_ZH, "关于调整退费办理时限的通知", 0.8, "zh")]
    text = composer.compose("开学三周退学学费能全退吗", hits, lang="zh").text
    assert text.startswith("自2026年3月1日起，在开学后四周内") and "两周内（含两周）" not in text, text
    # a yes-or-no question that names no figure keeps the rule's other words, after the change
    text = composer.compose("退学了学费能退吗", hits, lang="zh").text
    assert text.startswith("自2026年3月1日起，在开学后四周内"), text


def test_a_phrase_more_than_an_amount_quotes_the_rule() -> None:
    assert quotes_before("Refunds are now paid within 30 days (previously within 14 days).",
                         "Refunds are paid within 14 days of the return.")
    assert quotes_before(NOTICE_ZH, "在开学后两周内（含两周）办结离校手续的，退还当学年全部学费")
    # an amount alone may be another rule's that costs as much ("Premier Checking costs $35 per month")
    assert not quotes_before("The overdraft fee is reduced from $35 to $29.", "Premier Checking costs $35 per month.")
    assert not quotes_before("退费在手续齐全后10个工作日内退回（原为20个工作日）。", "退费在手续齐全后20个工作日内退回。")


ZONES_ZH = (
    "## 分区价格\n| 目的地区域 | 包含省份 | 首重（1公斤） | 续重（每公斤） |\n|---|---|---|---|\n"
    "| 一区 | 江苏、浙江、安徽 | 12元 | 3元 |\n| 二区 | 北京、湖北、湖南、广东 | 15元 | 6元 |\n"
    "| 四区 | 甘肃、宁夏、青海 | 20元 | 12元 |\n| 偏远区 | 新疆、西藏 | 20元 | 15元 |\n"
    "## 计费示例\n例：寄3.2公斤的包裹到广东（二区），计费重量为4公斤，运费＝15＋6×3＝33元。"
)
REMOTE_ZH = "寄往新疆、西藏的快件，首重（1公斤）价格由20元调整为25元，续重价格由每公斤15元调整为每公斤18元。"


def test_a_change_replaces_the_row_of_what_it_changed_not_another_that_costs_as_much() -> None:
    # "寄5公斤到湖南多少钱" was told only the notice's 新疆、西藏 prices: the table's 二区 row and its
    # worked example hold 15 (元), the notice's old 续重 price, though its 偏远区 row is the one it
    # changed (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, ZONES_ZH, "运费价格表", 0.9, "zh"), _hit(2, REMOTE_ZH, "关于调整偏远地区运费的公告", 0.7, "zh")]
    for q in ("寄5公斤到湖南多少钱", "寄到湖南的运费是多少", "寄到甘肃首重多少钱"):
        text = composer.compose(q, hits, lang="zh").text
        assert "由20元调整为25元" not in text, (q, text)
    # ... and still replaces the row it changed
    text = composer.compose("新疆西藏的首重和续重是多少", hits, lang="zh").text
    assert text.startswith("寄往新疆、西藏的快件") and "偏远区" not in text, text


CANCEL_ZH = (
    "## 五、取消预订\n客人可在入住前一天18:00前在原预订渠道免费取消，房费原路退回。入住当天不能在网上取消，只能致电前台办理。"
    "一个月内预订后未入住也未取消累计3次的，将暂停网上预订资格30天。"
)
CANCEL_NOTICE_ZH = "自2026年10月1日起，网上免费取消截止时间由入住前一天18:00延长至入住当天中午12:00（原为入住前一天18:00）。"


def test_a_rule_said_beside_its_change_is_told_after_the_change() -> None:
    # "退号怎么退" and "网上退号随时都可以吗" quoted the old "就诊前一天17:00前…免费退号" first, with the rest of
    # its passage, and the notice's "（原为就诊前一天17:00）" last, as if the old rule held (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, CANCEL_ZH, "预订须知", 0.9, "zh"), _hit(2, CANCEL_NOTICE_ZH, "关于调整取消时间的通知", 0.7, "zh")]
    for q in ("预订怎么取消", "网上取消随时都可以吗"):
        text = composer.compose(q, hits, lang="zh").text
        assert "入住当天中午12:00" in text, (q, text)
        if "在入住前一天18:00前" in text:
            assert text.index("入住当天中午12:00") < text.index("在入住前一天18:00前"), (q, text)


LEAVE_EN = (
    "## Bereavement leave\nEmployees may take up to 5 days of paid bereavement leave on the death of a close family "
    "member (spouse or partner, child, parent, sibling, grandparent or grandchild) and up to 2 days of paid "
    "leave on the death of another relative."
)
LEAVE_NOTICE_EN = "Paid bereavement leave on the death of a close family member is increased from 5 days to 7 days."


def test_a_change_that_names_the_rules_subject_in_its_words_is_of_that_rule() -> None:
    # "Which relatives count as close family for bereavement leave?" was told "up to 5 days ...
    # (spouse or partner, ...)" first and the change to 7 days last, as of something else: the
    # question's "relatives" is the rule's and not the change's (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, LEAVE_EN, "Handbook", 0.9, "en"), _hit(2, LEAVE_NOTICE_EN, "Policy update", 0.7, "en")]
    text = composer.compose("Which relatives count as close family for bereavement leave?", hits).text
    assert text.startswith("Paid bereavement leave on the death of a close family member is increased"), text
    assert "spouse or partner" in text, text
    # ... not one that names another thing than the rule's: an overdraft fee's change is not the
    # monthly fee's that costs as much (test_compose_cases)
    from rag.compose import _writes_subject

    assert not _writes_subject("The overdraft fee for Everyday and Plus Checking is reduced from $35 to $29.",
                               "Premier Checking costs $35 per month.")
    assert not _writes_subject("Days not taken are lost (previously 31 March).", "Days must be taken by 31 March.")


INSURE_ZH = "## 第一条 保价\n保价费为声明价值的0.5%，最低收费1元。贵重物品建议全部保价。"
INSURE_NOTICE_ZH = "保价费率由声明价值的0.5%调整为0.3%，最低收费仍为1元。"


def test_a_rule_that_says_nothing_its_change_does_not_is_not_said_beside_it() -> None:
    # "保价费怎么算" was told "保价费为声明价值的0.5%，最低收费1元" after the notice's "由声明价值的0.5%调整为0.3%，
    # 最低收费仍为1元": kept for what else it says, it says nothing else (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, INSURE_ZH, "保价与理赔规则", 0.9, "zh"), _hit(2, INSURE_NOTICE_ZH, "关于调整保价费率的公告", 0.7, "zh")]
    text = composer.compose("保价费怎么算", hits, lang="zh").text
    assert "调整为0.3%" in text and "保价费为声明价值的0.5%" not in text, text


TIERS_EN = (
    "## Account tiers at a glance\nVersion 7.2. These terms apply to Plus and Premier current accounts.\n"
    "We offer two current account tiers: Plus and Premier.\n"
    "| Fee or limit | Plus | Premier |\n|---|---|---|\n| Monthly account fee | £10 | £25 |\n"
    "| Daily ATM cash withdrawal limit | £500 | £1,000 |\n| Daily debit card spending limit | £5,000 | £10,000 |"
)
TIERS_NOTICE_EN = (
    "1 December 2026 - Higher cash limit for Plus\nFrom 1 December 2026 the daily ATM cash withdrawal limit on the "
    "Plus account increases from £500 to £750.\n1 February 2027 - Plus monthly fee\nFrom 1 February 2027 the Plus "
    "monthly account fee will increase from £10 to £12."
)


def test_a_tables_row_said_with_the_others_is_said_with_its_change() -> None:
    # "What's the difference between Plus and Premier?" was told the table's "Daily ATM cash
    # withdrawal limit; Plus: £500; Premier: £1,000", a row said with the row asked, as if the
    # notice's change to £750 (in force) were not among the passages (QA 2026-12-07); the monthly
    # fee's change, from a later date, changes nothing yet
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, TIERS_EN, "Fees and charges", 0.9, "en"), _hit(2, TIERS_NOTICE_EN, "Notice", 0.6, "en")]
    for q in ("What's the difference between Plus and Premier?", "What does Premier give me over Plus?"):
        text = composer.compose(q, hits, today=datetime.date(2026, 12, 7)).text
        assert "from £500 to £750" in text and "£12" not in text, (q, text)
        assert text.index("from £500 to £750") < text.index("Plus: £500"), (q, text)
    # (before the change's date, the row is the rule, and the change is not said with it)
    text = composer.compose("What's the difference between Plus and Premier?", hits, today=datetime.date(2026, 11, 20)).text
    assert "£750" not in text and "Plus: £500" in text, text


def test_the_newest_of_two_changes_is_said_in_place_of_the_older() -> None:
    # a rule that a notice changed and a later notice changed again is told as the later one says:
    # the 偏远区 row's "首重（1公斤）价格由20元调整为25元" where a December notice says "由25元下调为22元" (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    rule = _hit(1, "## 运费\n寄往新疆的快件首重（1公斤）价格为20元。", "运费价格表", 0.9, "zh")
    first = _hit(2, "寄往新疆的快件首重（1公斤）价格由20元调整为25元。", "关于调整运费的公告", 0.8, "zh")
    later = _hit(3, "自2026年12月1日起，寄往新疆的快件首重（1公斤）价格由25元下调为22元。", "关于新疆运费优惠的通知", 0.7, "zh")
    text = composer.compose("寄到新疆首重多少钱", [rule, first, later], lang="zh", today=datetime.date(2026, 12, 7)).text
    assert text.startswith("自2026年12月1日起") and "价格为20元" not in text and "调整为25元" not in text, text


FEES_EN = (
    "## Fees and limits by account\n\n| Fee or limit | Basic | Plus | Premier |\n|---|---|---|---|\n"
    "| Monthly account fee | £0 | £5 | £15 |\n| Non-sterling transaction fee | 2.99% | 1.5% | £0 |\n"
    "| Non-sterling cash withdrawal fee | 2.99% + £1.50 | 1.5% | £0 |\n| Returned payment fee | £10 | £10 | £0 |\n"
)
FEE_NOTICE_EN = "Effective 1 December 2026, the non-sterling transaction fee on the Plus account is reduced from 1.5% to 1%."


def test_a_change_of_a_decimal_percentage_is_said_in_place_of_the_row() -> None:
    # "What is the non-sterling transaction fee on Plus?" was told the table's "Plus: 1.5%" first and
    # the notice's "reduced from 1.5% to 1%" after it, as if the row held: the decimal point ended
    # the change's "from" part, so the notice said no change (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, FEE_NOTICE_EN, "Notice of changes to fees and limits", 0.9, "en"),
            _hit(2, FEES_EN, "Current Account Fees and Limits", 0.8, "en")]
    for q in ("What is the non-sterling transaction fee on Plus?", "What's the non-sterling transaction fee for Plus?",
              "What is the Plus non-sterling transaction fee?", "Non-sterling transaction fee on Plus?"):
        text = composer.compose(q, hits, lang="en").text
        assert text.startswith("Effective 1 December 2026") and "Plus: 1.5%" not in text, (q, text)
    # (another row of the same old amount, and another account's cell, are not what it changed)
    text = composer.compose("What is the non-sterling cash withdrawal fee on Plus?", hits, lang="en").text
    assert text.startswith("Fee or limit: Non-sterling cash withdrawal fee; Plus: 1.5%"), text
    for q, cell in (("What is the non-sterling transaction fee on Basic?", "Basic: 2.99%"),
                    ("What is the non sterling transaction fee for Premier?", "Premier: £0")):
        text = composer.compose(q, hits, lang="en").text
        assert text.startswith(f"Fee or limit: Non-sterling transaction fee; {cell}"), (q, text)


def test_a_row_told_by_the_cells_asked_is_of_a_change_as_told() -> None:
    # once "reduced from 1.5% to 1%" said a change, "What is the non sterling transaction fee for
    # Premier?" was told only the Plus fee's notice: the row's Plus cell holds 1.5%, though its Premier
    # cell, the one told, does not (account names common in the bank's documents, QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    notice = "Published 1 November 2026\n" + FEE_NOTICE_EN + " The non-sterling cash withdrawal fee on the Plus account does not change."
    faq = "Q: Who can open a Premier account?\nA: Customers who pay in at least £5,000 a month or hold £50,000 in savings with us."
    hits = [_hit(1, FEES_EN, "Current Account Fees and Limits", 1.0, "en"), _hit(2, notice, "Notice of changes", 0.79, "en"),
            _hit(3, faq, "bank-faq", 0.75, "en")]

    def weight(t: str) -> float:
        return 0.5 if t in {"basic", "plus", "premier"} else 2.0

    for q, cell in (("What is the non sterling transaction fee for Premier?", "Premier: £0"),
                    ("What is the non-sterling transaction fee on Basic?", "Basic: 2.99%")):
        text = composer.compose(q, hits, lang="en", term_weight=weight).text
        assert text.startswith(f"Fee or limit: Non-sterling transaction fee; {cell}"), (q, text)
    text = composer.compose("What is the non-sterling transaction fee on Plus?", hits, lang="en", term_weight=weight).text
    assert text.startswith("Effective 1 December 2026") and "Plus: 1.5%" not in text, text



ZONE_TABLE_ZH = (
    "## 分区价格\n| 目的地区域 | 包含省份 | 首重（1公斤） | 续重（每公斤） | 参考时效 |\n|---|---|---|---|---|\n"
    "| 一区 | 江苏、浙江、上海 | 10元 | 2元 | 1-2天 |\n| 二区 | 北京、湖南、广东 | 12元 | 5元 | 2-3天 |\n"
    "| 三区 | 四川、云南、黑龙江 | 15元 | 8元 | 3-4天 |\n| 偏远区 | 新疆、西藏、青海 | 20元 | 15元 | 5-7天 |\n"
)
OCTOBER_ZH = (
    "发布日期：2026年10月20日\n\n自2026年11月1日起，寄往新疆、西藏、青海的快件，首重（1公斤）价格由20元调整为25元，"
    "续重价格由每公斤15元调整为每公斤18元。"
)
NOVEMBER_ZH = "发布日期：2026年11月25日\n\n自2026年12月1日起，寄往新疆、西藏、青海的快件首重价格由25元下调为22元，续重价格不变。"


def test_a_newer_change_replaces_only_the_part_of_the_older_it_changes() -> None:
    # "寄西藏续重多少钱？" was told only the November notice's "首重价格由25元下调为22元，续重价格不变", and lost the
    # October notice's 续重 18元, which the newer one leaves as it is (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, OCTOBER_ZH, "关于调整偏远地区运费的公告", 0.9, "zh"), _hit(2, NOVEMBER_ZH, "关于下调偏远地区首重价格的公告", 0.85, "zh"),
            _hit(3, ZONE_TABLE_ZH, "快递资费标准", 0.8, "zh")]
    today = datetime.date(2026, 12, 7)
    for q in ("寄西藏续重多少钱？", "寄青海续重价格是多少？", "寄到新疆的运费是多少？"):
        text = composer.compose(q, hits, lang="zh", today=today).text
        assert "调整为每公斤18元" in text and "下调为22元" in text, (q, text)
        assert text.index("下调为22元") < text.index("调整为每公斤18元") and "：20元" not in text, (q, text)
    # (asked only the part the newer one changed, the older is not said)
    text = composer.compose("寄新疆首重多少钱？", hits, lang="zh", today=today).text
    assert "下调为22元" in text and "调整为25元" not in text, text


# (a passage of the table's last rows, merged with the section after them, as retrieval gives it)
ZONE_ROWS_ZH = (
    "| 目的地区域 | 包含省份 | 首重（1公斤） | 续重（每公斤） | 参考时效 |\n|---|---|---|---|---|\n"
    "| 三区 | 四川、云南、黑龙江 | 15元 | 8元 | 3-4天 |\n| 偏远区 | 新疆、西藏、青海 | 20元 | 15元 | 5-7天 |\n"
    "## 一、运费价格\n运费计算方法：运费＝首重价格＋（实际重量－1）×续重价格。不足1公斤按1公斤计算。"
)


def test_a_number_asked_with_its_unit_names_no_row_of_another_unit() -> None:
    # "寄3公斤到西藏多少钱？" was told the 三区 row beside the notice of the 偏远区 prices: its "3-4天" named the
    # question's 3 as the 偏远区 row's 西藏 did, so no row was another entry's; it was left out only while
    # the notice replaced every sentence that states 15元 (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, ZONE_ROWS_ZH, "快递寄件服务说明", 1.0, "zh"), _hit(2, OCTOBER_ZH, "关于调整偏远地区运费的公告", 0.9, "zh")]
    today = datetime.date(2026, 12, 7)
    for q in ("寄3公斤到西藏多少钱？", "寄3公斤到青海要多少钱？"):
        text = composer.compose(q, hits, lang="zh", today=today).text
        assert "调整为25元" in text and "三区" not in text, (q, text)
    # (the row of the place asked is still said, a number asked or not)
    for q in ("寄3公斤到四川多少钱？", "寄四川多少钱？"):
        text = composer.compose(q, hits, lang="zh", today=today).text
        assert "三区" in text and "调整为25元" not in text, (q, text)


def test_of_two_changes_a_rule_states_the_old_amount_of_the_one_of_its_words_is_its_change() -> None:
    # "I get TH-413 uploading a 40 MB file on Free, why?" was told the storage change "(previously 2 GB)",
    # whose 2 GB the error row writes for Enterprise's uploads, and not the upload limit's change
    # "raised to 50 MB (previously 25 MB)" (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    table = ("| Code | Message | Cause |\n|---|---|---|\n| E-413 | File too large | The file is larger than your plan's "
             "upload limit (25 MB on Basic, 2 GB on Pro). |")
    notice = ("## 2 March 2026 - Basic plan\nBasic accounts now get 5 GB of storage (previously 2 GB).\n"
              "The maximum file upload size on the Basic plan is raised to 50 MB (previously 25 MB).")
    hits = [_hit(1, table, "Error codes", 0.9, "en"), _hit(2, notice, "Release notes", 0.7, "en")]
    text = composer.compose("I get E-413 uploading a 40 MB file on Basic, why?", hits, lang="en").text
    assert "raised to 50 MB" in text and "previously 2 GB" not in text, text


FERRY_ZH = (
    "## 一、改期手续费\n旅客改期按下表收取改期手续费。\n"
    "| 舱位 | 开航前7天（含）以上 | 开航前7天至24小时（含） | 开航前24小时至2小时（含） | 开航前2小时以内 |\n|---|---|---|---|---|\n"
    "| 一等舱 | 免费 | 票面价5% | 票面价10% | 票面价20% |\n| 二等舱 | 票面价5% | 票面价10% | 票面价20% | 票面价30% |\n"
)
FERRY_NOTICE_ZH = (
    "自2026年11月1日起，一等舱客票在开航前24小时至2小时（含）改期的，改期手续费由票面价10%调整为票面价5%；"
    "开航前2小时以内改期的，由票面价20%调整为票面价15%。"
)


def test_a_change_of_some_cells_of_a_row_keeps_the_others() -> None:
    # "公务舱改签要多少钱" and "公务舱起飞前3天改签多少钱" were told only the notice's two changed time bands:
    # the table's row, which states their old amounts, was left out, and with it the bands the
    # notice left as they were, the one asked among them (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, FERRY_ZH, "船票改期规定", 0.9, "zh"), _hit(2, FERRY_NOTICE_ZH, "关于调整改期手续费的公告", 0.8, "zh")]
    for q in ("一等舱改期要多少钱", "一等舱开航前3天改期多少钱"):
        text = composer.compose(q, hits, lang="zh", today=datetime.date(2026, 12, 7)).text
        assert "由票面价10%调整为票面价5%" in text and "由票面价20%调整为票面价15%" in text, (q, text)
        assert "开航前7天至24小时（含）：票面价5%" in text and "开航前7天（含）以上：免费" in text, (q, text)
        # (never the old amounts of the bands it changed)
        assert "（含）：票面价10%" not in text and "以内：票面价20%" not in text, (q, text)
    # (another row of the same old amounts is not what it changed)
    text = composer.compose("二等舱改期要多少钱", hits, lang="zh", today=datetime.date(2026, 12, 7)).text
    assert text.startswith("舱位：二等舱，开航前7天（含）以上：票面价5%") and "开航前2小时以内：票面价30%" in text, text
    # (before the change's date the row holds as the table says it)
    text = composer.compose("一等舱改期要多少钱", hits, lang="zh", today=datetime.date(2026, 10, 7)).text
    assert "开航前24小时至2小时（含）：票面价10%" in text, text


PASSES_EN = (
    "## Cancellation fees\n\n| Fare | 30 days or more | 29 to 7 days | Under 7 days |\n|---|---|---|---|\n"
    "| Flex | Free | 10% | 25% |\n| Saver | 10% | 25% | 50% |\n"
)
PASS_NOTICE_EN = "Effective 1 November 2026, the Flex cancellation fee from 29 to 7 days before departure is reduced from 10% to 5%."


def test_a_change_of_one_band_of_a_row_keeps_the_others() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, PASSES_EN, "Fares and fees", 0.9, "en"), _hit(2, PASS_NOTICE_EN, "Notice", 0.8, "en")]
    text = composer.compose("What is the Flex cancellation fee?", hits, today=datetime.date(2026, 12, 7)).text
    assert "reduced from 10% to 5%" in text and "Under 7 days: 25%" in text and "29 to 7 days: 10%" not in text, text
    # (a change of every figure the row states leaves nothing of it to say)
    whole = ("Effective 1 November 2026, the Flex cancellation fee from 29 to 7 days before departure is reduced from 10% to 5%; "
             "under 7 days, it is reduced from 25% to 20%.")
    hits = [_hit(1, PASSES_EN, "Fares and fees", 0.9, "en"), _hit(2, whole, "Notice", 0.8, "en")]
    text = composer.compose("What is the Flex cancellation fee?", hits, today=datetime.date(2026, 12, 7)).text
    assert "Flex" in text and "Under 7 days: 25%" not in text, text


CARD_FAQ_ZH = "Q: 借书证丢了怎么办？\nA: 凭本人身份证到总馆服务台补办，每张15元，当场办结，原证同时挂失。"
CARD_NOTICE_ZH = "自2026年9月1日起，借书证补办工本费由每张15元调整为每张10元。"


def test_a_rule_said_beside_its_change_leaves_out_the_clause_of_the_old_amount() -> None:
    # "门禁卡补办要带什么" was told "凭业主身份证…补办，每张30元，当场办结" after the notice's "由每张30元调整为每张
    # 20元": kept for what else it says, it said the old fee again (QA 2026-12-07)
    composer = ExtractiveComposer(get_embedder("hashing:64"))
    hits = [_hit(1, CARD_FAQ_ZH, "常见问题", 0.9, "zh"), _hit(2, CARD_NOTICE_ZH, "关于调整借书证补办费用的通知", 0.8, "zh")]
    for q in ("借书证补办要带什么", "补办借书证需要带什么证件"):
        text = composer.compose(q, hits, lang="zh", today=datetime.date(2026, 12, 7)).text
        assert "由每张15元调整为每张10元" in text and "身份证" in text and "当场办结" in text, (q, text)
        assert "补办，每张15元" not in text, (q, text)
    # (a clause that says more than the old amount is kept, its other words the rule's; so is the
    # first, which says what the rule is of)
    from rag.compose import _without_old_clauses

    assert _without_old_clauses("凭身份证补办，每张15元按原价收取，当场办结。", CARD_NOTICE_ZH) == "凭身份证补办，每张15元按原价收取，当场办结。"
    assert _without_old_clauses("每张15元，凭身份证补办。", CARD_NOTICE_ZH) == "每张15元，凭身份证补办。"
    assert _without_old_clauses("凭身份证补办，每张15元。", CARD_NOTICE_ZH) == "凭身份证补办。"
