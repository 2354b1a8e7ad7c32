"""Protobuf vs JSON for one large forward_backward: encode + decode time and bytes, same run.

The request is 1,024 datums x 512 tokens (cross_entropy: target_tokens int64 + weights float32),
in the JSON shape Tinkex validates; the result is its ForwardBackwardOutput (logprobs and
elementwise_loss, float32, 512 per datum). Both sides do what a client and a server do:

- JSON: request ``json.dumps`` → bytes → ``json.loads``; result the same.
- protobuf: request mapped onto ForwardBackwardRequest (the manifest's ``json`` mappings) and
  encoded by pristine-protobuf, decoded by the same codec (as the emulator does); result as a
  ForwardBackwardOutput (BatchedTensor per field), decoded and reshaped by the manifest's
  ``result`` rules into the same JSON-shaped data ``json.loads`` gives (what the client's
  ``pristine_decode_result`` does; checked equal). A zstd-compressed request (level 3) is
  measured too.

Run: ``python bench/proto_vs_json.py``; the last line is the headline: protobuf/JSON time ratio
(encode + decode of request and result; lower is better).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

from pristine_plugins.protobuf import Codec, JsonMapper, ResultMapper, Schema, compress, decompress

DATUMS, TOKENS, ROUNDS = 1024, 512, 3
METRICS = {"loss:sum": 1.0, "num_tokens:sum": float(DATUMS * TOKENS)}
FIELDS = {"data": {"path": "forward_backward_input.data"}, "loss_fn": {"path": "forward_backward_input.loss_fn"},
          "loss_fn_config": {"path": "forward_backward_input.loss_fn_config"}}


def _schema() -> Schema:
    text = resources.files("tinkex_domain").joinpath("manifest.json").read_text(encoding="utf-8")
    return Schema.from_data(json.loads(text)["features"]["protobuf"])


def request_body(rng: np.random.Generator) -> dict[str, Any]:
    data = []
    for _ in range(DATUMS):
        tokens = rng.integers(0, 50_000, TOKENS + 1)
        data.append({
            "model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens[:-1].tolist()}]},
            "loss_fn_inputs": {
                "target_tokens": {"data": tokens[1:].tolist(), "dtype": "int64", "shape": [TOKENS]},
                "weights": {"data": rng.random(TOKENS, dtype=np.float32).tolist(), "dtype": "float32",
                            "shape": [TOKENS]},
            },
        })
    return {"model_id": "sess:train:0", "seq_id": 1, "type": "forward_backward",
            "forward_backward_input": {"data": data, "loss_fn": "cross_entropy"}}


def result_arrays(rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    return {name: [-rng.random(TOKENS, dtype=np.float32) for _ in range(DATUMS)]
            for name in ("logprobs", "elementwise_loss")}


def json_result(arrays: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    outputs = [{name: {"data": arrays[name][i].tolist(), "dtype": "float32", "shape": [TOKENS]} for name in arrays}
               for i in range(DATUMS)]
    return {"loss_fn_output_type": "ArrayRecord", "loss_fn_outputs": outputs,
            "metrics": METRICS}


def proto_result(arrays: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    fields = {}
    for name, per_datum in arrays.items():
        offsets = np.zeros(DATUMS + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([a.nbytes for a in per_datum])
        fields[name] = {"data": np.concatenate(per_datum).tobytes(), "offsets": offsets, "dtype": "DTYPE_FLOAT32"}
    return {"loss_fn_output_type": "ArrayRecord", "metrics": METRICS,
            "loss_fn_outputs": [{"type_tag": "ArrayRecord", "fields": fields, "num_datums": DATUMS}]}


def best(fn: Callable[[], Any]) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(ROUNDS):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def main() -> None:
    """Measure and print every figure; the headline is the last line."""
    rng = np.random.default_rng(20261128)
    schema = _schema()
    codec, mapper, results = Codec(schema), JsonMapper(schema), ResultMapper(schema)
    body, arrays = request_body(rng), result_arrays(rng)

    t_json_req_enc, json_req = best(lambda: json.dumps(body, separators=(",", ":")).encode())
    t_json_req_dec, _ = best(lambda: json.loads(json_req))
    # Result encode starts from the server's per-datum arrays on both sides.
    t_json_res_enc, json_res = best(lambda: json.dumps(json_result(arrays), separators=(",", ":")).encode())
    t_json_res_dec, json_back = best(lambda: json.loads(json_res))

    t_pb_req_enc, pb_req = best(lambda: codec.encode("ForwardBackwardRequest", mapper.to_message(
        "ForwardBackwardRequest", body, FIELDS)))
    t_pb_req_dec, decoded = best(lambda: codec.decode("ForwardBackwardRequest", pb_req))
    t_pb_res_enc, pb_res = best(lambda: codec.encode("ForwardBackwardOutput", proto_result(arrays)))
    t_pb_res_dec, pb_back = best(lambda: results.to_json("ForwardBackwardOutput",
                                                         codec.decode("ForwardBackwardOutput", pb_res)))
    t_zstd_enc, zreq = best(lambda: compress(pb_req, "zstd"))
    t_zstd_dec, _ = best(lambda: decompress(zreq, "zstd"))

    first = decoded["data"][0]
    assert first["model_input"][0]["encoded_text"]["tokens"].tolist() == \
        body["forward_backward_input"]["data"][0]["model_input"]["chunks"][0]["tokens"]
    assert pb_back == json_back  # the same JSON-shaped result, to the last bit

    json_t = t_json_req_enc + t_json_req_dec + t_json_res_enc + t_json_res_dec
    pb_t = t_pb_req_enc + t_pb_req_dec + t_pb_res_enc + t_pb_res_dec
    ms = 1000.0
    print(f"{DATUMS} datums x {TOKENS} tokens, best of {ROUNDS}")
    print(f"request  JSON     {len(json_req) / 1e6:7.2f} MB  encode {t_json_req_enc * ms:7.1f} ms  "
          f"decode {t_json_req_dec * ms:7.1f} ms")
    print(f"request  protobuf {len(pb_req) / 1e6:7.2f} MB  encode {t_pb_req_enc * ms:7.1f} ms  "
          f"decode {t_pb_req_dec * ms:7.1f} ms")
    print(f"request  pb+zstd  {len(zreq) / 1e6:7.2f} MB  +zstd  {t_zstd_enc * ms:7.1f} ms  "
          f"unzstd {t_zstd_dec * ms:7.1f} ms")
    print(f"result   JSON     {len(json_res) / 1e6:7.2f} MB  encode {t_json_res_enc * ms:7.1f} ms  "
          f"decode {t_json_res_dec * ms:7.1f} ms")
    print(f"result   protobuf {len(pb_res) / 1e6:7.2f} MB  encode {t_pb_res_enc * ms:7.1f} ms  "
          f"decode {t_pb_res_dec * ms:7.1f} ms")
    print(f"bytes protobuf/JSON: request {len(pb_req) / len(json_req):.3f}, result {len(pb_res) / len(json_res):.3f}")
    res_json_t, res_pb_t = t_json_res_enc + t_json_res_dec, t_pb_res_enc + t_pb_res_dec
    print(f"result time (encode + decode to JSON-shaped data) protobuf/JSON: {res_pb_t / res_json_t:.3f} "
          f"({res_pb_t * ms:.1f} ms vs {res_json_t * ms:.1f} ms)")
    print(f"time JSON {json_t * ms:.1f} ms, protobuf {pb_t * ms:.1f} ms")
    print(f"proto_vs_json_time_ratio: {pb_t / json_t:.3f}")


if __name__ == "__main__":
    main()
