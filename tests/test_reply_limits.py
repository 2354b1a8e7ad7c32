"""Bounded replies: size caps enforced while reading, deep nesting and empty bodies as typed errors.

Against a real loopback server. The 200 MB body is produced lazily, chunk by chunk, so neither
side ever holds it; the client refuses it after its 1 MB cap and its RSS barely moves.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import pristine_core as pc
from pristine_core.errors import APIResponseValidationError
from pristine_core.limits import JSONDepthError, ResponseTooLargeError
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

MB = 1 << 20


def _huge_json(total: int) -> Iterator[bytes]:
    """A valid-looking JSON object of ``total`` bytes, generated 64 KiB at a time."""
    yield b'{"id": "1", "name": "'
    chunk = b"x" * (64 << 10)
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)
    yield b'"}'


def _rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * resource.getpagesize() / MB
    except OSError:  # pragma: no cover - non-Linux
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB


def _client(manifest: dict[str, Any], server: LoopbackServer) -> pc.Client:
    return pc.Client(manifest, base_url=server.url, api_key="pk-limits-123", autoload_plugins=False)


def test_200_mb_body_is_refused_at_a_1_mb_cap_with_bounded_memory(petstore: dict[str, Any]) -> None:
    petstore["resources"]["pets"]["get"]["max_response_bytes"] = MB
    with LoopbackServer(lambda req: Reply(200, _huge_json(200 * MB), {"Content-Type": "application/json"})) as srv:
        with _client(petstore, srv) as client:
            before = _rss_mib()
            with pytest.raises(ResponseTooLargeError) as info:
                client.pets.get(pet_id=1)
            grown = _rss_mib() - before
    assert info.value.limit == MB and isinstance(info.value, pc.PristineError)
    assert grown < 20, f"RSS grew by {grown:.1f} MiB"


def test_content_length_over_the_cap_is_refused_before_reading(petstore: dict[str, Any]) -> None:
    petstore["defaults"]["max_response_bytes"] = 1000
    body = b'{"id": "1", "name": "' + b"y" * 5000 + b'"}'
    with LoopbackServer(lambda req: Reply(200, body, {"Content-Type": "application/json"})) as srv:
        with _client(petstore, srv) as client:
            with pytest.raises(ResponseTooLargeError):
                client.pets.get(pet_id=1)
            # A per-call override raises the cap for one call.
            pet = client.pets.get(pet_id=1, request_options={"extensions": {"max_response_bytes": 10_000}})
    assert pet.name == "y" * 5000


def test_100_000_deep_nesting_is_a_typed_error(petstore: dict[str, Any]) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with LoopbackServer(lambda req: Reply(200, deep, {"Content-Type": "application/json"})) as srv:
        with _client(petstore, srv) as client:
            with pytest.raises(JSONDepthError) as info:
                client.pets.get(pet_id=1)
            assert isinstance(info.value, APIResponseValidationError)
            with pytest.raises(JSONDepthError):
                client.pets.get.raw(pet_id=1).json()


@pytest.mark.parametrize("body", [b"", b"   ", b"{}", b'{"unrelated": 1}'])
def test_empty_or_schemaless_bodies_where_a_type_is_declared(petstore: dict[str, Any], body: bytes) -> None:
    petstore["types"]["Pet"]["required"] = []  # even an all-optional type refuses {}
    with LoopbackServer(lambda req: Reply(200, body, {"Content-Type": "application/json"})) as srv:
        with _client(petstore, srv) as client:
            with pytest.raises(APIResponseValidationError):
                client.pets.get(pet_id=1)


def test_empty_body_without_a_declared_type_is_none(petstore: dict[str, Any]) -> None:
    def handler(req: SeenRequest) -> Reply:
        return Reply(204, b"") if req.method == "DELETE" else json_reply({"id": "1", "name": "a"})

    with LoopbackServer(handler) as srv:
        with _client(petstore, srv) as client:
            assert client.pets.delete(pet_id=1) is None
            assert client.pets.get(pet_id=1).name == "a"
