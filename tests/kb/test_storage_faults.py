"""A full or read-only disk under KB_HOME, and a server killed with uploads staged: answers are
still given, uploads and deletes say what is wrong in one line (not "internal"), and what a dead
server left behind is cleared at the next start."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kb.errors import storage_problem
from tests.kb.conftest import KB, make_client, make_settings
from tests.kb.test_api import _job, parse_sse

QUESTION = "How long do refunds take after the item arrives at the warehouse? " * 40


@pytest.fixture()
def home(tmp_path: Path, fake_embedder: Any) -> Path:
    from tests.kb.conftest import build_kb, write_docs

    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    return home


def _storage_errors(c: Any) -> float:
    text = c.get("/metrics").text
    lines = [ln for ln in text.splitlines() if ln.startswith('kb_errors_total{code="storage"}')]
    return float(lines[0].split()[-1]) if lines else 0.0


def _fill(conn: Any, how: str) -> None:
    """Make the store's database refuse writes as a full disk or a read-only file does. Root
    writes through chmod, so SQLite is told: no page beyond those it has, or no write at all."""
    if how == "full":
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={pages}")
    else:
        conn.execute("PRAGMA query_only=ON")


@pytest.mark.parametrize("how", ["full", "readonly"])
def test_an_answer_is_given_when_the_store_cannot_record_it(
    home: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    with make_client(make_settings(home, "hashing:64")) as c:
        svc = c.app.state.service
        recorded = c.post("/v1/ask", json={"question": "How long do refunds take?"}).json()["answer_id"]
        _fill(svc.store._conn, how)
        caplog.set_level(logging.WARNING, logger="kb.service")
        r = c.post("/v1/ask", json={"question": QUESTION, "session_id": "sess-full"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["answer"] and body["session_id"] == "sess-full"
        # the cause, once, in the log: not SQLite's "cannot rollback - no transaction is active"
        lines = [rec.getMessage() for rec in caplog.records if body["answer_id"] in rec.getMessage()]
        assert len(lines) == 1 and ("disk is full" in lines[0] or "read-only" in lines[0]), lines
        assert "cannot rollback" not in caplog.text
        chat = c.post("/v1/chat/completions", json={"model": KB, "messages": [{"role": "user", "content": QUESTION}]})
        assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"], chat.text
        streamed = c.post("/v1/ask", json={"question": QUESTION, "stream": True})
        events = parse_sse(streamed.text)
        assert [e for e, _ in events][-1] == "final", events[-1:]
        assert _storage_errors(c) == 3
        # feedback on an answer that was not recorded: a 404 that says so
        r = c.post("/v1/feedback", json={"answer_id": body["answer_id"], "rating": "up"})
        assert r.status_code == 404 and "not recorded" in r.json()["message"], r.text
        # on one that was: feedback is written until the disk has no room for it, then a 507, not a 500
        fb = {"answer_id": recorded, "rating": "down", "comment": ("The refund took three weeks. " * 150)[:4000]}
        replies = [c.post("/v1/feedback", json=fb) for _ in range(3)]
        assert replies[-1].status_code == 507 and replies[-1].json()["error"] == "storage", replies[-1].text
        assert {r.status_code for r in replies} <= {200, 507}


def test_the_store_reports_sqlites_own_error_not_the_failed_rollback(tmp_path: Path) -> None:
    import sqlite3

    from kb.service.store import ServiceStore

    store = ServiceStore(tmp_path / "feedback.sqlite")
    _fill(store._conn, "full")
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        store.record_answer(answer_id="a", kb=KB, session_id="s", question=QUESTION, answer={"answer": "x" * 9000},
                            lang="en", passages=[], history=[], caller="c")
    assert not store._conn.in_transaction
    store.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_upload_to_a_full_disk_is_507_and_leaves_nothing_staged(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    import kb.app

    real_open = builtins.open

    def full_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" not in mode:
            return real_open(path, mode, *args, **kwargs)
        real_open(path, mode).close()  # made, as a file on a full disk is, then not written
        return real_open("/dev/full", mode)  # the kernel's ENOSPC on write

    staging = home / KB / "uploads" / ".staging"
    with make_client(make_settings(home, "hashing:64")) as c:
        monkeypatch.setattr(kb.app, "open", full_open, raising=False)
        r = c.post("/v1/documents", files=[("files", ("big.md", b"# Big\n\n" + b"word " * 40_000, "text/markdown"))])
        monkeypatch.undo()
        assert r.status_code == 507 and r.json()["error"] == "storage", r.text
        assert "no space left" in r.json()["message"] and "\n" not in r.json()["message"]
        assert not any(staging.iterdir())


def test_an_upload_to_a_read_only_disk_is_507(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = Path.mkdir

    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        if ".staging" in self.parts:
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        real_mkdir(self, *args, **kwargs)

    with make_client(make_settings(home, "hashing:64")) as c:
        monkeypatch.setattr(Path, "mkdir", read_only)
        r = c.post("/v1/documents", files=[("files", ("a.md", b"# A\n\nText.\n", "text/markdown"))])
        monkeypatch.undo()
        assert r.status_code == 507 and r.json()["error"] == "storage", r.text
        assert "Read-only file system" in r.json()["message"] and "make it writable" in r.json()["message"]


# what FAISS raises when it cannot write an index file (its C++ exception, text only)
FAISS_FULL = (
    "Error in void faiss::write_index(const Index*, IOWriter*, int) at /project/faiss/impl/index_write.cpp:499: "
    "Error: 'ret == (size * 4)' failed: write error in {path}: 2482131 != 10219520 (No space left on device)"
)


def test_faiss_failing_to_write_is_a_storage_problem(tmp_path: Path) -> None:
    full = RuntimeError(FAISS_FULL.format(path="/kb/acme/versions/v2/vectors.faiss"))
    assert storage_problem(full) == (
        "no space left on the disk of /kb/acme/versions/v2/vectors.faiss; free some space and run it again "
        "(the live version is unchanged)"
    )
    ro = RuntimeError("Error in faiss::FileIOWriter::FileIOWriter(const char*) at io.cpp:100: Error: 'f' failed: "
                      "could not open /kb/v/vectors.faiss for writing: Read-only file system")
    assert "/kb/v/vectors.faiss: Read-only file system; make it writable" in str(storage_problem(ro))
    assert "free some space" in str(storage_problem(RuntimeError("x (Disk quota exceeded)")))
    assert storage_problem(RuntimeError("Error in faiss: 'd == dim' failed")) is None  # a bug stays one
    if Path("/dev/full").exists():  # FAISS's own words, from the kernel's ENOSPC
        import faiss
        import numpy as np

        index = faiss.IndexFlatIP(64)
        index.add(np.zeros((20_000, 64), np.float32))
        with pytest.raises(RuntimeError) as raised:
            faiss.write_index(index, "/dev/full")
        assert str(storage_problem(raised.value)).startswith("no space left on the disk of /dev/full;")


def test_kb_delete_on_a_full_disk_is_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import faiss

    from kb.cli import main
    from kb.settings import reset_settings_cache

    def full(index: Any, writer: Any) -> None:  # the disk fills while the index is written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    monkeypatch.setattr(faiss, "write_index", full)
    reset_settings_cache()
    try:
        with pytest.raises(SystemExit) as ex:
            main(["delete", "warranty.md", "--kb", KB])
    finally:
        reset_settings_cache()
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 1 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("error: no space left on the disk of ") and "vectors.faiss" in err


def test_a_delete_job_on_a_full_disk_says_so(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    def full(index: Any, writer: Any) -> None:  # the disk fills while the index is written
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with make_client(make_settings(home, "hashing:64")) as c:
        doc = next(d for d in c.get("/v1/documents").json()["documents"] if d["source"] == "warranty.md")
        monkeypatch.setattr(faiss, "write_index", full)
        job = _job(c, c.delete(f"/v1/documents/{doc['id']}").json()["id"])
        monkeypatch.undo()
        assert job["state"] == "failed" and job["error"]["error"] == "storage", job
        assert "no space left" in job["error"]["message"]
        assert "warranty.md" in [d["source"] for d in c.get("/v1/documents").json()["documents"]]


# --- what a killed server left ----------------------------------------------------------------------------


def _staged(root: Path, name: str, age_s: float = 0) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "faq.md").write_text("# FAQ\n", encoding="utf-8")
    if age_s:
        then = time.time() - age_s
        os.utime(folder, (then, then))
    return folder


def test_staging_folders_of_dead_servers_go_at_start(home: Path) -> None:
    from kb.service.core import _host

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    host, uid = _host(), "0" * 32
    root = home / KB / "uploads" / ".staging"
    dead_one = _staged(root, f"p{dead}-{host}-{uid}")
    # a container's server is pid 1 at every start: a folder of our pid is an earlier process's
    same_pid = _staged(root, f"p{os.getpid()}-{host}-{'1' * 32}")
    unmarked_old = _staged(root, "a" * 32, age_s=2 * 86_400)
    live = _staged(root, f"p{os.getppid()}-{host}-{'2' * 32}")  # another worker, still running
    other_host = _staged(root, f"p{dead}-elsewhere-{'3' * 32}")  # its processes cannot be seen
    unmarked_new = _staged(root, "b" * 32)
    with make_client(make_settings(home, "hashing:64")) as c:
        assert not dead_one.exists() and not same_pid.exists() and not unmarked_old.exists()
        assert live.exists() and other_host.exists() and unmarked_new.exists()
        # an upload made now is marked with this process, and kept while it is in use
        r = c.post("/v1/documents", files=[("files", ("new.md", b"# New\n\nNew text.\n", "text/markdown"))])
        assert r.status_code == 202 and _job(c, r.json()["id"])["state"] == "succeeded"


def test_an_unknown_job_is_not_said_to_have_finished(home: Path) -> None:
    with make_client(make_settings(home, "hashing:64")) as c:
        r = c.get("/v1/jobs/job_0123456789abcdef")
        assert r.status_code == 404
        message = r.json()["message"]
        assert "kept for 30 days after they end" in message and "GET /v1/documents" in message
        assert "memory" not in message  # jobs outlive the process (tests/kb/test_jobs_survive.py)
