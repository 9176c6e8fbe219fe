"""Small self-made corpus and a helper that builds a published knowledge base from it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from indexes.embedders import Embedder, get_embedder
from indexes.kbase import KnowledgeBase
from indexes.text import QUESTION_FORM, bare_question
from indexes.types import Chunk, Document, sha256_hex

CORPUS: list[tuple[str, str, str, list[str]]] = [
    # (source, title, lang, chunk texts)
    ("policies/returns.md", "Returns policy", "en", [
        "You can return most items within 30 days of delivery for a full refund.",
        "Shipping costs are not refunded unless the item arrived damaged.",
        "Refunds are issued to the original payment method within 5 business days.",
    ]),
    ("policies/warranty.md", "Warranty", "en", [
        "All electronics carry a two-year limited warranty against manufacturing defects.",
        "The warranty does not cover water damage or accidental drops.",
    ]),
    ("policies/退货政策.md", "退货政策", "zh", [
        "商品在签收后30天内可以申请退货，退款将原路返回。",
        "运费不予退还，除非商品在运输途中损坏。",
    ]),
]
FAQ = [
    ("0001", "How long does shipping take?", "Standard shipping takes 3 to 5 business days."),
    ("0002", "Do you ship to Canada?", "Yes, we ship to Canada and Mexico."),
]


def corpus_docs() -> tuple[list[Document], list[Chunk], dict[str, str]]:
    docs: list[Document] = []
    chunks: list[Chunk] = []
    hashes: dict[str, str] = {}
    for source, title, lang, texts in CORPUS:
        doc_id = sha256_hex(source + "".join(texts))
        docs.append(Document(id=doc_id, source=source, title=title, lang=lang))
        hashes[doc_id] = sha256_hex("".join(texts))
        for pos, text in enumerate(texts):
            chunks.append(Chunk(id=sha256_hex(f"{doc_id}:{pos}:{text}"), doc_id=doc_id, source=source,
                                position=pos, text=text, title=title, lang=lang))
    faq_id = sha256_hex("faq.csv")
    docs.append(Document(id=faq_id, source="faq.csv", title="Shipping FAQ", lang="en", kind="faq"))
    hashes[faq_id] = sha256_hex(repr(FAQ))
    for pos, (fid, q, a) in enumerate(FAQ):
        text = f"Q: {q}\nA: {a}"
        chunks.append(Chunk(id=sha256_hex(f"{faq_id}:{pos}:{text}"), doc_id=faq_id, source="faq.csv", position=pos,
                            text=text, faq_id=fid, question=q, answer=a, kind="faq"))
    return docs, chunks, hashes


def build_version(kb: KnowledgeBase, emb: Embedder, docs: Sequence[Document], chunks: Sequence[Chunk],
                  hashes: dict[str, str], index_kind: str = "auto", shards: int | None = None) -> str:
    w = kb.begin_version(emb.id, emb.dim, {"chunk_tokens": 128, "chunk_overlap": 16, "question_form": QUESTION_FORM})
    w.add_documents(list(docs), hashes)
    w.add_chunks(list(chunks))
    w.add_vectors([c.id for c in chunks], "passage", emb.embed([c.embed_text() for c in chunks]))
    faq = [c for c in chunks if c.question]
    if faq:
        w.add_vectors([c.id for c in faq], "question", emb.embed([bare_question(c.question or "") for c in faq]))
    w.finalize(index_kind=index_kind, shards=shards)
    return kb.publish(w)


@pytest.fixture()
def hashing() -> Embedder:
    return get_embedder("hashing:64")


@pytest.fixture()
def built_kb(kb_home: Path, hashing: Embedder) -> KnowledgeBase:
    kb = KnowledgeBase(kb_home, "acme")
    docs, chunks, hashes = corpus_docs()
    build_version(kb, hashing, docs, chunks, hashes)
    return kb
