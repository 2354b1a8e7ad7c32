"""``pristine codegen``: registered into the ``pristine`` command through ``pristine.commands``.

This module is imported whenever ``pristine`` builds its parser, so it imports nothing heavy;
the generator loads when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``codegen`` subcommand to the ``pristine`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "codegen", help="generate a typed Python package from a manifest"
    )
    parser.add_argument("manifest", help="path of the manifest JSON file")
    parser.add_argument("--package", required=True, help="dotted name of the package to write (e.g. myapi_sdk)")
    parser.add_argument("--out", required=True, help="directory the package path starts in")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the files are stale")
    parser.add_argument("--no-plugins", action="store_true", help="ignore installed plugins (checks, domain classes)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or check) the package; 0 on success, 1 when stale or the manifest is bad."""
    from pristine_codegen.generator import generate
    from pristine_codegen.output import check, write
    from pristine_codegen.text import CodegenError
    from pristine_core.errors import ManifestError

    root = Path(args.out).joinpath(*args.package.split("."))
    try:
        files = generate(args.manifest, args.package, args.out, use_plugins=not args.no_plugins)
        if args.check:
            staleness = check(files, root)
            if staleness.fresh:
                print(f"{root}: up to date ({len(files)} files)")
                return 0
            print(f"{root}: stale; run `pristine codegen {args.manifest} --package {args.package} --out {args.out}`")
            print(staleness.summary())
            return 1
        written = write(files, root)
    except ManifestError as exc:
        for path, message in exc.problems:
            print(f"{args.manifest}: {path}: {message}", file=sys.stderr)
        return 1
    except CodegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{root}: {len(files)} files, {len(written)} written")
    return 0
