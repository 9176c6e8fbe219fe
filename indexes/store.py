"""The chunk and document store of one index version: a SQLite file (``chunks.sqlite``).

Tables: ``documents`` (one row per document, with its content hash), ``chunks`` (row = the chunk
row used by the FAISS and BM25 indexes, 0-based and dense), ``vectors`` (FAISS id -> chunk row and
kind: 0 = passage, 1 = question). Values are JSON or plain SQL types: nothing is pickled.

Written once by a :class:`~indexes.kbase.VersionWriter`, then opened read-only; the read side is
safe to share between threads (one connection per thread).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.types import Chunk, Document

VECTOR_KINDS = {"passage": 0, "question": 1}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    lang TEXT NOT NULL,
    kind TEXT NOT NULL,
    metadata TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    page INTEGER,
    faq_id TEXT,
    question TEXT,
    answer TEXT,
    lang TEXT NOT NULL,
    kind TEXT NOT NULL,
    groups TEXT NOT NULL,
    tags TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    n_tokens INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors (
    vid INTEGER PRIMARY KEY,
    chunk_row INTEGER NOT NULL,
    kind INTEGER NOT NULL
);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id, position);
CREATE INDEX IF NOT EXISTS vectors_chunk ON vectors (chunk_row, kind);
"""

_CHUNK_COLS = (
    "row, id, doc_id, source, position, text, title, heading_path, page, faq_id, question, answer, "
    "lang, kind, groups, tags, valid_from, valid_to, n_tokens"
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def chunk_to_row(row: int, c: Chunk) -> tuple[Any, ...]:
    return (
        row,
        c.id,
        c.doc_id,
        c.source,
        c.position,
        c.text,
        c.title,
        _json(list(c.heading_path)),
        c.page,
        c.faq_id,
        c.question,
        c.answer,
        c.lang,
        c.kind,
        _json(list(c.groups)),
        _json(list(c.tags)),
        c.valid_from,
        c.valid_to,
        c.n_tokens,
    )


def row_to_chunk(r: Sequence[Any]) -> Chunk:
    return Chunk(
        id=r[1],
        doc_id=r[2],
        source=r[3],
        position=r[4],
        text=r[5],
        title=r[6],
        heading_path=tuple(json.loads(r[7])),
        page=r[8],
        faq_id=r[9],
        question=r[10],
        answer=r[11],
        lang=r[12],
        kind=r[13],
        groups=tuple(json.loads(r[14])),
        tags=tuple(json.loads(r[15])),
        valid_from=r[16],
        valid_to=r[17],
        n_tokens=r[18],
    )


def row_to_document(r: Sequence[Any]) -> Document:
    return Document(id=r[0], source=r[1], title=r[2], lang=r[3], kind=r[4], metadata=json.loads(r[5]))


class ChunkStore:
    """SQLite store of documents, chunks and vector rows.

    ``ChunkStore.create(path)`` opens a new file for writing (one writer, one thread);
    ``ChunkStore.open(path)`` opens an existing one read-only, shareable between threads.
    """

    def __init__(self, path: Path, readonly: bool) -> None:
        self.path = Path(path)
        self.readonly = readonly
        # One connection shared by all threads (serialised by a lock), opened when the store is
        # opened: it keeps working after GC removes an old version's directory from under a
        # reader that still holds it.
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self._closed = False

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path) -> ChunkStore:
        store = cls(path, readonly=False)
        store._conn().executescript(SCHEMA)
        return store

    @classmethod
    def open(cls, path: Path) -> ChunkStore:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        store = cls(path, readonly=True)
        store._conn().execute("SELECT count(*) FROM chunks").fetchone()
        return store

    def _conn(self) -> sqlite3.Connection:
        if self._con is None:
            if self._closed:
                raise RuntimeError(f"chunk store {self.path} is closed")
            if self.readonly:
                con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            else:
                con = sqlite3.connect(str(self.path), check_same_thread=False)
                con.execute("PRAGMA journal_mode=OFF")  # a new file in a temp dir: no journal needed
                con.execute("PRAGMA synchronous=OFF")  # fsync'd as a whole before publish
            self._con = con
        return self._con

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._con is not None:
                try:
                    self._con.close()
                except sqlite3.Error:
                    pass
                self._con = None

    # -- writing -------------------------------------------------------------------------------
    def add_documents(self, docs: Iterable[Document], hashes: Mapping[str, str]) -> None:
        with self._lock:
            con = self._conn()
            rows = [
                (d.id, d.source, d.title, d.lang, d.kind, _json(dict(d.metadata)), hashes.get(d.id, d.id)) for d in docs
            ]
            con.executemany(
                "INSERT OR REPLACE INTO documents (id, source, title, lang, kind, metadata, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            con.commit()

    def add_chunks(self, first_row: int, chunks: Sequence[Chunk]) -> None:
        with self._lock:
            con = self._conn()
            con.executemany(
                f"INSERT INTO chunks ({_CHUNK_COLS}) VALUES ({', '.join('?' * 19)})",
                [chunk_to_row(first_row + i, c) for i, c in enumerate(chunks)],
            )
            con.commit()

    def add_vector_rows(self, first_vid: int, chunk_rows: Sequence[int], kind: int) -> None:
        with self._lock:
            con = self._conn()
            con.executemany(
                "INSERT INTO vectors (vid, chunk_row, kind) VALUES (?, ?, ?)",
                [(first_vid + i, int(r), kind) for i, r in enumerate(chunk_rows)],
            )
            con.commit()

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            con = self._conn()
            con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _json(value)))
            con.commit()

    def finish(self) -> None:
        """Create the secondary indexes and compact; called once before the file is published."""
        with self._lock:
            con = self._conn()
            con.executescript(INDEXES)
            con.commit()

    # -- reading -------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        with self._lock:
            assert table in ("documents", "chunks", "vectors")
            return int(self._conn().execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def documents(self) -> list[Document]:
        with self._lock:
            cur = self._conn().execute("SELECT id, source, title, lang, kind, metadata FROM documents ORDER BY row")
            return [row_to_document(r) for r in cur]

    def doc_hashes(self) -> dict[str, str]:
        with self._lock:
            return {r[0]: r[1] for r in self._conn().execute("SELECT id, content_hash FROM documents ORDER BY row")}

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        with self._lock:
            cur = self._conn().execute(f"SELECT {_CHUNK_COLS} FROM chunks WHERE doc_id = ? ORDER BY position", (doc_id,))
            return [row_to_chunk(r) for r in cur]

    def chunk_rows_of(self, doc_id: str) -> list[int]:
        with self._lock:
            cur = self._conn().execute("SELECT row FROM chunks WHERE doc_id = ? ORDER BY position", (doc_id,))
            return [int(r[0]) for r in cur]

    def source_rows(self) -> list[tuple[int, str, str | None, bool]]:
        """(row, source, faq_id, has a question) for every chunk, in row order."""
        with self._lock:
            cur = self._conn().execute("SELECT row, source, faq_id, question IS NOT NULL FROM chunks ORDER BY row")
            return [(int(r[0]), r[1], r[2], bool(r[3])) for r in cur]

    def get_chunks(self, rows: Sequence[int]) -> list[Chunk]:
        with self._lock:
            rows = [int(r) for r in rows]
            if not rows:
                return []
            found: dict[int, Chunk] = {}
            con = self._conn()
            for i in range(0, len(rows), 900):
                part = rows[i : i + 900]
                cur = con.execute(
                    f"SELECT {_CHUNK_COLS} FROM chunks WHERE row IN ({', '.join('?' * len(part))})", part
                )
                for r in cur:
                    found[int(r[0])] = row_to_chunk(r)
            missing = [r for r in rows if r not in found]
            if missing:
                raise IndexError(f"chunk rows not in this index version: {missing[:5]}")
            return [found[r] for r in rows]

    def row_of_id(self, chunk_id: str) -> int | None:
        with self._lock:
            r = self._conn().execute("SELECT row FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
            return int(r[0]) if r else None

    def rows_of_ids(self, chunk_ids: Sequence[str]) -> list[int | None]:
        with self._lock:
            out: dict[str, int] = {}
            con = self._conn()
            ids = list(chunk_ids)
            for i in range(0, len(ids), 900):
                part = ids[i : i + 900]
                cur = con.execute(f"SELECT id, row FROM chunks WHERE id IN ({', '.join('?' * len(part))})", part)
                out.update({r[0]: int(r[1]) for r in cur})
            return [out.get(c) for c in ids]

    def positions(self) -> list[tuple[int, str, int]]:
        """(row, doc_id, position) for every chunk, in row order."""
        with self._lock:
            cur = self._conn().execute("SELECT row, doc_id, position FROM chunks ORDER BY row")
            return [(int(r[0]), r[1], int(r[2])) for r in cur]

    def _iter(self, sql: str, batch: int = 2000) -> Iterator[tuple[Any, ...]]:
        with self._lock:
            cur = self._conn().execute(sql)
        while True:
            with self._lock:
                rows = cur.fetchmany(batch)
            if not rows:
                return
            yield from rows

    def iter_chunk_columns(self) -> Iterator[tuple[Any, ...]]:
        """(row, doc_id, source, lang, groups json, tags json, valid_from, valid_to) in row order."""
        yield from self._iter("SELECT row, doc_id, source, lang, groups, tags, valid_from, valid_to FROM chunks ORDER BY row")

    def iter_embed_texts(self) -> Iterator[tuple[int, str]]:
        """(row, the text the keyword index sees) in row order."""
        for r in self._iter(f"SELECT {_CHUNK_COLS} FROM chunks ORDER BY row"):
            yield int(r[0]), row_to_chunk(r).embed_text()

    def vector_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(chunk row per FAISS id, kind per FAISS id) as int64 / int8 arrays."""
        with self._lock:
            cur = self._conn().execute("SELECT vid, chunk_row, kind FROM vectors ORDER BY vid")
            data = np.array(cur.fetchall(), dtype=np.int64).reshape(-1, 3)
            if len(data) and not np.array_equal(data[:, 0], np.arange(len(data))):
                raise ValueError("vector ids are not dense")
            return data[:, 1].copy(), data[:, 2].astype(np.int8)

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            r = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return json.loads(r[0]) if r else default
