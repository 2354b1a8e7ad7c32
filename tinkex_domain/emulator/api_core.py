"""Handlers: sessions, heartbeats, capabilities, health, futures, telemetry, inspection."""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ApiError
from .proto_wire import PROTOBUF, encode_forward_output, encode_sample_response, wants_protobuf
from .replies import JsonReply, Reply, StreamReply
from .routes import Request, Route, Services, cursor
from .training import ARCH

MAX_CONTEXT = 4096


def create_session(s: Services, req: Request) -> Reply:
    """POST create_session → {session_id, type, info_message}.

    ``previous_session_id`` (a recovering client's expired session) hands that session's models
    and samplers to the new one, so their ids keep working.
    """
    f = req.fields()
    previous = f.str_("previous_session_id")
    if previous is not None:
        s.sessions.get(previous)  # 404 for an unknown session
    session = s.sessions.create(f.str_list("tags") or [], f.dict_("user_metadata") or {},
                                f.str_("sdk_version"), f.str_("project_id"))
    if previous is not None:
        for run_id in s.training.adopt_session(previous, session.session_id):
            s.sessions.add_training_run(session.session_id, run_id)
        for sampler_id in s.samplers.adopt_session(previous, session.session_id):
            s.sessions.add_sampler(session.session_id, sampler_id)
    session.display_name = f.str_("display_name")
    return JsonReply({"session_id": session.session_id, "type": "create_session",
                      "info_message": "Connected to the local Tinker emulator"})


def session_heartbeat(s: Services, req: Request) -> Reply:
    """POST session_heartbeat {session_id} → {type}; a dropped beat is answered, not recorded."""
    session_id = req.fields().req_str("session_id")
    s.sessions.heartbeat(session_id, record="heartbeat_drop" not in req.flags)
    return JsonReply({"type": "session_heartbeat"})


def capabilities(s: Services, req: Request) -> Reply:
    """GET get_server_capabilities."""
    return JsonReply({"supported_models": [
        {"model_name": name, "model_id": name, "arch": ARCH, "max_context_length": MAX_CONTEXT}
        for name in s.config.supported_models]})


def healthz(s: Services, req: Request) -> Reply:
    """GET healthz."""
    return JsonReply({"status": "ok"})


def telemetry(s: Services, req: Request) -> Reply:
    """POST telemetry {session_id, platform, sdk_version, events} → {status: accepted}."""
    f = req.fields()
    f.req_list("events")
    s.telemetry.add(req.json())
    return JsonReply({"status": "accepted"})


def retrieve_future(s: Services, req: Request) -> Reply:
    """POST retrieve_future {request_id, allow_metadata_only} (long-poll)."""
    f = req.fields()
    request_id = f.req_str("request_id")
    allow_meta = f.bool_("allow_metadata_only", False)
    out = s.runtime.futures.retrieve(request_id, allow_meta, s.long_poll_s)
    if out.kind == "expired":
        raise ApiError(410, f"promise {request_id} expired or is unknown; submit a new request",
                       category="server", extra={"request_id": request_id})
    if out.kind == "pending":
        state: dict[str, Any] = {"request_id": request_id, "queue_state": out.queue_state,
                                 "queue_state_reason": out.queue_state_reason}
        if s.pending_reply == "408":
            return JsonReply({"error": "request still pending; poll again", **state}, status=408)
        return JsonReply({"type": "try_again", **state})
    headers = {"X-Emulator-Compute-Ms": f"{out.compute_seconds * 1000:.3f}"}
    encoder = PROTO_RESULTS.get(out.endpoint) if out.kind == "result" else None
    if encoder is not None and out.result is not None and wants_protobuf(req.headers):
        body = encoder(out.result)
        if s.official is not None:
            s.official.note_result(out.endpoint)
        return StreamReply([body], PROTOBUF, len(body), headers=headers)
    return JsonReply(out.payload, headers=headers)


#: Results a client may ask for as protobuf (``Accept: application/x-protobuf``).
PROTO_RESULTS = {"forward": encode_forward_output, "forward_backward": encode_forward_output,
                 "asample": encode_sample_response}


def list_sessions(s: Services, req: Request) -> Reply:
    """GET sessions?limit=20&offset=0 → {sessions, cursor}."""
    limit, offset = req.query_int("limit", 20), req.query_int("offset", 0)
    ids = s.sessions.list_ids()
    return JsonReply({"sessions": ids[offset:offset + limit], "cursor": cursor(offset, limit, len(ids))})


def get_session(s: Services, req: Request) -> Reply:
    """GET sessions/{session_id} → {training_run_ids, sampler_ids}."""
    session = s.sessions.get(req.params["session_id"])
    return JsonReply({"training_run_ids": list(session.training_run_ids),
                      "sampler_ids": list(session.sampler_ids)})


def inspect_telemetry(s: Services, req: Request) -> Reply:
    """GET /_emulator/telemetry → {batches}."""
    return JsonReply({"batches": s.telemetry.batches()})


def inspect_stats(s: Services, req: Request) -> Reply:
    """GET /_emulator/stats → {endpoint: {count, errors, compute_seconds, ...}}."""
    return JsonReply({k: attrs.asdict(v) for k, v in s.runtime.stats.snapshot().items()})


def inspect_seq(s: Services, req: Request) -> Reply:
    """GET /_emulator/models/{model_id}/seq_ids → {received, applied}."""
    rec = s.training.model(req.params["model_id"], live=False)
    seq = rec.sequencer
    return JsonReply({"received": seq.received() if seq else [],
                      "applied": seq.applied() if seq else []})


ROUTES = [
    Route("POST", "api/v1/create_session", "create_session", create_session, replay=True),
    Route("POST", "api/v1/session_heartbeat", "session_heartbeat", session_heartbeat),
    Route("GET", "api/v1/get_server_capabilities", "get_server_capabilities", capabilities),
    Route("GET", "api/v1/healthz", "healthz", healthz),
    Route("POST", "api/v1/telemetry", "telemetry", telemetry),
    Route("POST", "api/v1/retrieve_future", "retrieve_future", retrieve_future),
    Route("GET", "api/v1/sessions", "list_sessions", list_sessions),
    Route("GET", "api/v1/sessions/{session_id}", "get_session", get_session),
    Route("GET", "_emulator/telemetry", "inspect", inspect_telemetry, auth=False, faults=False),
    Route("GET", "_emulator/stats", "inspect", inspect_stats, auth=False, faults=False),
    Route("GET", "_emulator/models/{model_id}/seq_ids", "inspect", inspect_seq, auth=False,
          faults=False),
]
