"""`kb serve`: the HTTP service (API, OpenAI-compatible endpoint, web chat) on the live
knowledge base(s); `kb keys`: make API keys for KB_API_KEYS."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def configure_logging(level: str = "info") -> None:
    import logging

    from kb.app import install_log_request_ids

    install_log_request_ids()
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)
    for noisy in ("uvicorn.access", "httpx", "jieba", "sentence_transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def check_kbs_served(home: Path, names: list[str]) -> None:
    """A :class:`NotFoundError` for a ``--kb`` with no published knowledge base under ``home``: the
    server started anyway, and /readyz said "no published knowledge base" to whoever looked. With
    no ``--kb`` an empty home is served (documents can be uploaded to it)."""
    from indexes.kbase import KnowledgeBase, list_kbs
    from kb.errors import IndexCorruptError, NotFoundError

    def published(name: str) -> bool:
        try:
            return KnowledgeBase(home, name).live_version() is not None
        except IndexCorruptError:  # there, damaged: the server says so on the requests it fails
            return True

    missing = [n for n in names if not published(n)]  # a bad name is refused by its validation
    if not missing:
        return
    available = [n for n in list_kbs(home) if published(n)]
    what = f"knowledge base {missing[0]!r}" if len(missing) == 1 else f"knowledge bases {', '.join(map(repr, missing))}"
    hint = (f"available: {', '.join(available)}" if available
            else f"none is published there; run `kb ingest PATH --kb {missing[0]}` first, or set KB_HOME")
    raise NotFoundError(f"{what} not found under KB_HOME ({home})", hint)


def check_port_free(host: str, port: int) -> None:
    """A :class:`ConfigError` when ``host:port`` cannot be listened on: a port in use was found by
    uvicorn only after the models were loaded, in five log lines ending in "[Errno 98] address
    already in use" and exit 3. Each address ``host`` names is bound as uvicorn binds it
    (SO_REUSEADDR, IPv6 only on an IPv6 socket), then closed; port 0 (any free port) passes."""
    import errno
    import socket

    from kb.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as ex:
        raise ConfigError(f"cannot listen on {host} ({ex.strerror})", "give --host an address of this machine") from None
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as sock:
            if hasattr(socket, "SO_REUSEADDR") and sys.platform != "win32":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(addr)
            except OSError as ex:
                if ex.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
                    raise ConfigError(f"port {port} on {host} is in use", "pick another with --port") from None
                raise ConfigError(
                    f"cannot listen on port {port} on {host} ({ex.strerror})",
                    "give --host an address of this machine, or pick another port with --port",
                ) from None


def serve_cmd(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; non-loopback needs KB_API_KEYS.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    kb: Annotated[
        list[str] | None,
        typer.Option("--kb", help="Serve only this knowledge base (repeatable; default: all under KB_HOME)."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug | info | warning | error | critical")] = "info",
) -> None:
    """Serve the question-answering API, the OpenAI-compatible endpoint and the web chat page."""
    import uvicorn

    from kb.app import create_app
    from kb.auth import KeyStore, check_bind_host
    from kb.commands.common import check_model_specs
    from kb.errors import InputError
    from kb.settings import get_settings

    if log_level.strip().lower() not in LOG_LEVELS:
        raise InputError(f"--log-level {log_level!r} is not a log level", f"use one of {', '.join(LOG_LEVELS)}")
    settings = get_settings()
    keys = KeyStore.parse(settings.api_keys)
    check_bind_host(host, keys)
    check_model_specs(settings)
    if kb:
        check_kbs_served(Path(settings.home), list(kb))
    check_port_free(host, port)  # before the models load, not after, in uvicorn's log lines
    log_level = log_level.strip().lower()
    configure_logging(log_level)
    if not keys.enabled:
        typer.echo(
            f"no API keys configured (KB_API_KEYS): local development mode, every caller is admin; "
            f"listening on {host} only",
            err=True,
        )
    app = create_app(settings, kbs=list(kb) if kb else None)
    typer.echo(f"serving on http://{host}:{port}/ (API docs at /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, log_level=log_level)


keys_app = typer.Typer(
    help="Make API keys for KB_API_KEYS (entries name:role:sha256hex[:group1|group2]).", no_args_is_help=True
)


@keys_app.command("new")
def keys_new(
    name: Annotated[str, typer.Argument(help="A label for the key (shown in logs and metrics).")],
    role: Annotated[str, typer.Option("--role", help="reader | editor | admin")] = "reader",
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Restrict the key to these access groups.")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Restrict the key to documents without access groups.")
    ] = False,
    any_group: Annotated[
        bool,
        typer.Option(
            "--any-group",
            help="Let the caller name its users' groups (user.groups): for a backend that signs its users in, "
            "never for a key a browser holds.",
        ),
    ] = False,
) -> None:
    """Print a fresh key (give it to the client) and its KB_API_KEYS entry (give it to the server).
    A reader key is restricted to documents without access groups unless --group or --any-group
    says otherwise: a reader key that names no groups let whoever holds it (the web chat keeps it
    in the browser) claim any group in user.groups and read its documents."""
    from kb.auth import ROLES, KeyStore, hash_key, new_key
    from kb.commands.common import refuse_blank
    from kb.errors import InputError

    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", f"use one of {', '.join(ROLES)}")
    if sum((bool(group), public, any_group)) > 1:
        raise InputError("--group, --public and --any-group contradict each other", "give one of them")
    refuse_blank("--group", group, "staff", "--public for documents in no group")  # else a key for no group
    for g in group or ():
        if any(c in g for c in ":|,"):  # would break the entry into other fields
            raise InputError(f"--group {g!r} holds ':', '|' or ','", "name the group without them")
    key = new_key()
    entry = f"{name}:{role}:{hash_key(key)}"
    if group:
        entry += f":{'|'.join(g.strip() for g in group)}"
    elif public or (role == "reader" and not any_group):
        entry += ":"  # no group: documents without access groups only, whatever user.groups says
    KeyStore.parse(entry)  # validates the name
    typer.echo(f"key:   {key}")
    typer.echo(f"entry: {entry}")


@keys_app.command("hash")
def keys_hash(key: Annotated[str, typer.Argument(help="The key to hash.")]) -> None:
    """Print the SHA-256 of a key, for an entry name:role:<hash> in KB_API_KEYS."""
    from kb.auth import hash_key

    typer.echo(hash_key(key))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.add_typer(keys_app, name="keys")
