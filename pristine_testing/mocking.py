"""A manifest-aware HTTP mock on top of ``responses`` (used by the ``pristine_mock`` fixture).

:class:`ManifestMock` routes every request under the manifest's base URL to the endpoint whose
method and path template match, checks the JSON body against the endpoint's request type
(strictly, as the client does before sending) and answers with the replies registered for that
endpoint by its qualified name (``resource.endpoint``). Anything else is a :class:`MockMismatch`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict, deque
from typing import Any
from urllib.parse import urlsplit

import attrs

from pristine_core.manifest import Manifest, load_manifest
from pristine_core.manifest.models import Endpoint, TypeSchema
from pristine_core.typesystem.compiled import to_wire

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class MockMismatch(AssertionError):
    """A request the manifest does not allow: undeclared endpoint, bad body or no reply registered."""


@attrs.frozen
class MockReply:
    """One registered reply: status, JSON (or raw bytes) body and headers."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class MockCall:
    """One request the mock answered: endpoint name, method, URL, path parameters and JSON body."""

    endpoint: str
    method: str
    url: str
    path_params: dict[str, str]
    body: Any


def _template_regex(path: str) -> re.Pattern[str]:
    pattern = ""
    for piece in re.split(r"(\{\+?[A-Za-z_][A-Za-z0-9_]*\})", path):
        if piece.startswith("{+"):
            pattern += f"(?P<{piece[2:-1]}>.+)"
        elif piece.startswith("{"):
            pattern += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern + "$")


class ManifestMock:
    """Answers requests for one manifest. Register replies with :meth:`reply`; read :attr:`calls`.

    Replies queue per endpoint; the last one keeps answering once the queue is down to it.
    """

    def __init__(self, manifest: Any, requests_mock: Any, *, base_url: str | None = None) -> None:
        self.manifest: Manifest = load_manifest(manifest)
        url = base_url or self.manifest.base_url
        if not url:
            raise ValueError(f"manifest {self.manifest.name!r} has no base_url: pass base_url=")
        self.base_url = url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path.rstrip("/")
        self._routes = [(ep, _template_regex(ep.path)) for ep in self.manifest.endpoints()]
        self._replies: dict[str, deque[MockReply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.calls: list[MockCall] = []
        self.problems: list[str] = []
        matcher = re.compile(re.escape(self.base_url) + r"(/.*)?$")
        for method in METHODS:
            requests_mock.add_callback(method, matcher, callback=self._answer)

    def reply(
        self,
        endpoint: str,
        json: Any = None,
        *,
        status: int = 200,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ManifestMock:
        """Queue a reply for ``endpoint`` (``resource.endpoint``); unknown names raise ``KeyError``."""
        try:
            self.manifest.endpoint(endpoint)
        except KeyError:
            known = ", ".join(ep.qualified_name for ep in self.manifest.endpoints())
            raise KeyError(f"{endpoint!r} is not an endpoint of {self.manifest.name!r}; known: {known}") from None
        with self._lock:
            self._replies[endpoint].append(MockReply(status, json, body, tuple((headers or {}).items())))
        return self

    def calls_to(self, endpoint: str) -> list[MockCall]:
        """The calls answered for one endpoint, in order."""
        return [call for call in self.calls if call.endpoint == endpoint]

    def _route(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        for endpoint, regex in self._routes:
            match = regex.match(path)
            if endpoint.method == method and match:
                return endpoint, match.groupdict()
        return None

    def _fail(self, message: str) -> MockMismatch:
        with self._lock:
            self.problems.append(message)
        return MockMismatch(message)

    def _answer(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(request.url)
        path = parts.path[len(self._prefix):] if parts.path.startswith(self._prefix) else parts.path
        routed = self._route(request.method, path or "/")
        if routed is None:
            declared = ", ".join(f"{ep.method} {ep.path}" for ep in self.manifest.endpoints())
            raise self._fail(
                f"{request.method} {path} matches no endpoint declared in manifest "
                f"{self.manifest.name!r} (declared: {declared})"
            )
        endpoint, params = routed
        name = endpoint.qualified_name
        body = self._body(request, endpoint)
        with self._lock:
            queue = self._replies.get(name)
            reply = (queue.popleft() if len(queue) > 1 else queue[0]) if queue else None
            self.calls.append(MockCall(name, request.method, request.url, params, body))
        if reply is None:
            raise self._fail(f"{name} was called but no reply is registered for it (pristine_mock(...).reply)")
        headers = dict(reply.headers)
        if reply.body is not None:
            return reply.status, headers, reply.body
        headers.setdefault("Content-Type", "application/json")
        return reply.status, headers, json.dumps(reply.json if reply.json is not None else {}).encode()

    def _body(self, request: Any, endpoint: Endpoint) -> Any:
        raw = request.body
        content_type = str(request.headers.get("Content-Type", ""))
        if not raw or "json" not in content_type:
            return raw or None
        try:
            body = json.loads(raw)
        except ValueError:
            raise self._fail(f"{endpoint.qualified_name}: request body is not valid JSON") from None
        if endpoint.request:
            _, errors = to_wire(self.manifest.types, TypeSchema(ref=endpoint.request), body)
            if errors:
                detail = "; ".join(f"{path or '$'}: {message}" for path, message in errors)
                raise self._fail(
                    f"{endpoint.qualified_name}: request body does not match type {endpoint.request!r}: {detail}"
                )
        return body
