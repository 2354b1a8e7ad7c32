"""The codec against hand-computed wire bytes, round trips, and typed errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pristine_plugins.protobuf import Codec, DecodeError, EncodeError, JsonMapper, Schema, SchemaError

SCHEMA: dict[str, Any] = {
    "enums": {"Color": {"RED": 0, "BLUE": 1}},
    "messages": {
        "Test1": {"fields": {"a": {"number": 1, "type": "int32"}}},
        "Point": {"fields": {
            "x": {"number": 1, "type": "double"},
            "y": {"number": 2, "type": "float"},
            "name": {"number": 3, "type": "string"},
            "tags": {"number": 4, "type": "string", "repeated": True},
            "dims": {"number": 5, "type": "int64", "repeated": True},
            "color": {"number": 6, "type": "Color"},
            "extra": {"number": 7, "type": "map", "key": "string", "value": "Point"},
            "weights": {"number": 8, "type": "map", "key": "string", "value": "double"},
            "samples": {"number": 9, "type": "bytes", "array": "float32"},
            "ok": {"number": 10, "type": "bool"},
            "big": {"number": 11, "type": "uint64"},
            "text": {"number": 12, "type": "string", "oneof": "choice"},
            "num": {"number": 13, "type": "double", "oneof": "choice"},
            "maybe": {"number": 14, "type": "int32", "optional": True},
        }},
    },
}


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(Schema.from_data(SCHEMA))


def test_known_wire_bytes(codec: Codec) -> None:
    # The canonical example: field 1 = 150 is 08 96 01.
    assert codec.encode("Test1", {"a": 150}) == bytes.fromhex("089601")
    assert codec.decode("Test1", bytes.fromhex("089601")) == {"a": 150}
    # Negative int32 travels as a ten-byte varint; defaults are not written.
    assert codec.encode("Test1", {"a": -1}) == bytes.fromhex("08ffffffffffffffffff01")
    assert codec.decode("Test1", bytes.fromhex("08ffffffffffffffffff01")) == {"a": -1}
    assert codec.encode("Test1", {"a": 0}) == b""
    # Packed repeated int64: tag 2A, length, varints.
    assert codec.encode("Point", {"dims": [3, 270]}) == bytes.fromhex("2a03038e02")
    # A oneof member and an optional field are written even at their default.
    assert codec.encode("Point", {"num": 0.0}) == bytes.fromhex("69") + bytes(8)
    assert codec.encode("Point", {"maybe": 0}) == bytes.fromhex("7000")


def test_round_trip(codec: Codec) -> None:
    value = {"x": 1.5, "y": 0.25, "name": "p", "tags": ["a", "b"], "dims": [1, 2**40], "color": "BLUE",
             "extra": {"child": {"x": -2.0, "color": "RED"}}, "weights": {"w": 0.5},
             "samples": np.array([1.0, math.inf], dtype=np.float32), "ok": True, "big": 2**64 - 1,
             "text": "chosen"}
    out = codec.decode("Point", codec.encode("Point", value))
    assert out["x"] == 1.5 and out["y"] == 0.25 and out["tags"] == ["a", "b"] and out["dims"] == [1, 2**40]
    assert out["color"] == "BLUE" and out["extra"]["child"]["x"] == -2.0 and out["weights"] == {"w": 0.5}
    assert out["samples"].tolist() == [1.0, math.inf] and out["ok"] is True and out["big"] == 2**64 - 1
    assert out["text"] == "chosen" and "num" not in out and "maybe" not in out
    assert out["extra"]["child"]["color"] == "RED" and out["extra"]["child"]["name"] == ""


def test_unknown_fields_are_skipped(codec: Codec) -> None:
    # field 1 = 150, then an unknown field 15 (varint) and 16 (length-delimited).
    data = bytes.fromhex("089601") + bytes.fromhex("7805") + bytes.fromhex("820103616263")
    assert codec.decode("Test1", data) == {"a": 150}


@pytest.mark.parametrize(("value", "path"), [
    ({"nope": 1}, "nope"),
    ({"x": "1"}, "x"),
    ({"tags": "ab"}, "tags"),
    ({"tags": ["a", 3]}, "tags[1]"),
    ({"color": "GREEN"}, "color"),
    ({"extra": {"c": {"dims": [1.5]}}}, "extra.c.dims[0]"),
    ({"big": -1}, "big"),
    ({"text": "t", "num": 1.0}, "num"),
    ({"samples": ["a"]}, "samples"),
])
def test_encode_errors_name_the_field(codec: Codec, value: dict[str, Any], path: str) -> None:
    with pytest.raises(EncodeError) as info:
        codec.encode("Point", value)
    assert info.value.path == path


@pytest.mark.parametrize("data", [bytes.fromhex("0896"), bytes.fromhex("1a05616263"), bytes.fromhex("4a03000000"),
                                  bytes.fromhex("0d000080"), bytes.fromhex("1a02ff00")])
def test_malformed_input_is_a_decode_error(codec: Codec, data: bytes) -> None:
    with pytest.raises(DecodeError):
        codec.decode("Point", data)


def test_schema_problems_are_listed_with_paths() -> None:
    # The block's shape is checked first (by the core's converter: unknown keys, wrong kinds)...
    shape = {"messages": {"M": {"fields": {
        "e": {"number": 5, "type": "string", "colour": 1},
        "f": {"number": 6, "type": "string", "json": {"where": "x"}},
        "g": {"number": "7", "type": "string", "array": "int8"},
        "h": {"number": 8, "type": "string", "result": {"nam": "x"}},
    }}}, "extra": {}}
    with pytest.raises(SchemaError) as info:
        Schema.from_data(shape)
    paths = {p for p, _ in info.value.problems}
    assert paths == {"features.protobuf.extra", "features.protobuf.messages.M.fields.e.colour",
                     "features.protobuf.messages.M.fields.f.json.where", "features.protobuf.messages.M.fields.g.number",
                     "features.protobuf.messages.M.fields.g.array", "features.protobuf.messages.M.fields.h.result.nam"}
    # ... then what structure cannot see: references, numbers, keys that go together.
    refs = {"enums": {"E": {"A": 0}}, "messages": {"M": {"fields": {
        "a": {"number": 1, "type": "nope"},
        "b": {"number": 1, "type": "int32"},
        "c": {"number": 3, "type": "int32", "array": "int32"},
        "d": {"number": 4, "type": "map", "key": "double", "value": "int32"},
        "e": {"number": 5, "type": "E", "json": {"values": {"x": "B"}}},
        "f": {"number": 6, "type": "int32", "result": {"concat": True, "values": {"A": 1}}},
    }, "result": {"transpose": "b", "split": {"data": "zz", "offsets": "c", "dtype": "b"}}}}}
    with pytest.raises(SchemaError) as info:
        Schema.from_data(refs)
    paths = {p for p, _ in info.value.problems}
    assert paths == {"features.protobuf.messages.M.fields.a.type", "features.protobuf.messages.M.fields.b.number",
                     "features.protobuf.messages.M.fields.c.array", "features.protobuf.messages.M.fields.d.key",
                     "features.protobuf.messages.M.fields.e.json.values.x",
                     "features.protobuf.messages.M.fields.f.result.concat",
                     "features.protobuf.messages.M.fields.f.result.values", "features.protobuf.messages.M.result",
                     "features.protobuf.messages.M.result.split.data",
                     "features.protobuf.messages.M.result.split.offsets",
                     "features.protobuf.messages.M.result.split.dtype",
                     "features.protobuf.messages.M.result.transpose"}


def test_json_mapping() -> None:
    schema = Schema.from_data({"enums": {"Kind": {"K_NONE": 0, "K_INT": 1}}, "messages": {
        "Req": {"fields": {
            "items": {"number": 1, "type": "Item", "repeated": True, "json": {"path": "input.items"}},
            "flag": {"number": 2, "type": "bool"},
        }},
        "Item": {"fields": {
            "text": {"number": 1, "type": "Text", "oneof": "v", "json": {"path": "$", "when": {"type": "text"}}},
            "blob": {"number": 2, "type": "bytes", "oneof": "v", "json": {"path": "data", "array_from": "dtype"}},
            "kind": {"number": 3, "type": "Kind", "json": {"path": "dtype", "values": {"int64": "K_INT"}}},
        }},
        "Text": {"fields": {"tokens": {"number": 1, "type": "bytes", "array": "int32"}}},
    }})
    body = {"input": {"items": [{"type": "text", "tokens": [1, 2]}, {"data": [7, 8], "dtype": "int64"}]}}
    msg = JsonMapper(schema).to_message("Req", body, {"flag": {"const": True}})
    out = Codec(schema).decode("Req", Codec(schema).encode("Req", msg))
    assert out["items"][0]["text"]["tokens"].tolist() == [1, 2]
    assert np.frombuffer(out["items"][1]["blob"], "<i8").tolist() == [7, 8]
    assert out["items"][1]["kind"] == "K_INT" and out["flag"] is True
    with pytest.raises(EncodeError, match=r"input\.items\[0\]\.data"):
        JsonMapper(schema).to_message("Req", {"input": {"items": [{"data": [1], "dtype": "str"}]}})
