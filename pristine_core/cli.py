"""The ``pristine`` command: inspect installed plugins and validate manifests.

``pristine plugins [--format text|json]`` lists plugins in effective order with their
distribution, version, priority and hooks, then load failures. ``pristine manifest validate
PATH`` prints every problem with its JSON path and exits 1 when there is any. Other
distributions add subcommands through the entry-point group ``pristine.commands``: each entry
point is a callable ``register(subparsers)`` (e.g. ``pristine codegen`` from pristine-codegen).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import sys
from collections.abc import Sequence

from pristine_core import __version__
from pristine_core.errors import ManifestError, PluginLoadError
from pristine_core.manifest.loader import load_manifest
from pristine_core.plugins import PluginSelection, build_plugin_manager


def _plugins(args: argparse.Namespace) -> int:
    try:
        _pm, records, failures = build_plugin_manager(PluginSelection.resolve())
    except PluginLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        report = {
            "plugins": [record.as_dict(i) for i, record in enumerate(records, 1)],
            "failures": [
                {"name": f.name, "distribution": f.distribution, "version": f.version, "error": f.error}
                for f in failures
            ],
        }
        print(json.dumps(report, indent=2))
        return 0
    if not records:
        print("no plugins loaded")
    for i, record in enumerate(records, 1):
        dist = f"{record.distribution} {record.version}" if record.distribution else "(not installed)"
        print(f"{i:2d}. {record.name:<12} priority {record.priority:<5} {dist}")
        print(f"      hooks: {', '.join(record.hooks) or '-'}")
    for failure in failures:
        print(f"FAILED {failure.name} ({failure.distribution or 'unknown distribution'}): {failure.error}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    validators = []
    if not args.no_plugins:
        try:
            pm, _records, _failures = build_plugin_manager(PluginSelection.resolve())
        except PluginLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        def plugin_checks(manifest):  # type: ignore[no-untyped-def]
            return [p for result in pm.hook.pristine_validate_manifest(manifest=manifest) for p in (result or [])]

        validators.append(plugin_checks)
    try:
        manifest = load_manifest(args.path, validators=validators)
    except ManifestError as exc:
        for path, message in exc.problems:
            print(f"{args.path}: {path}: {message}")
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    endpoints = len(manifest.endpoints())
    print(f"{args.path}: ok ({endpoints} endpoints, {len(manifest.types)} types)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pristine`` command."""
    parser = argparse.ArgumentParser(
        prog="pristine",
        description="Inspect installed Pristine plugins and validate manifests.",
        epilog="pristine plugins [--format text|json]: plugins in effective order with distribution, version, "
        "priority and hooks, then load failures. pristine manifest validate PATH: every problem with its "
        "JSON path; exit status 1 when there is any.",
    )
    parser.add_argument("--version", action="version", version=f"pristine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list installed plugins in effective order")
    plugins.add_argument("--format", choices=("text", "json"), default="text")
    plugins.set_defaults(func=_plugins)
    manifest = sub.add_parser("manifest", help="manifest tools")
    msub = manifest.add_subparsers(dest="manifest_command", required=True)
    validate = msub.add_parser(
        "validate",
        help="validate a manifest file",
        description="Validate a manifest: print every problem with its JSON path (exit status 1 when any).",
    )
    validate.add_argument("path")
    validate.add_argument("--no-plugins", action="store_true", help="skip the plugins' feature-block checks")
    validate.set_defaults(func=_validate)
    _add_commands(sub)
    return parser


COMMANDS_GROUP = "pristine.commands"


def _add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Subcommands other distributions register (``pristine.commands`` entry points)."""
    for ep in sorted(md.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        if ep.name in sub.choices:
            continue
        try:
            ep.load()(sub)
        except Exception as exc:
            print(f"warning: command {ep.name!r} did not load: {type(exc).__name__}: {exc}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pristine`` console script."""
    args = build_parser().parse_args(argv)
    _log_to_stderr()
    return int(args.func(args))


def _log_to_stderr() -> None:
    """The CLI is an application: keep log lines off stdout so JSON output stays parseable."""
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


if __name__ == "__main__":
    raise SystemExit(main())
