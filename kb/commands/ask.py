"""`kb ask` and `kb search`: questions in, checked answers (or passages) out.

:func:`build_assistant` wires an :class:`rag.assistant.Assistant` from settings; the HTTP
service can use it too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kb.commands.common import JsonOpt, KbOpt, json_errors, json_text, refuse_blank

GroupOpt = Annotated[
    list[str] | None,
    typer.Option("--group", help="Ask as a user in this access group (repeatable): see what they would see."),
]
PublicOpt = Annotated[
    bool, typer.Option("--public", help="Ask as a user in no group: documents without access groups only.")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Only documents with this tag (repeatable).")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Only documents in this language (en, zh, ...).")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", help="Only this document source (repeatable).")]
DateOpt = Annotated[
    str | None, typer.Option("--on-date", help="Documents valid on this day, YYYY-MM-DD (default: today).")
]


def build_assistant(settings: Any, kb_name: str | None = None, *, warm: bool = False) -> Any:
    """An Assistant over the live version of ``kb_name`` with the configured embedder, LLM,
    reranker and support scorer, and no conversation store of its own: `kb ask --session` keeps
    a session's turns where the HTTP service does (:class:`_Session`), as the service passes the
    history explicitly. ``warm``: make the version ready to serve as the service does
    (:meth:`IndexVersion.warm_up`), worth it for many questions, not for one."""
    from indexes.embedders import get_embedder
    from indexes.kbase import KnowledgeBase
    from kb.errors import KnowledgeBaseNotFound
    from rag.assistant import Assistant
    from rag.retrieval import get_reranker
    from rag.support import get_scorer

    name = settings.default_kb if kb_name is None else kb_name
    kb = KnowledgeBase.from_settings(Path(settings.home), name, settings)
    if not kb.exists() or kb.live_version() is None:
        raise KnowledgeBaseNotFound(name, settings.home)
    embedder = get_embedder(settings.embedder, device=settings.device, batch_size=settings.embed_batch_size)
    index = kb.load_live(expected_embedder=embedder.id)
    if warm:
        index.warm_up()
    current = {"index": index}

    def provider() -> Any:
        return current["index"]

    device = "cpu" if settings.device == "auto" else settings.device
    return Assistant(
        provider,
        embedder,
        settings.llm,
        get_scorer(settings.scorer, embedder),
        reranker=get_reranker(settings.reranker, device=device),
        **settings.answering(llm_device=device),
    )


def cli_filters(
    groups: list[str] | None,
    public: bool,
    tags: list[str] | None,
    lang: str | None,
    sources: list[str] | None,
    on_date: str | None,
) -> Any:
    """The retrieval filters the options ask for; None when they ask for none. Without
    ``--group`` or ``--public`` the command sees every document, as the knowledge base's operator
    (access groups restrict what users of the HTTP service see)."""
    import datetime as _dt

    from indexes.types import Filters, lang_code
    from kb.errors import InputError

    if public and groups:
        raise InputError("--public and --group contradict each other", "give one of them")
    # a blank group is refused, as ``kb ingest`` and ``kb serve`` refuse one: dropped beside another
    # (``--group "$UNSET" --group staff``) it answered as staff alone
    refuse_blank("--group", groups, "staff", "--public for users in no group")
    named = [g.strip() for g in groups or ()]
    day = None
    if on_date is not None:
        try:
            day = _dt.date.fromisoformat(on_date.strip())
        except ValueError:
            raise InputError(f"--on-date {on_date!r} is not a date", "write it as YYYY-MM-DD") from None
    if lang is not None and not lang.strip():
        raise InputError("--lang needs a language", "e.g. --lang en, or leave --lang out")
    if lang is not None:
        try:
            lang = lang_code(lang)
        except ValueError as exc:
            said, _, hint = str(exc).partition("; ")
            raise InputError(f"--lang {said}", hint) from None
    else:
        lang = None
    # a blank tag or source is refused, as a blank group is (and as the service refuses one)
    refuse_blank("--tag", tags, "returns", "leave --tag out")
    refuse_blank("--source", sources, "faq.csv", "leave --source out")
    chosen = Filters.of(
        groups=named if named else (() if public else None), tags=tags, lang=lang, on_date=day, sources=sources
    )
    return None if chosen == Filters() else chosen




class _Session:
    """A conversation `kb ask --session ID` continues, in the HTTP service's store
    (``KB_HOME/feedback.sqlite``): one session id was two conversations before, the CLI's own
    (``KB_HOME/<kb>/conversations.sqlite``) and the service's, each condensing a follow-up with its
    own turns only. A session the CLI began before is read from that file until it has turns here."""

    def __init__(self, settings: Any, kb_name: str, session_id: str, filters: Any) -> None:
        from kb.auth import ANONYMOUS
        from kb.errors import InputError
        from kb.service.store import ServiceStore
        from rag.assistant import check_session_id

        check_session_id(session_id)
        self.kb, self.id = kb_name, session_id
        self.viewer = filters.groups if filters is not None else None  # the access groups it is asked under
        self.store = ServiceStore(Path(settings.home) / "feedback.sqlite")
        # (as the caller of a service without API keys: a session goes on between the two)
        owner = self.store.claim_session(session_id, ANONYMOUS)
        if owner != ANONYMOUS:
            self.store.close()
            raise InputError(
                f"session {session_id!r} was started over HTTP with the API key {owner!r}",
                "continue it over HTTP with that key, or give another --session",
            )
        self.history = [{"role": t["role"], "content": t["content"]}
                        for t in self.store.history(session_id, limit=20, viewer=self.viewer, kb=kb_name)]
        old = Path(settings.home) / kb_name / "conversations.sqlite"
        if not self.history and old.is_file():
            from rag.conversation import ConversationStore

            before = ConversationStore(old)
            try:
                self.history = [dict(m) for m in before.history(session_id, viewer=self.viewer)]
            finally:
                before.close()

    def record(self, question: str, answer: dict[str, Any], hits: Any = ()) -> None:
        """Keep the turn (its answer also takes feedback by its ``answer_id``, as the service's do)."""
        import sqlite3
        import uuid

        from indexes.text import detect_lang
        from kb.auth import ANONYMOUS
        from kb.service.core import hit_to_passage

        cited = {c.get("source", "") for c in answer.get("citations", [])}
        try:
            self.store.record_answer(
                answer_id=answer.get("answer_id") or "ans_" + uuid.uuid4().hex[:20], kb=self.kb, session_id=self.id,
                question=question, answer=answer, lang=answer.get("lang") or detect_lang(question),
                passages=[hit_to_passage(h, cited) for h in hits], history=self.history, caller=ANONYMOUS,
                groups=self.viewer,
            )
        except (sqlite3.Error, OSError) as ex:
            typer.echo(f"warning: the turn was answered but not kept in session {self.id!r} ({ex})", err=True)
        finally:
            self.store.close()


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
    group: GroupOpt = None,
    public: PublicOpt = False,
    tag: TagOpt = None,
    lang: LangOpt = None,
    source: SourceOpt = None,
    on_date: DateOpt = None,
) -> None:
    """Ask a question; prints the answer with its sources (streams with an LLM backend)."""
    with json_errors(as_json):  # a script reading --json gets the error as JSON too
        from kb.errors import InputError
        from kb.settings import get_settings

        filters = cli_filters(group, public, tag, lang, source, on_date)
        settings = get_settings()
        if session is not None and not session.strip():
            raise InputError("--session is blank", "name the session to continue, or leave --session out")
        assistant = build_assistant(settings, kb)
        talk = _Session(settings, settings.default_kb if kb is None else kb, session, filters) if session else None
        history = talk.history if talk is not None else None
        if as_json:
            try:
                ans = assistant.ask(question, session_id=session, filters=filters, history=history)
            except BaseException:
                if talk is not None:
                    talk.store.close()
                raise
            out = ans.to_dict()
            if talk is not None:
                talk.record(question, out, ans.hits)
            typer.echo(json_text(out))
            return
        final: dict[str, Any] = {}
        hits: Any = ()
        streamed = ""  # with an LLM backend, the checked answer as it is written, sentence by sentence
        try:
            for ev in assistant.ask_stream(question, session_id=session, filters=filters, history=history):
                if ev["type"] == "token" and not assistant.llm.extractive:
                    sys.stdout.write(ev["text"])
                    sys.stdout.flush()
                    streamed += ev["text"]
                elif ev["type"] == "final":
                    final, hits = ev["answer"], ev["answer_obj"].hits
        finally:
            if streamed and not final:
                sys.stdout.write("\n")  # an error's line after what was printed, not on it
                sys.stdout.flush()
            if talk is not None:
                if final:
                    talk.record(question, final, hits)
                else:
                    talk.store.close()
        answer = final.get("answer", "")
        if streamed and answer == streamed:
            typer.echo("")
        else:
            typer.echo(("\n" if streamed else "") + answer)
        _print_sources(final.get("citations", []))
        # an answer composed without the model (it was down or out of time) says so
        fell_back = f", fallback: {final['fallback']} ({final.get('fallback_reason')})" if final.get("fallback") else ""
        typer.echo(f"\n(action: {final.get('action')}, confidence: {final.get('confidence', 0):.2f}{fell_back})")


def search_cmd(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    kb: KbOpt = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many sources to return.")] = 5,
    as_json: JsonOpt = False,
    group: GroupOpt = None,
    public: PublicOpt = False,
    tag: TagOpt = None,
    lang: LangOpt = None,
    source: SourceOpt = None,
    on_date: DateOpt = None,
) -> None:
    """Search the knowledge base (hybrid retrieval); prints source, locator, text and score."""
    with json_errors(as_json):
        from kb.settings import get_settings

        filters = cli_filters(group, public, tag, lang, source, on_date)
        settings = get_settings()
        assistant = build_assistant(settings, kb)
        hits = assistant.search(query, k=k, filters=filters)
        rows = [
            {"source": h.chunk.source_id, "locator": h.locator, "title": h.chunk.title,
             "text": h.passage, "score": round(float(h.score), 4)}
            for h in hits
        ]
        if as_json:
            typer.echo(json_text({"query": query, "hits": rows}))
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
