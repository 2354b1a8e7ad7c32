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


def test_protobuf_raw_and_zstd_match_json(emu: Emulator) -> None:
    start = emu.protobuf_bodies()
    json_run = _train(emu, ClientFlags())
    assert emu.protobuf_bodies() == start  # the server did not offer protobuf: JSON
    raw_run = _train(emu, ClientFlags(fwdbwd_protobuf=True))
    after_raw = emu.protobuf_bodies()
    assert after_raw.get("identity", 0) - start.get("identity", 0) == 4  # 3 fwd/bwd + 1 forward
    zstd_run = _train(emu, ClientFlags(fwdbwd_protobuf=True, proto_compress_fwdbwd=True))
    assert emu.protobuf_bodies().get("zstd", 0) - after_raw.get("zstd", 0) == 4
    assert json_run == raw_run == zstd_run
    assert json_run[0][-1] < json_run[0][0]


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
