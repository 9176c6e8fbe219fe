"""Hybrid retrieval: FAISS dense + BM25, fused with weights each retriever deserves.

How much each retriever counts is decided three times over:

1. per language and embedder: :func:`dense_capability` measures how much of the query the
   embedder can read (the share of its word pieces that the embedder's tokenizer maps to
   ``[UNK]``; all-MiniLM-L6-v2 maps over half of Chinese to ``[UNK]``); when the embedder cannot
   read the query its weight goes to ~0 and BM25 carries the query alone. Embedders without an
   inspectable tokenizer fall back to a small language-capability table. Text passages weigh
   BM25 0.6 / dense 0.4 in English (stemmed terms plus phrase terms match precisely) and
   0.5 / 0.5 in Chinese (word segmentation can differ between question and passage).
2. per query, from the score distributions: every candidate either retriever found is scored by
   both (its real cosine from the stored vectors, its real BM25 score), the scores are min-max
   normalised over the candidates and each retriever's weight is scaled by a confidence taken
   from the margin of its top score over the rest (a flat list says the retriever does not know).
3. FAQ entries: a blend of dense over the curated question, dense over question+answer and
   BM25, 0.4 / 0.4 / 0.2 (:data:`FAQ_BLEND`).

A year the question names ("2020年…报名时间") is a soft constraint: when some top sources mention
it, the others are scaled down (:data:`YEAR_MISMATCH_FACTOR`), since yearly notices repeat one
text with new dates. A question that compares things named by the titles of top sources ("A与B有
什么区别", "the difference between Game Mode and Movie Mode") needs those documents: the others
are scaled down (:data:`COMPARISON_OTHER_FACTOR`).

Metadata filters (access groups, tags, language, validity) become one row mask
(:meth:`IndexVersion.allowed_mask`) given to both searches, so they apply inside the search and
never after a fixed top-k. Chunks are aggregated per source (hits map to distinct sources),
near-duplicate passages are collapsed and adjacent retrieved chunks of one document are merged
into one passage. An optional cross-encoder reranks the fused top of the list.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from indexes.kbase import even_sample
from indexes.keyword import HeldTerms
from indexes.lru import BatchLRU
from indexes.text import (
    as_written,
    asked_kind,
    asks_how_to,
    asks_may,
    bare_question,
    class_words,
    detect_lang,
    gives_a_price,
    has_cjk,
    holds_answer_kind,
    how_to_action,
    is_cjk_char,
    is_cjk_lang,
    is_how_to_heading,
    leans_on_previous,
    named_terms,
    names_a_procedure,
    names_any,
    names_price_row,
    names_row,
    negated_terms,
    outermost,
    price_terms,
    query_topic,
    split_asks,
    split_sentences,
    table_rows_as_sentences,
    to_simplified,
    to_traditional,
    tokenize,
    writes_traditional,
)
from indexes.types import CONTINUES, Chunk, Filters, name_list
from kb.errors import ConfigError, EmbedderMismatchError, InputError
from rag.conversation import points_back
from rag.types import Hit

# Languages an embedder family reads, used only when its tokenizer cannot be inspected.
# Keys are matched as case-insensitive substrings of the embedder id; first match wins.
LANGUAGE_TABLE: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("hashing:", None),  # None = every language (it hashes the BM25 analyzer's tokens)
    ("multilingual", None),
    ("bge-m3", None),
    ("labse", None),
    ("-zh", frozenset({"zh", "en"})),
    ("chinese", frozenset({"zh", "en"})),
    ("text2vec", frozenset({"zh", "en"})),
    ("qwen", None),
    ("minilm", frozenset({"en"})),
    ("mpnet", frozenset({"en"})),
    ("bge-", frozenset({"en"})),
    ("e5-", frozenset({"en"})),
    ("gte-", frozenset({"en"})),
)

# (question dense, passage dense, BM25) weights, before the embedder's capability and each
# retriever's per-query confidence scale them. FAQ entries: the curated question is the best
# evidence. Text passages: the keyword side weighs more in English, where the analyzer (stop
# words, stemming, phrase terms) matches precisely, than in Chinese, where a word segmentation
# that differs between question and passage ("中法学院" vs "中/法学院") makes it miss.
#
# FAQ_BLEND was 0.35 / 0.35 / 0.30, the blend ../shared/notes/baselines-dev.md found with MiniLM.
# Users ask in other words than the curated question, and the keyword side then pulls in entries
# that share words but not the need; worst in a bank of questions only (the "answer" repeats the
# question, so no answer words match either), where it ranked below dense alone with the same
# embedder (covid-faq with every answer replaced by its question: 0.929 against 0.954). At
# 0.4 / 0.4 / 0.2, hit@5 over covid-faq and that question-only copy, with multilingual-e5-small
# and with MiniLM: 11 questions gained, 3 lost (e5: covid-faq 0.958 -> 0.967, the copy 0.929 ->
# 0.938; MiniLM: 0.938 -> 0.938, 0.925 -> 0.942).
FAQ_BLEND = (0.4, 0.4, 0.2)
TEXT_BLEND = {"en": (0.0, 0.4, 0.6), "zh": (0.0, 0.5, 0.5)}
DEFAULT_TEXT_BLEND = (0.0, 0.5, 0.5)

_WORD = re.compile(r"\w+", re.UNICODE)

# A multilingual embedder scores any passage in the question's own script higher than one in
# another, whatever it says: with multilingual-e5-small a Chinese question's median cosine to the
# demo's Chinese chunks is 0.08-0.11 above its median to the English ones, so "保修期多长？" ranked
# the Chinese points rules (0.865) above the English warranty periods (0.794). In a knowledge base
# that holds both scripts, the other script's passages are scored as if they gained the difference
# between the two scripts' cosines (:meth:`HybridRetriever._script_shift`; never less), estimated
# per query from up to SCRIPT_SAMPLE chunks of each script; with fewer than SCRIPT_MIN_ROWS in
# either, none. The difference is the smallest of the two scripts' quantiles' (SCRIPT_QUANTILES):
# the bias moves every cosine, while a script whose few chunks are all on the question's topic has
# its middle lifted by that too. The demo's 11 Chinese chunks are all on returns and points: for
# "如何退货" the medians differ by 0.111, the 10th percentiles by 0.083, and with 0.111 every English
# FAQ entry outranked the Chinese return rules (cosine 0.913 against the entries' 0.830), and the
# question was refused. domainrag (6,887 Chinese chunks, 20 English): the same retrieval.
SCRIPT_SAMPLE = 256
SCRIPT_MIN_ROWS = 8
SCRIPT_QUANTILES = (10, 25, 50)

# A year named in the question ("2020年…报名时间", "the 2019 filing deadline") is a constraint: a
# knowledge base of yearly notices holds the same text for many years. When some of the top
# sources mention a year the question names, every source that does not is scaled down by this
# factor (the passages of one notice differ in little but their dates).
YEAR_MISMATCH_FACTOR = 0.8
_YEAR = re.compile(r"(?<![\d.])(1[89]\d\d|20\d\d)(?![\d.])")


def query_years(query: str) -> frozenset[str]:
    """The calendar years (1800-2099) a query names."""
    return frozenset(_YEAR.findall(query))


# A question that compares or contrasts several things ("数学与应用数学专业与数据计算及应用专业之
# 间有哪些差异", "how does Game Mode differ from Movie Mode") needs the document about each, not
# the pages that share most of its words (a school's page for a question about two of its
# majors). When it names the titles of two or more of the top sources, every other source's fused
# score is scaled by this factor. On the dev sets it acts on 17 of domainrag's 20 multi-doc
# questions (each compares two majors) and on no English question: domainrag hit@5 0.833 ->
# 0.842, MRR@10 0.585 -> 0.597; any factor from 0.67 to 0.95 gives the same hit@5.
COMPARISON_OTHER_FACTOR = 0.8
_COMPARISON = re.compile(
    r"区别|区分|不同|差异|差别|异同|共同|相同|相似|类似|比较|对比|相比|比起|分别|各自"
    r"|\b(?:differ(?:s|ent|ence|ences)?|compar(?:e|ed|es|ing|ison)|versus|vs|similar(?:ity|ities)?"
    r"|in common|both|each|respectively|whereas)\b",
    re.IGNORECASE,
)


def _years_text(years: frozenset[str]) -> str:
    """The text whose terms are ``years``, as the year preference looks them up."""
    return " ".join(sorted(years))


def is_comparison(query: str) -> bool:
    """Whether a question compares or contrasts things (or asks about each of them)."""
    return _COMPARISON.search(to_simplified(query)) is not None


def comparison_cues(query: str) -> list[str]:
    """The words by which a question compares ("difference", "区别"): they say how to answer,
    not what about ("may differ depending on the model" answers no comparison)."""
    return [m.group(0) for m in _COMPARISON.finditer(to_simplified(query))]


def named_titles(query: str, titles: Iterable[str]) -> list[str]:
    """The titles (lower-cased) that a query names, in the order of ``titles`` (best passage first:
    a set's order would change with the process's hash seed, and with it which of two mirrored
    sentences an answer quotes): as a substring of at least two characters when the title is
    Chinese or Japanese, as whole words of at least four letters otherwise; a title inside a
    longer one the query also names is left out ("数学" in "数学与应用数学")."""
    q = query.lower()
    found: list[str] = []
    for title in dict.fromkeys(t.strip().lower() for t in titles if t and t.strip()):
        if has_cjk(title):
            if len(title) >= 2 and title in q:
                found.append(title)
        elif len(title) >= 4 and re.search(rf"(?<!\w){re.escape(title)}(?!\w)", q):
            found.append(title)
    return outermost(found)


# a title's units for telling titles apart: a word or number whole, any other character alone
_TITLE_UNIT = re.compile(r"[0-9a-z]+|\S")


def _apart_by(a: str, ua: list[re.Match[str]], b: str, ub: list[re.Match[str]]) -> tuple[str, str] | None:
    """The words by which titles ``a`` and ``b`` (lower-cased; ``ua``, ``ub``: their units,
    :data:`_TITLE_UNIT`) differ, when they differ in one place only and share at least half of
    each: "中国人民大学2016年艺术类…招生简章" and "…2018年…" differ by "2016" and "2018", "2022年天津市
    录取分数线" and "2022年上海市…" by "天津" and "上海", "pricing: starter plan" and "pricing: pro
    plan" by "starter" and "pro". None otherwise, or where a part is a single Chinese character
    ("湖南", "湖北": 南 and 北 name too little)."""
    ops = [
        op for op in SequenceMatcher(None, [m.group() for m in ua], [m.group() for m in ub], autojunk=False).get_opcodes()
        if op[0] != "equal"
    ]
    if len(ops) != 1 or ops[0][0] != "replace":
        return None
    _, i1, i2, j1, j2 = ops[0]
    if 2 * (i2 - i1) > len(ua) or 2 * (j2 - j1) > len(ub):
        return None
    parts = a[ua[i1].start() : ua[i2 - 1].end()], b[ub[j1].start() : ub[j2 - 1].end()]
    if any(len(x) < 2 and not x.isdigit() for x in parts):
        return None
    return parts


def _names_part(q: str, part: str) -> bool:
    """Whether lower-cased ``q`` names ``part`` of a title: Chinese as a substring, a word or a
    number whole ("pro" is not in "product", "2016" is in "2016年")."""
    if has_cjk(part):
        return part in q
    return re.search(rf"(?<![0-9a-z]){re.escape(part)}(?![0-9a-z])", q) is not None


def titles_told_apart(query: str, titles: Iterable[str]) -> list[str]:
    """The titles (lower-cased, in the order of ``titles``) that a query names by what sets them
    apart from one another (:func:`_apart_by`): "2016年和2018年音乐表演专业的招生计划分别是多少人？"
    names "…2016年艺术类（音乐表演）专业招生简章" and "…2018年…", though neither whole."""
    q = query.lower()
    unique = list(dict.fromkeys(t.strip().lower() for t in titles if t and t.strip()))
    units = {t: list(_TITLE_UNIT.finditer(t)) for t in unique}
    kinds = {t: {m.group() for m in units[t]} for t in unique}
    found: set[str] = set()
    for i, a in enumerate(unique):
        for b in unique[i + 1 :]:
            # (what only one of them holds is in the question, or they are not named apart: most
            # pairs end here, without aligning them)
            only_a, only_b = kinds[a] - kinds[b], kinds[b] - kinds[a]
            if not only_a or not only_b or not all(u in q for u in only_a | only_b):
                continue
            parts = _apart_by(a, units[a], b, units[b])
            if parts and all(_names_part(q, x) for x in parts) and _names_rest(q, a.replace(parts[0], " ")):
                found.update((a, b))
    return [t for t in unique if t in found]


def _names_rest(q: str, rest: str) -> bool:
    """Whether lower-cased ``q`` names some of what two titles told apart share (``rest``: a title
    without its differing part), a word of it or two Chinese characters running: "2天送达和3天送达
    有什么区别？" named "版本 2.0 发布说明" and "版本 3.0 …" by the digits alone, and "I bought in 2023
    and it broke in 2024, is each year covered?" the shipping prices of 2023 and 2024."""
    if any(re.search(rf"(?<![0-9a-z]){re.escape(w)}", q) for w in re.findall(r"[a-z]{3,}", rest)):
        return True
    return any(is_cjk_char(rest[i]) and is_cjk_char(rest[i + 1]) and rest[i : i + 2] in q for i in range(len(rest) - 1))


def compared_titles(query: str, titles: Iterable[str]) -> list[str]:
    """The titles a comparing question names (:func:`named_titles`), or names by what sets them
    apart (:func:`titles_told_apart`), when it names two or more of them; empty otherwise (one
    named thing is not compared with anything)."""
    if not is_comparison(query):
        return []
    titles = list(titles)
    named = named_titles(query, titles)
    if len(named) < 2:
        named = titles_told_apart(query, titles)
    return named if len(named) >= 2 else []


# Query vectors kept per retriever: customers ask the same questions over and over.
QUERY_CACHE_SIZE = 1024
# between a cached query's access scope and its text (no group name or question holds it: control
# characters are taken out of both)
_SCOPED = "\x1f"


# A list item's line: a bullet or a number, then the item (group 1). Chinese text numbers its
# items with no space after the mark: "1、", "1.登录", "（1）", "①", "一、", "（一）", "第一步：". An
# English "(1)" opens a clause more often than a list item, and stays a sentence.
_BULLETS = "-*•·▪●"
ZH_NUMERALS = "一二三四五六七八九十"
_HAN = r"[\u3400-\u9fff]"
# A line marked "一、" or "（一）" that says nothing more than a few words ("（二）黄金会员", "五、附则")
# is a section's heading in a Chinese document, not an item: an item holds a punctuation mark.
# "第五步：" is words, and stays in its item ("门锁第五步要做什么？" names it).
_STEP_WORD = rf"第[{ZH_NUMERALS}\d]{{1,3}}步(?:[：:，,、]\s*|\s+)"
# "1、2号柜台" and "一、二年级" count numbers: a mark is followed by no other number
_NO_NUMBER = rf"(?![\d{ZH_NUMERALS}两])"
LIST_ITEM = re.compile(
    rf"^\s*(?:[{re.escape(_BULLETS)}]\s+|\d{{1,2}}[.)]\s+|\d{{1,2}}[、．）]{_NO_NUMBER}\s*|\d{{1,2}}[.)](?={_HAN})"
    rf"|（\d{{1,2}}）\s*|\(\d{{1,2}}\)\s*(?={_HAN})|[①-⑳]\s*"
    rf"|(?:[{ZH_NUMERALS}]{{1,3}}、{_NO_NUMBER}|[（(][{ZH_NUMERALS}]{{1,3}}[）)])\s*(?=.*[，。；：！？、,;:!?])|(?={_STEP_WORD}))"
    rf"(\S.*?)\s*$"
)


def numbered_step(line: str) -> re.Match[str] | None:
    """``line`` read as a numbered list's step ("7. Attach the label ...", "2、点击“申请退款”"): a
    :data:`LIST_ITEM` whose mark is a number (the item's text is group 1); None for any other line."""
    m = LIST_ITEM.match(line)
    return m if m and line.lstrip()[:1] not in _BULLETS else None


# A numbered list's mark inside a line, its number in the group of its style: "1、" or "1．", "1."
# before a Chinese character, "1." before a capitalised word (group 3: the one English style),
# "（1）", "(1)", "①", "一、", "（一）", "第一步", "1）".
_RUN_IN_MARK = re.compile(
    rf"(\d{{1,2}})[、．]{_NO_NUMBER}|(\d{{1,2}})\.(?=\s*{_HAN})|(\d{{1,2}})\.(?=\s+[A-Z])|（(\d{{1,2}})）"
    rf"|\((\d{{1,2}})\)(?=\s*{_HAN})|([①-⑳])|([{ZH_NUMERALS}]{{1,3}})、{_NO_NUMBER}|[（(]([{ZH_NUMERALS}]{{1,3}})[）)]"
    rf"|第([{ZH_NUMERALS}\d]{{1,3}})步(?=[：:，,、\s])|(\d{{1,2}})[)）](?=\s*{_HAN})"
)
# the styles whose mark is a number and a full stop, which a sentence also writes ("按 1. 查询余额",
# "press 1. For support"): such a mark starts an item only at the line's start or after a
# sentence's end, and a list of them only there
_DOT_MARKS = frozenset((2, 3))
_ENDS_BEFORE_MARK = tuple(".;:!?。；：！？")


def _mark_value(mark: str) -> int | None:
    """The number a list mark's numeral says: "12", "⑫", "十二" -> 12 (None for more than 99)."""
    if mark.isdigit() and mark.isascii():
        return int(mark)
    if len(mark) == 1 and "①" <= mark <= "⑳":
        return ord(mark) - ord("①") + 1
    digits = [ZH_NUMERALS.index(c) + 1 for c in mark]
    if digits == [10]:
        return 10
    if len(digits) == 2 and digits[0] == 10:  # 十二
        return 10 + digits[1]
    if len(digits) == 2 and digits[1] == 10:  # 二十
        return digits[0] * 10
    if len(digits) == 3 and digits[1] == 10 and digits[2] < 10:  # 二十三
        return digits[0] * 10 + digits[2]
    return digits[0] if len(digits) == 1 else None


def _run_in_marks(line: str) -> list[tuple[int, int, int]]:
    """The (place, style, number) of each list mark in ``line`` that stands where an item starts:
    at the line's start or after a sentence's end, and a Chinese mark also after a space ("登录
    App 2、找到订单"); not inside a sentence ("分为1、2、3级", "press 1. For support").
    """
    out = []
    for m in _RUN_IN_MARK.finditer(line):
        style = m.lastindex or 0
        value = _mark_value(m.group(style))
        before = line[: m.start()]
        ended = not before.strip() or before.rstrip().endswith(_ENDS_BEFORE_MARK)
        if value is not None and (ended or (style not in _DOT_MARKS and before[-1:].isspace())):
            out.append((m.start(), style, value))
    return out


def run_in_list_lines(text: str) -> str:
    """``text`` with each numbered list that runs on in one line ("1、登录App。 2、点击“申请退款”。
    3、…") given a line per item, as :data:`LIST_ITEM` reads lists. A Markdown paragraph joins
    lines that no list syntax marks (Chinese "1、", "（1）", "一、"), and a pasted page or a PDF
    joins lists too. Marks of one style counting up by one, each the next of its style in the
    line, make a list: two at least, the first at the line's start or after a colon, or, in
    Chinese, numbered 1 ("选拔程序 1.初选 … 2.报到 …"). An English list takes "1. Word" marks
    after a sentence's end only: "For billing, press 1. For support, press 2." holds none."""
    if not _RUN_IN_MARK.search(text):
        return text
    out: list[str] = []
    for line in text.split("\n"):
        marks = _run_in_marks(line)
        cuts: list[int] = []
        for i, (at, style, value) in enumerate(marks):
            if at in cuts:
                continue
            run = [at]
            for at2, style2, value2 in marks[i + 1 :]:
                if style2 != style:
                    continue
                if value2 != value + len(run):
                    break
                run.append(at2)
            head = line[:at].rstrip()
            opens = not head or head.endswith((":", "：")) or (value == 1 and style not in _DOT_MARKS)
            if len(run) >= 2 and opens:
                cuts.extend(run)
        if not cuts:
            out.append(line)
            continue
        cuts = sorted(set(cuts))
        pieces = [line[: cuts[0]]] + [line[a:b].rstrip() for a, b in zip(cuts, [*cuts[1:], len(line)], strict=True)]
        out.extend(p.rstrip() for p in [*pieces[:-1], *_last_item(pieces[1:])] if p.strip())
    return "\n".join(out)


_SENTENCE_STOP = re.compile(r"[。！？]|[.!?](?=\s)")


def _last_item(items: list[str]) -> list[str]:
    """The last of a run-in list's ``items``, and what follows it in the line: where every item
    before it is one sentence or clause, the list ends with the last one's first sentence ("3、选择
    新地址并确认。订单发货后无法修改地址…" goes on with a note, not with the step)."""
    def text(item: str) -> str:  # without its mark
        m = LIST_ITEM.match(item)
        return m.group(1) if m else item

    last = items[-1]
    if len(items) < 2 or any(_SENTENCE_STOP.search(text(item).rstrip(" 。；;.!?！？")) for item in items[:-1]):
        return [last]
    body = text(last)
    stop = _SENTENCE_STOP.search(body)
    if stop is None or not body[stop.end() :].strip():
        return [last]
    at = len(last) - len(body) + stop.end()
    return [last[:at], last[at:].strip()]


# How a passage writes a section heading that stands before one of its parts (a line of its own).
HEADING_MARK = "## "

# How many of the first passages answer a "how long" / "when" / "how many" question with the kind
# of answer it asks for where their source has one (:meth:`HybridRetriever.answer_excerpts`):
# the answer is composed from the first few.
KIND_EXCERPT_TOP = 5


def _row_namer(question: str, topic: frozenset[str]) -> Callable[[str], bool]:
    """Whether a passage's text holds a table row ``question`` (whose topic terms are ``topic``)
    names: by its first cell (:func:`names_row`), or, asked a price, by a price row's label and a
    column's header (:func:`names_price_row`: "Feature: Price (monthly billing); Free: $0; Team:
    $12 per seat per month" for "How much is Team?", whose passage held the table's Support rows
    and was told a release note's "no extra cost", QA 2026-12-07)."""
    money = asked_kind(question) == "money"

    def named(text: str) -> bool:
        return "|" in text and any(
            names_row(topic, line) or (money and names_price_row(topic, line)) for line in table_rows_as_sentences(text)[1]
        )

    return named


def section_heading(chunk: Chunk) -> str:
    """The heading of the section ``chunk`` is in; "" when it has none below the title."""
    head = chunk.heading_path[-1].strip() if chunk.heading_path else ""
    return "" if head == (chunk.title or "").strip() else head


# How a section is named with the sections it is in: "三、社保卡补办 > （三）办理流程" (the locator's
# separator). A passage's heading line names its section so, and the composer reads the last part
# as the section's own heading.
SECTION_PATH_SEP = " > "


def section_path(chunk: Chunk) -> str:
    """The headings of the sections ``chunk`` is in, below the title, outermost first, joined by
    :data:`SECTION_PATH_SEP`; "" when it has none. A document's sections repeat their sub-headings
    ("（三）办理流程" under "一、社保卡首次申领" and under "三、社保卡补办"; "Eligibility" under each
    programme): the sub-heading alone does not say whose steps or conditions they are."""
    title = (chunk.title or "").strip()
    return SECTION_PATH_SEP.join(h for h in (x.strip() for x in chunk.heading_path) if h and h != title)


class Reranker(Protocol):
    id: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder (``cross-encoder:/path/or/name``); loaded on first use."""

    def __init__(self, model: str, device: str = "cpu", max_passages: int = 20) -> None:
        self.id = f"cross-encoder:{model}"
        self.model_name = model
        self.device = device
        self.max_passages = max_passages
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import CrossEncoder
                except ImportError as ex:  # pragma: no cover - the dependency is in the base install
                    from kb.errors import MissingDependencyError

                    raise MissingDependencyError("sentence-transformers", "models") from ex
                try:
                    self._model = CrossEncoder(self.model_name, device=self.device)
                except Exception as ex:  # noqa: BLE001 - any load failure is a configuration problem
                    from kb.errors import ConfigError

                    raise ConfigError(
                        f"cannot load reranker {self.model_name!r}: {ex.__class__.__name__}",
                        "set KB_RERANKER to a local CrossEncoder directory, or unset it",
                    ) from ex

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        self.warm_up()
        if not passages:
            return []
        raw = self._model.predict([(query, p) for p in passages], show_progress_bar=False)
        arr = np.asarray(raw, dtype=np.float64).reshape(len(passages), -1)[:, -1]
        if arr.min() < 0.0 or arr.max() > 1.0:  # logits -> probabilities
            arr = 1.0 / (1.0 + np.exp(-arr))
        return [float(x) for x in arr]


def get_reranker(spec: str | None, device: str = "cpu") -> Reranker | None:
    """``None``/"" /"none"/"off" -> no reranker; ``cross-encoder:<path-or-name>`` -> CrossEncoder."""
    if not spec or spec.strip().lower() in ("none", "off", "false", "0"):
        return None
    provider, _, model = spec.partition(":")
    if provider in ("cross-encoder", "sentence-transformers") and model:
        # a local path that is not there fails now, not on the first question (the model loads then)
        if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
            raise ConfigError(f"reranker model {model!r} does not exist",
                              "set KB_RERANKER=cross-encoder:/path/to/a/CrossEncoder/folder, or unset it")
        return CrossEncoderReranker(model, device=device)

    raise ConfigError(f"unknown reranker {spec!r}", "use KB_RERANKER=cross-encoder:/path/to/model, or unset it")


# --- how well the embedder reads the query ---------------------------------------------------------


def _unk_share_from_tokenizer(embedder: Any, text: str) -> float | None:
    """Share of the text's word pieces that the embedder's tokenizer maps to its unknown token,
    or None when the embedder exposes no tokenizer to ask."""
    fn = getattr(embedder, "unk_ratio", None)
    if callable(fn):
        return float(fn(text))
    getter = getattr(embedder, "_fast_tokenizer", None)
    if not callable(getter):
        return None
    try:
        kind, tok = getter()
    except Exception:  # noqa: BLE001 - no tokenizer: use the table
        return None
    try:
        if kind == "fast":
            unk = tok.token_to_id("[UNK]")
            if unk is None:
                unk = tok.token_to_id("<unk>")
            if unk is None:
                return 0.0
            ids = tok.encode(text, add_special_tokens=False).ids
        else:
            unk = tok.unk_token_id
            if unk is None:
                return 0.0
            ids = tok(text, add_special_tokens=False)["input_ids"]
    except Exception:  # noqa: BLE001
        return None
    if not ids:
        return 0.0
    return float(sum(1 for i in ids if i == unk)) / len(ids)


def table_capability(embedder_id: str, lang: str) -> float:
    low = embedder_id.lower()
    for key, langs in LANGUAGE_TABLE:
        if key in low:
            return 1.0 if langs is None or lang in langs else 0.0
    return 1.0  # an unknown model: trust it, the per-query confidence still applies


def dense_capability(embedder: Any, query: str, lang: str) -> float:
    """How well ``embedder`` reads ``query``, in [0, 1]: 1 - 2 x its [UNK] share (so half the
    pieces unknown = 0), or the language table when the tokenizer cannot be asked."""
    unk = _unk_share_from_tokenizer(embedder, query)
    table = table_capability(str(getattr(embedder, "id", "")), lang)
    if unk is None:
        return table
    cap = float(np.clip(1.0 - 2.0 * unk, 0.0, 1.0))
    # A tokenizer that knows every character may still know no words of the language (byte or
    # character fallbacks): trust the table when it is more pessimistic for a non-English query.
    if lang != "en" and table == 0.0:
        cap = min(cap, 0.1)
    return cap


# --- score normalisation -------------------------------------------------------------------------


def minmax(scores: dict[str, float], floor: float | None = None) -> dict[str, float]:
    """Min-max normalise over the candidate pool; a single candidate (or a flat list) maps to 1.
    ``floor``: a score that every candidate left out of ``scores`` has (BM25's 0, when its list
    holds every chunk with a query term), taken as the minimum when it is lower: two candidates
    at 5.93 and 5.83 are a tie, not 1 and 0."""
    if not scores:
        return {}
    vals = np.fromiter(scores.values(), dtype=np.float64)
    lo, hi = float(vals.min()), float(vals.max())
    if floor is not None:
        lo = min(lo, floor)
    if hi - lo < 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {key: (v - lo) / (hi - lo) for key, v in scores.items()}


def margin_confidence(scores: dict[str, float], top: int = 10, floor: float | None = None) -> float:
    """How sure a retriever is of its own ranking, in [0, 1]: the gap between its top score and
    the mean of the next ``top - 1``, on the pool's min-max scale (:func:`minmax`, ``floor``)."""
    return margin_of(minmax(scores, floor).values(), top)


def margin_of(normalised: Iterable[float], top: int = 10) -> float:
    """:func:`margin_confidence` from scores already min-max normalised."""
    norm = sorted(normalised, reverse=True)
    if len(norm) < 2:
        return 1.0 if norm else 0.0
    rest = norm[1:top]
    return min(1.0, max(0.0, norm[0] - (sum(rest) / len(rest))))


@lru_cache(maxsize=20_000)
def _term_set(text: str) -> frozenset[str]:
    """The analysed terms of a passage; passages recur across queries, analysing them does not."""
    return frozenset(tokenize(text))


@lru_cache(maxsize=20_000)
def _dup_signature(text: str) -> tuple[str, frozenset[str]]:
    """A passage's near-duplicate key (its lower-cased words) and word set, computed once."""
    words = _WORD.findall(text.lower())
    return " ".join(words), frozenset(words)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)  # the union's size, without building it


def _near_duplicate(sig: tuple[str, frozenset[str]], kept: Sequence[tuple[str, frozenset[str]]], limit: float) -> bool:
    """Whether a passage repeats one already kept: the same words, or word sets whose Jaccard
    similarity reaches ``limit`` (sets whose sizes differ by more than that cannot)."""
    key, words = sig
    n = len(words)
    for k_key, k_words in kept:
        if key == k_key:
            return True
        m = len(k_words)
        if min(n, m) >= limit * max(n, m) and _jaccard(words, k_words) >= limit:
            return True
    return False


def _prefer_years(
    years: frozenset[str],
    order: list[str],
    fused: dict[str, float],
    mentioning: Callable[[list[str]], set[str]],
    window: int,
) -> list[str]:
    """Rank sources that mention a year the query names above those that do not: when some of
    the top ``window`` sources mention one (``mentioning(sources)`` says which), every other
    source's fused score is scaled by :data:`YEAR_MISMATCH_FACTOR` (in place) and the order is
    rebuilt. A question whose year no top source mentions keeps its ranking and its scores."""
    matched = mentioning(order[:window])
    if not matched or len(matched) == len(order):
        return order
    return _scale_others(order, fused, matched, YEAR_MISMATCH_FACTOR)


def _prefer_named(
    query: str,
    order: list[str],
    fused: dict[str, float],
    title_of: Callable[[str], str],
    window: int,
) -> list[str]:
    """Rank the sources a comparing question names above the others: when it names the titles of
    two or more of the top ``window`` sources (:func:`named_titles`), every source whose title it
    does not name has its fused score scaled by :data:`COMPARISON_OTHER_FACTOR` (in place) and the
    order is rebuilt. Other questions keep their ranking and scores."""
    if not is_comparison(query):
        return order
    top = {sid: title_of(sid).strip().lower() for sid in order[:window]}
    named = compared_titles(query, top.values())
    if not named:
        return order
    return _scale_others(order, fused, {sid for sid, t in top.items() if t in named}, COMPARISON_OTHER_FACTOR)


def _scale_others(order: list[str], fused: dict[str, float], keep: set[str], factor: float) -> list[str]:
    """Scale the fused score of every source in ``order`` but those in ``keep`` by ``factor`` (in
    place) and return the order rebuilt (score, then source id)."""
    for sid in order:
        if sid not in keep:
            fused[sid] *= factor
    return sorted(order, key=lambda x: (-fused[x], x))


# a keyword search's top (chunk row, BM25 score) list, every chunk's score when the index gives
# them, and, by text, the terms every chunk holds of the texts read ahead (the query, and the
# years it names) (HybridRetriever._keyword_search)
_Keyword = tuple[list[tuple[int, float]], np.ndarray | None, dict[str, HeldTerms]]
# the passage and question vector searches' top lists, every chunk's passage cosine when the
# index gives them from the same pass (IndexVersion.vector_search_all), and the rows of the other
# script than the query's with what their cosines gained (HybridRetriever._script_shift)
_Shift = tuple[np.ndarray, float]
_Vector = tuple[tuple[list[tuple[int, float]], list[tuple[int, float]]], np.ndarray | None, _Shift | None]
# a passage (HybridRetriever._passage: its text, None for the chunk's own, and its rows) and its
# near-duplicate signature
_Passage = tuple[str | None, list[int], tuple[str, frozenset[str]]]


@dataclass
class _Shared:
    """What the phrasings of one need (HybridRetriever.retrieve_many) share: the vector searches
    of their one vector (with that vector), run once, and the passages built, by (chunk row, rows
    merged): the phrasings find many of the same sources, and a follow-up's second phrasing built
    a quarter of its passages again on mtrag-un (0.08 ms a follow-up)."""

    vector: tuple[np.ndarray, _Vector] | None = None
    passages: dict[tuple[int, tuple[int, ...]], _Passage] = field(default_factory=dict)


def _read_rows(every: np.ndarray) -> Callable[[Any, Sequence[int]], np.ndarray]:
    """A scorer of given chunk rows (``passage_similarity(qvec, rows)``, ``keyword_scores(query,
    rows)``) that reads them from ``every`` chunk's score, computed by the search already."""
    return lambda _query, rows: every[np.asarray(rows, dtype=np.int64)]


_KEYWORD_POOL: ThreadPoolExecutor | None = None
_KEYWORD_POOL_LOCK = threading.Lock()


_TABLE_HEAD = re.compile(r"\A\s*\|.*\|[ \t]*\n[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*(?=\n|\Z)")


def _shifted(
    score: Callable[[Any, Sequence[int]], np.ndarray], rows: np.ndarray, amount: float
) -> Callable[[Any, Sequence[int]], np.ndarray]:
    """``score(query, rows)`` with ``amount`` added for the rows in the mask ``rows``."""

    def shifted(query: Any, at: Sequence[int]) -> np.ndarray:
        got = np.array(score(query, at), dtype=np.float32)
        got[rows[np.asarray(at, dtype=np.int64)]] += amount
        return got

    return shifted


def _percentiles(values: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """``np.percentile(values, qs)`` (its default linear interpolation, in float64), bit for bit:
    numpy's took 0.25 ms a call right after a query's embedding (0.06 ms warm), for 256 values;
    a sort and a few lookups take a tenth of that."""
    x = np.sort(values)
    top = len(x) - 1
    out = []
    for q in qs:
        pos = q / 100 * top
        lo = int(pos)
        a, b = float(x[lo]), float(x[min(lo + 1, top)])
        t = pos - lo
        out.append(b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t)  # numpy's _lerp
    return np.array(out)


def _table_header(text: str) -> str:
    """The header row and rule line a chunk opens with when it opens with a Markdown table, else ""."""
    m = _TABLE_HEAD.match(text)
    return m.group(0) if m else ""


def _continuing(text: str, chunk: Chunk, before: Chunk) -> str:
    """``text`` (``chunk``'s) without the :data:`~indexes.types.CONTINUES` mark where it stands
    right after ``before``, the chunk just before it in its document: the sentence it continues
    is there."""
    return text.removeprefix(CONTINUES) if chunk.position == before.position + 1 else text


def _joined(part: Chunk, before: Chunk) -> str:
    """``part``'s text as it reads after ``before``, an earlier chunk of its document that a
    passage puts before it: without the header of a table split across them (said once, and the
    rows read on under it), and, where it stands right after ``before``, without the
    :data:`~indexes.types.CONTINUES` mark and the sentences it repeats of it (:func:`_without_overlap`)."""
    body = part.text
    header = _table_header(body)
    prev = before.text
    if header and part.heading_path == before.heading_path and header in prev and prev.rstrip().endswith("|"):
        body = body[len(header) :].lstrip("\n")
    body = _continuing(body, part, before)
    return _without_overlap(body, prev) if part.position == before.position + 1 else body


# the most of a chunk's start that can repeat the end of the chunk before it: the chunker's
# sentence overlap (16 tokens by default; a token is at least one character)
OVERLAP_CHARS = 600
_CUT = re.compile(r"\s+|(?<=[。！？；])")
_SENTENCE_END = re.compile(r"[.!?;:。！？；：]$")
_SPACE = re.compile(r"\s+")
_CLOSES = frozenset("。！？；")  # a sentence ends after these with no space (_CUT)


def _without_overlap(text: str, before: str) -> str:
    """``text`` without what it repeats of the end of ``before``, the chunk just before it in its
    document: the sentences the chunker carries over into the next chunk (ingest.chunking's
    overlap), which a merged passage said twice ("战争、军事冲突、暴乱或武装叛乱" twice in an
    answer; "3. Scan the QR code" twice in a citation). What repeats is whole sentences or
    lines: it starts where one of ``before`` does and ends where one of ``text`` does.

    What repeats starts with the text's first word (or 16 characters of it): each place that
    word stands in the end of ``before`` is one candidate, the earliest (the longest repeat)
    first, found by ``str.find``. Trying every sentence end of the text's start instead took 19
    us a pair of chunks on mtrag-un, whose chunks mostly overlap; this takes 3."""
    end = before.rstrip()
    first = _CUT.search(text, 1)  # a short step ("Press OK.") repeats whole
    probe = text[: min(16, first.start() if first else len(text))]
    if not probe:
        return text
    at = end.find(probe, max(0, len(end) - min(len(text), len(before), OVERLAP_CHARS)))
    while at >= 0:
        said = end[at:]
        if text.startswith(said):  # said ends in no space: ``end`` is stripped
            # the repeat ends where a sentence or line of the text does
            gap = _SPACE.match(text, len(said))
            ends_line = gap is not None and "\n" in gap.group(0)
            if (gap is not None or said[-1] in _CLOSES) and (ends_line or _SENTENCE_END.search(said)):
                ahead = end[:at]  # and starts where one of ``before`` does
                if not ahead.strip() or ahead.endswith("\n") or _SENTENCE_END.search(ahead.rstrip()):
                    return text[gap.end() if gap is not None else len(said) :]
        at = end.find(probe, at + 1)
    return text


def _answers_kind(kind: str | None, topic: frozenset[str], text: str) -> bool:
    """Whether a sentence of ``text`` gives an answer of ``kind`` (:func:`holds_answer_kind`) and
    names one of the question's ``topic`` terms (analysed terms; in a sentence with Chinese, found
    as they are written, which spares running jieba on each sentence), or leans on the sentence
    before it (:func:`leans_on_previous`), which names one: "Acme Care+ is an optional protection
    plan ... It ... adds two accidental damage claims per year with a $49 service fee each" tells
    what Acme Care+ costs."""
    if not holds_answer_kind(kind, text):
        return False

    def names(sent: str) -> bool:
        if has_cjk(sent):
            low = as_written(sent)
            return any(t in low for t in topic)
        return not topic.isdisjoint(tokenize(sent))

    before = ""  # the sentence before, when the one after it leans on it
    for sent in split_sentences(text):
        if holds_answer_kind(kind, sent) and (names(sent) or (before and leans_on_previous(sent) and names(before))):
            return True
        before = sent
    return False


def _kind_named(kind: str, asked: frozenset[str], chunk: Chunk) -> int:
    """How many of the ``asked`` terms the best of ``chunk``'s sentences that give an answer of
    ``kind`` names, with the headings of the sections the chunk is in (0 where none gives one)."""
    path = section_path(chunk)
    return max(
        (len(named_terms(asked, f"{path}\n{s}")) for s in split_sentences(chunk.text) if holds_answer_kind(kind, s)),
        default=0,
    )


def _tells_how(
    topic: frozenset[str], chunk: Chunk, steps: bool = True, action: Callable[[str], bool] | None = None
) -> tuple[int, bool]:
    """How closely ``chunk``'s section tells how to do what is asked: how many of the question's
    ``topic`` terms its heading names, and whether its heading or text names one; (0, False) when
    the heading does not say it tells how (:func:`indexes.text.is_how_to_heading`). "积分怎么用" is
    told by "如何使用积分" (points, use), not by "如何获得积分" (points). The text's count does not
    rank them: a passing word ("后" in "30 天后") made the earning rules tell "账户注销后积分怎么办".
    ``action``: the question's test of a heading that tells how (:func:`indexes.text.how_to_action`;
    "How to view your bill" tells no one how to pay an overdue bill)."""
    head = section_heading(chunk)
    # (counted over the sections it is in too: "社保卡补办的流程是什么？" is told by "（三）办理流程" under
    # "三、社保卡补办", not the one under "一、社保卡首次申领")
    in_head = len(named_terms(topic, section_path(chunk)))
    if is_how_to_heading(head):
        if action is not None and not action(head):
            return 0, False
        return in_head, in_head > 0 or names_any(topic, chunk.text)
    # a section that holds numbered steps, or is headed as a procedure ("下单流程"), tells how to do
    # what its heading names, as the composer reads it: "How do I cancel my flight?" is told by
    # "Cancelling a flight" and its steps 1-4, which the passage found ("No-show", merged with the
    # refund rules after it) had not. (``steps``: False for a follow-up, whose "How do I return
    # one?" after "Do gift cards expire?" asks about gift cards, and was told the return steps)
    if steps and in_head and (names_a_procedure(head) or any(map(numbered_step, run_in_list_lines(chunk.text).split("\n")))):
        return in_head, True
    return 0, False


def _keyword_pool() -> ThreadPoolExecutor:
    """The worker threads that run keyword searches while the query is being embedded (created
    on first use; shared by every retriever of the process)."""
    global _KEYWORD_POOL
    with _KEYWORD_POOL_LOCK:
        if _KEYWORD_POOL is None:
            workers = max(2, min(4, os.cpu_count() or 2))
            _KEYWORD_POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kb-keyword")
        return _KEYWORD_POOL


class _ChunkMap:
    """The chunks of a candidate pool, built only when a row is looked at: fusion needs just each
    row's source id, whether it is an FAQ entry (from :meth:`IndexVersion.row_sources`) and whether
    its language is written in CJK (:meth:`IndexVersion.row_langs`); chunk objects are fetched for
    the rows that become hits. An index without those (a test double) gets every pool chunk
    fetched up front."""

    def __init__(self, index: Any, rows: Sequence[int]) -> None:
        self.index = index
        self._chunks: dict[int, Chunk] = {}
        getter = getattr(index, "row_sources", None)
        langs = getattr(index, "row_langs", None)
        if callable(getter) and callable(langs):
            sids, has_q = getter()
            lang_codes, lang_names = langs()
            cjk = [is_cjk_lang(name) for name in lang_names]
            self.source_of = sids.__getitem__
            self.has_question = has_q.__getitem__
            self.in_cjk = lambda row: cjk[lang_codes[row]]
        else:
            self.prefetch(rows)
            self.source_of = lambda row: self._chunks[row].source_id
            self.has_question = lambda row: self._chunks[row].question is not None
            self.in_cjk = lambda row: is_cjk_lang(self._chunks[row].lang)

    def prefetch(self, rows: Any) -> None:
        need = [r for r in dict.fromkeys(rows) if r not in self._chunks]
        if need:
            self._chunks.update(zip(need, self.index.get_chunks(need), strict=True))

    def __getitem__(self, row: int) -> Chunk:
        if row not in self._chunks:
            self.prefetch([row])
        return self._chunks[row]


T = TypeVar("T")


class _PerThread(Generic[T]):
    """An attribute whose value is kept per thread, in the instance's ``_state``
    (a ``threading.local``); a thread that never set it reads ``default()``."""

    def __init__(self, default: Callable[[], T]) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> T:
        try:
            value: T = getattr(obj._state, self.name)
        except AttributeError:
            return self.default()
        return value

    def __set__(self, obj: Any, value: T) -> None:
        setattr(obj._state, self.name, value)


@dataclass(frozen=True)
class RetrievalDebug:
    lang: str
    weights: dict[str, float]
    capability: float
    # where the retrieval's time went, ms: embed (the query vector), keyword (BM25 search; when it
    # ran on a worker during the embedding, what was left of it after the embedding),
    # vector (the vector searches and scoring every candidate by both retrievers), fuse,
    # passages (near-duplicate collapse, passage merging, coverage); the bench reports them
    stages_ms: dict[str, float] = field(default_factory=dict)


def check_k(k: Any) -> int:
    """A caller's number of hits: a whole number of at least 1 (0 gave nothing, silently)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a whole number of at least 1, not {k!r}", "ask for k=1 or more hits")
    return k


def user_filters(filters: Filters | None, groups: Sequence[str] | None) -> Filters | None:
    """``filters`` restricted to what a user of ``groups`` may see (None: no user restriction)."""
    if filters is not None and not isinstance(filters, Filters):
        raise InputError(
            f"filters must be a Filters, not {type(filters).__name__}", "build them with Filters.of(tags=[...], ...)"
        )
    if groups is None:
        return filters
    return replace(filters or Filters(), groups=name_list(groups, "groups"))  # "staff" is one group


class RetrieverPerVersion:
    """The :class:`HybridRetriever` of the index version a caller serves now: kept while the
    version stays the same (its query-vector cache with it), made anew for another one."""

    def __init__(self) -> None:
        self._current: HybridRetriever | None = None
        self._lock = threading.Lock()

    def get(self, index: Any, make: Callable[[Any], HybridRetriever]) -> HybridRetriever:
        """The retriever over ``index``; ``make(index)`` builds it when the version changed."""
        with self._lock:
            if self._current is None or self._current.index is not index:
                self._current = make(index)
            return self._current


class HybridRetriever:
    """``retrieve(query, k, filters, lang) -> list[Hit]``: one hit per source, best first.

    ``Hit.score`` is the fused score in [0, 1]; ``Hit.scores`` holds the evidence: ``dense``
    (cosine), ``qdense`` (cosine to an FAQ's curated question), ``bm25`` (raw), their normalised
    forms (``*_n``), ``coverage`` (share of the query's terms present in the passage) and
    ``rerank`` when a reranker ran. In a knowledge base of both scripts, the other script's
    cosines are ranked and normalised with the shift that :data:`SCRIPT_SAMPLE`'s note describes;
    ``dense`` and ``qdense`` stay the plain cosines, the scale the refusal and FAQ thresholds are
    calibrated on.
    """

    def __init__(
        self,
        index: Any,
        embedder: Any,
        reranker: Reranker | None = None,
        *,
        pool: int = 60,
        merge_neighbours: bool = True,
        rerank_top: int = 20,
        confidence_gain: float = 0.5,
        dup_jaccard: float = 0.9,
        query_cache_size: int = QUERY_CACHE_SIZE,
    ) -> None:
        built, given = getattr(index, "embedder_id", None), getattr(embedder, "id", None)
        if isinstance(built, str) and isinstance(given, str) and built != given:
            # the query vectors would be compared with another model's: ranked, but by nothing
            raise EmbedderMismatchError(built, given, getattr(getattr(index, "kb", None), "name", ""), given=True)
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.pool = pool
        self.merge_neighbours = merge_neighbours
        self.rerank_top = rerank_top
        self.confidence_gain = confidence_gain
        self.dup_jaccard = dup_jaccard
        self._state = threading.local()  # behind the last_* attributes below
        self._qvecs: BatchLRU[str, np.ndarray] = BatchLRU(self._embed_queries, query_cache_size)

    # what this thread's last call did (one retriever serves every request thread): the fusion
    # weights, the stage timings (ms), and after :meth:`retrieve_many` each phrasing's own hits,
    # in the order given (empty after a plain :meth:`retrieve`)
    last_debug: _PerThread[RetrievalDebug | None] = _PerThread(lambda: None)
    last_timings: _PerThread[dict[str, float]] = _PerThread(dict)
    last_phrasings: _PerThread[list[list[Hit]]] = _PerThread(list)
    # the query vectors of this thread's last call, whatever the cache keeps: the composer of the
    # same request reuses them (the cache may be off, or evict them under load)
    last_vectors: _PerThread[dict[str, np.ndarray]] = _PerThread(dict)
    # the access scope this thread's queries are cached under (:meth:`scope_queries`)
    last_scope: _PerThread[str] = _PerThread(str)

    def scope_queries(self, groups: Sequence[str] | None) -> None:
        """Cache this thread's next query vectors apart from those of users of other access groups
        (``groups``: the asker's; None, every group). A question asked moments before was answered
        in 1.6 ms of retrieval where a new one took 20-30, so a user in no group could tell which
        questions staff had just asked (QA 2026-12-07). Users of the same groups share them."""
        scope = "*" if groups is None else "g:" + "\x1e".join(sorted(groups))
        if scope != self.last_scope:
            self.last_scope = scope
            self.last_vectors = {}

    @property
    def last_primary(self) -> list[Hit] | None:
        """After :meth:`retrieve_many`, the hits of its first (main) phrasing alone, by which the
        caller judges whether the knowledge base covers the need; None after :meth:`retrieve`."""
        phrasings = self.last_phrasings
        return phrasings[0] if phrasings else None

    @cached_property
    def _traditional(self) -> bool:
        """Whether the knowledge base writes its Chinese in Traditional characters (then queries are
        embedded in Traditional; else in Simplified)."""
        writes = getattr(self.index, "writes_traditional", None)
        return bool(writes()) if callable(writes) else False

    @cached_property
    def _bare_cjk(self) -> bool:
        """Whether a Chinese query is embedded without its closing marks too: the knowledge base
        holds no curated question in Chinese, whose form it would match (:func:`bare_question`)."""
        holds = getattr(self.index, "holds_cjk_questions", None)
        return callable(holds) and not holds()

    # -- the pieces -------------------------------------------------------------------------------
    def _embed_queries(self, keys: list[str]) -> list[np.ndarray]:
        texts = [k.partition(_SCOPED)[2] for k in keys]  # (each key is its scope, _SCOPED, the text)
        # a question is embedded in the script the documents are written in: the embedder scores
        # the other one lower ("積分怎麼用" 0.828 against "积分怎么用" 0.893 to the demo's points
        # rules, under the refusal threshold; the same rules in Traditional, "积分怎么用" 0.841
        # against "積分怎麼用" 0.892)
        if self._traditional:
            texts = [t if writes_traditional(t) else to_traditional(t) for t in texts]
        else:
            texts = [to_simplified(t) for t in texts]
        if getattr(self.index, "bare_questions", True):
            # as the version's curated questions were embedded: without closing marks, one token
            # (about 1 ms) fewer (indexes.text.QUESTION_FORM)
            texts = [bare_question(t, self._bare_cjk) for t in texts]
        vecs = np.array(self.embedder.embed(texts, kind="query"), dtype=np.float32)  # a copy we own
        vecs.flags.writeable = False  # shared through the cache: nobody may change them in place
        return list(vecs)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector (cached: the ``query_cache_size`` most recent queries; a query of
        this thread's last call is never embedded again)."""
        return self.embed_queries([query])[0]

    def embed_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The vectors of ``texts``; the ones not cached are embedded in one batch."""
        last = self.last_vectors
        todo = [t for t in texts if t not in last]
        scope = self.last_scope + _SCOPED
        got = dict(zip(todo, self._qvecs.get_many([scope + t for t in todo]), strict=True)) if todo else {}
        out = [last[t] if t in last else got[t] for t in texts]
        if todo:
            self.last_vectors = dict(zip(texts, out, strict=True))
        return out

    def _pool_for(self, k: int) -> int:
        """How many candidates each retriever returns for ``k`` hits (the keyword searches
        :meth:`retrieve_many` starts ahead must be the ones :meth:`retrieve` would run)."""
        return max(self.pool, 5 * k)

    def _is_embedded(self, text: str) -> bool:
        return text in self.last_vectors or self.last_scope + _SCOPED + text in self._qvecs

    def _search_ahead(
        self, queries: Iterable[str], pool: int, allowed: np.ndarray | None
    ) -> dict[str, Future[_Keyword]]:
        """Start the keyword search of each of ``queries`` on a worker thread, to run while this
        thread embeds the query: the engine releases the GIL while it computes, and the search
        (0.3-0.9 ms after an embedding on the dev sets) then costs the request nothing on a
        machine with a core to spare. :meth:`_keyword` collects the results. The embedding stays
        on the request's thread: run on a worker, with this thread searching, its engine's
        threads contended with this one and the median rose by 4 ms on 2 cores.
        Run there, it also reads which query terms every chunk holds, and which of the years the
        query names, so that the coverage of the passages shown and the year preference are
        lookups after the embedding (0.13 ms on covid-faq; 0.16 ms more on the half of
        domainrag's questions that name a year), not more passes over the postings."""
        return {
            q: _keyword_pool().submit(self._keyword_search, q, pool, allowed, held=True) for q in dict.fromkeys(queries)
        }

    def _keyword_search(self, query: str, pool: int, allowed: np.ndarray | None, *, held: bool = False) -> _Keyword:
        """The keyword search's top ``pool``, and every chunk's BM25 score when the index gives
        them from the same pass (None otherwise): :meth:`_complete` reads the BM25 score of what
        the vector search found from them. ``held``: also which terms every chunk holds of the
        query (:meth:`_coverage` reads them) and of the years it names (:meth:`_mentioning`)."""
        search_all = getattr(self.index, "keyword_search_all", None)
        if not callable(search_all):
            return self.index.keyword_search(query, pool, allowed), None, {}
        top, every = search_all(query, pool, allowed)
        read: dict[str, HeldTerms] = {}
        held_of = getattr(self.index, "keyword_held", None)
        if held and callable(held_of):
            years = query_years(query)
            for text in (query, _years_text(years)) if years else (query,):
                got = held_of(text)
                if got is not None:
                    read[text] = got
        return top, every, read

    def _keyword(
        self, query: str, pool: int, allowed: np.ndarray | None, ahead: dict[str, Future[_Keyword]] | None
    ) -> _Keyword:
        """:meth:`_keyword_search` for ``query``: the one :meth:`_search_ahead` started, or run here
        when there is none, or when no worker has started it yet (all busy)."""
        started = ahead.get(query) if ahead else None
        if started is None or started.cancel():
            return self._keyword_search(query, pool, allowed)
        return started.result()

    def _embed_alongside(self, text: str, ahead: dict[str, Future[_Keyword]] | None) -> np.ndarray:
        """``text``'s query vector; the searches in ``ahead`` are cancelled if embedding fails."""
        try:
            return self.embed_query(text)
        except BaseException:
            for f in (ahead or {}).values():
                f.cancel()
            raise

    def forget_queries(self) -> None:
        """Drop the cached query vectors (benchmarks measure every query cold)."""
        self._qvecs.clear()
        self.last_vectors = {}

    @cached_property
    def _script_rows(self) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
        """Which chunk rows are written in CJK, and an even sample of up to SCRIPT_SAMPLE rows of
        each script (non-CJK, CJK); None when the index does not say, or holds one script only."""
        cjk_rows = getattr(self.index, "cjk_rows", None)
        if not callable(cjk_rows) or not callable(getattr(self.index, "passage_similarity", None)):
            return None
        cjk = cjk_rows()
        if min(int(cjk.sum()), int((~cjk).sum())) < SCRIPT_MIN_ROWS:
            return None
        return cjk, (even_sample(np.flatnonzero(~cjk), SCRIPT_SAMPLE), even_sample(np.flatnonzero(cjk), SCRIPT_SAMPLE))

    @cached_property
    def _script_vectors(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """For each script's sample (non-CJK, CJK): its rows that have a passage vector, and those
        vectors, kept: gathered from the stored vectors for every query, they cost 0.44 ms of each
        Chinese question on domainrag (6,907 chunks, 20 of them English), after the embedding."""
        scripts = self._script_rows
        assert scripts is not None
        non_cjk, cjk = scripts[1]
        return self.index.passage_vectors(non_cjk), self.index.passage_vectors(cjk)

    def _script_shift(self, qvec: np.ndarray, query_cjk: bool, allowed: np.ndarray | None) -> _Shift | None:
        """(the rows in the other script than the query's, what their cosines gain): the cosines
        of the query's own script's chunks less those of the other's, the smallest difference of
        their SCRIPT_QUANTILES (see SCRIPT_SAMPLE), or None when it is not positive, or either
        script has too few chunks the query may see."""
        scripts = self._script_rows
        if scripts is None:
            return None
        cjk, samples = scripts
        q = np.asarray(qvec, dtype=np.float32).reshape(-1)
        levels: list[np.ndarray] = []  # each script's cosines at SCRIPT_QUANTILES, the query's own first
        for in_cjk in (query_cjk, not query_cjk):
            sample = samples[in_cjk]
            with_vector, vecs = self._script_vectors[in_cjk]
            if allowed is not None and int(allowed[sample].sum()) < SCRIPT_MIN_ROWS:
                # a filter that leaves few of the sample: sample what it leaves
                left = even_sample(np.flatnonzero(allowed & (cjk == in_cjk)), SCRIPT_SAMPLE)
                cos = self.index.passage_similarity(qvec, left)
                cos = cos[~np.isnan(cos)]
            else:
                cos = (vecs if allowed is None else vecs[allowed[with_vector]]) @ q
            if len(cos) < SCRIPT_MIN_ROWS:
                return None
            levels.append(_percentiles(cos, SCRIPT_QUANTILES))
        gain = float(np.min(levels[0] - levels[1]))
        if gain <= 0:
            return None
        return (~cjk if query_cjk else cjk), gain

    def _weights(self, has_question: bool, capability: float, lang: str) -> tuple[float, float, float]:
        wq, wp, wb = FAQ_BLEND if has_question else TEXT_BLEND.get(lang, DEFAULT_TEXT_BLEND)
        return wq * capability, wp * capability, wb

    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        lang: str | None = None,
        *,
        rerank: bool = True,
        qvec: np.ndarray | None = None,
        _shared: _Shared | None = None,
        _keyword_ahead: dict[str, Future[_Keyword]] | None = None,
    ) -> list[Hit]:
        """One hit per source, best first. ``qvec``: the query's embedding when the caller has it
        (:meth:`retrieve_many` passes its main phrasing's vector to every phrasing, one
        ``_shared`` so that the vector searches, the same for each, run once, and the keyword
        searches it started while embedding, by query text, for the same ``k`` and ``filters``).
        A query that must be embedded has its keyword search run alongside the embedding."""
        t0 = time.perf_counter()
        self.last_phrasings = []
        query = (query or "").strip()
        if not query or self.index.n_chunks == 0:
            self.last_timings = {"retrieve": 0.0, "rerank": 0.0}
            return []
        lang = lang or detect_lang(query)
        allowed = self.index.allowed_mask(filters)
        if allowed is not None and not allowed.any():
            self.last_timings = {"retrieve": (time.perf_counter() - t0) * 1000, "rerank": 0.0}
            return []
        pool = self._pool_for(k)
        capability = dense_capability(self.embedder, query, lang)

        dense: list[tuple[int, float]] = []
        qdense: list[tuple[int, float]] = []
        shift: _Shift | None = None
        stage_t = [time.perf_counter()]  # the end of each stage (RetrievalDebug.stages_ms)
        ahead = _keyword_ahead
        shared = _Shared() if _shared is None else _shared
        if capability <= 0.0:
            qvec = None
        elif qvec is None:
            if ahead is None and not self._is_embedded(query):
                ahead = self._search_ahead([query], pool, allowed)
            qvec = self._embed_alongside(query, ahead)
        stage_t.append(time.perf_counter())
        bm25, bm25_every, held = self._keyword(query, pool, allowed, ahead)
        stage_t.append(time.perf_counter())
        # a list shorter than the pool holds every chunk with a query term: all others score 0, and
        # its lowest score is no floor (a Chinese question in a mostly English knowledge base
        # matches two documents: min-max would make their near-tie 1 against 0)
        b_floor = 0.0 if len(bm25) < pool else None
        if qvec is not None:
            if shared.vector is None or shared.vector[0] is not qvec:
                shift = self._script_shift(qvec, is_cjk_lang(lang), allowed)
                tops, every = self.index.vector_search_all(qvec, pool, allowed, ("passage", "question"), shift=shift)
                shared.vector = (qvec, ((tops["passage"], tops["question"]), every, shift))
            (dense, qdense), cos_every, shift = shared.vector[1]
            dense, bm25 = self._complete(query, qvec, dense, bm25, bm25_every, cos_every, shift)
        stage_t.append(time.perf_counter())

        rows = sorted({r for r, _ in dense} | {r for r, _ in qdense} | {r for r, _ in bm25})
        if not rows:
            self.last_timings = {"retrieve": (time.perf_counter() - t0) * 1000, "rerank": 0.0}
            return []
        chunks = _ChunkMap(self.index, rows)
        source_of, has_question, in_cjk = chunks.source_of, chunks.has_question, chunks.in_cjk
        query_cjk = is_cjk_lang(lang)

        # document-level evidence: the best chunk score of each source, per retriever
        def by_source(pairs: list[tuple[int, float]]) -> tuple[dict[str, float], dict[str, int]]:
            best: dict[str, float] = {}
            arg: dict[str, int] = {}
            for row, s in pairs:
                sid = source_of(row)
                if sid not in best or s > best[sid]:
                    best[sid], arg[sid] = float(s), row
            return best, arg

        d_src, d_arg = by_source(dense)
        q_src, q_arg = by_source(qdense)
        b_src, b_arg = by_source(bm25)
        d_n, q_n, b_n = minmax(d_src), minmax(q_src), minmax(b_src, b_floor)
        gain = self.confidence_gain
        conf = {
            "dense": (1.0 - gain) + gain * margin_of(d_n.values()) if d_src else 0.0,
            "qdense": (1.0 - gain) + gain * margin_of(q_n.values()) if q_src else 0.0,
            "bm25": (1.0 - gain) + gain * margin_of(b_n.values()) if b_src else 0.0,
        }
        d_row, q_row = dict(dense), dict(qdense)
        b_top = max((s for _, s in bm25), default=0.0)
        b_row = {r: s / b_top for r, s in bm25} if b_top > 0 else {}
        fused: dict[str, float] = {}
        row_weights: dict[str, tuple[float, float]] = {}  # source -> (dense weight, BM25 weight)

        def row_strength(r: int, w_dense: float, w_bm25: float) -> float:
            """How strongly one chunk row carries its source, under the source's fused weights."""
            return w_dense * max(d_row.get(r, 0.0), q_row.get(r, 0.0)) + w_bm25 * b_row.get(r, 0.0)

        weights_for = {has_q: self._weights(has_q, capability, lang) for has_q in (False, True)}
        unseen: list[tuple[str, float, float, float]] = []  # sources out of the keyword search's sight
        own_script_b: list[float] = []  # the normalised BM25 of the sources in the question's script
        for sid in set(d_src) | set(q_src) | set(b_src):
            rep = b_arg.get(sid)
            if rep is None:
                rep = d_arg[sid] if sid in d_arg else q_arg[sid]
            wq, wp, wb = weights_for[has_question(rep) and bool(q_src)]
            wq *= conf["qdense"]
            wp *= conf["dense"]
            wb *= conf["bm25"]
            if wq + wp + wb <= 0:
                continue
            row_weights[sid] = (wp + wq, wb)
            if sid not in b_src and in_cjk(rep) != query_cjk:
                unseen.append((sid, wq, wp, wb))
                continue
            own_script_b.append(b_n.get(sid, 0.0))
            fused[sid] = (wq * q_n.get(sid, 0.0) + wp * d_n.get(sid, 0.0) + wb * b_n.get(sid, 0.0)) / (wq + wp + wb)
        # A source written in another script than the question is out of the keyword search's
        # sight: its missing BM25 score says nothing against it, nor for it. It is taken to match
        # the question's words as well as the sources of the question's script do on average
        # (counted as 0 it could never rank for its meaning, "保修期多长？" for the English warranty
        # periods; left out of its fusion it won on its cosine alone, where the question's own
        # script's sources were also judged by their words: "退款多久到账" by the English refund
        # section over the Chinese one that BM25 and the embedder both found)
        typical_b = math.fsum(own_script_b) / len(own_script_b) if unseen and own_script_b else 0.0  # any order
        for sid, wq, wp, wb in unseen:
            fused[sid] = (wq * q_n.get(sid, 0.0) + wp * d_n.get(sid, 0.0) + wb * typical_b) / (wq + wp + wb)

        @cache  # asked for the top sources twice: to prefetch their chunks, then to show them
        def best_row(sid: str) -> int:
            """The chunk that carries the source: the strongest of its best rows per retriever."""
            cands = [r for r in (d_arg.get(sid), q_arg.get(sid), b_arg.get(sid)) if r is not None]
            return max(cands, key=lambda r: row_strength(r, *row_weights[sid]))

        def cosine(best: dict[str, float], arg: dict[str, int], sid: str) -> float:
            """The source's best cosine, without what the other script's rows gained for ranking."""
            if sid not in best:
                return 0.0
            return best[sid] - (shift[1] if shift is not None and shift[0][arg[sid]] else 0.0)

        def evidence(sid: str) -> dict[str, float]:
            return {
                "dense": cosine(d_src, d_arg, sid),
                "qdense": cosine(q_src, q_arg, sid),
                "bm25": b_src.get(sid, 0.0),
                "dense_n": d_n.get(sid, 0.0),
                "qdense_n": q_n.get(sid, 0.0),
                "bm25_n": b_n.get(sid, 0.0),
                "fused": fused[sid],
            }

        order = sorted(fused, key=lambda x: (-fused[x], x))
        by_row_source: dict[str, set[int]] = {}
        for row in rows:
            by_row_source.setdefault(source_of(row), set()).add(row)
        want = max(k, self.rerank_top if (self.reranker and rerank) else k)
        years = query_years(query)
        if years:
            order = _prefer_years(
                years,
                order,
                fused,
                lambda sids: self._mentioning(years, sids, by_row_source, chunks, held.get(_years_text(years))),
                2 * want,
            )
        stage_t.append(time.perf_counter())

        # collapse near-duplicates across sources, then build passages
        found: list[tuple[Hit, list[int]]] = []  # each hit with the chunk rows of its passage
        kept_keys: list[tuple[str, frozenset[str]]] = []
        kept_rows: list[int] = []  # every retrieved chunk of the sources kept
        chunks.prefetch(best_row(sid) for sid in order[: 2 * want])
        order = _prefer_named(query, order, fused, lambda sid: chunks[best_row(sid)].title, 2 * want)
        for sid in order:
            # A document whose best chunk repeats one already kept (manuals repeat paragraphs
            # across sections) is still a distinct source: it is shown by its best retrieved
            # chunk that is not a near-duplicate, and dropped only when it has none, or when it
            # is a copy of the sources kept (:meth:`_copies`): emanual-qa prints ten sections
            # twice, and a copy in the top 5 took the place of another section (hit@5 0.910 ->
            # 0.915 with copies left out; the other dev sets the same).
            retrieved = by_row_source.get(sid, set())
            top_row = best_row(sid)
            cands = [top_row] + sorted(retrieved - {top_row}, key=lambda r: -row_strength(r, *row_weights[sid]))
            picked: tuple[int, str | None, list[int], tuple[str, frozenset[str]]] | None = None
            for row in cands:
                merged = self._merged_rows(row, chunks[row], retrieved)
                built = shared.passages.get((row, tuple(merged)))
                if built is None:
                    text = self._passage(row, chunks[row], merged)
                    built = shared.passages[row, tuple(merged)] = (text, merged, _dup_signature(text or chunks[row].text))
                text, p_rows, sig = built
                if not _near_duplicate(sig, kept_keys, self.dup_jaccard):
                    picked = (row, text, p_rows, sig)
                    break
                if row == top_row and self._copies(retrieved, kept_rows, chunks):
                    break  # a copy of sources kept: a mirrored page, a manual's section printed twice
            if picked is None:
                continue
            row, text, p_rows, sig = picked
            kept_keys.append(sig)
            kept_rows.extend(retrieved)
            others = tuple(r for r in cands if r not in p_rows)
            hit = Hit(chunk=chunks[row], score=float(fused[sid]), scores=evidence(sid), text=text, rows=tuple(p_rows),
                      others=others)
            found.append((hit, p_rows))
            if len(found) >= want:
                break
        hits = self._coverage(query, found, held.get(query))
        t1 = time.perf_counter()
        stage_t.append(t1)
        stages = ("embed", "keyword", "vector", "fuse", "passages")
        self.last_debug = RetrievalDebug(
            lang=lang,
            weights={"capability": capability, **conf, "script_shift": shift[1] if shift is not None else 0.0},
            capability=capability,
            stages_ms={n: (b - a) * 1000 for n, a, b in zip(stages, stage_t[:-1], stage_t[1:], strict=True)},
        )
        if self.reranker is not None and rerank and hits:
            hits = self._rerank(query, hits)
        t2 = time.perf_counter()
        self.last_timings = {"retrieve": (t1 - t0) * 1000, "rerank": (t2 - t1) * 1000}
        return hits[:k]

    def retrieve_many(
        self,
        queries: Sequence[tuple[str, float]],
        k: int = 10,
        filters: Filters | None = None,
        lang: str | None = None,
        *,
        rerank: bool = True,
    ) -> list[Hit]:
        """Retrieve for several phrasings of one need, ``(query, weight)`` pairs, and fuse them:
        a source scores the weighted mean of its fused score under each phrasing (0 where one did
        not return it). A follow-up is asked as its condensed form (the question plus the earlier
        turn: the context that resolves "it" and "the college") and as the question alone (what
        is asked now), so that the earlier turn's topic cannot crowd out the answer in the
        keyword search.

        Only the first (main) phrasing is embedded; every phrasing is searched with its vector.
        The others add their own words (BM25, and the keyword score of every candidate): the
        question alone is what its words ask, but its meaning needs the turn it follows ("and to
        Switzerland?"). Follow-up hit@5 with weights 1 / 0.5, each phrasing with its own vector
        against the main one's: mtrag-un 0.968 / 0.968 (MRR@10 0.898 / 0.907), domainrag
        0.750 / 0.833; the shared vector does as well or better at weights 0.3-1 on both, and it
        saves embedding the question a second time (a follow-up's one embedding is the condensed
        text). Each hit keeps the evidence (``scores``, passage) of the first phrasing that
        returned its source; timings add up over the phrasings; :attr:`last_primary` keeps the
        first phrasing's own hits.

        (Embedding the question and the previous turn apart and adding their vectors ranks as
        well and would reuse the previous turn's cached vector, but its cosines separate
        unanswerable questions worse: on mtrag-un ROC-AUC 0.77 against 0.83 for the joined text,
        and at the refuse threshold it refuses 36% of them instead of 64%; averaging both
        phrasings' relevance recovers the ROC-AUC but still refuses only 54%.)"""
        t0 = time.perf_counter()
        items = [(q.strip(), float(w)) for q, w in queries if (q or "").strip() and w > 0]
        if len(items) <= 1:
            return self.retrieve(items[0][0] if items else "", k, filters, lang, rerank=rerank)
        lang = lang or detect_lang(items[0][0])
        main_vec: np.ndarray | None = None
        ahead: dict[str, Future[_Keyword]] | None = None
        if self.index.n_chunks and dense_capability(self.embedder, items[0][0], lang) > 0.0:
            if not self._is_embedded(items[0][0]):
                # every phrasing's keyword search runs while the main one is embedded, with the
                # pool and mask retrieve() uses (same k, same filters)
                ahead = self._search_ahead([q for q, _ in items], self._pool_for(k), self.index.allowed_mask(filters))
            main_vec = self._embed_alongside(items[0][0], ahead)
        total_w = sum(w for _, w in items)
        score: dict[str, float] = {}
        first: dict[str, Hit] = {}
        timings = {"retrieve": (time.perf_counter() - t0) * 1000, "rerank": 0.0}
        debug: RetrievalDebug | None = None
        # one vector, one filter: its searches run once
        shared = _Shared()
        phrasings: list[list[Hit]] = []
        for text, w in items:
            got = self.retrieve(
                text, k, filters, lang, rerank=rerank, qvec=main_vec, _shared=shared, _keyword_ahead=ahead
            )
            for h in got:
                sid = h.chunk.source_id
                score[sid] = score.get(sid, 0.0) + w * h.score / total_w
                first.setdefault(sid, h)
            for key, ms in self.last_timings.items():
                timings[key] = timings.get(key, 0.0) + ms
            if not phrasings:
                debug = self.last_debug
            phrasings.append(got)
        self.last_timings = timings
        self.last_debug = debug  # the first (main) phrasing's weights
        self.last_phrasings = phrasings
        order = sorted(score, key=lambda sid: (-score[sid], sid))[:k]
        return [replace(first[sid], score=score[sid]) for sid in order]

    def _complete(
        self,
        query: str,
        qvec: np.ndarray,
        dense: list[tuple[int, float]],
        bm25: list[tuple[int, float]],
        bm25_every: np.ndarray | None = None,
        cos_every: np.ndarray | None = None,
        shift: _Shift | None = None,
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Score every candidate by both retrievers: a chunk that only BM25 found gets its real
        cosine, one that only the vector search found its real BM25 score (read from
        ``cos_every`` and ``bm25_every``, every chunk's, when the searches gave them). Counting a
        chunk absent from one retriever's top ``pool`` as 0 there sank passages that BM25 ranked
        2nd and the embedder 86th below ones both ranked 10th. Indexes that cannot score given
        rows (test doubles) keep the two top lists as they are. ``shift``: rows whose cosine counts
        more by an amount (``cos_every`` has it added already)."""
        cos_of = _read_rows(cos_every) if cos_every is not None else getattr(self.index, "passage_similarity", None)
        if cos_every is None and shift is not None and callable(cos_of):
            cos_of = _shifted(cos_of, *shift)
        bm25_of = _read_rows(bm25_every) if bm25_every is not None else getattr(self.index, "keyword_scores", None)
        if not callable(cos_of) or not callable(bm25_of):
            return dense, bm25
        d_rows = {r for r, _ in dense}
        b_rows = {r for r, _ in bm25}
        only_b = sorted(b_rows - d_rows)
        only_d = sorted(d_rows - b_rows)
        if only_b:
            sims = cos_of(qvec, only_b)
            dense = dense + [(r, float(s)) for r, s in zip(only_b, sims.tolist(), strict=True) if s == s]  # not NaN
        if only_d:
            kw = bm25_of(query, only_d)
            bm25 = bm25 + [(r, float(s)) for r, s in zip(only_d, kw.tolist(), strict=True) if s > 0]
        return dense, bm25

    def _copies(self, rows: set[int], kept_rows: list[int], chunks: _ChunkMap) -> bool:
        """Whether every chunk at ``rows`` (one source's retrieved chunks) repeats a retrieved chunk
        of the sources already kept: the source adds nothing to them and is left out, where one
        that only shares its best passage with them (an overlapping window of a page, a manual
        repeating a paragraph) is shown by a chunk of its own. Asked only of a source whose best
        passage repeats a kept one, so the chunks are fetched then."""
        chunks.prefetch([*kept_rows, *rows])
        kept = [_dup_signature(chunks[r].text) for r in kept_rows]
        return all(_near_duplicate(_dup_signature(chunks[r].text), kept, self.dup_jaccard) for r in rows)

    def _mentioning(
        self,
        years: frozenset[str],
        sids: list[str],
        rows_of: dict[str, set[int]],
        chunks: _ChunkMap,
        held: HeldTerms | None = None,
    ) -> set[str]:
        """The sources among ``sids`` whose retrieved chunks (titles included) mention one of
        ``years`` (read from ``held`` when the keyword search gave it)."""
        groups = [sorted(rows_of.get(sid, ())) for sid in sids]

        def text_of(i: int) -> str:
            chunks.prefetch(groups[i])
            return " ".join(f"{chunks[r].title} {chunks[r].text}" for r in groups[i])

        cover = self._keyword_coverage(_years_text(years), groups, text_of, held)
        return {sid for sid, c in zip(sids, cover, strict=True) if c > 0}

    def _merged_rows(self, row: int, chunk: Chunk, retrieved_rows: set[int]) -> list[int]:
        """The rows of the chunk's passage (:meth:`_passage`): the chunk and the chunks next to it
        in its document that were also retrieved (the answer runs across a chunk boundary)."""
        if not self.merge_neighbours or chunk.kind == "faq" or len(retrieved_rows) < 2:
            return [row]
        neigh = [r for r in self.index.neighbours(row, 1, 1) if r in retrieved_rows]
        return sorted({*neigh, row}) if neigh else [row]

    def _passage(self, row: int, chunk: Chunk, rows: list[int]) -> str | None:
        """The chunk's text, merged with the chunks at ``rows`` (:meth:`_merged_rows`; the
        chunk's own among them). None = the chunk alone. Where a part starts a section after
        another part, its heading stands before it (a :data:`HEADING_MARK` line), as it does
        before a first part in another section than the chunk's own and before a chunk that opens
        with a list: "Items that cannot be returned" is what the list's items are items of."""
        parts = [chunk] if len(rows) == 1 else sorted(self.index.get_chunks(rows), key=lambda c: c.position)
        lines: list[str] = []
        # a first part in another section than the chunk's own (whose section the locator names)
        # stands under its heading too: "Log in to your Acme account, open Orders..." merged
        # before the chunk under "## 5. Return shipping costs" is how to start a return, which
        # "How do I return something?" asks
        elsewhere = parts[0].heading_path != chunk.heading_path
        for i, part in enumerate(parts):
            head = section_heading(part)  # (its line names the sections it is in too)
            body = part.text
            if i:
                opens = part.heading_path != parts[i - 1].heading_path
                body = _joined(part, parts[i - 1])
            else:
                # (so does one whose heading gives a price, "Golden Poppy Vehicle Day Use Annual Pass
                # $125", which its text never says: "how much is the Golden Poppy one?" was told
                # what three passes are valid for, and no price)
                opens = elsewhere or bool(LIST_ITEM.match(part.text.split("\n", 1)[0])) or gives_a_price(head)
            if head and opens:
                lines.append(HEADING_MARK + section_path(part))
            lines.append(body)
        text = "\n".join(lines)
        return None if text == chunk.text else text

    def answer_excerpts(self, question: str, hits: Sequence[Hit], query: str | None = None) -> list[Hit]:
        """``hits`` with, for each of the first :data:`KIND_EXCERPT_TOP` whose passage gives no
        answer of the kind the question asks for (:func:`answer_kind`: a duration for "how long",
        a number for "多少") about one of its terms, the first of its source's other retrieved
        chunks (``Hit.others``, strongest first) that has one, added as a section of its own in
        document order. The passage that matches "How long does a repair take?" best is the
        warranty's "What the warranty covers" ("Repair or replacement of a defective product...");
        its answer, "Most repairs are completed within 10 business days", is two sections further
        on. One excerpt at most: the passage stays about its best chunk. Run when an answer is
        composed (the ranking, and so every retrieval metric, is the same without it). ``query``:
        the turn as condensed, whose terms count when the question's own do not ("how long does
        it take?").

        A follow-up's passage was found with the turn it follows, whose words can pull it to another
        section ("会过期吗？" after "积分怎么获得？" was answered how points are earned). So:

        - one that asks for no kind of answer gets, the same way, the other chunk that names most
          of its own terms (its section's heading included), where that is more than its passage
          names ("What about unbinding?": the unbind command; "Does it cover water damage?" after
          "What is the warranty period?": the exclusions, where the periods' section only says
          the warranty "covers defects");
        - one whose passage gives the kind of answer, but in a section whose heading names none of
          its terms, gets the first other chunk with one under a heading that does ("How long does
          a refund take?" after "How do I return an item?": "6. Refunds", where the return
          window's "30 days ... to return an item for a refund" is a duration that names a
          refund)."""
        parts = split_asks(question)
        if len(parts) > 1:
            # a question that asks two things ("Can I return an item and how long will the refund
            # take?") is read as each of them asked after the whole: a passage found for the whole
            # may answer one part, and its source's other section the other
            out = list(hits)
            for part in parts:
                out = self.answer_excerpts(part, out, query or question)
            return out
        hits = self._named_rows(question, hits)
        kind = asked_kind(question, query)
        # the words that ask for a price ("cost" in "How much does that cost?") say what kind of
        # answer is wanted, as "long" does in "how long": what it is the price of is the topic,
        # from the turn as condensed where the question names nothing else
        asked = frozenset(tokenize(query_topic(question))) - price_terms(question)
        topic = asked or (frozenset(tokenize(query_topic(query))) if query else frozenset())
        how_to = kind is None and asks_how_to(question) and bool(topic)
        action = how_to_action(question) if how_to else None
        if how_to:
            hits = self._steps_continued(hits)
        elif kind is None and class_words(question):
            # so is a list a question for the members of a class asks for ("What documents do I
            # need?" was told three of the four documents, where the chunk ended)
            hits = self._steps_continued(hits, LIST_ITEM.match)
        # a follow-up's passage was found with the turn it follows, whose words may have pulled it
        # to another section ("会过期吗？" after "积分怎么获得？": how points are earned)
        follows = bool(asked and query and query.strip() != question.strip())
        may = not follows and kind is None and len(asked) > 1 and asks_may(question)
        if not (kind is not None and topic or how_to or follows or may):
            return list(hits)
        # the answer of the kind asked is about what a pronoun names too: "how much did it cost when
        # it came out?" after "When did Apple announce the iMac Pro?" asks the iMac Pro's price,
        # which the sentence "The iMac Pro was released ... with a starting price of $4,999" gives
        # and names by the turn before's words, not by "came" ("it" is the topic as condensed)
        kind_topic = topic
        if follows and kind is not None and query and points_back(question):
            kind_topic = topic | (frozenset(tokenize(query_topic(query))) - price_terms(query))

        def titled(chunks: Sequence[Chunk]) -> bool:
            """Whether the heading of one of ``chunks``' sections names what is asked now."""
            return any(named_terms(asked, section_path(c)) for c in chunks)

        def naming_most(passage: str, extras: Sequence[Chunk]) -> Chunk | None:
            """The chunk of ``extras`` that names most of what is asked now, heading included,
            where that is more than ``passage`` names (the strongest of equals)."""
            most, best = max(
                ((len(named_terms(asked, f"{section_path(c)}\n{c.text}")), c) for c in extras), key=lambda x: x[0]
            )
            return best if most > len(named_terms(asked, passage)) else None

        out = list(hits)
        for i, h in enumerate(hits[:KIND_EXCERPT_TOP]):
            if not h.others or not h.rows:
                continue
            own: list[Chunk] = []  # the passage's own chunks, read when needed
            extra: Chunk | None = None
            if kind is not None and topic:
                answered = _answers_kind(kind, kind_topic, h.passage)
                if not follows:
                    # a section that gives the kind under headings naming more of what is asked is
                    # read too: "社保卡补办需要多长时间？" was told "社保卡遗失或被盗的，应当立即办理挂失" (a
                    # duration that names 社保卡) from the passage found, where "三、社保卡补办 >
                    # （四）办理时限" says "五个工作日内制卡完成"; "补办社保卡多少钱？" was told nothing of
                    # the fee its steps name ("缴纳补卡工本费20元", under "（三）办理流程")
                    own = self.index.get_chunks(list(h.rows))
                    extras = self.index.get_chunks(list(h.others))
                    said = max(_kind_named(kind, asked, c) for c in own) if answered else 0
                    # (of equals, the first under a heading that names what is asked: "6. Refunds",
                    # over "1. Return window", whose "30 days ... to return an item for a refund" is
                    # the stronger chunk, for "how long will the refund take?")
                    (most, _), best = max(
                        (((_kind_named(kind, asked, c), titled([c])), c) for c in extras), key=lambda x: x[0]
                    )
                    if most > said:
                        out[i] = self._with_excerpt(h, best, h.others[extras.index(best)])
                        continue
                    if answered:
                        continue
                elif answered:
                    # a follow-up's passage may give the kind of answer for the turn it follows
                    # ("You have 30 days ... to return an item for a refund" for "How long does a
                    # refund take?" after "How do I return an item?"): the section titled by what is
                    # asked now ("6. Refunds") is read too, where the passage's own is not
                    own = self.index.get_chunks(list(h.rows))
                    if titled(own):
                        continue
                extras = self.index.get_chunks(list(h.others))
                # of the other chunks that give the kind, the first under a heading that names what
                # is asked ("6. Refunds" for "how long will the refund take?", over "1. Return
                # window", whose "30 days ... to return an item for a refund" is the stronger
                # chunk); any that gives it where the passage gives none
                fits = [c for c in extras if _answers_kind(kind, kind_topic, c.text)]
                extra = next((c for c in fits if titled([c])), None if answered else next(iter(fits), None))
                if extra is None and follows and not named_terms(asked, h.passage):
                    # a follow-up that takes the turn before's kind to another subject ("what about
                    # roaming?" after "What is the late fee?"), none of whose chunks gives that kind
                    # by its words (the roaming packs' prices stand in a table under "Roaming packs"),
                    # reads the chunk that names it: it was told the late fee again
                    extra = naming_most(h.passage, extras)
            elif may:
                # "Can I return a gift card?": the passage found ("If you paid with a gift card,
                # the refund is issued as a new gift card") reads as yes; the section that names
                # what is asked with one of its terms negated ("Gift cards ... cannot be returned")
                # says no. Read too, where the passage says nothing negated of the question's terms
                if negated_terms(h.passage) & asked:
                    continue
                extras = self.index.get_chunks(list(h.others))
                extra = next(
                    (c for c in extras if negated_terms(c.text) & asked
                     and named_terms(asked, f"{section_path(c)}\n{c.text}") == asked),
                    None,
                )
            elif how_to:
                # a section that tells how, about one of the question's terms ("4. How to start a
                # return" for "How do I return an item?"), closest to what is asked, when the
                # passage has none as close (read from each chunk's heading)
                own = self.index.get_chunks(list(h.rows))
                extras = self.index.get_chunks(list(h.others))
                told = max((_tells_how(topic, c, not follows, action) for c in own), default=(0, False))
                tells, best = max(((_tells_how(topic, c, not follows, action), c) for c in extras), key=lambda x: x[0])  # first of equals
                extra = best if tells > told else None
            else:
                # the section that names more of what is asked now is read too ("Does it cover water
                # damage?" after "What is the warranty period?": the periods' section says the
                # warranty "covers defects", the exclusions' section names the damage): the chunk
                # that names most of the question's terms, heading included, more than the passage
                # does (the strongest of equals)
                extras = self.index.get_chunks(list(h.others))
                if len(named_terms(asked, h.passage)) == len(asked):
                    # (all of it in passing, under headings that name none of it, where another
                    # chunk's section is headed by it: "What are the opening hours in London?" after
                    # Manchester's was told the bank-holiday hours, "The London club keeps its
                    # 24-hour opening", not the London section)
                    if titled(self.index.get_chunks(list(h.rows))):
                        continue
                    extra = next((c for c in extras if titled([c])), None)
                else:
                    extra = naming_most(h.passage, extras)
            if extra is not None:
                out[i] = self._with_excerpt(h, extra, h.others[extras.index(extra)])
        return out

    def _steps_continued(
        self, hits: Sequence[Hit], item: Callable[[str], re.Match[str] | None] = numbered_step
    ) -> list[Hit]:
        """``hits`` with, for each of the first :data:`KIND_EXCERPT_TOP` whose passage ends with a
        numbered step (``item``: a list's item of any mark), the next chunk of its document where
        that goes on with the list (its first line a step, or the rest of the step cut), retrieved
        or not: "How do I set up my router?" was told steps 1 to 6 of 15, where the chunk ended,
        with room for more."""
        out = list(hits)
        for i, h in enumerate(hits[:KIND_EXCERPT_TOP]):
            # the list's last step ends the passage (on its last line, or cut before it)
            last = run_in_list_lines(h.passage).rstrip().split("\n")[-2:]
            if h.chunk.kind == "faq" or not h.rows or not any(item(x) for x in last):
                continue
            after = self.index.neighbours(h.rows[-1], 0, 1)
            if not after or after[0] in h.rows:
                continue
            nxt = self.index.get_chunks(after[:1])[0]
            opening = run_in_list_lines(nxt.text.removeprefix(CONTINUES).lstrip()).split("\n", 1)[0]
            if nxt.heading_path == h.chunk.heading_path and (nxt.text.startswith(CONTINUES) or item(opening)):
                out[i] = self._with_excerpt(h, nxt, after[0])
        return out

    def _with_excerpt(self, h: Hit, extra: Chunk, row: int) -> Hit:
        """``h`` with ``extra`` (its source's chunk at ``row``) added to its passage in document
        order, joined as :meth:`_passage` joins a passage's chunks: under its heading where it
        stands in another section than the part before it, with a split table's header and the
        chunker's overlap said once (an excerpt right before the passage repeated the table's
        header, where one right after it did not). ``row`` is not one of ``h.rows``."""
        rows = [*h.rows, row]
        position = {r: c.position for r, c in zip(rows, self.index.get_chunks(rows), strict=True)}
        rows.sort(key=position.__getitem__)
        text = self._passage(row, h.chunk, rows)
        return replace(h, text=text, rows=tuple(rows), others=tuple(r for r in h.others if r != row))

    def _named_rows(self, question: str, hits: Sequence[Hit], named: Callable[[str], bool] | None = None) -> list[Hit]:
        """``hits`` with, for each of the first :data:`KIND_EXCERPT_TOP`, the first of its source's
        other retrieved chunks that holds a table row the question names by its first cell ("Plus"
        in "How much is the Plus plan?") where the passage holds no such row. A table split across
        chunks had its other rows left out: the plans' passage, found by "Plus or Max plan" in the
        family discount's section, held the Max row only, and "How much is the Plus plan?" was
        answered with the discount. ``named``: the test of a passage's text, where the caller has
        it (:func:`_row_namer`)."""
        if named is None:
            topic = frozenset(tokenize(query_topic(question))) - price_terms(question)
            if not topic:
                return list(hits)
            named = _row_namer(question, topic)
        out = list(hits)
        for i, h in enumerate(hits[:KIND_EXCERPT_TOP]):
            if not h.others or not h.rows or named(h.passage):
                continue
            extras = self.index.get_chunks(list(h.others))
            extra = next((c for c in extras if named(c.text)), None)
            if extra is not None:
                out[i] = self._with_excerpt(h, extra, h.others[extras.index(extra)])
        return out

    def named_rows(self, question: str, hits: Sequence[Hit], more: Sequence[Hit] = ()) -> list[Hit]:
        """``hits`` with a split table's row the question names added to its passage
        (:meth:`_named_rows`), and, where the first passage then holds none, the first after it that
        does put second (one of ``hits``, else of ``more``, the passages retrieved after them, in
        place of the last): one passage per document, a table split over chunks, and a question
        that names a row by its label and a column's header ("Storage" and "Enterprise" of a table
        of features by plan), the row never reached the composer (which reads the first few
        passages) or the refuse check (the first three). "How much storage does
        Enterprise get?" was refused (cosine 0.85, under 0.856), the plans' passage being the
        table's Support and Uptime rows; "What does the Team plan cost if I pay annually?" was
        told a downgrade's rule, the plans' passage with the price rows ranked 6th (QA 2026-12-07).
        Read only when an answer is composed or a question would be refused: the ranking, and so
        every retrieval metric, is the same without it."""
        topic = frozenset(tokenize(query_topic(question))) - price_terms(question)
        if not topic:
            return list(hits)
        named = _row_namer(question, topic)
        out = self._named_rows(question, hits, named)
        if not out or named(out[0].passage):
            return out
        # (second: the composer reads the first few passages, the best one first)
        at = next((i for i, h in enumerate(out) if i > 0 and named(h.passage)), None)
        if at is not None:
            return [out[0], out[at], *out[1:at], *out[at + 1 :]]
        extra = next((h for h in more if named(h.passage)), None)
        if extra is None or any(h.chunk.source == extra.chunk.source for h in out):
            return out
        return [out[0], extra, *out[1:-1]] if len(out) > 1 else [*out, extra]

    def _coverage(self, query: str, hits: list[tuple[Hit, list[int]]], held: HeldTerms | None = None) -> list[Hit]:
        """Each hit with ``coverage``: the share of the query's terms its passage holds (read
        from ``held`` when the keyword search gave it)."""

        def text_of(i: int) -> str:
            h = hits[i][0]
            return h.chunk.embed_text() if h.text is None else h.text + " " + h.chunk.title

        cover = self._keyword_coverage(query, [rows for _, rows in hits], text_of, held)
        for (h, _), c in zip(hits, cover, strict=True):
            h.scores["coverage"] = float(c)
        return [h for h, _ in hits]

    def _keyword_coverage(
        self, query: str, groups: list[list[int]], text_of: Callable[[int], str], held: HeldTerms | None = None
    ) -> list[float]:
        """For each group of chunk rows, the share of the query's terms it holds: looked up in
        ``held`` (the query's terms per chunk, read while the query was embedded) when given,
        else read from the keyword index's postings (title included, as indexed); an index
        without them (a test double) has ``text_of(i)``, group ``i``'s text, analysed instead."""
        if held is not None:
            return held.coverage(groups)
        cover_of = getattr(self.index, "keyword_coverage", None)
        if callable(cover_of):
            return list(cover_of(query, groups))
        q_terms = _term_set(query)
        if not q_terms:
            return [0.0] * len(groups)
        return [len(q_terms & _term_set(text_of(i))) / len(q_terms) for i in range(len(groups))]

    def _rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        assert self.reranker is not None
        top = hits[: self.rerank_top]
        scores = self.reranker.score(query, [h.passage for h in top])
        out: list[Hit] = []
        for h, s in zip(top, scores, strict=True):
            ev = dict(h.scores)
            ev["rerank"] = float(s)
            # keep the fused evidence in the score so that a reranker cannot promote a passage
            # that neither retriever found relevant
            out.append(replace(h, score=float(0.7 * s + 0.3 * h.score), scores=ev))
        out.sort(key=lambda h: -h.score)
        return out + hits[self.rerank_top :]
