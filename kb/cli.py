"""The `kb` command: a thin layer over the library. Each command group lives in
``kb/commands/<name>.py`` and registers itself on the one typer app; heavy imports happen inside
the commands so that ``kb --help`` stays fast."""

from __future__ import annotations

import sys
from typing import Any

import typer

from kb.errors import KBError
from kb.settings import apply_offline_defaults

apply_offline_defaults()

app = typer.Typer(
    name="kb",
    help="Knowledge-base assistant: ingest documents, ask grounded questions, serve, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from kb.commands import ask, evaluate, ingest, jobs, serve

    for mod in (ingest, ask, serve, evaluate, jobs):
        mod.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Entry point: KBError becomes a one-line message and its exit code, never a traceback."""
    try:
        rc = app(args=argv, standalone_mode=False)
        # standalone_mode=False hands typer.Exit's code back as the return value
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except KBError as err:
        typer.echo(f"error: {err.one_line()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as ex:  # raised by commands for explicit exit codes
        sys.exit(ex.exit_code)
    except Exception as ex:  # usage errors ("No such option") arrive here in standalone_mode=False
        if isinstance(ex, _usage_errors()):
            usage: Any = ex
            usage.show()  # the usage line and the one-line error, as click prints them
            sys.exit(usage.exit_code)
        if isinstance(ex, _aborts()):
            sys.exit(1)
        problem = storage_problem(ex)
        if problem is None:
            raise
        typer.echo(f"error: {problem}", err=True)
        sys.exit(1)


def storage_problem(ex: BaseException) -> str | None:
    """The one line for a failure of the disk under KB_HOME (full, read-only, a file where a
    folder belongs), which reaches here as an OSError or SQLite's error; None for anything else.
    What was already published stays live: a version is switched to only once written whole."""
    import errno
    import sqlite3

    unchanged = "the live version is unchanged"
    if isinstance(ex, sqlite3.OperationalError) and "full" in str(ex):
        return f"the disk is full ({ex}); free some space and run it again ({unchanged})"
    if isinstance(ex, sqlite3.OperationalError) and "readonly" in str(ex).replace(" ", ""):
        return f"a database under KB_HOME is read-only ({ex}); make KB_HOME writable ({unchanged})"
    if not isinstance(ex, OSError) or ex.errno is None:
        return None
    where = ex.filename or "KB_HOME"
    if ex.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk of {where}; free some space and run it again ({unchanged})"
    if ex.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return f"{where}: {ex.strerror}; point KB_HOME at a folder (it holds the knowledge bases)"
    if ex.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: {ex.strerror}; make it writable, or point KB_HOME at a folder you can write"
    return None


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage errors: typer before 0.2x raises click's own, later typers those of the click
    they vendor (``typer._click``, whose public base is ``typer.TyperException``) and no longer
    depend on click: a typer upgrade turned "No such command" into a traceback when only click's
    were caught."""
    vendored = getattr(typer, "TyperException", None)
    return tuple(c for c in (_click_exception("ClickException"), vendored) if c is not None)


def _aborts() -> tuple[type[BaseException], ...]:
    return tuple(c for c in (_click_exception("Abort"), typer.Abort) if c is not None)


def _click_exception(name: str) -> Any:
    try:
        import click
    except ImportError:  # a typer that vendors click, without click installed
        return None
    return getattr(click.exceptions, name, None)


if __name__ == "__main__":
    main()
