"""``pristine_applies_to``: the retry plugin keeps only the hooks that act on an endpoint."""

from __future__ import annotations

from typing import Any

import pristine_core as pc
from pristine_testing import LoopbackServer, json_reply


def _left_out(client: pc.Client, resource: str, endpoint: str, **kwargs: Any) -> set[str]:
    call = getattr(getattr(client, resource), endpoint).prepare(pc.RequestOptions(), kwargs)
    return {hook for hook, plugins in call.route.skipped.items() if "retry" in plugins}


def test_hooks_kept_per_endpoint(manifest: dict[str, Any], make_client: Any) -> None:
    client = make_client(manifest)
    # A GET carries no idempotency key; the loop and the attempt header stay.
    assert "pristine_prepare_call" in _left_out(client, "items", "get", item_id="1")
    assert not {"pristine_dispatch_middleware", "pristine_prepare_attempt"} & _left_out(
        client, "items", "get", item_id="1"
    )
    # A POST mints a key, so everything stays.
    assert not {"pristine_prepare_call", "pristine_dispatch_middleware"} & _left_out(
        client, "items", "create", name="x"
    )
    # No policy and no headers: nothing of the plugin runs.
    del manifest["defaults"]["retry"]
    del manifest["features"]
    bare = make_client(manifest)
    assert {"pristine_prepare_call", "pristine_prepare_attempt", "pristine_dispatch_middleware"} <= _left_out(
        bare, "items", "get", item_id="1"
    )


def test_a_get_still_retries_and_numbers_its_attempts(manifest: dict[str, Any], make_client: Any) -> None:
    replies = iter([json_reply({"error": "busy"}, 503), json_reply({"ok": True})])
    with LoopbackServer(lambda request: next(replies)) as server:
        client = make_client(manifest, base_url=server.url)
        assert client.items.get(item_id="1").ok is True
        assert [r.header("X-Retry-Count") for r in server.requests] == ["0", "1"]
        assert all(r.header("X-Idempotency-Key") is None for r in server.requests)
