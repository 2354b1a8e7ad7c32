"""The client against a real HTTP server on 127.0.0.1: requests, responses, errors."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

import pristine_core as pc
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

PET = {"id": "7", "name": "Rex", "kind": "dog"}


def make(petstore: dict[str, Any], server: LoopbackServer, **kwargs: Any) -> pc.Client:
    return pc.Client(petstore, base_url=server.url, api_key="pk-test-secret-1", autoload_plugins=False, **kwargs)


def test_path_query_body_headers(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Path params are quoted, query merged (defaults < declared < call), body validated."""
    server.handler = lambda r: json_reply(PET)
    with make(petstore, server, default_headers={"X-Extra": "1"}) as client:
        pet = client.pets.get(pet_id="a b/c", verbose=True, request_options={"query": {"trace": "1"}})
        created = client.pets.create(name="Rex", age=3, request_options=pc.RequestOptions(headers={"X-Call": "y"}))
    get, post = server.requests
    assert get.method == "GET" and get.path == "/pets/a%20b%2Fc?lang=en&verbose=true&trace=1"
    assert get.header("X-API-Key") == "pk-test-secret-1"
    assert get.header("X-Client") == "tests" and get.header("X-Extra") == "1"
    assert post.json() == {"name": "Rex", "kind": "cat", "age": 3}
    assert post.header("Content-Type") == "application/json" and post.header("X-Call") == "y"
    assert type(pet).__name__ == "Pet" and pet.kind == "dog" and created.id == "7"


def test_declared_query_defaults(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Declared query defaults are sent; None values are dropped."""
    server.handler = lambda r: json_reply({"pets": [PET], "total": 1})
    with make(petstore, server) as client:
        page = client.pets.list(offset=None)
    assert server.requests[0].path == "/pets?lang=en&limit=20"
    assert page.pets[0].name == "Rex" and page.total == 1


def test_validation_before_network(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Bad arguments raise ValidationError naming the field, and nothing is sent."""
    with make(petstore, server) as client:
        with pytest.raises(pc.ValidationError, match="name: required field is missing"):
            client.pets.create(age=1)
        with pytest.raises(pc.ValidationError, match="pet_id: required path parameter"):
            client.pets.get()
        with pytest.raises(pc.ValidationError, match="limit: expected an integer"):
            client.pets.list(limit="ten")
        with pytest.raises(pc.ValidationError, match="colour: unexpected argument"):
            client.pets.delete(pet_id="1", colour="red")
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "cls", "retryable", "category"),
    [
        (400, pc.BadRequestError, False, "user"),
        (401, pc.AuthenticationError, False, "user"),
        (402, pc.PaymentRequiredError, False, "user"),
        (404, pc.NotFoundError, False, "user"),
        (408, pc.RequestTimeoutError, True, "unknown"),
        (409, pc.ConflictError, True, "user"),
        (410, pc.GoneError, False, "user"),
        (422, pc.UnprocessableEntityError, False, "user"),
        (429, pc.RateLimitError, True, "unknown"),
        (500, pc.InternalServerError, True, "server"),
        (503, pc.InternalServerError, True, "server"),
        (418, pc.APIStatusError, False, "user"),
    ],
)
def test_errors_mapped_per_status(
    petstore: dict[str, Any], server: LoopbackServer, status: int, cls: type, retryable: bool, category: str
) -> None:
    """Each status maps to its error class, with retryability, category and body."""
    server.handler = lambda r: json_reply({"error": "nope"}, status=status, headers={"x-request-id": "req-1"})
    with make(petstore, server) as client, pytest.raises(cls) as info:
        client.pets.get(pet_id="1")
    error = info.value
    assert type(error) is cls
    assert (error.status_code, error.retryable, error.category) == (status, retryable, category)
    assert error.body == {"error": "nope"} and error.request_id == "req-1"


def test_should_retry_header_overrides(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """``x-should-retry`` decides retryability when present."""
    server.handler = lambda r: json_reply({}, status=500, headers={"x-should-retry": "false"})
    with make(petstore, server) as client, pytest.raises(pc.InternalServerError) as info:
        client.pets.get(pet_id="1")
    assert info.value.retryable is False


def test_raw_variant(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """``.raw`` returns status, headers, body, elapsed and attempts, for any status."""
    server.handler = lambda r: json_reply({"error": "x"}, status=404, headers={"X-Trace": "t"})
    with make(petstore, server) as client:
        raw = client.pets.get.raw(pet_id="1")
    assert raw.status_code == 404 and raw.headers["x-trace"] == "t"
    assert raw.json() == {"error": "x"} and raw.attempts == 1 and raw.elapsed_s > 0


def test_empty_body_gzip_and_redirect(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Empty 2xx bodies give None; gzip bodies are decoded; redirects can be data."""

    def handler(request: SeenRequest) -> Reply:
        if request.method == "DELETE":
            return Reply(204)
        if request.path.startswith("/pets/1/photo"):
            return Reply(302, b"", {"Location": "http://127.0.0.1:1/photo.png", "Expires": "tomorrow"})
        body = gzip.compress(json.dumps(PET).encode())
        return Reply(200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    server.handler = handler
    with make(petstore, server) as client:
        assert client.pets.delete(pet_id="1") is None
        assert client.pets.get(pet_id="1").name == "Rex"
        link = client.pets.photo_url(pet_id="1")
    assert (link.url, link.status, link.expires) == ("http://127.0.0.1:1/photo.png", 302, "tomorrow")


def test_malformed_response_is_typed_error(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """A 2xx reply that does not match the response type raises APIResponseValidationError."""
    server.handler = lambda r: json_reply({"id": 5})
    with make(petstore, server) as client, pytest.raises(pc.APIResponseValidationError) as info:
        client.pets.get(pet_id="1")
    assert ("id", "expected a string, got int") in info.value.errors
    server.handler = lambda r: Reply(200, b"<html>", {"Content-Type": "text/html"})
    with make(petstore, server) as client, pytest.raises(pc.APIResponseValidationError, match="not JSON"):
        client.pets.get(pet_id="1")


def test_connection_error_and_timeout(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """A reset connection is APIConnectionError; a slow one APITimeoutError; both retryable."""
    server.handler = lambda r: Reply(reset=True)
    with make(petstore, server) as client, pytest.raises(pc.APIConnectionError) as info:
        client.pets.get(pet_id="1")
    assert info.value.retryable

    import threading

    release = threading.Event()

    def slow(request: SeenRequest) -> Reply:
        release.wait(5)
        return json_reply(PET)

    server.handler = slow
    try:
        with make(petstore, server) as client, pytest.raises(pc.APITimeoutError):
            client.pets.get(pet_id="1", request_options={"timeout_s": 0.2})
    finally:
        release.set()


def test_auth_header_skipped_when_endpoint_says_so(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Endpoints declared ``auth: false`` carry no API key."""
    with make(petstore, server) as client:
        client.health.ping()
    assert server.requests[0].header("X-API-Key") is None


def test_env_base_url_and_key(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Base URL and API key come from the manifest's env var names; blank means unset."""
    environ = {"PETSTORE_BASE_URL": server.url, "PETSTORE_API_KEY": "pk-from-env-123"}
    with pc.Client(petstore, autoload_plugins=False, environ=environ) as client:
        client.pets.delete(pet_id="1")
    assert server.requests[0].header("X-API-Key") == "pk-from-env-123"
    with pytest.raises(pc.PristineError, match="must start with 'pk-'"):
        pc.Client(petstore, base_url=server.url, api_key="bad-key-123", autoload_plugins=False)


def test_closed_client_refuses(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """After close, calls fail with a connection error instead of hanging."""
    client = make(petstore, server)
    client.close()
    client.close()
    assert client.meta.closed
    with pytest.raises(pc.APIConnectionError, match="closed"):
        client.pets.get(pet_id="1")


def test_fetch_url_streams_without_key(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """fetch_url reads a non-manifest URL lazily; the key is sent only when asked."""
    server.handler = lambda r: Reply(200, iter([b"abc", b"def"]), {"Content-Type": "application/octet-stream"})
    with make(petstore, server) as client:
        response = client.meta.fetch_url(f"{server.url}/download/x.tar")
        assert b"".join(response.iter_bytes(2)) == b"abcdef"
        client.meta.fetch_url(f"{server.url}/private", send_api_key=True, stream=False)
    assert server.requests[0].header("X-API-Key") is None
    assert server.requests[1].header("X-API-Key") == "pk-test-secret-1"


def test_reserved_expansion_keeps_slashes(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """``{+name}`` keeps '/' in the value (other characters still quoted); traversal is refused."""
    petstore["resources"]["pets"]["file"] = {"method": "GET", "path": "/files/{+file_path}/meta"}
    server.handler = lambda r: json_reply({})
    with make(petstore, server) as client:
        client.pets.file(file_path="weights/step 1")
        with pytest.raises(pc.ValidationError, match="file_path: must not contain"):
            client.pets.file(file_path="weights/../secrets")
    assert server.requests[0].path == "/files/weights/step%201/meta?lang=en"
