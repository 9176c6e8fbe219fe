"""A number of the question is matched by the same quantity, not by the same digits: "35 kg" is not
"35 EUR", and "Bags over 32 kg are not accepted" answers "Can I check in a bag that weighs 35 kg?"."""

from __future__ import annotations

import pytest

from indexes.embedders import get_embedder
from indexes.text import tokenize
from indexes.types import Chunk
from rag.compose import ExtractiveComposer, _topic_terms, _with_quantities
from rag.types import Hit

_EN = (
    "A bicycle counts as one checked bag if it weighs 23 kg or less. "
    "An extra checked bag costs 35 EUR per flight. "
    "A bag weighing between 23 kg and 32 kg is charged an overweight fee of 50 EUR. "
    "Bags over 32 kg are not accepted as checked baggage."
)
_ZH = "自行车重量在23公斤以内时算作一件托运行李。额外托运一件行李收费35元。23至32公斤的行李收取50元超重费。超过32公斤的行李不予托运，须按货物运输。"


def _hit(text: str, lang: str = "en") -> Hit:
    return Hit(chunk=Chunk(id="c1", doc_id="d1", source="bags.md", position=0, text=text, title="Bags", lang=lang), score=0.9)


def _words(question: str, sentences: list[str]) -> list[set[str]]:
    words = [set(tokenize(s)) for s in sentences]
    _with_quantities(words, sentences, question, _topic_terms(question))
    return words


def test_a_number_shares_nothing_with_the_same_digits_of_another_unit() -> None:
    price, limit = "An extra checked bag costs 35 EUR per flight.", "Bags over 32 kg are not accepted."
    for question, term in (("Can I check in a bag that weighs 35 kg?", "35"), ("Can I check in a 35kg bag?", "35kg"),
                           ("可以托运三十五公斤的行李吗？", "35")):
        said_price, said_limit = _words(question, [price, limit])
        assert term not in said_price and term in said_limit, question
    # a bare number is matched by any
    assert "35" in _words("What is 35 for?", [price])[0]
    # the question's unit word is said by the unit written otherwise
    assert "kilogram" in _words("Can I check in a bag of 35 kilograms?", [limit])[0]
    # a word for a dimension is said by a quantity that measures it
    size, weight = _words("What is the maximum size of a checked bag?",
                          ["The sum of length, width and height must not exceed 158 cm.", "Maximum weight per bag: 23 kg."])
    assert "size" in size and "size" not in weight


@pytest.mark.parametrize("question", [
    "Can I check in a bag that weighs 35 kg?", "Can I check in a 35kg bag?", "Can I check in a bag of 35 kilograms?",
])
def test_a_quantity_past_a_limit_is_answered_by_the_limit(question: str) -> None:
    out = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2).compose(question, [_hit(_EN)])
    assert "over 32 kg are not accepted" in out.text and "35 EUR" not in out.text


@pytest.mark.parametrize("question", ["可以托运三十五公斤的行李吗？", "35公斤的行李可以托运吗？"])
def test_a_quantity_past_a_limit_is_answered_by_the_limit_in_chinese(question: str) -> None:
    out = ExtractiveComposer(get_embedder("hashing:64"), max_sentences=2).compose(question, [_hit(_ZH, "zh")], lang="zh")
    assert "超过32公斤" in out.text and "35元" not in out.text


OUTAGES = (
    "## Broadband outages and compensation\nIf your broadband stops working, report it in the app. We aim to fix most "
    "faults within 2 working days.\nYou get automatic compensation if a fault is not fixed within 2 full working days, "
    "if an engineer misses an appointment, or if your service starts late. You do not need to claim it. The amounts "
    "are set out in clause 7 of our customer terms. Compensation is not paid for mobile service outages."
)
TERMS = (
    "## 7. Compensation\n7.1 If your broadband stops working and we do not fix it within 2 full working days after you "
    "report it, we will pay you £9.76 for each calendar day until it is fixed.\n7.2 If an engineer misses an "
    "appointment, or we cancel it with less than 24 hours notice, we will pay you £30.21.\n7.4 Compensation is "
    "credited to your next bill automatically within 30 days."
)


@pytest.mark.parametrize(("question", "amount"), [
    # were told only "You get automatic compensation if ..." (QA 2026-12-07)
    ("How much compensation do I get if my broadband is down for 5 days?", "£9.76"),
    ("What compensation do I get if an engineer misses an appointment?", "£30.21"),
])
def test_a_question_asking_an_amount_gets_the_sentence_giving_it(question: str, amount: str) -> None:
    hits = [
        Hit(chunk=Chunk(id="c1", doc_id="d1", source="outages.html", position=0, text=OUTAGES, title="Outages"), score=0.96),
        Hit(chunk=Chunk(id="c2", doc_id="d2", source="terms.docx", position=0, text=TERMS, title="Customer terms"), score=0.76),
    ]
    text = ExtractiveComposer(get_embedder("hashing:64")).compose(question, hits).text
    assert amount in text, text


def test_an_amount_paid_out_is_asked_as_money() -> None:
    from indexes.text import answer_kind

    for q in ("How much compensation do I get?", "What compensation do I get if my order is late?",
              "What refund do I get if I cancel?", "How much of a refund will I get?"):
        assert answer_kind(q) == "money", q
    # near misses: the refund's policy, process or time, and an amount of something else
    for q in ("What refund policy do you have?", "What is the refund process?", "How long does a refund take?",
              "How much data do I get?", "What compensation rules apply?"):
        assert answer_kind(q) != "money", q
