"""Loaders: one per file format, each turning a file into a :class:`LoadedFile`.

A document becomes structured :class:`Element` values (headings with their level, paragraphs,
list items, tables as Markdown, with page numbers for PDF); an FAQ table (CSV, XLSX, JSON,
JSONL) becomes :class:`FaqRow` values. Every failure is an :class:`~kb.errors.InputError`
subclass with a one-line message that says what to do.

Choices:
- PDF: pdfminer.six layout analysis of the text layer (per page; headings from font size),
  pypdf first to detect encryption and damage cheaply.
- DOCX, HTML, Markdown, TXT: ``unstructured`` partitioners (telemetry and downloads off through
  ``kb.settings``, imported before unstructured).
- A CSV/XLSX/JSON file without recognisable question and answer columns is *not* indexed as a
  generic table: it fails with :class:`MissingColumnsError` naming the columns found and the
  accepted names (a mis-labelled FAQ sheet must not silently become one big table). Save a
  generic table as Markdown to index it as a document.
- Document id: see :func:`content_hash` / :func:`doc_id_for`.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import html as html_lib
import io
import itertools
import json
import logging
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import kb.settings  # noqa: F401  (offline / no-telemetry env vars before unstructured is imported)
from indexes.text import detect_lang, same_words, without_controls, words_key
from indexes.types import Document, faq_entry_id, lang_code, quoted_names, sha256_hex
from ingest.cleaning import (
    CJK_ITEM,
    TITLE_MAX,
    display_width,
    hyphen_words,
    is_cjk,
    readable_name,
    rejoin_broken_words,
    rejoin_hyphenated,
    runs_on,
    unwrap_lines,
)
from kb.errors import (
    CorruptFileError,
    EncodingError,
    FileTooLargeError,
    InputError,
    MissingColumnsError,
    UnsupportedFormatError,
)

# --------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True)
class Element:
    """One structural piece of a document."""

    kind: str  # "heading" | "paragraph" | "list_item" | "table"
    text: str  # tables: Markdown
    level: int = 0  # headings: 1 (top) .. 6
    page: int | None = None
    # list items, while a loader reads them: how deeply the item is nested (its parent is the
    # nearest item above it that is less deep), None where it is not known; see _nested_folded
    depth: int | None = field(default=0, compare=False)


@dataclass(frozen=True)
class FaqRow:
    faq_id: str
    question: str
    answer: str
    metadata: Mapping[str, Any] = field(default_factory=dict)  # tags, groups, category


@dataclass(frozen=True)
class LoadedFile:
    document: Document
    content_hash: str
    elements: tuple[Element, ...] = ()
    faq_rows: tuple[FaqRow, ...] = ()
    # what of a file that loaded cannot be answered from, one line each ("faq.csv: 2 rows without
    # an answer skipped ('S16', 'S17'); ..."): the ingest report lists them, so a gap is not silent
    warnings: tuple[str, ...] = ()

    @property
    def is_faq(self) -> bool:
        return self.document.kind == "faq"


class Loader(Protocol):
    """One file format: raw bytes (already size-checked) to elements or FAQ rows."""

    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        """Return (elements, faq_rows, metadata found inside the file). A loader that leaves
        something out of a file it could read says so under :data:`WARNINGS_KEY` of the metadata."""
        ...


# metadata key a loader reports what it left out under (a list of one-line messages); it becomes
# LoadedFile.warnings and never reaches the document's metadata
WARNINGS_KEY = "_warnings"


class EncryptedFileError(CorruptFileError):
    code = "encrypted_file"


class NoTextLayerError(CorruptFileError):
    code = "no_text"


class EmptyFileError(InputError):
    code = "empty_file"


# --------------------------------------------------------------------------------------------
# ids and hashing

META_SUFFIX = ".meta.json"


def normalized_bytes(data: bytes) -> bytes:
    """Bytes as hashed: UTF-8 BOM dropped, CRLF/CR line ends as LF (an editor re-saving a file
    with other line ends does not make it a new document)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data and not data.startswith((b"%PDF", b"PK")):
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def content_hash(data: bytes, sidecar: bytes | None = None, extra: str = "") -> str:
    """Hash of the normalised bytes, plus the sidecar metadata and ingest defaults (a change of
    access groups must re-index the document, not copy chunks carrying the old groups)."""
    h = sha256_hex(normalized_bytes(data), 64)
    if sidecar is not None or extra:
        h = sha256_hex(h + "\n" + sha256_hex(sidecar or b"", 64) + "\n" + extra, 64)
    return h[:32]


def doc_id_for(source: str, chash: str) -> str:
    """Document id: the content hash, salted with the source so that two identical files at two
    paths stay two documents (a manual may repeat a section under two chapters)."""
    return sha256_hex(f"{source}\n{chash}", 24)


def sidecar_names(path: Path) -> tuple[str, str]:
    """The names a document's sidecar may have, in the order they are looked for:
    ``x.pdf.meta.json``, then ``x.meta.json``."""
    return path.name + META_SUFFIX, path.stem + META_SUFFIX


def sidecar_path(path: Path) -> Path | None:
    for cand in (path.with_name(n) for n in sidecar_names(path)):
        if cand != path and cand.is_file():
            return cand
    return None


def source_of(path: Path, root: Path) -> str:
    """The document's source id: its path under ``root``, as Unicode text. A name that is not UTF-8
    (a Windows zip unpacked here keeps GBK names) is read as GB18030 when it decodes so, else with
    its undecodable bytes written ``\\xNN``: an id must be storable text, and the same file must
    give the same id on every run (``--prune`` and ``kb delete`` find documents by it)."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    parts = rel.parts if str(rel) != "." else (path.name,)
    return "/".join(readable_name(p) for p in parts)



# --------------------------------------------------------------------------------------------
# text decoding

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def decode_text(data: bytes, name: str = "file") -> str:
    """UTF-8 (with or without BOM), UTF-16/32 with BOM, GBK/GB18030 and other encodings detected
    by charset-normalizer. Undecodable bytes raise :class:`EncodingError`, and so does a whole PDF
    (its header and its end-of-file mark), which may decode as text: one saved as "sla.md" was
    indexed as its page objects and streams."""
    if data.lstrip()[:5] == b"%PDF-" and b"%%EOF" in data[-2048:]:
        raise EncodingError(f"{name}: this is {_PDF[0]}, not text", _PDF[1])
    text = _decode(data)
    if text is not None and "\x00" in text and _control_ratio(text) > 0.05:
        # stray NUL bytes in UTF-8 text (a broken export): the text is read without them, where
        # UTF-16 without its BOM (a NUL every other byte) stays undetected. Told "save it as
        # UTF-8", the user had a file that was UTF-8 already
        bare = text.replace("\x00", "")
        if len(bare) > 0.7 * len(text) and _control_ratio(bare) <= 0.05:
            text = bare
    if text is None or _control_ratio(text) > 0.05:
        real = _binary_format(data)
        if real is not None:
            # a workbook saved as "faq.csv", a Word file as "notes.txt": told to save it as UTF-8,
            # the user had no text to save
            raise EncodingError(f"{name}: this is {real[0]}, not text", real[1])
        raise EncodingError(f"{name}: cannot detect the text encoding", "save it as UTF-8 and ingest it again")
    return text


_PDF = ("a PDF file", "rename it to .pdf and ingest it again")
# a ZIP-based Office file by the folder its parts are in: what it is, what to do
_OFFICE_PARTS = (
    ("word/", "a Word document", "rename it to .docx and ingest it again"),
    ("xl/", "an Excel workbook", "rename it to .xlsx and ingest it again"),
    ("ppt/", "a PowerPoint file", "export it as PDF and ingest that"),
)
_ZIP_HINT = "unpack the archive and ingest the files in it"


def _pdf_header(data: bytes) -> bool:
    """Whether ``data`` opens as a PDF does (its "%PDF" mark, after any blank space)."""
    return data.lstrip()[:5].startswith(b"%PDF")


def _binary_format(data: bytes) -> tuple[str, str] | None:
    """What a file that is not text is, by its first bytes, and what to do: (what, hint), or None
    where it is none of the formats a knowledge base is given."""
    if _pdf_header(data):
        return _PDF
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Office file (.doc or .xls)", "save it as .docx or .xlsx and ingest that"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "a ZIP archive", _ZIP_HINT
    for folder, what, hint in _OFFICE_PARTS:
        if any(n.startswith(folder) for n in names):
            return what, hint
    return "a ZIP archive", _ZIP_HINT


def _decode(data: bytes) -> str | None:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text: str | None = None
    try:
        from charset_normalizer import from_bytes

        results = from_bytes(data)
        best = results.best()
        if best is not None and best.encoding:
            # on short text several code pages read as well, and charset_normalizer picks any of
            # them: French read as cp1250 became "aprčs 5 ŕ 7 jours". Windows-1252, by far the
            # most common, wins a tie, and where it reads the text more coherently for a little more
            # chaos: a QA round's French, read as Baltic cp1257 (chaos 0.0 against 0.015, coherence
            # 0.53 against 0.59), was stored "Le reēu est obligatoire ... crčme brūlée"
            best = next(
                (r for r in results if r.encoding == "cp1252" and (
                    (r.chaos <= best.chaos + 0.005 and r.coherence >= best.coherence - 0.02)
                    or (r.chaos <= best.chaos + 0.03 and r.coherence > best.coherence)
                )),
                best,
            )
            enc = best.encoding.lower()
            # a CJK file misread as a single-byte code page is worse than a clear error:
            # prefer the GB family when the bytes are valid GB18030
            if enc in ("gb2312", "gbk", "gb18030", "big5", "utf_16", "utf_16_le", "utf_16_be",
                       "shift_jis", "cp932", "euc_kr", "euc_jp"):
                text = str(best)
            else:
                try:
                    text = data.decode("gb18030")
                    if not _looks_cjk(text):
                        text = str(best)
                except UnicodeDecodeError:
                    text = str(best)
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency of ingest
        pass
    if text is None:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            text = None
    return text


# titles that PDF producers fill in, which name no document: "untitled", "Microsoft Word - x.docx",
# a file name, reportlab's "(anonymous)" and "untitled" in its other spellings
_JUNK_PDF_TITLE = re.compile(
    r"^\W*(untitled|title|document|anonymous|none|null|unknown|no title|sans titre|无标题|未命名)\W*$"
    r"|\.(docx?|pdf|odt|rtf|pptx?|txt|html?)$|^microsoft |^untitled[\s\d-]*$",
    re.I,
)


def _looks_cjk(text: str) -> bool:
    """Whether ``text`` (bytes read as GB18030) reads as Chinese: CJK over a third of its letters,
    or, in a mostly-English file, most of its non-ASCII characters hanzi or full-width punctuation
    of GB2312 (both bytes 0xA1-0xFE, where those of real text lie) next to another such one. A CSV
    of English rows with two GBK rows was under the first share and read as Thai (cp874),
    unwarned. A Western code page read as GB18030 gives an accented letter and the ASCII letter
    after it as one rare character ("é" + "s"), outside GB2312, and two accented letters in a row
    ("déçu") one character alone, not a run: neither passes."""
    cjk = sum(1 for ch in text if _is_cjk(ch))
    letters = sum(1 for ch in text if not ch.isspace())
    if letters > 0 and cjk / letters > 0.3:
        return True
    wide = sum(1 for ch in text if ord(ch) > 0x7F)
    if not wide:
        return False
    common = [_gb2312_cjk(ch) for ch in text]
    in_runs = sum(1 for i, c in enumerate(common)
                  if c and ((i > 0 and common[i - 1]) or (i + 1 < len(common) and common[i + 1])))
    return in_runs / wide > 0.8


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def _gb2312_cjk(ch: str) -> bool:
    """A hanzi or CJK punctuation mark of GB2312's rows (both bytes 0xA1-0xFE)."""
    if not _is_cjk(ch):
        return False
    try:
        raw = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(raw) == 2 and raw[0] >= 0xA1 and raw[1] >= 0xA1


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd\ue000-\uf8ff]")


def _control_ratio(text: str) -> float:
    """Share of control / private-use / replacement characters: high for binary data."""
    if not text:
        return 0.0
    return len(_CONTROL.findall(text)) / len(text)


# --------------------------------------------------------------------------------------------
# metadata

_META_KEYS = ("title", "lang", "tags", "groups", "valid_from", "valid_to")

# generous bounds on a document's tags and groups: every chunk of the document carries them, so a
# list of a million names, or one name of megabytes, would be stored (and filtered on) per chunk
MAX_NAMES = 200
MAX_NAME_CHARS = 200


def _as_tuple(value: Any, key: str = "tags", name: str = "file") -> tuple[str, ...]:
    """Tags or groups as names: a list, or one string split at , ; | (blank pieces between names
    are separators: "staff, sales,"). A blank entry is refused, not dropped: a document whose only
    group was " " would be published to everyone. A name is a short scalar: a list or mapping
    inside the list, more than :data:`MAX_NAMES` names or a name over :data:`MAX_NAME_CHARS`
    characters is refused (``name`` and ``key`` say where, in the one-line error)."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        pieces = re.split(r"[,;|，；]", without_controls(value))
        parts: list[Any] = [p for p in pieces if p.strip()] or [""]
    elif isinstance(value, list | tuple | set):
        parts = list(value)
    else:
        parts = [value]
    names: dict[str, None] = {}
    for part in parts:
        if isinstance(part, Mapping | list | tuple | set):
            raise InputError(
                f"{name}: {key} holds a {'mapping' if isinstance(part, Mapping) else 'list'} where a name should be",
                f"write {key} as a flat list of names, e.g. {key}: [staff, sales]",
            )
        text = without_controls("" if part is None else str(part)).strip()
        if not text:
            hint = "write the name or remove the empty entry"
            if key == "groups":
                hint += " (a blank group would publish the document to everyone)"
            raise InputError(f"{name}: {key} holds a blank name", hint)
        if len(text) > MAX_NAME_CHARS:
            raise InputError(
                f"{name}: a name in {key} is {len(text)} characters long, over the {MAX_NAME_CHARS} limit",
                f"{key} are short names; put longer text in the document",
            )
        names[text] = None
    if len(names) > MAX_NAMES:
        raise InputError(
            f"{name}: {key} holds {len(names)} names, over the limit of {MAX_NAMES}",
            f"keep the {key} that filter documents; put the rest in the text",
        )
    return tuple(names)


def _as_date(value: Any, key: str, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise InputError(f"{name}: {key} {text!r} is not a date", "write it as YYYY-MM-DD") from None


def clean_metadata(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Keep the known keys, typed: tags/groups as tuples (:func:`_as_tuple`), dates as ISO
    strings, title and lang as one line of text (a title of at most :data:`TITLE_MAX` characters).
    Other keys are kept as plain JSON values (strings, numbers) for display. Text loses its
    control characters (:func:`without_controls`): it is printed as is."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        k = str(key).strip().lower()
        if k != "groups" and difflib.get_close_matches(k, ["groups"], n=1, cutoff=0.7):
            # "group: keyholders" (or a sidecar's "gruops") was kept as a plain key, and the
            # document published to everyone: a restriction misspelt is no restriction
            raise InputError(
                f"{name}: metadata key {str(key).strip()[:40]!r} is not read (did you mean groups?)",
                "write groups: [name, ...] to restrict the document, or rename the key",
            )
        if k in ("tags", "groups"):
            out[k] = _as_tuple(value, k, name)
        elif k in ("valid_from", "valid_to"):
            d = _as_date(value, k, name)
            if d:
                out[k] = d
        elif k in ("title", "lang"):
            if isinstance(value, Mapping | list | tuple | set):
                raise InputError(
                    f"{name}: {k} must be one line of text, not a list or mapping", f"write it as {k}: ..."
                )
            text = without_controls(str(value)).strip() if value is not None else ""
            if k == "title" and len(text) > TITLE_MAX:
                raise InputError(
                    f"{name}: title is {len(text)} characters long, over the {TITLE_MAX} limit",
                    "shorten it; put longer text in the document",
                )
            if text:
                out[k] = text
        elif isinstance(value, str):
            out[k] = without_controls(value)
        elif isinstance(value, int | float | bool):
            out[k] = value
    if "lang" in out:
        try:
            out["lang"] = lang_code(out["lang"])
        except ValueError as exc:
            raise InputError(f"{name}: lang {exc}", "or leave lang out to have it detected") from None
    check_validity(out, name)
    return out


def check_validity(meta: Mapping[str, Any], name: str) -> None:
    """Refuse valid_to before valid_from: such a document is valid on no day, so it could never
    be retrieved, and nothing would say why (the same day for both is one day: both inclusive)."""
    start, end = meta.get("valid_from"), meta.get("valid_to")
    if start and end and str(end)[:10] < str(start)[:10]:
        raise InputError(
            f"{name}: valid_to {end} is before valid_from {start}, so the document is valid on no day",
            "correct the dates (both are inclusive) or leave one out",
        )


def read_sidecar(path: Path) -> tuple[dict[str, Any], bytes | None]:
    side = sidecar_path(path)
    if side is None:
        return {}, None
    raw = side.read_bytes()
    name = readable_name(side.name)
    try:
        meta = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as ex:
        raise InputError(f"{name}: invalid JSON ({ex})", "fix the sidecar metadata file") from None
    if not isinstance(meta, dict):
        raise InputError(f"{name}: must hold a JSON object", 'e.g. {"title": "...", "groups": ["staff"]}')
    return clean_metadata(meta, name), raw


_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


class _AliasFound(Exception):
    def __init__(self, anchor: str) -> None:
        super().__init__(anchor)
        self.anchor = anchor


@functools.cache
def _front_matter_loader() -> Any:
    """yaml.SafeLoader refusing aliases (``*name``). Each alias is the whole node it names again:
    eight levels of nine make a 460-byte block 43 million strings ("billion laughs"), gigabytes of
    memory and an index of hundreds of megabytes. Front-matter is a few key: value lines, which never
    need one; an anchor alone (``&name``) is harmless and allowed."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _AliasFound(str(self.peek_event().anchor))
            return super().compose_node(parent, index)

    return NoAliasLoader


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    """The YAML front-matter between leading --- lines, as metadata, and the body after it. A
    list there is refused rather than indexed as body text: it was meant as metadata, and groups
    written in it would be lost silently. Plain text between two rules is the body."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    import yaml

    try:
        meta = yaml.load(m.group(1), Loader=_front_matter_loader()) or {}  # a SafeLoader
    except _AliasFound as ex:
        raise InputError(
            f"{name}: the front-matter uses YAML aliases (*{ex.anchor})", "write the values out in full"
        ) from None
    except RecursionError:
        raise InputError(f"{name}: the front-matter is nested too deeply", "write it as key: value lines") from None
    except yaml.YAMLError as ex:
        line = str(ex).splitlines()[0] if str(ex) else "syntax error"
        raise InputError(f"{name}: invalid YAML front-matter ({line})", "fix the block between the --- lines") from None
    except ValueError:
        # YAML reads 2026-04-31 as a date, and fails on it outside its own errors: "cannot parse
        # (ValueError: day is out of range for month); check that the file opens..." (QA)
        raise InputError(f"{name}: {_impossible_date(m.group(1))} in the front-matter is not a date",
                         "write it as YYYY-MM-DD, a day its month has") from None
    if isinstance(meta, str | int | float):  # "---\nSome text\n---": two Markdown rules, not metadata
        return {}, text
    if not isinstance(meta, dict):
        raise InputError(
            f"{name}: front-matter must be key: value lines, not a YAML {type(meta).__name__}",
            "write e.g. title: ... and groups: [staff] between the --- lines; if the first --- is a "
            "Markdown rule, put a blank line before it",
        )
    return clean_metadata(meta, name), text[m.end():]


def _impossible_date(block: str) -> str:
    """The first ``key: YYYY-MM-DD`` line of a front-matter ``block`` whose date no calendar has,
    as "key 'value'" ("a value" where none is found)."""
    import datetime

    for m in re.finditer(r"(?m)^\s*([\w-]+)\s*:\s*['\"]?(\d{4})-(\d{1,2})-(\d{1,2})\b", block):
        try:
            datetime.date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
        except ValueError:
            return f"{m.group(1)} '{m.group(2)}-{m.group(3)}-{m.group(4)}'"
    return "a value"


# --------------------------------------------------------------------------------------------
# HTML tables -> Markdown


def html_table_to_markdown(html: str) -> str:
    """The table as Markdown, a merged cell in every column and row it spans (``colspan``,
    ``rowspan``): a Word table's "Same-day delivery (London only)" spanning two columns left its
    price under the delivery time, and "How much is same-day delivery?" was told "Delivery time:
    $19.99"."""
    rows = [
        [(_cell(body), _span(attrs, "colspan"), _span(attrs, "rowspan"))
         for attrs, body in re.findall(r"<t[hd]([^>]*)>(.*?)</t[hd]>", tr, flags=re.S | re.I)]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S | re.I)
    ]
    return rows_to_markdown(expand_spans(rows, lambda text: text))


T = TypeVar("T")


def expand_spans(rows: Sequence[Sequence[tuple[T, int, int]]], copy: Callable[[T], T]) -> list[list[T]]:
    """A table's rows of (cell, columns spanned, rows spanned) as rows of cells, each merged cell in
    every column and row it spans (``copy`` makes each repeat of it)."""
    out: list[list[T]] = []
    below: dict[int, tuple[T, int]] = {}  # column -> (cell, rows left) of a cell spanning rows

    def from_above(row: list[T]) -> None:
        while len(row) in below:
            cell, left = below.pop(len(row))
            if left > 1:
                below[len(row)] = (cell, left - 1)
            row.append(copy(cell))

    for cells in rows:
        row: list[T] = []
        for cell, across, down in cells:
            from_above(row)
            for k in range(across):
                if down > 1:
                    below[len(row)] = (cell, down - 1)
                row.append(cell if k == 0 else copy(cell))
        from_above(row)
        out.append(row)
    return out


def _span(attrs: str, name: str) -> int:
    """The cell's ``name`` span from its attributes as written (:func:`_span_count`)."""
    m = re.search(rf"\b{name}\s*=\s*[\"']?(\d+)", attrs, flags=re.I)
    return _span_count(m.group(1) if m else None)


def _span_count(value: str | None) -> int:
    """A ``colspan`` or ``rowspan`` value as the cells it spans, 1 to 100 (1 where it says none)."""
    m = re.match(r"\s*(\d+)", value or "")
    return min(max(int(m.group(1)), 1), 100) if m else 1


_HTML_TAG = re.compile(r"<[^>]+>")


def _html_text(fragment: str) -> str:
    """The text of an HTML fragment: its tags dropped, its entities read, its white space one space."""
    return " ".join(html_lib.unescape(_HTML_TAG.sub(" ", fragment)).split())


def _cell(fragment: str) -> str:
    return _html_text(fragment).replace("|", "\\|")


def rows_to_markdown(rows: Sequence[Sequence[str]]) -> str:
    kept = [list(r) for r in rows if any(c.strip() for c in r)]
    if not kept:
        return ""
    width = max(len(r) for r in kept)
    kept = _one_header_row([r + [""] * (width - len(r)) for r in kept])
    lines = ["| " + " | ".join(kept[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in kept[1:]]
    return "\n".join(lines)


def _one_header_row(rows: list[list[str]]) -> list[list[str]]:
    """``rows`` with a header of two rows made one: a group's cell over the columns it spans, and
    the sub-headers under it ("Meals (USD per day)" over "Domestic" and "International"), each
    column named by both ("Meals (USD per day) - International"). The sub-headers were read as a
    row of data, "Zone B international meals?" was told "Meals (USD per day): 55; Meals (USD per
    day): 70", and a table cut into pieces gave the later pieces no sub-headers. Two rows are one
    header where the first names a group over adjacent columns (the same cell, a merged one written
    out in each, or one cell and blanks after it) and the second names those columns apart, while it
    repeats the first (a cell spanning both rows) or is blank in every other column."""
    if len(rows) < 3:
        return rows
    top, sub = list(rows[0]), rows[1]
    for j in range(1, len(top)):  # (a group's cell written once, blanks after it: a PDF's)
        if not top[j].strip() and top[j - 1].strip() and sub[j].strip() and sub[j - 1].strip():
            top[j] = top[j - 1]
    grouped = {j for j in range(len(top)) if top[j].strip() and any(
        0 <= k < len(top) and top[k] == top[j] for k in (j - 1, j + 1))}
    if not grouped or any(not sub[j].strip() or sub[j] == top[j] for j in grouped):
        return rows
    if any(sub[j].strip() and sub[j] != top[j] for j in range(len(top)) if j not in grouped):
        return rows
    runs: dict[str, list[str]] = {}
    for j in sorted(grouped):
        runs.setdefault(top[j], []).append(sub[j])
    if any(len(set(names)) < len(names) for names in runs.values()):
        return rows  # (a group whose columns the second row does not tell apart: no sub-headers)
    header = [f"{top[j]} - {sub[j]}" if j in grouped else top[j] for j in range(len(top))]
    return [header, *rows[2:]]


# --------------------------------------------------------------------------------------------
# unstructured-based loaders


# the elements of unstructured's that hold no text of the document's own
_NOT_TEXT = ("PageBreak", "Image", "Header", "Footer", "PageNumber")


def _from_unstructured(elements: Iterable[Any], *, plain_text: bool = False) -> list[Element]:
    out: list[Element] = []
    items: list[tuple[int, bool]] = []  # the list items open above this one: depth, whether numbered
    for el in elements:
        category = getattr(el, "category", "") or type(el).__name__
        text = (getattr(el, "text", "") or "").strip()
        meta = getattr(el, "metadata", None)
        page = getattr(meta, "page_number", None) if meta is not None else None
        if category != "ListItem" and category not in _NOT_TEXT:
            items.clear()  # (a heading, a paragraph or a table between them ends a list)
        if category == "Table":
            html = getattr(meta, "text_as_html", None) if meta is not None else None
            md = html_table_to_markdown(html) if html else ""
            if md:
                out.append(Element("table", md, page=page))
            elif text:
                out.append(Element("paragraph", text, page=page))
            continue
        if not text:
            continue
        if category == "Title":
            depth = getattr(meta, "category_depth", None) if meta is not None else None
            if plain_text and not _plausible_heading(text):
                out.append(Element("paragraph", text, page=page))
                continue
            level = int(depth) + 1 if isinstance(depth, int) and depth >= 0 else 1
            out.append(Element("heading", text, level=min(level, 6), page=page))
        elif category == "ListItem":
            depth = getattr(meta, "category_depth", None) if meta is not None else None
            depth = depth if isinstance(depth, int) else 0
            while items and items[-1][0] >= depth:
                items.pop()
            m = _NUMBERED.match(text)
            items.append((depth, m is not None))
            if m is not None and any(numbered for _, numbered in items[:-1]):
                # a sub-list numbered again inside a numbered list's item (Word's "List Number 2"),
                # read as bullets under that item: as "1. Email …", "2. …" among the outer steps
                # ("3. Get approval:", "4. Submit …"), they read as steps of the outer list
                text = m.group(2)
            out.append(Element("list_item", text, page=page, depth=depth))
        elif category in _NOT_TEXT:
            continue
        else:
            out.append(Element("paragraph", text, page=page))
    return out


_SENT_END = re.compile(r"[.!?。！？；;:：,，]\s*$")


def _plausible_heading(text: str) -> bool:
    """unstructured's plain-text heuristics call any short line a Title; a heading in a .txt
    file is short, does not end like a sentence and is not a "Label: value" line of the
    document's particulars (:func:`_label_value`)."""
    return len(text) <= 80 and not _SENT_END.search(text) and "\n" not in text and not _label_value(text)


# a release note's entry, headed by the kind of change ("Changed: Legacy API v1", "Fixed: Calendar
# export"): a heading however short the text under it ("Improved: Faster search" above "Search
# results now appear faster." was run into it, and cited under the heading before)
_CHANGE_HEADING = re.compile(
    r"(?i)^(?:new|added|improved|changed|fixed|removed|deprecated|security|known\s+issues?|breaking(?:\s+change)?)"
    r"\s*:\s*\S[^.!?。！？]{0,60}$"
)


# "Label: value", the label a few words without digits ("Chapter 2: Billing" is a heading)
_LABEL_VALUE = re.compile(r"^\s*([^\W\d][^:：\d]{0,29}?)\s*[:：]\s*(\S.*?)\s*$")
# the labels of a document's particulars, each the whole label: its dates, version, number, who
# wrote it and whom it is for. A label that only holds such a word names a section ("Order status:
# Tracking your parcel", "Quick reference: Fees", "版本说明：新功能", "Release notes: January 2025")
_PARTICULAR = re.compile(
    r"(?i)(?:(?:last|date)\s+)?(?:updated|revised|modified|reviewed|amended|changed)(?:\s+(?:on|date))?"
    r"|(?:last|next)\s+(?:update|review|revision)|valid\s+(?:until|from|through|to|till)|expires|expiry(?:\s+date)?"
    r"|(?:effective|issue|issued|publication|published|release|revision|review|expiry|expiration|creation)\s+date"
    r"|effective(?:\s+from)?|issued|published|date(?:\s+(?:of\s+issue|issued|published|created))?"
    r"|version|revision|rev\.?|(?:document|doc|policy|form)\s+(?:id|no\.?|number|code|version|owner)"
    r"|ref(?:erence)?(?:\s+(?:id|no\.?|number|code))?|(?:prepared|written|approved|issued|published|owned"
    r"|maintained|reviewed)\s+by|authors?|owner|maintainer|applies\s+to|department|classification|status"
    r"|(?:更新|修订|修改|发布|生效|施行|实施|印发|发文|制定)(?:日期|时间)?|日期|版本号?|(?:文件|文档)?编号|文号|作者"
    r"|有效期(?:至|到)?|截止(?:日期|时间)"
    r"|(?:发文|发布|制定|起草)(?:单位|机关|部门)|适用(?:范围|对象)|负责部门|密级"
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# a date: "10 January 2025", "January 10, 2025", "March 2025", "2025-01-10", "2025年1月1日"
_DATE = (
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?\d{{4}}"
    r"|\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)?)[.。]?"
)
# the same particulars without a colon: "Last updated 10 January 2025", "更新于2025年1月1日"
_DATED = re.compile(
    rf"(?i)^\s*(?:(?:last\s+)?(?:updated|revised|modified|reviewed)(?:\s+on)?|effective(?:\s+from)?|published"
    rf"|(?:更新|修订|发布|生效)(?:于|日期|时间)?)\s*{_DATE}\s*$"
)


def _label_value(text: str) -> bool:
    """Whether a line is one of a document's particulars ("Last updated: 10 January 2025",
    "Version: 3.2", "Document ID: POL-0042", "Prepared by: Jane Smith", "生效日期：2025年1月1日",
    "Last updated 10 January 2025"): its whole label is one of :data:`_PARTICULAR`'s. Such a line
    under a policy's title was read as a heading of the title's level: it took the title's place at
    the top of every section's path ("Last updated: 10 January 2025 > 5. REFUNDS") and, a heading,
    was in no chunk's text, so "When was the policy last updated?" had nothing to be answered from.
    "Chapter 2: Billing" (a digit in its label), "Part one: Your account" and "Refund status: How to
    check it" (a label that only holds a particular's word) are still headings."""
    if _DATED.match(text):
        return True
    m = _LABEL_VALUE.match(text)
    if m is None or _PARTICULAR.fullmatch(" ".join(m.group(1).split())) is None:
        return False
    # "Changed: Legacy exports" heads a release note's entry; "Changed: 10 March 2025" is a particular
    return not (_CHANGE_HEADING.match(text) and not re.search(_DATE, m.group(2), re.IGNORECASE))


_FAST_PATCHED = False


def _fast_unstructured() -> None:
    """unstructured tells NarrativeText from Text (and, in plain text, Title) with a spaCy sentence
    tokenizer: about 2/3 of its time on typical Markdown. This project maps NarrativeText and
    Text alike to paragraphs and decides plain-text headings itself (:func:`_plausible_heading`),
    so those two classifiers are replaced by cheap ones (pinned unstructured 0.27.x). Real
    headings (<h1>..<h6>, Markdown '#', DOCX heading styles), list items and tables are
    untouched. Only the ingest process imports unstructured."""
    global _FAST_PATCHED
    if _FAST_PATCHED:
        return
    try:
        import unstructured.partition.html.parser as html_parser
        import unstructured.partition.text as text_part
        from unstructured.documents.elements import ListItem, Text
        from unstructured.partition.text_type import is_bulleted_text as is_bulleted
    except ImportError:  # pragma: no cover - layout changed: keep the slow path
        _FAST_PATCHED = True
        return

    def derive_element_type_from_text(text: str) -> type[Text] | None:
        if is_bulleted(text):
            return ListItem
        return Text if len(text) >= 2 else None

    def is_possible_narrative_text(text: str, *args: Any, **kwargs: Any) -> bool:
        return not _plausible_heading(text)

    if hasattr(html_parser, "derive_element_type_from_text"):
        html_parser.derive_element_type_from_text = derive_element_type_from_text
    if hasattr(text_part, "is_possible_narrative_text"):
        text_part.is_possible_narrative_text = is_possible_narrative_text
    _FAST_PATCHED = True


# languages=[""]: skip unstructured's per-document language detection (cleaning.document_lang
# detects the language once, with the project's own detector)
_NO_LANG: dict[str, Any] = {"languages": [""]}


# a table scraped from a web page one cell to a line: a number alone on its line is a value cell;
# a row is a label line and the values after it
_CELL_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?%?$")
_CELL_MAX = 60  # display columns a cell line takes at most (30 Chinese characters)
_CELL_TABLE_MIN_ROWS = 3
_CELL_NOT = re.compile(r"^(?:#|>|[-*+•]\s|\d{1,2}[.)]\s)|\||[。！？.!?；;]$")


def _cell_line(line: str) -> bool:
    """Whether a line may be one cell of a table flattened one cell to a line: short, not
    Markdown's syntax, not a sentence."""
    return bool(line) and display_width(line) <= _CELL_MAX and not _CELL_NOT.search(line)


def _cell_header(lines: list[str], width: int) -> tuple[list[str], int, list[str]] | None:
    """The header of a flattened table whose rows hold ``width`` values, from the cell lines just
    above its first row (``lines``, nearest last), how many of those lines it takes, and the
    sub-headers its groups cycle over: the label column's header and one header a value column. A
    two-line header is taken where the lines show it, a group header over sub-headers that cycle
    ("文史/历史类" / "最高", "文史/历史类" / "最低", "理工/物理类" / "最高", ...: each group header over the
    same cycle of at least two, here "最高", "最低"); else one line a column, and no cycle. None where
    too few cell lines stand above the rows."""
    if len(lines) >= 1 + 2 * width:
        pairs = lines[len(lines) - 2 * width :]
        tops, subs = pairs[0::2], pairs[1::2]
        for cycle in range(2, width):
            blocks = range(0, width, cycle)
            if (
                width % cycle == 0
                and all(subs[i] == subs[i % cycle] for i in range(width))
                and len(set(subs[:cycle])) == cycle
                and all(tops[i] == tops[b] for b in blocks for i in range(b, b + cycle))
                and len({tops[b] for b in blocks}) == len(blocks)
            ):
                label = lines[len(lines) - 1 - 2 * width]
                return [label] + [f"{t} {u}" for t, u in zip(tops, subs, strict=True)], 1 + 2 * width, subs[:cycle]
    if len(lines) >= 1 + width:
        return lines[len(lines) - 1 - width :], 1 + width, []
    return None


def cell_lines_as_tables(text: str) -> str:
    """``text`` with each table scraped one cell to a line written as a Markdown table. A web page's
    table copied as text (a score sheet: "专业名称" / "文史/历史类" / "最高" / ... / "金融学类" / "634" /
    "630" / "675" / "673" / "法学" / ...) had its lines run together by the loader, and "2022年陕西省理工
    类金融学类的最低分" was told "…金融学类634 630 675 673法学633…", never which number is which. A
    run of rows (a label line, then number lines), at least three of which hold the most values
    any holds, under as many column headers (:func:`_cell_header`), becomes a table whose rows each
    say their headers (:func:`indexes.text.table_rows_as_sentences`). A row with fewer values
    cannot say which columns it fills (a programme open to one stream only): such rows follow the
    table, each a sentence of its label and then its values, each value after its sub-header where
    the row holds one group's worth of a two-line header ("国际政治：最高 635，最低 633。", where it read
    "国际政治：635 633；社会学类：636 633；…", never saying which is the lowest). Text without such a
    run is returned as it is."""
    raw = text.split("\n")
    lines = [line.strip() for line in raw]
    out: list[str] = []
    i = 0
    while i < len(lines):
        # a run of rows from here: a label line, then one number line or more, again and again
        rows: list[tuple[str, list[str]]] = []
        j = i
        while j < len(lines) and _cell_line(lines[j]) and not _CELL_NUMBER.match(lines[j]):
            k = j + 1
            while k < len(lines) and _CELL_NUMBER.match(lines[k]):
                k += 1
            if k == j + 1:
                break
            rows.append((lines[j], lines[j + 1 : k]))
            j = k
        width = max((len(values) for _, values in rows), default=0)
        full = [(label, values) for label, values in rows if len(values) == width]
        found = None
        if width >= 2 and len(full) >= _CELL_TABLE_MIN_ROWS:
            stripped = (line.strip() for line in reversed(out))
            above = list(itertools.takewhile(lambda line: _cell_line(line) and not _CELL_NUMBER.match(line), stripped))
            found = _cell_header(above[::-1], width)
        if found is None:
            # (a later row of this run has no header above it: the run is passed over whole)
            out += raw[i : max(j, i + 1)]
            i = max(j, i + 1)
            continue
        header, used, cycle = found
        del out[len(out) - used :]
        out += ["", rows_to_markdown([header, *([label, *values] for label, values in full)]), ""]
        partial = [
            f"{label}：{'，'.join(f'{sub} {v}' for sub, v in zip(cycle, values, strict=True))}"
            if len(values) == len(cycle) else f"{label}：{' '.join(values)}"
            for label, values in rows if len(values) != width
        ]
        if partial:  # one line, not a line each: the loader would run the lines together
            out += ["。".join(partial) + "。", ""]
        i = j
    return "\n".join(out)


class MarkdownLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        text = decode_text(data, path.name)
        meta, body = split_front_matter(text, path.name)
        if not body.strip():
            if body == text:  # no front-matter: a file of blank lines was told of one it did not have
                raise EmptyFileError(f"{path.name}: the file holds only whitespace", "add content or remove the file")
            raise EmptyFileError(f"{path.name}: no text after the front-matter", "add content or remove the file")
        from unstructured.partition.md import partition_md

        _fast_unstructured()
        body = cell_lines_as_tables(_markdown_images_in_text(body))
        elements = _with_depths(_from_unstructured(partition_md(text=body, **_NO_LANG)), _markdown_depths(body))
        return _nested_folded(_numbered(elements, _markdown_marks(body))), [], meta


# an image in Markdown ("![Home](home.png)", '![x](x.png "title")') or as HTML ('<img alt="Home">')
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)|<img\b[^>]*>", re.I)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_MD_FENCE = re.compile(r"^ {0,3}(?:```|~~~)")
# the alt text of an image that says nothing a sentence could read: none, a file's name, "image"
_NO_LABEL = re.compile(
    r"|.*\.(?:png|jpe?g|gif|svg|webp|bmp|ico)|(?:an? )?(?:image|img|icon|picture|photo|logo|screenshot|figure|"
    r"graphic|diagram|图片|图标|图像|截图|示意图)\s*\d*",
    re.I,
)


def image_label(alt: str) -> str:
    """The words an image stands for inside a sentence: its alt text where that is a short
    label ("Home" in "Press the <img alt="Home"> button"), else nothing: a sentence reads on past an
    image that names nothing ("led.png", "icon") or describes a picture at length."""
    alt = " ".join(alt.split())
    if _NO_LABEL.fullmatch(alt) or len(alt.split()) > 3 or len(alt) > 24:
        return ""
    return alt


def _joined_by(before: str, label: str, after: str) -> str:
    """``label`` set between ``before`` and ``after`` (``label`` may be empty), with a space on a
    side where Latin text meets it, none where Chinese does."""
    def sep(a: str, b: str) -> str:
        return "" if not a or not b or a.isspace() or b.isspace() or _is_cjk(a) or _is_cjk(b) else " "

    if not label:
        return sep(before[-1:], after[:1])
    return sep(before[-1:], label[0]) + label + sep(label[-1], after[:1])


def _markdown_images_in_text(body: str) -> str:
    """``body`` with each image that stands in a line of text (Markdown's ``![alt](src)`` or an
    ``<img>``) read as its label (:func:`image_label`), or taken out. unstructured ended a paragraph
    at an image: "The status light <img src="led.png"> blinks red when the filter is full" was
    stored as two paragraphs, and "The status light [1]" was quoted as an answer. An image alone on
    its line, and code in a fenced block, are left as they are."""
    if "<img" not in body.lower() and "![" not in body:
        return body
    out, fenced = [], False
    for line in body.split("\n"):
        if _MD_FENCE.match(line):
            fenced = not fenced
        elif not fenced and _MD_IMAGE.search(line) and _MD_IMAGE.sub("", line).strip():
            line = _images_replaced(line)
        out.append(line)
    return "\n".join(out)


def _images_replaced(line: str) -> str:
    done, at = "", 0
    for m in _MD_IMAGE.finditer(line):
        alt = m.group(1)
        if alt is None:
            a = _ALT.search(m.group(0))
            alt = html_lib.unescape(next((g for g in a.groups() if g is not None), "")) if a else ""
        done += line[at : m.start()]
        done += _joined_by(done, image_label(alt), line[m.end() : m.end() + 1])
        at = m.end()
    return done + line[at:]


# an ordered list's item in Markdown ("1. Sign in to your account")
_ORDERED_ITEM = re.compile(r"^ {0,3}(\d{1,9})[.)][ \t]+(\S.*)$", re.M)


def _item_key(text: str) -> str:
    """What an item's text and its Markdown source share: its letters and digits, lower-cased,
    without link targets ("[Orders](https://...)" reads "Orders"), the first 40."""
    return "".join(ch for ch in re.sub(r"\]\([^)]*\)", "", text).lower() if ch.isalnum())[:40]


def _same_item(key: str, mark: str) -> bool:
    """Whether an item read as ``key`` is the one marked ``mark`` (:func:`_item_key` of each): the
    same, or one starts the other (a line that goes on below an item joins it)."""
    n = min(len(key), len(mark))
    return n >= 4 and key[:n] == mark[:n] or (bool(key) and key == mark)


def _markdown_marks(body: str) -> list[tuple[str, str]]:
    """The (number, :func:`_item_key`) of each ordered list's item in the Markdown ``body``. An
    ordered item indented under an ordered list's item is that item's sub-list, and has none: it is
    read as a bullet under the item, as one indented four spaces already was. Numbered, "3. Get
    approval:" over "   1. Email your manager" was read "3. …", "1. Email …", "2. …", "4. …", one
    list, the sub-steps as steps of their own."""
    marks = []
    outer: int | None = None  # the indent of the ordered list being read
    for line in body.expandtabs(4).split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        m = _ORDERED_ITEM.match(line)
        if m is not None:
            if outer is not None and indent > outer:
                continue
            outer = indent
            marks.append((m.group(1), _item_key(m.group(2))))
        elif line.strip() and outer is not None and indent <= outer:
            outer = None  # a line at the list's margin ends it
    return marks


def _html_marks(root: Any) -> list[tuple[str, str]]:
    """The (number, :func:`_item_key`) of each item of the ordered lists (``<ol>``, from its
    ``start``, or an item's ``value``) of the page parsed as ``root``. An ordered list inside an
    ordered list's item is that item's sub-list, and its items have none: they are read as bullets
    under it (numbered, "3. Get approval:" over its own "1. Email …" was read as steps 3, 4 and 5,
    and step 4 unnumbered)."""
    marks = []
    for ol in root.iter("ol"):
        if any(a.tag == "ol" for a in ol.iterancestors()):
            continue
        n = _html_number(ol.get("start"), 1)
        for li in ol.iterchildren("li"):
            n = _html_number(li.get("value"), n)
            own = [li.text or ""]
            for child in li:
                if child.tag not in ("ol", "ul") and isinstance(child.tag, str):
                    own.append("".join(child.itertext()))
                own.append(child.tail or "")
            marks.append((str(n), _item_key(" ".join("".join(own).split()))))
            n += 1
    return marks


def _html_number(value: str | None, default: int) -> int:
    """An ``<ol start>`` or ``<li value>`` as a number, ``default`` where it is none."""
    m = re.fullmatch(r"\s*(\d{1,9})\s*", value or "")
    return int(m.group(1)) if m else default


def _numbered(elements: list[Element], marks: list[tuple[str, str]]) -> list[Element]:
    """``elements`` with each list item that is an ordered list's item (``marks``: its number and
    :func:`_item_key`, in the document's order, from the Markdown or the HTML) written with its
    number ("1. Sign in ..."), as a plain text's numbered lines are: unstructured drops the mark,
    and the steps of "How to start a return" were stored, cited and read as bullets, so the
    composer could not tell them for steps to say in order (a web page's ``<ol>`` too)."""
    out: list[Element] = []
    at = 0  # the marks are met in the elements' order
    for el in elements:
        if el.kind == "list_item" and at < len(marks):
            key = _item_key(el.text)
            found = next((j for j in range(at, len(marks)) if _same_item(key, marks[j][1])), None)
            if found is not None:
                at = found + 1
                el = replace(el, text=f"{marks[found][0]}. {el.text}")
        out.append(el)
    return out


# a Markdown list item's line: its indent, then its bullet or number
_MD_ITEM = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+(\S.*)$")


def _markdown_depths(body: str) -> list[tuple[int, str]]:
    """The (depth, :func:`_item_key`) of each list item of the Markdown ``body``, as its indent
    nests it: an item indented two spaces or more past an open item's is that item's sub-item.
    unstructured's Markdown reads an item indented two spaces ("- **Admin**" over "  - Can invite
    members") as its parent's sibling, at the parent's depth, though GitHub and most editors show it
    nested."""
    found = []
    open_: list[int] = []  # the indents of the items open above this line
    for line in body.expandtabs(4).split("\n"):
        m = _MD_ITEM.match(line)
        indent = len(line) - len(line.lstrip(" "))
        if m is None:
            if line.strip() and (not open_ or indent <= open_[0]):
                open_.clear()  # a line at the list's margin ends it
            continue
        while open_ and indent < open_[-1] + 2:
            open_.pop()
        found.append((len(open_), _item_key(m.group(2))))
        open_.append(indent)
    return found


def _with_depths(elements: list[Element], depths: list[tuple[int, str]]) -> list[Element]:
    """``elements`` with each list item's depth the one ``depths`` (:func:`_markdown_depths`) gives
    the item of the same text, in the document's order; None where none is found."""
    out: list[Element] = []
    at = 0
    for el in elements:
        if el.kind == "list_item":
            key = _item_key(el.text)
            found = next((j for j in range(at, len(depths)) if _same_item(key, depths[j][1])), None)
            if found is not None:
                at = found + 1
            el = replace(el, depth=None if found is None else depths[found][0])
        out.append(el)
    return out


# the term an item opens with, before a dash or a colon: "Admin – manages people and settings." is
# the Admin's, "**Billing manager**" alone is its own
_ITEM_TERM = re.compile(r"^(.{1,60}?)\s*(?:\s[–—-]\s|[:：])")
_TERM_MAX = 80  # characters: a longer item without a term is no name to say before each sub-item
# the most characters of an item that ends with a colon, its sub-items written into it (Chinese:
# fewer, as a character says what two or three English ones do)
_FOLDED_MAX = 400
_FOLDED_MAX_ZH = 150


def _nested_folded(elements: list[Element]) -> list[Element]:
    """``elements`` with each sub-item of a bulleted (not numbered) list item saying that item's
    term: "Billing manager: Can see invoices, update the payment method and change the plan." under
    "Billing manager – an extra role …". The sub-items were stored as bullets of the same list,
    flat, with nothing tying "Can see invoices" to the Billing manager above it: "Can Admins see
    invoices?" was answered with the Billing manager's bullet as if it were the Admin's, and "What
    can the Billing manager role do?" with the Admin's (QA, an admin guide's roles in Markdown; a
    web page's nested <ul> and Word's "List Bullet 2" are read the same). Each sub-item is a line of
    its own, so "Who manages billing?" is told "Owner: Manages billing", not the Owner's whole
    entry. An item that ends with a colon leads in to its sub-items, and they are written into it
    ("Not refundable: Gift cards; Sale items."), as they are under an item with no term of at most
    :data:`_TERM_MAX` characters; the item is left out where it is only the term. A numbered
    step's sub-items stay bullets under it: the composer reads a step with its bullets ("3. Choose
    a role:" over "- Member (default)"). A list with an item whose depth is not known
    (:func:`_with_depths`) is left as it is."""
    out: list[Element] = []
    i = 0
    while i < len(elements):
        if elements[i].kind != "list_item":
            out.append(elements[i])
            i += 1
            continue
        j = i
        while j < len(elements) and elements[j].kind == "list_item":
            j += 1
        run = elements[i:j]
        depths = [el.depth for el in run]
        out += run if None in depths else _folded_run(run, [d or 0 for d in depths])
        i = j
    return out


def _folded_run(run: list[Element], depths: list[int]) -> list[Element]:
    """One list's items (``run``, at ``depths``) with each bulleted item's sub-items saying it, the
    deepest first (:func:`_nested_folded`)."""
    items = [(d, el) for d, el in zip(depths, run, strict=True)]
    for level in sorted(set(depths), reverse=True):
        folded: list[tuple[int, Element]] = []
        k = 0
        while k < len(items):
            d, el = items[k]
            end = next((n for n in range(k + 1, len(items)) if items[n][0] <= d), len(items))
            kids = items[k + 1 : end]
            if d == level and kids and _NUMBERED.match(el.text) is None and all(kd == kids[0][0] for kd, _ in kids):
                folded += [(d, e) for e in _with_sub_items(el, [e for _, e in kids])]
                k += 1 + len(kids)
                continue
            folded.append((d, el))
            k += 1
        items = folded
    return [replace(el, depth=0) for _, el in items]


def _with_sub_items(parent: Element, kids: list[Element]) -> list[Element]:
    """``parent`` and ``kids`` (its sub-items) as :func:`_nested_folded` writes them."""
    zh = sum(1 for ch in parent.text if is_cjk(ch)) * 2 > len(parent.text)
    sep, colon = ("；", "：") if zh else ("; ", ": ")
    texts = [m.group(2) if (m := _NUMBERED.match(k.text)) else k.text for k in kids]
    head = parent.text.rstrip(" .;,。；，")
    m = _ITEM_TERM.match(head)
    term = m.group(1).rstrip() if m else head
    if head.endswith((":", "：")) or (m is None and len(head) > _TERM_MAX):
        body = sep.join([t.rstrip(" .;,。；，") for t in texts[:-1]] + texts[-1:])
        lead = head if head.endswith((":", "：", "?", "？")) else head + colon.rstrip()
        whole = f"{lead}{'' if zh else ' '}{body}"
        if len(whole) <= (_FOLDED_MAX_ZH if zh else _FOLDED_MAX) or m is None:
            return [replace(parent, text=whole)]
    said = [replace(k, text=f"{term}{colon}{t}") for k, t in zip(kids, texts, strict=True)]
    return said if term == head else [parent, *said]


class HtmlLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        text = decode_text(data, path.name)
        from unstructured.partition.html import partition_html

        meta: dict[str, Any] = {}
        m = re.search(r"<title[^>]*>(.*?)</title>", text, flags=re.S | re.I)
        title = " ".join(html_lib.unescape(m.group(1)).split()) if m else ""
        # a page's <title> may be its editor's placeholder ("Untitled", "Document", "index"): the
        # page's first heading names it then, as a PDF's made-up title gives way to its heading
        if title and not _JUNK_PDF_TITLE.search(title) and not _JUNK_HTML_TITLE.fullmatch(title):
            meta["title"] = _without_site_name(title, text)
        m = re.search(r"<html[^>]*\blang=[\"']?([A-Za-z_-]+)", text, flags=re.I)
        if m:
            with contextlib.suppress(ValueError):  # a page's own tag may be junk: detected then
                meta["lang"] = lang_code(m.group(1))
        _fast_unstructured()
        # a page's footer is the site's, not the document's: "Copyright 2025 ... All rights
        # reserved." was quoted as the end of answers from the last section
        text = _PAGE_FOOTER.sub(" ", text)
        text, marks = _readable_page(text)
        return _nested_folded(_numbered(_from_unstructured(partition_html(text=text, **_NO_LANG)), marks)), [], meta


# how deep a page's elements may nest: unstructured's parser (libxml2's default) stops at 256 levels,
# and the text inside, and the rest of the page after it, was lost without a word (QA 2026-12-07)
_DEEPEST = 128
# the elements that only wrap others, which a page nested deeper than _DEEPEST loses below it
_WRAPPER_TAGS = frozenset({"div", "span", "section", "article", "main", "aside", "font", "center", "b", "i", "em",
                           "strong", "u", "small", "big", "header", "nav", "blockquote", "form", "label"})


def _shallow(root: Any) -> None:
    """Every wrapper element (:data:`_WRAPPER_TAGS`) nested deeper than :data:`_DEEPEST` levels
    replaced by what it holds, its text and children kept in place."""
    from lxml import etree

    deep: list[Any] = []
    depth = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if event == "start" and depth > _DEEPEST and el.tag in _WRAPPER_TAGS:
            deep.append(el)
    for el in reversed(deep):
        parent = el.getparent()
        if parent is None:
            continue
        at, prev, kids = parent.index(el), el.getprevious(), list(el)
        _text_after(parent, prev, el.text)
        for k, kid in enumerate(kids):
            parent.insert(at + k, kid)
        tail = el.tail
        el.tail = None
        parent.remove(el)
        _text_after(parent, kids[-1] if kids else prev, tail)


def _text_after(parent: Any, after: Any, text: str | None) -> None:
    """``text`` put after the child ``after`` of ``parent`` (at its start where ``after`` is None)."""
    if not text:
        return
    if after is not None:
        after.tail = (after.tail or "") + text
    else:
        parent.text = (parent.text or "") + text


_JUNK_HTML_TITLE = re.compile(r"\W*(?:index|home|home ?page|new page|page|untitled (?:page|document))\W*", re.I)
# how a page's <title> joins its own name to its site's ("Compare plans | Tasklane Help Center")
_TITLE_PARTS = re.compile(r"\s+[|–—]\s+|\s+-\s+")
# a site's name, where it says what kind of site it is
_SITE_NAME = re.compile(
    r"(?i)\b(?:help\s*(?:cent(?:er|re)|desk)|support(?:\s+cent(?:er|re))?|docs|documentation|knowledge\s*base|faqs?"
    r"|customer\s+service|official\s+(?:site|website))\s*$|帮助中心|客服中心|知识库|官网|官方网站"
)


def _without_site_name(title: str, page: str) -> str:
    """A page's <title> without its site's name: less a last part that names a help centre, docs
    or the like, or a last part that is a name where the page's <h1> says the rest. Citations and
    the clarifying question named every page of a help centre with it ("Do you mean Compare plans
    | Tasklane Help Center or Error code reference | Tasklane Help Center?", QA)."""
    parts = [p for p in _TITLE_PARTS.split(title) if p.strip()]
    if len(parts) < 2:
        return title
    m = re.search(r"<h1\b[^>]*>(.*?)</h1\s*>", page, flags=re.S | re.I)
    h1 = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split()).casefold() if m else ""
    rest = title[: title.rfind(parts[-1])].rstrip(" |–—-")
    # (the last part a site's name: it names a help centre or the like, or it is a name, each word
    # capitalised, and the page's <h1> says the rest; "Returns - 30 days" over "Returns" keeps its
    # 30 days, a regression hunt's)
    named = all(w[:1].isupper() and not any(c.isdigit() for c in w) for w in parts[-1].split())
    if _SITE_NAME.search(parts[-1]) or (named and rest.casefold() == h1):
        return rest
    return title
_PAGE_FOOTER = re.compile(r"<footer\b[^>]*>.*?</footer\s*>", re.S | re.I)


def _readable_page(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The page rewritten so that unstructured reads what a person reads on it, and the marks of
    its ordered lists' items (:func:`_html_marks`, read from the same tree). The page as it is, and
    no marks, where it does not parse."""
    from lxml import etree

    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True)
    try:
        try:
            root = etree.fromstring(text, parser)
        except ValueError:  # a str with an XML encoding declaration (unstructured does the same)
            root = etree.fromstring(text.encode("utf-8"), etree.HTMLParser(
                remove_comments=True, remove_pis=True, encoding="utf-8", huge_tree=True))
    except etree.LxmlError:
        return text, []
    if root is None:
        return text, []
    _shallow(root)
    _without_site_furniture(root)
    _images_in_text(root)
    _open_details(root)
    _definitions_as_items(root)
    _lines_apart(root)
    _spans_expanded(root)
    return str(etree.tostring(root, encoding="unicode", method="html")), _html_marks(root)


# the class / id words of a site's furniture (a class's or id's words: split at "-", "_" and
# camelCase, so "cookie-banner", "siteFooter", "top_menu" hold one, "menu-item" too, "menus" not)
_FURNITURE_WORDS = frozenset({
    "cookie", "cookies", "consent", "gdpr", "banner", "breadcrumb", "breadcrumbs", "sidebar", "footer",
    "newsletter", "share", "sharing", "social", "nav", "navbar", "navigation", "topnav", "menu", "topmenu",
    "mainmenu", "megamenu", "related", "colophon", "masthead", "relatedposts",
})
# a class or id that names furniture only as a whole (WordPress themes' "site-info" footer, "top-bar"
# with another phone number than the page's, Jetpack's related posts): "info" or "top" alone name content
_FURNITURE_NAMES = frozenset({
    "site-info", "site-header", "site-branding", "top-bar", "topbar", "skip-link", "skip-links",
    "back-to-top", "article-feedback", "was-this-helpful", "page-feedback", "widget-area",
})
# a block that says nothing but the site's own words ("Back to top", "Was this article helpful? Yes
# No"): quoted as a sentence of the page, and a chunk of their own
_FURNITURE_LINE = re.compile(
    r"(?:back to top|(?:skip|jump) to (?:the )?(?:main )?(?:content|navigation)"
    r"|was this (?:article|page|answer|information) (?:helpful|useful)\W*(?:yes\W*no)?"
    r"|返回顶部|回到顶部|跳到主要内容|跳至内容|这篇文章(?:对您)?有帮助吗\W*(?:是\W*否|有\W*没有)?)\W*",
    re.IGNORECASE,
)
# words that also name content ("menu-item" of a product list, "related-terms"): furniture only where
# most of its text is links (a menu, a list of related articles)
_LINK_WORDS = frozenset({"nav", "navbar", "navigation", "topnav", "menu", "topmenu", "mainmenu", "megamenu", "related"})
_FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary"})
_MAIN_TAGS = frozenset({"main", "article"})


def _words(el: Any) -> set[str]:
    """An element's class and id as words ("siteFooter", "site_footer" and "site-footer": "site",
    "footer"), and as the names they are (:data:`_FURNITURE_NAMES`)."""
    raw = f"{el.get('class') or ''} {el.get('id') or ''}"
    names = set(raw.lower().replace("_", "-").split())
    return set(re.sub(r"([a-z])([A-Z])", r"\1 \2", raw).lower().replace("_", " ").replace("-", " ").split()) | names


def _text_len(el: Any) -> int:
    return sum(len("".join(t.split())) for t in el.itertext())


def _link_len(el: Any) -> int:
    return sum(_text_len(a) for a in el.iter("a"))


def _is_main(el: Any) -> bool:
    return el.tag in _MAIN_TAGS or (el.get("role") or "").strip().lower() == "main"


def _without_site_furniture(root: Any) -> None:
    """The page without its site's furniture: a cookie notice, the site's menu and header, its
    breadcrumbs, a sidebar ("Related articles"), a newsletter box, share buttons, a footer in a
    ``<div class="site-footer">``. unstructured reads only a page's ``<main>`` where it has one and
    drops ``<nav>``; a CMS page without ``<main>`` had all of it in its chunks, and the copyright
    line and the cookie notice were quoted in answers. Furniture is ``<nav>``, an ``<aside>`` and a
    ``<header>`` that holds a menu outside the page's ``<main>``/``<article>``, an ARIA role of the
    site's (navigation; banner, contentinfo, complementary outside them) and a class or id of one of
    :data:`_FURNITURE_WORDS` (:data:`_LINK_WORDS` where most of its text is links). An element that
    holds a ``<main>``, an ``<article>``, an ``<h1>`` (a class-named one) or most of the page's
    text is the page's, whatever it is called (``<div class="page with-sidebar">``). A page
    with one ``<article>`` and no ``<main>`` is read from it, as from a ``<main>``."""
    for junk in list(root.iter("script", "style", "noscript", "template")):  # not read by unstructured
        _drop(junk)
    body = root.find(".//body")
    body = root if body is None else body
    total = max(_text_len(body), 1)
    dropped: list[Any] = []
    for el in body.iterdescendants():
        if not isinstance(el.tag, str) or any(a in dropped for a in el.iterancestors()):
            continue
        in_main = any(_is_main(a) for a in el.iterancestors())
        role = (el.get("role") or "").strip().lower()
        by_tag = (
            el.tag == "nav"
            or role == "navigation"
            or (not in_main and (
                el.tag == "aside"
                or role in _FURNITURE_ROLES
                or el.tag == "header" and any(
                    d.tag == "nav" or (d.get("role") or "").lower() == "navigation"
                    or _words(d) & _LINK_WORDS for d in el.iterdescendants() if isinstance(d.tag, str)
                )
            ))
        )
        words = _words(el)
        named = words & (_FURNITURE_WORDS | _FURNITURE_NAMES)
        by_name = (
            bool(named)
            and (not named <= _LINK_WORDS or 2 * _link_len(el) >= _text_len(el))
            and next(el.iter("h1"), None) is None
        )
        if not (by_tag or by_name) or _is_main(el) or any(_is_main(d) for d in el.iterdescendants()):
            continue
        if 2 * _text_len(el) > total:
            continue
        dropped.append(el)
    for el in dropped:
        _drop(el)
    for el in list(body.iter("p", "div", "span", "a", "li")):
        if el.getparent() is not None and _FURNITURE_LINE.fullmatch(" ".join("".join(el.itertext()).split())):
            _drop(el)
    if root.find(".//main") is None and root.find(".//*[@role='main']") is None:
        articles = [a for a in root.iter("article") if not any(b.tag == "article" for b in a.iterancestors())]
        if len(articles) == 1 and 2 * _text_len(articles[0]) >= _text_len(body) and not [
            h for h in root.iter("h1") if articles[0] not in h.iterancestors()
        ]:
            article = articles[0]
            main = article.makeelement("main", {})
            article.addprevious(main)
            main.append(article)  # unstructured reads a page's <main> alone
            main.tail, article.tail = article.tail, None


# the elements that hold a line of text (an image in a link inside one stands in that line)
_LINE_OF_TEXT = re.compile(r"h[1-6]|p|div|li|dt|dd|td|th|caption|figcaption|blockquote|body")


def _images_in_text(root: Any) -> None:
    """Each ``<img>`` that stands in a line of text read as its label (:func:`image_label`), or
    taken out: unstructured ended the paragraph at it, and "按<img alt="主页">键返回。" was stored
    as "键返回。". An image with no text beside it is left to unstructured (which skips it)."""
    for img in list(root.iter("img")):
        parent = img.getparent()
        block = next((a for a in img.iterancestors() if _LINE_OF_TEXT.fullmatch(str(a.tag))), parent)
        if parent is None or block is None or not "".join(block.itertext()).strip():
            continue
        prev = img.getprevious()
        before = (prev.tail if prev is not None else parent.text) or ""
        after = img.tail or ""
        if parent is block and not (before.strip() or after.strip()):
            continue  # between a block's paragraphs (<div><p>…</p><img></div>), in no line of text
        img.tail = _joined_by(before, image_label(img.get("alt") or ""), after) + after
        _drop(img)


def _spans_expanded(root: Any) -> None:
    """Each table's merged cells written out in every column and row they span (:func:`expand_spans`):
    unstructured keeps no ``colspan`` or ``rowspan`` of a page's table, and the cells after a merged
    one moved left ("| Asia | USD 30 | USD 55 |" then "| USD 32 (Japan) | USD 60 (Japan) | |":
    Japan's express rate was read as its standard one). :func:`html_table_to_markdown` does the
    same for the tables unstructured writes itself (a Word table's)."""
    for table in root.iter("table"):
        rows = [tr for tr in table.iter("tr") if not any(a.tag == "table" for a in tr.iterancestors() if a is not table)]
        cells = [[c for c in tr if c.tag in ("td", "th")] for tr in rows]
        if not any(c.get("colspan") or c.get("rowspan") for row in cells for c in row):
            continue
        spans = [[(c, _span_count(c.get("colspan")), _span_count(c.get("rowspan"))) for c in row] for row in cells]
        for tr, old, new in zip(rows, cells, expand_spans(spans, _cell_copy), strict=True):
            for c in old:
                c.attrib.pop("colspan", None)
                c.attrib.pop("rowspan", None)
                tr.remove(c)
            for c in new:
                tr.append(c)


def _cell_copy(cell: Any) -> Any:
    """A table cell with ``cell``'s text, without its spans."""
    copy = cell.makeelement(cell.tag, {})
    copy.text = " ".join("".join(cell.itertext()).split())
    return copy


def _open_details(root: Any) -> None:
    """A ``<details>`` accordion's ``<summary>`` as a heading one level below the page's heading
    before it (a level further down per accordion it is in), its answer as that heading's text.
    unstructured drops ``<details>`` whole, as boilerplate: the FAQ accordion of a help page ("Can
    I return a personalised item?") was in no chunk.

    Text that follows an accordion before the next heading or accordion (a help page's "Still
    need help? Call 0800 123 456" below its FAQ) is the enclosing section's again: the section's
    heading is said once more above it. It was read as the last answer's."""
    last: tuple[int, str] = (1, (root.findtext(".//title") or "").strip())  # the page's last heading
    found: list[tuple[Any, int, tuple[int, str] | None]] = []  # accordion, its level, the section it is in
    for el in root.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if _HEADING_TAG.fullmatch(tag) and not any(a.tag == "details" for a in el.iterancestors()):
            last = (int(tag[1]), " ".join("".join(el.itertext()).split()))
        elif tag == "details":
            outers = [a for a in el.iterancestors() if a.tag == "details"]  # the nearest first
            depth = len(outers)
            found.append((el, last[0] + depth, _summary_heading(outers[0], last[0] + depth - 1) if outers else last))
    reopen = [(details, section) for details, _, section in found
              if section is not None and section[1] and _text_follows(details)]
    for details, level, _ in found:
        details.tag = "div"
        summary = next((c for c in details if c.tag == "summary"), None)
        if summary is None:
            continue
        if any(isinstance(d.tag, str) and _BLOCK_TAG.fullmatch(d.tag) for d in summary.iterdescendants()):
            summary.tag = "div"  # a summary that holds its own heading or paragraphs
        else:
            summary.tag = f"h{min(level + 1, 6)}"
    for details, (level, text) in reopen:
        heading = details.makeelement(f"h{min(level, 6)}", {})
        heading.text, heading.tail, details.tail = text, details.tail, None
        details.addnext(heading)


def _summary_heading(details: Any, level: int) -> tuple[int, str] | None:
    """The heading an accordion's summary becomes (its level and text), or None where it holds
    blocks of its own and becomes none."""
    summary = next((c for c in details if c.tag == "summary"), None)
    if summary is None or any(isinstance(d.tag, str) and _BLOCK_TAG.fullmatch(d.tag)
                              for d in summary.iterdescendants()):
        return None
    return min(level + 1, 6), " ".join("".join(summary.itertext()).split())


def _text_follows(el: Any) -> bool:
    """Whether text comes after ``el`` in the page before a heading or an accordion does (within
    the accordion ``el`` is in, where it is in one)."""
    from lxml import etree

    node = el
    while True:
        if (node.tail or "").strip():
            return True
        for sib in node.itersiblings():
            for event, d in etree.iterwalk(sib, events=("start", "end")):
                tag = d.tag if isinstance(d.tag, str) else ""
                if event == "start" and (tag == "details" or _HEADING_TAG.fullmatch(tag)):
                    return False
                if ((d.text if event == "start" else d.tail) or "").strip():
                    return True
        node = node.getparent()
        if node is None or node.tag in ("body", "html", "details"):
            return False


def _definitions_as_items(root: Any) -> None:
    """A definition list's terms each with its definition, as one list item: "Second exchange:
    $4.95". unstructured read a ``<dt>`` as a paragraph and its ``<dd>`` as a list item apart from
    it ("Second exchange" / "- $4.95"): "How much is a second exchange?" found the term, not the
    price. Terms that share a definition are read together ("Card, PayPal: 5 days")."""
    from lxml import etree

    for dl in reversed(list(root.iter("dl"))):  # the innermost first
        for child in list(dl):  # <dl><div><dt/><dd/></div></dl>: the div's items are the list's
            if child.tag == "div":
                at = dl.index(child)
                for sub in reversed(list(child)):
                    dl.insert(at, sub)
                dl.remove(child)
        terms: list[str] = []
        after_dd = False
        for child in list(dl):
            if child.tag == "dt":
                if after_dd:
                    terms, after_dd = [], False
                term = " ".join("".join(child.itertext()).split())
                if term:
                    terms.append(term)
                _drop(child)
            elif child.tag == "dd":
                after_dd = True
                child.tag = "li"
                for para in child.iter("p"):  # "<dd><p>5 days</p></dd>": the item's own text
                    para.tail = " " + (para.tail or "")
                etree.strip_tags(child, "p")
                if terms:
                    label = ", ".join(terms)
                    child.text = f"{label}{' ' if label[-1] in ':：?？' else ': '}{child.text or ''}"
        for term in terms if not after_dd else []:  # a term without a definition at the end
            li = dl.makeelement("li", {})
            li.text = term
            dl.append(li)
        dl.tag = "ul"


# the blocks whose lines a <br> sets apart: the lines of an address, steps written in one paragraph
_LINES_TAGS = frozenset({"p", "address"})
_FLOW_TAGS = frozenset({"div", "body", "main", "article", "section", "aside", "header", "blockquote", "center"})


def _lines_apart(root: Any) -> None:
    """The lines a ``<br>`` ends, each a paragraph of its own. unstructured joined them with a
    space: an address read "Fabrikam Returns Center 1200 Harbor Way Oakland, CA 94607", three
    steps one sentence. A paragraph becomes one per line; the text a container (a ``<div>``) holds
    between its ``<br>`` is set in a ``<div>`` per line. A ``<br>`` inside a list item, a table cell,
    a heading or a phrase (``<b>a<br>b</b>``) is left as it is."""
    for el in list(root.iter(*_LINES_TAGS, *_FLOW_TAGS)):
        if not any(child.tag == "br" for child in el):
            continue
        tag = el.tag if el.tag in _LINES_TAGS else "div"
        pieces = [el.makeelement(tag, {})]
        pieces[0].text = el.text
        for child in list(el):
            if child.tag == "br":
                pieces.append(el.makeelement(tag, {}))
                pieces[-1].text = child.tail
                el.remove(child)
            else:
                pieces[-1].append(child)  # with its tail
        kept = [p for p in pieces if len(p) or (p.text or "").strip()]
        if el.tag in _LINES_TAGS and el.getparent() is not None:
            parent, at = el.getparent(), el.getparent().index(el)
            for piece in kept:
                for name, value in el.attrib.items():
                    piece.set(name, value)
            if kept:
                kept[-1].tail = el.tail
                parent.remove(el)
                for piece in reversed(kept):
                    parent.insert(at, piece)
            else:
                _drop(el)
        else:
            el.text = None
            for piece in kept:
                el.append(piece)


def _drop(el: Any) -> None:
    """Take ``el`` out of its parent, the text that follows it kept."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


_HEADING_TAG = re.compile(r"h[1-6]")
_BLOCK_TAG = re.compile(r"h[1-6]|p|div|ul|ol|dl|table|section|blockquote|pre")


class TextLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        text = decode_text(data, path.name)
        from unstructured.partition.text import partition_text

        _fast_unstructured()
        # a word broken at a line's end was read as two: "when dis- patch may take"; a Chinese
        # sentence wrapped to a width as two paragraphs, its first line a heading
        text = rejoin_broken_words(unwrap_lines(text, keep=_own_line))
        # a line that opens with a list's mark is an element of its own: the text partitioner
        # ran a paragraph's lines together, and "2. Getting started\n1. Unplug the modem.\n2.
        # Connect ..." became one item, read as "Getting started 1 — Unplug the modem — 2"
        text = _LIST_LINE.sub(lambda m: f"\n{m.group(0)}\n", text)
        text = _heading_lines_apart(text)
        elements = _from_unstructured(partition_text(text=text, **_NO_LANG), plain_text=True)
        # an article's line stays a heading in a run of short lines ("第一章 总则" / "第一条 目的")
        elements = _article_headings(_entry_lines_as_headings(_short_lines_as_text(elements)), 1)
        return _numbered_headings(_closing_lines_as_text(elements)), [], {}


def _entry_lines_as_headings(elements: list[Element]) -> list[Element]:
    """A plain-text file's dated entries and release notes' entries (:func:`_short_heading`: "2026年11月15日
    - 燃气表更换", "Fixed: Calendar export") that the partitioner took for text, as headings, at the
    level of an entry line it took for one (else 1): of a notice's two entries, the one with the
    shorter title was read as a sentence, run into the entry above it and quoted in its answers
    ("…第二档、第三档价格不变。2026年11月15日 - 燃气表更换"). Only a line with text under it, and not
    one of a run of such lines: a schedule ("2026年11月3日 滨江路、江南大道沿线" / "2026年11月5日 解放路…")
    is text, and made headings its lines were in no chunk (a regression hunt's)."""

    def entry(i: int) -> bool:
        el = elements[i]
        return el.kind == "paragraph" and _own_line(el.text.strip()) and not _article_kind(el.text)

    taken = [el.level for el in elements if el.kind == "heading" and _short_heading(el.text) and not _article_kind(el.text)]
    level = taken[0] if taken else 1
    out = list(elements)
    for i in range(len(elements) - 1):
        # (articles: _article_headings, by their kinds)
        if entry(i) and elements[i + 1].kind != "heading" and not entry(i + 1) and not (i and entry(i - 1)):
            out[i] = replace(elements[i], kind="heading", level=level)
    return out


# a line that goes on in the next: it ends with a word that joins it to what follows
# a greeting or a Q/A label opens a letter's or a sheet's text, it heads none ("Hi John", "Dear
# customer", "尊敬的客户", "Q: Can I pay by invoice")
_NO_HEADING = re.compile(r"(?i)^\s*(?:(?:hi|hello|hey|dear|greetings)\b|(?:尊敬的|亲爱的|您好|你好)|(?:q|a|question|answer|问|答)\s*[:：])")
_RUNS_ON_WORD = re.compile(r"(?i)(?<![\w-])(?:a|an|the|and|or|of|to|in|on|for|with|by|at|from|as|if|that|your|our)\s*$")
PROSE_END = re.compile(r"[.!?。！？]['\"”’)）]*\s*$")  # a line ended as a sentence is


def _heading_lines_apart(text: str) -> str:
    """A plain-text file's headings written on the line just above their text, apart from it: the
    partitioner reads the lines between blank lines as one paragraph, so "Bag drop\nIf you
    checked in online, drop your bags ..." was one paragraph, quoted as "Bag drop If you checked
    in online ...", and its section had no heading. A paragraph's first line is a heading where it
    could be one (:func:`_plausible_heading`: short, not ending like a sentence), is at most half
    as wide as the widest of the lines after it and does not run on into them (a line of a hard-
    wrapped paragraph is as wide as the others, and one ending "... of the" goes on), and the lines
    after it end as prose does."""
    blocks = re.split(r"(\n[ \t]*\n)", text)
    for i in range(0, len(blocks), 2):
        lines = blocks[i].strip("\n").split("\n")
        if len(lines) < 2:
            continue
        first, rest = lines[0].strip(), [line.strip() for line in lines[1:]]
        if (
            first
            and _plausible_heading(first)
            and not _RUNS_ON_WORD.search(first)
            and not _NO_HEADING.match(first)
            and not rest[0][:1].islower()  # "The customer must pay\nthe delivery fee ...": one sentence
            and not _LIST_LINE.match(first)
            and (2 * display_width(first) <= max(display_width(line) for line in rest) or _short_heading(first))
            and PROSE_END.search(rest[-1])
        ):
            blocks[i] = lines[0] + "\n\n" + "\n".join(lines[1:])
    return "".join(blocks)


def _own_line(line: str) -> bool:
    """Whether a line of plain text is a heading that no wrapped sentence runs on from: a dated
    entry's or an article's line, however wide ("2027年2月1日 境外汇款手续费调整" was run into the
    sentence under it as one wrapped line)."""
    return _plausible_heading(line) and _short_heading(line)


def _short_heading(line: str) -> bool:
    """Whether a line above its paragraph heads it however short that paragraph is: a release note's
    "Changed: ..." entry, a notice's dated entry ("July 15, 2026 - Expedited debit card delivery (in
    effect)" over its one sentence was run into it, quoted as part of it, and its text cited under
    the entry before), or a policy's article ("第五条 二手车质保转移")."""
    return bool(_CHANGE_HEADING.match(line) or _DATED_HEADING.match(line) or _article_kind(line))


# a dated entry's line: a date, then apart from it its title ("March 1, 2026 - Overdraft fee reduced",
# "2026年3月1日 透支费下调"); a date alone is a letter's or a notice's date, not an entry's heading, and one
# that runs into its words ("2026年3月1日起，…") opens a sentence
_DATED_HEADING = re.compile(rf"(?i)^\s*{_DATE}(?:\s*[-–—:：|]\s*|\s+)[^\W\d_]")

# a policy's article, section or chapter line: "第五条 二手车质保转移", "第一章　总则", "第3节 退款" (the title
# short, without a sentence's or a clause's end: "第五条 本政策自2026年1月1日起施行。" is the article's text)
_ARTICLE_LINE = re.compile(r"^\s*第\s*[一二三四五六七八九十百千零〇\d]{1,6}\s*([章节条])(?:[\s\u3000]*|[\s\u3000]*[:：][\s\u3000]*)(\S.*)$")
_ARTICLE_TITLE_MAX = 40  # display columns: 20 Chinese characters
_ARTICLE_RANK = {"章": 0, "节": 1, "条": 2}


def _article_kind(text: str) -> str | None:
    """"章", "节" or "条" where ``text`` is one line naming an article, a section or a chapter with a
    short title (:data:`_ARTICLE_LINE`), alone on its paragraph; else None."""
    m = _ARTICLE_LINE.match(text)
    if m is None or "\n" in text.strip():
        return None
    title = m.group(2).strip()
    # (no sentence's or clause's end at its end, nor a sentence's inside it)
    if display_width(title) > _ARTICLE_TITLE_MAX or title[-1] in _NOT_HEADING_END:
        return None
    if any(ch in "。！？；!?;" for ch in title):
        return None
    return m.group(1)


def _article_headings(elements: list[Element], base: int) -> list[Element]:
    """``elements`` with each paragraph (or list item) that is an article's line (:func:`_article_kind`)
    as a heading: a policy written in Word with "第一条 总则" ... "第五条 二手车质保转移" as plain short
    paragraphs had no heading but its title, so its chunks ran across articles, every citation named
    the document alone, and "第五条 二手车质保转移" was quoted as a stray sentence of answers. Chapters
    are above sections, sections above articles, from level ``base`` down, by the kinds the
    document uses (one that numbers only articles has them all at ``base``). A heading already
    naming an article keeps its level, and the plain lines of its kind take it."""
    found = [_article_kind(el.text) for el in elements]
    kinds = {k for k in found if k is not None}
    if not kinds:
        return elements
    level: dict[str, int] = {}
    for el, k in zip(elements, found, strict=True):
        if k is not None and el.kind == "heading":
            level.setdefault(k, el.level)
    for rank, k in enumerate(sorted(kinds, key=_ARTICLE_RANK.__getitem__)):
        level.setdefault(k, min(base + rank, 6))
    return [
        replace(el, kind="heading", level=level[k]) if k is not None and el.kind in ("paragraph", "list_item") else el
        for el, k in zip(elements, found, strict=True)
    ]


def _short_lines_as_text(elements: list[Element]) -> list[Element]:
    """A plain-text file's runs of short lines as its text, not as headings: the partitioner takes
    a short line without a full stop for a title, and a heading is kept only as the name of the
    text under it, so of an address ("门店地址：" / "上海市徐汇区" / "漕溪北路88号" / "二楼201室") or a
    verse every line but the last was in no chunk, and "门店地址在哪里？" was told "门店地址：". In a
    run of three headings or more the first stays one ("温馨提示" before the verse; a title and a
    section's heading are two) and the others are lines of text; a line after a label that ends with
    a colon is its value."""
    out = list(elements)
    i = 0
    while i < len(elements):
        if elements[i].kind != "heading":
            i += 1
            continue
        j = i
        while j < len(elements) and elements[j].kind == "heading":
            j += 1
        if i and elements[i - 1].text.rstrip().endswith((":", "：")):
            first = i  # the label's value, every line of it
        else:
            first = i + 1 if j - i >= 3 else j
        out[first:j] = [replace(el, kind="paragraph", level=0) for el in elements[first:j]]
        i = j
    return out


# a letter's or notice's date under its signature, a place before it or not: "2026年1月15日", "二〇二六年
# 一月十五日", "London, 12 March 2026"
_ZH_NUMERAL = "〇○零一二三四五六七八九十"
_CLOSING_DATE = re.compile(
    rf"(?i)^\s*(?:[^\W\d][^,，\d]{{0,20}}[,，]\s*)?(?:{_DATE}"
    rf"|[{_ZH_NUMERAL}]{{2,4}}\s*年\s*[{_ZH_NUMERAL}]{{1,2}}\s*月(?:\s*[{_ZH_NUMERAL}]{{1,3}}\s*[日号])?)\s*$"
)
# the words a letter or notice is closed with, before its signature: "Sincerely,", "Kind regards",
# "此致 敬礼", "特此公告。"
_VALEDICTION = re.compile(
    r"(?i)^\s*(?:(?:yours\s+)?(?:sincerely|faithfully|truly|cordially|respectfully)(?:\s+yours)?"
    r"|(?:with\s+)?(?:best|kind|warm|warmest|many)?\s*(?:regards|wishes|thanks)|thank\s+you|cheers"
    r"|此致(?:\s*敬礼)?|敬礼|特此(?:公告|通知|说明|声明|函告|告知))[\s,，.。!！]*$"
)


def _closing_line(el: Element) -> bool:
    """Whether an element is one line of what may close a document: a short line that reads as a
    heading (a name, a company, a department), a date, a closing word ("此致" / "敬礼！") or one of the
    document's particulars."""
    text = el.text
    return el.kind in ("heading", "paragraph") and "\n" not in text and len(text) <= 60 and (
        _plausible_heading(text) or _CLOSING_DATE.match(text) is not None or _VALEDICTION.match(text) is not None
        or _label_value(text))


_CLOSING_LINES_MAX = 4


def _closing_lines_as_text(elements: list[Element]) -> list[Element]:
    """A plain-text letter's or notice's closing lines, its signature and date ("…特此公告。" /
    "安康人寿保险股份有限公司" / "2026年1月15日", "Sincerely," / "The Acme team"), as its text, not as a
    heading: the partitioner takes the company's line for a title, and the last chunk, titled by it,
    held the signature alone (under the document's title), so "2026年3月1日" found it before the
    paragraph that says what changes then. The short lines after the last paragraph are a signature
    where one is a date or they follow a closing word ("Sincerely,", "特此公告。"); else only the
    headings at the very end, with nothing under them, are text. A section at the end ("Opening
    hours" / "Mon-Fri 9:00-17:00") keeps its heading. The lines close the paragraph before them, a
    line each: as paragraphs of their own they were packed into a chunk of next to no text but the
    document's title, which the date in the title found first all the same."""
    start = len(elements)
    # (a signature is a few lines: a name, a company, a place and a date; more short lines before a
    # date are a document's own, "Basic plan" / "10 EUR per month" / "Premium plan" / ...)
    while start > 0 and len(elements) - start < _CLOSING_LINES_MAX and _closing_line(elements[start - 1]):
        start -= 1
    if start == 0 or start == len(elements):  # no paragraph before them, or no lines after it
        return elements
    if _label_value(elements[start].text) or _PARTICULAR.fullmatch(" ".join(elements[start].text.split())):
        # a section of the document's particulars, "Effective date" / "1 March 2026": its heading
        # stays, and what is under it is its text
        return [*elements[: start + 1], *(replace(el, kind="paragraph", level=0) for el in elements[start + 1:])]
    tail = elements[start:]
    signed = _VALEDICTION.match(elements[start - 1].text) is not None or any(
        _CLOSING_DATE.match(el.text) or _VALEDICTION.match(el.text) for el in tail)
    if not signed:  # only the headings with nothing under them
        while start < len(elements) and any(el.kind != "heading" for el in elements[start:]):
            start += 1
    if start == len(elements):
        return elements
    last = elements[start - 1]
    if last.kind == "paragraph":  # read with it, a line each: alone they made a chunk with next to no text
        return [*elements[: start - 1], replace(last, text="\n".join(el.text for el in elements[start - 1:]))]
    return [*elements[:start], *(replace(el, kind="paragraph", level=0) for el in elements[start:])]


_LIST_LINE = re.compile(r"(?m)^[ \t]*(?:\d{1,2}[.)]|[-*•·▪●])[ \t]+\S.*$")
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+(\S.*)$")


def _numbered_headings(elements: list[Element]) -> list[Element]:
    """A plain-text page's numbered section titles as headings: a numbered line that reads as a
    heading (short, ending no sentence) before a paragraph ("4. Warranty" / "The router has ...") or
    before a list numbered from 1 again ("2. Getting started" / "1. Unplug the modem."). As list
    items they ran into the list before them ("... $49 for a wall mount kit; Warranty")."""
    out = list(elements)
    for i, el in enumerate(elements):
        m = _NUMBERED.match(el.text) if el.kind == "list_item" else None
        if m is None or not _plausible_heading(m.group(2)) or len(m.group(2).split()) > 8:
            continue
        nxt = elements[i + 1] if i + 1 < len(elements) else None
        restarts = nxt is not None and nxt.kind == "list_item" and (n := _NUMBERED.match(nxt.text)) is not None \
            and n.group(1) == "1" and m.group(1) != "1"
        if nxt is not None and (nxt.kind == "paragraph" or restarts):
            out[i] = replace(el, kind="heading", level=2)
    return out


class DocxLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        if not data.startswith(b"PK"):
            raise CorruptFileError(f"{path.name}: not a valid DOCX file", "re-save it from Word as .docx")
        from unstructured.partition.docx import partition_docx

        try:
            _fast_unstructured()
            els = partition_docx(file=io.BytesIO(_docx_as_shown(data)), **_NO_LANG)
        except MemoryError:
            raise _out_of_memory(path.name) from None
        except Exception as ex:  # python-docx / zipfile raise many types for damaged files
            raise CorruptFileError(
                f"{path.name}: cannot read DOCX ({type(ex).__name__})", "re-save it from Word as .docx"
            ) from None
        meta: dict[str, Any] = {}
        try:
            import docx

            title = docx.Document(io.BytesIO(data)).core_properties.title
            if title and title.strip():
                meta["title"] = title.strip()
        except Exception:  # core properties are optional
            pass
        elements = _nested_folded(_from_unstructured(els))
        # articles typed as plain paragraphs go under the headings Word styled (a Title: level 1)
        styled = max((e.level for e in elements if e.kind == "heading" and _article_kind(e.text) is None), default=0)
        return _article_headings(elements, styled + 1) + _docx_notes(data, elements), [], meta


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"


def _docx_as_shown(data: bytes) -> bytes:
    """The document as Word shows it, in the plain paragraphs and runs unstructured reads: text in
    a content control (``w:sdt``: a template's fields, a "Policy summary" block), a tracked change's
    insertion (``w:ins``; a deletion left out), a run in a smart tag or custom XML, and a text box
    (the floating kind Word inserts by default, or the older VML one), as paragraphs after the one
    it is anchored in. unstructured reads a paragraph's own runs only: "You can cancel within 14
    days" was stored as "You can cancel within of receiving your documents", and a £120 excess
    inserted with Track Changes on was in no chunk, without a word at ingest. A table of contents
    in a content control stays out, as before. ``data`` comes back as it was where its XML
    cannot be read (the partitioner then says what is wrong)."""
    from lxml import etree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read("word/document.xml")
            root = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
            infos = z.infolist()
            parts = {i.filename: z.read(i.filename) for i in infos if i.filename != "word/document.xml"}
    except (zipfile.BadZipFile, KeyError, etree.LxmlError, OSError):
        return data
    changed = False

    def unwrap(el: Any, into: Any = None) -> None:
        parent = el.getparent()
        if parent is None:
            return
        at = parent.index(el)
        for child in list(into if into is not None else el):
            parent.insert(at, child)
            at += 1
        parent.remove(el)

    for el in list(root.iter(f"{_W}del", f"{_W}moveFrom", f"{_MC}Fallback")):
        if el.getparent() is not None:
            el.getparent().remove(el)
            changed = True
    for el in list(root.iter(f"{_W}sdt")):
        gallery = el.find(f"{_W}sdtPr/{_W}docPartObj/{_W}docPartGallery")
        if (gallery is not None and "contents" in (gallery.get(f"{_W}val") or "").lower()) or \
                el.find(f"{_W}sdtPr/{_W}showingPlcHdr") is not None:
            # a table of contents, or a control still showing its placeholder ("Click or tap here to
            # enter text.", "[Document subtitle]"): no text of the document's
            el.getparent().remove(el)
        else:
            content = el.find(f"{_W}sdtContent")
            if content is None:
                el.getparent().remove(el)
            else:
                unwrap(el, content)
        changed = True
    for el in list(root.iter(f"{_W}ins", f"{_W}moveTo", f"{_W}smartTag", f"{_W}customXml", f"{_MC}AlternateContent",
                             f"{_MC}Choice")):
        if el.tag in (f"{_W}customXml", f"{_W}smartTag"):
            for pr in el.findall(f"{_W}customXmlPr") + el.findall(f"{_W}smartTagPr"):
                el.remove(pr)
        unwrap(el)
        changed = True
    # text boxes: their paragraphs after the body paragraph (or table cell's) they are anchored in,
    # in their order (every box of a group of shapes), and then the runs that held them go
    last: dict[Any, Any] = {}  # a paragraph -> the last block put after it
    runs: list[Any] = []
    for box in list(root.iter(f"{_W}txbxContent")):
        if any(a.tag == f"{_W}txbxContent" for a in box.iterancestors()):
            continue  # a box in a box goes with the outer one
        para = next((a for a in box.iterancestors() if a.tag == f"{_W}p"
                     and not any(b.tag == f"{_W}txbxContent" for b in a.iterancestors())), None)
        run = next((a for a in box.iterancestors() if a.tag == f"{_W}r"), None)
        if para is None or run is None:
            continue
        after = last.get(para, para)
        for block in list(box):
            if block.tag in (f"{_W}p", f"{_W}tbl"):
                after.addnext(block)
                after = block
        last[para] = after
        if all(r is not run for r in runs):
            runs.append(run)
    for run in runs:
        if run.getparent() is not None:
            run.getparent().remove(run)
            changed = True
    if not changed:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in infos:
            z.writestr(info, etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
                       if info.filename == "word/document.xml" else parts[info.filename])
    return out.getvalue()


def _docx_notes(data: bytes, elements: Sequence[Element]) -> list[Element]:
    """A Word document's footnotes and endnotes, as a last section of their own ("Notes", "注释"):
    unstructured reads neither, and "Flight duration is measured from scheduled departure to
    scheduled arrival, including layovers shorter than three hours." was in no chunk, unsaid.
    (Their reference marks are gone from the text they qualify; a note is read on its own.)"""
    from lxml import etree

    notes: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for part, tag in (("word/footnotes.xml", "footnote"), ("word/endnotes.xml", "endnote")):
                if part not in z.namelist():
                    continue
                root = etree.fromstring(z.read(part), etree.XMLParser(resolve_entities=False, no_network=True))
                for note in root.iter(f"{_W}{tag}"):
                    if note.get(f"{_W}type") in ("separator", "continuationSeparator", "continuationNotice"):
                        continue
                    paras = ["".join(t.text or "" for t in p.iter(f"{_W}t")) for p in note.iter(f"{_W}p")]
                    text = " ".join(" ".join(x.split()) for x in paras if x.strip())
                    if text:
                        notes.append(without_controls(text))
    except (zipfile.BadZipFile, KeyError, etree.LxmlError):
        return []
    if not notes:
        return []
    top = min((e.level for e in elements if e.kind == "heading"), default=1)
    chinese = any(_looks_cjk(n) for n in notes)
    return [Element("heading", "注释" if chinese else "Notes", top), *(Element("paragraph", n) for n in notes)]


# --------------------------------------------------------------------------------------------
# PDF


class PdfLoader:
    """Text layer per page with pdfminer.six layout analysis; headings from font size."""

    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        # pypdf logs what it finds wrong ("EOF marker not found") where no logging is set up, a
        # reindex worker's stderr: the failure is reported once, as a one-line error, below
        logging.getLogger("pypdf").setLevel(logging.ERROR)

        if not _pdf_header(data):
            raise CorruptFileError(f"{path.name}: not a PDF file (no %PDF header)", "re-export it as PDF")
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                ok = False
                try:
                    ok = bool(reader.decrypt(""))
                except Exception:
                    ok = False
                if not ok:
                    raise EncryptedFileError(
                        f"{path.name}: PDF is password-protected", "save an unencrypted copy and ingest that"
                    )
            n_pages = len(reader.pages)
            info = reader.metadata
            meta: dict[str, Any] = {}
            pdf_title = str(info.title).strip() if info is not None and info.title else ""
            # producers fill in junk titles ("untitled", "Microsoft Word - x.docx", a file name)
            if pdf_title and not _JUNK_PDF_TITLE.search(pdf_title):
                meta["title"] = pdf_title
        except EncryptedFileError:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, OSError) as ex:
            raise CorruptFileError(f"{path.name}: damaged PDF ({type(ex).__name__})", "re-export it as PDF") from None
        if n_pages == 0:
            raise CorruptFileError(f"{path.name}: PDF has no pages", "re-export it as PDF")
        try:
            boxes = list(_pdf_boxes(data, password="" if reader.is_encrypted else None))
        except Exception as ex:
            name = type(ex).__name__
            if "Password" in name or "Encrypt" in name:
                raise EncryptedFileError(
                    f"{path.name}: PDF is password-protected", "save an unencrypted copy and ingest that"
                ) from None
            raise CorruptFileError(f"{path.name}: damaged PDF ({name})", "re-export it as PDF") from None
        if not any(b.text.strip() for b in boxes):
            raise NoTextLayerError(
                f"{path.name}: scanned PDF without text", "OCR it first (e.g. ocrmypdf) and ingest the result"
            )
        return _pdf_elements(boxes), [], meta


_BULLET_GLYPHS = frozenset("-•●▪◦*·–")


class _PdfBox(NamedTuple):
    """A PDF text block: its page, font size and text; whether it is set in bold throughout; and
    where it is one bold line, what is around it (:class:`_BoldCue`), to tell a heading set in
    bold at the body's size from a table's header or a bold list."""

    page: int
    size: float
    text: str
    bold: bool = False
    cue: _BoldCue | None = None
    table: bool = False  # a table drawn with ruling lines: ``text`` is its Markdown


@dataclass(frozen=True)
class _BoldCue:
    beside: bool  # another line of text on its baseline (a table's header cell, a second column)
    below_size: float  # the line right under it, in its column
    below_bold: bool
    below_beside: bool
    below_line: Any = field(default=None, compare=False)


def _pdf_boxes(data: bytes, password: str | None) -> Iterable[_PdfBox]:
    """Text blocks (:class:`_PdfBox`), in reading order. A list item starts a
    block of its own, with its bullet even where the PDF draws the bullet as a separate glyph
    (layout analysis then puts it in another box, or after its text). A word broken at a line's
    end is made one again by the document's own words (:func:`_join_lines`)."""
    blocks = list(_pdf_blocks(data, password))
    words = hyphen_words("\n".join(line for _, block, _ in blocks if not block.table for line in block.lines))
    for page_no, block, cue in blocks:
        if block.table:
            yield _PdfBox(page_no, block.size, block.lines[0], table=True)
        else:
            yield _PdfBox(page_no, block.size, _join_lines(block.lines, words), block.bold, cue)


# a font's name that says bold (or a weight heavier): "Helvetica-Bold", "ABCDEF+Arial,Bold",
# "Arial-BoldMT", "Segoe UI Semibold", "Arial Black"; Chinese text is set bold in a Hei face
_BOLD_FONT = re.compile(r"bold|black|heavy|simhei|heiti|黑体", re.IGNORECASE)


def _is_bold_font(name: Any) -> bool:
    if isinstance(name, bytes):  # a name in the producer's code page ("黑体" in GBK)
        for enc in ("utf-8", "gbk"):
            with contextlib.suppress(UnicodeDecodeError):
                name = name.decode(enc)
                break
    return _BOLD_FONT.search(str(name)) is not None


def _line_bold(line: Any) -> bool:
    """Whether every glyph of a pdfminer text line with a letter or digit is set in a bold font."""
    from pdfminer.layout import LTChar

    fonts = [ch.fontname for ch in line if isinstance(ch, LTChar) and ch.get_text().strip()]
    return bool(fonts) and all(_is_bold_font(f) for f in fonts)


def _pdf_blocks(data: bytes, password: str | None) -> Iterable[tuple[int, _PdfBlock, _BoldCue | None]]:
    """(page number, block, its cue where it is one bold line) per text block, as :func:`_pdf_boxes`."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    for page_no, page in enumerate(
        extract_pages(io.BytesIO(data), password=password or "", laparams=LAParams()), start=1
    ):
        boxes = [
            [line for line in box if isinstance(line, LTTextLine) and line.get_text().strip()]
            for box in page
            if isinstance(box, LTTextContainer)
        ]
        # a table drawn with ruling lines is read as one, its cells by row: cell by cell, as loose
        # lines, no row's fee could be told from another's ("Debit card" / "Standard" / "$0" / ...)
        tables = _ruled_tables(page, [line for box in boxes for line in box])
        in_table = {id(line): t for t in tables for line in t.lines}
        # a bullet glyph without a width (an unmapped one, "(cid:127)") is a line of no box of its
        # own: layout analysis sets it apart as empty. It is looked for as a bullet, never read.
        loose = [obj for obj in page if isinstance(obj, LTTextLine) and _is_bullet_glyph(obj.get_text().strip())]
        bullets, bulleted = _drawn_bullets([line for box in boxes for line in box if id(line) not in in_table] + loose)
        blocks: list[_PdfBlock] = []
        read: list[tuple[Any, float]] = []  # the page's lines read as text, with their font size
        bold: dict[int, bool] = {}  # whether each line read is bold throughout, by id
        for box in boxes:
            # one box may mix a heading line and body lines, or several list items: split it by
            # line font size and at each bullet or Chinese item mark ("1、", "（一）")
            current: _PdfBlock | None = None
            for line in box:
                text = _without_cids(line.get_text().strip())
                if id(line) in bullets or not text:
                    continue  # a bullet drawn apart: it was given to the line it marks
                if id(line) in bulleted:
                    text = "- " + text
                sizes = [round(ch.size, 1) for ch in line if isinstance(ch, LTChar)]
                size = Counter(sizes).most_common(1)[0][0] if sizes else 0.0
                read.append((line, size))  # a table's lines too: what is around a heading above it
                bold[id(line)] = is_bold = _line_bold(line)
                table = in_table.get(id(line))
                if table is not None:
                    if not table.read:  # the table stands where its first line is read
                        table.read = True
                        blocks.append(_PdfBlock(table.size, [table.markdown], line, line, table=True))
                    current = None
                    continue
                if (
                    current is None or abs(size - current.size) > 0.5 or _BULLET.match(text) or CJK_ITEM.match(text)
                    # a heading set in bold at the body's size, in one box with the text under it
                    or (current.bold and not is_bold and len(current.lines) == 1 and _heading_text(current.lines[0]))
                ):
                    current = _PdfBlock(size, [text], line, line, is_bold)
                    blocks.append(current)
                else:
                    current.lines.append(text)
                    current.last = line
                    current.bold = current.bold and is_bold
        joined = _runs_joined(blocks, read)
        cues = {id(b): _bold_cue(b, read, bold) for b in joined if b.bold and len(b.lines) == 1}
        for block in _under_their_headings(joined, cues):
            yield page_no, block, cues.get(id(block))


@dataclass
class _PdfBlock:
    size: float
    lines: list[str]
    first: Any  # the pdfminer text lines it begins and ends with
    last: Any
    bold: bool = False  # every line bold throughout
    table: bool = False  # a ruled table: ``lines`` is its Markdown alone


def _runs_joined(blocks: list[_PdfBlock], read: list[tuple[Any, float]]) -> list[_PdfBlock]:
    """A page's blocks with a sentence that runs on from one into the next made one block. Layout
    analysis puts lines of Chinese set 1.5 apart in boxes of their own, and an item's wrapped
    line apart from the line with its bullet: "人为损坏、进水及私自拆机" / "不在保修范围内。" were
    two sentences, each cited. A block runs on into the next where: their font sizes are alike;
    the next's first line is right under the last line of the other, starts at about its left
    edge (up to an indent either way) and does not open a list item; that line reaches the right
    edge of its column (a short line is a heading's or a sentence's end); not both lines have text
    beside them (a table's row); and the text runs on (:func:`~ingest.cleaning.runs_on`: not after a
    sentence's or a label's end; Chinese text, or a lowercase word)."""
    out: list[_PdfBlock] = []
    for block in blocks:
        prev = out[-1] if out else None
        if prev is not None and _runs_into(prev, block, read):
            prev.lines.extend(block.lines)
            prev.last = block.last
            prev.bold = prev.bold and block.bold
        else:
            out.append(block)
    return out


def _runs_into(a: _PdfBlock, b: _PdfBlock, read: list[tuple[Any, float]]) -> bool:
    if a.table or b.table:
        return False
    if abs(a.size - b.size) > 0.5 or runs_on(a.lines[-1], b.lines[0]) is None or _BULLET.match(b.lines[0]):
        return False
    upper, lower = a.last, b.first
    height = upper.y1 - upper.y0
    em = max(a.size, 1.0)
    if not (-0.5 * height <= upper.y0 - lower.y1 <= height and -2.5 * em <= lower.x0 - upper.x0 <= 2 * em):
        return False
    right = max(line.x1 for line, size in read if abs(size - a.size) <= 0.5 and abs(line.x0 - upper.x0) <= 2.5 * em)
    if upper.x1 - upper.x0 < 0.8 * (right - upper.x0):
        return False
    return not (_beside(upper, read) and _beside(lower, read))


def _bold_cue(block: _PdfBlock, read: list[tuple[Any, float]], bold: dict[int, bool]) -> _BoldCue | None:
    """What is around a block of one bold line: the line right under it in its column (within
    three line heights), and whether text is beside it. None where there is no line under it, or
    where the line right above is bold at its size too (an item of a list set in bold)."""
    line = block.first
    height = max(line.y1 - line.y0, 1.0)
    below: Any = None
    for other, size in read:
        if other is line or other.x1 <= line.x0 or other.x0 >= line.x1:
            continue  # not in its column
        gap = line.y0 - other.y1
        if -0.3 * height <= gap <= 3 * height and (below is None or other.y1 > below[0].y1):
            below = (other, size)
        if -0.3 * height <= other.y0 - line.y1 <= 0.8 * height and bold.get(id(other)) and abs(size - block.size) <= 0.5:
            return None
    if below is None:
        return None
    return _BoldCue(_beside(line, read), below[1], bold.get(id(below[0]), False), _beside(below[0], read), below[0])


def _under_their_headings(blocks: list[_PdfBlock], cues: Mapping[int, _BoldCue | None]) -> list[_PdfBlock]:
    """A page's blocks with each bold line right before the block that begins under it. Layout
    analysis reads two columns' headings side by side before either column's text, and a heading
    under a table after the table's first column: "2. Booking Flights" was read before "Employees
    must submit ...", the first column's text, which was then cited under it."""
    out = list(blocks)
    for block in blocks:
        cue = cues.get(id(block))
        if cue is None:
            continue
        under = next((b for b in out if b.first is cue.below_line), None)
        if under is None or under is block:
            continue
        out.remove(block)
        out.insert(out.index(under), block)
    return out


def _beside(line: Any, read: list[tuple[Any, float]]) -> bool:
    """Whether another line of text is on ``line``'s baseline, left or right of it."""
    mid, half = (line.y0 + line.y1) / 2, (line.y1 - line.y0) / 2
    return any(
        other is not line and abs((other.y0 + other.y1) / 2 - mid) <= half and (other.x1 <= line.x0 or other.x0 >= line.x1)
        for other, _ in read
    )


def _drawn_bullets(lines: list[Any]) -> tuple[set[int], set[int]]:
    """Bullet glyphs drawn as text lines of their own, and the lines they mark (ids of both):
    the nearest line starting just right of the glyph (within 40 pt) on the same baseline. A
    glyph that marks no line ("-" in an empty table cell) stays text."""
    used: set[int] = set()
    marked: set[int] = set()
    for b in lines:
        if not _is_bullet_glyph(b.get_text().strip()):
            continue
        mid = (b.y0 + b.y1) / 2
        best, gap = None, 40.0
        for line in lines:
            if line is b or _is_bullet_glyph(line.get_text().strip()):
                continue
            half = max(line.y1 - line.y0, b.y1 - b.y0) / 2
            d = line.x0 - b.x1
            if abs((line.y0 + line.y1) / 2 - mid) <= half and 0 <= d < gap:
                best, gap = line, d
        if best is not None:
            used.add(id(b))
            marked.add(id(best))
    return used, marked


# pdfminer's text for a glyph its font does not map to Unicode: "(cid:127)" for the bullet of a
# standard font's list. It was indexed and quoted ("(cid:127) Alcoholic beverages, unless ...").
_CID = re.compile(r"\(cid:\d+\)")
_LEADING_CID = re.compile(r"^(?:\(cid:\d+\)\s*)+(?=\S)")


def _is_bullet_glyph(text: str) -> bool:
    return text in _BULLET_GLYPHS or _CID.fullmatch(text) is not None


def _without_cids(text: str) -> str:
    """A line's text without pdfminer's placeholders for unmapped glyphs: one that opens the line
    before its text is the line's bullet ("- "), one elsewhere is dropped (a glyph of no letter
    the reader can be given), as is a line of nothing else."""
    if "(cid:" not in text:
        return text
    text = _LEADING_CID.sub("- ", text)
    return " ".join(_CID.sub("", text).split())


def _join_lines(lines: list[str], words: frozenset[str] = frozenset()) -> str:
    """A block's lines as one text: a word broken at a line's end is one again, with or without
    its hyphen by :func:`~ingest.cleaning.rejoin_hyphenated` ("reim-" / "bursement", "pre-" /
    "approved"), Chinese lines run on without a space, others with one."""
    out = ""
    for line in lines:
        if not out:
            out = line
        elif (m := _LINE_END_PART.search(out)) and (n := _LINE_START_PART.match(line)):
            out = out[: m.start()] + rejoin_hyphenated(m.group(1), n.group(), words) + line[n.end():]
        elif out.endswith("-") and line[:1].islower():
            # a hyphen at a line's end that breaks no word (:data:`_LINE_END_PART`: "CC-" /
            # "licensed", "a-b-" / "c") is the word's own: kept, as :func:`~ingest.cleaning.
            # rejoin_broken_words` keeps it in plain text ("CClicensed" was read)
            out += line
        elif is_cjk(out[-1]) or is_cjk(line[0]):
            out += line
        else:
            out += " " + line
    return out


_LINE_END_PART = re.compile(r"(?<![\w-])([A-Za-z][a-z]*)-$")
_LINE_START_PART = re.compile(r"[a-z]+")


_BULLET = re.compile(r"^\s*(?:[-•●▪◦*·]|\(?\d{1,2}[.)]|[a-z][.)])\s+")


# a section's number opening a heading: "1." "2.1" "3)" and the Chinese marks ("一、" "第三条")
_SECTION_NO = re.compile(CJK_ITEM.pattern + r"|^\s*\d{1,2}(?:\.\d{1,2})*[.)]?\s")
# a line no heading ends with: a sentence's, a clause's or a label's end
_NOT_HEADING_END = frozenset(".。!！?？;；:：,，、…")


def _heading_text(text: str) -> bool:
    """Whether one line's text may be a heading: short (80 characters, 12 words, 30 Chinese
    characters at most), with a letter, not a sentence's or a label's end, not a bullet's item."""
    text = text.strip()
    return (
        0 < len(text) <= 80
        and len(text.split()) <= 12
        and sum(1 for ch in text if is_cjk(ch)) <= 30
        and text[-1] not in _NOT_HEADING_END
        and re.search(r"[^\W\d_]", text) is not None
        and not re.match(r"\s*(?:[-•●▪◦*·–]|[a-z][.)])\s", text)
    )


def _bold_heading(box: _PdfBox, body: float) -> bool:
    """Whether a block is a heading set in bold at about the body's size (Word's headings in a
    document's own font: "1. Reimbursement" in bold 11 pt over 10 pt text): one bold line, short,
    not a sentence, at least the body's size, followed by body text in its column (or by a table's
    bold header). A bold line with text beside it is a table's header cell unless it is numbered
    (two columns, each under its section's number)."""
    cue = box.cue
    if cue is None or not box.bold or box.size < body - 0.1 or not _heading_text(box.text):
        return False
    if cue.beside and not _SECTION_NO.match(box.text):
        return False
    if cue.below_bold:
        return cue.below_beside  # a table's header under the heading
    return abs(cue.below_size - body) <= 0.5


_MD_TABLE_MARKS = re.compile(r"(?m)^\|(?:---\|)+$|[|\s]")  # a Markdown table's rule and bars


# --------------------------------------------------------------------------------------------
# PDF tables drawn with ruling lines

_RULE_TOL = 2.0  # points: ruling lines this close are one, and meet
_RULE_MIN = 3.0  # the shortest ruling line read
_RULE_PAIRS_MAX = 250_000  # horizontal x vertical lines compared on a page; a drawing has more
_CELL_WORDS_MAX = 120  # a "cell" with more words is a page's frame around its text, not a table's
_CELL_CJK_MAX = 300


class _Rule(NamedTuple):
    at: float  # y of a horizontal line, x of a vertical one
    lo: float  # where it starts and ends along its length
    hi: float


@dataclass
class _PdfTable:
    lines: list[Any]  # the pdfminer text lines it holds
    markdown: str
    size: float
    read: bool = False  # set once it is placed among the page's blocks


def _rulings(page: Any) -> tuple[list[_Rule], list[_Rule]]:
    """A page's horizontal and vertical ruling lines (pdfminer's LTLine, and LTRect: a thin one is
    a line, another its four edges), each run of touching pieces on one line made one."""
    from pdfminer.layout import LTLine, LTRect

    hs: list[_Rule] = []
    vs: list[_Rule] = []
    for obj in page:
        if not isinstance(obj, LTLine | LTRect):
            continue
        x0, y0, x1, y1 = obj.x0, obj.y0, obj.x1, obj.y1
        if y1 - y0 <= _RULE_TOL and x1 - x0 >= _RULE_MIN:
            hs.append(_Rule((y0 + y1) / 2, x0, x1))
        elif x1 - x0 <= _RULE_TOL and y1 - y0 >= _RULE_MIN:
            vs.append(_Rule((x0 + x1) / 2, y0, y1))
        elif isinstance(obj, LTRect) and x1 - x0 >= _RULE_MIN and y1 - y0 >= _RULE_MIN:
            hs += [_Rule(y0, x0, x1), _Rule(y1, x0, x1)]
            vs += [_Rule(x0, y0, y1), _Rule(x1, y0, y1)]
    return _merged_rules(hs), _merged_rules(vs)


def _merged_rules(rules: list[_Rule]) -> list[_Rule]:
    """Rules on one line (within :data:`_RULE_TOL`) that touch or overlap, as one: a Word table's
    borders are drawn cell by cell."""
    out: list[_Rule] = []
    for r in sorted(rules, key=lambda r: (round(r.at / _RULE_TOL), r.lo)):
        last = out[-1] if out else None
        if last is not None and abs(last.at - r.at) <= _RULE_TOL and r.lo <= last.hi + _RULE_TOL:
            out[-1] = _Rule(last.at, last.lo, max(last.hi, r.hi))
        else:
            out.append(r)
    return out


def _meets(h: _Rule, v: _Rule) -> bool:
    return h.lo - _RULE_TOL <= v.at <= h.hi + _RULE_TOL and v.lo - _RULE_TOL <= h.at <= v.hi + _RULE_TOL


def _drawn(rules: list[_Rule], at: float, lo: float, hi: float) -> bool:
    """Whether one of ``rules`` runs at ``at`` past the middle of ``lo``..``hi``: the border
    between two cells is drawn."""
    mid = (lo + hi) / 2
    return any(abs(r.at - at) <= _RULE_TOL and r.lo - _RULE_TOL <= mid <= r.hi + _RULE_TOL for r in rules)


class _Sets:
    """Disjoint sets of ``n`` items (union-find): the rules of one grid, the cells of one merged cell."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


def _grids(hs: list[_Rule], vs: list[_Rule]) -> list[tuple[list[_Rule], list[_Rule]]]:
    """The sets of horizontal and vertical rules that meet one another, one set per drawn grid."""
    sets = _Sets(len(hs) + len(vs))
    for i, h in enumerate(hs):
        for j, v in enumerate(vs):
            if _meets(h, v):
                sets.join(i, len(hs) + j)
    groups: dict[int, tuple[list[_Rule], list[_Rule]]] = {}
    for i, h in enumerate(hs):
        groups.setdefault(sets.find(i), ([], []))[0].append(h)
    for j, v in enumerate(vs):
        groups.setdefault(sets.find(len(hs) + j), ([], []))[1].append(v)
    return [g for g in groups.values() if len(g[0]) >= 2 and len(g[1]) >= 2]


def _positions(rules: list[_Rule]) -> list[float]:
    """The distinct places of ``rules`` (those within :data:`_RULE_TOL` are one), ascending."""
    out: list[float] = []
    for at in sorted(r.at for r in rules):
        if not out or at - out[-1] > _RULE_TOL:
            out.append(at)
    return out


def _ruled_tables(page: Any, lines: list[Any]) -> list[_PdfTable]:
    """The tables a page draws with ruling lines (a grid of at least two rows and two columns, with
    text in two of each), each with the text lines inside it and its Markdown (:func:`_grid_table`).
    A grid of ruled lines with no text in it (a form's boxes, a chart) or one whose "cells" hold
    pages of text (a frame around the page) is not a table, and its text is read as before."""
    hs, vs = _rulings(page)
    if len(hs) < 2 or len(vs) < 2 or len(hs) * len(vs) > _RULE_PAIRS_MAX:
        return []
    out: list[_PdfTable] = []
    taken: set[int] = set()
    for gh, gv in _grids(hs, vs):
        ys, xs = _positions(gh), _positions(gv)
        if len(ys) < 3 or len(xs) < 3:
            continue
        inside = [
            line for line in lines
            if id(line) not in taken
            and xs[0] - _RULE_TOL <= (line.x0 + line.x1) / 2 <= xs[-1] + _RULE_TOL
            and ys[0] - _RULE_TOL <= (line.y0 + line.y1) / 2 <= ys[-1] + _RULE_TOL
        ]
        table = _grid_table(gh, gv, ys, xs, inside)
        if table is not None:
            taken.update(id(line) for line in inside)
            out.append(table)
    return out


def _grid_table(
    hs: list[_Rule], vs: list[_Rule], ys: list[float], xs: list[float], lines: list[Any]
) -> _PdfTable | None:
    """The table of one grid: its cells are the spaces between its rules, a cell whose border is
    not drawn merged with the cell beyond it (and written in every column and row it spans, as a
    DOCX's or a web page's merged cell is); each glyph of ``lines`` goes to the cell its middle is
    in, so a text line pdfminer reads across two cells ("Fee Arrives in") is cut between them."""
    import bisect

    from pdfminer.layout import LTChar

    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    tops = ys[::-1]  # rows from the top

    sets = _Sets(n_rows * n_cols)
    find = sets.find
    for r in range(n_rows):
        top, bottom = tops[r], tops[r + 1]
        for c in range(n_cols):
            left, right = xs[c], xs[c + 1]
            if c and not _drawn(vs, left, bottom, top):
                sets.join(r * n_cols + c, r * n_cols + c - 1)
            if r and not _drawn(hs, top, left, right):
                sets.join(r * n_cols + c, (r - 1) * n_cols + c)
    texts: dict[int, list[str]] = {}  # a merged cell's text, a piece per line of the PDF
    sizes: Counter[float] = Counter()
    for line in sorted(lines, key=lambda ln: (-round(ln.y1, 1), ln.x0)):
        pieces: dict[int, str] = {}
        cell: int | None = None
        for ch in line:
            if isinstance(ch, LTChar):
                x, y = (ch.x0 + ch.x1) / 2, (ch.y0 + ch.y1) / 2
                c = min(max(bisect.bisect_right(xs, x) - 1, 0), n_cols - 1)
                r = min(max(len(ys) - 1 - bisect.bisect_right(ys, y), 0), n_rows - 1)
                cell = find(r * n_cols + c)
                sizes[round(ch.size, 1)] += 1
            if cell is not None:
                pieces[cell] = pieces.get(cell, "") + ch.get_text()
        for cell_id, piece in pieces.items():
            text = _without_cids(" ".join(piece.split()))
            if text:
                texts.setdefault(cell_id, []).append(text)
    cells = {k: _join_lines(v) for k, v in texts.items()}
    rows = [[cells.get(find(r * n_cols + c), "").replace("|", "\\|") for c in range(n_cols)] for r in range(n_rows)]
    filled_rows = sum(1 for row in rows if any(row))
    filled_cols = sum(1 for c in range(n_cols) if any(row[c] for row in rows))
    if filled_rows < 2 or filled_cols < 2:
        return None
    if any(len(t.split()) > _CELL_WORDS_MAX or sum(1 for ch in t if is_cjk(ch)) > _CELL_CJK_MAX for t in cells.values()):
        return None
    kept = [row for row in rows if any(row)]
    empty_cols = [c for c in range(n_cols) if not any(row[c] for row in kept)]
    kept = [[cell for c, cell in enumerate(row) if c not in empty_cols] for row in kept]
    size = sizes.most_common(1)[0][0] if sizes else 0.0
    return _PdfTable(lines, rows_to_markdown(kept), size)


# a list item's number as the PDF writes it: "1." "2)" "(3)"
_ITEM_NUMBER = re.compile(r"^\s*(\(?\d{1,2}[.)])\s+")


def _item_text(text: str) -> str:
    """A list item's text: without its bullet, with its number as written ("1. Lock the card"), as
    the Markdown, HTML and plain-text loaders write a numbered list's items. The number was dropped,
    and the chunk read the four steps of "Reporting a lost or stolen card" as "- " bullets, which
    the composer does not tell for steps to say in order (the same steps in Markdown were)."""
    m = _ITEM_NUMBER.match(text)
    if m is not None:
        return f"{m.group(1)} {text[m.end():]}"
    return _BULLET.sub("", text, count=1)


def _pdf_elements(boxes: list[_PdfBox]) -> list[Element]:
    weights: Counter[float] = Counter()
    for box in boxes:
        weights[box.size] += len(_MD_TABLE_MARKS.sub("", box.text) if box.table else box.text)
    body = weights.most_common(1)[0][0] if weights else 0.0
    bold_weight = sum(len(b.text) for b in boxes if b.bold and b.size == body)
    heading_sizes = sorted({b.size for b in boxes if b.size >= body * 1.15 and b.size > 0 and not b.table},
                           reverse=True)[:6]
    level_of = {s: i + 1 for i, s in enumerate(heading_sizes)}
    # headings in bold at about the body's size, where the body is not bold: the lowest levels
    bold_heads = (
        {i for i, b in enumerate(boxes) if b.size not in level_of and _bold_heading(b, body)}
        if bold_weight * 2 < weights[body] else set()
    )
    bold_sizes = sorted({boxes[i].size for i in bold_heads}, reverse=True)
    bold_level = {s: min(len(heading_sizes) + 1 + i, 6) for i, s in enumerate(bold_sizes)}
    out: list[Element] = []
    for i, (page, size, text, _, _, table) in enumerate(boxes):
        if table:
            out.append(Element("table", text, page=page))
        elif size in level_of and len(text) <= 150:
            out.append(Element("heading", text, level=level_of[size], page=page))
        elif i in bold_heads:
            out.append(Element("heading", text, level=bold_level[size], page=page))
        elif _BULLET.match(text):
            out.append(Element("list_item", _item_text(text), page=page))
        else:
            out.append(Element("paragraph", text, page=page))
    return out


# --------------------------------------------------------------------------------------------
# FAQ tables

QUESTION_NAMES = ("question", "questions", "q", "query", "faq", "faq_question", "问题", "问", "标准问题",
                  "常见问题", "提问", "问句", "咨询内容", "问题内容")
# (答复 is the word of government and 12345-hotline sheets; "回答内容", "解决方法" their columns' whole
# names: a QA round's 政务 FAQ, headed 序号/问题/答复/业务类别, was refused for want of an answer column)
ANSWER_NAMES = ("answer", "answers", "a", "response", "reply", "faq_answer", "resolution", "solution",
                "答案", "答", "回答", "回复", "解答", "标准答案", "答复", "答复内容", "回答内容", "回复内容", "答案内容",
                "话术", "回复话术", "标准话术", "答复口径")
# (the answer only where no column is named as one: a regression hunt's 问题 | 处理方法 | 参考答案, whose
# 处理方法 is the agents' routing note, "转理赔组", was read as the answer)
METHOD_ANSWER_NAMES = ("解决方法", "解决办法", "解决方案", "处理方法", "处理办法", "办理方法")
ID_NAMES = ("id", "faq_id", "faqid", "qid", "question_id", "编号", "序号")
TAG_NAMES = ("tags", "tag", "标签")
GROUP_NAMES = ("groups", "group", "access", "access_groups", "权限", "用户组")
CATEGORY_NAMES = ("category", "categories", "topic", "section", "类别", "分类")


def _norm_col(name: Any) -> str:
    text = unicodedata.normalize("NFKC", str(name if name is not None else "")).strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


def _find(cols: list[str], names: Sequence[str], taken: frozenset[int] = frozenset()) -> int | None:
    """The column named one of ``names``: as a whole, else (for a column no other role names as a
    whole, ``taken``) as one of its words, or the end of a Chinese one: "问题 Question", "Customer
    question", "Agent answer", "客户问题" (a bilingual or descriptive header was refused, though it
    says which column is which)."""
    for cand in names:
        for i, c in enumerate(cols):
            if c == cand:
                return i
    for cand in (n for n in names if len(n) > 1):
        cjk = not cand.isascii()
        for i, c in enumerate(cols):
            if i in taken:
                continue
            words = [w for w in re.split(r"[_\W]+", c) if w]
            if cand in words or (cjk and any(w.endswith(cand) for w in words)):
                return i
    return None


_EVERY_COLUMN_NAME = frozenset({
    *QUESTION_NAMES, *ANSWER_NAMES, *METHOD_ANSWER_NAMES, *ID_NAMES, *TAG_NAMES, *GROUP_NAMES, *CATEGORY_NAMES
})


_QA_COLUMN_NAMES = frozenset({*QUESTION_NAMES, *ANSWER_NAMES, *METHOD_ANSWER_NAMES})


def _named_whole(cols: list[str]) -> frozenset[int]:
    """The columns whose whole name is one of an FAQ table's column names ("question_id" is the
    id, whatever words it holds)."""
    return frozenset(i for i, c in enumerate(cols) if c in _EVERY_COLUMN_NAME)


def detect_columns(header: Sequence[Any], name: str) -> dict[str, int]:
    cols = [_norm_col(h) for h in header]
    whole = _named_whole(cols)
    q = _find(cols, QUESTION_NAMES, whole)
    taken = whole | ({q} if q is not None else set())
    a = _find(cols, ANSWER_NAMES, taken)
    if a is None:
        a = _find(cols, METHOD_ANSWER_NAMES, taken)
    if q is None or a is None or q == a:
        found = ", ".join(str(h) for h in header if h is not None and str(h).strip()) or "none"
        missing = "question" if q is None else "answer"
        accepted = "/".join(QUESTION_NAMES[:4] + ("问题",)) if q is None else "/".join(ANSWER_NAMES[:4] + ("答案", "答复"))
        raise MissingColumnsError(
            f"{name}: no {missing} column (found: {found})",
            f"name the columns question,answer (accepted {missing} names: {accepted}; optional: id, tags, groups, category)",
        )
    out = {"question": q, "answer": a}
    for key, names in (("id", ID_NAMES), ("tags", TAG_NAMES), ("groups", GROUP_NAMES), ("category", CATEGORY_NAMES)):
        i = _find(cols, names)
        if i is not None and i not in (q, a):
            out[key] = i
    return out


# rows above a table's header that a sheet may hold: a title (often merged across the columns), a
# date, a blank row
HEADER_SEARCH_ROWS = 10


def header_row(rows: Sequence[Sequence[Any]], name: str) -> int:
    """The index of the table's header among its first :data:`HEADER_SEARCH_ROWS` rows: the first
    that names a question and an answer column. A workbook exported with a title row and a blank
    row above the header was read as having no question column, and its sheet was left out. Where
    none does, the first that names one of them, else 0: its error says what it found (a QA round's
    sheet, headed in its third row, was told of its title row's cells)."""
    near: list[int] = []  # the rows that name one of them by a cell's whole name
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        try:
            detect_columns(row, name)
        except MissingColumnsError:
            if {_norm_col(h) for h in row} & _QA_COLUMN_NAMES:
                near.append(i)
            continue
        return i
    return near[0] if near else 0


def _cell_text(value: Any) -> str:
    """A table cell as text, without control characters (:func:`without_controls`, as documents'
    text through normalize_text): an answer is printed as stored."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return without_controls(str(value)).strip()


# the HTML a help centre's export leaves in a cell ("<p>Call <strong>1571</strong> …</p><ul><li>…"),
# and its entities ("It&rsquo;s free"); a tag of these names only: "<5 kg" and "a < b" are text
_PAIRED_TAGS = r"p|li|ul|ol|strong|b|i|em|u|a|span|div|h[1-6]|td|tr|th|table|tbody|thead|blockquote|code|font|small|sup|sub"
_MARKUP_TAG = re.compile(r"</?(?:" + _PAIRED_TAGS + r"|br|img|hr)\b[^<>]*>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:[a-z]{2,8}|#\d{2,6}|#x[0-9a-f]{2,5});", re.IGNORECASE)
# markup written as markup: a closing tag or a line break ("<Ctrl> + <P>", "Text REDEEM <code> to 80800"
# and "<sub-account number>" are a cell's placeholders, not tags)
_MARKUP_WRITTEN = re.compile(r"</(?:" + _PAIRED_TAGS + r")\s*>|<br\s*/?>|<hr\s*/?>", re.IGNORECASE)
_MARKUP_BREAK = re.compile(r"<br\b[^<>]*>|</(?:p|div|h[1-6]|tr|blockquote|ul|ol|table)\s*>|<hr\b[^<>]*>", re.IGNORECASE)


def _markup_as_text(text: str) -> str:
    """A table cell's HTML as the text it shows: a paragraph, a line break or a table row ends a
    line, a list item is a bullet, other tags go and entities are read. A QA round's help-centre
    export quoted "<p>Forward the text to <strong>7726</strong> [1]. It&rsquo;s free.</p>" as the
    answer, citation marks inside its markup."""
    if "<" not in text and "&" not in text:
        return text
    if not _MARKUP_WRITTEN.search(text):
        # no markup, perhaps entities ("It&rsquo;s"): read, and the rest as written
        return _ENTITY.sub(lambda m: html_lib.unescape(m.group(0)), text).replace("\xa0", " ")
    text = _MARKUP_BREAK.sub("\n", text)
    text = re.sub(r"<li\b[^<>]*>", "\n- ", text, flags=re.IGNORECASE)
    text = html_lib.unescape(_MARKUP_TAG.sub("", text)).replace("\xa0", " ")
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _label(row_id: str, question: str) -> str:
    return repr(row_id or (question if len(question) <= 40 else question[:39] + "…"))


def _rows_note(name: str, labels: list[str], what: str, then: str) -> str:
    n = len(labels)
    shown = ", ".join(labels[:3]) + (f" and {n - 3} more" if n > 3 else "")
    return f"{name}: {n} row{'s' if n > 1 else ''} {what} ({shown}); {then}"


def rows_to_faq(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], name: str, earlier: dict[str, tuple[str, str, str]] | None = None
) -> tuple[list[FaqRow], list[str]]:
    """The FAQ entries of a table, and a warning line for each kind of row that cannot be answered
    from: a question without an answer is left out (nothing to retrieve it for); one whose
    "answer" repeats the question (a bank of questions only) is kept, to be found by its
    question, but the assistant never quotes it as the answer.

    A question asked again (the same words, as :func:`indexes.text.same_words` reads them) with
    another answer is kept, and named in a warning with its rows: "Can I get a paper invoice?"
    answered both "cost 2 euros each" and "are free of charge", and either could be quoted
    without a word. Asked again with the same answer, the row is a copy: kept, and named in a
    milder warning. Not skipped: it is an entry with an id of its own (its sheet's, or the made
    one with "-2"), which feedback, citations and an evaluation set's gold may name, and a copy
    may differ in its tags or groups. ``earlier``: the questions of the tables read before (a
    workbook's other sheets), by :func:`indexes.text.words_key`, to which this table's are added."""
    cols = detect_columns(header, name)
    out: list[FaqRow] = []
    seen: Counter[str] = Counter()
    unanswered: list[str] = []
    unasked: list[str] = []
    echoed: list[str] = []
    # per question (words_key): its first row (question, answer, label), and the labels of the
    # rows that ask it with other answers, the first row's first
    firsts: dict[str, tuple[str, str, str]] = {} if earlier is None else earlier
    conflicts: dict[str, list[str]] = {}
    copies: list[str] = []
    renamed: dict[str, list[str]] = {}  # an id of the sheet given to rows after its first: their new ids
    for row in rows:
        cells = list(row)

        def get(key: str, cells: list[Any] = cells) -> str:
            i = cols.get(key)
            return _cell_text(cells[i]) if i is not None and i < len(cells) else ""

        question, answer = _markup_as_text(get("question")), _markup_as_text(get("answer"))
        if not question:
            if answer:  # an answer to no question: nothing asks for it, and it was dropped unsaid
                unasked.append(_label(get("id"), answer))
            continue  # a blank line, or a note under the table: nothing to retrieve
        if not answer:
            unanswered.append(_label(get("id"), question))
            continue
        if same_words(question, answer):
            echoed.append(_label(get("id"), question))
        key, label = words_key(question), _label(get("id"), answer)
        first = firsts.get(key)
        if first is None:
            firsts[key] = (question, answer, label)
        elif same_words(first[1], answer):
            copies.append(_label(get("id"), question))
        else:
            conflicts.setdefault(key, [first[2]]).append(label)
        faq_id = get("id") or faq_entry_id(question, answer)
        seen[faq_id] += 1
        if seen[faq_id] > 1:
            if get("id"):  # a made-up id repeats with a copy, which is named below already
                renamed.setdefault(faq_id, []).append(f"{faq_id}-{seen[faq_id]}")
            faq_id = f"{faq_id}-{seen[faq_id]}"
        meta: dict[str, Any] = {}
        where = f"{name} row {_label(get('id'), question)}"
        if get("tags"):
            meta["tags"] = _as_tuple(get("tags"), "tags", where)
        if get("groups"):
            meta["groups"] = _as_tuple(get("groups"), "groups", where)
        if get("category"):
            meta["category"] = get("category")
        out.append(FaqRow(faq_id, question, answer, meta))
    if not out:
        raise EmptyFileError(f"{name}: no rows with both a question and an answer", "fill in the table")
    warnings = []
    if unanswered:
        warnings.append(_rows_note(name, unanswered, "without an answer skipped", "fill in the answers and ingest again"))
    if unasked:
        warnings.append(_rows_note(name, unasked, "with an answer but no question skipped",
                                   "write their questions and ingest again"))
    if echoed:
        warnings.append(_rows_note(
            name, echoed, "whose answer repeats the question kept",
            "they are found by their question but never quoted as the answer; write the answers to have them quoted",
        ))
    if conflicts:
        # each question with the rows that answer it (by id, else by their answer's words)
        asked = [f"{_label('', firsts[k][0])} in rows {' / '.join(labels)}" for k, labels in conflicts.items()]
        n = len(asked)
        shown = "; ".join(asked[:3]) + (f" and {n - 3} more" if n > 3 else "")
        warnings.append(
            f"{name}: {n} question{'s' if n > 1 else ''} asked again with another answer ({shown}); every "
            "answer is kept and any may be quoted: keep the one that holds and ingest again"
        )
    if copies:
        warnings.append(_rows_note(name, copies, "repeating an earlier row's question and answer kept",
                                   "remove the copies unless their tags or groups set them apart"))
    if renamed:
        # tricky.csv gave id 7 to two questions: the second became "7-2" unsaid, and feedback,
        # citations and an evaluation set's gold that name entry 7 meant either
        n = len(renamed)
        shown = ", ".join(f"{_label(k, '')} as {' / '.join(repr(x) for x in v)}" for k, v in list(renamed.items())[:3])
        warnings.append(
            f"{name}: {n} id{'s' if n > 1 else ''} given to more than one row, the later rows stored under "
            f"another ({shown}{f' and {n - 3} more' if n > 3 else ''}); give each row an id of its own and ingest again"
        )
    # a column named as the question or answer column is, after it ("question,answer,question"): its
    # text was dropped without a word (QA 2026-12-07)
    normed = [_norm_col(h) for h in header]
    again = [str(header[j]).strip() for j, c in enumerate(normed)
             if c and j not in cols.values() and c in (normed[cols["question"]], normed[cols["answer"]])]
    if again:
        warnings.append(f"{name}: column{'s' if len(again) > 1 else ''} {', '.join(repr(h) for h in again)} left out: "
                        "another column of that name is read; merge them, or rename one and ingest again")
    return out, warnings


class CsvLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        text = decode_text(data, path.name)
        sample = text[:8192]
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        if delimiter == "," and sample.count("\t") > sample.count(",") and "\t" in sample.split("\n", 1)[0]:
            delimiter = "\t"
        elif delimiter == "," and ";" in sample.split("\n", 1)[0] and "," not in sample.split("\n", 1)[0]:
            delimiter = ";"
        # a cell as long as the file (a policy pasted into one answer): the csv module's default
        # limit, 128 KB, refused a valid 200 KB cell as "malformed CSV"
        csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
        except csv.Error as ex:
            if "unexpected end of data" in str(ex):
                # a quote that opens a field and never closes swallowed every row after it: read
                # so, the table had "no rows with both a question and an answer"
                raise CorruptFileError(
                    f'{path.name}: a quoted field is never closed (a " opens it and no " ends it)',
                    'close the quote, or write a quote inside a quoted field as "", and ingest again',
                ) from None
            try:  # a stray quote inside a field ('5" screen'): read as written
                rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
            except csv.Error as ex2:
                raise CorruptFileError(f"{path.name}: malformed CSV ({ex2})", "check its quoting (RFC 4180)") from None
        rows = [r for r in rows if any(c.strip() for c in r)]
        if not rows:
            raise EmptyFileError(f"{path.name}: the table is empty", "add a header row question,answer and rows")
        head = header_row(rows, path.name)
        body, note = _overfull_rows(rows[head], rows[head + 1 :], path.name, delimiter)
        faq, warnings = rows_to_faq(rows[head], body, path.name)
        return [], faq, {WARNINGS_KEY: warnings + ([note] if note else [])}


def _overfull_rows(
    header: list[str], rows: list[list[str]], name: str, delimiter: str
) -> tuple[list[list[str]], str | None]:
    """The rows of a delimited table, with the fields a row has beyond the header's read back into
    its answer where the answer is the last column (an answer with an unquoted comma: "Yes, gift
    wrap costs 3 dollars." was stored as "Yes"), and a warning naming those rows; None when none.
    Where another column comes last, the extra fields are left out, and the warning says so."""
    width = len(header)
    while width and not header[width - 1].strip():
        width -= 1  # "question,answer," has two columns
    over = [i for i, r in enumerate(rows) if any(c.strip() for c in r[width:])]
    if not over:
        return rows, None
    cols = detect_columns(header, name)  # the missing-columns error comes first, as without this
    last = cols["answer"] == width - 1
    fixed = list(rows)
    labels = []
    for i in over:
        r = rows[i]
        if last:
            fixed[i] = [*r[: width - 1], delimiter.join(r[width - 1 :]).rstrip(delimiter + " ")]
        q = cols["question"]
        row_id = r[cols["id"]].strip() if "id" in cols and cols["id"] < len(r) else ""
        labels.append(_label(row_id, r[q].strip() if q < len(r) else ""))
    went = "were read as part of the answer" if last else "were left out"
    then = f"their extra fields {went}; put each field that holds the delimiter in double quotes"
    return fixed, _rows_note(name, labels, f"with more fields than the header ({width})", then)


_MERGE_CELL = re.compile(r'<mergeCell\b[^>]*\bref="([A-Z]{1,3})(\d{1,7}):([A-Z]{1,3})(\d{1,7})"')
_SHEET = re.compile(r"<sheet\b[^>]*?\bname=\"([^\"]*)\"[^>]*?\br:id=\"([^\"]+)\"")
_REL = re.compile(r"<Relationship\b[^>]*>")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_ROW_TAG = re.compile(r"<row\b[^>]*>")
_ROW_NUMBER = re.compile(r'\br="(\d{1,7})"')
_ROW_HIDDEN = re.compile(r'\bhidden="(?:1|true)"')
_ROW_GROUPED = re.compile(r'\boutlineLevel="[1-9]"')
_FILTERED = re.compile(r"<filterColumn\b")


class _SheetLayout(NamedTuple):
    """What openpyxl's read-only sheets do not give: a sheet's merged cells, as (first row, first
    column, last row, last column), 1-based, and the rows hidden in it (not by a filter)."""

    merged: list[tuple[int, int, int, int]]
    hidden_rows: frozenset[int]


def _sheet_layouts(data: bytes) -> dict[str, _SheetLayout]:
    """Each sheet's :class:`_SheetLayout` (by its title), read from the workbook's XML."""
    out: dict[str, _SheetLayout] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            # an Excel table's filter lives in its own part (xl/tables/): any filter on, hidden rows are read
            filtered = any(_FILTERED.search(z.read(n).decode("utf-8", "replace"))
                           for n in names if n.startswith("xl/tables/") and n.endswith(".xml"))
            rels = {}
            for tag in _REL.findall(z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")):
                rid, target = re.search(r'\bId="([^"]+)"', tag), re.search(r'\bTarget="([^"]+)"', tag)
                if rid and target:
                    path = target.group(1).lstrip("/")
                    rels[rid.group(1)] = path if path.startswith("xl/") else f"xl/{path}"
            for name, rid in _SHEET.findall(z.read("xl/workbook.xml").decode("utf-8", "replace")):
                part = rels.get(rid)
                if part not in names:
                    continue
                xml = z.read(part).decode("utf-8", "replace")
                # (rows a filter hides are the table's all the same: the sheet, or a table of the
                # workbook, was saved filtered; so are the rows of a collapsed outline group)
                hidden = frozenset() if filtered or _FILTERED.search(xml) else frozenset(
                    int(n.group(1)) for tag in _ROW_TAG.findall(xml)
                    if _ROW_HIDDEN.search(tag) and not _ROW_GROUPED.search(tag) and (n := _ROW_NUMBER.search(tag)))
                out[html_lib.unescape(name)] = _SheetLayout([
                    (int(r1), _column_number(c1), int(r2), _column_number(c2)) for c1, r1, c2, r2 in _MERGE_CELL.findall(xml)
                ], hidden)
    except (KeyError, zipfile.BadZipFile, ValueError):
        return {}
    return out


def _fill_merged(rows: list[list[Any]], ranges: Sequence[tuple[int, int, int, int]]) -> None:
    """``rows`` with each merged cell's value in every cell it spans: a category or an answer merged
    over the rows of two wordings was the first row's alone, and the second question was skipped
    as "without an answer" (Excel keeps the value in the first cell only). A range reaches no
    further than the sheet's rows and widest row: a workbook may merge a whole sheet, A1:XFD1048576."""
    width = max((len(r) for r in rows), default=0)
    for r1, c1, r2, c2 in ranges:
        if r1 > len(rows) or c1 > len(rows[r1 - 1]):
            continue
        value = rows[r1 - 1][c1 - 1]
        c2 = min(c2, width)
        for r in range(r1, min(r2, len(rows)) + 1):
            row = rows[r - 1]
            row.extend([None] * (c2 - len(row)))
            for c in range(c1, c2 + 1):
                if row[c - 1] is None:
                    row[c - 1] = value


class XlsxLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        try:
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except MemoryError:
            raise _out_of_memory(path.name) from None
        except Exception as ex:
            raise CorruptFileError(
                f"{path.name}: cannot read the workbook ({type(ex).__name__})", "re-save it from Excel as .xlsx"
            ) from None
        try:
            # every sheet that is an FAQ table is read (only the first was: "Billing" after
            # "General" was left out unsaid); one that is not is named in a warning
            errors: list[MissingColumnsError] = []
            faq: list[FaqRow] = []
            warnings: list[str] = []
            skipped: list[str] = []
            ids: Counter[str] = Counter()
            # a question asked on two sheets with two answers is one asked again ("Billing" and
            # "General" both answering "Can I get a paper invoice?")
            earlier: dict[str, tuple[str, str, str]] = {}
            layouts = _sheet_layouts(data)
            hidden: list[str] = []
            hidden_rows: list[str] = []  # "2 on 'FAQ'"
            for ws in wb.worksheets:
                if getattr(ws, "sheet_state", "visible") != "visible":
                    # a sheet hidden in Excel holds drafts or notes as often as not: it answered
                    # customers, unsaid (QA 2026-12-07); it is left out, and named
                    hidden.append(repr(ws.title))
                    continue
                rows = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
                layout = layouts.get(ws.title)
                if layout is not None:
                    _fill_merged(rows, layout.merged)
                    # a row hidden in Excel is a retired or draft entry as a hidden sheet is ("RETIRED
                    # 2024: An engineer visit costs £99" was quoted as written): left out, and counted
                    gone = [i for i in layout.hidden_rows if i <= len(rows) and any(_cell_text(c) for c in rows[i - 1])]
                    for i in gone:
                        rows[i - 1] = []
                    if gone:
                        hidden_rows.append(f"{len(gone)} on {ws.title!r}")
                rows = [r for r in rows if any(_cell_text(c) for c in r)]
                if not rows:
                    continue
                head = header_row(rows, path.name)
                try:
                    got, said = rows_to_faq(rows[head], rows[head + 1 :], path.name, earlier)
                except (MissingColumnsError, EmptyFileError) as ex:
                    if isinstance(ex, MissingColumnsError):
                        errors.append(ex)
                    skipped.append(repr(ws.title))
                    continue
                for row in got:  # an id a sheet before used ("1" on every sheet) is made unique
                    ids[row.faq_id] += 1
                    faq.append(row if ids[row.faq_id] == 1 else replace(row, faq_id=f"{row.faq_id}-{ids[row.faq_id]}"))
                warnings.extend(said)
            unsaved = _unsaved_formulas(data, path.name) if not faq or warnings else None
            them = "them" if len(hidden) > 1 else "it"
            hidden_out = f"hidden sheet{'s' if len(hidden) > 1 else ''} {', '.join(hidden)} left out"
            unhide = f"unhide {them} in Excel to ingest {them}"
            if not faq:
                if unsaved:
                    raise EmptyFileError(f"{path.name}: the {unsaved[0]} formulas without saved values", _RESAVE)
                if errors:
                    raise errors[0]
                if hidden:
                    raise EmptyFileError(f"{path.name}: no visible sheet has rows with both a question and an answer "
                                         f"({hidden_out})", unhide)
                raise EmptyFileError(f"{path.name}: no sheet has rows with both a question and an answer",
                                     "add a header row question,answer and rows")
            if unsaved:
                n = unsaved[1]
                warnings.append(f"{path.name}: {n} row{'s' if n > 1 else ''} left out: the {unsaved[0]} formulas "
                                f"without saved values; {_RESAVE}")
            if skipped:
                warnings.append(f"{path.name}: sheet{'s' if len(skipped) > 1 else ''} {', '.join(skipped)} "
                                "left out: no question and answer columns with rows under them")
            if hidden:
                warnings.append(f"{path.name}: {hidden_out}; {unhide}")
            if hidden_rows:
                warnings.append(f"{path.name}: hidden rows left out ({', '.join(hidden_rows)}); "
                                "unhide them in Excel to ingest them")
            return [], faq, {WARNINGS_KEY: warnings}
        finally:
            wb.close()


_RESAVE = "open and save the file in Excel or LibreOffice, or write the values"


def _unsaved_formulas(data: bytes, name: str) -> tuple[str, int] | None:
    """What of a workbook's FAQ tables is formulas without a saved value, and in how many rows:
    ("answers are", 3), ("questions and answers are", 1); None for none. A workbook written by
    openpyxl or pandas, never opened in Excel, holds its formulas' text but no values, so every
    answer read as blank and the file failed as having "no sheet has rows with both a question
    and an answer", its header row there for all to see."""
    import openpyxl

    try:
        formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        values = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # read once already: what a second read cannot tell is left unsaid
        return None
    kinds: set[str] = set()
    rows = 0
    try:
        for ws_f, ws_v in zip(formulas.worksheets, values.worksheets, strict=False):
            pairs = [(list(f), list(v)) for f, v in zip(ws_f.iter_rows(values_only=True),
                                                         ws_v.iter_rows(values_only=True), strict=False)]
            pairs = [(f, v) for f, v in pairs if any(_cell_text(c) for c in f)]
            if not pairs:
                continue
            head = header_row([f for f, _ in pairs], name)
            try:
                cols = detect_columns(pairs[head][0], name)
            except MissingColumnsError:
                continue
            for f, v in pairs[head + 1 :]:
                unsaved = {kind for kind in ("question", "answer") if cols[kind] < len(f)
                           and isinstance(f[cols[kind]], str) and f[cols[kind]].startswith("=")
                           and (cols[kind] >= len(v) or v[cols[kind]] is None)}
                kinds |= unsaved
                rows += bool(unsaved)
    finally:
        formulas.close()
        values.close()
    if not rows:
        return None
    return " and ".join(f"{k}s" for k in ("question", "answer") if k in kinds) + " are", rows


_JSON_LIST_KEYS = ("faqs", "faq", "items", "data", "rows", "entries", "questions", "records")


class JsonLoader:
    def load(self, path: Path, data: bytes) -> tuple[list[Element], list[FaqRow], dict[str, Any]]:
        text = decode_text(data, path.name)
        records: list[Any]
        if path.suffix.lower() == ".jsonl":
            records = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as ex:
                    raise CorruptFileError(f"{path.name}: line {n} is not JSON ({ex.msg})", "fix that line") from None
        else:
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as ex:
                raise CorruptFileError(
                    f"{path.name}: invalid JSON at line {ex.lineno} ({ex.msg})", "fix the file"
                ) from None
            if isinstance(obj, dict):
                lists = [obj[k] for k in obj if _norm_col(k) in _JSON_LIST_KEYS and isinstance(obj[k], list)]
                obj = lists[0] if lists else [obj]
            records = obj if isinstance(obj, list) else []
        records = [r for r in records if isinstance(r, dict)]
        if not records:
            raise MissingColumnsError(
                f"{path.name}: no FAQ objects found", 'write a list of {"question": ..., "answer": ...} objects'
            )
        keys: list[str] = list(dict.fromkeys(k for r in records for k in r))
        rows = [[_json_value(k, r.get(k)) for k in keys] for r in records]
        faq, warnings = rows_to_faq(keys, rows, path.name)
        return [], faq, {WARNINGS_KEY: warnings}


# the fields whose list of names is one cell of a table's (tags=app,security)
_NAME_LIST_COLUMNS = frozenset({*TAG_NAMES, *GROUP_NAMES, *CATEGORY_NAMES})


def _json_value(key: str, value: Any) -> Any:
    """A JSON FAQ field as a table's cell holds it: a list of tags or groups (``["app", "security"]``)
    as its names with commas, which were stored as the tags "['app'" and "'security']", and any
    other list (an answer in paragraphs) as its lines."""
    if not isinstance(value, list):
        return value
    parts = [str(v).strip() for v in value if v is not None and not isinstance(v, dict | list) and str(v).strip()]
    return ", ".join(parts) if _norm_col(key) in _NAME_LIST_COLUMNS else "\n".join(parts)


LOADERS: dict[str, Loader] = {
    ".pdf": PdfLoader(),
    ".docx": DocxLoader(),
    ".md": MarkdownLoader(),
    ".markdown": MarkdownLoader(),
    ".html": HtmlLoader(),
    ".htm": HtmlLoader(),
    ".txt": TextLoader(),
    ".csv": CsvLoader(),
    ".tsv": CsvLoader(),
    ".xlsx": XlsxLoader(),
    ".json": JsonLoader(),
    ".jsonl": JsonLoader(),
}
FAQ_SUFFIXES = frozenset({".csv", ".tsv", ".xlsx", ".json", ".jsonl"})


def supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS


# --------------------------------------------------------------------------------------------
# entry point


def check_type(path: Path) -> None:
    """:class:`UnsupportedFormatError` for a file no loader reads (by its extension): the one
    line an ingest reports for it, and the HTTP API refuses an upload of it with."""
    if not supported(path):
        ext = readable_name(path.suffix) or "(no extension)"
        raise UnsupportedFormatError(
            f"{readable_name(path.name)}: unsupported file type {ext}",
            "supported: " + ", ".join(sorted(LOADERS)),
        )


def check_file(path: Path, max_file_mb: float) -> None:
    """Cheap checks before reading: extension, existence, size (stat)."""
    name = readable_name(path.name)
    check_type(path)
    try:
        size = path.stat().st_size
    except OSError as ex:
        raise InputError(f"{name}: cannot read ({ex.strerror})", "check the path and permissions") from None
    if size > max_file_mb * 1024 * 1024:
        raise FileTooLargeError(
            f"{name}: {size / 1024 / 1024:.1f} MB is over the {max_file_mb:g} MB limit",
            "split the file or raise KB_MAX_FILE_MB",
        )
    if size == 0:
        raise EmptyFileError(f"{name}: the file is empty", "add content or remove the file")


def read_checked(path: Path, max_file_mb: float) -> bytes:
    check_file(path, max_file_mb)
    data = path.read_bytes()
    if not data.strip():
        raise EmptyFileError(f"{readable_name(path.name)}: the file is empty", "add content or remove the file")
    return data


ZIP_SUFFIXES = frozenset({".docx", ".xlsx"})
# a zip member that expands more than this many times, to more than ZIP_BOMB_MIN_MB, is a zip bomb:
# XML compresses 5 to 20 times, and images and fonts not at all
ZIP_BOMB_RATIO = 200
ZIP_BOMB_MIN_MB = 10


def unzipped_limit_mb(max_file_mb: float) -> float:
    """The most a DOCX/XLSX may expand to: 20 times the file size limit, at least 200 MB."""
    return max(20 * max_file_mb, 200.0)


def check_zip(data: bytes, name: str, max_file_mb: float) -> None:
    """Refuse an office file (a zip) that would expand past :func:`unzipped_limit_mb`, or one of
    whose parts expands absurdly (:data:`ZIP_BOMB_RATIO`), from its central directory alone, before
    any parser inflates it: the per-file size limit bounds the compressed bytes only, and a 342 KB
    DOCX can hold a 300 MB document.xml. The sizes the directory declares bound what is inflated
    (Python's zipfile stops a member at its declared size). A file that is not a readable zip is
    left to its loader, which says it is damaged."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return
    mb = 1024 * 1024
    limit = unzipped_limit_mb(max_file_mb)
    total = sum(i.file_size for i in infos)
    if total > limit * mb:
        raise FileTooLargeError(
            f"{name}: expands to {total / mb:,.0f} MB when unzipped, over the {limit:g} MB limit",
            "split the document or raise KB_MAX_FILE_MB",
        )
    for info in infos:
        if info.file_size > ZIP_BOMB_MIN_MB * mb and info.file_size > ZIP_BOMB_RATIO * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise FileTooLargeError(
                f"{name}: its part {readable_name(info.filename)[:80]} expands {ratio:,.0f} times, to "
                f"{info.file_size / mb:,.0f} MB, which no real document does",
                "re-save it from Word or Excel; if it is genuine, split the document",
            )


def _out_of_memory(name: str) -> FileTooLargeError:
    return FileTooLargeError(f"{name}: ran out of memory reading it", "split it into smaller files")


def load_file(
    path: Path,
    root: Path,
    max_file_mb: float,
    *,
    data: bytes | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> LoadedFile:
    """Load one file. ``root`` gives the source path (relative to it, '/'-separated)."""
    path = Path(path)
    if data is None:
        data = read_checked(path, max_file_mb)
    side_meta, side_raw = read_sidecar(path)
    extra = json.dumps(dict(defaults or {}), sort_keys=True, default=str) if defaults else ""
    chash = content_hash(data, side_raw, extra)
    source = source_of(path, root)
    name = readable_name(path.name)
    suffix = path.suffix.lower()
    loader = LOADERS[suffix]
    if suffix in ZIP_SUFFIXES:
        check_zip(data, name, max_file_mb)
    # loaders read ``data`` and take the path for its name (in their messages) and suffix only:
    # they get the name as printable text, without the control characters a name may hold
    named = path if name == path.name else path.with_name(name)
    try:
        elements, faq_rows, file_meta = loader.load(named, data)
        warnings = tuple(file_meta.pop(WARNINGS_KEY, ()) or ())
    except InputError:
        raise
    except MemoryError:
        raise _out_of_memory(name) from None
    except Exception as ex:  # a parser bug on a strange file must not stop the run
        raise CorruptFileError(f"{name}: cannot parse ({type(ex).__name__}: {str(ex)[:80]})",
                               "check that the file opens in its usual program") from None
    meta: dict[str, Any] = {}
    for src in (defaults or {}, file_meta, side_meta):
        for k, v in src.items():
            if v not in (None, "", ()):
                meta[k] = v
    check_validity(meta, name)  # the dates may come from two places: front-matter and sidecar
    from ingest.cleaning import clean_elements, document_lang, document_title, without_injections

    kind = "faq" if path.suffix.lower() in FAQ_SUFFIXES else "document"
    given_rows = faq_rows
    elements, faq_rows, injections = without_injections(elements, faq_rows)
    if injections:
        warnings += (
            f"{name}: {len(injections)} instruction-like sentence(s) left out, as a prompt injection "
            f"({quoted_names(injections, shown=1, width=60)}); if that is the document's own text, reword it",
        )
    faq_rows, hollow = _answered_rows(given_rows, faq_rows)
    if hollow:
        # "How do I verify my account?", answered only "send your password to verify@...", stayed
        # indexed with an empty answer, and its question was answered from unrelated passages
        warnings += (_rows_note(name, hollow, "whose whole answer or question is a prompt injection skipped",
                                "rewrite those rows and ingest again"),)
        if not faq_rows:
            raise EmptyFileError(f"{name}: no rows with both a question and an answer (every answer is a "
                                 "prompt injection)", "write the answers and ingest again")
    if kind == "document":
        elements = clean_elements(elements)
        if not elements:
            raise EmptyFileError(f"{path.name}: no text found", "add content or remove the file")
    title = document_title(meta.get("title"), elements, path)
    lang = meta.get("lang") or document_lang(elements, faq_rows)
    if faq_rows and not meta.get("lang"):
        faq_rows = [_in_own_lang(row, lang) for row in faq_rows]
    doc_meta = {k: v for k, v in meta.items() if k not in ("title", "lang")}
    doc = Document(
        id=doc_id_for(source, chash),
        source=source,
        title=title,
        lang=lang,
        kind=kind,
        metadata=doc_meta,
    )
    return LoadedFile(doc, chash, tuple(elements), tuple(faq_rows), warnings)


def _answered_rows(given: Sequence[FaqRow], cleaned: Sequence[FaqRow]) -> tuple[list[FaqRow], list[str]]:
    """The rows of ``cleaned`` (``given`` without prompt injections, row for row) that still have
    an answer and a question, and the labels of those left without (by their sheet's id, else
    their question)."""
    kept: list[FaqRow] = []
    hollow: list[str] = []
    def emptied(was: str, now: str) -> bool:
        return any(ch.isalnum() for ch in was) and not any(ch.isalnum() for ch in now)

    for before, row in zip(given, cleaned, strict=True):
        if not (emptied(before.answer, row.answer) or emptied(before.question, row.question)):
            kept.append(row)
            continue
        made = before.faq_id.split("-")[0] == faq_entry_id(before.question, before.answer)
        hollow.append(_label("" if made else before.faq_id, before.question))
    return kept, hollow


def _in_own_lang(row: FaqRow, lang: str) -> FaqRow:
    """``row`` with its own language in its metadata where it is not its sheet's ``lang``: a sheet
    of English and Chinese entries was one language (the most of its text), and a question with
    the language filter zh was refused "下单后多久发货？", an entry of the sheet in Chinese (QA)."""
    own = detect_lang(f"{row.question} {row.answer}")
    return row if own == lang else replace(row, metadata={**row.metadata, "lang": own})


__all__ = [
    "Element",
    "FaqRow",
    "LoadedFile",
    "Loader",
    "LOADERS",
    "EncryptedFileError",
    "NoTextLayerError",
    "EmptyFileError",
    "load_file",
    "check_file",
    "check_type",
    "read_checked",
    "content_hash",
    "doc_id_for",
    "decode_text",
    "detect_columns",
    "source_of",
    "supported",
    "META_SUFFIX",
]
