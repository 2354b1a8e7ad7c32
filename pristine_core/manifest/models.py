"""The manifest's data model: frozen, slotted attrs classes.

A manifest is plain data; the core and the plugins interpret it. Everything a plugin needs
(retry policies, pools, breakers, feature blocks) lives here so that one file describes an API.
See ``docs/manifest.md`` for the format and ``manifest.schema.json`` for editors.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

#: Sentinel for "no default declared" in a type schema.
NO_DEFAULT: Any = attrs.make_class("NoDefault", [], slots=True, repr_ns=None)()


@attrs.frozen
class TypeSchema:
    """One type in the JSON-Schema subset the manifest uses (see ``docs/manifest.md``)."""

    type: Literal["object", "array", "string", "integer", "number", "boolean", "any"] | None = None
    ref: str | None = None
    description: str = ""
    properties: dict[str, TypeSchema] = attrs.Factory(dict)
    required: tuple[str, ...] = ()
    additional_properties: bool | TypeSchema = False
    items: TypeSchema | None = None
    enum: tuple[Any, ...] | None = None
    const: Any = NO_DEFAULT
    one_of: tuple[TypeSchema, ...] = ()
    discriminator: str | None = None
    nullable: bool = False
    explicit_null: bool = False
    default: Any = NO_DEFAULT
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None


@attrs.frozen
class PauseRule:
    """A status the retry plugin waits through for a long time (e.g. 402 billing pauses)."""

    delay_s: float = 5.0
    max_pause_s: float = 3600.0


@attrs.frozen
class RetryPolicy:
    """A named retry policy, interpreted by the retry plugin.

    Delays grow as ``base_delay_s * 2**n`` capped at ``max_delay_s``, reduced by up to
    ``jitter`` (a fraction). ``Retry-After``/``retry-after-ms`` win when 0 < value ≤
    ``retry_after_cap_s``. ``deadline_s`` bounds the whole logical call.
    """

    max_retries: int = 2
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    jitter: float = 0.25
    retry_statuses: tuple[int, ...] = (408, 409, 429, 500, 502, 503, 504)
    retry_connection_errors: bool = True
    retry_timeouts: bool = True
    respect_should_retry: bool = True
    retry_after_cap_s: float = 60.0
    deadline_s: float | None = None
    retry_methods: tuple[str, ...] | None = None
    pause_statuses: dict[str, PauseRule] = attrs.Factory(dict)


@attrs.frozen
class CircuitBreakerSpec:
    """A circuit breaker shared by the endpoints that name it."""

    failure_threshold: int = 5
    reset_timeout_s: float = 30.0
    half_open_max_calls: int = 1


@attrs.frozen
class RateLimit:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: int = 1


@attrs.frozen
class Backpressure:
    """How a pool reacts to a back-pressure status (429) on endpoints that opt in."""

    statuses: tuple[int, ...] = (429,)
    small_delay_s: float = 1.0
    large_delay_s: float = 5.0
    large_payload_bytes: int = 131072
    reduced_concurrency: int = 10
    byte_multiplier: float = 20.0
    window_s: float = 10.0
    max_attempts: int | None = None


@attrs.frozen
class PoolSpec:
    """A named connection pool with optional concurrency, byte and rate limits."""

    connections: int = 10
    concurrency: int | None = None
    byte_budget: int | None = None
    rate_limit: RateLimit | None = None
    backpressure: Backpressure | None = None
    block: bool = True


@attrs.frozen
class QueryParam:
    """A declared query parameter of an endpoint."""

    type: Literal["string", "integer", "number", "boolean"] = "string"
    default: Any = NO_DEFAULT
    required: bool = False
    description: str = ""


@attrs.frozen
class Endpoint:
    """One HTTP operation. ``name`` and ``resource`` are filled in by the loader."""

    method: str
    path: str
    name: str = ""
    resource: str = ""
    description: str = ""
    request: str | None = None
    response: str | None = None
    query: dict[str, QueryParam] = attrs.Factory(dict)
    headers: dict[str, str] = attrs.Factory(dict)
    pool: str | None = None
    retry: str | None = None
    circuit_breaker: str | None = None
    timeout_s: float | None = None
    #: Response size cap in bytes, enforced while reading (None: ``defaults.max_response_bytes``).
    max_response_bytes: int | None = None
    idempotent: bool | None = None
    future: bool = False
    result: str | None = None
    stream: bool = False
    stream_event: str | None = None
    multipart: bool = False
    backpressure: bool = False
    redirects: Literal["follow", "return"] = "follow"
    auth: bool = True
    extensions: dict[str, Any] = attrs.Factory(dict)

    @property
    def qualified_name(self) -> str:
        """``resource.endpoint``, the name feature blocks use to refer to it."""
        return f"{self.resource}.{self.name}"

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names of the ``{name}`` / ``{+name}`` placeholders of :attr:`path`, in order.

        ``{+name}`` is RFC 6570 reserved expansion: the value may contain ``/``.
        """
        return tuple(part[1:-1].lstrip("+") for part in _placeholders(self.path))

    @property
    def reserved_params(self) -> frozenset[str]:
        """Path parameters declared ``{+name}`` (slashes kept)."""
        return frozenset(part[2:-1] for part in _placeholders(self.path) if part.startswith("{+"))

    @property
    def is_idempotent(self) -> bool:
        """The declared flag, else true for GET, HEAD, PUT and DELETE."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in ("GET", "HEAD", "PUT", "DELETE")


def _placeholders(path: str) -> list[str]:
    out: list[str] = []
    i = 0
    while True:
        start = path.find("{", i)
        if start < 0:
            return out
        end = path.find("}", start)
        if end < 0:
            return out
        out.append(path[start : end + 1])
        i = end + 1


@attrs.frozen
class Auth:
    """How the API key travels: a header (``X-API-Key``) with an optional scheme prefix."""

    header: str = "Authorization"
    scheme: str = ""
    env: str | None = None
    key_prefixes: tuple[str, ...] = ()


@attrs.frozen
class Defaults:
    """Values every endpoint inherits unless it sets its own."""

    timeout_s: float = 60.0
    headers: dict[str, str] = attrs.Factory(dict)
    query: dict[str, str] = attrs.Factory(dict)
    retry: str | None = None
    pool: str | None = None
    #: Response size cap in bytes for every endpoint (``pristine_core.limits`` default when None).
    max_response_bytes: int | None = None


@attrs.frozen
class Manifest:
    """A whole API: endpoints grouped by resource, types, pools, policies and feature blocks."""

    name: str
    version: str = "0"
    description: str = ""
    base_url: str | None = None
    base_url_env: str | None = None
    auth: Auth | None = None
    defaults: Defaults = attrs.Factory(Defaults)
    retry_policies: dict[str, RetryPolicy] = attrs.Factory(dict)
    circuit_breakers: dict[str, CircuitBreakerSpec] = attrs.Factory(dict)
    pools: dict[str, PoolSpec] = attrs.Factory(dict)
    resources: dict[str, dict[str, Endpoint]] = attrs.Factory(dict)
    types: dict[str, TypeSchema] = attrs.Factory(dict)
    features: dict[str, dict[str, Any]] = attrs.Factory(dict)

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, resource by resource, in manifest order."""
        return [ep for group in self.resources.values() for ep in group.values()]

    def endpoint(self, qualified_name: str) -> Endpoint:
        """Look up ``resource.endpoint``; ``KeyError`` when absent."""
        resource, _, name = qualified_name.partition(".")
        return self.resources[resource][name]

    def feature(self, name: str) -> dict[str, Any] | None:
        """The ``features.<name>`` block, or None when the manifest does not declare it."""
        return self.features.get(name)

    def pool_for(self, endpoint: Endpoint) -> str:
        """The pool an endpoint routes to (its own, the default, or ``"default"``)."""
        return endpoint.pool or self.defaults.pool or "default"

    def retry_policy_for(self, endpoint: Endpoint) -> RetryPolicy | None:
        """The retry policy an endpoint uses, or None when it has none."""
        name = endpoint.retry or self.defaults.retry
        return self.retry_policies.get(name) if name else None
