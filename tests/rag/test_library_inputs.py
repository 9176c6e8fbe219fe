"""What a Python caller passes to the library (Assistant, the LangChain retriever, Filters): a
wrong type or a value that cannot mean anything is an InputError saying what to write, never an
AttributeError from deep inside, nor a result silently computed from something else."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from indexes.embedders import get_embedder
from indexes.types import Filters
from kb.errors import EmbedderMismatchError, InputError
from rag.assistant import Assistant
from rag.integrations.langchain import KnowledgeBaseRetriever
from rag.retrieval import HybridRetriever, user_filters
from rag.support import LexicalScorer


def test_one_name_is_one_name_not_its_letters() -> None:
    assert Filters.of(groups="staff").groups == ("staff",)
    assert Filters.of(tags="billing").tags == ("billing",)
    assert Filters(sources="faq.csv").sources == ("faq.csv",)  # type: ignore[arg-type]
    assert user_filters(None, "staff") == Filters(groups=("staff",))  # type: ignore[arg-type]
    assert user_filters(None, []) == Filters(groups=())  # a user of no group still sees public chunks only


@pytest.mark.parametrize(("kw", "says"), [
    ({"groups": 7}, "filter groups must be a list of names, not int"),
    ({"tags": [1, 2]}, "filter tags holds 1, not a name"),
    ({"tags": ["billing", ""]}, "filter tags holds a blank name; name each of the tags, or leave the tags filter out"),
    ({"sources": ["  "]}, "filter sources holds a blank name"),
    ({"tags": {"a": 1}}, "filter tags must be a list of names, not dict"),
    ({"on_date": "last tuesday"}, "filter on_date 'last tuesday' is not a date"),
    ({"on_date": 20260101}, "filter on_date 20260101 is not a date"),
    ({"lang": "klingon"}, "'klingon' is not a language code"),
    ({"lang": "zz"}, "'zz' is not a language code"),
    ({"lang": "zz-CN"}, "'zz-CN' is not a language code"),
    ({"lang": 5}, "filter lang must be a language code, not int"),
])
def test_filters_refuse_what_they_cannot_read(kw: dict[str, Any], says: str) -> None:
    with pytest.raises(InputError) as err:
        Filters.of(**kw)
    assert str(err.value).startswith(says), str(err.value)


def test_filter_days_read_iso_text_and_datetimes() -> None:
    assert Filters.of(on_date="2019-06-01").on_date == date(2019, 6, 1)  # type: ignore[arg-type]
    assert Filters(on_date=datetime(2019, 6, 1, 12, 30)).on_date == date(2019, 6, 1)


def assistant(index: Any, embedder: Any) -> Assistant:
    return Assistant(lambda: index, embedder, "extractive:", LexicalScorer())


@pytest.mark.parametrize(("call", "says"), [
    (lambda a: a.ask(42), "the question must be text (str), not int"),
    (lambda a: a.ask(b"refunds"), "the question must be text (str), not bytes"),
    (lambda a: a.ask("\u200b\u200b"), "the question is empty"),
    (lambda a: a.ask("refunds", session_id=123), "a session id is text (str), not int"),
    (lambda a: a.ask("refunds", history=["hello"]), "history turn 'hello' is not a turn"),
    (lambda a: a.ask("refunds", history="hello"), "history must be a list of turns, not str"),
    (lambda a: a.ask("refunds", filters={"tags": ["x"]}), "filters must be a Filters, not dict"),
    (lambda a: a.search("refunds", 0), "k must be a whole number of at least 1, not 0"),
    (lambda a: a.search("refunds", -3), "k must be a whole number of at least 1, not -3"),
])
def test_assistant_refuses_wrong_arguments(shop_index: Any, fake_embedder: Any, call: Any, says: str) -> None:
    with pytest.raises(InputError) as err:
        call(assistant(shop_index, fake_embedder))
    assert str(err.value).startswith(says), str(err.value)


def test_a_group_given_as_a_string_is_that_group(shop_index: Any, fake_embedder: Any) -> None:
    a = assistant(shop_index, fake_embedder)
    q = "secret partner discount code"
    as_list = [h.chunk.source_id for h in a.search(q, 10, groups=["partners"])]
    assert "internal/pricing.md" in as_list
    assert [h.chunk.source_id for h in a.search(q, 10, groups="partners")] == as_list  # type: ignore[arg-type]


def test_a_search_calls_what_it_is_given_a_query(shop_index: Any, fake_embedder: Any) -> None:
    # kb search "" and /v1/search {"query": " "} were told "the question is empty"
    for query in ("", "  ", "\u200b"):
        with pytest.raises(InputError, match="^the query is empty; type a query$"):
            assistant(shop_index, fake_embedder).search(query)


@pytest.mark.parametrize(("query", "says"), [
    (42, "the query must be text (str), not int"),
    (b"shipping", "the query must be text (str), not bytes"),
    ("", "the query is empty"),
    ("\u200b\u200b", "the query is empty"),
    ("gift \ud800 cards", "the query holds"),
])
def test_langchain_retriever_refuses_queries_it_cannot_read(
    shop_index: Any, fake_embedder: Any, query: Any, says: str
) -> None:
    r = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder)
    with pytest.raises(InputError) as err:
        r.invoke(query)
    assert str(err.value).startswith(says), str(err.value)


def test_langchain_retriever_checks_its_settings(shop_index: Any, fake_embedder: Any) -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, k=0)
    with pytest.raises(ValidationError, match="unknown filter 'tag'; the filters are groups, tags"):
        KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, filters={"tag": ["billing"]})
    with pytest.raises(ValidationError, match="embedder must be an embedder"):
        KnowledgeBaseRetriever.from_index(shop_index, None)
    with pytest.raises(InputError, match="from_index needs a loaded index, not NoneType"):
        KnowledgeBaseRetriever.from_index(None, fake_embedder)
    # a dict of known filters is read as Filters
    r = KnowledgeBaseRetriever.from_index(shop_index, fake_embedder, filters={"sources": ["shipping.md"]})
    assert r.filters == Filters(sources=("shipping.md",))
    assert {d.metadata["source"] for d in r.invoke("How long does standard shipping take?")} == {"shipping.md"}


def test_an_embedder_other_than_the_index_was_built_with_is_refused(shop_index: Any) -> None:
    """Same dimension, another model: its query vectors would rank the chunks by nothing."""
    other = _OtherHashing(shop_index.dim)
    with pytest.raises(EmbedderMismatchError, match="index was built with hashing:64 but the embedder given is"):
        HybridRetriever(shop_index, other)
    with pytest.raises(EmbedderMismatchError):
        KnowledgeBaseRetriever.from_index(shop_index, other).invoke("shipping")


class _OtherHashing:
    """An embedder of the index's dimension that is not the index's."""

    def __init__(self, dim: int) -> None:
        self.inner = get_embedder(f"hashing:{dim}")
        self.id = "other-model"
        self.dim = dim

    def embed(self, texts: Any, kind: str = "passage") -> Any:
        return self.inner.embed(texts, kind=kind)
