"""Request and response models of the HTTP API (the OpenAPI schema at /docs is built from them)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from indexes.types import lang_code
from kb.errors import InputError, require_text
from rag.types import Fallback, FallbackReason

# --- shared ---------------------------------------------------------------------------------------


def _texts(value: Any) -> Any:
    """``value`` unchanged; every string in it (in lists and dicts too) checked by :func:`require_text`.
    Walked with a stack of its own, not by recursion: a body nested about 950 deep, which the JSON
    parser reads, ran out of Python's stack here (a 500 with a RecursionError)."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            require_text(item, "text", decoded=False)
        elif isinstance(item, dict):
            for k, v in item.items():
                todo.append(v)
                todo.append(k)
        elif isinstance(item, (list, tuple)):
            todo.extend(reversed(item))
    return value


class RequestModel(BaseModel):
    """A request body. JSON may escape a lone surrogate ("\\ud800"), which is no character: it
    cannot be stored or embedded, so any string holding one is refused with a 422 naming its
    field, not a 500 from deep in the query path. A field it does not have is refused too: a
    misspelt "filter" or "group" would otherwise be dropped and the question answered without
    the restriction its sender meant (the OpenAI-compatible chat request allows other fields, as
    its clients send them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _unicode_string(cls, value: Any) -> Any:
        # before pydantic's own parsing: a constrained string (max_length) refuses a surrogate
        # with "unable to parse raw data as a unicode string", which says neither where nor what to do
        return _unicode_only(value) if isinstance(value, str) else value

    @field_validator("*", mode="after")
    @classmethod
    def _unicode_strings(cls, value: Any) -> Any:
        # the strings inside lists and dicts; a string field was checked before parsing
        return value if isinstance(value, str) else _unicode_only(value)


def _unicode_only(value: Any) -> Any:
    try:
        return _texts(value)
    except InputError as exc:
        raise ValueError(exc.message.replace("the text holds ", "holds ", 1) + "; send UTF-8 text") from None


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. question_too_long, rate_limited")
    message: str = Field(description="one line: what went wrong and what to do")


class OpenAIError(BaseModel):
    message: str = Field(description="one line: what went wrong and what to do")
    type: str = Field(description="invalid_request_error, authentication_error, permission_error, ...")
    param: str | None = None
    code: str | None = Field(description="machine-readable code, as ErrorBody's error")


class OpenAIErrorBody(BaseModel):
    """The errors of the OpenAI-compatible routes, in OpenAI's shape (its clients read them)."""

    error: OpenAIError


class UserInfo(RequestModel):
    id: str | None = Field(None, max_length=200)
    groups: list[str] | None = Field(
        None,
        max_length=100,
        description="access groups; retrieval only sees documents of these groups (or none)",
    )
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _named(cls, value: list[str] | None) -> list[str] | None:
        # a blank name (a variable left unset) was dropped, and the user read as one of no group,
        # where a blank tag, source or upload group is refused
        if value is not None and any(not g.strip() for g in value):
            raise ValueError("holds a blank name; name each group, or send [] for a user of no group")
        return value


class FilterSpec(RequestModel):
    tags: list[str] | None = Field(
        None, max_length=100, description="documents with any of these tags (422 when no document carries one)"
    )
    lang: str | None = Field(None, max_length=16, description='a language code ("en", "zh", "zh-CN")')
    sources: list[str] | None = Field(
        None, max_length=500, description="these document sources, as GET /v1/documents lists them (422 when none exists)"
    )
    on_date: _dt.date | None = None

    @field_validator("lang")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():  # (read as no filter, as --lang "" was)
            raise ValueError("is blank; give a language code, or leave lang out")
        return lang_code(value) if value else None


# the longest earlier turn a request may send (an LLM's long answer fits; a pasted book does not)
TURN_CHARS = 20_000

class Turn(RequestModel):
    # the turns of GET /v1/sessions/{id} carry answer_id and created_at too: sent back as history, as they are
    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant"]
    content: str = Field(max_length=TURN_CHARS)


class CitationOut(BaseModel):
    n: int
    source: str
    locator: str
    title: str
    text: str = Field(description='the cited passage; a line "## heading" is the heading of the section that follows')
    score: float


class PassageOut(BaseModel):
    source: str
    title: str
    locator: str
    text: str
    score: float
    chunk_id: str
    lang: str
    cited: bool = False


# --- ask -------------------------------------------------------------------------------------------


class AskRequest(RequestModel):
    question: str = Field(description="the user's question (length limit: KB_MAX_QUESTION_CHARS)")
    # (a blank name is refused, as kb ask --kb "" is: it answered from the default knowledge base)
    kb: str | None = Field(None, min_length=1, max_length=64, description="knowledge base name (default: KB_NAME)")
    session_id: str | None = Field(None, min_length=1, max_length=128, description="continues a conversation")
    history: list[Turn] | None = Field(None, max_length=100, description="earlier turns, oldest first")
    user: UserInfo | None = None
    filters: FilterSpec | None = None
    # (strict, as k is: "stream": "yes" or 1 was read as true, "k": true as 1)
    stream: bool = Field(False, strict=True, description="Server-Sent Events: token events, then one final event")
    include_passages: bool = Field(False, strict=True, description="also return the retrieved passages (agent assist)")


class AskResponse(BaseModel):
    answer: str
    action: Literal["answer", "faq", "clarify", "handoff", "refuse"]
    handoff: bool = Field(description="true when a human agent should take over")
    confidence: float
    citations: list[CitationOut]
    timings_ms: dict[str, float]
    session_id: str | None = Field(None, description="the conversation; absent on an agent's suggestion")
    answer_id: str
    kb: str
    index_version: str | None
    query: str = Field("", description="what was searched: the question, a follow-up condensed with its history")
    unsupported: list[str] = Field(
        default_factory=list,
        description="sentences the composer (an LLM backend) wrote that the citation check dropped: no passage "
        "they cite supports them; never part of the answer",
    )
    fallback: Fallback | None = Field(
        None,
        description="set when the LLM failed (KB_LLM_FALLBACK=extractive): 'extractive' = composed offline from "
        "the passages, 'partial' = the checked sentences the model streamed before it failed; absent otherwise",
    )
    fallback_reason: FallbackReason | None = Field(
        None, description="why the answer was composed without the LLM (with fallback)"
    )
    passages: list[PassageOut] | None = None


# --- search ----------------------------------------------------------------------------------------


class SearchRequest(RequestModel):
    query: str
    kb: str | None = Field(None, min_length=1, max_length=64)
    k: int = Field(5, ge=1, le=50, strict=True)  # ("5" and true are no numbers of passages)
    user: UserInfo | None = None
    filters: FilterSpec | None = None


class SearchResponse(BaseModel):
    kb: str
    index_version: str | None
    hits: list[PassageOut]


# --- OpenAI-compatible chat ------------------------------------------------------------------------


class ChatMessage(RequestModel):
    model_config = ConfigDict(extra="allow")
    # OpenAI's roles: a misspelt one ("usr") would drop the message it is the role of, unsaid
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = Field(
        False, strict=True, description="a last chunk with `usage` and no choices, before `[DONE]`, as OpenAI sends"
    )


class ChatRequest(RequestModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=64, description="knowledge base name")
    # a chat client sends the whole conversation every turn: a long one is read for its last 20
    # turns (the 1 MB body limit bounds the rest), not refused after 100 exchanges
    messages: list[ChatMessage] = Field(min_length=1, max_length=5000)
    # (strict, as /v1/ask's: "stream": "yes" was read as true and streamed)
    stream: bool = Field(False, strict=True)
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    n: int | None = Field(None, ge=1, le=1, description="choices: one (the knowledge base's answer)")
    user: str | None = Field(None, max_length=200)
    session_id: str | None = Field(None, min_length=1, max_length=128, description="extension: continues a conversation")
    groups: list[str] | None = Field(None, max_length=100, description="extension: the user's access groups")


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    citations: list[CitationOut] = Field(description="extension: the sources of the answer")
    kb_action: str = Field(description="extension: answer | faq | clarify | handoff | refuse")
    kb_fallback: Fallback | None = Field(
        None, description="extension: how the answer was composed when the LLM failed (AskResponse.fallback)"
    )
    kb_fallback_reason: FallbackReason | None = Field(
        None, description="extension: why (AskResponse.fallback_reason)"
    )
    confidence: float
    answer_id: str
    session_id: str | None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "kb-assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- documents and jobs ----------------------------------------------------------------------------


class JobProgress(BaseModel):
    stage: str
    files: int
    done: bool


class JobOut(BaseModel):
    id: str
    kind: str
    kb: str
    state: Literal["queued", "running", "succeeded", "partial", "failed", "cancelled"]
    progress: JobProgress
    files: list[str]
    created_at: float
    started_at: float | None
    finished_at: float | None
    report: dict[str, Any] | None
    failed: list[dict[str, str]]
    warnings: list[dict[str, str]]  # files indexed with something left out (FAQ rows without an answer)
    error: dict[str, str] | None
    cancel_requested: bool = False  # DELETE /v1/jobs/{id} was asked; the state says when it stopped


class DocumentOut(BaseModel):
    id: str
    source: str
    title: str
    lang: str
    kind: str
    groups: list[str]
    tags: list[str]


class VersionOut(BaseModel):
    version: str
    live: bool
    created_at: str | None = None
    chunks: int | None = None


class DocumentList(BaseModel):
    kb: str
    index_version: str | None
    versions: list[VersionOut]
    documents: list[DocumentOut]


# --- feedback, sessions ----------------------------------------------------------------------------


class FeedbackRequest(RequestModel):
    answer_id: str = Field(max_length=128)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=4000)


class FeedbackResponse(BaseModel):
    id: str
    answer_id: str
    rating: str


class SessionTurn(BaseModel):
    role: str
    content: str
    answer_id: str | None = Field(None, description="the answer's id (an assistant turn); absent or null otherwise")
    created_at: float


class SessionOut(BaseModel):
    session_id: str
    kb: str | None = Field(None, description="the knowledge base its last answer came from")
    turns: list[SessionTurn]


class SessionSummary(BaseModel):
    session_id: str
    last_at: float
    turns: int
    last_action: str
    handoff: bool


class SessionList(BaseModel):
    sessions: list[SessionSummary]


class SuggestRequest(RequestModel):
    session_id: str = Field(max_length=128)
    turn: int | None = Field(None, ge=0, description="index of the customer turn to answer (default: the last question)")
    kb: str | None = Field(None, max_length=64)
    user: UserInfo | None = None


class SuggestResponse(BaseModel):
    session_id: str
    turn: int
    conversation: list[SessionTurn]
    suggestion: AskResponse


# --- health ------------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    kbs: dict[str, str | None]
    warmed: bool
    detail: str | None = None
