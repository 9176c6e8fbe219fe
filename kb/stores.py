"""Opening the SQLite databases under KB_HOME that hold what users said: the service's answers,
sessions, feedback and jobs, and the CLI's conversations.

A damaged file must not stop the assistant answering, and what it holds must not be lost: one
that is not a database, or is damaged where its schema lives, is set aside (with its write-ahead
log) as ``<name>.damaged-<time>`` for whoever recovers it (``sqlite3 FILE .recover``), and a new
one is begun, with a warning. A disk that refuses (read-only, full) is a :class:`StorageError` in
one line. (The embedding cache has its own rule: it is only a cache.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from kb.errors import StorageError, storage_problem

log = logging.getLogger("kb.stores")

_DAMAGED_WORDS = ("file is not a database", "database disk image is malformed")


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the file itself is damaged (not a database, malformed)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return any(w in str(exc) for w in _DAMAGED_WORDS)


def set_aside(path: Path, why: str, what: str) -> Path:
    """Move the damaged database ``path`` and its write-ahead log aside; returns the new name."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, aside)
    wal = Path(f"{path}-wal")
    with contextlib.suppress(FileNotFoundError):
        if wal.stat().st_size:
            os.replace(wal, f"{aside}-wal")  # committed transactions may still be in it
        else:
            wal.unlink()
    Path(f"{path}-shm").unlink(missing_ok=True)
    log.warning("%s %s is damaged (%s): set aside as %s, and a new one begun", what, path, why, aside.name)
    return aside


def open_store(path: Path, schema: str, *, what: str, **connect: Any) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with ``schema`` applied (``what`` names the database
    in messages; ``connect`` goes to :func:`sqlite3.connect`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(storage_problem(exc) or f"cannot create {path.parent} ({exc})",
                           "make KB_HOME writable") from exc
    for attempt in (1, 2):
        con = None
        try:
            con = sqlite3.connect(str(path), **connect)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.executescript(schema)
            return con
        except sqlite3.DatabaseError as exc:
            if con is not None:
                con.close()
            if attempt == 1 and is_damaged(exc):
                set_aside(path, str(exc), what)
                continue
            raise StorageError(
                storage_problem(exc) or f"the {what} {path} cannot be opened ({exc})",
                "check the disk and the permissions of KB_HOME",
            ) from exc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
