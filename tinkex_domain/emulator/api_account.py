"""Handlers: external weights, weight copies and the account endpoints of tinker 0.38.

``save_weights_external`` (an ordered training operation), ``external_weights_urls`` (signed
per-file URLs), ``copy_weights``, session search / trace export / project assignment, the
caller's identity, billing usage, the audit log and current checkpoint storage usage.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from .account import ORG_URN, USD_PER_GB_MONTH, USER_NAME, USER_URN
from .api_training import _ordered, _ttl
from .checkpoints import CheckpointRecord, iter_file, parse_tinker_path
from .clock import iso_utc
from .errors import ApiError, bad_field
from .fields import Fields
from .replies import EmptyReply, JsonReply, Reply, StreamReply
from .routes import Request, Route, Services
from .sessions import Session
from .training import Work

WEIGHTS_TOKEN_HEADER = "X-Tinker-Weights-Access-Token"
MAX_BILLING_WINDOW = _dt.timedelta(days=14)
AUDIT_EVENT_TYPES = ("all", "checkpoints", "projects", "teams", "organizations")
STATUS_QUERIES = ("active", "cancelled", "failed", "client_finished")


# ------------------------------------------------------------------ weights
def save_weights_external(s: Services, req: Request) -> Reply:
    """POST save_weights_external {model_id, seq_id, path, ttl_seconds?, age_encryption_recipients?}."""
    def build(f: Fields) -> Work:
        if f.list_("age_encryption_recipients"):
            raise bad_field("age_encryption_recipients", "the emulator cannot age-encrypt weights")
        return s.training.save_external_work(f.req_str("path"), _ttl(f))
    return _ordered(s, req, "save_weights_external", build)


def _external(s: Services, req: Request) -> CheckpointRecord:
    run_id, kind, name = req.params["run_id"], req.params["kind"], req.params["name"]
    if kind != "external_weights":
        raise ApiError(400, f"{kind}/{name} is not an external_weights checkpoint",
                       field="checkpoint_id", category="user")
    return s.checkpoints.get(run_id, kind, name)


def external_weights_urls(s: Services, req: Request) -> Reply:
    """GET training_runs/{run}/checkpoints/external_weights/{name}/external_weights_urls → {urls, expires}."""
    record = _external(s, req)
    token, expires = s.links.issue(record)
    files = sorted(p.name for p in record.directory.iterdir() if p.is_file())
    urls = {name: f"{s.base_url}/_emulator/external/{token}/{name}" for name in files}
    s.account.record("external_weights_urls_issued", "checkpoints", model_id=record.run_id,
                     tinker_path=record.tinker_path, purpose="download")
    return JsonReply({"urls": urls, "expires": iso_utc(expires)})


def external_file(s: Services, req: Request) -> Reply:
    """GET /_emulator/external/{token}/{file} → one file of an external weights checkpoint."""
    record = s.checkpoints.get(*s.links.resolve(req.params["token"]))
    path = record.directory / req.params["file"]
    if "/" in req.params["file"] or not path.is_file():
        raise ApiError(404, f"no file {req.params['file']!r} in {record.tinker_path}", category="user")
    size = path.stat().st_size
    return StreamReply(iter_file(open(path, "rb")), "application/octet-stream", size)


def copy_weights(s: Services, req: Request) -> Reply:
    """POST copy_weights {source_path, destination_project_id?, ttl_seconds?} → {tinker_path}."""
    f = req.fields()
    source_path = f.req_str("source_path")
    project_id = f.str_("destination_project_id")
    ttl = _ttl(f)
    if ttl is not None and ttl < 3600:
        raise bad_field("ttl_seconds", "must be at least 3600 (one hour), or null for no expiry")
    if WEIGHTS_TOKEN_HEADER in req.headers and not req.headers[WEIGHTS_TOKEN_HEADER]:
        raise bad_field(WEIGHTS_TOKEN_HEADER, "must not be empty")
    source = s.checkpoints.get(*parse_tinker_path(source_path, "source_path"))
    session_id = f.str_("session_id")
    if session_id is not None:
        s.sessions.require(session_id)
    weights, optimizer = s.checkpoints.read(source, source.kind == "weights")
    run_id = s.training.register_copy(source, session_id)
    if project_id is not None:
        s.account.set_run_project(run_id, project_id)
    copy = s.checkpoints.save(run_id, source.kind, source.name, weights, optimizer,
                              source.adapter_config, source.model, ttl, False)
    s.account.record("checkpoint_copied", "checkpoints", model_id=run_id, tinker_path=copy.tinker_path,
                     details={"source_path": source.tinker_path, "destination_project_id": project_id})
    return JsonReply({"tinker_path": copy.tinker_path})


# ------------------------------------------------------------------ sessions
def assign_session_project(s: Services, req: Request) -> Reply:
    """PUT sessions/{session_id}/project {project_id} → empty 200 (a project cannot be cleared)."""
    project_id = req.fields().str_("project_id")
    if not project_id:
        raise bad_field("project_id", "is required (a session cannot be moved out of a project)")
    session = s.sessions.get(req.params["session_id"])
    previous, session.project_id = session.project_id, project_id
    s.account.record("session_project_assigned", "projects",
                     details={"session_id": session.session_id, "from": previous, "to": project_id})
    return EmptyReply()


def _status(session: Session) -> dict[str, Any]:
    finished = getattr(session, "finish_reason", None)
    if finished is not None:
        return {"type": "client_finished", "reason": {"type": finished},
                "detail": getattr(session, "finish_detail", None)}
    if session.expired_at is not None:
        return {"type": "cancelled", "detail": "no heartbeat before the session timeout"}
    return {"type": "active"}


def _summary(s: Services, session: Session) -> dict[str, Any]:
    records = [r for run in session.training_run_ids for r in s.checkpoints.list(run)]
    return {"session_id": session.session_id, "created_at": iso_utc(session.created_at), "owner": USER_URN,
            "project_id": session.project_id, "status": _status(session),
            "checkpoints_count": len(records), "display_name": session.display_name,
            "user_metadata": {str(k): str(v) for k, v in session.user_metadata.items()},
            "checkpoint_storage_bytes": sum(r.size_bytes for r in records)}


def _matches(session: Session, status: dict[str, Any], f: Fields) -> bool:
    project_ids = f.str_list("project_ids")
    if project_ids is not None and session.project_id not in project_ids:
        return False
    wanted = f.dict_("user_metadata") or {}
    if any(str(session.user_metadata.get(k)) != str(v) for k, v in wanted.items()):
        return False
    wanted_name = f.str_("display_name")
    if wanted_name is not None:
        have = (session.display_name or "").lower()
        if not all(word in have for word in wanted_name.lower().split()):
            return False
    statuses = f.list_("statuses")
    if statuses is not None:
        kinds = []
        for i, item in enumerate(statuses):
            kind = item.get("type") if isinstance(item, dict) else None
            if kind not in STATUS_QUERIES:
                raise bad_field(f"statuses[{i}].type", f"must be one of {', '.join(STATUS_QUERIES)}")
            reasons = item.get("reasons")
            if kind == status["type"] and (not reasons or status.get("reason", {}).get("type") in reasons):
                kinds.append(kind)
        if not kinds:
            return False
    return True


def search_sessions(s: Services, req: Request) -> Reply:
    """POST sessions/search {session_id?, project_ids?, user_metadata?, statuses?, limit, cursor?}."""
    f = req.fields()
    limit = f.int_("limit", 50)
    if limit is None or not 1 <= limit <= 200:
        raise bad_field("limit", "must be between 1 and 200")
    owner = f.obj("owner")
    if owner is not None and owner.str_("type") not in ("own", "accessible", "user"):
        raise bad_field("owner.type", "must be own, accessible or user")
    only = f.str_("session_id")
    sessions = [s.sessions.get(sid) for sid in s.sessions.list_ids() if only is None or sid == only]
    sessions.sort(key=lambda x: (x.created_at, x.session_id), reverse=True)
    cursor = f.obj("cursor")
    if cursor is not None:  # compared as the ISO strings the cursor carries (exact, sortable)
        moment = _parse_time(cursor.req_str("last_created_at"), "cursor.last_created_at")
        stamp = moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        after = (stamp, cursor.req_str("last_session_id"))
        sessions = [x for x in sessions if (iso_utc(x.created_at), x.session_id) < after]
    hits = [x for x in sessions if _matches(x, _status(x), f)]
    page = hits[:limit]
    next_cursor = None
    if len(hits) > limit:
        last = page[-1]
        next_cursor = {"last_created_at": iso_utc(last.created_at), "last_session_id": last.session_id}
    return JsonReply({"sessions": [_summary(s, x) for x in page], "next_cursor": next_cursor})


def export_session_trace(s: Services, req: Request) -> Reply:
    """GET sessions/{session_id}/trace_export → {status: ready, url} (built on download)."""
    session = s.sessions.get(req.params["session_id"])
    token, _ = s.account.issue_trace(session.session_id)
    return JsonReply({"status": "ready", "url": f"{s.base_url}/_emulator/traces/{token}.json"})


def trace_download(s: Services, req: Request) -> Reply:
    """GET /_emulator/traces/{token}.json → the session as a Chrome/Perfetto JSON trace."""
    session = s.sessions.get(s.account.resolve_trace(req.params["token"].removesuffix(".json")))
    start = session.created_at

    def us(ts: float) -> int:
        return round((ts - start) * 1e6)

    events: list[dict[str, Any]] = [
        {"name": "session", "ph": "i", "s": "g", "ts": 0, "pid": 1, "tid": 1,
         "args": {"session_id": session.session_id, "heartbeats": session.heartbeats}}]
    for tid, run_id in enumerate(session.training_run_ids, start=2):
        rec = s.training.model(run_id, live=False)
        events.append({"name": f"create {run_id}", "ph": "i", "s": "t", "ts": us(rec.created_at),
                       "pid": 1, "tid": tid, "args": {"base_model": rec.base_model}})
        for ckpt in s.checkpoints.list(run_id):
            events.append({"name": f"checkpoint {ckpt.checkpoint_id}", "ph": "i", "s": "t",
                           "ts": us(ckpt.created_at), "pid": 1, "tid": tid,
                           "args": {"tinker_path": ckpt.tinker_path, "size_bytes": ckpt.size_bytes}})
    for sampler_id in session.sampler_ids:
        events.append({"name": f"sampler {sampler_id}", "ph": "i", "s": "g", "ts": 0, "pid": 1, "tid": 1})
    body = json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}).encode()
    return StreamReply(iter([body]), "application/json", len(body))


# ------------------------------------------------------------------ account
def whoami(s: Services, req: Request) -> Reply:
    """GET whoami → {user_urn, org_urn, email} of the emulator's single principal."""
    return JsonReply({"user_urn": USER_URN, "org_urn": ORG_URN, "email": None})


def _parse_time(value: str, field: str) -> _dt.datetime:
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_field(field, f"must be an RFC 3339 date-time, got {value!r}") from None
    if moment.tzinfo is None:
        raise bad_field(field, "must carry a time zone (e.g. 2026-01-01T00:00:00Z)")
    return moment


def billing_usage(s: Services, req: Request) -> Reply:
    """GET billing/usage/events?starting_on&ending_before → {data, sessions}: checkpoint events per hour.

    The emulator bills checkpoints only (one ``checkpoint`` event per run, hour and count).
    """
    bounds = []
    for name in ("starting_on", "ending_before"):
        raw = req.query_str(name)
        if not raw:
            raise bad_field(name, "is required (an hour-aligned RFC 3339 date-time)")
        moment = _parse_time(raw, name)
        if moment.minute or moment.second or moment.microsecond:
            raise bad_field(name, "must be aligned to the hour")
        bounds.append(moment)
    start, end = bounds
    if end <= start:
        raise bad_field("ending_before", "must be after starting_on")
    if end - start > MAX_BILLING_WINDOW:
        raise bad_field("ending_before", "the window may span at most 14 days")
    buckets: dict[tuple[float, str], list[CheckpointRecord]] = {}
    for record in s.checkpoints.list():
        if start.timestamp() <= record.created_at < end.timestamp():
            hour = record.created_at - record.created_at % 3600
            buckets.setdefault((hour, record.run_id), []).append(record)
    data, sessions = [], {}
    for (hour, run_id), records in sorted(buckets.items()):
        session_id = s.training.model(run_id, live=False).session_id
        data.append({"bucket_start": iso_utc(hour), "bucket_end": iso_utc(hour + 3600),
                     "base_model": records[0].model["base_model"], "user_id": USER_URN,
                     "user_name": USER_NAME, "session_id": session_id,
                     "project_id": _project(s, run_id),
                     "event_info": {"type": "checkpoint", "count": len(records)}})
        if session_id is not None:
            sessions[session_id] = {"user_metadata": s.sessions.get(session_id).user_metadata}
    return JsonReply({"data": data, "sessions": sessions})


def _project(s: Services, run_id: str) -> str | None:
    """A run's project: the one it was copied into, else its session's."""
    copied = s.account.run_project(run_id)
    if copied is not None:
        return copied
    session_id = s.training.model(run_id, live=False).session_id
    return None if session_id is None else s.sessions.get(session_id).project_id


def audit_log(s: Services, req: Request) -> Reply:
    """GET audit?event_type=all|checkpoints|projects|teams|organizations[&day=YYYY-MM-DD] → {entries}."""
    event_type = req.query_str("event_type") or "all"
    if event_type not in AUDIT_EVENT_TYPES:
        raise bad_field("event_type", f"must be one of {', '.join(AUDIT_EVENT_TYPES)}")
    day_raw = req.query_str("day")
    try:
        day = _dt.date.fromisoformat(day_raw) if day_raw else None
    except ValueError:
        raise bad_field("day", f"must be a date YYYY-MM-DD, got {day_raw!r}") from None
    entries: list[tuple[float, dict[str, Any], str]] = []
    for record in s.checkpoints.list():
        entries.append((record.created_at, {"event": "checkpoint_created", "model_id": record.run_id,
                                            "tinker_path": record.tinker_path, "purpose": None,
                                            "event_details": {"size_bytes": record.size_bytes}}, "checkpoints"))
    for event in s.account.events():
        entries.append((event.timestamp, {"event": event.event, "model_id": event.model_id,
                                          "tinker_path": event.tinker_path, "purpose": event.purpose,
                                          "event_details": dict(event.details)}, event.category))
    out = []
    for ts, entry, category in sorted(entries, key=lambda e: e[0]):
        when = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
        if event_type != "all" and category != event_type:
            continue
        if day is not None and when.date() != day:
            continue
        out.append({"timestamp": iso_utc(ts), **entry})
    return JsonReply({"entries": out})


def storage_usage(s: Services, req: Request) -> Reply:
    """GET billing/usage/checkpoints/current[?project_id] → live checkpoint storage per project."""
    wanted = req.query_str("project_id")
    totals: dict[str | None, list[int]] = {}
    for record in s.checkpoints.list():
        project = _project(s, record.run_id)
        if wanted is not None and project != wanted:
            continue
        count_size = totals.setdefault(project, [0, 0])
        count_size[0] += 1
        count_size[1] += record.size_bytes
    data = []
    for project, (count, size) in sorted(totals.items(), key=lambda kv: str(kv[0])):
        gigabytes = size / 1e9
        data.append({"project_id": project, "org_user_urn": USER_URN, "user_email": None,
                     "user_name": USER_NAME, "checkpoint_count": count, "size_bytes": size,
                     "size_gigabytes": gigabytes, "estimated_monthly_cost_usd": gigabytes * USD_PER_GB_MONTH})
    return JsonReply({"effective_rate_usd_per_gigabyte_month": USD_PER_GB_MONTH, "data": data})


_CKPT = "api/v1/training_runs/{run_id}/checkpoints/{kind}/{name}"
ROUTES = [
    Route("POST", "api/v1/save_weights_external", "save_weights_external", save_weights_external, replay=True),
    Route("GET", f"{_CKPT}/external_weights_urls", "get_external_weights_urls", external_weights_urls),
    Route("GET", "_emulator/external/{token}/{file}", "external_file", external_file, auth=False),
    Route("POST", "api/v1/copy_weights", "copy_weights", copy_weights, replay=True),
    Route("PUT", "api/v1/sessions/{session_id}/project", "assign_session_project", assign_session_project),
    Route("POST", "api/v1/sessions/search", "search_sessions", search_sessions),
    Route("GET", "api/v1/sessions/{session_id}/trace_export", "export_session_trace", export_session_trace),
    Route("GET", "_emulator/traces/{token}", "trace_download", trace_download, auth=False),
    Route("GET", "api/v1/whoami", "whoami", whoami),
    Route("GET", "api/v1/billing/usage/events", "get_billing_usage", billing_usage),
    Route("GET", "api/v1/audit", "get_audit_log", audit_log),
    Route("GET", "api/v1/billing/usage/checkpoints/current", "get_current_checkpoint_storage_usage",
          storage_usage),
]
