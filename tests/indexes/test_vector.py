from __future__ import annotations

import numpy as np
import pytest

from indexes.vector import (
    FaissVectorIndex,
    ShardedVectorIndex,
    build_graph,
    estimate_memory,
    gpu_available,
    recall_vs_flat,
    write_index,
)
from kb.errors import ConfigError


def _clustered(n: int, dim: int = 32, centers: int = 64, seed: int = 7, noise_seed: int | None = None) -> np.ndarray:
    """Embedding-like data: a mixture of gaussians on the unit sphere."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim)).astype(np.float32)
    if noise_seed is not None:
        rng = np.random.default_rng(noise_seed)
    x = c[rng.integers(0, centers, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_search_is_exact() -> None:
    v = _clustered(2000)
    idx = FaissVectorIndex(32).build(v)
    assert idx.kind == "flat"
    d, i = idx.search(v[:5], 1)
    assert list(i[:, 0]) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(d[:, 0], 1.0, rtol=1e-5)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_filter_that_excludes_the_nearest_vector(kind: str) -> None:
    v = _clustered(3000)
    idx = FaissVectorIndex(32, kind=kind, nprobe=8).build(v)
    q = v[10]
    allowed = np.setdiff1d(np.arange(len(v)), [10])
    d, i = idx.search(q, 5, allowed)
    assert 10 not in i[0] and (i[0] >= 0).all()
    # the filtered answer is the true best among allowed vectors
    scores = v[allowed] @ q
    assert i[0][0] == allowed[np.argmax(scores)]
    # a very selective filter still returns its vectors (never lost after a fixed top-k)
    few = np.array([5, 2500, 2999])
    d, i = idx.search(q, 5, few)
    assert set(i[0][:3]) == set(few) and (i[0][3:] == -1).all()


def test_ivf_recall_vs_flat_on_a_fixed_seed(capsys) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(20000, dim=32, centers=200, seed=3)
    q = _clustered(200, dim=32, centers=200, seed=3, noise_seed=99)  # new points, same clusters
    ivf = FaissVectorIndex(32, kind="ivf", nprobe=16).build(v)
    assert ivf.kind == "ivf" and ivf.info()["nlist"] == min(int(4 * np.sqrt(20000)), 20000 // 39)
    r16 = recall_vs_flat(ivf, v, q, k=10)
    ivf.set_nprobe(1)
    r1 = recall_vs_flat(ivf, v, q, k=10)
    with capsys.disabled():
        print(f"\nIVF recall@10 vs flat (20k x 32, nlist={ivf.info()['nlist']}): nprobe=1 {r1:.3f}, nprobe=16 {r16:.3f}")
    assert r16 >= 0.9
    assert r16 >= r1


def test_auto_kind_uses_flat_max() -> None:
    v = _clustered(1000)
    assert FaissVectorIndex(32, flat_max=1000).build(v).kind == "flat"
    assert FaissVectorIndex(32, flat_max=999, ann="ivf").build(v).kind == "ivf"
    assert FaissVectorIndex(32, flat_max=999, ann="ivfpq").build(v).kind == "ivfpq"
    with pytest.raises(ConfigError):
        FaissVectorIndex(32, kind="lsh")


def test_sharded_equals_flat() -> None:
    v = _clustered(5000)
    q = _clustered(50, seed=11)
    flat = FaissVectorIndex(32).build(v)
    sharded = ShardedVectorIndex(32, 4).build(v)
    assert sharded.on_gpu == flat.on_gpu  # the same interface as one index (IndexVersion.index is either)
    d1, i1 = flat.search(q, 10)
    d2, i2 = sharded.search(q, 10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-6)
    allowed = np.arange(0, 5000, 3)
    d1, i1 = flat.search(q, 10, allowed)
    d2, i2 = sharded.search(q, 10, allowed)
    np.testing.assert_array_equal(i1, i2)


def test_save_load_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(3000)
    for kind in ("flat", "ivf", "ivfpq", "hnsw"):
        idx = FaissVectorIndex(32, kind=kind).build(v)
        idx.save(tmp_path / f"{kind}.faiss")
        back = FaissVectorIndex.load(tmp_path / f"{kind}.faiss", 32, v, nprobe=16)
        assert back.kind == kind and back.ntotal == 3000
        np.testing.assert_array_equal(back.search(v[:3], 5)[1], idx.search(v[:3], 5)[1])


def test_estimate_memory() -> None:
    assert estimate_memory(1000, 384, "flat") == 1000 * 384 * 4
    assert estimate_memory(10**6, 384, "ivfpq") < estimate_memory(10**6, 384, "ivf") / 10
    with pytest.raises(ConfigError):
        estimate_memory(10, 8, "nope")


def test_gpu_off_when_absent() -> None:
    idx = FaissVectorIndex(32, gpu="auto").build(_clustered(100))
    assert idx.on_gpu == gpu_available()
    if not gpu_available():
        with pytest.raises(ConfigError, match="no GPU"):
            FaissVectorIndex(32, gpu="on").build(_clustered(100))


@pytest.mark.gpu
def test_gpu_search_matches_cpu() -> None:
    if not gpu_available():
        pytest.skip("faiss sees no GPU")
    v = _clustered(50000, dim=64)
    q = _clustered(100, dim=64, seed=5)
    cpu = FaissVectorIndex(64, gpu="off").build(v)
    gpu = FaissVectorIndex(64, gpu="on").build(v)
    assert gpu.on_gpu
    np.testing.assert_array_equal(cpu.search(q, 10)[1], gpu.search(q, 10)[1])
    allowed = np.setdiff1d(np.arange(len(v)), cpu.search(q[:1], 1)[1][0])
    assert gpu.search(q[:1], 5, allowed)[1][0][0] == cpu.search(q[:1], 5, allowed)[1][0][0]
    ivf_gpu = FaissVectorIndex(64, kind="ivf", gpu="on", nprobe=16).build(v)
    assert recall_vs_flat(ivf_gpu, v, q, 10) >= 0.9


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_with_a_large_sparse_filter_still_returns_k(kind: str) -> None:
    # 64 tight clusters; the allowed vectors (more than the exact-scoring threshold) all lie in
    # clusters far from the query, which an IVF probe of one list or an HNSW walk never reaches
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((64, 16)).astype(np.float32) * 3
    labels = rng.integers(0, 64, 9_000)
    v = centers[labels] + 0.05 * rng.standard_normal((9_000, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    idx = FaissVectorIndex(16, kind=kind, nprobe=1, ef_search=16, exact_max=1000).build(v)
    q = v[np.flatnonzero(labels == 0)[0]]
    far = np.argsort(centers @ centers[0])[:30]  # the 30 clusters least like the query's
    allowed = np.flatnonzero(np.isin(labels, far))[:2_100]
    assert len(allowed) > idx.exact_max
    d, i = idx.search(q, 10, allowed)
    exact = allowed[np.argsort(-(v[allowed] @ q), kind="stable")[:10]]
    assert set(i[0]) == set(exact)


def _loaded(tmp_path, v: np.ndarray, **opts):  # type: ignore[no-untyped-def]
    """A flat index over ``v`` saved and loaded for search, as a served version loads it."""
    FaissVectorIndex(v.shape[1]).build(v).save(tmp_path / "flat.faiss")
    return FaissVectorIndex.load(tmp_path / "flat.faiss", v.shape[1], v, **opts)


def _exact_top(v: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    ids = np.arange(len(v)) if allowed is None else np.asarray(allowed)
    s = v[ids] @ q
    return ids[np.lexsort((ids, -s))[:k]]


def test_a_flat_index_scanning_fp16_codes_returns_the_exact_top_k(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(6000)
    q = _clustered(40, seed=11)
    fp32 = FaissVectorIndex(32).build(v)
    fp16 = _loaded(tmp_path, v, flat_scan="auto")  # auto: fp16 from FP16_SCAN_MIN vectors on
    assert fp16.info()["scan"] == "fp16" and fp32.info()["scan"] == "fp32"
    for k in (1, 10, 100):
        d16, i16 = fp16.search(q, k)
        for r in range(len(q)):
            np.testing.assert_array_equal(i16[r], _exact_top(v, q[r], k))
        np.testing.assert_allclose(d16, fp32.search(q, k)[0], rtol=1e-5)
    allowed = np.arange(0, 6000, 7)
    _, i16 = fp16.search(q, 10, allowed)
    for r in range(len(q)):
        np.testing.assert_array_equal(i16[r], _exact_top(v, q[r], 10, allowed))
    # a filter that leaves few vectors: those scored from the raw vectors, no pass over the codes
    few = np.arange(5, 6000, 20)
    codes = fp16.index

    class NoScan:
        ntotal = codes.ntotal

        def search(self, *a, **kw):  # type: ignore[no-untyped-def]
            raise AssertionError("scanned every code")

    fp16.index = NoScan()
    d_few, i_few = fp16.search(q, 10, few)
    fp16.index = codes
    for r in range(len(q)):
        np.testing.assert_array_equal(i_few[r], _exact_top(v, q[r], 10, few))
        np.testing.assert_allclose(d_few[r], v[i_few[r]] @ q[r], rtol=1e-6)
    # fewer allowed vectors than asked for: all of them, then the -1 / -inf padding
    d, i = fp16.search(q[:1], 5, np.array([3, 4000]))
    assert sorted(i[0][:2]) == [3, 4000] and (i[0][2:] == -1).all() and np.isneginf(d[0][2:]).all()
    with pytest.raises(ValueError, match="fp16"):
        fp16.save(tmp_path / "again.faiss")  # the file on disk stays the fp32 index build() made


def test_the_fp16_scan_fetches_more_until_no_vector_left_out_could_beat_the_kth(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 5,000 vectors whose scores differ by less than fp16 can tell apart: the scan ranks them
    # arbitrarily, so the re-scored top k is certain only once (nearly) every vector was fetched
    rng = np.random.default_rng(0)
    base = rng.standard_normal(32).astype(np.float32)
    v = base + 1e-6 * rng.standard_normal((5000, 32)).astype(np.float32)
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    idx = _loaded(tmp_path, v, flat_scan="fp16")
    scans = []
    inner = idx.index

    class Counting:
        ntotal = inner.ntotal

        def search(self, *a, **kw):  # type: ignore[no-untyped-def]
            scans.append(a[1])
            return inner.search(*a, **kw)

    idx.index = Counting()
    q = base / np.linalg.norm(base)
    _, i = idx.search(q, 10)
    np.testing.assert_array_equal(i[0], _exact_top(v, q, 10))
    assert len(scans) > 1 and scans[-1] > scans[0]  # fetched more than once


def test_the_fp32_scan_stays_where_fp16_cannot_help_or_hold_the_vectors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    small = _clustered(1000)
    assert _loaded(tmp_path, small, flat_scan="auto").info()["scan"] == "fp32"  # fits in cache
    assert _loaded(tmp_path, small, flat_scan="fp16").info()["scan"] == "fp16"
    assert _loaded(tmp_path, _clustered(6000), flat_scan="fp32").info()["scan"] == "fp32"
    huge = _clustered(5000) * 1e5  # past fp16's range
    idx = _loaded(tmp_path, huge, flat_scan="fp16")
    assert idx.info()["scan"] == "fp32"
    assert idx.search(huge[7], 1)[1][0][0] == 7
    with pytest.raises(ConfigError, match="flat scan"):
        FaissVectorIndex(32, flat_scan="int8")


def test_score_all_gives_a_small_flat_index_s_search_scores_bit_for_bit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(1500)
    q = _clustered(5, seed=11)
    idx = _loaded(tmp_path, v, flat_scan="auto")
    for r in range(len(q)):
        every = idx.score_all(q[r])
        assert every is not None and every.shape == (1500,) and every.dtype == np.float32
        d, i = idx.search(q[r], 1500)
        assert every[i[0]].tolist() == d[0].tolist()  # the same kernel, not numpy's rounding
    with pytest.raises(ValueError, match="one query"):
        idx.score_all(q[:2])
    # every other index is searched: fp16 codes, an approximate index, too many vectors
    assert _loaded(tmp_path, v, flat_scan="fp16").score_all(q[0]) is None
    assert FaissVectorIndex(32, kind="ivf", nlist=8).build(v).score_all(q[0]) is None
    assert ShardedVectorIndex(32, 2).build(v).score_all(q[0]) is None
    assert FaissVectorIndex(32).build(np.zeros((0, 32), np.float32)).score_all(q[0]) is None
    assert _loaded(tmp_path, _clustered(5000), flat_scan="fp32").score_all(q[0]) is None  # > SCORE_ALL_MAX


def _with_graph(tmp_path, v: np.ndarray, **opts):  # type: ignore[no-untyped-def]
    """A flat index over ``v`` saved with its graph and loaded for search, as a served version is."""
    FaissVectorIndex(v.shape[1]).build(v).save(tmp_path / "flat.faiss")
    write_index(build_graph(v), tmp_path / "flat.hnsw")
    return FaissVectorIndex.load(tmp_path / "flat.faiss", v.shape[1], v, tmp_path / "flat.hnsw", **opts)


def test_a_large_flat_index_walks_its_graph_unfiltered_and_scans_when_filtered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(6000)
    q = _clustered(40, seed=11)
    idx = _with_graph(tmp_path, v)
    assert idx.info()["scan"] == "graph"
    found = 0
    for k in (1, 10, 60):
        d, i = idx.search(q, k)
        for r in range(len(q)):
            assert (i[r] >= 0).all() and len(set(i[r].tolist())) == k
            # the scores are the exact ones, best first, ties to the lower id
            np.testing.assert_allclose(d[r], v[i[r]] @ q[r], rtol=1e-6)
            np.testing.assert_array_equal(i[r], i[r][np.lexsort((i[r], -d[r]))])
            found += len(set(i[r].tolist()) & set(_exact_top(v, q[r], k).tolist()))
    # what HNSW finds: nearly, not certainly, the exact top (real embeddings: 0.99, docs/latency-log.md)
    assert found / (len(q) * (1 + 10 + 60)) >= 0.95
    # filtered: the exact scan, over the graph's own codes
    allowed = np.arange(0, 6000, 7)
    _, i = idx.search(q, 10, allowed)
    for r in range(len(q)):
        np.testing.assert_array_equal(i[r], _exact_top(v, q[r], 10, allowed))
    # flat_scan="fp16" asks for the exact scan: the graph is not read
    exact = _with_graph(tmp_path, v, flat_scan="fp16")
    assert exact.info()["scan"] == "fp16"
    _, i = exact.search(q, 10)
    for r in range(len(q)):
        np.testing.assert_array_equal(i[r], _exact_top(v, q[r], 10))


def test_a_graph_is_built_the_same_every_time_and_only_where_it_pays(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import faiss

    import indexes.vector as vector

    v = _clustered(3000)
    assert faiss.serialize_index(build_graph(v)).tobytes() == faiss.serialize_index(build_graph(v)).tobytes()
    assert not FaissVectorIndex(32).build(v).graph_wanted()  # below GRAPH_MIN: the exact scan is cheap
    monkeypatch.setattr(vector, "GRAPH_MIN", 3000)
    assert FaissVectorIndex(32).build(v).graph_wanted()
    assert not FaissVectorIndex(32).build(v[:2999]).graph_wanted()
    assert not FaissVectorIndex(32, flat_scan="fp16").build(v).graph_wanted()
    assert not FaissVectorIndex(32, kind="ivf", nlist=8).build(v).graph_wanted()


def test_a_graph_over_other_vectors_is_not_used(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    v = _clustered(5000)
    FaissVectorIndex(32).build(v).save(tmp_path / "flat.faiss")
    write_index(build_graph(v[:4500]), tmp_path / "short.hnsw")
    idx = FaissVectorIndex.load(tmp_path / "flat.faiss", 32, v, tmp_path / "short.hnsw")
    assert idx.info()["scan"] == "fp16" and "not a graph over" in caplog.text
    q = _clustered(3, seed=5)
    _, i = idx.search(q, 10)
    for r in range(len(q)):
        np.testing.assert_array_equal(i[r], _exact_top(v, q[r], 10))


def test_a_full_disk_while_saving_is_an_oserror_not_a_truncated_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """FAISS's own writer reported a failed final flush only on stderr, and returned."""
    import errno
    import os

    import numpy as np

    from indexes.vector import FaissVectorIndex

    idx = FaissVectorIndex(8)
    idx.build(np.random.default_rng(0).random((200, 8), dtype=np.float32))
    idx.save(tmp_path / "v.faiss")
    again = FaissVectorIndex.load(tmp_path / "v.faiss", 8)
    assert again.index.ntotal == 200
    if os.path.exists("/dev/full"):
        with pytest.raises(OSError) as err:
            idx.save("/dev/full")  # type: ignore[arg-type]
        assert err.value.errno == errno.ENOSPC
