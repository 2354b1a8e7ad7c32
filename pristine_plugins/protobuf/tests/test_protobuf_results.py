"""Protobuf results that arrive by another route (a fetch endpoint, like a futures retrieve):
asked for with an ``accept`` rule, decoded through ``pristine_decode_result`` and reshaped by
the schema's ``result`` rules, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import copy
import gzip
import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import zstandard

from pristine_core import APIResponseValidationError, Client, ManifestError, RequestOptions
from pristine_plugins.protobuf import Codec, DecodeError, ProtobufPlugin, ResultMapper, Schema
from pristine_testing import LoopbackServer, Reply, SeenRequest

SCHEMA: dict[str, Any] = {
    "enums": {"Kind": {"K_NONE": 0, "K_F32": 1, "K_I64": 2}, "Mood": {"M_CALM": 0, "M_GLAD": 1}},
    "messages": {
        "Column": {
            "fields": {
                "data": {"number": 1, "type": "bytes"},
                "offsets": {"number": 2, "type": "bytes", "array": "int64"},
                "kind": {"number": 3, "type": "Kind"},
                "trailing": {"number": 4, "type": "int64", "repeated": True},
            },
            "result": {"split": {"data": "data", "offsets": "offsets", "dtype": "kind", "trailing_shape": "trailing",
                                 "dtypes": {"K_F32": "float32", "K_I64": "int64"}, "data_key": "values"}},
        },
        "Record": {
            "fields": {"columns": {"number": 1, "type": "map", "key": "string", "value": "Column"},
                       "count": {"number": 2, "type": "int64"}},
            "result": {"transpose": "columns"},
        },
        "Output": {"fields": {
            "label": {"number": 1, "type": "string", "result": {"name": "title"}},
            "records": {"number": 2, "type": "Record", "repeated": True, "result": {"concat": True}},
            "stats": {"number": 3, "type": "map", "key": "string", "value": "double"},
            "mood": {"number": 4, "type": "Mood", "result": {"values": {"M_CALM": "calm", "M_GLAD": "glad"}}},
            "scores": {"number": 5, "type": "bytes", "array": "float32", "optional": True,
                       "result": {"nan_to_null": True}},
            "internal": {"number": 6, "type": "string", "result": {"omit": True}},
        }},
    },
}
MANIFEST: dict[str, Any] = {
    "name": "jobs-api",
    "base_url": "http://jobs.test",
    "types": {"Body": {"type": "object", "additionalProperties": True}},
    "resources": {"jobs": {
        "submit": {"method": "POST", "path": "/submit", "request": "Body",
                   "encoding": "protobuf", "result_message": "Output"},
        "plain": {"method": "POST", "path": "/plain", "request": "Body"},
        "fetch": {"method": "POST", "path": "/fetch", "request": "Body",
                  "encoding": "protobuf", "negotiated": True,
                  "accept": {"when_header": {"X-Job-Kind": ["batch", "bulk"]}}},
    }},
    "features": {"protobuf": SCHEMA},
}
CODEC = Codec(Schema.from_data(SCHEMA))
PROTOBUF = "application/x-protobuf"


def _column(items: list[np.ndarray], kind: str) -> dict[str, Any]:
    blobs = [a.tobytes() for a in items]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    trailing = list(items[0].shape[1:]) if items and items[0].ndim > 1 else []
    return {"data": b"".join(blobs), "offsets": offsets, "kind": kind, "trailing": trailing}


def _output() -> dict[str, Any]:
    """Three items over two records (ragged), a 2-D column, NaN scores, an enum, a hidden field."""
    first = {"columns": {
        "lp": _column([np.array([-1.5, -0.25], "<f4"), np.array([-3.0], "<f4")], "K_F32"),
        "ids": _column([np.array([[1, 2], [3, 4]], "<i8"), np.array([[5, 6]], "<i8")], "K_I64")}, "count": 2}
    second = {"columns": {
        "lp": _column([np.array([0.5, 0.75, 1.0], "<f4")], "K_F32"),
        "ids": _column([np.array([[7, 8]], "<i8")], "K_I64")}, "count": 1}
    return {"label": "run", "records": [first, second], "stats": {"loss:sum": 2.5}, "mood": "M_GLAD",
            "scores": np.array([np.nan, 0.5], "<f4"), "internal": "x"}


EXPECTED = {
    "title": "run",
    "records": [
        {"lp": {"values": [-1.5, -0.25], "dtype": "float32", "shape": [2]},
         "ids": {"values": [1, 2, 3, 4], "dtype": "int64", "shape": [2, 2]}},
        {"lp": {"values": [-3.0], "dtype": "float32", "shape": [1]},
         "ids": {"values": [5, 6], "dtype": "int64", "shape": [1, 2]}},
        {"lp": {"values": [0.5, 0.75, 1.0], "dtype": "float32", "shape": [3]},
         "ids": {"values": [7, 8], "dtype": "int64", "shape": [1, 2]}},
    ],
    "stats": {"loss:sum": 2.5},
    "mood": "glad",
    "scores": [None, 0.5],
}


def _broken(case: str) -> bytes:
    out = _output()
    if case == "truncated":
        return CODEC.encode("Output", out)[:-5]  # into the scores bytes
    if case == "offsets":
        out["records"][0]["columns"]["lp"]["offsets"] = np.array([0, 8, 99], np.int64)
    elif case == "ragged":
        out["records"][0]["columns"]["ids"] = _column([np.array([[1, 2]], "<i8")], "K_I64")
    elif case == "kind":
        out["records"][1]["columns"]["lp"]["kind"] = "K_NONE"
    return CODEC.encode("Output", out)


def answer(request: SeenRequest) -> Reply:
    body = json.loads(request.body or b"{}")
    if PROTOBUF not in (request.header("Accept") or ""):
        return Reply(200, json.dumps({"json": True}).encode(), {"Content-Type": "application/json"})
    case = body.get("case", "good")
    payload = CODEC.encode("Output", _output()) if case == "good" else _broken(case)
    headers = {"Content-Type": PROTOBUF}
    if body.get("enc") == "zstd":
        payload, headers["Content-Encoding"] = zstandard.ZstdCompressor().compress(payload), "zstd"
    elif body.get("enc") == "gzip":
        payload, headers["Content-Encoding"] = gzip.compress(payload), "gzip"
    return Reply(200, payload, headers)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(answer) as srv:
        yield srv


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[Client]:
    with Client(MANIFEST, base_url=server.url, plugins=[ProtobufPlugin()], autoload_plugins=False) as c:
        yield c


def _batch(client: Client, case: str = "good", enc: str = "identity") -> Any:
    options = RequestOptions(headers={"X-Job-Kind": "batch"}, extensions={"protobuf": True})
    return client.jobs.fetch.raw(case=case, enc=enc, request_options=options)


def test_hook_pristine_decode_result(client: Client) -> None:
    """The hook decodes a protobuf reply as the submitting endpoint's result_message, reshaped
    into JSON-shaped data; JSON replies and endpoints without a result_message pass (None)."""
    reply = _batch(client)
    submit = client.meta.manifest.endpoint("jobs.submit")
    assert client.meta.hook.pristine_decode_result(endpoint=submit, response=reply) == EXPECTED
    plain = client.meta.manifest.endpoint("jobs.plain")
    assert client.meta.hook.pristine_decode_result(endpoint=plain, response=reply) is None
    json_reply = client.jobs.fetch.raw(case="good")
    assert json_reply.headers["Content-Type"] == "application/json"
    assert client.meta.hook.pristine_decode_result(endpoint=submit, response=json_reply) is None


@pytest.mark.parametrize("enc", ["zstd", "gzip"])
def test_a_compressed_result_decodes_too(client: Client, enc: str) -> None:
    reply = _batch(client, enc=enc)
    assert reply.headers["Content-Encoding"] == enc
    submit = client.meta.manifest.endpoint("jobs.submit")
    assert client.meta.hook.pristine_decode_result(endpoint=submit, response=reply) == EXPECTED


@pytest.mark.parametrize(("case", "detail"), [
    ("truncated", "truncated"),
    ("offsets", r"records\[0\]\.columns\.lp\.offsets"),
    ("ragged", r"records\[0\]\.columns\.ids: has 1 items where the other columns have 2"),
    ("kind", r"records\[1\]\.columns\.lp\.kind: element type 'K_NONE'"),
])
def test_a_malformed_result_is_a_response_validation_error(client: Client, case: str, detail: str) -> None:
    reply = _batch(client, case)
    submit = client.meta.manifest.endpoint("jobs.submit")
    with pytest.raises(APIResponseValidationError, match=rf"jobs\.submit: invalid protobuf Output result .*{detail}"):
        client.meta.hook.pristine_decode_result(endpoint=submit, response=reply)
    # A protobuf reply to the endpoint's own call goes the same way.
    direct = RequestOptions(headers={"Accept": PROTOBUF})
    with pytest.raises(APIResponseValidationError, match=rf"jobs\.submit: invalid protobuf Output result .*{detail}"):
        client.jobs.submit(case=case, request_options=direct)
    assert client.jobs.submit(case="good", request_options=direct) == EXPECTED


def test_accept_rule_follows_the_switch_and_the_header(client: Client, server: LoopbackServer) -> None:
    plugin = client.meta.plugin("protobuf")
    assert isinstance(plugin, ProtobufPlugin) and not plugin.accepts_results
    batch = RequestOptions(headers={"X-Job-Kind": "batch"})
    server.requests.clear()
    client.jobs.fetch.raw(request_options=batch)  # negotiated, switch off: JSON
    plugin.accept_results()
    client.jobs.fetch.raw(request_options=batch)
    client.jobs.fetch.raw(request_options=RequestOptions(headers={"x-job-kind": "bulk", "Accept": "text/csv"}))
    client.jobs.fetch.raw(request_options=RequestOptions(headers={"X-Job-Kind": "single"}))
    client.jobs.fetch.raw()
    plugin.accept_results(False)
    client.jobs.fetch.raw(request_options=batch)
    accepts = [r.header("Accept") for r in server.requests]
    wanted = "application/x-protobuf, application/json"
    assert [a == wanted for a in accepts] == [False, True, True, False, False, False]


def test_config_turns_results_on_from_the_start(server: LoopbackServer) -> None:
    config = {"protobuf": {"results": True}}
    with Client(MANIFEST, base_url=server.url, plugins=[ProtobufPlugin()], autoload_plugins=False,
                config=config) as client:
        reply = client.jobs.fetch.raw(request_options=RequestOptions(headers={"X-Job-Kind": "batch"}))
        assert reply.headers["Content-Type"] == PROTOBUF


def test_result_rules_alone_are_plain_data() -> None:
    mapper = ResultMapper(Schema.from_data(SCHEMA))
    out = mapper.to_json("Output", CODEC.decode("Output", CODEC.encode("Output", _output())))
    assert out == EXPECTED
    empty = mapper.to_json("Output", CODEC.decode("Output", b""))
    assert empty == {"title": "", "records": [], "stats": {}, "mood": "calm"}
    assert math.isnan(CODEC.decode("Output", CODEC.encode("Output", _output()))["scores"][0])


def test_bad_accept_and_result_declarations_name_their_paths() -> None:
    bad = copy.deepcopy(MANIFEST)
    bad["resources"]["jobs"]["fetch"]["accept"] = {"when_headr": {}}
    with pytest.raises(ManifestError, match=r"resources\.jobs\.fetch\.accept\.when_headr"):
        Client(bad, plugins=[ProtobufPlugin()], autoload_plugins=False)
    bad = copy.deepcopy(MANIFEST)
    bad["features"]["protobuf"]["messages"]["Record"]["result"] = {"transpose": "count"}
    bad["features"]["protobuf"]["messages"]["Output"]["fields"]["records"]["result"] = {"concat": "yes"}
    with pytest.raises(ManifestError) as info:
        Client(bad, plugins=[ProtobufPlugin()], autoload_plugins=False)
    assert "features.protobuf.messages.Output.fields.records.result.concat" in str(info.value)
    bad["features"]["protobuf"]["messages"]["Output"]["fields"]["records"]["result"] = {"concat": True}
    with pytest.raises(ManifestError, match=r"features\.protobuf\.messages\.Record\.result\.transpose"):
        Client(bad, plugins=[ProtobufPlugin()], autoload_plugins=False)


def test_rows_and_typed_arrays() -> None:
    """``rows``: flat columns to rows of tuples, padding trimmed, an all-padding row null;
    ``array_from``: bytes read as the element type a sibling enum names."""
    schema = Schema.from_data({
        "enums": {"Kind": {"K_NONE": 0, "K_F32": 1, "K_I64": 2}},
        "messages": {
            "Top": {"fields": {
                "ids": {"number": 1, "type": "bytes", "array": "int32"},
                "lps": {"number": 2, "type": "bytes", "array": "float32"},
                "k": {"number": 3, "type": "uint32"}, "n": {"number": 4, "type": "uint32"}},
                "result": {"rows": {"columns": ["ids", "lps"], "width": "k", "count": "n", "pad": [0, -9.0]}}},
            "Blob": {"fields": {
                "raw": {"number": 1, "type": "bytes", "result": {"name": "data", "array_from": "kind",
                                                                  "dtypes": {"K_F32": "float32", "K_I64": "int64"}}},
                "kind": {"number": 2, "type": "Kind"},
                "top": {"number": 3, "type": "Top"}}},
        }})
    codec, mapper = Codec(schema), ResultMapper(schema)
    top = {"ids": np.array([[0, 0], [5, 0], [7, 8]], np.int32),
           "lps": np.array([[-9, -9], [-1, -9], [-2, -3]], np.float32), "k": 2, "n": 3}
    blob = {"raw": np.array([1.5, 2.5], "<f4").tobytes(), "kind": "K_F32", "top": top}
    out = mapper.to_json("Blob", codec.decode("Blob", codec.encode("Blob", blob)))
    assert out == {"data": [1.5, 2.5], "kind": "K_F32", "top": [None, [[5, -1.0]], [[7, -2.0], [8, -3.0]]]}
    empty = mapper.to_json("Blob", codec.decode("Blob", codec.encode("Blob", {"kind": "K_I64", "top": {"k": 2}})))
    assert empty == {"data": [], "kind": "K_I64", "top": None}
    with pytest.raises(DecodeError, match=r"raw: element type 'K_NONE' \(from 'kind'\)"):
        mapper.to_json("Blob", codec.decode("Blob", codec.encode("Blob", {"raw": b"1234"})))
    with pytest.raises(DecodeError, match=r"raw: 3 bytes is not a whole number of int64"):
        mapper.to_json("Blob", codec.decode("Blob", codec.encode("Blob", {"raw": b"123", "kind": "K_I64"})))
    with pytest.raises(DecodeError, match=r"top\.lps: has 1 elements, not 3 x 2"):
        bad = {**top, "lps": np.array([1.0], np.float32)}
        mapper.to_json("Blob", codec.decode("Blob", codec.encode("Blob", {"kind": "K_F32", "top": bad})))
