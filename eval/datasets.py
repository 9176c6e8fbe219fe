"""Evaluation data sets, in exactly the format of ``../shared/data/README.md``.

A set is a directory:

- a retrieval / QA set (format A) holds ``questions.jsonl`` and ``docs/`` (the corpus to ingest);
- a faithfulness set (format B) holds ``faithfulness.jsonl`` (answers with human support labels).

Loading validates every record and raises :class:`kb.errors.DatasetError` with a one-line message
that names the file, the line and the fix (missing field, wrong type, unknown gold id, bad JSON,
a file that is not UTF-8). Nothing here special-cases a set's name.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kb.errors import DatasetError, InputError, blank, require_text

QUESTIONS_FILE = "questions.jsonl"
FAITHFULNESS_FILE = "faithfulness.jsonl"
DOCS_DIR = "docs"
LANGS = ("en", "zh")
ROLES = ("user", "assistant")
# csv columns that name an FAQ row's id (the first one present wins), as the FAQ loader reads them
FAQ_ID_COLUMNS = ("id", "faq_id", "faqid", "qid", "question_id", "编号", "序号")


@dataclass(frozen=True)
class Message:
    role: str  # "user" | "assistant"
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]
    lang: str
    answerable: bool
    history: tuple[Message, ...] = ()


@dataclass(frozen=True)
class QASet:
    name: str
    path: Path
    docs_dir: Path
    items: tuple[QAItem, ...]
    source_ids: frozenset[str] = field(default_factory=frozenset)
    n_total: int = 0  # questions in the file (before --limit)
    kind: str = "qa"


@dataclass(frozen=True)
class FaithItem:
    id: str
    question: str
    context: tuple[str, ...]
    answer: str
    label: int  # 1 = supported by the context, 0 = not (fully) supported
    source: str = ""
    history: tuple[Message, ...] = ()


@dataclass(frozen=True)
class FaithfulnessSet:
    name: str
    path: Path
    items: tuple[FaithItem, ...]
    n_total: int = 0
    kind: str = "faithfulness"


Dataset = QASet | FaithfulnessSet


# ----------------------------------------------------------------------------- reading


def read_text_utf8(path: Path) -> str:
    """The file's text; a file that is not UTF-8 is a DatasetError naming the line and the fix."""
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise DatasetError(
            f"cannot read {path}: {ex.strerror or ex}", "check the path and permissions"
        ) from ex
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        line = data.count(b"\n", 0, ex.start) + 1
        raise DatasetError(
            f"{path} is not UTF-8 (byte 0x{data[ex.start]:02x} on line {line})",
            "re-save the file as UTF-8",
        ) from ex


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; bad JSON names its line."""
    text = read_text_utf8(path)
    # lines end at "\n" (and "\r\n") only: JSON strings may hold U+2028, U+2029 and U+0085
    # unescaped, which str.splitlines would cut a record at
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as ex:
            raise DatasetError(
                f"{path} line {lineno}: invalid JSON ({ex.msg} at column {ex.colno})",
                "each line must hold one JSON object",
            ) from ex
        if not isinstance(obj, dict):
            raise DatasetError(
                f"{path} line {lineno}: expected a JSON object, got {_type_name(obj)}",
                "each line must hold one JSON object",
            )
        yield lineno, obj


def _type_name(v: object) -> str:
    if v is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(v), type(v).__name__)


class _Record:
    """Field access with one-line errors naming file, line and field."""

    def __init__(self, fname: str, lineno: int, obj: Mapping[str, Any]) -> None:
        self.where = f"{fname} line {lineno}"
        self.obj = obj

    def fail(self, msg: str, hint: str) -> DatasetError:
        rid = self.obj.get("id")
        who = f" (id {rid!r})" if isinstance(rid, str) else ""
        return DatasetError(f"{self.where}{who}: {msg}", hint)

    def get(self, name: str, required: bool = True, default: Any = None) -> Any:
        if name not in self.obj:
            if required:
                raise self.fail(
                    f"missing field {name!r}", f"add {name!r} to every record (see data/README.md)"
                )
            return default
        return self.obj[name]

    def string(self, name: str, required: bool = True, nonempty: bool = False) -> str:
        v = self.get(name, required, "")
        if not isinstance(v, str):
            raise self.fail(
                f"field {name!r} must be a string, got {_type_name(v)}", f"write {name!r} as a JSON string"
            )
        if nonempty and blank(v):  # spaces, NULs, zero-width spaces: nothing to ask
            raise self.fail(f"field {name!r} is empty", f"give {name!r} a value")
        try:
            require_text(v, f"field {name!r}", decoded=False)
        except InputError as ex:  # a lone surrogate ("\ud800"), which no text can hold
            raise self.fail(ex.message, "write it as UTF-8 text") from None
        return v

    def strings(self, name: str, required: bool = True) -> tuple[str, ...]:
        v = self.get(name, required, [])
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            got = _type_name(v) if not isinstance(v, list) else "a list with non-string items"
            raise self.fail(
                f"field {name!r} must be a list of strings, got {got}", f'write {name!r} as ["...", ...]'
            )
        return tuple(v)

    def history(self) -> tuple[Message, ...]:
        v = self.get("history", required=False, default=None)
        if v is None:
            return ()
        if not isinstance(v, list):
            raise self.fail(
                f"field 'history' must be a list of messages, got {_type_name(v)}",
                'write it as [{"role": "user", "content": "..."}, ...]',
            )
        out = []
        for i, m in enumerate(v):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise self.fail(
                    f'history[{i}] must be {{"role": "user"|"assistant", "content": string}}',
                    "fix that message (oldest turn first)",
                )
            out.append(Message(m["role"], m["content"]))
        return tuple(out)


def _check_unique(ids: dict[str, int], rid: str, rec: _Record) -> None:
    if rid in ids:
        raise rec.fail(f"duplicate id (first on line {ids[rid]})", "ids must be unique within a set")


# ----------------------------------------------------------------------------- source ids


def _row_of_unread_table(gold: str, sources: frozenset[str]) -> bool:
    """Whether ``gold`` names a row (``table.csv#id``) of a CSV file in docs/ in which this reader
    found no id column (another delimiter, a header below a title): ingestion may still read it as
    an FAQ table, so the id is checked against the ingested rows (``kb eval`` does after
    ingesting), not refused here."""
    table, sep, _ = gold.partition("#")
    return bool(sep) and table.lower().endswith(".csv") and table in sources


def _faq_ids(path: Path) -> list[str] | None:
    """Row ids of an FAQ table (csv with an id column), or None when the csv has no id column."""
    text = read_text_utf8(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as ex:
        raise DatasetError(f"{path}: unreadable CSV header ({ex})", "use RFC 4180 quoting") from ex
    cols = [h.strip().lower() for h in header]
    col = next((cols.index(c) for c in FAQ_ID_COLUMNS if c in cols), None)
    if col is None:
        return None
    ids: list[str] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if col < len(row) and row[col].strip():
                ids.append(row[col].strip())
    except csv.Error as ex:
        raise DatasetError(f"{path} line {reader.line_num}: bad CSV ({ex})", "use RFC 4180 quoting") from ex
    return ids


def list_source_ids(docs_dir: Path) -> frozenset[str]:
    """Every source id a retriever can return for ``docs_dir``: each file's path relative to it
    ('/'-separated), and ``<path>#<id>`` for each row of an FAQ csv (one with an id column)."""
    return read_source_ids(docs_dir)[0]


def read_source_ids(docs_dir: Path) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`list_source_ids`, and the source ids of FAQ rows (``faq.csv#<id>``) whose id more
    than one row of the table gives: ingestion stores the later rows as ``<id>-2`` and so on, so a
    gold id naming it names either row. Each table is read once."""
    out: set[str] = set()
    repeated: set[str] = set()
    for p in sorted(docs_dir.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(docs_dir).parts):
            continue
        rel = p.relative_to(docs_dir).as_posix()
        if p.suffix.lower() == ".csv":
            ids = _faq_ids(p)
            if ids is not None:
                out.update(f"{rel}#{i}" for i in ids)
                repeated.update(f"{rel}#{i}" for i, n in Counter(ids).items() if n > 1)
                continue
        out.add(rel)
    return frozenset(out), frozenset(repeated)


# ----------------------------------------------------------------------------- loading


def match_gold(ds: QASet, sources: Iterable[str]) -> tuple[QASet, list[tuple[QAItem, str]]]:
    """``ds`` with its gold ids read as the names ``sources`` (a knowledge base's source ids,
    ``faq.csv#<id>`` for an FAQ row) gives them (a gold id in composed Unicode, the source in
    decomposed), and (question, gold id) for every gold id the sources do not hold: asked of a
    knowledge base without it, the question would read as a retrieval miss."""
    held = frozenset(sources)
    by_nfc = {unicodedata.normalize("NFC", s): s for s in held}
    unknown: list[tuple[QAItem, str]] = []
    items = []
    for item in ds.items:
        gold = tuple(g if g in held else by_nfc.get(unicodedata.normalize("NFC", g), g) for g in item.gold)
        unknown.extend((item, g) for g in gold if g not in held)
        items.append(replace(item, gold=gold))
    return replace(ds, items=tuple(items), source_ids=held), unknown


def _subsample(n: int, limit: int | None) -> list[int]:
    """Indices of an evenly spaced deterministic subsample (keeps the file's mix of question
    kinds, e.g. unanswerable questions at the end)."""
    if limit is None or limit >= n:
        return list(range(n))
    if limit <= 0:
        return []
    return sorted({int(i * n / limit) for i in range(limit)})


# the gold ids not in docs/ that an error names; it counts the rest
NAMED_UNKNOWN_GOLD = 10


def _unknown_gold(
    qfile: Path, unknown: dict[str, list[tuple[int, str]]], sources: frozenset[str], faq_tables: set[str]
) -> DatasetError:
    """The error for gold ids that name nothing in docs/ (``unknown``: each with the lines and
    question ids naming it): every one of them, up to :data:`NAMED_UNKNOWN_GOLD`, with the first
    line naming it and the source meant where one is close, as ``kb eval`` says of a gold id not
    among the ingested sources. It named the first alone ("check its spelling"), and a set with
    five misspelt ids took five runs to mend."""
    from indexes.types import did_you_mean

    def what(g: str) -> tuple[str, str]:
        """What is wrong with ``g``, said after it, and the fix."""
        table, sep, row = g.partition("#")
        if g in faq_tables:
            return "an FAQ table, whose rows are the sources", f"name one FAQ row as {g}#<id>"
        near = did_you_mean([g], sources).strip()[1:-1]  # "did you mean 'a'?", without its parentheses
        if sep and table in faq_tables:
            return (f"no row of {table} has id {row!r}" + (f", {near}" if near else ""),
                    f"use an id from the id column of {table}")
        return near, "a gold id is a path relative to docs/ (or faq.csv#<id>); check its spelling"

    def more(named: list[tuple[int, str]]) -> str:
        return f"{len(named) - 1} more question{'s' if len(named) > 2 else ''}" if len(named) > 1 else ""

    if len(unknown) == 1:  # as before: the line and the question first, the fix as the hint
        ((g, named),) = unknown.items()
        lineno, rid = named[0]
        said, hint = what(g)
        also = more(named)
        return DatasetError(
            f"{qfile} line {lineno} (id {rid!r}): gold id {g!r} does not exist in docs/"
            + (f" ({said})" if said else "") + (f" ({also} name{'s' if len(named) == 2 else ''} it too)" if also else ""),
            hint,
        )
    listed = []
    for g, named in list(unknown.items())[:NAMED_UNKNOWN_GOLD]:
        lineno, rid = named[0]
        said = what(g)[0]
        also = more(named)
        listed.append(f"{g!r} (line {lineno}, id {rid!r}" + (f", and {also}" if also else "")
                      + (f": {said}" if said else "") + ")")
    left = len(unknown) - len(listed)
    return DatasetError(
        f"{qfile}: {len(unknown)} gold ids do not exist in docs/: " + ", ".join(listed)
        + (f", and {left} more" if left else ""),
        "a gold id is a path relative to docs/, or table.csv#<id> for an FAQ row (an id from its id column); "
        "check their spelling",
    )


def load_qa_set(path: Path, limit: int | None = None, *, with_docs: bool = True) -> QASet:
    """``with_docs=False``: the questions of a set asked of an existing knowledge base (`kb eval
    --kb`), which needs no docs/ (it was refused for lacking one): its gold ids are not checked
    here but against the knowledge base's sources (:func:`match_gold`), and ``source_ids`` is
    empty."""
    path = Path(path)
    qfile = path / QUESTIONS_FILE
    docs = path / DOCS_DIR
    if not qfile.is_file():
        raise DatasetError(f"{path} has no {QUESTIONS_FILE}", "a QA set needs questions.jsonl and docs/")
    sources: frozenset[str] = frozenset()
    repeated: frozenset[str] = frozenset()  # (FAQ rows whose id two rows give)
    if with_docs:
        if not docs.is_dir():
            raise DatasetError(f"{path} has no {DOCS_DIR}/ folder", "put the corpus to ingest under docs/")
        sources, repeated = read_source_ids(docs)
        if not sources:
            raise DatasetError(f"{docs} holds no documents", "add the corpus files under docs/")
    faq_tables = {s.split("#", 1)[0] for s in sources if "#" in s}
    # a file name written on one system in decomposed Unicode ("cafe" + U+0301, as macOS writes it)
    # and its gold id in composed form (or the other way round) name the same document: the gold
    # id is read as the name on disk, which is what the retriever returns
    by_nfc = {unicodedata.normalize("NFC", s): s for s in sources}
    items: list[QAItem] = []
    seen: dict[str, int] = {}
    unknown: dict[str, list[tuple[int, str]]] = {}  # gold id not in docs/ -> (line, question id) naming it
    for lineno, obj in iter_jsonl(qfile):
        rec = _Record(str(qfile), lineno, obj)  # (the set's path: kb eval runs many)
        rid = rec.string("id", nonempty=True)
        _check_unique(seen, rid, rec)
        seen[rid] = lineno
        question = rec.string("question", nonempty=True)
        answers = rec.strings("answers")
        gold = rec.strings("gold")
        lang = rec.string("lang")
        if lang not in LANGS:
            raise rec.fail(
                f"field 'lang' must be one of {', '.join(LANGS)}, got {lang!r}", 'set lang to "en" or "zh"'
            )
        answerable = rec.get("answerable")
        if not isinstance(answerable, bool):
            raise rec.fail(
                f"field 'answerable' must be true or false, got {_type_name(answerable)}",
                "write answerable as a JSON boolean",
            )
        if answerable and not gold:
            raise rec.fail(
                "answerable question with empty 'gold'",
                "list the source ids that hold the evidence, or set answerable to false",
            )
        if not answerable and gold:
            raise rec.fail(
                "'gold' must be empty when answerable is false", "empty gold, or set answerable to true"
            )
        gold = tuple(g if g in sources else by_nfc.get(unicodedata.normalize("NFC", g), g) for g in gold)
        for g in gold if with_docs else ():
            if g in repeated:
                table, _, row = g.partition("#")
                raise rec.fail(f"gold id {g!r} names more than one row: {table} gives id {row!r} to several",
                               f"give each row of {table} an id of its own")
            if g in sources or _row_of_unread_table(g, sources):
                continue  # (the second: checked against what ingestion made of the table, after it)
            unknown.setdefault(g, []).append((lineno, rid))
        items.append(QAItem(rid, question, answers, gold, lang, answerable, rec.history()))
    if unknown:
        raise _unknown_gold(qfile, unknown, sources, faq_tables)
    if not items:
        raise DatasetError(f"{qfile} holds no questions", "add one JSON object per line")
    picked = [items[i] for i in _subsample(len(items), limit)]
    return QASet(path.resolve().name, path, docs, tuple(picked), sources, n_total=len(items))


def load_faithfulness_set(path: Path, limit: int | None = None) -> FaithfulnessSet:
    path = Path(path)
    ffile = path / FAITHFULNESS_FILE
    if not ffile.is_file():
        raise DatasetError(
            f"{path} has no {FAITHFULNESS_FILE}", "a faithfulness set needs faithfulness.jsonl"
        )
    items: list[FaithItem] = []
    seen: dict[str, int] = {}
    for lineno, obj in iter_jsonl(ffile):
        rec = _Record(str(ffile), lineno, obj)
        rid = rec.string("id", nonempty=True)
        _check_unique(seen, rid, rec)
        seen[rid] = lineno
        question = rec.string("question", required=False)
        context = rec.strings("context")
        if not context:
            raise rec.fail(
                "field 'context' is empty", "give at least one passage the answer is judged against"
            )
        answer = rec.string("answer")
        label = rec.get("label")
        if isinstance(label, bool) or label not in (0, 1):
            raise rec.fail(
                f"field 'label' must be 0 or 1, got {json.dumps(label, ensure_ascii=False)}",
                "use 1 = supported, 0 = not supported",
            )
        source = rec.string("source", required=False)
        items.append(FaithItem(rid, question, context, answer, int(label), source, rec.history()))
    if not items:
        raise DatasetError(f"{ffile} holds no records", "add one JSON object per line")
    picked = [items[i] for i in _subsample(len(items), limit)]
    return FaithfulnessSet(path.resolve().name, path, tuple(picked), n_total=len(items))


def dataset_kind(path: Path) -> str:
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(
            f"dataset directory {path} does not exist",
            "pass a folder with questions.jsonl or faithfulness.jsonl",
        )
    has_q = (path / QUESTIONS_FILE).is_file()
    has_f = (path / FAITHFULNESS_FILE).is_file()
    if has_q and has_f:
        raise DatasetError(
            f"{path} holds both {QUESTIONS_FILE} and {FAITHFULNESS_FILE}", "split them into two set folders"
        )
    if has_q:
        return "qa"
    if has_f:
        return "faithfulness"
    raise DatasetError(
        f"{path} is not a dataset", f"a set folder holds {QUESTIONS_FILE} + docs/ or {FAITHFULNESS_FILE}"
    )


def load_dataset(path: Path | str, limit: int | None = None, *, with_docs: bool = True) -> Dataset:
    """Load one set directory (kind detected from its files); ``limit`` keeps an evenly spaced
    deterministic subsample of that many records; ``with_docs=False`` (a QA set asked of an
    existing knowledge base): see :func:`load_qa_set`."""
    path = Path(path)
    if dataset_kind(path) == "qa":
        return load_qa_set(path, limit, with_docs=with_docs)
    return load_faithfulness_set(path, limit)


def find_datasets(path: Path | str) -> list[Path]:
    """``path`` itself when it is a set; otherwise its immediate sub-folders that are sets
    (so ``kb eval ../shared/data`` evaluates every set in it)."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(
            f"dataset directory {path} does not exist",
            "pass a folder with questions.jsonl or faithfulness.jsonl",
        )
    if (path / QUESTIONS_FILE).is_file() or (path / FAITHFULNESS_FILE).is_file():
        return [path]
    subs = [
        p
        for p in sorted(path.iterdir())
        if p.is_dir() and ((p / QUESTIONS_FILE).is_file() or (p / FAITHFULNESS_FILE).is_file())
    ]
    if not subs:
        raise DatasetError(
            f"{path} is not a dataset and holds none",
            f"a set folder holds {QUESTIONS_FILE} + docs/ or {FAITHFULNESS_FILE}",
        )
    return subs


def skipped_sets(path: Path | str) -> list[tuple[Path, str]]:
    """The sub-folders of a folder of sets that look like sets but are not, with why: a docs/
    folder, or a JSON Lines file, under another name than a set's file. ``kb eval`` of a folder
    evaluated the others and passed its gates with a set missing (``question.jsonl``) unsaid."""
    path = Path(path)
    if not path.is_dir() or (path / QUESTIONS_FILE).is_file() or (path / FAITHFULNESS_FILE).is_file():
        return []
    out = []
    for p in sorted(path.iterdir()):
        if not p.is_dir() or (p / QUESTIONS_FILE).is_file() or (p / FAITHFULNESS_FILE).is_file():
            continue
        files = sorted(f.name for f in p.iterdir() if f.is_file() and f.suffix.lower() in (".jsonl", ".json"))
        if files:
            out.append((p, f"it holds {', '.join(files[:3])} but no {QUESTIONS_FILE} or {FAITHFULNESS_FILE}"))
        elif (p / DOCS_DIR).is_dir():
            out.append((p, f"it holds {DOCS_DIR}/ but no {QUESTIONS_FILE}"))
    return out
