"""The HTTP service: ``create_app(settings)`` builds the FastAPI app.

Routes are thin: they check the caller (kb.auth), the limits, then call the
:class:`kb.service.core.Service`. Every error is a JSON body ``{"error": code, "message": one
line}`` with the status of its :class:`kb.errors.KBError`; every response carries X-Request-ID;
every log line carries the request id; nothing of the documents or questions is logged unless
KB_LOG_TEXT is on. OpenAPI docs at /docs.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import datetime as _dt
import difflib
import functools
import hashlib
import json
import logging
import re
import shutil
import sqlite3
import sys
import threading
import time
import typing
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexes.text import detect_lang, has_cjk, is_cjk_char
from kb.auth import Principal, presented_key
from kb.errors import (
    AuthError,
    BackendUnavailableError,
    BusyError,
    FileTooLargeError,
    ForbiddenError,
    InputError,
    KBError,
    NotFoundError,
    StorageError,
    read_gb18030,
    storage_problem,
)
from kb.service import schemas as S
from kb.service.core import (
    Runtime,
    Service,
    TooManyFilesError,
    check_upload_type,
    gbk_reading,
    safe_filename,
)

log = logging.getLogger("kb.app")
STATIC = Path(__file__).parent / "static"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("kb_request_id", default="-")

_factory_lock = threading.Lock()
_factory_installed = False


def install_log_request_ids() -> None:
    """Give every log record a ``request_id`` attribute (``-`` outside a request), so a format
    with ``%(request_id)s`` works for every logger, ours and the libraries'."""
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        old = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = old(*args, **kwargs)
            record.request_id = request_id_var.get()
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


# --- errors -----------------------------------------------------------------------------------------

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "bad_input",
    429: "rate_limited",
}


# what an error status of the service means, as the schema says it (:func:`error_docs`)
_ERROR_DOCS = {
    400: "the body cannot be parsed: not valid JSON in UTF-8 (an upload: no readable multipart form)",
    401: "missing or invalid API key",
    403: "the key's role does not allow this",
    404: "no such knowledge base",
    413: "a question, file or request is too large",
    415: "the body was sent as a media type the route does not take (JSON; an upload: multipart/form-data)",
    422: "invalid request",
    429: "too many requests (see Retry-After)",
    503: "all answer slots busy, or the service cannot answer now (see Retry-After)",
    507: "the service's disk is full or read-only",
}
# the statuses every route may answer with
COMMON_ERRORS = (400, 401, 403, 413, 415, 422, 429)
_JOB_FORBIDDEN = "the key's role does not allow this, or another key started the job and this one is no admin's"


def error_docs(*codes: int | tuple[int, str], openai: bool = False) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` a route's schema gives for these error statuses (a ``(status,
    description)`` pair says what this route's means), in OpenAI's shape on its routes: a client
    generated from the schema, or one that checks responses against it, was told the service's
    ``{"error": code}`` where ``/v1/chat/completions`` answers ``{"error": {"message", ...}}``."""
    model = S.OpenAIErrorBody if openai else S.ErrorBody
    out: dict[int | str, dict[str, Any]] = {}
    for c in codes:
        status, description = c if isinstance(c, tuple) else (c, _ERROR_DOCS[c])
        out[status] = {"model": model, "description": description}
    return out


# the routes OpenAI's clients call: their errors take OpenAI's shape
OPENAI_ROUTES = frozenset({"/v1/chat/completions", "/v1/models"})
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error(status: int, body: dict[str, str]) -> dict[str, Any]:
    """The error ``body`` (``{"error": code, "message": ...}``) in OpenAI's shape
    ``{"error": {"message", "type", "param", "code"}}``, which OpenAI's clients read the message,
    type and code from: in a JSON response and in a chat stream alike."""
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": body.get("message", ""), "type": kind, "param": None, "code": body.get("error")}}


def error_response(
    status: int, body: dict[str, str], headers: dict[str, str] | None = None, path: str = ""
) -> JSONResponse:
    """The JSON error ``{"error": code, "message": ...}``; on an OpenAI route
    :func:`openai_error`'s shape (the official client showed "Error code: 404" and nothing more)."""
    content: dict[str, Any] = openai_error(status, body) if path in OPENAI_ROUTES else dict(body)
    return JSONResponse(content, status_code=status, headers=headers)


# how long a caller is told to wait (Retry-After) after a fault of the service's set-up (a model
# path or key set wrong, a damaged index), which waits for the operator
SETUP_RETRY_AFTER_S = 60


class ServerFault(KBError):
    """What a caller is told of a fault of the service's own set-up or of a backend it depends
    on (see :func:`public_error`)."""

    http_status = 503

    def __init__(self, code: str, message: str, hint: str, retry_after_s: int | None = None) -> None:
        self.code = code
        self.retry_after_s = retry_after_s
        super().__init__(message, hint)


def public_error(err: KBError) -> KBError:
    """``err`` as a caller of the service sees it. A fault that is not the caller's (an LLM server
    down, a model path or key set wrong, a damaged index) names an LLM server's address, a
    model's path and "check the key": for the operator, who finds it in the log under the
    request id, not for a customer's screen. The caller is told, in words an application can
    show, that the service cannot answer now, with a 503 to retry; the error code stays."""
    if err.http_status < 500 or isinstance(err, BusyError | ServerFault | StorageError):
        return err  # a full or read-only disk: said in words for whoever must free space
    rid = request_id_var.get()
    if isinstance(err, BackendUnavailableError):
        return ServerFault(err.code, "the answering model is not available right now",
                           f"try again in a moment, or ask for a human agent (request id {rid})", retry_after_s=5)
    # (with Retry-After, as README promises every fault of the set-up: a key the LLM server
    # rejects was a 503 without one. A minute: the operator must fix it, not a moment's wait)
    return ServerFault(err.code, "the assistant is not set up to answer right now",
                       f"try again later, or ask for a human agent; the operator finds request id {rid} in the log",
                       retry_after_s=SETUP_RETRY_AFTER_S)


def for_caller(principal: Principal, out: dict[str, Any]) -> dict[str, Any]:
    """An answer's body as ``principal`` is shown it. The sentences its model wrote that the
    citation check dropped (``unsupported``) are for those who review answers, an editor or an
    admin key: a reader (a customer's browser) got them, a sentence that followed an instruction
    injected in a document ("Please email your password to help@evil.example") among them. (Such
    a sentence is in no answer: the assistant leaves it out and logs it.)"""
    if out.get("unsupported") and not principal.allows("editor"):
        return {**out, "unsupported": []}
    return out


def log_error(service: Service, err: KBError) -> KBError:
    """Count ``err``, log it in full when it is the service's fault, and return what the caller
    is told (:func:`public_error`): one place for JSON errors and errors inside a stream."""
    service.metrics.errors.labels(code=err.code).inc()
    if err.http_status >= 500:
        log.warning("%s: %s", err.code, err.one_line())
    return public_error(err)


def kb_error_response(err: KBError, path: str = "") -> JSONResponse:
    headers = {}
    retry = getattr(err, "retry_after_s", None)
    if retry is not None:
        headers["Retry-After"] = str(int(retry))
    if isinstance(err, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(err.http_status, err.to_dict(), headers, path)


@functools.cache
def _request_fields() -> list[str]:
    """Every field name of the request bodies, to name the one a misspelt field meant."""
    names = {f for m in vars(S).values() if isinstance(m, type) and issubclass(m, S.RequestModel)
             for f in m.model_fields}
    return sorted(names)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The request model an annotation holds (``UserInfo | None``, ``list[Turn]``), if one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _model_in(arg)) is not None:
            return found
    return None


def _fields_at(request: Request | None, path: tuple[Any, ...]) -> list[str]:
    """The fields a misspelt field at ``path`` (its location in the body) could have meant: those
    of the route's own request model there, else those of any request."""
    body = getattr((request.scope.get("route") if request is not None else None), "body_field", None)
    model = _model_in(body.field_info.annotation) if body is not None else None
    for part in path:
        if model is None:
            break
        if not isinstance(part, int):
            field = model.model_fields.get(str(part))
            model = _model_in(field.annotation) if field is not None else None
    return sorted(model.model_fields) if model is not None else _request_fields()


def _cut(text: str, width: int = 40) -> str:
    """``text`` cut to ``width`` characters for an error message, which repeats what the caller
    sent: a misspelt field of 100,000 characters was named whole."""
    return text if len(text) <= width else text[: width - 3] + "..."


def _nearest_field(typed: str, fields: Sequence[str]) -> str:
    """" (did you mean groups?)" for the field ``typed`` was likely meant as, or ""."""
    near = difflib.get_close_matches(typed, list(fields), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


# the fields of an upload's form (POST /v1/documents)
_UPLOAD_FIELDS = ("files", "kb", "groups", "tags", "public")
_LIST_HINT = {"groups": ", names comma-separated: groups=staff,managers", "tags": ", names comma-separated: tags=a,b"}


async def _upload_fields_known(request: Request) -> None:
    """An upload's form names only its fields: a misspelt one was dropped without a word, and
    ``-F group=staff`` published a staff document to everyone (the JSON routes refuse an unknown
    field already). The form is parsed once: FastAPI reads the one Starlette kept."""
    form = await request.form()
    unknown = [k for k in form if k not in _UPLOAD_FIELDS]
    if unknown:
        raise InputError(
            f"{_cut(unknown[0])}: is not a field of an upload" + _nearest_field(unknown[0], _UPLOAD_FIELDS),
            f"send only {', '.join(_UPLOAD_FIELDS)}",
        )
    # a field sent twice kept its last value (-F groups=staff -F groups=managers left staff out), and
    # a JSON list was read as names with its brackets and quotes (no one could read the document)
    for key in ("kb", "groups", "tags", "public"):
        values = form.getlist(key)
        if len(values) > 1:
            raise InputError(f"{key}: sent {len(values)} times", f"send {key} once{_LIST_HINT.get(key, '')}")
        if key in _LIST_HINT and values and isinstance(values[0], str) and values[0].lstrip().startswith("["):
            raise InputError(f"{key}: {_cut(values[0])} is not a list of names", f"send {key} comma-separated{_LIST_HINT[key]}")
        # a field sent blank (-F groups=, a variable left unset) reached the route as None, as if
        # absent: the upload was published to everyone (202, groups []); form_names() never saw it
        if key in _BLANK_REFUSED and values and isinstance(values[0], str) and not values[0].strip():
            raise InputError(f"{key} is blank", _BLANK_REFUSED[key])


# the upload's form fields whose blank value is refused (read raw: FastAPI gives "" as None)
_BLANK_REFUSED = {
    "groups": "send comma-separated names, e.g. groups=staff,sales, or leave the field out",
    "tags": "send comma-separated names, e.g. tags=billing,faq, or leave the field out",
    "kb": "name the knowledge base, or leave the field out for the default one",
}


# the media types an upload's form is read from (any other gives the route no files)
_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _upload_not_a_form(request: Request | None) -> str | None:
    """The Content-Type an upload (POST /v1/documents) was sent as where it is no form ("none"
    for none), else None: JSON sent there was told "files: Field required" (QA 2026-12-07)."""
    route = request.scope.get("route") if request is not None else None
    if request is None or request.method != "POST" or getattr(route, "path", "") != "/v1/documents":
        return None
    sent_as = request.headers.get("content-type", "")
    return None if sent_as.split(";")[0].strip().lower() in _FORM_TYPES else (sent_as or "none")


def _invalid_status(exc: RequestValidationError, request: Request | None = None) -> int:
    """The status of a request FastAPI refused: 400 for a body that cannot be parsed (malformed
    JSON), 415 for one sent as a media type the route does not take (text/plain to /v1/ask, JSON
    to an upload), 422 for a parsed body whose fields are wrong. Both were 422 (QA 2026-12-07);
    :func:`_validation_message` words them."""
    errors = exc.errors()
    if any(str(e.get("type", "")) == "json_invalid" for e in errors[:3]):
        return 400
    if _upload_not_a_form(request) not in (None, "none"):
        return 415
    for e in errors[:3]:
        where = tuple(x for x in e.get("loc", ()) if x != "body")
        if not where and str(e.get("type", "")) in ("model_attributes_type", "dict_type"):
            sent_as = request.headers.get("content-type", "") if request is not None else ""
            return 415 if sent_as and "json" not in sent_as else 422
    return 422


def _validation_message(exc: RequestValidationError, request: Request | None = None) -> str:
    sent_as = _upload_not_a_form(request)
    if sent_as is not None and any(tuple(e.get("loc", ())) == ("body", "files") for e in exc.errors()):
        # (its fields cannot be read from JSON: "files: Field required" did not say how to send them)
        said = "with no Content-Type" if sent_as == "none" else f"as {_cut(sent_as)}"
        return (f"the upload was sent {said}, not as a form; send the files as "
                "multipart/form-data, e.g. curl -F files=@faq.csv (schema at /docs)")
    parts = []
    for e in exc.errors()[:3]:
        where = tuple(x for x in e.get("loc", ()) if x != "body")
        loc = ".".join(_cut(str(x)) for x in where) or "body"
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")  # pydantic's prefix to a validator's words
        kind = str(e.get("type", ""))
        if kind.startswith("date_"):  # "Datetimes provided to dates should have zero time"
            msg = f"{_cut(repr(e.get('input')))} is not a date; write it as YYYY-MM-DD"
        elif kind == "extra_forbidden":
            typed = str(where[-1])
            fields = [f for f in _fields_at(request, where[:-1]) if f != typed]
            msg = "is not a field of this request" + _nearest_field(typed, fields)
        elif where[:1] == ("files",) and "UploadFile" in msg:  # a form field where a file belongs
            msg = "is not a file; send each file with its name (curl -F files=@faq.csv, not -F files=text)"
        elif kind == "json_invalid":  # loc ("body", offset): say so, not "16: JSON decode error"
            # (Python's json words some errors to end with "at": "Invalid control character at")
            why = str((e.get("ctx") or {}).get("error") or "invalid").removesuffix(" at")
            return f"the body is not valid JSON ({why} at character {where[0] if where else '?'}); send one JSON object"
        elif not where and kind in ("model_attributes_type", "dict_type"):
            sent_as = request.headers.get("content-type", "") if request is not None else ""
            if request is not None and "json" not in sent_as:
                return (f"the body was not sent as JSON (Content-Type: {sent_as or 'none'}); send a JSON "
                        "object with the header Content-Type: application/json")
            msg = "is not a JSON object; send one, e.g. {\"question\": \"...\"}"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts) + "; fix the request (schema at /docs)"


def _unreadable_body(request: Request, detail: str, cause: BaseException | None) -> str:
    """What to do about a body the framework could not parse (a 400): its own words, "There was
    an error parsing the body" or "Invalid multipart data.", do not say."""
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to read; send a plain JSON object"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        # Python reads no integer of more digits than this (sys.set_int_max_str_digits): valid
        # UTF-8 JSON, which was told to send "JSON encoded as UTF-8"
        return (f"a number in the JSON body has more than {sys.get_int_max_str_digits()} digits, too large "
                "to read; send numbers within their fields' limits (schema at /docs)")
    if request.url.path.startswith("/v1/documents"):
        why = detail.rstrip(".") if detail != "There was an error parsing the body" else "unreadable"
        return (f"the upload could not be read as a multipart form ({why}); send the files as form "
                "fields named files, e.g. curl -F files=@faq.csv")
    if isinstance(cause, UnicodeDecodeError) and isinstance(cause.object, bytes):
        # a Chinese Windows client's JSON in GBK (the README's hint for a question in it)
        gbk = read_gb18030(cause.object)
        said = f" (it reads as GBK/GB18030: {gbk[:40]!r})" if gbk else ""
        return f"the request body is not UTF-8{said}; send JSON encoded as UTF-8 (set the client to UTF-8)"
    return "the request body could not be read; send JSON encoded as UTF-8"


class _BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes; send less (or raise {setting})")


class _FileTooLarge(StarletteHTTPException):
    def __init__(self, name: str, limit_mb: float) -> None:
        super().__init__(413, f"{name} is larger than {limit_mb:g} MB, the limit for a file; split the file "
                              "(or raise KB_MAX_UPLOAD_MB)")


class UploadWatch:
    """Reads an upload's multipart body as it arrives and stops it at the first file over the
    limit for one file. The request's own limit is that of every file it may hold (20 files of
    50 MB), so a 250 MB file was received whole, and written to a temporary file, before the
    413 that named it."""

    def __init__(self, content_type: str, limit_bytes: int, limit_mb: float) -> None:
        _, params = parse_options_header(content_type)
        self.limit, self.limit_mb = limit_bytes, limit_mb
        self.size, self.name, self.header, self.value = 0, "", b"", b""
        self.parser: MultipartParser | None = MultipartParser(params[b"boundary"], {
            "on_part_begin": self._begin, "on_part_data": self._data,
            "on_header_field": self._field, "on_header_value": self._value, "on_header_end": self._header_end,
        })

    @classmethod
    def of(cls, content_type: str, limit_bytes: int, limit_mb: float) -> UploadWatch | None:
        """A watch of a multipart body with a boundary; None for anything else (refused later)."""
        if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type.lower():
            return None
        try:
            return cls(content_type, limit_bytes, limit_mb)
        except (KeyError, ValueError):
            return None

    def _begin(self) -> None:
        self.size, self.name = 0, ""

    def _field(self, data: bytes, start: int, end: int) -> None:
        self.header += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def _header_end(self) -> None:
        if self.header.lower() == b"content-disposition":
            _, options = parse_options_header(self.value)
            if b"filename" in options:
                self.name = safe_filename(options[b"filename"].decode("utf-8", "replace")) or "a file"
        self.header, self.value = b"", b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.name:
            self.size += end - start
            if self.size > self.limit:
                raise _FileTooLarge(self.name, self.limit_mb)

    def feed(self, chunk: bytes) -> None:
        """Read ``chunk``; :class:`_FileTooLarge` once a file passes the limit. A body the parser
        cannot read is left to the form parser, which says so."""
        if self.parser is None:
            return
        try:
            self.parser.write(chunk)
        except _FileTooLarge:
            raise
        except Exception:  # noqa: BLE001 - malformed multipart: the route's parser answers it
            self.parser = None


# --- middleware ---------------------------------------------------------------------------------------

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


# On every response: no MIME sniffing (an uploaded document served back is never run as a
# script), no framing by other sites (the chat page's buttons under another page's), no referrer.
SAFETY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# The web pages run only their own scripts and styles from /static and talk only to this service:
# text of a document that got into the page as markup could run nothing. The API docs pages get
# their own (docs_policy).
PAGES = frozenset({"/", "/agent"})
PAGE_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
)


class RequestContext:
    """Pure ASGI middleware: request id (header in and out, context variable for logs), the
    security headers, body size limits, one access log line and the request metrics."""

    def __init__(self, app: ASGIApp, service: Service, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.service = service
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.file_limit_mb = float(service.settings.max_upload_mb)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")
        if not (0 < len(rid) <= 64 and all(c.isalnum() or c in "-_." for c in rid)):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status: dict[str, int] = {"code": 500}
        path = scope.get("path", "")
        upload = path.startswith("/v1/documents")
        limit = self.upload_limit if upload else self.json_limit
        # a JSON body's limit follows the longest question allowed
        setting = "KB_MAX_UPLOAD_MB" if upload else "KB_MAX_QUESTION_CHARS"

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["started"] = 1
                status["code"] = message["status"]
                message.setdefault("headers", [])
                page = PAGE_HEADERS if path in PAGES else ()
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode()), *SAFETY_HEADERS, *page]
            await send(message)

        try:
            if upload and scope.get("method") == "POST" and self.service.keys.enabled:
                # the key of an upload is checked before its body is read: without one, a caller had
                # 20 files of 50 MB read before the 401 (a QA round sent 160 MB so), and a reader key
                # had its body read before the 403
                try:
                    self.service.keys.authenticate(
                        presented_key(headers.get("authorization"), headers.get("x-api-key"))
                    ).require("editor")
                except KBError as ex:
                    if isinstance(ex, AuthError):
                        client = (scope.get("client") or ("unknown",))[0]
                        with contextlib.suppress(KBError):
                            self.service.limiter.hit(f"ip:{client}")
                    await kb_error_response(log_error(self.service, ex), path)(scope, receive, send_wrapper)
                    return
            declared = headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                err = _BodyTooLarge(limit, setting)
                resp = error_response(413, {"error": "too_large", "message": str(err.detail)}, path=path)
                await resp(scope, receive, send_wrapper)
                return
            seen = {"n": 0}
            watch = UploadWatch.of(headers.get("content-type", ""), int(self.file_limit_mb * (1 << 20)),
                                   self.file_limit_mb) if upload and scope.get("method") == "POST" else None

            async def receive_limited() -> Any:
                message = await receive()
                if message.get("type") == "http.request":
                    body = message.get("body", b"")
                    seen["n"] += len(body)
                    if seen["n"] > limit:
                        raise _BodyTooLarge(limit, setting)
                    if watch is not None and body:
                        watch.feed(body)
                return message

            try:
                await self.app(scope, receive_limited, send_wrapper)
            except Exception as exc:  # noqa: BLE001 - unknown errors: logged here, 500 JSON without traceback
                log.error("unhandled %s", type(exc).__name__, exc_info=exc)
                self.service.metrics.errors.labels(code="internal").inc()
                if status.get("started"):
                    return  # the status line is out; the client sees the stream end
                resp = error_response(
                    500, {"error": "internal", "message": f"internal error; report request id {rid}"}, path=path
                )
                await resp(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route_name = route_of(scope, path)
            key_name = (scope.get("state") or {}).get("key_name")  # set by `caller`
            m = self.service.metrics
            m.requests.labels(
                route=route_name, method=scope.get("method", ""), status=str(status["code"])
            ).inc()
            m.latency.labels(route=route_name).observe(elapsed)
            if key_name:
                m.key_requests.labels(key=key_name, status=str(status["code"])).inc()
            if route_name not in ("/healthz", "/readyz", "/metrics"):
                # the address asked for (a client's wrong URL, a session's id), the key that asked
                log.info("%s %s %d %.1f ms%s", scope.get("method"), shown_path(path), status["code"], elapsed * 1000,
                         f" key={key_name}" if key_name else "")
            request_id_var.reset(token)


def route_of(scope: MutableMapping[str, Any], path: str) -> str:
    """The route a request is counted under: its route's pattern, the route its path would have
    matched where it was answered before routing (a body over the limit), "static", or
    "unmatched" (a bounded set of labels, whatever clients send)."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return str(route.path)
    if path.startswith("/static"):
        return "static"
    from starlette.routing import Match

    app = scope.get("app")
    for candidate in getattr(app, "routes", ()):
        if candidate.matches(scope)[0] is Match.FULL and getattr(candidate, "path", None):
            return str(candidate.path)
    return "unmatched"


def shown_path(path: str, limit: int = 200) -> str:
    """A requested path as one log line may hold it: control characters escaped, cut at ``limit``."""
    shown = path.encode("unicode_escape").decode("ascii") if not path.isprintable() else path
    return shown if len(shown) <= limit else shown[:limit] + "…"


def form_names(field: str, value: str | None) -> tuple[str, ...]:
    """A comma-separated form field's names (``groups=staff,sales``). A blank one is refused, not
    dropped (``groups= , ``, or a variable left unset, would publish to everyone), and so is text
    that is not UTF-8, which the multipart parser reads as Latin-1 ("Ô±¹¤" for GBK's 员工)."""
    if value is None:
        return ()
    gbk = gbk_reading(value)
    if gbk is not None:
        raise InputError(f"{field} is not UTF-8 (as GBK it reads {gbk!r})", f"send the {field} field as UTF-8")
    names = tuple(n.strip() for n in value.split(","))
    if not all(names):
        raise InputError(
            f"{field} holds a blank name ({value[:80]!r})",
            f"send comma-separated names, e.g. {field}=staff,sales, or leave the field out",
        )
    return names


class ClosingStream(StreamingResponse):
    """Server-Sent Events whose source is closed however the response ends: sent whole, failed,
    or cut short by a client that hung up. Starlette stops reading a generator when the client
    goes, but leaves it to the garbage collector, and the answer slot it holds with it."""

    def __init__(self, content: Iterator[str], close: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self._close = close

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        import anyio

        async def watch() -> None:
            # the answer slot back as soon as the client hangs up: Starlette notices only at the
            # stream's next send, and the thread reading the stream may be blocked in a model
            # server's stalled reply until its deadline
            while (await receive())["type"] != "http.disconnect":
                pass
            self._close()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                try:
                    await super().__call__(scope, receive, send)
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._close()


def usage_units(text: str) -> int:
    """The length of ``text`` a chat completion's ``usage`` gives: a word a Latin unit, a CJK
    character one. Counted in words alone, a 60-character Chinese answer (written without spaces)
    was 1 completion token. A piece without CJK counts 1 as before, punctuation and all; in one
    with CJK, a run between its characters counts only with a letter or digit ('30' in
    '退费30天'), so '。' and '，' are no words."""
    n = 0
    for piece in text.split():
        if not has_cjk(piece):
            n += 1
            continue
        runs = "".join(" " if is_cjk_char(ch) else ch for ch in piece).split()
        n += sum(map(is_cjk_char, piece)) + sum(any(c.isalnum() for c in r) for r in runs)
    return n


def _as_list(groups: tuple[str, ...] | None) -> list[str] | None:
    return list(groups) if groups is not None else None


# --- dependencies ----------------------------------------------------------------------------
bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[Service, Depends(get_service)]


def caller(
    request: Request,
    svc: ServiceDep,
    cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    presented = key or (cred.credentials if cred is not None else None)
    client = request.client.host if request.client else "unknown"
    try:
        principal = svc.keys.authenticate(presented)
    except AuthError:
        svc.limiter.hit(f"ip:{client}")
        if presented:
            request.state.key_name = "(not valid)"
        raise
    if not principal.anonymous:
        request.state.key_name = principal.name  # for the access log line and kb_key_requests_total
    svc.limiter.hit(f"ip:{client}" if principal.anonymous else f"key:{principal.name}")
    return principal


def require(role: str) -> Callable[[Principal], Principal]:
    def dep(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        principal.require(role)
        return principal

    return dep


Reader = Annotated[Principal, Depends(require("reader"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


# --- the app -----------------------------------------------------------------------------------------


def create_app(settings: Any = None, *, kbs: list[str] | None = None, warm: bool = True) -> FastAPI:
    """Build the app. ``kbs`` restricts it to those knowledge bases (default: every one under
    KB_HOME). ``warm`` loads models and indexes in a background thread at start-up; /readyz
    answers 503 until that is done."""
    if settings is None:
        from kb.settings import get_settings

        settings = get_settings()
    install_log_request_ids()
    service = Service(settings, kbs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the jobs an earlier server process took and did not end run again; the staged files
        # of any other upload it left are removed
        service.clean_staging(spare=service.resume_jobs())
        service.jobs.start()
        if service.notifier is not None:
            service.notifier.start()
        if warm:
            threading.Thread(target=service.warm_up, name="kb-warm-up", daemon=True).start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="Knowledge-base assistant",
        docs_url=None,  # add_api_docs: served without a CDN
        redoc_url=None,
        version="0.1.0",
        description="Grounded answers with citations (or a hand-off to a human) over your documents. "
        "Errors are `{error, message}`; authenticate with `Authorization: Bearer KEY` or `X-API-Key`.",
        lifespan=lifespan,
        responses=error_docs(*COMMON_ERRORS),
    )
    app.state.service = service

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    json_limit = max(1 << 20, int(settings.max_question_chars) * 8 + (256 << 10))
    upload_limit = int(settings.max_upload_mb * (1 << 20)) * max(1, int(settings.max_upload_files)) + (
        1 << 20
    )
    app.add_middleware(RequestContext, service=service, json_limit=json_limit, upload_limit=upload_limit)

    # -- error handlers --------------------------------------------------------------------------
    @app.exception_handler(KBError)
    async def _kb_error(request: Request, exc: KBError) -> JSONResponse:
        return kb_error_response(log_error(service, exc), request.url.path)

    @app.exception_handler(sqlite3.Error)
    async def _store_error(request: Request, exc: sqlite3.Error) -> JSONResponse:
        # a read of the service's database that failed (its writes are handled where they are
        # made): the operator finds the cause in the log under the request id
        log.warning("the service database could not be read: %s: %s", type(exc).__name__, exc)
        problem = storage_problem(exc)
        err: KBError = StorageError(problem, "try again later") if problem else ServerFault(
            "storage", "the service cannot read its database right now",
            f"try again in a moment, or ask for a human agent (request id {request_id_var.get()})", retry_after_s=30,
        )
        return kb_error_response(log_error(service, err), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status = _invalid_status(exc, request)
        code = _HTTP_CODES[status]
        service.metrics.errors.labels(code=code).inc()
        return error_response(
            status, {"error": code, "message": _validation_message(exc, request)}, path=request.url.path
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        service.metrics.errors.labels(code=code).inc()
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such route {request.url.path}; see /docs"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}; see /docs"
        elif exc.status_code == 400:
            detail = _unreadable_body(request, detail, exc.__cause__)
        return error_response(
            exc.status_code, {"error": code, "message": detail}, getattr(exc, "headers", None), request.url.path
        )

    # -- helpers ---------------------------------------------------------------------------------
    def sse(event: str, data: dict[str, Any]) -> str:
        return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    def answer_body(out: dict[str, Any], include_passages: bool) -> dict[str, Any]:
        passages = out.pop("_passages", None)
        if include_passages:
            out["passages"] = passages
        return out

    def session_turns(svc: Service, principal: Principal, session_id: str) -> list[dict[str, Any]]:
        """An agent's view of a session: its last 100 turns the key's access groups may read; 404
        when there are none (an unknown session, or one of other groups)."""
        turns = svc.store.history(session_id, limit=100, viewer=principal.groups)
        if not turns:
            raise NotFoundError(f"session {session_id!r} is unknown", "list the sessions with GET /v1/sessions")
        return turns

    def prepare(
        svc: Service, principal: Principal, kb: str | None, user: S.UserInfo | None, filt: S.FilterSpec | None
    ) -> tuple[Runtime, tuple[str, ...] | None, Any]:
        groups = principal.effective_groups(user.groups if user else None)
        principal.check_as_of(filt.on_date if filt is not None else None)
        rt = svc.runtime(kb)
        filters = svc.filters(groups, filt)
        if filters.tags or filters.sources:
            # names no document carries are a 422 here, before a stream's status line is sent
            rt.holder.current().allowed_mask(filters, other_days=principal.may_ask_as_of())
        return rt, groups, filters

    def run_ask(
        svc: Service,
        principal: Principal,
        rt: Runtime,
        question: str,
        session_id: str | None,
        history: list[dict[str, str]],
        groups: tuple[str, ...] | None,
        filters: Any,
        for_agent: bool = False,
    ) -> dict[str, Any]:
        ans = svc.answer(rt, question, session_id=session_id, history=history, groups=groups, filters=filters,
                         for_agent=for_agent)
        return for_caller(principal, svc.finish(
            rt,
            ans.to_dict(),
            question=question,
            lang=getattr(ans, "lang", "en"),
            hits=list(ans.hits),
            session_id=session_id,
            history=history,
            caller=principal,
            groups=groups,
            index_version=ans.index_version,
        ))

    def stream_ask(
        svc: Service,
        principal: Principal,
        rt: Runtime,
        question: str,
        session_id: str | None,
        history: list[dict[str, str]],
        groups: tuple[str, ...] | None,
        filters: Any,
    ) -> tuple[Iterator[tuple[str, dict[str, Any]]], Callable[[], None]]:
        """(kind, payload) pairs: ("token", {"text"}), then ("final", response body), and what
        closes them. The answer slot is taken now (503 before the stream starts), not when the
        body is first read; the closer gives it back, read or not (:class:`ClosingStream`)."""
        events = svc.stream(rt, question, session_id=session_id, history=history, groups=groups, filters=filters)
        return _pairs(svc, principal, rt, question, session_id, history, groups, filters, events), events.close

    def _pairs(
        svc: Service,
        principal: Principal,
        rt: Runtime,
        question: str,
        session_id: str | None,
        history: list[dict[str, str]],
        groups: tuple[str, ...] | None,
        filters: Any,
        events: Iterator[dict[str, Any]],
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        for ev in events:
            kind = ev.get("type")
            if kind == "token":
                yield "token", {"text": ev.get("text", "")}
            elif kind == "final":
                answer = ev.get("answer") or {}
                obj = ev.get("answer_obj")  # the Answer: its retrieved hits go to the hand-off webhook
                hits: list[Any] = list(getattr(obj, "hits", ()))
                if not hits and answer.get("action") == "handoff" and svc.notifier is not None:
                    # a hand-off asked for before retrieval ran: fetch passages for the agent
                    try:
                        hits = list(rt.assistant.search(question, k=5, filters=filters, groups=groups))
                    except KBError:
                        hits = []
                out = svc.finish(
                    rt,
                    answer,
                    question=question,
                    lang=getattr(obj, "lang", None) or detect_lang(question),
                    hits=hits,
                    session_id=session_id,
                    history=history,
                    caller=principal,
                    groups=groups,
                    index_version=getattr(obj, "index_version", None),
                )
                yield "final", for_caller(principal, out)

    # -- routes: answers ---------------------------------------------------------------------------
    @app.post(
        "/v1/ask",
        response_model=S.AskResponse,
        response_model_exclude_none=True,
        tags=["answers"],
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE with stream: true"},
            **error_docs(404, 503),
        },
    )
    def ask(body: S.AskRequest, principal: Reader, svc: ServiceDep) -> Any:
        """Answer a question with citations, or hand off. `stream: true` sends Server-Sent Events:
        `token` events (`{"text"}`), then one `final` event with the whole answer (citations,
        action, confidence, timings), or an `error` event."""
        question = svc.check_question(body.question)
        rt, groups, filters = prepare(svc, principal, body.kb, body.user, body.filters)
        svc.check_session(body.session_id, principal)
        session_id = body.session_id or svc.new_session_id()
        given = [t.model_dump() for t in body.history] if body.history is not None else None
        history = svc.history_for(body.session_id, given, groups, rt.name)
        if not body.stream:
            out = run_ask(svc, principal, rt, question, session_id, history, groups, filters)
            return answer_body(out, body.include_passages)
        pairs, close = stream_ask(svc, principal, rt, question, session_id, history, groups, filters)

        def gen() -> Iterator[str]:
            try:
                for kind, payload in pairs:
                    if kind == "final":
                        # the fields the JSON answer leaves out when unset (response_model_exclude_none),
                        # left out here too: "fallback": null was in the event, absent from the answer
                        payload = {k: v for k, v in answer_body(payload, body.include_passages).items() if v is not None}
                    yield sse(kind, payload)
            except KBError as ex:
                yield sse("error", log_error(svc, ex).to_dict())
            except Exception as ex:  # noqa: BLE001 - the status line is already sent
                log.error("stream failed: %s", type(ex).__name__, exc_info=ex)
                yield sse(
                    "error",
                    {
                        "error": "internal",
                        "message": f"internal error; report request id {request_id_var.get()}",
                    },
                )

        return ClosingStream(gen(), close)

    @app.post("/v1/search", response_model=S.SearchResponse, tags=["answers"], responses=error_docs(404, 503))
    def search(body: S.SearchRequest, principal: Reader, svc: ServiceDep) -> Any:
        """Retrieval only: the passages an answer would be built from, best first."""
        query = svc.check_question(body.query, "query")
        rt, groups, filters = prepare(svc, principal, body.kb, body.user, body.filters)
        hits = rt.assistant.search(query, k=body.k, filters=filters, groups=groups)
        from kb.service.core import hit_to_passage

        return {"kb": rt.name, "index_version": rt.holder.version, "hits": [hit_to_passage(h) for h in hits]}

    # -- routes: OpenAI-compatible -----------------------------------------------------------------
    def chat_turns(body: S.ChatRequest, svc: Service) -> tuple[str, list[dict[str, str]]]:
        turns: list[dict[str, str]] = []
        for i, m in enumerate(body.messages):
            if m.role not in ("user", "assistant"):
                continue  # system / tool messages do not steer the knowledge base
            content = m.content
            if isinstance(content, list):
                texts = [p.get("text") for p in content if p.get("type") == "text"]
                if any(not isinstance(t, str) for t in texts):
                    raise InputError(f"messages.{i}.content has a text part whose text is not a string",
                                     'send text parts as {"type": "text", "text": "..."}')
                content = " ".join(str(t) for t in texts)
            turns.append({"role": m.role, "content": content or ""})
        if not turns or turns[-1]["role"] != "user":
            raise InputError(
                "the last message must be a user message", "end `messages` with the user's question"
            )
        question = svc.check_question(turns[-1]["content"])
        return question, turns[:-1][-20:]

    def citation_models(out: dict[str, Any]) -> list[dict[str, Any]]:
        return list(out.get("citations", []))

    def unsent(streamed: str, final: str) -> str:
        """What of the final answer a chat stream has not sent as content. /v1/ask's client reads
        the answer from its ``final`` event; an OpenAI client has only the deltas, and a reply that
        no ``token`` came for (a refusal, a hand-off, a greeting, a clarifying question) read as
        ''. What was streamed is the beginning of the final answer (the assistant sends only
        checked text); text that is not cannot be taken back in this protocol, so nothing is
        added to it: the client keeps what it was sent, and the log says so."""
        if final.startswith(streamed):
            return final[len(streamed):]
        log.warning("a chat stream sent %d characters that do not begin its final answer", len(streamed))
        return ""

    @app.post(
        "/v1/chat/completions",
        response_model=S.ChatResponse,
        tags=["openai"],
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "JSON, or chunks with stream: true"},
            **error_docs(*COMMON_ERRORS, (404, "no such knowledge base (model)"), 503, openai=True),
        },
    )
    def chat_completions(body: S.ChatRequest, principal: Reader, svc: ServiceDep) -> Any:
        """OpenAI-compatible chat: `model` is the knowledge base; `messages` the conversation.
        Extensions: `citations`, `kb_action`, `kb_fallback`, `kb_fallback_reason`, `confidence`,
        `answer_id` on the response (and on the last chunk when streaming); request fields
        `session_id` and `groups`."""
        question, history = chat_turns(body, svc)
        user = S.UserInfo(id=None, groups=body.groups) if body.groups is not None else None
        rt, groups, filters = prepare(svc, principal, body.model, user, None)
        svc.check_session(body.session_id, principal)
        if body.session_id and not history:
            # the latest message alone, with a session: the conversation is the session's
            history = svc.history_for(body.session_id, None, groups, rt.name)
        session_id = body.session_id
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())

        def usage(text: str) -> dict[str, int]:
            # in words and CJK characters, not a model's tokens: an extractive answer has none
            pt = sum(usage_units(t["content"]) for t in history) + usage_units(question)
            ct = usage_units(text)
            return {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}

        if not body.stream:
            out = run_ask(svc, principal, rt, question, session_id, history, groups, filters)
            text = out.get("answer", "")
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": rt.name,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": usage(text),
                "citations": citation_models(out),
                "kb_action": out.get("action"),
                "kb_fallback": out.get("fallback"),
                "kb_fallback_reason": out.get("fallback_reason"),
                "confidence": out.get("confidence", 0.0),
                "answer_id": out["answer_id"],
                "session_id": out.get("session_id"),
            }
        pairs, close = stream_ask(svc, principal, rt, question, session_id, history, groups, filters)
        # stream_options.include_usage: every chunk says "usage": null, and a last chunk with no
        # choices gives it (OpenAI's protocol; LangChain's stream_usage reads it)
        with_usage = body.stream_options is not None and body.stream_options.include_usage

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
            obj = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": rt.name,
                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                **({"usage": None} if with_usage else {}),
                **extra,
            }
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        def gen() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            streamed = ""  # the content sent so far
            try:
                for kind, payload in pairs:
                    if kind == "token" and payload["text"]:
                        streamed += payload["text"]
                        yield chunk({"content": payload["text"]})
                    elif kind == "final":
                        rest = unsent(streamed, payload.get("answer") or "")
                        if rest:
                            yield chunk({"content": rest})
                        yield chunk(
                            {},
                            "stop",
                            citations=citation_models(payload),
                            kb_action=payload.get("action"),
                            kb_fallback=payload.get("fallback"),
                            kb_fallback_reason=payload.get("fallback_reason"),
                            confidence=payload.get("confidence"),
                            answer_id=payload["answer_id"],
                            session_id=payload.get("session_id"),
                        )
                        if with_usage:
                            yield chunk(None, usage=usage(payload.get("answer") or ""))
            # in OpenAI's shape, as the route's JSON errors: the official client read the
            # service's {"error": code, "message"} as an error of no code and no type
            except KBError as ex:
                err = log_error(svc, ex)
                yield f"data: {json.dumps(openai_error(err.http_status, err.to_dict()))}\n\n"
            except Exception as ex:  # noqa: BLE001
                log.error("stream failed: %s", type(ex).__name__, exc_info=ex)
                yield f"data: {json.dumps(openai_error(500, {'error': 'internal', 'message': 'internal error'}))}\n\n"
            yield "data: [DONE]\n\n"

        return ClosingStream(gen(), close)

    @app.get("/v1/models", response_model=S.ModelList, tags=["openai"], responses=error_docs(*COMMON_ERRORS, openai=True))
    def models(principal: Reader, svc: ServiceDep) -> Any:
        """The knowledge bases (use one as `model`)."""
        now = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": n, "object": "model", "created": now, "owned_by": "kb-assistant"}
                for n in svc.available_kbs()
            ],
        }

    # -- routes: documents ---------------------------------------------------------------------------
    @app.post(
        "/v1/documents", response_model=S.JobOut, status_code=202, tags=["documents"], responses=error_docs(404, 507)
    )
    def upload(
        principal: Editor,
        svc: ServiceDep,
        _known: Annotated[None, Depends(_upload_fields_known)],
        files: Annotated[list[UploadFile], File(description="one or more documents")],
        kb: Annotated[str | None, Form(max_length=64)] = None,
        groups: Annotated[
            str | None, Form(max_length=2000, description="comma-separated access groups")
        ] = None,
        tags: Annotated[str | None, Form(max_length=2000, description="comma-separated tags")] = None,
        public: Annotated[
            bool, Form(description="publish to everyone a document uploaded for access groups before")
        ] = False,
    ) -> Any:
        """Upload files (PDF, DOCX, HTML, Markdown, TXT, FAQ CSV/XLSX/JSON) and start an ingest job.
        A file with the name of an earlier upload replaces it; one uploaded for access groups before
        keeps them (send them again) unless ``public`` is true. Poll GET /v1/jobs/{id}."""
        s = svc.settings
        if len(files) > int(s.max_upload_files):
            raise TooManyFilesError(
                f"{len(files)} files in one upload, the limit is {s.max_upload_files}",
                "upload them in several requests (or raise KB_MAX_UPLOAD_FILES)",
            )
        max_bytes = int(s.max_upload_mb * (1 << 20))
        names: list[str] = []
        for f in files:
            name = safe_filename(f.filename or "")
            size = f.size if f.size is not None else 0
            if size > max_bytes:
                raise FileTooLargeError(
                    f"{name} is {size / (1 << 20):.1f} MB, the limit is {s.max_upload_mb:g} MB",
                    "split the file (or raise KB_MAX_UPLOAD_MB)",
                )
            if name in names:
                raise InputError(f"{name} appears twice in this upload", "send each file once")
            check_upload_type(name)  # refused now, not by the job once the upload was taken
            names.append(name)
        group_names, tag_names = form_names("groups", groups), form_names("tags", tags)
        if public and group_names:
            raise InputError("public and groups contradict each other", "send one of them")
        if public and principal.groups is not None:
            raise ForbiddenError(
                f"key {principal.name!r} may not publish to everyone",
                f"upload for its groups ({', '.join(principal.groups)}) instead",
            )
        if principal.groups is not None:
            outside = [g for g in group_names if g not in principal.groups]
            if outside:
                raise ForbiddenError(
                    f"key {principal.name!r} may not publish to {', '.join(outside)}",
                    f"name groups among {', '.join(principal.groups)}, or leave groups out",
                )
            # a restricted key's upload is for its own groups, never for everyone
            group_names = group_names or principal.groups
        kb_name = svc.knowledge_base(kb or svc.default_kb).name
        folder: Path | None = None
        paths: list[Path] = []
        try:
            folder = svc.staging_dir(kb_name)
            for f, name in zip(files, names, strict=True):
                with open(folder / name, "wb") as out:
                    f.file.seek(0)
                    while chunk := f.file.read(1 << 20):
                        out.write(chunk)
                paths.append(folder / name)
            paths = svc.with_documents_of(kb_name, paths)
        except BaseException as ex:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            problem = storage_problem(ex)  # a full or read-only disk: said so, not "internal"
            if problem is not None:
                raise StorageError(problem) from ex
            raise
        job = svc.submit_ingest(kb_name, paths, group_names, tag_names, principal, public=public)
        return job.to_dict()

    @app.get(
        "/v1/jobs/{job_id}", response_model=S.JobOut, tags=["documents"],
        responses=error_docs((403, _JOB_FORBIDDEN), (404, "no such job")),
    )
    def get_job(job_id: str, principal: Editor, svc: ServiceDep) -> Any:
        """Progress of an ingest or delete job, with per-file failures. Only the key that started
        the job, or an admin key."""
        return svc.job(job_id, principal).to_dict()

    @app.delete(
        "/v1/jobs/{job_id}", response_model=S.JobOut, status_code=202, tags=["documents"],
        responses=error_docs((403, _JOB_FORBIDDEN), (404, "no such job"), 507),
    )
    def cancel_job(job_id: str, principal: Editor, svc: ServiceDep) -> Any:
        """Cancel an ingest or delete job that has not ended: a queued one never runs, a running
        ingest stops before it publishes (within seconds; what the knowledge base served before
        stays). Poll GET /v1/jobs/{id} for state ``cancelled``. Only the key that started the job,
        or an admin key; a job that ended, or a delete already running, is a 409."""
        return svc.cancel_job(job_id, principal).to_dict()

    @app.get("/v1/documents", response_model=S.DocumentList, tags=["documents"], responses=error_docs(404))
    def list_documents(
        principal: Reader, svc: ServiceDep, kb: Annotated[str | None, Query(max_length=64)] = None
    ) -> Any:
        """Documents of the live index version and the versions kept: those the caller retrieves, or
        for an editor those its key may manage (all of them for a key without a group restriction)."""
        rt = svc.runtime(kb)
        index = rt.holder.current()
        # an editor manages every document its key's groups allow; a reader sees what it retrieves,
        # which is no document out of force today (a public key was shown an offer not launched yet)
        editor = principal.allows("editor")
        allowed = principal.groups if editor else principal.effective_groups(None)
        today = _dt.date.today()
        docs = []
        for d in index.documents():
            if not d.readable_by(allowed) or not (editor or d.valid_on(today)):
                continue
            meta = dict(d.metadata or {})
            dgroups = list(d.groups)
            docs.append(
                {
                    "id": d.id,
                    "source": d.source,
                    "title": d.title,
                    "lang": d.lang,
                    "kind": d.kind,
                    "groups": dgroups,
                    "tags": [str(t) for t in (meta.get("tags") or [])],
                }
            )
        status = rt.kb.status()
        versions = [
            {k: v.get(k) for k in ("version", "live", "created_at", "chunks")}
            for v in status.get("versions", [])
        ]
        return {
            "kb": rt.name,
            "index_version": index.version,
            "versions": versions,
            "documents": sorted(docs, key=lambda x: x["source"]),
        }

    @app.delete(
        "/v1/documents/{doc_id:path}", response_model=S.JobOut, status_code=202, tags=["documents"],
        responses=error_docs((404, "no such knowledge base or document"), 507),
    )
    def delete_document(
        doc_id: str,
        principal: Editor,
        svc: ServiceDep,
        kb: Annotated[str | None, Query(max_length=64)] = None,
    ) -> Any:
        """Start a job that removes a document (by its id or its source, e.g. ``guides/setup.md``);
        it is gone from answers once the job succeeded."""
        return svc.submit_delete(kb or svc.default_kb, doc_id, principal).to_dict()

    # -- routes: feedback and agent assist -----------------------------------------------------------
    @app.post(
        "/v1/feedback", response_model=S.FeedbackResponse, tags=["feedback"],
        responses=error_docs((404, "no such answer"), 507),
    )
    def feedback(body: S.FeedbackRequest, principal: Reader, svc: ServiceDep) -> Any:
        """Thumbs up or down on an answer (by its answer_id), with an optional comment."""
        fid = svc.add_feedback(body.answer_id, body.rating, body.comment, principal)
        svc.metrics.feedback.labels(rating=body.rating).inc()
        return {"id": fid, "answer_id": body.answer_id, "rating": body.rating}

    @app.get(
        "/v1/feedback/export",
        tags=["feedback"],
        response_class=PlainTextResponse,
        responses={
            200: {"content": {"application/x-ndjson": {}}, "description": "one eval-set record per line"}
        },
    )
    def feedback_export(
        principal: Admin, svc: ServiceDep, rating: Annotated[str | None, Query(pattern="^(up|down)$")] = None
    ) -> Response:
        """Feedback as JSONL in the eval-set format of ../shared/data (id, question, answers, gold,
        lang, answerable, history), plus `needs_review` and the `feedback` itself."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in svc.store.export(rating))
        return Response(
            lines,
            media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="feedback.jsonl"'},
        )

    @app.get("/v1/sessions", response_model=S.SessionList, tags=["agent"])
    def sessions(principal: Editor, svc: ServiceDep, limit: Annotated[int, Query(ge=1, le=200)] = 30) -> Any:
        """Recent customer conversations, newest first; `handoff` marks those waiting for an agent."""
        return {"sessions": svc.store.recent_sessions(limit, viewer=principal.groups)}

    # {session_id:path}: a session started before ids holding "/" were refused ("a/b") is still
    # read, as /v1/sessions lists it (the client sends a%2Fb, which arrives decoded)
    @app.get(
        "/v1/sessions/{session_id:path}", response_model=S.SessionOut, tags=["agent"],
        responses=error_docs((404, "no such session")),
    )
    def session(session_id: str, principal: Editor, svc: ServiceDep) -> Any:
        """A customer's conversation, oldest turn first (agent assist): the turns answered under
        access groups the key may read."""
        turns = session_turns(svc, principal, session_id)
        return {"session_id": session_id, "kb": svc.store.session_kb(session_id), "turns": turns}

    @app.post(
        "/v1/agent/suggest",
        response_model=S.SuggestResponse,
        response_model_exclude_none=True,
        tags=["agent"],
        responses=error_docs((404, "no such session, turn or knowledge base"), 503),
    )
    def agent_suggest(body: S.SuggestRequest, principal: Editor, svc: ServiceDep) -> Any:
        """A suggested reply to the customer's question in a session (by default the last one that
        is not just a request for a person; `turn` picks another), with citations and the passages
        behind it. Not recorded in the customer's conversation."""
        from rag.assistant import asks_for_person

        turns = session_turns(svc, principal, body.session_id)
        users = [i for i, t in enumerate(turns) if t["role"] == "user"]
        if body.turn is not None:
            if body.turn not in users:
                raise NotFoundError(f"turn {body.turn} of session {body.session_id!r} is not a customer question",
                                    f"use one of {users}")
            last = body.turn
        else:
            asks = [i for i in users if not asks_for_person(turns[i]["content"])]
            last = (asks or users)[-1]
        question = turns[last]["content"]
        history = [{"role": t["role"], "content": t["content"]} for t in turns[:last]][-20:]
        # retrieve under the customer's groups (as recorded with their answers), bounded by the agent's key
        user = body.user or S.UserInfo(id=None, groups=_as_list(svc.store.session_groups(body.session_id)))
        # from the knowledge base the customer was answered from, unless the agent names another
        # (the service's default answered a Chinese customer from the English knowledge base)
        rt, groups, filters = prepare(svc, principal, body.kb or svc.store.session_kb(body.session_id), user, None)
        out = run_ask(svc, principal, rt, question, None, history, groups, filters, for_agent=True)
        return {"session_id": body.session_id, "turn": last, "conversation": turns,
                "suggestion": answer_body(out, True)}

    # -- routes: operations ---------------------------------------------------------------------------
    # HEAD too: load balancers probe with it (a route of its own, out of the schema: one route
    # for both gave GET and HEAD one operation id, which client generators refuse)
    @app.get("/healthz", response_model=S.Health, tags=["ops"])
    @app.head("/healthz", include_in_schema=False)
    def healthz() -> Any:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=S.Ready, tags=["ops"], responses={503: {"model": S.Ready}})
    @app.head("/readyz", include_in_schema=False)
    def readyz(svc: ServiceDep) -> Any:
        """200 once the live index of every served knowledge base is loaded and the models are warm."""
        ok, kbs, detail = svc.readiness()
        body = {"ready": ok, "kbs": kbs, "warmed": svc.warmed, "detail": detail}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, responses=error_docs(401, 403, 429))
    def metrics(
        request: Request,
        svc: ServiceDep,
        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        key: Annotated[str | None, Depends(api_key_header)],
    ) -> Response:
        """Prometheus metrics. They name every API key: where keys are configured, an admin key's
        (a scrape job sends it as its bearer token), unless KB_METRICS_PUBLIC opens them."""
        from prometheus_client import CONTENT_TYPE_LATEST

        if not svc.settings.metrics_public:
            try:
                caller(request, svc, cred, key).require("admin")
            except (AuthError, ForbiddenError) as err:
                raise type(err)(
                    f"{err.message} (the metrics name every API key)",
                    "send an admin key as the scrape job's bearer token, or set KB_METRICS_PUBLIC=true "
                    "where only the scraper reaches the service's port",
                ) from None
        return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # -- web pages ------------------------------------------------------------------------------------
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.api_route("/agent", methods=["GET", "HEAD"], include_in_schema=False)
    def agent_page() -> FileResponse:
        return FileResponse(STATIC / "agent.html")

    add_api_docs(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


# -- API docs, served from this process ----------------------------------------------------------------
# FastAPI's own /docs and /redoc load Swagger UI and ReDoc from a CDN: blank pages on a server
# without internet, and third-party script on the API's origin elsewhere. The same files, shipped
# in the fastapi-offline wheel, are served from /docs-assets instead.
DOCS_ASSETS = "/docs-assets"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: bytes) -> bytes:
    """The content security policy of an API docs page: its own inline scripts (by their hashes)
    and the files under /docs-assets; data from this service only. Swagger UI sets inline styles."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in _INLINE_SCRIPT.finditer(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ).encode()


def add_api_docs(app: FastAPI) -> None:
    """/docs (Swagger UI), its OAuth2 redirect page and /redoc, without a CDN."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

    try:
        assets = resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        log.warning("fastapi-offline is not installed: no /docs or /redoc (make install adds it)")
        return
    openapi = app.openapi_url or "/openapi.json"

    def page(html: HTMLResponse) -> HTMLResponse:
        html.headers["content-security-policy"] = docs_policy(bytes(html.body)).decode()
        return html

    @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
    def swagger_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return page(get_swagger_ui_html(
            openapi_url=root + openapi, title=f"{app.title} - API",
            oauth2_redirect_url=root + "/docs/oauth2-redirect",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
        ))

    @app.api_route("/docs/oauth2-redirect", methods=["GET", "HEAD"], include_in_schema=False)
    def swagger_redirect() -> HTMLResponse:
        return page(get_swagger_ui_oauth2_redirect_html())

    @app.api_route("/redoc", methods=["GET", "HEAD"], include_in_schema=False)
    def redoc_page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return page(get_redoc_html(
            openapi_url=root + openapi, title=f"{app.title} - API reference",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False,
        ))

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
