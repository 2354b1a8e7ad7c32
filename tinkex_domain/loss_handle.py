"""``LossHandle``: a per-datum custom loss created by ``ServiceClient.create_custom_loss``.

A :data:`PerDatumLossFn` takes ``logprobs`` (one datum's target logprobs) first, then one tensor
per ``loss_fn_inputs`` key it reads, and returns ``(loss, metrics)``: a scalar tensor and a dict
of scalar tensors keyed ``custom/<name>:sum`` or ``custom/<name>:mean``. The handle checks the
function's parameters against ``input_ranks`` when it is created and runs client-side (torch
autograd gives the gradients): per-datum losses are summed, ``:sum`` metrics summed and
``:mean`` metrics averaged over the datums.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from pristine_core.errors import ValidationError
from tinkex_domain.types import Datum

#: ``fn(logprobs, *inputs) -> (loss, metrics)`` on torch tensors.
PerDatumLossFn = Callable[..., tuple[Any, Mapping[str, Any]]]
METRIC_KEY = re.compile(r"custom/[a-z0-9_./-]{1,64}:(sum|mean)")
INPUT_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
MAX_INPUTS = 16
RANKS = (0, 1, 2)


@attrs.frozen
class LossHandle:
    """A validated per-datum loss bound to the session that created it.

    ``inputs`` lists ``(name, rank)``: ``logprobs`` first, then the ``loss_fn_inputs`` keys the
    loss reads, in parameter order. ``loss_id`` is the server's id for an uploaded loss (None:
    it runs client-side, as every loss does against servers without server-side custom losses).
    """

    name: str
    inputs: tuple[tuple[str, int], ...]
    session_id: str
    fn: PerDatumLossFn = attrs.field(repr=False, eq=False)
    loss_id: str | None = None

    @property
    def key(self) -> str:
        """Identifies the loss (its code and declared inputs)."""
        code = getattr(self.fn, "__code__", None)
        digest = hashlib.sha256(code.co_code if code is not None else repr(self.fn).encode())
        digest.update(repr(self.inputs).encode())
        return digest.hexdigest()

    @property
    def input_keys(self) -> tuple[str, ...]:
        """The ``loss_fn_inputs`` keys the loss reads (``logprobs`` excluded)."""
        return tuple(name for name, _ in self.inputs[1:])

    def batch_loss(self, data: Sequence[Datum], logprobs: Sequence[Any]) -> tuple[Any, dict[str, Any]]:
        """The summed loss and combined metrics over a batch (torch tensors with autograd)."""
        import torch

        total: Any = None
        sums: dict[str, Any] = {}
        means: dict[str, list[Any]] = {}
        for i, (datum, lp) in enumerate(zip(data, logprobs, strict=True)):
            args = [lp]
            for key in self.input_keys:
                tensor = datum.loss_fn_inputs.get(key)
                if tensor is None:
                    raise ValidationError(
                        [(f"data[{i}].loss_fn_inputs.{key}", f"is required by loss {self.name!r}")],
                        "forward_backward_custom",
                    )
                args.append(torch.tensor(tensor.to_numpy()))
            loss, metrics = self.fn(*args)
            if getattr(loss, "ndim", None) != 0:
                raise ValueError(
                    f"loss {self.name!r} must return a scalar tensor, got shape {getattr(loss, 'shape', None)}"
                )
            total = loss if total is None else total + loss
            for key, value in dict(metrics).items():
                match = METRIC_KEY.fullmatch(key)
                if match is None:
                    raise ValueError(f"metric key {key!r} must look like custom/<name>:sum or custom/<name>:mean")
                if match.group(1) == "sum":
                    sums[key] = value if key not in sums else sums[key] + value
                else:
                    means.setdefault(key, []).append(value)
        out = dict(sums)
        out.update({key: sum(values) / len(values) for key, values in means.items()})
        return total, out

    def __call__(self, data: Sequence[Datum], logprobs: Sequence[Any]) -> tuple[Any, dict[str, Any]]:
        """The batch form ``forward_backward_custom`` runs."""
        return self.batch_loss(data, logprobs)


def make_loss_handle(fn: PerDatumLossFn, input_ranks: Mapping[str, int], session_id: str) -> LossHandle:
    """Check ``fn`` against ``input_ranks`` and return its handle (a clear error otherwise)."""
    where = "create_custom_loss"
    if not callable(fn):
        raise ValidationError([("fn", "must be callable")], where)
    if not isinstance(input_ranks, Mapping):
        raise ValidationError([("input_ranks", "expected a mapping of parameter name to rank")], where)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise ValidationError([("fn", "its signature cannot be inspected")], where) from None
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        raise ValidationError(
            [("fn", "takes plain positional parameters only (no *args, **kwargs or keyword-only)")], where
        )
    names = [p.name for p in params]
    if not names or names[0] != "logprobs":
        raise ValidationError([("fn", "its first parameter must be 'logprobs'")], where)
    if len(names) > MAX_INPUTS:
        raise ValidationError([("fn", f"takes at most {MAX_INPUTS} parameters")], where)
    if set(names) != set(input_ranks):
        missing = sorted(set(names) - set(input_ranks))
        extra = sorted(set(input_ranks) - set(names))
        problem = f"no rank for {missing}" if missing else f"{extra} are not parameters of fn"
        raise ValidationError([("input_ranks", problem)], where)
    for name in names:
        if not INPUT_NAME.fullmatch(name):
            raise ValidationError([(f"input_ranks.{name}", "must be a lower-case identifier")], where)
        rank = input_ranks[name]
        if isinstance(rank, bool) or rank not in RANKS:
            raise ValidationError([(f"input_ranks.{name}", "must be 0, 1 or 2")], where)
    name = getattr(fn, "__name__", type(fn).__name__)
    return LossHandle(name, tuple((n, int(input_ranks[n])) for n in names), session_id, fn)
