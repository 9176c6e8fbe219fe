"""The names and codes a question asks about, read against the knowledge base: a curated
question asked of another name ("Do you ship to Australia?" against "Do you ship to Canada?"),
and codes ("E2", "KFR-35GW/N1") that the passages name, or do not (docs/design-notes.md,
"Refusal and hand-off")."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

from indexes.text import tokenize
from rag.types import Hit

# a name, written with a capital inside a sentence ("Canada", "Apple Pay", "iPhone"), or a number
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b(?!I\b)(?:[A-Z][\w'-]*|[a-z]+[A-Z][\w'-]*|\d[\w.-]*)")
# a code of letters and digits, in any script's sentence ("E2", "KFR-50GW/N1", "空调显示E2是什么意思")
_CODE = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9./-]*\d)(?=[A-Za-z0-9./-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9./-]*[A-Za-z0-9])?(?![A-Za-z0-9])"
)


def names_in(text: str) -> set[str]:
    """The terms of the names and codes ``text`` writes ("Pro", "Leeds", "KFR-35GW")."""
    text = text.strip()
    return {t for rx in (_NAME, _CODE) for m in rx.finditer(text) for t in tokenize(m.group())}


def swapped_names(question: str, entry_question: str) -> set[str]:
    """The names (or numbers, or codes) ``question`` asks a curated question of in place of those
    the entry names, every other word of the two the same: "Do you ship to Australia?" against
    "Do you ship to Canada?" ({"australia"}), "空调显示E2是什么意思？" against "空调显示E1是什么意思？"
    ({"e2"}); empty when it is no such swap. The entry answers for what it names only."""
    if not entry_question:
        return set()
    mine, its = names_in(question), names_in(entry_question)
    asked, named = mine - its, its - mine
    if not asked or not named:
        return set()
    return asked if set(tokenize(question)) - asked == set(tokenize(entry_question)) - named else set()


def _code_terms(text: str) -> set[str]:
    """The terms of the codes (letters and digits) ``text`` writes ("S5", "X9": s5, x9)."""
    return {t for m in _CODE.finditer(text) for t in tokenize(m.group())}


def other_variant(question: str, entry_question: str) -> bool:
    """Whether a curated question answers for another variant (a model, a plan, a code) than
    ``question`` asks of: a name swapped (:func:`swapped_names`); a code the question names beside
    the entry's ("S5和S7的常规保养价格哪个贵？" against "S5常规保养多少钱？"); or a code the entry names
    that the question does not, every other word the same ("三电质保是多久？" against "X9的三电质保是
    多久？": the entry says the X9's warranty, not the one every other model has)."""
    if swapped_names(question, entry_question):
        return True
    mine, its = _code_terms(question), _code_terms(entry_question)
    if its and mine - its:
        return True
    extra = its - mine
    return bool(extra) and set(tokenize(question)) == set(tokenize(entry_question)) - extra


def _runs(code: str) -> list[str]:
    """``code``'s runs of letters and of digits, lower-cased ("KFR-35GW/N1": kfr, 35, gw, n, 1)."""
    return re.findall(r"[a-z]+|\d+", code.lower())


def _code_keys(code: str) -> set[str]:
    """The ways ``code`` is asked for: each stretch of its runs joined ("KFR-35GW/N1": kfr35gwn1,
    kfr35gw, 35gw, ...), so that "kfr35gw" or "35GW" name it and "E3" does not name "E30"."""
    runs = _runs(code)
    return {"".join(runs[i:j]) for i in range(len(runs)) for j in range(i + 1, len(runs) + 1)}


def _code_form(code: str) -> str:
    return "".join(_runs(code))


def _codes_in(text: str) -> set[str]:
    return {k for m in _CODE.finditer(text) for k in _code_keys(m.group())}


def _shape(key: str) -> str:
    """A code's shape: its digits as # ("kfr#gwn#", "e#"), which the codes of one family share."""
    return re.sub(r"\d+", "#", key)


class _KnownCodes(NamedTuple):
    keys: frozenset[str]  # every way a code of the passages is asked for (:func:`_code_keys`)
    shapes: frozenset[str]  # and their shapes


# each index version's codes, read the first time a question names one
_KB_CODES: weakref.WeakKeyDictionary[Any, _KnownCodes] = weakref.WeakKeyDictionary()
_KB_CODES_LOCK = threading.Lock()


def _kb_codes(index: Any) -> _KnownCodes | None:
    get_chunks, n = getattr(index, "get_chunks", None), getattr(index, "n_chunks", None)
    if get_chunks is None or not isinstance(n, int):
        return None
    with _KB_CODES_LOCK:
        got = _KB_CODES.get(index)
        if got is None:
            keys: frozenset[str] = frozenset().union(*(_codes_in(c.text) for c in get_chunks(range(n))))
            got = _KnownCodes(keys, frozenset(_shape(k) for k in keys))
            _KB_CODES[index] = got
        return got


class Codes(NamedTuple):
    """What a question's codes say of the knowledge base (:func:`question_codes`)."""

    unknown: bool  # one is named in no passage
    rare: tuple[str, ...]  # those few passages name: identifiers (E2, KFR-35GW/N1)
    rare_terms: frozenset[str]  # their terms


def question_codes(question: str, index: Any) -> Codes | None:
    """The codes (letters and digits: "E2", "KFR-35GW/N1", "kfr35gw") ``question`` names, read
    against the knowledge base; None where it names none. A code is unknown where no passage names
    it as written or typed otherwise (its runs of letters and digits: "kfr35gw" names KFR-35GW/N1,
    "E3" does not name E30), one of its terms is in no passage ("KFR-50GW/N1": 50gw; not
    "COVID-10", a typo of a domain's words), and the passages name codes of its family (its
    shape: E1 and E2 for "E3", KFR-35GW/N1 for "KFR-50GW/N1"; not "2FA" where they say
    "two-step verification", which was refused). A code is rare, an identifier, where each of its terms
    is in at most 1% of the passages (or 3) and the passages name it as a code: "COVID-19" in a
    COVID knowledge base is a word of the domain, "peer-t0-peer" a typo of words."""
    codes = [m.group() for m in _CODE.finditer(question)]
    known = _kb_codes(index) if codes else None
    doc_freq = getattr(getattr(index, "bm25", None), "doc_freq", None)
    if not codes or known is None or doc_freq is None:
        return None
    unknown = any(
        _code_form(c) not in known.keys and _shape(_code_form(c)) in known.shapes
        and any(doc_freq(t) == 0 for t in tokenize(c))
        for c in codes
    )
    rare_at = max(3, int(0.01 * int(getattr(index, "n_chunks", 0) or 0)))
    rare = tuple(c for c in codes if _code_form(c) in known.keys and all(doc_freq(t) <= rare_at for t in tokenize(c)))
    return Codes(unknown, rare, frozenset(t for c in rare for t in tokenize(c)))


def coded_passages(hits: Sequence[Hit], codes: Codes) -> list[Hit]:
    """The hits whose passage names each rare code of the question (:func:`question_codes`): it
    says nothing of that product or error, and what it says of another is no answer:
    "KFR-50GW/N1遥控器用什么电池？" was told the KFR-35GW/N1's batteries, "空调显示E2是什么意思？" what
    E1 means."""
    return [h for h in hits if all(_code_form(c) in _codes_in(h.passage) for c in codes.rare)]
