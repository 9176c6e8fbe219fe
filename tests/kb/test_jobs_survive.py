"""Document jobs outlive the server process that took them: recorded in the service's SQLite
store, answered for after a restart, and taken up by the next process when the one that took them
stopped or was killed before they ended (kb.service.jobs, Service.resume_jobs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kb.conftest import KB, REPO_ROOT, build_kb, free_port, make_client, make_settings, write_docs

DEAD_PID = 4_000_000  # above any pid_max: no such process


@pytest.fixture()
def home(tmp_path: Path, fake_embedder: Any) -> Path:
    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    return home


def _wait(c: Any, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = c.get(f"/v1/jobs/{job_id}").json()
        if job.get("progress", {}).get("done") or time.monotonic() > deadline:
            return dict(job)
        time.sleep(0.05)


def _sources(c: Any) -> set[str]:
    return {d["source"] for d in c.get("/v1/documents").json()["documents"]}


def _left_by_a_killed_server(home: Path, kind: str, spec: dict[str, Any], files: list[str],
                             state: str = "running", runner: str = "") -> str:
    """What a server killed in the middle of a job leaves: the job's record, taken by a process
    that no longer runs, and (for an upload) its staged files."""
    from kb.service.core import _host
    from kb.service.store import ServiceStore

    job_id = "job_" + uuid.uuid4().hex[:16]
    record = {
        "id": job_id, "kind": kind, "kb": KB, "state": state,
        "progress": {"stage": "ingesting" if state == "running" else "queued", "files": len(files), "done": False},
        "files": files, "created_at": time.time() - 5, "started_at": time.time() - 4 if state == "running" else None,
        "finished_at": None, "report": None, "failed": [], "warnings": [], "error": None,
        "owner": "anonymous", "spec": spec,
    }
    store = ServiceStore(home / "feedback.sqlite")
    try:
        store.save_job(record, runner or f"p{DEAD_PID}-{_host()}-0badc0de")
    finally:
        store.close()
    return job_id


def _staged(home: Path, runner: str, files: dict[str, str]) -> list[str]:
    folder = home / KB / "uploads" / ".staging" / f"{runner}-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [str(folder / name) for name in files]


def _caller() -> dict[str, Any]:
    return {"name": "anonymous", "role": "admin", "groups": None}


def test_a_finished_job_is_answered_for_after_a_restart(home: Path) -> None:
    settings = make_settings(home, "hashing:64")
    with make_client(settings) as c:
        r = c.post("/v1/documents", files=[("files", ("new.md", b"# New\n\nThe new text.\n", "text/markdown"))])
        assert r.status_code == 202
        done = _wait(c, r.json()["id"])
        assert done["state"] == "succeeded"
    with make_client(settings) as c:  # a new server process, as far as jobs go
        again = c.get(f"/v1/jobs/{done['id']}")
        assert again.status_code == 200, again.text
        assert again.json()["state"] == "succeeded" and again.json()["report"] == done["report"]
        assert again.json()["files"] == ["new.md"]


def test_an_upload_a_killed_server_was_ingesting_is_ingested_by_the_next(home: Path) -> None:
    from kb.service.core import _host

    runner = f"p{DEAD_PID}-{_host()}"
    staged = _staged(home, runner, {"late.md": "# Late arrival\n\nParcels from the islands take nine days.\n"})
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": ["islands"], "caller": _caller()}, ["late.md"]
    )
    with make_client(make_settings(home, "hashing:64")) as c:
        job = _wait(c, job_id)
        assert job["state"] == "succeeded", job
        docs = {d["source"]: d for d in c.get("/v1/documents").json()["documents"]}
        assert docs["late.md"]["tags"] == ["islands"]  # the upload's form fields go with it
        hit = c.post("/v1/search", json={"query": "parcels islands nine days", "k": 3}).json()["hits"][0]
        assert hit["source"] == "late.md"
    staging = home / KB / "uploads" / ".staging"
    assert not any(staging.iterdir())  # taken over, then removed once read
    assert (home / KB / "uploads" / "late.md").is_file()  # kept, as an upload is


def test_an_upload_cancelled_before_its_server_was_killed_is_cancelled_by_the_next(home: Path) -> None:
    from kb.service.core import _host
    from kb.service.store import ServiceStore

    staged = _staged(home, f"p{DEAD_PID}-{_host()}", {"late.md": "# Late arrival\n\nParcels take nine days.\n"})
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["late.md"], state="queued"
    )
    store = ServiceStore(home / "feedback.sqlite")
    try:
        store.ask_cancel(job_id)
    finally:
        store.close()
    with make_client(make_settings(home, "hashing:64")) as c:
        assert c.get(f"/v1/jobs/{job_id}").json()["cancel_requested"] is True  # said at once, not at its turn
        job = _wait(c, job_id)
        assert job["state"] == "cancelled" and job["error"]["error"] == "cancelled", job
        assert "late.md" not in _sources(c)
    assert not any((home / KB / "uploads" / ".staging").iterdir())


def test_a_job_killed_while_it_kept_its_files_goes_on_with_the_rest(home: Path) -> None:
    from kb.service.core import _host

    staged = _staged(home, f"p{DEAD_PID}-{_host()}", {
        "one.md": "# One\n\nThe first of two parcels.\n", "two.md": "# Two\n\nThe second of two parcels.\n",
    })
    kept = home / KB / "uploads"
    Path(staged[0]).replace(kept / "one.md")  # published and kept before the kill
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["one.md", "two.md"]
    )
    with make_client(make_settings(home, "hashing:64")) as c:
        job = _wait(c, job_id)
        assert job["state"] == "succeeded" and not job["failed"], job
        assert "two.md" in _sources(c)
    assert (kept / "one.md").is_file() and (kept / "two.md").is_file()


def test_a_queued_upload_of_a_stopped_server_runs_with_its_sidecar(home: Path) -> None:
    from kb.service.core import _host

    runner = f"p{DEAD_PID}-{_host()}"
    staged = _staged(home, runner, {
        "staff.md": "# Staff rota\n\nThe night shift starts at ten.\n",
        "staff.md.meta.json": json.dumps({"groups": ["staff"]}),
    })
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["staff.md"], state="queued"
    )
    with make_client(make_settings(home, "hashing:64")) as c:
        assert _wait(c, job_id)["state"] == "succeeded"
        docs = {d["source"]: d for d in c.get("/v1/documents").json()["documents"]}
        assert docs["staff.md"]["groups"] == ["staff"]


def test_a_job_whose_files_are_gone_ends_as_failed_saying_why(home: Path) -> None:
    from kb.service.core import _host

    gone = home / KB / "uploads" / ".staging" / f"p{DEAD_PID}-{_host()}-{uuid.uuid4().hex}" / "lost.md"
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": [str(gone)], "groups": [], "tags": [], "caller": _caller()}, ["lost.md"]
    )
    with make_client(make_settings(home, "hashing:64")) as c:
        job = c.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "failed" and job["progress"]["done"]
        assert job["error"]["error"] == "interrupted"
        assert "stopped before this job ended" in job["error"]["message"]
        assert "upload them again" in job["error"]["message"]
        assert "lost.md" not in _sources(c)


def test_a_job_of_a_server_still_running_is_left_to_it(home: Path) -> None:
    from kb.service.core import _host

    runner = f"p{os.getppid()}-{_host()}-12345678"  # another worker of the same machine, alive
    staged = _staged(home, f"p{os.getppid()}-{_host()}", {"theirs.md": "# Theirs\n\nStill being read by the other worker.\n"})
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["theirs.md"],
        runner=runner,
    )
    with make_client(make_settings(home, "hashing:64")) as c:
        job = c.get(f"/v1/jobs/{job_id}").json()  # answered from the store
        assert job["state"] == "running" and job["files"] == ["theirs.md"]
        time.sleep(0.3)
        assert c.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
        assert "theirs.md" not in _sources(c)
    assert Path(staged[0]).is_file()


def test_a_job_of_this_pid_is_taken_up_only_from_an_earlier_life(home: Path) -> None:
    # a container's server is pid 1 at every start: the same pid in an earlier life is gone,
    # while another server object of this very process is not
    from kb.service.core import _host, runner_name

    earlier = _left_by_a_killed_server(home, "delete", {"source": "faq.csv#1"}, ["faq.csv#1"],
                                       runner=f"p{os.getpid()}-{_host()}-0badc0de")
    now = _left_by_a_killed_server(home, "delete", {"source": "faq.csv#2"}, ["faq.csv#2"], runner=runner_name())
    with make_client(make_settings(home, "hashing:64")) as c:
        assert _wait(c, earlier)["state"] in ("succeeded", "failed")
        assert c.get(f"/v1/jobs/{now}").json()["state"] == "running"


def test_a_job_of_a_knowledge_base_this_server_does_not_serve_is_left_to_one_that_does(home: Path) -> None:
    from kb.service.core import _host

    staged = _staged(home, f"p{DEAD_PID}-{_host()}", {"else.md": "# Elsewhere\n\nFor the other server.\n"})
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["else.md"]
    )
    from fastapi.testclient import TestClient

    from kb.app import create_app

    other = create_app(make_settings(home, "hashing:64"), kbs=["other"], warm=False)
    with TestClient(other, raise_server_exceptions=False) as c:
        assert c.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
    assert Path(staged[0]).is_file()
    with make_client(make_settings(home, "hashing:64")) as c:  # a server of every knowledge base
        assert _wait(c, job_id)["state"] == "succeeded"


def test_a_job_another_starting_server_claims_first_keeps_its_files(home: Path, monkeypatch: Any) -> None:
    # two servers start at once: the other one claims the dead runner's job first and has not yet
    # moved its folder under its own name when this one clears the folders of dead processes
    from kb.service.core import _host
    from kb.service.store import ServiceStore

    staged = _staged(home, f"p{DEAD_PID}-{_host()}", {"race.md": "# Race\n\nClaimed by the other server.\n"})
    job_id = _left_by_a_killed_server(
        home, "ingest", {"staged": staged, "groups": [], "tags": [], "caller": _caller()}, ["race.md"]
    )
    monkeypatch.setattr(ServiceStore, "claim_job", lambda *_a, **_k: False)  # the other server won
    with make_client(make_settings(home, "hashing:64")) as c:
        assert c.get(f"/v1/jobs/{job_id}").json()["state"] == "running"
    assert Path(staged[0]).is_file()


def test_a_delete_a_killed_server_was_running_is_carried_out(home: Path) -> None:
    settings = make_settings(home, "hashing:64")
    with make_client(settings) as c:
        source = sorted(_sources(c))[0]
    job_id = _left_by_a_killed_server(home, "delete", {"source": source}, [source])
    with make_client(settings) as c:
        job = _wait(c, job_id)
        assert job["state"] == "succeeded" and job["report"]["deleted"] == 1, job
        assert source not in _sources(c)
    # one it had published before it was killed: nothing left to delete, and not a failure
    job_id = _left_by_a_killed_server(home, "delete", {"source": source}, [source])
    with make_client(settings) as c:
        job = _wait(c, job_id)
        assert job["state"] == "succeeded" and not job["failed"], job


def test_an_upload_is_refused_when_its_job_cannot_be_recorded(home: Path) -> None:
    import sqlite3

    settings = make_settings(home, "hashing:64")
    with make_client(settings) as c:
        store = c.app.state.service.store

        def full(*_: Any, **__: Any) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        store.save_job = full
        r = c.post("/v1/documents", files=[("files", ("x.md", b"# X\n\nText.\n", "text/markdown"))])
        assert r.status_code == 507 and r.json()["error"] == "storage", r.text
        assert "disk is full" in r.json()["message"]
        assert "x.md" not in _sources(c)


# --- a real server, killed with SIGKILL in the middle of an upload's job -----------------------------


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDER": "hashing:64", "KB_LLM": "extractive:"}
    return subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "serve", "--kb", KB, "--port", str(port), "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


@pytest.mark.integration
def test_kill_9_during_an_upload_job_and_the_next_server_finishes_it(home: Path) -> None:
    # a large upload (about 12,000 chunks), so that its job is still running when the server dies
    big = "".join(
        f"## Section {i}\n\nParcel rule {i}: an order of box size {i % 97} ships from depot {i % 13} "
        f"within {i % 9 + 1} days, tracked under code R{i:05d}.\n\n"
        for i in range(12_000)
    ).encode()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(home, port)
    try:
        _ready(url, proc)
        r = httpx.post(url + "/v1/documents", files=[("files", ("rules.md", b"# Parcel rules\n\n" + big, "text/markdown"))],
                       timeout=60)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    proc = _serve(home, port)
    try:
        _ready(url, proc)
        deadline = time.monotonic() + 300
        while True:
            job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
            if job["state"] not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert job["state"] == "succeeded", job
        docs = httpx.get(url + "/v1/documents", timeout=30).json()["documents"]
        assert "rules.md" in {d["source"] for d in docs}
        hit = httpx.post(url + "/v1/search", json={"query": "R07321", "k": 1}, timeout=30).json()["hits"][0]
        assert hit["source"] == "rules.md" and "R07321" in hit["text"]
    finally:
        proc.terminate()
        proc.wait(30)
