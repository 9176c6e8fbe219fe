"""`kb ingest`, `kb status`, `kb delete`: documents in, and what the knowledge base holds.

Exit codes: 0 full success, 3 done but some files failed, 1 fatal (a KBError, mapped by
kb.cli.main). Progress bars only on a terminal and never with --json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kb.commands.common import JsonOpt, KbOpt, exit_partial, open_kb, print_problems, refuse_blank


def _quiet_parsers() -> None:
    """Parsers log warnings about the files they read ("EOF marker not found"); the per-file
    outcome is in the report, so keep the terminal to one line per failed file."""
    import logging

    for name in ("pypdf", "pdfminer", "unstructured", "docx", "openpyxl", "jieba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _embedder(settings: Any) -> Any:
    from indexes.embedders import get_embedder

    return get_embedder(settings.embedder, device=settings.device, batch_size=settings.embed_batch_size)


def _print_report(report: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    version = report.get("index_version") or "(none)"
    typer.echo(
        f"{verb} kb {report['kb']!r}: {report['added']} added, {report['updated']} updated, "
        f"{report['unchanged']} unchanged, {report['deleted']} deleted, {len(report['failed'])} failed; "
        f"{report['chunks']} chunks; version {version} ({report['seconds']:.1f} s)"
    )
    print_problems(report)


def ingest_cmd(
    paths: Annotated[list[str], typer.Argument(help="Files or folders (folders are walked recursively).")],
    kb: KbOpt = None,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Remove the documents read from the folders among PATHs that are no "
                     "longer there (uploads and other folders' documents are kept)."),
    ] = False,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Access group for documents without their own (repeatable).")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag for documents without their own (repeatable).")] = None,
    public: Annotated[
        bool,
        typer.Option("--public", help="Publish to everyone documents that were ingested with --group before."),
    ] = False,
    undelete: Annotated[
        bool,
        typer.Option("--undelete", help="Also add back files whose documents kb delete removed (left out otherwise)."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest files and folders (PDF, DOCX, HTML, Markdown, TXT; FAQ tables as CSV/XLSX/JSON/JSONL)."""
    from ingest.pipeline import ingest_paths
    from kb.errors import InputError

    if public and group:
        raise InputError("--public and --group contradict each other", "give one of them")
    refuse_blank("--group", group, "staff", "leave --group out")
    refuse_blank("--tag", tag, "returns", "leave --tag out")
    if any(not p.strip() for p in paths):
        # ("" is the current folder to pathlib: `kb ingest "$DIR"` with DIR unset ingested it)
        raise InputError("a blank path names no file or folder", "give the files or folders to ingest ('.' for this folder)")
    _quiet_parsers()
    knowledge_base, settings = open_kb(kb)
    embedder = _embedder(settings)
    progress = not as_json and sys.stderr.isatty()
    report = ingest_paths(
        knowledge_base,
        [Path(p) for p in paths],
        embedder,
        prune=prune,
        **settings.ingesting(),
        progress=progress,
        default_groups=tuple(group or ()),
        default_tags=tuple(tag or ()),
        widen=public,
        undelete=undelete,
    )
    _print_report(report.to_dict(), as_json, "ingested into")
    if report.keyword_rebuilt and not as_json:
        typer.echo("  keyword index rebuilt from the stored chunks: it " + " and ".join(report.keyword_rebuilt))
    if report.failed:
        exit_partial()


def delete_cmd(
    sources: Annotated[list[str], typer.Argument(
        help="Sources as `kb status --sources` lists them, a folder prefix 'dir/', or the paths of files or "
        "folders as `kb ingest` was given them.")],
    kb: KbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete documents by source; their content is no longer retrievable afterwards, and the
    server's kept copy of an uploaded one is removed too."""
    from ingest.pipeline import delete_sources
    from kb.errors import KnowledgeBaseNotFound

    knowledge_base, settings = open_kb(kb)
    if not knowledge_base.path.is_dir():  # a misspelt --kb: say so, and leave no folder of that name
        raise KnowledgeBaseNotFound(knowledge_base.name, settings.home)
    embedder = _embedder(settings)
    report = delete_sources(knowledge_base, sources, embedder, paths=True)
    if as_json:
        _print_report(report.to_dict(), as_json, "deleted from")
    else:
        # a delete says what a delete did: its line read "0 added, 0 updated, 5 unchanged, 0
        # deleted, 1 failed", as if files had been ingested
        missing = len(report.failed) - report.ambiguous
        said = [f"{report.deleted} deleted", f"{missing} not found"]
        if report.ambiguous:
            said.append(f"{report.ambiguous} naming two documents or more (not deleted)")
        version = report.index_version or "(none)"
        typer.echo(
            f"deleted from kb {report.kb!r}: {', '.join(said)}; {report.unchanged} documents kept, "
            f"{report.chunks} chunks; version {version} ({report.seconds:.1f} s)"
        )
        print_problems(report.to_dict())
    if report.failed:
        exit_partial()


def status_cmd(
    kb: KbOpt = None,
    sources: Annotated[bool, typer.Option("--sources", help="Also list the document sources.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the live index version, counts and embedder of a knowledge base."""
    from kb.errors import KnowledgeBaseNotFound

    knowledge_base, settings = open_kb(kb)
    if not knowledge_base.live_version():
        raise KnowledgeBaseNotFound(knowledge_base.name, settings.home)
    status = dict(knowledge_base.status())
    if "problem" not in status or sources:  # a damaged live version: --sources says so, as loading it fails
        index = knowledge_base.load_live()
        try:
            behind = index.keyword_index_behind()
            status["keyword_index"] = (
                f"built by older code: it {' and '.join(behind)}; the next `kb ingest` (even of unchanged "
                f"files) or `kb reindex --kb {knowledge_base.name}` rebuilds it from the stored chunks"
                if behind else "current"
            )
            status["questions"] = (
                "embedded as this code embeds them" if index.bare_questions else
                "curated questions embedded with their closing marks by older code (searched so, about 1 ms "
                f"slower); the next `kb ingest` or `kb reindex --kb {knowledge_base.name}` embeds them again"
            )
            if sources:
                status["sources"] = sorted(d.source for d in index.documents())
        finally:
            index.close()
    if as_json:
        typer.echo(json.dumps(status, ensure_ascii=False, default=str))
        return
    for key, value in status.items():
        if isinstance(value, list | dict) and key != "sources":
            value = json.dumps(value, ensure_ascii=False, default=str)
        if key == "sources":
            typer.echo("sources:")
            for s in value:
                typer.echo(f"  {s}")
            continue
        typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("status")(status_cmd)
    app.command("delete")(delete_cmd)
