"""Quantities: a number is said by the same number in a compatible unit, or by a limit in its unit."""

from __future__ import annotations

from indexes.quantity import asked_quantities, dimensions_named, names_quantity, quantities, unit_terms


def _says(sentence: str, value: float, unit: str) -> bool:
    return names_quantity(value, unit, quantities(sentence))


def test_a_number_is_said_only_in_a_compatible_unit() -> None:
    assert asked_quantities("Can I check in a bag that weighs 35 kg?") == {"35": (35.0, "kg")}
    assert asked_quantities("a 35kg bag") == {"35kg": (35.0, "kg")}  # the analyzer's term, written closed
    assert asked_quantities("a bag of 35 kilograms") == {"35": (35.0, "kg")}
    assert asked_quantities("可以托运三十五公斤的行李吗？") == {"35": (35.0, "kg")}  # Chinese numerals as digits
    assert asked_quantities("Is there anything for 35?") == {}  # bare: any 35 says it
    assert not _says("An extra checked bag costs 35 EUR per flight.", 35, "kg")
    assert not _says("额外托运一件行李收费35元。", 35, "kg")
    assert _says("A 35kg bag is heavy.", 35, "kg")
    assert _says("Bags of 35 kilograms are heavy.", 35, "kg")
    assert _says("The table says 35.", 35, "kg")  # a bare number may count anything
    assert _says("It costs EUR 35.", 35, "eur") and _says("It costs €35.", 35, "eur")
    # two prices joined by "and" are no band
    assert not _says("35 EUR online and 60 EUR at the airport", 50, "eur")


def test_a_limit_says_the_quantities_it_speaks_of() -> None:
    assert _says("Bags over 32 kg are not accepted.", 35, "kg")
    assert not _says("Bags over 32 kg are not accepted.", 30, "kg")
    assert _says("超过32公斤的行李不予托运。", 35, "kg")
    # a most says the quantities within it and those past it
    assert _says("A cabin bag weighs no more than 8 kg.", 10, "kg")
    assert _says("A cabin bag weighs no more than 8 kg.", 5, "kg")
    assert _says("if it weighs 23 kg or less", 35, "kg")
    assert _says("随身行李20公斤以内。", 25, "kg")
    assert not _says("The sum must not exceed 158 cm.", 35, "kg")
    # a band says those within it
    assert _says("A bag weighing between 23 kg and 32 kg is charged 50 EUR.", 25, "kg")
    assert not _says("A bag weighing between 23 kg and 32 kg is charged 50 EUR.", 35, "kg")
    assert _says("23至32公斤的行李收取超重费。", 30, "kg") and not _says("23-32 kg", 35, "kg")


def test_units_and_dimensions_are_named_by_quantities() -> None:
    assert unit_terms("a bag of 35 kilograms") == {"kilogram": "kg"}
    assert unit_terms("a 35kg bag") == {}  # the unit is part of the number's term
    assert {"size", "height"} <= dimensions_named(quantities("It must not exceed 158 cm."))
    assert "size" not in dimensions_named(quantities("Maximum weight per bag: 23 kg"))
    assert "weight" in dimensions_named(quantities("Maximum weight per bag: 23 kg"))
    assert "尺寸" in dimensions_named(quantities("长宽高之和不超过158厘米"))


def test_a_change_says_the_quantity_a_rule_had_before() -> None:
    import datetime

    from indexes.quantity import changed_from, dates_in, in_force, supersedes

    copay = "Effective August 1, 2026, the Gold specialist copay is reduced from $50 to $40 per visit."
    assert [(q.value, q.unit) for q in changed_from(copay)] == [(50.0, "usd")]
    assert supersedes(copay, "Plan tier: Gold; Specialist copay: $50; Emergency room copay: $300")
    assert not supersedes(copay, "Plan tier: Silver; Specialist copay: $70")
    days = "Standard requests are decided within 7 business days (previously 15 business days)."
    assert supersedes(days, "Standard requests are decided within 15 business days.")
    assert not supersedes(days, "Bags up to 15 kg.")  # (another unit)
    locker = "快件投放快递柜后的免费存放时长由18小时延长至24小时。"
    assert supersedes(locker, "快件投放快递柜后免费存放18小时，超时后每12小时收取0.5元。")
    assert changed_from("Refunds are issued within 5 days.") == [] and not supersedes("Refunds take 5 days.", "5 days")
    # a change says the new value too, and a year is no value of a rule (covid-faq's "Formerly, this
    # disease was referred to as 2019-nCoV" kept "What does novel coronavirus mean?" from its entry)
    assert changed_from("Formerly, this disease was referred to as “2019 novel coronavirus” or “2019-nCoV”.") == []
    assert changed_from("The fee was previously higher.") == []
    # a decimal point is no sentence's end ("reduced from 1.5% to 1%" said no change, QA 2026-12-07);
    # a full stop after a number still ends the part
    fee = "Effective 1 December 2026, the non-sterling transaction fee on the Plus account is reduced from 1.5% to 1%."
    assert [(q.value, q.unit) for q in changed_from(fee)] == [(1.5, "%")]
    assert supersedes(fee, "Fee or limit: Non-sterling transaction fee; Plus: 1.5%")
    assert [q.value for q in changed_from("The fee is reduced from $2.50 to $2.")] == [2.5]
    assert [q.value for q in changed_from("The rate is now 3.5% (previously 4.25%).")] == [4.25]
    assert changed_from("Plans start at 1. Prices moved from March to May.") == []
    # each part of a change, with what changed and its old and new amounts (QA 2026-12-07)
    from indexes.quantity import changed_parts

    parts = changed_parts("自2026年11月1日起，寄往新疆、西藏的快件，首重（1公斤）价格由20元调整为25元，续重价格由每公斤15元调整为每公斤18元。")
    assert [(s, [q.value for q in o], [q.value for q in n]) for s, o, n in parts] == [
        ("首重（1公斤）价格", [20.0], [25.0]), ("续重价格", [15.0], [18.0])]
    assert [[q.value for q in n] for _, _, n in changed_parts(fee)] == [[1.0]]
    assert [[q.value for q in n] for _, _, n in changed_parts("Decided within 7 days (previously 15 days).")] == [[7.0]]
    assert changed_parts("Refunds are issued within 5 days.") == []
    # dates, and whether the change is in force on a day
    assert dates_in("Effective August 1, 2026; 2026-10-01; 1 January 2027; 自2026年11月1日起; February 31, 2026") == [
        datetime.date(2026, 8, 1), datetime.date(2026, 10, 1), datetime.date(2027, 1, 1), datetime.date(2026, 11, 1)]
    today = datetime.date(2026, 12, 6)
    assert in_force(copay, "", today) and not in_force("From March 1, 2027 it rises from $5 to $6.", "", today)
    # a dated entry's line before the sentence dates it; a change with no date is in force
    assert not in_force("The limit rises from 8 kg to 10 kg.", "Notice\n1 January 2027 (announced)\n", today)
    assert in_force("Check-in opens 36 hours before (previously 30 hours).", "", today)


def test_a_rule_says_an_old_amount_of_what_the_change_counts() -> None:
    # (QA 2026-12-07: "2 GB of storage" in an FAQ entry is the storage a notice changed)
    from indexes.quantity import says_of_same

    change = "Free workspaces now get 5 GB of storage per workspace (previously 2 GB)."
    assert says_of_same(change, "If you use more than 2 GB of storage, you cannot upload new files.")
    # near misses: the same amount of another thing, or named by the account before it
    assert not says_of_same(change, "Enterprise uploads are limited to 2 GB.")
    assert not says_of_same("The overdraft fee for Plus Checking is reduced from $35 to $29.", "Premier Checking: $35 per month.")
    assert not says_of_same("The upload size is raised to 50 MB (previously 25 MB).", "The monthly fee on Free is 25 dollars.")
    assert not says_of_same("Storage is 5 GB of storage.", "If you use more than 2 GB of storage.")  # no change said
