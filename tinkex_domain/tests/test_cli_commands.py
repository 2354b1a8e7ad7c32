"""The ``tinkex`` CLI in-process against the emulator (conftest's session emulator)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tinkex_domain import ServiceClient, TrainingClient
from tinkex_domain.cli import main
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY, BASE_MODEL


class Run:
    """A CLI runner bound to the emulator; returns (exit code, stdout, stderr)."""

    def __init__(self, emulator: Emulator) -> None:
        self.base = ["--base-url", emulator.base_url, "--api-key", API_KEY]

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main([*self.base, *argv], stdout=out, stderr=err, stdin=io.StringIO(stdin))
        return code, out.getvalue(), err.getvalue()

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--format", "json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture(scope="module")
def cli(emulator: Emulator) -> Run:
    return Run(emulator)


@pytest.fixture(scope="module")
def trained(service: ServiceClient) -> TrainingClient:
    client = service.create_lora_training_client(BASE_MODEL, rank=4)
    client.save_state("cli-a").result()
    client.save_weights_for_sampler("cli-s").result()
    return client


def paths(client: TrainingClient) -> tuple[str, str]:
    run = client.model_id
    return f"tinker://{run}/weights/cli-a", f"tinker://{run}/sampler_weights/cli-s"


def test_run_list_and_info(cli: Run, trained: TrainingClient) -> None:
    code, out, _ = cli("run", "list", "--limit", "0")
    assert code == 0 and out.startswith("Training runs (")
    assert trained.model_id in out and "Yes (rank 4)" in out and "Active" in out
    data = cli.json("run", "list", "--limit", "0")
    assert trained.model_id in [r["training_run_id"] for r in data["runs"]]
    assert data["shown"] == len(data["runs"]) == data["total"]
    assert cli.json("run", "list", "--limit", "1")["shown"] == 1
    info = cli.json("run", "info", trained.model_id)
    assert info["training_run_id"] == trained.model_id and info["lora_rank"] == 4
    assert info["last_checkpoint"]["tinker_path"] == paths(trained)[0]
    code, out, _ = cli("run", "info", trained.model_id)
    assert out.startswith(f"{trained.model_id} ({BASE_MODEL})") and "Last sampler checkpoint" in out


def test_checkpoint_list_for_a_run_and_for_the_user(cli: Run, trained: TrainingClient) -> None:
    weights, sampler = paths(trained)
    data = cli.json("checkpoint", "list", "--run-id", trained.model_id)
    assert {c["tinker_path"] for c in data["checkpoints"]} == {weights, sampler}
    assert data["run_id"] == trained.model_id and data["total"] == data["shown"] == 2
    _code, out, _ = cli("checkpoint", "list", "--run-id", trained.model_id)
    assert out.startswith(f"Checkpoints for {trained.model_id} (2/2)")
    assert "Checkpoint ID" in out and "sampler_weights/cli-s" in out
    everything = cli.json("checkpoint", "list", "--limit", "0")
    assert {weights, sampler} <= {c["tinker_path"] for c in everything["checkpoints"]}


def test_user_checkpoints_are_paginated_with_progress(cli: Run, trained: TrainingClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tinkex_domain.cli import checkpoint as commands

    monkeypatch.setattr(commands, "USER_PAGE_SIZE", 1)
    code, out, err = cli("checkpoint", "list", "--limit", "2")
    assert code == 0 and "Fetching checkpoints: 1/2" in err and "Fetching checkpoints: 2/2" in err
    assert out.startswith("Checkpoints (2/")


def test_checkpoint_info_merges_weights_info(cli: Run, trained: TrainingClient) -> None:
    weights, _ = paths(trained)
    data = cli.json("checkpoint", "info", weights)
    assert data["checkpoint_id"] == "weights/cli-a" and data["base_model"] == BASE_MODEL and data["lora_rank"] == 4
    code, out, _ = cli("checkpoint", "info", weights)
    assert "LoRA:" in out and "Yes (rank 4)" in out and "Base model:" in out
    code, _, err = cli("checkpoint", "info", f"tinker://{trained.model_id}/weights/missing")
    assert code == 1 and "not found" in err


def test_publish_unpublish_and_ttl(cli: Run, trained: TrainingClient) -> None:
    weights, _ = paths(trained)

    def entry() -> dict[str, Any]:
        listing = cli.json("checkpoint", "list", "--run-id", trained.model_id)["checkpoints"]
        return next(c for c in listing if c["tinker_path"] == weights)

    code, out, _ = cli("checkpoint", "publish", weights)
    assert (code, out.strip()) == (0, f"Published {weights}") and entry()["public"] is True
    assert cli.json("checkpoint", "unpublish", weights) == {"action": "unpublish", "path": weights}
    assert entry()["public"] is False
    code, out, _ = cli("checkpoint", "set-ttl", weights, "--ttl", "3600")
    assert out.strip() == f"Updated TTL for {weights} to 3600 seconds" and entry()["expires_at"]
    data = cli.json("checkpoint", "set-ttl", weights, "--remove")
    assert data["action"] == "set_ttl" and data["ttl_seconds"] is None and entry()["expires_at"] is None
    code, _, err = cli("checkpoint", "set-ttl", weights, "--ttl", "0")
    assert code == 1 and "positive" in err


def test_download_with_exists_and_force(cli: Run, trained: TrainingClient, tmp_path: Path) -> None:
    weights, _ = paths(trained)
    code, out, _ = cli("checkpoint", "download", weights, "-o", str(tmp_path))
    target = tmp_path / f"{trained.model_id}_weights_cli-a"
    assert code == 0 and out.strip() == f"Downloaded to {target}"
    assert (target / "checkpoint_complete").exists() and not list(tmp_path.glob("tinkex_checkpoint_*"))
    code, _, err = cli("checkpoint", "download", weights, "-o", str(tmp_path))
    assert code == 1 and "already exists" in err
    (target / "stale.txt").write_text("old")
    data = cli.json("checkpoint", "download", weights, "-o", str(tmp_path), "--force")
    assert data["destination"] == str(target) and not (target / "stale.txt").exists()


def test_delete_asks_first(cli: Run, service: ServiceClient) -> None:
    client = service.create_lora_training_client(BASE_MODEL, rank=2)
    first = client.save_state("del-1").result().path
    second = client.save_state("del-2").result().path
    code, out, _ = cli("checkpoint", "delete", first, second, stdin="n\n")
    assert code == 0 and "Proceed? [y/N]" in out and "Aborted delete of 2 checkpoint(s)." in out
    code, out, _ = cli("checkpoint", "delete", first, stdin="")  # EOF means no
    assert "Aborted" in out
    code, out, _ = cli("checkpoint", "delete", first, second, stdin="yes\n")
    assert code == 0 and f"Deleting 2/2: {second}" in out and f"Deleted {first}" in out
    listing = cli.json("checkpoint", "list", "--run-id", client.model_id)["checkpoints"]
    assert listing == []


def test_delete_validates_all_paths_and_reports_failures(cli: Run, service: ServiceClient) -> None:
    client = service.create_lora_training_client(BASE_MODEL, rank=2)
    keep = client.save_state("keep").result().path
    code, _, err = cli("checkpoint", "delete", keep, "not-a-path", "--yes")
    assert code == 1 and "tinker://" in err
    assert len(cli.json("checkpoint", "list", "--run-id", client.model_id)["checkpoints"]) == 1
    missing = f"tinker://{client.model_id}/weights/never-saved"
    code, out, _ = cli("checkpoint", "delete", missing, keep, "--yes", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["deleted"] == [keep] and data["failed"] == 1
    assert data["failures"][0]["path"] == missing


def test_sample_text_and_json(cli: Run, trained: TrainingClient) -> None:
    code, out, err = cli("sample", "--base-model", BASE_MODEL, "--prompt", "hello", "--max-tokens", "5",
                         "--seed", "3", "--num-samples", "2")
    assert code == 0, err
    assert "Sample 1:" in out and "Sample 2:" in out and "stop_reason=" in out and "avg_logprob=" in out
    _, sampler = paths(trained)
    data = cli.json("sample", "--model-path", sampler, "--prompt", "hi", "--max-tokens", "4", "--seed", "1")
    assert len(data["sequences"]) == 1 and len(data["sequences"][0]["tokens"]) == 4


def test_sample_prompt_file_with_token_ids(cli: Run, tmp_path: Path) -> None:
    prompt = tmp_path / "prompt.json"
    prompt.write_text(json.dumps({"tokens": [104, 105]}))
    data = cli.json("sample", "--base-model", BASE_MODEL, "--prompt-file", str(prompt), "--max-tokens", "3")
    assert len(data["sequences"][0]["tokens"]) == 3
    code, _, _ = cli("sample", "--base-model", BASE_MODEL, "--prompt", "a", "--prompt-file", str(prompt))
    assert code == 2  # the two prompt flags exclude each other
