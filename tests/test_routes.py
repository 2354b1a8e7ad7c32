"""Per-endpoint routes with every installed plugin: an endpoint runs only the plugins that act
on it (``pristine_applies_to``), and the calls still behave as with every plugin everywhere."""

from __future__ import annotations

from typing import Any

import pristine_core as pc
from pristine_core.runner import PER_CALL_HOOKS
from pristine_testing import LoopbackServer, Reply, json_reply

MANIFEST: dict[str, Any] = {
    "name": "routes",
    "resources": {
        "pets": {
            "get": {"method": "GET", "path": "/pets/{pet_id}", "response": "Pet"},
            "events": {"method": "GET", "path": "/pets/{pet_id}/events", "stream": True},
            "upload": {"method": "POST", "path": "/pets/{pet_id}/photo", "request": "Photo", "multipart": True},
        }
    },
    "types": {
        "Pet": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        "Photo": {"type": "object", "properties": {"caption": {"type": "string"}}},
    },
}

#: Installed plugins whose per-call work concerns only some endpoints.
SELECTIVE = {"futures", "streaming", "protobuf", "multipart", "session", "environment"}


def _skipped(client: pc.Client, endpoint: str, **kwargs: Any) -> frozenset[str]:
    method = getattr(client.pets, endpoint)
    call = method.prepare(pc.RequestOptions(), kwargs)
    assert call.route is not None
    left_out = [call.route.left_out(hook) for hook in PER_CALL_HOOKS]
    return frozenset.intersection(*left_out)


def test_a_plain_json_endpoint_skips_the_plugins_that_do_nothing_for_it() -> None:
    with pc.Client(MANIFEST, base_url="http://127.0.0.1:9") as client:
        loaded = {r.name for r in client.meta.plugins()}
        assert SELECTIVE <= loaded
        plain = _skipped(client, "get", pet_id="1")
        assert plain >= SELECTIVE
        assert {"pool", "metrics"} & plain == set()  # they act on every call
        assert "retry" in plain  # no retry policy, no retry header: nothing of it runs here
        assert "streaming" not in _skipped(client, "events", pet_id="1")
        assert "multipart" not in _skipped(client, "upload", pet_id="1", caption="hi")
        assert len(client.meta.middleware) >= 3  # the full chain is still listed


def test_calls_behave_as_before_on_each_route(server: LoopbackServer) -> None:
    def handler(request: Any) -> Reply:
        if request.path.endswith("/events"):
            return Reply(200, b"data: one\n\ndata: two\n\n", {"Content-Type": "text/event-stream"})
        if request.path.endswith("/photo"):
            return json_reply({"ok": True, "type": request.header("Content-Type")})
        return json_reply({"id": "1"})

    server.handler = handler
    with pc.Client(MANIFEST, base_url=server.url) as client:
        assert client.pets.get(pet_id="1").id == "1"
        assert [e.data for e in client.pets.events(pet_id="1")] == ["one", "two"]
        assert server.requests[-1].header("Accept") == "text/event-stream"
        uploaded = client.pets.upload(pet_id="1", caption="hi")
        assert uploaded["type"].startswith("multipart/form-data")
        # A plugin option brings a skipped plugin back for that call.
        raw = client.pets.get(pet_id="1", request_options={"stream_response": True})
        assert b"".join(raw.iter_bytes()) == b'{"id": "1"}'
        try:
            client.pets.get(pet_id="1", request_options={"files": {"f": b"x"}})
        except pc.ValidationError as exc:
            assert "request_options.files" in str(exc)
        else:
            raise AssertionError("files on a JSON endpoint must be refused")
