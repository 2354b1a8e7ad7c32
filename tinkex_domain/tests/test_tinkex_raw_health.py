"""Raw responses from the Tinkex clients, the health check, and the archive expiry as a datetime."""

from __future__ import annotations

import datetime as dt

from pristine_testing import LoopbackServer, json_reply
from tinkex_domain import ServiceClient

from .conftest import API_KEY, BASE_MODEL


def test_raw_response_and_health_check(service: ServiceClient) -> None:
    assert service.health_check() is True
    raw = service.raw_response("service.get_server_capabilities")
    assert raw.status_code == 200 and "application/json" in raw.headers["Content-Type"]
    assert any(m["model_name"] == BASE_MODEL for m in raw.json()["supported_models"])
    rest = service.create_rest_client()
    missing = rest.raw_response("rest.get_training_run", run_id="no-such-run")
    assert missing.status_code == 404  # no exception: the caller reads the status


def test_health_check_reports_an_unhealthy_service() -> None:
    def handler(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("/healthz"):
            return json_reply({"status": "down"}, status=503)
        return json_reply({"session_id": "s-1"})

    with LoopbackServer(handler) as srv:
        client = ServiceClient(api_key=API_KEY, base_url=srv.url, config={"telemetry": False},
                               disable_plugins=["otel", "metrics"])
        try:
            assert client.health_check() is False
            assert sum(r.path.endswith("/healthz") for r in srv.requests) == 1  # not retried
        finally:
            client.close()


def test_archive_expiry_is_a_datetime(service: ServiceClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=2)
    path = training.save_weights_for_sampler("raw-exp").result().path
    archive = service.create_rest_client().get_checkpoint_archive_url_from_tinker_path(path).result()
    expires = archive.expires_dt
    assert isinstance(expires, dt.datetime) and expires.tzinfo is not None
    assert expires > dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
