"""LangChain integration: a ``BaseRetriever`` over a knowledge base, so LangChain users can plug
the hybrid retriever (filters, fusion, FAQ blend) into their own chains.

    index = KnowledgeBase(home, "acme").load_live()
    index.warm_up()  # for many queries: its chunks in memory, as the service keeps them
    retriever = KnowledgeBaseRetriever.from_index(index, embedder, k=5, groups=["staff"])
    docs = retriever.invoke("How do I return an item?")
    docs = retriever.invoke("How do I return an item?", groups=["partners"])  # for one call

``groups`` are the access groups of the user the chain answers: public documents and those of
these groups are read, never another group's. By default a retriever reads public documents
only; a retriever made with ``groups=None`` reads every document, as an operator's own tools do.
Per call, ``groups=None`` is the retriever's own view, as if no groups were passed: never every
document (``invoke(q, groups=user.groups)`` for an anonymous user, whose groups are None, read
the access groups' documents too, where ``groups=[]`` read public ones only). Access groups are
passed as ``groups=`` only: ``filters`` holding ``groups`` is refused (it was left out without a
word).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LCDocument
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables.config import run_in_executor
except ImportError as ex:  # pragma: no cover - langchain-core is in the base install
    from kb.errors import MissingDependencyError

    raise MissingDependencyError("langchain-core", "langchain") from ex

from dataclasses import fields

from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from indexes.types import Filters
from kb.errors import InputError, question_text
from rag.assistant import search_results
from rag.retrieval import HybridRetriever, RetrieverPerVersion, user_filters

FILTER_NAMES = tuple(f.name for f in fields(Filters))
GROUPS_IN_FILTERS = ("filters cannot hold groups: a user's access groups are the retriever's groups=; pass "
                     "groups=[...] (to the retriever, or per call: invoke(q, groups=[...])) and leave them out of filters")


class KnowledgeBaseRetriever(BaseRetriever):
    """Documents with ``metadata``: source, locator, title, score, chunk_id, lang.

    One :class:`HybridRetriever` serves every query while ``index_provider`` returns the same
    index version (its query-vector cache included: a repeated query is not embedded again); a
    new version (after a re-index) gets a new one."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index_provider: Callable[[], Any]
    embedder: Any
    k: int = Field(default=5, ge=1)
    # public documents only; None: every document (an operator). Per call, None keeps this value
    groups: Sequence[str] | None = ()
    filters: Filters | None = None
    reranker: Any = None
    _retrievers: RetrieverPerVersion = PrivateAttr(default_factory=RetrieverPerVersion)

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        """A dict is read by :meth:`Filters.of`, and a key it does not know is an error, not a
        filter silently left out ({"tag": [...]} for {"tags": [...]}). Access groups in filters
        are an error too: the retriever's ``groups`` replaced them, and ``filters={"groups":
        ["staff"]}`` read public documents without a word."""
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(FILTER_NAMES))
            if unknown:
                raise ValueError(f"unknown filter {', '.join(map(repr, unknown))}; the filters are {', '.join(FILTER_NAMES)}")
            if "groups" in value:
                raise ValueError(GROUPS_IN_FILTERS)
            return Filters.of(**value)
        if isinstance(value, Filters) and value.groups is not None:
            raise ValueError(GROUPS_IN_FILTERS)
        return value

    @field_validator("embedder")
    @classmethod
    def _embedder(cls, value: Any) -> Any:
        if not callable(getattr(value, "embed", None)):
            raise ValueError(f"embedder must be an embedder (indexes.embedders.get_embedder(...)), not {value!r}")
        return value

    @classmethod
    def from_index(cls, index: Any, embedder: Any, **kw: Any) -> KnowledgeBaseRetriever:
        if not hasattr(index, "n_chunks"):
            raise InputError(f"from_index needs a loaded index, not {type(index).__name__}",
                             "pass KnowledgeBase(home, name).load_live()")
        return cls(index_provider=lambda: index, embedder=embedder, **kw)

    def retriever(self) -> HybridRetriever:
        """The hybrid retriever over the index version ``index_provider`` returns now."""
        return self._retrievers.get(self.index_provider(), lambda index: HybridRetriever(index, self.embedder, self.reranker))

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **per_call: Any
    ) -> list[LCDocument]:
        """``per_call``: ``groups``, ``filters`` or ``k`` for this call alone (``invoke(q,
        groups=[...])``); any other keyword is an error, not a restriction silently left out.
        ``groups=None`` keeps the retriever's own groups (module docstring)."""
        unknown = sorted(set(per_call) - {"groups", "filters", "k"})
        if unknown:
            raise InputError(f"unknown retriever argument {', '.join(map(repr, unknown))}",
                             "pass groups=, filters= or k= (or set them on the retriever)")
        if "groups" in per_call and per_call["groups"] is None:
            # invoke(q, groups=user.groups) for an anonymous user (groups None) opened every
            # document, access-group ones too; a retriever that may do so is made with groups=None
            per_call = {key: value for key, value in per_call.items() if key != "groups"}
        query = question_text(query, "query")
        # validated as the retriever's own fields are
        call = type(self)(**{
            "index_provider": self.index_provider, "embedder": self.embedder, "k": self.k, "groups": self.groups,
            "filters": self.filters, **per_call,
        }) if per_call else self
        retriever = self.retriever()
        # a chain puts these passages in its prompt: an instruction a document holds is left out
        # of them, as the assistant's own answers and searches leave it out
        hits = search_results(retriever.retrieve(query, k=call.k, filters=user_filters(call.filters, call.groups)),
                              retriever.index)
        return [
            LCDocument(
                page_content=h.passage,
                metadata={
                    "source": h.chunk.source_id,
                    "locator": h.locator,
                    "title": h.chunk.title,
                    "score": float(h.score),
                    "chunk_id": h.chunk.id,
                    "lang": h.chunk.lang,
                },
            )
            for h in hits
        ]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **per_call: Any
    ) -> list[LCDocument]:
        # langchain-core's own passes no keyword on: ainvoke(q, groups=[...]) raised a TypeError
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **per_call
        )
