"""A paused queue state without a reason reaches observers with the manifest's reason text."""

from __future__ import annotations

from typing import Any

from pristine_core import Client, RequestOptions
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

MANIFEST = ("tinkex_domain", "manifest.json")


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[str, Any]] = []

    def on_queue_state_change(self, state: Any, reason: Any) -> None:
        self.changes.append((getattr(state, "value", state), reason))


def test_training_pause_without_reason_uses_the_manifest_text() -> None:
    polls = {"n": 0}

    def handler(request: SeenRequest) -> Reply:
        if request.path.endswith("/create_model"):
            return json_reply({"request_id": "req-1"})
        polls["n"] += 1
        if polls["n"] == 1:
            return json_reply({"type": "try_again", "request_id": "req-1", "queue_state": "paused_rate_limit"})
        return json_reply({"model_id": "m-1"})

    recorder = Recorder()
    with LoopbackServer(handler) as srv, Client(MANIFEST, api_key="tml-x", base_url=srv.url,
                                                plugins=["futures"]) as client:
        body = {"session_id": "s", "model_seq_id": 0, "base_model": "b", "lora_config": {"rank": 2}}
        future = client.meta.endpoint("models.create_model")(
            body=body, request_options=RequestOptions(extensions={"queue_state_observer": recorder})
        )
        assert future.result(timeout=10).model_id == "m-1"
    assert recorder.changes == [("paused_rate_limit", "concurrent training clients rate limit hit")]
