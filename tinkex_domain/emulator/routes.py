"""Requests, routes and the shared service bundle the handlers work on."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

import attrs

from .account import AccountState
from .checkpoints import ArchiveLinks, CheckpointStore
from .config import EmulatorConfig
from .errors import ApiError, bad_field
from .fields import Fields
from .replies import Reply
from .runtime import Runtime
from .sampling import SamplingService
from .sessions import SessionRegistry
from .stats import TelemetrySink
from .training import TrainingService


@attrs.define
class Services:
    """Everything handlers need; ``base_url``, ``pending_reply`` and ``long_poll_s`` may change."""

    config: EmulatorConfig
    runtime: Runtime
    sessions: SessionRegistry
    checkpoints: CheckpointStore
    links: ArchiveLinks
    samplers: SamplingService
    training: TrainingService
    telemetry: TelemetrySink
    base_url: str = ""
    pending_reply: str = "try_again"
    long_poll_s: float = 2.0
    account: AccountState = attrs.field(
        default=attrs.Factory(lambda self: AccountState(self.config.clock), takes_self=True))
    official: Any = None  # api_official.OfficialState: the official SDK's extra endpoints


@attrs.frozen
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    flags: frozenset[str] = frozenset()

    def json(self) -> Any:
        """The decoded JSON body (``{}`` when empty); 400 when it is not JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"body: invalid JSON ({exc})", field="body", category="user") from None

    def fields(self) -> Fields:
        """The JSON body as :class:`Fields` (must be an object)."""
        return Fields(self.json(), "")

    def query_int(self, name: str, default: int, minimum: int = 0) -> int:
        """An integer query parameter."""
        values = self.query.get(name)
        if not values:
            return default
        try:
            value = int(values[-1])
        except ValueError:
            raise bad_field(name, f"must be an integer, got {values[-1]!r}") from None
        if value < minimum:
            raise bad_field(name, f"must be >= {minimum}")
        return value

    def query_str(self, name: str) -> str | None:
        """A string query parameter (last occurrence)."""
        values = self.query.get(name)
        return values[-1] if values else None


Handler = Callable[[Services, Request], Reply]


@attrs.frozen
class Route:
    """``pattern`` segments are literals or ``{name}`` (one segment)."""

    method: str
    pattern: str
    endpoint: str
    handler: Handler
    auth: bool = True
    faults: bool = True
    replay: bool = False  # replies replayed for a resent X-Idempotency-Key

    @property
    def segments(self) -> tuple[str, ...]:
        """The pattern split on '/'."""
        return tuple(self.pattern.strip("/").split("/"))


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """Request target → (unquoted path without slashes at the ends, query)."""
    path, _, query = target.partition("?")
    return unquote(path).strip("/"), parse_qs(query, keep_blank_values=True)


class Router:
    """Matches (method, path) against the route table."""

    def __init__(self, routes: list[Route]) -> None:
        self._routes = routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and its path parameters; 404 / 405 JSON errors otherwise."""
        parts = path.split("/") if path else []
        methods = []
        for route in self._routes:
            params = _match(route.segments, parts)
            if params is None:
                continue
            if route.method == method:
                return route, params
            methods.append(route.method)
        if methods:
            raise ApiError(405, f"method {method} not allowed for /{path}",
                           headers={"Allow": ", ".join(sorted(set(methods)))})
        raise ApiError(404, f"unknown endpoint: {method} /{path}")


def _match(pattern: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(parts):
        return None
    params: dict[str, str] = {}
    for pat, part in zip(pattern, parts, strict=True):
        if pat.startswith("{") and pat.endswith("}"):
            if not part:
                return None
            params[pat[1:-1]] = part
        elif pat != part:
            return None
    return params


def cursor(offset: int, limit: int, total: int) -> dict[str, int]:
    """The pagination cursor object."""
    return {"offset": offset, "limit": limit, "total_count": total}
