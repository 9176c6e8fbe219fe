"""Values that describe what is stored in a knowledge base. Frozen: safe to share and cache."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kb.errors import InputError

_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
# language names people write instead of a code, in English and Chinese
_LANG_NAMES = {
    "english": "en", "chinese": "zh", "mandarin": "zh", "japanese": "ja", "korean": "ko",
    "英文": "en", "英语": "en", "中文": "zh", "汉语": "zh", "简体中文": "zh", "繁體中文": "zh", "繁体中文": "zh", "日文": "ja", "日语": "ja", "韩文": "ko", "韩语": "ko",
}  # fmt: skip


# the two-letter codes of ISO 639-1, which documents and chunks store
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig
ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh
mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru
rw sa sc sd se sg sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty
ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())


def lang_code(value: str) -> str:
    """The language ``value`` names, as documents and chunks store it: the primary subtag of a
    language tag, in lower case ("zh-CN", "ZH_cn" -> "zh"), a three-letter code as the two-letter
    one of its language where there is one ("eng" -> "en", "zho" -> "zh"), or the code of a
    language name ("English" -> "en", "中文" -> "zh"). ValueError, saying what to write, for
    anything else ("klingon", "xx"): a filter on it would match nothing and look like a knowledge
    base without the answer."""
    text = value.strip()
    named = _LANG_NAMES.get(text.lower())
    if named:
        return named
    code = re.split(r"[-_]", text, maxsplit=1)[0].lower() if _LANG_TAG.fullmatch(text) else ""
    if len(code) == 3:
        code = _iso_639_3(code)
    if len(code) == 2 and code not in ISO_639_1:
        code = ""
    if not code:
        shown = value if len(value) <= 24 else value[:21] + "..."  # one short line, whatever was given
        raise ValueError(f"{shown!r} is not a language code; write an ISO 639-1 code such as en or zh")
    return code


def _iso_639_3(code: str) -> str:
    """A three-letter code (ISO 639-2 or 639-3) as the two-letter code of its language, or as
    itself for a language without one ("yue", "fil"); "" for a code of no language. (python-iso639,
    which the document parsers install, is imported here only: it takes 0.3 s to load.)"""
    try:
        import iso639
    except ImportError:  # pragma: no cover - installed with the document parsers (unstructured)
        return code
    try:
        found = iso639.Language.match(code)
    except iso639.LanguageNotFoundError:
        return ""
    return str(found.part1 or code)


def sha256_hex(data: bytes | str, n: int = 32) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:n]


def in_force(valid_from: Any, valid_to: Any, day: date) -> bool:
    """Whether validity dates (ISO dates or date-times, inclusive; None or "": no bound) hold
    ``day``: a document's (:meth:`Document.valid_on`) and its chunks' (:meth:`Filters.allows`)."""
    at, start, end = day.isoformat(), str(valid_from or "")[:10], str(valid_to or "")[:10]
    return not (start and at < start) and not (end and at > end)


@dataclass(frozen=True)
class Document:
    """One ingested file (or one FAQ table). ``id`` = hash of its normalized bytes."""

    id: str
    source: str  # path relative to the ingest root, '/'-separated, e.g. "policies/returns.pdf"
    title: str
    lang: str  # "en", "zh", ... (detected per document unless metadata says)
    kind: str = "document"  # "document" | "faq"
    metadata: Mapping[str, Any] = field(default_factory=dict)  # tags, groups, valid_from, valid_to, ...

    @property
    def groups(self) -> tuple[str, ...]:
        """The access groups that may retrieve the document (empty: everyone)."""
        return tuple(str(g) for g in (self.metadata or {}).get("groups") or ())

    def readable_by(self, groups: Sequence[str] | None) -> bool:
        """Whether a reader of the access groups ``groups`` (None: every group) retrieves it: a
        public document, or one of theirs."""
        return groups is None or not self.groups or bool(set(self.groups) & set(groups))

    def valid_on(self, day: date) -> bool:
        """Whether the document is in force on ``day`` (its validity dates, inclusive; without
        them, always), as retrieval reads its chunks' (:meth:`Filters.allows`)."""
        meta = self.metadata or {}
        return in_force(meta.get("valid_from"), meta.get("valid_to"), day)


# The first characters of a chunk that starts in the middle of a sentence (the chunker split a
# sentence longer than its budget): shown as the cut it is, never quoted as a sentence of its own,
# and left out of what is embedded and indexed.
CONTINUES = "\u2026"


def faq_entry_id(question: str, answer: str) -> str:
    """The id of an FAQ entry whose sheet has no id column: made from its question and answer, so
    that it is the same on every ingest of the same entry (a second entry with the same text gets
    "-2", and so on)."""
    return sha256_hex(f"{question}\n{answer}", 12)


# the longest question an FAQ entry's locator shows (:meth:`Chunk.faq_label`)
FAQ_LABEL_QUESTION = 60


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit. ``id`` = hash of (document id, position, text).

    ``source_id`` is what retrieval is scored against: the document's source path, or
    ``"<source>#<faq_id>"`` for one FAQ entry (e.g. ``faq.csv#0042``).
    """

    id: str
    doc_id: str
    source: str
    position: int
    text: str  # the passage as shown and cited (an FAQ chunk: "Q: ...\nA: ...")
    title: str = ""
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    faq_id: str | None = None
    question: str | None = None  # FAQ chunks: the curated question
    answer: str | None = None  # FAQ chunks: the curated answer, verbatim
    lang: str = "en"
    kind: str = "text"  # "text" | "table" | "faq"
    groups: tuple[str, ...] = ()  # access groups; empty = everyone
    tags: tuple[str, ...] = ()
    valid_from: str | None = None  # ISO date, inclusive
    valid_to: str | None = None  # ISO date, inclusive
    n_tokens: int = 0

    @property
    def source_id(self) -> str:
        return f"{self.source}#{self.faq_id}" if self.faq_id is not None else self.source

    @property
    def locator(self) -> str:
        """Human-readable place inside the source: page, heading path or FAQ entry
        (:meth:`faq_label`)."""
        parts: list[str] = []
        if self.faq_id is not None:
            parts.append(self.faq_label())
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading_path:
            parts.append(" > ".join(self.heading_path))
        return ", ".join(parts)

    def faq_label(self) -> str:
        """An FAQ entry as an agent finds it in its sheet: by its question, after the sheet's own
        id where it has an id column ("FAQ #4: How do I reset my password?", "FAQ S16: ..."). The
        id made from an entry's text where it has none (:func:`faq_entry_id`), "FAQ e9339c0d4c24",
        named nothing an agent could look up, and a count of the entries would not match the
        sheet's rows (a row without an answer is skipped, and sheets of a workbook run on): such
        an entry is named by its question alone, "FAQ: How do I reset my password?". The question
        is cut to :data:`FAQ_LABEL_QUESTION` characters. Only what is shown, and made when read (a
        knowledge base built before shows it too): ``faq_id`` and ``source_id`` stay the keys of
        deletes, updates and the eval's gold ids."""
        faq_id = self.faq_id or ""
        made = faq_id.partition("-")[0] == faq_entry_id(self.question or "", self.answer or "")
        label = "FAQ" if made else f"FAQ #{faq_id}" if faq_id.isdigit() else f"FAQ {faq_id}"
        question = " ".join((self.question or "").split())
        if len(question) > FAQ_LABEL_QUESTION:
            cut = question[: FAQ_LABEL_QUESTION - 1]
            space = cut.rfind(" ")
            question = (cut[:space] if space > FAQ_LABEL_QUESTION // 2 else cut).rstrip(" ,;:") + "\u2026"
        return f"{label}: {question}" if question else label

    def embed_text(self) -> str:
        """Text given to the embedder and the keyword index for the passage vector:
        the title and heading path are prepended (small chunks lose without them); the
        :data:`CONTINUES` mark is not (what is embedded is what the text says)."""
        head = [self.title] if self.title else []
        head += [h for h in self.heading_path if h and h != self.title]
        prefix = " > ".join(head)
        text = self.text.removeprefix(CONTINUES)
        return f"{prefix}\n{text}" if prefix else text


def span_locator(chunks: Sequence[Chunk]) -> str:
    """The place of a passage made of adjacent ``chunks`` (in order): the one locator they share,
    else the pages from first to last and every section it holds under the headings they share
    ("Policy > Refunds; Exchanges", "p. 3-4, Manual > Setup"). A passage that a search found by
    its second section and merged with the one before was shown with that section's name alone,
    above text that opens with the other ("## Refunds ..." named "Exchanges")."""
    locators = list(dict.fromkeys(c.locator for c in chunks))
    if len(locators) <= 1:
        return locators[0] if locators else ""
    first = chunks[0]
    parts: list[str] = []
    if first.faq_id is not None:
        parts.append(first.faq_label())
    pages = [c.page for c in chunks if c.page is not None]
    if pages:
        lo, hi = min(pages), max(pages)
        parts.append(f"p. {lo}" if lo == hi else f"pp. {lo}-{hi}")
    paths = [c.heading_path for c in chunks]
    shared: list[str] = []
    for level in zip(*paths, strict=False):
        if any(h != level[0] for h in level):
            break
        shared.append(level[0])
    sections = list(dict.fromkeys(" > ".join(p[len(shared):]) for p in paths if len(p) > len(shared)))
    if shared or sections:
        parts.append(" > ".join([*shared, "; ".join(sections)] if sections else shared))
    return ", ".join(parts)


def quoted_names(names: Sequence[str], sep: str = ", ", shown: int = 3, width: int = 40) -> str:
    """``names`` as an error message quotes them: the first ``shown``, each cut to ``width``
    characters, then "and N more". A message that repeated what the caller sent, whole, grew
    with it: 100 tags of 5,000 characters made a 500 KB error."""
    names = list(dict.fromkeys(names))
    said = [_quoted(n if len(n) <= width else n[: width - 3] + "...") for n in names[:shown]]
    rest = len(names) - len(said)
    return sep.join(said) + (f" and {rest} more" if rest > 0 else "")


def _quoted(name: str) -> str:
    """``name`` in quotes, its backslashes as written: a source id holds a newline of its file's
    name as ``\\x0a``, and repr() suggested 'new\\\\x0aline.md', which `kb delete` does not find."""
    return f"'{name}'" if name.isprintable() and "'" not in name else repr(name)


def did_you_mean(names: Iterable[str], known: Iterable[str]) -> str:
    """" (did you mean 'a' or 'b'?)" for the known names closest to ``names`` (two a name at
    most), or "" when none is close: the suggestion a misspelt tag or source filter gets, and a
    ``kb delete`` of a name the knowledge base does not hold. A known path is compared by its
    end too (its file's name, its last folder and name): ``returns-polcy.pdf`` got no suggestion
    where the knowledge base held ``docs/policies/returns-policy.pdf``, the folders diluting the
    likeness of the whole id below the cutoff. Two names written wholly in Chinese characters
    need less likeness (:data:`_NEAR_HAN`)."""
    pool = list(dict.fromkeys(known))
    ends = {k: _path_ends(k) for k in pool}
    near: set[str] = set()
    for n in names:
        matcher = difflib.SequenceMatcher()
        matcher.set_seq2(n)
        han = bool(_HAN_WORD.fullmatch(n))
        scored = []
        for k in pool:
            best = 0.0
            for end in ends[k]:
                cutoff = _NEAR_HAN if han and _HAN_WORD.fullmatch(end) else _NEAR
                matcher.set_seq1(end)
                if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
                    ratio = matcher.ratio()
                    if ratio >= cutoff:
                        best = max(best, ratio)
            if best:
                scored.append((best, k))
        near.update(k for _, k in sorted(scored, reverse=True)[:2])  # ties: as difflib breaks them
    return f" (did you mean {quoted_names(sorted(near), ' or ')}?)" if near else ""


_NEAR = 0.75  # difflib's likeness a suggestion needs
# A Chinese character is a word's syllable and much of its meaning, not a letter: the tag
# '退款' (refund) got no suggestion of '退费' (fee refund), nor '学废' (a typo) of '学费' (tuition),
# one character of two in common being a likeness of 0.5. Latin names keep 0.75: one letter
# of two in common says nothing ('tv' is not 'to').
_NEAR_HAN = 0.5
_HAN_WORD = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")  # kana are letters: not here


def _path_ends(name: str) -> tuple[str, ...]:
    """``name`` and, for a path, its ends: ``a/b/c.pdf``, ``b/c.pdf``, ``c.pdf``."""
    parts = name.split("/")
    return tuple(dict.fromkeys("/".join(parts[i:]) for i in range(len(parts)) if parts[i]))


def name_list(values: Any, what: str) -> tuple[str, ...] | None:
    """``values`` as a tuple of names: one string is one name ("staff", not "s", "t", "a", ...);
    InputError for anything but strings."""
    if values is None:
        return None
    if isinstance(values, str):
        return (values,)
    if isinstance(values, bytes | Mapping) or not isinstance(values, Iterable):
        raise InputError(f"filter {what} must be a list of names, not {type(values).__name__}", f"write {what}=['name']")
    out = tuple(values)
    for v in out:
        if not isinstance(v, str):
            raise InputError(f"filter {what} holds {v!r}, not a name", f"write {what}=['name', ...]")
    return out


def _names(values: Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    """Tag or source names, stripped; None for none. A blank one is refused, as a blank group
    and an upload's blank tag are: dropped, ``tags: [""]`` (a variable left unset) asked for
    every document without a word; kept, it would keep every chunk out."""
    names = name_list(values, what) or ()
    if any(not v.strip() for v in names):
        raise InputError(f"filter {what} holds a blank name", f"name each of the {what}, or leave the {what} filter out")
    return tuple(v.strip() for v in names) or None


def _day(value: Any) -> date | None:
    """A filter's day: a date, or its ISO text ("2026-01-31")."""
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"filter on_date {value!r} is not a date", "give a datetime.date or write it as YYYY-MM-DD")


@dataclass(frozen=True)
class Filters:
    """Metadata filters applied *inside* retrieval (never after a fixed top-k).

    ``groups``: the asking user's access groups; a chunk is visible when it has no groups or
    shares one with the user. ``None`` means "no user restriction" (admin / CLI).
    ``tags``: keep chunks carrying any of these tags. ``lang``: keep one language (read by
    :func:`lang_code`: "en-US" keeps English).
    ``on_date``: keep chunks valid on that day (default: today) - always applied.
    ``sources``: keep these document sources only.
    """

    groups: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    lang: str | None = None
    on_date: date | None = None
    sources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", name_list(self.groups, "groups"))  # () is a user of no group
        for name in ("tags", "sources"):
            object.__setattr__(self, name, name_list(getattr(self, name), name))
        object.__setattr__(self, "on_date", _day(self.on_date))
        if self.lang is not None:  # stored as documents store it: "EN", "en-US" find English chunks
            if not isinstance(self.lang, str):
                raise InputError(f"filter lang must be a language code, not {type(self.lang).__name__}", "write lang='en'")
            try:
                object.__setattr__(self, "lang", lang_code(self.lang))
            except ValueError as exc:
                raise InputError(str(exc).split("; ", 1)[0], "write an ISO 639-1 code such as en or zh") from None

    @staticmethod
    def of(
        groups: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        lang: str | None = None,
        on_date: date | None = None,
        sources: Iterable[str] | None = None,
    ) -> Filters:
        return Filters(
            groups=name_list(groups, "groups"),
            tags=_names(tags, "tags"),
            lang=None if isinstance(lang, str) and not lang.strip() else lang,  # "" is no filter
            on_date=on_date,
            sources=_names(sources, "sources"),
        )

    def allows(self, chunk: Chunk, today: date | None = None) -> bool:
        if self.groups is not None and chunk.groups and not set(chunk.groups) & set(self.groups):
            return False
        if self.tags and not set(chunk.tags) & set(self.tags):
            return False
        if self.lang and chunk.lang != self.lang:
            return False
        if self.sources and chunk.source not in self.sources:
            return False
        return in_force(chunk.valid_from, chunk.valid_to, self.on_date or today or date.today())
