"""The resolver: one :class:`Poller` per future, one retrieve call per scheduled step.

Each step sends one retrieve request (through the client's whole middleware chain, so the
retrieve endpoint's retry policy governs transport errors and retryable statuses), matches the
final reply or error against the reply table of the manifest (:mod:`.replies`) and acts on the
first matching rule: it settles the future or re-schedules itself (at once, or after a delay or
back-off on the clock). The poller knows no API: every meaning comes from the table.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pristine_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    status_error_class,
)
from pristine_core.pipeline import RequestOptions, Response
from pristine_core.responses import body_of, status_error
from pristine_plugins.futures.errors import (
    FutureClosedError,
    FutureDeadlineError,
    MetadataProtocolError,
    PromiseExpiredError,
)
from pristine_plugins.futures.future import APIFuture
from pristine_plugins.futures.matching import MISSING, Matcher, ReplyView, json_path
from pristine_plugins.futures.outcomes import failure, success_value
from pristine_plugins.futures.queue_state import DEFAULT_REASONS, QueueState, notify
from pristine_plugins.futures.replies import ReplyRule
from pristine_plugins.futures.settings import FuturesSettings
from pristine_runtime.backoff import exponential, seconds_from_ms
from pristine_runtime.secrets import redact

if TYPE_CHECKING:
    from pristine_core.client import Client
    from pristine_plugins.futures.budget import ResponseBudget
    from pristine_runtime.lanes import Lane
    from pristine_runtime.scheduler import Scheduler

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


class Poller:
    """Polls the retrieve endpoint until ``future`` settles (or is cancelled, or the client closes)."""

    def __init__(
        self,
        client: Client,
        future: APIFuture,
        spec: PollSpec,
        scheduler: Scheduler | Lane,
        budget: ResponseBudget,
    ) -> None:
        self.client = client
        self.future = future
        self.spec = spec
        self.scheduler = scheduler
        self.budget = budget
        self.retrieve = client.meta.endpoint(spec.settings.retrieve_endpoint or "")
        self.iteration = 0
        self.matcher = Matcher(spec.settings.reply_table, spec.settings.flags)
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
        if settings.request_type_header:
            headers[settings.request_type_header] = self.spec.request_type
        # Per-attempt headers (iteration, round trip) are stamped by the plugin's
        # pristine_prepare_attempt through stamp(), so retries inside one poll count too.
        return RequestOptions(timeout_s=settings.poll_timeout_s, headers=headers, extensions={"futures_poll": self})

    def stamp(self, headers: Any) -> None:
        """Set the per-request headers of one HTTP request of this future's polls: the 0-based
        ``iteration_header`` (every request counts, retries included) and, on the very first,
        ``roundtrip_header``."""
        settings = self.spec.settings
        with self._lock:
            iteration = self.iteration
            self.iteration += 1
        if settings.iteration_header:
            headers[settings.iteration_header] = str(iteration)
        if settings.roundtrip_header and iteration == 0 and self.spec.roundtrip_s is not None:
            headers[settings.roundtrip_header] = f"{self.spec.roundtrip_s:.6f}"

    def _poll_once(self) -> None:
        settings = self.spec.settings
        kwargs: dict[str, Any] = {settings.retrieve_argument or settings.request_id_field: self.spec.request_id}
        if settings.allow_metadata_only:
            kwargs["allow_metadata_only"] = self.metadata_only
        options = self._options()
        try:
            response = self.retrieve.raw(request_options=options, **kwargs)
        except APIConnectionError as exc:  # what the retry policy (if any) did not absorb
            self._decide(ReplyView(error=exc))
            return
        self._decide(ReplyView(response))

    def _decide(self, view: ReplyView) -> None:
        """Act on the first rule of the table that matches ``view``."""
        found = self.matcher.match(view)
        if found is None:
            if view.error is not None:
                raise view.error
            assert view.response is not None
            if view.status >= 300:
                raise self._status_error(view.response)
            raise APIResponseValidationError(
                f"{self.spec.endpoint}: no rule of features.futures.replies matches this reply "
                f"(status {view.status}, {view.media_type or 'no content type'})",
                body=view.data if view.is_json else view.text[:500],
            )
        rule, streak = found
        if rule.queue_state or rule.queue_state_reason:
            self._queue_state(view, rule)
        if view.error is not None and rule.then != "retry":
            raise view.error
        if rule.then == "retry":
            if view.response is not None:
                view.response.content  # noqa: B018 - read the body so the connection is released
            self._again(self._delay(rule, streak, view))
        elif rule.then == "success":
            self._resolve(view, rule)
        elif rule.then == "failure":
            raise failure(rule, view, self.spec.request_id)
        elif rule.then == "fetch":
            self._metadata(view, rule)
        elif rule.then == "expired":
            assert view.response is not None
            raise self._expired(view.response)
        else:  # status_error
            assert view.response is not None
            raise self._status_error(view.response)

    def _delay(self, rule: ReplyRule, streak: int, view: ReplyView) -> float:
        """How long a ``retry`` rule waits: server-given milliseconds, back-off or ``delay_s``."""
        settings = self.spec.settings
        if rule.delay_ms_path and view.is_json:
            given = seconds_from_ms(json_path(view.data, rule.delay_ms_path))
            if given is not None:
                return given
        if rule.backoff:
            return exponential(streak, settings.backoff_base_s, settings.backoff_cap_s)
        if isinstance(rule.delay_s, str):
            return float(settings.flags[rule.delay_s])
        return float(rule.delay_s)

    def _resolve(self, view: ReplyView, rule: ReplyRule) -> None:
        value = success_value(self.client, self.spec.endpoint, self.spec.result_type, rule, view)
        self.future.settle(value)

    # -- queue states ---------------------------------------------------------------------

    def _queue_state(self, view: ReplyView, rule: ReplyRule) -> None:
        data = view.data
        if not isinstance(data, Mapping):
            return
        raw_state = json_path(data, rule.queue_state) if rule.queue_state else MISSING
        raw_reason = json_path(data, rule.queue_state_reason) if rule.queue_state_reason else MISSING
        if raw_state is MISSING and raw_reason is MISSING:
            return
        state = QueueState.parse(raw_state)
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

    def _metadata(self, view: ReplyView, rule: ReplyRule) -> None:
        if not self.metadata_only or self._reserved is not None:
            raise MetadataProtocolError(
                f"future {self.spec.request_id}: unexpected metadata-only reply after the metadata phase"
            )
        size = json_path(view.data, rule.size or "") if view.is_json else None
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
