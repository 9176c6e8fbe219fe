from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexes.kbase import IndexVersion, KnowledgeBase, list_kbs
from indexes.types import Chunk, Document, Filters
from kb.errors import EmbedderMismatchError, IndexCorruptError, InputError, KnowledgeBaseNotFound, LockedError

from .conftest import build_version, corpus_docs

REPO = Path(__file__).resolve().parents[2]
INDEXES_DIR = REPO / "indexes"


def _python(script: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _live_version(kb_home: Path, hashing: Any, name: str, chunks: Sequence[Chunk]) -> IndexVersion:
    """The live version of a knowledge base ``name`` built of ``chunks``, a document each."""
    kb = KnowledgeBase(kb_home, name)
    docs = [Document(id=c.doc_id, source=c.source, title=c.title, lang=c.lang) for c in chunks]
    build_version(kb, hashing, docs, list(chunks), {c.doc_id: "h" for c in chunks})
    return kb.load_live()


def test_round_trip_and_searches(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    v = built_kb.load_live(hashing.id)
    assert v.n_chunks == len(chunks) and v.embedder_id == "hashing:64" and v.dim == 64
    assert v.doc_hashes() == hashes
    assert [d.id for d in v.documents()] == [d.id for d in docs]
    assert v.get_chunks(list(range(len(chunks)))) == chunks  # every field survives SQLite
    assert v.chunk_by_id(chunks[3].id) == chunks[3] and v.chunk_by_id("nope") is None
    assert v.chunks_of(docs[0].id) == chunks[:3]
    assert v.neighbours(1) == [0, 2] and v.neighbours(0, before=0, after=2) == [1, 2]
    q = hashing.embed(["full refund within 30 days"], kind="query")[0]
    hits = v.vector_search(q, 3)
    assert hits[0][0] == 0 and len(hits) == 3 and hits[0][1] >= hits[1][1]
    assert {r for r, _ in v.keyword_search("refund", 5)} == {0, 1, 2}
    assert v.keyword_search("退货", 3)[0][0] == 5
    # FAQ question vectors are searched separately
    qh = v.vector_search(hashing.embed(["do you ship to canada"])[0], 1, kind="question")
    assert v.get_chunks([qh[0][0]])[0].faq_id == "0002"
    # the per-row source ids and FAQ flags retrieval fuses with, without building chunk objects
    sids, has_q = v.row_sources()
    assert sids == [c.source_id for c in chunks]
    assert has_q == [c.question is not None for c in chunks] and any(has_q)
    assert v.row_sources()[0] is sids  # read once per version
    # scoring chosen rows: BM25 as the keyword search scores them, cosine from the stored vectors
    kw = dict(v.keyword_search("refund within 30 days", 10))
    np.testing.assert_allclose(v.keyword_scores("refund within 30 days", [2, 0, 4]),
                               [kw.get(2, 0.0), kw.get(0, 0.0), kw.get(4, 0.0)], rtol=1e-6)
    # the search with every row's score from the same pass: the same top, the same values as
    # scoring the rows one asks for (bit for bit), 0 where a filter excludes a row
    top, every = v.keyword_search_all("refund within 30 days", 10)
    assert top == v.keyword_search("refund within 30 days", 10) and every.shape == (v.n_chunks,)
    rows = list(range(v.n_chunks))
    assert every.tolist() == v.keyword_scores("refund within 30 days", rows).tolist()
    mask = np.array([r != top[0][0] for r in rows])
    top_m, every_m = v.keyword_search_all("refund within 30 days", 10, mask)
    assert top_m == v.keyword_search("refund within 30 days", 10, mask) and every_m[top[0][0]] == 0.0
    # which query terms every chunk holds, whose coverage is keyword_coverage's
    groups = [[0], [0, 1], [2, 1, 0], [5], [], [7, 8]]
    for query in ("refund within 30 days", "退货 refund", "warranty water damage drops", "zzz"):
        held = v.keyword_held(query)
        assert held is not None and held.coverage(groups) == v.keyword_coverage(query, groups)
    sims = v.passage_similarity(q, [1, 0])
    np.testing.assert_allclose(sims, hashing.embed([chunks[1].embed_text(), chunks[0].embed_text()]) @ q, rtol=1e-5)
    assert v.passage_similarity(q, []).shape == (0,)
    np.testing.assert_allclose(v.vectors_of([chunks[0].id]), hashing.embed([chunks[0].embed_text()]), rtol=1e-6)
    st = built_kb.status()
    assert st["live_version"] == v.version and st["chunks"] == len(chunks) and st["documents"] == len(docs)
    assert st["vectors"] == len(chunks) + 2 and st["embedder"] == "hashing:64" and st["index_kind"] == "flat"
    assert st["size_bytes"] > 0 and list_kbs(built_kb.home) == ["acme"]
    v.close()


def test_a_knowledge_base_made_in_code_has_the_settings_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index options of ``KnowledgeBase(home, name)`` are those the service gets from default
    settings: one default each, not a copy in the settings and another in the constructor."""
    from kb.settings import Settings

    for key in list(os.environ):
        if key.startswith("KB_"):
            monkeypatch.delenv(key)
    in_code = KnowledgeBase(tmp_path, "a")
    served = KnowledgeBase.from_settings(tmp_path, "a", Settings())
    assert in_code.index_options() == served.index_options()
    assert (in_code.keep_versions, in_code.preload_chunks) == (served.keep_versions, served.preload_chunks)
    assert in_code.preload_chunks == 20_000 and in_code.flat_max == 200_000


def test_chunk_cache_serves_repeats_without_sqlite(built_kb: KnowledgeBase, hashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import indexes.kbase as kbase_mod

    _, chunks, _ = corpus_docs()
    monkeypatch.setattr(kbase_mod, "CHUNK_CACHE_SIZE", 3)
    v = built_kb.load_live(hashing.id)
    fetched: list[list[int]] = []
    real = v.store.get_chunks

    def get_chunks(rows: Sequence[int]) -> list[Chunk]:
        fetched.append(list(rows))
        return real(rows)

    monkeypatch.setattr(v.store, "get_chunks", get_chunks)
    assert v.get_chunks([2, 0, 2]) == [chunks[2], chunks[0], chunks[2]]
    assert fetched == [[2, 0]]  # each missing row fetched once, order and repeats kept
    assert v.get_chunks([0, 2]) == [chunks[0], chunks[2]] and len(fetched) == 1  # all cached
    assert v.get_chunks([1, 3, 0]) == [chunks[1], chunks[3], chunks[0]] and fetched[-1] == [1, 3]
    assert sorted(v._chunk_cache.keys()) == [0, 1, 3]  # bounded: the least recently used row (2) evicted
    assert v.get_chunks([2])[0] == chunks[2] and fetched[-1] == [2]
    assert v.neighbours(1) == v.neighbours(1) == [0, 2]
    v.close()


def test_warm_up_preloads_every_chunk_and_finds_neighbours_without_sqlite(built_kb: KnowledgeBase, hashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import indexes.text as text_mod

    _, chunks, _ = corpus_docs()
    v = built_kb.load_live(hashing.id)
    n = v.n_chunks
    loads: list[int] = []
    monkeypatch.setattr(text_mod, "_get_jieba", lambda: loads.append(1))
    # a chunk's neighbours by their definition: same document, position within the window, in order
    expected = {
        (r, b, a): [j for j in sorted(range(n), key=lambda j: chunks[j].position)
                    if j != r and chunks[j].doc_id == chunks[r].doc_id
                    and chunks[r].position - b <= chunks[j].position <= chunks[r].position + a]
        for r in range(n) for b in range(3) for a in range(3)
    }
    assert any(len(x) >= 2 for x in expected.values())  # the corpus has documents of several chunks
    assert v.warm_up(max_chunks=n - 1) is False and v._all_chunks is None  # too many: the LRU serves
    assert v.warm_up() is True  # the knowledge base's limit (20,000 by default)
    assert loads  # it holds Chinese: jieba is loaded now, not on the first Chinese question

    def no_sqlite(*args: object) -> None:
        raise AssertionError("a warmed version read SQLite")

    monkeypatch.setattr(v.store, "get_chunks", no_sqlite)
    monkeypatch.setattr(v.store, "positions", no_sqlite)  # read once, by warm_up
    assert v.get_chunks(list(range(n))) == chunks and v.get_chunks([3, 0, 3]) == [chunks[3], chunks[0], chunks[3]]
    # found in memory, for any window
    assert {key: v.neighbours(*key) for key in expected} == expected
    assert v.neighbours(n) == [] and v.neighbours(-1) == []
    with pytest.raises(IndexError, match="not in this index version"):
        v.get_chunks([n])  # never a silent wrap-around of a bad row
    with pytest.raises(IndexError):
        v.get_chunks([-1])
    v.close()
    off = KnowledgeBase(built_kb.home, built_kb.name, preload_chunks=0).load_live(hashing.id)
    assert off.warm_up() is False and off.get_chunks([1]) == [chunks[1]]  # KB_PRELOAD_CHUNKS=0: never
    off.close()


def test_vector_filter_excludes_the_nearest_chunk(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    v = built_kb.load_live()
    assert v.allowed_mask(None) is None and v.allowed_mask(Filters.of(groups=["x"])) is None  # all allowed
    q = hashing.embed([v.get_chunks([0])[0].embed_text()])[0]
    assert v.vector_search(q, 1)[0][0] == 0
    allowed = np.ones(v.n_chunks, bool)
    allowed[0] = False
    hits = v.vector_search(q, v.n_chunks, allowed)
    assert 0 not in [r for r, _ in hits] and len(hits) == v.n_chunks - 1
    only = np.zeros(v.n_chunks, bool)
    only[4] = True
    assert [r for r, _ in v.vector_search(q, 5, only)] == [4]


def test_vector_search_all_ranks_each_kind_from_one_pass_as_its_search_does(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    v = built_kb.load_live()
    rows = list(range(v.n_chunks))
    searched: list[int] = []
    inner = v.index.search

    def spy(*a: Any, **kw: Any) -> Any:
        searched.append(1)
        return inner(*a, **kw)

    v.index.search = spy  # type: ignore[method-assign]
    for text in ("full refund within 30 days", "do you ship to canada", "退货"):
        q = hashing.embed([text], kind="query")[0]
        for allowed in (None, np.array([r % 2 == 0 for r in rows]), np.array([r == 4 for r in rows])):
            for k in (1, 3, 20):
                searched.clear()
                tops, every = v.vector_search_all(q, k, allowed)
                assert every is not None and every.shape == (v.n_chunks,) and not searched
                for kind in ("passage", "question"):
                    assert tops[kind] == v.vector_search(q, k, allowed, kind=kind)
                assert searched  # vector_search searched; vector_search_all did not
        # every chunk's passage cosine, as passage_similarity scores it (up to rounding)
        _, every = v.vector_search_all(q, 3)
        assert every is not None
        np.testing.assert_allclose(every, v.passage_similarity(q, rows), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        v.vector_search_all(q, 3, None, ("answer",))


def test_vector_search_all_gives_a_tie_at_the_cut_to_the_lower_row(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    twin = dataclasses.replace(chunks[4], id="twin", position=9)  # the same text: the same vector
    kb = KnowledgeBase(kb_home, "twins")
    build_version(kb, hashing, docs, [*chunks, twin], hashes)
    v = kb.load_live()
    q = hashing.embed([twin.embed_text()], kind="query")[0]
    tops, _ = v.vector_search_all(q, 1)
    assert tops["passage"][0][0] == 4  # not the twin's row, 9
    both, _ = v.vector_search_all(q, 2)
    assert [r for r, _ in both["passage"]] == [4, len(chunks)] and both["passage"][0][1] == both["passage"][1][1]


def test_a_large_or_approximate_index_searches_each_kind(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    for kb in (KnowledgeBase(kb_home, "ivf", flat_max=2, nprobe=4), KnowledgeBase(kb_home, "sharded", shards=3)):
        build_version(kb, hashing, docs, chunks, hashes)
        v = kb.load_live()
        q = hashing.embed(["refund"], kind="query")[0]
        tops, every = v.vector_search_all(q, 3)
        assert every is None and tops == {kind: v.vector_search(q, 3, kind=kind) for kind in ("passage", "question")}


def test_a_large_flat_version_is_saved_with_a_graph_and_searched_through_it(kb_home: Path, hashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import indexes.vector as vector

    monkeypatch.setattr(vector, "GRAPH_MIN", 4)  # "large": as if these few chunks were thousands
    monkeypatch.setattr(vector, "FP16_SCAN_MIN", 4)
    docs, chunks, hashes = corpus_docs()
    docs = [d for d in docs if d.kind != "faq"]  # passage vectors only: an unfiltered search
    chunks = [c for c in chunks if not c.question]
    kb = KnowledgeBase(kb_home, "g")
    build_version(kb, hashing, docs, chunks, hashes)
    v = kb.load_live()
    assert v.manifest["index"]["graph"]["file"] == "vectors.hnsw"
    assert "vectors.hnsw" in v.manifest["files"] and "vectors.hnsw" in v.manifest["sha256"]
    assert v.index.info()["scan"] == "graph"
    scanned = KnowledgeBase(kb_home, "g", flat_scan="fp16").load_live()
    assert scanned.index.info()["scan"] == "fp16"
    for text in ("full refund within 30 days", "warranty", "退货"):
        q = hashing.embed([text], kind="query")[0]
        got, want = v.vector_search(q, 5), scanned.vector_search(q, 5)  # a graph of 7 reaches them all
        assert [r for r, _ in got] == [r for r, _ in want] and [s for _, s in got] == [s for _, s in want]
    # built with the exact scan asked for: no graph
    plain = KnowledgeBase(kb_home, "plain", flat_scan="fp16")
    version = build_version(plain, hashing, docs, chunks, hashes)
    assert "graph" not in plain.load_live().manifest["index"]
    assert not (plain.versions_dir / version / "vectors.hnsw").exists()


def test_a_manifest_naming_a_graph_outside_its_files_is_a_damaged_version(kb_home: Path, hashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import indexes.vector as vector

    monkeypatch.setattr(vector, "GRAPH_MIN", 4)
    docs, chunks, hashes = corpus_docs()
    kb = KnowledgeBase(kb_home, "g")
    path = kb.versions_dir / build_version(kb, hashing, docs, chunks, hashes) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["index"]["graph"]["file"] = "../../elsewhere.hnsw"
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="graph"):
        kb.load_live()


def test_a_shift_ranks_its_rows_as_if_they_scored_more_on_a_flat_and_a_sharded_index(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    """vector_search_all's ``shift``: the rows of a mask gain an amount before the cut. A flat index
    adds it to every score of its one pass; one that cannot score everything at once searches the
    shifted rows and the others apart, with the same result."""
    docs, chunks, hashes = corpus_docs()
    flat, sharded = KnowledgeBase(kb_home, "flat"), KnowledgeBase(kb_home, "sharded", shards=3)
    for kb in (flat, sharded):
        build_version(kb, hashing, docs, chunks, hashes)
    vf, vs = flat.load_live(), sharded.load_live()
    rows = np.arange(vf.n_chunks)
    for text in ("full refund within 30 days", "do you ship to canada"):
        q = hashing.embed([text], kind="query")[0]
        plain = dict(vf.vector_search(q, vf.n_chunks))
        for moved in (rows % 2 == 1, rows == 4):
            for amount in (0.0, 0.05, 1.0):
                for allowed in (None, rows != 3):
                    want = sorted(((r, s + amount * moved[r]) for r, s in plain.items()
                                   if allowed is None or allowed[r]), key=lambda x: (-x[1], x[0]))[:3]
                    tops, every = vf.vector_search_all(q, 3, allowed, ("passage",), shift=(moved, amount))
                    assert [r for r, _ in tops["passage"]] == [r for r, _ in want]
                    assert [s for _, s in tops["passage"]] == pytest.approx([s for _, s in want], abs=1e-5)
                    assert every is not None
                    np.testing.assert_allclose(every, vf.passage_similarity(q, rows.tolist()) + amount * moved, atol=1e-5)
                    apart, none = vs.vector_search_all(q, 3, allowed, ("passage",), shift=(moved, amount))
                    assert none is None and [r for r, _ in apart["passage"]] == [r for r, _ in want]
    with pytest.raises(ValueError, match="shift"):
        vf.vector_search_all(q, 3, None, ("passage",), shift=(rows == 4, -0.1))


def test_allowed_mask_matches_filters_allows(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    doc = Document(id="d", source="s.md", title="T", lang="en")
    doc2 = Document(id="e", source="zh.md", title="Z", lang="zh")
    specs: list[dict[str, Any]] = [
        dict(groups=("staff",)), dict(groups=("vip", "staff")), dict(tags=("returns",)),
        dict(tags=("returns", "eu"), valid_from="2025-01-01"), dict(valid_to="2024-06-30"), dict(lang="zh"), dict(),
    ]
    chunks = [Chunk(id=f"c{i}", doc_id="e" if s.get("lang") == "zh" else "d", source="zh.md" if s.get("lang") == "zh"
                    else "s.md", position=i, text=f"text number {i}", **s) for i, s in enumerate(specs)]
    kb = KnowledgeBase(kb_home, "f")
    build_version(kb, hashing, [doc, doc2], chunks, {"d": "h", "e": "h2"})
    v = kb.load_live()
    filters = [
        Filters.of(groups=[]), Filters.of(groups=["staff"]), Filters.of(groups=["vip"], tags=["eu"]),
        Filters.of(tags=["returns"], on_date=dt.date(2024, 1, 1)), Filters.of(lang="zh"),
        Filters.of(sources=["zh.md"]), Filters.of(on_date=dt.date(2024, 5, 1)), Filters.of(lang="fr"),
        Filters.of(tags=["nosuch", "eu"]), None,
    ]
    today = dt.date(2026, 1, 1)
    for f in filters:
        mask = v.allowed_mask(f, today=today)
        got = np.ones(len(chunks), bool) if mask is None else mask
        expected = [(f or Filters()).allows(c, today=today) for c in chunks]
        assert got.tolist() == expected, f
    mask = v.allowed_mask(Filters.of(lang="zh"), today=today)
    assert mask is not None and not mask.flags.writeable  # cached masks are shared read-only


def test_a_filter_naming_only_unknown_tags_or_sources_is_refused_with_suggestions(
    kb_home: Path, hashing  # type: ignore[no-untyped-def]
) -> None:
    doc = Document(id="d", source="returns.md", title="T", lang="en")
    hidden = Document(id="h", source="internal/escalation.md", title="H", lang="en")
    chunks = [
        Chunk(id="c0", doc_id="d", source="returns.md", position=0, text="returns within 30 days", tags=("returns",)),
        Chunk(id="c1", doc_id="h", source="internal/escalation.md", position=0, text="escalate to tier 2",
              groups=("staff",), tags=("escalation",)),
    ]
    kb = KnowledgeBase(kb_home, "names")
    build_version(kb, hashing, [doc, hidden], chunks, {"d": "h1", "h": "h2"})
    v = kb.load_live()
    with pytest.raises(InputError) as err:
        v.allowed_mask(Filters.of(tags=["retruns"]))
    assert str(err.value) == (
        "no document has the tag 'retruns' (did you mean 'returns'?); "
        "write tags as the documents carry them, or leave the tag filter out"
    )
    with pytest.raises(InputError, match=r"no document has any of the sources 'a\.md', 'returns'"):
        v.allowed_mask(Filters.of(sources=["a.md", "returns"]))
    # a name on documents outside the user's groups is unknown to that user, and never suggested
    with pytest.raises(InputError, match=r"^no document has the tag 'escalation'; write tags"):
        v.allowed_mask(Filters.of(groups=[], tags=["escalation"]))
    with pytest.raises(InputError, match=r"^no document has the source 'internal/escalation\.md'; write sources"):
        v.allowed_mask(Filters.of(groups=["vip"], sources=["internal/escalation.md"]))
    with pytest.raises(InputError, match=r"^no document has the tag 'escalatoin'; write tags"):
        v.allowed_mask(Filters.of(groups=[], tags=["escalatoin"]))  # no suggestion of a hidden tag
    # the names are quoted cut short: 100 tags of 5,000 characters made a 500 KB message
    with pytest.raises(InputError) as err:
        v.allowed_mask(Filters.of(tags=[f"{i}" + "t" * 5000 for i in range(100)]))
    said = str(err.value)
    assert len(said) < 300 and said.startswith("no document has any of the tags '0ttt") and " and 97 more;" in said
    with pytest.raises(InputError, match=r"^no document has the source 'sss[s]*\.\.\.'; write sources"):
        v.allowed_mask(Filters.of(sources=["s" * 1500] * 500))  # one name, sent 500 times
    # staff may see it; a list with one known name is left alone
    for f, keeps in ((Filters.of(groups=["staff"], tags=["escalation"]), [False, True]),
                     (Filters.of(tags=["nosuch", "returns"]), [True, False])):
        mask = v.allowed_mask(f)
        assert mask is not None and mask.tolist() == keeps
    v.close()


def test_a_short_chinese_tag_is_suggested_by_a_character_it_shares(
    kb_home: Path, hashing  # type: ignore[no-untyped-def]
) -> None:
    # a university's '退款' (refund) and '学废' (a typo) got no "did you mean": one character of two
    # in common is a likeness of 0.5, below the 0.75 a Latin name needs
    doc = Document(id="d", source="学费与退费管理办法.md", title="T", lang="zh")
    chunks = [Chunk(id=f"c{i}", doc_id="d", source="学费与退费管理办法.md", position=i, text=f"第{i}条", tags=(t,))
              for i, t in enumerate(("退费", "通知", "学费"))]
    kb = KnowledgeBase(kb_home, "uni")
    build_version(kb, hashing, [doc], chunks, {"d": "h1"})
    v = kb.load_live()
    for typed, said in (("退款", "'退费'"), ("学废", "'学费'"), ("费", "'学费' or '退费'")):
        with pytest.raises(InputError, match=rf"^no document has the tag '{typed}' \(did you mean {said}\?\); "):
            v.allowed_mask(Filters.of(tags=[typed]))
    for typed in ("款项", "奖学金"):  # nothing in common, or one character of three
        with pytest.raises(InputError, match=rf"^no document has the tag '{typed}'; write tags"):
            v.allowed_mask(Filters.of(tags=[typed]))
    v.close()


def test_did_you_mean_keeps_latin_names_to_their_cutoff() -> None:
    from indexes.types import did_you_mean

    # half the letters in common is no likeness for Latin names, nor for a Chinese one beside a
    # Latin or mixed name (a file's name: '通知.md' and '学费.md' share '.md')
    assert did_you_mean(["tv"], ["to", "returns"]) == ""
    assert did_you_mean(["通知.md"], ["学费.md"]) == did_you_mean(["退费"], ["refund", "2024退费规定"]) == ""
    assert did_you_mean(["retruns"], ["returns"]) == " (did you mean 'returns'?)"
    assert did_you_mean(["退费.md"], ["docs/退款.md"]) == " (did you mean 'docs/退款.md'?)"


def test_a_filter_naming_only_documents_not_valid_on_its_day_is_refused_without_suggesting_them(
    kb_home: Path, hashing  # type: ignore[no-untyped-def]
) -> None:
    # a public key was told "did you mean 'offers/launch_offer.md'?" of an offer not launched yet,
    # and a filter on that source was answered (with nothing) where one on a staff-only source was
    # refused: both told it the document was there
    docs = [Document(id=i, source=f"offers/{i}_offer.md", title=i, lang="en") for i in ("launch", "spring")]
    chunks = [
        Chunk(id="c0", doc_id="launch", source="offers/launch_offer.md", position=0, text="launch code LAUNCH-1",
              valid_from="2027-01-01", tags=("launch",)),
        Chunk(id="c1", doc_id="spring", source="offers/spring_offer.md", position=0, text="spring code SPRING-2",
              valid_to="2026-05-31"),
    ]
    kb = KnowledgeBase(kb_home, "dated")
    build_version(kb, hashing, docs, chunks, {"launch": "h1", "spring": "h2"})
    v = kb.load_live()
    today = dt.date(2026, 12, 7)
    for f in (Filters.of(sources=["offers/launch_offer"]), Filters.of(groups=[], sources=["offers/spring_offr.md"])):
        with pytest.raises(InputError) as err:
            v.allowed_mask(f, today=today)
        assert "did you mean" not in str(err.value) and str(err.value).endswith(
            "lists them (of the documents valid on 2026-12-07; another day: on_date), or leave the source filter out"
        ), str(err.value)
    with pytest.raises(InputError, match=r"^no document has the tag 'launch'; "):
        v.allowed_mask(Filters.of(tags=["launch"]), today=today)
    # on a day they are valid, they are named and suggested as any other
    assert v.allowed_mask(Filters.of(sources=["offers/launch_offer.md"], on_date=dt.date(2027, 2, 1))) is not None
    with pytest.raises(InputError, match=r"did you mean 'offers/spring_offer\.md'\?"):
        v.allowed_mask(Filters.of(sources=["offers/spring_offr.md"], on_date=dt.date(2026, 5, 1)))
    v.close()


def test_not_found_and_embedder_mismatch(kb_home: Path, built_kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseNotFound, match="kb ingest"):
        KnowledgeBase(kb_home, "empty").load_live()
    with pytest.raises(EmbedderMismatchError) as err:
        built_kb.load_live("sentence-transformers:all-MiniLM-L6-v2")
    assert "hashing:64" in str(err.value) and "kb reindex" in str(err.value)
    built_kb.load_live("hashing:64").close()


def test_damaged_version_raises_with_a_fix(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    build_version(built_kb, hashing, docs, chunks[:4], hashes)  # a second version
    live = built_kb.live_version()
    assert live is not None
    path = built_kb.versions_dir / live / "bm25.npz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(IndexCorruptError) as err:
        built_kb.load_live()
    msg = str(err.value)
    assert "damaged" in msg and "kb reindex" in msg and "CURRENT" in msg
    (built_kb.versions_dir / live / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError):
        built_kb.load_live()


def test_publish_gc_keeps_versions_and_copy_reuses_vectors(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    first = built_kb.live_version()
    prev = built_kb.load_live()
    calls = hashing.calls
    w = built_kb.begin_version(hashing.id, hashing.dim, {})
    n = w.copy_documents_from(prev, [docs[0].id, docs[3].id])
    built_kb.publish(w)
    assert hashing.calls == calls  # nothing re-embedded
    v2 = built_kb.load_live()
    assert n == v2.n_chunks == 3 + len([c for c in chunks if c.doc_id == docs[3].id])
    assert v2.manifest["counts"]["question_vectors"] == 2 and v2.manifest["parent"] == first
    np.testing.assert_array_equal(v2.vectors_of([chunks[0].id]), prev.vectors_of([chunks[0].id]))
    build_version(built_kb, hashing, docs, chunks, hashes)
    assert len(built_kb.versions()) == 2 and first not in built_kb.versions()  # keep_versions=2
    assert built_kb.live_version() == built_kb.versions()[-1]


def test_discard_leaves_nothing(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    live = built_kb.live_version()
    w = built_kb.begin_version(hashing.id, hashing.dim, {})
    built_kb.discard(w)
    assert not w.path.exists() and built_kb.live_version() == live


def test_lock_contention_and_crashed_holder(kb_home: Path) -> None:
    kb = KnowledgeBase(kb_home, "locky")
    proc = _python(f"""
        import time
        from pathlib import Path
        from indexes.kbase import KnowledgeBase
        kb = KnowledgeBase(Path({str(kb_home)!r}), "locky")
        with kb.lock(what="reindex job"):
            print("locked", flush=True)
            time.sleep(120)
    """)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as err:
            with kb.lock():
                pass
        assert f"pid {proc.pid}" in str(err.value) and "reindex job" in str(err.value)
        with pytest.raises(LockedError):
            with kb.lock(timeout=0.2):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with kb.lock(timeout=5, what="after crash"):  # the kernel released the dead holder's lock
        with pytest.raises(LockedError, match="already locked by this process"):
            with kb.lock():
                pass
    with kb.lock():
        pass


STAGES = ["finalize:store", "finalize:faiss", "finalize:bm25", "finalize:manifest",
          "publish:before_rename", "publish:before_pointer", "publish:after_pointer"]


@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_during_finalize_or_publish_keeps_a_live_version(built_kb: KnowledgeBase, stage: str) -> None:
    before = built_kb.live_version()
    proc = _python(f"""
        import os, signal
        from pathlib import Path
        from indexes.embedders import get_embedder
        from indexes.kbase import KnowledgeBase
        from tests.indexes.conftest import build_version, corpus_docs

        def die(at):
            if at == {stage!r}:
                os.kill(os.getpid(), signal.SIGKILL)

        KnowledgeBase.fault_hook = staticmethod(die)
        kb = KnowledgeBase(Path({str(built_kb.home)!r}), "acme")
        docs, chunks, hashes = corpus_docs()
        with kb.lock(what="ingest"):
            build_version(kb, get_embedder("hashing:64"), docs[:1], chunks[:3], hashes)
        print("survived")
    """)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    kb = KnowledgeBase(built_kb.home, "acme")
    v = kb.load_live()
    if stage == "publish:after_pointer":
        assert v.version != before and v.n_chunks == 3
    else:
        assert v.version == before and v.n_chunks == len(corpus_docs()[1])
    assert v.keyword_search("refund", 3)
    v.close()
    # the next writer gets the lock and GC removes the dead writer's temp directory
    from indexes.embedders import get_embedder

    docs, chunks, hashes = corpus_docs()
    with kb.lock(timeout=5):
        build_version(kb, get_embedder("hashing:64"), docs, chunks, hashes)
    assert not kb.tmp_dir.exists() or not any(kb.tmp_dir.iterdir())
    assert not list(kb.path.glob(".CURRENT.tmp-*"))
    assert kb.load_live().n_chunks == len(chunks)


def test_embedding_cache_hits_and_misses(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    kb = KnowledgeBase(kb_home, "cache")
    cache = kb.embedding_cache
    texts = ["alpha", "beta", "gamma"]
    assert cache.get_many(hashing.id, texts) == {}
    assert (cache.hits, cache.misses) == (0, 3)
    vecs = hashing.embed(texts)
    cache.put_many(hashing.id, texts[:2], vecs[:2])
    got = cache.get_many(hashing.id, texts)
    assert sorted(got) == [0, 1] and (cache.hits, cache.misses) == (2, 4)
    np.testing.assert_array_equal(got[1], vecs[1])
    assert cache.get_many("hashing:128", texts[:2]) == {}  # keyed by embedder id too
    assert cache.count() == 2
    # persisted across instances
    again = KnowledgeBase(kb_home, "cache").embedding_cache.get_many(hashing.id, ["beta"])
    np.testing.assert_array_equal(again[0], vecs[1])


def test_package_never_uses_pickle() -> None:
    banned = re.compile(r"import (c?pickle|joblib|dill|shelve)|from (c?pickle|joblib|dill|shelve)|pickle\.|"
                        r"allow_pickle=True|torch\.load")
    for path in INDEXES_DIR.glob("*.py"):
        assert not banned.search(path.read_text(encoding="utf-8")), path
    # every np.load call in the package says allow_pickle=False
    for path in INDEXES_DIR.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "np.load(" in line:
                assert "allow_pickle=False" in line, (path, line)


def test_load_and_search_with_pickle_disabled(built_kb: KnowledgeBase, hashing, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("pickle used while loading a knowledge base")

    monkeypatch.setattr(pickle, "load", boom)
    monkeypatch.setattr(pickle, "loads", boom)
    monkeypatch.setattr(pickle, "Unpickler", boom)
    v = KnowledgeBase(built_kb.home, "acme").load_live("hashing:64")
    assert v.vector_search(hashing.embed(["refund"])[0], 2)
    assert v.keyword_search("warranty", 2)
    for name in os.listdir(v.path):  # only FAISS, raw float32, npz, JSON and SQLite files
        assert name.endswith((".faiss", ".f32", ".npz", ".json", ".sqlite")), name
    json.loads((v.path / "manifest.json").read_text())


def test_sharded_knowledge_base_matches_unsharded(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    a = KnowledgeBase(kb_home, "one")
    b = KnowledgeBase(kb_home, "three", shards=3)
    build_version(a, hashing, docs, chunks, hashes)
    build_version(b, hashing, docs, chunks, hashes)
    va, vb = a.load_live(), b.load_live()
    assert vb.manifest["index"]["shards"] == 3
    for q in ("refund in 30 days", "warranty defects", "ship to Canada"):
        qv = hashing.embed([q])[0]
        assert va.vector_search(qv, 5) == vb.vector_search(qv, 5)


def test_ivf_knowledge_base(kb_home: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    docs, chunks, hashes = corpus_docs()
    kb = KnowledgeBase(kb_home, "ivf", flat_max=2, nprobe=4)
    build_version(kb, hashing, docs, chunks, hashes)
    v = kb.load_live()
    assert v.manifest["index"]["kind"] == "ivf" and kb.status()["index_kind"] == "ivf"
    assert len(v.vector_search(hashing.embed(["refund"])[0], 3)) == 3



def test_an_open_version_survives_gc_and_concurrent_queries(built_kb: KnowledgeBase, hashing) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    old = built_kb.load_live()
    docs, chunks, hashes = corpus_docs()
    for _ in range(2):  # keep_versions=2: the old directory is removed
        build_version(built_kb, hashing, docs, chunks[:4], hashes)
    assert not old.path.exists()
    queries = ["refund", "warranty water damage", "ship to Canada", "退货 运费"] * 10
    qvecs = hashing.embed(queries)

    def work(i: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]], str]:
        hits = old.vector_search(qvecs[i], 3)
        return hits, old.keyword_search(queries[i], 3), old.get_chunks([hits[0][0]])[0].id

    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(work, range(len(queries))))
    assert parallel == [work(i) for i in range(len(queries))]
    assert old.n_chunks == len(chunks)


@pytest.mark.integration
def test_knowledge_base_with_the_real_minilm(kb_home: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    emb = real_embedder
    docs, chunks, hashes = corpus_docs()
    kb = KnowledgeBase(kb_home, "real")
    build_version(kb, emb, docs, chunks, hashes)
    v = kb.load_live("sentence-transformers:all-MiniLM-L6-v2")
    assert v.dim == 384 and v.manifest["embedder"]["id"] == "sentence-transformers:all-MiniLM-L6-v2"
    q = emb.embed(["Can I get my money back if I send the product back?"], kind="query")[0]
    top = v.get_chunks([r for r, _ in v.vector_search(q, 2)])
    assert top[0].source == "policies/returns.md"
    faq = v.vector_search(emb.embed(["Is delivery to Canada possible?"], kind="query")[0], 1, kind="question")
    assert v.get_chunks([faq[0][0]])[0].faq_id == "0002"
    with pytest.raises(EmbedderMismatchError):
        kb.load_live("hashing:64")


def test_a_keyword_index_built_before_the_script_folding_is_searched_as_it_was_built(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # an index whose chunks were analysed without reading Traditional Chinese as Simplified keeps its
    # Traditional terms: a query folded to Simplified would miss them until `kb reindex`
    import indexes.kbase as kbase
    from indexes.text import phrase_terms, tokenize

    text = "退貨須在簽收後 30 天內申請。"
    chunk = Chunk(id="c1", doc_id="d1", source="returns.md", position=0, text=text, title="退貨", lang="zh")

    english = Chunk(id="c2", doc_id="d2", source="en.md", position=0, text="Returns within 30 days.", lang="en")

    def build(name: str, chunks: tuple[Chunk, ...] = (chunk,)) -> KnowledgeBase:
        kb = KnowledgeBase(kb_home, name)
        docs = [Document(id=c.doc_id, source=c.source, title=c.title, lang=c.lang) for c in chunks]
        build_version(kb, hashing, docs, list(chunks), {c.doc_id: "h" for c in chunks})
        return kb

    now = build("now").load_live()
    with monkeypatch.context() as m:  # the analysis before the folding
        m.setattr(kbase, "tokenize", lambda t, *a, **k: tokenize(t, fold=False))
        m.setattr(kbase, "keyword_features", lambda t, *a, **k: phrase_terms(t, fold=False))
        m.setattr(kbase, "ANALYZER", "")
        old = build("before")
        old_english = build("before-en", (english,))
    with caplog.at_level("INFO", logger="indexes.kbase"):
        before = old.load_live()
        old_english.load_live().close()  # folding changes nothing in English: no reindex hint
    hints = [r.getMessage() for r in caplog.records if "reads Traditional and Simplified" in r.getMessage()]
    assert len(hints) == 1 and hints[0].startswith("knowledge base before version "), hints
    assert now.bm25.analyzer == kbase.ANALYZER and before.bm25.analyzer == ""
    for index in (now, before):
        assert index.keyword_search("退貨申請", 1), index.bm25.analyzer  # as the chunk is written
    assert now.keyword_search("退货申请", 1)  # and, once folded, in the other script
    assert not before.keyword_search("退货申请", 1)


def test_a_hyphenated_word_and_the_word_written_closed_find_each_other(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "how to contact support by email" held every word of "e-mail support@acme.example" but
    # "email", and was refused; an index built before the closed forms is searched as it was built
    import indexes.kbase as kbase
    from indexes.text import tokenize

    chunks = (
        Chunk(id="c1", doc_id="d1", source="contact.md", position=0, text="Write to us by e-mail.", title="Contact", lang="en"),
        Chunk(id="c2", doc_id="d2", source="repairs.md", position=0, text="Acme arranges free pick-up of repairs.",
              title="Repairs", lang="en"),
        Chunk(id="c3", doc_id="d3", source="other.md", position=0, text="Mail and parcels.", title="Other", lang="en"),
    )

    def build(name: str) -> IndexVersion:
        return _live_version(kb_home, hashing, name, chunks)

    assert tokenize("e-mail") == ["e", "mail", "email"] and tokenize("e-mail", joins=False) == ["e", "mail"]
    assert tokenize("covid-19") == ["covid", "19"]  # letters only
    now = build("now")
    assert [r for r, _ in now.keyword_search("email", 1)] == [0]
    assert [r for r, _ in now.keyword_search("pickup", 1)] == [1]
    # a question that hyphenates the word finds it by its parts, as before
    assert [r for r, _ in now.keyword_search("e-mail", 1)] == [0]
    assert now.keyword_index_behind() == []
    with monkeypatch.context() as m:  # the analysis before the closed forms
        m.setattr(kbase, "tokenize", lambda t, *a, **k: tokenize(t, fold=k.get("fold", True), joins=False))
        m.setattr(kbase, "ANALYZER", "t2s+chars+us")
        before = build("before")
    assert not before.keyword_search("email", 1)
    assert before.keyword_index_behind() == ["reads a hyphenated word (e-mail) apart from the word written closed (email)"]


def test_the_united_states_is_one_term_however_written_and_us_a_stop_word(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the demo's "Do you ship to the US?" opened its answer with "You have 7 days to pick it up; after
    # that it is returned to us and refunded": the pronoun matched the country, while the "U.S." of
    # a page that writes it so was the letter u. An index built before is searched as it was built
    import functools

    import indexes.kbase as kbase
    from indexes.text import tokenize

    assert tokenize("Do you ship to the US?") == tokenize("ship to the U.S.A.") == ["ship", "usa"]
    assert tokenize("It is returned to us") == ["return"] and tokenize("CONTACT US") == ["contact"]
    assert tokenize("US FDA approval") == ["usa", "fda", "approv"]
    assert tokenize("It is returned to us", us=False) == ["return", "us"]
    chunks = [
        Chunk(id="c1", doc_id="d1", source="intl.md", position=0, text="We ship to the U.S. and Canada.",
              title="International", lang="en"),
        Chunk(id="c2", doc_id="d2", source="pickup.md", position=0, text="After 7 days it is returned to us.",
              title="Pickup", lang="en"),
    ]

    def build(name: str) -> IndexVersion:
        return _live_version(kb_home, hashing, name, chunks)

    now = build("now")
    assert [r for r, _ in now.keyword_search("Do you ship to the US?", 2)] == [0]
    assert now.keyword_index_behind() == []
    with monkeypatch.context() as m:  # the analysis before
        m.setattr(kbase, "tokenize", functools.partial(tokenize, us=False))
        m.setattr(kbase, "keyword_features", functools.partial(kbase.keyword_features, us=False))
        m.setattr(kbase, "ANALYZER", "t2s+chars+joins+nums+words")
        before = build("before")
    assert before.keyword_index_behind() == ['reads "US" as the word "us", and "U.S." apart from it']
    # searched as built: the pronoun still matches the country
    assert sorted(r for r, _ in before.keyword_search("Do you ship to the US?", 2)) == [0, 1]


def test_an_english_keyword_index_is_behind_only_when_built_before_its_analysis_was_recorded(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Traditional folding and Chinese characters change nothing in English, so an English index
    # analysed without them is current; one from before the analysis was recorded may lack the
    # negations in its phrase terms, and the next ingest rebuilds it
    import indexes.kbase as kbase

    chunk = Chunk(id="c1", doc_id="d1", source="returns.md", position=0,
                  text="Gift cards can't be returned.", title="Returns", lang="en")
    doc = Document(id="d1", source="returns.md", title="Returns", lang="en")
    behind: dict[str, list[str]] = {}
    for analyzer in ("", "t2s", kbase.ANALYZER):
        monkeypatch.setattr(kbase, "ANALYZER", analyzer)
        kb = KnowledgeBase(kb_home, f"en{len(behind)}")
        build_version(kb, hashing, [doc], [chunk], {"d1": "h"})
        behind[analyzer] = kb.load_live().keyword_index_behind()
    assert behind == {"": ["predates 2026-12-02 and may leave negations out of its phrase terms"],
                      "t2s": ["reads a hyphenated word (e-mail) apart from the word written closed (email)",
                              'reads "US" as the word "us", and "U.S." apart from it'],
                      kbase.ANALYZER: []}


def test_words_jiebas_dictionary_lacks_are_words_of_the_keyword_index(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA 2026-12-06: jieba cut "可以用微信交吗" into 用微 / 信交, which no passage holds: coverage 0, and
    the follow-up was refused. 微信 is a word now (indexes.text.ZH_EXTRA_WORDS); an index built
    before is searched with the plain dictionary it was built with, until rebuilt."""
    import functools

    import indexes.kbase as kbase
    from indexes.text import tokenize

    deposit = Chunk(id="c1", doc_id="d1", source="deposit.md", position=0, text="住院押金5000元，可使用现金、银行卡、微信或支付宝。",
                    title="住院押金", lang="zh")
    other = Chunk(id="c2", doc_id="d2", source="visit.md", position=0, text="探视时间为每天15:00至20:00。", title="探视", lang="zh")

    def build(name: str) -> IndexVersion:
        return _live_version(kb_home, hashing, name, (deposit, other))

    assert "微信" in tokenize("可以用微信交吗？") and "微信" not in tokenize("可以用微信交吗？", words=False)
    now = build("now")
    held, unheld = now.keyword_coverage("可以用微信交吗？", [[0], [1]])
    assert held > 0 and unheld == 0  # 微信 (of 用, 微信, 交)
    with monkeypatch.context() as m:  # the analysis before the added words
        m.setattr(kbase, "tokenize", functools.partial(tokenize, words=False))
        m.setattr(kbase, "keyword_features", functools.partial(kbase.keyword_features, words=False))
        m.setattr(kbase, "ANALYZER", "t2s+chars+joins+nums+us")
        before = build("before")
    assert before.keyword_index_behind() == ["cuts words jieba's dictionary lacks (微信, 小程序) into pieces"]
    # searched as built: the question is cut as the chunks were, and finds its chunk by its characters
    assert [r for r, _ in before.keyword_search("可以用微信交吗？", 1)] == [0]
    assert before.keyword_coverage("可以用微信交吗？", [[0]]) == [0.0]  # 用微, 信交: nothing it holds
    assert now.keyword_index_behind() == []


def test_chinese_is_also_matched_by_its_characters_where_the_words_are_cut_otherwise(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # jieba cuts a customer's wording otherwise than the page's: "要交年费吗" is one unknown word to it
    # (交年费), which no chunk holds, and "不能退" keeps 退 alone, which a page writing 退货 never
    # matches. Each character is a keyword feature too, so both find their chunk; an index built
    # before the character features is searched as it was built, with a hint to rebuild it.
    import indexes.kbase as kbase
    from indexes.text import tokenize

    fee = Chunk(id="c1", doc_id="d1", source="card.md", position=0, text="普卡首年免年费，刷卡满6次免次年年费。",
                title="信用卡年费怎么收", lang="zh")
    items = Chunk(id="c2", doc_id="d2", source="returns.md", position=0,
                  text="礼品卡、定制商品和生鲜食品不支持无理由退货。", title="不可退货的商品", lang="zh")
    other = Chunk(id="c3", doc_id="d3", source="points.md", position=0, text="积分有效期为12个月。", title="积分", lang="zh")
    chunks = (fee, items, other)

    def build(name: str) -> IndexVersion:
        return _live_version(kb_home, hashing, name, chunks)

    assert "年费" not in tokenize("要交年费吗") and "退" in tokenize("什么商品不能退")  # the cuts this is about
    now = build("now")
    assert now.bm25.analyzer == kbase.ANALYZER
    assert [r for r, _ in now.keyword_search("要交年费吗", 1)] == [0]
    assert [r for r, _ in now.keyword_search("什么商品不能退", 1)] == [1]
    assert [r for r, _ in now.keyword_search("積分有效期", 1)] == [2]  # Traditional characters read as Simplified
    # coverage still counts the question's words, not its characters: nothing the page holds as a word
    assert now.keyword_coverage("要交年费吗", [[0]]) == [0.0]
    with monkeypatch.context() as m:  # the analysis before the character features
        m.setattr(kbase, "keyword_features", lambda t, *a, **k: kbase.phrase_terms(t))
        m.setattr(kbase, "ANALYZER", "t2s")
        with caplog.at_level("INFO", logger="indexes.kbase"):
            before = build("before")
    assert not before.keyword_search("要交年费吗", 1)
    hints = [r.getMessage() for r in caplog.records if "not by their characters" in r.getMessage()]
    assert len(hints) == 1 and "kb reindex --kb before" in hints[0], hints
    assert before.keyword_index_behind() == [
        "matches Chinese by jieba's words only, not by their characters",
        "reads Chinese numerals (第十二条, 十五天) apart from digits (第12条, 15天)",
        "cuts words jieba's dictionary lacks (微信, 小程序) into pieces",
        "reads a hyphenated word (e-mail) apart from the word written closed (email)",
        'reads "US" as the word "us", and "U.S." apart from it',
    ]
    assert now.keyword_index_behind() == []
    # the next version analyses every chunk again, those it copies from the older one too
    kb = KnowledgeBase(kb_home, "before")
    w = kb.begin_version(hashing.id, hashing.dim, {"chunk_tokens": 128})
    w.copy_documents_from(before, [c.doc_id for c in chunks])
    w.finalize()
    kb.publish(w)
    after = kb.load_live()
    assert after.bm25.analyzer == kbase.ANALYZER and [r for r, _ in after.keyword_search("要交年费吗", 1)] == [0]
    assert after.keyword_index_behind() == []


def test_chinese_numerals_and_digits_find_each_other(
    kb_home: Path, hashing: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a policy writes 第十二条 and 三十日, a customer types 第12条 and 30天 (or the other way round):
    # jieba cuts the two forms into no common word, so the keyword index reads such numbers as digits
    import indexes.kbase as kbase

    chunks = (
        Chunk(id="c1", doc_id="d1", source="terms.md", position=0, title="保险条款",
              text="第十二条 被保险人应当在事故发生后三十日内提出理赔申请。", lang="zh"),
        Chunk(id="c2", doc_id="d2", source="terms2.md", position=0, title="保险条款",
              text="第21条 等待期为90天，等待期内发生的疾病不予赔付。", lang="zh"),
        Chunk(id="c3", doc_id="d3", source="faq.md", position=0, title="退货",
              text="支持7天无理由退货，补办卡片收取工本费贰拾元。", lang="zh"),
    )

    def build(name: str) -> IndexVersion:
        return _live_version(kb_home, hashing, name, chunks)

    now = build("now")
    assert [r for r, _ in now.keyword_search("第12条说了什么", 1)] == [0]
    assert [r for r, _ in now.keyword_search("30天内申请理赔", 1)] == [0]
    assert [r for r, _ in now.keyword_search("第二十一条", 1)] == [1]
    assert [r for r, _ in now.keyword_search("等待期是九十天吗", 1)] == [1]
    assert [r for r, _ in now.keyword_search("七天无理由", 1)] == [2]
    assert [r for r, _ in now.keyword_search("工本费20元", 1)] == [2]
    # an index built before is searched as its chunks were analysed (numerals as written), and says so
    with monkeypatch.context() as m:
        m.setattr(kbase, "ANALYZER", "t2s+chars+joins+words+us")
        m.setattr(kbase, "tokenize", functools.partial(kbase.tokenize, nums=False))
        m.setattr(kbase, "keyword_features", functools.partial(kbase.keyword_features, nums=False))
        before = build("before")
    assert before.keyword_index_behind() == [
        "reads Chinese numerals (第十二条, 十五天) apart from digits (第12条, 15天)"
    ]
    assert [r for r, _ in before.keyword_search("第十二条", 1)] == [0]
