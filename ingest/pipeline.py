"""The incremental ingest pipeline: files -> loaders -> cleaning -> chunks -> vectors -> a new
index version, published atomically under the knowledge base's lock.

Incremental by content hash: a file whose hash (normalised bytes + sidecar metadata + ingest
defaults) matches the live version is copied (chunks and vectors reused, not even parsed);
changed files are re-chunked, their old chunks dropped; new files added; with ``prune=True``
every live document that is not among the files of this run is removed. Embeddings go through
the knowledge base's :class:`EmbeddingCache` (embedder id + text), so identical text is never
embedded twice. Nothing is published when nothing changed. A failing file is reported in
``failed`` and never stops the others; a file that fails to load keeps its previous version.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexes.types import Chunk, Document
from ingest.chunking import ChunkSettings, chunk_loaded
from ingest.loaders import (
    META_SUFFIX,
    check_file,
    content_hash,
    doc_id_for,
    load_file,
    read_sidecar,
    source_of,
)
from kb.errors import InputError, KBError

EMBED_BLOCK = 1024  # texts per embedder call (the embedder batches and length-sorts inside)


@dataclass
class IngestReport:
    kb: str
    index_version: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0  # chunks in the resulting live index version
    seconds: float = 0.0
    # not part of the JSON shape, for tests and benchmarks
    published: bool = False
    chunks_new: int = 0
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
            "failed": list(self.failed),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------------------------
# walking


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = (path.name,)
    return any(p.startswith(".") or p == "__pycache__" for p in parts)


def iter_files(paths: Iterable[Path | str]) -> Iterator[tuple[Path, Path]]:
    """(file, root) pairs: folders recursively (hidden files and sidecars skipped, sorted), a
    single file with its folder as root. A missing path raises InputError."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            root = path
            for f in sorted(path.rglob("*")):
                if f.is_file() and not _hidden(f, root) and not f.name.endswith(META_SUFFIX):
                    yield f, root
        elif path.is_file():
            yield path, path.parent
        else:
            raise InputError(f"{path}: no such file or folder", "check the path")


# --------------------------------------------------------------------------------------------
# embedding


def embed_cached(cache: Any, embedder: Any, texts: Sequence[str], progress: Any = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (rows in order): unique texts looked up in the cache, the misses
    embedded in blocks and stored. Returns (vectors, number of texts embedded)."""
    dim = int(embedder.dim)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not texts:
        return out, 0
    unique: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        unique.setdefault(t, []).append(i)
    keys = list(unique)
    found: dict[int, np.ndarray] = cache.get_many(embedder.id, keys) if cache is not None else {}
    for j, vec in found.items():
        out[unique[keys[j]]] = vec
    missing = [keys[j] for j in range(len(keys)) if j not in found]
    for start in range(0, len(missing), EMBED_BLOCK):
        block = missing[start : start + EMBED_BLOCK]
        vecs = np.asarray(embedder.embed(block, kind="passage"), dtype=np.float32)
        for t, v in zip(block, vecs, strict=True):
            out[unique[t]] = v
        if cache is not None:
            cache.put_many(embedder.id, block, vecs)
        if progress is not None:
            progress.update(len(block))
    return out, len(missing)


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


def _error_text(ex: BaseException) -> str:
    if isinstance(ex, KBError):
        return ex.one_line()
    return f"{type(ex).__name__}: {' '.join(str(ex).split())[:200]}"


def _write_version(
    kb: Any,
    embedder: Any,
    settings: dict[str, Any],
    prev: Any,
    keep_ids: list[str],
    new_docs: list[tuple[Document, str]],
    new_chunks: list[Chunk],
    progress: bool,
    report: IngestReport,
) -> Any:
    """Build, finalize and publish a new version; the writer is discarded on any failure."""
    t0 = time.perf_counter()
    passage_texts = [c.embed_text() for c in new_chunks]
    faq = [c for c in new_chunks if c.question]
    question_texts = [c.question or "" for c in faq]
    bar = _bar(len(set(passage_texts)) + len(set(question_texts)), "embedding", progress)
    cache = kb.embedding_cache
    try:
        pvecs, n1 = embed_cached(cache, embedder, passage_texts, bar)
        qvecs, n2 = embed_cached(cache, embedder, question_texts, bar)
    finally:
        if bar is not None:
            bar.close()
    report.texts_embedded = n1 + n2
    report.timings["embed"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    writer = kb.begin_version(embedder.id, int(embedder.dim), settings)
    try:
        if prev is not None and keep_ids:
            writer.copy_documents_from(prev, keep_ids)
        if new_docs:
            writer.add_documents([d for d, _ in new_docs], {d.id: h for d, h in new_docs})
        if new_chunks:
            writer.add_chunks(new_chunks)
            writer.add_vectors([c.id for c in new_chunks], "passage", pvecs)
        if faq:
            writer.add_vectors([c.id for c in faq], "question", qvecs)
        manifest = writer.finalize()
        kb.publish(writer)
    except BaseException:
        try:
            kb.discard(writer)
        except Exception:  # the original error matters more
            pass
        raise
    report.timings["write"] = time.perf_counter() - t1
    return manifest


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
) -> IngestReport:
    """Ingest files and folders into ``kb`` (a :class:`indexes.kbase.KnowledgeBase`).

    ``default_groups`` / ``default_tags`` apply to documents whose own metadata has none (e.g. an
    upload for one team). Raises KBError only for fatal problems (locked, embedder mismatch,
    a path that does not exist); per-file problems go to ``report.failed``.
    """
    started = time.perf_counter()
    report = IngestReport(kb=getattr(kb, "name", ""))
    files = list(iter_files(paths))  # a missing path is fatal before anything is locked
    csettings = ChunkSettings(chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap)
    settings = csettings.as_dict()
    defaults: dict[str, Any] = {}
    if default_groups:
        defaults["groups"] = tuple(default_groups)
    if default_tags:
        defaults["tags"] = tuple(default_tags)
    extra = ""
    if defaults:
        import json

        extra = json.dumps(defaults, sort_keys=True, default=str)

    with kb.lock(timeout=lock_timeout):
        prev = _live(kb, embedder)
        prev_docs: dict[str, Document] = {d.source: d for d in prev.documents()} if prev is not None else {}
        reuse = prev is not None and _settings_match(prev, settings)

        seen: set[str] = set()
        failed_sources: set[str] = set()
        keep_ids: list[str] = []
        new_docs: list[tuple[Document, str]] = []
        new_chunks: list[Chunk] = []
        bar = _bar(len(files), "loading", progress)
        t_load = time.perf_counter()
        for path, root in files:
            source = source_of(path, root)
            try:
                if source in seen:
                    raise InputError(f"{source}: given twice (two roots hold the same relative path)",
                                     "ingest the folders into separate knowledge bases or rename one")
                seen.add(source)
                check_file(path, max_file_mb)
                data = path.read_bytes()
                _, side_raw = read_sidecar(path)
                chash = content_hash(data, side_raw, extra)
                old = prev_docs.get(source)
                if reuse and old is not None and old.id == doc_id_for(source, chash):
                    keep_ids.append(old.id)
                    report.unchanged += 1
                    continue
                loaded = load_file(path, root, max_file_mb, data=data, defaults=defaults)
                chunks = chunk_loaded(loaded, embedder.count_tokens, csettings)
                if not chunks:
                    raise InputError(f"{source}: no text to index", "add content or remove the file")
                new_docs.append((loaded.document, loaded.content_hash))
                new_chunks.extend(chunks)
                if old is not None:
                    report.updated += 1
                else:
                    report.added += 1
            except Exception as ex:  # one bad file never stops the others
                failed_sources.add(source)
                report.failed.append({"source": source, "error": _error_text(ex)})
                old = prev_docs.get(source)
                if old is not None:
                    keep_ids.append(old.id)  # nothing already stored is lost
            finally:
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        report.timings["load_chunk"] = time.perf_counter() - t_load

        for source, doc in prev_docs.items():
            if source in seen:
                continue
            if prune:
                report.deleted += 1
            else:
                keep_ids.append(doc.id)
        report.chunks_new = len(new_chunks)

        changed = bool(new_docs) or report.deleted > 0
        if not changed:
            report.index_version = prev.version if prev is not None else None
            report.chunks = int(prev.n_chunks) if prev is not None else 0
            report.seconds = time.perf_counter() - started
            return report
        manifest = _write_version(kb, embedder, settings, prev, keep_ids, new_docs, new_chunks, progress, report)
        report.published = True
        report.index_version = kb.live_version()
        kept_chunks = 0
        if prev is not None:
            kept_chunks = sum(len(prev.chunks_of(i)) for i in keep_ids) if keep_ids else 0
        report.chunks = _count_chunks(manifest, kept_chunks + len(new_chunks))
        if prev is not None:
            prev.close()
    report.seconds = time.perf_counter() - started
    return report


def _match(source: str, wanted: str) -> bool:
    w = wanted.replace("\\", "/").strip()
    if w.endswith("/"):
        return source.startswith(w)
    return source == w or source.startswith(w + "/")


def delete_sources(kb: Any, sources: Sequence[str], embedder: Any, *, lock_timeout: float = 0) -> IngestReport:
    """Remove documents by source (exact, or a folder prefix such as ``policies/``). Unknown
    sources are reported in ``failed``; the deleted content is gone from every index of the new
    version."""
    started = time.perf_counter()
    report = IngestReport(kb=getattr(kb, "name", ""))
    with kb.lock(timeout=lock_timeout):
        prev = _live(kb, embedder)
        docs = prev.documents() if prev is not None else []
        hit: set[str] = set()
        for wanted in sources:
            matched = [d for d in docs if _match(d.source, wanted)]
            if not matched:
                report.failed.append(
                    {"source": wanted, "error": f"{wanted}: not in the knowledge base; see `kb status` for its sources"}
                )
            hit.update(d.id for d in matched)
        report.deleted = len(hit)
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
        manifest = _write_version(kb, embedder, settings, prev, keep, [], [], False, report)
        report.published = True
        report.index_version = kb.live_version()
        report.chunks = _count_chunks(manifest, sum(len(prev.chunks_of(i)) for i in keep))
        prev.close()
    report.seconds = time.perf_counter() - started
    return report
