"""Prometheus metrics of one app instance (its own registry, so several apps can live in one
process, e.g. in tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "kb_requests_total", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.key_requests = Counter(
            "kb_key_requests_total", "HTTP requests by API key name (KB_API_KEYS)", ["key", "status"], registry=r
        )
        self.latency = Histogram(
            "kb_request_seconds",
            "HTTP request latency (to the last byte)",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "kb_stage_seconds", "Answer pipeline latency per stage", ["stage"], buckets=_BUCKETS, registry=r
        )
        self.ttft = Histogram(
            "kb_first_token_seconds", "Time to the first streamed token", buckets=_BUCKETS, registry=r
        )
        self.actions = Counter("kb_answers_total", "Answers by action", ["kb", "action"], registry=r)
        self.fallbacks = Counter(
            "kb_llm_fallback_total",
            "Answers composed without their LLM (KB_LLM_FALLBACK), by how and why",
            ["kb", "fallback", "reason"],
            registry=r,
        )
        self.errors = Counter("kb_errors_total", "Error responses by error code", ["code"], registry=r)
        self.index_version = Gauge(
            "kb_index_version_info",
            "Index version being served (1 = live in this process)",
            ["kb", "version"],
            registry=r,
        )
        self.index_chunks = Gauge("kb_index_chunks", "Chunks in the served index version", ["kb"], registry=r)
        self.index_swaps = Counter(
            "kb_index_swaps_total", "Index versions swapped in without restart", ["kb"], registry=r
        )
        self.gen_active = Gauge("kb_generation_active", "Answers being generated", registry=r)
        self.gen_waiting = Gauge("kb_generation_waiting", "Requests waiting for an answer slot", registry=r)
        self.jobs = Counter(
            "kb_jobs_total", "Document jobs by kind and final state", ["kind", "state"], registry=r
        )
        self.feedback = Counter("kb_feedback_total", "Feedback by rating", ["rating"], registry=r)
        self.webhook = Counter(
            "kb_handoff_webhook_total", "Hand-off webhook deliveries", ["outcome"], registry=r
        )

    def observe_timings(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            try:
                self.stage.labels(stage=str(stage)[:40]).observe(max(0.0, float(ms)) / 1000.0)
            except (TypeError, ValueError):
                continue

    def set_index(self, kb: str, old: str | None, new: str, chunks: int) -> None:
        if old:
            try:
                self.index_version.remove(kb, old)
            except KeyError:
                pass
        self.index_version.labels(kb=kb, version=new).set(1)
        self.index_chunks.labels(kb=kb).set(chunks)

    def render(self) -> bytes:
        return generate_latest(self.registry)
