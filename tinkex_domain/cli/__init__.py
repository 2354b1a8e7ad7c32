"""The ``tinkex`` command line.

    tinkex demo [--steps N] [--plot PATH]          train the bundled corpus on an embedded emulator
    tinkex emulator serve [--port N] ...           run a local Tinker emulator
    tinkex checkpoint list|info|download|delete|publish|unpublish|set-ttl|save|push-hf ...
    tinkex run list|info ...                       training runs
    tinkex sample --base-model M --prompt TEXT     sample from a model [--output FILE] [--http-pool POOL]
    tinkex version [--deps]                        versions (and those of the dependencies)

Connection options (before or after the command): ``--base-url`` (else ``TINKER_BASE_URL``),
``--api-key`` (else ``TINKER_API_KEY``), ``--timeout`` (30s, 30000ms; bare numbers are seconds),
``-v``/``--log-level`` (library logs on stderr); output ``-f/--format table|json`` (``--json``).
Exit status: 0 success, 1 error (printed as ``Error: ...`` on stderr), 2 usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from pristine_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    PristineError,
    RateLimitError,
    ValidationError,
)
from tinkex_domain.cli import options
from tinkex_domain.cli.context import CommandError, Context, ServiceFactory

__all__ = ["CommandError", "Context", "build_parser", "configure_logging", "friendly_error", "main"]


def _common_options(defaults: bool) -> argparse.ArgumentParser:
    """Connection/format options; sub-parsers use SUPPRESS so a value given earlier survives."""
    parser = argparse.ArgumentParser(add_help=False)
    d: Callable[[Any], Any] = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    parser.add_argument("-f", "--format", choices=("table", "json"), default=d("table"),
                        help="output format (default table)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", default=d("table"),
                        help="same as --format json")
    parser.add_argument("--base-url", default=d(None), help="API base URL (default: $TINKER_BASE_URL)")
    parser.add_argument("--api-key", default=d(None), help="API key (default: $TINKER_API_KEY)")
    parser.add_argument("--timeout", type=options.duration, default=d(None),
                        help="time the whole command may take (each request, retries and waits included): "
                             "30s, 30000ms or 1.5m; a bare number means seconds")
    parser.add_argument("-v", "--verbose", action="count", default=d(0),
                        help="more library logging on stderr (-v info, -vv debug)")
    parser.add_argument("--log-level", choices=options.LOG_LEVELS, default=d(None),
                        help="library log level on stderr (overrides -v)")
    return parser


def _demo_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from tinkex_domain import demo

    p = subparsers.add_parser("demo", parents=[common], help=options.COMMAND_HELP["demo"],
                              description=demo.__doc__.splitlines()[0] if demo.__doc__ else None)
    demo.add_arguments(p)

    def run(ctx: Context) -> int:
        return demo.run_from_args(ctx.args, out=ctx.stdout)

    p.set_defaults(func=run)


def _emulator_parser(subparsers: Any) -> None:
    from tinkex_domain.emulator import cli as emulator_cli

    p = subparsers.add_parser("emulator", help=options.COMMAND_HELP["emulator"],
                              description="Local Tinker-compatible service emulator.")
    emulator_cli.add_subcommands(p.add_subparsers(dest="subcommand", metavar="<command>", required=True))
    # The emulator's commands take their parsed args directly, not a Context.
    p.set_defaults(raw_args=True)


def _checkpoint_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from tinkex_domain.cli import checkpoint

    checkpoint.add_parser(subparsers, common)


def _run_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from tinkex_domain.cli import runs

    runs.add_parsers(subparsers, common)


#: Each group of commands and the builder that registers them (help texts: options.COMMAND_HELP).
#: Only the group a command line names is built (its modules may import numpy, the types, the
#: emulator); the others appear in ``tinkex --help`` by name and help alone, so ``tinkex version``
#: and ``--help`` start fast.
_GROUPS: tuple[tuple[tuple[str, ...], Callable[[Any, argparse.ArgumentParser], None]], ...] = (
    (("demo",), _demo_parser),
    (("emulator",), lambda sub, common: _emulator_parser(sub)),
    (("checkpoint",), _checkpoint_parsers),
    (("run", "sample", "version"), _run_parsers),
)


def _named_command(argv: Sequence[str]) -> str | None:
    """The first word of ``argv`` that names a command (option values never do in practice)."""
    names = {name for commands, _ in _GROUPS for name in commands}
    return next((word for word in argv if word in names), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``tinkex`` parser: complete without ``argv``; with it, only the named command's group is
    built in full (the others are listed with their help)."""
    parser = argparse.ArgumentParser(
        prog="tinkex", parents=[_common_options(True)],
        description="Tinkex: the Tinker fine-tuning SDK command line (checkpoints, runs, emulator, demo).",
    )
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    common = _common_options(False)
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    wanted = None if argv is None else _named_command(argv)
    for commands, build in _GROUPS:
        if argv is None or wanted in commands:
            build(sub, common)
        else:
            for name in commands:
                sub.add_parser(name, help=options.COMMAND_HELP[name])
    return parser


def friendly_error(exc: BaseException) -> str:
    """A one-line message for an error (never includes secrets: errors carry none)."""
    from tinkex_domain.checkpoint_download import CheckpointDownloadError

    if isinstance(exc, (CommandError, CheckpointDownloadError)):
        return str(exc)
    if isinstance(exc, ValidationError):
        details = "; ".join(f"{path or '<root>'}: {message}" for path, message in exc.errors)
        return f"invalid input: {details}"
    if isinstance(exc, NotFoundError):
        return f"not found: {exc}"
    if isinstance(exc, AuthenticationError):
        return "authentication failed: check --api-key / TINKER_API_KEY"
    if isinstance(exc, PermissionDeniedError):
        return f"permission denied: {exc}"
    if isinstance(exc, RateLimitError):
        return "rate limited by the server; try again later"
    if isinstance(exc, APIStatusError):
        kind = "internal server error" if exc.status_code >= 500 else "invalid request"
        return f"{kind} (status {exc.status_code}): {exc}"
    if isinstance(exc, APITimeoutError):
        return f"request timed out: {exc}"
    if isinstance(exc, APIConnectionError):
        hint = "" if "is the server running" in str(exc) else " (is --base-url / TINKER_BASE_URL right?)"
        return f"connection failed: {exc}{hint}"
    return str(exc) or type(exc).__name__


def configure_logging(level: int = logging.WARNING, *, force: bool = False) -> None:
    """For the console command: library logs at ``level`` and above, on stderr (stdout stays clean
    for ``--format json``). Left alone when the application configured structlog already, unless
    ``force`` (``-v``/``--log-level`` given)."""
    try:
        structlog = importlib.import_module("structlog")
    except ImportError:
        return
    if force or not structlog.is_configured():
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        )


class CommandTimeout(CommandError):
    """The whole command took longer than ``--timeout``."""


def _run_bounded(func: Callable[[Context], Any], ctx: Context, timeout: float | None) -> int:
    """Run the command; with ``timeout`` an interval timer (SIGALRM, main thread, POSIX) stops it
    with :class:`CommandTimeout` when the whole command overruns. Elsewhere the per-request
    timeout and the retry deadline (set by the service factory) still bound each call."""
    if timeout is None:
        return int(func(ctx))
    if timeout <= 0:
        raise CommandError("--timeout must be a positive number of seconds")
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return int(func(ctx))

    def expired(signum: int, frame: Any) -> None:
        raise CommandTimeout(f"the command did not finish within --timeout {timeout:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return int(func(ctx))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None,
    stdin: TextIO | None = None, service_factory: ServiceFactory | None = None, now: Any = None,
) -> int:
    """Run the CLI; returns the exit status (streams and the ServiceClient factory are injectable).

    Called without ``argv`` (the console script), it also quiets library logs (:func:`configure_logging`).
    """
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser(list(sys.argv[1:] if argv is None else argv))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if getattr(args, "verbose", 0) or getattr(args, "log_level", None):
        configure_logging(options.log_level(args.verbose, args.log_level), force=True)
    elif argv is None and not args.version and args.command not in (None, "version"):
        configure_logging()  # after parsing: --help and version need no logging (nor its imports)
    if args.version:
        from tinkex_domain.cli import runs

        args.func = runs.cmd_version
    if getattr(args, "func", None) is None:
        parser.print_help(out)
        return 0
    if getattr(args, "raw_args", False):
        return int(args.func(args))
    ctx = Context(args, out, err, stdin or sys.stdin, service_factory, now)
    try:
        return _run_bounded(args.func, ctx, getattr(args, "timeout", None))
    except KeyboardInterrupt:
        print("Interrupted", file=err)
        return 130
    except (PristineError, CommandError, OSError, ValueError) as exc:
        print(f"Error: {friendly_error(exc)}", file=err)
        return 1
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
