"""Merging the results of a chunked forward/backward: metric reduction and output concatenation.

A metric is named ``name:reduction``; the reduction (after the last ``:``) says how chunk
values combine, each chunk weighted by its number of datums (``loss_fn_outputs``):

``sum``, ``min``, ``max``; ``mean`` (weighted mean); ``slack`` (max minus weighted mean);
``unique`` (first value under the key, the others under ``key_2``, ``key_3``...);
``hash_unordered`` (an order-independent integer fingerprint of the values).
A name without a known reduction is averaged (weighted). Only keys of the first chunk are
produced; chunks lacking a key are left out of that key's reduction.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Mapping, Sequence

from pristine_core.logs import get_logger
from tinkex_domain.types import ForwardBackwardOutput

log = get_logger(__name__)

Values = Sequence[float]
Weights = Sequence[float]


def _mean(values: Values, weights: Weights) -> float:
    total = float(sum(weights))
    if total == 0:
        return 0.0
    return float(sum(v * w for v, w in zip(values, weights, strict=True)) / total)


def _slack(values: Values, weights: Weights) -> float:
    if float(sum(weights)) == 0:
        return 0.0
    return float(max(values)) - _mean(values, weights)


def hash_unordered(values: Values) -> int:
    """A stable, order-independent fingerprint of ``values`` (a non-negative 53-bit int)."""
    digest = hashlib.sha256()
    for value in sorted(float(v) for v in values):
        digest.update(struct.pack("<d", value))
    return int.from_bytes(digest.digest()[:8], "little") >> 11


REDUCERS: dict[str, Callable[[Values, Weights], float]] = {
    "sum": lambda v, w: float(sum(v)),
    "min": lambda v, w: float(min(v)),
    "max": lambda v, w: float(max(v)),
    "mean": _mean,
    "slack": _slack,
    "hash_unordered": lambda v, w: hash_unordered(v),
}


def reduction_of(key: str) -> str:
    """The reduction named by a metric key (the part after the last ``:``; ``mean`` if none)."""
    _, sep, suffix = key.rpartition(":")
    return suffix if sep and suffix in (*REDUCERS, "unique") else "mean"


def reduce_metrics(chunks: Sequence[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Combine per-chunk ``(metrics, weight)`` pairs into one metrics dict."""
    if not chunks:
        return {}
    out: dict[str, float] = {}
    for key in chunks[0][0]:
        present = [(m[key], w) for m, w in chunks if key in m]
        values = [float(v) for v, _ in present]
        weights = [float(w) for _, w in present]
        kind = reduction_of(key)
        if kind == "unique":
            out[key] = values[0]
            for i, value in enumerate(values[1:], start=2):
                out[f"{key}_{i}"] = value
        else:
            out[key] = REDUCERS[kind](values, weights)
    return out


def combine_forward_backward_results(results: Sequence[ForwardBackwardOutput]) -> ForwardBackwardOutput:
    """One output from chunk outputs: outputs concatenated in order, metrics reduced."""
    if not results:
        raise ValueError("no chunk results to combine")
    first = results[0].loss_fn_output_type
    if any(r.loss_fn_output_type != first for r in results[1:]):
        log.warning(
            "tinkex.chunks.loss_fn_output_type_mismatch",
            kept=first,
            seen=sorted({r.loss_fn_output_type for r in results}),
        )
    outputs = [o for r in results for o in r.loss_fn_outputs]
    metrics = reduce_metrics([(r.metrics, len(r.loss_fn_outputs)) for r in results])
    return ForwardBackwardOutput(loss_fn_output_type=first, loss_fn_outputs=outputs, metrics=metrics)
