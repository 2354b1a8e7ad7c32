"""Count the source lines of a package: non-blank, non-comment lines, with and without docstrings.

    python scripts/count_lines.py pristine_core            # totals
    python scripts/count_lines.py pristine_core --files    # and one line per module, largest first

"With docstrings" counts every line that is neither blank nor a ``#`` comment; "without
docstrings" also leaves out the docstrings of modules, classes and functions. Tests are counted
only when the folder given is a tests folder (``tests`` directories are skipped otherwise).
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def count_file(path: Path) -> tuple[int, int]:
    """``(with_docstrings, without_docstrings)`` for one Python file."""
    source = path.read_text(encoding="utf-8")
    docs = _docstring_lines(ast.parse(source))
    with_docs = without_docs = 0
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        with_docs += 1
        if number not in docs:
            without_docs += 1
    return with_docs, without_docs


def count_tree(root: Path) -> dict[Path, tuple[int, int]]:
    """Per-file counts of every ``.py`` file under ``root`` (``tests`` folders below it skipped)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).parts
        if "tests" in relative[:-1] or any(part.startswith(".") or part == "build" for part in relative):
            continue
        found[path] = count_file(path)
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the totals (and with ``--files`` each module) for every folder given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--files", action="store_true", help="also print each module, largest first")
    args = parser.parse_args(argv)
    for folder in args.folders:
        counts = count_tree(folder)
        if args.files:
            for path, (with_docs, without_docs) in sorted(counts.items(), key=lambda item: -item[1][0]):
                print(f"{with_docs:6d} {without_docs:6d}  {path}")
        total_with = sum(c[0] for c in counts.values())
        total_without = sum(c[1] for c in counts.values())
        print(f"{folder}: {total_with} lines with docstrings, {total_without} without ({len(counts)} modules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
