"""Auth, routing and request validation: every error is JSON and names the offending field."""

from __future__ import annotations

from typing import Any

import pytest
import requests


def test_missing_or_wrong_api_key_is_401_json(api: Any) -> None:
    url = api.url("healthz")
    for headers in ({}, {"X-API-Key": "sk-wrong"}, {"X-API-Key": ""}):
        r = requests.get(url, headers=headers, timeout=5)
        assert r.status_code == 401
        assert "X-API-Key" in r.json()["error"] and r.json()["category"] == "user"
    assert requests.get(url, headers={"X-API-Key": "tml-anything"}, timeout=5).status_code == 200


def test_error_bodies_never_echo_the_api_key(api: Any) -> None:
    r = requests.post(api.url("create_model"), json={}, headers={"X-API-Key": "tml-secret-123"}, timeout=5)
    assert r.status_code == 400 and "tml-secret-123" not in r.text


def test_unknown_endpoint_404_and_wrong_method_405(api: Any) -> None:
    r = api.get("no_such_thing")
    assert r.status_code == 404 and "unknown endpoint" in r.json()["error"]
    r = api.get("create_session")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_invalid_json_and_non_object_bodies(api: Any) -> None:
    r = api.http.post(api.url("create_session"), data=b"{not json", timeout=5)
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = api.post("create_session", [1, 2])
    assert r.status_code == 400 and r.json()["field"] == "body"


def test_unknown_fields_are_ignored(api: Any) -> None:
    r = api.post("create_session", {"tags": [], "brand_new_field": {"x": 1}})
    assert r.status_code == 200 and r.json()["session_id"]


@pytest.mark.parametrize(("body", "field"), [
    ({"model_seq_id": 0, "base_model": "b"}, "session_id"),
    ({"session_id": 5, "model_seq_id": 0, "base_model": "b"}, "session_id"),
    ({"session_id": "s", "base_model": "b"}, "model_seq_id"),
    ({"session_id": "s", "model_seq_id": "zero", "base_model": "b"}, "model_seq_id"),
    ({"session_id": "s", "model_seq_id": -1, "base_model": "b"}, "model_seq_id"),
    ({"session_id": "s", "model_seq_id": 0}, "base_model"),
    ({"session_id": "s", "model_seq_id": 0, "base_model": "b", "lora_config": {"rank": 0}},
     "lora_config.rank"),
    ({"session_id": "s", "model_seq_id": 0, "base_model": "b", "lora_config": {"train_mlp": "yes"}},
     "lora_config.train_mlp"),
])
def test_create_model_validation_names_the_field(api: Any, body: dict[str, Any], field: str) -> None:
    r = api.post("create_model", body)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert r.json()["error"].startswith(field)


def _fwd_error(api: Any, mutate: Any) -> dict[str, Any]:
    sid = api.session()
    mid = api.model(sid)
    body = api.fwdbwd(mid, 1)
    mutate(body["forward_backward_input"])
    r = api.post("forward_backward", body)
    assert r.status_code == 400, r.text
    return r.json()


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.pop("data"), "forward_backward_input.data"),
    (lambda b: b.update(data=[]), "forward_backward_input.data"),
    (lambda b: b.update(loss_fn="hinge"), "forward_backward_input.loss_fn"),
    (lambda b: b.update(loss_fn_config={"bogus": 1.0}), "forward_backward_input.loss_fn_config.bogus"),
    (lambda b: b["data"][0]["model_input"]["chunks"][0].update(tokens=[1, "x", 3, 4]),
     "forward_backward_input.data[0].model_input.chunks[0].tokens[1]"),
    (lambda b: b["data"][0]["model_input"]["chunks"][0].update(tokens=[1, 2, 999, 4]),
     "forward_backward_input.data[0].model_input.chunks[0].tokens[2]"),
    (lambda b: b["data"][0]["loss_fn_inputs"].pop("target_tokens"),
     "forward_backward_input.data[0].loss_fn_inputs.target_tokens"),
    (lambda b: b["data"][0]["loss_fn_inputs"]["target_tokens"].update(dtype="float64"),
     "forward_backward_input.data[0].loss_fn_inputs.target_tokens.dtype"),
    (lambda b: b["data"][0]["loss_fn_inputs"]["target_tokens"].update(shape=[5]),
     "forward_backward_input.data[0].loss_fn_inputs.target_tokens.shape"),
    (lambda b: b["data"][0]["loss_fn_inputs"].update(mystery=[1.0]),
     None),  # unknown keys are ignored: this one is valid, see below
])
def test_forward_backward_validation_paths(api: Any, mutate: Any, field: str | None) -> None:
    if field is None:
        sid = api.session()
        mid = api.model(sid)
        body = api.fwdbwd(mid, 1)
        mutate(body["forward_backward_input"])
        assert api.post("forward_backward", body).status_code == 200
        return
    assert _fwd_error(api, mutate)["field"] == field


def test_image_chunks_are_rejected_as_unsupported(api: Any) -> None:
    def add_image(b: dict[str, Any]) -> None:
        b["data"][0]["model_input"]["chunks"].append({"type": "image", "data": "AAAA", "format": "png"})
    err = _fwd_error(api, add_image)
    assert "not supported by the emulator" in err["error"]
    assert err["field"] == "forward_backward_input.data[0].model_input.chunks[1].type"


def test_plain_list_loss_inputs_are_accepted_for_known_keys(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    body = api.fwdbwd(mid, 1)
    body["forward_backward_input"]["data"][0]["loss_fn_inputs"] = {
        "target_tokens": [2, 3, 4, 1], "weights": [1.0, 1.0, 0.5, 0.0]}
    r = api.post("forward_backward", body)
    assert r.status_code == 200, r.text
    assert len(api.done(r.json()["request_id"])["loss_fn_outputs"]) == 1


@pytest.mark.parametrize(("adam", "field"), [
    ({"learning_rate": 0}, "adam_params.learning_rate"),
    ({"learning_rate": "fast"}, "adam_params.learning_rate"),
    ({"beta1": 1.0}, "adam_params.beta1"),
    ({"eps": -1}, "adam_params.eps"),
])
def test_optim_step_validation(api: Any, adam: dict[str, Any], field: str) -> None:
    sid = api.session()
    mid = api.model(sid)
    r = api.post("optim_step", {"model_id": mid, "seq_id": 1, "adam_params": adam})
    assert r.status_code == 400 and r.json()["field"] == field


def test_sampling_validation(api: Any) -> None:
    sid = api.session()
    sampler = api.ok("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                                 "base_model": "b"})["sampling_session_id"]
    good = {"sampling_session_id": sampler, "prompt": {"chunks": [{"type": "encoded_text", "tokens": [1]}]},
            "sampling_params": {"max_tokens": 2}, "num_samples": 1}
    assert api.post("asample", good).status_code == 200
    cases = [
        ({**good, "prompt_logprobs": None}, "prompt_logprobs"),
        ({**good, "sampling_params": {"top_p": 0}}, "sampling_params.top_p"),
        ({**good, "sampling_params": {"max_tokens": 0}}, "sampling_params.max_tokens"),
        ({**good, "sampling_params": {"stop": [1.5]}}, "sampling_params.stop[0]"),
        ({**good, "prompt": {"chunks": []}}, "prompt.chunks"),
        ({k: v for k, v in good.items() if k != "sampling_params"}, "sampling_params"),
        ({"prompt": good["prompt"], "sampling_params": {}}, "sampling_session_id"),
    ]
    for body, field in cases:
        r = api.post("asample", body)
        assert r.status_code == 400, (field, r.text)
        assert r.json()["field"] == field


def test_unknown_ids_are_404_naming_the_field(api: Any) -> None:
    r = api.post("forward_backward", api.fwdbwd("nobody:train:0", 1))
    assert r.status_code == 404 and r.json()["field"] == "model_id"
    r = api.post("create_model", {"session_id": "nope", "model_seq_id": 0, "base_model": "b"})
    assert r.status_code == 404 and r.json()["field"] == "session_id"
    assert api.get("samplers/none:sample:0").status_code == 404
