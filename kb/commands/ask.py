"""`kb ask` and `kb search`: questions in, checked answers (or passages) out.

:func:`build_assistant` wires an :class:`rag.assistant.Assistant` from settings; the HTTP
service can use it too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

KbOpt = Annotated[str | None, typer.Option("--kb", help="Knowledge base name (default: KB_NAME or 'default').")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]


def build_assistant(settings: Any, kb_name: str | None = None) -> Any:
    """An Assistant over the live version of ``kb_name`` with the configured embedder, LLM,
    reranker, support scorer and conversation store (``KB_HOME/<kb>/conversations.sqlite``)."""
    from indexes.embedders import get_embedder
    from indexes.kbase import KnowledgeBase
    from kb.errors import KnowledgeBaseNotFound
    from rag.assistant import Assistant
    from rag.conversation import ConversationStore
    from rag.retrieval import get_reranker
    from rag.support import get_scorer

    name = kb_name or settings.default_kb
    kb = KnowledgeBase.from_settings(Path(settings.home), name, settings)
    if not kb.exists() or kb.live_version() is None:
        raise KnowledgeBaseNotFound(name, settings.home)
    embedder = get_embedder(settings.embedder, device=settings.device, batch_size=settings.embed_batch_size)
    index = kb.load_live(expected_embedder=embedder.id)
    current = {"index": index}

    def provider() -> Any:
        return current["index"]

    device = "cpu" if settings.device == "auto" else settings.device
    return Assistant(
        provider,
        embedder,
        settings.llm,
        get_scorer(settings.scorer, embedder),
        ConversationStore(Path(settings.home) / name / "conversations.sqlite"),
        reranker=get_reranker(settings.reranker, device=device),
        **settings.answering(),
    )


def _print_sources(citations: list[dict[str, Any]]) -> None:
    if not citations:
        return
    typer.echo("\nSources:")
    for c in citations:
        where = f" ({c['locator']})" if c.get("locator") else ""
        typer.echo(f"  [{c['n']}] {c['source']}{where}")


def ask_cmd(
    question: Annotated[str, typer.Argument(help="The question.")],
    kb: KbOpt = None,
    session: Annotated[str | None, typer.Option("--session", help="Session id: keeps the conversation.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask a question; prints the answer with its sources (streams with an LLM backend)."""
    from kb.settings import get_settings

    settings = get_settings()
    assistant = build_assistant(settings, kb)
    if as_json:
        ans = assistant.ask(question, session_id=session)
        typer.echo(json.dumps(ans.to_dict(), ensure_ascii=False))
        return
    final: dict[str, Any] = {}
    streamed = False
    for ev in assistant.ask_stream(question, session_id=session):
        if ev["type"] == "token" and not assistant.llm.extractive:
            sys.stdout.write(ev["text"])
            sys.stdout.flush()
            streamed = True
        elif ev["type"] == "final":
            final = ev["answer"]
    if streamed:
        # the streamed draft is followed by the checked answer (unsupported sentences removed)
        typer.echo("\n\nChecked answer:")
    typer.echo(final.get("answer", ""))
    _print_sources(final.get("citations", []))
    typer.echo(f"\n(action: {final.get('action')}, confidence: {final.get('confidence', 0):.2f})")


def search_cmd(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    kb: KbOpt = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many sources to return.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Search the knowledge base (hybrid retrieval); prints source, locator, text and score."""
    from kb.settings import get_settings

    settings = get_settings()
    assistant = build_assistant(settings, kb)
    hits = assistant.search(query, k=k)
    rows = [
        {"source": h.chunk.source_id, "locator": h.chunk.locator, "title": h.chunk.title,
         "text": h.passage, "score": round(float(h.score), 4)}
        for h in hits
    ]
    if as_json:
        typer.echo(json.dumps({"query": query, "hits": rows}, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no matching passages")
    for i, r in enumerate(rows, start=1):
        where = f" ({r['locator']})" if r["locator"] else ""
        text = " ".join(r["text"].split())
        typer.echo(f"{i}. {r['source']}{where}  score {r['score']:.3f}\n   {text[:300]}")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask_cmd)
    app.command("search")(search_cmd)
