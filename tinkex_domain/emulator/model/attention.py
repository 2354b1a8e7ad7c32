"""Single-head causal sliding-window attention with an ALiBi distance bias, forward and backward.

Query position ``t`` sees key positions ``s`` with ``t - window < s <= t``; its score is
``q_t . k_s / sqrt(d) - slope * (t - s)``. Sequences no longer than the window use one dense
``T x T`` score matrix; longer ones are cut into blocks of ``window`` queries, each scoring the
keys of its own block and the block before it (``window x 2*window``), so cost and memory grow
linearly with length. Both paths compute exactly the same function.
"""

from __future__ import annotations

import attrs
import numpy as np


@attrs.define
class AttnCache:
    """What the backward pass needs from the forward pass."""

    q: np.ndarray  # (B, nb, W, d) blocked, or (B, T, d) dense
    k: np.ndarray
    v: np.ndarray
    probs: np.ndarray  # (B, nb, W, 2W) or (B, T, T)
    length: int
    blocked: bool


def _dense_bias(length: int, slope: float, dtype: np.dtype) -> np.ndarray:
    t = np.arange(length)
    dist = t[:, None] - t[None, :]
    return np.where(dist >= 0, -slope * dist, -np.inf).astype(dtype)


def _block_bias(window: int, slope: float, dtype: np.dtype) -> np.ndarray:
    """(2, W, 2W): bias for block 0 (no previous block) and for every later block."""
    i = np.arange(window)[:, None]
    c = np.arange(2 * window)[None, :]
    dist = i + window - c  # query pos - key pos
    later = np.where((dist >= 0) & (dist < window), -slope * dist, -np.inf)
    first = np.where(c >= window, later, -np.inf)
    return np.stack([first, later]).astype(dtype)


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _with_previous(x: np.ndarray) -> np.ndarray:
    """(B, nb, W, d) -> (B, nb, 2W, d): each block preceded by the block before it (zeros first)."""
    prev = np.zeros_like(x)
    prev[:, 1:] = x[:, :-1]
    return np.concatenate([prev, x], axis=2)


def attn_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int,
                 slope: float) -> tuple[np.ndarray, AttnCache]:
    """Attention output (B, T, d) for projected q, k, v of shape (B, T, d)."""
    batch, length, d = q.shape
    scale = 1.0 / np.sqrt(d)
    if length <= window:
        scores = np.matmul(q, k.transpose(0, 2, 1))
        scores *= scale
        scores += _dense_bias(length, slope, q.dtype)
        probs = _softmax_rows(scores)
        return np.matmul(probs, v), AttnCache(q, k, v, probs, length, blocked=False)
    nb = -(-length // window)
    pad = nb * window - length

    def blocks(x: np.ndarray) -> np.ndarray:
        return np.pad(x, ((0, 0), (0, pad), (0, 0))).reshape(batch, nb, window, d)

    qb, kb, vb = blocks(q), _with_previous(blocks(k)), _with_previous(blocks(v))
    scores = np.matmul(qb, kb.transpose(0, 1, 3, 2))
    scores *= scale
    bias = _block_bias(window, slope, q.dtype)
    scores[:, :1] += bias[0]
    scores[:, 1:] += bias[1]
    probs = _softmax_rows(scores)
    out = np.matmul(probs, vb).reshape(batch, nb * window, d)[:, :length]
    return out, AttnCache(qb, kb, vb, probs, length, blocked=True)


def attn_backward(d_out: np.ndarray, cache: AttnCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients (dq, dk, dv), each (B, T, d), from the output gradient (B, T, d)."""
    d = d_out.shape[-1]
    scale = 1.0 / np.sqrt(d)
    probs = cache.probs
    if not cache.blocked:
        d_probs = np.matmul(d_out, cache.v.transpose(0, 2, 1))
        d_scores = probs * (d_probs - (d_probs * probs).sum(axis=-1, keepdims=True))
        d_scores *= scale
        dq = np.matmul(d_scores, cache.k)
        dk = np.matmul(d_scores.transpose(0, 2, 1), cache.q)
        dv = np.matmul(probs.transpose(0, 2, 1), d_out)
        return dq, dk, dv
    batch, nb, window, _ = cache.q.shape
    pad = nb * window - cache.length
    dob = np.pad(d_out, ((0, 0), (0, pad), (0, 0))).reshape(batch, nb, window, d)
    d_probs = np.matmul(dob, cache.v.transpose(0, 1, 3, 2))
    d_scores = probs * (d_probs - (d_probs * probs).sum(axis=-1, keepdims=True))
    d_scores *= scale
    dqb = np.matmul(d_scores, cache.k)
    dkb = np.matmul(d_scores.transpose(0, 1, 3, 2), cache.q)
    dvb = np.matmul(probs.transpose(0, 1, 3, 2), dob)

    def unblock(x: np.ndarray) -> np.ndarray:
        own = x[:, :, window:].copy()
        own[:, :-1] += x[:, 1:, :window]  # a block's keys also served the next block
        return own.reshape(batch, nb * window, d)[:, :cache.length]

    return dqb.reshape(batch, nb * window, d)[:, :cache.length], unblock(dkb), unblock(dvb)


def attn_step(q: np.ndarray, keys: np.ndarray, values: np.ndarray, dist: np.ndarray,
              slope: float) -> np.ndarray:
    """One new position per row: q (N, d) against cached keys/values (N, S, d) in any slot order.

    ``dist`` (S,) is each slot's distance back from the query position, ``-1`` for an empty slot.
    """
    scores = np.matmul(keys, q[:, :, None])[:, :, 0] / np.sqrt(q.shape[-1])
    scores += np.where(dist >= 0, -slope * dist, -np.inf).astype(q.dtype)
    probs = _softmax_rows(scores)
    return np.matmul(probs[:, None, :], values)[:, 0]
