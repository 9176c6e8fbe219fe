"""Faithfulness / support scorers: how well is a claim supported by the passages it cites?

``score(claim, passages)`` returns a support score in [0, 1]; ``score >= scorer.threshold`` means
"supported" (0.5 for every scorer here except the lexical peer, whose coverage threshold was
chosen on the dev labels). Scorers are chosen by a spec through :func:`get_scorer`:

- ``default`` - the project's trained scorer (:class:`TrainedScorer`): lexical, numeric and
  embedding features of claim vs passages combined by a logistic regression trained on the dev
  faithfulness labels by ``scripts/train_scorer.py`` and shipped as JSON in ``rag/models/`` (no
  pickle, no model download; the embedding features use the embedder the knowledge base already
  loads, and a lexical-only head is used when that embedder is not the one it was trained with).
- ``trained:/path/model.json`` - the same with another weights file.
- ``lexical`` - the classic peer: share of the claim's content words found in the passages.
- ``nli:<path-or-name>`` - any sentence-transformers ``CrossEncoder`` (HHEM / MiniCheck style
  1-logit models, or 2/3-way NLI heads whose ``id2label`` names an entailment class).
- ``llm-judge:<llm spec>`` - an LLM answers yes/no through :func:`rag.llm.get_llm`, e.g.
  ``llm-judge:openai-compatible:http://host:8000/v1#qwen2.5-7b``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexes.lru import BatchLRU
from indexes.text import (
    CN_DIGITS,
    CN_MYRIADS,
    CN_POWERS,
    negated_predicates,
    numeral_value,
    split_sentences,
    table_rows_as_sentences,
    tokenize,
)
from kb.errors import ConfigError, MissingDependencyError

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "support_default.json"
MODEL_FORMAT = "kb-support-logreg/1"


class SupportScorer(Protocol):
    id: str
    threshold: float  # score >= threshold means "supported"

    def score(self, claim: str, passages: Sequence[str]) -> float: ...


# ----------------------------------------------------------------------------- lexical peer


class LexicalScorer:
    """Share of the claim's content words (stemmed; jieba words for Chinese) found in the passages.
    ``threshold`` 0.79 is the best balanced-accuracy cut on the BEGIN dev labels."""

    id = "lexical"

    def __init__(self, threshold: float = 0.79) -> None:
        self.threshold = threshold

    def score(self, claim: str, passages: Sequence[str]) -> float:
        words = set(tokenize(claim))
        if not words:
            return 1.0
        ctx: set[str] = set()
        for p in passages:
            ctx.update(tokenize(p))
        return len(words & ctx) / len(words)


# ----------------------------------------------------------------------------- features

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff"
_SURFACE = re.compile(rf"[{_CJK}]|[0-9]+(?:[.,][0-9]+)*|[^\W\d_{_CJK}]+(?:'[^\W\d_]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# a question mark that ends a sentence: at the end, before a word, or before white space and what
# is no lower-case word ("click Forgot password? and follow the link" asks nothing)
_ASKS = re.compile(r"[?？](?=\s*$|\w|\s+(?![a-z])\S)")
# an address, whose "?" starts its query string ("docs/overview?topic=overview-security") and
# asks nothing: a sentence quoted whole with a link in it was read as a question and dropped
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?？。]")
_CAPWORD = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+")
FIRST_PERSON = frozenset("i me my mine myself i'm i've i'd i'll we us our ours we're we've".split())
SECOND_PERSON = frozenset("you your yours you're you've you'd you'll".split())
OPINION = frozenset(
    """think thought believe feel felt guess hope love loved like liked enjoy enjoyed prefer favorite
    favourite wish agree disagree suppose interesting amazing awesome cool great fun funny boring
    wow lol haha yeah yes oh really maybe probably sure definitely""".split()
)
NEGATION_EN = frozenset("not no never none nothing nobody neither nor cannot n't without".split())
# a Chinese negation, and not the same character inside a word that negates nothing: 特别 and 区别
# (special, difference), 非常 (very), 无论 (whatever), 未来 (future), 不同 and 不少 (different, many)
NEGATION_ZH = re.compile(
    r"不(?![同少久断仅但过管论然及])|没|无(?!论)|非(?![常洲])|未(?!来)|勿"
    r"|(?<![特区类级分识个性告差鉴辨派])别(?![人的处墅称具])"
)
HEDGES_ZH = ("我觉得", "我认为", "我想", "我喜欢", "也许", "可能")

LEXICAL_FEATURES = (
    "coverage",  # share of content words (stemmed) found in the passages: the lexical peer
    "coverage_min_sentence",  # the weakest sentence's coverage
    "log_novel_content",  # log1p(number of content words not in the passages)
    "unigram_precision",  # surface words (stop words included)
    "bigram_precision",
    "trigram_precision",
    "longest_match",  # longest common run of surface words / claim length
    "novel_numbers",  # numbers in the claim not in the passages (capped at 3)
    "novel_capitalised",  # share of mid-sentence capitalised words not in the passages
    "first_person",  # share of first-person words
    "second_person",
    "opinion",  # share of opinion / chit-chat words
    "question",  # the claim asks a question
    "negation_mismatch",  # the claim negates and its best-matching passage sentence does not
    "log_claim_len",
    "log_context_len",
)
EMBEDDING_FEATURES = (
    "emb_max_sentence",  # max cosine of the claim to any passage sentence
    "emb_min_claim_sentence",  # min over claim sentences of their best passage-sentence cosine
)


def surface_tokens(text: str) -> list[str]:
    """Lower-cased words, numbers and single CJK characters (n-gram overlap, no stemming)."""
    return [m.group(0) for m in _SURFACE.finditer(unicodedata.normalize("NFKC", text).lower())]


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def _precision(claim: Sequence[str], ctx: set[tuple[str, ...]], n: int) -> float:
    grams = _ngrams(claim, n)
    if not grams:
        return 1.0
    return sum(1 for g in grams if g in ctx) / len(grams)


def _coverage(words: Sequence[str], ctx: set[str]) -> float:
    s = set(words)
    return len(s & ctx) / len(s) if s else 1.0


def _has_negation(text: str, toks: Sequence[str]) -> bool:
    if any(t in NEGATION_EN or t.endswith("n't") for t in toks):
        return True
    return NEGATION_ZH.search(text) is not None


def _clauses(claim: str) -> list[str]:
    """The clauses of ``claim`` that a negation is judged in (:data:`_CLAUSES`: the "; " between a
    list's items and the " — " before the sentence after it, as the composer says a list,
    :func:`rag.compose.list_items_as_sentences`)."""
    return [c for c in _CLAUSES.split(claim) if re.search(r"\w", c)] or [claim]


def _negation_lost(clause: str, sentences: Sequence[str], context: str) -> bool:
    """Whether ``clause`` negates what the sentence of ``sentences`` that shares most of its words
    does not (a clause the context holds word for word keeps its negation)."""
    toks = surface_tokens(clause)
    if not _has_negation(clause, toks) or _quoted(clause, context):
        return False
    words = set(tokenize(clause))
    best = max(sentences, key=lambda s: len(set(tokenize(s)) & words))
    return not _has_negation(best, surface_tokens(best))


def _quoted(claim: str, context: str, *, unnegated: bool = False) -> bool:
    """Whether ``claim`` stands in ``context`` word for word, white space aside, or after a reply
    it leaves out, its first letter a capital ("We do not provide TV." of "No, we do not provide
    TV.", which was held to the entry's question, which says no "not": QA 2026-12-07; not "Pets
    are allowed" of "No pets are allowed", a regression hunt's); ``unnegated``: somewhere not right
    after a negation ("支持退货" stands in "不支持退货" so)."""
    bare = re.sub(r"\s+", "", claim)
    flat = re.sub(r"\s+", "", context)
    at = flat.find(bare) if bare else -1
    while at >= 0:
        if not (unnegated and at and flat[at - 1] in "不没未无非别勿"):
            return True
        at = flat.find(bare, at + 1)
    if bare[:1].isupper():
        low = bare[0].lower() + bare[1:]
        at = flat.find(low)
        while at >= 0:
            if _REPLY_BEFORE.search(flat, 0, at):
                return True
            at = flat.find(low, at + 1)
    return False


# a reply before a sentence, its comma after it, white space left out ("A:No,we do not ...")
_REPLY_BEFORE = re.compile(r"(?:^|[^\w])(?:no|yes)[,，]$", re.I)


def lexical_features(claim: str, passages: Sequence[str]) -> dict[str, float]:
    claim_n = unicodedata.normalize("NFKC", claim)
    context = "\n".join(passages)
    context_n = unicodedata.normalize("NFKC", context)
    ctx_words = set(tokenize(context_n))
    words = tokenize(claim_n)
    sents = [s for s in split_sentences(claim_n) if re.search(r"\w", s)] or [claim_n]
    cov_sent = [_coverage(tokenize(s), ctx_words) for s in sents]
    c_tok = surface_tokens(claim_n)
    x_tok = surface_tokens(context_n)
    x_tok_set = set(x_tok)
    f: dict[str, float] = {}
    f["coverage"] = _coverage(words, ctx_words)
    f["coverage_min_sentence"] = min(cov_sent)
    f["log_novel_content"] = math.log1p(len(set(words) - ctx_words))
    f["unigram_precision"] = _precision(c_tok, {(t,) for t in x_tok_set}, 1)
    f["bigram_precision"] = (
        _precision(c_tok, set(_ngrams(x_tok, 2)), 2) if len(c_tok) > 1 else f["unigram_precision"]
    )
    f["trigram_precision"] = (
        _precision(c_tok, set(_ngrams(x_tok, 3)), 3) if len(c_tok) > 2 else f["bigram_precision"]
    )
    if c_tok and x_tok:
        sm = SequenceMatcher(None, c_tok, x_tok, autojunk=False)
        m = sm.find_longest_match(0, len(c_tok), 0, len(x_tok))
        f["longest_match"] = m.size / len(c_tok)
    else:
        f["longest_match"] = 0.0
    ctx_numbers = set(_NUMBER.findall(context_n))
    f["novel_numbers"] = float(min(3, sum(1 for n in set(_NUMBER.findall(claim_n)) if n not in ctx_numbers)))
    caps = [w.lower() for w in _CAPWORD.findall(claim_n) if w.lower() not in FIRST_PERSON]
    low_ctx = context_n.lower()
    f["novel_capitalised"] = sum(1 for w in caps if w not in low_ctx) / len(caps) if caps else 0.0
    n = max(1, len(c_tok))
    zh_first = sum(claim_n.count(h) for h in HEDGES_ZH)
    f["first_person"] = (sum(1 for t in c_tok if t in FIRST_PERSON) + zh_first) / n
    f["second_person"] = sum(1 for t in c_tok if t in SECOND_PERSON) / n
    f["opinion"] = sum(1 for t in c_tok if t in OPINION) / n
    # a question mark that ends a sentence (:data:`_ASKS`); one that a label ends inside it ("click
    # Forgot password?; Enter your email", a list of steps read as one sentence) asks nothing
    f["question"] = 1.0 if _ASKS.search(_URL.sub(" ", claim_n)) else 0.0
    if _has_negation(claim_n, c_tok) and not _quoted(claim_n, context_n):
        # (a claim the passages hold word for word keeps whatever negation they have, though it
        # spans lines that no one of their sentences holds whole)
        # (each clause of a claim joined from several, as a list is said in one sentence, is held
        # to the sentence it is of: "Unlimited plan: roaming ... is included; ...; Zone 3: no passes
        # are available" was held whole to the sentence sharing most of its words, which says no
        # "no", and a price list quoted word for word scored as a negation the passage lacks)
        ctx_sents = split_sentences(context_n) or [context_n]
        f["negation_mismatch"] = float(any(_negation_lost(part, ctx_sents, context_n) for part in _clauses(claim_n)))
    else:
        f["negation_mismatch"] = 0.0
    f["log_claim_len"] = math.log1p(len(c_tok))
    f["log_context_len"] = math.log1p(len(x_tok))
    return f


# ----------------------------------------------------------------------------- contradictions

_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
# the number of a list item or a step ("1. Sign in", "Step 2: ...", "第3步"), which a model numbers
# its own way
_LIST_NUMBER = re.compile(r"(?i)^\s*(?:(?:step|item)\s*)?\(?\d{1,2}[.):、：](?:\s|$)|^\s*(?:step\s*)?第?\d{1,2}步")
_EN_NUMBERS = {
    w: i for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
     "hundred": 100, "thousand": 1000, "dozen": 12, "first": 1, "second": 2, "third": 3, "fourth": 4,
     "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "once": 1, "twice": 2,
     "single": 1, "double": 2, "half": 0.5}
_EN_NUMBER = re.compile(r"(?i)\b(" + "|".join(_EN_NUMBERS) + r")(?:[\s-]+(one|two|three|four|five|six|seven|eight|nine))?\b")
# a number word that counts something in a claim ("thirty days", "a two-year warranty", "ten
# business days"): checked as the claim's digits are. A bare word is not: "one" is as often a
# pronoun ("the one you bought"), and "first"/"second" order or time things. Nor is the end of a
# larger number ("two hundred dollars", "a hundred and fifty dollars": _IN_LARGER)
_COUNTED = re.compile(
    r"(?i)\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[\s-]+(one|two|three|four|five|six|seven|eight|nine))?[\s-]+"
    r"(?:(?:business|working|calendar|full|more|extra|additional|free)\s+)?"
    r"(?:days?|weeks?|months?|years?|hours?|minutes?|percent|per\s+cent|dollars?|euros?|pounds?|items?|times"
    r"|lines?|devices?|people|gb)\b"
)
_IN_LARGER = re.compile(r"(?i)\b(?:hundred|thousand|million)(?:[\s-]+and)?[\s-]+$")
# the country code before a phone number ("+44 20 7946 0958" of "020 7946 0958"): the same number
_COUNTRY_CODE = re.compile(r"\+\d{1,3}(?=[\s-]?\(?\d)")
_PM = re.compile(r"(?i)\b(\d{1,2})(?::\d{2})?\s*(?:pm|p\.m\.)")
_CLOCK_24 = re.compile(r"\b(\d{1,2}):\d{2}\b")
_DECIMAL_COMMA = re.compile(r"(?<![\d,])\d+,\d{1,2}(?![\d,])")
# (the characters these read are those of the patterns below: Simplified digits, 十, 百, 千 and 万)
_ZH_DIGITS = CN_DIGITS
_ZH_UNITS = {**CN_POWERS, **CN_MYRIADS}
_ZH_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万]+")
# a Chinese numeral that counts something in a claim ("十五天", "三个工作日", "两台", "五倍", "百分之
# 三"): checked as the claim's digits are. Not an ordinal ("第三步", which a model numbers its own
# way), nor a bare 一, which says "a" as often as "one" ("一张新卡", "一次性"), nor a rough amount
# ("几十元", "上千元", "数百元", "二十多天"), nor a piece of a decimal ("一点五倍", "两块五") or
# of a figure in digits ("1万元"). Two digits side by side are a range ("两三天" is 2-3 days)
_ZH_TIME_DAYS = {"工作日": 1.0, "自然日": 1.0, "天": 1.0, "日": 1.0, "周": 7.0, "星期": 7.0, "月": 30.0,
                 "季度": 91.0, "年": 365.0, "小时": 1 / 24, "分钟": 1 / 1440}
_ZH_UNIT = (
    r"(?:个)?(?:工作日|自然日|天|日|周|星期|月|季度|年|小时|分钟|秒|元|块|倍|次|岁|张|台|期|件|名|人|位|份|笔|种|折|成|%|％)"
    r"|个"
)
_ZH_COUNTED = re.compile(
    rf"(?<![第零〇一二两三四五六七八九十百千万点几数上近好约\d.])(?:百分之([零〇一二两三四五六七八九十]+)(?!点)"
    rf"|([零〇一二两三四五六七八九十百千万]+)(?={_ZH_UNIT})(?!个?[多余来几])(?!块[零〇一二两三四五六七八九]))"
)
# a length of time, in digits or a numeral ("6个月", "半年", "一周", "两周"), in days
_ZH_SPAN = re.compile(
    r"(\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百半]+)\s*(?:个)?(工作日|自然日|天|日|周|星期|月|季度|年|小时|分钟)"
)
# a figure in digits with 千, 万 or 亿 after it ("1万元", "2.5万", "5千元")
_DIGITS_TIMES = re.compile(r"(\d+(?:\.\d+)?)\s*([千万亿])")
_TIMES = {"千": 1e3, "万": 1e4, "亿": 1e8}


def _spans(text: str) -> list[float]:
    """Every length of time ``text`` gives, in days ("半年" 182.5, "两周" 14, "24个月" 720)."""
    out = []
    for m in _ZH_SPAN.finditer(text):
        amount = m.group(1)
        if amount == "半":
            value = 0.5
        elif amount[0].isdigit():
            value = float(amount)
        elif "半" in amount or not all(ch in _ZH_DIGITS or ch in _ZH_UNITS for ch in amount):
            continue
        else:
            value = _zh_value(amount)
        out.append(_days(value, m, text))
    return out


def _zh_counted(claim: str, context: str, given: set[str]) -> set[str]:
    """The numbers the claim's Chinese numerals count (:data:`_ZH_COUNTED`), less each length of
    time that the passages (``context``, which gives the numbers ``given``) give in another unit
    ("六个月" of "半年", "两周" of "14天": within 3%)."""
    spans: list[float] | None = None
    out: set[str] = set()
    for m in _ZH_COUNTED.finditer(claim):
        if m.group(1):  # 百分之三
            out.add(_value(_zh_value(m.group(1))))
            continue
        run = m.group(2)
        if all(ch in _ZH_UNITS for ch in run) or run == "一":
            continue  # "万" of "1万", or a bare 一
        pair = _digit_pair(run)
        if pair is not None:
            if claim.startswith("折", m.end()):  # "八五折" is 85折 (or 8.5折)
                figure = 10 * pair[0] + pair[1]
                if not {_value(figure), _value(figure / 10)} & given:
                    out.add(_value(figure))
                continue
            out.update(_value(d) for d in pair)
            continue
        span = _ZH_SPAN.match(claim, m.start(2))
        if span is not None:
            days = _days(_zh_value(run), span, claim)
            spans = _spans(context) if spans is None else spans
            if any(abs(days - d) <= 0.03 * d for d in spans):  # a month is 30 days
                continue
        out.add(_value(_zh_value(run)))
    return out


def _digit_pair(run: str) -> tuple[int, int] | None:
    """The two digits of a numeral of two digits side by side, a range ("两三" is 2-3); None for
    any other numeral."""
    if len(run) == 2 and all(ch in _ZH_DIGITS for ch in run):
        return _ZH_DIGITS[run[0]], _ZH_DIGITS[run[1]]
    return None


def _times_value(m: re.Match[str]) -> str:
    """The figure a :data:`_DIGITS_TIMES` match writes ("1万" 10000, "2.5千" 2500)."""
    return _value(float(m.group(1)) * _TIMES[m.group(2)])


def _days(amount: float, span: re.Match[str], text: str) -> float:
    """``amount`` of the unit a :data:`_ZH_SPAN` match names, in days, with a 半 after it ("两年半")."""
    return (amount + (0.5 if text[span.end() : span.end() + 1] == "半" else 0.0)) * _ZH_TIME_DAYS[span.group(2)]


def _value(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _word_value(m: re.Match[str]) -> float:
    """The number a match of :data:`_EN_NUMBER` or :data:`_COUNTED` writes ("twenty-four": 24)."""
    return _EN_NUMBERS[m.group(1).lower()] + (_EN_NUMBERS[m.group(2).lower()] if m.group(2) else 0)


def _zh_value(run: str) -> float:
    """A Chinese numeral's value ("三十" 30, "十五" 15, "一百二十" 120; "二〇二六" 2026)."""
    return float(numeral_value(run))


def written_numbers(text: str, words: bool = True) -> set[str]:
    """The numbers ``text`` gives: in digits ("1,299.00" is 1299, "09" 9), and, with ``words``, in
    English words ("thirty", "twenty-four") and Chinese numerals ("三十"). Zero is no number here
    (the "00" of "9:00")."""
    text = unicodedata.normalize("NFKC", text)
    out = {_value(float(m.group(0).replace(",", ""))) for m in _DIGITS.finditer(text)}
    if words:
        # a time in the other clock ("5pm" is 17:00, "17:00" is 5pm) and a decimal comma ("4,99 €")
        out.update(_value(float(m.group(1)) + 12) for m in _PM.finditer(text) if int(m.group(1)) < 12)
        out.update(_value(float(m.group(1)) - 12) for m in _CLOCK_24.finditer(text) if 12 < int(m.group(1)) < 24)
        out.update(_value(float(m.group(0).replace(",", "."))) for m in _DECIMAL_COMMA.finditer(text))
        for m in _EN_NUMBER.finditer(text):
            out.add(_value(_word_value(m)))
            out.add(_value(_EN_NUMBERS[m.group(1).lower()]))
        for m in _ZH_NUMBER.finditer(text):
            out.add(_value(_zh_value(m.group(0))))
            out.update(_value(d) for d in _digit_pair(m.group(0)) or ())  # "两三天": 2-3 days
        out.update(_times_value(m) for m in _DIGITS_TIMES.finditer(text))
    out.discard("0")
    return out


_NEGATIVE_PREFIX = re.compile(r"(?i)\bnon-?([a-z]{3,})")
# where one clause of a sentence ends: a list's items read as one sentence are joined so
_CLAUSES = re.compile(r"\s+—\s+|;\s+|；")
_LEAD_IN = re.compile(r"(?<=[:：])\s*")


# a word holding a negation that denies nothing, as :func:`negated_predicates` reads it too (its
# list of them: "无理由退货" is a return for any reason), which every negation word counts
# otherwise (NEGATION_ZH: a learned feature reads them as they are)
_NO_DENIAL = re.compile(r"无理由")


def _denied(text: str) -> set[str]:
    """What ``text`` denies (:func:`negated_predicates`), with what a "non-" word denies
    ("non-refundable": refund)."""
    return negated_predicates(text) | {t for m in _NEGATIVE_PREFIX.finditer(text) for t in tokenize(m.group(1))}


def _negates(text: str) -> bool:
    """Whether ``text`` denies anything: a negation, or a "non-" word."""
    text = _NO_DENIAL.sub(" ", text)
    return _has_negation(text, surface_tokens(text)) or bool(_NEGATIVE_PREFIX.search(text))


def contradiction(claim: str, passages: Sequence[str]) -> str | None:
    """Why ``claim`` says what its passages do not, in the two ways a learned support score misses
    (it reads how much of the claim the passages hold, and a changed number or a dropped "not"
    keeps almost all of it): a number in digits, or a number word that counts something ("thirty
    days"), the passages give in no form ("90 days" of a passage that says 30), or a term the
    claim's best-matching passage sentence negates and the claim does not, or the other way round
    ("Gift cards can be returned" of "Gift cards cannot be returned"; "does not cover accidental
    damage" said to cover it). None when neither; a claim the passages hold word for word (each
    of its parts joined by " — ") never contradicts them."""
    context = "\n".join(passages)
    if all(_quoted(part, context, unnegated=True) for part in claim.split(" — ")):
        return None
    said = _COUNTRY_CODE.sub("", _LIST_NUMBER.sub("", claim))
    # a figure in digits with 万 or 千 after it is that figure ("1万元" is 10000, not 1)
    said = _DIGITS_TIMES.sub(_times_value, said)
    counted = {_value(_word_value(m)) for m in _COUNTED.finditer(said) if not _IN_LARGER.search(said[: m.start()])}
    given = written_numbers(context)
    counted |= _zh_counted(said, context, given)
    new = (written_numbers(said, words=False) | counted) - given
    if new:
        return f"gives {', '.join(sorted(new))}, which the passages do not"
    # a table's row as the composer reads it, header and cells ("Plan: Lite; ...; Contract: No
    # contract"), whose "No" its header line alone does not say
    sentences = [s for p in passages for s in split_sentences(table_rows_as_sentences(p)[0])]
    if not sentences:
        return None
    why = _absolute(claim, sentences) or _denied_elsewhere(claim, sentences)
    if why:
        return why
    # each clause against the passage sentence it says most of (of equals, the one that says most of
    # the first clause: a table's row, "Plan: Plus; ...; Contract: No contract", is held to the Plus
    # row): a list read as one sentence ("Your right to cancel: You may cancel ... for a full
    # refund; After 30 days ... is not refunded; ...") said "not" of its first item's sentence
    clauses = _CLAUSES.split(claim)
    first = set(tokenize(clauses[0]))
    if len(clauses) > 1 and not all(":" in c or "：" in c for c in clauses):
        # a list's lead-in and its first item ("Refunds are available for: Unopened software") are
        # two clauses; a table's row, each of whose cells stands after its header, is not a list
        clauses[:1] = _LEAD_IN.split(clauses[0], maxsplit=1)
    terms = [set(tokenize(s)) for s in sentences]
    for clause in clauses:
        why = _clause_flipped(clause, sentences, terms, first, context)
        if why and "，" in clause and not any(
            _clause_flipped(piece, sentences, terms, first, context) for piece in clause.split("，")
        ):
            # a Chinese clause whose "，"-parted pieces each say what their own sentence says: the
            # composer says a list item of two sentences with "，" between them, and "…自助胶片打印机打印，
            # 如果您在APP上查看云胶片…，可以不打印胶片" was held whole to its first sentence, which says no 不
            # (a QA round's hospital was handed off). Only so: held piece by piece from the start, a
            # table's row said "，"-parted had each cell held to the first row's cell of its column
            continue
        if why:
            return why
    return None


def _clause_flipped(
    clause: str, sentences: Sequence[str], terms: Sequence[set[str]], first: set[str], context: str
) -> str | None:
    """Why ``clause`` of a claim says the opposite of the passage sentence it says most of (of
    equals, the one that says most of the claim's ``first`` clause; ``terms``: each sentence's);
    None where it does not."""
    words = set(tokenize(clause))
    if not words or _quoted(clause.strip().rstrip(".。;；:：!！?？ "), context, unnegated=True):
        return None  # a clause the passages hold word for word says what they say
    best = sentences[max(range(len(sentences)), key=lambda i: (len(words & terms[i]), len(first & terms[i])))]
    # held to that sentence's clause it says most of: a table's row is a clause per cell, and the
    # Premium row's "Collision coverage: Included with a $250 deductible" was held to the whole
    # row, whose "no deductible for glass" (another cell) it did not say, and dropped
    best = max(_CLAUSES.split(best), key=lambda part: len(words & set(tokenize(part))))
    denied, claim_denies = _denied(best), _denied(clause)
    if _negates(clause) == _negates(best):
        # both deny something, or neither: said the other way round ("No receipt is needed", "You
        # do not need a receipt"; a table's "Contract: No" for "has no contract"), not the opposite.
        # But a claim that denies what the sentence says, and names nothing the sentence denies,
        # denies something else than it does: a QA round's model wrote "Clearance items are not
        # final sale [1]." of "The following items are final sale and cannot be returned: ...
        # items marked Clearance", and it passed
        flipped = claim_denies & set(tokenize(best)) - denied if claim_denies and not denied & words else set()
    else:
        flipped = (denied & words - claim_denies) | (claim_denies & set(tokenize(best)) - denied)
    return f"says the opposite of its passage on {', '.join(sorted(flipped))}" if flipped else None


# what a claim may say that its passage's figure makes false: free where a price is given, or
# without limit where a number is (QA 2026-12-07: "Mattresses are covered for life", "Standard
# delivery is free", "Refunds are instant" passed the check against "covered for 5 years",
# "costs $49", "within 7 working days": almost every word of each is the passage's)
_FREE = re.compile(r"(?i)\bfree(?:\s+of\s+charge)?\b|\bat\s+no\s+(?:extra\s+)?(?:cost|charge)\b|\bno\s+(?:extra\s+)?(?:charge|fee|cost)\b"
                   r"|免费|不收费|无需付费|不收取?任何?费用")
_UNBOUNDED = re.compile(r"(?i)\b(?:for\s+life|lifetime|forever|indefinitely|unlimited|instant(?:ly)?|immediately|right\s+away)\b"
                        r"|终身|永久|无限期?|不限期|立即|立刻|马上|即时")
_PRICE = re.compile(r"[$€£¥]\s?\d|\d\s*(?:元|美元|欧元|英镑|dollars?\b|euros?\b|pounds?\b|USD\b|EUR\b|GBP\b)", re.I)


_CLAIM_CLAUSES = re.compile(r"(?i),\s*(?:and|but|while|whereas|though|although)\s+|;\s*|；|，(?:但|而|并且|且)?")


def _absolute(claim: str, sentences: Sequence[str]) -> str | None:
    """Why ``claim`` says "free" or "for life" (:data:`_FREE`, :data:`_UNBOUNDED`) of what the
    passage clause that holds most of its other words prices or bounds by a number, saying no
    such thing itself; None otherwise."""
    if not (_FREE.search(claim) or _UNBOUNDED.search(claim)):
        return None
    # (each clause of the claim on its own: "Standard delivery costs $49, and orders over $999 ship free")
    parts = _CLAIM_CLAUSES.split(claim)
    clauses = [c for s in sentences for c in _CLAUSES.split(s) if c.strip() and not c.lstrip().startswith("#")]
    terms = [set(tokenize(c)) for c in clauses]
    for part in parts:
        for pattern, gives, what in ((_FREE, _PRICE.search, "free"), (_UNBOUNDED, written_numbers, "without a limit")):
            said = pattern.search(part)
            others = set(tokenize(pattern.sub(" ", part))) if said is not None else set()
            if not others or not clauses:
                continue
            held = [len(others & t) for t in terms]
            most = max(held)
            best = [c for c, n in zip(clauses, held, strict=True) if n == most]
            # (of the clauses that hold as much of it, none says it, and one gives a figure)
            if said is not None and 2 * most >= len(others) and not any(pattern.search(c) for c in best):
                figure = next((c for c in best if gives(c)), None)
                if figure is not None:
                    return f"says {said.group(0).strip()!r} ({what}) where its passage says {figure.strip()!r}"
    return None


def _denied_elsewhere(claim: str, sentences: Sequence[str]) -> str | None:
    """Why ``claim``, which negates nothing, says of something a passage clause denies it of,
    where no clause that denies nothing names that thing: "Clearance items can be returned within
    30 days" of "Made-to-order sofas and clearance items cannot be returned" beside "You can
    return most items within 30 days" (the sentence it says most of, which negates nothing);
    "商品使用过也可以无理由退货" of "商品未使用…的，可以无理由退货"."""
    if _negates(claim):
        return None
    words = set(tokenize(claim))
    clauses = [c for s in sentences for c in _CLAUSES.split(s) if c.strip()]
    negates = [_negates(c) for c in clauses]
    plain = set().union(*(set(tokenize(c)) for c, n in zip(clauses, negates, strict=True) if not n))
    for clause in (c for c, n in zip(clauses, negates, strict=True) if n):
        denies = _denied(clause)
        denied = denies & words
        only_here = ((words - plain) & set(tokenize(clause))) - denies
        if denied and only_here:
            return f"says of {', '.join(sorted(only_here))} what its passage denies ({', '.join(sorted(denied))})"
    return None


class _VectorCache:
    """A small LRU of embedded texts, so passages cited by several sentences are embedded once."""

    def __init__(self, embedder: Any, size: int = 4096) -> None:
        self.embedder = embedder
        self.size = size
        self._lru: BatchLRU[str, np.ndarray] = BatchLRU(
            lambda texts: list(np.asarray(self.embedder.embed(texts, kind="passage"), dtype=np.float32)), size
        )

    def get(self, texts: Sequence[str]) -> np.ndarray:
        out = self._lru.get_many(list(texts))
        return np.stack(out) if out else np.zeros((0, 1), dtype=np.float32)


def embedding_features(claim: str, passages: Sequence[str], vectors: _VectorCache) -> dict[str, float]:
    """Sentence-level only: whole passages are long, and embedding them costs ~20x a sentence."""
    ctx_sents = [s for p in passages for s in split_sentences(p)] or [" ".join(passages) or " "]
    claim_sents = [s for s in split_sentences(claim) if re.search(r"\w", s)] or [claim or " "]
    vecs = vectors.get([claim, *claim_sents, *ctx_sents])
    c = vecs[0]
    cs = vecs[1 : 1 + len(claim_sents)]
    xs = vecs[1 + len(claim_sents) :]
    return {
        "emb_max_sentence": float((xs @ c).max()),
        "emb_min_claim_sentence": float((cs @ xs.T).max(axis=1).min()),
    }


def support_features(
    claim: str, passages: Sequence[str], vectors: _VectorCache | None = None
) -> dict[str, float]:
    """Every feature of (claim, passages); the embedding features only when ``vectors`` is given."""
    f = lexical_features(claim, passages)
    if vectors is not None:
        f.update(embedding_features(claim, passages, vectors))
    return f


# ----------------------------------------------------------------------------- trained scorer


@dataclass(frozen=True)
class LogisticHead:
    """A standardised logistic regression over named features, loaded from JSON."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float  # probability cut chosen by cross-validation (mapped to 0.5 by the scorer)
    embedder: str | None  # embedder id the embedding features were computed with (None: lexical only)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> LogisticHead:
        feats = tuple(d["features"])
        arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(feats),) for a in arrays):
            raise ValueError("mean/scale/coef must have one value per feature")
        return LogisticHead(
            feats,
            arrays[0],
            arrays[1],
            arrays[2],
            float(d["intercept"]),
            float(d.get("threshold", 0.5)),
            d.get("embedder"),
        )

    def logit(self, feats: dict[str, float]) -> float:
        x = np.asarray([feats[name] for name in self.features], dtype=np.float64)
        return float(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def probability(self, feats: dict[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(feats)))

    def score(self, feats: dict[str, float]) -> float:
        """Probability shifted so that the chosen threshold maps to 0.5."""
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        z = self.logit(feats) - math.log(t / (1 - t))
        return 1.0 / (1.0 + math.exp(-z))


@lru_cache(maxsize=8)
def load_model(path: str) -> dict[str, LogisticHead]:
    """The heads of a scorer weights file (JSON; never pickle)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        raise ConfigError(
            f"scorer model {p} does not exist", "run `python scripts/train_scorer.py` or fix KB_SCORER"
        ) from ex
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise ConfigError(
            f"scorer model {p} is not readable JSON ({ex})", "re-create it with scripts/train_scorer.py"
        ) from ex
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ConfigError(
            f"scorer model {p} is not a {MODEL_FORMAT} file", "re-create it with scripts/train_scorer.py"
        )
    try:
        return {name: LogisticHead.from_dict(h) for name, h in data["heads"].items()}
    except (KeyError, TypeError, ValueError) as ex:
        raise ConfigError(
            f"scorer model {p} is malformed ({ex})", "re-create it with scripts/train_scorer.py"
        ) from ex


class TrainedScorer:
    """Lexical + embedding features combined by the shipped logistic regression.

    The ``embedding`` head is used when ``embedder`` is the embedder it was trained with
    (``embedder.id`` equals the head's), otherwise the ``lexical`` head (e.g. with the hashing test
    embedder, or a different model). Scores are calibrated so that ``threshold`` = 0.5."""

    threshold = 0.5

    def __init__(self, model_path: Path | str = DEFAULT_MODEL, embedder: Any | None = None) -> None:
        self.model_path = Path(model_path)
        self.embedder = embedder
        self.id = "default" if self.model_path == DEFAULT_MODEL else f"trained:{self.model_path}"
        self._head: LogisticHead | None = None
        self._vectors: _VectorCache | None = None

    def warm_up(self) -> None:
        heads = load_model(str(self.model_path))
        emb_id = getattr(self.embedder, "id", None)
        head = heads.get("embedding")
        if head is not None and self.embedder is not None and head.embedder == emb_id:
            self._vectors = _VectorCache(self.embedder)
            self._head = head
        elif "lexical" in heads:
            self._head = heads["lexical"]
        else:
            raise ConfigError(
                f"scorer model {self.model_path} needs embedder {head.embedder if head else '?'} (got {emb_id})",
                "set KB_EMBEDDER to it, or use KB_SCORER=lexical",
            )

    @property
    def head_name(self) -> str:
        if self._head is None:
            self.warm_up()
        return "embedding" if self._vectors is not None else "lexical"

    def features(self, claim: str, passages: Sequence[str]) -> dict[str, float]:
        if self._head is None:
            self.warm_up()
        return support_features(claim, passages, self._vectors)

    def score(self, claim: str, passages: Sequence[str]) -> float:
        if not re.search(r"\w", claim):
            return 1.0
        if not passages or not any(p.strip() for p in passages):
            return 0.0
        feats = self.features(claim, passages)
        assert self._head is not None
        return self._head.score(feats)


# ----------------------------------------------------------------------------- NLI cross-encoder

ENTAIL_NAMES = ("entail", "support", "consistent", "faithful", "attributable", "true", "yes")


class NLIScorer:
    """A sentence-transformers CrossEncoder over (passage, claim) pairs; the score is the
    probability of entailment / consistency, maxed over the passages and their concatenation.
    1-logit models (HHEM-style) go through a sigmoid; multi-class heads through a softmax, reading
    the entailment class from ``config.id2label`` (else the last class)."""

    threshold = 0.5

    def __init__(self, model: str, device: str = "cpu", max_length: int = 512) -> None:
        if not model:
            raise ConfigError("scorer spec 'nli:' names no model", "use nli:/path/to/cross-encoder")
        self.model_name = model
        self.id = f"nli:{model}"
        self.device = device
        self.max_length = max_length
        self._model: Any = None
        self._entail: int | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from sentence_transformers import CrossEncoder
            except ImportError as ex:  # pragma: no cover - a core dependency
                raise MissingDependencyError("sentence-transformers", "all") from ex
            try:
                model = CrossEncoder(self.model_name, device=self.device, max_length=self.max_length)
            except Exception as ex:  # noqa: BLE001 - any load failure is a configuration problem
                raise ConfigError(
                    f"cannot load NLI cross-encoder {self.model_name!r} ({type(ex).__name__}: {ex})".splitlines()[
                        0
                    ],
                    "give a local path to a sentence-transformers CrossEncoder (nothing is downloaded)",
                ) from ex
            labels = {int(k): str(v).lower() for k, v in (model.config.id2label or {}).items()}
            n = int(getattr(model.config, "num_labels", 1) or 1)
            self._entail = None
            if n > 1:
                hits = [i for i, name in labels.items() if any(e in name for e in ENTAIL_NAMES)]
                self._entail = hits[0] if hits else n - 1
            self._model = model

    def score(self, claim: str, passages: Sequence[str]) -> float:
        if not re.search(r"\w", claim):
            return 1.0
        passages = [p for p in passages if p.strip()]
        if not passages:
            return 0.0
        self.warm_up()
        premises = list(passages) + (["\n".join(passages)] if len(passages) > 1 else [])
        pairs = [(p, claim) for p in premises]
        if self._entail is None:
            logits = np.asarray(self._model.predict(pairs, activation_fn=_identity, show_progress_bar=False))
            probs = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
        else:
            logits = np.asarray(self._model.predict(pairs, activation_fn=_identity, show_progress_bar=False))
            logits = logits.reshape(len(pairs), -1)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs = (e / e.sum(axis=1, keepdims=True))[:, self._entail]
        return float(np.clip(probs.max(), 0.0, 1.0))


def _identity(x: Any) -> Any:
    return x


# ----------------------------------------------------------------------------- LLM judge

JUDGE_PROMPT = """You check whether a statement is fully supported by source passages.
Answer "yes" only if every fact in the statement is stated in or directly implied by the passages;
answer "no" if anything in it is missing from, or contradicts, the passages.

<passages>
{passages}
</passages>

<statement>{claim}</statement>

Is the statement fully supported by the passages? Answer with one word: yes or no."""

_YES = re.compile(r"^\W*(yes|supported|true|是|支持)\b", re.I)
_NO = re.compile(r"^\W*(no|not|unsupported|false|否|不)\b", re.I)


class LLMJudgeScorer:
    """An LLM answers yes/no (temperature 0) through :func:`rag.llm.get_llm`; yes = 1, no = 0.
    A reply that is neither counts as not supported (0.0) and is recorded in ``unparsed``."""

    threshold = 0.5

    def __init__(self, llm_spec: str, llm: Any | None = None, timeout_s: float = 60.0) -> None:
        if not llm_spec and llm is None:
            raise ConfigError(
                "scorer spec 'llm-judge:' names no LLM", "use llm-judge:openai-compatible:URL#model"
            )
        self.llm_spec = llm_spec
        self.id = f"llm-judge:{llm_spec}"
        self.timeout_s = timeout_s
        self._llm = llm
        self.unparsed = 0

    def _get_llm(self) -> Any:
        if self._llm is None:
            from rag.llm import get_llm

            self._llm = get_llm(self.llm_spec, timeout_s=self.timeout_s, max_tokens=5)
        return self._llm

    def score(self, claim: str, passages: Sequence[str]) -> float:
        if not re.search(r"\w", claim):
            return 1.0
        if not passages:
            return 0.0
        text = "\n\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages))
        prompt = JUDGE_PROMPT.format(passages=text, claim=claim)
        reply = self._get_llm().generate([{"role": "user", "content": prompt}], temperature=0.0, max_tokens=5)
        reply = str(reply).strip()
        if _YES.search(reply):
            return 1.0
        if not _NO.search(reply):
            self.unparsed += 1
        return 0.0


# ----------------------------------------------------------------------------- registry

SCORERS = ("default", "lexical", "trained:/path.json", "nli:/path/or/name", "llm-judge:<llm spec>")


def get_scorer(spec: str = "default", embedder: object | None = None, device: str = "cpu") -> SupportScorer:
    """Resolve a scorer spec (see the module docstring). Constructors are cheap: models load on
    first use (or ``warm_up()``)."""
    spec = (spec or "default").strip()
    provider, _, rest = spec.partition(":")
    if spec in ("default", "default:", "trained", "trained:"):
        return TrainedScorer(DEFAULT_MODEL, embedder)
    if spec in ("lexical", "lexical:"):
        return LexicalScorer()
    if provider == "trained":
        return TrainedScorer(Path(rest), embedder)
    if provider == "nli":
        return NLIScorer(rest, device=device)
    if provider == "llm-judge":
        return LLMJudgeScorer(rest)
    raise ConfigError(
        f"unknown faithfulness scorer {spec!r}", f"set KB_SCORER to one of: {', '.join(SCORERS)}"
    )
