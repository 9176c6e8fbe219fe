"""A deleted document stays deleted: `kb delete` (as the API's delete) removes the service's kept
copy of an upload, and a sidecar uploaded alone re-reads only a document that is still live."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexes.kbase import KnowledgeBase
from ingest.pipeline import UPLOADS, delete_sources, ingest_paths
from tests.kb.conftest import KB, make_client, make_settings
from tests.kb.test_api import _job

REVIVE = b"# Revive\n\nThe revive code is PHOENIX-5521.\n"
SIDECAR = json.dumps({"tags": ["again"]}).encode()


@pytest.fixture()
def home(tmp_path: Path, fake_embedder: Any) -> Path:
    from tests.kb.conftest import build_kb, write_docs

    home = tmp_path / "home"
    build_kb(home, write_docs(tmp_path / "docs"), fake_embedder)
    return home


def _upload(c: Any, *files: tuple[str, bytes]) -> Any:
    return c.post("/v1/documents", files=[("files", (n, d, "application/octet-stream")) for n, d in files])


def _sources(c: Any) -> list[str]:
    return [d["source"] for d in c.get("/v1/documents").json()["documents"]]


def _cli(args: list[str], home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kb.cli import main
    from kb.settings import reset_settings_cache

    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    reset_settings_cache()
    try:
        main(args)
    finally:
        reset_settings_cache()


def test_a_document_deleted_by_kb_delete_does_not_come_back_with_its_sidecar(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads = home / KB / UPLOADS
    with make_client(make_settings(home, "hashing:64")) as c:
        r = _upload(c, ("revive1.md", REVIVE), ("revive1.md.meta.json", SIDECAR))
        assert _job(c, r.json()["id"])["state"] == "succeeded"
        assert (uploads / "revive1.md").is_file() and (uploads / "revive1.md.meta.json").is_file()
        _cli(["delete", "revive1.md", "--kb", KB], home, monkeypatch)
        assert not (uploads / "revive1.md").exists() and not (uploads / "revive1.md.meta.json").exists()
        r = _upload(c, ("revive1.md.meta.json", SIDECAR))
        assert r.status_code == 422 and "upload revive1.md with it" in r.json()["message"], r.text
        assert "revive1.md" not in _sources(c)
        assert "PHOENIX" not in c.post("/v1/search", json={"query": "revive code", "k": 20}).text


def test_a_kept_copy_left_behind_is_not_read_again_once_deleted(home: Path) -> None:
    uploads = home / KB / UPLOADS
    with make_client(make_settings(home, "hashing:64")) as c:
        r = _upload(c, ("revive2.md", REVIVE))
        assert _job(c, r.json()["id"])["state"] == "succeeded"
        doc = next(d for d in c.get("/v1/documents").json()["documents"] if d["source"] == "revive2.md")
        assert _job(c, c.delete(f"/v1/documents/{doc['id']}").json()["id"])["state"] == "succeeded"
        # a copy there all the same: a delete that raced the upload of it, or an older `kb delete`
        (uploads / "revive2.md").write_bytes(REVIVE)
        r = _upload(c, ("revive2.md.meta.json", SIDECAR))
        assert r.status_code == 422 and "neither in this upload nor in knowledge base" in r.json()["message"], r.text
        assert "revive2.md" not in _sources(c)
        # a live document's sidecar still re-reads it
        r = _upload(c, ("returns.md", b"# Returns\n\nReturns within 30 days.\n"))
        assert _job(c, r.json()["id"])["state"] == "succeeded"
        r = _upload(c, ("returns.md.meta.json", SIDECAR))
        assert r.status_code == 202 and _job(c, r.json()["id"])["state"] == "succeeded"
        docs = {d["source"]: d for d in c.get("/v1/documents").json()["documents"]}
        assert docs["returns.md"]["tags"] == ["again"]


def test_delete_and_prune_remove_the_kept_uploads_of_what_they_delete(tmp_path: Path, fake_embedder: Any) -> None:
    kb = KnowledgeBase(tmp_path / "home", "t")
    docs = tmp_path / "docs"
    docs.mkdir()
    odd = "odd\u202edm.md"  # a right-to-left override in its name, escaped in its source id
    for name in ("a.md", "a.txt", "b.md", "c.md", odd):
        (docs / name).write_text(f"# {name}\n\nText of {name}.\n", encoding="utf-8")
    assert ingest_paths(kb, [docs], fake_embedder).ok
    uploads = kb.path / UPLOADS
    uploads.mkdir()
    for name in ("a.md", "a.txt", "b.md", "b.md.meta.json", "a.meta.json", "c.md", "keep.md", odd):
        (uploads / name).write_text("{}", encoding="utf-8")
    report = delete_sources(kb, ["a.md", "b.md", "odd\\u202edm.md"], fake_embedder)
    assert report.deleted == 3 and not report.warnings and not report.failed
    left = sorted(p.name for p in uploads.iterdir())
    # a.meta.json is a.txt's sidecar too, which is still there
    assert left == ["a.meta.json", "a.txt", "c.md", "keep.md"]
    (docs / "c.md").unlink()
    report = ingest_paths(kb, [docs], fake_embedder, prune=True)
    assert report.deleted == 1 and not (uploads / "c.md").exists() and (uploads / "keep.md").exists()


def test_a_document_replaced_from_a_folder_is_not_brought_back_by_its_uploads_sidecar(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uploaded at $7, ingested from a folder at $9, then a sidecar uploaded alone re-read the
    # kept $7 upload and published it over the $9 one
    uploads = home / KB / UPLOADS
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "giftwrap.md").write_text("# Gift wrap\n\nGift wrapping costs $9.\n", encoding="utf-8")
    with make_client(make_settings(home, "hashing:64")) as c:
        r = _upload(c, ("giftwrap.md", b"# Gift wrap\n\nGift wrapping costs $7.\n"))
        assert _job(c, r.json()["id"])["state"] == "succeeded" and (uploads / "giftwrap.md").is_file()
        _cli(["ingest", str(folder), "--kb", KB], home, monkeypatch)
        assert not (uploads / "giftwrap.md").exists()
        r = _upload(c, ("giftwrap.md.meta.json", SIDECAR))
        assert r.status_code == 422 and "upload giftwrap.md with it" in r.json()["message"], r.text
        hits = c.post("/v1/search", json={"query": "gift wrapping costs", "k": 3}).text
        assert "$9" in hits and "$7" not in hits
