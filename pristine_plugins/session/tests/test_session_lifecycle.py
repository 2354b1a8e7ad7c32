"""Session creation, id injection, counters, toggles and manifest checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import responses as responses_lib

import pristine_core as pc
from pristine_core import APIResponseValidationError, Client, ManifestError, ValidationError
from pristine_plugins.session import NoSessionError, SessionHandle, SessionPlugin, default_scheduler, session_of
from pristine_testing import LoopbackServer

Threads = Callable[[], list[threading.Thread]]
Manifest = Callable[..., dict[str, Any]]


@pc.settings
class AppConfig:
    """The config keys an application plugin declares; body_from_config copies them."""

    user_metadata: Any = None
    tags: Any = None
    project_id: Any = None


class AppKeys:
    name = "app"

    @pc.hookimpl
    def pristine_settings(self) -> pc.PluginSettings:
        return pc.PluginSettings(config=AppConfig)


def test_create_body_combines_static_fields_and_config(
    make_client: Callable[..., Client], server: LoopbackServer
) -> None:
    client = make_client(
        config={"user_metadata": {"team": "a"}, "tags": ["x", "y"], "project_id": None}, plugins=[AppKeys()]
    )
    opens = [r for r in server.requests if r.path == "/open"]
    assert len(opens) == 1
    # config "tags" replaces the static "labels"; a None config value is left out.
    assert opens[0].json() == {"sdk": "test-sdk/1", "labels": ["x", "y"], "meta": {"team": "a"}}
    assert session_of(client).session_id == "sess-1"


def test_each_client_gets_its_own_session(make_client: Callable[..., Client]) -> None:
    first, second = make_client(), make_client()
    assert {session_of(first).session_id, session_of(second).session_id} == {"sess-1", "sess-2"}


def test_session_id_is_injected_only_where_the_type_has_the_field(
    make_client: Callable[..., Client], server: LoopbackServer
) -> None:
    client = make_client()
    client.work.job(n=1)
    client.work.job(n=2, session_ref="explicit")
    client.work.plain(n=3)  # strict validation would reject an injected unknown field
    caller_body = {"n": 4}
    client.work.job(body=caller_body)
    bodies = [r.json() for r in server.requests if r.path in ("/job", "/plain")]
    assert bodies == [
        {"session_ref": "sess-1", "n": 1},
        {"session_ref": "explicit", "n": 2},
        {"n": 3},
        {"session_ref": "sess-1", "n": 4},
    ]
    assert caller_body == {"n": 4}, "the caller's dict must not be mutated"


def test_session_id_is_injected_into_typed_instances(
    make_client: Callable[..., Client], server: LoopbackServer
) -> None:
    client = make_client()
    job_cls = client.meta.types.cls("Job")
    client.work.job(body=job_cls(n=7))
    assert [r.json() for r in server.requests if r.path == "/job"] == [{"session_ref": "sess-1", "n": 7}]


def test_counters_start_at_zero_and_are_independent(make_client: Callable[..., Client]) -> None:
    handle = session_of(make_client())
    assert handle.counter_names == ("model_seq", "sampler_seq")
    assert [handle.next_counter("model_seq") for _ in range(3)] == [0, 1, 2]
    assert handle.next_counter("sampler_seq") == 0
    assert handle.peek("model_seq") == 3
    with pytest.raises(KeyError, match="unknown session counter"):
        handle.next_counter("nope")


def test_counters_are_atomic_under_threads() -> None:
    handle = SessionHandle("s", ["c"])
    per_thread, threads_n = 2000, 8
    got: list[list[int]] = [[] for _ in range(threads_n)]
    start = threading.Barrier(threads_n)

    def grab(slot: list[int]) -> None:
        start.wait()
        for _ in range(per_thread):
            slot.append(handle.next_counter("c"))

    threads = [threading.Thread(target=grab, args=(slot,)) for slot in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = sorted(v for slot in got for v in slot)
    assert values == list(range(per_thread * threads_n))


def test_switched_off_per_client(
    make_client: Callable[..., Client], server: LoopbackServer, heartbeat_threads: Threads
) -> None:
    client = make_client(config={"session": False})
    client.work.plain(n=1)
    assert [r.path for r in server.requests] == ["/plain"]
    with pytest.raises(NoSessionError):
        session_of(client)
    assert not heartbeat_threads()


def test_no_feature_block_means_no_session(
    make_client: Callable[..., Client], server: LoopbackServer, manifest: Manifest
) -> None:
    doc = manifest()
    del doc["features"]["session"]
    client = make_client(doc)
    assert server.requests == []
    with pytest.raises(LookupError):
        session_of(client)


def test_joining_an_existing_session_skips_create(
    make_client: Callable[..., Client], server: LoopbackServer, clock: Any
) -> None:
    client = make_client(config={"session": {"session_id": "given-7"}})
    assert server.requests == []
    assert session_of(client).session_id == "given-7"
    clock.advance(10)
    default_scheduler().run_pending()
    assert [r.json()["session_ref"] for r in server.requests if r.path == "/ping"] == ["given-7"]


def test_config_overrides_are_validated(make_client: Callable[..., Client]) -> None:
    with pytest.raises(ValidationError, match="interval_s"):
        make_client(config={"session": {"interval_s": 0}})
    with pytest.raises(ValidationError, match=r"config\.session"):
        make_client(config={"session": "yes"})


def test_manifest_block_problems_are_reported_together(server: LoopbackServer, manifest: Manifest) -> None:
    doc = manifest(interval_s=-1, counters=["a", "a"], bogus=1, log_fields={"notice": "shout"})
    with pytest.raises(ManifestError) as info:
        Client(doc, base_url=server.url, plugins=[SessionPlugin()], autoload_plugins=False)
    paths = {path for path, _ in info.value.problems}
    assert {
        "features.session.interval_s",
        "features.session.counters",
        "features.session.bogus",
        "features.session.log_fields.notice",
    } <= paths


def test_failed_create_fails_the_client_and_leaves_no_thread(
    server: LoopbackServer, manifest: Manifest, heartbeat_threads: Threads
) -> None:
    doc = manifest(id_field="missing_field")
    with pytest.raises(APIResponseValidationError, match="missing_field"):
        Client(doc, base_url=server.url, plugins=[SessionPlugin()], autoload_plugins=False)
    assert not heartbeat_threads()


def test_server_messages_are_logged(make_client: Callable[..., Client], manifest: Manifest) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        make_client(manifest(log_fields={"notice": "warning"}))
    messages = [e for e in logs if e["event"] == "pristine.session.server_message"]
    assert [(m["log_level"], m["message"]) for m in messages] == [("warning", "welcome")]


@responses_lib.activate
def test_with_responses_mock(manifest: Manifest, heartbeat_threads: Threads) -> None:
    base = "http://session.test"
    responses_lib.post(f"{base}/open", json={"sid": "mocked"})
    job = responses_lib.post(f"{base}/job", json={})
    doc = manifest(heartbeat_endpoint=None)
    with Client(doc, base_url=base, plugins=[SessionPlugin()], autoload_plugins=False) as client:
        client.work.job(n=5)
        assert session_of(client).session_id == "mocked"
    assert job.call_count == 1
    body = job.calls[0].request.body
    assert b'"session_ref":"mocked"' in (body if isinstance(body, bytes) else body.encode())
    assert not heartbeat_threads()
