"""The official ``tinker==0.38.0`` SDK, unmodified, against the emulator's account endpoints.

External-weights URLs, copies (REST and service), session project / search / trace export,
billing usage, audit log, storage usage and ``save_weights_external``, parsed by tinker's own
types. The SDK's start-up handshake (``client/config``, ``dynamic_config``, ``finish``) is the
emulator's own (see ``tests/test_official_sdk.py`` for the rest of the official SDK).
"""

from __future__ import annotations

import datetime as dt
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

if sys.version_info < (3, 11):  # pragma: no cover - depends on the interpreter
    pytest.skip("tinker==0.38.0 requires Python >= 3.11", allow_module_level=True)

tinker = pytest.importorskip("tinker", reason="install tinker==0.38.0 (requirements-dev.txt)")

from tinkex_domain import ServiceClient  # noqa: E402
from tinkex_domain.emulator import Emulator, EmulatorConfig  # noqa: E402

from .conftest import API_KEY, BASE_MODEL  # noqa: E402


@pytest.fixture(scope="module")
def official_emulator() -> Iterator[Emulator]:
    emu = Emulator(EmulatorConfig(long_poll_s=0.2)).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture()
def official_env(official_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    monkeypatch.setenv("TINKER_API_KEY", API_KEY)
    monkeypatch.setenv("TINKER_BASE_URL", official_emulator.base_url)
    monkeypatch.delenv("TINKER_PROJECT_ID", raising=False)
    warnings.simplefilter("ignore", FutureWarning)  # tinker's own deprecation notices
    return official_emulator


def test_the_official_rest_client_reads_every_account_endpoint(official_env: Emulator) -> None:
    with ServiceClient(api_key=API_KEY, base_url=official_env.base_url, config={"telemetry": False},
                       project_id="proj-a") as ours:
        training = ours.create_lora_training_client(BASE_MODEL, rank=2)
        external = training.save_weights_external("official-ext").result(timeout=60).path
        state = training.save_state("official-state").result(timeout=60).path
        session_id = ours.session_id
        rest: Any = tinker.RestClient()
        urls = rest.get_external_weights_urls(external).result(timeout=60)
        with urllib.request.urlopen(urls.urls["weights.npz"], timeout=30) as reply:
            assert reply.read(4) == b"PK\x03\x04"  # weights.npz is a zip of arrays
        copied = rest.copy_weights(state, "proj-z", ttl_seconds=3600).result(timeout=60)
        assert copied.endswith("/weights/official-state")
        rest.assign_session_project(session_id, "proj-q").result(timeout=60)
        assert rest.export_session_trace(session_id).result(timeout=60).startswith(official_env.base_url)
        hour = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
        usage = rest.get_billing_usage(hour - dt.timedelta(hours=1), hour + dt.timedelta(hours=1)).result(timeout=60)
        assert any(e.session_id == session_id for e in usage.data)
        audit = rest.get_audit_log().result(timeout=60)
        events = {e.event for e in audit.entries}
        assert {"checkpoint_created", "checkpoint_copied", "session_project_assigned"} <= events
        storage = rest.get_current_checkpoint_storage_usage("proj-z").result(timeout=60)
        assert [item.checkpoint_count for item in storage.data] == [1]
        found = rest.search_sessions(tinker.types.SessionSearchRequest(session_id=session_id)).result(timeout=60)
        summaries = [(s.session_id, s.project_id, s.status.type) for s in found.sessions]
        assert summaries == [(session_id, "proj-q", "active")]
        listed = rest.list_checkpoints(training.model_id).result(timeout=60).checkpoints
        kinds = {c.checkpoint_id: c.checkpoint_type for c in listed}
        assert kinds["external_weights/official-ext"] == "external"


def test_the_official_service_client_saves_external_weights_and_copies(official_env: Emulator) -> None:
    service: Any = tinker.ServiceClient(project_id="proj-a")
    try:
        training = service.create_lora_training_client(BASE_MODEL, rank=2)
        saved = training.save_weights_external("official-e2").result(timeout=60)
        assert saved.path.endswith("/external_weights/official-e2")
        copied = service.copy_weights(saved.path, ttl_seconds=3600).result(timeout=60)
        assert copied.endswith("/external_weights/official-e2") and copied != saved.path
    finally:
        service.close("success", "official SDK test").result(timeout=60)
