"""Values that describe what is stored in a knowledge base. Frozen: safe to share and cache."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


def sha256_hex(data: bytes | str, n: int = 32) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:n]


@dataclass(frozen=True)
class Document:
    """One ingested file (or one FAQ table). ``id`` = hash of its normalized bytes."""

    id: str
    source: str  # path relative to the ingest root, '/'-separated, e.g. "policies/returns.pdf"
    title: str
    lang: str  # "en", "zh", ... (detected per document unless metadata says)
    kind: str = "document"  # "document" | "faq"
    metadata: Mapping[str, Any] = field(default_factory=dict)  # tags, groups, valid_from, valid_to, ...


# The first characters of a chunk that starts in the middle of a sentence (the chunker split a
# sentence longer than its budget): shown as the cut it is, never quoted as a sentence of its own,
# and left out of what is embedded and indexed.
CONTINUES = "\u2026"


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit. ``id`` = hash of (document id, position, text).

    ``source_id`` is what retrieval is scored against: the document's source path, or
    ``"<source>#<faq_id>"`` for one FAQ entry (e.g. ``faq.csv#0042``).
    """

    id: str
    doc_id: str
    source: str
    position: int
    text: str  # the passage as shown and cited (an FAQ chunk: "Q: ...\nA: ...")
    title: str = ""
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    faq_id: str | None = None
    question: str | None = None  # FAQ chunks: the curated question
    answer: str | None = None  # FAQ chunks: the curated answer, verbatim
    lang: str = "en"
    kind: str = "text"  # "text" | "table" | "faq"
    groups: tuple[str, ...] = ()  # access groups; empty = everyone
    tags: tuple[str, ...] = ()
    valid_from: str | None = None  # ISO date, inclusive
    valid_to: str | None = None  # ISO date, inclusive
    n_tokens: int = 0

    @property
    def source_id(self) -> str:
        return f"{self.source}#{self.faq_id}" if self.faq_id is not None else self.source

    @property
    def locator(self) -> str:
        """Human-readable place inside the source: page, heading path or FAQ id."""
        parts: list[str] = []
        if self.faq_id is not None:
            parts.append(f"FAQ {self.faq_id}")
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.heading_path:
            parts.append(" > ".join(self.heading_path))
        return ", ".join(parts)

    def embed_text(self) -> str:
        """Text given to the embedder and the keyword index for the passage vector:
        the title and heading path are prepended (small chunks lose without them); the
        :data:`CONTINUES` mark is not (what is embedded is what the text says)."""
        head = [self.title] if self.title else []
        head += [h for h in self.heading_path if h and h != self.title]
        prefix = " > ".join(head)
        text = self.text.removeprefix(CONTINUES)
        return f"{prefix}\n{text}" if prefix else text


@dataclass(frozen=True)
class Filters:
    """Metadata filters applied *inside* retrieval (never after a fixed top-k).

    ``groups``: the asking user's access groups; a chunk is visible when it has no groups or
    shares one with the user. ``None`` means "no user restriction" (admin / CLI).
    ``tags``: keep chunks carrying any of these tags. ``lang``: keep one language.
    ``on_date``: keep chunks valid on that day (default: today) - always applied.
    ``sources``: keep these document sources only.
    """

    groups: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    lang: str | None = None
    on_date: date | None = None
    sources: tuple[str, ...] | None = None

    @staticmethod
    def of(
        groups: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        lang: str | None = None,
        on_date: date | None = None,
        sources: Iterable[str] | None = None,
    ) -> Filters:
        return Filters(
            groups=tuple(groups) if groups is not None else None,
            tags=tuple(tags) if tags else None,
            lang=lang,
            on_date=on_date,
            sources=tuple(sources) if sources else None,
        )

    def allows(self, chunk: Chunk, today: date | None = None) -> bool:
        if self.groups is not None and chunk.groups and not set(chunk.groups) & set(self.groups):
            return False
        if self.tags and not set(chunk.tags) & set(self.tags):
            return False
        if self.lang and chunk.lang != self.lang:
            return False
        if self.sources and chunk.source not in self.sources:
            return False
        day = (self.on_date or today or date.today()).isoformat()
        if chunk.valid_from and day < chunk.valid_from[:10]:
            return False
        if chunk.valid_to and day > chunk.valid_to[:10]:
            return False
        return True
