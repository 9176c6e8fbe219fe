"""A knowledge base on disk: versioned index directories, atomic publish, a process lock and an
embedding cache.

Layout (``home/<kb>/``)::

    CURRENT                 the live version id (replaced atomically: temp file, fsync, os.replace, fsync dir)
    lock                    fcntl.flock target + JSON note of the holder (pid, started, what)
    embcache.sqlite         embedding cache: (embedder id, sha256 of embedded text) -> float32 bytes
    tmp/<version>.<pid>/    versions being written (removed by GC once their writer is gone)
    versions/<version>/     complete versions: manifest.json, vectors.faiss (or vectors.<i>.faiss
                            shards), vectors.hnsw (from 20,000 vectors, unsharded: a graph over them,
                            indexes/vector.py), vectors.f32 (raw float32 vectors), bm25.npz,
                            bm25.json, chunks.sqlite

A version directory is renamed into ``versions/`` only when complete (every file fsync'd), and
``CURRENT`` is swapped after that; a crash or ``kill -9`` at any point leaves the previous version
live. Nothing is pickled: FAISS files, numpy arrays loaded with ``allow_pickle=False``, JSON and
SQLite only, so a knowledge base directory is safe to load from a stranger.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from indexes.keyword import BM25Builder, BM25Index, HeldTerms
from indexes.lru import BatchLRU
from indexes.store import VECTOR_KINDS, ChunkStore
from indexes.text import (
    QUESTION_FORM,
    char_terms,
    is_cjk_lang,
    load_analyzer,
    phrase_terms,
    query_topic,
    tokenize,
    writes_traditional,
)
from indexes.types import Chunk, Document, Filters, did_you_mean, quoted_names
from indexes.vector import (
    GRAPH_EF_CONSTRUCTION,
    GRAPH_M,
    INDEX_KINDS,
    FaissVectorIndex,
    ShardedVectorIndex,
    build_graph,
    estimate_memory,
    set_threads,
    write_index,
)
from kb.errors import (
    ConfigError,
    EmbedderMismatchError,
    IndexCorruptError,
    InputError,
    KBError,
    KnowledgeBaseNotFound,
    LockedError,
)
from kb.settings import Settings
from kb.stores import is_damaged

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
CHUNK_CACHE_SIZE = 4096  # chunks kept decoded per open version, the most recently used (unless preloaded)
MANIFEST = "manifest.json"
CHUNKS_DB = "chunks.sqlite"
VECTORS_RAW = "vectors.f32"
VECTORS_GRAPH = "vectors.hnsw"
BM25_NPZ = "bm25.npz"
BM25_JSON = "bm25.json"
CURRENT = "CURRENT"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")

# Test hook: called with a stage name at each step of publish/finalize (see tests/indexes).
FaultHook = Callable[[str], None]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def atomic_write_text(path: Path, data: str) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a lock or job holder that was killed is not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.path.getsize(os.path.join(root, f))
    return total


def validate_kb_name(name: str) -> str:
    if not name or not set(name) <= _NAME_OK or name.startswith(".") or len(name) > 100:
        raise InputError(
            f"invalid knowledge base name {name!r}",
            "use letters, digits, '-', '_' or '.' (not starting with '.')",
        )
    return name


def canonical_embedder_id(spec: str) -> str:
    """The id an embedder spec resolves to, without loading anything."""
    from indexes.embedders import get_embedder

    try:
        return get_embedder(spec).id
    except KBError:
        return spec


def list_kbs(home: Path) -> list[str]:
    """Names of the knowledge bases under ``home`` (those with a directory of their own)."""
    home = Path(home)
    if not home.is_dir():
        return []
    out = []
    for p in sorted(home.iterdir()):
        if p.is_dir() and not p.name.startswith(".") and ((p / CURRENT).exists() or (p / "versions").is_dir()):
            out.append(p.name)
    return out


# --- lock ---------------------------------------------------------------------------------------

_HELD: dict[str, int] = {}  # lock path -> fd held by this process
_HELD_LOCK = threading.Lock()


class _KBLock:
    def __init__(self, path: Path, kb_name: str, timeout: float, what: str) -> None:
        self.path = path
        self.kb_name = kb_name
        self.timeout = timeout
        self.what = what
        self.fd: int | None = None

    def _holder(self) -> str:
        try:
            note = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            note = {}
        if not note:
            return "another process"
        # a plain lock's "what" is its pid ("pid 123 (pid 123)" said it twice)
        what = f" ({note.get('what')})" if note.get("what") and note.get("what") != f"pid {note.get('pid')}" else ""
        return f"pid {note.get('pid')}{what} since {note.get('started')}"

    def __enter__(self) -> _KBLock:
        key = str(self.path)
        with _HELD_LOCK:
            if key in _HELD:
                raise LockedError(
                    f"knowledge base {self.kb_name!r} is already locked by this process ({self._holder()})",
                    "wait for the running job to finish",
                )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, self.timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    os.close(fd)
                    raise LockedError(
                        f"knowledge base {self.kb_name!r} is locked by {holder}",
                        "wait for that job to finish (the lock is freed when its process ends)",
                    ) from None
                time.sleep(0.05)
        note = json.dumps({"pid": os.getpid(), "started": _now(), "what": self.what})
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode("utf-8"), 0)
        self.fd = fd
        with _HELD_LOCK:
            _HELD[key] = fd
        return self

    def __exit__(self, *exc: object) -> None:
        with _HELD_LOCK:
            _HELD.pop(str(self.path), None)
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# --- embedding cache ------------------------------------------------------------------------------


_T = TypeVar("_T")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _read_manifest(version_dir: Path) -> Any:
    return json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))


# the file a version's directory holds once a load found its files damaged (:meth:`KnowledgeBase._mark_damaged`)
DAMAGED_MARK = ".damaged"


def _verify_files(version_dir: Path, manifest: Any) -> None:
    """ValueError saying why ``manifest`` does not describe the version's files: not a manifest of
    this format, or a file of another size than it records (nothing hashed: cheap enough for
    every version at every GC; :meth:`KnowledgeBase.load_version` checks the digests too)."""
    if not isinstance(manifest, dict):
        raise ValueError("the manifest is not a JSON object")
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(f"unknown format {manifest.get('format')!r}")
    for fname, size in manifest["files"].items():
        actual = os.path.getsize(version_dir / fname)
        if actual != size:
            raise ValueError(f"{fname} is {actual} bytes, manifest says {size}")


def _parent_of_damaged(path: Path) -> str | None:
    """The parent a damaged version's manifest names, when that much of it reads: the versions
    its live one was built from stay first to fall back on."""
    try:
        m = _read_manifest(path)
        parent = m.get("parent") if isinstance(m, dict) else None
        return parent if isinstance(parent, str) else None
    except (OSError, ValueError):
        return None


class EmbeddingCache:
    """SQLite cache of embeddings keyed by (embedder id, sha256 of the embedded text).

    Only a cache: a damaged file (not a database, malformed) is set aside and a new one begun, with
    a warning, and a write that fails for want of space drops the write-ahead log, which would
    otherwise keep the disk full for every ingest after it (the cached vectors it held are lost,
    and are embedded again when needed)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            try:
                con.execute("PRAGMA journal_mode=WAL")
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS emb (embedder TEXT NOT NULL, h TEXT NOT NULL, dim INTEGER NOT NULL, "
                    "vec BLOB NOT NULL, PRIMARY KEY (embedder, h)) WITHOUT ROWID"
                )
                con.commit()
            except BaseException:
                con.close()
                raise
            self._con = con
        return self._con

    def _run(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """``op(connection)`` under the lock, through the damage and full-disk handling above."""
        with self._lock:
            try:
                return op(self._conn())
            except sqlite3.DatabaseError as exc:
                if is_damaged(exc):
                    self._start_over(f"it is damaged ({exc})")
                    return op(self._conn())
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    self._close()
                    for extra in ("-wal", "-shm"):
                        Path(f"{self.path}{extra}").unlink(missing_ok=True)
                raise

    def _close(self) -> None:
        if self._con is not None:
            with contextlib.suppress(sqlite3.Error):
                self._con.close()
            self._con = None

    def _start_over(self, why: str) -> None:
        self._close()
        aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
        log.warning("embedding cache %s set aside as %s and begun anew: %s", self.path, aside.name, why)
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, aside)
        for extra in ("-wal", "-shm"):
            Path(f"{self.path}{extra}").unlink(missing_ok=True)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, embedder_id: str, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in ``texts``; counts hits and misses."""
        keys = [self.key(t) for t in texts]

        def read(con: sqlite3.Connection) -> dict[str, np.ndarray]:
            found: dict[str, np.ndarray] = {}
            uniq = list(dict.fromkeys(keys))
            for i in range(0, len(uniq), 900):
                part = uniq[i : i + 900]
                cur = con.execute(
                    f"SELECT h, dim, vec FROM emb WHERE embedder = ? AND h IN ({', '.join('?' * len(part))})",
                    [embedder_id, *part],
                )
                for h, dim, blob in cur:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if len(vec) == dim:
                        found[h] = vec
            return found

        found = self._run(read)
        out = {i: found[k] for i, k in enumerate(keys) if k in found}
        with self._lock:
            self.hits += len(out)
            self.misses += len(keys) - len(out)
        return out

    def put_many(self, embedder_id: str, texts: Sequence[str], vecs: np.ndarray) -> None:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if len(texts) != len(vecs):
            raise ValueError(f"{len(texts)} texts but {len(vecs)} vectors")
        rows = [(embedder_id, self.key(t), int(v.shape[0]), v.tobytes()) for t, v in zip(texts, vecs, strict=True)]

        def write(con: sqlite3.Connection) -> None:
            con.executemany("INSERT OR REPLACE INTO emb (embedder, h, dim, vec) VALUES (?, ?, ?, ?)", rows)
            con.commit()

        self._run(write)

    def count(self, embedder_id: str | None = None) -> int:
        def read(con: sqlite3.Connection) -> int:
            if embedder_id is None:
                return int(con.execute("SELECT count(*) FROM emb").fetchone()[0])
            return int(con.execute("SELECT count(*) FROM emb WHERE embedder = ?", (embedder_id,)).fetchone()[0])

        return self._run(read)

    def clear(self, embedder_id: str | None = None) -> None:
        def write(con: sqlite3.Connection) -> None:
            if embedder_id is None:
                con.execute("DELETE FROM emb")
            else:
                con.execute("DELETE FROM emb WHERE embedder = ?", (embedder_id,))
            con.commit()

        self._run(write)

    def close(self) -> None:
        with self._lock:
            self._close()


# --- reading a version ------------------------------------------------------------------------------


class _FilterArrays:
    """Per-chunk metadata as arrays, so that a filter mask costs a few vector operations."""

    def __init__(self, store: ChunkStore, n: int) -> None:
        self.n = n
        langs: dict[str, int] = {}
        sources: dict[str, int] = {}
        groups: dict[str, int] = {}
        tags: dict[str, int] = {}
        self.lang = np.zeros(n, np.int32)
        self.source = np.zeros(n, np.int32)
        self.valid_from = np.full(n, -1, np.int64)  # date.toordinal(); -1 = open
        self.valid_to = np.full(n, np.iinfo(np.int64).max, np.int64)
        self.has_groups = np.zeros(n, bool)
        g_rows: list[int] = []
        g_ids: list[int] = []
        t_rows: list[int] = []
        t_ids: list[int] = []
        for row, _doc, source, lang, g_json, t_json, vf, vt in store.iter_chunk_columns():
            self.lang[row] = langs.setdefault(lang, len(langs))
            self.source[row] = sources.setdefault(source, len(sources))
            if vf:
                self.valid_from[row] = _ordinal(vf)
            if vt:
                self.valid_to[row] = _ordinal(vt)
            gs = json.loads(g_json)
            if gs:
                self.has_groups[row] = True
                for g in gs:
                    g_rows.append(row)
                    g_ids.append(groups.setdefault(g, len(groups)))
            for t in json.loads(t_json):
                t_rows.append(row)
                t_ids.append(tags.setdefault(t, len(tags)))
        self.langs, self.sources, self.groups, self.tags = langs, sources, groups, tags
        self.lang_names = sorted(langs, key=langs.__getitem__)  # by code
        # (value id -> chunk rows) as CSR-like arrays
        self.g_ptr, self.g_rows = _invert(g_ids, g_rows, len(groups))
        self.t_ptr, self.t_rows = _invert(t_ids, t_rows, len(tags))
        self.any_dates = bool((self.valid_from >= 0).any() or (self.valid_to < np.iinfo(np.int64).max).any())

    def mask(self, f: Filters, today: _dt.date) -> np.ndarray | None:
        m: np.ndarray | None = None

        def both(x: np.ndarray) -> None:
            nonlocal m
            m = x if m is None else (m & x)

        if f.groups is not None and self.has_groups.any():
            both(self._visible(f.groups))
        if f.tags:
            ok = np.zeros(self.n, bool)
            for t in f.tags:
                tid = self.tags.get(t)
                if tid is not None:
                    ok[self.t_rows[self.t_ptr[tid] : self.t_ptr[tid + 1]]] = True
            both(ok)
        if f.lang:
            lid = self.langs.get(f.lang)
            both(self.lang == lid if lid is not None else np.zeros(self.n, bool))
        if f.sources:
            ids = [self.sources[s] for s in f.sources if s in self.sources]
            both(np.isin(self.source, np.asarray(ids, np.int32)) if ids else np.zeros(self.n, bool))
        if self.any_dates:
            both(self._valid(f.on_date or today))
        return m

    def _valid(self, day: _dt.date) -> np.ndarray:
        """The rows valid on ``day`` (their validity dates, inclusive)."""
        n = day.toordinal()
        return (self.valid_from <= n) & (self.valid_to >= n)

    def _visible(self, groups: Sequence[str]) -> np.ndarray:
        """The rows a user of ``groups`` may see: those in no group, or in one of theirs."""
        ok = ~self.has_groups
        for g in groups:
            gid = self.groups.get(g)
            if gid is not None:
                ok[self.g_rows[self.g_ptr[gid] : self.g_ptr[gid + 1]]] = True
        return ok

    def check_names(self, f: Filters, day: _dt.date, other_days: bool = True) -> None:
        """Refuse a tag or source filter none of whose names the asking user's documents carry.

        Such a filter keeps nothing, and every question was refused as if the knowledge base knew
        nothing of it: a misspelt tag looked like a knowledge base without answers. A filter
        that names some known names as well is left alone (a front end may send one list of tags
        to several knowledge bases). Names carried only by documents outside the user's groups,
        or by documents not valid on ``day`` (an embargoed launch, an expired offer), count as
        unknown, and the suggestions come from what the user may see, so the error discloses
        nothing the user's own search would not: a public key was told "did you mean
        'offers/launch_offer.md'?" of an offer not yet launched. ``other_days``: whether the caller
        may ask as of another day, so is told of on_date (a reader key, refused it, was told it)."""
        visible = self._visible(f.groups) if f.groups is not None and self.has_groups.any() else None
        if self.any_dates:
            valid = self._valid(day)
            visible = valid if visible is None else visible & valid
        for field, names in (("tag", f.tags), ("source", f.sources)):
            if not names:
                continue
            seen = self._visible_names(field, visible)
            if any(n in seen for n in names):
                continue
            said = quoted_names(names)
            guess = did_you_mean(names, seen)
            hint = "write tags as the documents carry them" if field == "tag" else (
                "write sources as `kb status --sources` or GET /v1/documents lists them"
            )
            if self.any_dates:
                # (only to a caller that may use it: a reader key was told "another day: on_date",
                # then refused it with a 403, QA 2026-12-07)
                hint += f" (of the documents valid on {day.isoformat()}" + ("; another day: on_date)" if other_days else ")")
            raise InputError(
                f"no document has the {field} {said}{guess}" if len(set(names)) == 1
                else f"no document has any of the {field}s {said}{guess}",
                f"{hint}, or leave the {field} filter out",
            )

    def _visible_names(self, field: str, visible: np.ndarray | None) -> list[str]:
        if field == "tag":
            names, ptr, rows = self.tags, self.t_ptr, self.t_rows
            if visible is None:
                return list(names)
            return [t for t, i in names.items() if visible[rows[ptr[i] : ptr[i + 1]]].any()]
        if visible is None:
            return list(self.sources)
        shown = set(np.unique(self.source[visible]).tolist())
        return [s for s, i in self.sources.items() if i in shown]


def even_sample(rows: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` of ``rows``, evenly spaced (all of them when there are no more)."""
    if len(rows) <= n:
        return rows
    return rows[np.linspace(0, len(rows) - 1, n).round().astype(np.int64)]


def _ordinal(value: str) -> int:
    try:
        return _dt.date.fromisoformat(str(value)[:10]).toordinal()
    except ValueError:
        return -1


def _invert(keys: list[int], rows: list[int], n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.asarray(keys, np.int64)
    r = np.asarray(rows, np.int64)
    order = np.argsort(k, kind="stable")
    ptr = np.zeros(n_keys + 1, np.int64)
    if n_keys:
        np.cumsum(np.bincount(k, minlength=n_keys), out=ptr[1:])
    return ptr, r[order]


# how this version of the code analyses chunks for the keyword index (BM25Index.analyzer), as
# "+"-joined flags: "t2s", Traditional Chinese read as Simplified; "chars", each Chinese character a
# feature beside the phrase terms (:func:`indexes.text.char_terms`); "joins", a hyphenated word's
# closed form beside its parts ("e-mail": email); "nums", Chinese numerals that count something read
# as digits (第十二条 as 第12条, 十五天 as 15天: :func:`indexes.text.arabic_numerals`); "words", jieba
# cutting with :data:`indexes.text.ZH_EXTRA_WORDS` (微信, 小程序); "us", the United States read as one term
# however written (US, U.S., USA) and the pronoun "us" a stop word. An index built before any of them is searched
# with queries analysed as its chunks were, until the next ingest (one that changes no document
# too: IndexVersion.keyword_index_behind) or `kb reindex` rebuilds it.
ANALYZER = "t2s+chars+joins+nums+words+us"


@lru_cache(maxsize=256)
def _analyze_query(
    query: str, fold: bool = True, chars: bool = False, nums: bool = True, words: bool = True, us: bool = True
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A query's BM25 terms and phrase terms (of its topic: not "long" in "how long", which says
    what kind of answer it wants); one retrieval asks for them more than once. ``fold``, ``chars``, ``nums``, ``words``:
    as the index's chunks were analysed (:func:`indexes.text.tokenize`, :func:`keyword_features`).
    A hyphenated word is searched by its parts alone: a chunk that writes it so holds them and its
    closed form, and the closed form as a third term outweighed the other words of "How to launch
    the e-manual?" (emanual-qa MRR@10 0.765 -> 0.757), while a question that writes the word
    closed ("email") finds the chunks that hyphenate it by the closed form they hold."""
    topic = query_topic(query)
    return (
        tuple(tokenize(topic, fold=fold, joins=False, nums=nums, words=words, us=us)),
        tuple(keyword_features(topic, fold=fold, chars=chars, nums=nums, words=words, us=us)),
    )


def keyword_features(
    text: str, *, fold: bool = True, chars: bool = True, nums: bool = True, words: bool = True, us: bool = True
) -> list[str]:
    """What the keyword index keeps of ``text`` beside its terms: its phrase terms and, with
    ``chars``, its Chinese characters (scored as phrase terms are)."""
    out = phrase_terms(text, fold=fold, nums=nums, words=words, us=us)
    return out + char_terms(text, fold=fold, nums=nums) if chars else out


class IndexVersion:
    """One published index version, read-only. Safe to query from many threads."""

    def __init__(self, kb: KnowledgeBase, version: str, path: Path, manifest: dict[str, Any]) -> None:
        self.kb = kb
        self.version = version
        self.path = path
        self.manifest = manifest
        self.embedder_id: str = manifest["embedder"]["id"]
        self.dim: int = int(manifest["embedder"]["dim"])
        self.n_chunks: int = int(manifest["counts"]["chunks"])
        self.n_vectors: int = int(manifest["counts"]["vectors"])
        self.store = ChunkStore.open(path / CHUNKS_DB)
        self.vec_chunk, self.vec_kind = self.store.vector_rows()
        if len(self.vec_chunk) != self.n_vectors:
            raise ValueError(f"{len(self.vec_chunk)} vector rows, manifest says {self.n_vectors}")
        raw = path / VECTORS_RAW
        if self.n_vectors:
            self.vectors: np.ndarray = np.memmap(raw, dtype=np.float32, mode="r", shape=(self.n_vectors, self.dim))
        else:
            self.vectors = np.zeros((0, self.dim), np.float32)
        idx = manifest["index"]
        set_threads(kb.search_threads)  # None leaves FAISS's OpenMP default
        opts = kb.index_options(for_search=True)
        if int(idx.get("shards", 1)) > 1:
            files = [path / f for f in idx["files"]]
            self.index: FaissVectorIndex | ShardedVectorIndex = ShardedVectorIndex.load(
                files, self.dim, idx["offsets"], self.vectors, **opts
            )
        else:
            graph = (idx.get("graph") or {}).get("file")
            if graph is not None and graph not in manifest.get("files", {}):
                raise ValueError(f"the graph file {graph!r} is not one of the version's files")
            self.index = FaissVectorIndex.load(
                path / idx["files"][0], self.dim, self.vectors, path / graph if graph else None, **opts
            )
        if self.index.ntotal != self.n_vectors:
            raise ValueError(f"FAISS index has {self.index.ntotal} vectors, manifest says {self.n_vectors}")
        if "nprobe" in idx and hasattr(self.index, "set_nprobe"):
            # the nprobe a build (e.g. `kb reindex --nprobe`) validated its recall with is a floor
            # for search; KB_NPROBE can raise it, not silently lower recall below what was reported
            self.index.set_nprobe(max(int(idx["nprobe"]), int(getattr(kb, "nprobe", 0) or 0)))
        self.bm25 = BM25Index.load(path / BM25_NPZ, path / BM25_JSON)
        if self.bm25.n_docs != self.n_chunks:
            raise ValueError(f"BM25 index has {self.bm25.n_docs} chunks, manifest says {self.n_chunks}")
        flags = set(self.bm25.analyzer.split("+"))
        self._folds = "t2s" in flags
        self._chars = "chars" in flags
        self._joins = "joins" in flags
        self._nums = "nums" in flags
        self._words = "words" in flags
        self._us = "us" in flags
        self._traditional: bool | None = None  # writes_traditional(), once asked
        self._cjk_rows: np.ndarray | None = None
        self._cjk_questions: bool | None = None
        self._filters = _FilterArrays(self.store, self.n_chunks)
        behind = self.keyword_index_behind()
        if behind:
            log.info(
                "knowledge base %s version %s has a keyword index that %s; the next `kb ingest`, "
                "or `kb reindex --kb %s`, rebuilds it (from the stored chunks, no re-embedding)",
                kb.name, version, " and ".join(behind), kb.name,
            )
        stored = manifest.get("settings")
        settings: dict[str, Any] = stored if isinstance(stored, dict) else {}
        # whether a query is embedded as its curated questions were (indexes.text.bare_question):
        # a version with none, or with them embedded in this code's form, reads the bare question
        self.bare_questions = (
            settings.get("question_form") == QUESTION_FORM or not np.any(self.vec_kind == VECTOR_KINDS["question"])
        )
        if not self.bare_questions:
            log.info(
                "knowledge base %s version %s embedded its curated questions with their closing marks: "
                "questions are embedded so too (about 1 ms slower); the next `kb ingest`, or `kb reindex "
                "--kb %s`, embeds them again without", kb.name, version, kb.name,
            )
        self._kind_ids = {
            kind: np.flatnonzero(self.vec_kind == code).astype(np.int64) for kind, code in VECTOR_KINDS.items()
        }
        self._max_per_chunk = {
            kind: int(np.bincount(self.vec_chunk[ids], minlength=1).max()) if len(ids) else 0
            for kind, ids in self._kind_ids.items()
        }
        self._mask_cache: OrderedDict[tuple[Any, ...], np.ndarray | None] = OrderedDict()
        self._mask_lock = threading.Lock()
        self._first_vid: dict[str, np.ndarray] = {}
        # (a closure over the store, not over the version: that made a reference cycle, which kept
        # every replaced version, its FAISS index and its mapped vectors file, deleted from disk,
        # until a full garbage collection; a server publishing often held dozens)
        store = self.store
        self._chunk_cache: BatchLRU[int, Chunk] = BatchLRU(lambda rows: store.get_chunks(rows), CHUNK_CACHE_SIZE)
        self._all_chunks: list[Chunk] | None = None  # every chunk, once warm_up() preloaded them
        self._positions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._row_sources: tuple[list[str], list[bool]] | None = None

    def keyword_index_behind(self) -> list[str]:
        """What the version's keyword index lacks that this code's analyzer gives (empty when it is
        current): an index built by older code is searched as it was built, and the next ingest
        publishes a version with it rebuilt even when no document changed."""
        behind = []
        if self.n_chunks and not self.bm25.has_phrases:
            behind.append("has no phrase terms")
        if any(is_cjk_lang(n) for n in self._filters.lang_names):
            if not self._folds:
                behind.append("reads Traditional and Simplified Chinese apart")
            if not self._chars:
                behind.append("matches Chinese by jieba's words only, not by their characters")
            if not self._nums:
                behind.append("reads Chinese numerals (第十二条, 十五天) apart from digits (第12条, 15天)")
            if not self._words:
                behind.append("cuts words jieba's dictionary lacks (微信, 小程序) into pieces")
        if self.n_chunks and self.bm25.analyzer and not self._joins:
            behind.append("reads a hyphenated word (e-mail) apart from the word written closed (email)")
        if self.n_chunks and self.bm25.analyzer and not self._us:
            behind.append('reads "US" as the word "us", and "U.S." apart from it')
        if not behind and self.n_chunks and not self.bm25.analyzer:
            # built before the analysis was recorded (2026-12-02), perhaps before negations kept
            # their place in the phrase terms (2026-12-01): "can't be returned" matched as "returned"
            behind.append("predates 2026-12-02 and may leave negations out of its phrase terms")
        return behind

    def warm_up(self, max_chunks: int | None = None) -> bool:
        """Make the version ready to serve queries at full speed: read what every query needs once
        (sources, languages, chunk positions, the passage vector ids), load the analyzer its
        languages need (jieba for Chinese, which the first Chinese question would otherwise
        wait 0.6 s for, after /readyz said ready) and, when the version has at most
        ``max_chunks`` chunks (default: the knowledge base's ``preload_chunks``), decode every
        chunk into memory, so that no query reads SQLite for the passages it shows. Returns
        whether the chunks were preloaded. The service warms a version before it serves it;
        ``kb ask``, which answers one question, does not."""
        self.row_sources()
        self._chunk_positions()
        self._first_vector("passage")
        load_analyzer(self.row_langs()[1])  # jieba, when the version holds Chinese
        limit = self.kb.preload_chunks if max_chunks is None else max_chunks
        if self._all_chunks is None and 0 < self.n_chunks <= int(limit):
            self._all_chunks = self.store.get_chunks(range(self.n_chunks))
        return self._all_chunks is not None

    # -- documents and chunks ------------------------------------------------------------------
    def documents(self) -> list[Document]:
        return self.store.documents()

    def doc_hashes(self) -> dict[str, str]:
        return dict(self.manifest.get("documents") or self.store.doc_hashes())

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        return self.store.chunks_of(doc_id)

    def get_chunks(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks at ``rows``, in order. A version never changes, so the chunks that queries
        keep returning (the popular FAQ entries and sections) are served from a bounded LRU cache
        instead of SQLite and JSON decoding (all of them, once :meth:`warm_up` preloaded them)."""
        every = self._all_chunks
        if every is None:
            return self._chunk_cache.get_many([int(r) for r in rows])
        rows = [int(r) for r in rows]
        bad = [r for r in rows if not 0 <= r < len(every)]
        if bad:
            raise IndexError(f"chunk rows not in this index version: {bad[:5]}")
        return [every[r] for r in rows]

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        row = self.store.row_of_id(chunk_id)
        return None if row is None else self.store.get_chunks([row])[0]

    def row_of(self, chunk_id: str) -> int | None:
        return self.store.row_of_id(chunk_id)

    def neighbours(self, row: int, before: int = 1, after: int = 1) -> list[int]:
        """Rows of the chunks of the same document at positions row-before..row+after, in
        position order, without ``row`` itself. Found in memory, from every chunk's document and
        position (read once per version), not by a query per row."""
        doc, pos, order, place = self._chunk_positions()
        row = int(row)
        if not 0 <= row < len(doc):
            return []
        d, p, i = doc[row], pos[row], int(place[row])
        lo, hi = i, i
        while lo > 0 and doc[order[lo - 1]] == d and pos[order[lo - 1]] >= p - before:
            lo -= 1
        while hi + 1 < len(order) and doc[order[hi + 1]] == d and pos[order[hi + 1]] <= p + after:
            hi += 1
        return [int(r) for r in order[lo : hi + 1] if r != row]

    def _chunk_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For every chunk row its document (as a code) and position; the rows in (document,
        position) order, and each row's place in that order. Computed once per version."""
        with self._mask_lock:
            cached = self._positions
        if cached is not None:
            return cached
        triples = self.store.positions()
        codes: dict[str, int] = {}
        doc = np.zeros(self.n_chunks, dtype=np.int64)
        pos = np.zeros(self.n_chunks, dtype=np.int64)
        for row, doc_id, position in triples:
            doc[row] = codes.setdefault(doc_id, len(codes))
            pos[row] = position
        order = np.lexsort((pos, doc))  # stable: equal positions keep row order
        place = np.empty_like(order)
        place[order] = np.arange(len(order))
        out = (doc, pos, order, place)
        with self._mask_lock:
            self._positions = out
        return out

    def vectors_of(self, chunk_ids: Sequence[str], kind: str = "passage") -> np.ndarray:
        """The stored vectors of ``chunk_ids`` (first vector of that kind per chunk), in order.
        Raises KeyError for a chunk without one."""
        rows = self.store.rows_of_ids(chunk_ids)
        first = self._first_vector(kind)
        vids = np.array([first[r] if r is not None else -1 for r in rows], dtype=np.int64)
        bad = np.flatnonzero(vids < 0)
        if len(bad):
            raise KeyError(f"chunk {chunk_ids[int(bad[0])]} has no {kind} vector in version {self.version}")
        return np.asarray(self.vectors[vids], dtype=np.float32).reshape(len(vids), self.dim)

    def _first_vector(self, kind: str) -> np.ndarray:
        """For each chunk row, the id of its first vector of ``kind`` (-1 if none); computed once."""
        with self._mask_lock:
            cached = self._first_vid.get(kind)
            if cached is None:
                ids = self._kind_ids[kind]  # ascending vector ids
                rows, first_pos = np.unique(self.vec_chunk[ids], return_index=True)
                cached = np.full(self.n_chunks, -1, np.int64)
                cached[rows] = ids[first_pos]
                self._first_vid[kind] = cached
            return cached

    def row_sources(self) -> tuple[list[str], list[bool]]:
        """For every chunk row: its source id (an FAQ entry's is ``source#faq_id``) and whether it
        has a curated question (FAQ). Read once per version, so that fusing a query's candidate
        pool needs no chunk objects (building ~100 of them was a third of a retrieval's time).
        Python lists, not arrays: fusion looks up a few hundred single rows per query, and
        indexing a numpy array by one row costs more than the lookup."""
        with self._mask_lock:
            cached = self._row_sources
        if cached is not None:
            return cached
        sids: list[str] = [""] * self.n_chunks
        has_q = [False] * self.n_chunks
        seen: dict[str, str] = {}  # one string per source, shared by its rows
        for row, source, faq_id, q in self.store.source_rows():
            sid = f"{source}#{faq_id}" if faq_id is not None else source
            sids[row] = seen.setdefault(sid, sid)
            has_q[row] = bool(q)
        out = (sids, has_q)
        with self._mask_lock:
            self._row_sources = out
        return out

    def row_langs(self) -> tuple[np.ndarray, list[str]]:
        """For every chunk row its language, as a code into the returned list of languages."""
        f = self._filters
        return f.lang, f.lang_names

    def cjk_rows(self) -> np.ndarray:
        """Which chunk rows are in a language written in CJK characters (read-only)."""
        if self._cjk_rows is None:
            codes, names = self.row_langs()
            mask = np.array([is_cjk_lang(n) for n in names], dtype=bool)[codes] if names else np.zeros(0, bool)
            mask.setflags(write=False)
            self._cjk_rows = mask
        return self._cjk_rows

    def holds_cjk_questions(self) -> bool:
        """Whether the version holds a curated question in a language written in CJK characters
        (then a Chinese query keeps its closing marks, as those questions were embedded with them:
        :func:`indexes.text.bare_question`). Worked out once per version."""
        if self._cjk_questions is None:
            rows = self.vec_chunk[self._kind_ids["question"]]
            self._cjk_questions = bool(len(rows)) and bool(self.cjk_rows()[rows].any())
        return self._cjk_questions

    def writes_traditional(self) -> bool:
        """Whether the version's Chinese is written in Traditional characters: the CJK characters of
        an even sample of up to 256 of its chunks in a CJK language, by
        :func:`indexes.text.writes_traditional`. Worked out once per version (two threads that
        ask at once may both work it out, alike)."""
        if self._traditional is None:
            rows = even_sample(np.flatnonzero(self.cjk_rows()), 256)
            text = "".join(c.text for c in self.get_chunks(rows.tolist())) if len(rows) else ""
            self._traditional = writes_traditional(text)
        return self._traditional

    # -- filters -------------------------------------------------------------------------------
    def allowed_mask(
        self, filters: Filters | None, today: _dt.date | None = None, other_days: bool = True
    ) -> np.ndarray | None:
        """Boolean mask over chunk rows for ``filters`` (validity dates are always applied, as of
        ``filters.on_date`` or today); None when every chunk is allowed. ``other_days``: see
        :meth:`check_names`."""
        if filters is None and not self._filters.any_dates:
            return None  # no filter, no validity dates: the question most queries ask, answered first
        f = filters or Filters()
        day = f.on_date or today or _dt.date.today()
        key = (f.groups, f.tags, f.lang, f.sources, day)
        with self._mask_lock:
            if key in self._mask_cache:
                self._mask_cache.move_to_end(key)
                return self._mask_cache[key]
        self._filters.check_names(f, day, other_days)
        m = self._filters.mask(f, day)
        if m is not None and m.all():
            m = None
        if m is not None:
            m.setflags(write=False)
        with self._mask_lock:
            self._mask_cache[key] = m
            while len(self._mask_cache) > 256:
                self._mask_cache.popitem(last=False)
        return m

    # -- search ---------------------------------------------------------------------------------
    def vector_search(
        self, qvec: np.ndarray, k: int, allowed: np.ndarray | None = None, kind: str = "passage"
    ) -> list[tuple[int, float]]:
        """Top ``k`` (chunk row, cosine), best first; a chunk's score is the max over its vectors of
        ``kind``. ``allowed`` (a chunk-row mask) is applied inside the FAISS search."""
        self._check_search((kind,), allowed)
        if k <= 0:
            return []
        kind_ids = self._kind_ids[kind]
        if len(kind_ids) == 0:
            return []
        q = np.asarray(qvec, dtype=np.float32).reshape(1, -1)
        if allowed is None and len(kind_ids) == self.n_vectors:
            ids: np.ndarray | None = None
        else:
            ids = kind_ids if allowed is None else kind_ids[allowed[self.vec_chunk[kind_ids]]]
            if len(ids) == 0:
                return []
        fetch = k * max(1, self._max_per_chunk[kind])
        d, i = self.index.search(q, fetch, ids)
        found = i[0] >= 0
        return self._best_rows(i[0][found], d[0][found], k)

    def _check_search(self, kinds: Sequence[str], allowed: np.ndarray | None) -> None:
        for kind in kinds:
            if kind not in VECTOR_KINDS:
                raise ValueError(f"kind must be passage or question, not {kind!r}")
        if allowed is not None and len(allowed) != self.n_chunks:
            raise ValueError(f"allowed mask has {len(allowed)} rows, index has {self.n_chunks} chunks")

    def _best_rows(self, vids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The top ``k`` (chunk row, score) of the vectors ``vids`` scored ``scores``: a chunk
        scores its best vector; ties go to the lower row. In numpy: a loop over a search's 120
        vectors took 0.06 ms of every query."""
        rows = self.vec_chunk[vids]
        order = np.lexsort((rows, -scores))  # best first, ties to the lower row
        rows, scores = rows[order], scores[order]
        first = np.sort(np.unique(rows, return_index=True)[1])[:k]  # each row's best vector, in that order
        return list(zip(rows[first].tolist(), scores[first].tolist(), strict=True))

    def vector_search_all(
        self,
        qvec: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        kinds: Sequence[str] = ("passage", "question"),
        shift: tuple[np.ndarray, float] | None = None,
    ) -> tuple[dict[str, list[tuple[int, float]]], np.ndarray | None]:
        """:meth:`vector_search` for each of ``kinds``, and every chunk row's passage score
        (:meth:`passage_similarity` of every row; None when the index does not score every
        vector in one pass). A small flat index scores every vector once (FAISS's
        ``compute_distance_subset``, the scores its search gives) and each kind ranks its own:
        on a 426-vector FAQ bank the two ID-selector searches and the scoring of BM25's other
        candidates took 0.47 ms after a query's embedding (0.23 ms this way). A tie at the cut
        (duplicate vectors: a manual printing a section twice) goes to the lower row, as in the
        fp16 scan and across shards; FAISS's own search keeps either.

        ``shift``: (a chunk-row mask, an amount >= 0) added to the score of every vector of those
        rows before the cut, in what is returned too: the rows are ranked as if they scored that
        much more. An index that does not score every vector at once searches those rows and the
        others apart (the top ``k`` of the shifted whole is within the two tops)."""
        self._check_search(kinds, allowed)
        if shift is not None and (len(shift[0]) != self.n_chunks or shift[1] < 0):
            raise ValueError("shift must be a chunk-row mask and an amount >= 0")
        every = self.index.score_all(qvec) if k > 0 and self.n_vectors else None
        if every is None:
            if shift is None or not shift[0].any():
                return {kind: self.vector_search(qvec, k, allowed, kind=kind) for kind in kinds}, None
            rows, amount = shift
            base = np.ones(self.n_chunks, dtype=bool) if allowed is None else allowed
            out_apart: dict[str, list[tuple[int, float]]] = {}
            for kind in kinds:
                rest = self.vector_search(qvec, k, base & ~rows, kind=kind)
                moved = [(r, s + amount) for r, s in self.vector_search(qvec, k, base & rows, kind=kind)]
                out_apart[kind] = sorted(rest + moved, key=lambda x: (-x[1], x[0]))[:k]
            return out_apart, None
        if shift is not None and shift[1] > 0:
            every[shift[0][self.vec_chunk]] += shift[1]
        out: dict[str, list[tuple[int, float]]] = {}
        for kind in kinds:
            ids = self._kind_ids[kind]
            if allowed is not None:
                ids = ids[allowed[self.vec_chunk[ids]]]
            scores = every[ids]
            fetch = k * max(1, self._max_per_chunk[kind])
            if len(ids) > fetch:
                # every vector scoring at least the fetch-th best: ties there are all kept
                floor = np.partition(scores, len(scores) - fetch)[len(scores) - fetch]
                keep = scores >= floor
                ids, scores = ids[keep], scores[keep]
            out[kind] = self._best_rows(ids, scores, k)
        first = self._first_vector("passage")
        passage = every[first]
        passage[first < 0] = np.nan
        return out, passage

    def _analyze(self, query: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """:func:`_analyze_query` as this version's chunks were analysed, with a word the corpus
        does not know read as the one it is a typo of (:meth:`BM25Index.correct`)."""
        terms, phrases = _analyze_query(query, self._folds, self._chars, self._nums, self._words, self._us)
        return self.bm25.correct(terms), phrases

    def correct_terms(self, terms: tuple[str, ...], synonyms: bool = True) -> tuple[str, ...]:
        """Query ``terms`` with each word the corpus does not know read as the one it is a typo of
        (and as its synonyms the corpus knows, with ``synonyms``: :meth:`BM25Index.correct`)."""
        return self.bm25.correct(terms, synonyms)

    def keyword_search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk row, BM25 score > 0), best first, over :func:`indexes.text.tokenize`
        terms and :func:`indexes.text.phrase_terms` phrases."""
        terms, phrases = self._analyze(query)
        return self.bm25.search(terms, k, allowed, phrases=phrases)

    def keyword_search_all(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[list[tuple[int, float]], np.ndarray]:
        """:meth:`keyword_search`'s top ``k``, and every chunk row's BM25 score (0 for rows
        ``allowed`` excludes), from the same pass: what :meth:`keyword_scores` would give for any
        rows, without searching the postings again."""
        terms, phrases = self._analyze(query)
        return self.bm25.search_all(terms, k, allowed, phrases=phrases)

    def keyword_scores(self, query: str, rows: Sequence[int]) -> np.ndarray:
        """BM25 scores of ``query`` for the chunks at ``rows`` (0 where a chunk lacks every term),
        so that a chunk the vector search found is scored by BM25 too, not counted as absent."""
        terms, phrases = self._analyze(query)
        return self.bm25.scores_of(terms, rows, phrases=phrases)

    def keyword_held(self, query: str) -> HeldTerms | None:
        """Which of ``query``'s terms every chunk holds (:class:`~indexes.keyword.HeldTerms`, whose
        ``coverage`` is :meth:`keyword_coverage`'s), in one pass over their postings, for a caller
        that reads it ahead of the passages it will ask about; None when it has too many terms."""
        terms, _ = self._analyze(query)
        return self.bm25.held(terms)

    def keyword_coverage(self, query: str, groups: Sequence[Sequence[int]]) -> list[float]:
        """For each group of chunk rows (one passage), the share of the query's distinct terms
        that the passage holds (title and headings included, as indexed)."""
        terms, _ = self._analyze(query)
        return self.bm25.coverage(terms, groups)

    def passage_similarity(self, qvec: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Inner product of ``qvec`` with the passage vector of each chunk at ``rows``, from the
        stored vectors (exact, whatever the ANN index); NaN for a chunk without one, or for
        every chunk when the raw vectors were not kept."""
        out = np.full(len(rows), np.nan, dtype=np.float32)
        ok, vecs = self._passage_vectors(rows)
        if len(vecs):
            out[ok] = vecs @ np.asarray(qvec, dtype=np.float32).reshape(-1)
        return out

    def passage_vectors(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The chunk rows among ``rows`` that have a passage vector (in their order), and a copy
        of those vectors, one row each: a caller that scores the same rows for every query keeps
        them, instead of gathering them from the stored vectors each time."""
        ok, vecs = self._passage_vectors(rows)
        return np.asarray(rows, dtype=np.int64).reshape(-1)[ok], np.ascontiguousarray(vecs)

    def _passage_vectors(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(which of ``rows`` have a passage vector, as a mask; their vectors, float32)."""
        if not len(rows) or len(self.vectors) == 0:
            return np.zeros(len(rows), dtype=bool), np.zeros((0, self.dim), dtype=np.float32)
        vids = self._first_vector("passage")[np.asarray(rows, dtype=np.int64)]
        ok = vids >= 0
        if not ok.any():
            return ok, np.zeros((0, self.dim), dtype=np.float32)
        return ok, np.asarray(self.vectors[vids[ok]], dtype=np.float32).reshape(-1, self.dim)

    def close(self) -> None:
        self.store.close()


# --- writing a version ----------------------------------------------------------------------------


class VersionWriter:
    """Builds a new version in a temp directory; :meth:`KnowledgeBase.publish` makes it live."""

    def __init__(self, kb: KnowledgeBase, version: str, path: Path, embedder_id: str, dim: int,
                 settings: Mapping[str, Any]) -> None:
        self.kb = kb
        self.version = version
        self.path = path
        self.embedder_id = embedder_id
        self.dim = int(dim)
        self.settings = dict(settings)
        self.store = ChunkStore.create(path / CHUNKS_DB)
        self._raw = open(path / VECTORS_RAW, "wb")  # noqa: SIM115 - closed in finalize/discard
        self._doc_hashes: dict[str, str] = {}
        self._doc_ids: set[str] = set()
        self._chunk_rows: dict[str, int] = {}
        self._chunk_docs: set[str] = set()
        self._n_vectors = 0
        self._vec_counts = {"passage": 0, "question": 0}
        self._has_passage: set[int] = set()
        self._bm25 = BM25Builder()  # chunks are analysed as they arrive (overlaps with embedding)
        self.manifest: dict[str, Any] | None = None
        self.closed = False

    @property
    def n_chunks(self) -> int:
        return len(self._chunk_rows)

    def _check_open(self) -> None:
        if self.closed or self.manifest is not None:
            raise RuntimeError(f"version {self.version} is already finalized or discarded")

    def add_documents(self, docs: Sequence[Document], hashes: Mapping[str, str]) -> None:
        self._check_open()
        new = [d for d in docs if d.id not in self._doc_ids]
        self.store.add_documents(new, hashes)
        for d in new:
            self._doc_ids.add(d.id)
            self._doc_hashes[d.id] = hashes.get(d.id, d.id)

    def add_chunks(self, chunks: Sequence[Chunk]) -> None:
        self._check_open()
        fresh: list[Chunk] = []
        seen: set[str] = set()
        for c in chunks:
            if c.id in self._chunk_rows or c.id in seen:
                raise InputError(f"duplicate chunk id {c.id} (document {c.source})", "chunk ids must be unique")
            if c.doc_id not in self._doc_ids:
                raise InputError(f"chunk {c.id} belongs to unknown document {c.doc_id}", "add_documents first")
            seen.add(c.id)
            fresh.append(c)
        first = len(self._chunk_rows)
        self.store.add_chunks(first, fresh)
        for i, c in enumerate(fresh):
            self._chunk_rows[c.id] = first + i
            text = c.embed_text()
            self._bm25.add(tokenize(text), keyword_features(text))

    def add_vectors(self, chunk_ids: Sequence[str], kind: str, vecs: np.ndarray) -> None:
        self._check_open()
        if kind not in VECTOR_KINDS:
            raise ValueError(f"vector kind must be passage or question, not {kind!r}")
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(chunk_ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(chunk_ids)}, {self.dim}), got {vecs.shape}")
        if not np.isfinite(vecs).all():
            raise ValueError("vectors contain NaN or infinity")
        rows = []
        for cid in chunk_ids:
            r = self._chunk_rows.get(cid)
            if r is None:
                raise KeyError(f"vector for unknown chunk {cid}; add_chunks first")
            rows.append(r)
        self._raw.write(vecs.tobytes())
        self.store.add_vector_rows(self._n_vectors, rows, VECTOR_KINDS[kind])
        self._n_vectors += len(rows)
        self._vec_counts[kind] += len(rows)
        if kind == "passage":
            self._has_passage.update(rows)

    def copy_documents_from(
        self, prev: IndexVersion, doc_ids: Sequence[str], questions: Callable[[list[str]], np.ndarray] | None = None
    ) -> int:
        """Copy documents, their chunks and their stored vectors from ``prev`` (nothing is
        re-embedded), except, given ``questions`` (curated questions -> their vectors), the
        question vectors, embedded again from the chunks' questions (a version that embedded them
        in an earlier form: :data:`indexes.text.QUESTION_FORM`). Returns the number of chunks copied."""
        self._check_open()
        if prev.dim != self.dim or prev.embedder_id != self.embedder_id:
            raise EmbedderMismatchError(prev.embedder_id, self.embedder_id, self.kb.name)
        wanted = set(doc_ids)
        docs = [d for d in prev.documents() if d.id in wanted]
        hashes = prev.doc_hashes()
        self.add_documents(docs, {d.id: hashes.get(d.id, d.id) for d in docs})
        copied = 0
        vec_chunk = prev.vec_chunk
        for d in docs:
            chunks = prev.chunks_of(d.id)
            if not chunks:
                continue
            old_rows = np.asarray(prev.store.chunk_rows_of(d.id), np.int64)
            self.add_chunks(chunks)
            copied += len(chunks)
            row_to_id = dict(zip(old_rows.tolist(), [c.id for c in chunks], strict=True))
            vids = np.flatnonzero(np.isin(vec_chunk, old_rows))
            for kind, code in VECTOR_KINDS.items():
                sel = vids[prev.vec_kind[vids] == code]
                if kind == "question" and questions is not None:
                    asked = [c for c in chunks if c.question]
                    if asked:
                        self.add_vectors([c.id for c in asked], kind, questions([c.question or "" for c in asked]))
                elif len(sel):
                    self.add_vectors([row_to_id[int(r)] for r in vec_chunk[sel]], kind, np.asarray(prev.vectors[sel]))
        return copied

    def finalize(self, index_kind: str = "auto", shards: int | None = None) -> dict[str, Any]:
        """Build the FAISS and BM25 indexes, write manifest.json; returns the manifest."""
        self._check_open()
        if index_kind not in INDEX_KINDS:
            raise ConfigError(f"unknown index kind {index_kind!r}", f"use one of {', '.join(INDEX_KINDS)}")
        missing = len(self._chunk_rows) - len(self._has_passage)
        if missing:
            raise InputError(f"{missing} chunks have no passage vector", "embed every chunk before finalize")
        hook = self.kb.fault_hook
        t0 = time.perf_counter()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        self.store.finish()
        self.store.close()
        if hook:
            hook("finalize:store")
        n, dim = self._n_vectors, self.dim
        vecs = (
            np.memmap(self.path / VECTORS_RAW, dtype=np.float32, mode="r", shape=(n, dim))
            if n
            else np.zeros((0, dim), np.float32)
        )
        opts = self.kb.index_options()
        opts["kind"] = index_kind
        n_shards = int(shards if shards is not None else self.kb.shards)
        probe = FaissVectorIndex(dim, **opts)
        chosen = probe.choose_kind(n)
        mem = estimate_memory(n, dim, chosen, nlist=opts.get("nlist"), pq_m=opts.get("pq_m"))
        log.info("building %s index over %d vectors (~%.1f MiB)", chosen, n, mem / 2**20)
        opts_build = dict(opts, gpu="off")  # build on CPU; GPU is a search-time copy
        index_info: dict[str, Any]
        threads_before = set_threads(os.cpu_count() or 1)  # training/adding use every core
        try:
            index_info = self._build_vectors(vecs, opts_build, n_shards)
        finally:
            set_threads(threads_before)
        index_info.pop("gpu", None)
        # how a flat index is searched (fp32, fp16 codes, the graph) is decided where it is loaded,
        # by KB_FLAT_SCAN and the files beside it: the index as built said "fp32" beside its graph
        index_info.pop("scan", None)
        index_info["memory_estimate_bytes"] = mem
        if hook:
            hook("finalize:faiss")
        assert self._bm25.n_docs == len(self._chunk_rows)
        bm25 = self._bm25.build(k1=self.kb.bm25_k1, b=self.kb.bm25_b)
        bm25.analyzer = ANALYZER
        self._bm25 = BM25Builder()
        bm25.save(self.path / BM25_NPZ, self.path / BM25_JSON)
        if hook:
            hook("finalize:bm25")
        for name in os.listdir(self.path):
            if name != MANIFEST:
                _fsync_file(self.path / name)
        files = {name: os.path.getsize(self.path / name) for name in sorted(os.listdir(self.path))}
        digests = {name: _sha256_file(self.path / name) for name in files}
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "kb": self.kb.name,
            "version": self.version,
            "parent": self.kb.live_version(),
            "created_at": _now(),
            "embedder": {"id": self.embedder_id, "dim": self.dim},
            "settings": self.settings,
            "documents": dict(sorted(self._doc_hashes.items())),
            "counts": {
                "documents": len(self._doc_ids),
                "chunks": len(self._chunk_rows),
                "vectors": n,
                "passage_vectors": self._vec_counts["passage"],
                "question_vectors": self._vec_counts["question"],
            },
            "index": index_info,
            "bm25": {"k1": bm25.k1, "b": bm25.b, "terms": len(bm25.vocab), "phrases": len(bm25.phrase_keys)},
            "files": files,
            "sha256": digests,
            "build_seconds": round(time.perf_counter() - t0, 3),
        }
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        if hook:
            hook("finalize:manifest")
        self.manifest = manifest
        return manifest

    def _build_vectors(self, vecs: np.ndarray, opts: dict[str, Any], n_shards: int) -> dict[str, Any]:
        if n_shards > 1:
            sharded = ShardedVectorIndex(self.dim, n_shards, **opts).build(np.asarray(vecs))
            files = [f"vectors.{s}.faiss" for s in range(n_shards)]
            sharded.save([self.path / f for f in files])
            info = sharded.info()
            info.update(files=files, offsets=[int(x) for x in sharded.offsets])
            return info
        single = FaissVectorIndex(self.dim, **opts).build(np.asarray(vecs))
        single.save(self.path / "vectors.faiss")
        info = single.info()
        info.update(files=["vectors.faiss"], shards=1)
        if single.graph_wanted():
            write_index(build_graph(vecs), self.path / VECTORS_GRAPH)
            info["graph"] = {"file": VECTORS_GRAPH, "m": GRAPH_M, "ef_construction": GRAPH_EF_CONSTRUCTION}
        return info

    def _abort(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._raw.close()
            with contextlib.suppress(Exception):
                self.store.close()
        self.closed = True


# --- the knowledge base -----------------------------------------------------------------------------


def _setting(name: str) -> Any:
    """The default of a :class:`kb.settings.Settings` field: a :class:`KnowledgeBase` made in code
    and one the service makes from its settings share their index options' defaults."""
    return Settings.model_fields[name].default


class KnowledgeBase:
    """One knowledge base under ``home/name``. Cheap to construct; nothing is read until asked."""

    fault_hook: FaultHook | None = None  # tests only: called at each publish/finalize stage

    def __init__(
        self,
        home: Path,
        name: str,
        *,
        keep_versions: int = _setting("keep_versions"),
        flat_max: int = _setting("flat_max"),
        ann: str = _setting("ann"),
        nprobe: int = _setting("nprobe"),
        nlist: int | None = None,
        pq_m: int | None = None,
        hnsw_m: int = 32,
        ef_search: int = 64,
        shards: int = 1,
        faiss_gpu: str = _setting("faiss_gpu"),
        flat_scan: str = _setting("flat_scan"),
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        search_threads: int | None = 1,
        preload_chunks: int = _setting("preload_chunks"),
    ) -> None:
        self.home = Path(home)
        self.name = validate_kb_name(name)
        self.path = self.home / name
        self.keep_versions = max(1, int(keep_versions))
        self.flat_max = int(flat_max)
        self.ann = ann
        self.nprobe = int(nprobe)
        self.nlist = nlist
        self.pq_m = pq_m
        self.hnsw_m = int(hnsw_m)
        self.ef_search = int(ef_search)
        self.shards = max(1, int(shards))
        self.faiss_gpu = faiss_gpu
        self.flat_scan = flat_scan
        self.bm25_k1 = float(bm25_k1)
        self.bm25_b = float(bm25_b)
        self.search_threads = search_threads
        # a version of at most this many chunks, warmed up to be served, keeps every chunk decoded
        # in memory (about 1.5 KB each: 30 MB at the default 20,000), as LangChain's in-memory
        # docstore does: showing a query's passages then reads no SQLite (bench/query.py,
        # mtrag-un: 3.06 -> 2.41 ms after the query embedding on first turns); IndexVersion.warm_up
        self.preload_chunks = max(0, int(preload_chunks))
        self._cache: EmbeddingCache | None = None

    @classmethod
    def from_settings(cls, home: Path, name: str, settings: Any) -> KnowledgeBase:
        """Convenience for the shell: take the index options from a kb.settings.Settings."""
        return cls(
            home,
            name,
            keep_versions=settings.keep_versions,
            flat_max=settings.flat_max,
            ann=settings.ann,
            nprobe=settings.nprobe,
            faiss_gpu=settings.faiss_gpu,
            flat_scan=settings.flat_scan,
            preload_chunks=settings.preload_chunks,
        )

    def index_options(self, for_search: bool = False) -> dict[str, Any]:
        return {
            "flat_max": self.flat_max,
            "ann": self.ann,
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "pq_m": self.pq_m,
            "hnsw_m": self.hnsw_m,
            "ef_search": self.ef_search,
            "gpu": self.faiss_gpu if for_search else "off",
            "flat_scan": self.flat_scan,
        }

    # -- paths ---------------------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.path / "versions"

    @property
    def tmp_dir(self) -> Path:
        return self.path / "tmp"

    def exists(self) -> bool:
        return self.live_version() is not None

    def live_version(self) -> str | None:
        """The live version's id; None for a knowledge base never published. A pointer file that
        is there but blank (a disk that lost its last write) is damage, not "no knowledge base":
        taken for one, `kb ingest` built a new index of one folder over the others."""
        try:
            v = (self.path / CURRENT).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not v:
            intact = self.fallbacks()
            raise IndexCorruptError(
                f"the live-version pointer {self.path / CURRENT} of knowledge base {self.name!r} is empty",
                f"write the id of version {intact[0]} into it" if intact
                else f"run `kb reindex --kb {self.name} --source DIR` to rebuild it",
            )
        return v

    def _mark_damaged(self, path: Path, why: BaseException) -> None:
        """Note in version ``path`` that its files failed their checksums when it was loaded (best
        effort): a byte changed in place leaves every size as the manifest records, and such a
        version counted as intact. After `kb reindex` rebuilt over it, GC kept it, as the new
        version's parent, and removed the intact version the error had offered to fall back on."""
        try:
            (path / DAMAGED_MARK).write_text(f"{why}\n", encoding="utf-8")
        except OSError:
            pass

    def _manifest(self, version: str) -> dict[str, Any] | None:
        """A version's manifest when it reads and its files have the sizes it records
        (:func:`_verify_files`), and no load found them damaged (:meth:`_mark_damaged`); None for a
        damaged one."""
        path = self.versions_dir / version
        if (path / DAMAGED_MARK).exists():
            return None
        try:
            m = _read_manifest(path)
            _verify_files(path, m)
            return m  # type: ignore[no-any-return]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def fallbacks(self, live: str | None = None) -> list[str]:
        """The intact versions other than ``live``, in the order to fall back on them: those it
        was built from (its parent, the parent's parent: each was live before it), then the rest,
        newest first. A version published but never made live (its publisher killed before the
        pointer moved) is not among its ancestors, so it comes after them."""
        versions = self.versions()
        manifests = {v: self._manifest(v) for v in versions}
        chain: list[str] = []
        v = live
        while v is not None and v not in chain:
            chain.append(v)
            m = manifests.get(v)
            v = m.get("parent") if m else _parent_of_damaged(self.versions_dir / v)
        ordered = [*chain[1:], *reversed(versions)]
        return [v for v in dict.fromkeys(ordered) if v != live and manifests.get(v) is not None]

    def versions(self) -> list[str]:
        """Complete version directories, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    # -- loading ---------------------------------------------------------------------------------
    def load_live(self, expected_embedder: str | None = None) -> IndexVersion:
        version = self.live_version()
        if version is None:
            raise KnowledgeBaseNotFound(self.name, self.home)
        return self.load_version(version, expected_embedder)

    def load_version(self, version: str, expected_embedder: str | None = None) -> IndexVersion:
        path = self.versions_dir / version

        def fix() -> str:  # said only when loading fails: it reads every other version's manifest
            out = f"run `kb reindex --kb {self.name} --source DIR` to rebuild it from its files"
            intact = self.fallbacks(version)
            if intact:
                out += f", or make version {intact[0]} live again by writing its id into {self.path / CURRENT}"
            return out

        if not path.is_dir():
            raise IndexCorruptError(f"live version {version} of knowledge base {self.name!r} is missing", fix())
        try:
            manifest = _read_manifest(path)
            _verify_files(path, manifest)
            # bytes changed in place (a flipped block of vectors ranked one document first for
            # every question, and was copied into every later version): versions written
            # before the manifest kept digests are read as they are
            for fname, digest in (manifest.get("sha256") or {}).items():
                if _sha256_file(path / fname) != digest:
                    raise ValueError(f"{fname} does not match its checksum")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if not isinstance(exc, OSError) or isinstance(exc, FileNotFoundError):
                self._mark_damaged(path, exc)
            raise IndexCorruptError(f"index version {version} of {self.name!r} is damaged ({exc})", fix()) from exc
        if (path / DAMAGED_MARK).exists():  # whole again (its files put back)
            with contextlib.suppress(OSError):
                (path / DAMAGED_MARK).unlink()
        if expected_embedder is not None:
            built = manifest["embedder"]["id"]
            if canonical_embedder_id(expected_embedder) != built:
                raise EmbedderMismatchError(built, expected_embedder, self.name)
        try:
            return IndexVersion(self, version, path, manifest)
        except KBError:
            raise
        except Exception as exc:  # noqa: BLE001 - FAISS/SQLite/numpy errors on damaged files
            raise IndexCorruptError(
                f"index version {version} of {self.name!r} is damaged ({type(exc).__name__}: {exc})", fix()
            ) from exc

    # -- lock -----------------------------------------------------------------------------------
    def lock(self, timeout: float = 0, what: str = "") -> contextlib.AbstractContextManager[Any]:
        """Exclusive lock for writers (ingest, reindex, delete). Released when the block ends or
        when the holding process dies. Raises LockedError naming the holder."""
        return _KBLock(self.path / "lock", self.name, timeout, what or f"pid {os.getpid()}")

    def holds_lock(self) -> bool:
        with _HELD_LOCK:
            return str(self.path / "lock") in _HELD

    # -- writing ---------------------------------------------------------------------------------
    def begin_version(self, embedder_id: str, dim: int, settings: Mapping[str, Any]) -> VersionWriter:
        self._clean_tmp()
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        version = f"v{stamp}-{secrets.token_hex(3)}"
        tmp = self.tmp_dir / f"{version}.{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=False)
        return VersionWriter(self, version, tmp, embedder_id, dim, settings)

    def discard(self, writer: VersionWriter) -> None:
        writer._abort()
        shutil.rmtree(writer.path, ignore_errors=True)

    def publish(self, writer: VersionWriter) -> str:
        """Make ``writer``'s version live: rename its directory into versions/, swap CURRENT
        atomically, then GC. Takes the lock unless this process already holds it."""
        if writer.manifest is None:
            writer.finalize()
        ctx: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if self.holds_lock() else self.lock(timeout=30, what="publish")
        )
        hook = self.fault_hook
        with ctx:
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            dest = self.versions_dir / writer.version
            if hook:
                hook("publish:before_rename")
            os.rename(writer.path, dest)
            _fsync_dir(self.versions_dir)
            _fsync_dir(self.tmp_dir)
            writer.path = dest
            writer.closed = True
            if hook:
                hook("publish:before_pointer")
            atomic_write_text(self.path / CURRENT, writer.version + "\n")
            if hook:
                hook("publish:after_pointer")
            self.gc()
        return writer.version

    def gc(self) -> list[str]:
        """Remove old versions (keeping the live one and the newest ``keep_versions`` in all) and
        temp directories whose writer process is gone. Returns what was removed."""
        removed: list[str] = []
        live = self.live_version()
        # the live one, then the intact versions to fall back on (:meth:`fallbacks`): a damaged
        # version, or one never made live, went first, not the intact one the live was built from
        keep = {live} if live else set()
        keep.update(self.fallbacks(live)[: self.keep_versions - len(keep)])
        for v in self.versions():
            if v not in keep:
                shutil.rmtree(self.versions_dir / v, ignore_errors=True)
                removed.append(v)
        for p in self.path.glob(f".{CURRENT}.tmp-*"):  # pointer temp files of killed publishers
            parts = p.name.split("-")
            if len(parts) >= 2 and parts[1].isdigit() and not pid_alive(int(parts[1])):
                p.unlink(missing_ok=True)
                removed.append(p.name)
        return removed + self._clean_tmp()

    def _clean_tmp(self) -> list[str]:
        """Remove the temp versions of writers that died (kill -9): done when a version is begun,
        not only after one is published, since on a nearly full disk they stopped every writer
        that came after them."""
        removed: list[str] = []
        if self.tmp_dir.is_dir():
            for p in self.tmp_dir.iterdir():
                pid_s = p.name.rsplit(".", 1)[-1]
                pid = int(pid_s) if pid_s.isdigit() else -1
                if pid == os.getpid() or (pid > 0 and pid_alive(pid)):
                    continue
                shutil.rmtree(p, ignore_errors=True)
                removed.append(f"tmp/{p.name}")
        return removed

    # -- misc ------------------------------------------------------------------------------------
    @property
    def embedding_cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self.path / "embcache.sqlite")
        return self._cache

    def status(self) -> dict[str, Any]:
        live = self.live_version()
        out: dict[str, Any] = {
            "kb": self.name,
            "path": str(self.path),
            "live_version": live,
            "documents": 0,
            "chunks": 0,
            "vectors": 0,
            "embedder": None,
            "dim": None,
            "index_kind": None,
            "size_bytes": _dir_size(self.path) if self.path.is_dir() else 0,
            "versions": [],
        }
        for v in self.versions():
            entry: dict[str, Any] = {"version": v, "live": v == live}
            m = None
            try:
                m = _read_manifest(self.versions_dir / v)
                entry.update(created_at=m.get("created_at"), chunks=m["counts"]["chunks"],
                             embedder=m["embedder"]["id"])
                if v == live:
                    out.update(
                        documents=m["counts"]["documents"],
                        chunks=m["counts"]["chunks"],
                        vectors=m["counts"]["vectors"],
                        embedder=m["embedder"]["id"],
                        dim=m["embedder"]["dim"],
                        index_kind=m["index"]["kind"],
                        index=m["index"],
                        created_at=m.get("created_at"),
                        settings=m.get("settings", {}),
                    )
            except (OSError, ValueError, KeyError):
                entry["damaged"] = True
            try:  # its counts shown all the same, from the manifest it has
                _verify_files(self.versions_dir / v, m)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                entry["damaged"] = True
            out["versions"].append(entry)
        if live and not any(e["version"] == live and not e.get("damaged") for e in out["versions"]):
            intact = self.fallbacks(live)
            out["problem"] = (
                f"live version {live} is missing or damaged; `kb reindex --kb {self.name} --source DIR` rebuilds it"
                + (f", or write {intact[0]} into {self.path / CURRENT} to make that version live again" if intact else "")
            )
        return out


@contextlib.contextmanager
def writing(kb: KnowledgeBase, embedder_id: str, dim: int, settings: Mapping[str, Any]) -> Iterator[VersionWriter]:
    """``with writing(kb, ...) as w: ...``: discards the temp version on any error."""
    w = kb.begin_version(embedder_id, dim, settings)
    try:
        yield w
    except BaseException:
        kb.discard(w)
        raise
