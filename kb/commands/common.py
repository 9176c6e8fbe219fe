"""What the `kb` commands share: their --kb and --json options, opening the knowledge base they
name, the exit code of a partial success, the lines that report a job's failed files and
warnings, the refusal of a blank name, and a --json command's error as JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from kb.errors import without_own_name

KbOpt = Annotated[str | None, typer.Option("--kb", help="Knowledge base name (default: KB_NAME or 'default').")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]

# done, but some files failed (they kept their previous chunks where the live version had them)
EXIT_PARTIAL = 3


def json_text(obj: Any, **kw: Any) -> str:
    """``obj`` as JSON to print: its text as it is where stdout can write it, else (a terminal
    that is not UTF-8) as \\u escapes, which stay valid JSON where the writer's backslash escapes
    would not."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):  # LookupError: an encoding Python does not know
        return json.dumps(obj, ensure_ascii=True, **kw)
    return text


@contextmanager
def json_errors(as_json: bool) -> Iterator[None]:
    """With ``--json``, a KBError is also printed on stdout as one JSON object, ``{"error": code,
    "message": ..., "hint": ...}``, and raised on: :func:`kb.cli.main` still writes its one line on
    stderr and exits with its code. `kb ask --json` with the LLM server unreachable printed nothing
    on stdout, and a script parsing it got no JSON to read."""
    from kb.errors import KBError

    try:
        yield
    except KBError as err:
        if as_json:
            typer.echo(json_text({"error": err.code, "message": err.message, "hint": err.hint}))
        raise


def open_kb(name: str | None) -> tuple[Any, Any]:
    """The knowledge base ``name`` (default: the settings' default) and the settings."""
    from indexes.kbase import KnowledgeBase
    from kb.settings import get_settings

    settings = get_settings()
    return KnowledgeBase.from_settings(Path(settings.home), settings.default_kb if name is None else name, settings), settings


def refuse_blank(option: str, values: Sequence[str] | None, example: str, otherwise: str) -> None:
    """An error when one of a repeatable option's values is blank: ``--group "$GROUP"`` with GROUP
    unset. (``kb ingest`` stored a group "" that hid the documents from every user; left out, it
    would have given documents meant for one group to everyone.)"""
    if any(not v.strip() for v in values or ()):
        from kb.errors import InputError

        raise InputError(f"{option} needs a {option.removeprefix('--')} name", f"e.g. {option} {example}, or {otherwise}")


def exit_partial() -> None:
    # sys.exit rather than typer.Exit: kb.cli.main runs click with standalone_mode=False, where an
    # Exit is turned into a return value and its code would be lost
    sys.stdout.flush()
    sys.exit(EXIT_PARTIAL)


def print_problems(report: dict[str, Any]) -> None:
    """One line on stderr for each failed file (``failed``: {source, error}) and each warning
    (``warnings``: {source, warning}) of an ingest or reindex report."""
    for source in report.get("deleted_sources", ()):
        typer.echo(f"  deleted: {source}", err=True)
    for key, field, label in (("failed", "error", "failed"), ("warnings", "warning", "warning")):
        for item in report.get(key, ()):
            # the message names the file (or the folder) first; the line names its source already
            text = without_own_name(item["source"], item[field])
            typer.echo(f"  {label}: {item['source']}: {text}" if item["source"] else f"  {label}: {text}", err=True)


def check_model_specs(settings: Any) -> None:
    """The embedder, LLM and reranker specs, read (not loaded) before a long job or a server
    starts: `kb serve` with KB_LLM=nope: answered /healthz "ok" and every question with the error,
    and `kb eval` found a missing reranker only after ingesting every set."""
    from indexes.embedders import get_embedder
    from rag.llm import get_llm
    from rag.retrieval import get_reranker

    get_embedder(settings.embedder, device=settings.device, batch_size=settings.embed_batch_size)
    llm = get_llm(settings.llm)
    check = getattr(llm, "check", None)
    if callable(check):
        check()  # a local model's files: a missing one answered every question with a 500
    get_reranker(settings.reranker)
