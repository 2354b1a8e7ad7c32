"""``FuturesPlugin``: endpoints declared ``future`` return an :class:`APIFuture` at once."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pristine_core.bands import FUTURES
from pristine_core.contract import PluginSettings
from pristine_core.errors import APIResponseValidationError, PristineError
from pristine_core.hookspecs import hookimpl
from pristine_core.logs import get_logger
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import Call, Request, Response
from pristine_plugins.futures.background import submit_in_background
from pristine_plugins.futures.budget import ResponseBudget, shared_budget
from pristine_plugins.futures.errors import FutureClosedError
from pristine_plugins.futures.future import APIFuture
from pristine_plugins.futures.matching import Matcher, ReplyView
from pristine_plugins.futures.outcomes import failure, success_value
from pristine_plugins.futures.poller import Poller, PollSpec
from pristine_plugins.futures.queue_state import QueueStateLogger
from pristine_plugins.futures.settings import (
    PER_FUTURE_KEYS,
    SETTINGS,
    FuturesConfig,
    FuturesEndpoint,
    FuturesOptions,
    FuturesSettings,
    from_manifest,
    manifest_problems,
)
from pristine_runtime.lanes import Lane

if TYPE_CHECKING:
    from pristine_core.client import Client

log = get_logger("pristine_plugins.futures")


class FuturesPlugin:
    """Server-side futures resolved by polling the manifest's retrieve endpoint.

    One instance per client. Polls run on the ``futures`` lane of the client's scheduler (at
    most ``max_workers`` threads, started on the first future; timed polls wait in the client's
    one timer heap) and background submissions on its ``submit`` lane (``submit_workers``), so a
    long poll never holds up the client's other background work nor theirs. When the client
    closes it fails unresolved futures with :class:`FutureClosedError` and closes both lanes.
    """

    name = "futures"
    priority = FUTURES

    def __init__(self) -> None:
        self._client: Client | None = None
        self._settings = FuturesSettings()
        self._scheduler: Lane | None = None
        self._submit_scheduler: Lane | None = None
        self._submissions: set[APIFuture] = set()
        self._budget: ResponseBudget | None = None
        self._lock = threading.Lock()
        self._live: set[Poller] = set()
        self._loggers: dict[tuple[str, str], QueueStateLogger] = {}
        self._closed = False

    # -- hooks ----------------------------------------------------------------------------

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.futures``, the endpoint keys, config and call options."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """References of the block and endpoint keys; the retrieve endpoint when needed."""
        return manifest_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Read the settings: the manifest block overridden by ``client.meta.config["futures"]``."""
        self._client = client
        self._settings = from_manifest(client.meta.manifest, client.meta.settings_of(FuturesConfig).futures)
        self._budget = shared_budget(client.meta.tenant, self._settings.response_budget_bytes)

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Only ``future`` endpoints (its own retrieve calls carry the ``futures_poll`` option)."""
        return bool(endpoint.settings_of(FuturesEndpoint).future)

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Validate per-call overrides (option ``futures``) before anything is sent."""
        if not call.endpoint.settings_of(FuturesEndpoint).future:
            return
        call.context["futures"] = self._settings.with_overrides(
            call.settings_of(FuturesOptions).futures, where="request_options.futures", allowed=PER_FUTURE_KEYS
        )

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """On this plugin's own retrieve calls: the iteration (and first round-trip) header of
        each HTTP request, retries inside one poll included."""
        poller = request.call.settings_of(FuturesOptions).futures_poll if request.call is not None else None
        if poller is not None:
            poller.stamp(request.headers)

    @hookimpl
    def pristine_process_response(self, call: Call, response: Response) -> APIFuture | None:
        """For ``future`` endpoints: an :class:`APIFuture` for the submitted request, at once."""
        endpoint = call.endpoint
        keys = endpoint.settings_of(FuturesEndpoint)
        if not keys.future:
            return None
        settings: FuturesSettings = call.context.get("futures") or self._settings
        request_id = request_id_in_header(response, settings)
        if request_id is None:
            try:
                data = response.json()
            except (ValueError, UnicodeDecodeError):
                raise APIResponseValidationError(
                    f"{endpoint.qualified_name}: the submit reply is not JSON", body=response.text[:500]
                ) from None
            request_id = data.get(settings.request_id_field) if isinstance(data, Mapping) else None
            if request_id is None or request_id == "":
                return self._immediate(call, response, data, settings)
        request_id = str(request_id)
        return self.future_for(
            request_id,
            endpoint=endpoint.qualified_name,
            result_type=keys.result,
            request_type=self._request_type(call),
            observer=self._observer_for(call, request_id, settings),
            settings=settings,
            roundtrip_s=time.perf_counter() - call.started if call.started else None,
            label=call.settings_of(FuturesOptions).queue_state_label or keys.queue_state_label,
        )

    @hookimpl
    def pristine_client_closing(self, client: Client) -> None:
        """Fail unresolved futures and stop the worker pool within ``close_timeout_s``."""
        self.close()

    # -- public API -----------------------------------------------------------------------

    @property
    def settings(self) -> FuturesSettings:
        """The client-level settings (manifest block plus ``client.meta.config["futures"]``)."""
        return self._settings

    @property
    def budget(self) -> ResponseBudget | None:
        """The response byte budget shared by clients with this base URL and API key."""
        return self._budget

    @property
    def scheduler(self) -> Lane | None:
        """The poll lane of the client's scheduler (None until the first future polls)."""
        return self._scheduler

    def threads(self) -> list[Any]:
        """The live threads of this plugin's lanes (poll and submission workers); the client's
        timer thread is the client's, stopped when it closes."""
        schedulers = [s for s in (self._scheduler, self._submit_scheduler) if s is not None]
        return [t for s in schedulers for t in s.threads() if t.is_alive()]

    def submit_in_background(self, submit: Callable[[], Any], endpoint: str = "") -> APIFuture:
        """Run the blocking ``submit()`` on this plugin's submission lane (at most
        ``submit_workers`` threads) and return a future of its eventual result at once; see
        :func:`~pristine_plugins.futures.background.submit_in_background`. After :meth:`close`
        the future fails with :class:`~pristine_plugins.futures.background.SubmissionRefusedError`."""
        client = self._require_client()
        with self._lock:
            if self._submit_scheduler is None:
                self._submit_scheduler = client.meta.scheduler.lane(
                    "submit", self._settings.submit_workers, thread_name="pristine-submit"
                )
            scheduler = self._submit_scheduler
            if self._closed:
                scheduler.close(0.0)
        future = submit_in_background(scheduler, submit, endpoint)
        with self._lock:
            self._submissions.add(future)
        future.add_done_callback(self._submissions.discard)
        return future

    def pending(self) -> int:
        """How many futures are still being polled."""
        with self._lock:
            return len(self._live)

    def future_for(
        self,
        request_id: str,
        *,
        endpoint: str = "",
        result_type: str | None = None,
        request_type: str | None = None,
        observer: Any = None,
        settings: FuturesSettings | None = None,
        roundtrip_s: float | None = None,
        label: str | None = None,
    ) -> APIFuture:
        """Start polling for ``request_id`` (e.g. one saved earlier) and return its future.

        ``label`` picks the ``queue_state_reasons`` entry used when the server gives no reason.
        """
        client = self._require_client()
        settings = settings or self._settings
        if not settings.retrieve_endpoint:
            raise PristineError("features.futures.retrieve_endpoint is not set: futures cannot be polled")
        future: APIFuture[Any] = APIFuture(request_id, endpoint)
        spec = PollSpec(
            request_id=request_id,
            endpoint=endpoint,
            result_type=result_type,
            request_type=request_type or endpoint.rpartition(".")[2] or "future",
            settings=settings,
            observer=observer,
            roundtrip_s=roundtrip_s,
            label=str(label) if label else None,
        )
        with self._lock:
            if self._closed:
                future.settle(error=FutureClosedError(request_id))
                return future
            if self._scheduler is None:
                self._scheduler = client.meta.scheduler.lane(
                    "futures", self._settings.max_workers, thread_name="pristine-futures"
                )
            scheduler = self._scheduler
        assert self._budget is not None  # set by pristine_configure, like the client
        poller = Poller(client, future, spec, scheduler, self._budget)
        with self._lock:
            self._live.add(poller)
        future.add_done_callback(lambda _f: self._forget(poller))
        poller.start()
        return future

    def queue_state_logger(self, label: str, identifier: str) -> QueueStateLogger:
        """The shared logger for ``(label, identifier)`` (so the once-a-minute limit holds per id).

        Default reasons come from ``queue_state_reasons[label]``, else ``queue_state_reasons["default"]``.
        """
        key = (label, identifier)
        with self._lock:
            logger = self._loggers.get(key)
            if logger is None:
                reasons = self._settings.queue_state_reasons
                logger = QueueStateLogger(
                    label,
                    identifier,
                    clock=self._require_client().meta.clock,
                    reasons=reasons.get(label, reasons.get("default")),
                )
                self._loggers[key] = logger
            return logger

    def close(self) -> None:
        """Fail every unresolved future with :class:`FutureClosedError` and close this plugin's lanes."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = list(self._live)
            scheduler = self._scheduler
            submitter = self._submit_scheduler
            submissions = list(self._submissions)
        for future in submissions:  # not yet accepted by the server: they never will be now
            future.settle(error=FutureClosedError(future.request_id))
        if submitter is not None:
            submitter.close(self._settings.close_timeout_s)
        for poller in live:
            poller.future.settle(error=FutureClosedError(poller.spec.request_id))
        if scheduler is not None:
            stragglers = scheduler.close(self._settings.close_timeout_s)
            if stragglers:
                log.warning(
                    "pristine.futures.close_stragglers",
                    threads=len(stragglers),
                    waited_s=self._settings.close_timeout_s,
                    note="they exit when their retrieve call returns",
                )

    # -- helpers --------------------------------------------------------------------------

    def _require_client(self) -> Client:
        if self._client is None:
            raise PristineError("the futures plugin is not configured for a client")
        return self._client

    def _forget(self, poller: Poller) -> None:
        with self._lock:
            self._live.discard(poller)

    def _request_type(self, call: Call) -> str:
        endpoint_type = call.endpoint.settings_of(FuturesEndpoint).request_type
        explicit = call.settings_of(FuturesOptions).request_type or endpoint_type
        return explicit or call.endpoint.name

    def _observer_for(self, call: Call, request_id: str, settings: FuturesSettings) -> Any:
        options = call.settings_of(FuturesOptions)
        observer = options.queue_state_observer
        if observer is None:
            observer = self._require_client().meta.settings_of(FuturesConfig).queue_state_observer
        if observer is not None:
            return observer
        label = options.queue_state_label or call.endpoint.settings_of(FuturesEndpoint).queue_state_label
        if not label:
            return None
        return self.queue_state_logger(label, options.queue_state_id or request_id)

    def _immediate(self, call: Call, response: Response, data: Any, settings: FuturesSettings) -> APIFuture:
        """The submit reply has no id: the reply table says whether it is the result or a failure."""
        endpoint = call.endpoint
        future: APIFuture[Any] = APIFuture(None, endpoint.qualified_name)
        view = ReplyView(response, data=data)
        found = Matcher(settings.reply_table, settings.flags).match(view)
        try:
            if found is not None and found[0].then == "failure":
                raise failure(found[0], view, None)
            if found is None or found[0].then != "success":
                raise APIResponseValidationError(
                    f"{endpoint.qualified_name}: the submit reply has no {settings.request_id_field} to poll",
                    body=data,
                )
            result_type = endpoint.settings_of(FuturesEndpoint).result
            future.set_result(success_value(call.client, endpoint.qualified_name, result_type, found[0], view))
        except PristineError as exc:
            future.set_exception(exc)
        return future


def request_id_in_header(response: Response, settings: FuturesSettings) -> str | None:
    """The id from ``request_id_header`` (e.g. ``Location``), cut by ``request_id_pattern``
    (its group, else the whole match); None when the setting is off or the header is absent.
    A header that does not match the pattern is an :class:`APIResponseValidationError`."""
    if settings.request_id_header is None:
        return None
    value = response.headers.get(settings.request_id_header)
    if not value:
        return None
    if settings.request_id_pattern is None:
        return str(value)
    found = re.search(settings.request_id_pattern, value)
    if found is None:
        raise APIResponseValidationError(
            f"the {settings.request_id_header} header {value!r} does not match request_id_pattern",
            body=None,
        )
    return found.group(1) if found.re.groups else found.group(0)
