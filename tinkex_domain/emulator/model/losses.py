"""Loss functions over per-token log-probabilities, their inputs and configs.

Each loss is a sum over tokens of an elementwise loss ``l_t``; :func:`token_losses` returns
``l_t`` and ``dl_t / dlogp_t`` (the network backpropagates the latter). ``logp`` is the model's
log-probability of the target token, ``q`` the sampler's (input ``logprobs``), ``A`` the
advantages, ``r = exp(logp - q)``. See docs/emulator-model.md for the formulas.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .types import UserInputError

LOSS_FUNCTIONS: tuple[str, ...] = ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro")

_RL_INPUTS = ("target_tokens", "logprobs", "advantages")
LOSS_INPUT_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cross_entropy": (("target_tokens",), ("weights",)),
    "importance_sampling": (_RL_INPUTS, ()),
    "ppo": (_RL_INPUTS, ()),
    "cispo": (_RL_INPUTS, ()),
    "dro": (_RL_INPUTS, ()),
}

_CLIP = {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}
LOSS_CONFIG_KEYS: dict[str, dict[str, float]] = {
    "cross_entropy": {},
    "importance_sampling": {},
    "ppo": dict(_CLIP),
    "cispo": dict(_CLIP),
    "dro": {"beta": 0.05},
}


def resolve_config(loss_fn: str, config: Mapping[str, float] | None) -> dict[str, float]:
    """The loss's full config: defaults overridden by ``config``; unknown keys are errors."""
    if loss_fn not in LOSS_FUNCTIONS:
        raise UserInputError(f"loss_fn: unknown loss function {loss_fn!r}; "
                             f"known: {', '.join(LOSS_FUNCTIONS)}")
    accepted = LOSS_CONFIG_KEYS[loss_fn]
    out = dict(accepted)
    for key, value in (config or {}).items():
        if key not in accepted:
            raise UserInputError(f"loss_fn_config.{key}: is not a config key of {loss_fn} "
                                 f"(accepted: {', '.join(accepted) or 'none'})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserInputError(f"loss_fn_config.{key}: must be a number, got {value!r}") from None
        if not np.isfinite(number):
            raise UserInputError(f"loss_fn_config.{key}: must be finite, got {number}")
        out[key] = number
    if "clip_low_threshold" in out:
        lo, hi = out["clip_low_threshold"], out["clip_high_threshold"]
        if not 0 <= lo <= hi:
            raise UserInputError(f"loss_fn_config.clip_low_threshold: need 0 <= low ({lo}) <= "
                                 f"clip_high_threshold ({hi})")
    if out.get("beta", 0.0) < 0:
        raise UserInputError(f"loss_fn_config.beta: must be >= 0, got {out['beta']}")
    return out


def neutral_input(key: str) -> float:
    """Value that padding positions get for a loss input (they are masked out anyway)."""
    return 1.0 if key == "weights" else 0.0


def token_losses(loss_fn: str, config: Mapping[str, float], logp: np.ndarray,
                 inputs: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(elementwise loss, d loss / d logp, clipped mask) for arrays shaped like ``logp``.

    ``inputs`` holds the float inputs (``weights``, ``logprobs``, ``advantages``) as needed;
    a missing ``weights`` means 1.
    """
    no_clip = np.zeros(logp.shape, dtype=bool)
    if loss_fn == "cross_entropy":
        w = inputs.get("weights")
        if w is None:
            return -logp, -np.ones_like(logp), no_clip
        return -w * logp, -w, no_clip
    q, adv = inputs["logprobs"], inputs["advantages"]
    if loss_fn == "dro":
        beta = config["beta"]
        diff = logp - q
        return -(logp * adv - 0.5 * beta * diff * diff), -(adv - beta * diff), no_clip
    with np.errstate(over="ignore"):  # an absurd q may overflow the ratio to inf; that is the loss
        ratio = np.exp(logp - q)
    if loss_fn == "importance_sampling":
        return -ratio * adv, -ratio * adv, no_clip
    lo, hi = config["clip_low_threshold"], config["clip_high_threshold"]
    clipped = np.clip(ratio, lo, hi)
    outside = (ratio < lo) | (ratio > hi)
    if loss_fn == "ppo":
        unclipped_obj, clipped_obj = ratio * adv, clipped * adv
        take_unclipped = unclipped_obj <= clipped_obj  # the min; ties keep the gradient
        loss = -np.where(take_unclipped, unclipped_obj, clipped_obj)
        grad = np.where(take_unclipped, -unclipped_obj, 0.0).astype(logp.dtype)
        return loss, grad, outside
    if loss_fn == "cispo":
        return -clipped * logp * adv, -clipped * adv, outside
    raise UserInputError(f"loss_fn: unknown loss function {loss_fn!r}")
