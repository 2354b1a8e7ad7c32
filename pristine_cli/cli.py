"""The ``pristine`` command: inspect installed plugins and validate manifests.

``pristine plugins [--format text|json]`` lists plugins in effective order with their
distribution, version, priority and hooks, then load failures. ``pristine manifest validate
PATH [--strict]`` prints every problem with its JSON path and exits 1 when there is any; keys no
loaded plugin reads are warnings naming the plugin that would read them (errors with
``--strict``). ``pristine new-plugin NAME --priority N`` writes a plugin package to start from.
Other distributions add subcommands through the entry-point group ``pristine.commands``: each
entry point is a callable ``register(subparsers)`` (e.g. ``pristine codegen`` from pristine-codegen).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pristine_core import __version__
from pristine_core.errors import ManifestError, PluginLoadError
from pristine_core.plugins import PluginSelection, build_plugin_manager

if TYPE_CHECKING:
    from pristine_core.manifest.claims import SettingsSchema


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
    from pristine_core.manifest.claims import SettingsSchema  # the loader and converter: only here
    from pristine_core.manifest.loader import load_manifest

    validators = []
    schema = SettingsSchema()
    if not args.no_plugins:
        try:
            pm, _records, _failures = build_plugin_manager(PluginSelection.resolve())
            schema = SettingsSchema.from_hooks(pm)
        except PluginLoadError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        def plugin_checks(manifest):  # type: ignore[no-untyped-def]
            return [p for result in pm.hook.pristine_validate_manifest(manifest=manifest) for p in (result or [])]

        validators.append(plugin_checks)
    try:
        manifest = load_manifest(args.path, validators=validators, schema=schema)
    except ManifestError as exc:
        for path, message in exc.problems:
            print(f"{args.path}: {path}: {message}")
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    if manifest.unclaimed:
        installed = _installed_settings()
        level = "error" if args.strict else "warning"
        for path in manifest.unclaimed:
            owner = installed.owner(path)
            hint = f"plugin {owner!r} reads it but is not loaded" if owner else "no installed plugin reads it"
            print(f"{args.path}: {path}: {level}: unclaimed key ({hint})")
        if args.strict:
            print(f"{len(manifest.unclaimed)} problem(s)", file=sys.stderr)
            return 1
    endpoints = len(manifest.endpoints())
    print(f"{args.path}: ok ({endpoints} endpoints, {len(manifest.types)} types)")
    return 0


def _installed_settings() -> SettingsSchema:
    """The declared settings of every installed plugin, loaded or not, for "which plugin would
    read this key" hints (when they do not load together, none)."""
    from pristine_core.manifest.claims import SettingsSchema

    try:
        pm, _records, _failures = build_plugin_manager(PluginSelection())
        return SettingsSchema.from_hooks(pm)
    except PluginLoadError:
        return SettingsSchema()


def _new_plugin(args: argparse.Namespace) -> int:
    from pristine_cli.scaffold import new_plugin

    try:
        root = new_plugin(args.name, args.priority, args.dir)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {root} (pip install {root}; then `pristine plugins` lists {args.name} at {args.priority})")
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
    validate.add_argument("--no-plugins", action="store_true", help="check the core's part only")
    validate.add_argument("--strict", action="store_true", help="keys no loaded plugin reads are errors")
    validate.set_defaults(func=_validate)
    scaffold = sub.add_parser("new-plugin", help="write a pip-installable plugin package to start from")
    scaffold.add_argument("name", help="the plugin's name (lowercase identifier)")
    scaffold.add_argument("--priority", type=int, required=True, help="its place in the order (see the bands)")
    scaffold.add_argument("--dir", default=".", help="where to write the package folder (default: here)")
    scaffold.set_defaults(func=_new_plugin)
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
    """The CLI is an application: log lines go to stderr so JSON output on stdout stays parseable.

    Library logs reach stdlib ``logging`` here (structlog is left unconfigured, and unimported).
    """
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


if __name__ == "__main__":
    raise SystemExit(main())
