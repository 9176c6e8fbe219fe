"""Integration: the real packaged MiniLM on the Acme sample knowledge base and on small subsets of
../shared/data (skipped when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexes.kbase import KnowledgeBase
from ingest.pipeline import ingest_paths

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "acme"


def top_sources(index, emb, query: str, k: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    qv = emb.embed([query], kind="query")[0]
    return [index.get_chunks([row])[0].source_id for row, _ in index.vector_search(qv, k)]


def test_ingest_acme_sample(kb_home: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    kb = KnowledgeBase(kb_home, "acme")
    r = ingest_paths(kb, [EXAMPLES], real_embedder)
    assert r.failed == [], r.failed
    assert r.warnings == [], r.warnings  # the sample's tables are complete
    assert r.added == 8
    index = kb.load_live()
    assert index.embedder_id == real_embedder.id
    docs = {d.source: d for d in index.documents()}
    assert docs["internal/escalation-guide.md"].metadata["groups"] == ("staff",) or list(
        docs["internal/escalation-guide.md"].metadata["groups"]
    ) == ["staff"]
    assert docs["returns-policy.zh.md"].lang == "zh" and docs["returns-policy.pdf"].lang == "en"
    chunks = index.get_chunks(list(range(index.n_chunks)))
    assert all(c.n_tokens <= 128 for c in chunks if c.kind != "faq")
    assert any(c.page == 2 for c in chunks if c.source == "returns-policy.pdf")
    assert not any("POL-RET-7" in c.text for c in chunks)  # repeated PDF footer dropped

    assert any(s.startswith("returns-policy") for s in top_sources(index, real_embedder, "How long do I have to return an item?"))
    assert "shipping-faq.csv#S01" in top_sources(index, real_embedder, "how many days does standard delivery take")
    zh = index.keyword_search("退货运费谁承担？", 3)
    assert index.get_chunks([zh[0][0]])[0].source == "returns-policy.zh.md"
    index.close()
    again = ingest_paths(kb, [EXAMPLES], real_embedder)
    assert again.unchanged == 8 and not again.published


def test_ingest_shared_data_subset(kb_home: Path, tmp_path: Path, shared_data: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    faq = shared_data / "covid-faq" / "docs" / "faq.csv"
    passages = sorted((shared_data / "domainrag" / "docs").glob("*.md"))[:40]
    if not faq.is_file() or not passages:
        pytest.skip("covid-faq / domainrag not present")
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copyfile(faq, docs / "faq.csv")
    for p in passages:
        shutil.copyfile(p, docs / p.name)
    kb = KnowledgeBase(kb_home, "subset")
    r = ingest_paths(kb, [docs], real_embedder)
    assert r.failed == [] and r.added == 41
    index = kb.load_live()
    chunks = index.get_chunks(list(range(index.n_chunks)))
    faq_chunks = [c for c in chunks if c.source == "faq.csv"]
    assert len(faq_chunks) == len({c.faq_id for c in faq_chunks}) >= 200
    zh = [c for c in chunks if c.source != "faq.csv"]
    assert zh and sum(c.lang == "zh" for c in zh) / len(zh) > 0.8
    first = faq_chunks[0]
    assert first.source_id in top_sources(index, real_embedder, first.question or "", k=3)
    index.close()


def test_default_multilingual_embedder_retrieves_chinese_densely(kb_home: Path, e5_embedder) -> None:  # type: ignore[no-untyped-def]
    """With the default embedder the dense side reads Chinese: the fused retrieval gives it full
    weight, and a Chinese question finds its Chinese policy through the vector index alone."""
    from rag.assistant import Assistant
    from rag.retrieval import HybridRetriever

    kb = KnowledgeBase(kb_home, "acme-e5")
    r = ingest_paths(kb, [EXAMPLES], e5_embedder)
    assert r.failed == [] and r.added == 8
    index = kb.load_live(expected_embedder=e5_embedder.id)
    assert top_sources(index, e5_embedder, "退货的运费由谁来付？")[0] == "returns-policy.zh.md"
    assert top_sources(index, e5_embedder, "积分可以换成现金吗")[0] == "loyalty-points.zh.md"
    ret = HybridRetriever(index, e5_embedder)
    hits = ret.retrieve("退货的运费由谁来付？", k=3)
    assert ret.last_debug is not None and ret.last_debug.capability == 1.0
    assert hits[0].chunk.source == "returns-policy.zh.md" and hits[0].scores["dense"] > 0.8
    asst = Assistant(lambda: index, e5_embedder, "extractive:")
    assert asst.refuse_threshold == 0.86 and asst.faq_threshold == 0.955  # calibrated for this embedder
    ans = asst.ask("退货的运费由谁来付？")
    assert ans.action in ("answer", "faq") and ans.citations[0].source == "returns-policy.zh.md"
    assert asst.ask("火星上的天气怎么样？").action == "refuse"
    index.close()
