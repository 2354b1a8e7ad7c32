"""The plugin contract: one hook per phase of a call, plus lifecycle and events.

Every hook name starts with ``pristine_``. Arguments are keyword-only and may grow: an
implementation may accept any subset of a spec's arguments. Implementations are called in
effective plugin order: priority descending, then name ascending (see ``plugins.py``).

Phases of one call, in order::

    pristine_prepare_call          once per call: fill/adjust path params, query, headers, body
    (core validates the body against the manifest type: ValidationError before any network)
    pristine_encode_body           firstresult: produce the wire body (default: JSON)
    dispatch middleware chain      from pristine_dispatch_middleware, highest priority outermost
      pristine_prepare_attempt     per attempt, just before the transport sends
    (core maps error statuses to exceptions)
    pristine_process_response      firstresult: turn the response into the call's result
    pristine_decode_result         firstresult: decode a non-JSON result that arrived by another
                                   route (e.g. a future's result) into JSON-shaped data
    pristine_on_event              broadcast at any time (to the plugins whose
                                   pristine_event_names include the event's name)

A plugin may answer ``pristine_applies_to`` (once per endpoint and client): when it says an
endpoint is none of its business, its per-call hooks and its middleware are left out of that
endpoint's calls (unless a call carries plugin options).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Collection

    from pristine_core.client import Client
    from pristine_core.contract import PluginSettings
    from pristine_core.defaults import ClientDefaults
    from pristine_core.manifest.models import Endpoint, Manifest
    from pristine_core.pipeline import Call, EncodedBody, Event, Middleware, Request, Response

PROJECT = "pristine"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: The plugin contract's version: hook names, arguments and ``pristine_settings`` semantics.
#: Within one ``pristine-core`` minor version the contract only grows (new hooks, new optional
#: arguments); a hook is removed only after a minor version in which it was marked deprecated.
CONTRACT_VERSION = 2


class PristineDeprecationWarning(DeprecationWarning):
    """An implemented hook is deprecated (it still runs until the version the warning names)."""


def deprecated(since: str, removal: str, instead: str) -> pluggy.HookspecMarker:
    """Mark a hookspec deprecated: implementing it warns at registration, naming the replacement.

    Use as ``@deprecated("0.3", "0.5", "pristine_new_hook")`` in place of ``@hookspec``.
    """
    message = f"deprecated since pristine-core {since}, removed in {removal}: implement {instead} instead"
    return hookspec(warn_on_impl=PristineDeprecationWarning(message))  # type: ignore[return-value]


class LifecycleSpecs:
    """Hooks about a manifest and a client as a whole."""

    @hookspec
    def pristine_settings(self) -> PluginSettings | None:
        """Declare everything this plugin reads, as attrs classes (see :mod:`pristine_core.contract`).

        Return a :class:`~pristine_core.contract.PluginSettings`: manifest sections by path, a
        per-endpoint class, a ``Client(config=...)`` class and a per-call options class. The core
        structures each with its strict converter and reports problems with JSON paths; read
        the results with ``manifest.section(path)``, ``endpoint.settings_of(cls)``,
        ``client.meta.settings_of(cls)`` and ``call.settings_of(cls)``. Called without a client:
        answer from class-level data only.
        """

    @hookspec
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]] | None:
        """Check what structure alone cannot: references between settings, cross-field rules.

        Structure and value ranges are checked by the classes of ``pristine_settings``; this hook
        sees the structured manifest. Return a list of ``(json_path, message)`` problems (empty or
        None when all is well). The
        loader adds them to the one :class:`~pristine_core.errors.ManifestError` it raises, so a
        plugin never raises here. Called at client construction and by ``pristine manifest
        validate``.
        """

    @hookspec
    def pristine_type_classes(self, manifest: Manifest) -> dict[str, type] | None:
        """Supply your own classes for named manifest types (a domain plugin's rich types).

        Return ``{type_name: cls}``. ``cls`` is built with keyword arguments named after the
        type's properties and read back through attributes of those names, so an attrs class
        with helper methods fits. Results of all plugins are merged; on conflicts the plugin
        called first (highest priority) wins.
        """

    @hookspec(firstresult=True)
    def pristine_client_defaults(self, manifest: Manifest, environ: Mapping[str, str] | None) -> ClientDefaults | None:
        """Supply defaults from the client's surroundings (environment variables, a profile...).

        Called once per client, before it is built, with the structured manifest and the
        ``environ`` mapping the client was given (None: read ``os.environ``). Return a
        :class:`~pristine_core.defaults.ClientDefaults` (firstresult: the plugin called first
        wins); the client puts its explicit arguments over it. A bad value raises
        :class:`~pristine_core.errors.ValidationError` naming where it came from.
        """

    @hookspec
    def pristine_configure(self, client: Client) -> None:
        """Set up per-client state; called once after the plugin set is frozen.

        No network here: the dispatch chain is not built yet. Store state on the plugin
        instance (each client gets its own instances of class-based plugins) or in
        ``client.meta.state[<plugin name>]``.
        """

    @hookspec
    def pristine_client_started(self, client: Client) -> None:
        """The client is ready: endpoints may be called (e.g. create a session, start threads).

        An exception here closes the client and propagates to the caller of ``Client(...)``.
        """

    @hookspec
    def pristine_client_closing(self, client: Client) -> None:
        """The client is closing: stop threads, flush buffers, within bounded time.

        Called once, before the transport closes; endpoints may still be called. Exceptions are
        logged and swallowed so that every plugin gets its turn.
        """


class PrepareSpecs:
    """Hooks that shape a call before it is sent."""

    @hookspec
    def pristine_prepare_call(self, call: Call) -> None:
        """Adjust a call once, before validation (all implementations run, in plugin order).

        Typical work: inject a session id into ``call.body``, mint an idempotency key into
        ``call.context``, add headers. Runs once per logical call, never per attempt.
        """

    @hookspec(firstresult=True)
    def pristine_encode_body(self, call: Call) -> EncodedBody | None:
        """Encode ``call.wire_body`` (already validated JSON-able data) for the wire.

        Return an :class:`~pristine_core.pipeline.EncodedBody`, or None to let the next plugin
        (and finally the core's JSON encoder) do it. The multipart plugin answers for endpoints
        declared ``multipart``.
        """

    @hookspec(firstresult=True)
    def pristine_estimate_bytes(self, call: Call) -> int | None:
        """Estimate the bytes a call costs (for byte budgets); None means "use the body size".

        Called once per call while its first request is built; the answer becomes
        ``request.byte_size``, which byte-budget middleware (the pool plugin) charges. Domain
        plugins answer for payloads whose wire size is a poor proxy (token counts).
        """

    @hookspec
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Adjust one attempt just before the transport sends it (e.g. attempt-count headers).

        ``request.attempt`` is 0 for the first try. Runs once per attempt.
        """


class DispatchSpecs:
    """Hooks that contribute steps around the transport."""

    @hookspec
    def pristine_dispatch_middleware(self, client: Client) -> Middleware | list[Middleware] | None:
        """Contribute dispatch middleware: ``handler(request, call_next) -> Response``.

        Collected once per client and composed by priority (highest outermost) around the
        transport. A handler may call ``call_next`` several times (retries) or not at all
        (a circuit breaker rejecting fast). Raise Pristine errors, never transport exceptions.
        """


class RoutingSpecs:
    """Which endpoints a plugin's per-call work concerns (an optional speed-up)."""

    @hookspec
    def pristine_applies_to(self, client: Client, endpoint: Endpoint) -> bool | Collection[str] | None:
        """Whether (and with which per-call hooks) this plugin acts on calls of ``endpoint``.

        Asked of each plugin on its own, once per endpoint and client, the first time the
        endpoint is called (after ``pristine_configure``). The per-call hooks are
        ``pristine_prepare_call``, ``pristine_encode_body``, ``pristine_estimate_bytes``,
        ``pristine_prepare_attempt``, ``pristine_process_response`` and
        ``pristine_dispatch_middleware`` (standing for the middleware the plugin returned from
        it). False skips all of them for that endpoint's calls; a collection of those names
        keeps only the ones named; True, None or no implementation keeps them all. Leave out
        only what would do nothing for the endpoint. Calls that carry plugin options
        (``request_options`` keys the core does not own) always run every plugin. An unknown
        hook name raises :class:`~pristine_core.errors.PristineError` at the first call.
        """


class ResponseSpecs:
    """Hooks that turn a response into the call's result."""

    @hookspec(firstresult=True)
    def pristine_process_response(self, call: Call, response: Response) -> Any:
        """Turn a successful response into the call's result; None passes to the next plugin.

        Error statuses never get here (the core has raised already). The futures plugin
        returns an ``APIFuture`` for endpoints declared ``future``; the streaming plugin an
        event iterator for ``stream``. When every plugin passes, the core parses the JSON body
        into the declared response type.
        """

    @hookspec(firstresult=True)
    def pristine_decode_result(self, endpoint: Endpoint, response: Response) -> Any:
        """Decode a non-JSON result body of ``endpoint`` into JSON-shaped data; None passes.

        Used for payloads that reach a call by another route than its own response, such as
        a future's result fetched from the retrieve endpoint: ``endpoint`` is the endpoint
        that submitted the work (its manifest keys say how its results are encoded),
        ``response`` the reply that carries the result. The returned data is then parsed
        into the endpoint's declared result type like a JSON body would be.
        """


class EventSpecs:
    """Broadcasts for telemetry and observers."""

    @hookspec
    def pristine_on_event(self, event: Event) -> None:
        """Observe an event (``request.start``, ``request.end``, ``retry``, ``queue_state``...).

        Called synchronously on the thread that emitted it: keep it fast, never raise (errors
        are logged and swallowed), never block on the network.
        """

    @hookspec
    def pristine_event_names(self) -> Collection[str] | None:
        """The names of the events this plugin's ``pristine_on_event`` wants (None: every event).

        Asked once per client, after ``pristine_configure`` (so the answer may depend on the
        plugin's settings). Events no plugin wants are never built: a plugin that forwards only
        ``request.error`` spares every call the ``request.start``/``request.end`` events.
        """


SPEC_CLASSES = (LifecycleSpecs, PrepareSpecs, DispatchSpecs, RoutingSpecs, ResponseSpecs, EventSpecs)


def all_hook_names() -> list[str]:
    """Names of every hookspec, for docs and the meta-test."""
    return sorted(name for cls in SPEC_CLASSES for name in vars(cls) if name.startswith("pristine_"))
