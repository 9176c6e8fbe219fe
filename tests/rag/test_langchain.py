from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

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
