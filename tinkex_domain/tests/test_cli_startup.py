"""``tinkex version`` and ``tinkex --help`` build only what they show: no numpy, types or emulator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "tinkex_domain._generated", "tinkex_domain.emulator", "tinkex_domain.types", "requests")

PROBE = """
import contextlib, io, json, sys
heavy = sys.argv.pop()
from tinkex_domain.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": [m for m in heavy.split(",") if m in sys.modules]}))
"""


@pytest.mark.parametrize("argv", [["version"], ["--help"], ["--version"]])
def test_light_commands_import_nothing_heavy(argv: list[str]) -> None:
    probe = [sys.executable, "-c", PROBE, *argv, ",".join(HEAVY)]
    out = subprocess.run(probe, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}


def test_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    from tinkex_domain.cli import main

    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for name in ("demo", "emulator", "checkpoint", "run", "sample", "version"):
        assert name in text


def test_a_named_command_gets_its_full_parser(capsys: pytest.CaptureFixture[str]) -> None:
    from tinkex_domain.cli import main

    assert main(["checkpoint", "download", "--help"]) == 0
    assert "--max-total-bytes" in capsys.readouterr().out
