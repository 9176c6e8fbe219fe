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
