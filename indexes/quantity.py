"""Quantities in text: a number with its unit ("35 kg", "35kg", "35 kilograms", "35公斤", "三十五公斤",
"EUR 35", "35元") and the limit a sentence states with it ("over 32 kg", "up to 8 kg", "between 23 kg
and 32 kg", "超过32公斤", "20公斤以内").

The analyzer reads a number as a term of its own, whatever it counts: "Can I check in a bag that
weighs 35 kg?" shared its 35 with "An extra checked bag costs 35 EUR", which was said before "Bags over
32 kg are not accepted". :func:`names_quantity` tells whether a sentence says the question's
quantity: the same number in a compatible unit (the same one, or none: a bare number may count
anything), or a limit in its unit that speaks of it."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass

from indexes.text import arabic_numerals, as_written, tokenize

# each unit's spellings -> the unit; a spelling that means two things ("pound": weight or money,
# "in", "m" for minutes) is left out, and a number before it is bare
_UNITS: dict[str, tuple[str, ...]] = {
    "kg": ("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms", "kilogramme", "kilogrammes", "公斤", "千克"),
    "g": ("g", "gram", "grams", "gramme", "grammes", "克"),
    "lb": ("lb", "lbs",),
    "t": ("tonne", "tonnes", "ton", "tons", "吨"),
    "mm": ("mm", "millimetre", "millimetres", "millimeter", "millimeters", "毫米"),
    "cm": ("cm", "centimetre", "centimetres", "centimeter", "centimeters", "厘米"),
    "m": ("metre", "metres", "meter", "meters", "米"),
    "km": ("km", "kilometre", "kilometres", "kilometer", "kilometers", "公里", "千米"),
    "inch": ("inch", "inches", "英寸"),
    "ft": ("ft", "foot", "feet"),
    "ml": ("ml", "millilitre", "millilitres", "milliliter", "milliliters", "毫升"),
    "l": ("litre", "litres", "liter", "liters", "升"),
    "wh": ("wh",),
    "mah": ("mah",),
    "gb": ("gb",),
    "mb": ("mb",),
    "%": ("%", "percent", "per cent", "个百分点"),
    "eur": ("eur", "euro", "euros", "€", "欧元"),
    "usd": ("usd", "dollar", "dollars", "$", "美元"),
    "gbp": ("gbp", "£", "英镑"),
    "cny": ("cny", "rmb", "yuan", "¥", "元", "块钱", "人民币"),  # (块 counts things too: 3块电池)
    "hkd": ("hkd", "港元", "港币"),
    "chf": ("chf", "franc", "francs"),
    "s": ("second", "seconds", "sec", "secs", "秒", "秒钟"),
    "min": ("minute", "minutes", "min", "mins", "分钟"),
    "h": ("hour", "hours", "hr", "hrs", "小时", "个小时", "钟头", "个钟头"),
    "day": ("day", "days", "business day", "business days", "working day", "working days", "天", "日", "工作日",
            "个工作日"),
    "week": ("week", "weeks", "周", "星期", "个星期"),
    "month": ("month", "months", "个月"),
    "year": ("year", "years", "年"),
}
_UNIT_OF = {spelling: unit for unit, spellings in _UNITS.items() for spelling in spellings}
# what each unit measures: a question's word for a dimension ("size", 重量) is said by a quantity
# in a unit of it ("must not exceed 158 cm" says a bag's size; "23 kg" its weight, not its size)
_DIMENSION = {
    **dict.fromkeys(("kg", "g", "lb", "t"), "mass"),
    **dict.fromkeys(("mm", "cm", "m", "km", "inch", "ft"), "length"),
}
_DIMENSION_WORDS = {
    "mass": "weight weights weigh weighs heavy heaviness 重量 重 体重",
    "length": "size sizes dimension dimensions length width height tall 尺寸 大小 长度 宽度 高度",
}
# the terms (as :func:`tokenize` reads them) that name each dimension
_DIMENSION_TERMS = {dim: frozenset(tokenize(words)) for dim, words in _DIMENSION_WORDS.items()}
DIMENSION_TERMS = frozenset().union(*_DIMENSION_TERMS.values())

_SPELLINGS = "|".join(re.escape(s) for s in sorted(_UNIT_OF, key=len, reverse=True))
_NUM = r"\d+(?:[.,]\d+)*"
# a unit after its number (a Latin one ends at a word's end; a Chinese one need not: "35公斤的"), or
# a currency before it ("EUR 35", "€35", "$30")
_AFTER = rf"(?P<unit>{_SPELLINGS})(?![a-z])"
_QUANTITY = re.compile(
    rf"(?:(?P<pre>[$€£¥]|\b(?:eur|usd|gbp|cny|rmb|hkd|chf))\s?)?(?P<num>{_NUM})(?:[ \t-]?{_AFTER})?"
)
# the words that make a number a limit: more than it (a lower limit), at most it (an upper one)
_OVER_BEFORE = re.compile(
    r"(?:\b(?:over|above|exceeding|exceeds?|beyond|more\s+than|greater\s+than|heavier\s+than|longer\s+than"
    r"|larger\s+than|bigger\s+than|taller\s+than|in\s+excess\s+of|at\s+least|minimum(?:\s+of)?)"
    r"|超过|超出|大于|高于|多于|至少|最少|最低)\s*$"
)
_UPTO_BEFORE = re.compile(
    r"(?:\b(?:up\s+to|no\s+more\s+than|not\s+more\s+than|no\s+larger\s+than|no\s+heavier\s+than|no\s+longer\s+than"
    r"|at\s+most|maximum(?:\s+of)?|max\.?|under|below|less\s+than|lighter\s+than|shorter\s+than|smaller\s+than"
    r"|within|not\s+exceed|must\s+not\s+exceed|may\s+not\s+exceed|cannot\s+exceed|does\s+not\s+exceed)"
    r"|不超过|不超出|不大于|不高于|不得超过|最多|最高|至多|少于|低于|小于)\s*$"
)
_OVER_AFTER = re.compile(r"^\s*(?:or\s+more\b|and\s+(?:over|above|up)\b|plus\b|\+|以上|及以上)")
_UPTO_AFTER = re.compile(r"^\s*(?:or\s+(?:less|under|fewer|below)\b|and\s+(?:under|below)\b|max\b|以内|以下|之内|及以下)")
# "between 23 kg and 32 kg", "23-32 kg", "23 to 32 kg", "23至32公斤", "23到32公斤": a band ("and" only
# after "between": "35 EUR online and 60 EUR at the airport" are two prices)
_BETWEEN = re.compile(r"^\s*(?:to|-|–|~|至|到)\s*$")
_BETWEEN_AND = re.compile(r"^\s*and\s*$")
_BETWEEN_BEFORE = re.compile(r"\bbetween\s*$")


@dataclass(frozen=True)
class Quantity:
    """A number in a text: its ``term`` (as :func:`tokenize` reads it: "35", or "35kg" written
    closed), its ``value``, its ``unit`` (None: bare, or a unit not known), and the values it
    bounds (``low`` to ``high``, None for no bound; both the value itself for a plain number)."""

    term: str
    value: float
    unit: str | None
    low: float | None
    high: float | None

    def says(self, value: float, unit: str | None) -> bool:
        """Whether this quantity says ``value`` in ``unit``: the same number in a compatible unit
        (the same, or either bare), or a limit in the same unit that ``value`` is within or past
        the most of ("Bags over 32 kg are not accepted" and "weighs no more than 23 kg" speak of a
        35 kg bag; "between 23 kg and 32 kg" does not)."""
        if unit is None or self.unit is None:
            return self.value == value
        if self.unit != unit:
            return False
        if self.low is None:  # a most: a quantity within it or past it
            return True
        return self.low <= value and (self.high is None or value <= self.high)


def _normalized(text: str) -> str:
    return arabic_numerals(as_written(text))


def _value(num: str) -> float:
    return float(num.replace(",", "")) if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", num) else float(num.replace(",", "."))


def _unit(m: re.Match[str]) -> str | None:
    """The unit of a match of :data:`_QUANTITY`, None where it has none."""
    word = m.group("unit") or m.group("pre")
    return _UNIT_OF.get(re.sub(r"\s+", " ", word)) if word else None


def _closed(m: re.Match[str]) -> bool:
    """Whether a match of :data:`_QUANTITY` writes its Latin unit closed up to its number ("35kg"),
    which the analyzer reads as one term with it."""
    unit = m.group("unit")
    return bool(unit) and m.end("num") == m.start("unit") and unit[0].isascii()


def _band(text: str, found: list[re.Match[str]], k: int) -> bool:
    """Whether number ``k`` of ``found`` (in ``text``) begins a band with the next one: "23-32 kg",
    "between 23 kg and 32 kg", both in one unit where both say one."""
    if k + 1 >= len(found):
        return False
    m, nxt = found[k], found[k + 1]
    gap = text[m.end(): nxt.start()]
    joined = bool(_BETWEEN.match(gap) or (_BETWEEN_AND.match(gap) and _BETWEEN_BEFORE.search(text[: m.start()])))
    a, b = _unit(m), _unit(nxt)
    return joined and (a is None or b is None or a == b)


def quantities(text: str) -> list[Quantity]:
    """The numbers of ``text`` with their units and the limits they state, in order."""
    low_text = _normalized(text)
    found = list(_QUANTITY.finditer(low_text))
    out: list[Quantity] = []
    for k, m in enumerate(found):
        unit = _unit(m)
        value = _value(m.group("num"))
        terms = tokenize(m.group("num") + (m.group("unit") if _closed(m) else ""))
        term = terms[0] if terms else m.group("num")
        before, after = low_text[: m.start()], low_text[m.end():]
        low: float | None = value
        high: float | None = value
        if _band(low_text, found, k):
            nxt = found[k + 1]
            # the first number of a band takes the band's unit where it has none of its own
            unit = unit or _unit(nxt)
            low, high = value, _value(nxt.group("num"))
        elif k > 0 and _band(low_text, found, k - 1):
            low, high = _value(found[k - 1].group("num")), value
        elif _UPTO_BEFORE.search(before) or _UPTO_AFTER.match(after):
            low = None
        elif _OVER_BEFORE.search(before) or _OVER_AFTER.match(after):
            high = None
        out.append(Quantity(term, value, unit, low, high))
    return out


def asked_quantities(question: str) -> dict[str, tuple[float, str]]:
    """The quantities of ``question`` that have a unit: each number's term -> (value, unit). A
    bare number is left out: it is matched by the same number, whatever it counts."""
    return {q.term: (q.value, q.unit) for q in quantities(question) if q.unit is not None}


def unit_terms(question: str) -> dict[str, str]:
    """The terms of ``question`` that are the unit of one of its numbers, written apart from it ->
    that unit: "kilogram" in "a bag of 35 kilograms", said by a sentence that gives kilograms as
    "kg" ("Bags over 32 kg are not accepted")."""
    low_text = _normalized(question)
    out: dict[str, str] = {}
    for m in _QUANTITY.finditer(low_text):
        unit = _unit(m)
        if unit is not None:
            if not _closed(m):
                out.update(dict.fromkeys(tokenize(m.group("unit") or m.group("pre")), unit))
    return out


def says_unit(unit: str, said: list[Quantity]) -> bool:
    """Whether one of the quantities ``said`` is in ``unit``."""
    return any(q.unit == unit for q in said)


def names_quantity(value: float, unit: str, said: list[Quantity]) -> bool:
    """Whether one of the quantities ``said`` (:func:`quantities` of a sentence) says ``value`` in
    ``unit`` (:meth:`Quantity.says`)."""
    return any(q.says(value, unit) for q in said)


def dimensions_named(said: list[Quantity]) -> frozenset[str]:
    """The terms for the dimensions that the quantities ``said`` measure ("size", "weight")."""
    dims = {_DIMENSION[q.unit] for q in said if q.unit in _DIMENSION}
    return frozenset().union(*(_DIMENSION_TERMS[d] for d in dims)) if dims else frozenset()


# A sentence that says a rule changed, and what it was before: "reduced from $50 to $40",
# "(previously 15 business days)", "由18小时延长至24小时", "原为3元". Its "before" part holds the old
# quantities (:func:`changed_from`).
_CHANGED_FROM = re.compile(
    # (any tense: "will increase from $50 to $55" was no change, and an announced fee told as
    # today's, first)
    r"\b(?:reduc(?:e|es|ed)|increas(?:e|es|ed)|rais(?:e|es|ed)|lower(?:s|ed)?|cuts?|extend(?:s|ed)?|shorten(?:s|ed)?"
    r"|chang(?:e|es|ed)|mov(?:e|es|ed)|rises?|rose|risen|falls?|fell|fallen"
    r"|drops?|dropped|go(?:es)?\s+(?:up|down)|went\s+(?:up|down)|(?:has|have)\s+(?:gone\s+(?:up|down)|changed))\s+from\s+"
    # (a decimal point is no sentence's end: "reduced from 1.5% to 1%" said no change, and the fee
    # table's 1.5% row was told before the notice that changed it, QA 2026-12-07)
    r"(?P<en>(?:[^;.!?]|(?<=\d)\.(?=\d)){1,40}?)\s+to\b"
    r"|\b(?:previously|formerly|was\s+previously|used\s+to\s+be|instead\s+of)\b[\s:]*(?P<was>(?:[^;.!?)]|(?<=\d)\.(?=\d)){1,40})"
    r"|[由从](?P<zh>[^，。；！？,;]{1,24}?)(?:调整|延长|缩短|提高|降低|上调|下调|增加|减少|增至|降至|改|变更|变)(?:为|至|到|成)"
    r"|原(?:为|来为|来是|标准为|收费标准为)(?P<zh_was>[^，。；！？,;)）]{1,24})",
    re.IGNORECASE,
)


def _befores(sentence: str) -> Iterator[tuple[re.Match[str], str, list[Quantity]]]:
    """Each "before" part of ``sentence`` (:data:`_CHANGED_FROM`): its match, the name of the group
    that holds it as written, and the old quantities it holds ([] where it says none the sentence
    gives a new value of)."""
    for m in _CHANGED_FROM.finditer(sentence):
        group = next(k for k, g in m.groupdict().items() if g is not None)
        # the sentence says the new value too, in the same unit: "Formerly, this disease was referred
        # to as 2019-nCoV" says no rule changed (and a year is no value of a rule)
        new = quantities(sentence[: m.start(group)] + " " + sentence[m.end(group) :])
        yield m, group, [
            q for q in quantities(m.group(group))
            if not _a_year(q) and any(n.unit == q.unit and n.value != q.value and not _a_year(n) for n in new)
        ]


def changed_from(sentence: str) -> list[Quantity]:
    """The quantities ``sentence`` says a rule had before it changed ("The change fee is reduced
    from EUR 60 to EUR 45": EUR 60; "免费存放时长由18小时延长至24小时": 18 hours); [] for a sentence
    that says no change."""
    return [q for _, _, olds in _befores(sentence) for q in olds]


def changed_parts(sentence: str) -> list[tuple[str, list[Quantity], list[Quantity]]]:
    """Each change ``sentence`` says, as (what changed, as its clause writes it before the change,
    its dates left out; the old quantities; the new ones, in their unit): "首重（1公斤）价格由20元调整为25元，
    续重价格由每公斤15元调整为每公斤18元" says ("首重（1公斤）价格", [20元], [25元]) and ("续重价格", [15元], [18元])."""
    parts = []
    for m, group, olds in _befores(sentence):
        if not olds:
            continue
        units = {q.unit for q in olds}
        clause = _CLAUSE_END.split(sentence[: m.start()])[-1].rstrip(" (（")
        # the new value follows "to", "调整为"; "(previously 15 days)", "（原为…）" follow it
        after = _CLAUSE_END.split(sentence[m.end() :], 1)[0] if group in ("en", "zh") else clause
        news = [q for q in quantities(after) if q.unit in units and not _a_year(q)]
        parts.append((_DATE.sub(" ", clause).strip(), olds, news[:1] if group in ("en", "zh") else news[-1:]))
    return parts


# where a clause ends: a decimal point is none ("from 1.5% to 1%")
_CLAUSE_END = re.compile(r"[，。；！？;!?：]|[,.:](?!\d)")


def quotes_before(change: str, rule: str) -> bool:
    """Whether ``change`` says what ``rule`` was in the rule's own words: its "before" part is a
    phrase, more than an amount, that ``rule`` writes as it is ("（原为开学后两周内）" of "在开学后两周内
    （含两周）办结离校手续的，退还当学年全部学费"; "(previously within 14 days)" of "Refunds are paid
    within 14 days"). An amount alone ("reduced from $35 to $29") may be of another rule that costs
    as much; a phrase of the rule names that rule."""
    text = _normalized(rule)
    for m, group, olds in _befores(change):
        phrase = _normalized(m.group(group)).strip()
        if olds and re.search(r"\w", _QUANTITY.sub("", phrase)) and phrase in text:
            return True
    return False


def changed_subject(sentence: str) -> str | None:
    """What ``sentence`` says changed from one value to another, as it writes it before the change,
    its dates left out ("From 1 December 2026 the daily ATM limit on Plus increases from £500 to
    £750": "the daily ATM limit on Plus"; "寄往新疆的快件首重价格由25元下调为22元": "寄往新疆的快件首重价格");
    None where it says no such change ("(previously 31 March)" says the old value, not of what)."""
    befores = list(_befores(sentence))
    if not any(olds for _, _, olds in befores):
        return None
    m, group, _ = befores[0]  # (the first change the sentence says, whatever its amounts)
    if group not in ("en", "zh"):
        return None
    start = max(sentence.rfind(p, 0, m.start()) for p in ("。", ". ", "；", "; ", "：", ": "))
    return _DATE.sub(" ", sentence[start + 1 : m.start()])


def _a_year(q: Quantity) -> bool:
    """Whether ``q`` reads as a year ("2019" with no unit)."""
    return q.unit is None and q.value.is_integer() and 1900 <= q.value <= 2100


def supersedes(change: str, rule: str) -> bool:
    """Whether ``change`` (a sentence of a notice) says that ``rule`` (another sentence) no longer
    holds: ``rule`` states one of the quantities ``change`` says the rule had before (the same
    number, in the same unit or either without one). "Effective August 1, 2026, the Gold specialist
    copay is reduced from $50 to $40" supersedes "Gold: specialist copay $50"."""
    before = changed_from(change)
    if not before:
        return False
    said = quantities(rule)
    return any(
        q.value == old.value and (q.unit is None or old.unit is None or q.unit == old.unit) for old in before for q in said
    )


_MONTHS = {m: i + 1 for i, m in enumerate((
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"
))}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(
    r"(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})\b"
    rf"|\b(?P<mon2>{_MONTH})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{{4}})"
    rf"|\b(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon3>{_MONTH})\.?,?\s+(?P<y3>\d{{4}})"
    r"|(?P<y4>\d{4})\s*年\s*(?P<m4>\d{1,2})\s*月\s*(?P<d4>\d{1,2})\s*[日号]",
    re.IGNORECASE,
)


def dates_in(text: str) -> list[datetime.date]:
    """The calendar dates ``text`` writes ("2026-11-01", "November 1, 2026", "1 November 2026",
    "2026年11月1日"), in order; one that is no date (a 31 February) is left out."""
    out: list[datetime.date] = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        try:
            if g["y1"]:
                out.append(datetime.date(int(g["y1"]), int(g["m1"]), int(g["d1"])))
            elif g["y2"]:
                out.append(datetime.date(int(g["y2"]), _MONTHS[g["mon2"].lower()], int(g["d2"])))
            elif g["y3"]:
                out.append(datetime.date(int(g["y3"]), _MONTHS[g["mon3"].lower()], int(g["d3"])))
            else:
                out.append(datetime.date(int(g["y4"]), int(g["m4"]), int(g["d4"])))
        except ValueError:
            continue
    return out


def in_force(change: str, before: str, today: datetime.date | None = None) -> bool:
    """Whether a change (``change``, a sentence of a notice, after ``before``, the notice's text up
    to it) is in force ``today``: the last date the sentence gives, else the last date before it
    (a dated entry's line, "自2026年11月1日起…调整如下："), is not after today. A change dated later is
    announced, not yet the rule ("1 January 2027 (announced): the weight limit rises from 8 kg to
    10 kg"); one with no date is in force."""
    dates = dates_in(change) or dates_in(before)
    return not dates or dates[-1] <= (today or datetime.date.today())


def supersedes_now(change: str, rule: str, passage: str, today: datetime.date | None = None) -> bool:
    """Whether ``change``, a sentence of ``passage``, says that ``rule`` no longer holds
    (:func:`supersedes`) and is in force ``today`` (:func:`in_force_in`; default: the date)."""
    return supersedes(change, rule) and in_force_in(change, passage, today)


def in_force_in(change: str, passage: str, today: datetime.date | None = None) -> bool:
    """:func:`in_force` of ``change``, a sentence of ``passage``, dated by itself or by the text of
    the passage before it (the passage's start where the sentence is not found as written: a list
    item read with its lead-in)."""
    at = passage.find(change[:20])
    return in_force(change, passage[: max(at, 0)], today)


def words_at(text: str, value: float, reach: int = 2) -> set[str]:
    """The words (as :func:`tokenize` reads them, no number nor unit among them) of the ``reach``
    after where ``text`` says the number ``value``, what it counts: "If you use more than 2 GB of
    storage, ..." says its 2 of "storage", as "Free workspaces now get 5 GB of storage" says its 5.
    (Not the words before it: "Premier Checking: $35" and "Plus Checking is reduced from $35" name
    accounts, not what the amount is of.)"""
    low_text = _normalized(text)
    out: set[str] = set()
    for m in _QUANTITY.finditer(low_text):
        if _value(m.group("num")) != value:
            continue
        after = tokenize(low_text[m.end():])[:reach]
        out.update(t for t in after if not any(c.isdigit() for c in t) and t not in _UNIT_OF and t not in _RATE_WORDS)
    return out


# the words of a rate, which count nothing themselves ("$35 per month" and "$29 per item")
_RATE_WORDS = frozenset(tokenize("per each every a an")) | {"per", "each", "every", "每"}


def says_of_same(change: str, rule: str) -> bool:
    """Whether ``rule`` says an old amount of ``change`` (:func:`changed_from`) of a word that
    ``change`` writes after one of its own amounts (:func:`words_at`): "If you use more than 2 GB of storage" and "Free
    workspaces now get 5 GB of storage per workspace (previously 2 GB)" both say GB of storage;
    "Premier Checking: $35 per month" and "the overdraft fee ... is reduced from $35 to $29" say
    their dollars of other things."""
    olds = changed_from(change)
    near = set().union(*(words_at(change, q.value) for q in quantities(change) if not _a_year(q))) if olds else set()
    return any(words_at(rule, q.value) & near for q in olds)
