"""Integration tests of SamplingClient against the emulator: sampling, streaming, pickling, 429s."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pristine_core import ValidationError
from tinkex_domain import SamplingClient, ServiceClient, types
from tinkex_domain.emulator import Emulator, FaultConfig
from tinkex_domain.tokenizer import ByteTokenizer

from .conftest import BASE_MODEL

PROMPT = types.ModelInput.from_ints(list(b"hello"))


@pytest.fixture(scope="module")
def sampler(service: ServiceClient) -> SamplingClient:
    return service.create_sampling_client(base_model=BASE_MODEL)


def test_sample_returns_sequences_and_logprobs(sampler: SamplingClient) -> None:
    params = types.SamplingParams(max_tokens=5, seed=3, temperature=0.7)
    out = sampler.sample(PROMPT, 3, params, include_prompt_logprobs=True, topk_prompt_logprobs=2).result(timeout=60)
    assert isinstance(out, types.SampleResponse) and len(out.sequences) == 3
    for seq in out.sequences:
        assert len(seq.tokens) <= 5 and len(seq.logprobs or []) == len(seq.tokens)
        assert seq.stop_reason in ("length", "stop")
    assert out.prompt_logprobs is not None and out.prompt_logprobs[0] is None
    assert len(out.prompt_logprobs) == PROMPT.length
    assert out.topk_prompt_logprobs is not None and out.topk_prompt_logprobs[0] is None
    assert all(len(row) == 2 for row in out.topk_prompt_logprobs[1:] if row is not None)
    again = sampler.sample(PROMPT, 3, params).result(timeout=60)
    assert [s.tokens for s in again.sequences] == [s.tokens for s in out.sequences]  # same seed, same tokens


def test_many_samples_in_flight(sampler: SamplingClient) -> None:
    params = types.SamplingParams(max_tokens=3, temperature=0.0)
    futures = [sampler.sample(types.ModelInput.from_ints([65 + i % 26]), 1, params) for i in range(40)]
    results = [f.result(timeout=60) for f in futures]
    assert all(len(r.sequences[0].tokens) == 3 for r in results)


def test_sample_stream_yields_tokens_then_done(sampler: SamplingClient) -> None:
    params = types.SamplingParams(max_tokens=6, seed=4, temperature=0.0)
    chunks = list(sampler.sample_stream(PROMPT, params))
    assert chunks[-1].event_type == "done" and chunks[-1].done
    tokens = [c for c in chunks if c.event_type == "token"]
    assert [c.index for c in tokens] == list(range(len(tokens)))
    assert chunks[-1].total_tokens == len(tokens)
    whole = sampler.sample(PROMPT, 1, params).result(timeout=60)
    assert [c.token_id for c in tokens] == whole.sequences[0].tokens


def test_base_model_and_tokenizer(sampler: SamplingClient) -> None:
    assert sampler.get_base_model() == BASE_MODEL
    assert isinstance(sampler.get_tokenizer(), ByteTokenizer)


def test_bad_arguments_raise_before_sending(service: ServiceClient, sampler: SamplingClient) -> None:
    with pytest.raises(ValidationError, match="model_path"):
        service.create_sampling_client()
    with pytest.raises(ValidationError, match="model_path"):
        service.create_sampling_client(model_path="s3://x/y/z")
    with pytest.raises(ValidationError, match="top_p"):
        sampler.sample(PROMPT, 1, {"top_p": 2.0})


def test_pickled_client_keeps_working_in_this_process(sampler: SamplingClient) -> None:
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy.sampling_session_id == sampler.sampling_session_id
    assert copy.holder is not sampler.holder and copy.holder.session_id == sampler.holder.session_id
    params = types.SamplingParams(max_tokens=4, temperature=0.0)
    assert copy.sample(PROMPT, 1, params).result(timeout=60).sequences == sampler.sample(
        PROMPT, 1, params
    ).result(timeout=60).sequences
    assert "tml-" not in repr(copy)


def test_pickled_client_works_in_another_process(sampler: SamplingClient) -> None:
    script = (
        "import pickle, sys\n"
        "from tinkex_domain import types\n"
        "client = pickle.loads(sys.stdin.buffer.read())\n"
        "out = client.sample(types.ModelInput.from_ints(list(b'hello')), 1,"
        " types.SamplingParams(max_tokens=4, temperature=0.0)).result(timeout=60)\n"
        "print(','.join(map(str, out.sequences[0].tokens)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input=pickle.dumps(sampler), capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    expected = sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=4, temperature=0.0)).result(timeout=60)
    assert proc.stdout.decode().strip().splitlines()[-1] == ",".join(map(str, expected.sequences[0].tokens))


@pytest.fixture
def rate_limited(emulator: Emulator) -> Iterator[Emulator]:
    emulator.set_faults("seed=3;asample:rate_limit=0.5,retry_after=0.05")
    try:
        yield emulator
    finally:
        emulator.set_faults(FaultConfig())


def test_429_back_pressure_is_absorbed(sampler: SamplingClient, rate_limited: Emulator) -> None:
    before = rate_limited.stats()["asample"].faults.get("rate_limit", 0)
    params = types.SamplingParams(max_tokens=2, temperature=0.0)
    results = [sampler.sample(PROMPT, 1, params).result(timeout=60) for _ in range(8)]
    assert all(len(r.sequences[0].tokens) == 2 for r in results)
    assert rate_limited.stats()["asample"].faults.get("rate_limit", 0) > before
