"""The request pipeline: route → count → faults → auth → idempotent replay → handler."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from . import api_account, api_core, api_official, api_rest, api_sampling, api_training
from .clock import SleepFn
from .errors import ApiError
from .faults import FaultInjector, FaultRule
from .idempotency import IdempotencyCache
from .replies import JsonReply, Reply
from .routes import Request, Route, Router, Services, split_target

log = logging.getLogger(__name__)

API_KEY_PREFIX = "tml-"
RESET = None  # handle() returns None when the connection must be dropped without a reply


def all_routes() -> list[Route]:
    """Every route the emulator serves."""
    return [*api_core.ROUTES, *api_training.ROUTES, *api_sampling.ROUTES, *api_rest.ROUTES,
            *api_account.ROUTES, *api_official.ROUTES]


def _fault_reply(rule: FaultRule) -> JsonReply:
    if rule.kind == "server_error":
        return JsonReply({"error": "injected server error", "category": "server"},
                         status=rule.status or 500)
    if rule.kind == "heartbeat_fail":
        return JsonReply({"error": "injected heartbeat failure", "category": "server"},
                         status=rule.status or 503)
    if rule.kind == "billing":
        return JsonReply({"error": "payment required: billing is paused (injected)"}, status=402)
    headers = {}
    if rule.retry_after is not None:
        value = rule.retry_after
        headers["Retry-After"] = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return JsonReply({"error": "rate limited (injected)", "category": "server",
                      "queue_state": "paused_rate_limit",
                      "queue_state_reason": "injected rate limit"}, status=429, headers=headers)


class App:
    """Turns (method, target, headers, body) into a :class:`Reply` (or RESET)."""

    def __init__(self, services: Services, faults: FaultInjector, sleep: SleepFn) -> None:
        self.services = services
        self.faults = faults
        self._sleep = sleep
        self._router = Router(all_routes())
        self._idem = IdempotencyCache()
        self._stats = services.runtime.stats

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply | None:
        """Serve one request."""
        path, query = split_target(target)
        try:
            route, params = self._router.match(method, path)
        except ApiError as exc:
            return JsonReply(exc.body(), exc.status, exc.headers)
        counted = route.endpoint != "inspect"
        if counted:
            self._stats.request(route.endpoint)
        reply = self._serve(route, params, query, method, path, headers, body)
        if counted and reply is not None and reply_status(reply) >= 400:
            self._stats.error(route.endpoint)
        return reply

    def _serve(self, route: Route, params: dict[str, str], query: dict[str, list[str]],
               method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply | None:
        flags: frozenset[str] = frozenset()
        lose_reply = False
        if route.faults:
            decision = self.faults.decide(route.endpoint)
            if decision.latency > 0:
                self._stats.fault(route.endpoint, "latency")
                self._sleep(decision.latency)
            rule = decision.terminal
            if rule is not None:
                self._stats.fault(route.endpoint, rule.kind)
                if rule.kind == "reset":
                    return RESET
                if rule.kind == "heartbeat_drop":
                    flags = frozenset({"heartbeat_drop"})
                elif rule.kind == "reply_lost":
                    lose_reply = True
                else:
                    return _fault_reply(rule)
        if route.auth and not self._authorized(str(headers.get("X-API-Key") or "")):
            return JsonReply({"error": "missing or invalid X-API-Key header (emulator keys must "
                              f"start with {API_KEY_PREFIX!r})", "category": "user"}, status=401,
                             headers=_www_authenticate(headers))
        request = Request(method, path, params, query, headers, body, flags)
        key = headers.get("X-Idempotency-Key") if route.replay else None
        if key:
            reply, _ = self._idem.run(route.endpoint, key, lambda: self._call(route, request))
        else:
            reply = self._call(route, request)
        # "reply_lost": the work is done (and cached for a replay) but the client never hears.
        return RESET if lose_reply else reply

    def _authorized(self, key: str) -> bool:
        """An emulator API key, or a JWT this emulator issued (official SDK, JWT mode)."""
        if key.startswith(API_KEY_PREFIX):
            return True
        official = self.services.official
        return official is not None and key.startswith("eyJ") and official.tokens.verify(key) is not None

    def _call(self, route: Route, request: Request) -> Reply:
        try:
            return route.handler(self.services, request)
        except ApiError as exc:
            return JsonReply(exc.body(), exc.status, exc.headers)
        except self.services.runtime.backend.UserInputError as exc:
            return JsonReply({"error": str(exc), "category": "user"}, status=400)
        except Exception as exc:
            log.exception("emulator handler %s crashed", route.endpoint)
            return JsonReply({"error": f"internal emulator error: {type(exc).__name__}: {exc}",
                              "category": "server"}, status=500)


def _www_authenticate(headers: Mapping[str, str]) -> dict[str, str]:
    """A rejected JWT asks the official SDK to fetch a new one (``error="invalid_token"``)."""
    if str(headers.get("X-API-Key") or "").startswith("eyJ"):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return {}


def reply_status(reply: Reply) -> int:
    """The HTTP status a reply will be sent with."""
    return getattr(reply, "status", 200)
