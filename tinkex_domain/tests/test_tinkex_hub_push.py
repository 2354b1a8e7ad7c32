"""Push a checkpoint from the emulator to the Hub stand-in through ``huggingface_hub``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub")

from tinkex_domain import ServiceClient, TrainingClient
from tinkex_domain.hf_token import MissingHubTokenError, find_hf_token, hf_token_path
from tinkex_domain.hub import HubPushError, push_checkpoint_to_hub, sanitize

from .conftest import BASE_MODEL
from .hub_standin import HubStandIn

TOKEN = "hf_standin_token"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubStandIn]:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    with HubStandIn(token=TOKEN) as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.url)
        yield standin


@pytest.fixture(scope="module")
def trained(service: ServiceClient) -> TrainingClient:
    client = service.create_lora_training_client(BASE_MODEL, rank=4)
    client.save_weights_for_sampler("hub-s").result()
    client.save_state("hub-a").result()
    return client


def test_push_sends_adapter_files_and_a_model_card(
    hub: HubStandIn, service: ServiceClient, trained: TrainingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    path = f"tinker://{trained.model_id}/sampler_weights/hub-s"
    result = push_checkpoint_to_hub(service.create_rest_client(), path)
    assert result.repo_id == f"tester/{sanitize(f'tinker-tiny-byte-lm-{trained.model_id}')}"
    assert result.revision == "sampler_weights-hub-s" and result.public is False  # the checkpoint id, sanitized
    files = hub.repos[result.repo_id][result.revision]
    assert {"adapter_config.json", "weights.npz", "README.md"} <= set(files)
    assert "checkpoint_complete" not in files
    config = json.loads(files["adapter_config.json"])
    assert config["base_model_name_or_path"] == BASE_MODEL
    card = files["README.md"].decode()
    assert f"tinker_path: {path}" in card and "library_name: peft" in card and "LoRA rank: 4" in card
    assert hub.private[result.repo_id] is True
    assert hub.commits[-1]["summary"] == f"Upload adapter from {path}"
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in hub.requests if "/api/" in r.path)


def test_explicit_repo_defaults_to_main_and_refuses_another_checkpoint(
    hub: HubStandIn, service: ServiceClient, trained: TrainingClient
) -> None:
    rest = service.create_rest_client()
    first = f"tinker://{trained.model_id}/sampler_weights/hub-s"
    result = push_checkpoint_to_hub(rest, first, repo_id="my-adapter", token=TOKEN, public=True)
    assert (result.repo_id, result.revision, result.public) == ("tester/my-adapter", "main", True)
    assert "README.md" in hub.repos["tester/my-adapter"]["main"]
    again = push_checkpoint_to_hub(rest, first, repo_id="tester/my-adapter", token=TOKEN)  # same checkpoint: fine
    assert again.repo_id == "tester/my-adapter"
    other = f"tinker://{trained.model_id}/weights/hub-a"
    with pytest.raises(HubPushError, match="different Tinker checkpoint"):
        push_checkpoint_to_hub(rest, other, repo_id="tester/my-adapter", token=TOKEN)


def test_missing_token_fails_before_any_request(
    hub: HubStandIn, service: ServiceClient, trained: TrainingClient
) -> None:
    with pytest.raises(MissingHubTokenError) as info:
        push_checkpoint_to_hub(service.create_rest_client(), f"tinker://{trained.model_id}/sampler_weights/hub-s")
    assert "HF_TOKEN" in str(info.value) and "HUGGING_FACE_HUB_TOKEN" in str(info.value)
    assert hub.requests == []


def test_a_wrong_token_is_reported_as_such(hub: HubStandIn, service: ServiceClient, trained: TrainingClient) -> None:
    with pytest.raises(HubPushError, match="invalid Hugging Face token"):
        push_checkpoint_to_hub(service.create_rest_client(), f"tinker://{trained.model_id}/sampler_weights/hub-s",
                               token="hf_wrong")
    assert not any("/api/repos/create" in r.path for r in hub.requests)


def test_token_precedence(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("hf_from_file\n")
    env = {"HF_TOKEN_PATH": str(token_file)}
    assert find_hf_token(None, env) == "hf_from_file"
    assert find_hf_token(None, {**env, "HUGGING_FACE_HUB_TOKEN": "hf_b"}) == "hf_b"
    assert find_hf_token(None, {**env, "HUGGING_FACE_HUB_TOKEN": "hf_b", "HF_TOKEN": "hf_a"}) == "hf_a"
    assert find_hf_token("hf_arg", {"HF_TOKEN": "hf_a"}) == "hf_arg"
    assert find_hf_token(None, {"HF_HOME": str(tmp_path / "none")}) is None
    assert hf_token_path({"HF_HOME": "/x/hf"}) == Path("/x/hf/token")
    assert hf_token_path({"XDG_CACHE_HOME": "/c"}) == Path("/c/huggingface/token")
