"""The incremental pipeline with the hashing embedder: added/updated/unchanged/deleted, zero
embedder work for unchanged files, deleted content unretrievable, failures reported."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexes.kbase import KnowledgeBase
from ingest.pipeline import delete_sources, ingest_paths
from kb.errors import InputError


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "returns.md").write_text(
        "# Returns\n\nYou have 30 days to return an item. The zebracorn clause applies.\n\n"
        "## Exceptions\n\nGift cards cannot be returned.\n",
        encoding="utf-8",
    )
    (docs / "policies" / "shipping.md").write_text(
        "# Shipping\n\nStandard shipping takes 3 to 5 business days. Express is next day.\n", encoding="utf-8"
    )
    (docs / "zh.md").write_text("# 退换货政策\n\n非质量问题的退货运费由买家承担。质量问题由卖家承担。\n", encoding="utf-8")
    (docs / "faq.csv").write_text(
        "id,question,answer\n1,How long does shipping take?,Three to five days.\n"
        "2,Can I pay with a marmotcard?,Yes we accept marmotcards.\n",
        encoding="utf-8",
    )
    (docs / ".hidden.md").write_text("# hidden\n\nnever indexed\n", encoding="utf-8")
    return docs


def all_chunks(index):  # type: ignore[no-untyped-def]
    return index.get_chunks(list(range(index.n_chunks)))


def ingest(kb: KnowledgeBase, docs: Path, emb, **kw):  # type: ignore[no-untyped-def]
    return ingest_paths(kb, [docs], emb, chunk_tokens=64, chunk_overlap=8, **kw)


def test_first_ingest_and_unchanged_reingest_embeds_nothing(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    r1 = ingest(kb, docs, fake_embedder)
    assert (r1.added, r1.updated, r1.unchanged, r1.deleted, r1.failed) == (4, 0, 0, 0, [])
    assert r1.index_version == kb.live_version() and r1.published
    index = kb.load_live()
    sources = {d.source for d in index.documents()}
    assert sources == {"policies/returns.md", "policies/shipping.md", "zh.md", "faq.csv"}
    chunks = all_chunks(index)
    assert r1.chunks == index.n_chunks == len(chunks)
    faq = [c for c in chunks if c.faq_id]
    assert {c.source_id for c in faq} == {"faq.csv#1", "faq.csv#2"}
    assert all(c.heading_path for c in chunks if not c.faq_id)
    # FAQ chunks carry a question vector
    qv = fake_embedder.embed(["Can I pay with a marmotcard?"], kind="query")[0]
    rows = index.vector_search(qv, 1, kind="question")
    assert index.get_chunks([rows[0][0]])[0].faq_id == "2"
    index.close()

    calls, texts = fake_embedder.calls, fake_embedder.texts_embedded
    r2 = ingest(kb, docs, fake_embedder)
    assert (r2.added, r2.updated, r2.unchanged, r2.deleted) == (0, 0, 4, 0)
    assert r2.index_version == r1.index_version and not r2.published
    assert (fake_embedder.calls, fake_embedder.texts_embedded) == (calls, texts)
    assert r2.to_dict().keys() == {
        "kb", "index_version", "added", "updated", "unchanged", "deleted", "deleted_sources", "failed", "warnings",
        "chunks", "seconds"
    }
    assert r2.chunks == r1.chunks


def _status(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """What `kb status --json` says of the keyword index of knowledge base "t" under ``home``."""
    return _status_of(home, monkeypatch, "keyword_index")


def _status_of(home: Path, monkeypatch: pytest.MonkeyPatch, key: str) -> str:
    """What `kb status --json` says under ``key`` of knowledge base "t" under ``home``."""
    import json

    from kb.cli import main as kb_main
    from kb.settings import reset_settings_cache

    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    reset_settings_cache()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            kb_main(["status", "--kb", "t", "--json"])
    except SystemExit as ex:
        assert not ex.code, out.getvalue()
    finally:
        reset_settings_cache()
    return str(json.loads(out.getvalue())[key])


def test_an_unchanged_ingest_rebuilds_a_keyword_index_built_by_older_code(
    kb_home: Path, tmp_path: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    # A knowledge base built before Chinese was matched by its characters keeps being searched as it
    # was built; `kb ingest` of the same files (what an eval work dir or a nightly job runs) publishes
    # a version with the keyword index rebuilt from the stored chunks, re-embedding nothing, once.
    import indexes.kbase as kbase

    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    with monkeypatch.context() as m:  # the analysis before the character features
        m.setattr(kbase, "keyword_features", lambda t, *a, **k: kbase.phrase_terms(t))
        m.setattr(kbase, "ANALYZER", "t2s+joins+nums+words+us")
        r1 = ingest(kb, docs, fake_embedder)
    old = kb.load_live()
    assert old.keyword_index_behind() == ["matches Chinese by jieba's words only, not by their characters"]
    assert not old.keyword_search("买方担责吗", 3)  # its words (买方, 担责) are none of the page's
    old.close()
    assert "built by older code: it matches Chinese by jieba's words only" in _status(kb_home, monkeypatch)

    calls, texts = fake_embedder.calls, fake_embedder.texts_embedded
    r2 = ingest(kb, docs, fake_embedder)
    assert (r2.added, r2.updated, r2.unchanged, r2.deleted, r2.failed) == (0, 0, 4, 0, [])
    assert r2.published and r2.index_version != r1.index_version == kb.load_live().manifest["parent"]
    assert r2.keyword_rebuilt == ["matches Chinese by jieba's words only, not by their characters"]
    assert (fake_embedder.calls, fake_embedder.texts_embedded) == (calls, texts) and r2.chunks == r1.chunks
    new = kb.load_live()
    assert new.bm25.analyzer == kbase.ANALYZER and new.keyword_index_behind() == []
    hit = new.keyword_search("买方担责吗", 3)  # 买 of 买家, 担 of 承担
    assert hit and new.get_chunks([hit[0][0]])[0].source == "zh.md"
    new.close()
    assert _status(kb_home, monkeypatch) == "current"
    r3 = ingest(kb, docs, fake_embedder)  # now current: nothing to publish
    assert not r3.published and r3.index_version == r2.index_version and not r3.keyword_rebuilt


def test_curated_questions_are_embedded_without_closing_marks_and_older_ones_again(
    kb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a query is embedded without its closing "?" (one token, about 1 ms, fewer), and curated
    # questions are embedded so too, so that both sides are matched alike. A version that embedded
    # its questions with their marks is searched with them, and the next ingest, even of another
    # file, embeds its kept questions again
    import ingest.chunking as chunking
    import ingest.pipeline as pipeline
    from indexes.embedders import HashingEmbedder
    from rag.retrieval import HybridRetriever

    class Recording(HashingEmbedder):
        def __init__(self) -> None:
            super().__init__(64)
            self.seen: list[tuple[str, str]] = []

        def embed(self, texts, kind="passage"):  # type: ignore[no-untyped-def]
            self.seen += [(kind, t) for t in texts]
            return super().embed(texts, kind)

    emb = Recording()
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    with monkeypatch.context() as m:  # as code before the bare form embedded them
        m.setattr(pipeline, "bare_question", lambda t: t)
        old_settings = chunking.ChunkSettings.as_dict
        m.setattr(chunking.ChunkSettings, "as_dict", lambda self: {
            k: v for k, v in old_settings(self).items() if k != "question_form"
        })
        ingest(kb, docs, emb)
    assert ("passage", "Can I pay with a marmotcard?") in emb.seen
    old = kb.load_live()
    assert not old.bare_questions
    assert "embedded with their closing marks by older code" in _status_of(kb_home, monkeypatch, "questions")
    emb.seen.clear()
    HybridRetriever(old, emb).embed_query("Can I pay with a marmotcard?")
    assert emb.seen == [("query", "Can I pay with a marmotcard?")]
    old.close()

    more = tmp_path / "more"
    more.mkdir()
    (more / "hours.md").write_text("# Hours\n\nWe are open from 9 to 5.\n", encoding="utf-8")
    emb.seen.clear()
    r = ingest_paths(kb, [more], emb, chunk_tokens=64, chunk_overlap=8)
    assert r.added == 1 and r.published
    assert {t for k, t in emb.seen if "marmot" in t or "shipping take" in t} == {
        "Can I pay with a marmotcard", "How long does shipping take"
    }
    new = kb.load_live()
    assert new.bare_questions and new.manifest["settings"]["question_form"] == "bare"
    assert _status_of(kb_home, monkeypatch, "questions") == "embedded as this code embeds them"
    faq = [c for c in all_chunks(new) if c.faq_id]
    assert np.allclose(
        new.vectors_of([c.id for c in faq], "question"), emb.embed([c.question.rstrip("?") for c in faq])
    )
    emb.seen.clear()
    HybridRetriever(new, emb).embed_query("Can I pay with a marmotcard?")
    assert emb.seen == [("query", "Can I pay with a marmotcard")]
    new.close()


def test_changed_document_replaces_its_chunks(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    before = fake_embedder.texts_embedded
    f = docs / "policies" / "returns.md"
    f.write_text(f.read_text(encoding="utf-8").replace("zebracorn", "unicornfish"), encoding="utf-8")
    r = ingest(kb, docs, fake_embedder)
    assert (r.added, r.updated, r.unchanged) == (0, 1, 3)
    index = kb.load_live()
    n_returns = len([c for c in all_chunks(index) if c.source == "policies/returns.md"])
    # only the changed document's chunks were embedded (the unchanged section hits the cache)
    assert 0 < fake_embedder.texts_embedded - before <= n_returns
    texts = " ".join(c.text for c in all_chunks(index))
    assert "zebracorn" not in texts and "unicornfish" in texts
    assert index.keyword_search("zebracorn", 5) == []
    hit = index.keyword_search("unicornfish", 5)
    assert index.get_chunks([hit[0][0]])[0].source == "policies/returns.md"
    index.close()


def test_prune_deletes_nothing_when_no_file_could_be_read(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """A folder of unsupported or damaged files only: its prune deleted every document and
    published an empty knowledge base (an empty folder was already refused)."""
    from kb.errors import InputError

    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, write_corpus(tmp_path / "good"), fake_embedder)
    before = kb.live_version()
    odd = tmp_path / "odd" / "sub"
    odd.mkdir(parents=True)
    (odd / "notes.xyz").write_text("hi")
    (odd / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(InputError, match=r"could be read \(sub/.*and 1 more\): --prune would delete every document"):
        ingest_paths(kb, [tmp_path / "odd"], fake_embedder, prune=True)
    assert kb.live_version() == before


def test_prune_with_only_files_is_refused(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """`kb ingest ren/misc.md --prune`: every document but misc.md was not in that ingest, and all
    of them were deleted ("1 deleted"). A folder among the paths makes the prune what it means."""
    from kb.errors import InputError

    kb = KnowledgeBase(kb_home, "t")
    docs = write_corpus(tmp_path)
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra\n\nThe heron desk opens at nine.\n", encoding="utf-8")
    ingest_paths(kb, [docs, extra], fake_embedder)
    before = kb.live_version()
    with pytest.raises(InputError, match=r"--prune with only files \(.*zh.md, .*faq.csv\) would delete every other"):
        ingest_paths(kb, [docs / "zh.md", docs / "faq.csv"], fake_embedder, prune=True)
    assert kb.live_version() == before
    (docs / "faq.csv").unlink()
    kept = ingest_paths(kb, [docs, extra], fake_embedder, prune=True)
    assert kept.deleted == 1 and kept.unchanged == 4  # faq.csv, gone from the folder; extra.md given again


def test_prune_deletes_only_what_disappeared_from_the_folders_given(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """QA: `kb ingest docs --prune` deleted a staff folder's documents and the API's uploads,
    and said only "2 deleted"."""
    docs = write_corpus(tmp_path)
    staff = tmp_path / "staff"
    staff.mkdir()
    (staff / "escalation.md").write_text("# Escalation\n\nThe ostrich desk supervisor approves refunds.\n")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [docs], fake_embedder)
    ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",))
    (docs / "faq.csv").unlink()
    # without --prune, what is gone from the folder is said (a renamed file's old copy answered on)
    kept = ingest_paths(kb, [docs], fake_embedder)
    assert kept.deleted == 0 and [w["warning"] for w in kept.warnings] == [
        f"faq.csv: no longer in {docs.resolve()}, and still answered from; kb delete faq.csv (or kb ingest "
        "with --prune) removes it"
    ]
    r = ingest_paths(kb, [docs], fake_embedder, prune=True)
    assert r.deleted == 1 and r.deleted_sources == ["faq.csv"]
    said = [w["warning"] for w in r.warnings]
    assert len(said) == 1 and said[0].startswith("--prune kept 1 documents not read from") and "'escalation.md'" in said[0]
    index = kb.load_live()
    assert "escalation.md" in {d.source for d in index.documents()}
    assert "faq.csv" not in {d.source for d in index.documents()}
    index.close()


def test_a_document_ingested_for_groups_does_not_turn_public_unasked(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """Ingested with --group staff, then again without it: the staff document answered users in
    no group, without a word."""
    staff = tmp_path / "staff"
    staff.mkdir()
    (staff / "escalation.md").write_text("# Escalation\n\nThe ostrich desk supervisor approves refunds.\n")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",))
    (staff / "escalation.md").write_text("# Escalation\n\nThe ostrich desk supervisor approves all refunds.\n")
    r = ingest_paths(kb, [staff], fake_embedder)
    assert r.updated == 0 and [f["source"] for f in r.failed] == ["escalation.md"]
    assert r.failed[0]["error"] == (
        "escalation.md: was ingested for access groups staff; ingested without them it would be public; "
        "give --group staff again, or --public to publish it to everyone"
    )
    index = kb.load_live()
    assert [d.groups for d in index.documents()] == [("staff",)]
    index.close()
    # given again, or widened on purpose, or given groups of its own
    assert ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",)).updated == 1
    assert ingest_paths(kb, [staff], fake_embedder, widen=True).updated == 1
    index = kb.load_live()
    assert [d.groups for d in index.documents()] == [()]
    index.close()


def test_a_document_its_own_metadata_restricted_does_not_turn_public_unasked(  # type: ignore[no-untyped-def]
    kb_home: Path, tmp_path: Path, fake_embedder
) -> None:
    """QA: a staff document's front-matter lost its groups line, and a sidecar was lost in a copy;
    each ingest (and a rebuild from the folder) published the document to everyone."""
    from ingest.reindex import reindex

    staff = tmp_path / "staff"
    staff.mkdir()
    front = staff / "wholesale.md"
    front.write_text("---\ngroups: [staff]\n---\n# Wholesale\n\nPartner retailers get a 35% discount.\n")
    side = staff / "chargebacks.txt"
    side.write_text("Our merchant dispute reference is MD-88213.\n")
    (staff / "chargebacks.txt.meta.json").write_text('{"groups": ["staff"]}')
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [staff], fake_embedder)
    front.write_text("# Wholesale\n\nPartner retailers get a 40% discount.\n")
    (staff / "chargebacks.txt.meta.json").unlink()
    r = ingest_paths(kb, [staff], fake_embedder)
    assert sorted(f["source"] for f in r.failed) == ["chargebacks.txt", "wholesale.md"]
    assert r.failed[1]["error"] == (
        "wholesale.md: its front-matter or sidecar restricted it to access groups staff, and no longer does; "
        "ingested without them it would be public; put its groups back, or give --public to publish it to everyone"
    )
    # nor with another group given: it would move from staff to sales
    moved = ingest_paths(kb, [staff], fake_embedder, default_groups=("sales",))
    assert [f["error"].split(";")[1].strip() for f in moved.failed] == ["ingested so it would be for sales"] * 2
    # nor when the folder above is ingested, which names the same file anew ("staff/wholesale.md")
    r = ingest_paths(kb, [tmp_path], fake_embedder)
    assert "staff/wholesale.md" in {f["source"] for f in r.failed}
    assert not [w for w in r.warnings if "no longer in" in w["warning"]]  # the file is still there
    # a rebuild from the folder keeps them: it never widens what a document is for
    reindex(kb, staff, fake_embedder)
    index = kb.load_live()
    assert {d.source: d.groups for d in index.documents()} == {"chargebacks.txt": ("staff",), "wholesale.md": ("staff",)}
    index.close()
    assert ingest_paths(kb, [staff], fake_embedder, widen=True).updated == 2
    index = kb.load_live()
    assert [d.groups for d in index.documents()] == [(), ()]
    index.close()


def test_a_deleted_document_given_again_without_its_groups_is_not_public_unasked(  # type: ignore[no-untyped-def]
    kb_home: Path, tmp_path: Path, fake_embedder
) -> None:
    """QA: a staff FAQ deleted, then added back as `kb delete`'s hint says (its file by name, or its
    folder with --undelete) without --group, answered users in no group with its discount code."""
    from ingest.pipeline import delete_sources

    staff = tmp_path / "internal"
    staff.mkdir()
    (staff / "codes.md").write_text("# Codes\n\nThe hidden student code is EDU20SECRET.\n")
    (staff / "bonus.md").write_text("---\ngroups: [managers]\n---\n# Bonus\n\nManagers get 8 percent.\n")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",))
    assert delete_sources(kb, ["codes.md", "bonus.md"], fake_embedder).deleted == 2
    (staff / "bonus.md").write_text("# Bonus\n\nManagers get 8 percent.\n")  # its groups line gone
    for r in (ingest_paths(kb, [staff / "codes.md"], fake_embedder), ingest_paths(kb, [staff], fake_embedder, undelete=True)):
        errors = {f["source"]: f["error"] for f in r.failed}
        assert r.added == 0 and errors["codes.md"].startswith(
            "codes.md: was ingested for access groups staff before kb delete removed it on 20")
        assert errors["codes.md"].endswith("; ingested without them it would be public; give --group staff again, "
                                           "or --public to publish it to everyone")
    assert errors["bonus.md"].startswith("bonus.md: its front-matter or sidecar restricted it to access groups "
                                         "managers before kb delete removed it on 20")
    # given for a group, a deleted document is for that group: `kb delete` first is how a document
    # whose own groups went is ingested for the folder's (the live document's error says so)
    r = ingest_paths(kb, [staff], fake_embedder, undelete=True, default_groups=("staff",))
    assert r.added == 2 and not r.failed
    index = kb.load_live()
    assert {d.source: d.groups for d in index.documents()} == {"codes.md": ("staff",), "bonus.md": ("staff",)}
    index.close()


def test_a_document_its_own_metadata_restricted_in_a_group_folder_does_not_move_unasked(  # type: ignore[no-untyped-def]
    kb_home: Path, tmp_path: Path, fake_embedder
) -> None:
    """QA: a managers-only file (front-matter) in a folder ingested with --group staff lost its groups
    line; the same ingest made it staff's without a word, and without --group the hint said to give
    --group staff, which would do the same."""
    staff = tmp_path / "fm"
    staff.mkdir()
    bonus = staff / "bonus.md"
    bonus.write_text("---\ngroups: [managers]\n---\n# Bonus\n\nManagers get 8 percent.\n")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",))
    bonus.write_text("# Bonus\n\nManagers get 8 percent a quarter.\n")
    r = ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",))
    assert r.updated == 0 and r.failed[0]["error"] == (
        "bonus.md: its front-matter or sidecar restricted it to access groups managers, and no longer does; "
        "ingested so it would be for staff; put its groups back, or kb delete bonus.md first to ingest it for staff")
    r = ingest_paths(kb, [staff], fake_embedder)
    assert r.failed[0]["error"].startswith("bonus.md: its front-matter or sidecar restricted it to access groups managers")
    # narrower is no widening: managers and staff named, then staff alone (the ingest's --group)
    bonus.write_text("---\ngroups: [managers, staff]\n---\n# Bonus\n\nManagers get 8 percent a quarter.\n")
    assert ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",)).updated == 1
    bonus.write_text("# Bonus\n\nManagers get 9 percent a quarter.\n")
    assert ingest_paths(kb, [staff], fake_embedder, default_groups=("staff",)).updated == 1
    index = kb.load_live()
    assert [d.groups for d in index.documents()] == [("staff",)]
    index.close()


def test_office_lock_and_system_files_are_not_documents(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    # a folder with a file open in Word holds ~$name.docx: every ingest of it "failed" (exit 3)
    docs = write_corpus(tmp_path)
    for name in ("~$returns.docx", "~$faq.xlsx", "Thumbs.db", "desktop.ini"):
        (docs / name).write_bytes(b"\x00lock")
    r = ingest(KnowledgeBase(kb_home, "t"), docs, fake_embedder)
    assert not r.failed and r.added == 4


def test_a_deleted_document_stays_deleted_when_its_folder_is_ingested_again(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """QA 2026-12-06: `kb delete pelican.md`, then the routine `kb ingest docs --prune` after another
    file was edited, brought pelican.md back unsaid ("1 added"). The folder's copy is left out, with
    a warning, while it is the file that was deleted; given by name, or changed since, it comes back."""
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    assert delete_sources(kb, ["faq.csv"], fake_embedder).deleted == 1
    shipping = docs / "policies" / "shipping.md"
    shipping.write_text(shipping.read_text(encoding="utf-8") + "\nExpress costs 9 euros.\n", encoding="utf-8")
    for prune in (True, False):
        r = ingest(kb, docs, fake_embedder, prune=prune)
        assert r.added == 0 and r.kept_deleted == ["faq.csv"], r.to_dict()
        assert any("faq.csv: left out, as kb delete removed it" in w["warning"] and "--undelete" in w["warning"]
                   for w in r.warnings), r.warnings
        with contextlib.closing(kb.load_live()) as index:
            assert "faq.csv" not in {d.source for d in index.documents()} and not index.keyword_search("marmotcard", 5)
    # given by name, it is added again, and a later ingest of the folder keeps it
    back = ingest_paths(kb, [docs / "faq.csv"], fake_embedder, chunk_tokens=64, chunk_overlap=8)
    assert back.added == 1 and not back.kept_deleted
    again = ingest(kb, docs, fake_embedder)
    assert again.unchanged == 4 and not again.kept_deleted
    # deleted again, and added back by --undelete, under its own source
    delete_sources(kb, ["faq.csv"], fake_embedder)
    undone = ingest(kb, docs, fake_embedder, undelete=True)
    assert undone.added == 1 and not undone.kept_deleted
    assert not ingest(kb, docs, fake_embedder).kept_deleted  # its mark is gone
    # a file of a subfolder deleted, then given by name (another source, the same file): its mark
    # goes, and the folder's next ingest does not warn of it
    assert delete_sources(kb, ["policies/returns.md"], fake_embedder).deleted == 1
    assert ingest(kb, docs, fake_embedder).kept_deleted == ["policies/returns.md"]
    ingest_paths(kb, [docs / "policies" / "returns.md"], fake_embedder, chunk_tokens=64, chunk_overlap=8)
    assert not (kb.path / "deleted.json").exists() or "policies/returns.md" not in (kb.path / "deleted.json").read_text()
    # a hand-edited mark whose date is a number is read, not a crash
    delete_sources(kb, ["faq.csv"], fake_embedder)
    (kb.path / "deleted.json").write_text(
        (kb.path / "deleted.json").read_text(encoding="utf-8").replace('"at": "', '"at": 20261206, "x": "'), encoding="utf-8")
    assert "faq.csv" in ingest(kb, docs, fake_embedder).kept_deleted
    # deleted again, then changed in its folder: the new text is a document to add
    (docs / "faq.csv").write_text("id,question,answer\n1,Can I pay with a marmotcard?,No longer.\n", encoding="utf-8")
    changed = ingest(kb, docs, fake_embedder)
    assert changed.added == 1 and not changed.kept_deleted
    with contextlib.closing(kb.load_live()) as index:
        assert index.keyword_search("marmotcard", 5)


def test_prune_and_delete_make_content_unretrievable(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    index = kb.load_live()
    old = [c for c in all_chunks(index) if c.source == "policies/shipping.md"]
    index.close()
    (docs / "policies" / "shipping.md").unlink()

    kept = ingest(kb, docs, fake_embedder)  # without --prune the document stays
    assert kept.deleted == 0 and kept.unchanged == 3
    r = ingest(kb, docs, fake_embedder, prune=True)
    assert r.deleted == 1 and r.published
    index = kb.load_live()
    assert "policies/shipping.md" not in {d.source for d in index.documents()}
    hits = index.keyword_search("express shipping business days", 10)
    assert all(c.source != "policies/shipping.md" for c in index.get_chunks([i for i, _ in hits]))
    vec = fake_embedder.embed([old[0].embed_text()])[0]
    for row, _ in index.vector_search(vec, index.n_chunks):
        assert index.get_chunks([row])[0].source != "policies/shipping.md"
    index.close()

    d = delete_sources(kb, ["faq.csv", "nope.md"], fake_embedder)
    assert d.deleted == 1 and d.failed[0]["source"] == "nope.md"
    index = kb.load_live()
    assert index.keyword_search("marmotcard", 5) == []
    qv = fake_embedder.embed(["Can I pay with a marmotcard?"], kind="query")[0]
    assert all(index.get_chunks([row])[0].faq_id is None for row, _ in index.vector_search(qv, 10))
    index.close()
    # "/" (a script's "$DIR/" with $DIR unset) named every document read from a folder, and so did
    # any folder above the one ingested; a blank name, none
    before = kb.live_version()
    with pytest.raises(InputError, match="is the root of the file system"):
        delete_sources(kb, ["/"], fake_embedder, paths=True)
    with pytest.raises(InputError, match="is no folder that was ingested; it holds 1 that were"):
        delete_sources(kb, [str(tmp_path)], fake_embedder, paths=True)
    with pytest.raises(InputError, match="a blank name names no document"):
        delete_sources(kb, [" "], fake_embedder, paths=True)
    assert kb.live_version() == before
    folder = delete_sources(kb, ["policies/"], fake_embedder)
    assert folder.deleted == 1 and len(folder.deleted_sources) == 1 and folder.deleted_sources[0].startswith("policies/")


def test_failed_files_reported_others_indexed(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "table.csv").write_text("name,price\nLamp,3\n", encoding="utf-8")
    (docs / "photo.png").write_bytes(b"\x89PNG")
    (docs / "big.md").write_text("# Big\n\n" + "lorem ipsum " * 2000, encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    r = ingest_paths(kb, [docs], fake_embedder, max_file_mb=0.01)
    failed = {f["source"]: f["error"] for f in r.failed}
    assert set(failed) == {"empty.txt", "table.csv", "photo.png", "big.md"}
    assert all("\n" not in e for e in failed.values())
    assert "KB_MAX_FILE_MB" in failed["big.md"] and "question" in failed["table.csv"]
    assert r.added == 4

    # a file that breaks later keeps its previous version (nothing stored is lost)
    (docs / "zh.md").write_bytes(b"")
    r2 = ingest_paths(kb, [docs], fake_embedder, max_file_mb=0.01, prune=True)
    assert "zh.md" in {f["source"] for f in r2.failed} and r2.deleted == 0
    index = kb.load_live()
    assert "zh.md" in {d.source for d in index.documents()}
    index.close()


def test_faq_rows_left_out_are_reported_and_the_rest_indexed(
    kb_home: Path, tmp_path: Path, fake_embedder, capsys: pytest.CaptureFixture[str]  # type: ignore[no-untyped-def]
) -> None:
    from kb.commands.ingest import _print_report

    docs = write_corpus(tmp_path)
    (docs / "faq.csv").write_text(
        "id,question,answer\n1,How long does shipping take?,Three to five days.\n"
        "2,Is there a minimum order value?,Is there a minimum order value?\n3,Do you sell gift cards?,\n",
        encoding="utf-8",
    )
    kb = KnowledgeBase(kb_home, "t")
    r = ingest(kb, docs, fake_embedder)
    assert r.ok and r.added == 4
    assert [w["source"] for w in r.warnings] == ["faq.csv", "faq.csv"]
    assert "1 row without an answer skipped ('3')" in r.warnings[0]["warning"]
    assert "1 row whose answer repeats the question kept ('2')" in r.warnings[1]["warning"]
    assert r.to_dict()["warnings"] == r.warnings
    index = kb.load_live()
    try:
        questions = {c.question for c in all_chunks(index) if c.question}
        assert questions == {"How long does shipping take?", "Is there a minimum order value?"}
    finally:
        index.close()
    _print_report(r.to_dict(), False, "ingested into")
    err = capsys.readouterr().err
    assert err.startswith("  warning: faq.csv: 1 row without an answer skipped ('3'); fill in"), err


def test_access_groups_from_sidecar_change_reindexes(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    (docs / "zh.md.meta.json").write_text('{"groups": ["staff"]}', encoding="utf-8")
    r = ingest(kb, docs, fake_embedder)
    assert r.updated == 1
    index = kb.load_live()
    zh = [c for c in all_chunks(index) if c.source == "zh.md"]
    assert zh and all(c.groups == ("staff",) for c in zh)
    index.close()


def test_chunk_settings_change_rechunks_without_reembedding_known_text(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    r = ingest_paths(kb, [docs], fake_embedder, chunk_tokens=200, chunk_overlap=8)
    assert r.updated == 4 and r.published


def test_vectors_match_chunk_text(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    index = kb.load_live()
    chunks = all_chunks(index)
    stored = index.vectors_of([c.id for c in chunks], "passage")
    expected = fake_embedder.embed([c.embed_text() for c in chunks])
    assert np.allclose(stored, expected, atol=1e-5)
    index.close()


def test_missing_path_is_fatal(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    from kb.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no such file"):
        ingest_paths(KnowledgeBase(kb_home, "t"), [tmp_path / "nope"], fake_embedder)


def test_default_groups_apply_where_documents_have_none(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path)
    (docs / "zh.md.meta.json").write_text('{"groups": ["managers"]}', encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder, default_groups=("staff",))
    index = kb.load_live()
    groups = {c.source: c.groups for c in all_chunks(index)}
    assert groups["zh.md"] == ("managers",) and groups["policies/returns.md"] == ("staff",)
    assert groups["faq.csv"] == ("staff",)
    index.close()
    # the same files without the default would be public: refused, unless asked for (--public);
    # zh.md keeps the groups its sidecar names
    r = ingest(kb, docs, fake_embedder)
    assert r.updated == 1 and sorted(f["source"] for f in r.failed) == ["faq.csv", "policies/returns.md", "policies/shipping.md"]
    assert ingest(kb, docs, fake_embedder, widen=True).updated == 3


def two_folders(tmp_path: Path, name: str, texts: tuple[str, str]) -> tuple[Path, Path]:
    """Folders a and b, each holding a document ``name`` with its own text."""
    a, b = tmp_path / "a", tmp_path / "b"
    for root, text in zip((a, b), texts, strict=True):
        root.mkdir()
        (root / name).write_text(f"# {Path(name).stem.title()}\n\n{text}\n", encoding="utf-8")
    return a, b


def test_same_source_from_two_roots_is_reported(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    a, b = two_folders(tmp_path, "same.md", ("first copy", "second copy"))
    kb = KnowledgeBase(kb_home, "t")
    r = ingest_paths(kb, [a, b], fake_embedder)
    assert r.added == 1 and [f["source"] for f in r.failed] == ["same.md"]
    index = kb.load_live()
    assert len(index.documents()) == 1 and "first copy" in all_chunks(index)[0].text
    index.close()


def test_one_file_named_twice_is_read_once(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    # `kb ingest docs docs/faq.csv` refused faq.csv as "given twice" (exit 3)
    docs = write_corpus(tmp_path)
    r = ingest_paths(KnowledgeBase(kb_home, "t"), [docs, docs / "faq.csv"], fake_embedder)
    assert not r.failed and r.added == 4


def test_a_document_replaced_from_another_folder_is_named(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    # `kb ingest ./a` then `kb ingest ./b`, hours.md moved from a to b: the second replaced the first unsaid
    a, b = two_folders(tmp_path, "hours.md", ("Store A opens at 7 am.", "Store B opens at 9 am."))
    kb = KnowledgeBase(kb_home, "t")
    assert not ingest_paths(kb, [a], fake_embedder).warnings
    (a / "hours.md").write_text("# Hours\n\nStore A opens at 8 am.\n", encoding="utf-8")
    assert not ingest_paths(kb, [a], fake_embedder).warnings  # the same folder, changed: no warning
    (a / "hours.md").unlink()  # moved: a no longer holds it
    r = ingest_paths(kb, [b], fake_embedder)
    assert r.updated == 1 and r.warnings == [{"source": "hours.md", "warning": (
        f"hours.md: replaces the document of that name read from {a.resolve()} (now from {b.resolve()}); "
        "give folders that hold files of the same name knowledge bases of their own, or rename one")}]


def test_a_file_named_as_a_document_of_another_folder_still_there_fails(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    # `kb ingest ./good` then `kb ingest ./dept/billing`, both holding faq.csv: billing's replaced
    # good's (exit 0, "1 updated", a warning) though good/faq.csv had not moved
    (tmp_path / "docs").mkdir()
    a, b = two_folders(tmp_path / "docs", "hours.md", ("Store A opens at 7 am.", "Store B opens at 9 am."))
    (b / "other.md").write_text("# Other\n\nParking is free.\n", encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [a], fake_embedder)
    r = ingest_paths(kb, [b], fake_embedder)
    assert r.added == 1 and r.updated == 0  # other.md still ingests
    assert r.failed == [{"source": "hours.md", "error": (
        f"hours.md: {(b / 'hours.md').resolve()} has the name of the document read from "
        f"{(a / 'hours.md').resolve()}, which is still there; ingest from a folder that holds both, "
        "so each keeps its own path, or rename one")}]
    index = kb.load_live()
    assert any("Store A opens at 7 am" in c.text for c in all_chunks(index))
    assert not any("Store B" in c.text for c in all_chunks(index))
    index.close()
    # from the folder above, each keeps its own path
    r = ingest_paths(kb, [tmp_path / "docs"], fake_embedder)
    assert not r.failed and r.added == 3


def test_a_file_of_an_ingested_folder_given_alone_or_from_a_folder_inside_keeps_its_source(  # type: ignore[no-untyped-def]
    kb_home: Path, tmp_path: Path, fake_embedder
) -> None:
    # QA 2026-12-07: kb delete's hint "to add it back, run kb ingest …/guides/price.md" added
    # "price.md" beside the deleted "guides/price.md"; the folder's next ingest added that back too,
    # and an edit, ingested with the folder, updated one copy while the other answered with the old
    # text. `kb ingest site/guides` after `kb ingest site` added a second copy of each file as well
    site = tmp_path / "site"
    (site / "guides").mkdir(parents=True)
    (site / "guides" / "price.md").write_text("# Price match\n\nWe match prices within 14 days.\n", encoding="utf-8")
    (site / "hours.md").write_text("# Hours\n\nThe store opens at 9 am.\n", encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")

    def sources() -> set[str]:
        index = kb.load_live()
        try:
            return {d.source for d in index.documents()}
        finally:
            index.close()

    ingest_paths(kb, [site], fake_embedder)
    r = ingest_paths(kb, [site / "guides"], fake_embedder)
    assert (r.added, r.unchanged, r.warnings) == (0, 1, [])
    (site / "guides" / "price.md").write_text("# Price match\n\nWe match prices within 30 days.\n", encoding="utf-8")
    r = ingest_paths(kb, [site / "guides" / "price.md"], fake_embedder)
    assert (r.added, r.updated) == (0, 1) and sources() == {"guides/price.md", "hours.md"}
    assert delete_sources(kb, ["guides/price.md"], fake_embedder).deleted == 1
    r = ingest_paths(kb, [site / "guides" / "price.md"], fake_embedder)  # as kb delete's hint says
    assert r.added == 1 and sources() == {"guides/price.md", "hours.md"}
    assert ingest_paths(kb, [site], fake_embedder).unchanged == 2
    # a file of another folder by the same name is no copy of it: it stays a document of its own
    other = tmp_path / "other"
    other.mkdir()
    (other / "price.md").write_text("# Price\n\nOther prices.\n", encoding="utf-8")
    assert ingest_paths(kb, [other], fake_embedder).added == 1
    assert sources() == {"guides/price.md", "hours.md", "price.md"}


def test_file_names_that_are_not_utf8_get_readable_source_ids(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    # a zip made on a Chinese Windows machine unpacks with GBK file names; Python keeps their bytes
    # as lone surrogates, which no SQLite text or embedding takes: the ingest stopped with a traceback
    import os

    docs = tmp_path / "docs"
    docs.mkdir()
    raw = os.fsencode(docs)
    with open(raw + b"/" + "常见问题.txt".encode("gbk"), "w", encoding="utf-8") as f:
        f.write("退款一般 5 到 7 个工作日到账。\n")
    with open(raw + b"/" + b"r\xe9sum\xe9.csv", "w", encoding="utf-8") as f:  # Latin-1, and no GB18030 either
        f.write("question,answer\nWhat is a zebracorn?,A striped unicorn.\n")
    kb = KnowledgeBase(kb_home, "t")
    r = ingest(kb, docs, fake_embedder)
    assert r.failed == [] and r.added == 2
    index = kb.load_live()
    assert {d.source for d in index.documents()} == {"常见问题.txt", "r\\xe9sum\\xe9.csv"}
    titles = {c.title for c in all_chunks(index)}
    assert "常见问题" in titles and "r\\xe9sum\\xe9" in titles
    index.close()
    # the same ids on the next run, so nothing is re-added, and a user deletes by the id shown
    again = ingest(kb, docs, fake_embedder, prune=True)
    assert again.unchanged == 2 and again.added == again.deleted == 0
    assert delete_sources(kb, ["常见问题.txt"], fake_embedder).deleted == 1
    # by the id `kb status` shows (its escapes were read as Windows separators), or by the name
    # itself as a shell passes its bytes
    assert delete_sources(kb, ["r\\xe9sum\\xe9.csv"], fake_embedder).deleted == 1
    ingest_paths(kb, [Path(os.fsdecode(raw + b"/r\xe9sum\xe9.csv"))], fake_embedder)  # added again, by name
    assert delete_sources(kb, [os.fsdecode(b"r\xe9sum\xe9.csv")], fake_embedder).deleted == 1
    gone = delete_sources(kb, [os.fsdecode(b"r\xe9sum\xe9.csv")], fake_embedder)
    assert gone.failed[0]["source"] == "r\\xe9sum\\xe9.csv"  # shown as its id, not as surrogates


def test_a_path_that_names_two_documents_is_refused_naming_both(
    kb_home: Path, tmp_path: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """`kb delete csvs/bom.csv`, where csvs/bom.csv is the source id of one document (read from
    the folder above csvs) and, from here, the file of another (bom.csv, ingested alone): neither
    is deleted, and the error names both with the folders they were read from."""
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "csvs").mkdir(parents=True)
        (root / "csvs" / "bom.csv").write_text(f"question,answer\nWho wrote it?,{root.name}.\n", encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [a], fake_embedder)
    ingest_paths(kb, [b / "csvs" / "bom.csv"], fake_embedder)
    monkeypatch.chdir(b)
    both = delete_sources(kb, ["csvs/bom.csv"], fake_embedder, paths=True)
    assert both.deleted == 0 and both.ambiguous == 1 and not both.published
    error = both.failed[0]["error"]
    assert f"'csvs/bom.csv' (read from {a.resolve()})" in error and f"'bom.csv' (read from {(b / 'csvs').resolve()})" in error
    assert "give the absolute path" in error and "\n" not in error
    # the service deletes by source id alone: a path on its machine means nothing to a client
    assert delete_sources(kb, ["csvs/bom.csv"], fake_embedder).deleted == 1
    assert delete_sources(kb, [str(b / "csvs" / "bom.csv")], fake_embedder, paths=True).deleted == 1


def test_a_path_finds_a_document_that_recorded_no_folder_by_its_end(
    kb_home: Path, tmp_path: Path, fake_embedder  # type: ignore[no-untyped-def]
) -> None:
    """An upload, or a document ingested before the folder was recorded, is found by the end of
    the path (what a folder holding it would have named it); two such ends are refused."""
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    # returns.md first: uploaded after policies/returns.md, a file of that name fails (it was a
    # second copy, QA 2026-12-07)
    ingest_paths(kb, [docs / "policies" / "returns.md"], fake_embedder, upload=True)  # returns.md
    ingest_paths(kb, [docs], fake_embedder, upload=True)  # uploads record no folder
    got = delete_sources(kb, ["/elsewhere/policies/shipping.md", "/elsewhere/docs/policies/returns.md",
                              "/elsewhere/docs/policies/refunds.md"], fake_embedder, paths=True)
    assert got.deleted == 1 and got.ambiguous == 1 and len(got.failed) == 2
    assert got.failed[0]["error"].startswith(
        "/elsewhere/docs/policies/returns.md: may be any of 'policies/returns.md', 'returns.md'"
    ) or got.failed[0]["error"].startswith(
        "/elsewhere/docs/policies/returns.md: may be any of 'returns.md', 'policies/returns.md'"
    )
    assert "not in the knowledge base (did you mean" in got.failed[1]["error"]


def test_a_misspelt_name_gets_the_nearest_sources_under_their_folders(
    kb_home: Path, tmp_path: Path, fake_embedder, monkeypatch  # type: ignore[no-untyped-def]
) -> None:
    """`kb delete returns-polcy.pdf` got no suggestion where the document's id was under folders
    (``docs/policies/returns-policy.md``): the whole id was too unlike the name. A source whose
    file name holds a newline (stored as ``new\\x0aline.md``) is found by that name, and a
    misspelling of it is told the id as it is to be typed, not repr()'s doubled backslash."""
    top = tmp_path / "top"
    deep = top / "docs" / "policies"
    deep.mkdir(parents=True)
    (deep / "returns-policy.md").write_text("# Returns\n\nYou have 30 days to return an item.\n", encoding="utf-8")
    (deep / "new\nline.md").write_text("# Lines\n\nA file whose name holds a newline.\n", encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    ingest_paths(kb, [top], fake_embedder)
    assert {d.source for d in kb.load_live().documents()} == {
        "docs/policies/returns-policy.md", "docs/policies/new\\x0aline.md"}
    monkeypatch.chdir(tmp_path)
    got = delete_sources(kb, ["returns-polcy.md", "new\nlin.md", "docs/policies/new\\nline.md"],
                         fake_embedder, paths=True)
    assert got.deleted == 0 and [f["error"] for f in got.failed] == [
        "returns-polcy.md: not in the knowledge base (did you mean 'docs/policies/returns-policy.md'?); "
        "`kb status --sources` lists them",
        "new\\x0alin.md: not in the knowledge base (did you mean 'docs/policies/new\\x0aline.md'?); "
        "`kb status --sources` lists them",
        "docs/policies/new\\nline.md: not in the knowledge base (did you mean 'docs/policies/new\\x0aline.md'?); "
        "`kb status --sources` lists them",
    ]
    assert delete_sources(kb, ["docs/policies/new\nline.md"], fake_embedder, paths=True).deleted == 1
    assert delete_sources(kb, ["docs/policies/returns-policy.md"], fake_embedder, paths=True).deleted == 1


def test_a_pipe_or_a_broken_link_named_like_a_document_says_what_it_is(tmp_path: Path) -> None:
    # QA 2026-12-07: both were "no such file or folder; check the path", though the name exists
    import os

    from ingest.pipeline import iter_files
    from kb.errors import InputError, NotFoundError

    os.mkfifo(tmp_path / "p.md")
    (tmp_path / "l.md").symlink_to(tmp_path / "gone.md")
    with pytest.raises(InputError, match=r"p\.md: not a regular file \(a pipe, socket or device\)"):
        list(iter_files([tmp_path / "p.md"]))
    with pytest.raises(NotFoundError, match=r"l\.md: a broken link \(to .*gone\.md\)"):
        list(iter_files([tmp_path / "l.md"]))
    with pytest.raises(NotFoundError, match="no such file or folder"):
        list(iter_files([tmp_path / "none.md"]))


def _sources(kb: KnowledgeBase) -> list[str]:
    with contextlib.closing(kb.load_live()) as index:
        return sorted(d.source for d in index.documents())


def test_a_deleted_file_ingested_from_its_subfolder_stays_deleted(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """QA: `kb delete policies/returns.md`, then `kb ingest docs/policies`: the file read as
    "returns.md" missed its mark (looked up by source id), was published again, and the mark was
    erased, unsaid."""
    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)
    delete_sources(kb, ["policies/returns.md"], fake_embedder)
    r = ingest(kb, docs / "policies", fake_embedder)
    # (by its own id: a file of the folder ingested keeps it, read from a folder inside)
    assert r.kept_deleted == ["policies/returns.md"] and not {"returns.md", "policies/returns.md"} & set(_sources(kb)), r.to_dict()
    assert any("left out, as kb delete removed it" in w["warning"] for w in r.warnings), r.warnings
    assert "policies/returns.md" in (kb.path / "deleted.json").read_text(encoding="utf-8")
    with contextlib.closing(kb.load_live()) as index:
        assert not index.keyword_search("zebracorn", 5)
    # --undelete adds it back
    ingest(kb, docs / "policies", fake_embedder, undelete=True)
    assert "policies/returns.md" in _sources(kb) and "returns.md" not in _sources(kb)


def test_a_delete_killed_before_it_publishes_is_done_by_the_next_ingest(
    kb_home: Path, tmp_path: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """QA: `kb delete` killed (-9) between publishing and writing its mark: the next `kb ingest DIR`
    brought the document back, and `kb delete` again found nothing to mark. The mark is now
    written first: killed before the version is published, the delete is finished by the next
    ingest; failing there, the mark is taken back."""
    import ingest.pipeline as pipeline

    docs = write_corpus(tmp_path)
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, docs, fake_embedder)

    class Killed(BaseException):
        pass

    real = pipeline._write_version
    seen_marks: list[str] = []

    def killed(kb_: Any, *a: Any, **kw: Any) -> Any:
        seen_marks.append((kb_.path / "deleted.json").read_text(encoding="utf-8"))
        raise Killed

    monkeypatch.setattr(pipeline, "_write_version", killed)
    with pytest.raises(Killed):
        delete_sources(kb, ["policies/returns.md"], fake_embedder)
    assert "policies/returns.md" in seen_marks[0]  # written before the version
    assert not (kb.path / "deleted.json").exists()  # and taken back, the version not published
    # a kill -9 leaves the mark written and the document live: the next ingest finishes the delete
    (kb.path / "deleted.json").write_text(seen_marks[0], encoding="utf-8")
    monkeypatch.setattr(pipeline, "_write_version", real)
    assert "policies/returns.md" in _sources(kb)
    r = ingest(kb, docs, fake_embedder)
    assert r.kept_deleted == ["policies/returns.md"] and r.deleted == 1, r.to_dict()
    assert "policies/returns.md" not in _sources(kb)


def test_a_deleted_file_left_out_of_a_subfolder_leaves_another_folders_namesake(kb_home: Path, tmp_path: Path, fake_embedder) -> None:  # type: ignore[no-untyped-def]
    """A regression hunt: after `kb ingest website; kb ingest handbook; kb delete
    policies/returns.md`, `kb ingest handbook/policies` left the deleted file out as "returns.md" and
    dropped the website's own "returns.md" with it."""
    site, book = tmp_path / "website", tmp_path / "handbook"
    (book / "policies").mkdir(parents=True)
    site.mkdir()
    (site / "returns.md").write_text("# Returns\n\nWebsite orders go back within 30 days.\n", encoding="utf-8")
    (book / "policies" / "returns.md").write_text("# Returns\n\nA zebracorn restocking fee applies.\n", encoding="utf-8")
    kb = KnowledgeBase(kb_home, "t")
    ingest(kb, site, fake_embedder)
    ingest(kb, book, fake_embedder)
    delete_sources(kb, ["policies/returns.md"], fake_embedder)
    r = ingest(kb, book / "policies", fake_embedder)
    assert r.kept_deleted == ["policies/returns.md"] and r.deleted == 0, r.to_dict()  # by its own id
    assert _sources(kb) == ["returns.md"]
    with contextlib.closing(kb.load_live()) as index:
        assert not index.keyword_search("zebracorn", 5) and index.keyword_search("website", 5)
