"""The Ray engine: embedding with Ray Data ``map_batches`` over embedder actors.

Files are parsed on the driver (the same parser and process pool as the local engine) and the
version is written there; the embedding - the expensive part - runs on the cluster: one actor per
GPU (``num_gpus=1``) when the cluster has GPUs, else a pool of CPU actors. Each Ray row is one job
batch (its index and texts), so checkpointing and the embedding cache work exactly as in the local
engine, and results are written in batch order: the version equals the local engine's.

See docs/ray.md for pointing it at an existing cluster (``--ray-address`` or ``RAY_ADDRESS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from kb.errors import MissingDependencyError


class EmbedderActor:
    """A Ray Data actor: loads the embedder once, then embeds rows ``{"i", "texts"}``."""

    def __init__(self, spec: str, device: str = "auto") -> None:
        from kb.settings import apply_offline_defaults

        apply_offline_defaults()  # workers never download models
        from indexes.embedders import get_embedder

        self.embedder = get_embedder(spec, device=device)
        self.embedder.warm_up()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        idx = [int(i) for i in batch["i"]]
        out: list[bytes] = []
        for texts in batch["texts"]:
            vecs = self.embedder.embed([str(t) for t in texts], kind="passage")
            out.append(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
        return {"i": np.asarray(idx, dtype=np.int64), "vec": np.asarray(out, dtype=object)}


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - needs pandas/pyarrow: the [ray] extra
    except ImportError as exc:
        raise MissingDependencyError("ray[data]", "ray") from exc
    return ray


def init_ray(address: str | None, num_cpus: int | None) -> Any:
    """Connect to ``address`` (``ray://host:10001`` or ``auto``), or to RAY_ADDRESS when set (Ray
    reads it itself), else start a local instance with ``num_cpus`` CPUs."""
    ray = _ray()
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "ignore_reinit_error": True, "log_to_driver": False,
                              "configure_logging": False}
        if address:
            ray.init(address=address, **kw)
        else:
            import os

            if os.environ.get("RAY_ADDRESS"):
                ray.init(**kw)
            else:
                ray.init(num_cpus=num_cpus or 2, _node_ip_address="127.0.0.1", **kw)
    return ray


def run_ray(
    parsed: Iterable[Any],
    fallback: Callable[[Any], Any],
    batcher: Any,
    bemb: Any,
    feeder: Any,
    *,
    spec: str,
    device: str = "auto",
    address: str | None = None,
    num_cpus: int | None = None,
    workers: int = 1,
    say: Callable[[str], None] = lambda _m: None,
) -> None:
    from ingest.reindex import texts_of

    batches = []
    for pf in parsed:
        if pf.error is not None:
            pf = fallback(pf)
            if pf is None:
                continue
        feeder.add_file(pf.document, pf.content_hash, pf.chunks)
        batches.extend(batcher.add(texts_of(pf.chunks)))
    batches.extend(batcher.flush())

    # checkpoint and cache first: only what is left goes to the cluster
    todo: dict[int, tuple[Any, list[int], dict[int, np.ndarray]]] = {}
    ready: dict[int, np.ndarray] = {}
    for b in batches:
        vecs, missing, found = bemb.lookup(b)
        if vecs is not None:
            ready[b.index] = vecs
        elif not missing:
            ready[b.index] = bemb.complete(b, missing, found, np.zeros((0, int(bemb.embedder.dim)), np.float32))
        else:
            todo[b.index] = (b, missing, found)
    nxt = 0

    def drain() -> None:
        nonlocal nxt
        while nxt < len(batches) and nxt in ready:
            feeder.add_batch(batches[nxt], ready.pop(nxt))
            nxt += 1

    drain()
    if todo:
        ray = init_ray(address, num_cpus)
        n_gpus = int(ray.cluster_resources().get("GPU", 0))
        rows = [{"i": i, "texts": [b.texts[j] for j in missing]} for i, (b, missing, _f) in sorted(todo.items())]
        ds = ray.data.from_items(rows)
        if n_gpus:
            ds = ds.map_batches(EmbedderActor, fn_constructor_kwargs={"spec": spec, "device": "cuda"},
                                batch_size=1, concurrency=n_gpus, num_gpus=1)
        else:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            pool = max(1, min(max(1, workers), cpus, len(rows)))
            ds = ds.map_batches(EmbedderActor, fn_constructor_kwargs={"spec": spec, "device": "cpu"},
                                batch_size=1, concurrency=pool, num_cpus=1)
        say(f"embedding {len(rows)} batches on Ray ({n_gpus} GPU actors)" if n_gpus
            else f"embedding {len(rows)} batches on Ray (CPU actors)")
        dim = int(bemb.embedder.dim)
        for row in ds.iter_rows():
            i = int(row["i"])
            b, missing, found = todo.pop(i)
            vecs = np.frombuffer(row["vec"], dtype=np.float32).reshape(len(missing), dim)
            ready[i] = bemb.complete(b, missing, found, vecs)
            drain()
        if todo:
            raise RuntimeError(f"Ray returned no vectors for {len(todo)} batches")
    drain()
