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


def test_checkpoint_save_writes_metadata(emulator: Emulator, tmp_path: Path) -> None:
    target = tmp_path / "out" / "ckpt.json"
    done = run(emulator, "checkpoint", "save", "--base-model", BASE_MODEL, "--rank", "2", "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Checkpoint saved to {target}")
    data = json.loads(target.read_text())
    assert data["base_model"] == BASE_MODEL
    assert data["weights_path"] == f"tinker://{data['model_id']}/sampler_weights/checkpoint-tinkex-tiny-byte-lm"
    assert data["saved_at"].endswith("+00:00")
    info = run(emulator, "checkpoint", "info", data["weights_path"], "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["checkpoint_id"].endswith("checkpoint-tinkex-tiny-byte-lm")


def test_checkpoint_push_hf(emulator: Emulator, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    from .hub_standin import HubStandIn

    saved = tmp_path / "ckpt.json"
    assert run(emulator, "checkpoint", "save", "--base-model", BASE_MODEL, "--rank", "2", "--name", "to-hub",
               "--output", str(saved)).returncode == 0
    path = json.loads(saved.read_text())["weights_path"]
    with HubStandIn(token="hf_cli_token") as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        missing = run_env(emulator, env, "checkpoint", "push-hf", path, "--repo", "cli-adapter")
        assert missing.returncode == 1 and "no Hugging Face token found" in missing.stderr
        assert hub.requests == []
        done = run_env(emulator, {**env, "HF_TOKEN": "hf_cli_token"}, "checkpoint", "push-hf", path,
                       "--repo", "cli-adapter", "--public", "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert (data["action"], data["repo_id"], data["revision"], data["public"]) == (
            "push_hf", "tester/cli-adapter", "main", True)
        assert {"adapter_config.json", "README.md"} <= set(hub.repos["tester/cli-adapter"]["main"])


def run_env(emulator: Emulator, extra: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TINKER_", "TINKEX_", "HF_", "HUGGING"))}
    env.update({"TINKER_TELEMETRY": "0", **extra})
    return subprocess.run(
        [*_tinkex(), "--base-url", emulator.base_url, "--api-key", API_KEY, *argv],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )


def test_http_pool_routes_the_service_client(emulator: Emulator) -> None:
    import io

    from tinkex_domain.cli import main
    from tinkex_domain.cli.context import default_service_factory

    made: list[object] = []

    def factory(*args: object, **kwargs: object) -> object:
        service = default_service_factory(*args, **kwargs)  # type: ignore[arg-type]
        made.append(service)
        return service

    out, err = io.StringIO(), io.StringIO()
    code = main(["--base-url", emulator.base_url, "--api-key", API_KEY, "sample", "--base-model", BASE_MODEL,
                 "--prompt", "hi", "--max-tokens", "2", "--http-pool", "train", "--json"],
                stdout=out, stderr=err, service_factory=factory)
    assert code == 0, err.getvalue()
    client = made[0].holder.client  # type: ignore[attr-defined]
    assert client.meta.manifest.pool_for(client.meta.manifest.endpoint("service.get_server_capabilities")) == "train"
    bad = run(emulator, "sample", "--base-model", BASE_MODEL, "--prompt", "hi", "--http-pool", "nope")
    assert bad.returncode == 2 and "--http-pool" in bad.stderr
