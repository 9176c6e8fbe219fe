"""Citation markers and the citation check.

One regular expression (:data:`CITATION_RE`) parses ``[n]`` markers, including ``[1, 2]``,
``[1,2]``, ``[1][2]``, full-width ``［1］`` / ``【1】``, ranges ``[1-3]`` and the forms models write
besides (``[^1]``, ``[source 1]``, ``[来源1]``). :func:`check_answer` splits an answer
into sentences (English and Chinese), scores each sentence against the passages it cites with a
support scorer, drops (or marks) unsupported sentences, removes citations to passages that were
never retrieved, and renumbers the remaining citations 1..m in order of first use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexes.text import detect_lang, is_cjk_lang, split_sentences, without_controls, wording
from rag.support import contradiction

# one cited passage as models write it: "2", "^2" (a footnote), "source 2", "passage 2", "来源2",
# or a range "1-3"
_REF = r"(?:\^|(?:source|passage|doc(?:ument)?|ref(?:erence)?|来源|段落|文档)\s*)?\d{1,4}(?:\s*[-–~]\s*\d{1,4})?"
_MARKS = rf"[\[［【]\s*{_REF}(?:\s*[,，、;]\s*{_REF})*\s*[\]］】]"
CITATION_RE = re.compile(rf"\s*[\[［【]\s*({_REF}(?:\s*[,，、;]\s*{_REF})*)\s*[\]］】]", re.I)
_LEADING_MARKS = re.compile(rf"^(?:\s*{_MARKS})+", re.I)
_NUM = re.compile(r"\d+")
_LONGEST_RANGE = 10  # "[1-3]" cites three passages; "[1-2024]" is no range of passages


def parse_markers(text: str) -> list[int]:
    """The cited numbers in order of appearance (``[1, 2][3]`` -> [1, 2, 3], ``[1-3]`` -> [1, 2, 3],
    ``[source 4]`` -> [4])."""
    out: list[int] = []
    for m in CITATION_RE.finditer(text):
        for part in re.split(r"\s*[,，、;]\s*", m.group(1)):
            nums = [int(n) for n in _NUM.findall(part)]
            if len(nums) == 2 and nums[0] <= nums[1] < nums[0] + _LONGEST_RANGE:
                out.extend(range(nums[0], nums[1] + 1))
            else:
                out.extend(nums)
    return out


# a marker in brackets of its own, "（见[1]）", "(see [2])": the brackets go with it ("…铜管（见），…")
_BRACKETED = re.compile(rf"\s*[（(]\s*(?:见|参见|详见|来源|see|cf\.?|source)?\s*[:：]?\s*(?:{_MARKS}\s*)+[）)]", re.I)


def strip_markers(text: str) -> str:
    return CITATION_RE.sub("", _BRACKETED.sub("", text)).strip()


def _attach_markers(sentences: list[str]) -> list[str]:
    """A marker split off at the start of the next sentence (``... done. [1] Next``) belongs to the
    sentence before it."""
    out: list[str] = []
    for s in sentences:
        m = _LEADING_MARKS.match(s)
        if m and out:
            out[-1] = out[-1] + m.group(0).strip()
            s = s[m.end() :].strip()
        if s:
            out.append(s)
    return out


# a marker written right after a sentence's final mark, before the next sentence ("…per order.[1]
# Orders over…"): no sentence boundary was seen there, and four sentences were checked as one
_GLUED = re.compile(rf"(?<=\w)([.!?。！？]+)((?:{_MARKS})+)(?=\s*\S)", re.I)
# a clause that a "；" ends, with no marker of its own: the marker at its sentence's end is its too
_CLAUSE_END = re.compile(r"[；;]$")


def _with_clauses(sentences: list[str]) -> list[str]:
    """``sentences`` with each that a "；" or ";" ends, citing nothing, joined to the next: a model's
    "冰箱和洗衣机整机保修3年；小家电整机保修1年[1]。" lost its first clause, the answer asked for, as
    unsupported (Chinese text is split at "；")."""
    out: list[str] = []
    for s in sentences:
        if out and _CLAUSE_END.search(out[-1]) and not CITATION_RE.search(out[-1]):
            out[-1] = out[-1] + ("" if out[-1].endswith("；") else " ") + s
        else:
            out.append(s)
    return out


def split_answer(text: str) -> list[str]:
    """Answer sentences with their markers kept on them."""
    text = _GLUED.sub(lambda m: f"{m.group(2)}{m.group(1)} ", text)
    sentences: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[-*•]|\s*\d+[.)])", text):
        para = para.strip()
        if para:
            sentences.extend(s.strip() for s in split_sentences(para) if s.strip())
    return _with_clauses(_attach_markers(sentences))


@dataclass(frozen=True)
class CheckedSentence:
    text: str  # without markers
    cited: tuple[int, ...]  # original passage numbers (valid ones only)
    support: float
    supported: bool


@dataclass(frozen=True)
class CheckResult:
    text: str  # the checked answer, renumbered
    used: tuple[int, ...]  # original passage numbers in their new order: used[i] is new number i+1
    sentences: tuple[CheckedSentence, ...]
    dropped: tuple[str, ...]  # unsupported sentences (without markers)
    bogus: tuple[int, ...]  # cited numbers that match no retrieved passage
    support: float  # mean support of the kept sentences (0 when none)
    extra: dict[str, Any] = field(default_factory=dict)


_TERMINAL = re.compile(r"([.!?。！？；;]+)$")
_LETTER = re.compile(r"[^\W\d_]")  # a letter of any script (Latin, CJK, ...)


def sentence_lang(body: str, default: str | None) -> str | None:
    """The language a sentence is written in (:func:`~indexes.text.detect_lang`), or ``default``
    for one without letters (a table's numbers), which is in no language of its own."""
    return detect_lang(body) if _LETTER.search(body) else default


def render_sentence(body: str, nums: Sequence[int], lang: str) -> str:
    """``body`` with its ``[n]`` markers, put before the final punctuation mark, or at the end
    when there is none: right after a Chinese sentence ("承担[1]。"), after a space in any other
    ("a refund [1]."). A sentence is set in its own language, whatever the question's: an English
    passage quoted to a Chinese question keeps its spacing; ``lang`` (the answer's) sets a
    sentence without letters."""
    body = body.rstrip()
    if not nums:
        return body
    marks = "".join(f"[{n}]" for n in nums)
    gap = "" if sentence_lang(body, lang) == "zh" else " "
    m = _TERMINAL.search(body)
    if m:
        start = m.start()
        if len(m.group(1)) > 1 and m.group(1)[-1] in ".。" and m.group(1)[:-1].strip(".。"):
            # "click Forgot password?." (a button's label, then the full stop): the "?" is the
            # label's, and the marker goes before the full stop alone, not "password [1]?."
            start = len(body) - 1
        return f"{body[:start]}{gap}{marks}{body[start:]}"
    return f"{body}{gap}{marks}"


def mark_sentences(text: str, nums: Sequence[int], lang: str) -> str:
    """``text`` as written, its line breaks and paragraphs kept, with ``nums`` as markers on every
    sentence (:func:`render_sentence`): a quoted FAQ answer names its source on each sentence, as
    a composed answer does, so that each is checked against it (one marker at the end left the
    sentences before it uncited: "境外消费双倍积分；" of "刷卡怎么算积分？")."""
    out: list[str] = []
    pos = 0
    for sent in split_sentences(text):
        at = text.find(sent, pos)
        if at < 0:  # not as written (never seen): the whole cited once, at the end
            return render_sentence(text.strip(), nums, lang)
        out += [text[pos:at], render_sentence(sent, nums, lang)]
        pos = at + len(sent)
    out.append(text[pos:])
    return "".join(out).strip()


def join_sentences(parts: Sequence[str], lang: str) -> str:
    """Rendered sentences as one answer: nothing after a Chinese sentence, a space after any
    other (each in its own language, as :func:`render_sentence` sets it), and a line break after
    a sentence without terminal punctuation (a table row, a heading), so that it and the next one
    stay two sentences for whoever reads or re-checks it."""
    out = []
    for part in parts:
        body = strip_markers(part).rstrip()
        sep = "" if sentence_lang(body, lang) == "zh" else " "
        out.append(part + (sep if _TERMINAL.search(body) else "\n"))
    return "".join(out).strip()


def check_answer(answer: str, passages: Sequence[str], scorer: Any, **options: Any) -> CheckResult:
    """Verify every sentence of ``answer`` against the passages (1-based) it cites; ``options``
    are :class:`AnswerChecker`'s (threshold, mode, require_citation, lang)."""
    checker = AnswerChecker(passages, scorer, **options)
    for sent in split_answer(answer):
        checker.add(sent)
    return checker.result()


# how much a cited passage must add to a sentence's support to keep its citation when it does not
# support the sentence on its own (the default scorer: 0.07 for a second claim from a second
# passage, nothing for a passage that repeats the first)
CITE_GAIN = 0.03


class AnswerChecker:
    """:func:`check_answer` one sentence at a time, for an answer an LLM streams: :meth:`add`
    checks a sentence as soon as it is complete and returns the text it adds to the checked
    answer ("" when it is dropped), so that only checked text is ever sent on. Citations are
    renumbered in order of first use among the kept sentences, which a later sentence cannot
    change: the pieces :meth:`add` returns, joined, are :meth:`result`'s text.

    ``mode="drop"`` removes unsupported sentences; ``mode="mark"`` keeps them with a trailing
    ``[unsupported]``. A sentence that cites nothing is scored against all passages when
    ``require_citation`` is False, and counts as unsupported otherwise. Citations to numbers
    outside 1..len(passages) are removed (``bogus``). ``answer_lang``: the language a model was
    told to answer in; a sentence in another script is unsupported (a model answered an English
    question in Chinese from a Chinese passage, and it passed). Quoted passages (the extractive
    composer) keep their own language, and are checked without it."""

    def __init__(
        self,
        passages: Sequence[str],
        scorer: Any,
        *,
        threshold: float = 0.5,
        mode: str = "drop",
        require_citation: bool = True,
        lang: str = "en",
        answer_lang: str | None = None,
    ) -> None:
        self.passages = list(passages)
        self.answer_lang = answer_lang
        self.scorer = scorer
        self.threshold = threshold
        self.mode = mode
        self.require_citation = require_citation
        self.lang = lang
        self.checked: list[CheckedSentence] = []
        self.bogus: list[int] = []
        self.used: list[int] = []
        self.parts: list[str] = []  # the rendered sentences of the checked answer
        self._said: set[str] = set()  # the wording of each sentence kept

    def _check(self, sent: str) -> CheckedSentence | None:
        # a model's control characters (an escape sequence for a terminal, a NUL for a client) out
        sent = without_controls(sent)
        nums = parse_markers(sent)
        body = strip_markers(sent)
        if not re.search(r"\w", body):
            return None
        n_pass = len(self.passages)
        valid = tuple(dict.fromkeys(n for n in nums if 1 <= n <= n_pass))
        self.bogus.extend(n for n in nums if not 1 <= n <= n_pass)
        if valid:
            support = float(self.scorer.score(body, [self.passages[n - 1] for n in valid]))
            if len(valid) > 1:
                valid = self._needed(body, valid, support)
            read = [self.passages[n - 1] for n in valid]
        elif not self.require_citation and self.passages:
            support = float(self.scorer.score(body, self.passages))
            read = self.passages
        else:
            support, read = 0.0, []
        # a changed number or a dropped "not" keeps nearly every word of the passage, and every
        # scorer's support with it: "Gift cards can be returned [1]" of "cannot be returned" 0.97
        supported = support >= self.threshold and contradiction(body, read) is None
        if supported and self.answer_lang is not None:
            written = sentence_lang(body, self.answer_lang) or self.answer_lang
            supported = is_cjk_lang(written) == is_cjk_lang(self.answer_lang)
        return CheckedSentence(body, valid, support, supported)

    def _needed(self, body: str, cited: tuple[int, ...], together: float) -> tuple[int, ...]:
        """Of the passages a sentence cites, those it needs: each that supports it on its own,
        and each without which its support falls by CITE_GAIN (a sentence of two claims, one from
        each passage: "express takes 1-2 days [1] and refunds take 5 days [2]" kept only [1], which
        supports the sentence on its own score). All of them when none is needed on that count."""
        def alone(n: int) -> float:
            return float(self.scorer.score(body, [self.passages[n - 1]]))

        def without(n: int) -> float:
            return float(self.scorer.score(body, [self.passages[m - 1] for m in cited if m != n]))

        needed = tuple(n for n in cited if alone(n) >= self.threshold or together - without(n) >= CITE_GAIN)
        return needed or cited

    def add(self, sent: str) -> str:
        """Check one sentence (its markers on it); the text it adds to the checked answer."""
        cs = self._check(sent)
        if cs is None:
            return ""
        said = wording(cs.text)
        if cs.supported and said in self._said:
            # said already: a small model caught in a loop wrote one supported sentence 51 times,
            # and the answer repeated it 51 times
            return ""
        self.checked.append(cs)
        if cs.supported:
            self._said.add(said)
            for n in cs.cited:
                if n not in self.used:
                    self.used.append(n)
            part = render_sentence(cs.text, [self.used.index(n) + 1 for n in cs.cited], self.lang)
        elif self.mode == "mark":
            part = render_sentence(cs.text, [], self.lang) + " [unsupported]"
        else:
            return ""
        before = join_sentences(self.parts, self.lang)
        self.parts.append(part)
        return join_sentences(self.parts, self.lang)[len(before):]

    def result(self) -> CheckResult:
        kept = [cs.support for cs in self.checked if cs.supported]
        return CheckResult(
            text=join_sentences(self.parts, self.lang),
            used=tuple(self.used),
            sentences=tuple(self.checked),
            dropped=tuple(cs.text for cs in self.checked if not cs.supported),
            bogus=tuple(dict.fromkeys(self.bogus)),
            support=sum(kept) / len(kept) if kept else 0.0,
        )


# the end of a cited sentence, its marker before its final mark ("… [1].", "…[1]。"); after the mark
# ("…. [1]"), more markers may still come ("[1][2]")
_CITED_END = re.compile(rf"(?:{_MARKS})\s*[.!?。！？]+\s*$", re.I)


class SentenceStream:
    """The sentences of a text that arrives in pieces (an LLM's stream), each given out once it
    is complete: when the next one has begun with a letter of its own, so that a marker sent after
    the full stop (``... done. [1] Next``) stays with its sentence (:func:`split_answer`)."""

    def __init__(self) -> None:
        self._buf = ""

    def push(self, piece: str) -> list[str]:
        self._buf += piece
        sents = split_answer(self._buf)
        if sents and _CITED_END.search(self._buf) and _LETTER.search(strip_markers(sents[-1])):
            # the last sentence is cited and ended ("… [1]."): no marker is still to come
            # for it, and it goes out now. Held until the next sentence was whole, an answer
            # streamed a sentence behind the model (the backends give whole sentences already),
            # and one of two sentences went out only with the second (QA 2026-12-07: 4.3 s late)
            self._buf = ""
            return sents
        if len(sents) < 2 or not _LETTER.search(strip_markers(sents[-1])):  # not "[1", a marker half sent
            return []
        last = sents[-1]
        tail = self._buf.rstrip()
        if not tail.endswith(last):
            return []  # the splitter changed the text: wait for the end, when all of it is split
        self._buf = self._buf[len(tail) - len(last) :]  # the sentence begun, and what follows it
        return sents[:-1]

    def flush(self) -> list[str]:
        sents, self._buf = split_answer(self._buf), ""
        return sents

    def of(self, pieces: Iterable[str]) -> Iterator[list[str]]:
        """The sentences completed by each of ``pieces`` (:meth:`push`), then the rest (:meth:`flush`)."""
        for piece in pieces:
            yield self.push(piece)
        yield self.flush()
