"""Autoregressive decoding with a key/value cache: temperature, top-k, top-p, stops and seeds."""

from __future__ import annotations

import numpy as np

from .network import Network
from .types import SampledSequence, UserInputError


def check_sampling_args(max_tokens: int, temperature: float, top_k: int, top_p: float,
                        stop: list[list[int]] | None, num_samples: int, vocab: int) -> list[list[int]]:
    """Validate sampling options; returns the non-empty stop sequences."""
    if max_tokens < 0:
        raise UserInputError(f"sampling_params.max_tokens: must be >= 0, got {max_tokens}")
    if not temperature >= 0:
        raise UserInputError(f"sampling_params.temperature: must be >= 0, got {temperature}")
    if top_k != -1 and top_k < 1:
        raise UserInputError(f"sampling_params.top_k: must be -1 (off) or >= 1, got {top_k}")
    if not 0 < top_p <= 1:
        raise UserInputError(f"sampling_params.top_p: must be in (0, 1], got {top_p}")
    if num_samples < 1:
        raise UserInputError(f"num_samples: must be >= 1, got {num_samples}")
    stops: list[list[int]] = []
    for i, seq in enumerate(stop or []):
        ids = [int(t) for t in seq]
        if not ids:
            raise UserInputError(f"sampling_params.stop[{i}]: must not be empty")
        if any(not 0 <= t < vocab for t in ids):
            raise UserInputError(f"sampling_params.stop[{i}]: token ids must be in [0, {vocab})")
        stops.append(ids)
    return stops


def choose(logp: np.ndarray, temperature: float, top_k: int, top_p: float,
           rng: np.random.Generator) -> np.ndarray:
    """One token per row of log-probabilities (N, V).

    Greedy (lowest id on ties) when ``temperature == 0``; otherwise from ``softmax(logp / T)``
    restricted to the ``top_k`` most likely tokens, then to the smallest most-likely set whose
    mass reaches ``top_p``, renormalised. One uniform draw per row, by inverse CDF.
    """
    if temperature == 0:
        return np.argmax(logp, axis=-1)
    n, vocab = logp.shape
    z = logp.astype(np.float64) / temperature
    filtered = 0 < top_k < vocab or top_p < 1.0
    order = np.argsort(-z, axis=-1, kind="stable") if filtered else None
    if order is not None:
        z = np.take_along_axis(z, order, axis=-1)
    probs = np.exp(z - z.max(axis=-1, keepdims=True))
    if 0 < top_k < vocab:
        probs[:, top_k:] = 0.0
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p < 1.0:
        before = np.cumsum(probs, axis=-1) - probs  # mass of the strictly more likely tokens
        probs = np.where(before < top_p, probs, 0.0)
        probs /= probs.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(probs, axis=-1)
    draws = rng.random(n) * cdf[:, -1]
    # first index whose cdf reaches the draw: it always has positive mass
    rank = np.minimum((cdf < draws[:, None]).sum(axis=-1), vocab - 1)
    return rank if order is None else order[np.arange(n), rank]


def _ends_with_stop(tokens: list[int], stops: list[list[int]]) -> bool:
    return any(len(tokens) >= len(s) and tokens[-len(s):] == s for s in stops)


def sample(net: Network, prompt: np.ndarray, *, max_tokens: int, temperature: float, top_k: int,
           top_p: float, stops: list[list[int]], rng: np.random.Generator,
           num_samples: int) -> list[SampledSequence]:
    """``num_samples`` continuations of ``prompt``, decoded together.

    The reported logprob of a token is the model's own (temperature 1, unfiltered), the same
    value forward() gives for it. A stop sequence that is matched is part of the output.
    """
    cache = net.forward(prompt[None, :])
    length, window = prompt.size, net.dims.window
    keys = np.zeros((num_samples, window, net.dims.d_model), dtype=cache.k.dtype)
    values = np.zeros_like(keys)
    tail = np.arange(max(0, length - window), length)  # the prompt's visible tail, in ring slots
    keys[:, tail % window] = cache.k[0, tail]
    values[:, tail % window] = cache.v[0, tail]
    logp = np.repeat(cache.logprobs[0, -1:], num_samples, axis=0)
    out_tokens: list[list[int]] = [[] for _ in range(num_samples)]
    out_lps: list[list[float]] = [[] for _ in range(num_samples)]
    reasons = ["length"] * num_samples
    active = np.arange(num_samples)
    for pos in range(length, length + max_tokens):
        picked = choose(logp, temperature, top_k, top_p, rng)
        chosen_lp = logp[np.arange(active.size), picked]
        running = np.ones(active.size, dtype=bool)
        for j, row in enumerate(active.tolist()):
            out_tokens[row].append(int(picked[j]))
            out_lps[row].append(float(chosen_lp[j]))
            if stops and _ends_with_stop(out_tokens[row], stops):
                reasons[row] = "stop"
                running[j] = False
        if pos == length + max_tokens - 1:
            break
        if not running.all():
            active, picked = active[running], picked[running]
            keys, values = keys[running], values[running]
            if active.size == 0:
                break
        logp = net.step(picked, keys, values, pos)
    return [SampledSequence(out_tokens[i], out_lps[i], reasons[i]) for i in range(num_samples)]
