"""The SQLite databases that hold what users said (kb.stores): a damaged one is set aside, not
lost, and the assistant goes on; a read that fails mid-request is a 503 in words, not a 500."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kb.errors import StorageError
from kb.stores import open_store
from tests.kb.conftest import KB, build_kb, make_client, make_settings, write_docs

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x TEXT);"
GARBAGE = bytes(range(256)) * 20


@pytest.fixture()
def home(tmp_path: Path, fake_embedder: Any) -> Path:
    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    return home


def test_a_file_that_is_not_a_database_is_set_aside_and_begun_anew(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "talk.sqlite"
    path.write_bytes(GARBAGE)
    con = open_store(path, SCHEMA, what="conversation database")
    con.execute("INSERT INTO t VALUES ('new')")
    con.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("talk.sqlite.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == GARBAGE  # kept as it was, for recovery
    assert "set aside as talk.sqlite.damaged-" in caplog.text and "file is not a database" in caplog.text


def test_a_disk_that_refuses_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.mkdir()  # a folder where the file belongs
    with pytest.raises(StorageError) as got:
        open_store(path, SCHEMA, what="service database")
    assert "service database" in str(got.value) and "\n" not in str(got.value)
    assert path.is_dir()  # nothing set aside: it is not damaged


def test_the_service_starts_and_answers_over_a_damaged_database(home: Path) -> None:
    settings = make_settings(home, "hashing:64")
    with make_client(settings) as c:
        first = c.post("/v1/ask", json={"question": "How long does standard shipping take?", "session_id": "s-1"})
        assert first.status_code == 200
    db = home / "feedback.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.write_bytes(GARBAGE)
    with make_client(settings) as c:
        r = c.post("/v1/ask", json={"question": "How long does standard shipping take?", "session_id": "s-2"})
        assert r.status_code == 200 and r.json()["action"] in ("answer", "faq"), r.text
        fb = c.post("/v1/feedback", json={"answer_id": r.json()["answer_id"], "rating": "up"})
        assert fb.status_code == 200, fb.text
    assert [p.read_bytes() for p in home.glob("feedback.sqlite.damaged-*")] == [GARBAGE]


def test_a_conversation_database_damaged_under_the_cli_is_set_aside(home: Path) -> None:
    from rag.conversation import ConversationStore

    path = home / KB / "conversations.sqlite"
    path.write_bytes(GARBAGE)
    store = ConversationStore(path)
    store.append("s", "user", "hello")
    assert store.history("s") == [{"role": "user", "content": "hello"}]
    assert list((home / KB).glob("conversations.sqlite.damaged-*"))


@pytest.mark.parametrize("route", ["ask", "sessions", "feedback_export", "job"])
def test_a_read_of_the_service_database_that_fails_is_a_503_in_words(home: Path, route: str) -> None:
    with make_client(make_settings(home, "hashing:64")) as c:
        store = c.app.state.service.store

        def broken(*_: Any, **__: Any) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        for name in ("history", "claim_session", "recent_sessions", "export", "load_job"):
            setattr(store, name, broken)
        if route == "ask":
            r = c.post("/v1/ask", json={"question": "How long does standard shipping take?", "session_id": "s-1"})
        elif route == "sessions":
            r = c.get("/v1/sessions")
        elif route == "job":  # one this process does not hold: read from the database
            r = c.get("/v1/jobs/0123456789abcdef0123456789abcdef")
        else:
            r = c.get("/v1/feedback/export")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["error"] == "storage" and body["message"].startswith("the service cannot read its database")
        assert "malformed" not in body["message"] and r.headers["retry-after"] == "30"
        assert c.get("/healthz").status_code == 200
