"""Engine equivalence (local vs a local Ray instance) and the GPU index path.

The Ray test starts a real local Ray (2 CPUs, no dashboard, usage stats off) and compares the
version it builds with the local engine's: same chunk ids, same vectors, same search results.
The GPU test runs only where faiss sees a GPU and torch sees CUDA.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from indexes.embedders import get_embedder
from indexes.kbase import KnowledgeBase
from ingest.reindex import reindex
from tests.ingest.test_reindex import assert_same_index, live_snapshot, write_corpus


@pytest.fixture()
def local_ray(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    pytest.importorskip("ray.data")
    home = tmp_path_factory.mktemp("rayhome")
    (home / "ray_bootstrap_config.yaml").write_text("")  # stops Ray's cloud-metadata probes
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    import ray

    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.integration
def test_ray_engine_builds_the_same_index_as_local(kb_home: Path, tmp_path: Path, local_ray) -> None:  # type: ignore[no-untyped-def]
    docs = write_corpus(tmp_path, n_files=5)
    loc = KnowledgeBase(kb_home, "local")
    r_loc = reindex(loc, docs, get_embedder("hashing:64"), batch_size=8, use_cache=False)
    ray_kb = KnowledgeBase(kb_home, "ray")
    emb = get_embedder("hashing:64")
    r_ray = reindex(ray_kb, docs, emb, engine="ray", workers=2, batch_size=8, use_cache=False, ray_num_cpus=2)
    assert r_ray.ok and r_ray.engine == "ray" and r_ray.batches == r_loc.batches > 1
    assert r_ray.texts_embedded == r_loc.texts_embedded == r_loc.texts
    assert emb.texts_embedded == 0  # the driver's embedder did no work: the Ray actors did
    assert_same_index(live_snapshot(loc), live_snapshot(ray_kb))
    # the vector files are identical too (same order of chunks and vectors)
    loc_live, ray_live = loc.live_version(), ray_kb.live_version()
    assert loc_live is not None and ray_live is not None
    a = np.fromfile(loc.versions_dir / loc_live / "vectors.f32", np.float32)
    b = np.fromfile(ray_kb.versions_dir / ray_live / "vectors.f32", np.float32)
    np.testing.assert_allclose(a, b, atol=1e-6)


def _gpu_present() -> bool:
    try:
        import faiss
        import torch
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0 and torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.integration
@pytest.mark.skipif(not _gpu_present(), reason="needs faiss GPU and CUDA")
def test_gpu_index_matches_cpu_index(kb_home: Path, tmp_path: Path) -> None:
    """The same job on a GPU machine: embedding on CUDA (fp16) when the embedder picks it, and the
    FAISS index searched through index_cpu_to_gpu; its results match the CPU index."""
    docs = write_corpus(tmp_path, n_files=20, paras=6)
    spec = os.environ.get("KB_TEST_GPU_EMBEDDER", "hashing:64")
    gpu_kb = KnowledgeBase(kb_home, "g", faiss_gpu="on")
    r = reindex(gpu_kb, docs, get_embedder(spec, device="auto"), chunk_tokens=32, chunk_overlap=0)
    assert r.ok
    cpu_kb = KnowledgeBase(kb_home, "g", faiss_gpu="off")
    g, c = gpu_kb.load_live(), cpu_kb.load_live()
    try:
        assert g.index.on_gpu and not c.index.on_gpu
        snap_g, snap_c = live_snapshot(gpu_kb), live_snapshot(cpu_kb)
        assert snap_g["ids"] == snap_c["ids"]
        for rg, rc in zip(snap_g["results"], snap_c["results"], strict=True):
            assert len(set(rg) & set(rc)) >= 4  # flat on GPU vs CPU: same top-5 up to float ties
    finally:
        g.close()
        c.close()
