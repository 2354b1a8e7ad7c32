"""Handlers the official tinker SDK needs beyond Tinkex's protocol: client/config,
client/dynamic_config, auth/token, sessions/{id}/finish and the batched retrieve_futures."""

from __future__ import annotations

import threading

import attrs

from .client_flags import ClientFlags
from .errors import ApiError, bad_field
from .future_log import FutureLog
from .jwt import TokenIssuer
from .replies import JsonReply, Reply
from .routes import Request, Route, Services

FINISH_REASONS = ("success", "errored", "interrupted")


@attrs.define
class OfficialState:
    """What these handlers keep: the advertised flags, the token issuer, completion logs and
    protobuf body and result counts."""

    flags: ClientFlags
    tokens: TokenIssuer
    future_log: FutureLog
    body_encodings: dict[str, int] = attrs.Factory(dict)  # protobuf bodies by Content-Encoding
    results: dict[str, int] = attrs.Factory(dict)  # protobuf results sent, by submitting endpoint
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    def note_body(self, content_encoding: str) -> None:
        """Count one protobuf request body by its Content-Encoding (``identity`` when none)."""
        with self._lock:
            key = content_encoding or "identity"
            self.body_encodings[key] = self.body_encodings.get(key, 0) + 1


    def note_result(self, endpoint: str) -> None:
        """Count one protobuf result sent for a future of ``endpoint``."""
        with self._lock:
            self.results[endpoint] = self.results.get(endpoint, 0) + 1


def _state(s: Services) -> OfficialState:
    if s.official is None:
        raise ApiError(404, "the official SDK's endpoints are not enabled on this emulator")
    return s.official  # type: ignore[no-any-return]


def client_config(s: Services, req: Request) -> Reply:
    """POST client/config {sdk_version} → the flags."""
    return JsonReply(_state(s).flags.client_config())


def dynamic_config(s: Services, req: Request) -> Reply:
    """POST client/dynamic_config {sdk_version} → refresh interval and cancel settings."""
    return JsonReply(_state(s).flags.dynamic_config())


def auth_token(s: Services, req: Request) -> Reply:
    """POST auth/token {} (API key in X-API-Key) → {jwt}."""
    state = _state(s)
    if not state.flags.pjwt_auth_enabled:
        raise ApiError(404, "JWT exchange is disabled (client flag pjwt_auth_enabled)")
    return JsonReply({"jwt": state.tokens.issue(str(req.headers.get("X-API-Key") or ""))})


def finish_session(s: Services, req: Request) -> Reply:
    """POST sessions/{session_id}/finish {reason: {type}, detail} → {}."""
    session_id = req.params["session_id"]
    f = req.fields()
    reason = f.obj("reason")
    kind = reason.str_("type", "success") if reason is not None else "success"
    if kind not in FINISH_REASONS:
        raise bad_field("reason.type", f"must be one of {', '.join(FINISH_REASONS)}")
    s.sessions.finish(session_id, kind, f.str_("detail"))
    return JsonReply({})


def retrieve_futures(s: Services, req: Request) -> Reply:
    """POST retrieve_futures {target, prev_cursor, retrieved_request_ids, timeout?} (long-poll)
    → {completions: [{state, request_id}], cursor}."""
    f = req.fields()
    target = f.req_obj("target")
    kind = target.str_("type", "sampling_session")
    if kind != "sampling_session":
        raise bad_field("target.type", f"unsupported target type {kind!r}")
    sampler = s.samplers.get(target.req_str("sampling_session_id"), "target.sampling_session_id")
    clone = target.int_("cloned_sampler_id", 0, minimum=0) or 0
    prev = f.int_("prev_cursor", 0, minimum=0) or 0
    wait = min(max(f.float_("timeout", s.long_poll_s), 0.0), s.long_poll_s)
    completions, cursor = _state(s).future_log.poll(sampler.sampler_id, clone, prev, wait)
    return JsonReply({"completions": [
        {"state": "finished" if state == "completed" else "failed", "request_id": request_id}
        for request_id, state in completions], "cursor": cursor})


ROUTES = [
    Route("POST", "api/v1/client/config", "client_config", client_config),
    Route("POST", "api/v1/client/dynamic_config", "dynamic_config", dynamic_config),
    Route("POST", "api/v1/auth/token", "auth_token", auth_token),
    Route("POST", "api/v1/sessions/{session_id}/finish", "finish_session", finish_session),
    Route("POST", "api/v1/retrieve_futures", "retrieve_futures", retrieve_futures),
]
