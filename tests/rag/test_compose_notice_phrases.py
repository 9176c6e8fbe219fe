"""A notice that says a rule's old value in the rule's own words ("（原为开学后两周内）", "(previously
within 14 days)") is of that rule, whatever else the question names (no model: the hashing embedder)."""

from __future__ import annotations

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
