"""FAISS vector indexes: inner product on L2-normalised vectors (= cosine).

* ``flat`` (``IndexFlatIP``, exact) up to ``flat_max`` vectors; above it the ``ann`` kind:
  ``ivf`` (``IndexIVFFlat``, ``nlist ~ 4*sqrt(n)``, trained on a sample), ``ivfpq``
  (``IndexIVFPQ``) or ``hnsw`` (``IndexHNSWFlat``). ``nprobe`` / ``ef_search`` are query-time
  settings.
* Filters are applied *inside* the FAISS search with an ID selector (``SearchParameters(sel=...)``),
  never after a fixed top-k. When few vectors are allowed, the allowed vectors are scored exactly
  instead (an approximate index could miss them all).
* GPU: when faiss exposes ``StandardGpuResources`` and sees a GPU (and ``gpu`` is not "off"), the
  index is copied with ``index_cpu_to_gpu`` for unfiltered searches; the CPU index is kept for
  saving and for filtered searches (GPU indexes reject selectors). cuVS is never enabled.
* :class:`ShardedVectorIndex`: vectors split over N indexes, top-k merged across shards.
* Searching a flat index loaded from disk on the CPU (``flat_scan``, default ``auto``: from
  :data:`FP16_SCAN_MIN` vectors on) scans fp16 copies of the vectors, half the memory a query
  reads, and re-scores what that scan ranks first from the raw fp32 vectors. A vector's fp16 score
  is within a known bound of its exact one, so the scan fetches more until no vector it left out
  could beat the k-th: the top k is the exact one, not an approximation (:meth:`FaissVectorIndex._rescored`).
  The file on disk stays an ``IndexFlatIP``.
* A flat index of at least :data:`GRAPH_MIN` vectors is saved with a graph beside it
  (:func:`build_graph`: HNSW over the same fp16 codes, built on one thread so that a build is
  reproducible). With ``flat_scan="auto"`` an unfiltered search walks the graph instead of scanning
  every code, and re-scores what it finds from the raw vectors: exact scores, a top list found as
  HNSW finds it (:meth:`FaissVectorIndex._graph_search`). A filtered search, and ``flat_scan="fp16"``,
  still scan: exact. The fp16 scan takes its codes from the graph's, so the two cost one copy.

Saved with ``faiss.write_index`` only (no pickle), through a Python file.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from kb.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

ANN_KINDS = ("ivf", "ivfpq", "hnsw")
INDEX_KINDS = ("auto", "flat", *ANN_KINDS)
EXACT_FALLBACK_MAX = 20_000  # at most this many allowed vectors: score them exactly
FLAT_SCANS = ("auto", "fp16", "fp32")
# "auto" scans fp16 codes from this many vectors on. Below it the fp32 vectors (1.5 KB each at 384-d)
# stay in the CPU's caches between queries and the re-scoring would cost more than the smaller scan
# saves; above it a query reads them from memory: 6,900 vectors 0.51 -> 0.34 ms, 100,000 7.2 -> 3.2 ms
# (one thread, caches flushed; bench/index_search.py)
FP16_SCAN_MIN = 4096
# a flat fp32 index of at most this many vectors gives every vector's score in one pass
# (:meth:`FaissVectorIndex.score_all`): a caller ranking several subsets of them (the vector kinds)
# reads one array instead of searching once per subset with an ID selector
SCORE_ALL_MAX = FP16_SCAN_MIN
# a filter that allows at most 1/this of an fp16-scanned index's vectors has them scored from the raw
# vectors alone, not by a pass over every code that skips the others: on domainrag's 7,300 vectors,
# right after a query's embedding, 20 allowed 0.44 -> 0.12 ms, 460 0.74 -> 0.34, 900 0.76 -> 0.61;
# 1,800 (a quarter) 0.87 -> 1.10
FEW_ALLOWED_SHARE = 10
# a flat index of this many vectors or more is saved with a graph (:func:`build_graph`). At 100,000
# vectors (384-d, one thread, caches flushed, k = 60) the exact fp16 scan took 6.6 ms and the graph
# 0.8 ms, finding 99% of the exact top 60. Below this the scan costs 1.3 ms or less, and stays: the
# graph saved 0.1-0.4 ms on mtrag-un (5,427 vectors) and domainrag (7,300), but the few tail
# candidates it missed moved the fusion, which normalises over the dense top 60, enough to drop
# one of mtrag-un's gold pages out of the top 5 (hit@5 0.990 -> 0.980; docs/latency-log.md)
GRAPH_MIN = 20_000
GRAPH_M = 32  # links a node keeps (64 on the bottom layer): 256 bytes a vector beside its 768 of codes
GRAPH_EF_CONSTRUCTION = 64
# a search walks to at least this many candidates (efSearch), and twice the k asked for: at 64,
# clustered synthetic vectors lost the true nearest one in 15% of searches (0 at 128)
GRAPH_EF_SEARCH = 128
# of what the walk found, the best k plus this many by fp16 score are re-scored exactly: fp16 is
# within 2^-11 of each score, so the exact top k is among them unless more than this many tie there
GRAPH_RESCORE_EXTRA = 16
FP16_UNIT_ROUNDOFF = 2.0**-11  # |x - fp16(x)| <= 2^-11 |x| for x in fp16's normal range
FP16_MAX_ABS = 60_000.0  # fp16 holds up to 65,504: vectors with a larger norm keep the fp32 scan


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a core dependency
        raise MissingDependencyError("faiss-cpu", "all") from exc
    return faiss


class VectorIndex(Protocol):
    ntotal: int

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def score_all(self, query: np.ndarray) -> np.ndarray | None: ...


def default_nlist(n: int) -> int:
    return max(1, min(int(4 * math.sqrt(max(n, 1))), max(1, n // 39)))


def _pq_m(dim: int, pq_m: int | None) -> int:
    if pq_m:
        if dim % pq_m:
            raise ConfigError(f"PQ sub-quantizers m={pq_m} must divide the dimension {dim}", "pick a divisor")
        return pq_m
    for m in (dim // 4, dim // 8, 64, 48, 32, 24, 16, 8, 4, 2, 1):
        if m >= 1 and dim % m == 0 and m <= 64:
            return m
    return 1


def estimate_memory(
    n: int, dim: int, kind: str = "flat", *, nlist: int | None = None, pq_m: int | None = None, hnsw_m: int = 32
) -> int:
    """Approximate bytes of RAM the FAISS index needs for ``n`` vectors (id maps and training
    buffers not counted). Call before building a large index."""
    if kind == "flat":
        return n * dim * 4
    nl = nlist or default_nlist(n)
    if kind == "ivf":
        return n * dim * 4 + n * 8 + nl * dim * 4
    if kind == "ivfpq":
        m = _pq_m(dim, pq_m)
        return n * m + n * 8 + nl * dim * 4 + m * 256 * (dim // m) * 4
    if kind == "hnsw":
        return n * dim * 4 + n * hnsw_m * 2 * 4 + n * 8
    raise ConfigError(f"unknown index kind {kind!r}", f"use one of {', '.join(INDEX_KINDS)}")


def set_threads(n: int | None) -> int:
    """Set FAISS's OpenMP thread count (process-wide); returns the previous value. One thread
    per query is fastest for single-query search on a busy machine (requests run in parallel)."""
    faiss = _faiss()
    prev = int(faiss.omp_get_max_threads())
    if n is not None and n > 0:
        faiss.omp_set_num_threads(int(n))
    return prev


def build_graph(vecs: np.ndarray, m: int = GRAPH_M, ef_construction: int = GRAPH_EF_CONSTRUCTION) -> Any:
    """An HNSW graph over fp16 codes of ``vecs`` (``IndexHNSWSQ``, inner product; ids are rows),
    built on one OpenMP thread: several threads insert in an order that can vary between runs,
    and a rebuilt knowledge base must search as the one before did. 100,000 384-d vectors: 17 s."""
    faiss = _faiss()
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    graph = faiss.IndexHNSWSQ(vecs.shape[1], faiss.ScalarQuantizer.QT_fp16, int(m), faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = int(ef_construction)
    before = set_threads(1)
    try:
        graph.train(vecs)  # fp16 needs no training; FAISS still asks for the call
        graph.add(vecs)
    finally:
        set_threads(before)
    return graph


def write_index(index: Any, path: Path) -> None:
    """``faiss.write_index`` through Python's file, not FAISS's own: FAISS reports a failed final
    flush (a full disk) only on stderr and returns, leaving a truncated file; Python's write and
    close raise OSError (ENOSPC), which the caller reports as a full disk. The bytes are the same."""
    faiss = _faiss()
    try:
        with open(path, "wb") as f:
            writer = faiss.PyCallbackIOWriter(f.write)
            try:
                faiss.write_index(index, writer)
            finally:
                del writer
    except OSError as ex:
        if ex.filename is not None:
            raise
        raise OSError(ex.errno, ex.strerror, str(path)) from ex  # the file's name, for the message


def gpu_available() -> bool:
    faiss = _faiss()
    if not hasattr(faiss, "StandardGpuResources"):
        return False
    try:
        return int(faiss.get_num_gpus()) > 0
    except Exception:  # noqa: BLE001
        return False


def _as_queries(q: np.ndarray, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(q, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.shape[1] != dim:
        raise ValueError(f"query vectors have dimension {q.shape[1]}, index has {dim}")
    return q


class FaissVectorIndex:
    """One FAISS index. Build with :meth:`build`, or :meth:`load` a saved one. Ids are the row
    numbers of the vectors given to :meth:`build` (0..n-1)."""

    def __init__(
        self,
        dim: int,
        *,
        kind: str = "auto",
        flat_max: int = 200_000,
        ann: str = "ivf",
        nlist: int | None = None,
        nprobe: int = 16,
        pq_m: int | None = None,
        hnsw_m: int = 32,
        ef_search: int = 64,
        gpu: str = "auto",
        seed: int = 1234,
        train_size: int | None = None,
        exact_max: int = EXACT_FALLBACK_MAX,
        flat_scan: str = "auto",
    ) -> None:
        if kind not in INDEX_KINDS:
            raise ConfigError(f"unknown index kind {kind!r}", f"use one of {', '.join(INDEX_KINDS)}")
        if ann not in ANN_KINDS:
            raise ConfigError(f"unknown ANN kind {ann!r}", f"use one of {', '.join(ANN_KINDS)}")
        if gpu not in ("auto", "on", "off"):
            raise ConfigError(f"bad faiss GPU setting {gpu!r}", "use auto, on or off")
        if flat_scan not in FLAT_SCANS:
            raise ConfigError(f"bad flat scan setting {flat_scan!r}", f"use one of {', '.join(FLAT_SCANS)}")
        self.dim = int(dim)
        self.requested_kind = kind
        self.flat_max = int(flat_max)
        self.ann = ann
        self.nlist = nlist
        self.nprobe = int(nprobe)
        self.pq_m = pq_m
        self.hnsw_m = int(hnsw_m)
        self.ef_search = int(ef_search)
        self.gpu = gpu
        self.seed = seed
        self.train_size = train_size
        self.exact_max = int(exact_max)
        self.flat_scan = flat_scan
        self.kind = "flat"
        self.index: Any = None  # the CPU index (saved)
        self._gpu_index: Any = None
        self._gpu_res: Any = None
        self._gpu_filter_ok = True
        self._vectors: np.ndarray | None = None  # raw vectors for exact filtered scoring
        # set when ``index`` holds fp16 codes (loaded for search): how far a fetched vector's fp16
        # score may be from its exact one, per unit of query norm (:meth:`_rescored`)
        self._fp16_bound: float | None = None
        self._all_ids: np.ndarray | None = None  # (1, ntotal) int64 ids, for score_all
        self._graph: Any = None  # an IndexHNSWSQ over the fp16 codes, when loaded with one
        self._lock = threading.Lock()

    # -- properties ------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    @property
    def on_gpu(self) -> bool:
        return self._gpu_index is not None

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "ntotal": self.ntotal, "gpu": self.on_gpu}
        if self.kind == "flat":
            out["scan"] = "graph" if self._graph is not None else "fp16" if self._fp16_bound is not None else "fp32"
        if self.kind in ("ivf", "ivfpq"):
            out.update(nlist=int(self.index.nlist), nprobe=self.nprobe)
        if self.kind == "ivfpq":
            out["pq_m"] = int(self.index.pq.M)
        if self.kind == "hnsw":
            out.update(hnsw_m=self.hnsw_m, ef_search=self.ef_search)
        return out

    def choose_kind(self, n: int) -> str:
        if self.requested_kind != "auto":
            return self.requested_kind
        return "flat" if n <= self.flat_max else self.ann

    # -- build -----------------------------------------------------------------------------------
    def build(self, vecs: np.ndarray) -> FaissVectorIndex:
        faiss = _faiss()
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise ValueError(f"vectors must be (n, {self.dim}), got {vecs.shape}")
        n = len(vecs)
        kind = self.choose_kind(n)
        if kind != "flat" and n < 2:
            kind = "flat"
        metric = faiss.METRIC_INNER_PRODUCT
        if kind == "flat":
            index = faiss.IndexFlatIP(self.dim)
        elif kind in ("ivf", "ivfpq"):
            nlist = min(self.nlist or default_nlist(n), n)
            quantizer = faiss.IndexFlatIP(self.dim)
            if kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, metric)
            else:
                m = _pq_m(self.dim, self.pq_m)
                nbits = 8 if n >= 256 * 39 else max(1, min(8, int(math.log2(max(2, n // 39)))))
                index = faiss.IndexIVFPQ(quantizer, self.dim, nlist, m, nbits, metric)
            index.cp.seed = self.seed
            train_n = min(n, self.train_size or max(256 * nlist, 50_000))
            rng = np.random.default_rng(self.seed)
            sample = vecs if train_n >= n else vecs[np.sort(rng.choice(n, train_n, replace=False))]
            log.info("training %s (nlist=%d) on %d of %d vectors", kind, nlist, len(sample), n)
            index.train(sample)
            index.nprobe = self.nprobe
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, metric)
            index.hnsw.efConstruction = max(40, 2 * self.hnsw_m)
            index.hnsw.efSearch = self.ef_search
        else:  # pragma: no cover - validated in __init__
            raise ConfigError(f"unknown index kind {kind!r}", "")
        if n:
            index.add(vecs)
        self.index = index
        self.kind = kind
        self._vectors = vecs
        self._maybe_gpu()
        return self

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        if self._fp16_bound is not None:
            raise ValueError("this index was loaded for search with fp16 codes; save the one build() made")
        write_index(self.index, path)

    def graph_wanted(self) -> bool:
        """Whether this index, as built, is saved with a graph (:func:`build_graph`): a flat CPU
        build of at least :data:`GRAPH_MIN` vectors whose ``flat_scan`` is ``auto``."""
        return self.kind == "flat" and self.flat_scan == "auto" and self.ntotal >= GRAPH_MIN

    @classmethod
    def load(
        cls, path: Path, dim: int, vectors: np.ndarray | None = None, graph: Path | None = None, **opts: Any
    ) -> FaissVectorIndex:
        """The index saved at ``path``; ``vectors``: the raw vectors, row = id (re-scoring, exact
        filtered scoring); ``graph``: the file :func:`build_graph` wrote beside it, if any."""
        faiss = _faiss()
        self = cls(dim, **opts)
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path} has dimension {index.d}, expected {dim}")
        self.index = index
        if isinstance(index, faiss.IndexIVFPQ):
            self.kind = "ivfpq"
        elif isinstance(index, faiss.IndexIVF):
            self.kind = "ivf"
        elif isinstance(index, faiss.IndexHNSW):
            self.kind = "hnsw"
        else:
            self.kind = "flat"
        if self.kind in ("ivf", "ivfpq"):
            faiss.extract_index_ivf(index).nprobe = self.nprobe
        if self.kind == "hnsw":
            index.hnsw.efSearch = self.ef_search
        self._vectors = vectors
        self._maybe_gpu()
        self._maybe_fp16_scan(graph)
        return self

    def _maybe_fp16_scan(self, graph: Path | None = None) -> None:
        """Replace a loaded flat CPU index by fp16 codes of the raw vectors (see the module's
        docstring), when ``flat_scan`` asks for it and the raw vectors are at hand; the fp32 copy
        FAISS read is released, so the version's vectors take half the memory. With ``flat_scan``
        ``auto`` and a ``graph`` file, the codes are the graph's, and it is searched unfiltered."""
        vecs = self._vectors
        if self.kind != "flat" or self._gpu_index is not None or vecs is None or self.ntotal == 0:
            return
        if self.flat_scan == "fp32" or (self.flat_scan == "auto" and self.ntotal < FP16_SCAN_MIN):
            return
        if len(vecs) != self.ntotal:
            log.warning("raw vectors (%d) do not match the index (%d): scanning fp32", len(vecs), self.ntotal)
            return
        faiss = _faiss()
        # encoded from the vectors FAISS read (a view, no copy), not from the memory-mapped raw
        # file: reading all of that would leave its pages in the process's memory
        xb = faiss.rev_swig_ptr(self.index.get_xb(), self.ntotal * self.dim).reshape(self.ntotal, self.dim)
        # a norm within fp16's range bounds every component; NaN or inf shows in the norm too
        max_norm = float(np.sqrt(np.einsum("ij,ij->i", xb, xb)).max(initial=0.0))
        if not max_norm <= FP16_MAX_ABS:
            log.warning("vectors out of fp16's range: scanning fp32")
            return
        hnsw = self._read_graph(graph) if graph is not None and self.flat_scan == "auto" else None
        if hnsw is not None:
            codes = faiss.downcast_index(hnsw.storage)  # the graph's own fp16 codes: one copy
            self._graph = hnsw
        else:
            codes = faiss.IndexScalarQuantizer(self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
            codes.add(xb)  # at once: the codes are allocated once, at their size
        del xb  # a view of the fp32 index, released next
        self.index = codes
        # |q.x - q.fp16(x)| <= 2^-11 |q| |x|, plus each sum's float32 rounding (d ulps at most,
        # for the scan and for the re-scoring), doubled for margin; components too small for
        # fp16's normal range are off by at most 2^-25 each: sqrt(d) 2^-25 |q| in all
        self._fp16_bound = 2.0 * (FP16_UNIT_ROUNDOFF + self.dim * 2.0**-23) * max_norm + math.sqrt(self.dim) * 2.0**-24

    def _read_graph(self, path: Path) -> Any:
        """The graph saved at ``path`` when it is one over fp16 codes of this index's vectors (as
        many, of its dimension); None, with a warning, for anything else: the scan still works."""
        faiss = _faiss()
        graph = faiss.read_index(str(path))
        ok = (
            isinstance(graph, faiss.IndexHNSWSQ)
            and graph.d == self.dim
            and graph.ntotal == self.ntotal
            and faiss.downcast_index(graph.storage).sq.qtype == faiss.ScalarQuantizer.QT_fp16
        )
        if not ok:
            log.warning("%s is not a graph over this index's %d vectors: scanning fp16 codes", path, self.ntotal)
            return None
        return graph

    # -- GPU -------------------------------------------------------------------------------------
    def _maybe_gpu(self) -> None:
        if self.gpu == "off" or self.index is None:
            return
        if not gpu_available():
            if self.gpu == "on":
                raise ConfigError(
                    "KB_FAISS_GPU=on but faiss sees no GPU (faiss-cpu installed or no CUDA device)",
                    "install a faiss GPU build on a CUDA machine, or set KB_FAISS_GPU=auto",
                )
            return
        if self.kind == "hnsw":
            return  # no GPU HNSW in faiss (CAGRA needs cuVS, which is never used here)
        faiss = _faiss()
        try:
            res = faiss.StandardGpuResources()
            co = faiss.GpuClonerOptions()
            if hasattr(co, "use_cuvs"):
                co.use_cuvs = False
            self._gpu_index = faiss.index_cpu_to_gpu(res, 0, self.index, co)
            self._gpu_res = res
            if self.kind in ("ivf", "ivfpq"):
                self._gpu_index.nprobe = self.nprobe
            log.info("faiss %s index on GPU (%d vectors)", self.kind, self.ntotal)
        except Exception as exc:  # noqa: BLE001 - fall back to the CPU index
            if self.gpu == "on":
                raise ConfigError(f"cannot move the FAISS index to the GPU: {exc}", "set KB_FAISS_GPU=auto") from exc
            log.warning("faiss GPU index unavailable (%s); searching on CPU", exc)
            self._gpu_index = None

    # -- search ----------------------------------------------------------------------------------
    def _params(self, sel: Any) -> Any:
        faiss = _faiss()
        if self.kind in ("ivf", "ivfpq"):
            return faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.ef_search, 16))
        return faiss.SearchParameters(sel=sel)

    def set_nprobe(self, nprobe: int) -> None:
        self.nprobe = int(nprobe)
        if self.kind in ("ivf", "ivfpq"):
            _faiss().extract_index_ivf(self.index).nprobe = self.nprobe
            if self._gpu_index is not None:
                self._gpu_index.nprobe = self.nprobe

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (nq, k); id -1 where fewer results exist. ``allowed_ids``: int64
        ids that may be returned (None = all), applied inside the FAISS search."""
        q = _as_queries(queries, self.dim)
        nq = len(q)
        k = int(k)
        if k <= 0 or self.ntotal == 0:
            return np.zeros((nq, 0), np.float32), np.zeros((nq, 0), np.int64)
        if allowed_ids is None:
            if self._graph is not None:
                return self._graph_search(q, k)
            if self._fp16_bound is not None:
                return self._rescored(q, k, None, self.ntotal)
            index = self._gpu_index if self._gpu_index is not None else self.index
            if self._gpu_index is not None and k > 2048:
                index = self.index  # GPU k limit
            d, i = index.search(q, min(k, self.ntotal))
            return _pad(d, i, k)
        allowed_ids = np.asarray(allowed_ids, dtype=np.int64)
        if len(allowed_ids) == 0:
            return _unfilled(nq, k)
        if self.kind != "flat" and len(allowed_ids) <= self.exact_max:
            # an approximate index may not reach a small allowed set: score it exactly
            vecs = self._vectors_for(allowed_ids)
            if vecs is not None:
                return _exact(q, vecs, allowed_ids, k)
        if self._fp16_bound is not None and len(allowed_ids) * FEW_ALLOWED_SHARE <= self.ntotal:
            # what the scan with a selector returns, without a pass over every code
            return self._top_of(q, k, [allowed_ids] * nq)
        faiss = _faiss()
        # a bitmap selector costs n/8 bytes and no hashing (IDSelectorBatch builds a hash set)
        keep = np.zeros(self.ntotal, dtype=bool)
        keep[allowed_ids] = True
        bitmap = np.packbits(keep, bitorder="little")
        sel = faiss.IDSelectorBitmap(bitmap)
        params = self._params(sel)
        if self._fp16_bound is not None:
            return self._rescored(q, k, params, len(allowed_ids))
        d = i = None
        if self._gpu_index is not None and self._gpu_filter_ok:
            try:
                d, i = self._gpu_index.search(q, min(k, self.ntotal), params=params)
            except Exception:  # noqa: BLE001 - GPU indexes may reject selectors
                self._gpu_filter_ok = False
                d = i = None
        if d is None or i is None:
            d, i = self.index.search(q, min(k, self.ntotal), params=params)
        d, i = _pad(d, i, k)
        if self.kind != "flat":
            # an ANN index can come back short when the allowed set is sparse: score it exactly
            want = min(k, len(allowed_ids))
            if ((i >= 0).sum(axis=1) < want).any():
                vecs = self._vectors_for(allowed_ids)
                if vecs is not None:
                    return _exact(q, vecs, allowed_ids, k)
        return d, i

    def score_all(self, query: np.ndarray) -> np.ndarray | None:
        """Every vector's score for one query, in id order: the scores :meth:`search` gives,
        bit for bit (FAISS's own kernel), for a flat fp32 index on the CPU of at most
        :data:`SCORE_ALL_MAX` vectors; None for any other index (the caller searches)."""
        n = self.ntotal
        if self.kind != "flat" or self._gpu_index is not None or self._fp16_bound is not None:
            return None
        if not 0 < n <= SCORE_ALL_MAX:
            return None
        faiss = _faiss()
        q = _as_queries(query, self.dim)
        if len(q) != 1:
            raise ValueError(f"score_all takes one query, got {len(q)}")
        ids = self._all_ids
        if ids is None or ids.shape[1] != n:
            ids = self._all_ids = np.arange(n, dtype=np.int64).reshape(1, n)
        out = np.empty((1, n), dtype=np.float32)
        self.index.compute_distance_subset(1, faiss.swig_ptr(q), n, faiss.swig_ptr(out), faiss.swig_ptr(ids))
        return out[0]

    def _rescored(self, q: np.ndarray, k: int, params: Any, n_allowed: int) -> tuple[np.ndarray, np.ndarray]:
        """The exact top ``k`` of a search over fp16 codes: the scan fetches more than ``k``, the
        fetched vectors are re-scored from the raw vectors, and the scan fetches more whenever a
        vector it left out could still beat the k-th: one whose fp16 score is at most the last
        fetched one's is at most that plus the bound exactly. Ties go to the lower id."""
        assert self._fp16_bound is not None and self._vectors is not None
        nq = len(q)
        out_d, out_i = _unfilled(nq, k)
        slack = self._fp16_bound * np.linalg.norm(q, axis=1)
        todo = np.arange(nq)
        fetch = min(n_allowed, max(2 * k, k + 32))
        while len(todo):
            d16, i16 = self.index.search(q[todo], fetch, params=params)
            again = []
            for j, r in enumerate(todo.tolist()):
                ids = i16[j][i16[j] >= 0]
                n = self._rescore_into(out_d[r], out_i[r], q[r], ids)
                complete = len(ids) < fetch or fetch >= n_allowed  # every allowed vector was scored
                if not complete and out_d[r, n - 1] < d16[j, -1] + slack[r]:
                    again.append(r)
            todo = np.asarray(again, dtype=np.int64)
            fetch = min(n_allowed, 4 * fetch)
        return out_d, out_i

    def _top_of(self, q: np.ndarray, k: int, ids_of: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """For each query ``q[r]``, the exact top ``k`` of the vectors ``ids_of[r]``, scored from
        the raw vectors (:meth:`_rescore_into`)."""
        out_d, out_i = _unfilled(len(q), k)
        for r, ids in enumerate(ids_of):
            self._rescore_into(out_d[r], out_i[r], q[r], ids)
        return out_d, out_i

    def _graph_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` of the graph's walk (:data:`GRAPH_EF_SEARCH`), its best ``k`` +
        :data:`GRAPH_RESCORE_EXTRA` re-scored from the raw vectors: exact scores, ties to the lower
        id. Not certified as :meth:`_rescored` is: a vector the walk never reached is not there."""
        assert self._graph is not None
        faiss = _faiss()
        fetch = min(self.ntotal, k + GRAPH_RESCORE_EXTRA)
        params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, GRAPH_EF_SEARCH, 2 * k, fetch))
        _, found = self._graph.search(q, fetch, params=params)
        return self._top_of(q, k, [row[row >= 0] for row in found])

    def _rescore_into(self, out_d: np.ndarray, out_i: np.ndarray, q: np.ndarray, ids: np.ndarray) -> int:
        """``ids`` scored exactly from the raw vectors, the best ``len(out_d)`` written to
        ``out_d``/``out_i`` (ties to the lower id); returns how many were written."""
        assert self._vectors is not None
        exact = np.asarray(self._vectors[ids], dtype=np.float32) @ q
        top = np.lexsort((ids, -exact))[: len(out_d)]
        out_d[: len(top)] = exact[top]
        out_i[: len(top)] = ids[top]
        return len(top)

    def _vectors_for(self, ids: np.ndarray) -> np.ndarray | None:
        if self._vectors is not None:
            return np.asarray(self._vectors[ids], dtype=np.float32)
        if self.kind in ("ivf", "hnsw"):  # exact reconstruction (IVFPQ would be lossy)
            try:
                return np.stack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)
            except RuntimeError:  # IVF without a direct map
                return None
        return None


def _unfilled(nq: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) for ``nq`` queries of ``k`` results none of which is filled yet: -inf and -1."""
    return np.full((nq, k), -np.inf, np.float32), np.full((nq, k), -1, np.int64)


def _pad(d: np.ndarray, i: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    i = i.astype(np.int64, copy=False)
    if d.shape[1] < k:
        nq = d.shape[0]
        d = np.concatenate([d, np.full((nq, k - d.shape[1]), -np.inf, np.float32)], axis=1)
        i = np.concatenate([i, np.full((nq, k - i.shape[1]), -1, np.int64)], axis=1)
    d = np.where(i < 0, -np.inf, d).astype(np.float32)
    return d, i


def _exact(q: np.ndarray, vecs: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = q @ vecs.T  # (nq, m)
    kk = min(k, len(ids))
    nq = len(q)
    out_d, out_i = _unfilled(nq, k)
    for r in range(nq):
        s = scores[r]
        top = np.argpartition(-s, kk - 1)[:kk] if kk < len(s) else np.arange(len(s))
        order = np.lexsort((ids[top], -s[top]))
        top = top[order]
        out_d[r, :kk] = s[top]
        out_i[r, :kk] = ids[top]
    return out_d, out_i


class ShardedVectorIndex:
    """Vectors split into ``n_shards`` contiguous ranges, one :class:`FaissVectorIndex` each;
    every shard is searched for the top ``k`` and the results merged. With flat shards the result
    equals the unsharded flat index."""

    def __init__(self, dim: int, n_shards: int, **opts: Any) -> None:
        if n_shards < 1:
            raise ConfigError(f"shard count must be >= 1, got {n_shards}", "use --shards 1 or more")
        self.dim = dim
        self.n_shards = int(n_shards)
        self.opts = opts
        self.shards: list[FaissVectorIndex] = []
        self.offsets: np.ndarray = np.zeros(1, np.int64)

    @property
    def ntotal(self) -> int:
        return int(self.offsets[-1])

    @property
    def kind(self) -> str:
        return self.shards[0].kind if self.shards else "flat"

    @property
    def on_gpu(self) -> bool:
        return bool(self.shards) and all(s.on_gpu for s in self.shards)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = self.shards[0].info() if self.shards else {"kind": "flat"}
        out.update(shards=self.n_shards, ntotal=self.ntotal, shard_sizes=[s.ntotal for s in self.shards])
        return out

    def build(self, vecs: np.ndarray) -> ShardedVectorIndex:
        n = len(vecs)
        bounds = np.linspace(0, n, self.n_shards + 1).astype(np.int64)
        self.offsets = bounds
        opts = dict(self.opts)
        # each shard decides flat vs ANN on the total size, so all shards are of one kind
        if opts.get("kind", "auto") == "auto":
            probe = FaissVectorIndex(self.dim, **opts)
            opts["kind"] = probe.choose_kind(n)
        self.shards = [
            FaissVectorIndex(self.dim, **opts).build(vecs[bounds[s] : bounds[s + 1]]) for s in range(self.n_shards)
        ]
        return self

    def save(self, paths: Sequence[Path]) -> None:
        for shard, p in zip(self.shards, paths, strict=True):
            shard.save(p)

    @classmethod
    def load(
        cls, paths: Sequence[Path], dim: int, offsets: Sequence[int], vectors: np.ndarray | None = None, **opts: Any
    ) -> ShardedVectorIndex:
        self = cls(dim, len(paths), **opts)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.shards = [
            FaissVectorIndex.load(
                p, dim, None if vectors is None else vectors[self.offsets[s] : self.offsets[s + 1]], **opts
            )
            for s, p in enumerate(paths)
        ]
        return self

    def set_nprobe(self, nprobe: int) -> None:
        for s in self.shards:
            s.set_nprobe(nprobe)

    def score_all(self, query: np.ndarray) -> np.ndarray | None:
        """None: a sharded index is a large one, searched shard by shard."""
        return None

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        q = _as_queries(queries, self.dim)
        ds, is_ = [], []
        for s, shard in enumerate(self.shards):
            lo, hi = self.offsets[s], self.offsets[s + 1]
            local = None
            if allowed_ids is not None:
                a = np.asarray(allowed_ids, dtype=np.int64)
                local = a[(a >= lo) & (a < hi)] - lo
                if len(local) == 0:
                    continue
            d, i = shard.search(q, k, local)
            ds.append(d)
            is_.append(np.where(i >= 0, i + lo, -1))
        nq = len(q)
        if not ds:
            return _unfilled(nq, k)
        d_all = np.concatenate(ds, axis=1)
        i_all = np.concatenate(is_, axis=1)
        out_d, out_i = _unfilled(nq, k)
        for r in range(nq):
            valid = i_all[r] >= 0
            d_r, i_r = d_all[r][valid], i_all[r][valid]
            order = np.lexsort((i_r, -d_r))[:k]
            out_d[r, : len(order)] = d_r[order]
            out_i[r, : len(order)] = i_r[order]
        return out_d, out_i


def recall_vs_flat(
    index: FaissVectorIndex | ShardedVectorIndex, vectors: np.ndarray, queries: np.ndarray, k: int = 10
) -> float:
    """Share of the exact (flat) top-``k`` ids that ``index`` returns, averaged over ``queries``."""
    faiss = _faiss()
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
    q = np.ascontiguousarray(queries, dtype=np.float32)
    _, truth = flat.search(q, k)
    _, got = index.search(q, k)
    hits = sum(len(set(t[t >= 0]) & set(g[g >= 0])) for t, g in zip(truth, got, strict=True))
    return hits / max(1, int((truth >= 0).sum()))
