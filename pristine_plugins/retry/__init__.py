"""Pristine plugin ``retry``: retries with backoff, idempotency keys and circuit breakers.

Everything numeric comes from the manifest (``retry_policies``, ``circuit_breakers``,
``features.retry``) with per-client (``Client(config=...)``) and per-call
(``RequestOptions``) overrides; see this plugin's README for the settings.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from pristine_core import hookimpl
from pristine_core.bands import CIRCUIT_BREAKER, RETRY
from pristine_core.contract import PluginSettings, with_changes
from pristine_core.errors import ValidationError
from pristine_core.manifest.checks import known_names
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import Call, Middleware, Request, RequestOptions
from pristine_plugins.retry.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerRegistry,
    CircuitBreaker,
    CircuitOpenError,
)
from pristine_plugins.retry.middleware import BreakerGate, RetryLoop
from pristine_plugins.retry.policy import PolicyResolver, apply_overrides, backoff_delay, retry_after_s
from pristine_plugins.retry.settings import (
    SETTINGS,
    CircuitBreakerSpec,
    PauseRule,
    RetryConfig,
    RetryEndpoint,
    RetryFeature,
    RetryOptions,
    RetryPolicy,
)

if TYPE_CHECKING:
    from pristine_core.client import Client

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "BreakerRegistry",
    "CircuitBreaker",
    "CircuitBreakerSpec",
    "CircuitOpenError",
    "PauseRule",
    "RetryConfig",
    "RetryEndpoint",
    "RetryFeature",
    "RetryOptions",
    "RetryPolicy",
    "RetryPlugin",
    "apply_overrides",
    "backoff_delay",
    "retry_after_s",
]

_NO_KEY_METHODS = ("GET", "HEAD")


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
    def pristine_settings(self) -> PluginSettings:
        """Policies, breakers, ``features.retry``, endpoint keys, config and call options."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """Every policy and breaker an endpoint (or ``defaults``) names exists."""
        policies = manifest.section("retry_policies", {})
        breakers = manifest.section("circuit_breakers", {})
        problems: list[tuple[str, str]] = []
        for ep in manifest.endpoints():
            keys = ep.settings_of(RetryEndpoint)
            at = f"resources.{ep.resource}.{ep.name}"
            if keys.retry is not None and keys.retry not in policies:
                problems.append((f"{at}.retry", f"unknown retry policy {keys.retry!r}{known_names(policies)}"))
            if keys.circuit_breaker is not None and keys.circuit_breaker not in breakers:
                message = f"unknown circuit breaker {keys.circuit_breaker!r}{known_names(breakers)}"
                problems.append((f"{at}.circuit_breaker", message))
        return problems

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Read the header names, build the policy resolver and the breaker registry."""
        manifest = client.meta.manifest
        feature = manifest.section("features.retry", RetryFeature())
        config = client.meta.settings_of(RetryConfig)
        self.idempotency_header = feature.idempotency_header
        self.attempt_header = feature.attempt_header
        self.resolver = PolicyResolver(
            policies=manifest.section("retry_policies", {}),
            client_overrides=config.retry or {},
            per_policy=config.retry_policies or {},
        )
        self.resolver.check()
        specs = dict(manifest.section("circuit_breakers", {}))
        for name, fields in (config.circuit_breakers or {}).items():
            if name not in specs:
                raise ValidationError([(f"config.circuit_breakers.{name}", "unknown circuit breaker")])
            specs[name] = with_changes(specs[name], fields, f"config.circuit_breakers.{name}")
        self.breaker_specs = specs
        shared = config.circuit_breaker_registry
        if shared is not None and not isinstance(shared, BreakerRegistry):
            raise ValidationError([("config.circuit_breaker_registry", "expected a BreakerRegistry")])
        self.breakers = shared or BreakerRegistry(client.meta.clock, listener=self._on_transition)
        self._client = client

    def _on_transition(self, name: str, old: str, new: str) -> None:
        if self._client is not None:
            self._client.meta.emit("circuit_breaker", breaker=name, old_state=old, state=new)

    def breaker(self, name: str) -> CircuitBreaker:
        """This client's breaker called ``name`` (for inspection and manual reset)."""
        if self.breakers is None:
            raise RuntimeError("the retry plugin is not configured")
        return self.breakers.get(name, self.breaker_specs.get(name))

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> list[Middleware]:
        """The retry loop, plus the breaker gate when an endpoint names a breaker."""
        assert self.resolver is not None and self.breakers is not None
        rng = client.meta.settings_of(RetryConfig).retry_random
        loop = RetryLoop(client, self.resolver, rng)
        steps = [Middleware("retry", RETRY, loop)]
        if any(ep.settings_of(RetryEndpoint).circuit_breaker for ep in client.meta.manifest.endpoints()):
            gate = BreakerGate(client, self.breakers, self.breaker_specs, self.resolver)
            steps.append(Middleware("circuit_breaker", CIRCUIT_BREAKER, gate))
        return steps

    @hookimpl
    def pristine_applies_to(self, client: Client, endpoint: Endpoint) -> set[str] | None:
        """The hooks that act on ``endpoint``'s calls (those without call options): the retry
        loop where a policy governs them or a breaker guards them, the idempotency key on
        methods that carry one, the attempt header when one is configured."""
        if self.resolver is None:
            return None
        acts: set[str] = set()
        probe = Call(client, endpoint, {}, {}, {}, None, RequestOptions())
        if endpoint.settings_of(RetryEndpoint).circuit_breaker or self.resolver.for_call(probe) is not None:
            acts.add("pristine_dispatch_middleware")
        if self.idempotency_header is not None and endpoint.method not in _NO_KEY_METHODS:
            acts.add("pristine_prepare_call")
        if self.attempt_header is not None:
            acts.add("pristine_prepare_attempt")
        return acts

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Resolve the call's policy (bad overrides fail here, before any network) and mint the
        idempotency key once for the logical call."""
        if self.resolver is not None:
            self.resolver.cached(call)
        header = self.idempotency_header
        if header is None or call.endpoint.method in _NO_KEY_METHODS:
            return
        key = call.settings_of(RetryOptions).idempotency_key or secrets.token_hex(16)
        call.context.setdefault("retry", {})["idempotency_key"] = key
        call.headers[header] = key

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Number the attempt (0 for the first try) in the attempt header."""
        if self.attempt_header is not None:
            request.headers[self.attempt_header] = str(request.attempt)
