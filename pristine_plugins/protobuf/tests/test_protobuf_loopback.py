"""Protobuf endpoints through a client to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import zstandard

from pristine_core import Client, ManifestError, RequestOptions, ValidationError
from pristine_plugins.protobuf import Codec, ProtobufPlugin, Schema
from pristine_testing import LoopbackServer, Reply, SeenRequest

SCHEMA: dict[str, Any] = {"messages": {
    "Query": {"fields": {
        "name": {"number": 1, "type": "string", "json": {"path": "who.name"}},
        "counts": {"number": 2, "type": "int64", "repeated": True},
        "scores": {"number": 3, "type": "bytes", "array": "float32"},
    }},
    "Answer": {"fields": {"total": {"number": 1, "type": "double"}, "echo": {"number": 2, "type": "string"}}},
}}
MANIFEST: dict[str, Any] = {
    "name": "proto-api",
    "base_url": "http://proto.test",
    "types": {"Body": {"type": "object", "additionalProperties": True}},
    "resources": {"q": {
        "ask": {"method": "POST", "path": "/ask", "request": "Body",
                "encoding": "protobuf", "message": "Query", "result_message": "Answer"},
        "packed": {"method": "POST", "path": "/packed", "request": "Body",
                   "encoding": "protobuf", "message": "Query", "result_message": "Answer",
                                  "compression": "zstd"},
        "maybe": {"method": "POST", "path": "/maybe", "request": "Body",
                  "encoding": "protobuf", "message": "Query", "negotiated": True},
    }},
    "features": {"protobuf": SCHEMA},
}
CODEC = Codec(Schema.from_data(SCHEMA))


def answer(request: SeenRequest) -> Reply:
    body = request.body
    if request.header("Content-Encoding") == "zstd":
        body = zstandard.ZstdDecompressor().decompress(body)
    if request.header("Content-Type") != "application/x-protobuf":
        return Reply(200, b'{"json": true}', {"Content-Type": "application/json"})
    query = CODEC.decode("Query", body)
    total = float(sum(query["counts"]) + query["scores"].sum())
    return Reply(200, CODEC.encode("Answer", {"total": total, "echo": query["name"]}),
                 {"Content-Type": "application/x-protobuf"})


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(answer) as srv:
        yield srv


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[Client]:
    with Client(MANIFEST, base_url=server.url, plugins=[ProtobufPlugin()], autoload_plugins=False) as c:
        yield c


def test_body_and_reply_are_protobuf(client: Client, server: LoopbackServer) -> None:
    server.requests.clear()
    out = client.q.ask(who={"name": "ann"}, counts=[1, 2], scores=[0.5, 0.25])
    assert out == {"total": 3.75, "echo": "ann"}
    seen = server.requests[-1]
    assert seen.header("Content-Type") == "application/x-protobuf" and seen.header("Content-Encoding") is None


def test_declared_zstd_and_per_call_override(client: Client, server: LoopbackServer) -> None:
    server.requests.clear()
    assert client.q.packed(who={"name": "z"}, counts=[5])["total"] == 5.0
    assert server.requests[-1].header("Content-Encoding") == "zstd"
    off = RequestOptions(extensions={"protobuf_compression": "none"})
    assert client.q.packed(who={"name": "z"}, counts=[6], request_options=off)["total"] == 6.0
    assert server.requests[-1].header("Content-Encoding") is None
    on = RequestOptions(extensions={"protobuf_compression": "zstd"})
    assert client.q.ask(who={"name": "z"}, counts=[7], request_options=on)["total"] == 7.0
    assert server.requests[-1].header("Content-Encoding") == "zstd"


def test_negotiated_endpoint_is_json_unless_asked(client: Client, server: LoopbackServer) -> None:
    server.requests.clear()
    client.q.maybe.raw(who={"name": "j"})
    assert server.requests[-1].header("Content-Type") == "application/json"
    client.q.maybe.raw(who={"name": "p"}, request_options=RequestOptions(extensions={"protobuf": True}))
    assert server.requests[-1].header("Content-Type") == "application/x-protobuf"


def test_a_bad_value_fails_before_the_network(client: Client, server: LoopbackServer) -> None:
    server.requests.clear()
    with pytest.raises(ValidationError, match="counts"):
        client.q.ask(who={"name": "x"}, counts=["many"])
    assert server.requests == []


def test_manifest_declarations_are_checked() -> None:
    bad = copy.deepcopy(MANIFEST)
    bad["resources"]["q"]["ask"].update(compression="lz4")
    with pytest.raises(ManifestError) as info:  # structure first: the declared keys' types
        Client(bad, plugins=[ProtobufPlugin()], autoload_plugins=False)
    assert "resources.q.ask.compression" in str(info.value)
    bad["resources"]["q"]["ask"].update(message="Nope", compression="zstd")
    bad["resources"]["q"]["maybe"]["fields"] = {"ghost": {"path": "a"}}
    with pytest.raises(ManifestError) as info:
        Client(bad, plugins=[ProtobufPlugin()], autoload_plugins=False)
    text = str(info.value)
    for path in ("resources.q.ask.message", "resources.q.maybe.fields.ghost"):
        assert path in text
    none = copy.deepcopy(MANIFEST)
    del none["features"]
    with pytest.raises(ManifestError, match=r"no features\.protobuf"):
        Client(none, plugins=[ProtobufPlugin()], autoload_plugins=False)
