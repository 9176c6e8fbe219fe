from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from indexes.text import bare_question
from rag.integrations.langchain import KnowledgeBaseRetriever


def test_langchain_retriever_returns_documents_with_metadata(shop_index: Any, fake_embedder: Any) -> None:
    r = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=3)
    assert isinstance(r, BaseRetriever)
    docs = r.invoke("How long does standard shipping take?")
    assert docs and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["source"] == "shipping.md"
    assert "3 to 5 business days" in top.page_content
    assert {"source", "locator", "score"} <= set(top.metadata)
    assert len(docs) <= 3


def test_langchain_retriever_respects_groups(shop_index: Any, fake_embedder: Any) -> None:
    q = "secret partner discount code"
    public = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10, groups=[]).invoke(q)
    assert all("ZEBRA" not in d.page_content for d in public)
    partner = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10, groups=["partners"]).invoke(q)
    assert partner[0].metadata["source"] == "internal/pricing.md"


def test_langchain_retriever_reads_public_documents_unless_given_groups(shop_index: Any, fake_embedder: Any) -> None:
    # the module's example, from_index(index, embedder, k=5), returned a group's documents to
    # anyone; and invoke(q, groups=[...]) was dropped by langchain-core without a word
    import pytest

    from kb.errors import InputError

    q = "secret partner discount code"
    r = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10)
    assert all("ZEBRA" not in d.page_content for d in r.invoke(q))
    assert r.invoke(q, groups=["partners"])[0].metadata["source"] == "internal/pricing.md"
    assert all("ZEBRA" not in d.page_content for d in r.invoke(q))  # for that call only
    assert len(r.invoke(q, k=1)) == 1
    import asyncio

    assert asyncio.run(r.ainvoke(q, groups=["partners"]))[0].metadata["source"] == "internal/pricing.md"
    assert all("ZEBRA" not in d.page_content for d in asyncio.run(r.ainvoke(q)))
    operator = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10, groups=None)
    assert any("ZEBRA" in d.page_content for d in operator.invoke(q))
    with pytest.raises(InputError, match="unknown retriever argument 'group'"):
        r.invoke(q, group=["partners"])
    with pytest.raises(ValueError, match="unknown filter"):
        r.invoke(q, filters={"tag": ["x"]})


def test_langchain_retriever_keeps_one_hybrid_retriever_per_index_version(
    shop_index: Any, fake_embedder: Any
) -> None:
    """A repeated query is served from the retriever's query-vector cache, not embedded again,
    and a new index version from the provider gets a retriever of its own."""
    calls: list[list[str]] = []

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def embed(self, texts: Any, kind: str = "passage") -> Any:
            calls.append(list(texts))
            return self.inner.embed(texts, kind=kind)

    current = {"index": shop_index}
    r = KnowledgeBaseRetriever(index_provider=lambda: current["index"], embedder=Counting(fake_embedder), k=3)
    q = "How long does standard shipping take?"
    first = r.invoke(q)
    again = r.invoke(q)
    assert [d.page_content for d in again] == [d.page_content for d in first]
    assert calls == [[bare_question(q)]]
    hybrid = r.retriever()
    assert hybrid.index is shop_index and r.retriever() is hybrid

    class NewVersion:  # what the provider returns after a re-index: another index object
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    current["index"] = NewVersion(shop_index)
    assert r.retriever() is not hybrid and r.retriever().index is current["index"]
    assert [d.page_content for d in r.invoke(q)] == [d.page_content for d in first]
    assert calls == [[bare_question(q)], [bare_question(q)]]


def test_langchain_retriever_per_call_groups_none_keeps_its_own_view(shop_index: Any, fake_embedder: Any) -> None:
    # invoke(q, groups=user.groups) for an anonymous user (groups None) opened every document,
    # access-group ones too, where groups=[] read public ones only
    import asyncio

    q = "secret partner discount code"
    public = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10)
    for docs in (public.invoke(q, groups=None), public.invoke(q, groups=None, k=5),
                 asyncio.run(public.ainvoke(q, groups=None))):
        assert docs and all("ZEBRA" not in d.page_content for d in docs)
    partner = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10, groups=["partners"])
    assert partner.invoke(q, groups=None)[0].metadata["source"] == "internal/pricing.md"
    assert all("ZEBRA" not in d.page_content for d in partner.invoke(q, groups=[]))
    operator = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10, groups=None)
    assert any("ZEBRA" in d.page_content for d in operator.invoke(q, groups=None))  # its own view: every document


def test_langchain_retriever_refuses_groups_given_in_filters(shop_index: Any, fake_embedder: Any) -> None:
    # filters={"groups": ["partners"]} was accepted and left out without a word (public documents read)
    import pytest

    from indexes.types import Filters

    q = "secret partner discount code"
    r = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=10)
    for filters in ({"groups": ["partners"]}, {"groups": None, "tags": ["x"]}, Filters.of(groups=["partners"])):
        with pytest.raises(ValueError, match=r"filters cannot hold groups.*pass groups=\[\.\.\.\]"):
            r.invoke(q, filters=filters)
        with pytest.raises(ValueError, match="filters cannot hold groups"):
            KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, filters=filters)
    # other filters still work, and groups= as asked
    assert r.invoke(q, filters={"sources": ["internal/pricing.md"]}, groups=["partners"])[0].metadata["source"] == (
        "internal/pricing.md")
