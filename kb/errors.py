"""One error hierarchy rooted at :class:`KBError`.

Each error says what went wrong *and what to do next*, in one line. The CLI maps them to exit
codes and one-line messages, the HTTP API to status codes and a JSON body. This module is a
leaf: any package may import it. A traceback reaching a user is a bug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


class KBError(Exception):
    """Base class. ``str(err)`` is the one-line message (problem; what to do)."""

    exit_code: int = 1
    http_status: int = 500
    code: str = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message.strip()
        self.hint = hint.strip() if hint else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        return " ".join(text.split())

    def to_dict(self) -> dict[str, str]:
        out = {"error": self.code, "message": self.one_line()}
        return out


class ConfigError(KBError):
    code = "config"
    http_status = 500


class MissingDependencyError(ConfigError):
    """An optional dependency is not installed; the message names the extra to install."""

    code = "missing_dependency"

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed",
            f"install it with `pip install 'kb-assistant[{extra}]'` (or run `make install`)",
        )


class NotFoundError(KBError):
    code = "not_found"
    http_status = 404


class KnowledgeBaseNotFound(NotFoundError):
    def __init__(self, name: str, home: object) -> None:
        super().__init__(
            f"knowledge base {name!r} has no published index under {home}",
            f"run `kb ingest PATH --kb {name}` first, or set KB_HOME",
        )


class KnowledgeBaseNotServed(NotFoundError):
    """A request for a knowledge base the service does not answer from: said without the server's
    paths or the operator's commands, which are no business of a caller."""

    def __init__(self, name: str, served: Sequence[str]) -> None:
        offer = f"ask one of: {', '.join(served)}" if served else "ask the operator which knowledge bases are served"
        super().__init__(f"knowledge base {name!r} is not served here", offer)


class EmbedderMismatchError(ConfigError):
    code = "embedder_mismatch"
    http_status = 409

    def __init__(self, built_with: str, configured: str, kb: str = "", *, given: bool = False) -> None:
        kb_arg = f" --kb {kb}" if kb else ""
        if given:  # a library caller's embedder object, not the setting
            super().__init__(
                f"index was built with {built_with} but the embedder given is {configured}",
                f"pass get_embedder({built_with!r}), or run `kb reindex{kb_arg} --embedder {configured}`",
            )
            return
        super().__init__(
            f"index was built with {built_with} but KB_EMBEDDER is {configured}",
            f"run `kb reindex{kb_arg} --embedder {configured}` or set KB_EMBEDDER={built_with}",
        )


class IndexCorruptError(KBError):
    code = "index_corrupt"
    http_status = 500


class InputError(KBError):
    """Bad user input (a file, a question, a request field)."""

    code = "bad_input"
    exit_code = 2
    http_status = 422


class FileTooLargeError(InputError):
    code = "too_large"
    http_status = 413


class UnsupportedFormatError(InputError):
    code = "unsupported_format"
    http_status = 415


class CorruptFileError(InputError):
    code = "corrupt_file"


class EncodingError(InputError):
    code = "bad_encoding"


class MissingColumnsError(InputError):
    code = "missing_columns"


def blank(text: str) -> bool:
    """Whether ``text`` has nothing to read: only spaces, control characters (NUL, escapes) and
    invisible format characters (a zero-width space, a byte-order mark)."""
    return all(unicodedata.category(ch) in _UNREAD for ch in text)


_UNREAD = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


# a terminal's escape sequence (a colour, ``ESC [ 31 m``; a title, ``ESC ] ... BEL``; a two-byte
# one): pasted from a terminal into a question, or left in a file, it is no text. Its ESC alone
# was dropped as a control character, and "[31m" read as a word turned "How long\x1b[31m do I
# have to" from asked back into refused
TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]{0,256}(?:\x07|\x1b\\)|[@-Z\\-_])")
# zero-width characters and the soft hyphen, and the bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069): invisible, and an override shows the text after it reversed
# ("\u202eevil" as "live"), in a citation as in a terminal. Dropped from stored text
# (indexes.text.normalize_text) and from questions: "re\u200bturn win\u200bdow", pasted from a page,
# was searched as four words none of which a document holds, and refused
INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), None
)


def without_own_name(source: str, message: str) -> str:
    """``message`` of a problem with file ``source`` without the name it opens with (the file's
    path or its file name, then ": "): a line that names the source already said it twice
    ("tariffs.pdf: tariffs.pdf: not a PDF file ...")."""
    for name in (source, source.rstrip("/").rsplit("/", 1)[-1]):
        if name and message.startswith(f"{name}: "):
            return message[len(name) + 2 :]
    return message


# control characters but tab and newline: C0 (NUL, ESC, backspace, ...), DEL and C1 (U+0080-U+009F,
# which some terminals also read as escapes); CR is made a newline before
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]+")


def without_controls(text: str) -> str:
    """``text`` with CRLF and CR line ends as LF and every other control character but tab and
    newline dropped; a run of them between two characters that are not spaces becomes a space
    ("a\\x00b" is "a b": words stay apart). Stored text is printed as is by ``kb ask`` and shown by
    the web page: an ESC from a file must not reach a terminal as an escape sequence, nor a NUL a
    client."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = TERMINAL_ESCAPE.sub("", text)  # a colour code is no text: "[31m" is not a word
    return _CONTROLS.sub(_control_run, text)


def _control_run(m: re.Match[str]) -> str:
    # no lookaround in the pattern: a leading [ \t]* would rescan a long run of spaces from each
    # of its positions (quadratic on a hostile file)
    text, start, end = m.string, m.start(), m.end()
    if start == 0 or end == len(text) or text[start - 1] in " \t\n" or text[end] in " \t\n":
        return ""
    return " "


def question_text(value: object, what: str = "question", limit: int | None = None) -> str:
    """``value`` stripped, when it is a question retrieval can use: :class:`InputError` for what is
    not text (a number, bytes), not Unicode (:func:`require_text`) or :func:`blank`;
    :class:`QuestionTooLongError` past ``limit`` characters. None reads as empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text (str), not {type(value).__name__}", f"pass the {what} as a string")
    # a control character is no part of a question (a NUL cut what the embedder read: "How\x00 long is
    # the warranty?" was embedded as "How", and refused); one between two words keeps them apart
    value = without_controls(value)
    q = require_text(value.translate(INVISIBLE).strip(), what)
    if blank(q):
        raise InputError(f"the {what} is empty", f"type a {what}")
    if limit is not None and len(q) > limit:
        raise QuestionTooLongError(f"the {what} has {len(q)} characters, more than the limit of {limit}", "shorten it")
    return q


def require_text(text: str, what: str, *, decoded: bool = True) -> str:
    """``text`` unchanged when it is Unicode text that can be stored and embedded; otherwise an
    :class:`InputError` naming the first character that is not: a byte that was not UTF-8 (Python
    keeps a terminal's or file name's undecodable byte as a lone surrogate, U+DC80-U+DCFF) or a
    lone surrogate sent as a JSON escape ("\\ud800"). ``decoded=False``: the text came as
    characters (a JSON string), so any surrogate is one, not a byte that was not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        if decoded and 0xDC80 <= code <= 0xDCFF:
            bad = f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8,"
        else:
            bad = f"a lone surrogate (U+{code:04X}), which is not a character,"
        hint = "send it as UTF-8 text (set the terminal or the client to UTF-8)"
        try:  # only bytes kept as U+DC80-U+DCFF come back; a lone U+D800 from JSON does not
            gbk = read_gb18030(text.encode("utf-8", "surrogateescape")) if decoded else None
        except UnicodeEncodeError:
            gbk = None
        if gbk is not None:  # a Chinese terminal or file in GBK, the most common other encoding
            hint = f"it reads as GBK/GB18030 text ({gbk[:40]!r}): set the terminal or the client to UTF-8"
        raise InputError(f"the {what} holds {bad} at character {exc.start + 1}", hint) from None
    return text


def read_gb18030(raw: bytes) -> str | None:
    """``raw`` read as GB18030 (GBK's superset, what Chinese Windows writes) when it all decodes
    so and gives Chinese; else None. Text that is not UTF-8 is most often this: an error's hint,
    a file's source id and an upload's name read it."""
    try:
        got = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return got if any("\u4e00" <= ch <= "\u9fff" for ch in got) else None


class QuestionTooLongError(InputError):
    code = "question_too_long"
    http_status = 413


class LockedError(KBError):
    code = "locked"
    http_status = 409


class CancelledError(KBError):
    """Work stopped on request before it published anything (a job cancelled through the API)."""

    code = "cancelled"
    http_status = 409


class BackendUnavailableError(KBError):
    """A model server (LLM, reranker) cannot be reached or failed after retries."""

    code = "backend_unavailable"
    http_status = 503


class BackendTimeoutError(BackendUnavailableError):
    """A model server did not answer within its time budget (KB_LLM_TIMEOUT_S): the same fault to
    a caller, told apart where an answer says why it was composed without the model."""


class AuthError(KBError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(KBError):
    code = "forbidden"
    http_status = 403


class SessionOwnerError(ForbiddenError):
    """A session continued with another API key than the one that started it."""

    code = "session_forbidden"


class RateLimitError(KBError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__("too many requests for this API key (KB_RATE_LIMIT_PER_MIN)", f"retry after {retry_after_s} s")


class BusyError(KBError):
    code = "busy"
    http_status = 503

    def __init__(self, message: str = "all answer slots are busy", retry_after_s: int = 2) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, f"retry after {retry_after_s} s")


class DatasetError(InputError):
    code = "bad_dataset"


class StorageError(KBError):
    """A request had to write under KB_HOME and the disk refused: full, or read-only. The message
    is :func:`storage_problem`'s line (or one for a customer's eyes); 507 says the server could not
    store what was sent, not that the request was wrong."""

    code = "storage"
    http_status = 507


# What C++ libraries (FAISS) put in the text of the RuntimeError they raise for a failed write:
# C's strerror() of the errno, which the exception no longer carries.
_STRERRORS = {
    "No space left on device": "ENOSPC",
    "Disk quota exceeded": "EDQUOT",
    "Read-only file system": "EROFS",
}
# FAISS names the file: "write error in /kb/v/vectors.faiss: 2482 != 10219 (No space ...)",
# "could not open /kb/v/vectors.faiss for writing: Read-only file system"
_FILE_IN_TEXT = re.compile(r"(?:write error in|could not open) (.+?)(?:: \d+ != \d+ \(| for writing: )")


def storage_problem(ex: BaseException) -> str | None:
    """The one line for a failure of the disk under KB_HOME (full, read-only, a file where a
    folder belongs), which reaches here as an OSError, SQLite's error, or a library's RuntimeError
    whose text ends in the system's words for it (FAISS writing an index); None for anything else.
    What was already published stays live: a version is switched to only once written whole."""
    import errno
    import os
    import sqlite3

    if isinstance(ex, RuntimeError):
        text = str(ex)
        found = next((name for words, name in _STRERRORS.items() if words in text), None)
        if found is None:
            return None
        code = getattr(errno, found, errno.ENOSPC)  # no EDQUOT on Windows: a full disk all the same
        named = _FILE_IN_TEXT.search(text)
        ex = OSError(code, os.strerror(code), named.group(1) if named else None)
    unchanged = "the live version is unchanged"
    if isinstance(ex, sqlite3.OperationalError) and "full" in str(ex):
        return f"the disk is full ({ex}); free some space and run it again ({unchanged})"
    if isinstance(ex, sqlite3.OperationalError) and "readonly" in str(ex).replace(" ", ""):
        return f"a database under KB_HOME is read-only ({ex}); make KB_HOME writable ({unchanged})"
    if not isinstance(ex, OSError) or ex.errno is None:
        return None
    where = ex.filename or "KB_HOME"
    if ex.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk of {where}; free some space and run it again ({unchanged})"
    if ex.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return f"{where}: {ex.strerror}; point KB_HOME at a folder (it holds the knowledge bases)"
    if ex.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: {ex.strerror}; make it writable, or point KB_HOME at a folder you can write"
    return None
