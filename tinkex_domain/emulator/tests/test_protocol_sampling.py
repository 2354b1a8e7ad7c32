"""Sampling sessions, asample futures, stream_sample SSE and sampler lookup."""

from __future__ import annotations

import json
import types
from typing import Any
from urllib.parse import quote


def _prompt(tokens: list[int]) -> dict[str, Any]:
    return {"chunks": [{"type": "encoded_text", "tokens": tokens}]}


def _sampler(api: Any, sid: str, seq: int = 0, **src: Any) -> str:
    body = {"session_id": sid, "sampling_session_seq_id": seq, **(src or {"base_model": "base-a"})}
    return api.ok("create_sampling_session", body)["sampling_session_id"]


def _sse(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_sampling_session_ids_and_lookup(api: Any) -> None:
    sid = api.session()
    sampler = _sampler(api, sid, 3)
    assert sampler == f"{sid}:sample:3"
    assert _sampler(api, sid, 3) == sampler  # resend → same session
    for ident in (sampler, quote(sampler, safe="")):
        assert api.get(f"samplers/{ident}").json() == {"sampler_id": sampler, "base_model": "base-a"}
    assert api.get(f"sessions/{sid}").json()["sampler_ids"] == [sampler]
    r = api.post("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 4})
    assert r.status_code == 400 and r.json()["field"] == "base_model"


def test_asample_result_shape_and_seed_determinism(api: Any) -> None:
    sampler = _sampler(api, api.session())
    body = {"sampling_session_id": sampler, "seq_id": 0, "prompt": _prompt([10, 20, 30]),
            "sampling_params": {"max_tokens": 5, "seed": 7, "temperature": 1.0}, "num_samples": 2,
            "prompt_logprobs": True, "topk_prompt_logprobs": 2, "type": "sample"}
    first = api.done(api.ok("asample", body)["request_id"])
    assert first["type"] == "sample" and len(first["sequences"]) == 2
    seq = first["sequences"][0]
    assert len(seq["tokens"]) == len(seq["logprobs"]) == 5 and seq["stop_reason"] == "length"
    assert first["prompt_logprobs"][0] is None and len(first["prompt_logprobs"]) == 3
    assert first["topk_prompt_logprobs"][0] is None
    assert [len(row) for row in first["topk_prompt_logprobs"][1:]] == [2, 2]
    assert all(isinstance(pair[0], int) for pair in first["topk_prompt_logprobs"][1])
    again = api.done(api.ok("asample", body)["request_id"])
    assert again == first
    plain = api.done(api.ok("asample", {**body, "prompt_logprobs": False, "topk_prompt_logprobs": 0})
                     ["request_id"])
    assert plain["prompt_logprobs"] is None and plain["topk_prompt_logprobs"] is None


def test_stop_sequences_end_generation(api: Any) -> None:
    sampler = _sampler(api, api.session())
    greedy: dict[str, Any] = {"sampling_session_id": sampler, "prompt": _prompt([65]),
              "sampling_params": {"max_tokens": 8, "temperature": 0.0}}
    free = api.done(api.ok("asample", greedy)["request_id"])["sequences"][0]
    stop_token = free["tokens"][2]
    params = {**greedy["sampling_params"], "stop": [stop_token]}
    stopped = api.done(api.ok("asample", {**greedy, "sampling_params": params})["request_id"])
    seq = stopped["sequences"][0]
    first_hit = free["tokens"].index(stop_token)
    assert seq["stop_reason"] == "stop" and seq["tokens"] == free["tokens"][:first_hit + 1]


def test_stream_sample_emits_token_events_then_done(api: Any) -> None:
    sampler = _sampler(api, api.session())
    body = {"sampling_session_id": sampler, "prompt": _prompt([72, 105]),
            "sampling_params": {"max_tokens": 6, "seed": 3}}
    r = api.post("stream_sample", body, headers={"Accept": "text/event-stream"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    events = _sse(r.text)
    tokens = [data for name, data in events if name == "token"]
    assert [t["index"] for t in tokens] == list(range(6))
    assert all(set(t) == {"token", "token_id", "index", "logprob"} for t in tokens)
    assert events[-1] == ("done", {"finish_reason": "length", "total_tokens": 6})
    via_future = api.done(api.ok("asample", body)["request_id"])["sequences"][0]
    assert [t["token_id"] for t in tokens] == via_future["tokens"]  # same seed, same tokens
    text = "".join(t["token"] for t in tokens)
    whole = bytes(via_future["tokens"]).decode("utf-8", errors="replace")
    assert whole in (text, text + "\ufffd")  # an incomplete trailing UTF-8 sequence is held back


def test_stream_sample_reports_model_errors_as_error_event(make_emulator: Any, api_for: Any,
                                                             double: Any) -> None:
    class Broken(double.TinyLM):  # type: ignore[misc,name-defined]
        def sample(self, *a: Any, **k: Any) -> list[Any]:
            raise double.UserInputError("prompt: too long for this model")
    api = api_for(make_emulator(backend=types.SimpleNamespace(**{**vars(double), "TinyLM": Broken})))
    sampler = _sampler(api, api.session())
    r = api.post("stream_sample", {"sampling_session_id": sampler, "prompt": _prompt([1]),
                                   "sampling_params": {"max_tokens": 2}})
    assert _sse(r.text) == [("error", {"error": "prompt: too long for this model", "category": "user"})]
    r = api.post("stream_sample", {"sampling_session_id": sampler, "prompt": _prompt([1]),
                                   "sampling_params": {}, "num_samples": 2})
    assert r.status_code == 400 and r.json()["field"] == "num_samples"


def test_samplers_from_saved_weights(api: Any) -> None:
    sid = api.session()
    mid = api.model(sid)
    api.done(api.ok("forward_backward", api.fwdbwd(mid, 1))["request_id"])
    api.done(api.ok("optim_step", api.optim(mid, 2, lr=0.5))["request_id"])
    out = api.done(api.ok("save_weights_for_sampler", {"model_id": mid, "seq_id": 3, "path": "snap",
                                                       "sampling_session_seq_id": 1})["request_id"])
    assert out["path"] == f"tinker://{mid}/sampler_weights/snap"
    assert out["sampling_session_id"] == f"{sid}:sample:1"
    by_path = _sampler(api, sid, 2, model_path=out["path"])
    assert api.get(f"samplers/{by_path}").json()["model_path"] == out["path"]
    body = {"prompt": _prompt([5, 6]), "sampling_params": {"max_tokens": 4, "seed": 11},
            "prompt_logprobs": True}
    results = [api.done(api.ok("asample", {**body, **src})["request_id"]) for src in (
        {"sampling_session_id": out["sampling_session_id"]}, {"sampling_session_id": by_path},
        {"model_path": out["path"]})]
    assert results[0] == results[1] == results[2]
    base = api.done(api.ok("asample", {**body, "base_model": "base-a"})["request_id"])
    assert base["prompt_logprobs"] != results[0]["prompt_logprobs"]  # trained weights differ
    ephemeral = api.done(api.ok("save_weights_for_sampler", {"model_id": mid, "seq_id": 4,
                                                             "sampling_session_seq_id": 5})["request_id"])
    assert ephemeral == {"type": "save_weights_for_sampler", "sampling_session_id": f"{sid}:sample:5"}
    r = api.post("save_weights_for_sampler", {"model_id": mid, "seq_id": 5})
    assert r.status_code == 400 and r.json()["field"] == "path"


def test_sampler_for_missing_checkpoint_is_404(api: Any) -> None:
    sid = api.session()
    r = api.post("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                             "model_path": "tinker://x:train:0/sampler_weights/none"})
    assert r.status_code == 404
    r = api.post("create_sampling_session", {"session_id": sid, "sampling_session_seq_id": 0,
                                             "model_path": "s3://bucket/x"})
    assert r.status_code == 400 and r.json()["field"] == "model_path"


def test_stop_strings_become_their_utf8_bytes() -> None:
    from tinkex_domain.emulator.fields import Fields
    from tinkex_domain.emulator.sampling import decode_sample_args

    def stop_of(stop: Any) -> Any:
        body = {"prompt": _prompt([1]), "sampling_params": {"stop": stop}}
        return decode_sample_args(Fields(body), 256, 100).stop

    assert stop_of("é!") == [[0xC3, 0xA9, 0x21]]
    assert stop_of(["ab", "\n"]) == [[97, 98], [10]]
    assert stop_of([7, 9]) == [[7], [9]]
    assert stop_of(None) is None and stop_of([]) is None
