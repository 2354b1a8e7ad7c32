"""The resolver: one :class:`Poller` per future, one retrieve call per scheduled step.

Each step sends one retrieve request, classifies the reply and either settles the future or
re-schedules itself (at once, or after a back-off on the clock). See the README for the table
of replies and what each one does.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pristine_core.backoff import exponential, seconds_from_ms
from pristine_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    RequestFailedError,
    ValidationError,
    status_error_class,
)
from pristine_core.pipeline import RequestOptions, Response
from pristine_core.responses import body_of, status_error
from pristine_core.secrets import redact
from pristine_plugins.futures.errors import (
    FutureClosedError,
    FutureDeadlineError,
    MetadataProtocolError,
    PromiseExpiredError,
)
from pristine_plugins.futures.future import APIFuture
from pristine_plugins.futures.queue_state import DEFAULT_REASONS, QueueState, notify
from pristine_plugins.futures.settings import FuturesSettings

if TYPE_CHECKING:
    from pristine_core.client import Client
    from pristine_core.scheduler import Scheduler
    from pristine_plugins.futures.budget import ResponseBudget

_BLANK_400_TEXTS = ("", "http 400", "bad request", "null", "{}")


@attrs.frozen
class PollSpec:
    """What one future needs to know besides the client: ids, types, headers, observer."""

    request_id: str
    endpoint: str
    result_type: str | None
    request_type: str
    settings: FuturesSettings
    observer: Any = None
    roundtrip_s: float | None = None
    label: str | None = None


def classify(data: Any) -> str:
    """The kind of a retrieve (or submit) payload.

    ``try_again``, ``metadata`` (two-phase result), ``failed``, ``pending``, ``completed``
    (a ``{"status": "completed", "result": ...}`` envelope) or ``result`` (the payload itself).
    """
    if not isinstance(data, Mapping):
        return "result"
    kind = data.get("type")
    if isinstance(kind, str) and kind.strip().lower() == "try_again":
        return "try_again"
    status = data.get("status")
    if status == "complete_metadata":
        return "metadata"
    if status == "failed" or data.get("error") is not None:
        return "failed"
    if status == "pending":
        return "pending"
    if status == "completed" and "result" in data:
        return "completed"
    return "result"


def failure_of(data: Mapping[str, Any], request_id: str | None) -> RequestFailedError:
    """The :class:`RequestFailedError` a ``{"error": ..., "category": ...}`` payload stands for."""
    error = data.get("error")
    category = data.get("category")
    message: Any = error
    if isinstance(error, Mapping):
        message = error.get("message")
        category = error.get("category", category)
    text = str(message) if message not in (None, "") else f"request {request_id} failed"
    return RequestFailedError(text, request_id=request_id, category=str(category or "unknown").lower())


def parse_result(client: Client, spec_endpoint: str, result_type: str | None, data: Any) -> Any:
    """Parse a result payload into ``result_type`` (raw JSON when None)."""
    if result_type is None:
        return data
    try:
        return client.meta.types.parse(result_type, data)
    except ValidationError as exc:
        raise APIResponseValidationError(
            f"{spec_endpoint}: malformed future result: {exc.message}", body=data, errors=exc.errors
        ) from None


def _is_blank_400(response: Response) -> bool:
    text = response.text.strip()
    if text.lower() in _BLANK_400_TEXTS:
        return True
    try:
        data = response.json()
    except ValueError:
        return False
    if isinstance(data, str):
        return data.strip().lower() in _BLANK_400_TEXTS
    if isinstance(data, Mapping):
        return not any(isinstance(data.get(k), str) and data[k].strip() for k in ("message", "error", "detail"))
    return data is None


class Poller:
    """Polls the retrieve endpoint until ``future`` settles (or is cancelled, or the client closes)."""

    def __init__(
        self,
        client: Client,
        future: APIFuture,
        spec: PollSpec,
        scheduler: Scheduler,
        budget: ResponseBudget,
    ) -> None:
        self.client = client
        self.future = future
        self.spec = spec
        self.scheduler = scheduler
        self.budget = budget
        self.retrieve = client.meta.endpoint(spec.settings.retrieve_endpoint or "")
        self.iteration = 0
        self.backoffs = 0
        self.slow_polls = 0
        self.blank_400s = 0
        self.metadata_only = spec.settings.allow_metadata_only
        self.last_state: tuple[QueueState, str | None] | None = None
        self.started = client.meta.clock.monotonic()
        self._reserved: int | None = None
        self._lock = threading.Lock()
        future.add_done_callback(self._on_done)

    # -- scheduling -----------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the first poll, and the overall deadline when the settings give one."""
        deadline_s = self.spec.settings.deadline_s
        if deadline_s is not None:
            timer = self.scheduler.call_later(deadline_s, self._expire, name="future-deadline")
            if timer is not None:
                self.future.add_done_callback(lambda _f: timer.cancel())
        self._again(0.0)

    def _expire(self) -> None:
        deadline_s = self.spec.settings.deadline_s or 0.0
        self.future.settle(error=FutureDeadlineError(self.spec.request_id, deadline_s, self.spec.endpoint))

    def _again(self, delay_s: float) -> None:
        if self.scheduler.call_later(delay_s, self.step) is None:
            self.future.settle(error=FutureClosedError(self.spec.request_id))

    def step(self) -> None:
        """One retrieve call and its consequence; never raises (errors settle the future)."""
        if self.future.done() or self.scheduler.closed:
            return
        try:
            self._poll_once()
        except BaseException as exc:  # any failure is delivered through the future
            self.future.settle(error=exc)

    # -- one poll -------------------------------------------------------------------------

    def _options(self) -> RequestOptions:
        settings = self.spec.settings
        headers: dict[str, str] = {}
        if settings.iteration_header:
            headers[settings.iteration_header] = str(self.iteration)
        if settings.request_type_header:
            headers[settings.request_type_header] = self.spec.request_type
        if settings.roundtrip_header and self.iteration == 0 and self.spec.roundtrip_s is not None:
            headers[settings.roundtrip_header] = f"{self.spec.roundtrip_s:.6f}"
        no_retries = self.client.meta.schema.known_options(max_retries=0)
        return RequestOptions(timeout_s=settings.poll_timeout_s, headers=headers, extensions=no_retries)

    def _poll_once(self) -> None:
        settings = self.spec.settings
        kwargs: dict[str, Any] = {settings.request_id_field: self.spec.request_id}
        if settings.allow_metadata_only:
            kwargs["allow_metadata_only"] = self.metadata_only
        options = self._options()
        self.iteration += 1
        try:
            response = self.retrieve.raw(request_options=options, **kwargs)
        except APIConnectionError as exc:
            if not exc.retryable:  # e.g. an invalid URL: polling again cannot help
                raise
            self._back_off()
            return
        self._handle(response)

    def _back_off(self) -> None:
        delay = exponential(self.backoffs, 1.0, self.spec.settings.backoff_cap_s)
        self.backoffs += 1
        self._again(delay)

    def _handle(self, response: Response) -> None:
        status = response.status_code
        if status == 429:
            response.content  # noqa: B018 - read the body so the connection is released
            self._back_off()
            return
        self.backoffs = 0
        if status == 400:
            if _is_blank_400(response) and self.blank_400s < self.spec.settings.max_blank_400s:
                self.blank_400s += 1
                self._again(0.0)
                return
            raise self._status_error(response)
        self.blank_400s = 0
        if status == 408:
            self._queue_state(body_of(response))
            self._again(self._slow_poll_delay())
        elif status >= 500:
            response.content  # noqa: B018 - read the body so the connection is released
            self._again(self._slow_poll_delay())
        elif status == 410:
            raise self._expired(response)
        elif status >= 300:
            raise self._status_error(response)
        else:
            self._payload(response)

    def _slow_poll_delay(self) -> float:
        """0 s, or with ``poll_backoff`` 1, 2, 4... s (capped) across consecutive 408/5xx polls."""
        if not self.spec.settings.poll_backoff:
            return 0.0
        delay = exponential(self.slow_polls, 1.0, self.spec.settings.backoff_cap_s)
        self.slow_polls += 1
        return delay

    def _payload(self, response: Response) -> None:
        self.slow_polls = 0
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            if self.spec.result_type is not None:
                raise APIResponseValidationError(
                    f"{self.spec.endpoint}: future result is not JSON", body=response.text[:500]
                ) from None
            self._resolve(response.content)
            return
        kind = classify(data)
        if kind == "try_again":
            self._queue_state(data)
            self._again(seconds_from_ms(data.get("retry_after_ms")) or 0.0)
        elif kind == "metadata":
            self._metadata(data)
        elif kind == "failed":
            raise failure_of(data, self.spec.request_id)
        elif kind == "pending":
            self._again(self.spec.settings.pending_delay_s)
        elif kind == "completed":
            self._resolve(data["result"])
        else:
            self._resolve(data)

    def _resolve(self, data: Any) -> None:
        value = parse_result(self.client, self.spec.endpoint, self.spec.result_type, data)
        self.future.settle(value)

    # -- queue states ---------------------------------------------------------------------

    def _queue_state(self, data: Any) -> None:
        if not isinstance(data, Mapping) or ("queue_state" not in data and "queue_state_reason" not in data):
            return
        state = QueueState.parse(data.get("queue_state"))
        raw_reason = data.get("queue_state_reason")
        reason = raw_reason if isinstance(raw_reason, str) and raw_reason.strip() else None
        if state is QueueState.UNKNOWN and reason is None:
            return
        if reason is None and state is not QueueState.ACTIVE:
            reason = self._default_reason(state)
        if self.last_state == (state, reason):
            return
        self.last_state = (state, reason)
        notify(self.spec.observer, state, reason)
        self.client.meta.emit(
            "queue_state",
            request_id=self.spec.request_id,
            endpoint=self.spec.endpoint,
            request_type=self.spec.request_type,
            state=state.value,
            reason=reason,
        )

    def _default_reason(self, state: QueueState) -> str | None:
        """``queue_state_reasons[label]`` (else ``["default"]``), else the library's text."""
        reasons = self.spec.settings.queue_state_reasons
        table = reasons.get(self.spec.label or "default") or reasons.get("default") or {}
        return table.get(state.value) or DEFAULT_REASONS.get(state.value)

    # -- two-phase results ----------------------------------------------------------------

    def _metadata(self, data: Mapping[str, Any]) -> None:
        if not self.metadata_only or self._reserved is not None:
            raise MetadataProtocolError(
                f"future {self.spec.request_id}: unexpected metadata-only reply after the metadata phase"
            )
        size = data.get("response_payload_size")
        size = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0
        self.metadata_only = False
        if self.budget.reserve(size, lambda: self._granted(size), owner=self):
            self._hold(size)
            self._again(0.0)

    def _granted(self, size: int) -> None:
        self._hold(size)
        if not self.future.done():
            self._again(0.0)

    def _hold(self, size: int) -> None:
        with self._lock:
            self._reserved = size
        if self.future.done():  # settled or cancelled while the reservation was being made
            self._release()

    def _release(self) -> None:
        with self._lock:
            size, self._reserved = self._reserved, None
        if size is not None:
            self.budget.release(size)

    @property
    def reserved(self) -> int | None:
        """Bytes this future holds in the response budget (None when it holds none)."""
        with self._lock:
            return self._reserved

    # -- completion -----------------------------------------------------------------------

    def _on_done(self, future: concurrent.futures.Future[Any]) -> None:
        self.budget.discard(self)
        self._release()
        if future.cancelled():
            outcome, error = "cancelled", None
        else:
            exc = future.exception()
            outcome, error = ("error", type(exc).__name__) if exc is not None else ("ok", None)
        self.client.meta.emit(
            "future.done",
            request_id=self.spec.request_id,
            endpoint=self.spec.endpoint,
            request_type=self.spec.request_type,
            outcome=outcome,
            error=error,
            polls=self.iteration,
            elapsed_s=self.client.meta.clock.monotonic() - self.started,
        )

    # -- errors ---------------------------------------------------------------------------

    def _status_error(self, response: Response) -> APIStatusError:
        call = response.request.call if response.request is not None else None
        if call is not None:
            return status_error(call, response)
        cls = status_error_class(response.status_code)
        return cls(
            f"Error code: {response.status_code}",
            status_code=response.status_code,
            body=body_of(response),
            headers=dict(response.headers),
        )

    def _expired(self, response: Response) -> PromiseExpiredError:
        return PromiseExpiredError(
            f"promise expired — resubmit the request (future {self.spec.request_id})",
            status_code=410,
            body=body_of(response),
            headers=dict(response.headers),
            request_id=self.spec.request_id,
            method=self.retrieve.endpoint.method,
            url=redact(response.url),
        )
