"""API keys and roles for the HTTP service.

``KB_API_KEYS`` holds comma-separated entries ``name:role:sha256hex[:group1|group2]``:

- ``name``: a label for the key (appears in logs and metrics instead of the key itself),
- ``role``: ``reader`` (ask, search, chat, feedback; as of today only, :meth:`Principal.check_as_of`),
  ``editor`` (+ upload, delete, documents, its own jobs, agent assist, ``filters.on_date``, the
  dropped sentences of an answer) or ``admin`` (everything: feedback export, every key's jobs,
  ``/metrics``, which name every key),
- ``sha256hex``: the SHA-256 of the key, hex (the key itself is never stored),
- optional groups: the access groups this key may act for; a request's ``user.groups`` is
  intersected with them (and defaults to them); an empty field (``name:reader:hash:``) restricts
  the key to documents without groups. Without the field the caller's ``user.groups`` is used as
  given (a backend that signs its users in, never a key a browser holds); a reader that names no
  groups sees only documents without groups. ``kb keys new`` makes reader keys with the empty
  field unless ``--group`` or ``--any-group`` is given.

Produce an entry with ``kb keys new NAME --role reader`` (prints a fresh key and its entry) or
hash a key you chose with ``kb keys hash KEY``. Clients send the key as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.

With no keys configured the service runs in local development mode: every caller is an admin,
and :func:`check_bind_host` refuses to bind to anything but a loopback address.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass

from kb.errors import AuthError, ConfigError, ForbiddenError

ROLES = ("reader", "editor", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_HEX = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return "kb-" + secrets.token_urlsafe(24)


# the caller of a service without API keys (local development mode), whose sessions `kb ask
# --session` continues (kb.commands.ask)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's name and role (``anonymous``/admin in local development mode)."""

    name: str
    role: str
    groups: tuple[str, ...] | None = None  # groups the key is restricted to; None = unrestricted
    anonymous: bool = False

    def allows(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def require(self, role: str) -> None:
        if not self.allows(role):
            raise ForbiddenError(
                f"key {self.name!r} has role {self.role}, this needs {role}",
                "use a key with that role (an admin makes one with `kb keys new NAME --role ROLE`)",
            )

    def may_ask_as_of(self) -> bool:
        """Whether the key may ask as of another day than today (``filters.on_date``)."""
        return self.allows("editor")

    def check_as_of(self, day: _dt.date | None, today: _dt.date | None = None) -> None:
        """Refuse a reader key the documents of another day than ``today`` (the server's): a
        ``filters.on_date`` in the future read an embargoed launch's price (valid_from not yet
        come), one in the past an expired promotion. Refused (403), not moved to today: an
        answer as of a day it was not given for would mislead the caller. An editor or admin key
        (who reviews what goes live) may ask as of any day, as the operator's CLI does."""
        today = today or _dt.date.today()
        if day is None or day == today or self.may_ask_as_of():
            return
        raise ForbiddenError(
            f"filters.on_date: key {self.name!r} has role {self.role}, which reads the knowledge base as of "
            f"today ({today.isoformat()}) only",
            "leave filters.on_date out, or ask with an editor or admin key",
        )

    def effective_groups(self, requested: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
        """The groups retrieval is restricted to. ``None`` (no restriction) only for an admin
        (or local development mode) that names no groups."""
        req = (
            tuple(dict.fromkeys(g.strip() for g in requested if g and g.strip()))
            if requested is not None
            else None
        )
        if self.groups is not None:
            if req is None:
                return self.groups
            return tuple(g for g in req if g in self.groups)
        if req is None:
            return None if self.role == "admin" else ()
        return req


@dataclass(frozen=True)
class KeyEntry:
    name: str
    role: str
    digest: str
    groups: tuple[str, ...] | None = None


class KeyStore:
    """Parsed ``KB_API_KEYS``; looks a presented key up by its hash in constant time."""

    def __init__(self, entries: list[KeyEntry]) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, spec: str | None) -> KeyStore:
        entries: list[KeyEntry] = []
        seen: set[str] = set()
        for raw in (spec or "").replace("\n", ",").split(","):
            item = raw.strip()
            if not item:
                continue
            parts = item.split(":")
            if len(parts) not in (3, 4):
                raise ConfigError(
                    f"KB_API_KEYS entry {parts[0]!r} is not name:role:sha256hex[:group1|group2]",
                    "produce one with `kb keys new NAME --role reader`",
                )
            name, role, digest = parts[0].strip(), parts[1].strip().lower(), parts[2].strip().lower()
            if not _NAME.match(name):
                raise ConfigError(
                    f"KB_API_KEYS: key name {name!r} is invalid", "use letters, digits, _ . @ -"
                )
            if role not in _RANK:
                raise ConfigError(
                    f"KB_API_KEYS: key {name!r} has unknown role {role!r}", f"use one of {', '.join(ROLES)}"
                )
            if not _HEX.match(digest):
                raise ConfigError(
                    f"KB_API_KEYS: key {name!r} does not carry a 64-hex-digit SHA-256",
                    "store the hash, not the key: `kb keys hash KEY`",
                )
            if name in seen:
                raise ConfigError(
                    f"KB_API_KEYS: key name {name!r} appears twice", "give every key its own name"
                )
            seen.add(name)
            twin = next((e.name for e in entries if e.digest == digest), None)
            if twin is not None:  # one key, two roles: lookup took the last, a reader could be admin
                raise ConfigError(
                    f"KB_API_KEYS: keys {twin!r} and {name!r} have the same hash, so the same key",
                    "give each name its own key: `kb keys new NAME --role ROLE`",
                )
            groups = None
            if len(parts) == 4:
                groups = tuple(g.strip() for g in parts[3].split("|") if g.strip())
            entries.append(KeyEntry(name, role, digest, groups))
        if spec is not None and spec.strip() and not entries:
            # ",,," would start local development mode, where every caller is admin
            raise ConfigError("KB_API_KEYS is set but holds no key",
                              "add keys (`kb keys new NAME --role reader`), or unset it for local development")
        return cls(entries)

    @property
    def enabled(self) -> bool:
        return bool(self.entries)

    def lookup(self, key: str | None) -> KeyEntry | None:
        if not key:
            return None
        digest = hash_key(key)
        found = None
        for e in self.entries:  # compare against every entry: no early exit on a match
            if hmac.compare_digest(e.digest, digest):
                found = e
        return found

    def authenticate(self, key: str | None) -> Principal:
        if not self.enabled:
            return Principal(name=ANONYMOUS, role="admin", anonymous=True)
        if not key:
            raise AuthError(
                "an API key is required", "send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`"
            )
        entry = self.lookup(key)
        if entry is None:
            raise AuthError("the API key is not valid", "check the key, or ask an admin for one")
        return Principal(name=entry.name, role=entry.role, groups=entry.groups)


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, keys: KeyStore) -> None:
    """Without API keys the service must not be reachable from other machines."""
    if not keys.enabled and not is_loopback_host(host):
        raise ConfigError(
            f"refusing to listen on {host} without API keys (anyone could read and change the knowledge base)",
            "set KB_API_KEYS (see `kb keys new`) or serve on 127.0.0.1",
        )
