"""The official SDK's protobuf dialect: ForwardBackwardRequest in, ForwardBackwardOutput and
SampleResponse out. Message definitions come from the manifest's ``features.protobuf`` block and
are encoded by the ``pristine-protobuf`` codec; this module maps them to the model's arrays.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import attrs
import numpy as np

from pristine_plugins.protobuf import Codec, DecodeError, Schema, decompress

from .errors import ApiError, bad_field
from .wire import LossSpec

PROTOBUF = "application/x-protobuf"
_DTYPES: dict[str, np.dtype[Any]] = {"DTYPE_FLOAT32": np.dtype("<f4"), "DTYPE_INT64": np.dtype("<i8"),
           "DTYPE_INT32": np.dtype("<i4")}
_STOP = {"stop": "STOP_REASON_STOP", "length": "STOP_REASON_LENGTH"}


@functools.lru_cache(maxsize=1)
def codec() -> Codec:
    """The codec of the Tinker messages declared in the packaged manifest."""
    text = resources.files("tinkex_domain").joinpath("manifest.json").read_text(encoding="utf-8")
    return Codec(Schema.from_data(json.loads(text)["features"]["protobuf"]))


def is_protobuf(headers: Mapping[str, str]) -> bool:
    """Whether a request body is protobuf (by its Content-Type)."""
    return str(headers.get("Content-Type") or "").split(";")[0].strip().lower() == PROTOBUF


def wants_protobuf(headers: Mapping[str, str]) -> bool:
    """Whether the client asked for a protobuf result (``Accept: application/x-protobuf``)."""
    return PROTOBUF in str(headers.get("Accept") or "").lower()


@attrs.frozen
class ProtoForward:
    """A decoded ForwardBackwardRequest: its envelope, and either the inputs or the 400."""

    model_id: str
    seq_id: int
    forward_only: bool
    loss: LossSpec | None = None
    datums: list[Any] = attrs.Factory(list)
    error: ApiError | None = None


def _body(raw: bytes, content_encoding: str) -> bytes:
    try:
        return decompress(raw, content_encoding or "")
    except Exception as exc:
        raise ApiError(400, f"body: cannot decode Content-Encoding {content_encoding!r} ({exc})",
                       field="body", category="user") from None


def _envelope(raw: bytes) -> tuple[str, int] | None:
    """model_id (field 1) and seq_id (field 2) read from a message whose rest is broken."""
    model_id, seq_id, pos = None, None, 0
    try:
        while pos < len(raw) and (model_id is None or seq_id is None):
            tag = raw[pos]
            pos += 1
            if tag == 0x0A:  # field 1, length-delimited (single-byte length prefix needed)
                length, pos = _varint(raw, pos)
                model_id = raw[pos:pos + length].decode("utf-8")
                pos += length
            elif tag == 0x10:  # field 2, varint
                seq_id, pos = _varint(raw, pos)
            else:
                return None
    except (IndexError, UnicodeDecodeError):
        return None
    return (model_id, seq_id) if model_id is not None and seq_id is not None else None


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def decode_forward(raw: bytes, content_encoding: str, backend: Any) -> ProtoForward:
    """Parse a protobuf fwd/bwd body; a body whose envelope is readable but whose content is
    not becomes ``error`` (so its seq_id is still used); otherwise the 400 is raised."""
    body = _body(raw, content_encoding)
    try:
        msg = codec().decode("ForwardBackwardRequest", body)
    except DecodeError as exc:
        env = _envelope(body)
        error = ApiError(400, f"body: invalid ForwardBackwardRequest protobuf ({exc})",
                         field="body", category="user")
        if env is None:
            raise error from None
        return ProtoForward(env[0], env[1], False, error=error)
    model_id, seq_id = msg["model_id"], msg["seq_id"]
    if not model_id:
        raise bad_field("model_id", "is required")
    try:
        loss = _loss(msg, backend)
        datums = _datums(msg["data"], loss, backend)
    except ApiError as exc:
        return ProtoForward(model_id, seq_id, msg["forward_only"], error=exc)
    return ProtoForward(model_id, seq_id, msg["forward_only"], loss, datums)


def _loss(msg: Mapping[str, Any], backend: Any) -> LossSpec:
    loss_fn = msg["loss_fn"]
    if loss_fn not in backend.LOSS_FUNCTIONS:
        raise bad_field("loss_fn", f"unknown loss function {loss_fn!r}; known: "
                        f"{', '.join(backend.LOSS_FUNCTIONS)}")
    accepted = backend.LOSS_CONFIG_KEYS.get(loss_fn, {})
    config: dict[str, float] = dict(msg["loss_fn_config"])
    for key, value in msg["loss_fn_config_v2"].items():
        if "text" in value:
            raise bad_field(f"loss_fn_config_v2.{key}", "text values are not accepted by "
                            f"{loss_fn}")
        config[key] = float(value.get("number", 0.0))
    for key in config:
        if key not in accepted:
            raise bad_field(f"loss_fn_config.{key}", f"is not a config key of {loss_fn} "
                            f"(accepted: {', '.join(accepted) or 'none'})")
    required, optional = backend.LOSS_INPUT_KEYS[loss_fn]
    return LossSpec(loss_fn, config, tuple(required) + tuple(optional))


def _tokens(chunks: list[Mapping[str, Any]], path: str, vocab: int) -> np.ndarray:
    parts = []
    for i, chunk in enumerate(chunks):
        text = chunk.get("encoded_text")
        if text is None:
            kind = next(iter(chunk), "empty")
            raise ApiError(400, f"{path}[{i}]: {kind} chunks are not supported by the emulator",
                           field=f"{path}[{i}]", category="user")
        parts.append(text["tokens"])
    tokens = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    bad = (tokens < 0) | (tokens >= vocab)
    if bad.any():
        j = int(np.argmax(bad))
        raise bad_field(f"{path}.tokens[{j}]", f"token id {int(tokens[j])} is outside the "
                        f"vocabulary [0, {vocab})")
    return tokens


def _tensor(t: Mapping[str, Any], path: str) -> np.ndarray:
    if "sparse_csr" in t:
        raise ApiError(400, f"{path}: sparse tensors are not supported by the emulator",
                       field=path, category="user")
    dtype = _DTYPES.get(str(t["dtype"]))
    if dtype is None:
        raise bad_field(f"{path}.dtype", f"unsupported dtype {t['dtype']!r}")
    dense = t.get("dense", b"")
    if len(dense) % dtype.itemsize:
        raise bad_field(f"{path}.dense", f"{len(dense)} bytes is not a whole number of {dtype}")
    arr = np.frombuffer(dense, dtype=dtype)
    arr = arr.astype(np.int64 if dtype.kind == "i" else np.float32)
    shape = [int(d) for d in t["shape"]]
    if shape:
        if any(d < 0 for d in shape) or int(np.prod(shape)) != arr.size:
            raise bad_field(f"{path}.shape", f"shape {shape} does not match {arr.size} elements")
        arr = arr.reshape(shape)
    return arr


def _datums(data: list[Mapping[str, Any]], loss: LossSpec, backend: Any) -> list[Any]:
    if not data:
        raise bad_field("data", "must not be empty")
    required = backend.LOSS_INPUT_KEYS[loss.loss_fn][0]
    out = []
    for i, datum in enumerate(data):
        path = f"data[{i}]"
        tokens = _tokens(datum["model_input"], f"{path}.model_input", backend.VOCAB_SIZE)
        inputs = {key: _tensor(t, f"{path}.loss_fn_inputs.{key}")
                  for key, t in datum["loss_fn_inputs"].items() if key in loss.input_keys}
        for key in required:
            if key not in inputs:
                raise bad_field(f"{path}.loss_fn_inputs.{key}", f"is required by loss function "
                                f"{loss.loss_fn}")
        out.append(backend.DatumArrays(tokens=tokens, loss_fn_inputs=inputs))
    return out


# --------------------------------------------------------------------------- results
def _batched(arrays: list[np.ndarray]) -> dict[str, Any]:
    """Per-datum arrays → BatchedTensor (data concatenated, N+1 byte offsets)."""
    ints = all(a.dtype.kind in "iub" for a in arrays)
    dtype = np.dtype("<i8") if ints else np.dtype("<f4")
    blobs = [np.ascontiguousarray(a, dtype=dtype).ravel().tobytes() for a in arrays]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    trailing = list(arrays[0].shape[1:]) if arrays and arrays[0].ndim > 1 else []
    return {"data": b"".join(blobs), "offsets": offsets,
            "dtype": "DTYPE_INT64" if ints else "DTYPE_FLOAT32", "trailing_shape": trailing}


def encode_forward_output(result: Mapping[str, Any]) -> bytes:
    """A ForwardBackwardOutput JSON result (as the emulator stores it) → protobuf bytes."""
    outputs = result.get("loss_fn_outputs") or []
    records = []
    if outputs:
        keys = list(outputs[0])
        fields = {key: _batched([_json_tensor(o[key]) for o in outputs]) for key in keys}
        records.append({"type_tag": "ArrayRecord", "fields": fields, "num_datums": len(outputs)})
    return codec().encode("ForwardBackwardOutput", {
        "loss_fn_output_type": str(result.get("loss_fn_output_type") or "ArrayRecord"),
        "loss_fn_outputs": records, "metrics": dict(result.get("metrics") or {})})


def _json_tensor(t: Mapping[str, Any]) -> np.ndarray:
    arr = np.asarray(t["data"], dtype=np.int64 if t.get("dtype") == "int64" else np.float32)
    return arr.reshape(t["shape"]) if t.get("shape") else arr


#: The (token id, logprob) a TopkLogprobs matrix holds where a position has fewer than k
#: entries, or none (the official SDK reads a row starting with it as "not computed").
TOPK_PAD = (0, -99999.0)


def _topk(rows: list[Any] | None) -> dict[str, Any]:
    """JSON rows of (token, logprob) pairs (a row may be None) → TopkLogprobs matrices."""
    rows = rows or []
    k = max((len(row) for row in rows if row), default=0)
    ids = np.full((len(rows), k), TOPK_PAD[0], dtype=np.int32)
    lps = np.full((len(rows), k), TOPK_PAD[1], dtype=np.float32)
    for i, row in enumerate(rows):
        for j, (tok, lp) in enumerate(row or []):
            ids[i, j], lps[i, j] = tok, lp
    return {"token_ids": ids, "logprobs": lps, "k": k, "length": len(rows)}


def _proto_tensor(t: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON TensorData → a dense protobuf Tensor."""
    ints = t.get("dtype") == "int64"
    data = np.asarray(t["data"], dtype=np.int64 if ints else np.float32)
    return {"dense": data.tobytes(), "dtype": "DTYPE_INT64" if ints else "DTYPE_FLOAT32",
            "shape": list(t.get("shape") or [data.size])}


def encode_sample_response(result: Mapping[str, Any]) -> bytes:
    """A SampleResponse JSON result (as the emulator stores it) → protobuf bytes."""
    sequences = []
    for s in result.get("sequences") or []:
        seq = {"stop_reason": _STOP.get(s.get("stop_reason"), "STOP_REASON_LENGTH"),
               "tokens": np.asarray(s["tokens"], dtype=np.int32),
               "logprobs": np.asarray(s.get("logprobs") or [], dtype=np.float32)}
        if s.get("topk_logprobs") is not None:
            seq["topk_sampled_logprobs"] = _topk(s["topk_logprobs"])
        sequences.append(seq)
    msg: dict[str, Any] = {"sequences": sequences}
    plp = result.get("prompt_logprobs")
    if plp is not None:
        msg["prompt_logprobs"] = np.asarray([np.nan if x is None else x for x in plp], np.float32)
    if result.get("topk_prompt_logprobs") is not None:
        msg["topk_prompt_logprobs"] = _topk(result["topk_prompt_logprobs"])
    if result.get("target_prompt_logprobs") is not None:
        msg["target_prompt_logprobs"] = _proto_tensor(result["target_prompt_logprobs"])
    alt = result.get("prompt_alt_tokens")
    if alt is not None:
        msg["prompt_alt_tokens"] = {"tokens": _proto_tensor(alt["tokens"]), "logprobs": _proto_tensor(alt["logprobs"])}
    return codec().encode("SampleResponse", msg)
