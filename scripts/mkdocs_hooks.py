"""MkDocs hooks: pages generated from the repository at build time, so they cannot go stale.

- ``plugins/<name>.md``: each ``pristine_plugins/<name>/README.md`` (every plugin folder, found
  generically), listed under "Plugins" in the navigation;
- ``changelog.md``: ``CHANGELOG.md``;
- ``cli.md``: the ``--help`` of every ``pristine`` and ``tinkex`` (sub)command, from the parsers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent


def _plugin_readmes() -> dict[str, Path]:
    return {p.parent.name: p for p in sorted((ROOT / "pristine_plugins").glob("*/README.md"))}


def on_config(config: Any) -> Any:
    """Fill the "Plugins" navigation section with one page per plugin."""
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Plugins" in entry:
            entry["Plugins"] = [{name: f"plugins/{name}.md"} for name in _plugin_readmes()]
    return config


def _help_sections(parser: argparse.ArgumentParser, title: str) -> list[str]:
    out = [f"## `{title}`\n", "```text", parser.format_help().rstrip(), "```\n"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _help_sections(sub, f"{title} {name}")
    return out


def _cli_page() -> str:
    from pristine_cli.cli import build_parser as pristine_parser
    from tinkex_domain.cli import build_parser as tinkex_parser

    intro = (
        "# Command line\n\n"
        "Two commands are installed: `pristine` (with `pristine-cli`) and `tinkex` (with `tinkex`). "
        "This page is generated from their argument parsers when the site is built.\n"
    )
    lines = [intro, *_help_sections(pristine_parser(), "pristine"), *_help_sections(tinkex_parser(), "tinkex")]
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages."""
    for name, readme in _plugin_readmes().items():
        files.append(File.generated(config, f"plugins/{name}.md", content=readme.read_text(encoding="utf-8")))
    files.append(File.generated(config, "changelog.md", content=(ROOT / "CHANGELOG.md").read_text(encoding="utf-8")))
    files.append(File.generated(config, "cli.md", content=_cli_page()))
    return files
