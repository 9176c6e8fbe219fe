"""A knowledge base whose files were damaged on disk, or whose writers were killed: the damage is
found, said in one line naming what to do, and never spread, widened or made permanent."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from indexes.embedders import get_embedder
from indexes.kbase import CURRENT, EmbeddingCache, KnowledgeBase
from ingest.pipeline import ingest_paths
from ingest.reindex import reindex
from kb.errors import IndexCorruptError, InputError

EMB = "hashing:64"
FILLER = "Our support team answers every message within one business day, on weekdays and weekends. "


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (d / fname).write_text(f"# {fname}\n\n{text} {FILLER * 3}\n", encoding="utf-8")
    return d


def _ingest(kb: KnowledgeBase, folder: Path, **kw: object) -> str:
    ingest_paths(kb, [folder], get_embedder(EMB), chunk_tokens=48, chunk_overlap=8, **kw)  # type: ignore[arg-type]
    live = kb.live_version()
    assert live
    return live


def _damage_manifest(kb: KnowledgeBase, version: str) -> None:
    path = kb.versions_dir / version / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8")[:200], encoding="utf-8")


@pytest.mark.parametrize("fname", ["vectors.faiss", "vectors.f32"])
def test_bytes_changed_in_place_are_found_by_their_checksum(kb_home: Path, tmp_path: Path, fname: str) -> None:
    """A flipped block of vectors kept its size: it ranked one document first for every question,
    and was copied into the next version."""
    kb = KnowledgeBase(kb_home, "t")
    live = _ingest(kb, _folder(tmp_path, "a", {f"doc{i}.md": f"Code ZX{i:02d} belongs to document {i}." for i in range(6)}))
    path = kb.versions_dir / live / fname
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(b ^ 0xFF for b in data[mid : mid + 64])
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=f"{fname} does not match its checksum"):
        kb.load_live()
    # an incremental ingest does not copy the damaged vectors forward
    with pytest.raises(IndexCorruptError):
        _ingest(kb, _folder(tmp_path, "b", {"new.md": "A new document about parcels."}))
    assert kb.live_version() == live


def test_a_rebuild_of_a_damaged_live_version_keeps_the_groups_of_its_files(kb_home: Path, tmp_path: Path) -> None:
    """The rebuild the damage message recommends read every file without the groups it was
    ingested with: a staff-only document became public."""
    kb = KnowledgeBase(kb_home, "t")
    staff = _folder(tmp_path, "staff", {"internal.md": "The secret escalation code is ZX88Q999001."})
    _ingest(kb, staff, default_groups=["staff"])
    intact = kb.live_version()
    (staff / "public2.md").write_text(f"# public2\n\nA public page. {FILLER * 3}\n", encoding="utf-8")
    live = _ingest(kb, staff, default_groups=["staff"])
    _damage_manifest(kb, live)
    with pytest.raises(IndexCorruptError, match=f"make version {intact} live again"):
        kb.load_live()
    r = reindex(kb, staff, get_embedder(EMB), chunk_tokens=48, chunk_overlap=8)
    assert r.status == "done", r.error  # done, with a failed file, as a file that does not parse
    index = kb.load_live()
    try:
        assert {d.source: d.groups for d in index.documents()} == {"internal.md": ("staff",)}
    finally:
        index.close()
    # a file the intact version does not know is not read as public: it fails, saying what to do
    assert r.failed == [{"source": "public2.md", "error": "not rebuilt: the damaged live version held how it was "
                         "ingested (its groups); ingest it again with them once a rebuilt version is live: "
                         "kb ingest FILE --group NAME"}]
    # GC kept the intact version the damaged one was built from, and dropped the damaged one
    assert set(kb.versions()) == {r.index_version, intact}


def test_a_rebuild_over_vectors_changed_in_place_keeps_the_intact_version_to_go_back_to(
    kb_home: Path, tmp_path: Path
) -> None:
    """A QA round flipped a byte of the live version's vectors (every size as the manifest says)
    and ran the rebuild the error recommends: GC then kept the damaged version, as the new one's
    parent, and removed the intact one the error had offered to make live again. And a rebuild of
    a folder whose every file the intact version does not know said only "see the 1 failed files",
    and pointed at `kb ingest`, which the damaged live version refused."""
    kb = KnowledgeBase(kb_home, "t")
    kb.keep_versions = 2
    _ingest(kb, _folder(tmp_path, "a", {"gift.md": "Gift cards never expire."}))
    intact = _ingest(kb, _folder(tmp_path, "b", {"hours.md": "The shop opens at 9."}))
    live = _ingest(kb, _folder(tmp_path, "c", {"parcel.md": "Parcels arrive in 3 days."}))
    path = kb.versions_dir / live / "vectors.faiss"
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=f"make version {intact} live again"):
        kb.load_live()
    new = _folder(tmp_path, "d", {"returns.md": "Returns are free within 30 days."})
    with pytest.raises(InputError) as err:
        reindex(kb, new, get_embedder(EMB), chunk_tokens=48, chunk_overlap=8)
    assert "returns.md: not rebuilt" in err.value.message and f"make version {intact} live again" in (err.value.hint or "")
    r = reindex(kb, tmp_path / "b", get_embedder(EMB), chunk_tokens=48, chunk_overlap=8)
    assert r.status == "done", r.error
    assert set(kb.versions()) == {r.index_version, intact}


def test_no_intact_version_means_no_rebuild_that_guesses_groups(kb_home: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(kb_home, "t")
    staff = _folder(tmp_path, "staff", {"internal.md": "The secret escalation code is ZX88Q999001."})
    live = _ingest(kb, staff, default_groups=["staff"])
    _damage_manifest(kb, live)
    with pytest.raises(InputError, match="no intact version records the groups"):
        reindex(kb, staff, get_embedder(EMB), chunk_tokens=48, chunk_overlap=8)
    with pytest.raises(InputError, match=r"rebuild it from its files with `kb reindex --source DIR`"):
        reindex(kb, None, get_embedder(EMB), chunk_tokens=48, chunk_overlap=8)
    assert kb.live_version() == live


def test_gc_drops_a_version_that_was_never_live_before_the_one_the_live_was_built_from(
    kb_home: Path, tmp_path: Path
) -> None:
    """A publisher killed between moving its version in and switching the pointer left a version
    that was never live; GC then deleted the real previous version instead."""
    kb = KnowledgeBase(kb_home, "t")
    first = _ingest(kb, _folder(tmp_path, "a", {"a.md": "Alpha."}))

    def die(point: str) -> None:
        if point == "publish:before_pointer":
            os._exit(9)  # killed between the two steps: nothing cleaned up

    def killed_publisher() -> None:
        kb.fault_hook = die
        _ingest(kb, _folder(tmp_path, "b", {"b.md": "Bravo."}))

    import multiprocessing

    child = multiprocessing.get_context("fork").Process(target=killed_publisher)
    child.start()
    child.join(60)
    assert child.exitcode == 9
    orphan = next(v for v in kb.versions() if v != first)
    assert kb.live_version() == first
    newest = _ingest(kb, _folder(tmp_path, "c", {"c.md": "Charlie."}))
    assert set(kb.versions()) == {newest, first} and orphan not in kb.versions()


def test_an_empty_pointer_is_damage_not_a_new_knowledge_base(kb_home: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(kb_home, "t")
    live = _ingest(kb, _folder(tmp_path, "a", {"a.md": "Alpha."}))
    (kb.path / CURRENT).write_text("", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=f"pointer .* is empty; write the id of version {live} into it"):
        kb.load_live()
    with pytest.raises(IndexCorruptError):  # not an ingest over nothing, dropping the other documents
        _ingest(kb, _folder(tmp_path, "b", {"b.md": "Bravo."}))
    assert kb.versions() == [live]


def test_status_says_when_the_live_version_is_damaged(kb_home: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(kb_home, "t")
    first = _ingest(kb, _folder(tmp_path, "a", {"a.md": "Alpha."}))
    live = _ingest(kb, _folder(tmp_path, "b", {"b.md": "Bravo."}))
    assert "problem" not in kb.status()
    (kb.versions_dir / live / "chunks.sqlite").write_bytes(b"")
    status = kb.status()
    assert status["problem"].startswith(f"live version {live} is missing or damaged") and first in status["problem"]
    assert [e.get("damaged", False) for e in status["versions"]] == [False, True]


def test_temp_versions_of_killed_writers_go_when_the_next_one_begins(kb_home: Path, tmp_path: Path) -> None:
    """They went only with a publish: a delete that published nothing left them, and on a nearly
    full disk they stopped every writer after them."""
    kb = KnowledgeBase(kb_home, "t")
    _ingest(kb, _folder(tmp_path, "a", {"a.md": "Alpha."}))
    dead = kb.tmp_dir / "v20260101T000000000000-abcdef.999999999"
    dead.mkdir(parents=True)
    (dead / "vectors.f32").write_bytes(b"\0" * 4096)
    w = kb.begin_version(EMB, 64, {})
    try:
        assert not dead.exists() and w.path.exists()
    finally:
        kb.discard(w)


def test_checkpoints_of_superseded_jobs_are_removed(kb_home: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(kb_home, "t")
    docs = _folder(tmp_path, "a", {f"d{i}.md": f"Document {i} text." for i in range(3)})
    _ingest(kb, docs)
    killed = kb.path / "jobs" / "20260101T000000-dead"
    (killed / "checkpoint").mkdir(parents=True)
    (killed / "checkpoint" / "b0.npy").write_bytes(b"\0" * 1024)
    (killed / "job.json").write_text(json.dumps({"status": "running", "pid": 999_999_999}), encoding="utf-8")
    assert reindex(kb, docs, get_embedder(EMB), chunk_tokens=48, chunk_overlap=8).status == "done"
    assert not (killed / "checkpoint").exists()


def test_a_damaged_embedding_cache_is_set_aside_and_begun_anew(tmp_path: Path) -> None:
    path = tmp_path / "embcache.sqlite"
    path.write_bytes(os.urandom(8192))
    cache = EmbeddingCache(path)
    assert cache.get_many("e", ["hello"]) == {}
    import numpy as np

    cache.put_many("e", ["hello"], np.ones((1, 4), np.float32))
    assert list(cache.get_many("e", ["hello"])) == [0]
    assert [p.name.startswith("embcache.sqlite.damaged-") for p in tmp_path.iterdir()].count(True) == 1
    cache.close()


def test_a_full_disk_drops_the_caches_write_ahead_log(tmp_path: Path) -> None:
    """Left behind, it kept the disk full for every ingest after the one that filled it."""
    import numpy as np

    cache = EmbeddingCache(tmp_path / "embcache.sqlite")
    cache.put_many("e", ["a"], np.ones((1, 4), np.float32))
    assert (tmp_path / "embcache.sqlite-wal").exists()

    def full(con: sqlite3.Connection) -> None:
        err = sqlite3.OperationalError("database or disk is full")
        err.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
        raise err

    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        cache._run(full)
    assert not (tmp_path / "embcache.sqlite-wal").exists()
    assert cache.count() <= 1  # usable again
