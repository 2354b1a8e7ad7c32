"""The two dispatch steps of the retry plugin: the retry loop and the circuit breaker gate."""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

import attrs

from pristine_core.errors import APIConnectionError, APITimeoutError
from pristine_core.logs import get_logger
from pristine_core.pipeline import Call, CallNext, Request, Response
from pristine_plugins.retry.breaker import FAILURE, NEUTRAL, SUCCESS, BreakerRegistry
from pristine_plugins.retry.policy import PolicyResolver, backoff_delay, server_delay, should_retry_hint
from pristine_plugins.retry.settings import CircuitBreakerSpec, RetryEndpoint, RetryOptions, RetryPolicy

if TYPE_CHECKING:
    from pristine_core.client import Client

log = get_logger(__name__)

#: A deadline never shrinks an attempt's timeout below this (seconds).
MIN_ATTEMPT_TIMEOUT_S = 0.1
_DEFAULT_POLICY = RetryPolicy()


@attrs.frozen
class Step:
    """What to do after a failed attempt: wait ``delay_s``, then send again."""

    delay_s: float
    reason: str
    pause: bool = False
    status: int | None = None


class RetryLoop:
    """Owns the attempts of one logical call: ``handler(request, call_next)``.

    Returns the last response when retries end (the core maps an error status to an exception)
    and re-raises the last connection error. Sleeps only through ``client.meta.clock``.
    """

    def __init__(self, client: Client, resolver: PolicyResolver, rng: random.Random | None = None) -> None:
        self.client = client
        self.resolver = resolver
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    def _jittered(self, policy: RetryPolicy, retries: int) -> float:
        with self._rng_lock:  # random.Random is not documented as thread-safe
            return backoff_delay(policy, retries, self._rng)

    def __call__(self, request: Request, call_next: CallNext) -> Response:
        call = request.call
        policy = self.resolver.cached(call) if call is not None else None
        if policy is None or (policy.retry_methods is not None and request.method not in policy.retry_methods):
            return call_next(request)
        clock = self.client.meta.clock
        deadline = clock.monotonic() + policy.deadline_s if policy.deadline_s is not None else None
        if request.deadline is not None:  # the call's own deadline (its explicit timeout_s)
            deadline = request.deadline if deadline is None else min(deadline, request.deadline)
        base_timeout = request.timeout_s
        retries = 0
        pause_started: dict[int, float] = {}
        endpoint = call.endpoint.qualified_name if call is not None else request.url
        while True:
            if deadline is not None:
                remaining = deadline - clock.monotonic()
                request.timeout_s = max(min(base_timeout, remaining), MIN_ATTEMPT_TIMEOUT_S)
            try:
                response = call_next(request)
            except APIConnectionError as exc:
                step = self._after_error(policy, exc, retries)
                if step is None or not self._fits(deadline, step.delay_s):
                    raise
                self._wait(endpoint, request, step)
            else:
                step = self._after_response(policy, response, retries, pause_started)
                if step is None or not self._fits(deadline, step.delay_s):
                    return response
                response.close()
                self._wait(endpoint, request, step)
            if not step.pause:
                retries += 1
            request.attempt += 1

    def _fits(self, deadline: float | None, delay_s: float) -> bool:
        """Whether the next attempt would start before the deadline."""
        return deadline is None or self.client.meta.clock.monotonic() + delay_s < deadline

    def _wait(self, endpoint: str, request: Request, step: Step) -> None:
        self.client.meta.emit(
            "retry",
            endpoint=endpoint,
            attempt=request.attempt + 1,
            delay_s=step.delay_s,
            reason=step.reason,
            status=step.status,
        )
        log.info(
            "pristine.retry", endpoint=endpoint, attempt=request.attempt + 1, delay_s=step.delay_s, reason=step.reason
        )
        self.client.meta.clock.sleep(step.delay_s)

    def _after_error(self, policy: RetryPolicy, exc: APIConnectionError, retries: int) -> Step | None:
        is_timeout = isinstance(exc, APITimeoutError)
        allowed = policy.retry_timeouts if is_timeout else policy.retry_connection_errors
        if not allowed or not exc.retryable or retries >= policy.max_retries:
            return None
        return Step(self._jittered(policy, retries), "timeout" if is_timeout else "connection error")

    def _after_response(
        self, policy: RetryPolicy, response: Response, retries: int, pause_started: dict[int, float]
    ) -> Step | None:
        status = response.status_code
        if status < 400:
            return None
        hint = should_retry_hint(response.headers) if policy.respect_should_retry else None
        if hint is False:
            return None
        clock = self.client.meta.clock
        server = server_delay(policy, response.headers, clock.time())
        rule = policy.pause_statuses.get(str(status))
        if rule is not None:
            now = clock.monotonic()
            first = pause_started.setdefault(status, now)
            delay = server if server is not None else rule.delay_s
            if now - first + delay <= rule.max_pause_s:
                return Step(delay, f"pause {status}", pause=True, status=status)
        wanted = hint if hint is not None else status in policy.retry_statuses
        if not wanted or retries >= policy.max_retries:
            return None
        delay = server if server is not None else self._jittered(policy, retries)
        return Step(delay, f"status {status}", status=status)


class BreakerGate:
    """The circuit breaker step: rejects fast while an endpoint's breaker is open."""

    def __init__(
        self,
        client: Client,
        registry: BreakerRegistry,
        specs: dict[str, CircuitBreakerSpec],
        resolver: PolicyResolver,
    ) -> None:
        self.client = client
        self.registry = registry
        self.specs = specs
        self.resolver = resolver

    def __call__(self, request: Request, call_next: CallNext) -> Response:
        call = request.call
        name = call.endpoint.settings_of(RetryEndpoint).circuit_breaker if call is not None else None
        if call is None or name is None or not call.settings_of(RetryOptions).circuit_breaker:
            return call_next(request)
        breaker = self.registry.get(name, self.specs.get(name))
        ticket = breaker.acquire()
        try:
            response = call_next(request)
        except APIConnectionError:
            breaker.record(ticket, FAILURE)
            raise
        except BaseException:
            breaker.record(ticket, NEUTRAL)
            raise
        breaker.record(ticket, self._outcome(call, response))
        return response

    def _outcome(self, call: Call, response: Response) -> str:
        """Retryable statuses of the call's policy (library defaults without one) are failures."""
        policy = self.resolver.cached(call) or _DEFAULT_POLICY
        status = response.status_code
        if str(status) in policy.pause_statuses:
            return NEUTRAL
        return FAILURE if status in policy.retry_statuses else SUCCESS
