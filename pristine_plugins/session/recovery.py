"""Session recovery: when the server says the session is gone, create a new one once and resend.

Manifest (``features.session.recover``; ``false`` or absent = off)::

    "recover": {"statuses": [404], "body_contains": "session_expired",
                "previous_field": "previous_session_id"}

A response whose status is in ``statuses`` and whose body contains ``body_contains`` means "this
session expired". The first call to see it creates a new session (``previous_field``, when set,
names the create-body field that carries the expired id so the server can hand over what the old
session owned), swaps the id in the client's :class:`SessionHandle`, emits ``session.recreated``
and logs the warning ``pristine.session.recreated``. The call is then sent once more, with the new
id put into its JSON body where it carried the old one. Calls racing with it (in flight while the
session expired) find the id already replaced and are just sent once more. A call is never resent
twice, and a new session is created at most once per expired id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from pristine_core.contract import non_empty, settings, status_codes
from pristine_core.logs import get_logger
from pristine_core.pipeline import CallNext, Request, Response

if TYPE_CHECKING:
    from pristine_core.client import Client
    from pristine_plugins.session.handle import SessionHandle

log = get_logger(__name__)


@settings
class Recovery:
    """How to recognise an expired session and how to ask for its replacement."""

    statuses: tuple[int, ...] = attrs.field(default=(404,), validator=[non_empty, status_codes])
    body_contains: str | None = attrs.field(default=None, validator=non_empty)
    previous_field: str | None = attrs.field(default=None, validator=non_empty)

    def expired(self, response: Response) -> bool:
        """True when ``response`` says the session is gone."""
        if response.status_code not in self.statuses:
            return False
        if self.body_contains is None:
            return True
        try:
            return self.body_contains in response.text
        except Exception:
            return False


def _swap_body(request: Request, field: str, old: str, new: str) -> None:
    """Put ``new`` into the JSON body's top-level ``field`` where it held ``old``."""
    body = request.body
    if not isinstance(body, (bytes, bytearray)) or not body:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    if isinstance(data, dict) and data.get(field) == old:
        data[field] = new
        request.body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class SessionRecovery:
    """The dispatch step (and heartbeat hook) that replaces an expired session."""

    def __init__(
        self,
        client: Client,
        handle: SessionHandle,
        recovery: Recovery,
        create: Callable[[str], str],
        inject_field: str | None,
        create_endpoint: str,
    ) -> None:
        self.client = client
        self.handle = handle
        self.recovery = recovery
        self._create = create
        self._inject_field = inject_field
        self._create_endpoint = create_endpoint
        self._lock = threading.Lock()
        self.recreated = 0

    def replace(self, expired_id: str) -> str:
        """The live session id: a new session when ``expired_id`` is still current, else the one
        another caller already made."""
        with self._lock:
            if self.handle.session_id != expired_id:
                return self.handle.session_id
            new_id = self._create(expired_id)
            self.handle.session_id = new_id
            self.recreated += 1
        log.warning("pristine.session.recreated", old_session_id=expired_id, new_session_id=new_id)
        self.client.meta.emit("session.recreated", old_session_id=expired_id, session_id=new_id)
        return new_id

    def _sent_id(self, request: Request) -> str:
        """The session id this request speaks for: its body's, else the current one."""
        if self._inject_field and isinstance(request.body, (bytes, bytearray)):
            try:
                data = json.loads(request.body)
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get(self._inject_field), str):
                return str(data[self._inject_field])
        return self.handle.session_id

    def __call__(self, request: Request, call_next: CallNext) -> Response:
        seen_id = self._sent_id(request)
        response = call_next(request)
        call = request.call
        if call is None or request.stream or call.endpoint.qualified_name == self._create_endpoint:
            return response
        if not self.recovery.expired(response):
            return response
        new_id = self.replace(seen_id)
        if new_id == seen_id:
            return response
        response.close()
        if self._inject_field:
            _swap_body(request, self._inject_field, seen_id, new_id)
        request.attempt += 1
        return call_next(request)
