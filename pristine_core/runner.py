"""The call pipeline: the one place a call runs, from its first request to its events.

A :class:`Pipeline` belongs to one client. Endpoint methods (``endpoint.py``) bind arguments
into a :class:`~pristine_core.pipeline.Call` and a first :class:`~pristine_core.pipeline.Request`
with its public attributes; :meth:`Pipeline.execute` emits the request events and runs the
dispatch middleware chain around the transport; ``responses.finish`` maps errors and turns the
response into the result. The attributes below are the whole surface those modules use.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs
import pluggy

from pristine_core.errors import BackoffPending, PristineError
from pristine_core.logs import get_logger
from pristine_core.pipeline import Call, CallNext, Event, Middleware, Request, Response, compose
from pristine_core.transport import Transport, deadline_exceeded
from pristine_runtime.clock import SYSTEM_CLOCK, Clock
from pristine_runtime.secrets import SecretHeaders

log = get_logger(__name__)


#: A per-call hook, called with its arguments in the hookspec's order (see :func:`direct_caller`).
HotHook = Callable[..., Any]


def direct_caller(caller: pluggy.HookCaller, argnames: tuple[str, ...], firstresult: bool) -> HotHook | None:
    """A plain function doing what ``caller(**kwargs)`` does for a hook called on every request.

    ``argnames`` are the hookspec's arguments, passed positionally in that order. The
    implementations are looked up once (the plugin set is frozen when a client starts) and
    called in pluggy's order; the first non-None result ends a ``firstresult`` hook; errors
    propagate as they do through pluggy. None when no plugin implements the hook. Hooks with
    wrappers (or implementations taking optional keyword arguments) keep pluggy's dispatch, and
    so do calls made through ``client.meta.hook``.
    """
    impls = caller.get_hookimpls()
    if not impls:
        return None
    if any(impl.hookwrapper or impl.wrapper or impl.kwargnames for impl in impls):

        def through_pluggy(*args: Any) -> Any:
            return caller(**dict(zip(argnames, args, strict=True)))

        return through_pluggy
    functions = tuple(_positional(impl, argnames) for impl in reversed(impls))
    if len(functions) == 1:
        return functions[0]
    if firstresult:

        def first(*args: Any) -> Any:
            for function in functions:
                result = function(*args)
                if result is not None:
                    return result
            return None

        return first

    def each(*args: Any) -> None:
        for function in functions:
            function(*args)

    return each


def _positional(impl: pluggy.HookImpl, argnames: tuple[str, ...]) -> HotHook:
    """``impl``'s function taking the spec's arguments positionally (it may accept fewer)."""
    wanted = tuple(impl.argnames)
    if wanted == argnames:
        return impl.function
    picks = tuple(argnames.index(name) for name in wanted)
    function = impl.function

    def picked(*args: Any) -> Any:
        return function(*[args[i] for i in picks])

    return picked


@attrs.frozen
class HookPresence:
    """The per-call hooks as plain functions (None when no plugin implements one), so the hot
    path skips empty hooks and pluggy's dispatch; ``on_event`` says whether anyone listens."""

    prepare_call: HotHook | None
    encode_body: HotHook | None
    prepare_attempt: HotHook | None
    process_response: HotHook | None
    on_event: bool
    estimate_bytes: HotHook | None

    @classmethod
    def of(cls, pm: pluggy.PluginManager, skip: Mapping[str, Collection[object]] | None = None) -> HookPresence:
        """Look at the registered implementations of ``pm``, leaving out, per hook name, those
        of the plugins (objects) that ``skip`` lists."""

        def caller(name: str) -> pluggy.HookCaller:
            left_out = (skip or {}).get(name)
            return pm.subset_hook_caller(name, left_out) if left_out else getattr(pm.hook, name)

        return cls(
            prepare_call=direct_caller(caller("pristine_prepare_call"), ("call",), False),
            encode_body=direct_caller(caller("pristine_encode_body"), ("call",), True),
            prepare_attempt=direct_caller(caller("pristine_prepare_attempt"), ("request",), False),
            process_response=direct_caller(caller("pristine_process_response"), ("call", "response"), True),
            on_event=bool(pm.hook.pristine_on_event.get_hookimpls()),
            estimate_bytes=direct_caller(caller("pristine_estimate_bytes"), ("call",), True),
        )


def _acting_hooks(impl: pluggy.HookImpl, answer: Any) -> frozenset[str] | None:
    """The per-call hooks a ``pristine_applies_to`` answer keeps (None: all of them)."""
    if answer is None or answer is True:
        return None
    if answer is False:
        return frozenset()
    acts = frozenset([answer] if isinstance(answer, str) else answer)
    unknown = sorted(acts.difference(PER_CALL_HOOKS))
    if unknown:
        raise PristineError(
            f"plugin {impl.plugin_name!r}: pristine_applies_to named {', '.join(unknown)}, "
            f"not a per-call hook ({', '.join(PER_CALL_HOOKS)})"
        )
    return acts


@attrs.frozen
class Route:
    """What the calls of one endpoint run: the per-call hooks and the dispatch chain of the
    plugins that act on it (see ``pristine_applies_to``)."""

    hooks: HookPresence
    dispatch: CallNext
    #: Per per-call hook name (``pristine_dispatch_middleware`` for the middleware), the names
    #: of the plugins left out of it (empty for the full route).
    skipped: Mapping[str, frozenset[str]] = attrs.field(factory=dict, hash=False)

    def left_out(self, hook: str) -> frozenset[str]:
        """The names of the plugins whose ``hook`` this route skips."""
        return self.skipped.get(hook, frozenset())


#: The hooks a ``pristine_applies_to`` answer may name: a plugin's per-call work.
PER_CALL_HOOKS = (
    "pristine_prepare_call",
    "pristine_encode_body",
    "pristine_estimate_bytes",
    "pristine_prepare_attempt",
    "pristine_process_response",
    "pristine_dispatch_middleware",
)


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class Pipeline:
    """Everything a call of one client needs, and the steps that run it.

    Public attributes: ``hooks`` (:class:`HookPresence`), ``base_url``, ``timeout_s``,
    ``call_timeout_s`` (an explicit client timeout bounds whole calls), ``clock``,
    ``default_query``, ``transport`` and ``middleware`` (set by the client once plugins are
    configured).
    """

    _pm: pluggy.PluginManager
    base_url: str
    timeout_s: float
    #: The client's explicit ``timeout_s`` (None when not given): it bounds each whole call.
    call_timeout_s: float | None = None
    clock: Clock = SYSTEM_CLOCK
    default_query: Mapping[str, Any]
    _anonymous: Mapping[str, str] = attrs.field(alias="headers")
    #: The API key (and secret headers) stay Secrets until a request is built.
    _authenticated: SecretHeaders = attrs.field(alias="auth_headers")
    transport: Transport
    _event_fields: Mapping[str, Any] = attrs.field(alias="event_fields", factory=dict)
    hooks: HookPresence = attrs.field(init=False)
    #: Each listener with the event names it wants (None: every event; see narrow_events).
    _event_impls: list[tuple[pluggy.HookImpl, frozenset[str] | None]] = attrs.field(init=False)
    _listeners: dict[str, tuple[pluggy.HookImpl, ...]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        self.hooks = HookPresence.of(self._pm)
        self._event_impls = [(impl, None) for impl in reversed(self._pm.hook.pristine_on_event.get_hookimpls())]
        self.use_middleware([])

    def headers(self, auth: bool) -> dict[str, str]:
        """A fresh copy of the base headers, with the API key when ``auth`` is true."""
        return self._authenticated.reveal() if auth else dict(self._anonymous)

    def use_middleware(self, owned: list[tuple[Middleware, str | None]]) -> None:
        """Compose the dispatch chain (highest priority outermost) around the transport.

        Each middleware comes with the name of the plugin that contributed it, so that an
        endpoint the plugin does not apply to skips it (None: it runs everywhere).
        """
        #: Each middleware with the name of the plugin that contributed it, outermost first.
        self._owned = sorted(owned, key=lambda pair: (-pair[0].priority, pair[0].name))
        self.middleware = [m for m, _ in self._owned]
        self._full = Route(self.hooks, compose(self.middleware, self._sender(self.hooks.prepare_attempt)))
        #: Per endpoint (by id; the manifest keeps the endpoints alive): its route.
        self._routes: dict[int, Route] = {}

    def route(self, call: Call) -> Route:
        """The route of ``call``: its endpoint's (built on first use), or the full one when the
        call carries plugin options."""
        if call.plugin_options:
            return self._full
        endpoint = call.endpoint
        found = self._routes.get(id(endpoint))
        if found is None:
            found = self._routes[id(endpoint)] = self._route_of(call.client, endpoint)
        return found

    def _route_of(self, client: Any, endpoint: Any) -> Route:
        """Ask each plugin's ``pristine_applies_to`` about ``endpoint``; leave each out of the
        per-call hooks (and middleware) it does not act with there."""
        given = {"client": client, "endpoint": endpoint}
        skip: dict[str, list[object]] = {hook: [] for hook in PER_CALL_HOOKS}
        for impl in self._pm.hook.pristine_applies_to.get_hookimpls():
            acts = _acting_hooks(impl, impl.function(*[given[name] for name in impl.argnames]))
            for hook in PER_CALL_HOOKS:
                if acts is not None and hook not in acts:
                    skip[hook].append(impl.plugin)
        if not any(skip.values()):
            return self._full
        names = {hook: frozenset(str(self._pm.get_name(p)) for p in plugins) for hook, plugins in skip.items()}
        hooks = HookPresence.of(self._pm, skip)
        dropped = names["pristine_dispatch_middleware"]
        middleware = [m for m, owner in self._owned if owner is None or owner not in dropped]
        skipped = {hook: plugins for hook, plugins in names.items() if plugins}
        return Route(hooks, compose(middleware, self._sender(hooks.prepare_attempt)), skipped)

    def narrow_events(self, pm: pluggy.PluginManager) -> None:
        """Ask each plugin which events its ``pristine_on_event`` wants (``pristine_event_names``);
        called once the plugins are configured. Events nobody wants are then never built."""
        wanted: dict[str, Any] = {
            impl.plugin_name: impl.function() for impl in pm.hook.pristine_event_names.get_hookimpls()
        }
        narrowed: list[tuple[pluggy.HookImpl, frozenset[str] | None]] = []
        for impl, _ in self._event_impls:
            names = wanted.get(impl.plugin_name)
            if isinstance(names, str):  # one name, not its letters
                names = (names,)
            narrowed.append((impl, None if names is None else frozenset(names)))
        self._event_impls = narrowed
        self._listeners = {}

    def listeners(self, name: str) -> tuple[pluggy.HookImpl, ...]:
        """The ``pristine_on_event`` implementations that want events called ``name``."""
        found = self._listeners.get(name)
        if found is None:
            found = tuple(impl for impl, names in self._event_impls if names is None or name in names)
            self._listeners[name] = found
        return found

    def emit(self, name: str, **fields: Any) -> None:
        """Broadcast an :class:`~pristine_core.pipeline.Event` to ``pristine_on_event`` hooks."""
        impls = self.listeners(name)
        if not impls:
            return
        event = Event(name, fields)
        # One by one, so that a failing observer neither breaks the call nor starves the rest.
        for impl in impls:
            try:
                impl.function(event=event)
            except Exception as exc:
                log.warning(
                    "pristine.event_hook_failed",
                    event_name=name,
                    plugin=impl.plugin_name,
                    error=f"{type(exc).__name__}: {exc}",
                )

    def execute(self, call: Call, request: Request) -> Response:
        """Send the first request of ``call`` through the middleware chain; emit its events."""
        dispatch = call.route.dispatch
        if not self.hooks.on_event:
            return dispatch(request)
        self._request_event("request.start", call, request, method=request.method)
        try:
            response = dispatch(request)
        except BackoffPending as exc:  # not a failure: the caller sends it again later
            self._request_event("request.deferred", call, request, delay_s=exc.delay_s)
            raise
        except PristineError as exc:
            self._request_event("request.error", call, request, error=type(exc).__name__, exception=exc)
            raise
        self._request_event(
            "request.end",
            call,
            request,
            status=response.status_code,
            attempts=response.attempts,
            elapsed_s=response.elapsed_s,
        )
        return response

    def _request_event(self, name: str, call: Call, request: Request, **fields: Any) -> None:
        """Emit a request event (when someone wants it) with what every one carries: the
        endpoint, the request's pool and ``config["event_metadata"]``, laid over the rest (a
        metadata key the event also has, ``pool`` say, takes the metadata's value)."""
        if self.listeners(name):
            endpoint = call.endpoint.qualified_name
            self.emit(name, **{"endpoint": endpoint, **fields, "pool": request.pool, **self._event_fields})

    def _sender(self, prepare_attempt: HotHook | None) -> CallNext:
        """The innermost step of a route: its ``pristine_prepare_attempt`` hooks, then one attempt
        through the transport, within what is left of the call's deadline."""

        def send(request: Request) -> Response:
            if prepare_attempt is not None:
                prepare_attempt(request)
            budget = None
            if request.deadline is not None:
                budget = request.deadline - self.clock.monotonic()
                if budget <= 0:
                    raise deadline_exceeded(request)
            response = self.transport.send(request, budget_s=budget)
            response.attempts = request.attempt + 1
            return response

        return send
