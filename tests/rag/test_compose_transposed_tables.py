"""A table of features by plan (plans as columns, "| Feature | Free | Team | Enterprise |"), and a
notice that changes one cell of a row: what the composer says (no model: the hashing embedder)."""

from __future__ import annotations

from typing import Any

import pytest

from indexes.embedders import get_embedder
from indexes.text import names_price_row, names_row, tokenize
from indexes.types import Chunk
from rag.compose import ExtractiveComposer, _changes_change, _topic_terms
from rag.types import Hit


def _hit(n: int, text: str, title: str) -> Hit:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", source=f"doc{n}.md", position=0, text=text, title=title, lang="en")
    return Hit(chunk=chunk, score=1.0 - 0.1 * n)


NOTE = (
    "Team workspaces now get 250 GB of storage per workspace (previously 100 GB). The change applies automatically to "
    "every Team workspace at no extra cost; you do not need to do anything.\n"
    "The monthly automation runs on the Team plan are raised to 1,000 runs per month (previously 250 runs per month)."
)
PRICES = (
    "| Feature | Free | Team | Enterprise |\n|---|---|---|---|\n"
    "| Price (monthly billing) | $0 | $12 per seat per month | $29 per seat per month |\n"
    "| Price (annual billing) | $0 | $10 per seat per month, billed yearly | $24 per seat per month, billed yearly |"
)
MONTHLY = "Feature: Price (monthly billing); Free: $0; Team: $12 per seat per month; Enterprise: $29 per seat per month."


def _topic(question: str) -> frozenset[str]:
    from indexes.text import price_terms

    return frozenset(_topic_terms(question)) - price_terms(question)


def _composed(question: str, hits: list[Hit]) -> str:
    return ExtractiveComposer(get_embedder("hashing:64")).compose(question, hits, lang="en").text


@pytest.mark.parametrize("question", ["How much does the Team plan cost per month?", "How much is Team?",
                                      "What is the monthly price of the Team plan?"])
def test_a_price_row_of_a_table_of_plans_as_columns_is_named_by_the_plan_s_header(question: str) -> None:
    assert names_price_row(_topic(question), MONTHLY), question


@pytest.mark.parametrize(("question", "line"), [
    # the price of something else on that plan
    ("How much does storage cost on Team?", MONTHLY),
    # a price row of something the question does not name
    ("How much is Team?", "Feature: Setup fee; Free: $0; Team: $100; Enterprise: $500."),
    # plans as rows: the first cell is the plan (names_row's case), not a price
    ("How much is the Plus plan?", "Plan: Plus; Price per month: $30; Data: 25 GB."),
    # no column named
    ("How much does it cost per month?", MONTHLY),
])
def test_a_row_is_no_price_row_named_where_the_question_asks_another_price(question: str, line: str) -> None:
    assert not names_price_row(_topic(question), line), (question, line)


def test_a_transposed_price_row_is_told_by_the_plan_asked_not_a_notice_s_no_extra_cost() -> None:
    # "How much does the Team plan cost per month?" was told the release note's "at no extra cost"
    # and the automation runs, never the price row (QA 2026-12-07)
    text = _composed("How much does the Team plan cost per month?", [_hit(1, NOTE, "Release notes"), _hit(2, PRICES, "Plans")])
    assert text.startswith("Feature: Price (monthly billing); Team: $12 per seat per month"), text
    assert "Enterprise: $29" not in text and "no extra cost" not in text, text


def test_every_plan_s_price_is_told_where_each_plan_is_asked() -> None:
    text = _composed("What is the price of each plan?", [_hit(1, NOTE, "Release notes"), _hit(2, PRICES, "Plans")])
    assert "Team: $12" in text and "Enterprise: $29" in text and "Free: $0" in text, text


def test_a_notice_s_change_is_not_read_as_changed_by_another_change_of_the_same_number_without_unit() -> None:
    storage = "Team workspaces now get 250 GB of storage per workspace (previously 100 GB)."
    runs = "The monthly automation runs on the Team plan are raised to 1,000 runs per month (previously 250 runs per month)."
    assert not _changes_change(runs, storage)
    # a newer change of a change's new amount changes it; a rule that is no change is read as before
    assert _changes_change("The price is now $22 (previously $25).", "The price was raised from $20 to $25.")
    assert _changes_change(runs, "Team: 250 automation runs per month")
    # "How much storage does the Team plan include?" was told only the automation runs (QA 2026-12-07)
    text = _composed("How much storage does the Team plan include?", [_hit(1, NOTE, "Release notes")])
    assert "250 GB of storage" in text, text


GUIDE = (
    "## Roaming\nWe charge a daily roaming charge for each day you use your phone abroad.\n| Zone | Small | Medium | Unlimited |\n|---|---|---|---|\n"
    "| Zone 1 Europe | £2.50 a day | £2.50 a day | Included |\n"
    "| Zone 2 USA and Canada | £6 a day | £5 a day | £3 a day |\n"
    "| Zone 3 Rest of world | Not available | £8 a day | £6 a day |"
)
NOTICE = (
    "## 1 March 2026 - Changes to Medium plans and Zone 2 roaming\n"
    "From 1 March 2026 the monthly data allowance on the Medium plan is increased from 30GB to 50GB, at no extra cost.\n"
    "From 1 March 2026 the daily roaming charge in Zone 2 (USA and Canada) on the Medium plan is reduced from £5 a day "
    "to £4 a day.\n## 1 April 2026 - Annual price change\nOn 1 April 2026 your monthly airtime price goes up by the "
    "fixed amount in your price guide: £1.50 on Small, £2 on Medium and £2.50 on Unlimited."
)


def test_a_row_is_named_by_its_first_words_with_a_number() -> None:
    # (the row read with its section's heading, as the composer reads it)
    topic = frozenset(tokenize("roaming charge zone 2 plan"))
    assert names_row(topic, "Zone: Zone 2 USA and Canada; Small: £6 a day; Medium: £5 a day; Unlimited: £3 a day.\nRoaming")
    assert not names_row(topic, "Zone: Zone 1 Europe; Small: £2.50 a day; Medium: £2.50 a day; Unlimited: Included.\nRoaming")
    # two words without a number name no row by half its label ("Max Pro Ultra" is no "Max Pro")
    assert not names_row(frozenset(tokenize("max pro price")), "Plan: Max Pro Ultra Plus; Price: $90.")


@pytest.fixture(scope="module")
def e5() -> Any:
    from kb.settings import DEFAULT_EMBEDDER

    return get_embedder(DEFAULT_EMBEDDER)


@pytest.mark.integration
def test_a_notice_that_changes_one_cell_does_not_crowd_out_the_other_cells_asked(e5: Any) -> None:
    # "... for each plan?" was told only Medium's change (£5 -> £4), never Small's £6 and
    # Unlimited's £3 (QA 2026-12-07)
    hits = [_hit(1, NOTICE, "Service notice"), _hit(2, GUIDE, "Price guide")]
    text = ExtractiveComposer(e5).compose("What is the roaming charge in Zone 2 for each plan?", hits, lang="en").text
    assert "£6" in text and "£3" in text and "£4" in text, text


@pytest.mark.integration
def test_a_notice_that_changes_another_cell_of_the_row_asked_is_not_said(e5: Any) -> None:
    hits = [_hit(1, GUIDE, "Price guide"), _hit(2, NOTICE, "Service notice")]
    # "... on the Unlimited plan?" opened with Medium's £4 before the right £3 (QA 2026-12-07)
    text = ExtractiveComposer(e5).compose("How much is roaming in Canada on the Unlimited plan?", hits, lang="en").text
    assert "£3" in text and "£4" not in text, text
    # the plan the notice changed is told as the notice says
    text = ExtractiveComposer(e5).compose("How much is roaming in Zone 2 on the Medium plan?", hits, lang="en").text
    assert "£4" in text, text
