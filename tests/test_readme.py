"""The README's code runs: its Tinkex example against the emulator, its manifest as written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pristine_core import load_manifest
from tinkex_domain.emulator import Emulator, EmulatorConfig

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_manifest_loads() -> None:
    """The example manifest is valid."""
    (manifest,) = _blocks("json")
    assert load_manifest(json.loads(manifest)).endpoint("pets.create").request == "NewPet"


def test_readme_tinkex_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """The Tinkex example trains (the printed loss falls) and samples, against the emulator."""
    example = next(block for block in _blocks("python") if "ServiceClient" in block)
    with Emulator(EmulatorConfig()) as emu:
        monkeypatch.setenv("TINKER_BASE_URL", emu.base_url)
        monkeypatch.setenv("TINKER_API_KEY", "tml-readme-example")
        exec(compile(example, "README.md", "exec"), {})
    lines = capsys.readouterr().out.strip().splitlines()
    losses = [float(line.split()[1]) for line in lines if re.fullmatch(r"\d+ [-\d.e]+", line)]
    assert len(losses) == 5 and losses[-1] < losses[0] * 0.7
    assert lines[-1].startswith("b'")
