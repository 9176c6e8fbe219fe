"""`kb eval`: run evaluation sets through the product and report (JSON, HTML, CI gate, compare).

The shell wires the parts the harness may not import itself: ingestion into a fresh knowledge
base per set (``ingest.pipeline.ingest_paths``, the path a user's upload takes) and the same
``Assistant`` the service answers with (:func:`kb.commands.ask.build_assistant`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from kb.commands.common import EXIT_PARTIAL
from kb.errors import EmbedderMismatchError, InputError, KBError

GATE_RE = re.compile(r"^(?:(?P<set>[^:=]+):)?(?P<metric>[A-Za-z_][\w.@]*)=(?P<value>-?[0-9.]+)$")


class GateError(InputError):
    code = "bad_gate"


# (set or None for every set, metric, threshold, over): ``over`` is a --fail-over gate, failing
# when the metric is above the threshold; a --fail-under one fails when it is below
Gate = tuple[str | None, str, float, bool]


def _option(over: bool) -> str:
    return "--fail-over" if over else "--fail-under"


def parse_gates(specs: list[str], over: bool = False) -> list[Gate]:
    """The gates of ``--fail-under`` (``over``: of ``--fail-over``). A metric where lower is better
    (false_refusal_rate, handoff_rate) is refused by --fail-under and gated by --fail-over: under
    --fail-under, ``false_refusal_rate=0.1`` failed a run whose rate was 0 ("0.0000 < 0.1"); the
    other metrics are refused by --fail-over."""
    from eval.harness import LOWER_IS_BETTER

    option = _option(over)
    out: list[Gate] = []
    for spec in specs:
        m = GATE_RE.match(spec.strip())
        if not m:
            raise GateError(
                f"{option} {spec!r} is not METRIC=VALUE",
                "write e.g. false_refusal_rate=0.1 or mtrag-un:handoff_rate=0.2" if over
                else "write e.g. hit@5=0.8 or covid-faq:hit@5=0.8",
            )
        try:
            value = float(m.group("value"))
        except ValueError:  # "1.2.3" passes the pattern
            value = float("nan")
        example = "false_refusal_rate=0.1" if over else "hit@5=0.8"
        if value != value:
            raise GateError(f"{option} {spec!r}: {m.group('value')} is not a number", f"write e.g. {example}")
        # a rate is in [0, 1]: a gate of 2 always fails and one of -1 never does
        if not 0.0 <= value <= 1.0 and "." not in m.group("metric"):
            raise GateError(f"{option} {spec!r}: {m.group('value')} is not a rate between 0 and 1",
                            f"write e.g. {example}")
        metric = m.group("metric")
        key = metric.rpartition(".")[2]
        if not over and key in LOWER_IS_BETTER:
            raise GateError(
                f"--fail-under {spec!r}: a lower {key} is better, so a floor under it fails good runs",
                f"cap it with --fail-over {spec.strip()} (exit 1 when above)",
            )
        if over and key not in LOWER_IS_BETTER:
            raise GateError(
                f"--fail-over {spec!r}: a higher {key} is better; --fail-over caps only "
                + " and ".join(sorted(LOWER_IS_BETTER)),
                f"gate it with --fail-under {spec.strip()} (exit 1 when below)",
            )
        out.append((m.group("set"), metric, value, over))
    return out


def check_gate_metrics(gates: list[Gate], kinds: dict[str, str]) -> None:
    """Fail before the run on a gate whose metric no evaluated set can report: a typo
    ("hit@3", "faithfulnes") or a metric of the other kind of set. ``kinds`` maps set names to
    their kind ("qa", "faithfulness")."""
    from eval.harness import METRIC_GROUPS

    def names(kind: str) -> set[str]:
        return {n for group, keys in METRIC_GROUPS[kind].items() for key in keys for n in (key, f"{group}.{key}")}

    every = set().union(*(names(kind) for kind in METRIC_GROUPS))
    for set_name, metric, _, over in gates:
        evaluated = {kinds[set_name]} if set_name is not None else set(kinds.values())
        if any(metric in names(kind) for kind in evaluated):
            continue
        if metric in every:
            other = next(kind for kind in METRIC_GROUPS if metric in names(kind))
            raise GateError(
                f"{_option(over)} metric {metric!r} was not computed for any evaluated set",
                f"it is reported for {other} sets only",
            )
        raise GateError(
            f"{_option(over)} metric {metric!r} is not a metric kb eval reports",
            "use one of: " + ", ".join(sorted({k for g in METRIC_GROUPS.values() for ks in g.values() for k in ks})),
        )


def check_outputs(
    *paths: Path | None,
    examples: tuple[str, ...] = ("report.json", "report.html", "ragas.json"),
    options: tuple[str, ...] = ("--out", "--html", "--ragas"),
) -> None:
    """Fail before an eval of minutes or hours, not after it, on a report path that cannot be
    written: a folder given as the file, a file where its folder belongs, a folder that takes
    no file (``/proc``: the whole eval ran, then failed as an internal error), or one file given
    for two reports (``--out r --html r``: the HTML page overwrote the JSON without a word).
    ``examples``: a file name for each path, for the hint; ``options``: the option of each, for
    the message."""
    import os
    import tempfile

    # (a folder given twice is told it is a folder, below)
    given = [(opt, p) for opt, p in zip((*options, *("",) * len(paths)), paths, strict=False)
             if p is not None and not p.is_dir()]
    for i, (opt, file) in enumerate(given):
        for other_opt, other in given[:i]:
            if file.resolve() == other.resolve() or (file.exists() and other.exists() and file.samefile(other)):
                raise InputError(f"{other_opt} and {opt} name the same file {file}",
                                 "give each report a file of its own, e.g. --out report.json --html report.html")
    for path, example in zip(paths, (*examples, *("report.json",) * len(paths)), strict=False):
        if path is None:
            continue
        if path.is_dir():
            raise InputError(f"{path} is a folder", f"give a file name for the report, e.g. {example}")
        parent = path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as ex:
            raise InputError(f"cannot make the folder of {path} ({ex.strerror})", "give a path in a folder you can write") from None
        try:  # (root may write anywhere by its permissions, and /proc still takes no file)
            with tempfile.NamedTemporaryFile(dir=parent, prefix=".kb-eval-", delete=True):
                pass
        except OSError as ex:
            raise InputError(f"cannot write a file in {parent} ({ex.strerror})", "give a path in a folder you can write") from None
        if path.exists() and not os.access(path, os.W_OK):
            raise InputError(f"cannot write {path}", "give a path in a folder you can write")


def _lookup(res: dict[str, Any], metric: str) -> float | None:
    if "." in metric:
        group, _, key = metric.partition(".")
        v = res.get(group, {}).get(key)
        return float(v) if isinstance(v, int | float) else None
    for group in ("retrieval", "answers", "scorer"):
        v = res.get(group, {}).get(metric)
        if isinstance(v, int | float):
            return float(v)
    return None


def check_gates(result: dict[str, Any], gates: list[Gate]) -> list[str]:
    """One line per failed threshold. A gate naming a metric that no evaluated set has is an
    error (a typo must not pass silently)."""
    failures: list[str] = []
    for set_name, metric, threshold, over in gates:
        sets = result["sets"]
        if set_name is not None and set_name not in sets:
            raise GateError(
                f"{_option(over)} names set {set_name!r}, which was not evaluated",
                f"evaluated sets: {', '.join(sets) or 'none'}",
            )
        checked = 0
        for name, res in sets.items():
            if set_name is not None and name != set_name:
                continue
            v = _lookup(res, metric)
            if v is None:
                continue
            checked += 1
            if over and v > threshold:
                failures.append(f"eval gate failed: {name} {metric} = {v:.4f} > {threshold:g}")
            elif not over and v < threshold:
                failures.append(f"eval gate failed: {name} {metric} = {v:.4f} < {threshold:g}")
        if not checked:
            named = [set_name] if set_name is not None else list(sets)
            raise GateError(
                f"{_option(over)} metric {metric!r} was not computed for {', '.join(named) or 'any set'}: "
                + _why_not_computed(metric.rpartition(".")[2]),
                "gate on a metric the set reports (its report lists them), or add the questions it needs",
            )
    return failures


def check_fallbacks(result: dict[str, Any]) -> list[str]:
    """One line per set some of whose answers were composed without the LLM under test (it failed
    or ran out of time): a gate on such a run measures the offline composer, not the LLM. `kb eval
    --llm ... --fail-under` with the server down passed its gate, exit 0."""
    from eval.report import fallback_note

    llm = result.get("settings", {}).get("llm")
    return [
        f"eval gate failed: {name}: {note}"
        for name, res in result["sets"].items()
        if (note := fallback_note(res, llm))
    ]


def _why_not_computed(metric: str) -> str:
    """Why a metric of the right kind of set has no value: which questions it needs. (A set of
    unanswerable questions alone was told to use hit@5, the very metric refused.)"""
    from eval.harness import RETRIEVAL_KEYS

    if metric in RETRIEVAL_KEYS or metric in ("faithfulness", "fully_supported", "citation_precision",
                                              "citation_recall", "answer_rate", "false_refusal_rate"):
        return "it needs answerable questions (answered ones, for an answer's metrics), and the set has none"
    if metric == "refusal_accuracy":
        return "it needs unanswerable questions, and the set has none"
    if metric.startswith("correctness"):
        return "it needs answered questions with reference answers, and the set has none"
    return "the set holds no question it applies to"


def _settings_summary(
    settings: Any, llm: str, scorer: Any, limit: int | None, kb: str | None
) -> dict[str, Any]:
    return {
        "embedder": settings.embedder,
        "llm": llm,
        "scorer": getattr(scorer, "id", str(settings.scorer)),
        "reranker": settings.reranker,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "handoff_threshold": settings.handoff_threshold,
        "limit": limit,
        "kb": kb or "fresh",
    }


def _kb_name_for(set_name: str, embedder_id: str | None = None) -> str:
    """The work dir's knowledge base for a set ("eval-covid-faq"); with ``embedder_id``, the one for
    that embedder beside it ("eval-covid-faq--sentence-transformers-all-MiniLM-L6-v2-724e3824": its
    provider and model name, and a hash of its id)."""
    def slug(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")

    name = "eval-" + (slug(set_name)[:50] or "set")
    if embedder_id is None:
        return name
    provider, _, model = embedder_id.partition(":")
    tail = slug(f"{provider}-{model.rstrip('/').rsplit('/', 1)[-1]}")[:40]
    return f"{name}--{tail}-{hashlib.sha1(embedder_id.encode()).hexdigest()[:8]}"


def _kb_name_here(home: Path, set_name: str, docs_dir: Path) -> str:
    """The work dir's knowledge base for the set whose documents are in ``docs_dir``: the set's
    (:func:`_kb_name_for`), unless that one was read from another folder that is still there
    (another checkout's copy of eval/sets): this folder's set gets one of its own, named by a hash
    of the folder. Re-read there (a newer chunker), the set's files failed as files of the name of
    documents read from the other folder, and the eval gate of a second clone failed."""
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import origin_folder

    name = _kb_name_for(set_name)
    here = str(docs_dir.resolve())
    kb = KnowledgeBase(home, name)
    if not kb.exists():
        return name
    try:
        docs = kb.load_live().documents()
    except (KBError, OSError, ValueError):
        return name  # no live version to read: the ingest says what is wrong with it
    others = {o for o in (origin_folder(d) for d in docs) if o is not None and o != here}
    if not any(Path(o).is_dir() for o in others):
        return name
    return f"{name}--{hashlib.sha1(here.encode()).hexdigest()[:8]}"


def match_kb_gold(loaded: list[Any], settings: Any, kb: str) -> list[Any]:
    """The QA sets of ``loaded`` with their gold ids checked against the sources of the existing
    knowledge base ``kb`` (`kb eval --kb`), which is what is asked: a gold source it does not hold
    is an error naming it, with the nearest sources it does hold, before any question is asked
    (asked, the question read as a retrieval miss)."""
    from eval.datasets import QASet
    from indexes.kbase import KnowledgeBase
    from kb.errors import KnowledgeBaseNotFound

    if not any(isinstance(d, QASet) for d in loaded):
        return loaded
    base = KnowledgeBase.from_settings(Path(settings.home), kb, settings)
    if not base.exists() or base.live_version() is None:
        raise KnowledgeBaseNotFound(kb, settings.home)
    sources = live_sources(base)
    return [
        gold_held(ds, sources, f"knowledge base {kb!r}", f"ingest that document into {kb}, or correct the gold id in "
                  "questions.jsonl") if isinstance(ds, QASet) else ds
        for ds in loaded
    ]


def live_sources(kb: Any) -> set[str]:
    """The source ids of the knowledge base ``kb``'s live version (``faq.csv#<id>`` per FAQ row)."""
    version = kb.load_live()
    try:
        return set(version.row_sources()[0])
    finally:
        version.close()


def gold_held(ds: Any, sources: set[str], kb_label: str, hint: str) -> Any:
    """``ds`` with its gold ids read as the knowledge base's ``sources`` name them
    (:func:`eval.datasets.match_gold`); a gold id none of them is an error naming it, with the
    nearest sources, before any question is asked: asked, the question read as a retrieval miss."""
    from eval.datasets import match_gold
    from indexes.types import did_you_mean

    ds, unknown = match_gold(ds, sources)
    if unknown:
        item, gold = unknown[0]
        others = len({i.id for i, _ in unknown}) - 1
        rows = sorted(x for x in sources if x.startswith(gold + "#"))
        # (a table read as an FAQ: each row a source of its own, named by a hash without an id column)
        near = f" (each row of it is a source: {', '.join(map(repr, rows[:2]))}, ...)" if rows else ""
        raise InputError(
            f"{ds.name}: gold id {gold!r} of question {item.id!r} is not a source of {kb_label}"
            f"{near or did_you_mean([gold], sources)}"
            + (f" (nor a gold id of {others} more question{'s' if others > 1 else ''})" if others else ""),
            hint,
        )
    return ds


def gold_ingested(ds: Any, kb: Any) -> None:
    """An error when a gold id of ``ds`` is none of the sources ingestion made of its docs/ (in the
    knowledge base ``kb``). The set's own check reads FAQ tables more simply than ingestion does:
    a row ingestion skipped (no answer), a table without an id column (its rows named by a hash)
    or another delimiter passed it, and every such question was scored a miss without a word."""
    gold_held(
        ds, live_sources(kb), f"the knowledge base made of {ds.name}/docs",
        "ingestion skipped or named that row otherwise (see the warnings above): fix the table (every row an "
        "answer and an id of its own) or the gold id in questions.jsonl",
    )


def check_gold_ingested(ds: Any, failed: list[dict[str, str]]) -> None:
    """An error when a question's gold document failed to ingest: its question would count as a
    retrieval miss of the system, not of the data (a gold ``faq.csv#7`` fails with ``faq.csv``)."""
    bad = {f["source"]: f["error"] for f in failed}
    hit = [
        (item, g if g in bad else g.partition("#")[0])
        for item in ds.items
        for g in item.gold
        if g in bad or g.partition("#")[0] in bad
    ]
    if not hit:
        return
    item, source = hit[0]
    others = len({i.id for i, _ in hit}) - 1
    raise InputError(
        f"{ds.name}: {source!r}, gold document of question {item.id!r}"
        + (f" and {others} more question{'s' if others > 1 else ''}" if others else "")
        + " failed to ingest (see the line above)",
        "fix the document, or take its questions out of questions.jsonl",
    )


def make_session_opener(
    settings: Any,
    llm: str,
    kb: str | None,
    work_dir: Path | None,
    progress: bool,
    log: Callable[[str], None],
    ingest_failed: dict[str, list[dict[str, str]]] | None = None,
) -> Callable[[Any], contextlib.AbstractContextManager[Any]]:
    """``open_session(qa_set)``: a fresh knowledge base with the set's docs/ ingested through
    the normal ingestion path (kept in ``work_dir`` when given: a re-run only re-ingests what
    changed), or the existing ``kb``; yields ``ask(item)`` through the service's Assistant.
    Documents that fail to ingest are printed as `kb ingest` prints them and kept in
    ``ingest_failed`` by set name (the report's ``ingest_failed``); a question's gold document
    among them is an error (:func:`check_gold_ingested`). They were dropped without a word, and
    their questions counted as misses."""
    from kb.commands.ask import build_assistant
    from kb.commands.common import print_problems

    @contextlib.contextmanager
    def open_session(ds: Any) -> Iterator[Callable[[Any], Any]]:
        with contextlib.ExitStack() as stack:
            if kb is not None:
                s = settings
                name = kb
            else:
                from indexes.embedders import get_embedder
                from indexes.kbase import KnowledgeBase
                from ingest.pipeline import ingest_paths

                home = (
                    work_dir
                    if work_dir is not None
                    else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kb-eval-")))
                )
                home.mkdir(parents=True, exist_ok=True)
                name = _kb_name_here(home, ds.name, Path(ds.docs_dir))
                s = settings.model_copy(update={"home": home})
                embedder = get_embedder(s.embedder, device=s.device, batch_size=s.embed_batch_size)

                def ingest_into(kb_name: str) -> Any:
                    return ingest_paths(
                        KnowledgeBase.from_settings(home, kb_name, s),
                        [ds.docs_dir],
                        embedder,
                        prune=True,
                        **s.ingesting(),
                        progress=progress,
                    )

                try:
                    report = ingest_into(name)
                except EmbedderMismatchError:
                    # the work dir keeps this set's knowledge base of another embedder (a run with
                    # KB_EMBEDDER set, then one without): each embedder gets its own, both kept
                    name = _kb_name_for(ds.name, embedder.id)
                    report = ingest_into(name)
                rep = report.to_dict()
                log(
                    f"{ds.name}: ingested {rep.get('added', 0)} new, {rep.get('updated', 0)} updated, "
                    f"{rep.get('unchanged', 0)} unchanged documents ({rep.get('chunks')} chunks, {rep.get('seconds')} s)"
                    + ("; keyword index rebuilt: it " + " and ".join(report.keyword_rebuilt) if report.keyword_rebuilt else "")
                )
                failed = [{"source": f["source"], "error": f["error"]} for f in rep.get("failed", [])]
                # (an FAQ row skipped, an id given twice: as kb ingest says them)
                print_problems({"failed": failed, "warnings": rep.get("warnings", [])})
                if failed:
                    if ingest_failed is not None:
                        ingest_failed[ds.name] = failed
                    check_gold_ingested(ds, failed)
                gold_ingested(ds, KnowledgeBase.from_settings(home, name, s))
            s = s.model_copy(update={"llm": llm})
            assistant = build_assistant(s, name, warm=True)  # answering as the service does

            def ask(item: Any) -> Any:
                return assistant.ask(item.question, history=[h.to_dict() for h in item.history] or None)

            yield ask

    return open_session


def eval_cmd(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Set folders (questions.jsonl + docs/, or faithfulness.jsonl), or a folder of sets."
        ),
    ] = None,
    kb: Annotated[
        str | None,
        typer.Option("--kb", help="Ask an existing knowledge base instead of ingesting docs/ fresh."),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh", help="Ingest each set's docs/ into a fresh temporary knowledge base (the default)."
        ),
    ] = False,
    llm: Annotated[
        str | None, typer.Option("--llm", help="LLM spec for answers (default: KB_LLM, e.g. extractive:).")
    ] = None,
    scorer_spec: Annotated[
        str | None, typer.Option("--scorer", help="Faithfulness scorer (default: KB_SCORER).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Evaluate an evenly spaced subsample of N records per set."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option("--fail-under", help="METRIC=VALUE or SET:METRIC=VALUE; exit 1 when below."),
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-over",
            help="METRIC=VALUE or SET:METRIC=VALUE for a metric where lower is better "
            "(false_refusal_rate, handoff_rate); exit 1 when above.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON report (without per-question records).")
    ] = False,
    compare: Annotated[
        tuple[Path, Path] | None, typer.Option("--compare", help="Compare two JSON reports A B.")
    ] = None,
    fail_on_worse: Annotated[
        bool,
        typer.Option(
            "--fail-on-worse", help="With --compare: exit 1 when a metric of B is significantly worse (p < 0.05)."
        ),
    ] = False,
    ragas: Annotated[
        Path | None,
        typer.Option("--ragas", help="Also export the answered QA questions as RAGAS-style JSONL "
                     "(refusals, hand-offs and clarifying questions left out)."),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", help="Keep the eval knowledge bases here (re-runs re-ingest only changes)."
        ),
    ] = None,
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="Progress bars (default: on a terminal).")
    ] = None,
) -> None:
    """Evaluate retrieval, answers, citations and refusals on QA sets, and the faithfulness
    scorer on labelled sets; print a summary, write JSON / HTML, gate CI with --fail-under."""
    from eval.report import (
        compare_reports,
        fallback_note,
        render_compare_text,
        render_summary_text,
        untested_sets,
        write_html,
        write_ragas,
    )

    def log(msg: str) -> None:
        typer.echo(msg, err=True)

    check_outputs(out, html, ragas)
    if work_dir is not None and work_dir.exists() and not work_dir.is_dir():
        # (told "point KB_HOME at a folder" after the sets were read: the user gave --work-dir)
        raise InputError(f"--work-dir {work_dir} is a file", "give a folder for the knowledge bases kb eval builds")
    option = next((str(p) for p in compare or () if str(p).startswith("--")), None)
    if option is not None:
        # "kb eval --compare run1.json --fail-under hit@5=0.9" read --fail-under as report B and
        # said it did not exist (QA 2026-12-07)
        raise InputError(
            f"--compare takes two reports, and {option} came where one should be",
            "give both right after it: kb eval --compare A.json B.json",
        )
    if compare is not None and not datasets and (fail_under or fail_over):
        # a compare-only call ignored the gate and exited 0 whatever the reports held
        raise GateError(
            f"{_option(not fail_under)} gates a run of data sets, and --compare alone runs none",
            "pass the set folders too, or use --fail-on-worse to fail when B is significantly worse",
        )
    if fail_on_worse and compare is None:
        raise InputError("--fail-on-worse needs --compare A.json B.json", "name the two reports to compare")
    gates = parse_gates(fail_under or []) + parse_gates(fail_over or [], over=True)
    worse_lines: list[str] = []
    if compare is not None:
        a, b = (_read_report(p) for p in compare)
        shared = set(a.get("sets") or {}) & set(b.get("sets") or {})
        if not shared:
            # nothing compared reported "nothing got significantly worse", and a CI gate passed
            raise InputError(
                f"{compare[0]} and {compare[1]} share no evaluation set "
                f"({', '.join(sorted(a.get('sets') or {})) or 'none'} against {', '.join(sorted(b.get('sets') or {})) or 'none'})",
                "compare two reports of the same sets",
            )
        cmp = compare_reports(a, b)
        if fail_on_worse:
            unpaired = untested_sets(cmp)
            if unpaired:
                # no question paired: nothing could be tested, and the gate would pass
                p = cmp["paired"][unpaired[0]]
                raise InputError(
                    f"{unpaired[0]}: 0 of {p['a']}/{p['b']} question ids in common between {compare[0]} "
                    f"and {compare[1]}: nothing to test for --fail-on-worse",
                    "compare two runs of the same questions",
                )
        if as_json:
            typer.echo(json.dumps(cmp, ensure_ascii=False, indent=1))
        else:
            typer.echo(render_compare_text(cmp, str(compare[0]), str(compare[1])))
        if out:
            out.write_text(json.dumps(cmp, ensure_ascii=False, indent=1), encoding="utf-8")
        if html and a and b:
            write_html(b, html, compare=cmp)
        if fail_on_worse and cmp["worse"]:
            worse_lines.append(f"eval compare failed: significantly worse (p < 0.05): {', '.join(cmp['worse'])}")
        if not datasets:
            for line in worse_lines:
                typer.echo(line, err=True)
            if worse_lines:
                sys.exit(1)  # typer.Exit codes are lost under kb.cli's standalone_mode=False
            return
    if not datasets:
        raise InputError(
            "no dataset given", "pass one or more set folders, e.g. `kb eval ../shared/data/covid-faq`"
        )
    if kb is not None and fresh:
        raise InputError(
            "--kb and --fresh exclude each other",
            "use --kb NAME to ask an existing knowledge base, or --fresh",
        )

    from eval.datasets import find_datasets, load_dataset, skipped_sets
    from eval.harness import run_eval
    from kb.settings import get_settings

    settings = get_settings()
    paths = [p for d in datasets for p in find_datasets(d)]
    for folder, why in (s for d in datasets for s in skipped_sets(d)):
        typer.echo(f"warning: {folder} is not evaluated: {why} (a set folder holds questions.jsonl + docs/, "
                   "or faithfulness.jsonl)", err=True)
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise InputError(
            f"two sets share a folder name: {', '.join(sorted({n for n in names if names.count(n) > 1}))}",
            "set names come from folder names; rename one",
        )
    # validate everything before any work; a set asked of an existing knowledge base needs no docs/,
    # and its gold ids are checked against that knowledge base's sources
    loaded = [load_dataset(p, limit=limit, with_docs=kb is None) for p in paths]
    if kb is not None:
        loaded = match_kb_gold(loaded, settings, kb)
    for set_name, _, _, over in gates:
        if set_name is not None and set_name not in names:
            raise GateError(f"{_option(over)} names set {set_name!r}, which is not evaluated",
                            f"evaluated sets: {', '.join(names)}")
    check_gate_metrics(gates, {d.name: d.kind for d in loaded})
    for d in loaded:  # a question the assistant refuses would stop the run after the ingest
        for item in getattr(d, "items", ()):
            if d.kind == "qa" and len(item.question) > settings.max_question_chars:
                raise InputError(
                    f"{d.name}: question {item.id!r} has {len(item.question):,} characters, more than "
                    f"KB_MAX_QUESTION_CHARS ({settings.max_question_chars:,})",
                    "shorten it, or raise KB_MAX_QUESTION_CHARS",
                )
    show = sys.stderr.isatty() if progress is None else progress

    from indexes.embedders import get_embedder
    from rag.support import LexicalScorer, get_scorer

    embedder = get_embedder(settings.embedder, device=settings.device, batch_size=settings.embed_batch_size)
    spec = scorer_spec or settings.scorer
    scorer = get_scorer(spec, embedder)
    llm_spec = llm or settings.llm
    from kb.commands.common import check_model_specs

    # a bad LLM or reranker spec, or a local model's missing files, fail here, not after every
    # set's documents are ingested
    check_model_specs(settings.model_copy(update={"llm": llm_spec}))
    opener = None
    ingest_failed: dict[str, list[dict[str, str]]] = {}
    if any(d.kind == "qa" for d in loaded):
        eval_settings = settings.model_copy(update={"scorer": spec})
        opener = make_session_opener(eval_settings, llm_spec, kb, work_dir, show, log, ingest_failed)
    result = run_eval(
        loaded,
        open_session=opener,
        scorer=scorer,
        peer_scorers={"lexical": LexicalScorer()},
        embedder=embedder,
        settings=_settings_summary(settings, llm_spec, scorer, limit, kb),
        progress=show,
        log=log,
    )
    for name, failed in ingest_failed.items():
        result["sets"][name]["ingest_failed"] = failed
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        log(f"wrote {out}")
    if html:
        write_html(result, html)
        log(f"wrote {html}")
    if ragas:
        n = write_ragas(result, ragas)
        log(f"wrote {n} RAGAS rows to {ragas}")
    if as_json:
        slim = {
            "sets": {
                k: {kk: vv for kk, vv in v.items() if kk != "questions"} for k, v in result["sets"].items()
            },
            "settings": result["settings"],
            "environment": result.get("environment"),
        }
        typer.echo(json.dumps(slim, ensure_ascii=False, indent=1))
        for name, res in result["sets"].items():  # (the text summary says it; --json's reader may not look)
            note = fallback_note(res, llm_spec)
            if note:
                log(f"warning: {name}: {note}")
    else:
        typer.echo(render_summary_text(result))
    failures = worse_lines + check_gates(result, gates)
    # a gated run that measured the offline composer where the LLM failed neither passes nor fails
    # on quality: it exits 3, as `kb ingest` does when done but some of its files failed
    fell_back = check_fallbacks(result) if gates else []
    for line in failures + fell_back:
        typer.echo(line, err=True)
    if fell_back:
        sys.exit(EXIT_PARTIAL)
    if failures:
        sys.exit(1)  # typer.Exit codes are lost under kb.cli's standalone_mode=False


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as ex:
        raise InputError(f"{path} does not exist", "pass two JSON reports written by `kb eval --out`") from ex
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise InputError(
            f"{path} is not a JSON report ({ex})".splitlines()[0], "pass files written by `kb eval --out`"
        ) from ex
    if not isinstance(data, dict) or not isinstance(data.get("sets"), dict):
        raise InputError(f"{path} is not a report of `kb eval` (no 'sets')", "pass files written by `kb eval --out`")
    return data


def register(app: typer.Typer) -> None:
    app.command("eval", help="Evaluate on QA / faithfulness sets: JSON + HTML report, CI gate, compare.")(
        eval_cmd
    )
