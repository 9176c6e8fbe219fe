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
