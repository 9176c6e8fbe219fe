"""The `kb` command: a thin layer over the library. Each command group lives in
``kb/commands/<name>.py`` and registers itself on the one typer app; heavy imports happen inside
the commands so that ``kb --help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer

from kb.errors import KBError, storage_problem
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


def _safe_output() -> None:
    """stdout and stderr write what their encoding cannot as backslash escapes: on a terminal that
    is not UTF-8 (PYTHONIOENCODING=latin-1, a cp1252 console) a Chinese answer was a
    UnicodeEncodeError traceback."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (OSError, ValueError):  # a stream that cannot change now: left as it is
                pass


# the exit status of an unexpected error (sysexits' EX_SOFTWARE)
EXIT_INTERNAL = 70


def main(argv: list[str] | None = None) -> None:
    """Entry point: KBError becomes a one-line message and its exit code, never a traceback."""
    _safe_output()
    try:
        rc = app(args=argv, standalone_mode=False, prog_name="kb")  # (also run as python -m kb.cli)
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
            body = _usage_body(usage.format_message(), _usage_of(usage))
            if body["hint"].startswith("put --"):
                typer.echo(f"hint: {body['hint']}", err=True)
            if "--json" in (sys.argv[1:] if argv is None else argv):
                # and, asked for JSON, the object a script parses (it got nothing on stdout)
                typer.echo(json.dumps(body, ensure_ascii=False))
            sys.exit(usage.exit_code)
        if isinstance(ex, _aborts()):
            sys.exit(1)
        problem = storage_problem(ex)
        if problem is not None:
            typer.echo(f"error: {problem}", err=True)
            sys.exit(1)
        if os.environ.get("KB_DEBUG", "").strip() not in ("", "0"):
            raise
        # a bug: one line that says so, not a traceback in the middle of a script's output
        typer.echo(f"error: internal error ({type(ex).__name__}: {str(ex)[:200]}); this is a bug: run the "
                   "command again with KB_DEBUG=1 for the traceback and report it", err=True)
        sys.exit(EXIT_INTERNAL)


def _usage_of(error: Any) -> str:
    """The command line a usage error is about ("kb ask"), or "kb"."""
    ctx = getattr(error, "ctx", None)
    return str(getattr(ctx, "command_path", "") or "kb")


def _usage_body(message: str, command: str) -> dict[str, str]:
    """A usage error as ``--json`` prints errors (:func:`kb.commands.common.json_errors`). An
    option click does not know that starts a question ("-5% off?" read as the option "-5") is told
    how to ask it."""
    hint = f"see '{command} --help'"
    if message.startswith("No such option: -") and not message.startswith("No such option: --"):
        # (what starts with "-" is a question to ask and search, a name or a file to the others: "kb
        # delete -old.md" was told about questions)
        example, what = ('"-5% off?"', "a question") if command.endswith((" ask", " search")) else ("-old.md", "a name")
        hint = f"put -- before {what} that starts with '-': {command} -- {example}; or {hint}"
    return {"error": "usage", "message": message, "hint": hint}


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
