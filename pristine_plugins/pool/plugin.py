"""The ``pool`` plugin: per-pool concurrency, byte budget, rate limit and 429 back-pressure.

One dispatch middleware (priority ``POOL``) wraps every attempt. It routes by
``request.pool`` to that pool's limiters, acquires them in a fixed order (count slot, tenant
throttle gate, bytes, rate token), sends, and releases them in reverse order whatever happens.
For endpoints declared ``backpressure: true`` a back-pressure status makes the whole tenant
back off and throttle, and the request is sent again.

A call with a deadline (an explicit ``timeout_s``) waits for none of these past it: a slot, the
throttle gate, bytes or a rate token still missing at the deadline raise
:class:`~pristine_core.errors.APITimeoutError` naming the pool and what it waited for, and a
back-off that would outlast it returns the last back-pressure reply (or raises the timeout).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from pristine_core import hookimpl
from pristine_core.bands import POOL
from pristine_core.contract import PluginSettings
from pristine_core.errors import APITimeoutError, BackoffPending
from pristine_core.manifest.models import Manifest
from pristine_core.pipeline import CallNext, Middleware, Request, Response
from pristine_plugins.pool.backoff import BackoffState, shared_state
from pristine_plugins.pool.limits import ByteBudget, CountLimiter, PoolFullError, Remaining, TokenBucket
from pristine_plugins.pool.settings import (
    SETTINGS,
    Backpressure,
    PoolConfig,
    PoolEndpoint,
    PoolOptions,
    PoolSpec,
    effective_specs,
    manifest_problems,
)
from pristine_runtime.backoff import retry_after_s
from pristine_runtime.clock import Clock
from pristine_runtime.secrets import redact

if TYPE_CHECKING:
    from pristine_core.client import Client

_CONTEXT_KEY = "pool"


@attrs.frozen
class PoolStats:
    """A snapshot of one pool of one client (see :meth:`PoolPlugin.snapshot`)."""

    in_flight: int
    limit: int | None
    bytes_in_flight: int
    byte_budget: int | None
    throttled: bool
    tenant_in_flight: int
    backoff_remaining_s: float


class _PoolRuntime:
    """The live limiters of one named pool for one client."""

    def __init__(self, name: str, spec: PoolSpec, client: Client) -> None:
        self.name = name
        self.spec = spec
        self.count = CountLimiter(spec.concurrency)
        self.bytes = ByteBudget(spec.byte_budget)
        rate = spec.rate_limit
        self.bucket = TokenBucket(rate.rate, rate.burst, client.meta.clock) if rate is not None else None
        self.shared: BackoffState | None = None
        if spec.backpressure is not None:
            self.shared = shared_state(client.meta.tenant, name, client.meta.clock)

    def stats(self) -> PoolStats:
        shared = self.shared
        throttled = shared is not None and shared.throttled()
        limit = self.spec.concurrency
        if throttled and self.spec.backpressure is not None:
            reduced = self.spec.backpressure.reduced_concurrency
            limit = reduced if limit is None else min(limit, reduced)
        return PoolStats(
            in_flight=self.count.in_flight,
            limit=limit,
            bytes_in_flight=self.bytes.in_flight,
            byte_budget=self.bytes.budget,
            throttled=throttled,
            tenant_in_flight=shared.in_flight if shared is not None else 0,
            backoff_remaining_s=shared.backoff_remaining() if shared is not None else 0.0,
        )


class PoolPlugin:
    """Named pools with concurrency and byte limits, rate limiting and 429 back-pressure."""

    name = "pool"
    priority = POOL

    def __init__(self) -> None:
        self._client: Client | None = None
        self._specs: dict[str, PoolSpec] = {}
        self._runtimes: dict[str, _PoolRuntime] = {}
        self._lock = threading.Lock()

    # -- hooks ----------------------------------------------------------------------------

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``pools``, the endpoint key ``backpressure`` and the config key ``pools``."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """Endpoints name declared pools; back-pressure endpoints route to a pool that can back off."""
        return manifest_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Resolve the effective pool settings (manifest + ``config["pools"]``; bad overrides
        raise) and size the default transport's connection pools."""
        self._client = client
        overrides = client.meta.settings_of(PoolConfig).pools or {}
        env_connections = client.meta.defaults.pool_connections
        self._specs = effective_specs(client.meta.manifest, overrides, env_connections)
        size = getattr(client.meta.transport, "set_pool_size", None)
        if size is not None:
            for name, spec in self._specs.items():
                size(name, spec.connections)

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> Middleware:
        """The pool middleware."""
        return Middleware(self.name, self.priority, self._handle)

    # -- introspection --------------------------------------------------------------------

    def spec(self, pool: str) -> PoolSpec:
        """The effective settings of ``pool`` for this client."""
        return self._specs.get(pool) or PoolSpec()

    def in_flight(self) -> dict[str, int]:
        """Requests in flight right now, per pool that has been used."""
        with self._lock:
            runtimes = list(self._runtimes.values())
        return {rt.name: rt.count.in_flight for rt in runtimes}

    def snapshot(self) -> dict[str, PoolStats]:
        """Counters and throttle state, per pool that has been used."""
        with self._lock:
            runtimes = list(self._runtimes.values())
        return {rt.name: rt.stats() for rt in runtimes}

    # -- the middleware -------------------------------------------------------------------

    def _runtime(self, pool: str) -> _PoolRuntime:
        runtime = self._runtimes.get(pool)
        if runtime is not None:
            return runtime
        with self._lock:
            runtime = self._runtimes.get(pool)
            if runtime is None:
                assert self._client is not None, "pool plugin used before pristine_configure"
                runtime = _PoolRuntime(pool, self.spec(pool), self._client)
                self._runtimes[pool] = runtime
        return runtime

    def _estimate(self, request: Request) -> int:
        call = request.call
        if call is None:
            return max(0, request.byte_size)
        mine = call.context.setdefault(_CONTEXT_KEY, {})
        cached = mine.get("bytes")
        if cached is None:
            answer = call.client.meta.hook.pristine_estimate_bytes(call=call)
            cached = max(0, int(answer)) if answer is not None else max(0, request.byte_size)
            mine["bytes"] = cached
        return int(cached)

    def _handle(self, request: Request, call_next: CallNext) -> Response:
        runtime = self._runtime(request.pool)
        endpoint = request.call.endpoint if request.call is not None else None
        opted_in = endpoint is not None and endpoint.settings_of(PoolEndpoint).backpressure
        bp = runtime.spec.backpressure if opted_in else None
        shared = runtime.shared if bp is not None else None
        # Only a call's first attempt defers: nothing of it reached the server (or a 429 refused
        # it), so sending it again as a new call is safe. A retry may follow a lost reply, and must
        # keep its idempotency key: it waits in place.
        defer = (bp is not None and request.attempt == 0 and request.call is not None
                 and request.call.settings_of(PoolOptions).defer_backoff)
        needs_estimate = runtime.bytes.budget is not None or bp is not None
        cost = self._estimate(request) if needs_estimate else 0
        attempt = 0
        last: Response | None = None
        while True:
            attempt += 1
            if shared is not None:
                if defer and shared.backoff_remaining() > 0:
                    raise BackoffPending(shared.backoff_remaining(), runtime.name)
                slept = shared.wait_out_backoff(self._remaining(request))
                if slept is None:  # the back-off would outlast the call's deadline
                    if last is not None:
                        return last
                    raise deadline_exceeded(request)
                if slept > 0:
                    self._emit_wait(runtime.name, "backoff", slept)
            response = self._send(runtime, shared, bp, request, cost, call_next)
            if bp is None or shared is None or response.status_code not in bp.statuses:
                return response
            # Back off even when giving up: the server asked the whole tenant to slow down.
            delay = self._backoff_delay(bp, response, cost)
            shared.back_off(delay, bp.window_s)
            self._emit(
                "backpressure",
                pool=runtime.name,
                endpoint=endpoint.qualified_name if endpoint is not None else None,
                status=response.status_code,
                delay_s=delay,
                window_s=bp.window_s,
                attempt=attempt,
            )
            if bp.max_attempts is not None and attempt >= bp.max_attempts:
                return response
            if defer:  # the caller sends again from a timer once the back-off has passed
                response.close()
                raise BackoffPending(delay, runtime.name)
            response.content  # noqa: B018 - keep the body: this reply answers the call if time runs out
            response.close()
            last = response

    def _backoff_delay(self, bp: Backpressure, response: Response, cost: int) -> float:
        assert self._client is not None
        told = retry_after_s(response.headers, self._client.meta.clock.time())
        if told is not None:
            return told
        return bp.small_delay_s if cost <= bp.large_payload_bytes else bp.large_delay_s

    def _send(
        self,
        runtime: _PoolRuntime,
        shared: BackoffState | None,
        bp: Backpressure | None,
        request: Request,
        cost: int,
        call_next: CallNext,
    ) -> Response:
        if shared is None and not cost and runtime.bucket is None:
            # The common case: a concurrency slot only (no backpressure, no bytes, no rate).
            count = runtime.count
            if not count.try_acquire():
                left = self._remaining(request)
                self._take(runtime, request, "concurrency", runtime.spec.block, count.try_acquire,
                           lambda: count.acquire(left))
            try:
                return call_next(request)
            finally:
                count.release()
        throttled = shared is not None and shared.throttled()
        charge = math.ceil(cost * bp.byte_multiplier) if throttled and bp is not None else cost
        block = runtime.spec.block
        remaining = self._remaining(request)
        releases: list[Callable[[], None]] = []
        try:
            count = runtime.count
            self._take(runtime, request, "concurrency", block, count.try_acquire, lambda: count.acquire(remaining))
            releases.append(runtime.count.release)
            if shared is not None and bp is not None:
                reduced = bp.reduced_concurrency
                self._take(
                    runtime,
                    request,
                    "throttle",
                    block,
                    lambda: shared.try_enter(reduced),
                    lambda: shared.enter(reduced, remaining),
                )
                releases.append(shared.leave)
            if charge:  # charging nothing is always admitted and changes nothing
                budget = runtime.bytes
                self._take(
                    runtime,
                    request,
                    "bytes",
                    block,
                    lambda: budget.try_acquire(charge),
                    lambda: budget.acquire(charge, remaining),
                )
                releases.append(lambda: runtime.bytes.release(charge))
            if runtime.bucket is not None:
                self._wait_for_token(runtime, request, runtime.bucket, block, remaining)
            return call_next(request)
        finally:
            for release in reversed(releases):
                release()

    def _remaining(self, request: Request) -> Remaining | None:
        """Seconds left of ``request``'s deadline on the client clock (None: no deadline)."""
        deadline = request.deadline
        if deadline is None:
            return None
        clock = self._clock()
        return lambda: deadline - clock.monotonic()

    def _take(
        self,
        runtime: _PoolRuntime,
        request: Request,
        what: str,
        block: bool,
        try_acquire: Callable[[], bool],
        acquire: Callable[[], bool],
    ) -> None:
        if try_acquire():
            return
        if not block:
            raise PoolFullError(runtime.name, what)
        clock = self._clock()
        started = clock.monotonic()
        taken = acquire()
        self._emit_wait(runtime.name, what, clock.monotonic() - started)
        if not taken:
            raise _deadline_error(request, runtime.name, what)

    def _wait_for_token(
        self,
        runtime: _PoolRuntime,
        request: Request,
        bucket: TokenBucket,
        block: bool,
        remaining: Remaining | None,
    ) -> None:
        if not block:
            if not bucket.try_take():
                raise PoolFullError(runtime.name, "rate")
            return
        wait = bucket.reserve()
        if remaining is not None and wait > 0 and wait >= remaining():
            bucket.refund()  # the token would come after the deadline: leave it to others
            raise _deadline_error(request, runtime.name, "rate")
        if wait > 0:
            self._clock().sleep(wait)
            self._emit_wait(runtime.name, "rate", wait)

    def _clock(self) -> Clock:
        assert self._client is not None
        return self._client.meta.clock

    def _emit_wait(self, pool: str, reason: str, waited_s: float) -> None:
        self._emit("pool.wait", pool=pool, reason=reason, waited_s=waited_s)

    def _emit(self, name: str, **fields: Any) -> None:
        if self._client is not None:
            self._client.meta.emit(name, **fields)


def _deadline_error(request: Request, pool: str, what: str) -> APITimeoutError:
    """The call reached its deadline while waiting for ``what`` of ``pool``; nothing was sent."""
    url = redact(request.url)
    return APITimeoutError(
        f"call deadline reached while waiting for pool {pool!r} ({what}); not sent: {request.method} {url}",
        method=request.method,
        url=url,
    )


def deadline_exceeded(request: Request) -> APITimeoutError:
    """The transport's deadline error (imported when needed: the transport imports requests)."""
    from pristine_core.transport import deadline_exceeded as exceeded

    return exceeded(request)
