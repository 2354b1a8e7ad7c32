"""JSON wire formats ↔ numpy: ModelInput, TensorData, Datum, sampling/Adam/LoRA parameters.

Everything that can be checked without running the model is checked here, so bad input is
answered with an immediate 400 naming the field.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .errors import ApiError, bad_field
from .fields import Fields, as_float, as_int, join_path

DTYPES = {"int64": np.int64, "float32": np.float32}
# dtype a plain JSON list is read as (the SDKs allow plain lists only for these keys)
KNOWN_INPUT_DTYPES = {
    "target_tokens": "int64", "weights": "float32", "advantages": "float32", "logprobs": "float32",
    "clip_low_threshold": "float32", "clip_high_threshold": "float32",
}
UNSUPPORTED_CHUNKS = ("image", "image_asset_pointer", "dmel")


def _numeric_array(values: list[Any], path: str, want_int: bool) -> np.ndarray:
    if not values:
        return np.zeros(0, dtype=np.int64 if want_int else np.float32)
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        raise bad_field(path, "must be a flat array of numbers") from None
    kind = arr.dtype.kind
    if arr.ndim != 1 or kind not in ("iu" if want_int else "iuf"):
        bad = next((i for i, v in enumerate(values)
                    if isinstance(v, bool) or not isinstance(v, int if want_int else (int, float))), 0)
        raise bad_field(join_path(path, bad), "must be an integer" if want_int else "must be a number")
    return arr.astype(np.int64 if want_int else np.float32)


def decode_tokens(value: Any, path: str, vocab_size: int) -> np.ndarray:
    """A token id list → int64 array; every id must lie in [0, vocab_size)."""
    if not isinstance(value, list):
        raise bad_field(path, "must be an array of integers")
    arr = _numeric_array(value, path, want_int=True)
    if arr.size:
        bad = (arr < 0) | (arr >= vocab_size)
        if bad.any():
            i = int(np.argmax(bad))
            raise bad_field(join_path(path, i), f"token id {int(arr[i])} is outside the vocabulary "
                            f"[0, {vocab_size})")
    return arr


def decode_model_input(f: Fields, vocab_size: int) -> np.ndarray:
    """``{chunks: [{type: "encoded_text", tokens: [...]}, ...]}`` → concatenated int64 tokens."""
    chunks = f.req_list("chunks")
    parts: list[np.ndarray] = []
    for i, raw in enumerate(chunks):
        chunk = Fields(raw, join_path(f.sub("chunks"), i))
        kind = chunk.str_("type", "encoded_text")
        if kind in UNSUPPORTED_CHUNKS:
            raise ApiError(400, f"{chunk.path}: {kind} chunks are not supported by the emulator",
                           field=chunk.sub("type"), category="user")
        if kind != "encoded_text":
            raise bad_field(chunk.sub("type"), f"unknown chunk type {kind!r}")
        tokens = chunk.req_list("tokens")
        parts.append(decode_tokens(tokens, chunk.sub("tokens"), vocab_size))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def decode_tensor(value: Any, path: str, key: str) -> np.ndarray:
    """TensorData JSON ``{data, dtype, shape?}`` (or a plain list for a known key) → array."""
    if isinstance(value, list):
        dtype = KNOWN_INPUT_DTYPES.get(key)
        if dtype is None:
            raise bad_field(path, "plain arrays are only accepted for known keys; send TensorData "
                            "{data, dtype, shape}")
        return _numeric_array(value, path, want_int=dtype == "int64")
    f = Fields(value, path)
    if f.has("sparse_crow_indices") or f.has("sparse_col_indices"):
        raise ApiError(400, f"{path}: sparse tensors are not supported by the emulator",
                       field=f.sub("sparse_crow_indices"), category="user")
    dtype = f.req_str("dtype")
    if dtype not in DTYPES:
        raise bad_field(f.sub("dtype"), f"must be one of {sorted(DTYPES)}, got {dtype!r}")
    arr = _numeric_array(f.req_list("data"), f.sub("data"), want_int=dtype == "int64")
    shape_raw = f.list_("shape")
    if shape_raw is not None:
        shape = [as_int(v, join_path(f.sub("shape"), i)) for i, v in enumerate(shape_raw)]
        if any(d < 0 for d in shape):
            raise bad_field(f.sub("shape"), "dimensions must be >= 0")
        if int(np.prod(shape, dtype=np.int64)) != arr.size:
            raise bad_field(f.sub("shape"), f"shape {shape} does not match {arr.size} data elements")
        arr = arr.reshape(shape)
    return arr


def encode_tensor(arr: np.ndarray) -> dict[str, Any]:
    """Array → TensorData JSON (float arrays as float32, integer arrays as int64)."""
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64, copy=False)
        dtype = "int64"
    else:
        arr = arr.astype(np.float32, copy=False)
        dtype = "float32"
    return {"data": arr.ravel().tolist(), "dtype": dtype, "shape": list(arr.shape)}


@attrs.frozen
class LossSpec:
    """A validated loss function name plus its config."""

    loss_fn: str
    config: dict[str, float]
    input_keys: tuple[str, ...]


def decode_loss(f: Fields, backend: Any) -> LossSpec:
    """``loss_fn`` and ``loss_fn_config`` of a forward(_backward) input."""
    loss_fn = f.req_str("loss_fn")
    if loss_fn not in backend.LOSS_FUNCTIONS:
        raise bad_field(f.sub("loss_fn"), f"unknown loss function {loss_fn!r}; "
                        f"known: {', '.join(backend.LOSS_FUNCTIONS)}")
    accepted = backend.LOSS_CONFIG_KEYS.get(loss_fn, {})
    config: dict[str, float] = {}
    cfg = f.obj("loss_fn_config")
    if cfg is not None:
        for key, value in cfg.items():
            if key not in accepted:
                raise bad_field(cfg.sub(key), f"is not a config key of {loss_fn} "
                                f"(accepted: {', '.join(accepted) or 'none'})")
            config[key] = as_float(value, cfg.sub(key))
    required, optional = backend.LOSS_INPUT_KEYS[loss_fn]
    return LossSpec(loss_fn, config, tuple(required) + tuple(optional))


def decode_datums(f: Fields, loss: LossSpec, backend: Any) -> list[Any]:
    """``data: [Datum]`` → the model's ``DatumArrays`` list."""
    data = f.req_list("data")
    if not data:
        raise bad_field(f.sub("data"), "must not be empty")
    required = backend.LOSS_INPUT_KEYS[loss.loss_fn][0]
    out = []
    for i, raw in enumerate(data):
        datum = Fields(raw, join_path(f.sub("data"), i))
        tokens = decode_model_input(datum.req_obj("model_input"), backend.VOCAB_SIZE)
        inputs_f = datum.obj("loss_fn_inputs") or Fields({}, datum.sub("loss_fn_inputs"))
        inputs: dict[str, np.ndarray] = {}
        for key, value in inputs_f.items():
            if key in loss.input_keys:
                inputs[key] = decode_tensor(value, inputs_f.sub(key), key)
        for key in required:
            if key not in inputs:
                raise bad_field(inputs_f.sub(key), f"is required by loss function {loss.loss_fn}")
        out.append(backend.DatumArrays(tokens=tokens, loss_fn_inputs=inputs))
    return out


def encode_forward_result(result: Any) -> dict[str, Any]:
    """The model's ForwardResult → ForwardBackwardOutput JSON."""
    return {
        "loss_fn_output_type": "ArrayRecord",
        "loss_fn_outputs": [{k: encode_tensor(np.asarray(v)) for k, v in d.items()}
                            for d in result.loss_fn_outputs],
        "metrics": {k: float(v) for k, v in result.metrics.items()},
    }


@attrs.frozen
class AdamArgs:
    """Adam hyper-parameters (defaults as the SDKs' AdamParams)."""

    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-12
    weight_decay: float = 0.0
    grad_clip_norm: float = 0.0


def decode_adam(f: Fields) -> AdamArgs:
    """``adam_params`` object → AdamArgs, each value range-checked."""
    d = AdamArgs()
    args = AdamArgs(*(f.float_(name, getattr(d, name)) for name in attrs.fields_dict(AdamArgs)))
    checks = {"learning_rate": args.learning_rate > 0, "beta1": 0 <= args.beta1 < 1,
              "beta2": 0 <= args.beta2 < 1, "eps": args.eps > 0,
              "weight_decay": args.weight_decay >= 0, "grad_clip_norm": args.grad_clip_norm >= 0}
    rules = {"learning_rate": "> 0", "beta1": "in [0, 1)", "beta2": "in [0, 1)", "eps": "> 0",
             "weight_decay": ">= 0", "grad_clip_norm": ">= 0"}
    for name, ok in checks.items():
        if not ok:
            raise bad_field(f.sub(name), f"must be {rules[name]}")
    return args


def decode_lora(f: Fields | None, backend: Any) -> Any:
    """``lora_config`` → the model's LoraSpec (rank defaults to 32)."""
    f = f or Fields({}, "lora_config")
    return backend.LoraSpec(
        rank=f.int_("rank", 32, minimum=1),
        seed=f.int_("seed"),
        train_mlp=f.bool_("train_mlp", True),
        train_attn=f.bool_("train_attn", True),
        train_unembed=f.bool_("train_unembed", True),
    )
