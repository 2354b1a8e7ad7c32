"""tinker 0.38's new parameters and helpers on the clients, against the emulator on 127.0.0.1.

Optimizer selection and ``optim_params``, ``user_metadata`` on saves, sampler kinds, sampler
handles, per-client queue-state callbacks, ``prompt_logprobs_last_n``, the extra logprob
options, custom-loss handles, console URLs, ``Timeout`` and the client-future compatibility.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from pristine_core.errors import BadRequestError, PristineError, ValidationError
from tinkex_domain import (
    AdamOptimizerConfig,
    DimuonOptimizerConfig,
    DimuonParams,
    RequestErrorCategory,
    RequestFailedResponse,
    SamplingClient,
    ServiceClient,
    Timeout,
    types,
)
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY, BASE_MODEL, text_datum

PROMPT = types.ModelInput.from_ints(list(b"hello tinker"))


def test_optim_params_and_the_legacy_adam_keyword(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2, optimizer=AdamOptimizerConfig())
    tc.forward_backward([text_datum("optim")], "cross_entropy")
    first = tc.optim_step(types.AdamParams(learning_rate=1e-3)).result(timeout=60)
    tc.forward_backward([text_datum("optim")], "cross_entropy")
    second = tc.optim_step(adam_params=types.AdamParams(learning_rate=1e-3)).result(timeout=60)
    assert first.metrics["step:max"] == 1 and second.metrics["step:max"] == 2
    with pytest.raises(ValidationError, match="not both"):
        tc.optim_step(types.AdamParams(), adam_params=types.AdamParams())
    with pytest.raises(ValidationError, match="optim_params"):
        tc.optim_step()
    # Dimuon steps go out as optimizer_params; the emulator implements AdamW only and says so,
    # and the refused step still takes its seq_id (the next request is not held up).
    with pytest.raises(BadRequestError, match="optimizer_params"):
        tc.optim_step(DimuonParams(learning_rate=0.02)).result(timeout=60)
    assert tc.forward([text_datum("after")], "cross_entropy").result(timeout=60).loss_fn_outputs
    with pytest.raises(ValidationError, match="beta1"):
        DimuonParams(learning_rate=0.1, beta1=1.5)


def test_a_dimuon_model_is_refused_by_the_emulator(service: ServiceClient) -> None:
    with pytest.raises(PristineError, match=r"optimizer_config\.type"):
        service.create_lora_training_client(BASE_MODEL, rank=2, optimizer=DimuonOptimizerConfig())


def test_user_metadata_on_saves_and_sampler_kinds(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    assert tc.save_state("meta", user_metadata={"stage": "warmup"}).result(timeout=60).path
    assert tc.save_weights_for_sampler("meta-s", user_metadata={"stage": "warmup"}).result(timeout=60).path
    with pytest.raises(ValidationError, match=r"user_metadata\.stage"):
        tc.save_state("bad", user_metadata={"stage": 1})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="kind"):
        tc.save_weights_and_get_sampling_client(kind="live")
    sampler = tc.save_weights_and_get_sampling_client(record_stability_info=True)
    assert sampler.record_stability_info and sampler.result() is sampler


def test_inflight_samplers_share_the_latest_weights(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    first = tc.save_weights_and_get_sampling_client(kind="inflight")
    snapshot = tc.save_weights_and_get_sampling_client()
    before = first.compute_logprobs(PROMPT).result(timeout=60)
    assert snapshot.compute_logprobs(PROMPT).result(timeout=60) == before
    for _ in range(3):
        tc.forward_backward([text_datum("hello tinker, hello")], "cross_entropy")
        tc.optim_step(types.AdamParams(learning_rate=5e-2))
    second = tc.save_weights_and_get_sampling_client(kind="inflight")
    assert second.sampling_session_id != first.sampling_session_id
    after = second.compute_logprobs(PROMPT).result(timeout=60)
    assert after != before
    assert first.compute_logprobs(PROMPT).result(timeout=60) == after  # republished to every inflight client
    assert snapshot.compute_logprobs(PROMPT).result(timeout=60) == before  # a snapshot keeps its weights


def test_sampler_handles_round_trip(service: ServiceClient) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    handle = sampler.get_sampler_handle()
    assert API_KEY not in handle and "tml-" not in handle  # credential-free
    copy = SamplingClient.from_sampler_handle(handle, api_key=API_KEY)
    assert copy.sampling_session_id == sampler.sampling_session_id
    params = types.SamplingParams(max_tokens=6, seed=7)
    assert (copy.sample(PROMPT, 1, params).result(timeout=60).sequences[0].tokens
            == sampler.sample(PROMPT, 1, params).result(timeout=60).sequences[0].tokens)
    with pytest.raises(ValidationError, match="handle"):
        SamplingClient.from_sampler_handle("not-a-handle", api_key=API_KEY)


def test_prompt_logprobs_last_n_and_unsupported_options(service: ServiceClient) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    full = sampler.compute_logprobs(PROMPT).result(timeout=60)
    last = sampler.compute_logprobs(PROMPT, prompt_logprobs_last_n=3).result(timeout=60)
    assert len(last) == len(full) and last[-3:] == full[-3:] and all(x is None for x in last[:-3])
    with pytest.raises(ValidationError, match="prompt_logprobs_last_n"):
        sampler.compute_logprobs(PROMPT, prompt_logprobs_last_n=0)


def test_extra_logprob_options(service: ServiceClient) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    n = PROMPT.length
    top = sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=1), include_prompt_logprobs=True,
                         topk_prompt_logprobs=3).result(timeout=60)
    assert top.prompt_logprobs is not None and top.topk_prompt_logprobs is not None
    # Sampled-token top-k: one row per generated token; the token's own logprob is in its row
    # unless it fell outside the top k.
    out = sampler.sample(PROMPT, 2, types.SamplingParams(max_tokens=4, seed=3), topk_sample_logprobs=256)
    for seq in out.result(timeout=60).sequences:
        assert seq.topk_logprobs is not None and len(seq.topk_logprobs) == len(seq.tokens)
        for token, logprob, row in zip(seq.tokens, seq.logprobs or [], seq.topk_logprobs, strict=True):
            assert row is not None and len(row) == 256
            assert dict(row)[token] == pytest.approx(logprob, abs=1e-5)
    # Alternative prompt tokens: the same rows as topk_prompt_logprobs, as [n-1, k] tensors.
    alt = sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=1), prompt_alt_tokens_k=3).result(timeout=60)
    tokens, logprobs = alt.prompt_alt_tokens.tokens.to_numpy(), alt.prompt_alt_tokens.logprobs.to_numpy()
    assert tokens.shape == logprobs.shape == (n - 1, 3)
    expected = top.topk_prompt_logprobs[1:]
    assert tokens.tolist() == [[t for t, _ in row] for row in expected]
    assert logprobs.ravel() == pytest.approx([lp for row in expected for _, lp in row], abs=1e-5)
    # Target prompt logprobs: the logprob of each listed token, 0.0 where -1.
    ids = PROMPT.to_ints()
    targets = np.full((n, 2), -1, dtype=np.int64)
    targets[1:, 0] = ids[1:]
    targets[1:, 1] = [row[1][0] for row in top.topk_prompt_logprobs[1:]]
    reply = sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=1),
                           target_prompt_logprobs=types.TensorData.from_numpy(targets)).result(timeout=60)
    values = reply.target_prompt_logprobs.to_numpy()
    assert values.shape == (n, 2) and (values[0] == 0).all()
    assert values[1:, 0] == pytest.approx(top.prompt_logprobs[1:], abs=1e-5)
    assert values[1:, 1] == pytest.approx([row[1][1] for row in top.topk_prompt_logprobs[1:]], abs=1e-5)
    with pytest.raises(BadRequestError, match="row 0"):
        bad = np.zeros((n, 1), dtype=np.int64)
        sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=1),
                       target_prompt_logprobs=types.TensorData.from_numpy(bad)).result(timeout=60)


def test_queue_state_changes_reach_their_sampling_client(service: ServiceClient, emulator: Emulator) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    other = service.create_sampling_client(base_model=BASE_MODEL)
    seen: list[tuple[Any, Any]] = []
    others: list[Any] = []
    changed = threading.Event()

    def record(state: Any, reason: Any) -> None:
        seen.append((state, reason))
        changed.set()

    sampler.on_queue_state_change = record  # type: ignore[method-assign]
    other.on_queue_state_change = lambda state, reason: others.append(state)  # type: ignore[method-assign]
    emulator.set_queue_state("paused_rate_limit", "too many samplers")
    try:
        future = sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=2))
        assert changed.wait(30)
    finally:
        emulator.set_queue_state("active")
    assert future.result(timeout=60).sequences
    assert seen[0] == ("paused_rate_limit", "too many samplers") and others == []


def test_custom_loss_handles_are_checked_when_created(service: ServiceClient) -> None:
    def weighted(logprobs: Any, advantages: Any) -> tuple[Any, dict[str, Any]]:
        loss = -(logprobs * advantages).sum()
        return loss, {"custom/adv:mean": advantages.mean()}

    handle = service.create_custom_loss(weighted, {"logprobs": 1, "advantages": 1}).result()
    assert (handle.name, handle.inputs, handle.session_id) == (
        "weighted", (("logprobs", 1), ("advantages", 1)), service.session_id)
    again = service.create_custom_loss(weighted, {"logprobs": 1, "advantages": 1}).result()
    assert again is handle  # once per session
    with pytest.raises(ValidationError, match="no rank"):
        service.create_custom_loss(weighted, {"logprobs": 1})
    with pytest.raises(ValidationError, match="0, 1 or 2"):
        service.create_custom_loss(weighted, {"logprobs": 1, "advantages": 3})
    with pytest.raises(ValidationError, match="logprobs"):
        service.create_custom_loss(lambda x: (x, {}), {"x": 1})


def test_a_custom_loss_handle_trains(service: ServiceClient) -> None:
    torch = pytest.importorskip("torch", reason="LossHandle losses run with torch autograd")

    def weighted(logprobs: Any, weights: Any) -> tuple[Any, dict[str, Any]]:
        return -(logprobs * weights).sum(), {"custom/tokens:sum": torch.tensor(float(len(weights)))}

    handle = service.create_custom_loss(weighted, {"logprobs": 1, "weights": 1}).result()
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    out = tc.forward_backward_custom([text_datum("handle")], handle).result(timeout=60)
    assert out.metrics["custom/tokens:sum"] == len("handle") - 1


def test_console_urls_telemetry_timeout_and_errors(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKER_CONSOLE_URL", "https://console.test/")
    with ServiceClient(api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False},
                       timeout=Timeout(30.0, read=12.5)) as service:
        assert service.holder.client.meta.timeout_s == 12.5
        assert service.get_console_url() == f"https://console.test/sessions/{service.session_id}"
        tc = service.create_lora_training_client(BASE_MODEL, rank=2)
        assert tc.get_console_url() == f"https://console.test/training_runs/{tc.model_id}"
        assert tc.result() is tc
        assert service.get_telemetry() is None  # disabled in config
    with ServiceClient(api_key=API_KEY, base_url=emulator.base_url) as service:
        assert service.get_telemetry() is not None
    with pytest.raises(ValidationError, match="connect"):
        Timeout(connect=-1)
    failed = RequestFailedResponse.from_json({"error": "bad datum", "category": "user"})
    assert failed.category is RequestErrorCategory.User and failed.category == "user"
    assert RequestFailedResponse.from_json({"error": "x", "category": "weird"}).category == "unknown"


def test_sampled_sequences_carry_the_submit_replys_sequence_ids(service: ServiceClient, emulator: Emulator) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    future = sampler.sample(PROMPT, 3, types.SamplingParams(max_tokens=2, seed=3))
    out = future.result(timeout=60)
    assert future.request_id  # still the submit's request id
    ids = [s.sequence_id for s in out.sequences]
    assert ids == [f"{future.request_id}:seq:{i}" for i in range(3)]  # the emulator's ids, in order
    assert len(set(ids)) == 3


def test_from_state_is_one_load_that_creates_the_model_with_its_optimizer(
    service: ServiceClient, emulator: Emulator
) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=3)
    tc.forward_backward([text_datum("state")], "cross_entropy")
    tc.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=60)
    path = tc.save_state("s038").result(timeout=60).path
    def count(endpoint: str) -> int:
        found = emulator.stats().get(endpoint)
        return found.count if found is not None else 0

    creates, loads = count("create_model"), count("load_weights")
    fresh = service.create_training_client_from_state(path, optimizer=AdamOptimizerConfig())
    resumed = service.create_training_client_from_state_with_optimizer(path)
    assert count("create_model") == creates and count("load_weights") == loads + 2
    assert fresh.base_model == BASE_MODEL and fresh.get_info().lora_rank == 3
    assert int(emulator.model_state(fresh.model_id)["adam.step"]) == 0  # a new optimizer
    assert int(emulator.model_state(resumed.model_id)["adam.step"]) == 1  # the checkpoint's
    fresh.forward_backward([text_datum("state")], "cross_entropy")
    assert "grad_norm:mean" in fresh.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=60).metrics
    with pytest.raises(BadRequestError, match="AdamW only"):
        service.create_training_client_from_state(path, optimizer=DimuonOptimizerConfig())
