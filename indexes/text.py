"""Shared language tools for English and Chinese: normalisation, language detection, the BM25
analyzer and sentence splitting. Used by ingest, rag and eval alike, so that documents and queries
are always analysed the same way.

The analyzer splits text into script runs: CJK runs go through jieba ``cut_for_search`` (jieba is
initialised once per process, quietly), everything else through the English analyzer (lowercase,
stop words, Snowball stemming via PyStemmer). Mixed text ("三星 Galaxy S23 的保修") therefore
yields both jieba words and stemmed ASCII words. Beside those terms the keyword index keeps features
that are never terms: :func:`phrase_terms` (adjacent pairs) and :func:`char_terms` (each Chinese
character).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from indexes.types import CONTINUES
from kb.errors import INVISIBLE, without_controls

__all__ = [
    "normalize_text", "without_controls", "detect_lang", "tokenize", "phrase_terms", "split_sentences", "is_cjk_char",
    "to_simplified", "char_terms",
]

# --- character classes -------------------------------------------------------------------------

_CJK_RANGES = (
    "\u3400-\u4dbf"  # Extension A
    "\u4e00-\u9fff"  # Unified ideographs
    "\uf900-\ufaff"  # Compatibility ideographs
    "\u3040-\u30ff"  # Hiragana / Katakana (treated as CJK script runs)
)
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
_CJK_RUN = re.compile(f"[{_CJK_RANGES}]+")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
# ASCII / Latin words and numbers: "covid-19" -> "covid", "19"; "S23" -> "s23"; "3.5" -> "3.5"
_WORD = re.compile(
    r"[A-Za-z]+\d[A-Za-z0-9]*|\d+[A-Za-z][A-Za-z0-9]*"  # model numbers: S23, 4K, a4, 5G
    r"|\d+(?:[.,]\d+)*|[A-Za-z\u00c0-\u024f]+(?:'[A-Za-z]+)?"
)


def is_cjk_char(ch: str) -> bool:
    return bool(_CJK_CHAR.match(ch))


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK character."""
    return bool(_CJK_CHAR.search(text))


def outermost(strings: Iterable[str]) -> list[str]:
    """``strings`` without those inside a longer one of them, in their order: "数学" in "数学与应用
    数学", the sub-word 保修 that the analyzer indexes within 保修期."""
    found = list(strings)
    return [t for t in found if not any(t != u and t in u for u in found)]


# --- Traditional and Simplified Chinese ----------------------------------------------------------


@lru_cache(maxsize=2)
def _table(name: str) -> dict[int, str]:
    path = Path(__file__).with_name("data") / name  # made by scripts/make_t2s.py
    return {ord(a): b for a, b in json.loads(path.read_text(encoding="utf-8")).items()}


def _t2s() -> dict[int, str]:
    return _table("t2s.json")


def to_simplified(text: str) -> str:
    """``text`` with its Traditional Chinese characters written in their Simplified form ("退貨" ->
    "退货"), one character for one (positions hold); characters that Simplified text also writes
    (著, 乾) stay. The analyzer reads text so, and the rules that read a question's words too, so a
    question in either script finds passages in either."""
    return text.translate(_t2s())


def to_traditional(text: str) -> str:
    """``text`` with the Simplified characters that have one Traditional form only written in it
    ("积分" -> "積分"; 发, 發 or 髮, stays), one character for one: how a Simplified question is
    embedded for a knowledge base written in Traditional characters."""
    return text.translate(_table("s2t.json"))


# --- Chinese numerals ------------------------------------------------------------------------------

# A number that Chinese writes in numerals or in digits alike: an ordinal (第十二条, 第12条) or a
# number before a unit (十五天 / 15天, 七天无理由 / 7天无理由, 两个工作日 / 2个工作日, 三十日内, 二百元,
# 贰佰元), or a percentage (百分之六十 / 60%). Policy clauses write the numerals and customers type
# digits, or the other way round, and jieba cuts the two forms into no common word ("第十二条":
# 第十二条, 十二条, ...; "第12条": 第, 12, 条). The analyzer reads such a number as digits
# (:func:`arabic_numerals`). Idioms and words that hold a numeral but count nothing (统一, 一些,
# 十分, 千万不要, 唯一一个) are left as written: the numeral must stand after 第 or before a unit,
# and one (一) only before a unit of time or money.
CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "兩": 2, "贰": 2, "貳": 2, "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
CN_POWERS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CN_MYRIADS = {"万": 10_000, "萬": 10_000}
# (a unit word that begins another word is none: 万一天气, 统一天下, 一日本)
_TIME_OR_MONEY = (
    "个工作日|工作日|个小时|小时|个钟头|分钟|秒钟|秒|天(?![气然空津猫使堂才线鹅地生真色下])|日(?![本常记报志语])|周|星期|个星期|个月|月|季度|年|元|块(?!儿)|万|亿|美元|港元|港币|欧元|英镑"
)
_CN_UNIT = (
    f"{_TIME_OR_MONEY}|个|次|条|款|项|章|节|件|张|份|人|名|位|岁|倍|折|成|期|级|档|台|部|套|笔|晚|夜|间|层|号|"
    "点钟|点|公里|千米|公斤|千克|斤|克|吨|米|厘米|毫米|升|毫升|寸|英寸"
)
_CN_NUMERAL = "".join(CN_DIGITS) + "".join(CN_POWERS)
_CN_NUMBER = re.compile(
    rf"百分之(?P<pct>[{_CN_NUMERAL}]+|\d+(?:\.\d+)?)"
    rf"|(?P<ord>第)(?P<n1>[{_CN_NUMERAL}]+)|(?P<n2>[{_CN_NUMERAL}]+)(?=(?:多|余)?(?P<unit>{_CN_UNIT}))"
)


def numeral_value(numeral: str) -> int:
    """The value of a Chinese numeral as written, each character a digit, 十/百/千 or 万 ("三十" 30,
    "一百二十" 120, "两万五千" 25000, "贰佰" 200); one without 十/百/千/万 is read digit by digit
    ("二〇二六" 2026)."""
    if not any(ch in CN_POWERS or ch in CN_MYRIADS for ch in numeral):
        return int("".join(str(CN_DIGITS[ch]) for ch in numeral))
    total = section = 0
    digit = None
    for ch in numeral:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        elif ch in CN_MYRIADS:
            total += (section + (digit or 0)) * CN_MYRIADS[ch]
            section, digit = 0, None
        else:
            section += (1 if digit is None else digit) * CN_POWERS[ch]
            digit = None
    return total + section + (digit or 0)


def cn_number(numeral: str) -> int | None:
    """The value of a Chinese numeral that is one number (:func:`numeral_value`: "十二" 12, "一百零五"
    105, "两千" 2000, a year digit by digit, "二〇二六" 2026); None for what is none ("三四", three or
    four; "一一"; "十百")."""
    if not any(ch in CN_POWERS for ch in numeral):
        return numeral_value(numeral) if len(numeral) in (1, 4) else None
    digit, last_power = None, 10_000
    for ch in numeral:
        if ch in CN_DIGITS:
            if digit is not None and CN_DIGITS[ch] != 0 and digit != 0:
                return None  # two digits in a row: "三四十"
            digit = CN_DIGITS[ch]
        else:
            if CN_POWERS[ch] >= last_power:
                return None  # "十百": no number
            digit, last_power = None, CN_POWERS[ch]
    return numeral_value(numeral)


def _arabic(m: re.Match[str]) -> str:
    pct = m.group("pct")
    if pct is not None:  # 百分之六十: 60%
        value = pct if pct[0].isdigit() else cn_number(pct)
        return m.group(0) if value is None else f"{value}%"
    numeral = m.group("n1") or m.group("n2")
    value = cn_number(numeral)
    if value is None:
        return m.group(0)
    if m.group("ord"):
        return f"第{value}"
    unit = m.group("unit")
    once = unit == "次" and not m.string.startswith("性", m.end() + 1)  # 一次 ("免费退改一次"), not 一次性
    if value == 1 and not once and not re.fullmatch(_TIME_OR_MONEY, unit):
        return m.group(0)  # 一个, 一次性, 一件: a word more than a count
    if numeral in ("千", "百", "仟", "佰") and unit in ("万", "亿"):
        return m.group(0)  # 千万 ("by all means"), 百万 alone
    if len(numeral) == 4 and unit != "年" and not any(ch in CN_POWERS for ch in numeral):
        return m.group(0)  # four digits in a row are a year
    return str(value)


def arabic_numerals(text: str) -> str:
    """``text`` with its Chinese numerals that count something (after 第, before a unit) written in
    digits: "第十二条" -> "第12条", "十五天内" -> "15天内", "贰佰元" -> "200元", "二〇二六年" -> "2026年",
    "百分之六十" -> "60%";
    "统一", "一些", "十分" stay. The keyword analyzer reads text so (the ``nums`` analysis)."""
    if not _CN_NUMERAL_CHAR.search(text):
        return text
    return _CN_NUMBER.sub(_arabic, text)


_CN_NUMERAL_CHAR = re.compile(f"[{_CN_NUMERAL}]")


# the share of Traditional forms (traditional_share) from which a text is taken to be written in
# Traditional: Simplified text holds about 0.001 (a name, a quotation), Traditional 0.3-0.5, a short
# Traditional question as little as one character in eight ("積分有效期是多久？")
TRADITIONAL_SHARE = 0.05


def writes_traditional(text: str) -> bool:
    """Whether ``text``'s Chinese is written in Traditional characters."""
    return traditional_share(text) >= TRADITIONAL_SHARE


def traditional_share(text: str) -> float:
    """The share of ``text``'s CJK characters that are Traditional forms :func:`to_simplified`
    changes: about 0.001 in Simplified text, a fifth or more in Traditional text."""
    cjk = _CJK_CHAR.findall(text)
    if not cjk:
        return 0.0
    table = _t2s()
    return sum(ord(c) in table for c in cjk) / len(cjk)


# --- normalisation -----------------------------------------------------------------------------

_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline
_MANY_NL = re.compile(r"\n{3,}")
# the full-width punctuation of Chinese, Japanese and Korean text (，；：！？（）～ and the rest of the
# block's marks) and the ellipsis: NFKC would make them ASCII, "积分,过期" for "积分，过期"
_WIDE_MARK = re.compile(r"[\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff5e\u2025\u2026]+")


def _nfkc_keeping_marks(text: str) -> str:
    """NFKC, except for :data:`_WIDE_MARK` characters in a line that holds CJK text, which stay
    as written (in a line without any, "ｈｔｔｐ：／／" is a URL typed full-width)."""
    if not _WIDE_MARK.search(text):
        return unicodedata.normalize("NFKC", text)
    lines = []
    for line in text.split("\n"):
        if not _CJK_CHAR.search(line):
            lines.append(unicodedata.normalize("NFKC", line))
            continue
        out: list[str] = []
        pos = 0
        for m in _WIDE_MARK.finditer(line):
            out.append(unicodedata.normalize("NFKC", line[pos : m.start()]))
            out.append(m.group(0))
            pos = m.end()
        out.append(unicodedata.normalize("NFKC", line[pos:]))
        lines.append("".join(out))
    return "\n".join(lines)


# circled numbers 1-20 (NFKC makes them digits), and the dingbats' 1-10 in three styles (it keeps them)
_CIRCLED_FROM = {0x2460: 20, 0x2776: 10, 0x2780: 10, 0x278A: 10}
_CIRCLED_VALUE = {chr(first + i): i + 1 for first, n in _CIRCLED_FROM.items() for i in range(n)}
_CIRCLED = re.compile("[" + "".join(_CIRCLED_VALUE) + "]")
_ITEM_START = re.compile(r"(?:^|[：:。；;!?！？])\s*$")


def _circled_numbers(text: str) -> str:
    """``text`` with circled numbers that mark a list's items ("①进水或受潮", "注意：①… ②…") written as
    a list's numbers: "（1）" in a line of Chinese, "1. " elsewhere; NFKC made them bare digits
    ("1进水或受潮"), which read as no list, with the "1" said mid-answer. A list's first mark starts
    an item (the line's start, or after a sentence's end or a colon), and each next one follows it
    in number; any other is its digit, as in a sentence ("旋钮调到①档", "② Turn the dial to ①")."""
    if not _CIRCLED.search(text):
        return text

    def written(line: str) -> str:
        mark = "（{}）" if _CJK_CHAR.search(line) else "{}. "
        out, at, last = [], 0, None  # ``last``: the number of the list's last mark
        for m in _CIRCLED.finditer(line):
            value = _CIRCLED_VALUE[m.group(0)]
            before = line[: m.start()]
            starts = _ITEM_START.search(before) is not None
            # the first mark starts an item; each next one follows it in number, after a space
            if (last is None and starts) or (last is not None and value == last + 1 and (starts or before[-1:].isspace())):
                out.append(line[at : m.start()] + mark.format(value))
                last = value
            else:
                out.append(line[at : m.start()] + str(value))
            at = m.end()
        return "".join(out) + line[at:]

    return "\n".join(written(line) for line in text.split("\n"))


def normalize_text(text: str) -> str:
    """NFKC (full-width letters and digits, compatibility forms and the ideographic space become
    their plain forms), except that the full-width punctuation of a line of Chinese stays as written:
    what is stored is what answers quote and citations show, and a Chinese reader expects "，" and
    "（", not "," and "(". Zero-width characters and bidi overrides dropped, line endings unified,
    other control characters made spaces (:func:`without_controls`), runs of horizontal whitespace
    collapsed to one space, trailing spaces and 3+ blank lines removed, outer whitespace stripped.
    Paragraph breaks (blank lines) are kept. Whatever reads words out of the text (the keyword analyzer, the support
    scorer, the answer metrics) applies NFKC itself, and the embedders' tokenizers normalise too, so
    the marks change no score."""
    if not text:
        return ""
    text = _circled_numbers(text)
    text = _nfkc_keeping_marks(text)
    text = text.translate(INVISIBLE)
    text = without_controls(text)
    text = _HSPACE.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _MANY_NL.sub("\n\n", text)
    return text.strip()


_NOT_WORD = re.compile(r"[\W_]+")


def wording(text: str) -> str:
    """A text's words alone (case, spacing and punctuation dropped): two sentences with the same
    wording say the same thing, wherever they stand."""
    return _NOT_WORD.sub("", text.lower())


def words_key(text: str) -> str:
    """:func:`wording` with full-width forms read as their ASCII ones: texts with the same key say
    the same words (:func:`same_words`), and a table of them finds a repeat in one look-up."""
    return wording(unicodedata.normalize("NFKC", text))


def same_words(a: str, b: str) -> bool:
    """Whether two texts have the same :func:`wording`, full-width forms aside (an FAQ row whose
    "answer" repeats its question; two rows of one FAQ table that ask the same question)."""
    return words_key(a) == words_key(b)


# How a question is embedded (a query, or a curated FAQ question): without the marks that close
# its sentences ("?", "!"; "." at its end). Each is one token of the 11-21 of a question, and the
# engine's time grows by about 1.1 ms a token on one thread, so a question embeds about 1.1 ms
# faster (multilingual-e5-small, covid-faq, 120 questions: 19.16 -> 18.07 ms); a follow-up joined
# to the turn before drops two. Curated questions lose theirs too, so that the two sides are
# matched alike: on covid-faq the top curated question is then the right one for 0.95 of the 20
# and 40 closest matches, against 0.85 and 0.90 with the marks on both sides (the mark that every
# question shares pulls their cosines together). Text with Chinese keeps its marks: without "？"
# the two Chinese FAQ banks of eval/sets gave 11 of 28 direct answers at the same precision, and
# MRR@10 fell (0.871 -> 0.867, 0.923 -> 0.900). A version records the form its curated questions
# were embedded in (its settings' "question_form"); one embedded with the marks is searched with
# them until it is ingested again.
# A knowledge base that holds no curated question in Chinese has no question form to match: there
# a Chinese question is embedded without its marks ("？", "！", a closing "。") too, one token fewer
# (domainrag, whose policies are passages: hit@5 0.850 either way, MRR@10 0.622 -> 0.629; the
# lowest relevance of its 120 questions 0.891 -> 0.893; of the 122 questions of the two Chinese
# FAQ banks asked of it, 10 reach the Chinese refuse threshold against 11 with the marks).
QUESTION_FORM = "bare"
_CLOSING_MARKS = re.compile(r"[?!]+(?=\s)|\s*[?!.…]+\s*$")
_CLOSING_MARKS_CJK = re.compile(r"[?!？！]+(?=\s)|\s*[?!.…？！。]+\s*$")


def bare_question(text: str, cjk: bool = False) -> str:
    """``text`` as a question is embedded (:data:`QUESTION_FORM`); text with Chinese as it is
    unless ``cjk`` (the knowledge base holds no Chinese curated question), and text of marks alone
    as it is."""
    if not cjk and has_cjk(text):
        return text
    bare = (_CLOSING_MARKS_CJK if cjk else _CLOSING_MARKS).sub("", text).strip()
    return bare or text


# --- Markdown tables ---------------------------------------------------------------------------

TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")


def table_cells(row: str) -> list[str]:
    """The cells of a Markdown table row, stripped."""
    return [c.strip() for c in row.strip().strip("|").split("|")]


def table_rows_as_sentences(text: str, lang: str = "en") -> tuple[str, dict[str, str]]:
    """``text`` with each Markdown table written as one line per data row, every cell after its
    column's header ("Data: Order history; How long we keep it: 7 years."), and for each such
    line the row's own cells. A row alone, or the header row, is no answer to read out
    ("| Order history | 7 years |": 7 years of what?). The headers, in every row, say which
    column a question asks for ("phone hours") but not which row, so they count half when a row
    is matched to the question's words."""
    out: list[str] = []
    cells_of: dict[str, str] = {}
    for line, pairs in _table_rows(text, lang):
        out.append(line)
        if pairs is not None:
            cells_of[line] = " ".join(c for _, c in pairs)
    return "\n".join(out), cells_of


def table_row_cells(text: str, lang: str = "en") -> dict[str, tuple[tuple[str, str], ...]]:
    """For each table row of ``text`` as :func:`table_rows_as_sentences` writes it, keyed by its
    :func:`words_key`, its (column header, cell) pairs in order ("" for a column without one)."""
    return {words_key(line): pairs for line, pairs in _table_rows(text, lang) if pairs is not None}


def row_sentence(pairs: Iterable[tuple[str, str]], lang: str = "en") -> str:
    """A table row's sentence from its (column header, cell) pairs, as
    :func:`table_rows_as_sentences` writes it: each cell after its header."""
    colon, sep, end = ("：", "，", "。") if lang == "zh" else (": ", "; ", ".")
    line = sep.join(f"{h}{colon}{c}" if h else c for h, c in pairs)
    return line if line.endswith((".", "。", "!", "！", "?", "？")) else line + end


def _table_rows(text: str, lang: str) -> Iterator[tuple[str, tuple[tuple[str, str], ...] | None]]:
    """The lines of ``text``, each Markdown table's data row as its sentence (:func:`row_sentence`)
    with its (header, cell) pairs, any other line with None; a table's header and rule rows are
    left out."""
    for in_table, run in itertools.groupby(text.split("\n"), lambda line: bool(TABLE_ROW.match(line) or TABLE_RULE.match(line))):
        block = list(run)
        if not in_table:
            yield from ((line, None) for line in block)
            continue
        header: list[str] = []
        for j, row in enumerate(block):
            if TABLE_RULE.match(row):
                continue
            if j + 1 < len(block) and TABLE_RULE.match(block[j + 1]):
                # a header row; a table split across chunks repeats it where they are merged again
                header = table_cells(row)
                continue
            pairs = tuple(
                (header[col] if col < len(header) else "", _cell_clause(c, lang))
                for col, c in enumerate(table_cells(row)) if c
            )
            if pairs:
                yield row_sentence(pairs, lang), pairs


_CELL_PIECE_END = re.compile(r"\s*[.!?;。！？；]+\s*$")
_ZH_CELL_END = re.compile(r"[。！？；]+\s*$")


def _cell_clause(cell: str, lang: str) -> str:
    """A table cell of several sentences as one clause, its sentences joined by commas: the row is
    read as one sentence, and a cell cut in two by the splitter cut its row ("Code: E3001;
    Meaning: The invitation link has expired." and "Invitations are valid for 7 days.; How to fix:
    ..."), neither piece a row, so "What does error E3001 mean?" was told two other codes' rows
    with it (QA). Its end mark is left to the row's sentence (:func:`row_sentence`): in Chinese a
    cell's "。" before the next cell's "，" cut the row there too ("卡种：普卡，年费：年费50元。" and
    "，说明：…", a regression hunt's). An English cell of one sentence is as written."""
    pieces = split_sentences(cell)
    if len(pieces) < 2:
        return _ZH_CELL_END.sub("", cell) if lang == "zh" else cell
    return ("，" if lang == "zh" else ", ").join(_CELL_PIECE_END.sub("", p) for p in pieces)


_CELL_END = re.compile(r"[;；，]")
_BRACKETED = re.compile(r"[(（][^()（）]*[)）]")


@lru_cache(maxsize=8192)
def row_cells(line: str) -> tuple[str, ...]:
    """The cells of a table row as :func:`table_rows_as_sentences` reads it, each without its header
    and the spaces around it ("Country: France; City: Other cities." reads ("France", "Other
    cities.")): a Chinese row's cells end at "，" too ("卡种：白金卡，年费：2000元"). The row's closing
    mark is kept: the analyzer reads "U.S." as the United States, "U.S" as a letter. Once per row:
    a table's rows are read again for every question. The one parser of a row's cells, for naming
    a row (:func:`row_label`, :func:`names_row`) and for the composer."""
    pieces = _CELL_END.split(line)
    return tuple((p.split(":", 1)[1] if ":" in p else p.split("：", 1)[-1]).strip() for p in pieces)


def names_row(topic: frozenset[str] | set[str], line: str) -> bool:
    """Whether a question whose topic terms are ``topic`` (what it asks about: its price words
    left out) names the table row ``line`` (as :func:`table_rows_as_sentences` reads it): the row's
    first cell is among them, and the row, its headers included, holds more than half of them.
    "How much is the Plus plan?" and "How much data do I get on Plus?" name "Plan: Plus; Price per
    month: $30; Data: 25 GB; ..."; "How long is the Care Plus warranty?" names no row of the plans'
    table, though one is "Plus"."""
    terms = row_label(line)
    if not terms or not (terms <= topic or _names_label_phrase(topic, line) or _names_key_cell(topic, line)):
        return False
    # a Chinese term is held where its characters stand in the row: jieba cuts "畅享88的月费" into
    # 月 and 费, and the row's "月费" into one word
    words, written = set(tokenize(line)), to_simplified(line)
    return 2 * sum(1 for t in topic if t in words or (_CJK_CHAR.search(t) and t in written)) > len(topic)


# the words a question asks a price with besides the price words ("What does the Team plan cost if I
# pay annually?"): what it asks, not which row
_MONEY_VERBS = "pay paid pays charge charged charges spend money"


def names_price_row(topic: frozenset[str] | set[str], line: str) -> bool:
    """Whether a question that asks a price, whose topic terms are ``topic`` (its price words left
    out), names the row ``line`` of a table whose columns are what is priced, its rows what is said
    of each (features as rows and plans as columns: "Feature: Price (monthly billing); Free: $0;
    Team: $12 per seat per month"): the row's first cell is a price ("Price", "Monthly fee"), its
    other words (a note in brackets aside) are among ``topic``, the question names a column after
    the first by its header ("Team"), and the row holds more than half of ``topic``, as
    :func:`names_row` asks. "How much does the Team plan cost per month?" was told a release note's
    "at no extra cost", the price row never (QA 2026-12-07); "How much does storage cost on Team?"
    names no such row (it asks storage's price), nor does "How much is Team?" a "Setup fee" row."""
    label = to_simplified(_BRACKETED.sub(" ", row_cells(line)[0]))
    price = frozenset(tokenize(" ".join(_PRICE_WORD.findall(label))))
    topic = frozenset(topic) - frozenset(tokenize(_MONEY_VERBS))
    if not price or not frozenset(tokenize(label)) - price <= topic:
        return False
    heads = [frozenset(tokenize(re.split("[:：]", p, maxsplit=1)[0])) for p in _CELL_END.split(line)[1:] if re.search("[:：]", p)]
    if not any(h and h <= topic for h in heads):
        return False
    words = set(tokenize(line))
    return 2 * sum(1 for t in topic if t in words) > len(topic)


def _names_label_phrase(topic: frozenset[str] | set[str], line: str) -> bool:
    """Whether ``topic`` names a row's first cell of several words by most of them, two at least (a
    word of its price words, "fee", not counted: a question asks with them): "How much is the
    non-sterling transaction fee on Plus?" names "Fee or limit: Non-sterling transaction fee", and
    "What's the overdraft interest rate on Basic?" "Arranged overdraft interest (EAR variable)"; the
    plans' tables were never told them (QA 2026-12-07). One word of two ("Max" of "Max Pro") names
    no row, nor does a Chinese label, one word written."""
    words = _label_words(line)
    said = sum(1 for w in words if w & topic)
    # (or by its first two words, one of them a number, where the rest is its other name: "What is
    # the roaming charge in Zone 2 for each plan?" names "Zone 2 USA and Canada", and was told only
    # a notice's change of one of its cells, QA 2026-12-07; "Zone 2" names no "Zone 1 Europe")
    lead = len(words) > 2 and all(w & topic for w in words[:2]) and any(_DIGIT.search(t) for w in words[:2] for t in w)
    return lead or (said >= 2 and 2 * said > len(words))


@lru_cache(maxsize=4096)
def _label_words(line: str) -> tuple[frozenset[str], ...]:
    """The terms of each word of a row's first cell (its note in brackets and its price words left
    out), once per row: a table's rows are read again for every question (40 rows took 2 ms)."""
    label = _BRACKETED.sub(" ", row_cells(line)[0])
    price = price_terms(label)
    return tuple(w for w in (frozenset(tokenize(x)) - price for x in label.split()) if w)


def _names_key_cell(topic: frozenset[str] | set[str], line: str) -> bool:
    """Whether ``topic`` names all the terms of a cell of a row's key after its first, the cells
    before the first that holds a figure: "What is the per diem in Amsterdam?" names "Country:
    Netherlands; City: Amsterdam; Daily rate (EUR): 60" (QA 2026-12-07)."""
    return any(terms <= topic for terms in _key_cells(line))


@lru_cache(maxsize=4096)
def _key_cells(line: str) -> tuple[frozenset[str], ...]:
    """The terms of each cell of a row's key after its first (the cells before the first that holds
    a figure), once per row."""
    cells: list[frozenset[str]] = []
    for cell in row_cells(line)[1:]:
        if _DIGIT.search(cell):
            break
        terms = frozenset(tokenize(cell))
        if terms:
            cells.append(terms)
    return tuple(cells)


_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=8192)
def row_label(line: str, notes: bool = False) -> frozenset[str]:
    """The terms of a table row's first cell, as :func:`table_rows_as_sentences` reads the row
    ("Plan: Max Pro; Price per month: $65": max, pro). ``notes``: with those of a note in brackets
    too, which may be the row's other name ("MRI（核磁共振）")."""
    label = row_cells(line)[0]
    # a note in brackets qualifies the label, and a question names the row without it: "一级医院
    # （含社区卫生服务中心）" is the row of "一级医院门诊报销多少"
    return frozenset(tokenize(label)) if notes else frozenset(tokenize(_BRACKETED.sub(" ", label))) or frozenset(tokenize(label))


# --- language detection ------------------------------------------------------------------------

ZH_RATIO = 0.2


def has_letters(text: str) -> bool:
    """Whether ``text`` holds a letter of a script :func:`detect_lang` reads (Chinese, Latin)."""
    return _CJK_CHAR.search(text) is not None or _LATIN_LETTER.search(text) is not None


def detect_lang(text: str) -> str:
    """``"zh"`` when CJK characters make up at least 20% of the letters (a Chinese character
    carries about a word, so a Chinese text full of English product names is still Chinese),
    else ``"en"`` (also for empty or letter-less text)."""
    sample = text[:20000]
    cjk = len(_CJK_CHAR.findall(sample))
    if cjk == 0:
        return "en"
    latin = len(_LATIN_LETTER.findall(sample))
    return "zh" if cjk / (cjk + latin) >= ZH_RATIO else "en"


# --- the BM25 analyzer ---------------------------------------------------------------------------

EN_STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
    don't down during each few for from further had hadn't has hasn't have haven't having he he'd
    he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
    is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only
    or other ought our ours ourselves out over own same shan't she she'd she'll she's should
    shouldn't so some such than that that's the their theirs them themselves then there there's
    these they they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while
    who who's whom why why's with won't would wouldn't you you'd you'll you're you've your yours
    yourself yourselves s t""".split()
)

# with the pronoun "us", once the United States is read as "usa" (:func:`_countries`)
_EN_STOPWORDS_US = EN_STOPWORDS | {"us"}

ZH_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 就 都 而 把 被 让 给 对 从 向 之 其 这 那 这个 那个 一个 个 吗 呢 吧 啊 呀 哦 么 "
    "我 你 他 她 它 我们 你们 他们 请问 请 怎么 什么 如何 哪些 哪里 是否 可以 能 会 要 有 没有 不 将 并 等 "
    # the question words, as "who", "why" and "how" are English stop words: "退货运费谁出？" is about
    # return postage, which a page names without 谁 ("由商家承担"), and 怎么办 matched every FAQ
    # question that ends "...怎么办？" ("卡丢了怎么办？" found "收到的商品有破损怎么办？")
    "谁 为什么 怎样 怎么样 怎么办 哪个".split()
)

# Words that negate what follows. The analyzer drops them (a frequent word says little alone), but a
# phrase term keeps their place: "What does the warranty not cover?" is about the section "What the
# warranty does not cover", and "warranty covers" is not, though both are warranti, cover.
EN_NEGATIONS = frozenset(
    """not no nor never cannot can't don't doesn't didn't isn't aren't wasn't weren't won't
    wouldn't shouldn't couldn't mustn't hasn't haven't hadn't shan't""".split()
)
ZH_NEGATIONS = frozenset("不 没 没有 未 无 非 别 勿 毋 从未 从没 从不 不能 不可 不得 不会 不要 不用 无法 无需 禁止".split())
NEGATION = "¬"  # a negation's place among phrase terms; never a term of its own
# where one of them may stand (a cheap test before analysing a clause again)
_MAY_NEGATE = re.compile(r"(?i)\b(?:not?|nor|never|cannot)\b|n't\b|[不没未无非别勿毋禁]")

_jieba_lock = threading.Lock()
_jieba: Any = None


def is_cjk_lang(lang: str | None) -> bool:
    """Whether ``lang`` (``"zh"``, ``"zh-CN"``, ``"ja"``...) is written in CJK characters, which the
    analyzer cuts with jieba and apart from any other script."""
    return (lang or "").split("-")[0].lower() in ("zh", "ja", "ko")


def load_analyzer(langs: Iterable[str]) -> bool:
    """Load now what analysing text in ``langs`` will need, rather than on the first such text:
    jieba's dictionary for Chinese (also Japanese or Korean) script, ~0.6 s and ~70 MB, which a
    served knowledge base's first Chinese question would otherwise wait for. Returns whether
    anything needed loading."""
    if not any(is_cjk_lang(lang) for lang in langs):
        return False
    _get_jieba()
    return True


# Words of customer service today that jieba's dictionary (2013) lacks: its model for unknown words
# cut "可以用微信交吗" into 用微 / 信交, and "小程序", "公众号", "医保码" into pieces, so a question naming
# them named nothing a passage holds (the coverage and naming checks read 0) and "可以用微信交吗？",
# asked after "住院押金交多少？", was refused. Added to the dictionary jieba cuts with (the "words"
# flag of the keyword analysis: an index built before keeps the plain dictionary, :func:`tokenize`).
# No word here may join the start of another's: "微信支付" made "微信支付宝都可以吗" 微信支付 / 宝.
ZH_EXTRA_WORDS = (
    "微信", "扫码", "小程序", "公众号", "视频号", "网购", "抖音", "快手", "花呗", "借呗", "余额宝",
    "云闪付", "网银", "手机银行", "刷脸", "实名认证", "解绑", "验证码", "健康码", "医保码", "电子凭证",
    "电子发票", "人工客服", "在线客服", "包邮", "运费险", "快递员", "自提", "自提点", "光猫", "携号转网",
    "肠镜", "胃肠镜", "免赔额", "等待期", "犹豫期", "宽限期", "退保", "保全", "APP",
)
_plain_jieba: Any = None  # a jieba tokenizer without ZH_EXTRA_WORDS (words=False)


def _get_jieba() -> Any:
    """Import and initialise jieba once per process, without its start-up chatter, with
    :data:`ZH_EXTRA_WORDS` in the dictionary its default tokenizer cuts with."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                logging.getLogger("jieba").setLevel(logging.WARNING)
                jieba.initialize()
                for word in ZH_EXTRA_WORDS:
                    if not jieba.dt.FREQ.get(word):  # (a word it has keeps its frequency)
                        jieba.add_word(word)
                _jieba = jieba
    return _jieba


def _jieba_cutter(words: bool) -> Any:
    """jieba's tokenizer with :data:`ZH_EXTRA_WORDS` (``words``), or one with its plain dictionary,
    made the first time a keyword index built before them is searched."""
    jieba = _get_jieba()
    if words:
        return jieba.dt
    global _plain_jieba
    if _plain_jieba is None:
        with _jieba_lock:
            if _plain_jieba is None:
                plain = jieba.Tokenizer()
                plain.initialize()
                _plain_jieba = plain
    return _plain_jieba


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


_stem_lock = threading.Lock()


def stem_words(words: Iterable[str]) -> list[str]:
    """English ``words`` (lowercase) Snowball-stemmed, as :func:`tokenize` stems them."""
    with _stem_lock:  # PyStemmer objects are not thread-safe
        return list(_stemmer().stemWords(list(words)))


def _marked(words: Iterable[str], stop: frozenset[str], negations: frozenset[str] | None) -> list[str]:
    """``words`` without stop words; with ``negations``, each run of them as one :data:`NEGATION`."""
    out: list[str] = []
    for w in words:
        if negations is not None and w in negations:
            if not out or out[-1] != NEGATION:
                out.append(NEGATION)
        elif w not in stop:
            out.append(w)
    return out


# a word written with hyphens ("e-mail", "pick-up", "Wi-Fi") is the word written closed ("email",
# "pickup", "wifi"): :func:`tokenize` keeps its parts and adds the closed form, so that either
# spelling finds the other ("how to contact support by email" named every word of "e-mail
# support@acme.example" but one). Letters only: "covid-19" and "1-800-555" stay their parts
_HYPHENATED = re.compile(r"(?<![\w\-\u2010\u2011])[a-z]+(?:[\-\u2010\u2011][a-z]+)+(?![\w\-\u2010\u2011])")
_HYPHEN = re.compile(r"[\-\u2010\u2011]")


# irregular forms read as their word, which the stemmer cannot do ("Who pays customs duties?" and
# "duties are paid by the customer" share no term but "duti"): past forms and participles of the
# verbs a customer-service text uses, and irregular plurals. Only the test whether a passage names
# every term of a question reads them so (``tokenize(lemmas=True)``): merged in the keyword index,
# "children", "women" and "taken" lost what told their FAQ entries apart (covid-faq MRR@10 0.828
# -> 0.816). Forms that are other words as well
# are left out ("left", "found", "saw", "felt", "spoke", "led", "won", "lay", "ground", "wound").
_IRREGULAR = {
    form: word
    for word, forms in {
        "pay": "paid", "overpay": "overpaid", "prepay": "prepaid", "repay": "repaid", "underpay": "underpaid",
        "buy": "bought", "sell": "sold", "send": "sent", "spend": "spent", "lend": "lent", "take": "took taken",
        "give": "gave given", "get": "got gotten", "forget": "forgot forgotten", "make": "made", "keep": "kept",
        "lose": "lost", "break": "broke broken", "come": "came", "become": "became", "go": "went gone",
        "choose": "chose chosen", "hold": "held", "withhold": "withheld", "bring": "brought", "think": "thought",
        "tell": "told", "say": "said", "write": "wrote written", "rewrite": "rewrote rewritten",
        "steal": "stole stolen", "freeze": "froze frozen", "tear": "tore torn", "wear": "wore worn",
        "understand": "understood", "begin": "began begun", "drive": "drove driven", "eat": "ate eaten",
        "fall": "fell fallen", "mean": "meant", "meet": "met", "run": "ran", "see": "seen", "show": "shown",
        "speak": "spoken", "stand": "stood", "stick": "stuck", "teach": "taught", "throw": "threw thrown",
        "wake": "woke woken", "withdraw": "withdrew withdrawn", "deal": "dealt", "build": "built",
        "rebuild": "rebuilt", "catch": "caught", "fly": "flew flown", "grow": "grew grown", "know": "knew known",
        "seek": "sought", "hang": "hung", "hide": "hid hidden", "blow": "blew blown", "draw": "drew drawn",
        "shake": "shook shaken", "undo": "undid undone", "redo": "redid redone", "cancel": "cancelled",
        "child": "children", "foot": "feet", "tooth": "teeth", "mouse": "mice", "man": "men", "woman": "women",
    }.items()
    for form in forms.split()
}


def _en_tokens(
    text: str, negations: bool = False, joins: bool = False, lemmas: bool = False, us: bool = True
) -> list[str]:
    low = text.lower()
    stop = _EN_STOPWORDS_US if us else EN_STOPWORDS
    words = _marked(_WORD.findall(low), stop, EN_NEGATIONS if negations else None)
    if joins and ("-" in low or "\u2010" in low or "\u2011" in low):
        closed = (_HYPHEN.sub("", m.group(0)) for m in _HYPHENATED.finditer(low))
        words += [w for w in closed if w not in stop]
    if not words:
        return []
    words = [w.replace("'", "") if "'" in w else w for w in words]
    if lemmas:
        words = [_IRREGULAR.get(w, w) for w in words]
    with _stem_lock:  # PyStemmer objects are not thread-safe
        stemmed = list(_stemmer().stemWords(words))
    return [NEGATION if w == NEGATION else t for w, t in zip(words, stemmed, strict=True)]


# a demonstrative that opens a follow-up ("那肠镜要空腹吗？"): jieba's model for words it does not
# know joins it to a word it does not know either ("那肠镜"), which then names nothing asked; or,
# where the run opens with it, to the first character of such a word ("那季卡呢？": 那季 and 卡, so
# that the follow-up named no 季卡, and was told 月卡's rule and the prices)
_OPENERS = frozenset("那这")


def _zh_words(run: str, words: bool = True) -> Iterator[str]:
    cutter = _jieba_cutter(words)
    known = cutter.FREQ
    cut: Iterable[str] = cutter.cut_for_search(run, HMM=True)
    if len(run) >= 3 and run[0] in _OPENERS and run[:2] not in known:
        first = next(iter(cutter.cut(run, HMM=True)), "")
        if first == run[:2]:
            cut = [run[0], *cutter.cut_for_search(run[1:], HMM=True)]
    for w in cut:
        if not w.strip():
            continue
        if len(w) >= 3 and w[0] in _OPENERS and w not in known:
            yield w[0]
            yield w[1:]
        else:
            yield w


def _zh_tokens(run: str, negations: bool = False, words: bool = True) -> list[str]:
    return _marked(_zh_words(run, words), ZH_STOPWORDS, ZH_NEGATIONS if negations else None)


def tokenize(
    text: str, lang: str | None = None, *, fold: bool = True, joins: bool = True, lemmas: bool = False,
    nums: bool = True, words: bool = True, us: bool = True,
) -> list[str]:
    """The BM25 analyzer. English: lowercase, stop words removed, Snowball-stemmed; numbers kept.
    Chinese runs: read in Simplified script (:func:`to_simplified`), then jieba ``cut_for_search``
    words (stop words removed). Mixed text: each script run with its analyzer, in order. ``lang``
    is accepted for symmetry with callers; the analysis is chosen per script run so that a query
    and a document are always analysed alike. ``fold=False``: Traditional characters kept, as
    keyword indexes built before the folding analysed their chunks. A hyphenated word adds its
    closed form ("e-mail": e, mail, email); ``joins=False``: its parts only, as the keyword search
    reads a question's words (``kbase._analyze_query``) and as keyword indexes built before
    2026-12-04 analysed their chunks. ``lemmas``: each irregular form read as its word ("paid":
    pay, :data:`_IRREGULAR`), which the keyword index does not do. Chinese numerals that count
    something are read as digits (:func:`arabic_numerals`: 第十二条 as 第12条); ``nums=False``: as
    written, as keyword indexes built before 2026-12-05 analysed their chunks. jieba cuts with
    :data:`ZH_EXTRA_WORDS` in its dictionary; ``words=False``: without them, as keyword indexes
    built before 2026-12-06 analysed their chunks. The United States, however written ("US",
    "U.S.", "USA"), is the one term ``usa``, and the pronoun "us" a stop word (:func:`_countries`);
    ``us=False``: "US" and "us" one term, "U.S." the letter u, as keyword indexes built before
    2026-12-07 analysed their chunks."""
    del lang  # analysis is per script run (see docstring)
    return _analyse(text, negations=False, fold=fold, joins=joins, lemmas=lemmas, nums=nums, words=words, us=us)


def unread_letters(text: str) -> bool:
    """Whether ``text`` holds letters that :func:`tokenize` reads no word of: letters of a script
    other than Latin and Chinese or Japanese (Korean, Arabic, Cyrillic), as the analyzer sees
    them after its normalisation."""
    return any(
        ch.isalpha() and not (_LATIN_LETTER.match(ch) or _CJK_CHAR.match(ch)) for ch in _normalized(text)
    )


# an apostrophe as typeset between two letters ("doesn’t", "user’s", as phones type them) is the
# apostrophe of a word ("doesn't"), not a closing quote that ends a clause
_TYPESET_APOSTROPHE = re.compile(r"(?<=[A-Za-z])\u2019(?=[A-Za-z])")


# the United States as a text writes it: "U.S.A.", "U.S.", "USA", "US" (the pronoun is "us", or
# "US" in capitals beside a word the pronoun goes with: "CONTACT US", "EMAIL US", "ABOUT US")
_US = re.compile(r"\bU\.S\.(?:A\.?)?(?![A-Za-z])|\bUSA?\b")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)[^A-Za-z]*$")
_WORD_AFTER = re.compile(r"[^A-Za-z]*([A-Za-z]+)")
_BESIDE_US = frozenset(
    "ABOUT AT BY CALL CONTACT EMAIL E-MAIL FIND FOLLOW FOR FROM GIVE HELP JOIN LET LIKE MAIL MESSAGE OF ON "
    "PHONE RING SEND SHARE SUPPORT TELL TEXT TO VISIT WITH WRITE".split()
)


def _countries(text: str) -> str:
    """``text`` with the United States written as the one word "usa": "Are there cases in the US?"
    asked with the word "us" of "It is returned to us" (the answer's first sentence to "Do you ship
    to the US?"), and not with the "U.S." of a page that writes it so (the letter u, "s" a stop
    word). "US" in capitals beside a word the pronoun goes with ("CONTACT US", "EMAIL US NOW") is
    the pronoun; beside another ("US FDA") the country."""
    if "US" not in text and "U.S" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group() == "US":
            before = _WORD_BEFORE.search(text, max(0, m.start() - 30), m.start())
            after = _WORD_AFTER.match(text, m.end(), m.end() + 30)
            if any(w is not None and w.group(1) in _BESIDE_US for w in (before, after)):
                return m.group()
        return " usa "

    return _US.sub(one, text)


def _normalized(text: str, fold: bool = True, nums: bool = True, us: bool = True) -> str:
    text = _TYPESET_APOSTROPHE.sub("'", unicodedata.normalize("NFKC", text))
    if us:
        text = _countries(text)
    if fold:
        text = to_simplified(text)
    return arabic_numerals(text) if nums else text


def _analyse(
    text: str, negations: bool, fold: bool = True, joins: bool = False, lemmas: bool = False, nums: bool = True,
    words: bool = True, us: bool = True,
) -> list[str]:
    """:func:`tokenize`; with ``negations``, each run of negating words kept as :data:`NEGATION`;
    ``joins``: each hyphenated word's closed form added (:data:`_HYPHENATED`); ``lemmas``: each
    irregular form read as its word (:data:`_IRREGULAR`); ``nums``: Chinese numerals as digits."""
    if not text:
        return []
    text = _normalized(text, fold, nums, us)
    if not _CJK_CHAR.search(text):
        return _en_tokens(text, negations, joins, lemmas, us)
    out: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(text):
        if m.start() > pos:
            out.extend(_en_tokens(text[pos : m.start()], negations, joins, lemmas, us))
        out.extend(_zh_tokens(m.group(0), negations, words))
        pos = m.end()
    if pos < len(text):
        out.extend(_en_tokens(text[pos:], negations, joins, lemmas, us))
    return out


# Clause boundaries for phrase terms: a phrase never spans punctuation or a line break.
_CLAUSE = re.compile(r"[\n\r.!?;:,()\[\]{}\"“”‘’<>|/。！？；：，、（）【】《》「」『』…]+")
PHRASE_SEP = "\x1f"  # joins the two terms of a phrase; never part of a term


# "how long", "how much": the word after "how" says what kind of answer a question wants (a
# duration, an amount), not what it is about ("as long as the account is open" does not answer
# "how long is the warranty?")
_ANSWER_KIND = re.compile(r"\bhow\s+(long|much|many|often|far|old|soon|quickly|quick|big|large|late|early)\b", re.IGNORECASE)


# the same in Chinese: 多久 / 多长时间 (a duration), 多少 / 几名 (an amount), 哪一年 / 什么时候 (a time)
_ANSWER_KIND_ZH = re.compile(
    r"多长时间|多长|多久|多少[个名位次年天种项所家门人元钱]?|几[个名位次年天种项所家门人岁]|"
    r"哪一年|哪年|哪一天|哪天|什么时候|什么时间|何时|多大|多高|多远|多重"
)


# a question for the members of a class ("Which payment methods do you accept?", "What delivery
# options are there?", "支持哪些支付方式？") names the class by a generic noun that the page which
# lists them rarely writes ("We accept direct debit, debit card and credit card")
# So does one for what a class of things holds ("What are the benefits of Gold membership?",
# "Which documents do I need?", "VIP有啥好处", "理赔需要哪些材料"): a list's lead-in or heading says
# "VIP权益" or "Required documents", not 好处 or "benefits"
_CLASS_NOUN = re.compile(
    r"\b(?:what|which)\s+(?:[a-z-]+\s+){0,2}?(methods?|ways?|options?|types?|kinds?|sorts?|forms?|means|channels?"
    r"|benefits?|perks?|advantages?|privileges?|requirements?|documents?|documentation|paperwork)\b"
    r"|(?:哪些|哪种|哪几种|什么|何种|啥)[^，。？！,?!\s]{0,6}?"
    r"(方式|方法|渠道|途径|种类|类型|好处|权益|福利|优惠|特权|材料|资料|证件|条件|要求)",
    re.IGNORECASE,
)


# what to bring asks for the documents a procedure needs, though it names none ("补办社保卡要带啥",
# "What do I need to bring?"): a list headed "所需材料" or "Required documents" answers it
_ASKS_WHAT_TO_BRING = re.compile(
    r"带(?:什么|啥|哪些)|\bwhat\s+(?:do|should|must|shall)\s+(?:i|we)\s+(?:need\s+to\s+|have\s+to\s+)?bring\b",
    re.IGNORECASE,
)


def class_words(query: str) -> list[str]:
    """The generic nouns by which ``query`` asks for the members of a class ("methods" in "Which
    payment methods do you accept?", 方式 in "支持哪些支付方式？", 好处 in "VIP有啥好处"); the
    documents a question for what to bring asks for (材料 for "要带啥")."""
    simple = to_simplified(query)
    nouns = [m.group(1) or m.group(2) for m in _CLASS_NOUN.finditer(simple)]
    if not nouns and (m := _ASKS_WHAT_TO_BRING.search(simple)):
        nouns.append("documents" if m.group().isascii() else "材料")
    return nouns


# the kinds of class those nouns name, each noun by its term: a list headed "VIP权益" answers
# "VIP有啥好处" (both benefits), not "VIP有哪些条件"
_CLASS_KINDS = {
    term: kind
    for kind, nouns in {
        "benefit": "好处 权益 福利 优惠 特权 benefits perks advantages privileges",
        "document": "材料 资料 证件 documents documentation paperwork",
        "condition": "条件 要求 requirements",
        "way": "方式 方法 渠道 途径 methods ways options means channels",
        "type": "种类 类型 types kinds sorts forms",
    }.items()
    for term in tokenize(nouns)
}


def class_kind(term: str) -> str | None:
    """The kind of class a term of :func:`class_words` names ("benefit" for 好处, 权益 and
    "perk"), None for any other term."""
    return _CLASS_KINDS.get(term)


# the words by which a question asks what a class holds, whatever it names the class by ("What are
# the ...", "Which ...", "有哪些", "有什么", "有啥", "包括什么")
_ASKS_MEMBERS = re.compile(
    r"\b(?:what\s+are|which)\b|哪些|哪几|有什么|有啥|都有啥|包括什么|包含什么",
    re.IGNORECASE,
)


def members_asked(query: str) -> list[str]:
    """The words by which ``query`` asks for the members of a class: its generic nouns
    (:func:`class_words`) and its cue ("which", 哪些, 有啥); [] where it asks no such thing."""
    simple = to_simplified(query)
    return class_words(simple) + [m.group(0) for m in _ASKS_MEMBERS.finditer(simple)]


def answer_kind_words(query: str) -> list[str]:
    """The words of ``query`` that say what kind of answer it wants ("long" in "how long", "多久")."""
    return [m.group(1) for m in _ANSWER_KIND.finditer(query)] + _ANSWER_KIND_ZH.findall(to_simplified(query))


# What kind of answer a question wants, and whether a sentence holds one (a "how long" question
# is answered by "within 14 days", not by "Refunds go to the original card").
_KIND_OF_WORD = {
    # ("how quickly" asks how long, as "how soon" does: "How quickly do you answer e-mails?" is
    # answered by "within 1 business day")
    **dict.fromkeys(("long", "soon", "quickly", "quick", "late", "early", "多久", "多长时间", "多长"), "duration"),
    # (so do "几天" and "多少年": "寄到新疆要几天" asked for a number, which any date or price gave)
    **dict.fromkeys(("几天", "几年", "多少天", "多少年"), "duration"),
    **dict.fromkeys(("哪一年", "哪年", "哪一天", "哪天", "什么时候", "什么时间", "何时"), "time"),
    **dict.fromkeys(("far", "多远"), "distance"),
}
# "how far in advance", "how far ahead" ask how long before, not how far away
_FAR_IN_TIME = re.compile(r"\bhow\s+far\s+(?:in\s+advance|ahead|beforehand|before|back)\b", re.IGNORECASE)
# a length with its unit ("15 miles", "50 km", "200公里", "半径3千米"): what "how far" asks for
_DISTANCE = re.compile(
    r"\d(?:[\d,.]*\d)?\s?(?:miles?|mi|kilomet(?:re|er)s?|km|met(?:re|er)s?|m|feet|foot|ft|yards?|yds?)\b"
    r"|[\d一二两三四五六七八九十百千万半几]+\s*(?:公里|千米|英里|米|里)",
    re.IGNORECASE,
)
# "When ...?", "What time do you open?", "Which year ...?", "What is the deadline ...?", "报名截止时间是？",
# "我的账单几号出？": words that ask for a date or a time but stay words to search by, unlike "how
# long" or "哪一年" (taking "几月几号" out of the keyword search lowered domainrag's MRR@10 by 0.006)
_WHEN = re.compile(
    r"^\W*when\b|\bwhen\s+(?:is|are|do|does|did|will|can|should|would|must)\b"
    r"|\b(?:what|which)\s+(?:year|month|date|day|time)\b|\bdeadline\b|截止(?:时间|日期)|什么日期|哪个日期|几月|几[号日]|几点",
    re.IGNORECASE,
)
# a time of day ("9:00", "8 pm", "9点"): what "What time ...?" asks for
_CLOCK = re.compile(r"\b\d{1,2}[:：]\d{2}\b|\b\d{1,2}\s?(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}\s*点", re.IGNORECASE)
_SPELLED = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty"
_NUMBER_WORD = re.compile(
    rf"\d|\b(?:{_SPELLED}|forty|fifty|hundred|thousand|million|half|a few|several|once|twice)\b"
    r"|[一二两三四五六七八九十百千万亿半]",
    re.IGNORECASE,
)
_DURATION = re.compile(
    rf"(?:\d|\b(?:{_SPELLED}|a|an|few|several)\b)[\s-]*(?:\w+[\s-]+)?"
    r"(?:second|minute|hour|day|night|week|fortnight|month|quarter|year)s?\b"
    r"|\b(?:immediately|instantly|overnight|(?:same|next)(?:[\s-](?:business|working))?[\s-]day)\b"
    # (a number of a date is none: "2026年", "11月25日" and "每月1日" are when, not how long, and "寄到新疆要
    # 几天" was told a notice's "自2026年12月1日起" and its sign-off's date; QA 2026-12-07)
    r"|(?<![\d一二两三四五六七八九十百千半几数月])(?!\d{3,}\s*年)"
    r"[\d一二两三四五六七八九十百千半几数]+\s*(?:个)?(?:秒|分钟|小时|天|日|周|星期|个月|季度|年|工作日)|当天|次日|立即|即时",
    re.IGNORECASE,
)
_MONTH_NAMES = r"january|february|march|april|may|june|july|august|september|october|november|december"
_MONTH = rf"(?:{_MONTH_NAMES}|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)"
# a year, a month with a day or after a preposition ("31 January", "until May"; never the verb
# "may"), a weekday, or a Chinese date (2010年, 9月, 15日)
_DATE = re.compile(
    rf"\b(?:1[89]|20)\d\d\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
    rf"|\b(?:in|until|till|by|before|after|from|since|through|on)\s+(?:early\s+|mid-?|late\s+)?{_MONTH}\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend)s?\b"
    r"|\d{2,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|[周星期][一二三四五六日天]",
    re.IGNORECASE,
)


# a question about a price: "how much" with a word of money ("How much does express shipping
# cost?", "How much is delivery for a fridge?"), or a word of price alone ("What does Acme Care+
# cost?", "Is there a fee for returns?", "运费多少钱")
_PRICE_EN = r"cost|costs|price|prices|priced|fee|fees"
_HOW_MUCH_MONEY = re.compile(
    rf"\bhow\s+much\b.*\b(?:{_PRICE_EN}|charge|charged|charges|pay|paid|spend|money|expensive)\b"
    r"|\bhow\s+much\s+(?:is|are|was|were|will|would)\b",
    re.IGNORECASE,
)
# a price word that names a policy with the word after it ("price protection", "price match",
# 价格保护) or a kind of thing with the word before it ("full-price cakes") asks no price: "有价格
# 保护吗？" and "Do full-price cakes get price protection?" were answered with the one sentence of
# their passage that gave an amount, the points' 30% or an allergen surcharge
_PRICE_EN_WORD = (
    rf"(?<!-)\b(?:{_PRICE_EN})\b(?!-)(?!\s+(?:protection|match(?:ing)?|guarantees?|adjustments?|drops?|tags?|lists?"
    r"|polic(?:y|ies)|alerts?)\b)"
)
# (a price named by what it is of, "水价", "电价", "票价": "居民水价多少？" asked a number, and was told
# the electricity price in the next section, whose sentence named 居民, over the water price under
# its own heading; QA)
_PRICE_ZH = r"价格(?!保护|保障|保价|政策|标签|调整|变动)|价钱|(?<![物评差加涨降调减特])[水电气票房油单售]价(?![格值])"
_PRICE_WORD = re.compile(rf"{_PRICE_EN_WORD}|多少钱|{_PRICE_ZH}|费用|收费|运费|手续费", re.IGNORECASE)
# ... that asks the price itself, not who pays it or how to avoid it ("Who pays the return fee?",
# "退货运费谁承担？"); whether a fee is charged asks it too, in Chinese as in English ("Is there a
# fee for returns?", "携号转网要收手续费吗？", "退货收费吗？"), unlike whether the customer pays one
# ("退货要我自己付邮费吗？" asks who pays)
_ASKS_PRICE = re.compile(
    r"^(?!\W*(?:who|whom|whose|where|why|which|how|when)\b)(?!.*(?:谁|哪|为什么|怎么|如何)).*"
    rf"(?:{_PRICE_EN_WORD}|多少钱|{_PRICE_ZH}|(?:收|有)[^，。；？！?!]{{0,5}}费用?(?:吗|么|嘛)|收费(?:吗|么|嘛)|要钱(?:吗|么|嘛))",
    re.IGNORECASE | re.DOTALL,
)
# ... that asks for a way to reach someone: a phone number or an e-mail address ("What's your phone
# number?", "客服电话号码"). A sentence that gives one answers it, where one that only names it
# ("Data: Name, address, phone number; Why we use it: Delivering orders") does not. A question why,
# how, or whether something may be done names one without asking for it ("How do I update my
# phone number?", "Why do you keep my phone number?", "怎么修改联系电话？")
_ASKS_CONTACT = re.compile(
    r"^(?!\W*(?:why|how|can|could|should|do|does|did|is|are|will|would|may|must)\b)"
    r"(?!.*(?:为什么|怎么|如何|能不能|可不可以|可以|能否|是否)).*"
    r"(?:\b(?:phone|telephone|hotline|helpline|fax|contact)\s+(?:number|no)\b|\be-?mail\s+address\b"
    # (or the e-mail a "what" question ends on: "What is the customer service email?"; not a phone,
    # which is as often a product: "What is the best phone?")
    r"|^\W*what\b.*\be-?mail\W*$"
    r"|电话号码|联系电话|客服电话|热线电话|邮箱地址|电子邮箱)"
    # ... or how to reach someone at all ("How can I contact customer service?", "How do I reach
    # you?"): the ways to, a phone number or an e-mail address, answer it
    r"|^\W*how\s+(?:can|do|could|should|may)\s+(?:i|we)\s+(?:contact|reach|call|e-?mail|get\s+in\s+touch\s+with)\b"
    r"|^\W*how\s+to\s+(?:contact|reach|get\s+in\s+touch\s+with)\b",
    re.IGNORECASE | re.DOTALL,
)
_META_DATE = (
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?"
    rf"|(?:{_MONTH_NAMES})\s+\d{{1,2}},\s*\d{{4}}"
)
# A web page's own bookkeeping, which says nothing of what the page is about: when it was updated
# or published, and how often it was read ("更新时间：2019-12-13 点击数：26615", "Last updated:
# 2024-03-01", "Views: 1,234"), each with its colon and its date or count only
_PAGE_META = re.compile(
    rf"(?<!\S)(?:(?:更新|发布|发表)(?:时间|日期)\s*[:：]\s*(?:{_META_DATE})"
    r"|(?:点击|浏览|阅读|访问)(?:数|量|次数)\s*[:：]\s*\d[\d,]*"
    rf"|(?:Last\s+updated|Updated|Posted|Published)(?:\s+on)?\s*:\s*(?:{_META_DATE})"
    r"|(?:Views|Page\s+views|Hits)\s*:\s*\d[\d,]*)(?!\S)",
    re.IGNORECASE,
)


def without_page_meta(text: str) -> str:
    """``text`` without a web page's update or publication date and read count (:data:`_PAGE_META`)."""
    if not _PAGE_META.search(text):
        return text
    return re.sub(r"[ \t]{2,}", " ", _PAGE_META.sub("", text)).strip()


# what a figure counts, written first after it ("1967年", "80余人")
_FIGURE_UNITS = frozenset("年月日号时分秒个名人位次届期元万亿千百岁天周条项所%％")
# a line break written out as backslash and n (a page copied from a JSON export or a scraper's
# output: 39 of domainrag's pages), with the spaces around it
_ESCAPED_BREAK = re.compile(r"[ \t]*(?<!\\)(?:(?:\\{1,2}r)?\\{1,2}n)+[ \t]*")


def without_escaped_breaks(text: str) -> str:
    """``text`` with the line breaks a Chinese page wrote out as backslash and n read as the breaks
    inside a sentence they stand for: nothing before or after a mark and inside a figure ("加里\\n·
    \\n贝克尔", "于2\\n 013年"), else a space ("计算机科学与技术\\n计算机科学与技术专业培养…"). One with
    no Chinese character beside it is left as written: code says "\\n" ("printf(\"%d\\n\")")."""
    if "\\n" not in text:
        return text

    def glue(m: re.Match[str]) -> str:
        before = _ESCAPED_BREAK.sub("", text[max(0, m.start() - 9):m.start()])[-3:]
        after = _ESCAPED_BREAK.sub("", text[m.end():m.end() + 9])[:3]
        if not has_cjk(before + after):
            return m.group()
        a, b = before[-1:], after[:1]
        if not a or not b or not a.isalnum() or not b.isalnum() or a.isdigit() and (b.isdigit() or b in _FIGURE_UNITS):
            return ""
        return " "

    return _ESCAPED_BREAK.sub(glue, text)


# the nouns a question asking for a contact names its form by ("address" of "e-mail address",
# "number" of "phone number", 地址 of 邮箱地址, 号码 of 电话号码), as tokenize() gives them: an address
# or a number itself says them (rag.assistant's names_every_term)
CONTACT_FORM_WORDS = frozenset({"address", "number", "地址", "号码"})
# the words a question asking for a contact names whose it is by, the service desk's (as tokenize()
# gives them: support, helpline, hotline, help desk, customer service or care, call center, 客服,
# 服务热线): the contact details a knowledge base gives are its service desk's, whatever it calls it
SERVICE_DESK_WORDS = frozenset(
    {"support", "helplin", "hotlin", "helpdesk", "help", "desk", "custom", "servic", "care", "call", "center",
     "centr", "客服", "人工客服", "人工", "服务", "热线"}
)
# a phone number (seven digits or more, "1-800-555-0199", "+86 10 8888 6666"; a service number of
# five or six after a word that says to call it, "拨打95588", "hotline 95588") or an e-mail address
_PHONE = re.compile(r"\+?\d[\d ()./-]{5,}\d")
_SERVICE_NUMBER = re.compile(r"(?:拨打|致电|热线|电话|\bcall|\bphone|\btel|\bhotline)[:：\s]*\d{5,6}(?!\d)", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# an amount of money: a currency and a number, the currency's code before it too ("EUR 35", as
# European price lists write it: "An additional checked bag costs EUR 35" gave no price, and "How
# much is an extra checked bag?" was answered "... free of charge") (a Chinese unit needs no word
# boundary after it: "6.95 美元的"; numerals too, "贰拾元"), a percentage (of a price), or free of charge
_CURRENCY_CODES = r"usd|eur|gbp|chf|cny|rmb|jpy|hkd|sgd|aud|cad|nzd|inr|sek|nok|dkk|pln|czk|huf|twd|krw|aed"
_MONEY = re.compile(
    r"[$€£¥￥]\s?\d|\b(?:" + _CURRENCY_CODES + r")\s?\d"
    r"|\d(?:[\d,.]*\d)?\s?(?:(?:dollars?|euros?|pounds?|pence|cents?|francs?|yuan|" + _CURRENCY_CODES + r")\b|元|美元|欧元|英镑|块)"
    # pence as British price lists write them ("texts 60p each": "How much does it cost to call
    # from France to Germany?" was told another section's "£3.00 per minute"), said as a price: a
    # camera's "25p, 30p or 50p" and "1080p" are frame rates
    r"|\b(?:costs?|charged\s+at|priced\s+at|price\s+is|only|just)\s+\d{1,2}(?:\.\d)?p\b"
    r"|\b\d{1,2}(?:\.\d)?p\s+(?:each|per\b|a\s+(?:minute|min|text|message|call|mb|gb|day|week|month|page|letter))"
    r"|[一二两三四五六七八九十百千万壹贰叁肆伍陆柒捌玖拾佰仟]+(?:元|块钱)"
    r"|\d(?:[.,]\d+)?\s?%|\bfree\b|免费|不收费|不收取|包邮|(?:无需|不需要?|不用)[^，。；]{0,6}费"
    # no fee of a kind, or none charged ("no annual fee and no foreign transaction fee", "pays no
    # overdraft fees", "does not charge", "is waived": "Is there an annual fee on the credit card?"
    # was told the late fee, the one sentence with an amount)
    r"|\bno\s+(?:[a-z-]+\s+){0,3}?(?:charges?|costs?|fees?)\b|\b(?:does\s+not|do\s+not|doesn't|don't|will\s+not|won't)\s+charge\b"
    r"|\bwaived\b",
    re.IGNORECASE,
)


# a question whether something may be done that asks to be told something ("Can you tell me the
# price of Plus?", "May I know the cost?", "能告诉我价格吗？"): a request for what it names
_ASKS_TO_BE_TOLD = re.compile(
    r"^\W*(?:can|could|may)\s+(?:i|we|you)\s+(?:please\s+)?(?:know|ask|see|check|find\s+out|look\s+up"
    r"|(?:tell|show|give|send|quote)\s+(?:me|us))\b|\bquotes?\b|告诉|知道|查询|查看|查一下|了解|问一?下|报个?价",
    re.IGNORECASE,
)


def _asks_whether_allowed(folded: str) -> bool:
    """Whether ``folded`` (simplified) asks whether something may be done (:data:`_MAY_QUESTION`),
    not to be told something. Such a question names a price as a part of what would be done
    ("Can I get price protection on a sale item?", "使用优惠券的订单可以申请价格保护吗？", "Can I pay
    the fee by card?"): it wants a yes or a no, not an amount. Read as asking for a price, it was
    answered by the one sentence of its passage with an amount, from the section before ("开通“退货
    无忧”服务的订单，每单可获得最高12元的运费补贴"), and never with the sentence that said no ("秒杀、
    拼团及使用优惠券的订单不参加价格保护"), which holds none."""
    return bool(_MAY_QUESTION.search(folded.strip())) and not _ASKS_TO_BE_TOLD.search(folded)


# "几个月", "多少个工作日", "几个小时": how long, in units of time
_HOW_MANY_UNITS_OF_TIME = re.compile(r"(?:几|多少)个?(?:月|工作日|小时|钟头|星期|礼拜)")
_HOW_MANY_DAYS_OR_YEARS = re.compile(r"(?:几|多少)(?:天|年)")
# "几天" as "a few days", another question word after it
_SOME_UNITS_OF_TIME = re.compile(r"几个?(?:天|年|月|工作日|小时|星期)[^？?。，,]*?(?:怎么|怎样|什么|如何|吗|么|呢|吧)")
# a count in a duration ("5天", "三个工作日", "2-3天")
_COUNT = re.compile(r"[\d一二两三四五六七八九十百千半]")
# the units of time a count is asked in, by their scale: "几个工作日" is answered in days ("3-5个工作日",
# "2周"), not in hours ("跨行转账一般2小时内到账" opened "境外汇款要几个工作日？", a regression hunt's)
_TIME_SCALES = (frozenset("秒分钟小时钟头"), frozenset("天日工作周星期礼拜"), frozenset("个月季度年"))


def asks_time_count(query: str) -> frozenset[str] | None:
    """The characters of the units of time ``query`` asks a count of ("几天", "多少个工作日", "几个月"),
    all of that scale (:data:`_TIME_SCALES`); None where it asks none. A duration with a count answers
    it, not "立即" or "当天" ("补卡要几天？" was told "借记卡丢失后应立即挂失", a regression hunt's)."""
    folded = to_simplified(query)
    m = _HOW_MANY_UNITS_OF_TIME.search(folded) or _HOW_MANY_DAYS_OR_YEARS.search(folded)
    if m is None:
        return None
    unit = m.group(0)[-1]
    return next((scale for scale in _TIME_SCALES if unit in scale), frozenset())


def holds_time_count(sentence: str, scale: frozenset[str] = frozenset()) -> bool:
    """Whether ``sentence`` gives a duration with a count ("5天", "3-5个工作日", "within 30 days"), in a
    unit of ``scale`` where one is given (a Chinese unit's characters, :func:`asks_time_count`)."""
    return any(
        _COUNT.search(m.group(0)) and (not scale or any(c in scale for c in m.group(0)))
        for m in _DURATION.finditer(to_simplified(sentence))
    )


def answer_kind(query: str) -> str | None:
    """The kind of answer ``query`` wants: "duration" (how long, 多久, how far in advance), "time"
    (when, 哪一年: a date or a duration), "money" (a price: how much it costs, 多少钱), "distance"
    (how far, 多远), "number" (how much / many / often, 多少, 几名), "contact" (a phone number or
    e-mail address), or None."""
    words = answer_kind_words(query)
    folded = to_simplified(query)
    if words:
        kind = _KIND_OF_WORD.get(words[0].lower(), "number")
        if kind == "number" and _HOW_MANY_UNITS_OF_TIME.search(folded):
            kind = "duration"
        if kind == "duration" and _SOME_UNITS_OF_TIME.search(folded):
            # "晚还几天会怎么样？", "能分几个月还吗？": 几天 is a few days, and the question asks something
            # else (a zh-card-faq question lost its answer to the duration read)
            kind = "number"
        if kind == "distance" and _FAR_IN_TIME.search(query):
            return "duration"
        if kind == "number" and (_HOW_MUCH_MONEY.search(query) or _PRICE_WORD.search(folded)):
            return "money"
        return kind
    if _ASKS_PRICE.search(folded) and not _asks_whether_allowed(folded):
        return "money"
    if _ASKS_CONTACT.search(folded):
        return "contact"
    return "time" if _WHEN.search(folded) else None


def price_words(text: str) -> list[str]:
    """The words by which ``text`` asks for a price, where it does ("cost" in "How much does
    shipping cost?", "多少钱"): what it asks for, not what it is about, once a later turn asks
    another thing of the same topic ("and how long does it take?")."""
    folded = to_simplified(text)
    asks = _HOW_MUCH_MONEY.search(text) or _ASKS_PRICE.search(folded) or "多少" in folded
    # a fee named by what it is for (运费, shipping fee; 手续费, handling fee; 水价, water price) names
    # a topic too
    return [w for w in _PRICE_WORD.findall(folded) if w not in ("运费", "手续费") and not re.fullmatch(r"[^价]价", w)] if asks else []


def price_terms(text: str) -> frozenset[str]:
    """:func:`price_words` as analysed terms (:func:`tokenize`), to take out of a topic."""
    return frozenset(tokenize(" ".join(price_words(text))))


# the most questions one question is read as asking (:func:`split_asks`)
MAX_ASKS = 3

# where a question asks a second thing: "..., and how long will the refund take?", "... and do
# they pay return shipping?", or a second question after the first's question mark ("退货运费谁出？
# 多久退款？")
_SECOND_ASK = re.compile(
    r",?\s+and\s+(?=(?:what|how|when|where|why|which|who|whom|can|could|do|does|did|is|are|was|were|will|"
    r"would|should|may|must|have|has)\b)|(?<=[?？])\s*(?=\S)",
    re.IGNORECASE,
)


# a Chinese clause that asks something: a question word, or a question's closing particle
_ZH_ASKS = re.compile(
    r"什么|怎么|怎样|如何|多久|多长|多少|为什么|哪|谁|是否|能否|可否|有没有|是不是|能不能|可不可以|要不要|吗|呢"
)


def _chinese_asks(piece: str) -> list[str]:
    """``piece`` cut where a Chinese clause that asks follows a comma, after clauses that asked
    already ("积分怎么获得，多久过期？": "积分怎么获得", "多久过期？"); a clause that asks nothing sets
    the scene for the one after it ("如果不喜欢，可以退吗？", "我的卡丢了，怎么办？" are one question)."""
    parts: list[str] = []
    asked = False  # whether the part being read asks something yet
    for clause in piece.split("，"):
        asks = bool(_ZH_ASKS.search(to_simplified(clause)))
        if parts and not (asks and asked):
            parts[-1] = f"{parts[-1]}，{clause}"
            asked = asked or asks
        else:
            parts.append(clause)
            asked = asks
    return parts


def _asks_another_kind(part: str, before: str) -> bool:
    """Whether ``part`` asks for a kind of answer (:func:`answer_kind`) that ``before`` does not:
    "how long does it take?" after "How much is express shipping" asks about the same thing, for
    another answer."""
    kind = answer_kind(part)
    return kind is not None and kind != answer_kind(before)


def split_asks(question: str) -> list[str]:
    """The questions ``question`` asks, where it asks more than one ("Can I return an item and how
    long will the refund take?": "Can I return an item", "how long will the refund take?"; "退货要
    多久，运费谁出？": "退货要多久", "运费谁出？"); a part that names no term of its own ("..., and
    why?", "能用多久？") stays with the one before it. ``[question]`` otherwise."""
    parts: list[str] = []
    pieces = _SECOND_ASK.split(question.strip())
    for piece in (p for whole in pieces for p in _chinese_asks(whole)):
        piece = piece.strip()
        # a part that names nothing stays with the part before, unless it asks that part's subject
        # for another kind of answer ("How much is express shipping and how long does it take?");
        # so does a Chinese part whose own words are single characters, a verb such as 用 in "临额
        # 怎么申请，能用多久？", on the part before's subject
        terms = tokenize(query_topic(piece))
        if parts and (
            (not terms and not _asks_another_kind(piece, parts[-1]))
            or (terms and all(len(t) == 1 and is_cjk_char(t) for t in terms))
        ):
            parts[-1] = f"{parts[-1]} {piece}"
        elif piece:
            parts.append(piece)
    # a pasted list of questions is not one question asking several things: an answer of a few
    # sentences could not answer each, and each part costs a pass over the passages
    return parts if 1 < len(parts) <= MAX_ASKS else [question]


def asks_several_kinds(query: str) -> bool:
    """Whether ``query`` asks for more than one kind of answer ("How long does it take, and how much
    does it cost?", "What time do you open, and how much is parking?")."""
    folded = to_simplified(query)
    return len(answer_kind_words(query)) + bool(_ASKS_CONTACT.search(folded)) + bool(_WHEN.search(folded)) > 1


# a follow-up that only names another subject ("And for Acme Plus members?", "What about phones?",
# "会员呢？"): it asks again what the turn it follows asked, about that subject
_ONLY_NAMES_EN = re.compile(
    r"^\W*(?:(?:and|or|but)\s+)?(?:(?:what|how)\s+about|and|or)\b"
    r"(?!.*\b(?:how|what|when|where|why|who|whom|whose|which|can|could|do|does|did|is|are|was|were|will|"
    r"would|should|shall|may|might|must|has|have|had)\b)[^?？]*[?？]?\s*$",
    re.IGNORECASE,
)
_ONLY_NAMES_ZH = re.compile(r"^(?!.*(?:什么|怎么|怎样|如何|为何|为什么|多|哪|几|谁|吗|是否|能否|可否))[^？?。]{1,24}呢\s*[？?]?\s*$")


def only_names_subject(question: str) -> bool:
    """Whether ``question`` only names another subject than the turn it follows, asking nothing of
    its own ("And for Acme Plus members?", "What about phones?", "那会员呢？")."""
    return bool(_ONLY_NAMES_EN.match(question.strip()) or _ONLY_NAMES_ZH.match(to_simplified(question.strip())))


def asked_kind(question: str, query: str | None = None) -> str | None:
    """The kind of answer ``question`` wants (:func:`answer_kind`); for a follow-up that only names
    another subject, that of ``query``, the turn as condensed with the one it follows: "And for
    Acme Plus members?" after "How long do I have to return an item?" asks how long, and is
    answered with the members' 60 days, not with what else is said of members."""
    kind = answer_kind(question)
    if kind is None and query and query.strip() != question.strip() and only_names_subject(question):
        return answer_kind(query)
    return kind


# the name of a number that is no phone number, just before it ("routing number is 021000555",
# "account number 12345678", "税号：91110000…", "tracking no. 12345678")
_NOT_PHONE_BEFORE = re.compile(
    r"(?:\b(?:routing|account|acct|card|policy|order|tracking|reference|invoice|membership|serial|tax|vat|licen[cs]e"
    r"|registration)\s+(?:number|no\.?|#|code|id)\b[^\d\n]{0,12}|\b(?:swift|iban|aba|bic)\b[^\d\n]{0,12}"
    r"|(?:账号|帐号|卡号|单号|订单号|运单号|税号|保单号|身份证号?|编号|会员号)[^\d\n]{0,6})$",
    re.IGNORECASE,
)


def _is_phone(m: re.Match[str]) -> bool:
    """Whether a :data:`_PHONE` match has a phone number's seven digits, and is not named as
    another number: "What is the phone number to call Harbor Bank?" was told "Harbor Bank's
    routing number is 021000555"."""
    if sum(c.isdigit() for c in m.group()) < 7:
        return False
    return not _NOT_PHONE_BEFORE.search(m.string[max(0, m.start() - 30) : m.start()])


def _unless_phone(m: re.Match[str]) -> str:
    """A :data:`_PHONE` match as it is, or a space where it is a phone number."""
    return " " if _is_phone(m) else m.group()


# a Chinese date is a deadline where it says by when ("12月31日前", "截至6月30日"): "自2026年12月1日起", when a
# price changes, says nothing of how long anything takes (QA 2026-12-07: "寄到新疆要几天")
_ZH_BY_DATE = re.compile(r"\s*(?:\d{1,2}\s*[月日号]\s*)*(?:前|之前|以前|为止|止)")
_ZH_DATE_BY = re.compile(r"(?:截止|截至|最迟|最晚|不晚于)[于到至在]?\s*(?:\d{2,4}\s*年\s*)?(?:\d{1,2}\s*月\s*)?$")


def _is_deadline(date: re.Match[str], sentence: str) -> bool:
    """Whether ``date`` (a match of :data:`_DATE` in ``sentence``) says a deadline: any date in English
    ("can be returned until 31 January", "by 15 March"), a Chinese one only as a deadline."""
    if not any("\u4e00" <= c <= "\u9fff" for c in date.group(0)):
        return True
    return bool(_ZH_BY_DATE.match(sentence, date.end()) or _ZH_DATE_BY.search(sentence, 0, date.start()))


def holds_answer_kind(kind: str | None, sentence: str) -> bool:
    """Whether ``sentence`` holds an answer of that kind (:func:`answer_kind`): a duration or a
    date for "duration" and "time", an amount of money (or "free") for "money", a number for
    "number", a length with its unit for "distance" ("up to 15 miles": "How far will you tow my
    car?" was told the towing limit's dollars), a phone number or e-mail address for "contact"."""
    if kind in ("duration", "time"):
        # a deadline answers "how long" too ("can be returned until 31 January")
        sentence = to_simplified(sentence)  # "30 個月" is "30 个月"
        if _DURATION.search(sentence) or (kind == "time" and _CLOCK.search(sentence)):
            return True
        return any(kind == "time" or _is_deadline(m, sentence) for m in _DATE.finditer(sentence))
    if kind == "number":
        # a phone number counts nothing: "How many people are covered by it?" was told "contact
        # the Human Resources Administration by calling (718) 557-1399"
        return bool(_NUMBER_WORD.search(_PHONE.sub(_unless_phone, sentence)))
    if kind == "money":
        return bool(_MONEY.search(to_simplified(sentence)))
    if kind == "distance":
        return bool(_DISTANCE.search(to_simplified(sentence)))
    if kind == "contact":
        return bool(_EMAIL.search(sentence) or _SERVICE_NUMBER.search(sentence)) or any(
            _is_phone(m) for m in _PHONE.finditer(sentence)
        )
    return False


def gives_a_price(text: str) -> bool:
    """Whether ``text`` gives an amount of money, a figure with it ("Annual Pass $125", "年费：2000元"),
    not only "free"."""
    return holds_answer_kind("money", text) and any(c.isdigit() for c in text)


# "How do I return an item?", "What are the steps to reset the TV?", "如何退货", "开发票的步骤是什么":
# the question asks for a procedure, which a section headed
# as one gives ("4. How to start a return", "如何申请退货"); "How long …" asks for a duration instead
# ("怎么办", "怎么样", "怎么回事" ask what to do, how it is, what is going on: as "What should I do?"
# does not, they ask for no procedure; "怎么办理" asks how to go through one)
_HOW_TO_QUESTION = re.compile(
    r"^\W*how\s+(?:do|can|should|could|would|to)\b|^\W*what\s+(?:are\s+the\s+|is\s+the\s+)?(?:steps?|process|procedure)"
    r"\s+(?:to|for)\b|^\W*walk\s+me\s+through\b|怎么(?!办(?!理)|样|回事)|怎样|如何|步骤|流程是",
    re.IGNORECASE,
)
_HOW_TO_HEADING = re.compile(
    r"^\W*(?:\d+[.)]?\s*)?(?:how\s+(?:to|do\s+i|can\s+i)\b|steps?\s+(?:to|for)\b)"
    # (a Chinese heading numbered as Chinese documents number them: "二、如何申请退货", "（三）怎样开票")
    r"|^\W*(?:\d+[.)、]?\s*|[一二三四五六七八九十]{1,3}[、.．)）]\s*|第[一二三四五六七八九十\d]{1,3}[章节条部分]+\s*)?"
    r"(?:如何|怎么|怎样)",
    re.IGNORECASE,
)
# a Chinese heading that names a procedure ("退货流程", "开票操作步骤")
_PROCEDURE_HEADING = re.compile(r"[\u4e00-\u9fff](?:流程|步骤|操作步骤|操作指南|办理流程|申请流程)\W*$")


# "Can I return a gift card?", "能退礼品卡吗": a yes-or-no question whether something may be done,
# which an exception ("Gift cards cannot be returned") answers no, wherever the rule it excepts is
_MAY_QUESTION = re.compile(
    r"^\W*(?:(?:can|could|may)\s+(?:i|we|you)|am\s+i\s+allowed\s+to|is\s+it\s+possible\s+to"
    r"|do\s+you\s+(?:accept|allow|take|let))\b|(?:能|可以|可不可以|能不能|允许)[^。？！?!]{0,12}(?:吗|么|嘛)?\s*[？?]?\s*$",
    re.IGNORECASE,
)


# a question answered by yes or no: one that opens with its auxiliary verb ("Do you offer ...?",
# "Is there ...?", "Can I ...?"), or in Chinese one that ends with 吗 or asks "A not A" (能不能,
# 有没有, 是不是)
_YES_NO = re.compile(
    r"^\W*(?:is|are|was|were|am|do|does|did|can|could|will|would|shall|should|may|might|must|have|has|had)\b"
    r"|(?:吗|嘛|(?<![什怎多那这])么)[\s？?]*$|(能|可|会|是|要|需|用)不\1|有没有",
    re.IGNORECASE,
)


# ... unless what it asks is to be told something ("Could you tell me how long a pause lasts?",
# "能告诉我怎么退款吗？"): a question inside a request
_TELL_ME = re.compile(
    r"^\W*(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|show|explain\s+to|let)\s+(?:me|us)\s+"
    r"(?:know\s+)?(?:how|what|when|where|which|who|why)\b|告诉我[^。？！?!]{0,12}(?:怎么|如何|多久|多少|什么|哪|几)",
    re.IGNORECASE,
)


def asks_yes_no(query: str) -> bool:
    """Whether ``query`` is answered by yes or no: it opens with its auxiliary verb, or, in
    Chinese, ends with 吗 or asks one thing or its negation (能不能, 有没有); not a request to be
    told something ("Could you tell me how long ...?")."""
    folded = to_simplified(query).strip()
    return bool(_YES_NO.search(folded)) and not _TELL_ME.search(folded)


def asks_may(query: str) -> bool:
    """Whether ``query`` asks whether something may be done ("Can I return a gift card?")."""
    return bool(_MAY_QUESTION.search(to_simplified(query).strip())) and answer_kind(query) is None


def negated_terms(text: str) -> set[str]:
    """The terms ``text`` negates, within a clause: the term before a negation and the two after
    it ("Gift cards cannot be returned": card, return; "特价商品不支持退货": 商品, 支持, 退货)."""
    out: set[str] = set()
    for clause in _CLAUSE.split(_normalized(text)):
        if not _MAY_NEGATE.search(clause):
            continue
        terms = _analyse(clause, negations=True)
        for i, t in enumerate(terms):
            if t == NEGATION:
                out.update(x for x in terms[max(0, i - 1) : i + 3] if x != NEGATION)
    return out


def negated_predicates(text: str) -> set[str]:
    """The term right after each negation of ``text``, within a clause: what it says is not so
    ("Gift cards cannot be returned": return; "does not cover accidental damage": cover;
    "不支持退货": 支持). Narrower than :func:`negated_terms`, whose term before a negation is
    its subject ("card"), which a sentence saying something else of it also names."""
    out: set[str] = set()
    for clause in _CLAUSE.split(_NOT_A_DENIAL.sub(" ", _normalized(text))):
        if not _MAY_NEGATE.search(clause):
            continue
        terms = [t for t in _analyse(clause, negations=True) if t not in _NOT_PREDICATES]
        out.update(t for neg, t in zip(terms, terms[1:], strict=False) if neg == NEGATION and t != NEGATION)
    return out


# what stands between a negation and what it denies: "no longer ships", "not yet available",
# "never ever", "not even"
_NOT_PREDICATES = frozenset(("longer", "yet", "ever", "even", "alway", "realli", "actual"))


# a negation that denies nothing: "not all items qualify" says that some do, "no later than" is a
# deadline, "不仅" is "not only", "无理由退货" a return for any reason
_NOT_A_DENIAL = re.compile(
    r"(?i)\b(?:not|no)\s+(?:all|every|only|just|later|earlier|more|less|sooner|necessarily)\b"
    r"|不仅|不只|不但|不光|无论|不管|不论|无理由"
)


# words that ask the opposite of each other ("How do I turn roaming on?" is not "How do I turn
# roaming off?"), and in Chinese the same words before "内", "前" or "后" ("犹豫期内退保" is not
# "犹豫期后退保")
_EN_OPPOSITES = (
    ("on", "off"), ("enable", "disable"), ("activate", "deactivate"), ("start", "stop"), ("add", "remove"),
    ("increase", "decrease"), ("upgrade", "downgrade"), ("before", "after"), ("subscribe", "unsubscribe"),
    ("lock", "unlock"), ("connect", "disconnect"), ("install", "uninstall"), ("include", "exclude"),
    ("join", "leave"), ("import", "export"), ("inbound", "outbound"), ("domestic", "international"),
)
_ZH_OPPOSITES = (
    ("开通", "关闭"), ("开启", "关闭"), ("打开", "关闭"), ("开通", "取消"), ("绑定", "解绑"), ("加入", "退出"),
    ("升级", "降级"), ("增加", "减少"), ("添加", "删除"), ("上调", "下调"), ("国内", "国外"), ("境内", "境外"),
)
_EN_FORM = {w: re.compile(rf"\b{w}(?:s|es|d|ed|ing)?\b") for pair in _EN_OPPOSITES for w in pair}
# the same words in another sense: a time ("How long before I get my refund?" asks what "How long
# after a return do I get my refund?" does) and a reduction ("money off", "20% off")
_NOT_OPPOSED = re.compile(
    r"\b(?:long|soon|shortly|right|just|days?|weeks?|hours?|months?|years?)\s+(?:before|after)\b"
    r"|(?:\b(?:money|discount|percent)|%|\$\s*[\d.]+)\s*off\b"
)
_ZH_SIDE = re.compile(r"([\u4e00-\u9fff]{2})(内|前|后)")
# a negation added to a question: Chinese before a word ("没有保价的快递", "不能退货"), English as a
# word ("is shipping not free"), before one ("without insurance") or as its prefix ("uninsured",
# "non-members"); each with what removing it leaves
_NEGATION_ADDED = re.compile(r"没有|没|未|无|非|不|\b(?:not|no|never)\s+|\bwithout\b|\b(?:un|non-?)(?=[a-z]{4,})")
_NOT_A_WORD_CHAR = re.compile(r"[\W_]+")


def _opposite_words_in(text: str) -> set[str]:
    """The words of :data:`_EN_OPPOSITES` (in any of their forms) and :data:`_ZH_OPPOSITES` that
    ``text`` says."""
    return {w for w, form in _EN_FORM.items() if form.search(text)} | {
        w for pair in _ZH_OPPOSITES for w in pair if w in text
    }


def asks_the_opposite(a: str, b: str) -> bool:
    """Whether ``a`` says one of two opposite words (:data:`_EN_OPPOSITES`, :data:`_ZH_OPPOSITES`)
    and ``b`` the other, each without the other's ("How do I turn on roaming?", "How do I turn
    roaming off?"), or in Chinese the same two characters before "内", "前" or "后" ("犹豫期后
    退保会有损失吗", "犹豫期内退保"), or one is the other with a negation added
    (:func:`_negates_what_is_said`)."""
    x, y = as_written(a), as_written(b)
    x, y = _NOT_OPPOSED.sub(" ", x), _NOT_OPPOSED.sub(" ", y)
    # one pair's two words, one said on each side and not the other, ask opposites
    said_x, said_y = _opposite_words_in(x), _opposite_words_in(y)
    for pair in (*_EN_OPPOSITES, *_ZH_OPPOSITES):
        in_x, in_y = said_x.intersection(pair), said_y.intersection(pair)
        if len(in_x) == 1 and len(in_y) == 1 and in_x != in_y:
            return True
    sides_x = {m.group(1): m.group(2) for m in _ZH_SIDE.finditer(x)}
    if any(sides_x.get(m.group(1), m.group(2)) != m.group(2) for m in _ZH_SIDE.finditer(y)):
        return True
    return _negates_what_is_said(x, y) or _negates_what_is_said(y, x)


def _negates_what_is_said(x: str, y: str) -> bool:
    """Whether ``y`` is ``x`` with a negation added, and nothing else changed: "没有保价的快递丢了赔多少"
    against "有保价的快递丢了赔多少" (a QA round's customer with insured parcels was quoted the
    uninsured payout, as written), "uninsured" against "insured", "not free" against "free". (Any
    word negated anywhere was read so for a day: "What should I do if my parcel doesn't arrive?",
    "没有发票能退货吗？" and "都三天了还没发货？" lost their entries; a question that states a problem
    in a negation asks what its entry answers.)"""
    plain = _NOT_A_WORD_CHAR.sub("", x)
    for m in _NEGATION_ADDED.finditer(y):
        said = m.group(0)
        # what y says without it ("没有" may stand for "有": 没有保价 / 有保价; "without" for "with")
        for kept in {"", "有" if said == "没有" else "", "with" if said == "without" else ""}:
            if _NOT_A_WORD_CHAR.sub("", y[: m.start()] + kept + y[m.end():]) == plain:
                return True
    return False


def asks_how_to(query: str) -> bool:
    """Whether ``query`` asks how to do something (and for no other kind of answer)."""
    return bool(_HOW_TO_QUESTION.search(to_simplified(query))) and answer_kind(query) is None


# the verbs that name one kind of action, of which an English how-to question asks one and a
# heading that tells how to do it may say another ("How do I cancel my Roam Pass?": "How to remove a
# Roam Pass"; "turn off" is "cancel"; "How to turn data roaming on or off" turns it off)
_ACTIONS = {
    name: re.compile(rf"(?i)\b(?:{words})\b")
    for name, words in (
        ("off", r"cancel\w*|remov\w*|stop\w*|end|ends|ending|terminat\w*|deactivat\w*|unsubscrib\w*|disabl\w*|clos\w*"
                r"|delet\w*|(?:turn|switch)\w*(?:\s+[\w-]+){0,3}?\s+(?:on\s+or\s+)?off|opt\w*\s+out"
                # ("How do I disconnect Slack?" was told the Connect steps, QA 2026-12-07)
                r"|disconnect\w*|unlink\w*"),
        ("on", r"add|adds|added|adding|activat\w*|enabl\w*|buy\w*|purchas\w*|order\w*|join\w*|subscrib\w*"
               r"|regist\w*|book\w*|(?:turn|switch)\w*(?:\s+[\w-]+){0,3}?\s+on|sign\w*\s+up|connect\w*|link|links|linked|linking"),
        ("change", r"chang\w*|switch(?:es|ed|ing)?(?!\s+o(?:n|ff)\b)|updat\w*|edit\w*|modif\w*|amend\w*"),
        ("pay", r"pay|pays|paid|paying|top(?:s|ped|ping)?\s+up"),
        # ("checked baggage" and "check in" are no looking: "How to add checked baggage" was no way to
        # pay for a bag)
        ("see", r"check(?:s|ing)?(?![\s-]+in\b)|see|view\w*|find\w*|track\w*|look\w*"),
    )
}
# the kinds of action that are another than each: a heading that tells how to do one of them (and
# says none of the kind asked) tells how to do something else. Only these: the kinds near one another
# are said for one another ("How do I pay for Pro?": "How to upgrade to Pro"; "How do I change my
# password?": the reset steps; "How do I download the app?": "How to install"), and a regression hunt
# lost 47 answers when every heading of another verb counted as another action
_OTHER_ACTION = {
    "off": {"on", "see"}, "on": {"off", "see"}, "change": {"see"}, "pay": {"see"}, "see": {"off", "on", "change", "pay"},
}
# the verb (with its particle) an English how-to question asks how to do with: "How do I turn off
# roaming?" -> "turn off", "What are the steps to cancel ..." -> "cancel"
_HOW_TO_VERB = re.compile(
    r"(?i)^\W*(?:how\s+(?:do|can|should|could|would|must|may)\s+(?:i|we|you|one)\s+|how\s+to\s+"
    r"|what\s+(?:are\s+the\s+|is\s+the\s+)?(?:steps?|process|procedure)\s+(?:to|for)\s+)(?:go\s+about\s+)?"
    r"([a-z]+)(?:(?:\s+(?:it|them|this|that))?\s+(on|off|up|out)\b)?"
)


def _asked_verb(question: str) -> str:
    """The verb, with its particle, that :data:`_HOW_TO_VERB` finds in ``question`` ("" for none).
    A particle after a pronoun is the verb's: "how do I turn it off?", a follow-up, asks to turn
    off, and was told the turn-on steps (QA 2026-12-07)."""
    m = _HOW_TO_VERB.match(question)
    return " ".join(g for g in m.groups() if g) if m else ""


def how_to_action(question: str) -> Callable[[str], bool] | None:
    """For an English question that asks how to do something with a verb of one of
    :data:`_ACTIONS`' kinds, a test of a heading: whether it may tell how to do that, not
    another kind of action (:data:`_OTHER_ACTION`: "How to view your bill" does not tell how to pay
    an overdue bill, "How to add a Roam Pass" how to cancel one). None for any other question."""
    verb = _asked_verb(question)
    if not verb:
        return None
    # (a verb with its particle, as a whole: "turn off" is no "turn on", and "check out" pays)
    kinds = {k for k, g in _ACTIONS.items() if g.fullmatch(verb)}
    if not kinds:
        return None
    others = set().union(*(_OTHER_ACTION[k] for k in kinds)) - kinds

    def tells(heading: str) -> bool:
        said = {k for k, g in _ACTIONS.items() if g.search(heading)}
        return bool(said & kinds) or not said & others

    return tells


def does_asked_action(question: str) -> Callable[[str], bool] | None:
    """For a question :func:`how_to_action` tests headings for, a test of a sentence: whether it
    does the kind of action asked ("To disconnect, ... click Disconnect" for "How do I disconnect
    Slack?"). None for any other question."""
    verb = _asked_verb(question)
    kinds = {k for k, g in _ACTIONS.items() if verb and g.fullmatch(verb)}
    if not kinds:
        return None
    return lambda text: any(_ACTIONS[k].search(text) for k in kinds)


def as_written(text: str) -> str:
    """``text`` as analysed terms are looked for in it as they are written (in text with Chinese,
    which spares running jieba on it): NFKC, lower case, Simplified."""
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def names_any(terms: frozenset[str] | set[str], text: str) -> bool:
    """Whether ``text`` names one of ``terms`` (as :func:`named_terms` finds them; one found as
    written spares running jieba on the text)."""
    if has_cjk(text):
        low = as_written(text)
        if any(t in low for t in terms):
            return True
    return not frozenset(terms).isdisjoint(tokenize(text))


def named_terms(terms: frozenset[str] | set[str], text: str) -> frozenset[str]:
    """Which of ``terms`` (analysed, :func:`tokenize`) ``text`` names: among its own terms, or, in
    text with Chinese, as they are written ("用" in "如何使用积分", which jieba cuts as 使用)."""
    terms = frozenset(terms)
    got: frozenset[str] = frozenset()
    if has_cjk(text):
        low = as_written(text)
        got = frozenset(t for t in terms if t in low)
        if len(got) == len(terms):
            return got  # all found as written: no need to run jieba on the text
    return got | terms.intersection(tokenize(text))


def is_how_to_heading(heading: str) -> bool:
    """Whether a section ``heading`` says the section tells how to do something."""
    return bool(_HOW_TO_HEADING.search(to_simplified(heading or "")))


def names_a_procedure(heading: str) -> bool:
    """Whether a section ``heading`` names a procedure ("退货流程", "开票操作步骤"): it may tell how,
    of what it names (``下单流程`` tells how to order, not how to change the address after it)."""
    return bool(_PROCEDURE_HEADING.search(to_simplified(heading or "")))


# "how long does a refund take?": the verb belongs to the question's frame, as "long" does; as a
# search term it found "Standard shipping takes 3 to 5 days" (a sentence answering "how long" may
# still say "takes": the composer counts it)
_FRAME_TAKE = re.compile(r"\bhow\s+long\b[^.?!;,]*?\b(takes?|taken|taking|took)\b", re.IGNORECASE)

# "will" as the question's auxiliary ("how long will the refund take?", "When will my order
# arrive?", "Will it fit?"), after a question word or a pronoun or opening the question, says when,
# not what about: as a term it matched "We will send a replacement or a full refund" over "Refunds
# are issued ... within 5 to 7 business days". A will that is written ("Can I change my will?")
# stays a term
_AUX_WILL = re.compile(
    r"(?:\b(?:how(?:\s+(?:long|much|many|often|soon|far))?|what|when|where|which|who|why|i|you|we|they|it|he|she)\s+|^\W*)"
    r"(will|shall)\b",
    re.IGNORECASE,
)


# the words a request opens with, which say that the user wants something, not what about: "I want
# to close my account" is about closing an account, and "I want a refund" about a refund ("want"
# matched "If you want a different size")
_REQUEST_FRAME = re.compile(
    r"^\s*(?:please\s+)?(?:i\s*'?d\s+like(?:\s+to)?|i\s+(?:would\s+like|want|need|wish)\s+to|"
    r"i\s+(?:would\s+like|want|need)(?=\s+(?:a|an|my|the|some|your|our|more)\b)|i\s*'?m\s+trying\s+to|"
    r"i\s+am\s+trying\s+to|(?:can|could)\s+you\s+(?:please\s+)?help\s+me(?:\s+to)?|help\s+me(?:\s+to)?)\s+"
    r"|^\s*(?:请问|我想要|我想|我要|我需要|麻烦您|麻烦你|帮我)",
    re.IGNORECASE,
)


def without_request(query: str) -> str:
    """``query`` without the words that open it as a request ("I want to", "I need a", "我想",
    "請問"), unless nothing else is left."""
    frame = _REQUEST_FRAME.match(to_simplified(query))  # one character for one: its end is the same in query
    return query[frame.end() :] if frame and frame.end() < len(query) else query


# the story around a need ("Hi, I bought a phone last month and the screen cracked", "我上个月买的
# 手机屏幕碎了"): a greeting it opens with, how the user came by the thing (bought, ordered,
# received) and, told with that, when. No passage about cracked screens names them. Without a
# "bought", a time is part of what is asked ("What happened last year?", "去年的学费是多少？")
_GREETING_OPEN = re.compile(r"^\W*(?:hi|hello|hey)\b|^\W*(?:你好|您好)", re.IGNORECASE)
_CAME_BY = re.compile(
    r"\b(?:i|we)\s+(?:just\s+|recently\s+)?(?:bought|purchased|ordered|received|got)\b"
    r"|(?:刚刚?)?(?:买|购买|收到)(?:的|了)",
    re.IGNORECASE,
)
_STORY_WHEN = re.compile(
    r"\b(?:last|past)\s+(?:week|month|year|night|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
    r"|\b(?:yesterday|recently|the\s+other\s+day)\b"
    r"|\b(?:\d+|an?|one|two|three|four|five|six|(?:a\s+)?few|(?:a\s+)?couple\s+of)\s+(?:days?|weeks?|months?|years?)\s+ago\b"
    r"|上个?月|上个?(?:星期|礼拜)|上周|去年|昨天|前天|前几天|几天前|\d+天前|最近|刚才",
    re.IGNORECASE,
)


def without_story(text: str) -> str:
    """``text`` without the story around its need: its opening greeting, and the words that tell
    how and when the user came by what it is about ("Hi, I bought ... last month", "上个月买的";
    :data:`_CAME_BY`, :data:`_STORY_WHEN`), unless nothing else is left. What stood on either side of
    them is no phrase ("a phone [last month] and the screen cracked": no "phone screen")."""
    folded = to_simplified(text)  # one character for one: the matches' places are the same in text
    spans = [m.span() for m in _GREETING_OPEN.finditer(folded)]
    if _CAME_BY.search(folded):
        spans += [m.span() for p in (_CAME_BY, _STORY_WHEN) for m in p.finditer(folded)]
    if not spans:
        return text
    pieces, pos = [], 0
    for a, b in sorted(spans):
        if a >= pos:
            pieces.append(text[pos:a])
            pos = b
    rest = ", ".join(pieces) + ", " + text[pos:]
    return rest if rest.strip(" ,") else text


def _before_word(m: re.Match[str]) -> str:
    """A match of :data:`_FRAME_TAKE` or :data:`_AUX_WILL` without the word it ends with (group 1)."""
    return m.group(0)[: m.start(1) - m.start()]


def without_auxiliary(query: str) -> str:
    """``query`` without the "will" or "shall" that only makes it a question or future
    (:data:`_AUX_WILL`): "how long will the refund take?" is about the refund."""
    return _AUX_WILL.sub(_before_word, query)


# a Chinese yes-or-no question asked as "A 不 A" ("能不能寄打火机", "可不可以退货", "会不会停电"): the 不
# asks, it negates nothing. Read as a negation, "能不能寄打火机" was refused, no passage saying 寄
# negated beside 打火机 (QA 2026-12-07)
_A_NOT_A_ZH = re.compile(r"可不可以|([能会要是有行可])[不没]\1(?=[^\W\d_])")


def _asked_affirmatively(match: re.Match[str]) -> str:
    word = "可以" if match.group(0) == "可不可以" else match.group(1)
    return word.ljust(len(match.group(0)))  # one character for one


# "come with" asks what something includes: "come" is no topic. "how much data does it come with?"
# after "How much is the Medium SIM-only plan?" was told "Our SIM-only plans come on a 12-month
# contract", by "come", where "does it include?" was told the Medium plan's data (QA 2026-12-07)
# (of a thing named by a pronoun or asked for: "Can I come with my dog?", "Can my wife come with
# me?" ask to go along)
_COMES_WITH = re.compile(r"(?i)\b(it|they|this|that|these|those|what|which)\s+(?:come|comes|came)\s+with\b")


def query_topic(query: str) -> str:
    """``query`` without the words that say what kind of answer it wants, or that it is a request
    (:func:`without_request`): what to search by (in the script it is written in). A Chinese "A 不 A"
    question is asked as A (:data:`_A_NOT_A_ZH`); "come with" asks what is included (:data:`_COMES_WITH`)."""
    query = _COMES_WITH.sub(r"\1 include", query)
    query = _A_NOT_A_ZH.sub(_asked_affirmatively, query)
    query = _FRAME_TAKE.sub(_before_word, without_request(query))
    query = without_auxiliary(query)
    return _without_kind_words_zh(_without_content_frame_zh(_ANSWER_KIND.sub("how", query)))


# a question that asks what a text says ("第十二条是什么内容？", "第十五条讲什么", "合同规定了什么"):
# the words ask for its content, and no passage says 内容 of itself. "第十二条是什么内容？" was
# refused, a top passage holding every term but 内容, where "第十二条" alone was answered
_CONTENT_FRAME_ZH = re.compile(
    r"(?:是|有)(?:些)?什么(?:内容|规定)|(?:的|主要)?内容(?:是|有)(?:些)?什么|(?:讲|说|写|规定)(?:了|的)?(?:是)?(?:些)?(?:什么|啥)"
)


def _without_content_frame_zh(query: str) -> str:
    folded = to_simplified(query)  # one character for one
    spans = [m.span() for m in _CONTENT_FRAME_ZH.finditer(folded)]
    if not spans or sum(b - a for a, b in spans) >= len(folded.strip()):
        return query
    out, pos = [], 0
    for a, b in spans:
        out.append(query[pos:a] + " ")
        pos = b
    return "".join(out) + query[pos:]


def _without_kind_words_zh(query: str) -> str:
    """``query`` without its Chinese words that say what kind of answer it wants ("多久", "多少",
    "哪一年", "几名"), as "long" leaves "how long": a passage that answers says "5 至 7 个工作日",
    not 多久, and "多少" matched the few that ask it back. Found among jieba's words, not as
    strings: "很多长期合同" holds 多长, and no question."""
    folded = to_simplified(query)
    if not _ANSWER_KIND_ZH.search(folded):
        return query
    out: list[str] = []
    pos = 0
    for word in _get_jieba().lcut(folded):  # every character, in order; one for one with query
        out.append(" " if _ANSWER_KIND_ZH.fullmatch(word) else query[pos : pos + len(word)])
        pos += len(word)
    return "".join(out) + query[pos:]


def phrase_terms(
    text: str, *, fold: bool = True, nums: bool = True, words: bool = True, us: bool = True
) -> list[str]:
    """Adjacent term pairs within a clause, as ``"a\x1fb"`` (after the analyzer has dropped stop
    words, so "signal strength information" yields ``signal+strength``, ``strength+inform``).
    Indexed beside :func:`tokenize`'s terms, they reward passages that keep the query's words
    together (the ordered-window feature of Metzler and Croft's sequential dependence model):
    a manual section *about* "signal information" beats one that mentions "signal" and
    "information" in different paragraphs.

    A negation adds the pairs it stands in (:data:`NEGATION`): "the warranty does not cover" gives
    ``warranti+cover`` as "the warranty covers" does, and ``warranti+¬``, ``¬+cover`` besides, which
    "What does the warranty not cover?" shares with it alone. The pairs of the words around it stay,
    so a text without negations is analysed as before, and a question that puts its negation
    elsewhere than the answer does ("Why doesn't the TV turn on?", "the TV doesn't turn on")
    still matches it as well as before. ``fold``, ``nums``, ``words``, ``us``: as :func:`tokenize`'s."""
    if not text:
        return []
    out: list[str] = []
    for clause in _CLAUSE.split(_normalized(text, fold, nums, us)):
        terms = _analyse(clause, negations=False, fold=fold, nums=nums, words=words, us=us)
        out.extend(f"{a}{PHRASE_SEP}{b}" for a, b in zip(terms, terms[1:], strict=False))
        if _MAY_NEGATE.search(clause):
            marked = _analyse(clause, negations=True, fold=fold, nums=nums, words=words, us=us)
            out.extend(f"{a}{PHRASE_SEP}{b}" for a, b in zip(marked, marked[1:], strict=False) if NEGATION in (a, b))
    return out


# Each Chinese character is also a keyword feature of its own (:func:`char_terms`), beside jieba's
# words: a customer's wording is cut otherwise than the page's ("要交年费吗" is one unknown word to
# jieba, 交年费; "能刷" and "张卡" too), and a one-character word ("退" in "什么商品不能退") never
# matches the longer words a page writes (退货, 退款). Characters that only build the sentence add
# nothing and are left out.
CHAR_MARK = "\x1e"  # begins every character feature; never part of a term or a phrase
# the characters of the stop words (的, 吗, 怎 and 么 of 怎么...), less 一, a numeral (一年, 一次), and
# 办 and 样 of 怎么办 and 怎样, which say what a word is about (办卡, 样品)
_FUNCTION_CHARS = frozenset("".join(ZH_STOPWORDS)) - {"一", "办", "样"}
_FUNCTION_STRIP = "".join(sorted(_FUNCTION_CHARS))  # as str.strip takes them


def content_part(term: str) -> str:
    """A Chinese ``term`` without the characters at its ends that only build a sentence (an
    auxiliary jieba cut into the word: "会收" -> 收, "最多能" -> 最多, "能用" -> 用); any other term,
    or one that would be left empty, as it is."""
    if not term or not (is_cjk_char(term[0]) or is_cjk_char(term[-1])):
        return term
    return term.strip(_FUNCTION_STRIP) or term


def char_terms(text: str, *, fold: bool = True, nums: bool = True) -> list[str]:
    """The Chinese (and Japanese kana) characters of ``text`` as keyword features, in order, each
    prefixed with :data:`CHAR_MARK`; characters that only build a sentence (的, 吗, 怎, 么...) are
    left out. ``fold``, ``nums``: as :func:`tokenize`'s (Traditional read as Simplified; numerals
    that count something as digits)."""
    if not text:
        return []
    return [
        CHAR_MARK + ch
        for m in _CJK_RUN.finditer(_normalized(text, fold, nums))
        for ch in m.group(0)
        if ch not in _FUNCTION_CHARS
    ]


# --- sentence splitting ---------------------------------------------------------------------------

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie inc ltd co corp no nos fig figs approx
    dept est jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    u.s u.k a.m p.m ca cf al vol pp ed eds op gov min max avg ref refs tel ext""".split()
)

# the closing quotes and brackets that may follow a sentence's end ("...有多大？\"")
CLOSERS = "\"'”’」』）)]"
# a run of terminators plus closing quotes/brackets
_TERM = re.compile(rf"[.!?;。！？；…]+[{re.escape(CLOSERS)}]*")


# a numbered list item's mark at the start of a line, after a bullet or not ("3", "- 12", "(4")
_LIST_NUMBER = re.compile(r"\s*(?:[-*•·▪●]\s+)?\(?\d{1,3}")


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    punct = m.group(0).rstrip(CLOSERS)
    end = m.end()
    nxt = text[end] if end < len(text) else ""
    prev = text[m.start() - 1] if m.start() > 0 else ""
    if any(c in "。！？；" for c in punct):
        return True  # Chinese terminators end a sentence wherever they are
    prev_cjk = bool(prev) and is_cjk_char(prev)
    next_cjk = bool(nxt) and is_cjk_char(nxt)
    if punct.endswith(";") and not (prev_cjk or next_cjk):
        # an English semicolon does not end a sentence, nor does the mark before it: a list read as
        # one sentence joins an item that ends "click Forgot password?" to the next with "; "
        return False
    if nxt and not nxt.isspace() and not next_cjk:
        return False  # "3.5", "e.g.x", "example.com", "?!" inside a token
    if prev_cjk:
        return True  # "退货。" after NFKC: "退货!" / "退货?" / "退货;"
    if punct.startswith(".") and len(punct) == 1:
        start = m.start()
        if _LIST_NUMBER.fullmatch(text, 0, start):
            return False  # "1. Sign in ...", "- 2. Select ...": a numbered item's mark, not a sentence
        # the word before the dot: abbreviation or initial?
        i = start
        while i > 0 and not text[i - 1].isspace():
            i -= 1
        word = text[i:start].lower().lstrip("(\"'“‘[")
        if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            return False
        if "." in word and all(len(p) <= 2 and p.isalpha() for p in word.split(".")):  # "U.S", "e.g"
            return False  # (not "4.95": a price or a decimal number ends its sentence like any word)
    # next non-space char lowercase -> probably not a sentence end ("approx. five"; a label that a
    # mark ends: "click Forgot password? and follow the link", "press Done! and wait")
    j = end
    while j < len(text) and text[j] in " \t":
        j += 1
    return not (j < len(text) and text[j].islower())


# words by which a sentence leans on the one before it: it says nothing alone ("It", "However", "但是")
_LEANS = re.compile(
    r"^(?:(?:it|its|this|that|these|those|they|their|them|he|she|his|her|such|however|but|also|and|or|"
    r"so|therefore|thus|hence|otherwise|elsewhere|then|instead|still|yet|likewise|similarly|furthermore|moreover|"
    r"additionally|in\s+addition|as\s+a\s+result|for\s+this\s+reason|for\s+example)\b"
    r"|(?:但是?|然而|不过|而且?|并且|此外|另外|同时|因此|所以|因而|于是|这|那|该|其(?!他|它)|它|他们|她们|此|也|还|则"
    r"|即))",
    re.IGNORECASE,
)


def leans_on_previous(sentence: str) -> bool:
    """Whether ``sentence`` opens by pointing back at the one before it ("It takes 5 days.",
    "However, ...", "但是在这些传统学科的基础上, ...")."""
    return bool(_LEANS.match(sentence.lstrip(" \"'“‘(（" + CONTINUES)))


def split_sentences(text: str) -> list[str]:
    """Split into sentences: English ``. ! ?`` (abbreviations, initials, decimals and URLs kept
    together), Chinese ``。！？；`` (and their half-width forms after a Chinese character), and line
    breaks. Returns stripped, non-empty sentences with their terminators attached."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        start = 0
        for m in _TERM.finditer(line):
            if m.start() == 0 and line.startswith(CONTINUES) and m.end() == len(CONTINUES):
                continue  # a chunk's mark that it starts inside a sentence stays with that sentence
            if _is_boundary(line, m):
                piece = line[start : m.end()].strip()
                if piece:
                    out.append(piece)
                start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return out
