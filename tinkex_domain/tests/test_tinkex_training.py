"""Integration tests of ServiceClient and TrainingClient against the emulator (no mocks)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pristine_core import ValidationError
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator
from tinkex_domain.tokenizer import ByteTokenizer

from .conftest import BASE_MODEL, text_datum

LR = types.AdamParams(learning_rate=0.01)
TEXT = ["the cat sat on the mat", "a dog ran in the park", "tinkex trains tiny models"]


def _logprobs(out: types.ForwardBackwardOutput) -> list[np.ndarray]:
    return [o["logprobs"].to_numpy() for o in out.loss_fn_outputs]


def test_pipelined_forward_backward_and_optim_step_lower_the_loss(service: ServiceClient, emulator: Emulator) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=8, seed=1)
    data = [text_datum(t) for t in TEXT]
    futures = []
    for _ in range(20):  # submit everything first: nothing waits for a result
        futures.append((tc.forward_backward(data, "cross_entropy"), tc.optim_step(LR)))
    losses = [fb.result(timeout=60).metrics["loss:sum"] for fb, _ in futures]
    assert all(isinstance(opt.result(timeout=60), types.OptimStepResponse) for _, opt in futures)
    assert losses[-1] < 0.8 * losses[0]
    assert emulator.received_seq_ids(tc.model_id) == list(range(1, 41))


def test_chunked_forward_backward_combines_to_the_unchunked_result(service: ServiceClient, emulator: Emulator) -> None:
    data = [text_datum(f"{i % 97}:x") for i in range(3000)]
    tc = service.create_lora_training_client(BASE_MODEL, rank=4, seed=7)
    before = emulator.stats().get("forward")
    count_before = before.count if before is not None else 0
    out_chunked = tc.forward(data, "cross_entropy").result(timeout=120)
    count_mid = emulator.stats()["forward"].count
    assert count_mid - count_before == 3  # 1024 + 1024 + 952 datums
    # The same model (forward leaves weights alone) in one request must agree.
    tc.max_chunk_len, tc.max_chunk_bytes = 10_000, 10**9
    out_whole = tc.forward(data, "cross_entropy").result(timeout=120)
    assert emulator.stats()["forward"].count - count_mid == 1
    assert len(out_chunked.loss_fn_outputs) == 3000
    assert out_chunked.metrics.keys() == out_whole.metrics.keys()
    for key, value in out_whole.metrics.items():
        assert out_chunked.metrics[key] == pytest.approx(value, rel=1e-4)
    for a, b in zip(_logprobs(out_chunked)[::250], _logprobs(out_whole)[::250], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_save_then_load_gives_identical_results(service: ServiceClient) -> None:
    data = [text_datum(t) for t in TEXT]
    tc = service.create_lora_training_client(BASE_MODEL, rank=4, seed=3)
    for _ in range(3):
        tc.forward_backward(data, "cross_entropy")
        tc.optim_step(LR)
    saved = tc.save_state("after-three", ttl_seconds=3600).result(timeout=60)
    assert saved.path == f"tinker://{tc.model_id}/weights/after-three"
    reference = _logprobs(tc.forward(data, "cross_entropy").result(timeout=60))

    restored = service.create_training_client_from_state(saved.path)
    assert restored.model_id != tc.model_id
    for a, b in zip(reference, _logprobs(restored.forward(data, "cross_entropy").result(timeout=60)), strict=True):
        np.testing.assert_array_equal(a, b)

    # With the optimizer state restored, one more step lands on identical weights.
    with_opt = service.create_training_client_from_state_with_optimizer(saved.path)
    for client in (tc, with_opt):
        client.forward_backward(data, "cross_entropy")
        client.optim_step(LR)
    after_a = _logprobs(tc.forward(data, "cross_entropy").result(timeout=60))
    after_b = _logprobs(with_opt.forward(data, "cross_entropy").result(timeout=60))
    for a, b in zip(after_a, after_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)

    # load_state into an existing client replaces its weights.
    other = service.create_lora_training_client(BASE_MODEL, rank=4, seed=99)
    assert isinstance(other.load_state(saved.path).result(timeout=60), types.LoadWeightsResponse)
    for a, b in zip(reference, _logprobs(other.forward(data, "cross_entropy").result(timeout=60)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sampling_client_from_saved_weights_samples_what_was_trained(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=8, seed=5)
    data = [text_datum("ab" * 12)]
    for _ in range(25):
        tc.forward_backward(data, "cross_entropy")
        tc.optim_step(LR)
    saved = tc.save_weights_for_sampler("abab").result(timeout=60)
    assert saved.path == f"tinker://{tc.model_id}/sampler_weights/abab"
    greedy = types.SamplingParams(max_tokens=6, temperature=0.0)
    for sampler in (tc.create_sampling_client(saved.path), tc.save_weights_and_get_sampling_client()):
        out = sampler.sample(types.ModelInput.from_ints(list(b"abab")), 1, greedy).result(timeout=60)
        assert bytes(out.sequences[0].tokens) == b"ababab"
    base = service.create_sampling_client(base_model=BASE_MODEL)
    untrained = base.sample(types.ModelInput.from_ints(list(b"abab")), 1, greedy).result(timeout=60)
    assert bytes(untrained.sequences[0].tokens) != b"ababab"


def test_compute_logprobs_matches_forward(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=4, seed=11)
    tc.forward_backward([text_datum(t) for t in TEXT], "cross_entropy")
    tc.optim_step(LR)
    sampler = tc.save_weights_and_get_sampling_client()
    prompt = list(b"the cat sat")
    logprobs = sampler.compute_logprobs(types.ModelInput.from_ints(prompt)).result(timeout=60)
    assert logprobs[0] is None and len(logprobs) == len(prompt)
    forward = tc.forward([text_datum("the cat sat", weights=0.0)], "cross_entropy").result(timeout=60)
    np.testing.assert_allclose(logprobs[1:], forward.loss_fn_outputs[0]["logprobs"].tolist(), rtol=1e-5, atol=1e-6)


def test_eight_threads_submit_in_strict_seq_order(service: ServiceClient, emulator: Emulator) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    data = [text_datum("threads")]
    futures = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            fut = tc.forward_backward(data, "cross_entropy") if len(futures) % 2 else tc.forward(data, "cross_entropy")
            opt = tc.optim_step(LR)
            with lock:
                futures.extend([fut, opt])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fut in futures:
        fut.result(timeout=60)
    assert emulator.received_seq_ids(tc.model_id) == list(range(1, 81))


def test_forward_backward_custom_applies_the_custom_gradient(service: ServiceClient) -> None:
    data = [text_datum(t) for t in TEXT]
    custom = service.create_lora_training_client(BASE_MODEL, rank=4, seed=21)
    plain = service.create_lora_training_client(BASE_MODEL, rank=4, seed=21)

    def neg_sum(batch: list[types.Datum], logprobs: list[np.ndarray]) -> tuple[float, list[np.ndarray], dict]:
        loss = -float(sum(lp.sum() for lp in logprobs))
        return loss, [-np.ones_like(lp) for lp in logprobs], {"tokens:sum": float(sum(lp.size for lp in logprobs))}

    out = custom.forward_backward_custom(data, neg_sum, backend="numpy").result(timeout=60)
    expected = plain.forward_backward(data, "cross_entropy").result(timeout=60)
    assert out.metrics["loss:sum"] == pytest.approx(expected.metrics["loss:sum"], rel=1e-5)
    assert out.metrics["custom_loss:sum"] == pytest.approx(expected.metrics["loss:sum"], rel=1e-5)
    assert out.metrics["tokens:sum"] == sum(len(t) - 1 for t in TEXT)
    for client in (custom, plain):
        client.optim_step(LR).result(timeout=60)
    after_custom = _logprobs(custom.forward(data, "cross_entropy").result(timeout=60))
    after_plain = _logprobs(plain.forward(data, "cross_entropy").result(timeout=60))
    for a, b in zip(after_custom, after_plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_info_tokenizer_and_unload(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=4)
    info = tc.get_info()
    assert info.model_id == tc.model_id and info.lora_rank == 4
    tokenizer = tc.get_tokenizer()
    assert isinstance(tokenizer, ByteTokenizer)
    assert tokenizer.decode(tokenizer.encode("héllo")) == "héllo"
    unloaded = tc.unload_model().result(timeout=60)
    assert unloaded.model_id == tc.model_id


def test_bad_input_fails_before_any_request(service: ServiceClient, emulator: Emulator) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    seq_before = tc.next_seq_id
    count = emulator.stats()["forward_backward"].count if "forward_backward" in emulator.stats() else 0
    with pytest.raises(ValidationError, match="loss_fn"):
        tc.forward_backward([text_datum("xy")], "mse")
    with pytest.raises(ValidationError, match="no data"):
        tc.forward_backward([], "cross_entropy")
    with pytest.raises(ValidationError, match="learning_rate"):
        tc.optim_step({"learning_rate": -1.0})
    with pytest.raises(ValidationError, match="ttl_seconds"):
        tc.save_state("x", ttl_seconds=0)
    with pytest.raises(ValidationError, match="tinker_path"):
        tc.load_state("s3://bucket/weights")
    with pytest.raises(ValidationError, match="train_mlp"):
        service.create_lora_training_client(BASE_MODEL, train_mlp=False, train_attn=False, train_unembed=False)
    after = emulator.stats()["forward_backward"].count if "forward_backward" in emulator.stats() else 0
    assert after == count and tc.next_seq_id == seq_before


def test_server_side_failure_arrives_through_the_future(service: ServiceClient) -> None:
    tc = service.create_lora_training_client(BASE_MODEL, rank=2)
    missing = f"tinker://{tc.model_id}/weights/never-saved"
    with pytest.raises(Exception) as info:
        tc.load_state(missing).result(timeout=60)
    assert "never-saved" in str(info.value)
    # the failed request used its seq id; later requests still run in order
    assert tc.forward([text_datum("ok")], "cross_entropy").result(timeout=60).loss_fn_outputs
