"""Handlers: training runs, checkpoints (list, delete, publish, TTL, archive) and downloads."""

from __future__ import annotations

from .checkpoints import KINDS, CheckpointRecord, iter_file
from .clock import http_date, iso_utc
from .errors import ApiError, bad_field
from .fields import as_int
from .replies import EmptyReply, JsonReply, Reply, StreamReply
from .routes import Request, Route, Services, cursor

ACCESS_SCOPES = ("owned", "accessible")


def _scope(req: Request) -> None:
    scope = req.query_str("access_scope")
    if scope is not None and scope not in ACCESS_SCOPES:
        raise bad_field("access_scope", f"must be one of {', '.join(ACCESS_SCOPES)}")


def _checkpoint(s: Services, req: Request) -> CheckpointRecord:
    run_id, kind, name = req.params["run_id"], req.params["kind"], req.params["name"]
    if kind not in KINDS:
        raise ApiError(404, f"unknown checkpoint kind {kind!r} (weights, sampler_weights or external_weights)",
                       category="user")
    return s.checkpoints.get(run_id, kind, name)


def list_training_runs(s: Services, req: Request) -> Reply:
    """GET training_runs?limit=20&offset=0 → {training_runs, cursor}, newest first."""
    _scope(req)
    limit, offset = req.query_int("limit", 20), req.query_int("offset", 0)
    runs = s.training.models()
    page = [s.training.run_json(r) for r in runs[offset:offset + limit]]
    return JsonReply({"training_runs": page, "cursor": cursor(offset, limit, len(runs))})


def get_training_run(s: Services, req: Request) -> Reply:
    """GET training_runs/{run_id} → TrainingRun."""
    _scope(req)
    return JsonReply(s.training.run_json(s.training.model(req.params["run_id"], live=False)))


def list_run_checkpoints(s: Services, req: Request) -> Reply:
    """GET training_runs/{run_id}/checkpoints → {checkpoints, cursor}."""
    run_id = req.params["run_id"]
    s.training.model(run_id, live=False)
    records = s.checkpoints.list(run_id)
    return JsonReply({"checkpoints": [r.to_json() for r in records],
                      "cursor": cursor(0, len(records), len(records))})


def list_user_checkpoints(s: Services, req: Request) -> Reply:
    """GET checkpoints?limit=100&offset=0 → {checkpoints, cursor}, newest first."""
    limit, offset = req.query_int("limit", 100), req.query_int("offset", 0)
    records = s.checkpoints.list()
    return JsonReply({"checkpoints": [r.to_json() for r in records[offset:offset + limit]],
                      "cursor": cursor(offset, limit, len(records))})


def delete_checkpoint(s: Services, req: Request) -> Reply:
    """DELETE training_runs/{run_id}/checkpoints/{kind}/{name} → empty 200; files removed."""
    record = _checkpoint(s, req)
    s.checkpoints.delete(record.run_id, record.kind, record.name)
    return EmptyReply()


def publish(s: Services, req: Request) -> Reply:
    """POST …/publish → empty 200."""
    record = _checkpoint(s, req)
    s.checkpoints.update(record.run_id, record.kind, record.name, public=True)
    return EmptyReply()


def unpublish(s: Services, req: Request) -> Reply:
    """DELETE …/publish → empty 200."""
    record = _checkpoint(s, req)
    s.checkpoints.update(record.run_id, record.kind, record.name, public=False)
    return EmptyReply()


def set_ttl(s: Services, req: Request) -> Reply:
    """PUT …/ttl {ttl_seconds: positive int | null} → empty 200 (null clears the expiry)."""
    body = req.fields()
    if "ttl_seconds" not in dict(body.items()):
        raise bad_field("ttl_seconds", "is required (an integer, or null to clear)")
    raw = body.raw("ttl_seconds")
    record = _checkpoint(s, req)
    if raw is None:
        s.checkpoints.update(record.run_id, record.kind, record.name, clear_ttl=True)
        return EmptyReply()
    ttl = as_int(raw, "ttl_seconds")
    if ttl < 1:
        raise bad_field("ttl_seconds", "must be a positive integer")
    s.checkpoints.update(record.run_id, record.kind, record.name, ttl_seconds=ttl)
    return EmptyReply()


def archive_url(s: Services, req: Request) -> Reply:
    """GET …/archive → 302 Location (default) or 200 {url, expires} (archive_mode json)."""
    record = _checkpoint(s, req)
    token, expires = s.links.issue(record)
    url = f"{s.base_url}/_emulator/archives/{token}"
    if s.config.archive_mode == "json":
        return JsonReply({"url": url, "expires": iso_utc(expires)})
    return JsonReply({"url": url, "expires": iso_utc(expires)}, status=302,
                     headers={"Location": url, "Expires": http_date(expires)})


def archive_download(s: Services, req: Request) -> Reply:
    """GET /_emulator/archives/{token} → the checkpoint's files as an uncompressed tar."""
    record = s.checkpoints.get(*s.links.resolve(req.params["token"]))
    fh, size = s.checkpoints.archive(record)
    filename = f"{record.run_id}_{record.kind}_{record.name}.tar".replace(":", "_")
    return StreamReply(iter_file(fh), "application/x-tar", size,
                       headers={"Content-Disposition": f'attachment; filename="{filename}"'})


_CKPT = "api/v1/training_runs/{run_id}/checkpoints/{kind}/{name}"
ROUTES = [
    Route("GET", "api/v1/training_runs", "list_training_runs", list_training_runs),
    Route("GET", "api/v1/training_runs/{run_id}", "get_training_run", get_training_run),
    Route("GET", "api/v1/training_runs/{run_id}/checkpoints", "list_checkpoints", list_run_checkpoints),
    Route("GET", "api/v1/checkpoints", "list_user_checkpoints", list_user_checkpoints),
    Route("DELETE", _CKPT, "delete_checkpoint", delete_checkpoint),
    Route("POST", f"{_CKPT}/publish", "publish_checkpoint", publish),
    Route("DELETE", f"{_CKPT}/publish", "unpublish_checkpoint", unpublish),
    Route("PUT", f"{_CKPT}/ttl", "set_checkpoint_ttl", set_ttl),
    Route("GET", f"{_CKPT}/archive", "get_checkpoint_archive_url", archive_url),
    Route("GET", "_emulator/archives/{token}", "archive_download", archive_download, auth=False),
]
