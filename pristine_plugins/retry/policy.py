"""Retry policies: resolving the effective policy of a call, backoff and ``Retry-After``.

The manifest declares named :class:`~pristine_core.manifest.models.RetryPolicy` objects; an
endpoint uses its own (``retry``) or the default one (``defaults.retry``). On top of that come,
in increasing precedence: client overrides (``config["retry_policies"][name]`` then
``config["retry"]``), a per-call policy name (``RequestOptions.retry``), per-call field overrides
(``extensions["retry"]``) and ``RequestOptions.max_retries``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.backoff import exponential, retry_after_s
from pristine_core.errors import ValidationError
from pristine_core.manifest.models import HTTP_METHODS, PauseRule, RetryPolicy
from pristine_core.pipeline import Call

#: The ``enabled`` switch may appear next to policy fields in override mappings.
ENABLED = "enabled"
_FIELDS = {f.name for f in attrs.fields(RetryPolicy)}
_INT_FIELDS = {"max_retries"}
_FLOAT_FIELDS = {"base_delay_s", "max_delay_s", "jitter", "retry_after_cap_s"}
_BOOL_FIELDS = {"retry_connection_errors", "retry_timeouts", "respect_should_retry"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _convert(key: str, value: Any) -> tuple[Any, str | None]:
    """Convert one override value to the field's type; the second item is a problem or None."""
    if key in _INT_FIELDS:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value, None if ok else "expected an integer >= 0"
    if key in _FLOAT_FIELDS:
        if not _number(value) or value < 0 or (key == "jitter" and value > 1):
            return value, "expected a number between 0 and 1" if key == "jitter" else "expected a number >= 0"
        return float(value), None
    if key == "deadline_s":
        if value is None:
            return None, None
        return (float(value), None) if _number(value) and value > 0 else (value, "expected a positive number or null")
    if key in _BOOL_FIELDS:
        return value, None if isinstance(value, bool) else "expected true or false"
    if key == "retry_statuses":
        statuses = tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else None
        if statuses is None or not all(isinstance(s, int) and not isinstance(s, bool) for s in statuses):
            return value, "expected a list of HTTP status codes"
        return tuple(sorted(statuses)), None
    if key == "retry_methods":
        if value is None:
            return None, None
        methods = tuple(str(m).upper() for m in value) if isinstance(value, (list, tuple, set)) else None
        if methods is None or not all(m in HTTP_METHODS for m in methods):
            return value, f"expected null or a list of {', '.join(HTTP_METHODS)}"
        return methods, None
    if key == "pause_statuses":
        return _pause_rules(value)
    return value, "unknown retry policy field"


def _pause_rules(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, Mapping):
        return value, 'expected {"<status>": {"delay_s": ..., "max_pause_s": ...}}'
    rules: dict[str, PauseRule] = {}
    for status, rule in value.items():
        if not str(status).isdigit():
            return value, f"pause status keys must be HTTP status codes, got {status!r}"
        if isinstance(rule, PauseRule):
            rules[str(status)] = rule
            continue
        if not isinstance(rule, Mapping) or set(rule) - {"delay_s", "max_pause_s"}:
            return value, "a pause rule has delay_s and max_pause_s"
        if not all(_number(v) and v >= 0 for v in rule.values()):
            return value, "pause delays must be numbers >= 0"
        rules[str(status)] = PauseRule(**{k: float(v) for k, v in rule.items()})
    return rules, None


def apply_overrides(policy: RetryPolicy, overrides: Mapping[str, Any], where: str) -> RetryPolicy | None:
    """``policy`` with the fields of ``overrides`` replaced; None when they say ``enabled: false``.

    Raises :class:`~pristine_core.errors.ValidationError` (paths start with ``where``) for unknown
    fields or wrong values, before any request is sent.
    """
    if not isinstance(overrides, Mapping):
        raise ValidationError([(where, "expected a mapping of retry policy fields")])
    changes: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    enabled = True
    for key, value in overrides.items():
        if key == ENABLED:
            if not isinstance(value, bool):
                problems.append((f"{where}.{key}", "expected true or false"))
            enabled = bool(value)
            continue
        if key not in _FIELDS:
            problems.append((f"{where}.{key}", "unknown retry policy field"))
            continue
        converted, problem = _convert(key, value)
        if problem:
            problems.append((f"{where}.{key}", problem))
        else:
            changes[key] = converted
    if problems:
        raise ValidationError(problems)
    if not enabled:
        return None
    return attrs.evolve(policy, **changes) if changes else policy


@attrs.define
class PolicyResolver:
    """Finds the effective retry policy of a call; client-level results are cached per name."""

    policies: Mapping[str, RetryPolicy]
    default_name: str | None
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
        options = call.options
        explicit = options.retry
        if explicit is not None and explicit not in self.policies:
            known = ", ".join(sorted(self.policies)) or "none declared"
            raise ValidationError([("request_options.retry", f"unknown retry policy {explicit!r} (known: {known})")])
        name = explicit or call.endpoint.retry or self.default_name
        policy = self.named(name) if name else None
        per_call = call.option("retry")
        if per_call is False:
            return None
        caller_asked = per_call is not None or options.max_retries is not None
        if policy is None:
            # No policy (or the client switched it off): only an explicit per-call request retries.
            if not caller_asked:
                return None
            policy = self.policies[name] if name else RetryPolicy()
        if per_call is not None:
            policy = apply_overrides(policy, per_call, "request_options.extensions.retry")
            if policy is None:
                return None
        if options.max_retries is not None:
            value, problem = _convert("max_retries", options.max_retries)
            if problem:
                raise ValidationError([("request_options.max_retries", problem)])
            policy = attrs.evolve(policy, max_retries=value)
        return policy


def backoff_delay(policy: RetryPolicy, retries_taken: int, rng: random.Random) -> float:
    """The policy's jittered exponential delay (:func:`pristine_core.backoff.exponential`)."""
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
