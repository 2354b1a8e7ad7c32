"""Pristine plugin ``retry``: retries with backoff, idempotency keys and circuit breakers.

Everything numeric comes from the manifest (``retry_policies``, ``circuit_breakers``,
``features.retry``) with per-client (``Client(config=...)``) and per-call
(``RequestOptions``) overrides; see this plugin's README for the settings.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import hookimpl
from pristine_core.errors import ValidationError
from pristine_core.manifest.models import CircuitBreakerSpec, Manifest
from pristine_core.pipeline import Call, Middleware, Request
from pristine_core.plugins import CIRCUIT_BREAKER, RETRY
from pristine_plugins.retry.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerRegistry,
    CircuitBreaker,
    CircuitOpenError,
    apply_spec_overrides,
    spec_problems,
)
from pristine_plugins.retry.middleware import BreakerGate, RetryLoop
from pristine_plugins.retry.policy import PolicyResolver, apply_overrides, backoff_delay, retry_after_s

if TYPE_CHECKING:
    from pristine_core.client import Client

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "BreakerRegistry",
    "CircuitBreaker",
    "CircuitOpenError",
    "RetryPlugin",
    "apply_overrides",
    "backoff_delay",
    "retry_after_s",
]

FEATURE = "retry"
_HEADER_KEYS = ("idempotency_header", "attempt_header")
_NO_KEY_METHODS = ("GET", "HEAD")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError([(where, "expected a mapping")])
    return value


class RetryPlugin:
    """Retry loop (priority RETRY, outer) and circuit breaker gate (CIRCUIT_BREAKER, inside it),
    idempotency key per logical call and an attempt-count header per attempt."""

    name = "retry"
    priority = RETRY

    def __init__(self) -> None:
        self.idempotency_header: str | None = None
        self.attempt_header: str | None = None
        self.resolver: PolicyResolver | None = None
        self.breakers: BreakerRegistry | None = None
        self.breaker_specs: dict[str, CircuitBreakerSpec] = {}
        self._client: Client | None = None

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """Check ``features.retry`` and the value ranges of policies and breakers."""
        problems: list[tuple[str, str]] = []
        block = manifest.feature(FEATURE)
        if block is not None:
            for key, value in block.items():
                if key not in _HEADER_KEYS:
                    problems.append((f"features.retry.{key}", f"unknown key (known: {', '.join(_HEADER_KEYS)})"))
                elif value is not None and (not isinstance(value, str) or not value.strip()):
                    problems.append((f"features.retry.{key}", "expected a header name or null"))
        for name, policy in manifest.retry_policies.items():
            at = f"retry_policies.{name}"
            if policy.max_delay_s < policy.base_delay_s:
                problems.append((f"{at}.max_delay_s", "must be >= base_delay_s"))
            if policy.retry_after_cap_s < 0:
                problems.append((f"{at}.retry_after_cap_s", "must be >= 0"))
            if policy.deadline_s is not None and policy.deadline_s <= 0:
                problems.append((f"{at}.deadline_s", "must be positive or null"))
            for method in policy.retry_methods or ():
                if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
                    problems.append((f"{at}.retry_methods", f"unknown HTTP method {method!r}"))
            for status, rule in policy.pause_statuses.items():
                if rule.delay_s < 0 or rule.max_pause_s < 0:
                    problems.append((f"{at}.pause_statuses.{status}", "delays must be >= 0"))
        for name, spec in manifest.circuit_breakers.items():
            fields = {
                "failure_threshold": spec.failure_threshold,
                "reset_timeout_s": spec.reset_timeout_s,
                "half_open_max_calls": spec.half_open_max_calls,
            }
            problems.extend(spec_problems(fields, f"circuit_breakers.{name}"))
        return problems

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Read the header names, build the policy resolver and the breaker registry."""
        manifest = client.manifest
        block = manifest.feature(FEATURE) or {}
        self.idempotency_header = block.get("idempotency_header")
        self.attempt_header = block.get("attempt_header")
        self.resolver = PolicyResolver(
            policies=manifest.retry_policies,
            default_name=manifest.defaults.retry,
            client_overrides=_mapping(client.option("retry"), "config.retry"),
            per_policy=_mapping(client.option("retry_policies"), "config.retry_policies"),
        )
        self.resolver.check()
        overrides = _mapping(client.option("circuit_breakers"), "config.circuit_breakers")
        specs = dict(manifest.circuit_breakers)
        for name, fields in overrides.items():
            if name not in specs:
                raise ValidationError([(f"config.circuit_breakers.{name}", "unknown circuit breaker")])
            specs[name] = apply_spec_overrides(specs[name], fields, f"config.circuit_breakers.{name}")
        self.breaker_specs = specs
        shared = client.option("circuit_breaker_registry")
        if shared is not None and not isinstance(shared, BreakerRegistry):
            raise ValidationError([("config.circuit_breaker_registry", "expected a BreakerRegistry")])
        self.breakers = shared or BreakerRegistry(client.clock, listener=self._on_transition)
        self._client = client

    def _on_transition(self, name: str, old: str, new: str) -> None:
        if self._client is not None:
            self._client.emit("circuit_breaker", breaker=name, old_state=old, state=new)

    def breaker(self, name: str) -> CircuitBreaker:
        """This client's breaker called ``name`` (for inspection and manual reset)."""
        if self.breakers is None:
            raise RuntimeError("the retry plugin is not configured")
        return self.breakers.get(name, self.breaker_specs.get(name))

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> list[Middleware]:
        """The retry loop, plus the breaker gate when an endpoint names a breaker."""
        assert self.resolver is not None and self.breakers is not None
        rng = client.option("retry_random")
        loop = RetryLoop(client, self.resolver, rng if isinstance(rng, random.Random) else None)
        steps = [Middleware("retry", RETRY, loop)]
        if any(ep.circuit_breaker for ep in client.manifest.endpoints()):
            gate = BreakerGate(client, self.breakers, self.breaker_specs, self.resolver)
            steps.append(Middleware("circuit_breaker", CIRCUIT_BREAKER, gate))
        return steps

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Resolve the call's policy (bad overrides fail here, before any network) and mint the
        idempotency key once for the logical call."""
        if self.resolver is not None:
            self.resolver.cached(call)
        header = self.idempotency_header
        if header is None or call.endpoint.method in _NO_KEY_METHODS:
            return
        key = call.options.idempotency_key or secrets.token_hex(16)
        call.context.setdefault("retry", {})["idempotency_key"] = key
        call.headers[header] = key

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Number the attempt (0 for the first try) in the attempt header."""
        if self.attempt_header is not None:
            request.headers[self.attempt_header] = str(request.attempt)
