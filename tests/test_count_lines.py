"""``scripts/count_lines.py``, the reproducible size figure of ``pristine_core``: blank lines and
comments never count; docstrings count in the first figure only; tests folders are skipped."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''"""Module docstring
on two lines."""

# a comment
import os


class Thing:
    """One line."""

    def run(self) -> str:  # trailing comments do not matter
        """Two
        lines."""
        text = """not a docstring"""
        return text + os.sep
'''


def test_counts_with_and_without_docstrings(tmp_path: Path) -> None:
    count = runpy.run_path(str(ROOT / "scripts" / "count_lines.py"))
    package = tmp_path / "pkg"
    (package / "tests").mkdir(parents=True)
    (package / "mod.py").write_text(SAMPLE)
    (package / "tests" / "test_mod.py").write_text("x = 1\n")
    assert count["count_file"](package / "mod.py") == (10, 5)
    assert count["count_tree"](package) == {package / "mod.py": (10, 5)}
    assert count["main"]([str(package)]) == 0
