"""Reindex jobs with the hashing embedder: atomic full rebuild, validation, kill -9 and --resume,
lock contention, embedding-cache hits, IVF recall vs flat, sharding, `kb reindex` / `kb jobs`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexes.embedders import get_embedder
from indexes.kbase import KnowledgeBase
from ingest.pipeline import ingest_paths
from ingest.reindex import list_jobs, reindex
from kb.errors import InputError, LockedError

REPO = Path(__file__).resolve().parents[2]

WORDS = (
    "refund shipping parcel invoice warranty battery charger laptop screen return exchange voucher "
    "courier delivery address account password privacy loyalty points member discount coupon order "
    "tracking customs duty insurance repair replacement receipt store online payment card bank "
    "transfer subscription cancel renew upgrade downgrade plan support ticket agent hours weekend"
).split()


def write_corpus(root: Path, n_files: int = 6, paras: int = 4, seed: int = 7) -> Path:
    """Markdown files with distinct, deterministic text plus one FAQ table."""
    rng = random.Random(seed)
    docs = root / "corpus"
    docs.mkdir(parents=True, exist_ok=True)
    for f in range(n_files):
        parts = [f"# Topic {f} {rng.choice(WORDS)}\n"]
        for p in range(paras):
            sent = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30)))
            parts.append(f"## Section {p}\n\n{sent.capitalize()} item{f}x{p}.\n")
        (docs / f"doc{f:03d}.md").write_text("\n".join(parts), encoding="utf-8")
    (docs / "faq.csv").write_text(
        "id,question,answer\n1,How long does shipping take?,Three to five days.\n"
        "2,Can I pay with a marmotcard?,Yes we accept marmotcards.\n",
        encoding="utf-8",
    )
    return docs


def snapshot(index: Any) -> dict[str, Any]:
    """Chunk ids (row order), their passage vectors and a few vector and keyword search results."""
    chunks = index.get_chunks(list(range(index.n_chunks)))
    ids = [c.id for c in chunks]
    vecs = index.vectors_of(ids, "passage")
    rng = np.random.default_rng(0)
    nq = min(8, len(vecs))
    queries = vecs[rng.choice(len(vecs), nq, replace=False)] + rng.normal(0, 0.1, (nq, vecs.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    results = [[ids[r] for r, _ in index.vector_search(q, 5)] for q in queries]
    kw = [[ids[r] for r, _ in index.keyword_search(w, 5)] for w in ("refund", "shipping parcel", "marmotcard")]
    return {"ids": ids, "vecs": vecs, "results": results, "keyword": kw, "n_vectors": index.n_vectors}


def assert_same_index(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["ids"] == b["ids"]
    assert a["n_vectors"] == b["n_vectors"]
    np.testing.assert_allclose(a["vecs"], b["vecs"], atol=1e-5)
    assert a["results"] == b["results"]
    assert a["keyword"] == b["keyword"]


def live_snapshot(kb: KnowledgeBase) -> dict[str, Any]:
    index = kb.load_live()
    try:
        return snapshot(index)
    finally:
        index.close()


def all_texts(kb: KnowledgeBase) -> set[str]:
    index = kb.load_live()
    try:
        chunks = index.get_chunks(list(range(index.n_chunks)))
    finally:
        index.close()
    return {c.embed_text() for c in chunks} | {c.question for c in chunks if c.question}


# --------------------------------------------------------------------------------------------


def test_rebuild_equals_ingest_and_live_serves_until_published(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [docs], get_embedder("hashing:64"), chunk_tokens=48, chunk_overlap=8)
    before = kb.live_version()
    assert before is not None
    seen_live: list[str | None] = []
    emb = get_embedder("hashing:64")
    r = reindex(kb, docs, emb, batch_size=8, chunk_tokens=48, chunk_overlap=8, use_cache=False,
                on_batch=lambda b: seen_live.append(kb.live_version()))
    assert r.status == "done" and r.ok and r.index_version == kb.live_version() != before
    assert seen_live and set(seen_live) == {before}  # the old version served during the job
    assert r.batches == len(seen_live) > 1 and r.texts_embedded == r.texts
    assert r.validation["vector_self_hit_rate"] == 1.0 and r.validation["keyword_nonempty"] > 0
    # same chunker + embedder: the rebuilt version equals the incrementally ingested one
    old = kb.load_version(before)
    try:
        assert_same_index(snapshot(old), live_snapshot(kb))
    finally:
        old.close()
    summary = json.loads((kb.path / "jobs" / r.job_id / "summary.json").read_text())
    assert summary["status"] == "done" and summary["chunks"] == r.chunks
    events = [json.loads(x)["event"] for x in (kb.path / "jobs" / r.job_id / "log.jsonl").read_text().splitlines()]
    assert events[0] == "start" and "memory_estimate" in events and events[-1] == "end"
    assert not (kb.path / "jobs" / r.job_id / "checkpoint").exists()  # removed once done


def test_a_page_mirrored_after_its_batch_was_written_still_gets_its_vectors(kb_home: Path, tmp_path: Path) -> None:
    """A document that repeats an earlier one (a mirrored page) reaches the writer after the batch
    with the earlier copy's texts was written: its chunks get the same vectors, and the job
    publishes (it used to fail with "texts were never embedded" on domainrag and mtrag-un)."""
    docs = write_corpus(tmp_path, n_files=8)
    (docs / "mirror.md").write_text((docs / "doc000.md").read_text(encoding="utf-8"), encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    r = reindex(kb, docs, get_embedder("hashing:64"), batch_size=1, chunk_tokens=48, chunk_overlap=8, workers=1)
    assert r.status == "done" and r.ok, r
    index = kb.load_live()
    try:
        chunks = index.get_chunks(list(range(index.n_chunks)))
        by_doc: dict[str, list[Any]] = {}
        for c in chunks:
            by_doc.setdefault(c.source, []).append(c)
        original, mirror = by_doc["doc000.md"], by_doc["mirror.md"]
        assert [c.text for c in original] == [c.text for c in mirror]
        np.testing.assert_array_equal(index.vectors_of([c.id for c in mirror], "passage"),
                                      index.vectors_of([c.id for c in original], "passage"))
        assert index.n_vectors == len(chunks) + sum(1 for c in chunks if c.question)
    finally:
        index.close()


def test_failed_validation_keeps_live_version(kb_home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    emb = get_embedder("hashing:64")
    reindex(kb, docs, emb)
    live = kb.live_version()
    import ingest.reindex as rx

    orig = rx.VersionFeeder.add_batch

    def lossy(self, batch, vecs):  # type: ignore[no-untyped-def]
        # simulate a writer that drops one vector: counts no longer match what was produced
        if batch.index == 0:
            self.expected_vectors += 1
        return orig(self, batch, vecs)

    monkeypatch.setattr(rx.VersionFeeder, "add_batch", lossy)
    with pytest.raises(rx.ReindexValidationError, match="the live version was kept"):
        reindex(kb, docs, emb)
    assert kb.live_version() == live
    assert not any((kb.path / "tmp").iterdir())
    jobs = list_jobs(kb)
    assert jobs[-1]["status"] == "failed" and "live version was kept" in jobs[-1]["error"]


def test_cache_hits_chunker_change_embedder_change_and_no_cache(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    e1 = get_embedder("hashing:64")
    r1 = reindex(kb, docs, e1, chunk_tokens=48, chunk_overlap=8)
    first = all_texts(kb)
    assert r1.texts_embedded == len(first) == r1.cache_misses and r1.cache_hits == 0
    # index type only: nothing embedded at all
    e2 = get_embedder("hashing:64")
    r2 = reindex(kb, None, e2, index="hnsw", chunk_tokens=48, chunk_overlap=8)
    assert e2.texts_embedded == r2.texts_embedded == 0 and r2.cache_hits == len(first)
    assert r2.index["kind"] == "hnsw"
    # chunker change: only texts never seen before are embedded
    e3 = get_embedder("hashing:64")
    r3 = reindex(kb, None, e3, chunk_tokens=24, chunk_overlap=4)
    second = all_texts(kb)
    assert second != first
    assert e3.texts_embedded == r3.texts_embedded == len(second - first)
    assert r3.cache_hits == len(second & first)
    # embedder change: everything re-embedded (the cache key holds the embedder id)
    e4 = get_embedder("hashing:96")
    r4 = reindex(kb, None, e4, chunk_tokens=24, chunk_overlap=4)
    assert e4.texts_embedded == len(second) and r4.cache_hits == 0
    assert kb.load_live(expected_embedder="hashing:96").dim == 96
    # --no-cache: everything re-embedded although all is cached
    e5 = get_embedder("hashing:96")
    r5 = reindex(kb, None, e5, use_cache=False, chunk_tokens=24, chunk_overlap=4)
    assert e5.texts_embedded == len(second) and r5.cache_hits == 0


def test_live_source_reembeds_stored_chunks_with_new_embedder(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [docs], get_embedder("hashing:64"), chunk_tokens=48, chunk_overlap=8)
    before = live_snapshot(kb)
    r = reindex(kb, None, get_embedder("hashing:128"))  # no recorded source: the live chunks
    assert r.source["kind"] == "live" and r.ok
    after = live_snapshot(kb)
    assert after["ids"] == before["ids"] and after["vecs"].shape[1] == 128


def test_ivf_recall_vs_flat_nprobe_and_shards(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path, n_files=30, paras=8, seed=3)
    emb = get_embedder("hashing:64")
    flat = KnowledgeBase(kb_home, "flat")
    rf = reindex(flat, docs, emb, chunk_tokens=24, chunk_overlap=0)
    assert rf.index["kind"] == "flat" and rf.recall_vs_flat is None
    n = rf.vectors
    assert n > 150
    ivf = KnowledgeBase(kb_home, "ivf", nlist=8)
    r = reindex(ivf, docs, emb, chunk_tokens=24, chunk_overlap=0, flat_max=50, nprobe=8, sample_queries=64)
    assert r.index["kind"] == "ivf" and r.index["nprobe"] == 8 and r.index["nlist"] == 8
    assert r.recall_vs_flat == 1.0  # nprobe = nlist: exhaustive
    r1 = reindex(ivf, docs, emb, chunk_tokens=24, chunk_overlap=0, flat_max=50, nprobe=1, sample_queries=64)
    assert r1.recall_vs_flat is not None and 0.2 < r1.recall_vs_flat < 1.0  # fixed seed: an approximate index
    assert r.index["memory_estimate_bytes"] > 0 and r.index["size_bytes"] > 0
    rp = reindex(ivf, docs, emb, chunk_tokens=24, chunk_overlap=0, index="ivfpq", nprobe=8)
    assert rp.index["kind"] == "ivfpq" and rp.recall_vs_flat is not None and rp.recall_vs_flat > 0.3
    assert rp.index["memory_estimate_bytes"] < r.index["memory_estimate_bytes"]
    # shards: the merged results equal the single flat index
    sh = KnowledgeBase(kb_home, "sharded")
    rs = reindex(sh, docs, emb, chunk_tokens=24, chunk_overlap=0, shard_size=64)
    assert rs.index["shards"] == -(-n // 64) > 1
    assert_same_index(live_snapshot(flat), live_snapshot(sh))


def test_a_flat_version_with_a_graph_reports_the_graph_s_recall_vs_flat(kb_home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import indexes.vector as vector

    monkeypatch.setattr(vector, "GRAPH_MIN", 100)  # as if these few chunks were 20,000
    monkeypatch.setattr(vector, "FP16_SCAN_MIN", 100)
    docs = write_corpus(tmp_path, n_files=30, paras=8, seed=3)
    r = reindex(KnowledgeBase(kb_home, "g"), docs, get_embedder("hashing:64"), chunk_tokens=24, chunk_overlap=0,
                sample_queries=64)
    assert r.vectors > 150 and r.index["kind"] == "flat" and r.index["graph"]["file"] == "vectors.hnsw"
    assert r.recall_vs_flat is not None and r.recall_vs_flat >= 0.9


def test_bad_source_and_partial_failure(kb_home: Path, tmp_path: Path) -> None:
    kb = KnowledgeBase(kb_home, "t")
    emb = get_embedder("hashing:64")
    with pytest.raises(InputError, match="--source"):
        reindex(kb, None, emb)
    with pytest.raises(InputError, match="no such folder"):
        reindex(kb, tmp_path / "nope", emb)
    docs = write_corpus(tmp_path, n_files=3)
    r = reindex(kb, docs, emb)
    (docs / "doc001.md").write_bytes(b"\xff\xfe\x00\xd8" * 10 + b"\x00\x01\x02" * 50)  # undecodable now
    r2 = reindex(kb, None, emb)
    assert [f["source"] for f in r2.failed] == ["doc001.md"]
    assert r2.status == "done" and not r2.ok
    index = kb.load_live()
    try:  # nothing already stored is lost: the failed file keeps its previous chunks
        assert {d.source for d in index.documents()} == {"doc000.md", "doc001.md", "doc002.md", "faq.csv"}
        assert index.n_chunks == r.chunks
    finally:
        index.close()
    # manifest source: a JSON list of files relative to the manifest's folder
    man = docs / "files.json"
    man.write_text(json.dumps(["doc000.md", "faq.csv"]))
    r3 = reindex(kb, man, emb)
    # (the two documents it does not list are kept from the live version, not dropped)
    assert r3.source["kind"] == "manifest" and r3.documents == 4 and r3.kept == 2 and r3.ok and r3.warnings == []
    # a table row without an answer is left out, and the job says so
    with (docs / "faq.csv").open("a", encoding="utf-8") as f:
        f.write("99,Do you sell gift cards?,\n")
    r4 = reindex(kb, man, emb)
    assert r4.ok and [w["source"] for w in r4.warnings] == ["faq.csv"] and "'99'" in r4.warnings[0]["warning"]


# --------------------------------------------------------------------------------------------
# processes: lock contention, kill -9 and --resume, the CLI


def _env(kb_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(KB_HOME=str(kb_home), KB_EMBEDDER="hashing:64", PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    return env


HOLD_LOCK = """
import sys, time
from pathlib import Path
from indexes.kbase import KnowledgeBase
kb = KnowledgeBase(Path(sys.argv[1]), "t")
with kb.lock(what="kb reindex job test-holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_second_job_refused_naming_holder_and_crashed_holder_frees_lock(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path, n_files=2)
    kb = KnowledgeBase(kb_home, "t")
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(kb_home)], stdout=subprocess.PIPE,
                            env=_env(kb_home), text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as ei:
            reindex(kb, docs, get_embedder("hashing:64"))
        msg = str(ei.value)
        assert f"pid {proc.pid}" in msg and "test-holder" in msg
        cli = subprocess.run([sys.executable, "-m", "kb.cli", "reindex", "--kb", "t", "--source", str(docs)],
                             env=_env(kb_home), capture_output=True, text=True, timeout=120)
        assert cli.returncode == 1 and f"is locked by pid {proc.pid}" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    r = reindex(kb, docs, get_embedder("hashing:64"))  # the kernel freed the dead holder's lock
    assert r.ok and kb.live_version() == r.index_version


SLOW_JOB = """
import sys, time
from pathlib import Path
from indexes.embedders import get_embedder
from indexes.kbase import KnowledgeBase
from ingest.reindex import reindex
kb = KnowledgeBase(Path(sys.argv[1]), "t")
reindex(kb, sys.argv[2], get_embedder("hashing:64"), batch_size=4, use_cache=False, workers=1,
        on_batch=lambda b: time.sleep(0.4))
"""


def test_kill9_then_resume_equals_uninterrupted_run(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path, n_files=6)
    # the reference: an uninterrupted run on another knowledge base
    ref = KnowledgeBase(kb_home, "ref")
    r_ref = reindex(ref, docs, get_embedder("hashing:64"), batch_size=4, use_cache=False)
    assert r_ref.batches >= 6
    kb = KnowledgeBase(kb_home, "t")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_JOB, str(kb_home), str(docs)], env=_env(kb_home))
    done_files: list[Path] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done_files = list((kb.path / "jobs").glob("*/checkpoint/done.json")) if (kb.path / "jobs").exists() else []
        if done_files:
            try:
                if len(json.loads(done_files[0].read_text())) >= 2:
                    break
            except ValueError:
                pass  # never happens (atomic writes); keep polling
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert kb.live_version() is None  # nothing was published
    done = json.loads(done_files[0].read_text())
    assert 2 <= len(done) < r_ref.batches
    jobs = list_jobs(kb)
    assert jobs[-1]["status"] == "interrupted"
    # --resume through the CLI: the lock is free, finished batches are not embedded again
    cli = subprocess.run([sys.executable, "-m", "kb.cli", "reindex", "--kb", "t", "--resume", "--json"],
                         env=_env(kb_home), capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    assert out["resumed"] and out["job_id"] == jobs[-1]["id"]
    # the job keeps the time it began; the resume is a time of its own (`kb jobs` showed it as the start)
    assert out["started_at"] == jobs[-1]["started_at"] and out["resumed_at"] >= out["started_at"]
    assert out["batches_from_checkpoint"] >= len(done)
    ckpt_texts = 4 * out["batches_from_checkpoint"]  # every batch but the last holds 4 texts
    assert out["texts_embedded"] == r_ref.texts - ckpt_texts and out["cache_hits"] == 0
    assert_same_index(live_snapshot(ref), live_snapshot(kb))
    assert list_jobs(kb)[-1]["status"] == "done"
    listed = subprocess.run([sys.executable, "-m", "kb.cli", "jobs", "--kb", "t"], env=_env(kb_home),
                            capture_output=True, text=True, timeout=120)
    assert f"started {out['started_at']} (resumed {out['resumed_at']})" in listed.stdout, listed.stdout
    # nothing left to resume
    cli2 = subprocess.run([sys.executable, "-m", "kb.cli", "reindex", "--kb", "t", "--resume"],
                          env=_env(kb_home), capture_output=True, text=True, timeout=120)
    assert cli2.returncode == 1
    assert "no unfinished reindex job" in cli2.stderr


def test_cli_reindex_exit_3_and_jobs_listing(kb_home: Path, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path, n_files=2)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    env = _env(kb_home)
    cli = subprocess.run([sys.executable, "-m", "kb.cli", "reindex", "--kb", "c", "--source", str(docs),
                          "--workers", "2", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 3, cli.stderr
    out = json.loads(cli.stdout)
    assert [f["source"] for f in out["failed"]] == ["broken.pdf"] and out["documents"] == 3
    jobs = subprocess.run([sys.executable, "-m", "kb.cli", "jobs", "--kb", "c", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    listed = json.loads(jobs.stdout)["jobs"]
    assert [j["id"] for j in listed] == [out["job_id"]] and listed[0]["status"] == "done"
    assert listed[0]["failed"][0]["source"] == "broken.pdf" and listed[0]["throughput_chunks_per_s"] > 0
    lines = [json.loads(x) for x in (kb_home / "c" / "jobs" / "jobs.jsonl").read_text().splitlines()]
    assert [x["event"] for x in lines] == ["start", "end"] and lines[1]["failed"] == 1
    text = subprocess.run([sys.executable, "-m", "kb.cli", "jobs", "--kb", "c"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert out["job_id"] in text.stdout and "done" in text.stdout
    typo = subprocess.run([sys.executable, "-m", "kb.cli", "jobs", "--kb", "cc"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert typo.returncode == 1 and typo.stderr.startswith("error: knowledge base 'cc' has no published index")


def _groups_by_source(kb: KnowledgeBase) -> dict[str, list[str]]:
    live = kb.load_live()
    try:
        return {d.source: list((d.metadata or {}).get("groups") or []) for d in live.documents()}
    finally:
        live.close()


def test_a_rebuild_from_one_folder_keeps_the_others_documents_and_their_groups(tmp_path: Path) -> None:
    # a knowledge base fed from two folders, one of them for staff only: a rebuild from the public
    # folder dropped the staff documents unsaid (and every later plain reindex, from the recorded
    # folder, again), and one from the staff folder published them to everyone
    public = write_corpus(tmp_path / "public", n_files=3)
    staff = tmp_path / "staff"
    staff.mkdir()
    (staff / "escalation.md").write_text("# Escalation\n\nCall the fraud desk on extension 4471.\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [public], emb)
    ingest_paths(kb, [staff], emb, default_groups=("staff",))
    before = _groups_by_source(kb)
    n = len(before)
    assert before["escalation.md"] == ["staff"] and not any(g for s, g in before.items() if s != "escalation.md")

    r = reindex(kb, public, emb)
    assert r.kept == 1 and r.documents == n
    assert _groups_by_source(kb) == before
    r = reindex(kb, None, emb)  # the recorded source, the public folder, again
    assert r.kept == 1 and _groups_by_source(kb) == before

    r = reindex(kb, staff, emb)
    assert r.kept == n - 1 and _groups_by_source(kb) == before
    # the rebuilt documents are those an incremental ingest finds unchanged
    assert ingest_paths(kb, [staff], emb, default_groups=("staff",)).unchanged == 1


def test_a_plain_reindex_does_not_bring_back_a_deleted_document(tmp_path: Path) -> None:
    """The recorded folder still held the file removed with kb delete: a plain kb reindex read it
    again, and the warranty was answered from it once more."""
    from ingest.pipeline import delete_sources

    docs = write_corpus(tmp_path, n_files=3)
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [docs], emb)
    reindex(kb, docs, emb)  # records the folder
    delete_sources(kb, ["doc001.md"], emb)
    said: list[str] = []
    r = reindex(kb, None, emb, progress=said.append)
    assert r.status == "done" and "doc001.md" not in _groups_by_source(kb)
    assert any("1 files of" in line and "left out" in line for line in said), said
    assert not any("item1x" in t for t in all_texts(kb))
    # kb ingest --undelete adds it back, and a rebuild keeps it
    ingest_paths(kb, [docs], emb, undelete=True)
    reindex(kb, None, emb)
    assert "doc001.md" in _groups_by_source(kb)


def test_a_reindex_from_a_folder_given_does_not_bring_back_a_deleted_document(tmp_path: Path) -> None:
    """`kb reindex --source DIR` read the file `kb delete` removed again, unsaid, and the blender
    warranty was answered from it once more; `kb ingest DIR` leaves it out with a warning."""
    from ingest.pipeline import delete_sources

    docs = write_corpus(tmp_path, n_files=3)
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [docs], emb, default_groups=("staff",))  # ingested for a group: still the deleted file
    delete_sources(kb, ["doc001.md"], emb)
    r = reindex(kb, docs, emb)
    assert r.status == "done" and "doc001.md" not in _groups_by_source(kb)
    assert not any("item1x" in t for t in all_texts(kb))
    assert [w["source"] for w in r.warnings] == ["doc001.md"]
    assert "left out, as kb delete removed it" in r.warnings[0]["warning"]
    assert r.warnings[0]["warning"].endswith("to add it back, ingest again with --undelete")
    # as kb ingest of the folder does
    assert ingest_paths(kb, [docs], emb, default_groups=("staff",)).kept_deleted == ["doc001.md"]


def test_a_new_file_in_a_group_folder_is_not_published_by_a_rebuild(tmp_path: Path) -> None:
    """QA: a payroll note put in the staff folder, then `kb reindex --source staff`: it answered
    users in no group (a rebuild has no --group). And a document a rebuild added, then deleted,
    came back with the next `kb ingest staff` (its folder was not recorded)."""
    from ingest.pipeline import delete_sources

    staff = tmp_path / "staff"
    staff.mkdir()
    (staff / "escalation.md").write_text("# Escalation\n\nCall the fraud desk on extension 4471.\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [staff], emb, default_groups=("staff",))
    (staff / "payroll.md").write_text("# Payroll\n\nPayroll questions go to extension 4410.\n", encoding="utf-8")
    (staff / "lockers.md").write_text("---\ngroups: [staff]\n---\n# Lockers\n\nThe code is 2290.\n", encoding="utf-8")
    r = reindex(kb, staff, emb)
    assert [f["source"] for f in r.failed] == ["payroll.md"]
    assert r.failed[0]["error"] == (
        f"payroll.md: new in {staff}, whose documents are for access groups staff; a rebuild would publish it "
        "to everyone; add it with kb ingest FILE --group NAME (or --public for everyone)")
    assert _groups_by_source(kb) == {"escalation.md": ["staff"], "lockers.md": ["staff"]}  # its own groups: read
    delete_sources(kb, ["lockers.md"], emb)
    r2 = ingest_paths(kb, [staff], emb, default_groups=("staff",))
    assert r2.kept_deleted == ["lockers.md"] and r2.added == 1  # payroll.md, for staff
    assert _groups_by_source(kb) == {"escalation.md": ["staff"], "payroll.md": ["staff"]}
    # a public folder's new file is read as before
    public = write_corpus(tmp_path / "public", n_files=1)
    ingest_paths(kb, [public], emb)
    (public / "new.md").write_text("# New\n\nOpening hours are 9 to 5.\n", encoding="utf-8")
    assert not reindex(kb, public, emb).failed and _groups_by_source(kb)["new.md"] == []


def test_prune_with_a_folder_of_no_documents_is_refused(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs", n_files=2)
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [docs], emb)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".hidden.md").write_text("# Hidden\n\nnot a document\n", encoding="utf-8")
    with pytest.raises(InputError, match="--prune would delete all of them"):
        ingest_paths(kb, [empty], emb, prune=True)
    assert len(_groups_by_source(kb)) == 3  # two files and the corpus's faq.csv


def _children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(stat.parent.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill9_of_a_job_with_parsing_workers_leaves_none_behind(kb_home: Path, tmp_path: Path) -> None:
    # the forkserver's workers (hundreds of MB each) lived on, orphaned, after the job was killed
    docs = write_corpus(tmp_path, n_files=40)
    job = SLOW_JOB.replace("workers=1", "workers=2")
    proc = subprocess.Popen([sys.executable, "-c", job, str(kb_home), str(docs)], env=_env(kb_home))
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        workers = {w for c in _children(proc.pid) for w in _children(c)}  # the forkserver's children
        if len(workers) >= 2:
            break
        time.sleep(0.1)
    assert proc.poll() is None and len(workers) >= 2, "no parsing workers seen before the job ended"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in Path(f"/proc/{w}/stat").read_text()]
    assert not alive, f"parsing workers {alive} outlived the killed job"


def test_a_plain_reindex_after_an_interrupted_one_of_another_folder_is_refused(kb_home: Path, tmp_path: Path) -> None:
    # `kb reindex --source DIR` killed, then `kb reindex`: it rebuilt the live version with success,
    # the folder's edits were dropped unsaid, and the killed job could not be resumed any more
    from ingest.reindex import find_resumable, jobs_dir

    kb = KnowledgeBase(kb_home, "t")
    first = reindex(kb, write_corpus(tmp_path / "a", n_files=2, paras=1), get_embedder("hashing:64"), use_cache=False)
    edited = write_corpus(tmp_path / "b", n_files=2, paras=2)
    d = jobs_dir(kb) / "29991231T000000000000-bbbbbb"  # what kill -9 leaves: running, its process gone
    d.mkdir(parents=True)
    source = {"kind": "dir", "path": str(edited.resolve()), "recorded": False}
    (d / "job.json").write_text(json.dumps({"id": d.name, "kb": "t", "status": "running", "pid": -1,
                                            "started_at": "2999-12-31T00:00:00+00:00", "params": {"source": source}}))
    with pytest.raises(InputError) as ei:
        reindex(kb, None, get_embedder("hashing:64"), use_cache=False)
    assert f"job {d.name}, a reindex of {edited.resolve()}, did not finish" in str(ei.value)
    assert "--resume" in str(ei.value.hint)
    assert kb.live_version() == first.index_version and find_resumable(kb)["id"] == d.name  # type: ignore[index]
    # the same folder named again, or the job resumed, goes ahead
    again = reindex(kb, edited, get_embedder("hashing:64"), use_cache=False)
    assert kb.live_version() == again.index_version


def test_a_killed_job_is_superseded_once_a_later_job_finished(
    kb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`kb jobs` listed a job killed with kill -9 as interrupted forever, after a later job of the
    same knowledge base had finished (and `kb reindex --resume` found nothing to resume); it is
    superseded now, its files untouched. One killed after the last finished job stays interrupted."""
    from ingest.reindex import find_resumable, jobs_dir
    from kb.cli import main
    from kb.settings import reset_settings_cache

    kb = KnowledgeBase(kb_home, "t")

    def killed(job_id: str) -> Path:  # what a job killed with kill -9 leaves: running, its process gone
        d = jobs_dir(kb) / job_id
        d.mkdir(parents=True)
        (d / "job.json").write_text(json.dumps({"id": job_id, "kb": "t", "status": "running", "pid": -1,
                                                "started_at": "2000-01-01T00:00:00+00:00", "params": {}}))
        return d / "job.json"

    old = killed("20000101T000000000000-aaaaaa")
    assert [j["status"] for j in list_jobs(kb)] == ["interrupted"]
    before = old.read_text()
    done = reindex(kb, write_corpus(tmp_path, n_files=2, paras=1), get_embedder("hashing:64"), use_cache=False)
    killed("29991231T000000000000-bbbbbb")
    jobs = list_jobs(kb)
    assert [(j["id"], j["status"], j.get("superseded_by")) for j in jobs] == [
        ("20000101T000000000000-aaaaaa", "superseded", done.job_id),
        (done.job_id, "done", None),
        ("29991231T000000000000-bbbbbb", "interrupted", None),
    ]
    assert old.read_text() == before and find_resumable(kb)["id"] == "29991231T000000000000-bbbbbb"  # type: ignore[index]
    monkeypatch.setenv("KB_HOME", str(kb_home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    reset_settings_cache()
    try:
        main(["jobs", "--kb", "t"])
    finally:
        reset_settings_cache()
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("20000101T000000000000-aaaaaa  superseded ") and f"(job {done.job_id} finished after it)" in first


def test_a_job_killed_after_it_published_is_done_and_not_resumed(
    kb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: a reindex killed (-9) right after publishing was listed as interrupted, its version live,
    and --resume built and published it again."""
    from indexes.kbase import KnowledgeBase as KB
    from ingest.reindex import find_resumable

    kb = KnowledgeBase(kb_home, "t")
    real = KB.publish

    class Killed(BaseException):
        pass

    def publish_then_die(self: Any, writer: Any) -> str:
        real(self, writer)
        raise Killed  # (the process is gone before the job's summary is written)

    monkeypatch.setattr(KB, "publish", publish_then_die)
    monkeypatch.setattr("ingest.reindex.pid_alive", lambda pid: pid != os.getpid())  # as after kill -9
    with pytest.raises(Killed):
        reindex(kb, write_corpus(tmp_path, n_files=2, paras=1), get_embedder("hashing:64"), use_cache=False)
    # what kill -9 leaves: the job's own files as they were while it ran, and no summary
    path = next((kb.path / "jobs").glob("*/job.json"))
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "running"}))
    (path.parent / "summary.json").unlink()
    [entry] = list_jobs(kb)
    assert entry["status"] == "done" and entry["index_version"] == kb.live_version(), entry
    assert find_resumable(kb) is None


def test_a_reindex_of_a_subfolder_rebuilds_its_documents_under_their_own_ids(tmp_path: Path) -> None:
    """QA: after `kb ingest src`, `kb reindex --source src/policies` read "src/policies/freeze.md"
    as "freeze.md", beside the live "policies/freeze.md": both answered, the stale price too, and
    a file kb delete removed (its mark under "policies/...") came back, unsaid."""
    from ingest.pipeline import delete_sources

    src = tmp_path / "src"
    (src / "policies").mkdir(parents=True)
    (src / "policies" / "freeze.md").write_text("# Freezes\n\nA freeze costs 12 dollars a month.\n", encoding="utf-8")
    (src / "policies" / "training.md").write_text("# Training\n\nThe Momentum package costs 500 dollars.\n",
                                                  encoding="utf-8")
    (src / "hours.md").write_text("# Hours\n\nWe open at 6 am.\n", encoding="utf-8")
    kb = KnowledgeBase(tmp_path / "home", "t")
    emb = get_embedder("hashing:64")
    ingest_paths(kb, [src], emb)
    delete_sources(kb, ["policies/training.md"], emb)
    (src / "policies" / "freeze.md").write_text("# Freezes\n\nA freeze costs 14 dollars a month.\n", encoding="utf-8")
    r = reindex(kb, src / "policies", emb)
    assert r.status == "done"
    assert sorted(_groups_by_source(kb)) == ["hours.md", "policies/freeze.md"]
    texts = all_texts(kb)
    assert any("14 dollars" in t for t in texts) and not any("12 dollars" in t or "Momentum" in t for t in texts)
    assert [w["source"] for w in r.warnings] == ["policies/training.md"]  # as it was deleted
    # a new file beside them is named as they are (a regression hunt's "privacy.md" beside
    # "policies/freeze.md" was added again as "policies/privacy.md" by the next kb ingest src)
    (src / "policies" / "privacy.md").write_text("# Privacy\n\nWe keep data for 2 years.\n", encoding="utf-8")
    reindex(kb, src / "policies", emb)
    assert sorted(_groups_by_source(kb)) == ["hours.md", "policies/freeze.md", "policies/privacy.md"]
    # and a plain reindex (the recorded folder) brings no deleted file back, under any name
    (src / "training.md").write_text("# Training\n\nOur own training page.\n", encoding="utf-8")
    ingest_paths(kb, [src / "training.md"], emb)  # a live "training.md", another file
    reindex(kb, None, emb)
    assert sorted(_groups_by_source(kb)) == ["hours.md", "policies/freeze.md", "policies/privacy.md", "training.md"]
    assert not any("Momentum" in t for t in all_texts(kb))
