"""`kb ingest` / `kb status` / `kb delete` as a user runs them (subprocess): exit codes, JSON
shape, and a kill -9 mid-ingest that leaves the previous version live."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexes.kbase import KnowledgeBase

REPO = Path(__file__).resolve().parents[2]


def run_kb(
    args: list[str], home: Path, embedder: str = "hashing:64", cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_HOME": str(home), "KB_EMBEDDER": embedder, "OPENBLAS_NUM_THREADS": "1"}
    # run in another folder, `-m kb.cli` imports this checkout's code, not an installed copy's
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "kb.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def corpus(root: Path, n: int = 3, prefix: str = "doc") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"{prefix}{i:04d}.md").write_text(
            f"# Document {i}\n\nThis is document number {i}. It talks about topic{i} in detail.\n\n"
            f"## Details\n\nMore about topic{i}: returns, shipping and warranty.\n",
            encoding="utf-8",
        )
    return root


def test_exit_codes_and_json(kb_home: Path, tmp_path: Path) -> None:
    docs = corpus(tmp_path / "docs")
    ok = run_kb(["ingest", str(docs), "--kb", "t", "--json"], kb_home)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["added"] == 3 and report["failed"] == [] and report["kb"] == "t"
    assert "\r" not in ok.stderr  # no progress bar when piped / --json

    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    partial = run_kb(["ingest", str(docs), "--kb", "t", "--json"], kb_home)
    assert partial.returncode == 3, partial.stderr
    report = json.loads(partial.stdout)
    assert report["unchanged"] == 3 and report["failed"][0]["source"] == "broken.pdf"

    status = run_kb(["status", "--kb", "t", "--json"], kb_home)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["keyword_index"] == "current"

    gone = run_kb(["delete", "doc0000.md", "--kb", "t", "--json"], kb_home)
    assert gone.returncode == 0 and json.loads(gone.stdout)["deleted"] == 1
    typo = run_kb(["delete", "doc0001.md", "--kb", "tt"], kb_home)  # a misspelt knowledge base
    assert typo.returncode != 0 and "'tt'" in typo.stderr and not (kb_home / "tt").exists(), typo.stderr

    # fatal: the index was built with another embedder -> one line, exit 1, no traceback
    fatal = run_kb(["ingest", str(docs), "--kb", "t"], kb_home, embedder="hashing:32")
    assert fatal.returncode == 1
    assert fatal.stderr.startswith("error: ") and "Traceback" not in fatal.stderr
    assert len(fatal.stderr.strip().splitlines()) == 1

    nopath = run_kb(["ingest", str(tmp_path / "no-such-folder"), "--kb", "t"], kb_home)
    assert nopath.returncode == 1 and "no such file" in nopath.stderr

    missing = run_kb(["status", "--kb", "nothing-here"], kb_home)
    assert missing.returncode != 0 and "kb ingest" in missing.stderr and "Traceback" not in missing.stderr


def test_help_works(kb_home: Path) -> None:
    out = run_kb(["--help"], kb_home)
    assert out.returncode == 0 and "ingest" in out.stdout and "status" in out.stdout and "delete" in out.stdout


def test_kill_9_mid_ingest_keeps_previous_version(kb_home: Path, tmp_path: Path) -> None:
    small = corpus(tmp_path / "v1", 2, prefix="old")
    first = run_kb(["ingest", str(small), "--kb", "t", "--json"], kb_home)
    assert first.returncode == 0, first.stderr
    kb = KnowledgeBase(kb_home, "t")
    v1 = kb.live_version()

    n_big = 2000  # large enough that the kill lands mid-run even on a fast, idle machine
    big = corpus(tmp_path / "v2", n_big)
    env = {**os.environ, "KB_HOME": str(kb_home), "KB_EMBEDDER": "hashing:64"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kb.cli", "ingest", str(big), "--kb", "t", "--json"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        holding = False
        # wait until it holds the lock, read from the holder's note: taking the lock to test it
        # made the subprocess, which takes it without waiting, fail "locked" now and then on a busy
        # machine (a clean clone's suite, with another job beside it)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                note = json.loads((kb.path / "lock").read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                note = {}
            if note.get("pid") == proc.pid:
                holding = True
                break
            time.sleep(0.05)
        if not holding:
            pytest.fail("the ingest subprocess finished before it could be killed")
        time.sleep(0.5)
        assert proc.poll() is None, "ingest finished before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    # the previous version is still live and loadable, the lock is free again
    kb = KnowledgeBase(kb_home, "t")
    assert kb.live_version() == v1
    index = kb.load_live()
    assert {d.source for d in index.documents()} == {"old0000.md", "old0001.md"}
    assert index.keyword_search("topic1", 3)
    index.close()

    # run again, it completes; --prune leaves the other folder's documents (and says so)
    again = run_kb(["ingest", str(big), "--kb", "t", "--json", "--prune"], kb_home)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["added"] == n_big and report["deleted"] == 0
    assert report["warnings"][-1]["warning"].startswith("--prune kept 2 documents not read from")
    index = KnowledgeBase(kb_home, "t").load_live()
    assert len(index.documents()) == n_big + 2
    index.close()


def test_reindex_names_failed_files_and_warnings_as_ingest_does(kb_home: Path, tmp_path: Path) -> None:
    """`kb reindex` prints one line per failed file and per warning, in the words `kb ingest` uses,
    and exits 3 when a file failed."""
    docs = corpus(tmp_path / "docs")
    (docs / "faq.csv").write_text(
        "id,question,answer\n1,How long does shipping take?,Three days.\n2,Do you sell gift cards?,\n", encoding="utf-8"
    )
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    ingest = run_kb(["ingest", str(docs), "--kb", "t"], kb_home)
    rebuild = run_kb(["reindex", "--kb", "t", "--source", str(docs)], kb_home)
    for run in (ingest, rebuild):
        assert run.returncode == 3, run.stderr
        lines = [ln for ln in run.stderr.splitlines() if ln.startswith("  ")]
        assert any(ln.startswith("  failed: broken.pdf: ") for ln in lines), run.stderr
        assert "  warning: faq.csv: 1 row without an answer skipped ('2'); fill in" in "\n".join(lines), run.stderr
        assert not any(ln.startswith("  warning: faq.csv: faq.csv:") for ln in lines)


def test_blank_group_or_tag_and_a_never_built_knowledge_base_are_refused_without_a_trace(
    kb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--group "$GROUP"` with GROUP unset stored a group "" that hid the documents from every user
    from indexes.embedders import HashingEmbedder
    from ingest.pipeline import ingest_paths
    from kb.cli import main
    from kb.errors import InputError
    from kb.settings import reset_settings_cache

    docs = corpus(tmp_path / "docs", 1)
    monkeypatch.setenv("KB_HOME", str(kb_home))
    monkeypatch.setenv("KB_EMBEDDER", "hashing:64")
    reset_settings_cache()

    def refused(args: list[str], code: int) -> str:
        with pytest.raises(SystemExit) as ex:
            main(args)
        assert ex.value.code == code
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        return err

    assert refused(["ingest", str(docs), "--kb", "t", "--group", ""], 2) == (
        "error: --group needs a group name; e.g. --group staff, or leave --group out"
    )
    assert refused(["ingest", str(docs), "--kb", "t", "--group", "staff", "--tag", " "], 2).startswith(
        "error: --tag needs a tag name"
    )
    assert not (kb_home / "t").exists()
    # a blank path ("$DIR" unset) is no "." (QA 2026-12-07: the current folder was ingested), nor a
    # blank --kb the default knowledge base, nor a blank --source the recorded one; an empty folder
    # is no source to rebuild from, as it is none to ingest
    monkeypatch.chdir(docs)
    assert refused(["ingest", "", "--kb", "t"], 2) == (
        "error: a blank path names no file or folder; give the files or folders to ingest ('.' for this folder)")
    assert refused(["ingest", str(docs), "--kb", ""], 2).startswith("error: invalid knowledge base name ''")
    assert refused(["reindex", "--kb", "t", "--source", " "], 2).startswith("error: --source is blank")
    (tmp_path / "empty").mkdir()
    assert refused(["reindex", "--kb", "t", "--source", str(tmp_path / "empty")], 2).endswith(
        "holds no documents (hidden files and .meta.json sidecars are skipped); check the --source path")
    assert not (kb_home / "t").exists() and not (kb_home / "default").exists()
    with pytest.raises(InputError, match="a default group name is blank"):
        ingest_paths(KnowledgeBase(kb_home, "t"), [docs], HashingEmbedder(64), default_groups=("staff", " "))
    # a knowledge base never built: reindex without a source, and its jobs, are errors; no folder is left
    assert "has no recorded sources and no live version" in refused(["reindex", "--kb", "never"], 2)
    assert "has no published index" in refused(["jobs", "--kb", "never"], 1)
    assert not (kb_home / "never").exists()
    reset_settings_cache()


def test_a_kb_home_that_is_a_file_or_a_full_disk_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    docs = corpus(tmp_path / "docs", n=1)
    not_a_folder = tmp_path / "home.txt"
    not_a_folder.write_text("x", encoding="utf-8")
    for args in (["ingest", str(docs), "--kb", "t"], ["search", "refund", "--kb", "t"]):
        r = run_kb(args, not_a_folder)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        line = r.stderr.strip()
        assert "\n" not in line and "point KB_HOME at a folder" in line, line
    # the errors of a full disk and a read-only one, as the OS and SQLite raise them
    import errno
    import sqlite3

    from kb.errors import storage_problem

    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "home" / "t" / "lock"))
    assert "free some space" in str(storage_problem(full)) and "live version is unchanged" in str(storage_problem(full))
    assert "free some space" in str(storage_problem(sqlite3.OperationalError("database or disk is full")))
    assert "make it writable" in str(storage_problem(PermissionError(errno.EACCES, "Permission denied", "/x")))
    assert storage_problem(ValueError("a bug")) is None  # a bug stays a traceback, to be reported


def test_a_problem_line_names_its_source_once(capsys: pytest.CaptureFixture[str]) -> None:
    from kb.commands.common import print_problems

    print_problems({"failed": [{"source": "policies/", "error": "policies/: not in the knowledge base"},
                               {"source": "a/b.pdf", "error": "b.pdf: damaged PDF (PdfStreamError)"}]})
    assert capsys.readouterr().err.splitlines() == [
        "  failed: policies/: not in the knowledge base",  # was "policies/: policies/: ..."
        "  failed: a/b.pdf: damaged PDF (PdfStreamError)",
    ]


def test_delete_takes_a_path_as_kb_ingest_was_given_it(kb_home: Path, tmp_path: Path) -> None:
    """`kb ingest csvs/bom.csv` stores the source bom.csv, and `kb delete csvs/bom.csv` failed as
    "not in the knowledge base" (exit 3), as did its absolute path; only `kb delete bom.csv` worked.
    And the delete's line read "0 added, 0 updated, 5 unchanged, 0 deleted, 1 failed"."""
    work = tmp_path / "work"
    docs = corpus(work / "docs")  # ingested as a folder: doc0000.md, doc0001.md, doc0002.md
    (work / "csvs").mkdir()
    (work / "csvs" / "bom.csv").write_text("question,answer\nDo you ship abroad?,Yes, to 30 countries.\n",
                                          encoding="utf-8")
    assert run_kb(["ingest", "docs", "csvs/bom.csv", "--kb", "t"], kb_home, cwd=work).returncode == 0
    gone = run_kb(["delete", "csvs/bom.csv", str(docs / "doc0000.md"), "./docs/doc0001.md", "docs/doc0003.md",
                   "--kb", "t"], kb_home, cwd=work)
    assert gone.returncode == 3, gone.stderr
    assert gone.stdout.startswith("deleted from kb 't': 3 deleted, 1 not found; 1 documents kept"), gone.stdout
    assert "added" not in gone.stdout and "unchanged" not in gone.stdout
    assert gone.stderr.splitlines() == [
        "  deleted: doc0000.md", "  deleted: doc0001.md", "  deleted: bom.csv",
        "  failed: docs/doc0003.md: not in the knowledge base (did you mean 'doc0001.md' or 'doc0002.md'?); "
        "`kb status --sources` lists them",
    ]
    status = run_kb(["status", "--kb", "t", "--sources", "--json"], kb_home)
    assert json.loads(status.stdout)["sources"] == ["doc0002.md"]
    folder = run_kb(["delete", "docs", "--kb", "t", "--json"], kb_home, cwd=work)  # the folder given to ingest
    assert folder.returncode == 0 and json.loads(folder.stdout)["deleted"] == 1, folder.stderr


def test_prune_with_only_files_is_one_line_and_deletes_nothing(kb_home: Path, tmp_path: Path) -> None:
    docs = corpus(tmp_path / "ren")
    assert run_kb(["ingest", str(docs), "--kb", "t"], kb_home).returncode == 0
    lone = run_kb(["ingest", str(docs / "doc0001.md"), "--kb", "t", "--prune"], kb_home)
    assert lone.returncode == 2 and lone.stdout == "", lone.stdout
    assert lone.stderr.strip() == (
        f"error: --prune with only files ({docs / 'doc0001.md'}) would delete every other document; "
        "give the folder that holds all the documents, or leave --prune out"
    )
    status = run_kb(["status", "--kb", "t", "--sources", "--json"], kb_home)
    assert len(json.loads(status.stdout)["sources"]) == 3
