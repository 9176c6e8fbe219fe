"""Values of the query path: hits, citations and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from indexes.types import Chunk

ACTIONS = ("answer", "faq", "clarify", "handoff", "refuse")
# how an answer was composed without the LLM it was configured with (Answer.fallback): offline from
# the passages, or from the model's checked sentences that were streamed before it failed
Fallback = Literal["extractive", "partial"]
# why (Answer.fallback_reason): the model server could not be reached or failed, or ran out of time,
# or wrote an answer that failed the citation check
FallbackReason = Literal["llm_unavailable", "llm_timeout", "llm_unsupported"]


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk (or a merged passage built around it) with its fused score."""

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)  # per retriever: dense, bm25, rerank, ...
    # passage text when neighbours were merged, or a heading stands before the chunk (a line
    # "## heading", rag.retrieval.HEADING_MARK); None = chunk.text
    text: str | None = None
    # the chunk rows (in the retriever's index version) the passage is made of, and the source's
    # other retrieved chunks, strongest first: what an answer may read besides the passage
    # (HybridRetriever.answer_excerpts); empty where the retriever did not say
    rows: tuple[int, ...] = ()
    others: tuple[int, ...] = ()
    # the place of a passage merged from chunks of several sections or pages
    # (:func:`indexes.types.span_locator`); None = the chunk's own
    span: str | None = None

    @property
    def passage(self) -> str:
        return self.text if self.text is not None else self.chunk.text

    @property
    def locator(self) -> str:
        return self.span if self.span is not None else self.chunk.locator


@dataclass(frozen=True)
class Citation:
    n: int
    source: str  # source id (path, or path#faq_id)
    locator: str
    title: str
    text: str  # the quoted passage
    score: float
    chunk_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "source": self.source,
            "locator": self.locator,
            "title": self.title,
            "text": self.text,
            "score": round(float(self.score), 4),
        }


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    action: str  # one of ACTIONS
    timings_ms: dict[str, float]
    session_id: str | None = None
    answer_id: str = ""
    question: str = ""
    query: str = ""  # the stand-alone query actually retrieved with (after condensing)
    hits: tuple[Hit, ...] = ()  # everything retrieved (for eval and agent assist), not only cited
    unsupported: tuple[str, ...] = ()  # sentences dropped by the citation check
    lang: str = "en"
    # set when an LLM backend failed and the answer was composed without it (Fallback, FallbackReason)
    fallback: str | None = None
    fallback_reason: str | None = None
    # the index version the passages were retrieved from (None where none was searched)
    index_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "action": self.action,
            "confidence": round(float(self.confidence), 4),
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
            "session_id": self.session_id,
            "answer_id": self.answer_id,
            "query": self.query,  # what was searched: a follow-up condensed with its history
            # what the citation check dropped (a model's sentences no cited passage supports), for
            # operators: "dropped sentences and bogus citations can't be seen anywhere" (QA)
            "unsupported": list(self.unsupported),
            # null, or how the answer was composed when the LLM failed, and why: a degraded answer
            "fallback": self.fallback,
            "fallback_reason": self.fallback_reason,
        }
