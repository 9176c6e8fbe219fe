"""Answer composition: the extractive composer (no model beyond the embedder) and the prompt
builder for LLM backends (Jinja2 templates from ``prompts/``)."""

from __future__ import annotations

import datetime
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from indexes.embedders import text_head
from indexes.injection import redact_injections
from indexes.lru import BatchLRU
from indexes.quantity import (
    DIMENSION_TERMS,
    Quantity,
    asked_quantities,
    changed_from,
    changed_parts,
    changed_subject,
    dimensions_named,
    in_force_in,
    names_quantity,
    quantities,
    quotes_before,
    says_of_same,
    says_unit,
    supersedes,
    supersedes_now,
    unit_terms,
)
from indexes.text import (
    CLOSERS,
    NEGATION,
    PHRASE_SEP,
    TABLE_ROW,
    answer_kind,
    answer_kind_words,
    asked_kind,
    asks_how_to,
    asks_several_kinds,
    asks_time_count,
    asks_yes_no,
    class_kind,
    class_words,
    does_asked_action,
    gives_a_price,
    has_cjk,
    holds_answer_kind,
    holds_time_count,
    how_to_action,
    is_cjk_char,
    is_cjk_lang,
    is_how_to_heading,
    leans_on_previous,
    members_asked,
    named_terms,
    names_a_procedure,
    names_price_row,
    names_row,
    only_names_subject,
    phrase_terms,
    price_terms,
    query_topic,
    row_cells,
    row_label,
    row_sentence,
    same_words,
    split_asks,
    split_sentences,
    table_row_cells,
    table_rows_as_sentences,
    to_simplified,
    tokenize,
    without_auxiliary,
    without_escaped_breaks,
    without_page_meta,
    without_request,
    wording,
    words_key,
)
from indexes.types import CONTINUES
from rag.citations import join_sentences, mark_sentences, render_sentence, sentence_lang, strip_markers
from rag.codes import names_in
from rag.conversation import refers_back, stands_alone, takes_topic_from_before
from rag.retrieval import (
    HEADING_MARK,
    LIST_ITEM,
    SECTION_PATH_SEP,
    ZH_NUMERALS,
    compared_titles,
    comparison_cues,
    dense_capability,
    numbered_step,
    run_in_list_lines,
    section_path,
)
from rag.types import Hit


@dataclass(frozen=True)
class Composed:
    text: str  # with [n] markers; n = 1-based position in the hits given
    sentences: tuple[tuple[int, str, float], ...]  # (passage number, sentence, relevance)


# A sentence about the document itself ("This policy explains how long you have to return an
# item", "本政策说明了退货流程") echoes the question's words but answers nothing.
_META = re.compile(
    r"^(?:(?:this|the|our)\s+(?:document|policy|page|section|guide|article|faq|manual|chapter|notice|"
    r"statement|agreement|terms)|it)\s+(?:explains?|describes?|outlines?|sets?\s+out|summari[sz]es?|"
    r"tells?\s+you)\b"
    # (not "本页列出的商品均支持…", "本文介绍的优惠活动仅限新用户": what it lists is said of)
    r"|^本(?:政策|文档|文件|文|篇|页面?|頁面?|指南|手册|手冊|章节?|節|节|条款|條款|说明|協議|协议)(?:主要|将|將)?"
    r"(?:说明|說明|介绍|介紹|描述|概述|解释|解釋|列出)(?![的之])"
    # who the document is for, or whether it may be passed on: a note on the document, no answer
    # ("Internal document for Acme customer service staff", quoted to "怎么取消订单")
    r"|^(?:an?\s+)?(?:internal|confidential)\s+(?:document|guide|memo|note|material)s?(?:\s+for\b|\W*$)"
    r"|^for\s+internal\s+use\b|^(?:strictly\s+)?confidential\W*$"
    r"|^do\s+not\s+(?:share|distribute|forward)\s+(?:this|it\b|with\s+customers|outside)"
    r"|^(?:内部(?:文件|资料|文档)|仅供内部|请勿外传|机密文件)",
    re.IGNORECASE,
)


# a note on the document's pictures, wherever a heading run into the sentence puts it ("Universal
# Guide The image on your TV may differ from the image above depending on the model…", in 17
# emanual-qa sections and 6 of its answers): it says nothing about what was asked
_FIGURE_NOTE = re.compile(
    r"\b(?:the\s+)?(?:image|picture|illustration|screen\s*shot|figure)s?\b[^.]{0,40}?\bmay\s+differ\s+from\s+"
    r"(?:the\s+|those\s+)?(?:image|picture|illustration|screen\s*shot|figure|one)s?\s+(?:above|below|shown)\b"
    r"|\b(?:images?|pictures?|illustrations?|screen\s*shots?|figures?)\s+(?:are|is)\s+for\s+illustrat\w*(?:\s+purposes?)?"
    r"\s+only\b"
    r"|(?:图片|图示|示意图|截图)(?:仅供参考|仅作示意|以实物为准)",
    re.IGNORECASE,
)


def _is_meta(sentence: str) -> bool:
    s = sentence.strip()
    return bool(_META.match(s) or _FIGURE_NOTE.search(s))


# a bare reply ("Yes.", "No.", "是的。"): it answers the question its FAQ entry asked, not the one asked
# now ("Do you deliver on Sundays?" was answered "... for express orders. Yes.", the "Yes" of "Do you
# offer express delivery?"). (支持 and 不支持 were read so too, for a day: a paraphrase of the entry's
# question lost its "no", "暂不支持，目前仅支持在线支付", and a rewording its "yes", "支持，需要额外提供税号".)
_BARE_REPLY = re.compile(
    r"^\s*(?:(?:yes|no|yeah|yep|nope|sure|correct|incorrect|certainly|absolutely|of\s+course|not\s+at\s+all)"
    r"(?:\s*,?\s*(?:it|you|we|they|there)\s+(?:is|are|does|do|did|can|may|will)(?:\s*not|n't|'t)?)?"
    r"|是的?|不是|对|不对|可以|不可以|能|不能|会|不会|有|没有|需要|不需要|不用|无需)\s*[.!。！]?\s*$",
    re.IGNORECASE,
)


def _is_bare_reply(sentence: str) -> bool:
    return bool(_BARE_REPLY.match(sentence))


# the reply a sentence opens with ("Yes, choose Click & Collect at checkout", "可以，…")
_REPLY_OPENING = re.compile(
    r"^\s*(?:(?:yes|no|yeah|yep|nope|sure|certainly|absolutely|of\s+course)\s*,\s*"
    r"|(?:是的|可以|不可以|不能|不会|没有|对|需要|不需要|不用|无需)\s*[，,]\s*)(?=\w)",
    re.IGNORECASE,
)
# ... or as a sentence the splitter leaves on ("No. Pets are not allowed": "No." may abbreviate
# "number", so it ends no sentence; "No. 5" and "No. of bags" are not replies)
_REPLY_SENTENCE = re.compile(r"^\s*(?:yes|no|nope)\s*[.!]\s+(?=(?-i:[A-Z]))", re.IGNORECASE)


def _without_reply(sentence: str, unsplit: bool = False, faq_path: bool = False) -> str:
    """``sentence`` without the reply it opens with: "Yes, choose Click & Collect at checkout"
    answered "Can I pick up my order in a shop?", and quoted to "Can I bring my dog into the
    shop?" its "Yes" told the customer what the knowledge base never said. ``unsplit``: a "No."
    the splitter left at its start is one too (for a question not answered by yes or no: "What is
    the pet policy?" was told "No. Pets are not allowed"; to a yes-or-no question the composer
    keeps an entry's "No." where the question paraphrases the entry's, as covid-faq's "Do children
    need to wear masks?" does "Should children wear masks?"). ``faq_path``: for the FAQ direct answer
    (:func:`without_opening_reply`), which keeps a "No." whose sentence goes on "If", "When" or
    "But" as it always did."""
    m = _REPLY_OPENING.match(sentence)
    stopped = m is None and unsplit and (m := _REPLY_SENTENCE.match(sentence)) is not None
    if m is None:
        return sentence
    rest = sentence[m.end() :]
    if unsplit and not (stopped and faq_path) and (but := _BUT.match(rest)) is not None:
        # a reply its sentence goes on from with "but" answers its entry's question as a "No." does,
        # and what follows "but" is a sentence of its own: "Yes, but cash withdrawals on a credit card
        # are charged a cash fee of 3% ..." (of "Can I get cash with my credit card?") was said to "Is
        # there a fee to withdraw cash abroad with my debit card?" (QA 2026-12-07). Kept where the
        # rest qualifies the reply ("Yes, but only if ...": no sentence without it)
        after = rest[but.end() :]
        if after and not _QUALIFIES.match(after):
            return after[:1].upper() + after[1:]
    if (_ONLY_QUALIFIES if stopped and not faq_path else _QUALIFIES).match(rest):
        # a reply its sentence qualifies ("Yes, except on flights to the USA", "可以，但需要…") is
        # part of it: without it, "Except on flights to the USA" answered nothing. After a full
        # stop, "If", "When" and "But" open a sentence of their own: "No. If your airline cancels
        # your flight, you should claim a refund ..." kept its "No." whole, and told "Am I covered
        # if I cancel because my mum is in hospital?" "No."
        return sentence
    return rest[:1].upper() + rest[1:]


# what a curated answer with no sentence of its own opens with: a preposition ("In PeopleHub under
# Expenses > New claim"), a number ("60 days from the date of the expense"), a determiner or
# possessive ("Your line manager"), or a plural noun a phrase goes on from ("Employees in Grade 4 and
# above, and anyone whose role requires one"; "Orders ship ..." is a sentence): an imperative
# ("Phone your line manager ...") opens with its verb. Or a pronoun that answers who or what alone,
# its sentence ended there or going on with an exception ("No one." of "Who gets a company car?",
# said first to "Who gets a company mobile?", QA 2026-12-07): "None of our plans include roaming"
# and "Anyone can apply" go on as sentences
_FRAGMENT_OPENING = re.compile(
    r"(?i)^\W*(?:(?:no[\s-]+one|nobody|none|nothing|every(?:one|body)|any(?:one|body))\s*(?:[.!;:,]|$|(?:except|but|other\s+than|apart\s+from)\b)"
    r"|(?:in|on|at|by|with|within|from|for|via|through|under|after|before|until|during|up\s+to|only)\b"
    r"|\d|(?:the|a|an|your|our|their|his|her|its|my|each|every|all|any)\b|[a-z]+[^s\W]s\s+(?:in|of|on|at|with|from|for|under|over|and|or)\b)"
)
# what ends the clause that would hold its verb: "anyone whose role requires one" says no verb of
# the sentence
_SUBORDINATE = re.compile(r"(?i)\b(?:who|whose|whom|which|that|where|when|if|after|before|until|unless|because|once|while)\b")
# a verb of a main clause: an auxiliary, a modal, a subject pronoun, or a verb a rule is said with
_MAIN_VERB = re.compile(  # (lower-case: "My pay > Payslips" names a menu, no verb)
    r"\b(?:is|are|was|were|be|been|am|has|have|had|do|does|did|can|cannot|could|will|would|may|might|must|shall"
    r"|should|need|needs|get|gets|pay|pays|receive|receives|take|takes|apply|applies|run|runs|i|you|we|they|he|she|it"
    r"|there"
    # (an imperative after the opening phrase: "For recommendations and guidance on …, see Information
    # for Healthcare Professionals", a covid-faq answer, is a sentence)
    r"|see|visit|refer|call|contact|click|go|read|check|follow|ask|email|write|consult)\b|\bI\b|\w+n't\b"
)


def _fragment(sentence: str) -> bool:
    """Whether ``sentence`` (English) is no sentence of its own, a noun phrase that answers its
    entry's question ("Who gets a company phone?": "Employees in Grade 4 and above, and anyone
    whose role requires one"): it opens as one (:data:`_FRAGMENT_OPENING`) and its main clause,
    up to a word that opens a clause of its own, holds no verb (:data:`_MAIN_VERB`)."""
    s = sentence.strip()
    if not s or has_cjk(s) or not _FRAGMENT_OPENING.match(s):
        return False
    main = _SUBORDINATE.split(s, maxsplit=1)[0]
    return _MAIN_VERB.search(main[:1].lower() + main[1:]) is None and _INFLECTED_VERB.search(main) is None


# a verb inflected after its subject, a word (not a determiner, a number or a name): "The risk
# depends on where you are", a covid-faq answer, opened with a determiner and was held back as a
# fragment; "60 days from the date", "all employees", "Expenses > New claim" say none
_INFLECTED_VERB = re.compile(
    r"\b(?!(?:the|a|an|your|our|their|his|her|its|my|each|every|all|any|some|these|those|this|that|and|or|of|in|on|at|by"
    r"|for|to|with|from)\b)[a-z]+[^s\W]\s+[a-z]{2,}(?:[^su\W]s|ed)\b"
)


# how far an entry's curated question leads every other one retrieved (by the retriever's question
# cosine, "qdense") for a yes-or-no question to count as its paraphrase. multilingual-e5-small: the
# paraphrases of covid-faq lead by 0.031 to 0.071 ("Are there infected people in the US?" 0.908, "Am
# I at risk for COVID-19 in the United States?" 0.877), an insurer's FAQ's entries on another
# subject by 0.020 at most or trail ("Am I covered if I cancel because my mum is in hospital?": the
# airline cancellation entry 0.870, "What happens if I go into hospital ...?" 0.852)
ENTRY_LEAD = 0.03


def _ranks_first(hits: Sequence[Hit], n: int, asked: frozenset[str]) -> bool:
    """Whether passage ``n``'s curated question is the closest to the question of every other
    curated question among ``hits`` (copies of one entry aside), by however little, and no other
    names a term asked that it does not while naming as many of them: "Who gets a company mobile?"
    asks "Who gets a company phone?" (0.904, "Who gets a company car?" 0.883: a synonym no entry
    names), where "Where do I submit a grievance?" asks "When is the deadline to raise a grievance?"
    (0.866), not "Where do I submit an expense claim?" (0.873): each names one of its terms.
    Without a question cosine, as :func:`_leads_entries`."""
    own = hits[n - 1]
    cos = own.scores.get("qdense", 0.0)
    if cos <= 0.0:
        return True
    question = own.chunk.question or ""
    others = [h for h in hits if h is not own and h.chunk.kind == "faq" and not same_words(h.chunk.question or "", question)]
    if any(h.scores.get("qdense", 0.0) >= cos for h in others):
        return False
    mine = named_terms(asked, question)
    return not any(
        (theirs := named_terms(asked, h.chunk.question or "")) - mine and len(theirs) >= len(mine) for h in others
    )


def _leads_entries(hits: Sequence[Hit], n: int) -> bool:
    """Whether passage ``n``'s curated question is the closest to the question by
    :data:`ENTRY_LEAD` or more of question cosine over every other curated question among ``hits``
    (those asking it in the same words aside, copies of one entry). Without a question cosine
    (found by its keywords alone, or composed without a retriever) nothing says it is not."""
    own = hits[n - 1]
    cos = own.scores.get("qdense", 0.0)
    if cos <= 0.0:
        return True
    question = own.chunk.question or ""
    return all(
        cos - h.scores.get("qdense", 0.0) >= ENTRY_LEAD for h in hits
        if h is not own and h.chunk.kind == "faq" and not same_words(h.chunk.question or "", question)
    )


# the words that ask whether a thing is on offer, any one as good as another ("Do you offer TV?",
# "Can I get TV?", "Do you provide a TV service?")
_OFFER_WORDS = frozenset(tokenize("offer offers offered provide provides get have sell sells supply available"))


def _asks_same_offer(asked: frozenset[str], entry: str) -> bool:
    """Whether a yes-or-no question (its terms ``asked``) asks whether the thing its FAQ entry's
    question (``entry``) asks of is on offer, with another word for offering: each asks with one of
    :data:`_OFFER_WORDS`, and the entry's question names every other term asked. "Do you offer TV?"
    asks "Do you provide a TV service?", and was told "You can stream TV apps ..." without its "No,
    we do not provide TV", which reads as a yes (QA 2026-12-07). "Do you offer pet insurance?" does
    not ask "Do you cover buildings insurance?", nor "Do you offer TV apps?" the TV service, though
    its answer names them ("You can stream TV apps"), nor "Can I get Saturday installation?" the
    entry "... installation at weekends?", whose answer says Saturday installs are available (a
    regression hunt's: each was told the entry's "No")."""
    own = frozenset(tokenize(entry))
    thing = asked - _OFFER_WORDS
    if not (asked & _OFFER_WORDS) or not (own & _OFFER_WORDS) or not thing:
        return False
    return named_terms(thing, entry) == thing


# a curated answer that opens by saying no ("No. Unused storage ... are not refunded", "不可以，…")
_NO_OPENING = re.compile(r"(?i)^\W*(?:no|nope|not\s+at\s+all)\b(?!\.?\s*\d)|^\W*(?:不|没有|无法|暂不)")


def _narrower_no(asked: frozenset[str], entry: str, answer: str) -> bool:
    """Whether ``answer``, a curated entry's that opens with a "No", answers a narrower question
    than the one asked (its terms ``asked``): the entry's question names every term asked and more,
    a qualifier the answer names too. A "no" to the narrower question is none to the wider one:
    "Can I get a refund and how long does it take?" was told "No. Unused storage and unused
    automation runs are not refunded" of "Can I get a refund for unused storage?" (QA 2026-12-07),
    where annual plans are refunded within 30 days. (A "Yes" to the narrower one is a yes to the
    wider one too: "Yes. You can cancel at any time" answers "Can I cancel?".)"""
    if not asked or not _NO_OPENING.match(answer) or named_terms(asked, entry) != asked:
        return False
    extra = frozenset(tokenize(query_topic(entry))) - asked - _OFFER_WORDS
    return bool(extra) and bool(named_terms(extra, answer))


# the phrase a reply goes on with that answers only its entry's question, where or how ("Yes, at
# any branch." to "Can I get a cashier's check?"): without the reply it is no sentence, and "Do
# Premier customers pay for cashier's checks?" was told "At any branch [1]." first
_ELLIPTIC = re.compile(r"(?i)(?:at|in|on|by|from|via|through|within|online|only|anytime)\b[^.;:!?]*[.!]?$")


_WHERE_OR_HOW = re.compile(r"(?i)^\W*(?:where|how|when)\b")


def _elliptic(rest: str) -> bool:
    """Whether ``rest``, what a reply went on with, is such a phrase: five words at most, opening
    with a preposition (:data:`_ELLIPTIC`)."""
    return len(rest.split()) <= 5 and _ELLIPTIC.match(rest.strip()) is not None


# how a sentence goes on that qualifies the reply before it
_QUALIFIES = re.compile(
    r"(?i)\s*(?:except|unless|but|only\s+if|provided|as\s+long\s+as|if\b|when\b|apart\s+from|other\s+than"
    r"|除了?|但|不过|只要|如果|只有|除非)"
)
# ... the "but" that a reply's own sentence goes on from ("Yes, but ...", "可以，但需要…")
_BUT = re.compile(r"(?i)\s*(?:but\b|但是|但|不过)\s*[,，]?\s*")
# ... and how one goes on after a reply's full stop with no sentence of its own ("No. Except on
# flights to the USA.")
_ONLY_QUALIFIES = re.compile(
    r"(?i)\s*(?:except|unless|only\s+if|provided|as\s+long\s+as|apart\s+from|other\s+than)\b"
)


# an exception inside a sentence and what it names ("..., except trained service dogs", "unless
# you hold a Gold card", "除持卡人本人外"); "除了 ... 以外，还/也 ..." adds, it excepts nothing
_EXCEPTED = re.compile(
    r"(?i)\b(?:except(?:\s+for)?|unless|other\s+than|apart\s+from|excluding|with\s+the\s+exceptions?\s+of|but\s+not)\b"
    r"([^.;!?]*)|除了?([^。；！？，,]{1,20}?)(?:以外|之外|外)(?![^。；！？]{0,4}[还也])|不包括([^。；！？]*)|不含([^。；！？]*)"
)


def reply_excepts(asked: frozenset[str], entry: str, sentence: str) -> bool:
    """Whether ``sentence``, a curated answer's (``entry`` its question), makes an exception of a
    term of the question (``asked``) that the entry's question does not name: then the reply it
    opens with is not this question's. To "Can I bring my service dog on board?", "No. Pets are
    not allowed on our flights, except trained service dogs" (the entry "Can I bring my pet on the
    plane?") said "No" of what the answer itself allows."""
    excepted = [next(g for g in m.groups() if g is not None) for m in _EXCEPTED.finditer(sentence)]
    if not excepted:
        return False
    extra = asked - named_terms(asked, entry)
    return bool(extra) and any(named_terms(extra, part) for part in excepted)


_CLAUSE = re.compile(r"[.;,:!?。；，：！？、]+")


def tells_apart(question: str, entry: str, answer: str) -> bool:
    """Whether ``question`` asks of another qualifier of a thing than its curated entry's question
    (``entry``) does, and the entry's ``answer`` names both, telling them apart: then the entry's
    question is not this one, and neither is its reply. "首诊能在网上开药吗" matched "可以线上复诊开药
    吗？" (复诊, a follow-up visit, for 首诊, a first one), whose answer "可以。...复诊开药...，首诊不能线
    上开药" was said as the direct answer, "可以" first (QA 2026-12-07). Two Chinese words qualify the
    same thing where they end in the same character (首诊, 复诊); the answer naming both keeps a
    synonym (网上 for 线上, which the answer does not name) from counting. (Not two English words
    followed by the same word: covid-faq's "Can I get the corona virus from a package …?" was
    told apart from "Am I at risk for COVID-19 from a package …?", "sewage systems" from
    "sewerage systems", and 4 of its curated answers were lost, token F1 1.0 to 0.55-0.67.)"""
    mine, its = tokenize(query_topic(question)), tokenize(entry)
    if not mine or not its:
        return False
    asked = set(mine) - named_terms(frozenset(mine), entry)
    named = set(its) - named_terms(frozenset(its), question)
    if not asked or not named:
        return False
    # each named in a clause of the answer that does not name the other: "We do not cover damage
    # caused by pets chewing" names a kind of damage, and tells "chews the sofa" from "damages the
    # sofa" apart in nothing
    clauses = [named_terms(frozenset(asked | named), c) for c in _CLAUSE.split(answer)]

    def apart(x: str, y: str) -> bool:
        return any(x in c and y not in c for c in clauses) and any(y in c and x not in c for c in clauses)

    # (whole words of one length: "积分有有效期吗？" was told apart from "积分会过期吗？" by 效期, a piece of
    # 有效期, and lost its curated answer, zh-shop-faq)
    asked = {x for x in asked if not any(x != t and x in t for t in mine)}
    named = {y for y in named if not any(y != t and y in t for t in its)}
    return any(
        x != y and is_cjk_char(x[-1]) and x[-1] == y[-1] and len(x) == len(y) > 1 and apart(x, y)
        for x in asked for y in named
    )


def without_opening_reply(answer: str) -> str:
    """A curated ``answer`` without the reply it opens with ("Yes. Tap Pause in the app" ->
    "Tap Pause in the app", "可以。冷冻保存最多一个月" -> "冷冻保存最多一个月", "Yes, choose ..." ->
    "Choose ..."), for a question its entry matched that is not answered by yes or no ("How long
    can I pause my rental?" was told "Yes [1]. Tap Pause ..."). An answer that is only a reply
    stays as it is."""
    sents = split_sentences(answer)
    if not sents:
        return answer
    first = sents[0]
    at = answer.find(first)
    if _is_bare_reply(first):
        rest = answer[at + len(first) :].lstrip()
        return rest or answer
    return answer[:at] + _without_reply(first, unsplit=True, faq_path=True) + answer[at + len(first) :]


_PIECE_MIN = 16  # characters of wording: a shorter sentence ("Yes.") is not a piece of another
_SHINGLE = 5  # characters per shingle: short enough for Chinese words, long enough to be specific
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class _Said:
    """What a candidate sentence says, for telling repeats apart (:func:`distinct_sentences`)."""

    key: str  # its wording (:func:`indexes.text.wording`)
    shingles: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(cls, key: str) -> _Said:
        sh = frozenset(key[i : i + _SHINGLE] for i in range(max(1, len(key) - _SHINGLE + 1)))
        return cls(key, sh, frozenset(_NUMBER.findall(key)))

    def piece_of(self, other: _Said) -> bool:
        """The same sentence cut short: this wording lies whole inside the other's."""
        return len(self.key) >= _PIECE_MIN and self.key in other.key

    def repeats(self, other: _Said, share: float) -> bool:
        """Says nothing the other does not: a piece of it, or at least ``share`` of its shingles in
        the other's and no number the other lacks (a sentence that differs by a number, "within 5
        days" / "within 7 days", says something else)."""
        if self.piece_of(other):  # even one cut inside a number
            return True
        if len(self.key) < _PIECE_MIN or not self.numbers <= other.numbers:
            return False
        return len(self.shingles & other.shingles) / len(self.shingles) >= share


def distinct_sentences(
    order: Sequence[int],
    keys: Sequence[str],
    limit: int,
    *,
    pinned: frozenset[int] = frozenset(),
    share: float = 0.8,
    whole: float = 1.5,
) -> list[int]:
    """Up to ``limit`` of the sentences ``order`` ranks, best first, none repeating a better one.
    Mirrored pages and overlapping windows of one page hold the same sentence cut at different
    places ("...英语能力普遍较" and "...英语能力普遍较高。"), and a manual says one thing in many
    places with a word changed. A sentence that repeats a kept one (:meth:`_Said.repeats`, on the
    wordings ``keys``), or that a kept one repeats, is left out, except where the kept one is a
    piece of it (:meth:`_Said.piece_of`) at most ``whole`` times shorter: it is that sentence
    whole and takes the kept one's place (unless that one is ``pinned``). Two ``pinned`` sentences
    are both kept: each speaks for its own document, as the sentences of two compared majors do
    when they differ only by the major's name."""
    kept: list[int] = []
    said: dict[int, _Said] = {}
    for i in order:
        if len(kept) >= limit:
            break
        si = said.setdefault(i, _Said.of(keys[i]))
        for slot, j in enumerate(kept):
            if i in pinned and j in pinned:
                continue
            sj = said[j]
            if sj.piece_of(si) and j not in pinned and len(si.key) <= whole * len(sj.key):
                kept[slot] = i
                break
            if si.repeats(sj, share) or sj.repeats(si, share):
                break
        else:
            kept.append(i)
    return kept


# where a sentence says to go: a menu path ("Account > Settings > Close account", "我的 > 设置")
_MENU_PATH = re.compile(r"(?:[A-Z]|[\u4e00-\u9fff])[\w+&' -]{0,30}\s(?:>|›|→)\s(?:[A-Z]|[\u4e00-\u9fff])")


def _topic_terms(text: str) -> set[str]:
    """The terms of ``text`` that say what it is about: not the words it compares by, the word
    that says what kind of answer it wants, nor those that say it is a request ("I want a refund"
    is answered with how refunds are paid, not with "If you want a different size")."""
    cues = comparison_cues(text) + answer_kind_words(text)
    return set(tokenize(without_auxiliary(without_request(text)))) - set(tokenize(" ".join(cues)))


def _naming_topic(
    use: list[int], hits: Sequence[Hit], topic: set[str], weight: Callable[[str], float] | None
) -> list[int]:
    """The passages of ``use`` that name the ``topic`` (terms weighed by rarity) at least half as
    well as the first one, which retrieval put first for the turn as condensed: a follow-up that
    takes its topic from the turn before ("How much does it cost?" after "What is the warranty on
    a laptop?") asks about that, and its own words ("cost") chose the shipping prices from the
    passage next to the warranty's. Measured against the first passage, not the one that names the
    topic best: "Can I cancel it?" after "I ordered a kitchen appliance" is answered from the
    cancelling entry that retrieval put first, which names an order, not from the warranty table's
    kitchen appliances row. All of them where the first names none of it."""
    w = _term_weights(topic, weight)
    named = [math.fsum(w[t] for t in topic & set(tokenize(f"{hits[i].chunk.title} {hits[i].passage}"))) for i in use]
    first = named[0] if named else 0.0
    return [i for i, x in zip(use, named, strict=True) if x >= 0.5 * first] if first > 0 else use


def _naming(use: list[int], hits: Sequence[Hit], terms: set[str], *, most: bool) -> list[int]:
    """The passages of ``use`` that name (in their text, else in their title) the most of ``terms``
    (``most``) or any of them; all of ``use`` where none names any. (The text first: every entry of
    a sheet titled "水电燃气常见问题" named 燃气, and "那燃气呢" after "居民水价多少" was told the water
    prices again, QA.)"""
    # (its headings are its text: an entry of a page "居民燃气价格" whose answer says 天然气, a
    # regression hunt's "那燃气呢" got the gas-leak entry, whose answer says 燃气)
    named = [len(named_terms(terms, f"{' '.join(hits[i].chunk.heading_path)} {hits[i].chunk.question or ''} {hits[i].passage}"))
             for i in use]
    if max(named, default=0) == 0:
        named = [len(named_terms(terms, f"{hits[i].chunk.title} {hits[i].passage}")) for i in use]
    best = max(named, default=0)
    bar = best if most else 1
    return [i for i, x in zip(use, named, strict=True) if x >= bar] if best > 0 else use


def _with_quantities(words: list[set[str]], sentences: Sequence[str], question: str, q_terms: set[str]) -> None:
    """``words`` (each sentence's terms) with the quantities of ``question`` (:mod:`indexes.quantity`)
    read as said or not by each of ``sentences``: a number with a unit is one of a sentence's words
    where the sentence says that quantity (:func:`~indexes.quantity.names_quantity`), and not
    otherwise; its unit's word ("kilograms") is one where a quantity is in that unit ("32 kg"); a
    term of ``q_terms`` that names a dimension ("size") is one where a quantity measures it."""
    asked = asked_quantities(question)
    units = {t: u for t, u in unit_terms(question).items() if t in q_terms}
    dims = DIMENSION_TERMS & q_terms
    if not (asked or units or dims):
        return
    for w, s in zip(words, sentences, strict=True):
        said = quantities(s)
        for term, (value, unit) in asked.items():
            if names_quantity(value, unit, said):
                w.add(term)
            else:
                w.discard(term)
        w.update(t for t, u in units.items() if says_unit(u, said))
        w |= dimensions_named(said) & dims


def _term_weights(terms: set[str], weight: Callable[[str], float] | None) -> dict[str, float]:
    """Each term's weight in a sentence's share of the question's terms: its rarity in the
    knowledge base (``weight``, the index's idf; a term it does not know counts as the average
    known one), scaled so that the weights add up to the number of terms; 1 each without."""
    if weight is None or not terms:
        return dict.fromkeys(terms, 1.0)
    raw = {t: max(0.0, float(weight(t))) for t in terms}
    known = [w for w in raw.values() if w > 0]
    if not known:
        return dict.fromkeys(terms, 1.0)
    # math.fsum: exact, so the same whatever order the set gives (it changes with the hash seed)
    mean = math.fsum(known) / len(known)
    raw = {t: (w if w > 0 else mean) for t, w in raw.items()}
    scale = len(terms) / math.fsum(raw.values())
    return {t: w * scale for t, w in raw.items()}


_T = TypeVar("_T")


def _runs(items: Sequence[_T], member: Callable[[_T], bool]) -> Iterator[tuple[bool, list[_T]]]:
    """``items`` in runs of consecutive items for which ``member`` holds, or does not."""
    for key, run in itertools.groupby(items, key=member):
        yield key, list(run)


def _row_own_terms(line: str, cells: str) -> set[str]:
    """The terms of a table row's cells (:func:`table_rows_as_sentences`) that its headers do not
    name: a term said more often in the row's line than in its cells is a header's too ("Data:
    Browsing data in the app")."""
    own = tokenize(cells)
    header = Counter(tokenize(line))
    header.subtract(own)
    return {t for t in own if header[t] <= 0}


# a heading's section number ("3.", "2.1", "IV.") does not belong in a sentence
_SECTION_NUMBER = re.compile(r"^\s*(?:\d+(?:\.\d+)*|[IVXivx]+)[.)]?\s+(?=\S)")


def _heading_text(line: str) -> str | None:
    """The heading a passage line carries (:data:`HEADING_MARK`), with the sections it is in
    (:func:`rag.retrieval.section_path`), each part's section number dropped; None for any other
    line."""
    if not line.startswith(HEADING_MARK):
        return None
    parts = (_SECTION_NUMBER.sub("", p).strip() for p in line[len(HEADING_MARK) :].split(SECTION_PATH_SEP))
    return SECTION_PATH_SEP.join(p for p in parts if p)


def _own_heading(section: str) -> str:
    """A section's own heading, without the sections it is in: what says whether it tells how or
    gives a price, where the whole path says what it is about."""
    return section.rsplit(SECTION_PATH_SEP, 1)[-1]


def _one_sentence(item: str, lang: str) -> str:
    """A list item as one clause: a short item of two or three sentences ("Print the return label.
    Labels expire after 14 days.") split the list's sentence in two, and the items after it were
    never read. A longer item, or one with a piece of fewer than two words (a plain-text page whose
    numbered lines ran together: "Getting started 1. Unplug the modem. 2. ..."), stays as written."""
    whole = item.rstrip(" .;,。；，")
    pieces = [p.rstrip(" .;,。；，") for p in split_sentences(item)]
    if not 1 < len(pieces) <= 3 or len(whole) > _ITEM_MAX or any(len(tokenize(p)) < 2 for p in pieces):
        return whole
    return ("，" if lang == "zh" else " — ").join(pieces)


_LIST_SENTENCE_MAX = 400  # characters: a longer list is read item by item, each after its lead-in
# characters of a Chinese list read as one sentence (a longer one is read item by item, each after
# its lead-in): a Chinese character says what two or three English ones do, and joined with "，",
# which its items hold too, a list of 300 characters ran its steps into one sentence
_LIST_SENTENCE_MAX_ZH = 150


# the marks of a Chinese document's paragraphs ("一、", "（一）"), whose items may hold a list of their own
_OUTER_MARK = re.compile(rf"^\s*(?:[{ZH_NUMERALS}]{{1,3}}、|[（(][{ZH_NUMERALS}]{{1,3}}[）)])")


def _restricting(
    question: str, texts: Sequence[str], picked: list[int], fits: Sequence[bool], keep: Sequence[int]
) -> set[int]:
    """The sentences of ``picked`` outside the how-to section (not ``fits``) that negate something
    of a two-word phrase of ``question`` which no sentence of the section holds."""
    asked = {t for t in phrase_terms(query_topic(question)) if NEGATION not in t}
    if not asked:
        return set()
    pairs = {i: set(phrase_terms(texts[i])) for i in picked}
    held = set().union(*(pairs[i] for i in picked if fits[keep[i]]))
    return {
        i for i in picked
        if not fits[keep[i]] and (asked & pairs[i]) - held and any(NEGATION in t for t in pairs[i])
    }


def _own_sentences(says: list[list[float]], ranked: list[int]) -> list[int]:
    """For each part (``says``: how much each sentence says of it, in the order the parts choose),
    the sentence that answers it: of those that say most of it (over 0.5), the likeliest
    (``ranked``) that no part before took. Where that leaves a part none, though the parts could
    each have one of their best, they each get one (the likeliest way, said in rank order). "You
    have 30 days ... to return an item for a refund" says most of "Can I return an item" and names a
    refund as "Refunds are issued within 5 to 7 business days" does: the refund part takes the latter."""
    ties = [[i for i in ranked if v[i] > 0.5 and v[i] == top] for v in says if v for top in (max(v),)]
    per_part: list[int] = []
    for best in ties:
        pick = next((i for i in best if i not in per_part), None)
        if pick is not None:
            per_part.append(pick)
    if len(per_part) == sum(1 for best in ties if best):
        return per_part

    def assign(k: int, taken: list[int]) -> list[int] | None:
        if k == len(ties):
            return taken
        if not ties[k]:
            return assign(k + 1, taken)
        for i in ties[k]:
            if i not in taken and (found := assign(k + 1, [*taken, i])) is not None:
                return found
        return None

    found = assign(0, [])
    return per_part if found is None else sorted(found, key=ranked.index)


def _joined_items(items: list[str], sep: str, lang: str) -> str:
    """A list's items as one clause, ``sep`` between them, but none after an item that leads in
    to the next ones with its colon ("以下商品不适用：", where "…退货：，生鲜食品…" was said)."""
    out: list[str] = []
    for k, item in enumerate(items):
        out.append(item)
        if k < len(items) - 1:
            out.append(("" if lang == "zh" else " ") if item.endswith((":", "：")) else sep)
    return "".join(out)


def _outer_of(block: list[str]) -> Callable[[str], bool] | None:
    """How the outer items of a list holding another list are told, or None for a list of one
    level: a Chinese document's paragraphs (:data:`_OUTER_MARK`) among other items, or numbered items
    among bulleted ones, the bullets a sub-list ("2. 以下商品不适用七天无理由退货：" over "- 生鲜食品、
    鲜花绿植；", which the document's loader gives without their indent)."""
    def numbered(line: str) -> bool:
        return numbered_step(line) is not None and not _OUTER_MARK.match(line)

    for test in (lambda line: bool(_OUTER_MARK.match(line)), numbered):
        outer = [test(line) for line in block]
        if any(outer) and not all(outer) and (test is not numbered or outer[0]):
            return test
    return None


def _list_blocks(lines: list[str]) -> Iterator[tuple[bool, list[str]]]:
    """``lines`` in runs of list items and of other lines, as :func:`list_items_as_sentences` reads
    them. A regulation's paragraphs ("（一）…", "（二）申请理赔须提供以下材料：", "（三）…") are one list, and
    the numbered list a paragraph introduces ("1. 运单号；2. 寄件人身份证明；…") another, whose lead-in that
    paragraph is (a line of its own, without its mark): read as one list, every paragraph and item
    ran into one sentence ("第四条 理赔申请：破损理赔应在…提出，…须提供以下材料：，运单号，…") that no
    passage supports, and "理赔需要什么材料？" was never told the materials."""
    for in_list, block in _runs(lines, lambda line: bool(LIST_ITEM.match(line))):
        outer_test = _outer_of(block) if in_list else None
        if outer_test is None:
            yield in_list, block
            continue
        runs = list(_runs(block, outer_test))
        for k, (is_outer, run) in enumerate(runs):
            if not is_outer:
                yield True, run
                continue
            # a paragraph that ends a sentence is read as written ("（一）破损理赔应在…7个自然日内提出；丢失
            # 理赔应在…30日内提出。逾期未提出的，视为放弃索赔。", run into one clause, was supported by no
            # passage); one that ends with a colon before the list is that list's lead-in
            texts = [m.group(1) if (m := LIST_ITEM.match(line)) else line for line in run]
            for paragraph, part in _runs(list(zip(run, texts, strict=True)), lambda lt: bool(_ENDS_SENTENCE.search(lt[1]))):
                if paragraph:
                    yield False, [t for _, t in part]
                    continue
                leads = k + 1 < len(runs) and part[-1] == (run[-1], texts[-1]) and texts[-1].rstrip().endswith((":", "："))
                if part[: -1 if leads else None]:
                    yield True, [line for line, _ in part[: -1 if leads else None]]
                if leads:
                    yield False, [texts[-1]]


def list_items_as_sentences(text: str, lang: str = "en") -> tuple[str, dict[str, str]]:
    """``text`` with each bulleted or numbered list made readable, and for each line written the
    words it is matched to a question by. A lead-in ("Some items cannot be returned:") quoted
    alone answers nothing, and an item alone ("- Items marked as Final Sale") lacks what it is
    an item of. So a list after a lead-in becomes one sentence, "Some items cannot be returned:
    Gift cards; Personalised products; Final Sale items.", or, when that is over
    ``_LIST_SENTENCE_MAX`` characters, one sentence per item after the lead-in, matched by the
    item's words (the lead-in, in every one, counting half); a list without one loses its bullets."""
    out: list[str] = []
    own: dict[str, str] = {}
    sep, end = ("，", "。") if lang == "zh" else ("; ", ".")
    for in_list, block in _list_blocks(text.split("\n")):
        if not in_list:
            out.extend(block)
            continue
        raw = [m.group(1).strip() for line in block if (m := LIST_ITEM.match(line))]
        items = [item for item in (_one_sentence(r, lang) for r in raw) if item]
        # Chinese items that are sentences of their own ("住院垫付：确诊需住院治疗…，可申请住院费用
        # 垫付。") run together, joined by the "，" their clauses hold too, into one sentence that
        # no sentence of the passage supports: "住院费用垫付怎么申请" was handed off, though its
        # item answers it word for word. They are read one by one, each after the lead-in
        # (short ones, "点击“申请发票”。", join as phrases do: only an item with clauses of its own runs so)
        sentences = (
            lang == "zh" and len(raw) > 1 and all(r.endswith(("。", "！", "？")) for r in raw)
            and any(mark in r[:-1] for r in raw for mark in "，；：")
        )
        lead = ""
        heading = _heading_text(out[-1]) if out else None
        if heading:
            # a list that opens a section is a list of what its heading names; the heading line
            # stays, where the section starts (:func:`_readable` makes it a section break)
            # (a heading that asks, "How do I reset my password?", leads without its question mark:
            # a sentence with one read as a question to the support scorer, and the answer was handed off)
            lead = _own_heading(heading).rstrip(":：?？ ") + ("：" if lang == "zh" else ":")
        elif out and out[-1].rstrip().endswith((":", "：")):
            pieces = split_sentences(out.pop())
            lead = pieces[-1].strip()
            if len(pieces) > 1:
                out.append(" ".join(pieces[:-1]))
        if not items:
            out.extend([lead] if lead else [])
            continue
        space = "" if lang == "zh" or not lead else " "
        whole = f"{lead}{space}{_joined_items(items, sep, lang)}{end}"
        if lead and not sentences and len(whole) <= (_LIST_SENTENCE_MAX_ZH if lang == "zh" else _LIST_SENTENCE_MAX):
            out.append(whole)
            continue
        for item in items:
            line = f"{lead}{space}{item}{end}"
            out.append(line)
            own[line] = item
    return "\n".join(out), own


# the end of a sentence: a full stop, question or exclamation mark (closing quotes or brackets after)
_ENDS_SENTENCE = re.compile(rf"[.!?。！？…][{re.escape(CLOSERS)}]*\s*$")
_ITEM_MAX = 200  # characters: a longer line without a full stop is a paragraph, not a list item


def _bare_item(line: str) -> bool:
    """Whether ``line`` reads as a list item that lost its bullet: short, ending no sentence, and
    neither a heading, a bulleted item, a table row nor a lead-in of its own."""
    s = line.strip()
    return (
        0 < len(s) <= _ITEM_MAX
        and not s.startswith(HEADING_MARK.strip())
        and not LIST_ITEM.match(s)
        and not TABLE_ROW.match(s)
        and not s.endswith((":", "："))
        and not _ENDS_SENTENCE.search(s)
    )


def bulleted_bare_lists(text: str) -> str:
    """``text`` with the lists whose bullets were lost given bullets again: after a lead-in (a line
    ending with a colon), the lines that end no sentence are its items ("taking these actions:\n\n
    Cover your cough\nAvoid people who are sick\nYou can find more at CDC." has two: a
    spreadsheet cell, a pasted page or a plain-text file keeps a list as bare lines). Blank lines
    between a lead-in and its list, bulleted or not, go."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.rstrip().endswith((":", "：")):
            continue
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and LIST_ITEM.match(lines[j]):
            i = j  # a bulleted list after a blank line still follows its lead-in
            continue
        items = list(itertools.takewhile(_bare_item, lines[j:]))
        if items:
            out.extend(f"- {item.strip()}" for item in items)
            i = j + len(items)
    return "\n".join(out)


# a sentence that says the answer asked for is not known ("The duration of infectiousness is not yet
# known", "具体时间尚不确定") answers a kind question as well as a figure does
_NOT_KNOWN = re.compile(
    r"\b(?:not\s+(?:yet\s+)?(?:known|clear|certain|determined)|unknown|unclear|uncertain|undetermined)\b"
    r"|尚不清楚|尚不明确|尚未确定|尚不确定|不确定|未知",
    re.IGNORECASE,
)


# a question that compares rows, or asks for other or all of them ("Which plans cost more than
# Plus?", "other than Max Pro", "比畅享58贵的套餐有哪些？"): every row of a table may answer it
_ASKS_ACROSS = re.compile(
    r"\b(?:than|others?|except|besides|apart\s+from|compar\w*|versus|vs|differ\w*|all|every|each|which)\b"
    r"|比|除了|以外|其他|其它|哪些|所有|各|区别|不同",
    re.IGNORECASE,
)
# verbs a question asks with, not about: "How much data do I get on Plus?" asks about data and Plus
ASKING_VERBS = frozenset(tokenize("get have need pay include come offer"))
# and those a question for the members of a class asks with ("理赔需要哪些材料", "VIP能享受哪些权益")
_MEMBERS_VERBS = ASKING_VERBS | frozenset(tokenize("需要 要 有 享受 享有 包括 包含 提供 可以 能 there"))
# and those a question for what to bring asks with ("补办社保卡要带啥", "What do I need to bring?")
_BRING_WORDS = frozenset(tokenize("带 带啥 啥 什么 bring"))
# the most items of a list said as the answer to a question for the members of a class
_LIST_ANSWER_MAX = 8


def _named_share(terms: set[str], weight: dict[str, float], said: set[str], shared: set[str]) -> float:
    """How much of ``terms`` (each of ``weight``) a sentence names: the terms among its words
    ``said``, less half of those that are words it shares with its neighbours (``shared``: a table
    row's headers, a list's lead-in), which say which column or list is meant, not which entry."""
    return math.fsum(weight[t] for t in terms & said) - 0.5 * math.fsum(weight[t] for t in terms & shared)


def _with_runs(places: Sequence[tuple[int, int]], strong: Sequence[bool], may: Sequence[bool]) -> list[bool]:
    """``strong`` (one flag per sentence at ``places``: passage number and position) with each
    sentence that ``may`` be kept and stands next to a kept one in its passage kept too, run by
    run: "Standard shipping is free on orders over $50. Below $50 it costs $4.95." stays before
    "Express shipping costs $12.95" as one answer."""
    kept = list(strong)
    at = {p: k for k, p in enumerate(places)}
    grew = True
    while grew:
        grew = False
        for k, (n, pos) in enumerate(places):
            if may[k] and not kept[k] and any(kept[at[(n, pos + d)]] for d in (-1, 1) if (n, pos + d) in at):
                kept[k] = grew = True
    return kept


def _kind_answered(
    picked: list[int],
    places: Sequence[tuple[int, int]],
    fits: Sequence[bool],
    texts: Sequence[str],
    lead_in: Callable[[int, int], bool] = lambda n, pos: False,
) -> list[int]:
    """``picked`` (sentences, best first, at ``places``: passage number and position) less those
    that do not answer a kind question ("多少", "how long", "哪一年"), where one of them does
    (``fits``): a sentence is kept when it holds the kind of answer asked for, stands next to one
    that does in its passage (the other clause of "白金卡年费为每年2000元", the sentence that explains
    it; across a lead-in, ``lead_in(n, pos)``: "The warranty starts on the delivery date." before
    "Periods by product category:" and its table), or says the answer is not known (and so does
    one next to it). "付款以后什么时候能发货？" was answered with its 48 hours, then with cash on
    delivery and cancelling an order."""
    answers = [f or bool(_NOT_KNOWN.search(texts[i])) for i, f in zip(picked, fits, strict=True)]
    near = {(n, pos + d) for (n, pos), a in zip(places, answers, strict=True) if a for d in (-1, 1)}
    near |= {(n, pos - 1) for n, pos in list(near) if lead_in(n, pos)}
    return [i for i, p, a in zip(picked, places, answers, strict=True) if a or p in near]


# a line that stops at a comma goes on in the next one (a page's layout broke the sentence there)
_BROKEN_AT = re.compile(r"[,，、]\s*$")


def joined_broken_lines(text: str) -> str:
    """``text`` with each line that stops at a comma ("Usage Mode is set to Retail Mode ,") joined
    to the next, which goes on with the sentence ("the TV's settings are reset every 5 minutes."),
    unless that is a list item, a table row or a heading: split apart, neither half is a sentence."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if (
            _BROKEN_AT.search(prev)
            and line.strip()
            and not line.startswith(HEADING_MARK)
            and not LIST_ITEM.match(line)
            and not TABLE_ROW.match(line)
        ):
            glue = "" if prev.rstrip()[-1] in "，、" else " "  # Chinese commas take no space after
            out[-1] = prev.rstrip() + glue + line.strip()
        else:
            out.append(line)
    return "\n".join(out)


# a sentence cut short: it stops at a comma, or at an English word no sentence ends with (Chinese
# has no such telling characters: 向, 与 and 的 end 方向, 参与 and 目的)
_CUT_AT = re.compile(rf"{_BROKEN_AT.pattern}|\b(?:the|a|an|of|to|and|or|for|with|that|which)\s*$", re.IGNORECASE)


_OPENER_OF = dict(zip(")]}）】》”’」』", "([{（【《“‘「『", strict=True))  # closing mark -> its opening mark


def _unclosed_from(sentence: str) -> int | None:
    """Where the outermost bracket or quote that ``sentence`` leaves open begins, or None: a
    passage that ends inside one was cut there ("...信息管理与信息系统(政务", "...2020年1月7日 (三")."""
    stack: list[int] = []
    for i, ch in enumerate(sentence):
        if ch in _OPENER_OF.values():
            stack.append(i)
        elif stack and _OPENER_OF.get(ch) == sentence[stack[-1]]:
            stack.pop()
    return stack[0] if stack else None


# the last clause of a Chinese sentence that breaks off: a word, not a stop, after its last comma
_BREAKS_OFF_ZH = re.compile(r"[，,][^，,。！？!?；;：:…]*\w$")


def _until_cut(sentence: str, chinese_page: bool = False) -> str:
    """The last sentence of a passage, or the part of it before a bracket the passage's end cut
    open, marked as cut ("新闻学专业计划招生30人…"); empty when that part says too little to quote
    (fewer than 8 letters). On a Chinese page (``chinese_page``), a sentence of clauses that
    stops on a word, without a full stop, was cut there too (a crawled page's fixed-length window:
    "从教学效果来看，中法学院学生的英语能力普遍较"): it is marked so, not quoted as if it were whole.
    A short line without a comma may be a title, and an English one a menu path ("Settings
    Support Software Update"): left as they are."""
    at = _unclosed_from(sentence)
    if at is None:
        return sentence + CONTINUES if chinese_page and _BREAKS_OFF_ZH.search(sentence) else sentence
    head = sentence[:at].rstrip(" ,，、;；:：")
    return head + "…" if len(re.findall(r"\w", head)) >= 8 else ""


def _is_question(sentence: str) -> bool:
    """A question, its closing quotes or brackets aside ("规模有多大？\"")."""
    return sentence.rstrip(CLOSERS + " ").endswith(("?", "？"))


def _cut_short(sentence: str) -> bool:
    """A piece of a sentence that a line break or a cut page left without its end ("...and the",
    "...press the button on the remote,", "招生办法如下:一、"): quoted, it says nothing whole."""
    return not _ENDS_SENTENCE.search(sentence) and bool(_CUT_AT.search(sentence))


# the labels of an FAQ entry's question and answer (never quoted), an entry's question line, up to
# its answer when that is on the same line (group 1: the question), and its answer line
_Q_LABEL, _A_LABEL = r"(?:Q|问题|问)\s*[:：]", r"(?:A|答案|答)\s*[:：]"
_FAQ_QUESTION = re.compile(rf"^\s*{_Q_LABEL}(.*?)(?=(?:\bA|答案|答)\s*[:：]|$)")
_FAQ_ANSWER = re.compile(rf"^\s*{_A_LABEL}")


def _answer_lines(lines: list[str]) -> list[str]:
    """An FAQ passage's lines without its questions, nor an "answer" that only repeats the question
    (a bank of questions only): what was asked is no sentence of an answer."""
    out: list[str] = []
    asked = ""
    for line in lines:
        q = _FAQ_QUESTION.match(line)
        if q:
            asked, line = q.group(1), line[q.end() :]
        a = _FAQ_ANSWER.match(line)
        if asked and a and same_words(line[a.end() :], asked):
            line = ""
        out.append(line)
    return out


# where a heading stood: no sentence, but it takes a position, so that the sentences on either side
# of a section boundary are not consecutive (:func:`reading_order`)
SECTION_BREAK = "¶"


def _lines_as_read(text: str) -> str:
    """``text``'s lines as the composer reads its lists: a list run into one line given a line per
    item (:func:`~rag.retrieval.run_in_list_lines`), a line broken at a comma joined to the next
    (:func:`joined_broken_lines`). The items and the steps of a passage are read from these."""
    return joined_broken_lines(run_in_list_lines(text))


def _rows_and_items(passage: str, lang: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """``passage`` with its tables' rows and its lists' items written as sentences
    (:func:`table_rows_as_sentences`, :func:`list_items_as_sentences`), and each one's own words,
    the rows' and the items'."""
    text, rows = table_rows_as_sentences(passage, lang)
    text, items = list_items_as_sentences(bulleted_bare_lists(_lines_as_read(text)), lang)
    return text, rows, items


def passage_sentences(passage: str, lang: str = "en") -> list[str]:
    """``passage``'s sentences as an answer reads them: a table's row with its column headers
    ("Product category: Phones; Warranty period: 1 year."), a list's item with its lead-in; its
    headings stay, each a sentence of its own. ``lang``: the passage's language."""
    return split_sentences(_rows_and_items(passage, lang)[0])


def passage_sentences_and_rows(passage: str, lang: str = "en") -> tuple[list[str], frozenset[str]]:
    """:func:`passage_sentences`, and the :func:`words_key` of each table row among them, from one
    reading of the passage."""
    text, rows, _ = _rows_and_items(passage, lang)
    return split_sentences(text), frozenset(words_key(line) for line in rows)


# an article's title, where a regulation gives one before its text ("第四条 购房提取。职工购买自住住房的，
# 可在…两年内申请提取"): a heading, not a sentence to quote ("退休提取公积金要带什么？" was told "第六条
# 退休提取。" first, which names more of the question than the article's text does). The article's
# number stays with its text, which "第二条讲什么？" asks for
# (a short article, "第十三条 本办法自发布之日起施行。", is all text: a title has the article's text after it)
_ARTICLE_TITLE = re.compile(r"(?m)^(第[一二三四五六七八九十百零〇\d]{1,4}条)[ \u3000]*([\u4e00-\u9fff]{2,8})。(?=[^\n]{6})")
# a sub-section's numbered title run into its paragraph ("2.2 Turning off two-factor authentication.
# Open Settings > ..."): a heading, not a sentence. "How do I turn off two-factor authentication?"
# was told the bare titles "2.2 Turning off ..." and "2.1 Turning on ..." for steps (QA 2026-12-07).
# Only a number of two levels or more (a "1." line is a step), a title of a capital, no digit and
# two to eight words ("3.5 Mbps. That is ..." is a figure), without a verb of a sentence ("2.5 GB
# is included."), and text after it
# (a title opens with a verb's -ing form, "2.2 Turning off two-factor authentication", or is three
# words at most, "5.3 GDPR requests": a numbered clause of terms is a sentence, whatever its verb,
# "3.2 We ship to Canada and Mexico.", "9.1 Batteries carry a two-year warranty." (a regression
# hunt's: read as titles, their answers were left out))
_RUN_IN_TITLE = re.compile(
    r"(?m)^(\d{1,2}(?:\.\d{1,2})+)\.?[ \t]+"
    r"((?!(?:[\w'’-]+[ \t]+)*?(?:is|are|was|were|has|have|had|will|can|must|may|do|does|did)\b)"
    r"(?:[A-Z][a-z]+ing(?:[ \t]+[^\W\d][\w'’()/-]*){1,7}|[A-Z][\w'’()/-]*(?:[ \t]+[^\W\d][\w'’()/-]*){1,2}))"
    r"[.:][ \t]+(?=\S[^\n]{10})"
)


def _readable(passage: str, lang: str) -> tuple[str, dict[str, str], list[str], frozenset[str]]:
    """A passage's tables and lists written as sentences (:func:`_rows_and_items`), with the words
    each such sentence is matched by, the headings of the sections it goes on to, one for each
    :data:`SECTION_BREAK` in order (an article's title, :data:`_ARTICLE_TITLE`, is one), and the
    sentences that are a table's rows."""
    passage = _ARTICLE_TITLE.sub(lambda m: f"{HEADING_MARK}{m.group(2)}\n{m.group(1)} ", passage)
    passage = _RUN_IN_TITLE.sub(lambda m: f"{HEADING_MARK}{m.group(2)}\n", passage)
    text, own, own_items = _rows_and_items(passage, lang)
    # a heading says where a passage goes on, not what it says, and an FAQ entry's question ("Q: My
    # parcel is late. What should I do?") is what was asked: neither is a sentence of an answer
    raw = text.split("\n")
    heads = [_heading_text(line) for line in raw]
    lines = _answer_lines([SECTION_BREAK if h is not None else line for h, line in zip(heads, raw, strict=True)])
    readable = "\n".join(line for line in lines if line.strip())
    return readable, {**own, **own_items}, [h for h in heads if h is not None], frozenset(own)


def _sections_of(sents: list[str], headings: list[str], first: str) -> list[str]:
    """The heading of the section each of ``sents`` is in: ``first`` until the first
    :data:`SECTION_BREAK`, then ``headings`` in turn ("" where unknown)."""
    out: list[str] = []
    current, rest = first, iter(headings)
    for sent in sents:
        if sent.strip() == SECTION_BREAK:
            current = next(rest, "")
        out.append(current)
    return out


def _own_start(hit: Hit, lang: str) -> int:
    """The position, among the sentences of ``hit``'s readable passage, where the hit's own chunk
    starts (0 for a chunk alone; a passage merged around it starts with the neighbours before it,
    or with its section's heading)."""
    if hit.text is None:
        return 0
    at = hit.text.find(hit.chunk.text)
    if at <= 0:
        return 0
    return len(split_sentences(_readable(hit.text[:at], lang)[0]))


def _section_start(sents: list[str], own: int) -> int:
    """The position of the first sentence of the section that holds position ``own``: after the
    last :data:`SECTION_BREAK` before it, or 0. Among sentences that match a question as well,
    those of that section are read first, from its start (a section says its point first), then
    those of the sections after it, then those before it (a section before it that tells how
    from its first step): a passage merged around a chunk may
    run into another section, and "How do I reset my password?" is answered from the "Forgotten
    password" section, not from the account-creation sentences merged before it. A passage
    without headings reads from its start, as it always did (reading from the matched chunk
    instead answered the dev sets worse: token F1 emanual-qa 0.471 -> 0.465, mtrag-un
    0.316 -> 0.307; "What is an enterprise?" lost the document's opening definition)."""
    for i in range(min(own, len(sents)) - 1, -1, -1):
        if sents[i].strip() == SECTION_BREAK:
            return i + 1
    return 0


def negated_terms(text: str) -> set[str]:
    """The terms ``text`` negates: each that follows a negation ("cover" in "What does the
    warranty not cover?", 包括 in "保修不包括哪些情况")."""
    pairs = [p.split(PHRASE_SEP) for p in phrase_terms(query_topic(text))]
    return {pair[1] for pair in pairs if len(pair) == 2 and pair[0] == NEGATION and pair[1] != NEGATION}


def heading_lends(q_terms: set[str], negated: set[str], heading: str) -> set[str]:
    """The question's terms a section ``heading`` names, which its sentences are about. A term the
    question negates (``negated``) is lent only by a heading that negates it too: under "What the
    warranty covers", "Repair of a defective product" says the opposite of what "What does the
    warranty not cover?" asks, and was quoted to it once that heading stood over the part of a
    passage merged before the matched section."""
    terms = q_terms & set(tokenize(heading))
    if negated & terms:
        terms -= negated - negated_terms(heading)
    return terms


# marks no sentence starts with: one that does is the later piece of a sentence a page cut
_OPENS_MIDWAY = re.compile(r"^[，、,;；]+\s*")


def _clean_sentence(s: str) -> str:
    """``s`` without an FAQ label, a heading's marks or a web page's update date and read count
    (:func:`~indexes.text.without_page_meta`: a crawled page keeps them between its title and its
    first sentence, and 17 of domainrag's 120 answers said "… 更新时间：2019-12-13 点击数：26615 …");
    a piece that opens with a comma (a crawled page that starts inside a sentence: "，打造培养高水平…")
    opens with the cut mark instead. (Left out at ingest instead, the dates took a year the question
    names from some pages' text: docs/design-notes.md.)"""
    s = re.sub(rf"^\s*(?:{_Q_LABEL}|{_A_LABEL})\s*", "", without_page_meta(without_escaped_breaks(s.strip())))
    s = re.sub(r"^#+\s*", "", s).strip()
    midway = _OPENS_MIDWAY.match(s)
    return CONTINUES + s[midway.end() :] if midway and midway.end() < len(s) else s


# The kinds of answer that open the answer wherever a sentence gives one (:meth:`ExtractiveComposer.
# compose`): a question for a phone number or an e-mail address is not answered by a sentence that
# only names one. "What is your phone number?" was answered with the privacy table's row "Data:
# Name, address, phone number; Why we use it: Delivering orders" (more of its words, a better-ranked
# passage), not the contact table's phone row. The other kinds only weigh (``kind_bonus``): opening
# every kind question so changed 7 dev answers, all for the worse ("How long is someone
# infectious?" opened with the incubation period).
ANSWERED_FIRST = frozenset({"contact"})
# The kinds of answer of which, where none of the likeliest sentences gives one, the likeliest that
# does is weighed too: "How long does delivery take?" was told that standard delivery is free and
# available everywhere, and what express costs (every sentence naming "delivery"), and never
# "Orders arrive within 3 to 5 business days", which names none of its words (QA 2026-12-07).
WEIGHED_IF_NONE = frozenset({"duration"})


class ExtractiveComposer:
    """Selects and orders the sentences of the retrieved passages that answer the question.

    Relevance of a sentence = ``w_dense`` x cosine(query, sentence) (when the embedder reads the
    language) + ``w_lex`` x share of the question's terms in the sentence (each term weighed by
    its rarity in the knowledge base when the caller gives ``term_weight``, the index's idf: a
    sentence that only shares "pay" with "Can I pay with PayPal?" shares little; answer F1 on the
    dev sets +0.003, -0.001, +0.002, +0.004), plus ``w_prior`` x its passage's retrieval score;
    sentences are picked by maximal marginal relevance (``mmr`` trades relevance against
    redundancy with the sentences already picked) and printed in passage order, each with the
    [n] of its passage. A sentence that holds the kind of answer the question asks for
    (:func:`indexes.text.answer_kind`: a duration for "how long" or "多久", a number for "how
    many" or "多少") gains ``kind_bonus`` (and half a matched question term in the choice of the
    sentences to embed). A number of the question with a unit is one of a sentence's words only
    where the sentence says that quantity (:func:`_with_quantities`): "35 kg" is not the 35 of
    "costs 35 EUR" (nor "35公斤" that of "35元"), and is said by "35kg", "35 kilograms" and by a
    limit in its unit that speaks of it ("Bags over 32 kg are not accepted", "up to 23 kg").

    Only the few most promising sentences are embedded (``embed_sentences``), chosen by their
    share of the question's terms plus ``w_rank`` x their passage's retrieval score: retrieval
    weighed every signal (the passage's meaning, its keywords, an FAQ entry's curated question),
    while one sentence's words are thin evidence ("Yes. There have been cases in the U.S." answers
    "Are there infected people in the US?" without either word). Taking the best passages'
    sentences first, instead of the sentences with the most question words wherever they stand,
    answered from the best passage rather than a collage: dev token F1 (w_rank / w_prior 0.5 with
    term counts / 0.1 against 4 / 0.3) covid-faq 0.477 / 0.605, emanual-qa 0.423 / 0.457,
    domainrag 0.129 / 0.141, mtrag-un 0.311 / 0.313.

    How many are embedded is a fixed number, as many as an answer has sentences, so that one
    question gets one answer whatever the machine's speed or load and whichever questions came
    before it. (It used to be as many as fitted in 60 ms at the embedder's measured cost: 3 or 4
    with multilingual-e5-small on the 2-core machine, flipping with the load, and 10 for the
    first question of a process and for MiniLM.) Embedding more candidates lets a sentence of a
    lower passage win on its cosine alone, which answers worse: dev token F1 with 3 / 4 / 6
    candidates, covid-faq 0.612 / 0.582 / 0.560, emanual-qa 0.467 / 0.458 / 0.449, mtrag-un
    0.316 / 0.306 / 0.303, domainrag 0.144 / 0.144 / 0.142; covid-faq with MiniLM 0.607 with 3
    against 0.570 with 10. None at all (words and passage scores alone) loses more where the
    wording differs: 0.544, 0.434, 0.306, 0.169.

    A candidate is embedded by its first ``sentence_tokens`` tokens (64), a shorter one whole: the
    embedder's time grows with the tokens it reads (multilingual-e5-small about 1.2 ms a token on
    one core), and the long sentences of Chinese policies (200 tokens each) took up to 760 ms of
    an answer. The start of a sentence says what it is about; the embedded candidates are mostly
    all said, so their vectors order them more than they choose them. On the dev sets' answers,
    with one OpenMP thread: 1, 0, 0, 1 of covid-faq, emanual-qa, mtrag-un and domainrag's answers
    changed (the same sentences in another order; token F1 the same to four places), none of the
    two Chinese FAQ banks'; composing took p95 214 -> 163, 151 -> 150, 250 -> 198 and 477 -> 249 ms
    (48 tokens: 2, 3, 2 and 0 answers reordered, domainrag's p95 189 ms).

    When the best passage leads the next by ``lead_margin`` or more of retrieval score and the
    best sentence is its own, the answer keeps to that passage: retrieval is sure which one
    answers, and the other passages' sentences that fill up the answer are about their own
    questions ("能用微信付钱吗？" answered with the payment methods, then cash on delivery, then the
    coupon rules, from three FAQ entries). Simulated on the dev answers (those sentences left
    out), token F1 for margins 0.1 / 0.15 / 0.2 / 0.3: covid-faq +0.032 / +0.031 / +0.026 /
    +0.020, emanual-qa +0.020 / +0.020 / +0.023 / +0.021, mtrag-un −0.004 / +0.001 / +0.005 /
    +0.005, domainrag +0.005 / +0.004 / +0.003 / +0.001; at 0.2 it applied to 22, 27, 2 and 10
    answers, 52 better and 7 worse. A question comparing titled passages reads each of them.
    A follow-up that names its topic only by a pronoun (:func:`rag.conversation.refers_back`:
    "How much does it cost?" after "Can I extend the warranty?") keeps to that passage from its
    first sentence: its own words say nothing of what "it" is, and they chose the shipping prices
    over the warranty extension that its condensed form found clearly first. (For any question,
    the first sentence from the leading passage led answers with cross-references: "See COVID-19
    and Animals"; of the dev sets' follow-ups, 1 answer changed, mtrag-un "Was he a communist?",
    now from the page about him, F1 0.3156 -> 0.3162.)

    A question in Chinese keeps to the best passage whenever its sentence is the best
    (``lead_margin_cjk``, 0 by default): multilingual-e5-small gives a Chinese question about the
    same cosine to every sentence of the same domain ("我想把额度调高一点": 0.857 to the entry on
    raising the limit, 0.866 to temporary limits, 0.858 to transaction limits), so the sentences
    that other passages add are not told apart from the answer by meaning, and they are about
    their own questions. Measured (answers composed with each margin; the English sets keep 0.2):
    token F1 at 0.2 / 0.1 / 0.05 / 0: domainrag 0.150 / 0.152 / 0.154 / 0.168, the Chinese
    credit-card FAQ 0.803 / 0.837 / 0.830 / 0.843, the shop FAQ 0.826 / 0.867 / 0.867 / 0.877.
    On the English sets, leaving those sentences out below a margin of 0.2 lost F1 (simulated:
    covid-faq −0.001, emanual-qa −0.007, mtrag-un −0.006 over margins 0.1 to 0.2), where the
    second passage is often the right one.
    """

    def __init__(
        self,
        embedder: Any,
        *,
        max_sentences: int = 3,
        max_passages: int = 4,
        mmr: float = 0.7,
        min_relevance: float = 0.15,
        kind_bonus: float = 0.1,
        w_rank: float = 4.0,
        w_prior: float = 0.3,
        w_dense: float = 0.6,
        w_lex: float = 0.4,
        max_chars: int = 900,
        embed_sentences: int = 3,
        lead_margin: float = 0.2,
        lead_margin_cjk: float = 0.0,
        cache_size: int = 20_000,  # sentence vectors kept (float32: ~30 MB with a 384-d embedder)
        sentence_tokens: int = 64,
    ) -> None:
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.max_passages = max_passages
        self.mmr = mmr
        self.min_relevance = min_relevance
        self.kind_bonus = kind_bonus
        self.w_rank = w_rank
        self.w_prior = w_prior
        self.w_dense = w_dense
        self.w_lex = w_lex
        self.max_chars = max_chars
        self.embed_sentences = max(1, int(embed_sentences))
        self.lead_margin = lead_margin
        self.lead_margin_cjk = lead_margin_cjk
        self.cache_size = cache_size
        self.sentence_tokens = max(1, int(sentence_tokens))
        self._cache: BatchLRU[str, np.ndarray] = BatchLRU(self._embed, cache_size)  # float32 vectors

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        return list(np.asarray(self.embedder.embed([self._head(t) for t in texts], kind="passage"), dtype=np.float32))

    def _head(self, text: str) -> str:
        """The start of a candidate sentence that is embedded: its first ``sentence_tokens``
        tokens (by the embedder's count; all of it when the embedder cannot count)."""
        count = getattr(self.embedder, "count_tokens", None)
        if not callable(count) or len(text) <= self.sentence_tokens // 2:
            return text  # (n characters are at most 2n tokens: each a token, and a word mark before it)
        return text_head(text, self.sentence_tokens, count)

    def _embed_cached(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``; sentences of stored passages recur across questions, so their
        vectors are kept in a bounded LRU (exact: the same text gives the same vector)."""
        return np.vstack(self._cache.get_many(texts)).astype(np.float64)

    def compose(
        self,
        question: str,
        hits: Sequence[Hit],
        lang: str = "en",
        embed_query: Callable[[str], np.ndarray] | None = None,
        *,
        query: str | None = None,
        term_weight: Callable[[str], float] | None = None,
        today: datetime.date | None = None,
    ) -> Composed:
        """``embed_query``: where to get the query vector, asked only when the embedder reads the
        query (the retriever's, which has just embedded the same text: a second embedding was
        ~15-25 ms of every answer); default: the embedder. ``query``: a follow-up's stand-alone
        form (the question with the turn it follows, as retrieved); its vector scores sentences by
        meaning, while the words of ``question``, what is asked now, score them lexically, so
        that "and how long does it take?" after "How much is express shipping?" is answered
        with how long, not again with how much. Where no sentence holds a word of the question
        ("why?"), the words of ``query`` do. Default: ``question``. ``today``: the day a notice's
        change is in force by (a question asked as of another day, ``filters.on_date``); default:
        the date."""
        query = (query or question).strip()
        # a question comparing things that passages are titled by is answered from each of them:
        # the best passage of every named title takes part, even below the first max_passages
        titles = [(h.chunk.title or "").strip().lower() for h in hits]
        named = compared_titles(query, titles)
        use = list(range(min(len(hits), self.max_passages)))
        for t in named:
            if all(titles[i] != t for i in use):
                use.append(titles.index(t))
        # a follow-up that takes its topic from the turn before is answered from the passages that
        # name that topic, by its own words ("cost"), whether or not they say them
        q_terms = _topic_terms(question)
        # a follow-up that names only a price ("what is the fee?" after "Can I freeze my membership?")
        # asks the price of the topic before: its word says the kind of answer, not what it is the
        # price of (it was told the joining fee, which says "fee", not "Freezing costs £5 per month")
        prices_only = (
            query != question and bool(q_terms) and q_terms <= price_terms(question) and not takes_topic_from_before(question)
        )
        topic_before = query != question and (prices_only or takes_topic_from_before(question))
        own_kind = answer_kind(question)  # None where it borrows the turn before's (asked_kind)
        carried: set[str] = set()  # the topic it takes from there
        if topic_before:
            carried = _topic_terms(query) - q_terms
            if own_kind not in (None, "money"):
                # the price the turn before asked ("How much does shipping cost?") is not what a
                # question of another kind asks about ("and how long does it take?"): shipping is
                carried -= price_terms(query)
            use = _naming_topic(use, hits, carried, term_weight)
            if prices_only:
                q_terms = q_terms | carried
        # a follow-up that only names another subject ("那退款呢？" after "退货期限是多久？", "And for
        # members?") asks the same of that subject: the passages that name most of it answer, where one names
        # any (retrieval put first the passage for the turns together, and an FAQ bank answers each
        # subject in an entry of its own: "那退款呢？" was told the return window again, while the
        # refunds entry stood third)
        subject = q_terms if query != question and only_names_subject(question) else set()
        if subject:
            use = _naming(use, hits, subject, most=True)
        elif query != question and not topic_before and stands_alone(question) and q_terms:
            # a follow-up that names its own topic and leans on no earlier turn by its words ("What
            # is the loyalty bonus?" after a question on payment methods) is answered from the
            # passages that name one of its words; the turn before only helped retrieval
            use = _naming(use, hits, q_terms, most=False)
        cands: list[tuple[int, int, str]] = []  # (passage number, position, sentence)
        keys: list[str] = []  # their wording
        # the words that tell each from its neighbours (a table row: its cells; an item: its own),
        # None for a plain sentence (all its words)
        lexical: list[str | None] = []
        row: list[bool] = []  # whether each is a table's row
        numbered: list[bool] = []  # whether each is a numbered list's step
        seen: set[str] = set()
        # how far each sentence is from the start of the section its hit's own chunk is in: a tie
        # is read from there (:func:`_section_start`)
        away: list[float] = []
        # the heading of the section each sentence is in ("" where the passage does not say)
        section: list[str] = []
        # for a sentence in a section before the hit's own: how far it is from that section's start
        step: list[float | None] = []
        # a reply ("Yes, ...", "No. ...", "可以。") answers the question its FAQ entry asked: it is
        # kept for that question, or for a question answered by yes or no whose every term the
        # entry names, and left out elsewhere (:func:`_without_reply`): "How much is a static IP
        # address?" was told "Yes [1]." first, the reply of "Do you offer a static IP address?"
        asked = frozenset(tokenize(query_topic(question)))
        yes_no = asks_yes_no(question)

        replies: dict[int, bool] = {}  # whether each passage's reply may be quoted

        def replied(entry: str) -> bool:  # whether a reply to ``entry`` (a question) answers this one
            return bool(entry) and (
                same_words(question, entry) or (yes_no and bool(asked) and named_terms(asked, entry) == asked)
            )

        # whether a passage's "No." that the splitter leaves on is a reply left out where its reply
        # is: kept for a yes-or-no question that paraphrases the entry's question, unless the answer
        # makes an exception of what is asked (:func:`reply_excepts`). A paraphrase is told by
        # retrieval, its curated question clearly the closest (:func:`_leads_entries`), or by the
        # entry, whose question or answer names every term asked. The entry's question alone naming
        # them was too strict for covid-faq's paraphrases ("Are masks necessary for children?" of
        # "Should children wear masks?": 0.924 to 0.853 for the next curated question): they lost
        # their "No.". Kept for every yes-or-no question, it answered another entry's question: "Is
        # theft from my car covered?" was told "No. Damage to a hire car is not covered ..." (of "Is
        # rental car damage covered?", 0.884 to 0.864 for the next), "Do you offer pet insurance?"
        # "No. Harbourside only offers home contents insurance" (of "Do you cover buildings
        # insurance?"). A wrong "No." is worse than none: the rest of the sentence is still said.
        split_off: dict[int, bool] = {}
        fragments_held: set[int] = set()  # the passages whose answer's opening, no sentence, is not said
        kind = asked_kind(question, query)
        # what a price is asked of ("the Golden Poppy one": the one is what it names)
        priced = q_terms - price_terms(question) - {"one", "ones"}
        # (a question where or how is answered by such a phrase: "Where can I get a cashier's check?")
        asks_where_or_how = bool(_WHERE_OR_HOW.match(question))
        asked_labels = numbered_labels(question)
        for n in sorted(u + 1 for u in use):
            hit = hits[n - 1]
            entry = hit.chunk.question if hit.chunk.kind == "faq" else None
            narrower = entry is not None and _narrower_no(asked, entry, hit.chunk.answer or hit.passage)
            replies_here = replies[n] = not narrower and (replied(entry or "") or (
                # (a paraphrase with another word for offering keeps its entry's reply, unless the
                # answer excepts or tells apart what is asked)
                yes_no and entry is not None and _asks_same_offer(asked, entry)
                and not reply_excepts(asked, entry, hit.passage)
                and not tells_apart(question, entry, hit.chunk.answer or hit.passage)
            ))
            # an entry's answer that opens with no sentence of its own answers its entry's question
            # only (or a paraphrase: the curated question clearly the closest, or naming every term
            # asked): "Do Grade 4 employees get a company car?" was told "Employees in Grade 4 and
            # above, and anyone whose role requires one" of "Who gets a company phone?", and "Can you
            # approve my leave for next Friday?" "Your line manager" (QA 2026-12-07)
            # A question not answered by yes or no asks what its entry asks where its curated
            # question ranks first (:func:`_ranks_first`), though by less than a clear lead: "Who
            # gets a company mobile?" and "What is the deadline for expense claims?" lost "Employees
            # in Grade 4 and above ..." and "Within 60 days of the expense" (QA 2026-12-07); a
            # yes-or-no question is answered by no noun phrase but its own entry's, as before
            answer_opening = ""
            entry_leads = entry is not None and _leads_entries(hits, n)
            if entry is not None and not asks_yes_no(entry) and not (
                same_words(question, entry) or entry_leads or named_terms(asked, entry) == asked
                or (not yes_no and _ranks_first(hits, n, asked))
            ):
                opening = split_sentences(hit.chunk.answer or "")
                answer_opening = wording(opening[0]) if opening and _fragment(opening[0]) else ""
                if answer_opening:
                    fragments_held.add(n)  # (nor is the answer said whole)
            split_off[n] = not yes_no or (entry is not None and not replies_here and (
                not (entry_leads or named_terms(asked, f"{entry}\n{hit.chunk.answer or hit.passage}") == asked)
                or reply_excepts(asked, entry, hit.passage) or tells_apart(question, entry, hit.chunk.answer or hit.passage)
                or narrower
            ))
            # a passage's tables and lists are read out in its own language, whatever the question's
            written_in = "zh" if is_cjk_lang(hit.chunk.lang) else "en"
            text, own_words, headings, row_lines = _readable(hit.passage, written_in)
            steps_here = _numbered_steps(hit.passage)
            sents = split_sentences(text)
            start = _section_start(sents, _own_start(hit, written_in))
            # the hit's own chunk is in the section its heading path ends with: the first one when
            # no other section's heading stands before it
            # (a curated entry's answer is of its question, as a section's text is of its heading: "Standard
            # requests are decided within 15 business days" answers "How long does prior authorization
            # take?", which it names none of)
            own_head = (hit.chunk.question or "") if hit.chunk.kind == "faq" else section_path(hit.chunk)
            heads = _sections_of(sents, headings, own_head if start == 0 else "")
            for pos, sent in enumerate(sents):
                s = _clean_sentence(sent)
                if (
                    s.strip() == SECTION_BREAK and kind == "money" and gives_a_price(_own_heading(heads[pos]))
                    and priced <= set(tokenize(heads[pos]))
                ):
                    # a heading that gives the price asked ("Golden Poppy Vehicle Day Use Annual Pass
                    # $125") is said as a sentence, ended as one; not for the price of something it
                    # does not name ("How much is equipment rental on the ski week?" under "Alpine Ski
                    # Week - $899")
                    s = _own_heading(heads[pos]) + ("。" if written_in == "zh" else ".")
                elliptic = False  # a reply's phrase that only answers its entry's question
                # a document's reply answers the question its section is headed by (a help page's
                # accordion, "Can I use my card in every country?" over "No. Cards cannot be used in
                # countries under US sanctions"), where a curated entry's answers its entry's: "Can I use
                # my card in Canada?" was told "No." first
                headed = _own_heading(heads[pos])
                here = replies_here if entry is not None else replied(headed if _is_question(headed) else "")
                if not here and not _is_bare_reply(s):  # "Yes, it is." stays whole, and unquoted
                    bare = _without_reply(s, unsplit=split_off[n] if entry is not None else True)
                    elliptic = bare != s and _elliptic(bare) and not asks_where_or_how
                    s = bare
                if pos == len(sents) - 1:
                    # an FAQ entry's answer is whole, with or without its full stop
                    s = _until_cut(s, chinese_page=written_in == "zh" and hit.chunk.kind != "faq")
                # a question in a passage (an FAQ entry's own question, a heading), a sentence about
                # the document itself, a bare "Yes." (to its entry's question), or a piece of a
                # sentence that a line break or a cut page left without its end answers nothing,
                # however close it is to the question
                quotable = not (_is_question(s) or _is_meta(s) or _is_bare_reply(s) or _cut_short(s) or elliptic
                                or _of_another_label(s, asked_labels) or (bool(answer_opening) and wording(s) == answer_opening))
                # (nor does a word alone on a document's line, a heading not marked as one:
                # "Reimbursement [1]" was said as a sentence of "Are traffic fines reimbursed?")
                lone_word = hit.chunk.kind != "faq" and not has_cjk(s) and len(s.rstrip(".!:;").split()) < 2
                if len(re.findall(r"\w", s)) >= 3 and quotable and not lone_word:
                    # a sentence repeated within a passage or across mirrored pages is said once,
                    # cited to the first passage that holds it
                    key = wording(s)
                    if key not in seen:
                        seen.add(key)
                        keys.append(key)
                        cands.append((n, pos, s))
                        item = own_words.get(sent.strip())
                        lexical.append(item)
                        row.append(sent.strip() in row_lines)
                        # a step read with its list's lead-in ("How to start a return: Sign in ...")
                        # is known by its own words, and a short list read whole after its lead-in
                        # ("To cancel, follow these steps: Sign in to My Trips; Select ...") by theirs
                        numbered.append(bool(steps_here) and (
                            key[:_STEP_KEY] in steps_here or (item is not None and wording(item)[:_STEP_KEY] in steps_here)
                            or any(k in key for k in steps_here)
                        ))
                        away.append(pos - start if pos >= start else start - pos + 0.5)
                        section.append(heads[pos])
                        step.append(pos - _section_start(sents, pos) + 1.5 if pos < start else None)
        if not cands:
            return Composed("", ())
        # what the question is about: the words by which it compares are not. A follow-up is about
        # its own words where the passages hold them, else ("why?", or "and to Switzerland?" where
        # no sentence names Switzerland) about its stand-alone form
        words = [set(tokenize(s)) for _, _, s in cands]
        # a number of the question is said only by the same number in a compatible unit (or none),
        # or by a limit in its unit that speaks of it: "Can I check in a bag that weighs 35 kg?"
        # shares nothing with "An extra checked bag costs 35 EUR", and "Bags over 32 kg are not
        # accepted" says it; a word for a dimension ("size", 重量) is said by a quantity measuring
        # it ("must not exceed 158 cm" says a size, "Maximum weight per bag: 23 kg" none)
        _with_quantities(words, [s for _, _, s in cands], question, q_terms)
        # a table row's headers, or a list item's lead-in, are shared by its neighbours: they say
        # which column or list a question asks about, not which row or item, so they count half
        shared = [w - set(tokenize(x)) if x is not None else set() for w, x in zip(words, lexical, strict=True)]
        # a sentence that leans on the one before it ("It extends the warranty ... with a $49 service
        # fee", after "Acme Care+ is an optional protection plan") is about what that one names:
        # its words count too, at half weight as shared words do (dev token F1 covid-faq 0.612 ->
        # 0.615, emanual-qa 0.467 -> 0.472, mtrag-un and domainrag as before)
        place = {(n, pos): i for i, (n, pos, _) in enumerate(cands)}  # each candidate by its place
        leans = [leans_on_previous(s) for _, _, s in cands]
        plain = list(words)
        for i, (n, pos, _) in enumerate(cands):
            j = place.get((n, pos - 1))
            if j is not None and leans[i]:
                borrowed = plain[j] - plain[i]
                words[i] = plain[i] | borrowed
                shared[i] = shared[i] | borrowed
        # a table's rows are of what the lead-in just before the table names ("本科生学费标准如下："
        # over the fees per subject): its words count for each row, half, as the row's headers do.
        # "本科生学费多少" was told the graduate fee of the sentence after the table, which names 学费
        # as each row's header does, and none of the undergraduate rows (QA 2026-12-07)
        for i, (n, pos, _) in enumerate(cands):
            if row[i]:
                first = pos
                while (j := place.get((n, first - 1))) is not None and row[j]:
                    first -= 1
                lead_in = place.get((n, first - 1))
                if lead_in is not None and _leads_in(cands[lead_in][2]):
                    lent = plain[lead_in] - plain[i]
                    words[i] = words[i] | lent
                    shared[i] = shared[i] | lent
        # (a follow-up whose topic chose the passages is matched by its own word alone, "cost" by
        # none where a sentence says "fee", not again by the words of its topic)
        if query != question and not (topic_before and q_terms) and not any(q_terms & w for w in words):
            q_terms = _topic_terms(query)
        # a one-character Chinese word of the question (退 in "什么商品不能退") is said, half, by the
        # longer words that begin with it (退货, 退款), which jieba never cuts into it
        singles = {t for t in q_terms if len(t) == 1 and is_cjk_char(t)}
        if singles:
            for i in range(len(cands)):
                held = {t for t in singles - words[i] if any(len(w) > 1 and w[0] == t for w in plain[i])}
                words[i], shared[i] = words[i] | held, shared[i] | held

        if subject:
            # what the turn before asked of its subject counts, half, for this one's: "what about
            # Manchester?" after "What are the opening hours in Leeds?" was told Manchester's
            # bank-holiday hours, lockers and address, each naming Manchester as its hours do. (Not
            # its subject, a name: "And Business?" after "How much is Pro?" opened with a sentence on
            # "Starter and Pro plans")
            asked_before = _topic_terms(query) - q_terms - names_in(query)
            shared = [sh | (asked_before & w) for sh, w in zip(shared, words, strict=True)]
            q_terms = q_terms | asked_before
        weight = _term_weights(q_terms, term_weight)
        # a sentence is about what its section's heading names: under "退货条件", "商品须未经使用，包装…齐全"
        # is a condition of a return, which "退货需要什么条件" asks for, though no sentence there says
        # 条件. The question's terms that a heading names and none of its section's sentences says
        # count, half, for each of them (as a list's lead-in does for its items); a term the
        # section's text says already is matched where it is said, but by a table's rows, which
        # are of the table the heading names: "一级医院门诊退休的报销比例" was answered from the
        # inpatient table's row, whose headers say 报销比例, not the outpatient one under
        # "二、普通门诊报销比例", whose lead-in says 门诊 too
        said_in_section: dict[tuple[int, str], set[str]] = {}
        for (n, _, _), h, w in zip(cands, section, plain, strict=True):
            said_in_section.setdefault((n, h), set()).update(w)
        negated = negated_terms(question)
        named_by = {h: heading_lends(q_terms, negated, h) for h in set(section) if h}  # each analysed once
        for i, ((n, _, sent), h) in enumerate(zip(cands, section, strict=True)):
            if h:
                # (a sentence that gives the price asked for is matched by its heading's terms
                # however its neighbours say them: "How much is the family plan?" was told the
                # Prepaid and Max plans' prices, whose sentences say "plan costs", and not the
                # "first line costs $50 per month" under "Family plan", whose first sentence says
                # "Family plan" (QA 2026-12-07). Not a duration: "Can I return an item and how
                # long will the refund take?" was told "we inspect it within 2 business days",
                # under "Refunds", for the 5 to 7 days of the refund itself)
                kind_given = kind == "money" and not row[i] and holds_answer_kind(kind, sent)
                borrowed = named_by[h] - (plain[i] if row[i] or kind_given else said_in_section[(n, h)])
                words[i] = words[i] | borrowed
                shared[i] = shared[i] | borrowed

        def matched(i: int) -> float:
            return _named_share(q_terms, weight, words[i], shared[i])

        # only the most promising sentences are embedded (embedding is the cost): those of the best
        # passages first, then those with the question's words (a sentence holding the kind of
        # answer asked for, a duration for "how long", a number for "多少", counts half a word
        # more); the best of each named passage among them, and none that repeats a better one
        # the answer opens with a sentence that gives the kind asked for (:data:`ANSWERED_FIRST`;
        # a kind_bonus of 0 weighs no kind at all)
        answer_first = kind in ANSWERED_FIRST and self.kind_bonus > 0
        how_to = kind is None and asks_how_to(question)
        how: dict[str, int] = {}  # the sections headed as telling how -> how much of the question each names
        other_action: set[str] = set()  # the sections headed with another kind of action than the one asked
        classes: set[str] = set()  # the kinds of class the question asks the members of
        if how_to:
            # a how-to question is answered by a section that tells how ("4. How to start a
            # return"), not by the one that shares most of its words ("Condition of returned items");
            # of several, by those whose heading names most of what is asked ("积分怎么用": "如何使用积分",
            # not "如何获得积分")
            # (one that names nothing asked tells how to do something else: "怎么注销账户？" was
            # answered how points are used, under "如何使用积分")
            # (a section that holds numbered steps may tell how too, however it is headed: "Reset
            # your password", where "How do I reset my password?" was told the steps of the next
            # section, "Reset two-factor authentication (2FA)", whose first step says "password";
            # so may one headed as a procedure, "下单流程". Such a section tells how where its heading
            # names more of the question than any other section's: "下单后怎么修改地址？" was told how
            # to order, under "二、下单流程", not "订单发货前可以…修改收货地址" under "三、修改收货地址")
            stepped = {h for h, is_step in zip(section, numbered, strict=True) if is_step and h}
            # (with the topic a follow-up takes from the turn before: "怎么预订？" after "会议室多少钱？"
            # asks how to book the meeting room, and was told the steps under "取消预订")
            how_terms = frozenset(q_terms | carried)
            heading_names = {h: len(named_terms(how_terms, h)) for h in set(section)}
            # (a curated entry's question tells how to do what it names all of: "How do I pay my
            # membership?" does not tell "How do I cancel my membership?")
            # (nor does one headed as telling how to do another thing with what is asked: "How do I
            # pay an overdue bill?" was told the steps under "How to view your bill", "How do I
            # cancel my EU Roam Pass?" those under "How to add an EU Roam Pass", :func:`how_to_action`)
            action = how_to_action(question)
            how_headed = {h for h in heading_names if is_how_to_heading(_own_heading(h))}
            # (so is one headed with another kind of action however it is headed, a sub-section's
            # run-in title: "2.1 Turning on two-factor authentication" told how to turn it off, QA 2026-12-07)
            other_action = {h for h in heading_names if action is not None and not action(_own_heading(h))}
            told = {
                h for h in how_headed - other_action if not _is_question(h) or heading_names[h] == len(how_terms)
            }
            # (nor does one of a passage retrieved far weaker than one with a section whose heading
            # names more of what is asked: "How do I make a GDPR request?" was told how to request a
            # refund, the fourth passage (0.37), beside "5.3 GDPR requests" in the first (1.00), QA 2026-12-07)
            strength: dict[str, float] = {}
            for (n, _, _), h in zip(cands, section, strict=True):
                strength[h] = max(strength.get(h, 0.0), hits[n - 1].score)
            told = {
                h for h in told
                if not any(k > heading_names[h] and strength[r] > 2 * strength[h] for r, k in heading_names.items())
            }
            maybe = {
                h for h in heading_names.keys() - told - other_action if h in stepped or names_a_procedure(_own_heading(h))
            }
            # (a curated entry's question, which its answer's sentences are of, is no section that
            # could tell how instead: "撤件要收费吗？" kept the steps under "（二）撤件" from "怎么撤件？")
            # (nor is one headed with another kind of action: "2.2 Turning off two-factor authentication",
            # with its steps, did not tell how to turn it off beside "2.1 Turning on two-factor
            # authentication", which names as much, QA 2026-12-07)
            rivals = [
                h for h in heading_names
                if h not in told and h not in maybe and h not in other_action and not _is_question(_own_heading(h))
            ]

            def tells(h: str) -> bool:
                """Whether section ``h`` (one that may tell how) tells how to do what is asked: its
                heading, with the sections it is in, names more of the question than each other
                section's, or as much of it as a section beside it under the same heading that
                names what is asked ("（三）办理流程" beside "（四）办理时限", both under "一、社保卡首次申领",
                for "首次申领社保卡怎么办理？", which was told how long it takes)."""
                up = h.rpartition(SECTION_PATH_SEP)[0]
                own = len(named_terms(how_terms, _own_heading(h)))
                return all(
                    heading_names[h] > heading_names[r]
                    or (up == r.rpartition(SECTION_PATH_SEP)[0] != "" and bool(named_terms(how_terms, up))
                        and own >= len(named_terms(how_terms, _own_heading(r))))
                    for r in rivals
                )

            how = {h: n for h, n in heading_names.items() if n > 0 and (h in told or (h in maybe and tells(h)))}
            most = max(how.values(), default=0)
            # (of a section whose numbered steps are read one by one, the steps tell how: "How do I
            # submit a claim?" was told the section's opening, "In-network providers submit claims
            # for you", which names more of the question, and none of its five steps. A list read
            # as one sentence, "须提供以下材料：房产证复印件，…", is no procedure to keep to: "物业在5个工作日内
            # 完成审核" after it answers "装修怎么申请？" too)
            steps_in = Counter((n, h) for (n, _, _), h, is_step in zip(cands, section, numbered, strict=True) if is_step)
            fits = [
                h in how and how[h] == most and (numbered[i] or steps_in[(n, h)] < 2)
                for i, ((n, _, _), h) in enumerate(zip(cands, section, strict=True))
            ]
            if not how:
                # no section is headed as telling how: a sentence that says where to do it (a menu
                # path, "Account > Settings > Close account") tells it, about what is asked
                fits = [bool(_MENU_PATH.search(t)) and matched(i) > 0 for i, (_, _, t) in enumerate(cands)]
            if action is not None:
                # a sentence that does another kind of action, and none of the kind asked, tells
                # how to do something else: "How do I disconnect Slack?" was told "Open Settings >
                # Integrations > Slack and click Connect" (QA 2026-12-07); one that does the kind
                # asked tells it, under a heading of the other ("To disconnect, ... click Disconnect")
                # (where no other sentence tells it: "everything else is deleted within 30 days" does
                # not tell how to delete an account beside its menu path)
                fits = [f and (action(t) or h in how) for f, h, (_, _, t) in zip(fits, section, cands, strict=True)]
                does = does_asked_action(question)
                if not how and not any(fits) and does is not None:
                    fits = [matched(i) > 0 and does(t) for i, (_, _, t) in enumerate(cands)]
        else:
            fits = [holds_answer_kind(kind, s) for _, _, s in cands]
            scale = asks_time_count(question) if kind == "duration" else None
            if scale is not None:
                # asked how many days, a count of them answers: "立即", "当天" do not, nor, where a
                # count of days is said, one of hours
                fits = [f and holds_time_count(s) for f, (_, _, s) in zip(fits, cands, strict=True)]
                in_scale = [f and holds_time_count(s, scale) for f, (_, _, s) in zip(fits, cands, strict=True)]
                fits = in_scale if any(in_scale) else fits
            if kind == "money":
                # a table's row of figures gives prices where its table is of prices, though its
                # cells name no currency: "| 跨省 | 12 | 2 | 20 | 5 |" under "运费价格表" and "单位：元"
                # ("跨省标快首重多少钱？" was told the economy service's sentence after the table,
                # which says 元)
                priced_at = {n: _priced_table(hits[n - 1]) for n in {n for (n, _, _), r in zip(cands, row, strict=True) if r}}
                fits = [f or (r and priced_at[n] and any(c.isdigit() for c in t)) for f, r, (n, _, t) in zip(fits, row, cands, strict=True)]
            if kind in ("number", "money", "distance"):
                # an amount a procedure's steps mention in passing gives no answer where a sentence
                # outside a section headed as telling how gives one: "How many days of rental car do I
                # get?" was told the steps under "How to get a rental car" ("Return the car within 2
                # days ..."), not "Rental reimbursement pays up to $40 per day for up to 30 days". (A
                # step's deadline does answer how long: "How long do I have to return the rental car?")
                # (the steps, not every sentence of the section: "Everyday Checking: the $12 fee is
                # waived ...", under "How to waive the monthly maintenance fee", gives the fee)
                procedure = [
                    is_step and bool(h) and is_how_to_heading(_own_heading(h)) for h, is_step in zip(section, numbered, strict=True)
                ]
                if any(f and not p for f, p in zip(fits, procedure, strict=True)):
                    fits = [f and not p for f, p in zip(fits, procedure, strict=True)]
            named_classes = class_words(question) if kind is None else []
            classes = _class_kinds(" ".join(named_classes)) - {"type"}
            if classes:
                # a question for what a class holds ("社保卡补办需要什么材料？") is answered by the
                # list that a heading or lead-in of that class introduces ("（二）所需材料", "Required
                # documents:"), not by the sentence that names more of its other words ("社保卡已
                # 办理正式挂失…可以申请补办", the conditions before it). (The types of something are
                # of that thing: "what types of permission am I giving" was told "See Account types")
                # Of that class, by the noun it is headed with ("Required documents" are documents,
                # not requirements), and of what the question asks it of, as the list's heading, its
                # lead-in, the headings above its passage or the list itself name it: a regression
                # hunt's "What are the ways to cancel a direct debit?" was told a credit card's
                # "Payment methods", "What documents do I need to cancel my card?" a loan's documents
                asked_of = frozenset(q_terms - set(tokenize(" ".join(named_classes))) - _MEMBERS_VERBS - _BRING_WORDS)
                above = {n: " ".join((hits[n - 1].chunk.title, *hits[n - 1].chunk.heading_path[:-1])) for n in {n for n, _, _ in cands}}
                # (at least half of it: "第一次办社保卡需要带什么？" is of 社保卡, under "一、社保卡首次申领")
                fits = [
                    bool(classes & _class_kind_of(_lead_words(t) or h))
                    and 2 * len(named_terms(asked_of, f"{above[n]} {h} {t}")) >= len(asked_of)
                    for h, (n, _, t) in zip(section, cands, strict=True)
                ]
            if kind is not None and (own_kind is None or kind == "time"):
                # the kind is the turn before's ("积分多久过期？"), and the question only names
                # another subject ("注销账户后呢？"): a sentence gives it only where it says about
                # that subject about as much as any sentence does. "积分在订单签收 30 天后到账", a
                # duration sharing only "后", opened the answer and left out "账户注销后，剩余积分同时作废".
                # So for "when", which asks a condition as often as a time: "When can children start
                # swimming lessons?" was told "Lane swimming runs for 45 minutes per booking slot",
                # not "Children can start swimming lessons from age 4"
                named_most = max((matched(i) for i in range(len(cands))), default=0.0)
                fits = [f and matched(i) >= 0.5 * named_most for i, f in enumerate(fits)]
        n_terms = max(1, len(q_terms))  # no terms: nothing matched, every share 0
        # the steps of a section that tells how, before the hit's own section, are read from the
        # first ("Log in to your account", not the step nearest the section matched)
        far = [s_ if how_to and fits[i] and s_ is not None else away[i] for i, s_ in enumerate(step)]
        pre = [
            ((matched(i) + 0.5 * fits[i]) / n_terms + self.w_rank * hits[n - 1].score - 0.01 * far[i], i)
            for i, (n, _, _) in enumerate(cands)
        ]
        ranked = [i for _, i in sorted(pre, reverse=True)]
        if how:
            # where a section tells how to do what is asked, one headed with another kind of action
            # gives no sentence: the turn-on steps of "2.1 Turning on two-factor authentication"
            # ranked first for "How do I turn off two-factor authentication?" (their lead-in names
            # it), and "Open Settings > Security > Two-factor and click Disable" was left out as a
            # repeat of their first step (QA 2026-12-07)
            ranked = [i for i in ranked if section[i] not in other_action]
        must: list[int] = []
        # what a row named must be about, with what a follow-up takes from the turn before ("How
        # much data does it include?" after "How much is the Plus plan?" names the Plus row)
        leaned = (
            _topic_terms(query) - q_terms
            if query != question and refers_back(question) and not only_names_subject(question) else set()
        )
        row_topic = frozenset(q_terms | carried | leaned) - price_terms(question)
        # the candidates that are rows the question names by their first cell (names_row)
        # (by its cells, its headers and its section's heading: "二、普通门诊报销比例" says what the
        # rows of its table are rates of, which the rows say of no other)
        named_rows = {
            j for j, (_, _, sent) in enumerate(cands) if row[j] and names_row(row_topic, f"{sent}\n{section[j]}")
        }
        if kind == "money":
            # (or, asked a price, by its first cell's price word and a column's header: a table of
            # features by plan, "Feature: Price (monthly billing); Free: $0; Team: $12 per seat per
            # month", for "How much does the Team plan cost per month?", names_price_row)
            named_rows |= {j for j, (_, _, sent) in enumerate(cands) if row[j] and names_price_row(row_topic, sent)}
        # (of a follow-up that only names another subject, the rows that name it, where one does: "那核磁呢"
        # after "普通CT多久出报告" named the 普通 CT row by 普通, which the turn before asked of, and was
        # told that row again. Its subject alone names too many: "普通的呢" after "无痛胃镜多少钱" is the
        # 普通胃镜 row, not 普通肠镜's too, a regression hunt's)
        # (by its cells, a note in brackets too: "MRI（核磁共振）" for "那核磁共振呢")
        of_subject = {
            j for j in range(len(cands)) if row[j] and subject & _row_own_terms(cands[j][2], lexical[j] or "")
        } if subject else set()
        named_rows = (named_rows & of_subject) or of_subject or named_rows
        # (not one whose label holds the name asked inside a longer name, where a row of its table
        # opens with that name, :func:`_inside_longer_name`: "那经济舱呢" after 公务舱's fee named
        # the 超级经济舱 row by its subject, QA 2026-12-07)
        named_text = {j: _label_text(cands[j][2]) for j in named_rows}
        named_rows -= {
            j for j in named_rows if any(
                k != j and _row_headers(cands[k][2]) == _row_headers(cands[j][2])
                and _inside_longer_name(named_text[j], named_text[k], question) for k in named_rows
            )
        }
        for t in named:
            must.extend([i for i in ranked if titles[cands[i][0] - 1] == t][:1])
        # a table's row that the question names by its first cell ("Plus" in "How much is the Plus
        # plan?") is weighed: a sentence naming the same words in passing ("Add up to 4 extra lines
        # to a Plus or Max plan ... 20% off") ranked above the row, and the price was never said
        must.extend([i for i in ranked if i in named_rows and i not in must][:2])
        if (answer_first or classes or (how_to and how)) and not any(fits[i] for i in ranked[: self.embed_sentences]):
            # none of the likeliest sentences gives the phone number or address asked for, or the
            # list of the class asked for, or is of a section that tells how to do what is asked:
            # the likeliest that does is weighed too (:data:`ANSWERED_FIRST`)
            must.extend([i for i in ranked if fits[i] and i not in must][:1])
        elif kind in WEIGHED_IF_NONE and not any(fits[i] for i in ranked[: self.embed_sentences]):
            # so is a duration, the first of those under the heading that names most of the
            # question: by their words alone, "If nobody is home, the courier ... tries again the
            # next business day" (under "Signature on delivery") ranked above the standard
            # delivery's "Orders arrive within 3 to 5 business days", whose section's other
            # sentences say "delivery" (:data:`WEIGHED_IF_NONE`)
            durations = [i for i in ranked if fits[i] and i not in must]
            must.extend(sorted(durations, key=lambda i: (-len(named_by.get(section[i], ())), cands[i][0], cands[i][1]))[:1])
        # a question that asks two things ("Can I return an item and how long will the refund
        # take?") is answered on each: the sentence that names most of each part (and gives the
        # kind of answer it asks for) is weighed, and said, with the others
        parts = split_asks(question) if not named else [question]
        before: set[str] = set()  # the terms of the part before
        says: list[list[float]] = []  # for each part with terms, how much each sentence says of it
        for part in parts if len(parts) > 1 else ():
            # a part that names nothing asks the part before's subject for another kind of answer
            # ("How much is express shipping and how long does it take?"): only a sentence that
            # gives that kind answers it
            named_here = _topic_terms(part) if tokenize(query_topic(part)) else set()
            p_terms, p_kind = named_here or before, answer_kind(part)
            before = p_terms
            if not p_terms:
                continue
            p_weight = _term_weights(p_terms, term_weight)
            p_gives = [p_kind is not None and holds_answer_kind(p_kind, sent) for _, _, sent in cands]
            says.append([
                (math.fsum(p_weight[t] for t in p_terms & words[i]) + (0.5 if g else 0.0)) if g or named_here else 0.0
                for i, g in enumerate(p_gives)
            ])
        # the part that one sentence says most of chooses first: "积分有什么用？积分会过期吗？" gave
        # its first part the sentence on expiry (it names 积分 too, and ranked first), which left the
        # second part, whose sentence it is, none. Each part takes one of the sentences that say most
        # of it, the likeliest first, a sentence of its own where the parts can each have one:
        # "积分怎么获得？会过期吗？" gave its first part the expiry sentence ("自获得之日起"), tied with the
        # one on earning points, and was told only when points expire
        per_part = _own_sentences(sorted(says, key=lambda v: -max(v, default=0.0)), ranked)
        must.extend(i for i in per_part if i not in must)
        order = must + [i for i in ranked if i not in must]
        keep = sorted(distinct_sentences(order, keys, max(self.embed_sentences, len(must)), pinned=frozenset(must)))
        fit = np.array([fits[i] for i in keep], dtype=np.float64)
        lex = np.array([matched(i) / n_terms for i in keep], dtype=np.float64)
        every = cands  # each sentence that may be quoted (``place`` finds one by its place)
        # a table's row that names none of the question's own terms is about another entry of the
        # table than the one asked for, where a row that names one is among the candidates ("What
        # is the warranty on a phone?": the Phones row, not the Laptops row after it). A term its
        # headers name too says which column is asked for, not which row ("data" in "What data do
        # you keep about me?" and in the cell "Browsing data in the app", under the header "Data")
        # (a number of the question with a unit names a row that says that amount, not one whose cell
        # holds the number in another unit: "寄3公斤到西藏多少钱？" named the 三区 row by its "3-4天" as much as
        # the 偏远区 row by 西藏, and was told both, QA 2026-12-07)
        amounts = asked_quantities(question)

        def names_asked_row(j: int) -> bool:
            named = q_terms & _row_own_terms(every[j][2], lexical[j] or "")
            said = quantities(every[j][2]) if named & amounts.keys() else []
            return any(t not in amounts or names_quantity(*amounts[t], said) for t in named)

        names_asked = [bool(row[j] and names_asked_row(j)) for j in range(len(every))]
        other_rows = (
            {j for j in range(len(every)) if row[j] and not names_asked[j]} if any(names_asked[j] for j in keep) else set()
        )
        # so is a list's item read alone (after its lead-in) that names none of them, where another
        # item of its passage names one: "重疾绿通每年能用几次" was told the hospital-advance and the
        # excluded-sports items too (a how-to question is told every step, each of which need not
        # name what is done)
        item_names = {} if how_to else {
            j: bool(q_terms & set(tokenize(lexical[j] or ""))) for j in range(len(every)) if lexical[j] is not None and not row[j]
        }
        named_item_in = {every[j][0] for j in keep if item_names.get(j)}
        other_rows |= {j for j, names in item_names.items() if not names and every[j][0] in named_item_in}
        # so is every other row of a table one of whose rows the question names by its first cell
        # ("How much is the Go 20 plan?" went on with the Go 35 and Go 10 rows, which name "Go"),
        # wherever the table was cut: a row is of the table whose headers it reads. Of two rows
        # named, the one whose label holds the other's is meant ("Max Pro", not "Max"). A row whose
        # label names something asked that theirs do not is asked about too ("phones and laptops":
        # the "Laptops and tablets" row), and a question that compares, or asks for others or
        # all, reads every row
        labels = {j: row_label(every[j][2]) for j in named_rows}
        meant = {j for j in named_rows if not any(labels[j] < labels[k] for k in named_rows)}
        # (of rows named alike, the one more of whose cells the question says is meant: "the per
        # diem for other cities in France" names "France | Paris" by its first cell too, and was told
        # it, QA 2026-12-07)
        cells_said = {j: _cells_said(every[j][2], question) for j in meant}
        meant = {
            j for j in meant
            if not any(cells_said[k] > cells_said[j] and _row_headers(every[k][2]) == _row_headers(every[j][2]) for k in meant)
        }
        named_tables = {_row_headers(every[j][2]) for j in meant if j in keep}
        said_by_meant = frozenset().union(*(labels[j] for j in meant))
        # (a word that asks across rows in a cell the question says names that row: "other cities"
        # in "the per diem for other cities in Germany" was told Berlin's and Munich's rows too)
        across = bool(_ASKS_ACROSS.search(_without_cells_said(question, [every[j][2] for j in keep if row[j]])))
        if named_tables and not across:
            other_rows |= {
                k for k in range(len(every))
                if row[k] and _row_headers(every[k][2]) in named_tables and k not in meant
                and not (row_label(every[k][2]) & row_topic) - said_by_meant
            }
        if not across:
            # of a table's rows that no question names by its whole first cell, one whose label names
            # less of the question than another row's of the same table does is of another entry:
            # "住宅物业费多少钱？" (物业费, where the row says 住宅物业服务费) went on with the 商铺物业服务费
            # row, whose label names 物业 and not 住宅
            # (a term its headers name too is no label's: "What data do you keep?" names every row
            # of "| Data | How long we keep it |", "Browsing data in the app" as "Order history")
            # (by a note in brackets too, where it is the row's other name: "那核磁共振呢" after "增强ct多久出报告"
            # named the "MRI（核磁共振）" row by nothing, and was told the 增强 CT row again)
            labelled = {
                j: row_label(every[j][2], notes=True) & row_topic & _row_own_terms(every[j][2], lexical[j] or "")
                for j in range(len(every)) if row[j]
            }
            tables = {_row_headers(every[j][2]) for j in keep if labelled.get(j)}
            other_rows |= {
                k for k in labelled
                if _row_headers(every[k][2]) in tables and any(
                    labelled[k] < labelled[j] and _row_headers(every[j][2]) == _row_headers(every[k][2])
                    for j in keep if j in labelled
                )
            }
            # so is one whose label holds the name asked inside a longer name, where a row of its
            # table opens with that name (:func:`_inside_longer_name`)
            texts_of = {j: _label_text(every[j][2]) for j in labelled if labelled[j]}
            other_rows |= {
                k for k in texts_of if any(
                    j != k and _row_headers(every[j][2]) == _row_headers(every[k][2])
                    and _inside_longer_name(texts_of[k], texts_of[j], question) for j in texts_of
                )
            }
        cands, words = [cands[i] for i in keep], [words[i] for i in keep]
        cap = dense_capability(self.embedder, query, lang)
        texts = [s for _, _, s in cands]
        if cap > 0.0:
            # the question as a query (asymmetric models such as E5 embed queries differently)
            qvec = embed_query(query) if embed_query else self.embedder.embed([query], kind="query")[0]
            qv = np.asarray(qvec, dtype=np.float64).reshape(-1)
            # a piece of a sentence is shown with its mark (:data:`~indexes.types.CONTINUES`) and
            # read without it
            sv = self._embed_cached([t.removeprefix(CONTINUES) for t in texts])
            dense = np.clip(sv @ qv, 0.0, 1.0)
            w_d, w_l = self.w_dense * cap, self.w_lex
        else:
            sv = None
            dense = np.zeros(len(cands))
            w_d, w_l = 0.0, 1.0
        prior = np.array([hits[n - 1].score for n, _, _ in cands], dtype=np.float64)
        rel = (w_d * dense + w_l * lex) / (w_d + w_l) + self.w_prior * prior + self.kind_bonus * fit
        picked: list[int] = []
        total = 0
        # a sentence that gives a kind in ANSWERED_FIRST, names a word of the question and is
        # relevant enough opens the answer; so does one of a section that tells how to do what is
        # asked ("社保卡补办的流程是什么？" was told an FAQ entry that only refers to "挂失和补办流程",
        # ranked first, and not the steps under "三、社保卡补办 > （三）办理流程")
        # (so does one that says how long, asked how long: "寄到新疆要几天" was told a notice's new
        # price for 新疆, its best passage, and not the zone table's "偏远区：新疆、西藏…5-7天"; QA 2026-12-07)
        giving = (
            {i for i in range(len(cands)) if fit[i] and lex[i] > 0 and rel[i] >= self.min_relevance}
            if answer_first or (how_to and how) or (kind in WEIGHED_IF_NONE and self.kind_bonus > 0) else set()
        )
        # an answer is said in one language, that of its most relevant sentence: a bilingual
        # knowledge base says many things twice ("Acme Plus members never pay return shipping",
        # "Acme Plus 会员的退货期限延长至 60 天"), and an English question is not answered half in
        # Chinese; a question only the other language's documents answer gets their sentences. A
        # sentence without letters (a table's numbers) is in no language.
        said_in = [sentence_lang(t, None) for t in texts]
        for t in sorted(named, key=titles.index):
            # the most relevant sentence of each named passage first (the best passage first)
            own = [i for i in range(len(cands)) if titles[cands[i][0] - 1] == t and rel[i] >= self.min_relevance]
            if own and len(picked) < self.max_sentences:
                best = max(own, key=lambda i: rel[i])
                picked.append(best)
                total += len(texts[best])
        for j in per_part:
            i = keep.index(j) if j in keep else -1
            if i >= 0 and i not in picked and rel[i] >= self.min_relevance and len(picked) < self.max_sentences:
                picked.append(i)
                total += len(texts[i])
        # the passage that retrieval put clearly first answers alone, when its sentence is the best
        # or the question names its topic by a pronoun that the condensed form resolved
        margin = self.lead_margin_cjk if is_cjk_lang(lang) else self.lead_margin
        leads = not named and (len(hits) < 2 or hits[0].score - hits[1].score >= margin)
        on_topic = (
            leads and query != question and refers_back(question)
            and any(cands[i][0] == 1 and rel[i] >= self.min_relevance for i in range(len(cands)))
        )
        # the row the question names by its first cell, where it gives the kind of answer asked
        # (any, for a question that asks none), is said: a row, all cells and few words of the
        # question, scores low against it ("Plan: Plus; Price per month: $30; Data: 25 GB; ...")
        # (of rows named, the one whose cells, headers and section heading name most of the question:
        # "一级医院门诊…" names the outpatient table's row by its heading, where the inpatient table's
        # scored closer to the question)
        # (for a question that asks no kind, only where no other sentence names a word of it the row
        # does not: "增强ct要空腹吗" was told the 增强 CT row of the report times, not "增强 CT：检查前需空腹
        # 4 小时", which says 空腹 too. A row that names all the others do stays: "要预约吗" after
        # "普通CT多久出报告" is its row's "是否需要预约：不需要", not how to book, a regression hunt's)
        named_row = next((
            i for i in sorted(range(len(cands)), key=lambda i: (-lex[i], -rel[i]))
            if keep[i] in named_rows and i not in picked and keep[i] not in other_rows
            and (fit[i] or (kind is None and not any(
                (words[j] & q_terms) - words[i] for j in range(len(cands)) if j != i and rel[j] >= self.min_relevance
            )))
        ), None)
        if named_row is not None and len(picked) < self.max_sentences and not giving:
            picked.append(named_row)
            total += len(texts[named_row])
        # the row is the answer where its cells and headers hold all the question asks about ("How
        # much is the Max plan?", "How much data do I get on Plus?"), not where the question asks
        # about something else of that plan ("How much does roaming cost on the Max plan?", "...
        # for seniors?")
        answers_row = (
            named_row if named_row in picked and row_topic - ASKING_VERBS <= set(tokenize(texts[named_row])) else None
        )
        while len(picked) < self.max_sentences:
            best, best_val = -1, -1e9
            answer_in = next((said_in[j] for j in picked if said_in[j] is not None), None)
            alone = on_topic or (leads and bool(picked) and cands[picked[0]][0] == 1)
            for i in range(len(cands)):
                other_language = said_in[i] is not None and answer_in is not None and said_in[i] != answer_in
                if i in picked or rel[i] < self.min_relevance or other_language or (alone and cands[i][0] != 1):
                    continue
                if keep[i] in other_rows or (giving and not picked and i not in giving):
                    continue
                if picked and lex[i] == 0 and _leads_in(texts[i]):
                    # a lead-in that shares no word of the question, after the answer has begun,
                    # brings its whole list or table and says nothing asked: "Can I extend it?"
                    # after the headphones' warranty went on from Acme Care+ to "Periods by
                    # product category:" and every row of the periods table
                    continue
                if picked:
                    if sv is not None:
                        red = max(float(sv[i] @ sv[j]) for j in picked)
                    else:
                        red = max(len(words[i] & words[j]) / max(1, len(words[i] | words[j])) for j in picked)
                else:
                    red = 0.0
                val = self.mmr * rel[i] - (1 - self.mmr) * red
                if val > best_val:
                    best, best_val = i, val
            if best < 0:
                break
            if picked and total + len(texts[best]) > self.max_chars:
                break
            # a follow-up sentence must stay reasonably close to the best one
            if picked and rel[best] < 0.6 * rel[picked[0]]:
                break
            picked.append(best)
            total += len(texts[best])
        # a follow-up that only names another subject ("评价呢？" after "怎么获得积分？", "And for
        # members?") is answered by what is said of that subject, where a chosen sentence says it:
        # the others answered the turn before ("每消费 1 美元获得 1 积分")
        narrowed = bool(subject and any(subject & words[i] for i in picked))
        if narrowed:
            picked = [i for i in picked if subject & words[i]]
        # a question that asks for a kind of answer, which a chosen sentence gives, gets no unrelated
        # filler (a question that asks two things, "How long does it take, and how much does it
        # cost?", is answered by sentences of either kind)
        if kind is not None and len(parts) == 1 and not asks_several_kinds(question) and any(fits[keep[i]] for i in picked):
            # of the chosen sentences that give the kind, one that names less than half of what the
            # best-named one names is about something else ("How long is the reset link valid?":
            # "valid for 30 minutes", not "Your order history is kept for 7 years"); a run of such
            # sentences in one passage ("Standard shipping is free on orders over $50. Below $50 it
            # costs $4.95. Express shipping costs $12.95") is one answer. A follow-up that takes its
            # topic from the turn before ("How long does it take?" after "How do I download my
            # data?") is about that topic too. The row that answers the question (answers_row) is
            # about what is asked, though its header words count half ("Plan: Max; Price per
            # month: $50" was left out for "included at no extra cost on Plus and Max plans")
            about = q_terms | carried
            about_w = _term_weights(about, term_weight)

            def names(i: int) -> float:
                return _named_share(about, about_w, words[i], shared[keep[i]])

            named_best = max(names(i) for i in picked if fits[keep[i]])
            gives = _with_runs(
                [cands[i][:2] for i in picked],
                [fits[keep[i]] and (names(i) >= 0.5 * named_best or i == answers_row) for i in picked],
                [fits[keep[i]] for i in picked],
            )
            picked = _kind_answered(
                picked, [cands[i][:2] for i in picked], gives, texts,
                lambda n, pos: (n, pos) in place and _leads_in(every[place[(n, pos)]][2]),
            )
        if how_to and how and any(fits[keep[i]] for i in picked):
            # a how-to question answered from a section headed as telling how gets no sentences of
            # other sections: "How do I claim warranty?" went on from "How to make a warranty
            # claim" to what Acme Care+ costs, the section merged after it. (A question for what a
            # class holds keeps the sentences beside its list: "What ways can I contact you?" lost
            # the phone number after "There are 3 ways to reach us: phone, live chat and email")
            # But a sentence that says what cannot be done of a phrase the question holds, and no
            # sentence of the how-to section does, stays: "How do I switch my business account?"
            # was told the switch's steps, and not "Business accounts ... cannot be switched"
            picked = [i for i in picked if fits[keep[i]] or i in _restricting(question, texts, picked, fits, keep)]
        elif how_to and any(fits[keep[i]] for i in picked) and (action := how_to_action(question)) is not None:
            # nor, answered how to do one kind of action, the sentences that do another: "How do I
            # turn off two-factor authentication?" went on to the turn-on steps (QA 2026-12-07)
            # (but where those said give no menu path, the one that gives it stays, for where to do
            # it: "Open Settings > Privacy and switch Location on. To turn it off again, switch
            # Location off in the same place." lost its first sentence, a regression hunt's)
            said_where = any(_MENU_PATH.search(texts[i]) for i in picked if fits[keep[i]] or action(texts[i]))
            picked = [
                i for i in picked if fits[keep[i]] or action(texts[i]) or (not said_where and _MENU_PATH.search(texts[i]))
            ]
        if is_cjk_lang(lang) and picked and not (named or subject) and len(parts) == 1 and len({cands[i][0] for i in picked}) == 1:
            # a Chinese answer from one passage keeps to its first sentence's section, for the reason
            # it keeps to one passage (``lead_margin_cjk``): "哪些商品不能退？" went on from the goods
            # that cannot be returned to who pays return shipping, the section merged after it,
            # by the words 商品 and 退货 alone. (To the section of the list a question for what a
            # class holds asks for, where one is said: "补办社保卡要带啥" kept to the conditions,
            # which ranked first, and lost the list under "（二）所需材料")
            head = section[keep[next((i for i in picked if classes and fits[keep[i]]), picked[0])]]
            picked = [i for i in picked if section[keep[i]] == head]
        total = sum(len(texts[i]) for i in picked)  # what the filters above left
        said = [(*cands[i], float(rel[i])) for i in picked]  # (passage number, position, sentence, relevance)
        leaning = [leans[keep[i]] for i in picked]
        says_kind = [fits[keep[i]] for i in picked]

        def row_terms(j: int) -> frozenset[str] | None:
            """The question's terms that candidate ``j`` holds, if it is a table's row."""
            return frozenset(q_terms & plain[j]) if row[j] else None

        rows = [row_terms(keep[i]) for i in picked]
        places = {(n, pos) for n, pos, _, _ in said}
        # a question for what a class holds ("VIP有啥好处", "Which documents do I need?") is
        # answered by the whole list whose lead-in or heading names what it asks about, where the
        # answer has one of its items: "VIP有啥好处" was told the one benefit of four, read item by
        # item after "VIP权益：", that names VIP again (:func:`_whole_list`)
        listed = (
            _whole_list(question, q_terms, picked, keep, every, lexical, row, section, place, self.max_chars)
            if kind is None and not how_to and not (named or subject) and len(parts) == 1 else []
        )
        if listed:
            r = max(r for *_, r in said)
            said = [(n, p, every[place[(n, p)]][2], r) for n, p in listed]
            leaning = [False] * len(said)
            says_kind = [fits[place[(n, p)]] for n, p in listed]
            rows = [None] * len(said)
            places = set(listed)
            total = sum(len(s) for _, _, s, _ in said)
        def speak(j: int, r: float) -> None:
            """Says the sentence at ``j`` (a place in ``every``), of relevance ``r``."""
            n, at, sent = every[j]
            said.append((n, at, sent, r))
            leaning.append(leans[j])
            says_kind.append(fits[j])
            rows.append(row_terms(j))
            places.add((n, at))

        # a rule that a notice among the passages says has changed ("reduced from $50 to $40",
        # "由18小时延长至24小时") is told as the notice says it now: the old rule was quoted, at confidence
        # 1.0 from an FAQ entry, beside or instead of the change (QA: a health plan, a courier)
        changes = [j for j, (_, _, t) in enumerate(every) if changed_from(t)] if q_terms else []
        beside: dict[tuple[int, int], tuple[int, int]] = {}  # a change -> the rule said with it, for what else it says
        looked: set[tuple[int, int]] = set()  # the sentences said whose changes were looked for
        if changes:
            how_asked = asks_how_to(question)
            # (where the question asks for no figure, and asks yes or no, or how, or more than the
            # change names, the rule's sentence is said after the change, for what else it says:
            # "Can I cancel my policy?" lost "You can cancel at any time; unused premium is refunded
            # pro rata" to "The cancellation fee was reduced from $25 to $15", "宽带报修打什么电话？" the
            # number to call; where the change names all it asks, the rule would only say the old
            # figure again: "What is the towing limit?" was told $150, then $100); where the question
            # asks a kind the change does not give and the rule does, the rule is said too: "How far
            # will you tow my car?" was told the new limit's dollars, not the rule's 15 miles
            q_weight = _term_weights(q_terms, term_weight)
            asked_price = price_terms(question)
            # (but where the question names an amount in the unit of the change's old one, it asks
            # of that figure, and the rule would answer it by the old one: "开学三周退学学费能全退吗"
            # was told "在开学后两周内（含两周）…退还当学年全部学费" before the notice's "在开学后四周内（含四周）
            # …（原为开学后两周内）" (QA: a university's fees))
            asked_units = {unit for _, unit in asked_quantities(question).values()}

            def of_figure(j: int) -> bool:
                """Whether the question names an amount in the unit of an old one the change ``j`` says."""
                return any(q.unit in asked_units for q in changed_from(every[j][2]))

            def of_else(rule_at: int | None, j: int) -> bool:
                """Whether the question names, by a word at least as rare as its average one, what
                the rule at ``rule_at`` (with its heading) is of and the change ``j`` is not: the
                change, though it says the rule's old amount, may be of something else ("What is
                the monthly fee for Premier Checking?": "Premier Checking: $35 per month" is not
                what "The overdraft fee ... is reduced from $35 to $29" changed; nor "首任车主每年
                可以免费取送车几次" what 道路救援's 由每年2次调整为每年3次 did: QA). It is then not said in
                the rule's place."""
                # (a change that says the old rule in its own words is of that rule, whatever else
                # the question names: "退学了学费能退吗" was told "在开学后两周内（含两周）…退还当学年全部学费" first,
                # for its 退学, and the notice's "…（原为开学后两周内）" after it (QA: a university's fees))
                if rule_at is None or quotes_before(every[j][2], every[rule_at][2]):
                    return False
                # (nor one that names what it changed in the rule's words: "Which relatives count as
                # close family for bereavement leave?" was told "up to 5 days of paid bereavement leave on
                # the death of a close family member (spouse or partner, ...)" and, last, as of something
                # else, "Paid bereavement leave on the death of a close family member is increased from
                # 5 days to 7 days" (QA 2026-12-07))
                if _writes_subject(every[j][2], every[rule_at][2]):
                    return False
                # (nor one whose old amount the rule says of what the change says its amounts of:
                # "What is the storage limit on the Free plan?" was told "If you use more than 2 GB of
                # storage, you cannot upload ... under the limit" first, for its "limit", then "Free
                # workspaces now get 5 GB of storage per workspace (previously 2 GB)" (QA 2026-12-07))
                if says_of_same(every[j][2], every[rule_at][2]):
                    return False
                # (a curated entry's question is no heading of what its answer is of: it asks what the
                # question does, in other words, "How long does prior authorization take?")
                head = section[rule_at]
                rule = plain[rule_at] | (set() if _is_question(_own_heading(head)) else set(tokenize(head)))
                # (the change's words as written: its old amount too, "Is the overdraft fee $35?")
                change = set(tokenize(every[j][2])) | set(tokenize(section[j]))
                text = to_simplified(every[j][2])
                return any(
                    w >= 1.0 and t in rule and t not in change and not (is_cjk_char(t[0]) and t in text)
                    for t, w in q_weight.items() if t not in asked_price  # ("怎么收费" asks how much)
                )

            spoken: list[tuple[tuple[int, int, str, float], bool, bool, frozenset[str] | None]] = []
            # (a change said is a rule too, that a newer notice may change in turn: the table's
            # 偏远区 row was told as "首重（1公斤）价格由20元调整为25元" where a later notice says "由25元下调为22元"
            # (QA 2026-12-07): the newest is said, as each change is, in the place of the one before)
            queue = [(said[k], leaning[k], says_kind[k], rows[k]) for k in range(len(said))]
            left_of: dict[tuple[int, int], tuple[tuple[str, str], ...]] = {}  # a row's cells no change replaced
            changed_terms: dict[tuple[int, int], set[str]] = {}  # the terms of the changes that replaced them
            other_cell: set[tuple[int, int]] = set()  # changes only of cells the question does not ask
            for queued in queue:
                (n, pos, sent, r), _, queued_kind, _ = queued
                looked.add((n, pos))
                # (a row some of whose cells a change replaced is of what that change names too: the
                # clause after it, "起飞前4小时以内及起飞后变更的，由票面价15%调整为…", names no 公务舱 of its own)
                j = _change_of(
                    sent, changes, every, plain, q_terms | changed_terms.get((n, pos), set()), hits, today,
                    every[place[(n, pos)]][2] if (n, pos) in left_of else None,
                )
                if j is None:
                    spoken.append(queued)
                    continue
                m, at, change = every[j]
                # (a row is of the change as it is told, by the cells asked: "What is the non-sterling
                # fee on Basic?" is told the row's "Basic: 2.99%", which the Plus fee's change from 1.5%
                # did not change, QA 2026-12-07)
                rule_at = place.get((n, pos))
                told_as = _cells_asked(question, kind, [queued[0]], hits)[0][2] if rule_at is not None and row[rule_at] else sent
                if told_as != sent and not supersedes(change, told_as):
                    spoken.append(queued)
                    # (nor is that change said for it: "How much is roaming in Canada on the Unlimited
                    # plan?" opened with the notice's Medium £5 -> £4 before the row's "Unlimited: £3",
                    # QA 2026-12-07)
                    other_cell.add((m, at))
                    continue
                doubt = of_else(rule_at, j)
                # (a row whose change replaces some of its cells is told by the others, which still
                # hold, with the change: "公务舱改签要多少钱" was told only the notice's two changed time
                # bands, and "公务舱起飞前3天改签多少钱" lost the band asked, which the notice left as the
                # table says it (QA 2026-12-07))
                # (each change of the row in turn: "起飞前4小时以内及起飞后变更的，由票面价15%调整为…" is a clause
                # of its own after the 48-to-4-hour band's)
                written_in = "zh" if is_cjk_lang(hits[n - 1].chunk.lang) else "en"
                # (of the cells asked: "What is the non-sterling transaction fee on Plus?" asks no other
                # account's cell of the row whose Plus cell a notice changed)
                cells = left_of.get((n, pos)) or (
                    table_row_cells(hits[n - 1].passage, written_in).get(words_key(sent)) if "|" in hits[n - 1].passage else None
                )
                cells = (asked_cells(question, cells, kind) or cells) if cells and (n, pos) not in left_of else cells
                cells_left = _unchanged_row(change, cells) if cells and rule_at is not None and row[rule_at] and not doubt else None
                if (m, at) not in places:
                    # (where the question names what the rule is of and the change is not, the
                    # change is said after the rule, not in its place: "What is the monthly fee for
                    # Premier Checking?" is answered by its $35, then by the overdraft fee's change)
                    queue.append(((m, at, change, r - 1e-6 if doubt else r + 1e-6), False, fits[j], None))
                    places.add((m, at))
                # (but not where it says nothing the change does not: "保价费怎么算" was told "保价费为声明价值的
                # 0.5%，最低收费1元" after "保价费率由声明价值的0.5%调整为0.3%，最低收费仍为1元" (QA 2026-12-07))
                # (and a change that a newer one changed only in part stays after it, for the rest: the
                # October notice's 续重 18元 beside the November one's 首重 22元, :func:`_still_says`)
                if cells_left is not None:
                    left_of[(n, pos)] = cells_left
                    changed_terms[(n, pos)] = changed_terms.get((n, pos), set()) | plain[j]
                    queue.append(((n, pos, row_sentence(cells_left, written_in), r), *queued[1:]))
                elif doubt or (
                    kind is None and not of_figure(j) and (yes_no or how_asked or not q_terms <= plain[j])
                    and _says_more(sent, change)
                ) or (
                    kind is not None and queued_kind and not fits[j]
                ) or _still_says(sent, change, q_terms):
                    # (said for what else it says, without a clause that says only the old amount:
                    # "门禁卡补办要带什么" was told "凭业主身份证…补办，每张30元，当场办结" after "门禁卡补办费用由每张30元
                    # 调整为每张20元" (QA 2026-12-07))
                    trimmed = sent if doubt else _without_old_clauses(sent, change)
                    spoken.append(((n, pos, trimmed, r), *queued[1:]) if trimmed != sent else queued)
                    if not doubt and trimmed == sent:
                        beside.setdefault((m, at), (n, pos))
                else:
                    places.discard((n, pos))
            # a change of a row's cell that the question does not ask, where the row is said by the
            # cells asked, is no answer (unless it changes another sentence said too)
            spoken = [x for x in spoken if x[0][:2] not in other_cell - set(beside)]
            said = [x[0] for x in spoken]
            leaning, says_kind, rows = [x[1] for x in spoken], [x[2] for x in spoken], [x[3] for x in spoken]
            # a change announced for a later date is said after the rule it will change: "现在运费多少？"
            # opened with "自2027年1月1日起，普通配送运费由每单8元上调至10元"
            # (and where the rule is not among what is said, it is said before the change: "What
            # is the international wire fee for Everyday right now?" was told only "From February
            # 1, 2027, the fee ... will increase from $50 to $55", the table's row left out)
            low = min(r for *_, r in said) if said else 0.0
            ahead: list[int] = []  # the rules said for the announced changes that come without them
            for k, (n, pos, sent, _) in enumerate(said):
                j = place.get((n, pos))
                if j not in changes or in_force_in(sent, hits[n - 1].passage, today):
                    continue
                if any(supersedes(sent, other) for m, _, other, _ in said if m != n):
                    said[k] = (n, pos, sent, low - 1e-6)
                    continue
                rule = next((
                    i for i, (m, at, other) in enumerate(every)
                    if m != n and i not in other_rows and (m, at) not in places and supersedes(sent, other)
                ), None)
                if rule is not None:
                    ahead.append(rule)
                    said[k] = (n, pos, sent, low - 2e-6)
            for i in ahead:
                speak(i, low - 1e-6)
        total = sum(len(s) for _, _, s, _ in said)

        def say_too(n: int, at: int, r: float) -> int:
            """Says the sentence of passage ``n`` at ``at`` too, where it may be quoted, is not said
            yet and there is room; the characters it adds."""
            j = place.get((n, at))
            if j is None or j in other_rows or (n, at) in places or total + len(every[j][2]) > self.max_chars:
                return 0
            speak(j, r)
            return len(every[j][2])

        # a sentence that leans on the one before it ("It extends the warranty", "但是在此基础上")
        # is said after that one where there is room: alone, nobody knows what "it" is
        for (n, pos, _, r), lean in list(zip(said, leaning, strict=True)):
            if lean:
                total += say_too(n, pos - 1, r)
        # a sentence followed by its exception ("Your phone number stays the same when you switch
        # to an eSIM." then "The only exception is prepaid Lite lines: ... a new number is issued")
        # is said with it where there is room: without it, the answer says always where the
        # document says except
        for n, pos, _, r in list(said):
            after = place.get((n, pos + 1))
            if after is not None and _EXCEPTION.match(every[after][2]):
                total += say_too(n, pos + 1, r)
        # a sentence of two clauses of the kind asked, parted by a semicolon, tells two cases apart:
        # "社保卡补办需要多长时间？" was told "合作银行网点即时制卡的，当场领取" and not "非即时制卡网点五个工作日
        # 内制卡完成" after it. (Not a clause of a longer run: an admissions page's "；"-parted list of
        # pieces to play went on from the one asked to the next instrument's)
        if kind is not None:
            for n, pos, sent, r in list(said):
                after, earlier = place.get((n, pos + 1)), place.get((n, pos - 1))
                if (
                    after is not None and _stops_at_semicolon(sent) and holds_answer_kind(kind, sent)
                    and holds_answer_kind(kind, every[after][2]) and not _stops_at_semicolon(every[after][2])
                    and (earlier is None or not _stops_at_semicolon(every[earlier][2]))
                ):
                    total += say_too(n, pos + 1, r)
        # a lead-in ("Periods by product category:", "To use the Bixby function, you must:") says
        # nothing without what it introduces: the next sentence of its passage is said after it
        # where there is room (and, below, one without it is left out)
        for n, pos, sent, r in list(said):
            if _leads_in(sent):
                total += say_too(n, pos + 1, r)
        # an item of a "；"-parted list is said with the list's first part, which holds its lead-in
        # ("以下商品一经售出不予退货：礼品卡和数字兑换码；已拆封的软件和游戏；已拆封的入耳式耳机；…"): alone,
        # "已拆封的入耳式耳机" answered "耳机拆封了可以退货吗？" without its "不予退货". (Not an item that names
        # itself, "重疾绿通：…", of a list of such: the colon before the first one is that item's)
        for n, pos, sent, r in list(said):
            if ":" in sent or "：" in sent:
                continue
            first = pos
            while (prior_part := place.get((n, first - 1))) is not None and _stops_at_semicolon(every[prior_part][2]):
                first -= 1
            if first < pos and _LIST_LEAD.match(every[place[(n, first)]][2]):
                total += say_too(n, first, r)
        # a table's row said where the question names none of its table's rows ("How long is the
        # warranty?", "How long do you keep my data?", "... on a washing machine?" where no row
        # names one) is one entry of several the question asks about alike: said alone it answers
        # as if the first row were the whole answer ("Laptops and tablets: 2 years"). The table's
        # other rows are said with it, in the table's order, where all of them fit
        for n, pos, _, r in list(said):
            run = _run_of(place, row, n, pos)
            if not run or any(names_asked[j] for j in run.values()):
                continue
            rest = [p for p in run if (n, p) not in places]
            # with its lead-in ("Periods by product category:"), which says what the rows are
            first = min(run)
            lead_in = place.get((n, first - 1))
            if lead_in is not None and (n, first - 1) not in places and _leads_in(every[lead_in][2]):
                rest.insert(0, first - 1)
            if rest and total + sum(len(every[place[(n, p)]][2]) + 1 for p in rest) <= self.max_chars:
                for p in rest:
                    total += say_too(n, p, r)
        # a row said so, that a change in force among the passages changed, is said with the change
        # before it: "What's the difference between Plus and Premier?" was told the table's "Daily ATM
        # cash withdrawal limit; Plus: £500; Premier: £1,000" as if the notice's "... on the Plus account
        # increases from £500 to £750" (in force) were not among the passages (QA 2026-12-07)
        for n, pos, sent, r in list(said) if changes else []:
            if (n, pos) in looked or (j := _change_of(sent, changes, every, plain, q_terms, hits, today)) is None:
                continue
            m, at, _ = every[j]
            if (m, at) not in places:
                total += say_too(m, at, r)
            beside.setdefault((m, at), (n, pos))
        # a how-to question answered by a numbered list's step is told the steps of that list, in
        # order, as many as fit: "How do I switch to eSIM?" said steps 1 and 2 of 5, and a list
        # too long for the answer's room said steps 2, 3 and 5 of 12 where it now says 1 to 7
        if how_to:
            for n, pos, _, r in list(said):
                for p in _run_of(place, numbered, n, pos):
                    if (n, p) not in places:
                        added = say_too(n, p, r)
                        if not added:
                            break
                        total += added
        # a question that asks for a kind of answer ("退货需要多长时间退款？": a duration) is answered
        # first by the run that says it, however many of its words an earlier run shares
        lead = 1.0 if any(says_kind) else 0.0
        # and the row that answers the question, where it gives that kind, first of all: "How much
        # is the Max plan?" opened with the family discount's "20% off its monthly price", which
        # names the plan too, before the plan's row and its $50
        named_at = cands[answers_row][:2] if answers_row is not None and answers_row in picked and fit[answers_row] else None
        order = reading_order(
            [(n, pos) for n, pos, _, _ in said],
            [r + lead * (k + ((n, pos) == named_at)) for (n, pos, _, r), k in zip(said, says_kind, strict=True)],
            leaning,
            rows,
        )
        said = [said[k] for k in order]
        # a lead-in that the next sentence of its passage does not follow in the answer (no room,
        # or nothing quotable follows it) is left out ("The warranty starts on the delivery date
        # [1]. Periods by product category: [1]")
        said = [
            s for j, s in enumerate(said)
            if not _leads_in(s[2]) or (j + 1 < len(said) and said[j + 1][:2] == (s[0], s[1] + 1))
        ] or said
        said = _lead_said_once(said, lambda n, pos: _item_lead(every, lexical, row, place.get((n, pos))))
        # a reply is said first or not at all: after another sentence, an entry's "No." kept for a
        # yes-or-no paraphrase of its question answers nothing ("Service dogs travel free of
        # charge [1]. No. Pets are not allowed on our flights, except trained service dogs [2].")
        said = [
            (n, pos, sent if j == 0 or replies.get(n, False) else _without_reply(sent, unsplit=True), r)
            for j, (n, pos, sent, r) in enumerate(said)
        ]
        whole = None if narrowed else self._whole_entry(hits, said, replies, split_off)
        if whole is not None and whole[0] in fragments_held:
            whole = None
        if whole is not None:
            n, answer = whole
            r = max(r for *_, r in said)
            return Composed(mark_sentences(answer, [n], lang), tuple((n, sent, r) for sent in split_sentences(answer)))
        said = _cells_asked(question, kind, said, hits)
        # a rule said beside the change of it, for what else it says, is told after the change, not
        # first with the rest of its passage: "退号怎么退" and "网上退号随时都可以吗" quoted "患者可在就诊前一天17:00前…
        # 免费退号" and the rest of the old rules first, and the notice's "由就诊前一天17:00延长至就诊当天上午7:00" last,
        # as if the old rule held (QA 2026-12-07)
        for notice_at, rule_place in beside.items():
            at_of = {(n, pos): k for k, (n, pos, _, _) in enumerate(said)}
            # (where it still says the old amount as told: "What is the daily ATM limit on Premier?"
            # is told the row's Premier cell, which the Plus limit's change did not change)
            if (
                notice_at in at_of and rule_place in at_of and at_of[notice_at] > at_of[rule_place]
                and supersedes(said[at_of[notice_at]][2], said[at_of[rule_place]][2])
                # (an entry's "No." is said first or not at all, above)
                and (at_of[rule_place] or replies.get(rule_place[0], False)
                     or _without_reply(said[0][2], unsplit=True) == said[0][2])
            ):
                said.insert(at_of[rule_place], said.pop(at_of[notice_at]))
        if said:
            n, pos, last, r = said[-1]
            said[-1] = (n, pos, _ended(last), r)
        text = join_sentences([render_sentence(sent, [n], lang) for n, _, sent, _ in said], lang)
        return Composed(text, tuple((n, sent, r) for n, _, sent, r in said))

    def _whole_entry(
        self, hits: Sequence[Hit], said: Sequence[tuple[int, int, str, float]], replies: dict[int, bool], split_off: dict[int, bool]
    ) -> tuple[int, str] | None:
        """(its passage number, its answer as written) where every sentence ``said`` is of one
        curated FAQ entry, whose answer fits ``max_chars`` and stands in its passage as written
        (no instruction redacted from it), and which quotes each of those sentences as written;
        else None. A reply ("Yes.", "Yes, choose ...") left out for another question than the
        entry's (``replies``: whether each passage's may be quoted; ``split_off``: whether its
        "No." that the splitter leaves on counts as one) is not said back: "and how long does it
        take?" after express shipping's price was told "Yes. Express delivery arrives the next
        business day", the "Yes" of "Do you offer express delivery?".

        A curated answer is written to be said whole: three of its sentences, picked and ordered
        by relevance, left out what qualifies them ("A diagnosis with coronavirus 229E ... is not
        the same as a COVID-19 diagnosis", without "Patients with COVID-19 will be evaluated
        ..."). On covid-faq token F1 went from 0.639 to 0.683: 58 answers changed, 50
        better, 4 worse (each of those 4 from another entry than the labelled one); no other dev
        set's answer changed but one of the Chinese shop FAQ's (0.877 -> 0.879)."""
        numbers = {n for n, *_ in said}
        if len(numbers) != 1:
            return None
        n = numbers.pop()
        chunk = hits[n - 1].chunk
        answer = (chunk.answer or "").strip()
        if (
            chunk.kind != "faq" or not answer or len(answer) > self.max_chars
            or same_words(answer, chunk.question or "") or answer not in hits[n - 1].passage
            or not all(_squeezed(sent) in _squeezed(answer) for _, _, sent, _ in said)
            or (not replies.get(n) and any(
                _is_bare_reply(t) or _without_reply(t, unsplit=split_off.get(n, True)) != t for t in split_sentences(answer)
            ))
        ):
            return None
        return n, answer


def _squeezed(text: str) -> str:
    """``text`` without its spaces, line breaks, semicolons and full stops: a list read as one
    sentence ("...these actions: Cover your cough; Avoid people who are sick.") is found in the
    text that writes it one item a line, without the full stop the sentence was given."""
    return _SQUEEZE.sub("", text)


_SQUEEZE = re.compile(r"[\s;；.。]+")

# the most words a lead-in has: a longer sentence that ends with a colon says something itself (a
# table's rows before a page's "分享到：")
LEAD_IN_MAX_WORDS = 30


def _run_of(place: dict[tuple[int, int], int], member: Sequence[bool], n: int, pos: int) -> dict[int, int]:
    """The run of consecutive candidates of passage ``n`` that are ``member``s (a table's rows, a
    numbered list's steps) that the sentence at ``pos`` is one of: each one's position -> its
    candidate number, in the passage's order ({} where it is none)."""
    j = place.get((n, pos))
    if j is None or not member[j]:
        return {}
    first = pos
    while (k := place.get((n, first - 1))) is not None and member[k]:
        first -= 1
    run: dict[int, int] = {}
    p = first
    while (k := place.get((n, p))) is not None and member[k]:
        run[p] = k
        p += 1
    return run


# a table's column whose cells qualify the row's others ("Notes", "备注"): said with any of its cells
_NOTE_HEADER = re.compile(r"\b(?:notes?|remarks?|conditions?|comments?)\b|备注|说明|注意", re.IGNORECASE)
# the kinds of answer (:func:`answer_kind`) that pick a row's cells where the question names no
# column: "number" would keep almost every cell of a table of figures
_CELL_KINDS = frozenset({"money", "duration", "time", "distance", "contact"})
_FIGURE = re.compile(r"\d")


def wording_spaced(text: str) -> str:
    """``text``'s words in lower case, one space apart (punctuation a space): a phrase stands in a
    text where its wording, spaced, stands in the text's."""
    return " ".join(_NOT_WORDS.split(to_simplified(text).lower())).strip()


_NOT_WORDS = re.compile(r"[\W_]+")


def asked_cells(
    question: str, pairs: Sequence[tuple[str, str]], kind: str | None = None
) -> tuple[tuple[str, str], ...] | None:
    """The cells of a table row, its (column header, cell) pairs (:func:`table_row_cells`), that
    ``question`` asks for, where it names some of its columns better than the others: the first
    cell (what the row is of), the cells of the columns whose headers it names best, two thirds of
    their terms at least, and the notes (:data:`_NOTE_HEADER`). Where it names no column, and asks
    for a kind of answer (``kind``, :func:`answer_kind`; not a mere number, which most cells are),
    the cells that give one with their headers. None where that is every cell, or none.
    "2022年陕西省理工/物理类金融学类的最低录取分数线" was told the row's four scores, "文史/历史类 最高：634"
    first, where it asks for "理工/物理类 最低：673"; "How much data do I get on Plus?" the plan's price
    and calls as well, and "How much is Plus?" its data."""
    if len(pairs) < 3:
        return None
    asked, written = set(tokenize(question)), to_simplified(question)

    def named(header: str) -> float:
        """The share of ``header``'s terms that the question names (a Chinese term where its
        characters stand in it: jieba cuts "分数线" and the header "最低分" apart)."""
        terms = set(tokenize(header))
        held = sum(1 for t in terms if t in asked or (is_cjk_char(t[0]) and t in written))
        return held / len(terms) if terms else 0.0

    # a column whose header the question names with the row's cell in it says which row is asked
    # about, not what is asked of it: "What is the per diem for other cities in France?" names the
    # column "City" by "cities" and was told "Country: France; City: Other cities", no rate; so was
    # "the daily rate for other cities", where "City" (1 of 1 terms) named more than "Daily rate
    # (EUR)" (2 of 3). Its cell is said, as the row's (QA 2026-12-07)
    # (the cell as written, "Other cities", not its terms: "Which city has the highest rate?" names
    # every "Other cities" cell by "city")
    key = [named(h) > 0 and _said_in(c, question) for h, c in pairs[1:]]
    share = [0.0 if k else named(h) for (h, _), k in zip(pairs[1:], key, strict=True)]
    best = max(share)
    if best >= 2 / 3:
        keep = [x == best for x in share]
        # a column of names named best says of which rows, where one of figures is named too: "What
        # is the daily rate for each city?" was told "City: Berlin", no rate (QA 2026-12-07)
        if not any(k and _FIGURE.search(c) for k, (_, c) in zip(keep, pairs[1:], strict=True)):
            keep = [k or (x >= 2 / 3 and bool(_FIGURE.search(c))) for k, x, (_, c) in zip(keep, share, pairs[1:], strict=True)]
    elif kind in _CELL_KINDS:
        keep = [not k and holds_answer_kind(kind, f"{h} {c}") for (h, c), k in zip(pairs[1:], key, strict=True)]
    else:
        return None
    kept = (
        pairs[0],
        *(p for p, k, y in zip(pairs[1:], keep, key, strict=True) if k or (y and any(keep)) or _NOTE_HEADER.search(p[0])),
    )
    return kept if any(keep) and len(kept) < len(pairs) else None


def _cells_asked(
    question: str, kind: str | None, said: list[tuple[int, int, str, float]], hits: Sequence[Hit]
) -> list[tuple[int, int, str, float]]:
    """``said`` with each table row said only by the cells the question asks for
    (:func:`asked_cells`; ``kind``: the kind of answer it asks), in its passage's language."""
    rows: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {}
    out = []
    for n, pos, sent, r in said:
        passage = hits[n - 1].passage
        written_in = "zh" if is_cjk_lang(hits[n - 1].chunk.lang) else "en"
        if n not in rows:
            rows[n] = table_row_cells(passage, written_in) if "|" in passage else {}
        pairs = rows[n].get(words_key(sent))
        cells = asked_cells(question, pairs, kind) if pairs else None
        out.append((n, pos, row_sentence(cells, written_in) if cells else sent, r))
    return out


# a sentence that makes an exception to the one before it
_EXCEPTION = re.compile(
    r"(?i)^\W*(?:the\s+(?:only\s+)?exceptions?\b|an\s+exception\b|except\b|exceptions?:|unless\b|this\s+does\s+not\s+apply"
    r"|(?:but|however),?\s+(?:not|this\s+does\s+not|it\s+does\s+not|you\s+cannot|you\s+can'?t)\b"
    r"|唯一的?例外|例外[：:是]|以下情况除外|但(?:是)?[^。！？]{0,12}(?:除外|不适用|不能|不可以|无法))"
)
# how much of a step's wording says which step a sentence is
_STEP_KEY = 24


_CELL_NAME = re.compile(r"(?:^|[;；，])\s*([^:：;；，]+)[:：]")


def _label_text(sentence: str) -> str:
    """A table row's first cell as written, without a note in brackets, lower-cased and simplified."""
    return " ".join(re.sub(r"[(（][^()（）]*[)）]", " ", row_cells(sentence)[0]).split()).lower()


def _inside_longer_name(label: str, other: str, question: str) -> bool:
    """Whether ``label`` (a row's, :func:`_label_text`) holds the name the question says only after
    more of a name that the question does not say, where ``other`` (a row's of the same table) opens
    with that name: then the row is of another thing. "经济舱改签多少钱" named "超级经济舱（W）" as
    much as "经济舱全价（Y/B）", and was told the 超级经济舱 row first; "高层物业费多少钱一平" "小高层
    住宅 1.80" before "高层住宅 2.20" (QA 2026-12-07). As "Premium Economy" is not "Economy"."""
    asked = to_simplified(question).lower()
    cjk = has_cjk(other)
    for end in range(len(other), 1, -1):
        name = other[:end].strip()
        if len(name) < 2 or name not in asked or (not cjk and (len(name) < 3 or not re.match(r"\W|$", other[end:end + 1] or ""))):
            continue
        at = label.find(name)
        if at <= 0 or (not cjk and label[at - 1] != " "):
            return False
        before = label[:at].strip()
        # (a question that says the longer name names its row: "超级经济舱改签多少钱")
        return bool(before) and before not in asked
    return False


def _row_headers(sentence: str) -> tuple[str, ...]:
    """The headers a table's row, as the composer reads it, names its cells by ("Plan: Max;
    Price per month: $50" reads ("Plan", "Price per month")): the rows of one table read the same."""
    return tuple(name.strip() for name in _CELL_NAME.findall(sentence))


def _said_in(cell: str, question: str) -> bool:
    """Whether ``question`` says ``cell`` as it is written (its words, in their order)."""
    said = wording_spaced(cell)
    if not said:
        return False
    return said in to_simplified(question) if has_cjk(said) else f" {said} " in f" {wording_spaced(question)} "


def _cells_said(sentence: str, question: str) -> int:
    """How many of a table row's cells (:func:`row_cells`) ``question`` says as written."""
    return sum(1 for cell in row_cells(sentence) if _said_in(cell, question))


def _without_cells_said(question: str, sentences: Sequence[str]) -> str:
    """``question`` (simplified) without the table cells of ``sentences`` (rows) that it says."""
    text = to_simplified(question)
    for cell in {c for s in sentences for c in row_cells(s) if _said_in(c, question)}:
        text = re.sub(re.escape(cell.rstrip(".。")), " ", text, flags=re.IGNORECASE)  # said without the row's end
    return text


def _item_lead(
    every: Sequence[tuple[int, int, str]], own: Sequence[str | None], row: Sequence[bool], j: int | None
) -> str:
    """The lead-in that candidate ``j``, a list's item read with it ("How to start a return: Sign
    in ..."), opens with; "" for any other sentence (a table's row reads its headers, not a lead)."""
    if j is None or row[j] or not own[j]:
        return ""
    text, words = every[j][2], own[j] or ""
    at = text.find(words)
    lead = text[:at] if at > 0 else ""
    return lead if lead.rstrip().endswith((":", "：")) else ""


def _whole_list(
    question: str,
    q_terms: set[str],
    picked: Sequence[int],
    keep: Sequence[int],
    every: Sequence[tuple[int, int, str]],
    own: Sequence[str | None],
    row: Sequence[bool],
    section: Sequence[str],
    place: dict[tuple[int, int], int],
    max_chars: int,
) -> list[tuple[int, int]]:
    """The places (passage number, position) of the items of the list that answers ``question``
    whole, in the list's order; [] where none does. A question for what a class holds ("有哪些好处",
    "What are the benefits of Gold membership?", "Which documents do I need?") asks for every
    member, where a list too long to be one sentence is read item by item after its lead-in
    (:func:`list_items_as_sentences`) and only the items that name the question's words are
    picked. The list of an item ``picked`` (best first; each a candidate of ``keep``), else a list
    of the passage the first picked sentence is of (``every``: all candidates, ``own``: each one's
    own words, ``row``: whether it is a table's row, ``section``: its heading), is the answer where its lead-in or section heading names every term of the question but the
    words it asks for members by (:func:`~indexes.text.members_asked`) and its asking verbs, and
    names something asked (a term, or the class: "Required documents:"): no item then answers a
    narrower ask ("VIP住院垫付需要哪些材料" names 住院垫付, which only an item names); nor is a list
    whose lead-in or heading names a class of another kind than the one asked for
    (:func:`class_kind`: "VIP权益" answers "VIP有啥好处", not "VIP有哪些条件"). At most
    :data:`_LIST_ANSWER_MAX` items, from the first, as many as ``max_chars`` holds (at least one)."""
    asks = members_asked(question)
    if not asks:
        return []
    framing = set(tokenize(" ".join(asks))) | _MEMBERS_VERBS
    asked_kinds = _class_kinds(" ".join(class_words(question)))
    rest = frozenset(q_terms - framing)
    # the lists of the items picked first, then those of the passage the answer opens with ("VIP有
    # 什么好处" may pick the passage's sentence on who becomes a VIP, which names VIP as the list's
    # heading does, and no item)
    first_passage = every[keep[picked[0]]][0] if picked else 0
    tried = dict.fromkeys([keep[i] for i in picked] + [j for j, (n, _, _) in enumerate(every) if n == first_passage])
    for j in tried:
        lead = _item_lead(every, own, row, j)
        if not lead:
            continue
        about = f"{lead} {section[j]}"
        if named_terms(rest, about) != rest or not (rest or named_terms(frozenset(q_terms), about)):
            continue
        # a list of another kind than the one asked for ("VIP有哪些条件", under "VIP权益") is not it
        heads_kinds = _class_kinds(about)
        if asked_kinds and heads_kinds and not asked_kinds & heads_kinds:
            continue
        n, pos, _ = every[j]
        first = pos
        while _item_lead(every, own, row, place.get((n, first - 1))) == lead:
            first -= 1
        out: list[tuple[int, int]] = []
        total = 0
        p = first
        while len(out) < _LIST_ANSWER_MAX and _item_lead(every, own, row, (k := place.get((n, p)))) == lead:
            assert k is not None
            total += len(every[k][2])
            if out and total > max_chars:
                break
            out.append((n, p))
            p += 1
        return out if len(out) > 1 else []
    return []


def _lead_said_once(
    said: list[tuple[int, int, str, float]], lead_of: Callable[[int, int], str]
) -> list[tuple[int, int, str, float]]:
    """``said`` with a list's items said under their lead-in once, the first time an item of that
    list is said: the eight steps of "How do I start a return?" each opened with "How to start a
    return:" (and "What is the last step ...?", answered with step 6, then steps 1 and 2, said it
    twice)."""
    out = list(said)
    led: set[tuple[int, str]] = set()  # (passage number, lead-in) said already
    for k, (n, pos, sent, r) in enumerate(said):
        lead = lead_of(n, pos)
        if lead and (n, lead) in led:
            out[k] = (n, pos, sent[len(lead) :].lstrip(), r)
        elif lead:
            led.add((n, lead))
    return out


def _numbered_steps(passage: str) -> frozenset[str]:
    """The start of the wording (:func:`wording`) of each item of ``passage``'s numbered lists
    ("1. Check that your phone supports eSIM"), by which a sentence read from one is known: the
    list items the composer reads (:data:`LIST_ITEM`) whose mark is a number."""
    return frozenset(
        wording(m.group(1))[:_STEP_KEY]
        for line in _lines_as_read(passage).split("\n")
        if (m := numbered_step(line))
    ) - {""}


def _class_kinds(text: str) -> set[str]:
    """The kinds of class (:func:`~indexes.text.class_kind`) the words of ``text`` name."""
    return {c for t in tokenize(text) if (c := class_kind(t))}


def _class_kind_of(label: str) -> set[str]:
    """The kind of class a heading or lead-in ``label`` names by its last such word, the noun it is
    headed with ("Required documents": documents; "所需材料": 材料), as a set (empty: none)."""
    kinds = [c for t in tokenize(label) if (c := class_kind(t))]
    return set(kinds[-1:])


# the lead-in a list read as one sentence opens with ("Required documents: ...", "所需材料：...")
_LEAD_WORDS = re.compile(r"^([^:：。.!?！？]{1,40})[:：]")


def _lead_words(sentence: str) -> str:
    """The lead-in ``sentence`` opens with, before its colon; "" where it has none."""
    m = _LEAD_WORDS.match(sentence)
    return m.group(1) if m else ""


# a list's lead-in and its first item, parted by a colon ("以下商品一经售出不予退货：礼品卡和数字兑换码；")
_LIST_LEAD = re.compile(r"[^:：]{2,40}[:：]\s*\S")


# a thing named by a word and its number or letter ("Zone 3", "Tier 2", "Plan B", "Terminal 5")
_NUMBERED_LABEL = re.compile(r"\b([A-Z][a-z]{2,}|[a-z]{3,})\s+(\d{1,3}|[A-Z])\b(?![.,]\d)")
# words before a number that count or measure, not name ("within 3", "up to 5", "costs 2", "Step 4")
_NOT_A_LABEL = frozenset({
    "within", "than", "about", "over", "under", "only", "least", "most", "every", "from", "until", "after", "before",
    "costs", "cost", "take", "takes", "for", "and", "the", "are", "was", "were", "with", "per", "step", "page", "item",
    "option", "section", "chapter", "article", "table", "figure", "line", "row", "day", "days", "year", "years",
    "call", "dial", "press", "text", "code", "version", "model", "number", "room", "ext", "extension", "vitamin",
    "can", "could", "should", "would", "will", "shall", "may", "might", "must", "does", "did", "has", "have", "had",
    "since", "what", "which", "when", "where", "how", "why", "who", "whom", "whose", "that", "this", "these", "those",
    "there", "then", "also", "just", "still", "get", "got", "need", "needs", "use", "using", "ages", "aged", "age",
})


def numbered_labels(text: str) -> dict[str, str]:
    """The things ``text`` names by a word and its number or letter, the word (lower case) to the
    number: {"zone": "3"} for "How much is data in Zone 3?"."""
    out: dict[str, str] = {}
    for m in _NUMBERED_LABEL.finditer(text):
        word = m.group(1).lower()
        if word not in _NOT_A_LABEL and (m.group(2).isdigit() or m.group(1)[0].isupper() and m.group(2) not in "IA"):
            out.setdefault(word, m.group(2))
    return out


# the names a thing's word goes on to give ("Plans A and B", "Zones 2 and 3", "Zones 1 to 3", "Level 2
# or above", "Pixel 7 and later")
_LABEL_RUN = re.compile(
    r"\b([A-Z][a-z]{2,})\s+(\d{1,3}|[A-Z])\b((?:\s*(?:,|and|or|to|-|–|&)\s*(?:\d{1,3}|[A-Z])\b)*)"
    r"(\s*(?:and|or)\s+(?:later|above|up|higher|newer|over|more|beyond)\b|\+)?"
)


def _of_another_label(sentence: str, labels: Mapping[str, str]) -> bool:
    """Whether ``sentence`` names only others of a thing the question names by its number: "In
    Zone 1 you can use your UK allowance at no extra cost" said nothing of Zone 3, and was quoted for
    "How much is data in Zone 3?" (a QA round's roaming page), whose answer stood in the next
    sentence, which names no zone. A sentence that names the one asked among others ("Plans A and
    B", "Zones 1 to 3"), or from one on ("Level 2 or above", "Pixel 7 and later"), is of it."""
    if not labels:
        return False
    said: dict[str, set[str]] = {}
    ranged: set[str] = set()
    for m in _LABEL_RUN.finditer(sentence):  # (a document writes a thing's name capitalized, "Zone 1")
        word = m.group(1).lower()
        word = word[:-1] if word.endswith("s") and word[:-1] in labels else word
        names = [m.group(2), *re.findall(r"\d{1,3}|\b[A-Z]\b", m.group(3))]
        if "to" in m.group(3) or "-" in m.group(3) or "–" in m.group(3):
            if all(n.isdigit() for n in names):
                names = [str(i) for i in range(int(min(names, key=int)), int(max(names, key=int)) + 1)]
        if m.group(4):
            ranged.add(word)
        said.setdefault(word, set()).update(names)
    return any(word in said and word not in ranged and number not in said[word] for word, number in labels.items())


def _leads_in(sentence: str) -> bool:
    """Whether ``sentence`` introduces what follows it: a short one that ends with a colon."""
    return sentence.rstrip(CLOSERS + " ").endswith((":", "：")) and len(tokenize(sentence)) <= LEAD_IN_MAX_WORDS


# a passage that says what currency its figures are in ("单位：元", "in USD", "(EUR)")
_MONEY_UNIT = re.compile(r"单位[:：]\s*(?:人民币)?(?:元|万元|美元|欧元|英镑)|[（(](?:元|人民币元|USD|EUR|GBP|\$|€|£)[)）]|\bin\s+(?:USD|EUR|GBP|dollars|euros|pounds)\b", re.I)


def _priced_table(hit: Hit) -> bool:
    """Whether ``hit``'s tables are of prices: its title or section names a price ("运费价格表", "Costs
    by plan tier", "Fees"), or its text says the currency its figures are in ("单位：元")."""
    return bool(price_terms(f"{hit.chunk.title} {section_path(hit.chunk)}")) or bool(_MONEY_UNIT.search(hit.passage))


def _change_of(
    sent: str, changes: Sequence[int], every: Sequence[tuple[int, int, str]], words: Sequence[set[str]],
    q_terms: set[str], hits: Sequence[Hit], today: datetime.date | None = None, whole: str | None = None,
) -> int | None:
    """Of the candidates ``changes`` (places in ``every``: passage number, position, sentence) that
    say a rule changed, of those that say the rule ``sent`` states has changed, name a term of the
    question (``words``: each candidate's terms) and are in force ``today`` (:func:`indexes.
    quantity.supersedes`, :func:`indexes.quantity.in_force`), the one sharing most words with the
    rule (the first of those tied); None where none does. ``whole``: the
    row as its passage writes it, where ``sent`` is that row without the cells a change replaced."""
    # (of several, the one that shares the most words with the rule: "I get TH-413 uploading a 40 MB
    # file on Free" was told the error row's "(25 MB on Free, 250 MB on Team, 2 GB on Enterprise)" with
    # the storage change "(previously 2 GB)", said first in its notice, and not the upload limit's
    # "raised to 50 MB (previously 25 MB)" after it (QA 2026-12-07))
    rule_words = set(tokenize(sent))
    found = [
        j for j in changes
        if every[j][2] != sent and q_terms & words[j] and supersedes_now(every[j][2], sent, hits[every[j][0] - 1].passage, today)
        and _of_subject(every[j][2], whole or sent, every) and _changes_change(every[j][2], sent)
    ]
    return max(found, key=lambda j: len(rule_words & set(tokenize(every[j][2]))), default=None)


def _unchanged_row(change: str, pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...] | None:
    """A table row's (column header, cell) ``pairs`` without the cells that ``change`` replaces:
    those that state one of its old amounts (:func:`indexes.quantity.changed_from`), of them those
    whose column header the change writes where some are; None where it replaces none of the row's
    cells or every one that states a figure. A notice that changes two of a fare's four
    time bands leaves the other two as the table says them."""
    olds = changed_from(change)

    def old(cell: str) -> bool:
        return any(
            q.value == o.value and (q.unit is None or o.unit is None or q.unit == o.unit) for q in quantities(cell) for o in olds
        )

    stated = [k for k, (_, cell) in enumerate(pairs) if k and old(cell)]
    written = f" {wording_spaced(change)} "
    named = [
        k for k in stated
        if pairs[k][0] and (wording_spaced(pairs[k][0]) if has_cjk(pairs[k][0]) else f" {wording_spaced(pairs[k][0])} ") in written
    ]
    gone = set(named or stated)
    kept = tuple(p for k, p in enumerate(pairs) if k not in gone)
    # (a figure left among them: the 偏远区 row whose prices a notice changed keeps only its 包含省份：新疆、西藏,
    # which says no fee)
    return kept if gone and any(_FIGURE.search(cell) for _, cell in kept[1:]) else None


def _without_old_clauses(rule: str, change: str) -> str:
    """``rule`` without each clause after its first (parted by commas) that states an old amount of
    ``change`` (:func:`indexes.quantity.supersedes`) and no word the change does not write: "凭业主身份证…
    补办，每张30元，当场办结" without its "，每张30元" beside "门禁卡补办费用由每张30元调整为每张20元". (Not one that
    says more: "unused premium is refunded pro rata" beside "the cancellation fee was reduced from
    $25 to $15".)"""
    pieces = re.split(r"([，,](?!\d))", rule)
    kept, dropped = pieces[:1], False
    for sep, clause in zip(pieces[1::2], pieces[2::2], strict=False):
        body = clause.rstrip("。.；;！!？? ")
        if body and supersedes(change, body) and not _says_more(body, change):
            dropped = True
            kept[-1] += clause[len(body):]  # (its end mark, where it ends the sentence)
            continue
        kept += [sep, clause]
    return "".join(kept) if dropped else rule


def _changes_change(change: str, rule: str) -> bool:
    """Whether ``change`` may change ``rule`` where ``rule`` is a change too: its old amount is one
    the rule states in the same unit, or both without one. A notice's changes are each of their
    own subject: "Team workspaces now get 250 GB of storage per workspace (previously 100 GB)" was
    dropped for "How much storage does the Team plan include?", read as changed by the next
    sentence's "raised to 1,000 runs per month (previously 250 runs per month)", whose 250 has no
    unit (QA 2026-12-07). A rule that is no change is read as before (:func:`supersedes`)."""
    if not changed_from(rule):
        return True
    said = quantities(rule)
    return any(q.value == old.value and q.unit == old.unit for old in changed_from(change) for q in said)


def _still_says(older: str, newer: str, q_terms: set[str]) -> bool:
    """Whether ``older``, a change that the change ``newer`` changed in turn, still says a new value
    that ``newer`` leaves as it is, and the question names nothing only of the part ``newer``
    changed: "寄西藏续重多少钱" was told only "首重价格由25元下调为22元，续重价格不变", and not the older notice's
    "续重价格由每公斤15元调整为每公斤18元" beside its 首重 25元 (QA 2026-12-07); "寄新疆首重多少钱" asks only
    what the newer one changed."""
    olds = changed_from(newer)

    def replaced(news: list[Quantity]) -> bool:
        return any(q.value == o.value and (q.unit is None or o.unit is None or q.unit == o.unit) for q in news for o in olds)

    parts = [(subject, replaced(news)) for subject, _, news in changed_parts(older) if news]
    kept = " ".join(subject for subject, gone in parts if not gone)
    if not kept:
        return False
    gone = " ".join(subject for subject, gone in parts if gone)

    def writes(text: str) -> Callable[[str], bool]:
        text = to_simplified(_NOTE.sub(" ", text))
        terms = set(tokenize(text))
        return lambda t: t in terms or (is_cjk_char(t[0]) and t in text)

    in_gone, in_kept = writes(gone), writes(kept)
    return not any(in_gone(t) and not in_kept(t) for t in q_terms if not any(c.isdigit() for c in t))


_NOTE = re.compile(r"[（(][^）)]*[）)]")  # a note in brackets: "首重（1公斤）"


def _says_more(rule: str, change: str) -> bool:
    """Whether ``rule`` says a word, not an amount, that ``change`` does not write (a Chinese word
    whose characters all stand in the change is written there: jieba cuts "保价费为" into 保价 and 费为)."""
    words, text = set(tokenize(change)), to_simplified(change)
    return any(
        not any(c.isdigit() for c in t) and t not in words and not (is_cjk_char(t[0]) and all(c in text for c in t))
        for t in tokenize(rule)
    )


def _writes_subject(change: str, rule: str) -> bool:
    """Whether ``change`` names what it changed (:func:`indexes.quantity.changed_subject`: "Paid
    bereavement leave on the death of a close family member", of "... is increased from 5 days to 7
    days") in words that ``rule`` all writes; a date, an amount and a name the rule does not write
    ("The overdraft fee for Everyday and Plus Checking" of "Premier Checking costs $35") do not."""
    subject = changed_subject(change)
    terms = {t for t in tokenize(subject or "") if not any(c.isdigit() for c in t)}
    words, text = set(tokenize(rule)), to_simplified(rule)
    return bool(terms) and all(t in words or (is_cjk_char(t[0]) and t in text) for t in terms)


def _of_subject(change: str, rule: str, every: Sequence[tuple[int, int, str]]) -> bool:
    """Whether ``rule``, which states an old amount of ``change`` (:func:`indexes.quantity.
    supersedes`), is of what the change is of: no other sentence of its passage (``every``: passage
    number, position, sentence) that states one too names more of the change's words. An amount
    alone may be another row's of the same table: "寄往新疆、西藏的快件，首重（1公斤）价格由20元调整为25元，续重价格
    由每公斤15元调整为每公斤18元" replaced the price table's 二区 row (首重15元) and its worked example
    (运费＝15＋6×3) for "寄5公斤到湖南多少钱", where its 偏远区 row (新疆、西藏: 20元, 15元) is the one it
    changed (QA 2026-12-07). (Sentences of other passages, an FAQ's and a handbook's, may both
    state the old rule: each is replaced.)"""
    at = next((n for n, _, s in every if s == rule), None)
    # (with the clause before it, where it goes on from one that ends at a semicolon: "开航前2小时以内
    # 改期的，由票面价20%调整为…" is of the 一等舱 that the clause before names, not of the 二等舱 row that
    # states 20% too (QA 2026-12-07))
    own_at = next((k for k, (_, _, s) in enumerate(every) if s == change), None)
    lead = ""
    if own_at and every[own_at - 1][0] == every[own_at][0] and _stops_at_semicolon(every[own_at - 1][2]):
        lead = every[own_at - 1][2]
    terms = {t for t in tokenize(f"{lead} {change}") if not any(c.isdigit() for c in t)}

    def shared(sentence: str) -> int:
        return len(terms & set(tokenize(sentence)))

    own = shared(rule)
    return all(
        shared(other) <= own for n, _, other in every
        if n == at and other not in (rule, change) and supersedes(change, other)
    )


def _stops_at_semicolon(sentence: str) -> bool:
    """Whether ``sentence`` is a clause that stops at a semicolon (a sentence of its own to
    :func:`~indexes.text.split_sentences`)."""
    return sentence.rstrip().endswith(("；", ";"))


def _ended(sentence: str) -> str:
    """The last sentence of an answer, ended: a clause that stops at a semicolon ("退货后，该商品获得
    的积分将被扣回；", :func:`_stops_at_semicolon`) ends with a full stop, not as if the answer broke
    off."""
    if not _stops_at_semicolon(sentence):
        return sentence
    body = sentence.rstrip()
    return body[:-1] + ("。" if body.endswith("；") else ".")


def reading_order(
    spots: Sequence[tuple[int, int]],
    rel: Sequence[float],
    leans: Sequence[bool] | None = None,
    rows: Sequence[frozenset[str] | None] | None = None,
) -> list[int]:
    """The order in which to say the chosen sentences, given each one's (passage number, position
    in it), relevance and whether it leans on what precedes it (:func:`leans_on_previous`):
    consecutive sentences of one passage as they are written (the second may build on the first:
    "Yes. There have been cases in the U.S."), and so one that leans on an earlier chosen one of
    its passage, and such runs best first, by the most relevant sentence each holds, so that the
    answer comes first ("How do I reset my password?" is not answered with how to create an
    account, then "Choose Forgot password"). ``rows``: for a table's row
    (:func:`table_rows_as_sentences`), the question's terms it holds, else None. No row builds on
    the one above it: of consecutive rows, those that name more of what the question asks than
    all of them do (their column headers say which column is asked for, not which row) are said
    first ("And on a phone?": the phones' row before the laptops' above it), the others in the
    table's order ("What data do you keep?")."""
    runs: list[list[int]] = []
    last_run: dict[int, list[int]] = {}  # passage number -> its run that ends latest
    for i in sorted(range(len(spots)), key=lambda i: spots[i]):
        n, pos = spots[i]
        prev = last_run.get(n)
        if prev is not None and (spots[prev[-1]][1] + 1 == pos or (leans is not None and leans[i])):
            prev.append(i)
        else:
            runs.append([i])
            last_run[n] = runs[-1]
    if rows is not None:
        for run in runs:
            ordered: list[int] = []
            for in_table, part in _runs(run, lambda i: rows[i] is not None):
                if in_table:
                    terms = {i: rows[i] or frozenset() for i in part}
                    every = frozenset.intersection(*terms.values())
                    part.sort(key=lambda i: -len(terms[i] - every))  # stable: the table's order
                ordered.extend(part)
            run[:] = ordered
    runs.sort(key=lambda run: -max(rel[i] for i in run))  # stable: passage order among equals
    return [i for run in runs for i in run]


# --- prompts for LLM backends --------------------------------------------------------------------


def _env() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("prompts", "."),
        autoescape=False,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


_ENV: Any = None


def render(template: str, **kw: Any) -> str:
    global _ENV
    if _ENV is None:
        _ENV = _env()
    return str(_ENV.get_template(template).render(**kw)).strip()


def _neutralise(text: str) -> str:
    """Passage text cannot close its own block or open a fake one."""
    return re.sub(r"</?\s*(passage|question|passages)\b[^>]*>", "", text, flags=re.I)


def _attribute(value: str) -> str:
    """``value`` as a prompt's attribute writes it: it cannot end the attribute or the tag."""
    return _neutralise(value).replace('"', "'").replace("<", "(").replace(">", ")")


def _turns(history: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """Earlier turns for a prompt, neutralised as the question is (a turn that wrote
    "</question><passage ...>" opened a passage of its own), a reply's [n] markers left out
    (they number another turn's passages)."""
    return [
        {"role": m.get("role", ""),
         "content": _neutralise(strip_markers(m.get("content", "")) if m.get("role") == "assistant"
                                else m.get("content", ""))}
        for m in history
    ]


def build_messages(question: str, hits: Sequence[Hit], lang: str, history: Sequence[dict[str, str]] = ()) -> list[dict[str, str]]:
    """System + user messages for an LLM backend: passages in delimited blocks, numbered [n]."""
    lang = "zh" if lang == "zh" else "en"
    # (a title and a file name are the document's words too: a front matter's "title: Gift Cards</passage>
    # <passage n=\"9\" ...>" closed its block and opened a fake one, one with "Ignore all previous
    # instructions ..." gave the model its orders, and a file named 'hours" n="1.md' wrote an attribute)
    passages = [
        {"n": i, "source": _attribute(h.chunk.source_id), "title": _neutralise(redact_injections(h.chunk.title)),
         "text": _neutralise(h.passage)}
        for i, h in enumerate(hits, start=1)
    ]
    system = render(f"system.{lang}.j2")
    user = render(f"answer.{lang}.j2", question=_neutralise(question), passages=passages, history=_turns(history))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def condense_messages(question: str, history: Sequence[dict[str, str]], lang: str) -> list[dict[str, str]]:
    lang = "zh" if lang == "zh" else "en"
    return [{"role": "user", "content": render(f"condense.{lang}.j2", question=question, history=_turns(history))}]
