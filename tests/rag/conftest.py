"""Tiny knowledge bases for the query-path tests, built through indexes' VersionWriter with the
hashing embedder (no model, no ingest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from indexes.embedders import HashingEmbedder
from indexes.kbase import KnowledgeBase
from indexes.text import QUESTION_FORM, bare_question
from indexes.types import Chunk, Document, sha256_hex


class EnglishOnlyEmbedder(HashingEmbedder):
    """Hashing vectors, but a tokenizer that knows no Chinese (like all-MiniLM-L6-v2): every CJK
    character is an unknown piece, so the dense retriever gets no weight on Chinese queries."""

    def unk_ratio(self, text: str) -> float:
        pieces = [ch for ch in text if not ch.isspace()]
        return sum(1 for ch in pieces if "\u4e00" <= ch <= "\u9fff") / max(1, len(pieces))


# refusal threshold for the hashing embedder (its cosines run lower than a trained model's)
HASHING_REFUSE = 0.3


@dataclass
class Doc:
    source: str
    title: str
    texts: Sequence[str]  # one chunk each, in order
    lang: str = "en"
    groups: tuple[str, ...] = ()
    faq: Sequence[tuple[str, str, str]] = field(default_factory=list)  # (faq_id, question, answer)
    headings: Sequence[tuple[str, ...]] = ()  # each chunk's heading path, when given
    faq_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # faq_id -> its tags


def sectioned(source: str, title: str, sections: Sequence[tuple[str, str]], lang: str = "en") -> Doc:
    """A document of one chunk per section, ``(heading, text)`` pairs, each under the title."""
    return Doc(source, title, [text for _, text in sections], lang=lang, headings=[(title, h) for h, _ in sections])


def build_kb(home: Path, name: str, embedder: Any, docs: Sequence[Doc]) -> Any:
    """Write one published version holding ``docs``; returns the live IndexVersion."""
    kb = KnowledgeBase(home, name)
    # curated questions embedded as ingest embeds them (the form its settings record)
    w = kb.begin_version(embedder.id, embedder.dim, {"chunk_tokens": 128, "question_form": QUESTION_FORM})
    documents, chunks, qchunks = [], [], []
    for d in docs:
        doc_id = sha256_hex(d.source + "".join(d.texts) + repr(d.faq))
        kind = "faq" if d.faq else "document"
        documents.append(Document(id=doc_id, source=d.source, title=d.title, lang=d.lang, kind=kind,
                                  metadata={"groups": list(d.groups)}))
        for pos, text in enumerate(d.texts):
            chunks.append(Chunk(id=sha256_hex(f"{doc_id}|{pos}|{text}"), doc_id=doc_id, source=d.source,
                                position=pos, text=text, title=d.title, lang=d.lang, groups=d.groups,
                                heading_path=tuple(d.headings[pos]) if d.headings else ()))
        for pos, (fid, q, a) in enumerate(d.faq):
            c = Chunk(id=sha256_hex(f"{doc_id}|faq|{fid}"), doc_id=doc_id, source=d.source, position=pos,
                      text=f"Q: {q}\nA: {a}", title=d.title, faq_id=fid, question=q, answer=a, lang=d.lang,
                      kind="faq", groups=d.groups, tags=tuple(d.faq_tags.get(fid, ())))
            chunks.append(c)
            qchunks.append(c)
    w.add_documents(documents, {d.id: d.id for d in documents})
    w.add_chunks(chunks)
    w.add_vectors([c.id for c in chunks], "passage", embedder.embed([c.embed_text() for c in chunks]))
    if qchunks:
        w.add_vectors([c.id for c in qchunks], "question",
                      embedder.embed([bare_question(c.question or "") for c in qchunks], kind="passage"))
    w.finalize()
    kb.publish(w)
    return kb.load_live()


SHOP = [
    Doc("returns.md", "Returns policy", [
        "You can return any item within 30 days of delivery for a full refund. "
        "Refunds are paid to the original payment method within 5 business days.",
        "Items must be unused and in their original packaging. Sale items cannot be returned.",
    ]),
    Doc("shipping.md", "Shipping", [
        "Standard shipping takes 3 to 5 business days and costs 4.99 euros. "
        "Orders over 50 euros ship for free.",
        "Express shipping delivers the next business day and costs 12 euros.",
    ]),
    Doc("warranty.md", "Warranty", [
        "Every blender has a two year warranty covering motor failure. "
        "The warranty does not cover damage from dropping the jar.",
    ]),
    Doc("internal/pricing.md", "Partner pricing", [
        "Partner discount codes give resellers 40 percent off the catalogue price. "
        "The secret partner code is ZEBRA-7731.",
    ], groups=("partners",)),
    Doc("zh/退货.md", "退货政策", [
        "自签收之日起七天内可以无理由退货，退款将在五个工作日内退回原支付账户。",
        "商品必须未使用且保留原包装。特价商品不支持退货。",
    ], lang="zh"),
    Doc("faq.csv", "FAQ", [], faq=[
        ("1", "How do I reset my password?", "Click 'Forgot password' on the sign-in page and follow the email link."),
        ("2", "Can I change my delivery address?", "Yes, until the order ships: open the order and edit the address."),
        ("3", "Do you ship to Switzerland?", "Yes, we ship to Switzerland; customs fees are paid on delivery."),
    ]),
]


@pytest.fixture()
def shop_index(kb_home: Path, fake_embedder: Any) -> Any:
    return build_kb(kb_home, "shop", fake_embedder, SHOP)
