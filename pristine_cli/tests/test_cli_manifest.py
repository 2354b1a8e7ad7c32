"""The ``pristine`` command: clean help text; ``manifest validate`` lists every problem in one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pristine_cli.cli import main


@pytest.mark.parametrize("argv", [["--help"], ["manifest", "validate", "--help"]])
def test_help_is_plain_text(argv: list[str], capsys: Any) -> None:
    """No reStructuredText markup (double backticks, roles) leaks into --help."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: pristine" in out
    assert "``" not in out and ":class:" not in out


def test_validate_reports_every_problem_in_one_run(tmp_path: Path, capsys: Any) -> None:
    """An unknown top-level key, a bad endpoint field and a dangling type reference, all at once."""
    doc = {
        "name": "broken",
        "resorces": {},
        "resources": {
            "pets": {
                "get": {"method": "GET", "path": "/pets/{pet_id}", "timeout_s": "soon"},
                "create": {"method": "POST", "path": "/pets", "request": "Nope"},
            }
        },
    }
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    assert main(["manifest", "validate", "--no-plugins", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: resorces: unknown key (did you mean 'resources'?)" in out
    assert f"{path}: resources.pets.get.timeout_s:" in out
