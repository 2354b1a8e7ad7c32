"""Frozen base weights (seeded from the model name) and LoRA adapter initialisation."""

from __future__ import annotations

import hashlib

import numpy as np

from .types import VOCAB_SIZE, Dims, LoraSpec

ARCHITECTURE = "tinkex-tiny-lm"
SEED_DOMAIN = "tinkex-tiny-lm/v1"

# LoRA target -> (flag group, input dim name, output dim name).
TARGETS: dict[str, tuple[str, str, str]] = {
    "attn.q": ("attn", "d_model", "d_model"),
    "attn.k": ("attn", "d_model", "d_model"),
    "attn.v": ("attn", "d_model", "d_model"),
    "attn.o": ("attn", "d_model", "d_model"),
    "mlp.up": ("mlp", "d_model", "d_ff"),
    "mlp.down": ("mlp", "d_ff", "d_model"),
    "unembed": ("unembed", "d_model", "vocab"),
}


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from a SHA-256 of the parts: identical in every process and platform."""
    text = "\x1f".join(str(p) for p in (SEED_DOMAIN, *parts))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def target_shape(target: str, dims: Dims) -> tuple[int, int]:
    """(in, out) of a target's weight matrix (row-vector convention: ``y = x @ W``)."""
    sizes = {"d_model": dims.d_model, "d_ff": dims.d_ff, "vocab": VOCAB_SIZE}
    _, d_in, d_out = TARGETS[target]
    return sizes[d_in], sizes[d_out]


def trained_targets(lora: LoraSpec) -> tuple[str, ...]:
    """The targets whose flag group the LoRA spec trains, in a fixed order."""
    on = {"attn": lora.train_attn, "mlp": lora.train_mlp, "unembed": lora.train_unembed}
    return tuple(t for t, (group, _, _) in TARGETS.items() if on[group])


def base_weights(base_model: str, dims: Dims, dtype: np.dtype) -> dict[str, np.ndarray]:
    """The frozen base: embedding plus every target matrix, drawn from the name's seed.

    Drawn in float64 then cast, so float32 and float64 models share the same base. Scales keep
    unit-variance activations after each RMS norm, attention scores and logits of std ~1.
    """
    rng = np.random.default_rng(stable_seed("base", base_model, dims.d_model, dims.d_ff))
    out = {"embed": rng.standard_normal((VOCAB_SIZE, dims.d_model))}
    for target in TARGETS:
        d_in, d_out = target_shape(target, dims)
        out[target] = rng.standard_normal((d_in, d_out)) / np.sqrt(d_in)
    return {k: v.astype(dtype) for k, v in out.items()}


def init_lora(base_model: str, lora: LoraSpec, dims: Dims, dtype: np.dtype) -> dict[str, np.ndarray]:
    """LoRA parameters ``lora.<target>.A`` (random, std 1/sqrt(in)) and ``.B`` (zero).

    With B = 0 a fresh adapter leaves the base model unchanged.
    """
    if lora.seed is None:
        seed = stable_seed("lora", base_model, lora.rank)
    else:
        seed = stable_seed("lora-seed", lora.seed)
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for target in TARGETS:  # draw for every target so a flag does not shift the others' values
        d_in, d_out = target_shape(target, dims)
        a = (rng.standard_normal((d_in, lora.rank)) / np.sqrt(d_in)).astype(dtype)
        if target in trained_targets(lora):
            out[f"lora.{target}.A"] = a
            out[f"lora.{target}.B"] = np.zeros((lora.rank, d_out), dtype=dtype)
    return out
