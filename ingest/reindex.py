"""Batch re-index jobs: a full rebuild of a knowledge base into a new index version.

``reindex(kb, source, embedder, ...)`` re-reads the sources (a folder, a JSON manifest of files,
or by default the sources recorded by the last job; without any, the live version's own chunks
are re-embedded), chunks them, embeds every chunk and builds a new version beside the live one.
The new version is published atomically only once it is complete and validated (chunk and vector
counts equal what was produced; a sample of vector and keyword queries returns results); until
then the live version keeps serving, and on any failure it stays live.

A job lives in ``KB_HOME/<kb>/jobs/<job-id>/``::

    job.json            parameters and status (running | done | failed), the holder's pid
    checkpoint/         <batch-id>.npy (float32, allow_pickle=False) per embedded batch, and
                        done.json: the ids of the finished batches (written atomically)
    log.jsonl           machine-readable events (start, batch, memory, end / failure)
    summary.json        the final :class:`ReindexReport`

and ``KB_HOME/<kb>/jobs/jobs.jsonl`` gets one line at the start and one at the end of every job.

Batches are formed deterministically (unique embed texts in file order, ``batch_size`` per batch;
a batch id is its number plus a hash of its texts and the embedder id), so after ``kill -9`` a
``resume=True`` run finds the same batches, loads the finished ones from the checkpoint and embeds
only the rest: the result equals an uninterrupted run.

Engines (``ingest/engines/``): ``local`` (a process pool parses, one thread embeds, the caller's
thread writes; bounded queues between them so the three overlap) and ``ray`` (Ray Data
``map_batches`` over embedder actors, one per GPU or a CPU pool). Both feed the same writer in the
same order, so they produce the same index.

Embeddings go through the knowledge base's :class:`EmbeddingCache` (embedder id + text hash):
changing only the chunker or the index type re-embeds nothing that is unchanged; a new embedder
re-embeds everything; ``use_cache=False`` forces re-embedding.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexes.kbase import CURRENT, atomic_write_text, pid_alive
from indexes.text import QUESTION_FORM, bare_question
from indexes.types import Chunk, Document
from kb.errors import ConfigError, InputError, KBError, NotFoundError

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
INDEX_CHOICES = ("auto", "flat", "ivf", "ivfpq", "hnsw")
DEFAULT_BATCH = 1024  # texts per embedding batch (the embedder length-sorts inside a batch)
SOURCES_FILE = "sources.json"
JOBS_LOG = "jobs.jsonl"
Progress = Callable[[str], None]


class ReindexValidationError(KBError):
    code = "reindex_invalid"


class NoResumableJobError(NotFoundError):
    def __init__(self, kb: str) -> None:
        super().__init__(f"knowledge base {kb!r} has no unfinished reindex job to resume",
                         f"run `kb reindex --kb {kb}` without --resume (see `kb jobs --kb {kb}`)")


# --------------------------------------------------------------------------------------------
# small file helpers


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        f.flush()


# --------------------------------------------------------------------------------------------
# report


@dataclass
class ReindexReport:
    kb: str
    job_id: str
    engine: str
    embedder: str
    source: dict[str, Any] = field(default_factory=dict)
    status: str = "running"  # running | done | failed
    index_version: str | None = None
    previous_version: str | None = None
    started_at: str = ""  # when the job began (a resumed job: its first run)
    ended_at: str | None = None
    resumed: bool = False
    resumed_at: str | None = None  # when this run took up an interrupted job
    files: int = 0
    documents: int = 0
    kept: int = 0  # documents of the live version the source does not hold, carried over
    chunks: int = 0
    vectors: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)  # indexed with rows left out
    texts: int = 0  # unique texts to embed
    batches: int = 0
    batches_from_checkpoint: int = 0
    texts_embedded: int = 0  # texts the embedder was actually asked to embed in this run
    cache_hits: int = 0
    cache_misses: int = 0
    index: dict[str, Any] = field(default_factory=dict)  # kind, nlist, nprobe, shards, memory
    recall_vs_flat: float | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    throughput_chunks_per_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done" and not self.failed

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        out["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        out["throughput_chunks_per_s"] = round(self.throughput_chunks_per_s, 1)
        return out


# --------------------------------------------------------------------------------------------
# sources


@dataclass(frozen=True)
class SourceSpec:
    """Where the documents come from: ``dir`` (a folder), ``manifest`` (a JSON list of files,
    relative to the manifest's folder, or ``{"root": ..., "files": [...]}``) or ``live`` (the
    live version's stored chunks, re-embedded; the chunker cannot change then)."""

    kind: str
    path: str | None = None
    # read from the last job's record, not given (--source): a rebuild of what the knowledge
    # base holds, so a file of that folder it does not hold (removed with kb delete) stays out
    recorded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "recorded": self.recorded}


def resolve_source(kb: Any, source: str | Path | None) -> SourceSpec:
    if source is not None:
        if not str(source).strip():
            raise InputError("--source is blank", "give the folder to rebuild from, or leave --source out")
        p = Path(source).expanduser()
        if p.is_dir():
            from ingest.pipeline import iter_files

            if next(iter_files([p]), None) is None:
                # (a rebuild from it published the other documents again and made the empty folder
                # the source of every later plain kb reindex; kb ingest refuses it)
                raise InputError(f"{p} holds no documents (hidden files and .meta.json sidecars are skipped)",
                                 "check the --source path")
            return SourceSpec("dir", str(p.resolve()))
        if p.is_file() and p.suffix.lower() == ".json":
            return SourceSpec("manifest", str(p.resolve()))
        if p.is_file():
            raise InputError(f"{p}: --source must be a folder or a JSON manifest (a list of files)",
                             "pass the folder the documents live in, or a .json list of their paths")
        raise InputError(f"{p}: no such folder or manifest", "check the --source path")
    recorded = kb.path / "jobs" / SOURCES_FILE
    if recorded.is_file():
        try:
            data = json.loads(recorded.read_text(encoding="utf-8"))
            spec = SourceSpec(str(data["kind"]), data.get("path"), recorded=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{recorded} is unreadable ({exc})", "pass --source DIR") from exc
        if spec.kind in ("dir", "manifest") and not Path(str(spec.path)).exists():
            raise InputError(f"the recorded source {spec.path} of {kb.name!r} no longer exists",
                             "pass --source DIR (or a JSON manifest of files)")
        return spec
    if kb.live_version():
        return SourceSpec("live")
    raise InputError(f"knowledge base {kb.name!r} has no recorded sources and no live version",
                     f"run `kb reindex --kb {kb.name} --source DIR`")


def list_source_files(spec: SourceSpec) -> list[tuple[Path, Path]]:
    """(file, root) pairs, sorted and deterministic."""
    from ingest.pipeline import iter_files

    if spec.kind == "dir":
        return list(iter_files([Path(str(spec.path))]))
    if spec.kind == "manifest":
        mpath = Path(str(spec.path))
        try:
            data = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{mpath}: not a JSON manifest ({exc})",
                             'write a JSON list of file paths, e.g. ["a.md", "sub/b.pdf"]') from exc
        root = mpath.parent
        if isinstance(data, dict):
            root = (mpath.parent / str(data.get("root", "."))).resolve()
            data = data.get("files")
        if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
            raise InputError(f"{mpath}: the manifest must be a JSON list of file paths",
                             'e.g. ["a.md", "sub/b.pdf"] or {"root": "docs", "files": [...]}')
        out: list[tuple[Path, Path]] = []
        for rel in data:
            f = (root / rel).resolve() if not Path(rel).is_absolute() else Path(rel)
            out.append((f, root))
        return out
    return []


# --------------------------------------------------------------------------------------------
# parsing (runs in worker processes)

_TOKEN_COUNTERS: dict[str, Callable[[str], int]] = {}


def _token_counter(spec: str) -> Callable[[str], int]:
    if spec not in _TOKEN_COUNTERS:
        from indexes.embedders import get_embedder

        _TOKEN_COUNTERS[spec] = get_embedder(spec, device="cpu").count_tokens
    return _TOKEN_COUNTERS[spec]


@dataclass(frozen=True)
class ParsedFile:
    source: str
    document: Document | None = None
    content_hash: str = ""
    chunks: tuple[Chunk, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()  # what the loader left out (LoadedFile.warnings)


def parse_file(
    path: str, root: str, max_file_mb: float, chunk_tokens: int, chunk_overlap: int,
    counter: Callable[[str], int] | str, defaults: dict[str, Any] | None = None,
) -> ParsedFile:
    """Load and chunk one file with the ingest pipeline's own loader and chunker, with the
    defaults it was ingested with (its access groups from ``kb ingest --group``: without them a
    rebuild would publish a group's documents to everyone). Never raises for a bad file: the
    error is returned (one bad file never stops a job)."""
    from ingest.chunking import ChunkSettings, chunk_loaded
    from ingest.loaders import source_of
    from ingest.pipeline import ORIGIN_KEY, error_text, load_file_with_defaults

    p, r = Path(path), Path(root)
    source = source_of(p, r)
    try:
        count = _token_counter(counter) if isinstance(counter, str) else counter
        loaded = load_file_with_defaults(p, r, max_file_mb, defaults)
        # the folder it was read from, as kb ingest records it: without it, `kb delete` of a
        # document a rebuild added marked no file, and the next `kb ingest DIR` brought it back
        doc = loaded.document
        loaded = replace(loaded, document=replace(doc, metadata={**doc.metadata, ORIGIN_KEY: str(r.resolve())}))
        chunks, said = chunk_loaded(loaded, count, ChunkSettings(chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap))
        if not chunks:
            raise InputError(f"{source}: no text to index", "add content or remove the file")
        return ParsedFile(source, loaded.document, loaded.content_hash, tuple(chunks), warnings=said)
    except Exception as ex:  # noqa: BLE001 - reported per file
        return ParsedFile(source, error=error_text(ex))


def _parse_star(args: tuple[Any, ...]) -> ParsedFile:
    return parse_file(*args)


def _exit_with(job_pid: int) -> None:
    """In a parsing worker: exit once the job's process is gone. A job killed with ``kill -9``
    runs no clean-up, and its workers (hundreds of MB each, a model loaded to count tokens) lived
    on, orphaned, for good."""
    import threading

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(job_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid was taken by another user's process: ours is gone
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-job", daemon=True).start()


# --------------------------------------------------------------------------------------------
# batches and the checkpoint


@dataclass(frozen=True)
class Batch:
    index: int
    id: str
    texts: tuple[str, ...]


class Batcher:
    """Texts in arrival order, cut into batches of ``size``, each text once per batch; ids are
    deterministic. A text that comes again after its batch was cut goes into a later batch again
    (an embedding cache hit): the chunks that repeat it may reach the writer after that batch was
    written, and a text left out would leave them without a vector (a mirrored page of domainrag
    or mtrag-un failed the job with "texts were never embedded")."""

    def __init__(self, size: int, embedder_id: str) -> None:
        self.size = max(1, int(size))
        self.embedder_id = embedder_id
        self.seen: set[str] = set()
        self.pending: list[str] = []
        self.count = 0
        self.n_texts = 0

    def add(self, texts: Iterable[str]) -> list[Batch]:
        out = []
        for t in texts:
            if t in self.seen:
                continue
            self.seen.add(t)
            self.pending.append(t)
            self.n_texts += 1
            if len(self.pending) >= self.size:
                out.append(self._cut())
        return out

    def flush(self) -> list[Batch]:
        return [self._cut()] if self.pending else []

    def _cut(self) -> Batch:
        texts, self.pending = tuple(self.pending), []
        self.seen.clear()
        h = hashlib.sha256(self.embedder_id.encode("utf-8"))
        for t in texts:
            h.update(hashlib.sha256(t.encode("utf-8")).digest())
        b = Batch(self.count, f"{self.count:06d}-{h.hexdigest()[:16]}", texts)
        self.count += 1
        return b


class Checkpoint:
    """Embedded batches of one job: ``<batch-id>.npy`` plus ``done.json`` (atomic)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.done_file = path / "done.json"
        try:
            self.done: list[str] = list(json.loads(self.done_file.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            self.done = []
        self._done_set = set(self.done)

    def has(self, batch_id: str) -> bool:
        return batch_id in self._done_set and (self.path / f"{batch_id}.npy").is_file()

    def load(self, batch_id: str) -> np.ndarray:
        arr: np.ndarray = np.asarray(np.load(self.path / f"{batch_id}.npy", allow_pickle=False), dtype=np.float32)
        return arr

    def save(self, batch_id: str, vecs: np.ndarray) -> None:
        _atomic_save_npy(self.path / f"{batch_id}.npy", vecs)
        if batch_id not in self._done_set:
            self.done.append(batch_id)
            self._done_set.add(batch_id)
        atomic_write_text(self.done_file, json.dumps(self.done))


class BatchEmbedder:
    """Embeds one batch: checkpoint first, then the embedding cache, then the model (misses
    only). Thread-safe enough for one embedding thread. ``embed_fn`` lets the Ray engine supply
    the vectors it computed remotely."""

    def __init__(self, embedder: Any, checkpoint: Checkpoint, cache: Any | None,
                 on_batch: Callable[[Batch], None] | None = None) -> None:
        self.embedder = embedder
        self.checkpoint = checkpoint
        self.cache = cache
        self.on_batch = on_batch
        self.from_checkpoint = 0
        self.embedded = 0
        self.hits = 0
        self.misses = 0
        self.seconds = 0.0

    def lookup(self, batch: Batch) -> tuple[np.ndarray | None, list[int], dict[int, np.ndarray]]:
        """(vectors if checkpointed, positions still to embed, cached vectors by position)."""
        if self.checkpoint.has(batch.id):
            vecs = self.checkpoint.load(batch.id)
            if vecs.shape == (len(batch.texts), int(self.embedder.dim)):
                self.from_checkpoint += 1
                return vecs, [], {}
        found = self.cache.get_many(self.embedder.id, batch.texts) if self.cache is not None else {}
        self.hits += len(found)
        missing = [i for i in range(len(batch.texts)) if i not in found]
        self.misses += len(missing)
        return None, missing, found

    def complete(self, batch: Batch, missing: list[int], found: dict[int, np.ndarray],
                 new_vecs: np.ndarray) -> np.ndarray:
        dim = int(self.embedder.dim)
        out = np.empty((len(batch.texts), dim), np.float32)
        for i, v in found.items():
            out[i] = v
        if missing:
            new_vecs = np.asarray(new_vecs, dtype=np.float32).reshape(len(missing), dim)
            out[missing] = new_vecs
            self.embedded += len(missing)
            if self.cache is not None:
                self.cache.put_many(self.embedder.id, [batch.texts[i] for i in missing], new_vecs)
        self.checkpoint.save(batch.id, out)
        if self.on_batch is not None:
            self.on_batch(batch)
        return out

    def __call__(self, batch: Batch) -> np.ndarray:
        vecs, missing, found = self.lookup(batch)
        if vecs is not None:
            return vecs
        new = np.zeros((0, int(self.embedder.dim)), np.float32)
        if missing:
            t0 = time.perf_counter()
            new = self.embedder.embed([batch.texts[i] for i in missing], kind="passage")
            self.seconds += time.perf_counter() - t0
        return self.complete(batch, missing, found, new)


# --------------------------------------------------------------------------------------------
# writing


class VersionFeeder:
    """Adds files and vector batches to a VersionWriter, in the order given (both engines give
    the same order, so both write the same version). All calls from one thread."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.waiting: dict[str, list[tuple[str, str]]] = {}  # text -> [(chunk id, kind)]
        self.chunks = 0
        self.documents = 0
        self.vectors = 0
        self.expected_vectors = 0

    def add_file(self, doc: Document, content_hash: str, chunks: Sequence[Chunk]) -> None:
        self.writer.add_documents([doc], {doc.id: content_hash})
        self.writer.add_chunks(list(chunks))
        self.documents += 1
        self.chunks += len(chunks)
        for c in chunks:
            self.waiting.setdefault(c.embed_text(), []).append((c.id, "passage"))
            self.expected_vectors += 1
            if c.question:
                self.waiting.setdefault(bare_question(c.question), []).append((c.id, "question"))
                self.expected_vectors += 1

    def add_batch(self, batch: Batch, vecs: np.ndarray) -> None:
        by_kind: dict[str, tuple[list[str], list[int]]] = {"passage": ([], []), "question": ([], [])}
        for i, t in enumerate(batch.texts):
            for cid, kind in self.waiting.pop(t, ()):
                by_kind[kind][0].append(cid)
                by_kind[kind][1].append(i)
        for kind, (ids, rows) in by_kind.items():
            if ids:
                self.writer.add_vectors(ids, kind, vecs[rows])
                self.vectors += len(ids)


def texts_of(chunks: Sequence[Chunk]) -> Iterator[str]:
    for c in chunks:
        yield c.embed_text()
        if c.question:
            yield bare_question(c.question)


# --------------------------------------------------------------------------------------------
# jobs on disk


def jobs_dir(kb: Any) -> Path:
    return Path(kb.path) / "jobs"


def _new_job_id() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_jobs(kb: Any) -> list[dict[str, Any]]:
    """Every job of ``kb``, oldest first: the summary when it ended, else job.json (a job whose
    process is gone while marked running is reported as ``interrupted``, and as ``superseded``,
    with ``superseded_by``, once a later job has finished: a job killed with kill -9 was listed as
    interrupted forever, though `kb reindex --resume` rightly found nothing to resume). Computed
    here; the job's own files keep what it was when its process died."""
    root = jobs_dir(kb)
    if not root.is_dir():
        return []
    out: list[dict[str, Any]] = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        job = _read_json(d / "job.json")
        if job is None:
            continue
        summary = _read_json(d / "summary.json")
        entry = dict(job)
        if summary is not None and summary.get("job_id") == job.get("id"):
            entry.update(summary)
        if entry.get("status") == "running" and not pid_alive(int(job.get("pid", -1))):
            published = _published_version(kb, d)
            if published is not None:  # killed after its version went live: done, but for its summary
                entry.update(status="done", index_version=published, note="killed after publishing its version")
            else:
                entry["status"] = "interrupted"
        entry.pop("params", None)
        entry["id"] = job.get("id")
        entry["path"] = str(d)
        out.append(entry)
    done_after: str | None = None  # the nearest later job that finished, walking back from the newest
    for entry in reversed(out):
        if entry.get("status") == "done":
            done_after = entry["id"]
        elif entry.get("status") == "interrupted" and done_after is not None:
            entry["status"] = "superseded"
            entry["superseded_by"] = done_after
    return out


def _published_version(kb: Any, job_dir: Path) -> str | None:
    """The version a job whose process is gone published, or None: its last "publishing" event
    names it, and it went live (it is live, or in versions/ with a later version live: versions
    are named by the time they were made; moved there but killed before the pointer moved, the
    live one is older)."""
    try:
        lines = (job_dir / "log.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "publishing":
            version, live = str(event.get("version") or ""), kb.live_version() or ""
            went_live = version == live or (live > version and (Path(kb.versions_dir) / version).is_dir())
            return version if version and went_live else None
    return None


def _drop_checkpoints(root: Path) -> None:
    """Remove the checkpoints of every job that is not running now."""
    for d in root.iterdir() if root.is_dir() else ():
        if not (d / "checkpoint").is_dir():
            continue
        job = _read_json(d / "job.json") or {}
        pid = int(job.get("pid", -1)) if str(job.get("pid", "")).lstrip("-").isdigit() else -1
        if job.get("status") == "running" and pid != os.getpid() and pid_alive(pid):
            continue
        shutil.rmtree(d / "checkpoint", ignore_errors=True)


def _check_unfinished(kb: Any, src: SourceSpec) -> None:
    """An error when the last job, given a folder or manifest of its own (``--source``), was
    interrupted (killed, its process gone) and a plain ``kb reindex`` would rebuild from another
    source: it published the old content with success ("0 texts embedded"), the folder's edits
    were dropped unsaid, and the interrupted job could no longer be resumed."""
    prior = find_resumable(kb)
    if prior is None or prior.get("status") != "running":
        return  # (one that failed said so when it ended: its source is the user's to give again)
    given = prior.get("params", {}).get("source", {})
    if given.get("kind") not in ("dir", "manifest") or given.get("recorded"):
        return
    if (given.get("kind"), given.get("path")) == (src.kind, src.path):
        return
    raise InputError(
        f"job {prior.get('id')}, a reindex of {given.get('path')}, did not finish; without --source this one "
        f"would rebuild {'from ' + str(src.path) if src.path else 'the live version'} instead",
        f"finish it with `kb reindex --kb {kb.name} --resume`, or name the source: "
        f"`kb reindex --kb {kb.name} --source DIR`",
    )


def find_resumable(kb: Any) -> dict[str, Any] | None:
    """The last job that did not finish (interrupted or failed), with its parameters."""
    root = jobs_dir(kb)
    if not root.is_dir():
        return None
    for d in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        job = _read_json(d / "job.json")
        if job is None:
            continue
        if job.get("status") == "done":
            return None  # the last job finished: nothing to resume
        if job.get("status") == "running" and pid_alive(int(job.get("pid", -1))) and job.get("pid") != os.getpid():
            continue
        if job.get("status") == "running" and _published_version(kb, d) is not None:
            return None  # killed after it published: its version is live, nothing to resume
        return job
    return None


class _JobLog:
    def __init__(self, kb: Any, job_id: str) -> None:
        self.root = jobs_dir(kb)
        self.dir = self.root / job_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.events = self.dir / "log.jsonl"

    def event(self, name: str, **data: Any) -> None:
        _append_jsonl(self.events, {"event": name, "at": _now(), **data})

    def jobs_line(self, record: dict[str, Any]) -> None:
        _append_jsonl(self.root / JOBS_LOG, record)


# --------------------------------------------------------------------------------------------
# validation


def validate_version(kb: Any, writer: Any, manifest: dict[str, Any], *, expected_chunks: int,
                     expected_vectors: int, sample_queries: int = 32, nprobe: int | None = None,
                     seed: int = 0) -> dict[str, Any]:
    """Check a finalized (unpublished) version: counts, a sample of vector and keyword queries,
    and for an approximate index its recall against exact search. Raises ReindexValidationError."""
    from indexes.kbase import IndexVersion
    from indexes.vector import recall_vs_flat

    counts = manifest.get("counts", {})
    if counts.get("chunks") != expected_chunks or counts.get("vectors") != expected_vectors:
        raise ReindexValidationError(
            f"new version has {counts.get('chunks')} chunks / {counts.get('vectors')} vectors, "
            f"the job produced {expected_chunks} / {expected_vectors}",
            "the live version was kept; run the job again (see its log.jsonl)",
        )
    out: dict[str, Any] = {"chunks": expected_chunks, "vectors": expected_vectors}
    iv = IndexVersion(kb, writer.version, writer.path, manifest)
    try:
        if nprobe is not None and hasattr(iv.index, "set_nprobe"):
            iv.index.set_nprobe(nprobe)
        n = iv.n_chunks
        if n == 0:
            raise ReindexValidationError("the new version has no chunks", "check --source")
        rng = np.random.default_rng(seed)
        rows = sorted(rng.choice(n, min(n, sample_queries), replace=False).tolist())
        chunks = iv.get_chunks(rows)
        qv = iv.vectors_of([c.id for c in chunks], "passage")
        empty_vec = self_hits = kw_hits = 0
        for row, c, q in zip(rows, chunks, qv, strict=True):
            res = iv.vector_search(q, 5)
            if not res:
                empty_vec += 1
            elif any(r == row for r, _ in res):
                self_hits += 1
            if iv.keyword_search(c.embed_text()[:500], 5):
                kw_hits += 1
        out.update(sample_queries=len(rows), vector_self_hit_rate=round(self_hits / len(rows), 4),
                   keyword_nonempty=kw_hits)
        if empty_vec or kw_hits == 0:
            raise ReindexValidationError(
                f"sample queries on the new version returned nothing ({empty_vec} of {len(rows)} vector "
                f"queries empty, {kw_hits} keyword queries with results)",
                "the live version was kept; check the index settings (--index, --nprobe)",
            )
        # an approximate index, or a flat one whose unfiltered searches walk a graph
        if iv.index.kind != "flat" or iv.index.info().get("scan") == "graph":
            noise = rng.normal(0, 0.05, qv.shape).astype(np.float32)
            queries = qv + noise
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            out["recall_at_10_vs_flat"] = round(float(recall_vs_flat(iv.index, np.asarray(iv.vectors), queries, 10)), 4)
    finally:
        iv.close()
    return out


# --------------------------------------------------------------------------------------------
# the job


def _index_plan(n_vectors: int, dim: int, kb: Any, index: str, shard_size: int | None) -> dict[str, Any]:
    from indexes.vector import FaissVectorIndex, default_nlist, estimate_memory

    opts = kb.index_options()
    opts["kind"] = index
    kind = FaissVectorIndex(dim, **opts).choose_kind(n_vectors)
    shards = max(1, math.ceil(n_vectors / shard_size)) if shard_size and n_vectors > shard_size else 1
    per_shard = math.ceil(n_vectors / shards) if n_vectors else 0
    nlist = kb.nlist or (default_nlist(per_shard) if kind in ("ivf", "ivfpq") else None)
    mem = shards * estimate_memory(per_shard, dim, kind, nlist=nlist, pq_m=kb.pq_m, hnsw_m=kb.hnsw_m)
    plan = {"kind": kind, "shards": shards, "memory_estimate_bytes": int(mem),
            "flat_memory_bytes": int(estimate_memory(n_vectors, dim, "flat")),
            "raw_vectors_bytes": int(n_vectors * dim * 4)}
    if kind in ("ivf", "ivfpq"):
        plan.update(nlist=nlist, nprobe=kb.nprobe)
    return plan


def reindex(
    kb: Any,
    source: str | Path | None,
    embedder: Any,
    *,
    engine: str = "local",
    workers: int = 1,
    resume: bool = False,
    use_cache: bool = True,
    index: str = "auto",
    nprobe: int | None = None,
    flat_max: int | None = None,
    ann: str | None = None,
    shard_size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    max_file_mb: float = 50,
    chunk_tokens: int = 128,
    chunk_overlap: int = 16,
    sample_queries: int = 32,
    ray_address: str | None = None,
    ray_num_cpus: int | None = None,
    embedder_spec: str | None = None,
    device: str = "auto",
    lock_timeout: float = 0,
    progress: Progress | None = None,
    on_batch: Callable[[Batch], None] | None = None,
    documents: Iterable[ParsedFile] | None = None,
) -> ReindexReport:
    """Rebuild ``kb`` (an :class:`indexes.kbase.KnowledgeBase`) from ``source`` with ``embedder``
    into a new version, published when complete and validated. See the module docstring.

    ``resume=True`` continues the last unfinished job (its checkpoint and parameters: ``source``
    may be None). ``on_batch`` is called after each embedded batch (tests use it to slow a job
    down). ``documents``: already parsed files (e.g. a synthetic corpus in bench/reindex.py)
    instead of ``source``; they are streamed, never held in memory at once. Raises KBError for fatal problems (locked, bad source, validation failed); files that
    fail to parse go to ``report.failed`` and keep their previous chunks when the live version has
    them."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown reindex engine {engine!r}", f"use one of {', '.join(ENGINES)}")
    if index not in INDEX_CHOICES:
        raise ConfigError(f"unknown index kind {index!r}", f"use one of {', '.join(INDEX_CHOICES)}")
    if batch_size < 1 or workers < 0:
        raise ConfigError("batch size must be >= 1 and workers >= 0", "fix --batch-size / --workers")
    say = progress or (lambda _msg: None)
    started = time.perf_counter()

    # the job id goes into the lock note, so that a refused second job names the holder's job
    hint = find_resumable(kb) if resume else None
    job_id: str = str(hint["id"]) if hint is not None else _new_job_id()
    if not resume and documents is None and not Path(kb.path).is_dir():
        resolve_source(kb, source)  # a knowledge base never built, without a source: fail before the lock makes its folder
    with kb.lock(timeout=lock_timeout, what=f"kb reindex job {job_id}"):
        prior: dict[str, Any] | None = None
        if resume:
            prior = find_resumable(kb)  # again, under the lock
            if prior is None:
                raise NoResumableJobError(kb.name)
            job_id = str(prior["id"])
            params = prior.get("params", {})
            if params.get("embedder") and params["embedder"] != embedder.id:
                raise ConfigError(
                    f"job {job_id} was started with {params['embedder']}, not {embedder.id}",
                    f"resume with --embedder {params['embedder']} or start a new job without --resume",
                )
            src = SourceSpec(**params["source"]) if source is None else resolve_source(kb, source)
            use_cache = bool(params.get("use_cache", use_cache))
            batch_size = int(params.get("batch_size", batch_size))
            chunk_tokens = int(params.get("chunk_tokens", chunk_tokens))
            chunk_overlap = int(params.get("chunk_overlap", chunk_overlap))
        elif documents is not None:
            src = SourceSpec("documents")
        else:
            src = resolve_source(kb, source)
            if source is None:
                _check_unfinished(kb, src)
        jkb = copy.copy(kb)  # the job's index settings, without touching the caller's object
        if nprobe is not None:
            jkb.nprobe = int(nprobe)
        if flat_max is not None:
            jkb.flat_max = int(flat_max)
        if ann is not None:
            jkb.ann = ann
        params = {
            "source": src.to_dict(), "embedder": embedder.id, "engine": engine, "workers": workers,
            "use_cache": use_cache, "index": index, "nprobe": jkb.nprobe, "flat_max": jkb.flat_max,
            "ann": jkb.ann, "shard_size": shard_size, "batch_size": batch_size,
            "chunk_tokens": chunk_tokens, "chunk_overlap": chunk_overlap,
        }
        jl = _JobLog(kb, job_id)
        now = _now()
        # a resumed job keeps the time it began (`kb jobs` showed the resume as its start)
        report = ReindexReport(kb=kb.name, job_id=job_id, engine=engine, embedder=embedder.id,
                               source=src.to_dict(), started_at=(prior or {}).get("started_at") or now,
                               resumed=resume, resumed_at=now if resume else None,
                               previous_version=kb.live_version())
        job = {"id": job_id, "kb": kb.name, "status": "running", "pid": os.getpid(),
               "started_at": report.started_at, "resumed_at": report.resumed_at, "params": params}
        atomic_write_text(jl.dir / "job.json", json.dumps(job, indent=1))
        jl.event("resume" if resume else "start", **params)
        jl.jobs_line({"event": "resume" if resume else "start", "job_id": job_id, "kb": kb.name,
                      "at": now, "engine": engine, "embedder": embedder.id})
        say(f"job {job_id}: {'resuming' if resume else 'starting'} ({engine} engine, {embedder.id})")
        try:
            _run_job(jkb, src, embedder, report, jl, documents=documents, engine=engine, workers=workers, use_cache=use_cache,
                     index=index, shard_size=shard_size, batch_size=batch_size, max_file_mb=max_file_mb,
                     chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap, sample_queries=sample_queries,
                     ray_address=ray_address, ray_num_cpus=ray_num_cpus,
                     embedder_spec=embedder_spec or embedder.id, device=device, say=say, on_batch=on_batch)
            report.status = "done"
        except BaseException as ex:
            report.status = "failed"
            report.error = ex.one_line() if isinstance(ex, KBError) else f"{type(ex).__name__}: {ex}"
            raise
        finally:
            report.ended_at = _now()
            report.seconds = time.perf_counter() - started
            if report.chunks and report.seconds > 0:
                report.throughput_chunks_per_s = report.chunks / report.seconds
            job["status"] = report.status
            job["ended_at"] = report.ended_at
            with contextlib.suppress(OSError):
                atomic_write_text(jl.dir / "summary.json", json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
                atomic_write_text(jl.dir / "job.json", json.dumps(job, indent=1))
                jl.event("end", status=report.status, error=report.error, chunks=report.chunks,
                         vectors=report.vectors, failed=len(report.failed), seconds=round(report.seconds, 3),
                         chunks_per_s=round(report.throughput_chunks_per_s, 1),
                         texts_embedded=report.texts_embedded, cache_hits=report.cache_hits,
                         batches_from_checkpoint=report.batches_from_checkpoint)
                jl.jobs_line({"event": "end", "job_id": job_id, "kb": kb.name, "at": report.ended_at,
                              "status": report.status, "chunks": report.chunks, "failed": len(report.failed),
                              "seconds": round(report.seconds, 3), "error": report.error})
            if report.status == "done":
                # this job's checkpoint, and those of jobs it supersedes: once a job has finished,
                # none before it is resumed (find_resumable), and a killed one's 19 MB stayed
                _drop_checkpoints(jobs_dir(kb))
                if src.kind in ("dir", "manifest"):
                    with contextlib.suppress(OSError):
                        atomic_write_text(jobs_dir(kb) / SOURCES_FILE, json.dumps(src.to_dict()))
    return report


def _from_live(prev: Any, docs: Iterable[Document]) -> list[ParsedFile]:
    """Documents of the live version as parsed files: their stored chunks, to embed again."""
    hashes = prev.doc_hashes()
    return [ParsedFile(d.source, d, hashes.get(d.id, d.id), tuple(prev.chunks_of(d.id)))
            for d in sorted(docs, key=lambda d: d.source)]


def _deleted_files(kb: Any, files: list[tuple[Path, Path]]) -> tuple[list[tuple[Path, Path]], list[dict[str, str]]]:
    """``files`` without those whose document ``kb delete`` removed (:data:`ingest.pipeline.DELETED`),
    and a warning for each, as ``kb ingest`` of the folder says: ``kb reindex --source DIR`` read the
    deleted warranty.docx again, unsaid, and answered from it. A file is the deleted one when it is
    the file its document was read from, or holds the same content (a document whose folder was not
    recorded); how it was ingested (its groups) went with the document, so a deleted file is never
    read again as public by a rebuild. ``kb ingest DIR --undelete`` adds it back."""
    from ingest.loaders import content_hash, doc_id_for, read_sidecar, source_of
    from ingest.pipeline import deleted_marks, left_out_deleted, mark_of

    marks = deleted_marks(kb)
    if not marks:
        return files, []
    kept: list[tuple[Path, Path]] = []
    said: list[dict[str, str]] = []
    for path, root in files:
        source = source_of(path, root)
        marked = mark_of(marks, source, path.resolve())  # by its source, or by its file read from elsewhere
        if marked is not None:
            deleted_as, mark = marked
            try:
                same = mark.get("file") == str(path.resolve()) or mark["id"] == doc_id_for(
                    deleted_as, content_hash(path.read_bytes(), read_sidecar(path)[1]))
            except (OSError, KBError):
                same = False  # unreadable: parsed as any file, and fails there with its reason
            if same:
                said.append(left_out_deleted(source, mark))
                continue
        kept.append((path, root))
    return kept, said


def _items(kb: Any, src: SourceSpec, prev: Any
           ) -> tuple[list[tuple[Path, Path]], list[ParsedFile], int, list[dict[str, str]]]:
    """Files to parse, and documents of the live version to carry over as they are: all of them
    for the source ``live``; for a folder or manifest, those it does not hold (ingested from
    another folder, uploaded): a rebuild from one folder removed them, unsaid, and a later plain
    ``kb reindex`` (the recorded source) again. ``kb delete`` or ``kb ingest --prune`` remove
    documents; a rebuild does not. And how many files of a recorded folder the knowledge base does
    not hold, left out; and a warning for each file of a folder given (--source) left out because
    ``kb delete`` removed its document (:func:`_deleted_files`)."""
    if src.kind != "live":
        files = _as_ingested(list_source_files(src), prev)
        deleted: list[dict[str, str]] = []
        if not src.recorded:
            files, deleted = _deleted_files(kb, files)
        if prev is None:
            return files, [], 0, deleted
        from ingest.loaders import source_of

        if src.recorded:
            # the recorded folder still holds the files removed with kb delete: a plain kb reindex
            # brought them back into answers. Only what the knowledge base holds is rebuilt, each
            # from its own file (a deleted file named as another folder's live document, "returns.md",
            # replaced that document)
            from ingest.pipeline import file_of

            held = {d.source: file_of(d) for d in prev.documents()}
            every = len(files)
            files = [(p, r) for p, r in files
                     if (s := source_of(p, r)) in held and held[s] in (None, p.resolve())]
            left_out = every - len(files)
        else:
            left_out = 0
        found = {source_of(p, r) for p, r in files}
        return files, _from_live(prev, (d for d in prev.documents() if d.source not in found)), left_out, deleted
    if prev is None:
        raise InputError(f"knowledge base {kb.name!r} has no live version to rebuild from", "pass --source DIR")
    return [], _from_live(prev, prev.documents()), 0, []


def _as_ingested(files: list[tuple[Path, Path]], prev: Any) -> list[tuple[Path, Path]]:
    """``files`` each read from the folder its live document was ingested from, where it is the
    file of one: `kb reindex --source src/policies` read "src/policies/freeze.md" as "freeze.md",
    beside the live "policies/freeze.md" of `kb ingest src`, and both answered, the stale one too
    (a manifest outside the folder, as "src/policies/freeze.md"). A file no document was read from
    keeps the folder given."""
    from ingest.loaders import source_of
    from ingest.pipeline import file_of, origin_folder

    if prev is None:
        return files
    by_file = {str(f): d for d in prev.documents() if (f := file_of(d)) is not None}
    # each folder's files read from where its files' documents were (a new file beside them is named
    # as they are: "privacy.md" beside "policies/x.md" was added again as "policies/privacy.md" by
    # the next `kb ingest src`, and both answered)
    folder_root: dict[Path, Path] = {}
    for path, root in files:
        doc = by_file.get(str(path.resolve()))
        origin = origin_folder(doc) if doc is not None else None
        if doc is not None and origin is not None and source_of(path, root) != doc.source:
            folder_root[path.resolve().parent] = Path(origin)
    return [(path, folder_root.get(path.resolve().parent, root)) for path, root in files]


def _defaults_of(old: Document | None) -> dict[str, Any] | None:
    """The defaults a document was ingested with (:data:`ingest.pipeline.DEFAULTS_KEY`). One
    ingested before they were recorded keeps its access groups: a rebuild must not widen them."""
    from ingest.pipeline import DEFAULTS_KEY

    if old is None:
        return None
    recorded = (old.metadata or {}).get(DEFAULTS_KEY)
    if isinstance(recorded, dict):
        # groups its own front-matter or sidecar named are kept too, should the file no longer name
        # them (a sidecar lost in a copy): a rebuild published such a staff document to everyone
        # (publishing it is `kb ingest FILE --public`)
        return {**recorded, "groups": list(old.groups)} if old.groups and not recorded.get("groups") else recorded
    return {"groups": list(old.groups)} if old.groups else None


def _new_files_guard(src: SourceSpec, files: list[tuple[Path, Path]], known: Mapping[str, Document]
                     ) -> Callable[[ParsedFile], ParsedFile]:
    """What becomes of a parsed file the knowledge base does not hold yet: read as it is, unless
    the documents of the folder it is in are for access groups and it names none of its own. It
    fails then, and says how to add it: a rebuild has no --group, so a new file in a staff folder
    (payroll contacts beside the staff procedures) was published to everyone, unsaid."""
    from ingest.loaders import source_of

    restricted = sorted({g for p, r in files if (d := known.get(source_of(p, r))) is not None for g in d.groups})

    def guard(pf: ParsedFile) -> ParsedFile:
        if not restricted or pf.source in known or pf.document is None or pf.document.groups:
            return pf
        return ParsedFile(pf.source, error=(
            f"{pf.source}: new in {src.path}, whose documents are for access groups {', '.join(restricted)}; a "
            "rebuild would publish it to everyone; add it with kb ingest FILE --group NAME (or --public for everyone)"))

    return guard


# why a file the intact version does not know is not rebuilt over a damaged live version
NOT_KNOWN_TO_INTACT = ("not rebuilt: the damaged live version held how it was ingested (its groups); "
                       "ingest it again with them once a rebuilt version is live: kb ingest FILE --group NAME")


def _known_files(files: list[tuple[Path, Path]], known: Mapping[str, Document], report: ReindexReport,
                 jl: _JobLog) -> list[tuple[Path, Path]]:
    """The files whose ingest the intact version records; the others fail: how they were ingested
    (for whom: their groups) went with the damaged version, and read as public they widened it."""
    from ingest.loaders import source_of

    kept = []
    for path, root in files:
        source = source_of(path, root)
        if source in known:
            kept.append((path, root))
            continue
        report.failed.append({"source": source, "error": NOT_KNOWN_TO_INTACT})
        jl.event("file_failed", source=source, error=NOT_KNOWN_TO_INTACT)
    return kept


def _intact_record(kb: Any, live: str, src: SourceSpec, why: KBError, jl: _JobLog, say: Progress) -> Any:
    """When the live version is damaged: the newest intact version (:meth:`KnowledgeBase.fallbacks`),
    loaded for its record of how each file was ingested. Read without it, a file ingested with
    ``--group staff`` came back public. Its documents are not carried over (it may be older than
    the live one, and hold documents deleted since): the rebuild holds the folder's files alone.
    No intact version: refused, as the groups are not known."""
    if src.kind == "live":
        raise InputError(f"live version {live} of knowledge base {kb.name!r} is damaged ({why.message})",
                         "rebuild it from its files with `kb reindex --source DIR`")
    for version in kb.fallbacks(live):
        try:
            older = kb.load_version(version)
        except KBError:
            continue
        message = (f"live version {live} is damaged ({why.message}): the files of {src.path} are read with the "
                   f"groups and tags version {version} records for them; documents that are not in the folder "
                   f"are not kept (version {version} keeps them: write its id into {kb.path / CURRENT} to go back)")
        jl.event("warning", message=message)
        say(message)
        return older
    raise InputError(
        f"live version {live} of knowledge base {kb.name!r} is damaged and no intact version records the groups "
        "its documents were ingested with",
        f"ingest the files again with their groups: `kb ingest DIR --kb {kb.name} --group NAME --prune`",
    )


def _run_job(kb: Any, src: SourceSpec, embedder: Any, report: ReindexReport, jl: _JobLog, *,
             documents: Iterable[ParsedFile] | None, engine: str,
             workers: int, use_cache: bool, index: str, shard_size: int | None, batch_size: int,
             max_file_mb: float, chunk_tokens: int, chunk_overlap: int, sample_queries: int,
             ray_address: str | None, ray_num_cpus: int | None, embedder_spec: str, device: str,
             say: Progress, on_batch: Callable[[Batch], None] | None) -> None:
    from ingest.chunking import ChunkSettings

    prev = None
    recorded = None  # the version whose record says how each file was ingested (its groups)
    live = kb.live_version()
    if live:
        try:
            prev = recorded = kb.load_live()
        except KBError as ex:  # a damaged live version must not stop its own rebuild
            recorded = _intact_record(kb, live, src, ex, jl, say)
    prev_by_source = {d.source: d for d in recorded.documents()} if recorded is not None else {}
    if recorded is not None and recorded is not prev:
        recorded.close()  # its record is read: the documents' metadata, in prev_by_source
    settings = ChunkSettings(chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap).as_dict()
    if src.kind == "live" and prev is not None:
        settings = dict(prev.manifest.get("settings") or settings)
        settings["question_form"] = QUESTION_FORM  # the form the feeder embeds curated questions in
    files, ready_list, left_out, deleted = _items(kb, src, prev) if documents is None else ([], [], 0, [])
    if left_out:
        jl.event("left_out", files=left_out)
        say(f"{left_out} files of {src.path} are not in the knowledge base (removed with kb delete, or never "
            "ingested): left out; kb ingest adds them (those kb delete removed, with --undelete)")
    for w in deleted:
        report.warnings.append(w)
        jl.event("file_warning", **w)
    if recorded is not None and recorded is not prev:
        files = _known_files(files, prev_by_source, report, jl)
    ready: Iterable[ParsedFile] = ready_list if documents is None else documents
    if src.kind in ("dir", "manifest") and ready_list:
        report.kept = len(ready_list)
        jl.event("kept", documents=report.kept)
        say(f"{report.kept} documents of the live version are not in {src.path}: kept as they are "
            "(kb delete SOURCE removes one)")
    checkpoint = Checkpoint(jl.dir / "checkpoint")
    cache = kb.embedding_cache if use_cache else None
    bemb = BatchEmbedder(embedder, checkpoint, cache, on_batch)
    writer = kb.begin_version(embedder.id, int(embedder.dim), settings)
    feeder = VersionFeeder(writer)
    batcher = Batcher(batch_size, embedder.id)

    def fallback(pf: ParsedFile) -> ParsedFile | None:
        """A file that failed to parse keeps its previous chunks (re-embedded if need be)."""
        report.failed.append({"source": pf.source, "error": str(pf.error)})
        jl.event("file_failed", source=pf.source, error=pf.error)
        old = prev_by_source.get(pf.source)
        if old is None or prev is None:
            return None
        return ParsedFile(old.source, old, prev.doc_hashes().get(old.id, old.id), tuple(prev.chunks_of(old.id)))

    def noted(parsed: Iterable[ParsedFile]) -> Iterator[ParsedFile]:
        for pf in parsed:
            for w in pf.warnings:
                report.warnings.append({"source": pf.source, "warning": w})
                jl.event("file_warning", source=pf.source, warning=w)
            yield pf

    def parsed_stream() -> Iterator[ParsedFile]:
        yield from ready
        from ingest.loaders import source_of

        args = [(str(p), str(r), max_file_mb, chunk_tokens, chunk_overlap) for p, r in files]
        defaults = [_defaults_of(prev_by_source.get(source_of(p, r))) for p, r in files]
        guard = _new_files_guard(src, files, prev_by_source)
        if workers <= 1 or len(files) <= 1:
            for a, d in zip(args, defaults, strict=True):
                yield guard(parse_file(*a, embedder.count_tokens, d))
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_exit_with,
                                 initargs=(os.getpid(),)) as pool:
            yield from map(guard, pool.map(_parse_star, [(*a, embedder_spec, d) for a, d in zip(args, defaults, strict=True)],
                                           chunksize=max(1, min(16, len(args) // (workers * 4) or 1))))

    try:
        t0 = time.perf_counter()
        if engine == "local":
            from ingest.engines.local import run_local

            run_local(noted(parsed_stream()), fallback, batcher, bemb, feeder, say=say)
        else:
            from ingest.engines.ray_engine import run_ray

            run_ray(noted(parsed_stream()), fallback, batcher, bemb, feeder, spec=embedder_spec, device=device,
                    address=ray_address, num_cpus=ray_num_cpus, workers=workers, say=say)
        report.timings["parse_embed_write"] = time.perf_counter() - t0
        report.timings["embed"] = bemb.seconds
        report.texts = batcher.n_texts
        report.batches = batcher.count
        report.batches_from_checkpoint = bemb.from_checkpoint
        report.texts_embedded = bemb.embedded
        report.cache_hits, report.cache_misses = bemb.hits, bemb.misses
        report.documents, report.chunks, report.vectors = feeder.documents, feeder.chunks, feeder.vectors
        report.files = len(files) + len(ready_list) if documents is None else feeder.documents + len(report.failed)
        if feeder.waiting:
            raise ReindexValidationError(f"{len(feeder.waiting)} texts were never embedded",
                                         "the live version was kept; run the job again")
        if feeder.chunks == 0:
            # (each failed file named, with why: a QA round was told only "see the 1 failed files",
            # which neither the output nor `kb jobs` named)
            shown = "; ".join(f"{f['source']}: {f['error']}" for f in report.failed[:3])
            more = f"; and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
            what = f"{len(report.failed)} failed: {shown}{more}" if report.failed else "the source holds no documents"
            fix = "the live version was kept; fix the sources and run again"
            if recorded is not None and report.failed and all(f["error"] == NOT_KNOWN_TO_INTACT for f in report.failed):
                # (none of them is known to the intact version: it is the way back, not another rebuild,
                # which `kb ingest` pointed at again)
                fix = (f"make version {recorded.version} live again by writing its id into {kb.path / CURRENT}, "
                       "then ingest these files with their groups: kb ingest FILE --group NAME (or --public)")
            raise InputError(f"no document could be indexed ({what})", fix)
        plan = _index_plan(feeder.vectors, int(embedder.dim), kb, index, shard_size)
        say(f"building {plan['kind']} index over {feeder.vectors} vectors"
            f"{' in ' + str(plan['shards']) + ' shards' if plan['shards'] > 1 else ''}: "
            f"~{plan['memory_estimate_bytes'] / 2**20:.1f} MiB (flat would be {plan['flat_memory_bytes'] / 2**20:.1f} MiB)")
        jl.event("memory_estimate", **plan)
        t1 = time.perf_counter()
        manifest = writer.finalize(index_kind=index, shards=plan["shards"])
        report.timings["build_index"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        validation = validate_version(kb, writer, manifest, expected_chunks=feeder.chunks,
                                      expected_vectors=feeder.expected_vectors, sample_queries=sample_queries,
                                      nprobe=kb.nprobe)
        report.timings["validate"] = time.perf_counter() - t2
        report.validation = validation
        report.recall_vs_flat = validation.get("recall_at_10_vs_flat")
        idx = dict(manifest.get("index", {}))
        idx["memory_estimate_bytes"] = plan["memory_estimate_bytes"]
        idx["flat_memory_bytes"] = plan["flat_memory_bytes"]
        idx["size_bytes"] = int(sum(v for k, v in manifest.get("files", {}).items() if k.endswith(".faiss")))
        report.index = idx
        if prev is not None:
            prev.close()
            prev = None
        # (killed from here on, the job is known to have published by this event: `kb jobs` listed it
        # as interrupted though its version was live, and --resume built and published it again)
        jl.event("publishing", version=writer.version)
        report.index_version = kb.publish(writer)
        say(f"published version {report.index_version}")
    except BaseException:
        with contextlib.suppress(Exception):
            kb.discard(writer)
        raise
    finally:
        if prev is not None:
            prev.close()
