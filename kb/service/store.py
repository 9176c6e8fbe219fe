"""SQLite store of the service (``KB_HOME/feedback.sqlite``): answers given (so that feedback
can refer to one by ``answer_id``), conversation turns per session (for the agent-assist view),
feedback, and the document jobs (so that a job outlives the server process that took it). Exports feedback as JSONL in the eval-set format of ../shared/data."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.errors import NotFoundError
from kb.stores import open_store
from rag.conversation import read_groups, stored_groups, visible

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    kb TEXT NOT NULL,
    session_id TEXT,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    action TEXT NOT NULL,
    confidence REAL NOT NULL,
    lang TEXT NOT NULL,
    citations TEXT NOT NULL,
    passages TEXT NOT NULL,
    history TEXT NOT NULL,
    caller TEXT NOT NULL,
    groups TEXT
);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at REAL NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    answer_id TEXT,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    answer_id TEXT NOT NULL REFERENCES answers(answer_id),
    rating TEXT NOT NULL,
    comment TEXT,
    caller TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    runner TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS job_cancels (
    id TEXT PRIMARY KEY,
    asked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS session_owners (
    session_id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

# the states of a job that has not ended (kb.service.jobs), and their placeholders in a query
UNFINISHED = ("queued", "running")
_UNFINISHED_MARKS = ",".join("?" * len(UNFINISHED))


# how many of the latest sessions a reader of some access groups only has searched for theirs
_SESSIONS_SCANNED = 10_000


class AnswerNotFound(NotFoundError):
    def __init__(self, answer_id: str) -> None:
        super().__init__(f"answer {answer_id!r} is unknown", "send the answer_id returned with the answer")


class ServiceStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # a damaged file is set aside, not lost, and the service goes on answering (kb.stores)
        self._conn = open_store(
            self.path, _SCHEMA, what="service database", check_same_thread=False, isolation_level=None, timeout=30
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- answers and sessions ------------------------------------------------------------------
    def record_answer(
        self,
        *,
        answer_id: str,
        kb: str,
        session_id: str | None,
        question: str,
        answer: dict[str, Any],
        lang: str,
        passages: list[dict[str, Any]],
        history: list[dict[str, str]],
        caller: str,
        groups: tuple[str, ...] | None = None,
    ) -> None:
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        answer_id,
                        now,
                        kb,
                        session_id,
                        question,
                        answer.get("answer", ""),
                        answer.get("action", ""),
                        float(answer.get("confidence", 0.0)),
                        lang,
                        json.dumps(answer.get("citations", []), ensure_ascii=False),
                        json.dumps(passages, ensure_ascii=False),
                        json.dumps(history, ensure_ascii=False),
                        caller,
                        stored_groups(groups),
                    ),
                )
                if session_id:
                    row = self._conn.execute(
                        "SELECT COALESCE(MAX(seq), -1) FROM turns WHERE session_id=?", (session_id,)
                    ).fetchone()
                    seq = int(row[0]) + 1
                    self._conn.execute(
                        "INSERT INTO turns VALUES (?,?,?,?,?,?)",
                        (session_id, seq, now, "user", question, None),
                    )
                    self._conn.execute(
                        "INSERT INTO turns VALUES (?,?,?,?,?,?)",
                        (session_id, seq + 1, now, "assistant", answer.get("answer", ""), answer_id),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already: on a full disk it rolls the whole
        transaction back itself, and a ROLLBACK then fails with "no transaction is active", an
        error that would replace the one that says what is wrong ("database or disk is full")."""
        if not self._conn.in_transaction:
            return
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that made us roll back is the one to report

    def get_answer(self, answer_id: str) -> dict[str, Any]:
        with self._lock:
            cur = self._conn.execute("SELECT * FROM answers WHERE answer_id=?", (answer_id,))
            row = cur.fetchone()
            cols = [d[0] for d in cur.description]
        if row is None:
            raise AnswerNotFound(answer_id)
        out = dict(zip(cols, row, strict=True))
        for key in ("citations", "passages", "history"):
            out[key] = json.loads(out[key])
        return out

    def history(
        self, session_id: str, limit: int = 50, viewer: tuple[str, ...] | None = None, kb: str | None = None
    ) -> list[dict[str, Any]]:
        """The last ``limit`` turns of a session, oldest first, less those a reader of the access
        groups ``viewer`` may not see (:func:`visible`; ``None``: a reader of every group), and,
        given ``kb``, less those answered from another knowledge base (a session continued on
        another one is about something else: its English turns were joined to a Chinese
        knowledge base's question)."""
        # a question and its answer are recorded together, the question at an even seq and its
        # answer at the next: both belong to that answer, its caller and its access groups
        sql = (
            "SELECT t.role, t.content, t.answer_id, t.created_at, a.groups, a.kb FROM turns t"
            " LEFT JOIN turns p ON p.session_id = t.session_id AND p.seq = t.seq - t.seq % 2 + 1"
            " LEFT JOIN answers a ON a.answer_id = p.answer_id"
            " WHERE t.session_id=? ORDER BY t.seq DESC LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, (session_id, limit)).fetchall()
        return [
            {"role": r[0], "content": r[1], "answer_id": r[2], "created_at": r[3]}
            for r in reversed(rows)
            if visible(read_groups(r[4]), viewer) and (kb is None or r[5] == kb)
        ]

    def _answered(self, session_id: str, column: str, last: bool) -> tuple[Any] | None:
        """``column`` of the first (or ``last``) answer in a session; None for an unknown session."""
        order = "DESC" if last else "ASC"
        with self._lock:
            return self._conn.execute(  # type: ignore[no-any-return]
                f"SELECT {column} FROM answers WHERE session_id=? ORDER BY created_at {order} LIMIT 1", (session_id,)
            ).fetchone()

    def session_kb(self, session_id: str) -> str | None:
        """The knowledge base the last answer in a session came from; None for an unknown session."""
        row = self._answered(session_id, "kb", last=True)
        return None if row is None else str(row[0])

    def claim_session(self, session_id: str, caller: str) -> str:
        """The caller (API key name) a session belongs to, the one whose question started it: a
        new session is ``caller``'s from now on, claimed in the transaction that found it new.
        Read from its first answer, the owner of a session two keys asked on at the same moment
        was neither's yet for either: both were answered, each key's turns went into one
        conversation, and the first answer recorded took it from the other key. A session begun
        before owners were recorded belongs to the caller of its first answer."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")  # (other processes serving the same database wait)
                owner = self._owner(session_id)
                if owner is None:
                    owner = caller
                    self._conn.execute("INSERT INTO session_owners VALUES (?,?,?)", (session_id, owner, time.time()))
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError:
                # a database that takes no write (a full disk, a read-only file): the question is
                # still answered, as its answer is when it cannot be recorded, by the owner as read
                self._rollback()
                owner = self._owner(session_id) or caller
            except BaseException:
                self._rollback()
                raise
        return owner

    def _owner(self, session_id: str) -> str | None:
        """A session's recorded owner, else its first answer's caller; None for a new session."""
        row = self._conn.execute("SELECT caller FROM session_owners WHERE session_id=?", (session_id,)).fetchone()
        if row is None:
            row = self._conn.execute(
                "SELECT caller FROM answers WHERE session_id=? ORDER BY created_at ASC LIMIT 1", (session_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def recent_sessions(self, limit: int = 30, viewer: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """Most recent conversations first, with whether their last answer was a hand-off. For a
        reader of the access groups ``viewer`` (``None``: every group), each conversation as far
        as it may see it (:func:`visible`), out of the latest ``_SESSIONS_SCANNED``."""
        sql = (
            "SELECT t.session_id, MAX(t.created_at), COUNT(*),"
            " (SELECT a.action FROM answers a WHERE a.session_id = t.session_id ORDER BY a.created_at DESC LIMIT 1)"
            " FROM turns t GROUP BY t.session_id ORDER BY MAX(t.created_at) DESC LIMIT ? OFFSET ?"
        )
        out: list[tuple[Any, ...]] = []
        page = limit if viewer is None else 200
        for offset in range(0, _SESSIONS_SCANNED, page):
            with self._lock:
                rows = self._conn.execute(sql, (page, offset)).fetchall()
                answered = [] if viewer is None or not rows else self._conn.execute(
                    f"SELECT session_id, created_at, action, groups FROM answers"
                    f" WHERE session_id IN ({','.join('?' * len(rows))}) ORDER BY created_at",
                    [r[0] for r in rows],
                ).fetchall()
            if viewer is None:
                out.extend(rows)
            else:
                # from its answers the viewer may see: two turns each, the last one's time and action
                seen: dict[str, list[Any]] = {}
                for sid, at, action, groups in answered:
                    if visible(read_groups(groups), viewer):
                        acc = seen.setdefault(sid, [sid, at, 0, action])
                        acc[1], acc[2], acc[3] = at, acc[2] + 2, action
                out.extend(tuple(seen[r[0]]) for r in rows if r[0] in seen)
            if len(out) >= limit or len(rows) < page:
                break
        return [{"session_id": r[0], "last_at": r[1], "turns": r[2], "last_action": r[3] or "",
                 "handoff": r[3] == "handoff"} for r in out[:limit]]

    def session_groups(self, session_id: str) -> tuple[str, ...] | None:
        """The access groups the customer's last answer in a session was retrieved under."""
        row = self._answered(session_id, "groups", last=True)
        return None if row is None else read_groups(row[0])

    # -- document jobs --------------------------------------------------------------------------
    def save_job(self, record: dict[str, Any], runner: str) -> None:
        """Write a job's record (``Job.record()``) as run by ``runner``, the server process that
        runs it (``kb.service.core.runner_name``)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?)",
                (record["id"], float(record["created_at"]), runner, record["state"],
                 json.dumps(record, ensure_ascii=False)),
            )

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT record FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        rec = dict(json.loads(row[0]))
        # asked of another process than the runner, which has not yet read it
        rec["cancel_requested"] = bool(rec.get("cancel_requested")) or self.cancel_asked(job_id)
        return rec

    def ask_cancel(self, job_id: str) -> None:
        """Record that a job is to stop (kept apart from its record, which its runner rewrites)."""
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO job_cancels VALUES (?,?)", (job_id, time.time()))

    def cancel_asked(self, job_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM job_cancels WHERE id=?", (job_id,)).fetchone() is not None

    def unfinished_jobs(self) -> list[tuple[str, dict[str, Any]]]:
        """(runner, record) of every job not ended, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT runner, record FROM jobs WHERE state IN ({_UNFINISHED_MARKS}) ORDER BY created_at", UNFINISHED
            ).fetchall()
        return [(r[0], dict(json.loads(r[1]))) for r in rows]

    def claim_job(self, job_id: str, runner: str, by: str) -> bool:
        """Make ``by`` the runner of an unfinished job that ``runner`` ran; False when another
        process claimed it first, or it ended."""
        with self._lock:
            cur = self._conn.execute(
                f"UPDATE jobs SET runner=? WHERE id=? AND runner=? AND state IN ({_UNFINISHED_MARKS})",
                (by, job_id, runner, *UNFINISHED),
            )
        return cur.rowcount == 1

    def prune_jobs(self, before: float) -> int:
        """Forget the ended jobs created before ``before`` (epoch seconds)."""
        with self._lock:
            cur = self._conn.execute(
                f"DELETE FROM jobs WHERE created_at < ? AND state NOT IN ({_UNFINISHED_MARKS})", (before, *UNFINISHED)
            )
            self._conn.execute("DELETE FROM job_cancels WHERE id NOT IN (SELECT id FROM jobs)")
        return cur.rowcount

    # -- feedback -------------------------------------------------------------------------------
    def answer_caller(self, answer_id: str) -> str:
        """The name of the API key ``answer_id`` was given to (:class:`AnswerNotFound` for an
        unknown answer), without reading the rest of it."""
        with self._lock:
            row = self._conn.execute("SELECT caller FROM answers WHERE answer_id=?", (answer_id,)).fetchone()
        if row is None:
            raise AnswerNotFound(answer_id)
        return str(row[0])

    def add_feedback(self, answer_id: str, rating: str, comment: str | None, caller: str) -> str:
        """Record ``caller``'s rating of an answer, in place of any that caller gave it before: an
        "up" changed to "down" left both, and the export held the answer as a test case and as an
        unanswerable one at once (QA 2026-12-07)."""
        fid = "fb_" + uuid.uuid4().hex[:16]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # the row is written only where the answer is recorded (404 otherwise)
                cur = self._conn.execute(
                    "INSERT INTO feedback SELECT ?, ?, answer_id, ?, ?, ? FROM answers WHERE answer_id=?",
                    (fid, time.time(), rating, comment, caller, answer_id),
                )
                if cur.rowcount:
                    self._conn.execute("DELETE FROM feedback WHERE answer_id=? AND caller=? AND id<>?",
                                       (answer_id, caller, fid))
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        if cur.rowcount == 0:
            raise AnswerNotFound(answer_id)
        return fid

    def export(self, rating: str | None = None) -> Iterator[dict[str, Any]]:
        """One eval-set record (../shared/data/README.md, format A) per feedback, plus a
        ``feedback`` field. A thumbs-up on an answer becomes a test case with the answer as
        reference and its cited sources as gold. A thumbs-down becomes an *unanswerable* case
        (the served answer must not be given again) marked ``needs_review``: a reviewer adds the
        right reference and gold (and sets ``answerable``) when the knowledge base holds it."""
        sql = (
            "SELECT f.id, f.created_at, f.rating, f.comment, a.answer_id, a.kb, a.session_id, a.question, a.answer,"
            " a.action, a.confidence, a.lang, a.citations, a.history FROM feedback f JOIN answers a"
            " ON a.answer_id = f.answer_id"
        )
        args: tuple[Any, ...] = ()
        if rating:
            sql += " WHERE f.rating = ?"
            args = (rating,)
        sql += " ORDER BY f.created_at"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        for (
            fid,
            created,
            rat,
            comment,
            aid,
            kb,
            sid,
            question,
            answer,
            action,
            conf,
            lang,
            cits,
            hist,
        ) in rows:
            citations = json.loads(cits)
            history = json.loads(hist)
            gold = list(dict.fromkeys(c.get("source", "") for c in citations if c.get("source")))
            answered = action in ("answer", "faq")
            if rat == "up" and answered and gold:
                rec = {"answers": [answer], "gold": gold, "answerable": True, "needs_review": False}
            elif rat == "up":
                rec = {"answers": [], "gold": [], "answerable": False, "needs_review": False}
            else:
                rec = {"answers": [], "gold": [], "answerable": False, "needs_review": True}
            out: dict[str, Any] = {"id": f"feedback-{fid}", "question": question, **rec, "lang": lang}
            if history:
                out["history"] = [{"role": h["role"], "content": h["content"]} for h in history]
            out["feedback"] = {
                "rating": rat,
                "comment": comment,
                "answer_id": aid,
                "kb": kb,
                "session_id": sid,
                "action": action,
                "confidence": conf,
                "answer": answer,
                "citations": citations,
                "created_at": created,
            }
            # key order as in questions.jsonl
            yield {
                k: out[k]
                for k in (
                    "id",
                    "question",
                    "answers",
                    "gold",
                    "lang",
                    "answerable",
                    "history",
                    "needs_review",
                    "feedback",
                )
                if k in out
            }
