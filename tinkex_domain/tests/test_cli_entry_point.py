"""The installed ``tinkex`` console script, run as a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinkex_domain.cli.options import duration
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY, BASE_MODEL


def _tinkex() -> list[str]:
    script = Path(sys.executable).with_name("tinkex")
    if script.exists():
        return [str(script)]
    found = shutil.which("tinkex")
    if found is None:
        pytest.skip("the tinkex console script is not installed")
    return [found]


def run(emulator: Emulator, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TINKER_", "TINKEX_"))}
    env["TINKER_TELEMETRY"] = "0"
    return subprocess.run(
        [*_tinkex(), "--base-url", emulator.base_url, "--api-key", API_KEY, *argv],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )


def test_sample_output_file_and_json(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "samples.json"
    done = run(emulator, "sample", "--base-model", BASE_MODEL, "--prompt", "hello", "--max-tokens", "4",
               "--seed", "2", "--output", str(target), "--json", "--timeout", "30000ms")
    assert done.returncode == 0, done.stderr
    written = json.loads(target.read_text())
    assert written == json.loads(done.stdout)
    (seq,) = written["sequences"]
    assert len(seq["tokens"]) == 4 and isinstance(seq["text"], str) and len(seq["logprobs"]) == 4


def test_version_deps(emulator: Emulator) -> None:
    done = run(emulator, "version", "--deps", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    deps = info["dependencies"]
    assert deps["pristine-core"] and deps["requests"] and "pristine-retry" in deps
    text = run(emulator, "version", "--deps")
    assert text.stdout.startswith("tinkex ") and "dependencies:" in text.stdout and "pristine-core" in text.stdout


def test_verbose_logs_on_stderr_and_keeps_stdout_json(emulator: Emulator) -> None:
    done = run(emulator, "run", "list", "--json", "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # stdout stays machine-readable
    assert done.stderr.strip()  # debug records went to stderr
    quiet = run(emulator, "run", "list", "--json")
    assert quiet.returncode == 0 and quiet.stderr.strip() == ""


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("30000ms", 30.0), ("1.5m", 90.0), ("45", 45.0)])
def test_timeout_units(text: str, seconds: float) -> None:
    assert duration(text) == seconds


def test_bad_timeout_is_a_usage_error(emulator: Emulator) -> None:
    done = run(emulator, "run", "list", "--timeout", "soon")
    assert done.returncode == 2 and "invalid duration 'soon'" in done.stderr
    assert run(emulator, "run", "list", "--timeout", "0ms").returncode == 2
