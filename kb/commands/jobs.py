"""`kb reindex` and `kb jobs`: full rebuilds of a knowledge base as resumable jobs.

Exit codes: 0 done, 3 done but some files failed (they kept their previous chunks where the live
version had them), 1 fatal (a KBError, mapped by kb.cli.main: locked, bad source, validation
failed - the live version keeps serving).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from kb.commands.common import JsonOpt, KbOpt, exit_partial, open_kb, print_problems


def reindex_cmd(
    kb: KbOpt = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Folder to re-read, or a JSON manifest (a list of files). "
                     "Default: the sources of the last job, else the live version's own chunks."),
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", help="Embedder spec (default: KB_EMBEDDER).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Parsing processes (local) or CPU embedder "
                                         "actors (ray).")] = 2,
    engine: Annotated[str, typer.Option("--engine", help="local | ray")] = "local",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the last unfinished job from its checkpoint.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-embed everything (ignore the embedding cache).")] = False,
    index: Annotated[str, typer.Option("--index", help="auto | flat | ivf | ivfpq | hnsw")] = "auto",
    nprobe: Annotated[int | None, typer.Option("--nprobe", min=1, help="IVF lists probed (default: KB_NPROBE).")] = None,
    flat_max: Annotated[int | None, typer.Option("--flat-max", min=1, help="Above this many vectors 'auto' "
                                                 "builds an ANN index (default: KB_FLAT_MAX).")] = None,
    shard_size: Annotated[int | None, typer.Option("--shard-size", min=1, help="Split the vector index into "
                                                   "shards of at most this many vectors.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Texts per embedding batch "
                                            "(= per checkpoint step).")] = 1024,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Existing Ray cluster, e.g. "
                                                    "ray://host:10001 (default: RAY_ADDRESS, else a local Ray).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the whole index into a new version (new embedder, chunker or index type); publish it
    only when complete and validated. The live version keeps serving until then."""
    from indexes.embedders import get_embedder
    from ingest.reindex import find_resumable, reindex
    from kb.errors import ConfigError, KBError

    if engine not in ("local", "ray"):
        raise ConfigError(f"unknown engine {engine!r}", "use --engine local or --engine ray")
    knowledge_base, settings = open_kb(kb)
    spec = embedder or settings.embedder
    if resume and embedder is None:
        job = find_resumable(knowledge_base)
        if job is not None:
            spec = job.get("params", {}).get("embedder", spec)
    emb = get_embedder(spec, device=settings.device, batch_size=settings.embed_batch_size)
    if as_json:
        say = None
    else:
        def say(msg: str) -> None:
            typer.echo(msg, err=True)

    for name in ("pypdf", "pdfminer", "unstructured", "docx", "openpyxl", "jieba"):
        import logging

        logging.getLogger(name).setLevel(logging.ERROR)
    report = reindex(
        knowledge_base, source, emb, engine=engine, workers=workers, resume=resume, use_cache=not no_cache,
        index=index, nprobe=nprobe, flat_max=flat_max, shard_size=shard_size, batch_size=batch_size,
        **settings.ingesting(), ray_address=ray_address, embedder_spec=spec, device=settings.device, progress=say,
    )
    data = report.to_dict()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        idx = data["index"]
        recall = f", recall@10 vs flat {data['recall_vs_flat']:.3f}" if data["recall_vs_flat"] is not None else ""
        # documents the source folder does not hold (ingested from elsewhere): kept, never dropped unsaid
        kept = f" ({data['kept']} not in the source, kept from the live version)" if data["kept"] else ""
        typer.echo(
            f"reindexed kb {data['kb']!r} (job {data['job_id']}): {data['documents']} documents{kept}, "
            f"{data['chunks']} chunks, {data['vectors']} vectors, {len(data['failed'])} failed; "
            f"{data['texts_embedded']} texts embedded, {data['cache_hits']} cache hits, "
            f"{data['batches_from_checkpoint']}/{data['batches']} batches from checkpoint; "
            f"index {idx.get('kind')} x{idx.get('shards', 1)}{' with a graph' if idx.get('graph') else ''}{recall}; "
            f"version {data['index_version']} "
            f"({data['seconds']:.1f} s, {data['throughput_chunks_per_s']:.0f} chunks/s)"
        )
        print_problems(data)
    try:
        configured = get_embedder(settings.embedder, device="cpu").id
    except KBError:
        configured = None  # a KB_EMBEDDER that does not resolve names no model to compare with
    if report.status == "done" and emb.id != configured:
        # every later kb ask, search, ingest and kb serve refused the new version until told
        typer.echo(f"  the knowledge base is now embedded with {spec}: set KB_EMBEDDER={spec} for later "
                   "commands, and restart kb serve with it", err=True)
    if report.failed:
        exit_partial()


def jobs_cmd(kb: KbOpt = None, as_json: JsonOpt = False) -> None:
    """List the reindex jobs of a knowledge base (status, counts, throughput, failures)."""
    from ingest.reindex import jobs_dir, list_jobs

    knowledge_base, settings = open_kb(kb)
    if not jobs_dir(knowledge_base).is_dir() and not knowledge_base.exists():
        # a misspelt name had "no reindex jobs", as if it existed
        from kb.errors import KnowledgeBaseNotFound

        raise KnowledgeBaseNotFound(knowledge_base.name, settings.home)
    jobs = list_jobs(knowledge_base)
    if as_json:
        typer.echo(json.dumps({"kb": knowledge_base.name, "jobs": jobs}, ensure_ascii=False, default=str))
        return
    if not jobs:
        typer.echo(f"no reindex jobs for kb {knowledge_base.name!r}")
        return
    for j in jobs:
        resumed = f" (resumed {j['resumed_at']})" if j.get("resumed_at") else ""
        line = (f"{j['id']}  {j.get('status', '?'):<11} started {j.get('started_at', '?')}{resumed}  "
                f"{j.get('chunks', '-')} chunks  {len(j.get('failed') or [])} failed")
        if j.get("throughput_chunks_per_s"):
            line += f"  {j['throughput_chunks_per_s']:.0f} chunks/s"
        if j.get("index_version"):
            line += f"  -> {j['index_version']}"
        if j.get("error"):
            line += f"  error: {j['error']}"
        if j.get("note"):  # killed after it published: its version live, no summary
            line += f"  ({j['note']})"
        if j.get("superseded_by"):  # killed, and a later job finished: nothing of it to resume
            line += f"  (job {j['superseded_by']} finished after it)"
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("reindex")(reindex_cmd)
    app.command("jobs")(jobs_cmd)
