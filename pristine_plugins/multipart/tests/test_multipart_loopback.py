"""Multipart uploads through a client to a real HTTP server on 127.0.0.1, parsed by werkzeug."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pristine_core import Client, ManifestError, RequestOptions, ValidationError, hookimpl
from pristine_core.pipeline import CallNext, Middleware, Request, Response
from pristine_plugins.multipart import MultipartBody, MultipartPlugin
from pristine_testing import LoopbackServer, json_reply


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    """One loopback server for the module (stopping a server takes up to half a second)."""
    with LoopbackServer(lambda request: json_reply({"ok": True})) as srv:
        yield srv


@pytest.fixture
def server(shared_server: LoopbackServer) -> LoopbackServer:
    """The shared server with its request log emptied for this test."""
    shared_server.requests.clear()
    return shared_server


def files_option(files: Any) -> RequestOptions:
    return RequestOptions(extensions={"files": files})


def test_fields_and_files_come_out_right(
    tmp_path: Path, server: LoopbackServer, make_client: Callable[..., Client], parse_werkzeug: Any
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(300_000))
    readme = tmp_path / "README.md"
    readme.write_text("# hi\n")
    client = make_client(server.url)
    with readme.open("rb") as handle:
        response = client.files.upload.raw(
            purpose="fine-tune",
            count=3,
            meta={"tags": ["a", "b"], "owner": {"name": "ann", "admin": False}},
            request_options=files_option(
                {
                    "weights": str(weights),
                    "readme": handle,
                    "inline": ("data.csv", b"a,b\n1,2\n", "text/csv"),
                    "extra": [b"one", ("two.txt", b"two")],
                }
            ),
        )
    assert response.status_code == 200
    seen = server.requests[0]
    form = parse_werkzeug(seen.header("Content-Type"), seen.body)
    assert form.fields == {
        "purpose": ["fine-tune"],
        "count": ["3"],
        "meta[tags][0]": ["a"],
        "meta[tags][1]": ["b"],
        "meta[owner][name]": ["ann"],
        "meta[owner][admin]": ["false"],
    }
    assert form.files["weights"] == [("weights.bin", "application/octet-stream", weights.read_bytes())]
    assert form.files["readme"] == [("README.md", "text/markdown", b"# hi\n")]
    assert form.files["inline"] == [("data.csv", "text/csv", b"a,b\n1,2\n")]
    assert form.files["extra"] == [("upload", "application/octet-stream", b"one"), ("two.txt", "text/plain", b"two")]


def test_the_body_is_sent_with_an_exact_content_length_not_chunked(
    tmp_path: Path, server: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"z" * 1_000_000)
    client = make_client(server.url)
    client.files.upload.raw(purpose="x", request_options=files_option({"f": str(path)}))
    seen = server.requests[0]
    assert seen.header("Transfer-Encoding") is None
    assert seen.header("Content-Length") == str(len(seen.body))
    assert seen.header("Content-Type").startswith("multipart/form-data; boundary=pristine-")


class Twice:
    """A test plugin whose middleware sends every request twice (a stand-in for a retry)."""

    name = "twice"
    priority = 700

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> Middleware:
        """Send, then send the same request again."""

        def handler(request: Request, call_next: CallNext) -> Response:
            self.bodies.append(request.body)
            call_next(request)
            request.attempt += 1
            return call_next(request)

        return Middleware("twice", self.priority, handler)


def test_a_resent_request_carries_the_same_streamed_body(
    tmp_path: Path, server: LoopbackServer, make_client: Callable[..., Client], parse_werkzeug: Any
) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(b"resend me" * 10_000)
    twice = Twice()
    client = make_client(server.url, extra_plugins=[twice])
    client.files.upload.raw(purpose="again", request_options=files_option({"doc": path}))
    first, second = server.requests
    assert first.body == second.body
    assert isinstance(twice.bodies[0], MultipartBody)
    form = parse_werkzeug(second.header("Content-Type"), second.body)
    assert form.files["doc"][0][2] == path.read_bytes()


def test_a_multipart_endpoint_without_files_sends_only_fields(
    server: LoopbackServer, make_client: Callable[..., Client], parse_werkzeug: Any
) -> None:
    client = make_client(server.url)
    client.files.upload(purpose="none")
    seen = server.requests[0]
    form = parse_werkzeug(seen.header("Content-Type"), seen.body)
    assert form.fields == {"purpose": ["none"]} and form.files == {}


def test_json_endpoints_are_left_alone_and_refuse_files(
    server: LoopbackServer, make_client: Callable[..., Client]
) -> None:
    client = make_client(server.url)
    client.files.json_only(name="n")
    assert server.requests[0].header("Content-Type") == "application/json"
    assert server.requests[0].json() == {"name": "n"}
    with pytest.raises(ValidationError):
        client.files.json_only(name="n", request_options=files_option({"f": b"x"}))
    assert len(server.requests) == 1


def test_bad_files_fail_before_any_request(server: LoopbackServer, make_client: Callable[..., Client]) -> None:
    client = make_client(server.url)
    with pytest.raises(ValidationError):
        client.files.upload(purpose="x", request_options=files_option({"f": "/definitely/missing.bin"}))
    assert server.requests == []


def test_a_multipart_get_endpoint_is_a_manifest_problem(manifest: dict[str, Any]) -> None:
    manifest["resources"]["files"]["upload"]["method"] = "GET"
    with pytest.raises(ManifestError) as info:
        Client(manifest, plugins=[MultipartPlugin()], autoload_plugins=False)
    assert [p for p, _ in info.value.problems] == ["resources.files.upload.multipart"]
