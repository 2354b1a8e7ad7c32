"""The same client behaviour with the ``responses`` mock library."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

import pristine_core as pc

BASE = "http://pets.test"


@responses.activate
def test_calls_and_typed_results(petstore: dict[str, Any]) -> None:
    """Method, URL, query, headers and body match; results are typed."""
    responses.get(
        f"{BASE}/pets/9",
        json={"id": "9", "name": "Fin", "kind": "fish", "tags": ["wet"]},
        match=[matchers.query_param_matcher({"lang": "en"}), matchers.header_matcher({"X-API-Key": "pk-abc-12345"})],
    )
    responses.post(
        f"{BASE}/pets",
        json={"id": "10", "name": "Bo"},
        match=[matchers.json_params_matcher({"name": "Bo", "kind": "dog", "toy": {"type": "ball", "size": 1.5}})],
    )
    responses.put(
        f"{BASE}/pets/10/name", json={"id": "10", "name": "Bob"}, match=[matchers.json_params_matcher({"name": "Bob"})]
    )
    with pc.Client(petstore, base_url=BASE, api_key="pk-abc-12345", autoload_plugins=False) as client:
        fin = client.pets.get(pet_id=9)
        bo = client.pets.create(body={"name": "Bo", "kind": "dog"}, toy={"type": "ball", "size": 1.5})
        bob = client.pets.rename(pet_id="10", name="Bob")
    assert fin.tags == ["wet"] and fin.kind == "fish"
    assert (bo.id, bob.name) == ("10", "Bob")


@responses.activate
def test_error_mapping(petstore: dict[str, Any]) -> None:
    """Statuses map to typed errors with the parsed body."""
    responses.get(f"{BASE}/pets/1", json={"detail": "gone"}, status=404)
    responses.get(f"{BASE}/pets/2", body="upstream broke", status=502)
    with pc.Client(petstore, base_url=BASE, autoload_plugins=False) as client:
        with pytest.raises(pc.NotFoundError) as info:
            client.pets.get(pet_id=1)
        assert info.value.body == {"detail": "gone"}
        with pytest.raises(pc.InternalServerError) as server_error:
            client.pets.get(pet_id=2)
        assert server_error.value.body == "upstream broke" and server_error.value.retryable


@responses.activate
def test_per_endpoint_timeout_and_pool(petstore: dict[str, Any]) -> None:
    """The endpoint's timeout and pool reach the transport; per-call options win."""
    seen: list[tuple[Any, str]] = []

    def middleware(request: pc.Request, call_next: Any) -> pc.Response:
        seen.append((request.timeout_s, request.pool))
        return call_next(request)

    class Spy:
        name = "spy"
        priority = 100

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> pc.Middleware:
            return pc.Middleware("spy", 100, middleware)

    responses.put(f"{BASE}/pets/1/name", json={"id": "1", "name": "x"})
    responses.post(f"{BASE}/pets", json={"id": "1", "name": "x"})
    with pc.Client(petstore, base_url=BASE, plugins=[Spy()], autoload_plugins=False) as client:
        client.pets.rename(pet_id=1, name="x")
        client.pets.create(name="x")
        client.pets.create(name="x", request_options={"timeout_s": 9, "pool": "default"})
    assert seen == [(2, "default"), (5, "bulk"), (9, "default")]
