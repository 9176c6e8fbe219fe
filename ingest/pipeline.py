"""The incremental ingest pipeline: files -> loaders -> cleaning -> chunks -> vectors -> a new
index version, published atomically under the knowledge base's lock.

Incremental by content hash: a file whose hash (normalised bytes + sidecar metadata + ingest
defaults) matches the live version is copied (chunks and vectors reused, not even parsed);
changed files are re-chunked, their old chunks dropped; new files added; with ``prune=True``
(refused unless a path is a folder) every live document that is not among the files of this run is
removed. Embeddings go through
the knowledge base's :class:`EmbeddingCache` (embedder id + text), so identical text is never
embedded twice. Nothing is published when nothing changed, unless the live keyword index was built
by older code (it is rebuilt from the stored chunks). A failing file is reported in
``failed`` and never stops the others; a file that fails to load keeps its previous version.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexes.kbase import atomic_write_text
from indexes.text import QUESTION_FORM, bare_question
from indexes.types import Chunk, Document, did_you_mean, quoted_names
from ingest.chunking import ChunkSettings, chunk_loaded
from ingest.loaders import (
    META_SUFFIX,
    LoadedFile,
    check_file,
    content_hash,
    doc_id_for,
    load_file,
    read_sidecar,
    sidecar_path,
    source_of,
)
from kb.errors import CancelledError, InputError, KBError, NotFoundError

log = logging.getLogger(__name__)

# The folder of a knowledge base where the service keeps each uploaded file it published (and the
# sidecar it was read with): a sidecar uploaded alone later reads its document again from there.
UPLOADS = "uploads"
# the documents `kb delete` removed (:func:`delete_sources`), by source: {"id", "at", "file"}. The next
# ingest of their folder leaves such a file out while it is the file that was deleted (the same
# document id): `kb delete pelican.md`, then `kb ingest docs --prune` after editing another file,
# brought pelican.md back unsaid. `--undelete`, the file given by name, an upload, or a file changed
# since adds it again.
DELETED = "deleted.json"

STOP_CHECK_TEXTS = 32  # texts embedded between two checks of a stop asked for (a cancelled job)
EMBED_BLOCK = 256  # texts per embedder call (the embedder batches and length-sorts inside); small enough that embedding starts while files still load


@dataclass
class IngestReport:
    kb: str
    index_version: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    # files indexed with something left out ({"source", "warning"}: FAQ rows without an answer)
    warnings: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0  # chunks in the resulting live index version
    seconds: float = 0.0
    # not part of the JSON shape, for tests and benchmarks
    published: bool = False
    # what the live keyword index lacked when this run rebuilt it (keyword_index_behind), else empty
    keyword_rebuilt: list[str] = field(default_factory=list)
    chunks_new: int = 0
    # of a delete's failed names, those that named two documents or more (the others named none)
    ambiguous: int = 0
    # the sources deleted (a delete's, or --prune's): "4 deleted" was all a folder's delete said
    deleted_sources: list[str] = field(default_factory=list)
    # files of a folder left out because `kb delete` removed their documents (:data:`DELETED`; the
    # JSON shape names each in its warnings)
    kept_deleted: list[str] = field(default_factory=list)
    texts_embedded: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "kb": self.kb,
            "index_version": self.index_version,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "deleted_sources": list(self.deleted_sources),
            "failed": list(self.failed),
            "warnings": list(self.warnings),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------------------------
# walking


# files an operating system or an office suite leaves beside documents: a Word or Excel lock file
# (~$faq.xlsx, while the file is open), Windows' thumbnails and folder settings. They failed every
# ingest of a folder with a file open in Word (exit 3 for cron and CI)
_SYSTEM_FILES = re.compile(r"^(~\$.*|thumbs\.db|desktop\.ini|ehthumbs\.db)$", re.IGNORECASE)


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = (path.name,)
    return any(p.startswith(".") or p == "__pycache__" for p in parts) or bool(_SYSTEM_FILES.match(path.name))


# a document's metadata key for the defaults it was ingested with (``--group``, ``--tag``, an
# upload's groups): a rebuild from its folder (kb reindex) reads the file again with them
DEFAULTS_KEY = "ingest_defaults"


def load_file_with_defaults(
    path: Path, root: Path, max_file_mb: float, defaults: dict[str, Any] | None, *, data: bytes | None = None
) -> LoadedFile:
    """:func:`load_file` with ``defaults`` applied and recorded in the document's metadata (an
    empty record too: a document without one was ingested before they were recorded)."""
    loaded = load_file(path, root, max_file_mb, data=data, defaults=defaults)
    doc = loaded.document
    recorded = {k: list(v) if isinstance(v, tuple | list) else v for k, v in (defaults or {}).items()}
    return replace(loaded, document=replace(doc, metadata={**doc.metadata, DEFAULTS_KEY: recorded}))


def iter_files(paths: Iterable[Path | str]) -> Iterator[tuple[Path, Path]]:
    """(file, root) pairs: folders recursively (hidden files and sidecars skipped, sorted), a
    single file with its folder as root. A missing path raises NotFoundError (fatal: exit 1)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            root = path
            for f in sorted(path.rglob("*")):
                if f.is_file() and not _hidden(f, root) and not f.name.endswith(META_SUFFIX):
                    yield f, root
        elif path.is_file():
            yield path, path.parent
        elif path.is_symlink() and not path.exists():
            raise NotFoundError(f"{path}: a broken link (to {os.readlink(path)})", "point it at the file, or give the file itself")
        elif os.path.lexists(path):
            # a FIFO, a socket or a device, named like a document: "no such file or folder" (QA)
            raise InputError(f"{path}: not a regular file (a pipe, socket or device)", "give a file or a folder of files")
        else:
            raise NotFoundError(f"{path}: no such file or folder", "check the path")


# --------------------------------------------------------------------------------------------
# embedding


class StreamingEmbedder:
    """Embeds while files are still being loaded: texts are queued as chunks appear, looked up
    in the cache (main thread: the cache is SQLite), and the misses embedded by one worker
    thread in blocks of ``block`` texts (torch releases the GIL, so parsing the next files
    overlaps the model's work). At most two blocks are in flight."""

    def __init__(
        self,
        cache: Any,
        embedder: Any,
        block: int = EMBED_BLOCK,
        background: bool = True,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.cache = cache
        self.embedder = embedder
        self.block = block
        self.should_stop = should_stop
        self.vecs: dict[str, np.ndarray] = {}
        self.pending: list[str] = []
        self.requested: set[str] = set()
        self.inflight: list[tuple[list[str], Any]] = []
        self.embedded = 0
        self.seconds = 0.0
        self._pool: Any = None
        if background:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-embed")

    def want(self, texts: Iterable[str]) -> None:
        for t in texts:
            if t not in self.requested:
                self.requested.add(t)
                self.pending.append(t)
        if len(self.pending) >= self.block:
            self._submit()

    def _embed(self, texts: list[str]) -> np.ndarray:
        t0 = time.perf_counter()
        if self.should_stop is None:
            out = np.asarray(self.embedder.embed(texts, kind="passage"), dtype=np.float32)
        else:
            # a cancelled job stops within a part of a block, not after a block of minutes
            parts = []
            for i in range(0, len(texts), STOP_CHECK_TEXTS):
                stop_if(self.should_stop)
                parts.append(np.asarray(self.embedder.embed(texts[i:i + STOP_CHECK_TEXTS], kind="passage"),
                                        dtype=np.float32))
            out = np.concatenate(parts) if parts else np.zeros((0, int(self.embedder.dim)), dtype=np.float32)
        self.seconds += time.perf_counter() - t0
        return out

    def _submit(self) -> None:
        texts, self.pending = self.pending, []
        if not texts:
            return
        found = self.cache.get_many(self.embedder.id, texts) if self.cache is not None else {}
        for j, vec in found.items():
            self.vecs[texts[j]] = np.asarray(vec, dtype=np.float32)
        missing = [t for j, t in enumerate(texts) if j not in found]
        if not missing:
            return
        if self._pool is None:
            self._store(missing, self._embed(missing))
            return
        self.inflight.append((missing, self._pool.submit(self._embed, missing)))
        while len(self.inflight) > 2 or (self.inflight and self.inflight[0][1].done()):
            self._collect_one()

    def _collect_one(self) -> None:
        texts, fut = self.inflight.pop(0)
        self._store(texts, fut.result())

    def _store(self, texts: list[str], vecs: np.ndarray) -> None:
        for t, v in zip(texts, vecs, strict=True):
            self.vecs[t] = v
        self.embedded += len(texts)
        if self.cache is not None:
            self.cache.put_many(self.embedder.id, texts, vecs)

    def finish(self) -> None:
        self._submit()
        while self.inflight:
            self._collect_one()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, int(self.embedder.dim)), dtype=np.float32)
        return np.stack([self.vecs[t] for t in texts]).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------------
# helpers


def _settings_match(prev: Any, settings: dict[str, Any]) -> bool:
    manifest = getattr(prev, "manifest", None) or {}
    stored = manifest.get("settings", manifest) if isinstance(manifest, dict) else {}
    return all(stored.get(k) == v for k, v in settings.items())


def _bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file" if desc == "loading" else "text", leave=False)


def error_text(ex: BaseException) -> str:
    if isinstance(ex, KBError):
        return ex.one_line()
    return f"{type(ex).__name__}: {' '.join(str(ex).split())[:200]}"


def stop_if(should_stop: Callable[[], bool] | None) -> None:
    """Raise :class:`CancelledError` when the caller asked the work to stop."""
    if should_stop is not None and should_stop():
        raise CancelledError("cancelled before it published anything", "nothing of it was stored")


def _write_version(
    kb: Any,
    embedder: Any,
    settings: dict[str, Any],
    prev: Any,
    keep_ids: list[str],
    new_docs: list[tuple[Document, str]],
    new_chunks: list[Chunk],
    stream: StreamingEmbedder | None,
    report: IngestReport,
    should_stop: Callable[[], bool] | None = None,
) -> Any:
    """Build, finalize and publish a new version; the writer is discarded on any failure, and
    on a stop asked for before it is published."""
    faq = [c for c in new_chunks if c.question]
    pvecs = qvecs = None
    if new_chunks:
        assert stream is not None
        t0 = time.perf_counter()
        stream.finish()
        report.timings["embed_wait"] = time.perf_counter() - t0
        report.timings["embed"] = stream.seconds
        report.texts_embedded = stream.embedded
        pvecs = stream.matrix([c.embed_text() for c in new_chunks])
        qvecs = stream.matrix([bare_question(c.question or "") for c in faq])
    t1 = time.perf_counter()
    writer = kb.begin_version(embedder.id, int(embedder.dim), settings)
    try:
        if prev is not None and keep_ids:
            # curated questions a version embedded in an earlier form are embedded again, as the
            # new version's settings say they are
            again = None
            if not getattr(prev, "bare_questions", True) and settings.get("question_form") == QUESTION_FORM:
                def again(texts: list[str]) -> np.ndarray:
                    return embedder.embed([bare_question(t) for t in texts], kind="passage")
            writer.copy_documents_from(prev, keep_ids, questions=again)
        if new_docs:
            writer.add_documents([d for d, _ in new_docs], {d.id: h for d, h in new_docs})
        if new_chunks:
            writer.add_chunks(new_chunks)
            writer.add_vectors([c.id for c in new_chunks], "passage", pvecs)
        if faq:
            writer.add_vectors([c.id for c in faq], "question", qvecs)
        manifest = writer.finalize()
        stop_if(should_stop)  # the last point at which nothing is published
        kb.publish(writer)
    except BaseException:
        try:
            kb.discard(writer)
        except Exception:  # the original error matters more
            pass
        raise
    report.timings["write"] = time.perf_counter() - t1
    return manifest


def forget_uploads(kb: Any, sources: Iterable[str], report: IngestReport) -> None:
    """Remove the kept upload (:data:`UPLOADS`) of each deleted source, with its kept sidecar
    unless an upload still kept reads that sidecar too. A copy left there came back: a sidecar
    uploaded alone re-reads it, and the deleted document was published again. Called once the
    deletion is published; a copy that cannot be removed is a warning, not a failed delete."""
    folder = Path(kb.path) / UPLOADS
    wanted = set(sources)
    if not wanted or not folder.is_dir():
        return
    try:  # by source id, as the upload's job read it: a name with a bidi override has an escaped id
        docs = {
            p: source_of(p, folder) for p in folder.iterdir() if p.is_file() and not p.name.endswith(META_SUFFIX)
        }
    except OSError as ex:
        warning = f"the kept uploads could not be read ({ex.strerror})"
        report.warnings.append({"source": str(folder), "warning": warning})
        return
    still_read = {sidecar_path(p) for p, source in docs.items() if source not in wanted}
    gone: dict[Path, str] = {}
    for doc, source in docs.items():
        if source in wanted:
            gone[doc] = source
            side = sidecar_path(doc)
            if side is not None and side not in still_read:
                gone[side] = source
    for path, source in gone.items():
        try:
            path.unlink(missing_ok=True)
        except OSError as ex:
            warning = f"{source}: its kept upload {path} could not be removed ({ex.strerror})"
            report.warnings.append({"source": source, "warning": warning})


def deleted_marks(kb: Any) -> dict[str, dict[str, str]]:
    """The documents ``kb delete`` removed (:data:`DELETED`); {} when none, or unreadable (a mark
    lost brings a deleted file back, as before marks were kept: never an error)."""
    try:
        data = json.loads((Path(kb.path) / DELETED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: {key: str(v[key]) for key in ("id", "at", "file", "groups", "given", "extra") if v.get(key) is not None}
        for k, v in data.items() if isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("id"), str)
    }


def mark_of(marks: Mapping[str, dict[str, str]], source: str, resolved: Path) -> tuple[str, dict[str, str]] | None:
    """The :data:`DELETED` mark of the file at ``resolved`` read as ``source``, with the source it
    was deleted as: its own, or, for the file read from another folder (``kb ingest
    src/policies`` after ``kb delete policies/training.docx``), the mark that names the file. The
    file was read again, published, and its mark erased, unsaid."""
    if source in marks:
        return source, marks[source]
    return _mark_by_file(marks, resolved)


def _mark_by_file(marks: Mapping[str, dict[str, str]], resolved: Path) -> tuple[str, dict[str, str]] | None:
    """The :data:`DELETED` mark that names the file at ``resolved``, with the source it was deleted as."""
    file = str(resolved)
    return next(((key, mark) for key, mark in marks.items() if mark.get("file") == file), None)


def _defaults_text(defaults: Any) -> str:
    """An ingest's defaults (its ``--group`` and ``--tag``) as the text a document's content hash
    holds them by; "" for none."""
    return json.dumps(defaults, sort_keys=True, default=str) if isinstance(defaults, dict) and defaults else ""


def _deleted_id(source: str, data: bytes, side_raw: bytes | None, mark: Mapping[str, str]) -> str | None:
    """The id the file of ``data`` has read with the defaults the deleted document of ``mark`` was
    read with; None where the mark does not record them (the ingest's own defaults are then all)."""
    from ingest.loaders import content_hash, doc_id_for

    extra = mark.get("extra")
    return None if extra is None else doc_id_for(source, content_hash(data, side_raw, extra))


def mark_names(mark: Mapping[str, str], key: str) -> tuple[str, ...]:
    """A :data:`DELETED` entry's list of names (its ``groups`` or ``given``); () where unreadable."""
    try:
        names = json.loads(mark.get(key) or "[]")
    except ValueError:
        return ()
    return tuple(str(n) for n in names) if isinstance(names, list) else ()


@contextmanager
def _marks_until_published(kb: Any, before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> Iterator[None]:
    """The :data:`DELETED` marks ``after`` while the version that goes with them is written and
    published (the block), ``before`` again if that fails. Killed in between, the marks say what
    the command was to do: the next ingest leaves a marked document out (and drops it, where it
    is live still), or reads an unmarked one again."""
    _write_deleted_marks(kb, after)
    try:
        yield
    except BaseException:
        _write_deleted_marks(kb, before)
        raise


def _write_deleted_marks(kb: Any, marks: dict[str, dict[str, str]]) -> None:
    """Replace :data:`DELETED` atomically (called with the knowledge base's lock held)."""
    path = Path(kb.path) / DELETED
    if not marks:
        path.unlink(missing_ok=True)
        return
    atomic_write_text(path, json.dumps(marks, ensure_ascii=False, indent=1, sort_keys=True))


def _live(kb: Any, embedder: Any) -> Any:
    return kb.load_live(expected_embedder=embedder.id) if kb.live_version() else None


def _count_chunks(manifest: Any, fallback: int) -> int:
    if isinstance(manifest, dict):
        for key in ("n_chunks", "chunks"):
            val = manifest.get(key)
            if isinstance(val, int):
                return val
        counts = manifest.get("counts")
        if isinstance(counts, dict) and isinstance(counts.get("chunks"), int):
            return int(counts["chunks"])
    return fallback


# --------------------------------------------------------------------------------------------
# entry points


def ingest_paths(
    kb: Any,
    paths: Sequence[Path | str],
    embedder: Any,
    *,
    prune: bool = False,
    max_file_mb: float = 50,
    chunk_tokens: int = 128,
    chunk_overlap: int = 16,
    progress: bool = False,
    default_groups: Sequence[str] = (),
    default_tags: Sequence[str] = (),
    lock_timeout: float = 0,
    background_embed: bool = True,
    only_groups: Sequence[str] | None = None,
    widen: bool = False,
    upload: bool = False,
    should_stop: Callable[[], bool] | None = None,
    undelete: bool = False,
) -> IngestReport:
    """Ingest files and folders into ``kb`` (a :class:`indexes.kbase.KnowledgeBase`).

    ``default_groups`` / ``default_tags`` apply to documents whose own metadata has none (e.g. an
    upload for one team). ``only_groups`` (an upload by a key restricted to those access groups)
    fails a file whose document would not be restricted to them, by its front-matter or sidecar,
    or that would replace a document that is not. A document ingested for access groups by
    default (``--group``) and given again without them, nor groups of its own, fails rather than
    turn public, unless ``widen`` (``--public``). The folder each document was read from is kept,
    with a warning when a document of that name from another folder is replaced (its file moved);
    a file whose name is that of a document whose file is still in its folder fails
    (:func:`_check_not_elsewhere`). Neither applies to an ``upload`` (files the HTTP service
    staged in a folder of their own; its errors name the upload's form fields, not the CLI's
    options). ``should_stop``, asked between files, between
    parts of the embedding and before publishing, stops the ingest with :class:`CancelledError`
    before anything is published (a cancelled job). A file of a folder whose document ``kb delete``
    removed is left out while unchanged (:data:`DELETED`), unless ``undelete``. Raises KBError only for fatal problems
    (locked, embedder mismatch, a path that does not exist); per-file problems go to
    ``report.failed``.
    """
    started = time.perf_counter()
    report = IngestReport(kb=getattr(kb, "name", ""))
    stop_if(should_stop)
    files = list(iter_files(paths))  # a missing path is fatal before anything is locked
    if not files:
        # an empty or hidden-only folder (a typo, a sync not yet run) reported "0 added" as done,
        # and with --prune deleted every document
        named = ", ".join(str(p) for p in paths) or "no path"
        if prune:
            raise InputError(f"{named} holds no documents: --prune would delete all of them",
                             "check the path; to remove documents, use kb delete SOURCE")
        raise InputError(f"{named} holds no documents (hidden files and .meta.json sidecars are skipped)",
                         "check the path")
    if prune and not any(Path(p).is_dir() for p in paths):
        # prune removes the documents not in this ingest: `kb ingest ren/misc.md --prune` deleted
        # every other document of the knowledge base and printed only "1 deleted"
        named = ", ".join(str(p) for p in paths)
        raise InputError(f"--prune with only files ({named}) would delete every other document",
                         "give the folder that holds all the documents, or leave --prune out")
    csettings = ChunkSettings(chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap)
    settings = csettings.as_dict()
    defaults: dict[str, Any] = {}
    for key, given in (("groups", default_groups), ("tags", default_tags)):
        names = tuple(n.strip() for n in given)
        if not all(names):
            # a group "" hid the documents from every user; dropped, it would publish them to all
            raise InputError(f"a default {key[:-1]} name is blank", f"name each of the {key}, or give none")
        if names:
            defaults[key] = names
    extra = _defaults_text(defaults)

    with kb.lock(timeout=lock_timeout), closing(
        StreamingEmbedder(kb.embedding_cache, embedder, background=background_embed, should_stop=should_stop)
    ) as stream, ExitStack() as stack:
        prev = _live(kb, embedder)
        if prev is not None:
            stack.callback(prev.close)
        prev_docs: dict[str, Document] = {d.source: d for d in prev.documents()} if prev is not None else {}
        reuse = prev is not None and _settings_match(prev, settings)

        # each document read from a folder, by its file: the same file given under another name
        by_file = {str(f): d for d in prev_docs.values() if (f := file_of(d)) is not None}
        marks = deleted_marks(kb)
        by_name = {Path(p).resolve() for p in paths if Path(p).is_file()}  # files given by name
        seen: set[str] = set()
        left_out: dict[str, str] = {}  # the files left out as kb delete removed them -> the deleted ids
        failed_sources: set[str] = set()
        loaded_sources: set[str] = set()
        loaded_files: set[str] = set()  # their files, resolved
        keep_ids: dict[str, None] = {}  # ordered set
        new_docs: list[tuple[Document, str]] = []
        new_chunks: list[Chunk] = []
        bar = _bar(len(files), "loading", progress)
        t_load = time.perf_counter()
        read_paths: set[Path] = set()
        # the documents read from a folder, which replace the server's kept uploads of their names
        kept = (Path(kb.path) / UPLOADS).resolve()
        from_folder: list[str] = []
        # the documents read from a subfolder, by file name: an upload of that name is refused
        # (:func:`_check_no_namesake`)
        namesakes: dict[str, list[Document]] = {}
        for d in prev_docs.values() if upload else ():
            if "/" in d.source:
                namesakes.setdefault(d.source.rsplit("/", 1)[1], []).append(d)
        for path, root in files:
            resolved = path.resolve()
            if not upload:
                root = _folder_read_from(resolved, root, by_file, marks)
            source = source_of(path, root)
            if resolved in read_paths:
                continue  # one file named twice ("docs docs/faq.csv"): read once, not refused
            read_paths.add(resolved)
            stop_if(should_stop)
            try:
                if source in seen:
                    raise InputError(f"{source}: given twice (two roots hold the same relative path)",
                                     "ingest the folders into separate knowledge bases or rename one")
                seen.add(source)
                check_file(path, max_file_mb)
                data = path.read_bytes()
                _, side_raw = read_sidecar(path)
                chash = content_hash(data, side_raw, extra)
                marked = mark_of(marks, source, resolved)
                deleted_as, mark = marked if marked is not None else (source, None)
                if (mark is not None and not (upload or undelete) and resolved not in by_name
                        and mark["id"] in (doc_id_for(deleted_as, chash), _deleted_id(deleted_as, data, side_raw, mark))):
                    report.kept_deleted.append(source)
                    report.warnings.append(left_out_deleted(source, mark))
                    # (its name's live document, if any, is another folder's, or the deleted one
                    # itself where the delete was killed before it published: told apart below)
                    left_out[source] = mark["id"]
                    continue
                old = prev_docs.get(source)
                if reuse and old is not None and old.id == doc_id_for(source, chash):
                    keep_ids[old.id] = None
                    report.unchanged += 1
                    continue
                if old is not None and not upload:
                    _check_not_elsewhere(source, old, root, resolved)
                if only_groups is not None and old is not None:
                    _check_may_replace(source, old, only_groups)
                if upload and old is None and source in namesakes:
                    _check_no_namesake(source, namesakes[source], only_groups)
                loaded = load_file_with_defaults(path, root, max_file_mb, defaults, data=data)
                if old is not None and not widen:
                    _check_not_widened(source, old, loaded.document, upload)
                elif mark is not None and mark.get("groups") and not widen:
                    _check_groups_kept(source, mark_names(mark, "groups"), mark_names(mark, "given"),
                                       loaded.document, upload, mark.get("at", "")[:10] or "-")
                twin = by_file.get(str(resolved)) if old is None and not upload else None
                if twin is not None:
                    # the same file read from a folder above the one it was ingested from is a
                    # new source ("internal/discount.md" beside "discount.md"): a staff document
                    # whose front-matter lost its groups was published so, unsaid
                    if not widen:
                        _check_not_widened(source, twin, loaded.document, upload)
                    report.warnings.append({"source": source, "warning": (
                        f"{source}: this file is in the knowledge base as {twin.source} too (read from "
                        f"{origin_folder(twin)}); kb delete {twin.source} removes that copy")})
                if not upload:
                    loaded = _with_origin(loaded, root, old, report)
                if only_groups is not None:
                    _check_publishes_within(source, loaded.document, only_groups)
                chunks, said = chunk_loaded(loaded, embedder.count_tokens, csettings)
                if not chunks:
                    raise InputError(f"{source}: no text to index", "add content or remove the file")
                new_docs.append((loaded.document, loaded.content_hash))
                new_chunks.extend(chunks)
                report.warnings.extend({"source": source, "warning": w} for w in said)
                loaded_sources.add(source)
                loaded_files.add(str(resolved))
                if not upload and not resolved.is_relative_to(kept):
                    from_folder.append(source)
                if old is not None:
                    report.updated += 1
                else:
                    report.added += 1
            except Exception as ex:  # one bad file never stops the others
                failed_sources.add(source)
                report.failed.append({"source": source, "error": error_text(ex)})
                old = prev_docs.get(source)
                if old is not None and source not in loaded_sources:
                    keep_ids[old.id] = None  # nothing already stored is lost
            else:  # outside the per-file handler: an embedder failure is fatal, not a file's fault
                stream.want(c.embed_text() for c in chunks)
                stream.want(bare_question(c.question) for c in chunks if c.question)
            finally:
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        report.timings["load_chunk"] = time.perf_counter() - t_load

        if prune and prev_docs and not loaded_sources and not report.unchanged:
            # no file of PATHS could be read (only unsupported or damaged ones): as for an empty
            # folder, a prune would delete every document; none is, and nothing is published
            first = report.failed[0] if report.failed else {"source": "", "error": "nothing to read"}
            more = f" and {len(report.failed) - 1} more" if len(report.failed) > 1 else ""
            raise InputError(
                f"no file of {', '.join(str(p) for p in paths)} could be read ({first['source']}: "
                f"{first['error']}{more}): --prune would delete every document ({len(prev_docs)})",
                "fix the files, or remove documents with kb delete SOURCE",
            )
        pruned: list[str] = []
        spared: list[str] = []
        roots = {str(Path(p).resolve()) for p in paths if Path(p).is_dir()}  # (a file given names no folder)
        marked_ids = set(left_out.values())
        marked_live: list[str] = []
        for source, doc in prev_docs.items():
            if doc.id in marked_ids:
                # a document kb delete marked that is live still (the delete was killed between
                # writing its mark and publishing) goes now, as its mark says
                report.deleted += 1
                marked_live.append(source)
                continue
            if source in seen and source not in left_out:
                continue
            gone = _read_from(doc, roots) and not (file_of(doc) or Path()).exists()
            if prune and gone:
                report.deleted += 1
                pruned.append(source)
            else:
                keep_ids[doc.id] = None
                if prune:
                    spared.append(source)
                elif gone:
                    # a file renamed or moved in its folder: the old copy stayed live, unsaid, and
                    # answers quoted both ("$14.99 [1]. $19.99 [2]")
                    report.warnings.append({"source": source, "warning": (
                        f"{source}: no longer in {origin_folder(doc)}, and still answered from; "
                        f"kb delete {source} (or kb ingest with --prune) removes it")})
        if spared:
            # --prune removes what disappeared from the folders given, not what came from elsewhere:
            # `kb ingest docs --prune` deleted a staff folder's documents and the API's uploads
            report.warnings.append({"source": "", "warning": (
                f"--prune kept {len(spared)} documents not read from {', '.join(str(p) for p in paths)} "
                f"(uploads, other folders, or ingested before folders were recorded): {quoted_names(spared)}; "
                "remove any of them with kb delete SOURCE")})
        report.chunks_new = len(new_chunks)
        report.deleted_sources = [*pruned, *marked_live]

        changed = bool(new_docs) or report.deleted > 0
        # a keyword index built by older code is rebuilt (from the stored chunks, nothing
        # re-embedded) by the next ingest, even one that changes no document: `kb ingest` is how a
        # knowledge base takes up what a new version of the code indexes
        behind = prev.keyword_index_behind() if prev is not None and reuse and keep_ids else []
        if not changed and not behind:
            report.index_version = prev.version if prev is not None else None
            report.chunks = int(prev.n_chunks) if prev is not None else 0
            report.seconds = time.perf_counter() - started
            return report
        if behind:
            log.info("%s: the keyword index is rebuilt: it %s", kb.name, " and ".join(behind))
            report.keyword_rebuilt = behind
        # a file added again (--undelete, by name, as an upload, or changed since), under its source
        # or, given by name, another one (sub/owl.md as owl.md), loses its mark: a later delete marks
        # it anew. The marks go before the version is published, and come back if it is not: cleared
        # after, a kill in between left them, and the next ingest said the live documents left out
        kept_marks = {k: v for k, v in marks.items() if k not in loaded_sources and v.get("file") not in loaded_files}
        with _marks_until_published(kb, marks, kept_marks):
            manifest = _write_version(
                kb, embedder, settings, prev, list(keep_ids), new_docs, new_chunks, stream, report, should_stop
            )
        report.published = True
        report.index_version = kb.live_version()
        report.chunks = _count_chunks(manifest, len(new_chunks))
        # a document read from a folder replaces the server's kept upload of that name: left
        # there, a sidecar uploaded alone re-read it and published the older text again
        forget_uploads(kb, [*pruned, *from_folder], report)
    report.seconds = time.perf_counter() - started
    return report


# a document's metadata key for the folder it was read from (``kb ingest PATH``)
ORIGIN_KEY = "ingested_from"


def origin_folder(doc: Document) -> str | None:
    """The folder ``doc`` was read from (:data:`ORIGIN_KEY`); None for an upload, or a document
    ingested before folders were recorded."""
    origin = (doc.metadata or {}).get(ORIGIN_KEY)
    return origin if isinstance(origin, str) else None


def file_of(doc: Document) -> Path | None:
    """The file ``doc`` was read from, where it recorded its folder."""
    origin = origin_folder(doc)
    return Path(origin) / doc.source if origin else None


def _read_from(doc: Document, roots: set[str]) -> bool:
    """Whether ``doc`` was read from one of the folders ``roots`` (resolved) or a folder inside one."""
    origin = origin_folder(doc)
    return origin is not None and any(origin == r or origin.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _folder_read_from(
    resolved: Path, root: Path, by_file: Mapping[str, Document], marks: Mapping[str, dict[str, str]]
) -> Path:
    """The folder the file at ``resolved``, given in ``root``, is read from: the folder its document
    (live, or deleted by ``kb delete``) was read from, where ``root`` is inside that one (the file
    given by itself, or a folder inside the one ingested), so that it keeps its source id; else
    ``root``. Read as a new source ("price-match.md" beside "guides/price-match.md"), following kb
    delete's own "to add it back, run kb ingest …/guides/price-match.md" made a second copy, and the
    next edit, ingested with the folder, left that copy answering with the old text (QA 2026-12-07)."""
    twin = by_file.get(str(resolved))
    if twin is not None:
        origin = origin_folder(twin)
    else:
        source, mark = _mark_by_file(marks, resolved) or ("", {})
        depth = len(Path(source).parts)
        origin = str(resolved.parents[depth - 1]) if 0 < depth <= len(resolved.parents) and mark else None
        if origin is not None and source_of(resolved, Path(origin)) != source:
            origin = None
    if origin is None:
        return root
    here, there = root.resolve(), Path(origin)
    return there if here != there and here.is_relative_to(there) else root


def _with_origin(loaded: LoadedFile, root: Path, old: Document | None, report: IngestReport) -> LoadedFile:
    """``loaded`` with the folder it was read from recorded; a warning when it replaces a
    document of the same name read from another folder: ``kb ingest ./policies`` then
    ``kb ingest ./internal``, both holding faq.csv, replaced the first FAQ with the second unsaid."""
    doc = loaded.document
    here = str(root.resolve())
    was = origin_folder(old) if old is not None else None
    if was is not None and was != here:
        report.warnings.append({"source": doc.source, "warning": (
            f"{doc.source}: replaces the document of that name read from {was} (now from {here}); "
            "give folders that hold files of the same name knowledge bases of their own, or rename one"
        )})
    return replace(loaded, document=replace(doc, metadata={**doc.metadata, ORIGIN_KEY: here}))


def _check_not_elsewhere(source: str, old: Document, root: Path, resolved: Path) -> None:
    """A file whose name is that of a document read from another folder that still holds its
    file fails: ``kb ingest ./good`` then ``kb ingest ./dept/billing``, both holding faq.csv,
    replaced good's FAQ with billing's (exit 0, a warning), and good/faq.csv was in no answer
    though it had not moved. Only a file that moved (gone from its recorded folder, or the same
    file reached by another path) replaces the document, as :func:`_with_origin` warns."""
    was = origin_folder(old)
    if was is None or was == str(root.resolve()):
        return
    there = Path(was) / old.source
    try:
        if not there.is_file() or there.resolve() == resolved or there.samefile(resolved):
            return
    except OSError:
        return  # unreadable where it was: treated as moved, as before
    raise InputError(
        f"{source}: {resolved} has the name of the document read from {there}, which is still there",
        "ingest from a folder that holds both, so each keeps its own path, or rename one",
    )


def _check_no_namesake(source: str, docs: Sequence[Document], only: Sequence[str] | None) -> None:
    """An upload whose file name is that of documents read from a subfolder (``faq.xlsx`` where
    ``kb ingest docs`` made ``public/faq.xlsx``) fails, naming them: it was added beside them,
    silently, and answers quoted both ("42 decibels [1] ... 39 decibels [2]") (QA 2026-12-07). It
    does not replace one: the next ``kb ingest`` of the folder would bring the folder's file back
    over it. A document the key cannot read (restricted to none of its groups) is not named, as
    :func:`_check_may_replace` does not name it. (The upload of a top-level folder document's name
    is the same source, and replaces it, as before.)"""
    shown = [d for d in docs if d.readable_by(only)]
    if not shown:
        raise InputError(
            f"{source}: a document of that file name exists that this key may not change",
            "upload it under another name, or have a key that covers its groups (or one without a "
            "group restriction) upload it",
        )
    names = sorted(d.source for d in shown)
    delete = (f"delete {names[0]} first (DELETE /v1/documents/{names[0]})" if len(names) == 1
              else "delete them first (DELETE /v1/documents/SOURCE)")
    raise InputError(
        f"{source}: the knowledge base has a document of that file name read from a folder "
        f"({', '.join(names)}); uploaded, it would be a second one beside it",
        f"update the file in its folder and run kb ingest on that folder, or {delete} to have the "
        "upload take its place",
    )


def _check_not_widened(source: str, old: Document, new: Document, upload: bool) -> None:
    """A document restricted to access groups and given again without them turned public without a
    word (a staff-only escalation guide answered users in no group): it fails, and keeps its
    version, unless its own metadata now names groups or the ingest says ``--public``. Whatever
    named the groups: ``--group`` (the ingest's defaults), or the file's front-matter or sidecar,
    whose ``groups`` line deleted, or sidecar lost in a copy, published a staff document too."""
    _check_groups_kept(source, tuple(old.groups), _given_groups(old), new, upload)


def _given_groups(doc: Document) -> tuple[str, ...]:
    """The access groups the ingest that read ``doc`` gave (``--group``: :data:`DEFAULTS_KEY`)."""
    return tuple(((doc.metadata or {}).get(DEFAULTS_KEY) or {}).get("groups") or ())


def _check_groups_kept(source: str, groups: Sequence[str], was: Sequence[str], new: Document, upload: bool,
                       deleted: str = "") -> None:
    """:func:`_check_not_widened` for a document of access ``groups``, ``was`` of them given by its
    ingest's ``--group``, the rest by its own front-matter or sidecar; ``deleted``: when ``kb
    delete`` removed it (its date, or "-"), where it is given again after that (its file ingested
    by name, or its folder with ``--undelete``, published a staff document to everyone, unsaid)."""
    given = _given_groups(new)
    own = bool(groups) and set(groups) != set(was)  # its own metadata named them, over any --group
    since = (" before kb delete removed it" + (f" on {deleted}" if deleted[:1].isdigit() else "")) if deleted else ""
    if own and not deleted and new.groups and set(new.groups) == set(given) != set(groups) and set(new.groups) - set(groups):
        # its own groups gone, the ingest's --group took their place: a managers-only document
        # became staff's, unsaid (QA; also where that --group was given when it was first ingested).
        # (Not once deleted: `kb delete` first is the way to ingest it for them, and a --group given
        # to a deleted document's file says whom it is for now)
        raise InputError(
            f"{source}: its front-matter or sidecar restricted it to access groups {', '.join(groups)}, and no "
            f"longer does; ingested so it would be for {', '.join(new.groups)}",
            f"put its groups back, or kb delete {source} first to ingest it for {', '.join(new.groups)}",
        )
    if not groups or new.groups:
        return
    public = "public=true" if upload else "--public"
    if was and not own:
        again = f"upload it with groups={','.join(was)}" if upload else "give " + " ".join(f"--group {g}" for g in was)
        raise InputError(
            f"{source}: was ingested for access groups {', '.join(was)}{since}; ingested without them it would be public",
            f"{again} again, or {public} to publish it to everyone",
        )
    raise InputError(
        f"{source}: its front-matter or sidecar restricted it to access groups {', '.join(groups)}{since}, and no "
        "longer does; ingested without them it would be public",
        f"put its groups back, or give {public} to publish it to everyone",
    )


def _whose(doc: Document) -> str:
    return "everyone's (no access groups)" if not doc.groups else "of groups " + ", ".join(doc.groups)


def _may_publish(only: Sequence[str]) -> str:
    # a key whose entry names an empty group field ("name:editor:hash:") is restricted to no
    # group: "may only publish to " named nothing
    return f"this upload may only publish to {', '.join(only)}" if only else "this key may publish to no access group"


def _check_may_replace(source: str, old: Document, only: Sequence[str]) -> None:
    """An upload by a key restricted to the access groups ``only`` replaces only a document
    restricted to them. One the key cannot read (none of its groups is the key's) is not described:
    a partners editor uploading ``staff-faq.csv`` was told "replaces a document of groups staff",
    where deleting it by name answered 404, as for no document (QA). One it reads (public, or
    shared with another group) is named as ``DELETE /v1/documents`` names it (kb.service.core
    check_may_change). The file's own groups are not at fault here, so the hint does not say
    to change them."""
    if old.groups and set(old.groups) <= set(only):
        return
    if old.groups and not set(old.groups) & set(only):
        raise InputError(
            f"{source}: a document of that name exists that this key may not change",
            "upload it under another name, or have a key that covers its groups (or one without a "
            "group restriction) upload it",
        )
    who = "an editor without a group restriction" if not old.groups else "an editor whose key covers all its groups"
    raise InputError(
        f"{source}: replaces a document {_whose(old)}; {_may_publish(only)}",
        f"upload it under another name, or have {who} upload it",
    )


def _check_publishes_within(source: str, doc: Document, only: Sequence[str]) -> None:
    """An upload by a key restricted to the access groups ``only`` publishes only to them. The
    hint to leave groups out of the file's front-matter or sidecar is given only where they named
    the groups: the document's groups are then not the upload's defaults (``groups`` of the form,
    or the key's own), which are within ``only`` but for a key restricted to no group, whose
    upload of a plain file was told to change a front-matter it did not have."""
    if doc.groups and set(doc.groups) <= set(only):
        return
    # (a key restricted to no group publishes nothing, its groups left out or not)
    own = bool(only) and set(doc.groups) != set(_given_groups(doc))
    raise InputError(
        f"{source}: would be {_whose(doc)}; {_may_publish(only)}",
        ("leave groups out of its front-matter or sidecar, or " if own else "")
        + "have an editor without a group restriction upload it",
    )


def _as_source_id(wanted: str) -> str:
    """A path as given on a command line, as its source id reads (``source_of``): a name that is
    not UTF-8 arrives with undecodable bytes, and its id has them as ``\\xNN`` escapes."""
    from ingest.cleaning import readable_name

    return "/".join(readable_name(part) for part in wanted.strip().split("/"))


def _match(source: str, wanted: str) -> bool:
    """A source id named exactly (its ``\\xNN`` escapes as written), by the file's own name, or
    with Windows separators or a leading ``./``; or a folder of them (``policies/``)."""
    tidy = wanted.replace("\\", "/").strip()
    while tidy.startswith("./"):
        tidy = tidy[2:]
    for w in dict.fromkeys((wanted.strip(), _as_source_id(wanted), tidy, _as_source_id(tidy))):
        if w and (source == w or source.startswith(w if w.endswith("/") else w + "/")):
            return True
    return False


def _located(docs: Sequence[Document], wanted: str) -> list[Document]:
    """The documents whose file the path ``wanted`` names on this machine, found by the folder each
    was read from (:data:`ORIGIN_KEY`): a file ingested alone has its name as its source, one read
    from a folder its path under that folder, so ``kb ingest csvs/bom.csv`` stores ``bom.csv`` and
    ``kb delete csvs/bom.csv`` (or its absolute path) failed as "not in the knowledge base". A
    folder names every document read from inside it. Documents that recorded no folder (uploads,
    and those ingested before it was recorded) are left to :func:`_by_path_suffix`."""
    if not wanted.strip():
        return []  # "" would be the current folder, and every document read from it
    here = Path(os.path.abspath(os.path.expanduser(wanted.strip())))
    try:
        here = here.resolve()  # as ingest resolves the paths it reads: a symlinked folder is one folder
    except (OSError, RuntimeError):
        pass
    folder = wanted.rstrip().endswith(("/", "\\")) or here.is_dir()
    if folder and here == Path(here.anchor):
        # `kb delete "$DIR/"` with $DIR unset deleted every document ingested from a folder
        raise InputError(f"{wanted.strip()} is the root of the file system: it names every document read from a folder",
                         "name the documents, or the folder they were ingested from (kb status --sources lists them)")
    out = []
    above: dict[str, None] = {}  # the ingested folders ``wanted`` holds, when it is none of them
    for d in docs:
        origin = origin_folder(d)
        if not origin:
            continue
        root = Path(origin)
        if folder and root.is_relative_to(here):
            if root != here:
                above[origin] = None
            out.append(d)
        elif here.is_relative_to(root) and here != root:
            rel = source_of(here, root)
            if d.source == rel or (folder and d.source.startswith(rel + "/")):
                out.append(d)
    if above:
        # `kb delete /tmp`, or `kb delete .` from a folder above the ones ingested, deleted every
        # document read from under it: a folder is deleted by the name it was ingested by
        raise InputError(
            f"{wanted.strip()} is no folder that was ingested; it holds {len(above)} that were: {quoted_names(list(above))}",
            "name the folders (or documents) to delete as they were ingested; kb status --sources lists the documents",
        )
    return out


def _by_path_suffix(docs: Sequence[Document], wanted: str) -> list[Document]:
    """Documents that recorded no folder they were read from, whose source is the end of the path
    ``wanted`` (``bom.csv`` for ``csvs/bom.csv``, ``csvs/bom.csv`` for ``/data/csvs/bom.csv``):
    what a file or a folder holding it, given to ``kb ingest``, would have named it."""
    parts = [p for p in Path(os.path.normpath(wanted.strip().replace("\\", "/"))).parts if p not in ("/", "..", ".")]
    ends = {_as_source_id("/".join(parts[i:])) for i in range(1, len(parts))}
    return [d for d in docs if d.source in ends and origin_folder(d) is None]


def _where(doc: Document) -> str:
    origin = origin_folder(doc)
    return f"{doc.source!r} (read from {origin})" if origin is not None else repr(doc.source)


def _not_found(wanted: str, shown: str, docs: Sequence[Document], marks: Mapping[str, Mapping[str, str]]) -> str:
    """The one line a name ``kb delete`` finds no document by gets: that it is deleted already, and
    how to add it back, where ``kb delete`` removed it (:func:`deleted_marks`); else the nearest
    live sources, or, where none is near, the nearest deleted one. Both read "not in the knowledge
    base; `kb status --sources` lists them": deleting ``faq.xlsx`` twice did not say it was gone
    already, and ``faq.xls`` after it got no suggestion, the document it meant no longer live."""
    ends = Path(wanted.strip().replace("\\", "/")).parts[-2:]
    names = dict.fromkeys((shown, "/".join(ends), ends[-1] if ends else shown))
    gone = next((n for n in names if n in marks), None)
    if gone is not None:
        return f"{shown}: already deleted ({_when(marks[gone])}); {_add_back(marks[gone])}"
    entry_of = shown.partition("#")[0]
    if "#" in shown and any(d.source == entry_of for d in docs):
        # a citation's FAQ entry ("faq/club-faq.csv#da08c7f843db"), as the HTTP delete says
        return (f"{shown}: an FAQ entry goes with its file; kb delete {entry_of} removes the file's entries, or "
                "remove the row from the file and ingest it again")
    guess = did_you_mean(names, [d.source for d in docs])
    if guess:
        return f"{shown}: not in the knowledge base{guess}; `kb status --sources` lists them"
    near = did_you_mean(names, [m for m in marks if not any(d.source == m for d in docs)])
    if near:
        return (f"{shown}: not in the knowledge base{near[:-2]}? it was deleted with kb delete); "
                "`kb status --sources` lists the documents it holds")
    return f"{shown}: not in the knowledge base; `kb status --sources` lists them"


def left_out_deleted(source: str, mark: Mapping[str, str]) -> dict[str, str]:
    """The warning for a file left out because ``kb delete`` removed its document (``mark``, its
    :data:`DELETED` entry), as ``kb ingest`` of its folder and ``kb reindex --source`` give it."""
    return {"source": source, "warning": (
        f"{source}: left out, as kb delete removed it ({mark.get('at', '?')[:10]}); "
        "to add it back, ingest again with --undelete")}


def _when(mark: Mapping[str, str]) -> str:
    at = mark.get("at", "")
    return f"on {at[:10]}" if at else "by kb delete"


def _add_back(mark: Mapping[str, str]) -> str:
    """What adds a deleted document back: ingesting its file by name (its folder's ingest leaves it
    out while it is unchanged, unless given --undelete)."""
    file = mark.get("file")
    if file:
        return f"to add it back, run kb ingest {shlex.quote(file)} (or its folder with --undelete)"
    return "to add it back, ingest its file again by name (or its folder with --undelete)"


def delete_sources(
    kb: Any, sources: Sequence[str], embedder: Any, *, lock_timeout: float = 0, paths: bool = False
) -> IngestReport:
    """Remove documents by source (exact, or a folder prefix such as ``policies/``). With
    ``paths`` (``kb delete``, run on the machine that ingested them) a name is also read as the
    path of a file or folder as ``kb ingest`` was given it (:func:`_located`); a name that means
    two different documents that way is refused, naming both, and nothing of it is deleted.
    Unknown sources are reported in ``failed``, with the nearest source names; the deleted content
    is gone from every index of the new version, and the service's kept copy of it too
    (:func:`forget_uploads`)."""
    started = time.perf_counter()
    report = IngestReport(kb=getattr(kb, "name", ""))
    with kb.lock(timeout=lock_timeout), ExitStack() as stack:
        prev = _live(kb, embedder)
        if prev is not None:
            stack.callback(prev.close)
        docs = prev.documents() if prev is not None else []
        hit: set[str] = set()
        marks = deleted_marks(kb)
        for wanted in sources:
            if not wanted.strip():
                raise InputError("a blank name names no document", "give the source of each document to delete")
            matched = [d for d in docs if _match(d.source, wanted)]
            located = _located(docs, wanted) if paths else []
            by_suffix = paths and not matched and not located
            if by_suffix:
                located = _by_path_suffix(docs, wanted)
            shown = _as_source_id(wanted)
            both = {d.id: d for d in (*matched, *located)}
            if matched and located and {d.id for d in matched} != {d.id for d in located}:
                # csvs/bom.csv is the source id of one document (read from a folder above csvs)
                # and the file of another (bom.csv, ingested alone): deleting either is a guess
                report.failed.append({"source": shown, "error": (
                    f"{shown}: names {len(both)} documents, {', '.join(_where(d) for d in both.values())}; "
                    "give the absolute path of the file whose document is to go, or run kb delete "
                    "from a folder where this path names no file, to mean the source id"
                )})
                report.ambiguous += 1
                continue
            if by_suffix and len(located) > 1:
                # by the end of its path alone, /data/csvs/bom.csv may be bom.csv or csvs/bom.csv
                report.failed.append({"source": shown, "error": (
                    f"{shown}: may be any of {quoted_names([d.source for d in located])}; "
                    "give the source as `kb status --sources` lists it"
                )})
                report.ambiguous += 1
                continue
            if not both:
                report.failed.append({"source": shown, "error": _not_found(wanted, shown, docs, marks)})
            hit.update(both)
        report.deleted = len(hit)
        report.deleted_sources = [d.source for d in docs if d.id in hit]
        if not hit or prev is None:
            report.index_version = prev.version if prev is not None else None
            report.chunks = int(prev.n_chunks) if prev is not None else 0
            report.unchanged = len(docs)
            report.seconds = time.perf_counter() - started
            return report
        keep = [d.id for d in docs if d.id not in hit]
        report.unchanged = len(keep)
        manifest_settings = prev.manifest.get("settings") if isinstance(prev.manifest, dict) else None
        settings = dict(manifest_settings) if isinstance(manifest_settings, dict) else ChunkSettings().as_dict()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # the marks are written before the version that drops the documents is published (and
        # taken back if it is not): written after, a kill in between lost them, and the next
        # `kb ingest DIR` brought the documents back; a second `kb delete` found nothing to mark
        with _marks_until_published(kb, marks, {**marks, **{
            d.source: {"id": d.id, "at": at, **({"file": str(f)} if (f := file_of(d)) is not None else {}),
                       # for whom it was (its access groups, those of them --group gave): given again
                       # without them, it is refused as a live document's widening is
                       **({"groups": json.dumps(list(d.groups)), "given": json.dumps(list(_given_groups(d)))}
                          if d.groups else {}),
                       # the defaults its id was made with: the same file read with others (a document
                       # a rebuild added, then `kb ingest DIR --group staff`) is still the deleted one
                       "extra": _defaults_text((d.metadata or {}).get(DEFAULTS_KEY))}
            for d in docs if d.id in hit
        }}):
            manifest = _write_version(kb, embedder, settings, prev, keep, [], [], None, report)
        report.published = True
        report.index_version = kb.live_version()
        report.chunks = _count_chunks(manifest, 0)
        forget_uploads(kb, [d.source for d in docs if d.id in hit], report)
    report.seconds = time.perf_counter() - started
    return report
