"""Retry policies: resolving the effective policy of a call, backoff and ``Retry-After``.

The manifest declares named :class:`~pristine_plugins.retry.settings.RetryPolicy` objects; an
endpoint uses its own (``retry``) or the default one (``defaults.retry``). On top of that come,
in increasing precedence: client overrides (``config["retry_policies"][name]`` then
``config["retry"]``), a per-call policy name (option ``retry_policy``), per-call field overrides
(option ``retry``) and the option ``max_retries``. Every override is checked by the core's
converter against :class:`RetryPolicy` (paths and suggestions included).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.contract import with_changes
from pristine_core.errors import ValidationError
from pristine_core.pipeline import Call
from pristine_plugins.retry.settings import RetryEndpoint, RetryOptions, RetryPolicy
from pristine_runtime.backoff import exponential, retry_after_s

#: The ``enabled`` switch may appear next to policy fields in override mappings.
ENABLED = "enabled"


def apply_overrides(policy: RetryPolicy, overrides: Mapping[str, Any], where: str) -> RetryPolicy | None:
    """``policy`` with the fields of ``overrides`` replaced; None when they say ``enabled: false``.

    Raises :class:`~pristine_core.errors.ValidationError` (paths start with ``where``) for unknown
    fields or wrong values, before any request is sent.
    """
    changes = dict(overrides)
    enabled = changes.pop(ENABLED, True)
    if enabled is not True and enabled is not False:
        raise ValidationError([(f"{where}.{ENABLED}", "expected true or false")])
    updated = with_changes(policy, changes, where) if changes else policy
    return updated if enabled else None


@attrs.define
class PolicyResolver:
    """Finds the effective retry policy of a call; client-level results are cached per name."""

    policies: Mapping[str, RetryPolicy]
    client_overrides: Mapping[str, Any] = attrs.Factory(dict)
    per_policy: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    _cache: dict[str, RetryPolicy | None] = attrs.Factory(dict)

    def check(self) -> None:
        """Validate the client overrides now (at client construction), not on the first call."""
        for name, fields in self.per_policy.items():
            if name not in self.policies:
                raise ValidationError([(f"config.retry_policies.{name}", "unknown retry policy")])
            apply_overrides(self.policies[name], fields, f"config.retry_policies.{name}")
        apply_overrides(RetryPolicy(), self.client_overrides, "config.retry")

    def named(self, name: str) -> RetryPolicy | None:
        """Policy ``name`` with the client overrides applied (None when the client disabled it)."""
        if name not in self._cache:
            policy: RetryPolicy | None = self.policies[name]
            if name in self.per_policy and policy is not None:
                policy = apply_overrides(policy, self.per_policy[name], f"config.retry_policies.{name}")
            if policy is not None and self.client_overrides:
                policy = apply_overrides(policy, self.client_overrides, "config.retry")
            self._cache[name] = policy
        return self._cache[name]

    def cached(self, call: Call) -> RetryPolicy | None:
        """:meth:`for_call`, remembered in ``call.context["retry"]`` for the call's lifetime."""
        context = call.context.setdefault("retry", {})
        if "policy" not in context:
            context["policy"] = self.for_call(call)
        policy: RetryPolicy | None = context["policy"]
        return policy

    def for_call(self, call: Call) -> RetryPolicy | None:
        """The policy governing ``call``, or None for a single attempt."""
        options = call.settings_of(RetryOptions)
        explicit = options.retry_policy
        if explicit is not None and explicit not in self.policies:
            known = ", ".join(sorted(self.policies)) or "none declared"
            raise ValidationError(
                [("request_options.retry_policy", f"unknown retry policy {explicit!r} (known: {known})")]
            )
        name = explicit or call.endpoint.settings_of(RetryEndpoint).retry
        policy = self.named(name) if name else None
        per_call = options.retry
        if per_call is False:
            return None
        caller_asked = (per_call is not None and per_call is not True) or options.max_retries is not None
        if policy is None:
            # No policy (or the client switched it off): only an explicit per-call request retries.
            if not caller_asked:
                return None
            policy = self.policies[name] if name else RetryPolicy()
        if isinstance(per_call, Mapping):
            policy = apply_overrides(policy, per_call, "request_options.retry")
            if policy is None:
                return None
        if options.max_retries is not None:
            policy = attrs.evolve(policy, max_retries=options.max_retries)
        return policy


def backoff_delay(policy: RetryPolicy, retries_taken: int, rng: random.Random) -> float:
    """The policy's jittered exponential delay (:func:`pristine_runtime.backoff.exponential`)."""
    return exponential(retries_taken, policy.base_delay_s, policy.max_delay_s, jitter=policy.jitter, rng=rng)


def server_delay(policy: RetryPolicy, headers: Mapping[str, str], now: float) -> float | None:
    """The ``Retry-After`` delay when it is within ``(0, retry_after_cap_s]``, else None (backoff)."""
    delay = retry_after_s(headers, now)
    if delay is not None and 0 < delay <= policy.retry_after_cap_s:
        return delay
    return None


def should_retry_hint(headers: Mapping[str, str]) -> bool | None:
    """The server's ``x-should-retry`` verdict: True, False or None when absent."""
    hint = (headers.get("x-should-retry") or "").strip().lower()
    if hint == "true":
        return True
    if hint == "false":
        return False
    return None
