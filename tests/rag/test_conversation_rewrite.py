"""A model's rewrite of a follow-up (:func:`rag.conversation.usable_rewrite`): one that only says
the follow-up again is no stand-alone question where the follow-up leans on the turn before."""

from __future__ import annotations

from typing import Any

import pytest

from rag.conversation import usable_rewrite
from rag.llm import ScriptedLLM
from tests.rag.test_assistant import make

SHIP = [{"role": "user", "content": "Do you ship to Switzerland?"},
        {"role": "assistant", "content": "Yes, we ship to Switzerland; customs fees are paid on delivery [1]."}]


@pytest.mark.parametrize(("question", "rewrite"), [
    ("How long does delivery take there?", "How long does delivery take there?"),  # Canada was lost so
    ("How long does delivery take there?", "How long does delivery take?"),  # less of it
    ("how long does delivery take there", "How long does delivery take there?"),  # case and marks aside
    ("How much does it cost?", "How much does it cost?"),
    ("Is that free?", "Is that free?"),
    ("What about Mexico?", "What about Mexico?"),
    ("送到那里要多久？", "送到那里要多久？"),
    ("运费呢？", "运费呢？"),
])
def test_a_rewrite_that_says_a_follow_up_again_is_not_used(question: str, rewrite: str) -> None:
    assert not usable_rewrite(rewrite, question, SHIP)


@pytest.mark.parametrize(("question", "rewrite"), [
    ("How long does delivery take there?", "How long does delivery to Switzerland take?"),
    ("How much does it cost?", "How much does shipping to Switzerland cost?"),
    ("送到那里要多久？", "送到瑞士要多久？"),
    # a question that stands alone is its own rewrite ("there" that says something exists included)
    ("Do you ship to Mexico?", "Do you ship to Mexico?"),
    ("Is there a fee for returns?", "Is there a fee for returns?"),
    ("Are there customs fees?", "Are there customs fees?"),
    ("Isn't there a fee for returns?", "Isn't there a fee for returns?"),
])
def test_a_rewrite_that_names_what_the_follow_up_leaned_on_or_a_question_that_stands_alone_is_used(
    question: str, rewrite: str
) -> None:
    assert usable_rewrite(rewrite, question, SHIP)


def test_a_first_question_said_again_is_used() -> None:
    # (no turn before it to lean on: the assistant does not condense it at all)
    assert usable_rewrite("How much does it cost?", "How much does it cost?", [])


def test_a_follow_up_the_model_only_echoed_is_condensed_offline(shop_index: Any, fake_embedder: Any) -> None:
    """"How long does delivery take there?" after "Do you ship to Switzerland?" came back from the
    model as it was, and was searched without Switzerland."""
    def reply(messages: Any) -> str:
        prompt = messages[-1]["content"]
        if "Stand-alone question" in prompt:
            return prompt.split("Last question: ")[1].splitlines()[0]  # the follow-up, as it was
        return "Standard shipping takes 3 to 5 business days [1]."

    asked = "How long does delivery take there?"
    a = make(shop_index, fake_embedder, ScriptedLLM(reply)).ask(asked, history=SHIP)
    offline = make(shop_index, fake_embedder).ask(asked, history=SHIP)
    assert "Switzerland" in a.query and a.query == offline.query, (a.query, offline.query)


@pytest.mark.parametrize("rewrite", [
    "User: How long does delivery take there?",  # gemma-3-270m's, in a QA round
    "Stand-alone question: How long does delivery take there?",
    '用户：送到那里要多久？',
])
def test_a_rewrite_is_judged_without_the_label_a_model_writes_before_it(rewrite: str) -> None:
    # "user" counted as the word that made it stand alone, and the follow-up was searched without
    # the country it leaned on
    from rag.conversation import condense_with_llm

    question = "送到那里要多久？" if "送到" in rewrite else "How long does delivery take there?"
    assert condense_with_llm(question, SHIP, ScriptedLLM(rewrite), "en") is None
    assert condense_with_llm(question, SHIP, ScriptedLLM("Question: How long does delivery to Switzerland take?"),
                             "en") == "How long does delivery to Switzerland take?"
