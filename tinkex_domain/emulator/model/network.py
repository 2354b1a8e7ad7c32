"""The tiny transformer: forward with caches, exact backward to the weight matrices, decoding.

One pre-norm block over byte embeddings (no learned norm gains, no biases)::

    h0 = E[tokens]
    h1 = h0 + Attn(rms(h0) @ Wq, rms(h0) @ Wk, rms(h0) @ Wv) @ Wo
    h2 = h1 + silu(rms(h1) @ Wup) @ Wdown
    logits = rms(h2) @ Wunembed

Every matrix here is an *effective* weight ``W + (alpha / r) * A @ B``; the backward pass returns
the gradient with respect to each effective weight, and :mod:`.lora` maps it onto A and B.
"""

from __future__ import annotations

import attrs
import numpy as np

from .attention import AttnCache, attn_backward, attn_forward, attn_step
from .types import Dims


def rms_norm(x: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(x / rms(x), rms(x)) over the last axis."""
    r = np.sqrt(np.einsum("...i,...i->...", x, x)[..., None] * (1.0 / x.shape[-1]) + eps)
    return x / r, r


def rms_norm_backward(d_n: np.ndarray, n: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Gradient through ``n = x / rms(x)``."""
    dot = np.einsum("...i,...i->...", d_n, n)[..., None] * (1.0 / n.shape[-1])
    return (d_n - n * dot) / r


def silu(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u * sigmoid(u), sigmoid(u))."""
    with np.errstate(over="ignore"):  # exp overflow for very negative u just gives sigmoid 0
        sig = 1.0 / (1.0 + np.exp(-u))
    return u * sig, sig


def silu_backward(d_g: np.ndarray, u: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Gradient through :func:`silu`: ``sigmoid(u) * (1 + u * (1 - sigmoid(u)))``."""
    return d_g * (sig * (1.0 + u * (1.0 - sig)))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis."""
    return log_softmax_and_probs(logits)[0]


def log_softmax_and_probs(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log-probabilities, probabilities) over the last axis, with one exp."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=-1, keepdims=True)
    z -= np.log(total)
    e /= total
    return z, e


@attrs.define
class Cache:
    """Activations of one forward pass over a (B, T) token batch."""

    n1: np.ndarray
    r1: np.ndarray
    attn_out: np.ndarray
    attn: AttnCache
    h1: np.ndarray
    n2: np.ndarray
    r2: np.ndarray
    u: np.ndarray
    sig: np.ndarray
    g: np.ndarray
    n3: np.ndarray
    r3: np.ndarray
    logprobs: np.ndarray  # (B, T, V)
    probs: np.ndarray  # (B, T, V)
    k: np.ndarray  # projected keys/values, kept for decoding
    v: np.ndarray


class Network:
    """The forward/backward math over a fixed set of effective weights."""

    def __init__(self, embed: np.ndarray, weights: dict[str, np.ndarray], dims: Dims) -> None:
        self.embed = embed
        self.w = weights
        self.dims = dims
        self.qkv = np.concatenate([weights["attn.q"], weights["attn.k"], weights["attn.v"]], axis=1)

    def forward(self, tokens: np.ndarray) -> Cache:
        """Run the batch (B, T) of token ids; log-probabilities are in ``cache.logprobs``."""
        dims, w = self.dims, self.w
        h0 = self.embed[tokens]
        n1, r1 = rms_norm(h0, dims.norm_eps)
        q, k, v = np.split(n1 @ self.qkv, 3, axis=-1)
        attn_out, attn = attn_forward(q, k, v, dims.window, dims.alibi_slope)
        h1 = h0 + attn_out @ w["attn.o"]
        n2, r2 = rms_norm(h1, dims.norm_eps)
        u = n2 @ w["mlp.up"]
        g, sig = silu(u)
        h2 = h1 + g @ w["mlp.down"]
        n3, r3 = rms_norm(h2, dims.norm_eps)
        logprobs, probs = log_softmax_and_probs(n3 @ w["unembed"])
        return Cache(n1, r1, attn_out, attn, h1, n2, r2, u, sig, g, n3, r3, logprobs, probs, k, v)

    def backward(self, cache: Cache, d_logits: np.ndarray, groups: frozenset[str]) -> dict[str, np.ndarray]:
        """Gradients of the effective weights in ``groups`` ("attn", "mlp", "unembed").

        Stops as soon as no requested group lies further down the network.
        """
        w = self.w
        grads: dict[str, np.ndarray] = {}

        def outer(x: np.ndarray, dy: np.ndarray) -> np.ndarray:
            return x.reshape(-1, x.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])

        if "unembed" in groups:
            grads["unembed"] = outer(cache.n3, d_logits)
        if not groups & {"mlp", "attn"}:
            return grads
        d_h2 = rms_norm_backward(d_logits @ w["unembed"].T, cache.n3, cache.r3)
        if "mlp" in groups:
            grads["mlp.down"] = outer(cache.g, d_h2)
        d_u = silu_backward(d_h2 @ w["mlp.down"].T, cache.u, cache.sig)
        if "mlp" in groups:
            grads["mlp.up"] = outer(cache.n2, d_u)
        if "attn" not in groups:
            return grads
        d_h1 = d_h2 + rms_norm_backward(d_u @ w["mlp.up"].T, cache.n2, cache.r2)
        grads["attn.o"] = outer(cache.attn_out, d_h1)
        dq, dk, dv = attn_backward(d_h1 @ w["attn.o"].T, cache.attn)
        for name, dy in (("attn.q", dq), ("attn.k", dk), ("attn.v", dv)):
            grads[name] = outer(cache.n1, dy)
        return grads

    # ---------------------------------------------------------------- decoding
    def step(self, tokens: np.ndarray, keys: np.ndarray, values: np.ndarray,
             pos: int) -> np.ndarray:
        """Log-probabilities (N, V) after feeding ``tokens`` (N,) at position ``pos``.

        ``keys``/``values`` (N, window, d) are a ring: position ``p`` lives in slot
        ``p % window``. Slot ``pos % window`` is written here.
        """
        dims, w = self.dims, self.w
        h0 = self.embed[tokens]
        n1, _ = rms_norm(h0, dims.norm_eps)
        qkv = n1 @ self.qkv
        d = dims.d_model
        q, k, v = qkv[:, :d], qkv[:, d:2 * d], qkv[:, 2 * d:]
        slot = pos % dims.window
        keys[:, slot] = k
        values[:, slot] = v
        dist = (pos - np.arange(dims.window)) % dims.window
        dist = np.where(dist <= pos, dist, -1)
        attn_out = attn_step(q, keys, values, dist, dims.alibi_slope)
        h1 = h0 + attn_out @ w["attn.o"]
        n2, _ = rms_norm(h1, dims.norm_eps)
        h2 = h1 + silu(n2 @ w["mlp.up"])[0] @ w["mlp.down"]
        n3, _ = rms_norm(h2, dims.norm_eps)
        return log_softmax(n3 @ w["unembed"])
