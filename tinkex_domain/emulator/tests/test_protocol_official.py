"""The official SDK's extra protocol, over plain HTTP: client/config flags, JWT exchange,
session finish, the batched retrieve_futures poller and protobuf results on request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import zstandard

from tinkex_domain.emulator import Emulator
from tinkex_domain.emulator.cli import build_parser, config_from_args
from tinkex_domain.emulator.client_flags import ClientFlags
from tinkex_domain.emulator.proto_wire import codec

from .conftest import Api


def test_client_config_reflects_the_flags(make_emulator: Callable[..., Emulator], api_for: Any) -> None:
    emu = make_emulator(client_flags=ClientFlags(proto_compress_fwdbwd=True, fwdbwd_max_chunk_len=8))
    api = api_for(emu)
    config = api.ok("client/config", {"sdk_version": "0.38.0"})
    assert config["proto_compress_fwdbwd"] is True and config["fwdbwd_max_chunk_len"] == 8
    assert config["pjwt_auth_enabled"] is False and config["parallel_fwdbwd_chunks"] is True
    assert api.ok("client/dynamic_config", {"sdk_version": "0.38.0"})["refresh_interval_sec"] == 300
    assert api.post("auth/token").status_code == 404  # JWT exchange off
    emu.set_client_flags(ClientFlags(pjwt_auth_enabled=True))
    token = api.ok("auth/token")["jwt"]
    assert token.startswith("eyJ") and "tml-" not in token
    jwt_api = Api(emu)
    jwt_api.http.headers["X-API-Key"] = token
    assert jwt_api.post("create_session", {"sdk_version": "t"}).status_code == 200
    jwt_api.http.headers["X-API-Key"] = token[:-2] + "xx"
    denied = jwt_api.post("create_session", {"sdk_version": "t"})
    assert denied.status_code == 401 and 'error="invalid_token"' in denied.headers["WWW-Authenticate"]
    jwt_api.http.close()


def test_cli_client_flags() -> None:
    args = build_parser().parse_args(["serve", "--client-flag", "pjwt_auth_enabled=true",
                                      "--client-flag", "fwdbwd_max_chunk_len=16"])
    flags = config_from_args(args).client_flags
    assert flags.pjwt_auth_enabled and flags.fwdbwd_max_chunk_len == 16
    with pytest.raises(ValueError, match="unknown client flag 'nope'"):
        ClientFlags.parse(["nope=1"])
    with pytest.raises(ValueError, match="expected true/false"):
        ClientFlags.parse(["proto_compress_fwdbwd=maybe"])


def test_session_finish_first_reason_wins(emu: Emulator, api: Api) -> None:
    sid = api.session()
    assert api.ok(f"sessions/{sid}/finish", {"reason": {"type": "errored"}, "detail": "boom"}) == {}
    api.ok(f"sessions/{sid}/finish", {"reason": {"type": "success"}, "detail": None})
    assert emu.session_finish(sid) == {"type": "errored", "detail": "boom"}
    bad = api.post(f"sessions/{sid}/finish", {"reason": {"type": "done"}})
    assert bad.status_code == 400 and bad.json()["field"] == "reason.type"
    assert api.post("sessions/nope/finish", {"reason": {"type": "success"}}).status_code == 404


def _sample(api: Api, sampler: str, seq_id: int, n: int = 1) -> dict[str, Any]:
    return api.ok("asample", {"sampling_session_id": sampler, "seq_id": seq_id, "num_samples": n,
                              "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1, 2, 3]}]},
                              "sampling_params": {"max_tokens": 3, "seed": seq_id}})


def test_retrieve_futures_reports_completions_by_cursor(make_emulator: Callable[..., Emulator],
                                                        api_for: Any) -> None:
    api = api_for(make_emulator(client_flags=ClientFlags(sample_use_retrieve_futures=True)))
    sid = api.session()
    sampler = api.ok("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                 "base_model": "base-a"})["sampling_session_id"]
    first = _sample(api, sampler, 0, n=2)
    assert first["sample_sequence_ids"] == [f"{first['request_id']}:seq:0", f"{first['request_id']}:seq:1"]
    second = _sample(api, sampler, 1)
    clone = _sample(api, sampler, 1_000_000_000)
    target = {"type": "sampling_session", "sampling_session_id": sampler, "cloned_sampler_id": 0}
    seen: list[str] = []
    cursor = 0
    for _ in range(20):
        out = api.ok("retrieve_futures", {"target": target, "prev_cursor": cursor, "retrieved_request_ids": []})
        seen = [c["request_id"] for c in out["completions"] if c["state"] == "finished"]
        if len(seen) == 2:
            break
    assert sorted(seen) == sorted([first["request_id"], second["request_id"]]) and out["cursor"] == 2
    acked = api.ok("retrieve_futures", {"target": target, "prev_cursor": 2, "timeout": 0.0,
                                        "retrieved_request_ids": seen})
    assert acked == {"completions": [], "cursor": 2}
    clone_target = {**target, "cloned_sampler_id": 1}
    out = api.ok("retrieve_futures", {"target": clone_target, "prev_cursor": 0})
    assert [c["request_id"] for c in out["completions"]] == [clone["request_id"]]


def test_samples_are_logged_only_for_pollers(emu: Emulator, api: Api) -> None:
    """With sample_use_retrieve_futures off, samples are not kept for a poller that never
    comes; once a client polls a sampling session, its later samples are reported."""
    sid = api.session()
    sampler = api.ok("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                 "base_model": "base-a"})["sampling_session_id"]
    api.done(_sample(api, sampler, 0)["request_id"])
    target = {"type": "sampling_session", "sampling_session_id": sampler, "cloned_sampler_id": 0}
    assert api.ok("retrieve_futures", {"target": target, "prev_cursor": 0, "timeout": 0.0}) == \
        {"completions": [], "cursor": 0}
    later = _sample(api, sampler, 1)["request_id"]
    out = api.ok("retrieve_futures", {"target": target, "prev_cursor": 0})
    assert [c["request_id"] for c in out["completions"]] == [later]


def test_protobuf_results_when_asked(emu: Emulator, api: Api) -> None:
    sid = api.session()
    model = api.model(sid)
    request_id = api.ok("forward_backward", Api.fwdbwd(model, 1))["request_id"]
    as_json = api.done(request_id)
    reply = api.http.post(api.url("retrieve_future"), json={"request_id": request_id},
                          headers={"Accept": "application/x-protobuf"})
    assert reply.headers["Content-Type"] == "application/x-protobuf"
    out = codec().decode("ForwardBackwardOutput", reply.content)
    assert out["metrics"] == pytest.approx(as_json["metrics"])
    record = out["loss_fn_outputs"][0]
    assert record["num_datums"] == 1
    logprobs = np.frombuffer(record["fields"]["logprobs"]["data"], "<f4")
    assert logprobs.tolist() == pytest.approx(as_json["loss_fn_outputs"][0]["logprobs"]["data"])


def test_zstd_protobuf_body(emu: Emulator, api: Api) -> None:
    sid = api.session()
    model = api.model(sid)
    body = codec().encode("ForwardBackwardRequest", {
        "model_id": model, "seq_id": 1, "loss_fn": "cross_entropy", "forward_only": True,
        "data": [{"model_input": [{"encoded_text": {"tokens": [1, 2, 3]}}],
                  "loss_fn_inputs": {"target_tokens": {"dense": np.array([2, 3, 4], "<i8").tobytes(),
                                                       "dtype": "DTYPE_INT64", "shape": [3]}}}]})
    packed = zstandard.ZstdCompressor().compress(body)
    reply = api.http.post(api.url("forward_backward"), data=packed, headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "zstd"})
    assert reply.status_code == 200, reply.text
    assert len(api.done(reply.json()["request_id"])["loss_fn_outputs"][0]["logprobs"]["data"]) == 3
    assert emu.protobuf_bodies() == {"zstd": 1}
    broken = api.http.post(api.url("forward_backward"), data=b"\x28\xb5\x2f\xfdjunk", headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "zstd"})
    assert broken.status_code == 400 and broken.json()["field"] == "body"
