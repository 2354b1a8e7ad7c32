"""Tinkex sends forward/forward_backward as protobuf (raw or zstd) when the server's
client/config says so, JSON otherwise; the losses are the same either way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pristine_core import APIResponseValidationError, RequestOptions
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig
from tinkex_domain.emulator.client_flags import ClientFlags
from tinkex_domain.tests.conftest import API_KEY, BASE_MODEL, text_datum


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(long_poll_s=0.2)) as emulator:
        yield emulator


def _train(emu: Emulator, flags: ClientFlags, **client: Any) -> tuple[list[float], list[float]]:
    emu.set_client_flags(flags)
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}, **client) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2, seed=5)
        data = [text_datum("protobuf bodies"), text_datum("or json ones", weights=0.5)]
        losses = []
        for _ in range(3):
            fwd = training.forward_backward(data, "cross_entropy")
            training.optim_step(types.AdamParams(learning_rate=1e-2))
            losses.append(fwd.result(timeout=60).metrics["loss:sum"])
        forward = training.forward(data, "cross_entropy").result(timeout=60)
        return losses, [float(x) for x in forward.loss_fn_outputs[0]["logprobs"].tolist()]


def _sample(emu: Emulator, flags: ClientFlags) -> tuple[list[list[int]], list[float | None]]:
    emu.set_client_flags(flags)
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}) as service:
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        out = sampler.sample(types.ModelInput.from_ints([3, 1, 4, 1, 5]), 2, types.SamplingParams(max_tokens=4, seed=9),
                             include_prompt_logprobs=True).result(timeout=60)
        return [list(s.tokens) for s in out.sequences], list(out.prompt_logprobs or [])


def test_protobuf_raw_and_zstd_match_json(emu: Emulator) -> None:
    """Bodies and results: JSON when the server does not offer protobuf; protobuf bodies (raw or
    zstd) and protobuf fwd/bwd results when it does, with bit-identical losses and logprobs."""
    start, results = emu.protobuf_bodies(), emu.protobuf_results()
    json_run = _train(emu, ClientFlags())
    assert emu.protobuf_bodies() == start  # the server did not offer protobuf: JSON
    assert emu.protobuf_results() == results
    raw_run = _train(emu, ClientFlags(fwdbwd_protobuf=True))
    after_raw = emu.protobuf_bodies()
    assert after_raw.get("identity", 0) - start.get("identity", 0) == 4  # 3 fwd/bwd + 1 forward
    got = emu.protobuf_results()
    assert got.get("forward_backward", 0) - results.get("forward_backward", 0) == 3
    assert got.get("forward", 0) - results.get("forward", 0) == 1
    zstd_run = _train(emu, ClientFlags(fwdbwd_protobuf=True, proto_compress_fwdbwd=True))
    assert emu.protobuf_bodies().get("zstd", 0) - after_raw.get("zstd", 0) == 4
    assert json_run == raw_run == zstd_run
    assert json_run[0][-1] < json_run[0][0]


def test_sample_results_follow_the_same_switch(emu: Emulator) -> None:
    """Samples: JSON results unless the server offers protobuf; then protobuf SampleResponses
    with the same tokens and (float32) logprobs."""
    before = emu.protobuf_results().get("asample", 0)
    json_tokens, json_lps = _sample(emu, ClientFlags())
    assert emu.protobuf_results().get("asample", 0) == before
    pb_tokens, pb_lps = _sample(emu, ClientFlags(fwdbwd_protobuf=True))
    assert emu.protobuf_results().get("asample", 0) == before + 1
    assert pb_tokens == json_tokens and pb_lps[0] is None and json_lps[0] is None
    assert pb_lps[1:] == pytest.approx(json_lps[1:], rel=1e-6)


def test_without_the_protobuf_plugin_tinkex_sends_json(emu: Emulator) -> None:
    start = emu.protobuf_bodies()
    losses, _ = _train(emu, ClientFlags(fwdbwd_protobuf=True), disable_plugins=["protobuf"])
    assert emu.protobuf_bodies() == start and len(losses) == 3


def test_a_rejected_protobuf_datum_names_its_field(emu: Emulator) -> None:
    emu.set_client_flags(ClientFlags(fwdbwd_protobuf=True))
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2)
        with pytest.raises(Exception, match=r"data\[0\]\.loss_fn_inputs\.target_tokens"):
            training.forward_backward([types.Datum(model_input=types.ModelInput.from_ints([1]),
                                                   loss_fn_inputs={})], "cross_entropy").result(timeout=60)


def test_a_protobuf_fwdbwd_result_decodes_to_the_json_result(emu: Emulator) -> None:
    """The retrieve reply of one forward_backward future, fetched twice from the emulator: as
    protobuf (the accept rule asks for it) it decodes through ``pristine_decode_result`` and the
    manifest's result rules into exactly the JSON reply's data."""
    emu.set_client_flags(ClientFlags())
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2, seed=5)
        data = [text_datum("one protobuf result"), text_datum("two", weights=0.5), text_datum("three datums")]
        future = training.forward_backward(data, "cross_entropy")
        parsed = future.result(timeout=60)
        client = service.holder.client
        kind = {"X-Tinker-Request-Type": "ForwardBackward"}

        def fetch(**extensions: Any) -> Any:
            options = RequestOptions(headers=kind, extensions=extensions)
            return client.futures.retrieve_future.raw(request_id=future.request_id, allow_metadata_only=False,
                                                      request_options=options)

        as_json, as_proto = fetch(), fetch(protobuf=True)
        assert as_json.headers["Content-Type"].startswith("application/json")
        assert as_proto.headers["Content-Type"] == "application/x-protobuf"
        assert len(as_proto.content) < len(as_json.content)
        endpoint = client.meta.manifest.endpoint("training.forward_backward")
        decoded = client.meta.hook.pristine_decode_result(endpoint=endpoint, response=as_proto)
        assert decoded == as_json.json()
        result = client.meta.types.parse("ForwardBackwardOutput", decoded)
        assert result.metrics == parsed.metrics and len(result.loss_fn_outputs) == 3
        assert [o["logprobs"].tolist() for o in result.loss_fn_outputs] == \
            [o["logprobs"].tolist() for o in parsed.loss_fn_outputs]
        with pytest.raises(APIResponseValidationError, match="invalid protobuf ForwardBackwardOutput"):
            client.meta.plugin("protobuf").decode_result(endpoint, as_proto.content[:-7])


def test_a_protobuf_sample_result_decodes_to_the_json_result(emu: Emulator) -> None:
    """A sample with every logprob option, its result fetched as JSON and as protobuf: the
    manifest's result rules rebuild the JSON result (top-k rows with their padding trimmed and
    the uncomputed first position null, tensors, stop reasons), apart from what only one
    format carries: JSON's ``type`` tag, protobuf's ``prompt_cache_hit_tokens`` (0). Logprobs
    travel as float32 in protobuf (the emulator's JSON has float64 sampled logprobs)."""
    emu.set_client_flags(ClientFlags())
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}) as service:
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        prompt = types.ModelInput.from_ints([4, 5, 6, 7, 8])
        targets = types.TensorData(data=[-1, -1, 3, 9, 2, -1, 7, 1, 4, 4], dtype="int64", shape=[5, 2])
        future = sampler.sample(prompt, 2, types.SamplingParams(max_tokens=4, seed=3), include_prompt_logprobs=True,
                                topk_prompt_logprobs=3, topk_sample_logprobs=2, target_prompt_logprobs=targets,
                                prompt_alt_tokens_k=2)
        parsed = future.result(timeout=60)
        client = service.holder.client
        options = RequestOptions(headers={"X-Tinker-Request-Type": "Sample"}, extensions={"protobuf": True})
        as_proto = client.futures.retrieve_future.raw(request_id=future.request_id, allow_metadata_only=False,
                                                      request_options=options)
        as_json = client.futures.retrieve_future.raw(request_id=future.request_id, allow_metadata_only=False)
        assert as_proto.headers["Content-Type"] == "application/x-protobuf"
        endpoint = client.meta.manifest.endpoint("sampling.asample")
        decoded = client.meta.hook.pristine_decode_result(endpoint=endpoint, response=as_proto)
        expected = {k: v for k, v in as_json.json().items() if k not in ("type", "sample_sequence_ids")}
        assert decoded.pop("prompt_cache_hit_tokens") == 0
        assert _close(decoded, expected)
        assert decoded["topk_prompt_logprobs"][0] is None and len(decoded["topk_prompt_logprobs"][1]) == 3
        result = client.meta.types.parse("SampleResponse", decoded)
        assert [s.tokens for s in result.sequences] == [s.tokens for s in parsed.sequences]
        assert _close(result.prompt_logprobs, parsed.prompt_logprobs)


def _close(a: Any, b: Any, path: str = "$") -> bool:
    """Equal structures, floats equal to float32 precision; an AssertionError names the path."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (path, a.keys(), b)
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    else:
        assert a == b, (path, a, b)
    return True
