"""tinker 0.38's account and weights methods, end to end against the emulator on 127.0.0.1.

External weights (save, signed per-file URLs, download), weight copies, session project /
search / trace export, whoami, billing usage, audit log, storage usage, AdminClient; argument
errors raise before any request (checked with ``responses``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import responses

from pristine_core.errors import NotFoundError, ValidationError
from tinkex_domain import AdminClient, ExperimentalWarning, ServiceClient, TrainingClient
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY, BASE_MODEL, text_datum


@pytest.fixture(scope="module")
def account_service(emulator: Emulator) -> Iterator[ServiceClient]:
    """Its own session (in project proj-a, with a display name) so searches see known values."""
    client = ServiceClient(
        api_key=API_KEY, base_url=emulator.base_url, config={"telemetry": False},
        project_id="proj-a", display_name="account tests run", user_metadata={"suite": "account"},
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def trained(account_service: ServiceClient) -> TrainingClient:
    training = account_service.create_lora_training_client(BASE_MODEL, rank=2)
    training.forward_backward([text_datum("account")], "cross_entropy").result(timeout=60)
    return training


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as reply:  # a signed URL: no auth header
        return bytes(reply.read())


def test_external_weights_round_trip(account_service: ServiceClient, trained: TrainingClient) -> None:
    saved = trained.save_weights_external("ext-a", ttl_seconds=7200).result(timeout=60)
    assert saved.path == f"tinker://{trained.model_id}/external_weights/ext-a"
    assert saved.size_bytes and saved.size_bytes > 0
    rest = account_service.create_rest_client()
    urls = rest.get_external_weights_urls(saved.path).result()
    assert {"weights.npz", "adapter_config.json"} <= set(urls.urls)
    assert dt.datetime.fromisoformat(urls.expires.replace("Z", "+00:00")) > dt.datetime.now(dt.timezone.utc)
    weights = np.load(io.BytesIO(_get(urls.urls["weights.npz"])))
    assert weights.files and all(np.isfinite(weights[k]).all() for k in weights.files)
    assert json.loads(_get(urls.urls["adapter_config.json"]))  # the adapter description
    listed = {c.checkpoint_id: c for c in rest.list_checkpoints(trained.model_id).result().checkpoints}
    assert listed["external_weights/ext-a"].checkpoint_type == "external"


def test_external_weights_refuses_encryption_and_other_kinds(trained: TrainingClient,
                                                             account_service: ServiceClient) -> None:
    with pytest.raises(Exception, match="age_encryption_recipients"):
        trained.save_weights_external("enc", age_encryption_recipients=["age1xyz"]).result(timeout=60)
    trained.forward([text_datum("still in order")], "cross_entropy").result(timeout=60)  # no seq gap
    with pytest.raises(ValidationError, match="external_weights"):
        account_service.create_rest_client().get_external_weights_urls(f"tinker://{trained.model_id}/weights/x")


def test_copy_weights_into_a_project(account_service: ServiceClient, trained: TrainingClient) -> None:
    source = trained.save_state("to-copy", user_metadata={"step": "1"}).result(timeout=60).path
    assert source is not None
    copied = account_service.copy_weights(source, ttl_seconds=3600).result()
    assert copied.startswith("tinker://") and copied.endswith("/weights/to-copy") and copied != source
    rest = account_service.create_rest_client()
    elsewhere = rest.copy_weights(source, "proj-archive").result()
    run_id = elsewhere.split("/")[2]
    assert rest.get_training_run(run_id).result().base_model == BASE_MODEL
    usage = rest.get_current_checkpoint_storage_usage("proj-archive").result()
    assert [(item.project_id, item.checkpoint_count) for item in usage.data] == [("proj-archive", 1)]
    # The copy loads like any checkpoint.
    fresh = account_service.create_training_client_from_state(copied)
    assert fresh.model_id != trained.model_id
    with pytest.raises(ValidationError, match="ttl_seconds"):
        rest.copy_weights(source, "proj-archive", ttl_seconds=60)
    with pytest.raises(NotFoundError):
        rest.copy_weights(f"tinker://{trained.model_id}/weights/absent", "proj-archive").result()


def _search(rest: Any, body: dict[str, Any]) -> Any:
    with pytest.warns(ExperimentalWarning):  # experimental in tinker 0.38 too
        return rest.search_sessions(body).result()


def test_sessions_search_project_and_trace(account_service: ServiceClient, trained: TrainingClient) -> None:
    rest = account_service.create_rest_client()
    me = account_service.session_id
    found = _search(rest, {"display_name": "account run", "user_metadata": {"suite": "account"}})
    assert [s.session_id for s in found.sessions] == [me]
    summary = found.sessions[0]
    assert (summary.project_id, summary.display_name, summary.status) == ("proj-a", "account tests run",
                                                                         {"type": "active"})
    assert summary.checkpoints_count >= 1 and summary.checkpoint_storage_bytes > 0
    assert _search(rest, {"display_name": "no such words"}).sessions == []
    other = ServiceClient(api_key=API_KEY, base_url=account_service.holder.base_url, config={"telemetry": False})
    other.close()  # a second session, so a page of one has a next page
    page = _search(rest, {"limit": 1})
    assert len(page.sessions) == 1 and page.next_cursor is not None
    following = _search(rest, {"limit": 1, "cursor": {
        "last_created_at": page.next_cursor.last_created_at, "last_session_id": page.next_cursor.last_session_id,
    }})
    assert following.sessions[0].session_id != page.sessions[0].session_id

    rest.assign_session_project(me, "proj-b").result()
    assert _search(rest, {"project_ids": ["proj-b"]}).sessions[0].session_id == me
    assert _search(rest, {"session_id": me, "project_ids": ["proj-a"]}).sessions == []
    with pytest.raises(ValidationError, match="project_id"):
        rest.assign_session_project(me, "")

    trace = json.loads(_get(rest.export_session_trace(me).result()))
    names = [event["name"] for event in trace["traceEvents"]]
    assert "session" in names and f"create {trained.model_id}" in names
    assert any(name.startswith("checkpoint ") for name in names)


def test_whoami_billing_audit_and_admin(account_service: ServiceClient, trained: TrainingClient,
                                       emulator: Emulator) -> None:
    rest = account_service.create_rest_client()
    me = rest.whoami().result()
    assert me.user_urn.startswith("urn:") and me.org_urn.startswith("urn:")
    trained.save_state("billed").result(timeout=60)
    hour = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    usage = rest.get_billing_usage(hour - dt.timedelta(hours=1), hour + dt.timedelta(hours=1)).result()
    mine = [e for e in usage.data if e.session_id == account_service.session_id]
    assert mine and all(e.event_info["type"] == "checkpoint" and e.event_info["count"] >= 1 for e in mine)
    assert usage.sessions[account_service.session_id]["user_metadata"] == {"suite": "account"}
    with pytest.raises(ValidationError, match="aligned to the hour"):
        rest.get_billing_usage("2026-01-01T00:30:00Z", "2026-01-02T00:00:00Z")
    with pytest.raises(Exception, match="14 days"):
        rest.get_billing_usage("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z").result()

    log = rest.get_audit_log("checkpoints", dt.datetime.now(dt.timezone.utc).date()).result()
    assert any(e.event == "checkpoint_created" and e.tinker_path and e.tinker_path.endswith("/weights/billed")
               for e in log.entries)
    assert rest.get_audit_log("checkpoints", dt.date(2001, 1, 1)).result().entries == []
    with pytest.raises(ValidationError, match="event_type"):
        rest.get_audit_log("everything")  # type: ignore[arg-type]

    admin = AdminClient(base_url=emulator.base_url, api_key=API_KEY, config={"telemetry": False})
    with admin:
        storage = admin.get_current_checkpoint_storage_usage().result()
        assert storage.effective_rate_usd_per_gigabyte_month and storage.data
        assert sum(item.checkpoint_count for item in storage.data) >= 2


MOCK_BASE = "http://tinker.test"


@pytest.fixture()
def mocked() -> Iterator[tuple[responses.RequestsMock, ServiceClient]]:
    """A ServiceClient whose session endpoints are answered by ``responses`` (nothing else is)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{MOCK_BASE}/api/v1/create_session", json={"session_id": "s-1", "type": "create_session"})
        mock.post(f"{MOCK_BASE}/api/v1/session_heartbeat", json={"type": "session_heartbeat"})
        service = ServiceClient(api_key=API_KEY, base_url=MOCK_BASE, config={"telemetry": False})
        try:
            yield mock, service
        finally:
            service.close()


def _requested(mock: responses.RequestsMock) -> list[str]:
    return [c.request.url for c in mock.calls if "create_session" not in c.request.url
            and "session_heartbeat" not in c.request.url]


def test_bad_arguments_raise_before_any_request(mocked: tuple[responses.RequestsMock, ServiceClient]) -> None:
    mock, service = mocked
    rest = service.create_rest_client()
    with pytest.raises(ValidationError, match="destination_project_id"):
        rest.copy_weights("tinker://run/weights/a", None)
    with pytest.raises(ValidationError, match="tinker_path"):
        rest.copy_weights("s3://nope", "proj")
    with pytest.raises(ValidationError, match="session_id"):
        rest.export_session_trace("")
    with pytest.raises(ValidationError, match="starting_on"):
        rest.get_billing_usage("yesterday", "2026-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match="day"):
        rest.get_audit_log("all", "2026-01-01")  # type: ignore[arg-type]
    assert _requested(mock) == []


def test_close_with_status_reports_the_finish(mocked: tuple[responses.RequestsMock, ServiceClient]) -> None:
    mock, service = mocked
    finish = mock.post(f"{MOCK_BASE}/api/v1/sessions/s-1/finish", body=b"")
    with pytest.raises(ValidationError, match="status"):
        service.close("finished")  # type: ignore[arg-type]
    assert service.close("errored", "out of patience").result() is None
    assert service.holder.closed
    assert json.loads(finish.calls[0].request.body) == {"reason": {"type": "errored"}, "detail": "out of patience"}
    assert _requested(mock) == [f"{MOCK_BASE}/api/v1/sessions/s-1/finish"]
