"""The extractive composer keeps sentence vectors: a passage seen before is not embedded again,
and the composed answer is the same as without the cache."""

from __future__ import annotations

from indexes.embedders import get_embedder
from indexes.types import Chunk
from rag.compose import ExtractiveComposer
from rag.types import Hit


def _hit(n: int, text: str) -> Hit:
    chunk = Chunk(id=f"c{n}", doc_id=f"d{n}", source=f"doc{n}.md", position=0, text=text, title=f"Doc {n}")
    return Hit(chunk=chunk, score=1.0 - 0.1 * n)


def test_second_compose_embeds_only_new_texts_and_gives_the_same_answer() -> None:
    emb = get_embedder("hashing:64")
    hits = [
        _hit(1, "Items can be returned within 30 days of delivery. Refunds are paid to the original card."),
        _hit(2, "Shipping is free above 50 euros. Parcels arrive in two to four working days."),
    ]
    cached = ExtractiveComposer(emb)
    first = cached.compose("How long do I have to return an item?", hits)
    texts_after_first = emb.texts_embedded
    again = cached.compose("How long do I have to return an item?", hits)
    # only the question is embedded again (as a query: asymmetric models embed queries differently);
    # every passage sentence came from the cache
    assert emb.texts_embedded == texts_after_first + 1
    assert again.text == first.text

    other = cached.compose("When are refunds paid?", hits)
    assert emb.texts_embedded == texts_after_first + 2

    fresh = ExtractiveComposer(get_embedder("hashing:64"), cache_size=0)
    assert fresh.compose("When are refunds paid?", hits).text == other.text


def test_cache_is_bounded() -> None:
    composer = ExtractiveComposer(get_embedder("hashing:64"), cache_size=3)
    composer.compose("returns", [_hit(1, "One sentence here. Two sentences here. Three here. Four here.")])
    assert len(composer._cache) <= 3
