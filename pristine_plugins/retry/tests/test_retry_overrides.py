"""Per-client and per-call overrides, idempotency keys, events and manifest validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import responses as responses_lib

from pristine_core import Client, FakeClock, ManifestError, RequestOptions, ValidationError
from pristine_plugins.retry import RetryPlugin

BASE = "http://api.test"
POST_URL = f"{BASE}/items"
GET_URL = f"{BASE}/items/x"


def failing(mock: responses_lib.RequestsMock, method: str = "GET", url: str = GET_URL, status: int = 503) -> None:
    mock.add(method, url, json={}, status=status)


# -- per-call -------------------------------------------------------------------------------------


def test_request_options_max_retries_overrides_the_policy(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    failing(mocked)
    client = make_client(manifest)
    client.items.get.raw(item_id="x", request_options=RequestOptions(extensions={"max_retries": 1}))
    assert len(mocked.calls) == 2


def test_request_options_max_retries_enables_retries_where_the_manifest_has_none(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    del manifest["defaults"]["retry"]
    failing(mocked)
    client = make_client(manifest)
    client.items.get.raw(item_id="x")
    assert len(mocked.calls) == 1
    client.items.get.raw(item_id="x", request_options={"max_retries": 2})
    assert len(mocked.calls) == 4


def test_request_options_retry_picks_another_named_policy(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    failing(mocked)
    client = make_client(manifest)
    client.items.get.raw(item_id="x", request_options=RequestOptions(extensions={"retry_policy": "patient"}))
    assert clock.sleeps == [1.0, 2.0, 2.0, 2.0, 2.0, 2.0]


def test_extension_overrides_fields_for_one_call(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    failing(mocked)
    client = make_client(manifest)
    options = RequestOptions(extensions={"retry": {"max_retries": 2, "base_delay_s": 3, "max_delay_s": 3}})
    client.items.get.raw(item_id="x", request_options=options)
    assert clock.sleeps == [3.0, 3.0]


def test_extension_false_disables_retries_for_one_call(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    failing(mocked)
    client = make_client(manifest)
    client.items.get.raw(item_id="x", request_options=RequestOptions(extensions={"retry": False}))
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "options",
    [
        RequestOptions(extensions={"retry_policy": "nope"}),
        RequestOptions(extensions={"max_retries": -1}),
        RequestOptions(extensions={"retry": {"max_retries": "3"}}),
        RequestOptions(extensions={"retry": {"jitter": 2}}),
        RequestOptions(extensions={"retry": {"bogus": 1}}),
        RequestOptions(extensions={"retry": {"pause_statuses": {"abc": {"delay_s": 1}}}}),
    ],
)
def test_bad_per_call_settings_fail_before_any_request(
    mocked: responses_lib.RequestsMock,
    manifest: dict[str, Any],
    make_client: Callable[..., Client],
    options: RequestOptions,
) -> None:
    client = make_client(manifest)
    with pytest.raises(ValidationError):
        client.items.get(item_id="x", request_options=options)
    assert len(mocked.calls) == 0


# -- per-client -----------------------------------------------------------------------------------


def test_client_config_retry_applies_to_every_policy(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    failing(mocked)
    failing(mocked, "POST", f"{BASE}/once")
    client = make_client(manifest, config={"retry": {"max_retries": 1}})
    client.items.get.raw(item_id="x")
    client.items.once.raw(name="a")
    assert len(mocked.calls) == 4


def test_client_config_retry_policies_targets_one_policy(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    failing(mocked)
    failing(mocked, "POST", f"{BASE}/once")
    client = make_client(manifest, config={"retry_policies": {"std": {"max_retries": 1}}})
    client.items.get.raw(item_id="x")
    client.items.once.raw(name="a")
    assert len(mocked.calls) == 3


def test_client_config_can_switch_retries_off_and_a_call_can_switch_them_back_on(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    failing(mocked)
    client = make_client(manifest, config={"retry": {"enabled": False}})
    client.items.get.raw(item_id="x")
    assert len(mocked.calls) == 1
    client.items.get.raw(item_id="x", request_options=RequestOptions(extensions={"max_retries": 1}))
    assert len(mocked.calls) == 3


@pytest.mark.parametrize(
    "config",
    [
        {"retry": {"max_retries": -2}},
        {"retry": "often"},
        {"retry_policies": {"unknown": {"max_retries": 1}}},
        {"circuit_breakers": {"backend": {"failure_threshold": 0}}},
        {"circuit_breakers": {"missing": {"failure_threshold": 2}}},
        {"circuit_breaker_registry": object()},
    ],
)
def test_bad_client_config_fails_at_construction(
    manifest: dict[str, Any], make_client: Callable[..., Client], config: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        make_client(manifest, config=config)


# -- idempotency and attempt headers ------------------------------------------------------------


def test_a_caller_supplied_idempotency_key_wins(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    mocked.add("POST", POST_URL, json={}, status=503)
    mocked.add("POST", POST_URL, json={"ok": True})
    client = make_client(manifest)
    client.items.create(name="a", request_options=RequestOptions(extensions={"idempotency_key": "my-key-1"}))
    assert [c.request.headers["X-Idempotency-Key"] for c in mocked.calls] == ["my-key-1", "my-key-1"]


@pytest.mark.parametrize("block", [None, {"idempotency_header": None, "attempt_header": None}])
def test_no_headers_without_a_feature_block(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], block: Any
) -> None:
    if block is None:
        del manifest["features"]["retry"]
    else:
        manifest["features"]["retry"] = block
    mocked.add("POST", POST_URL, json={}, status=503)
    mocked.add("POST", POST_URL, json={"ok": True})
    client = make_client(manifest)
    client.items.create(name="a")
    assert len(mocked.calls) == 2
    for call in mocked.calls:
        assert "X-Idempotency-Key" not in call.request.headers
        assert "X-Retry-Count" not in call.request.headers


def test_the_key_is_kept_in_the_call_context(manifest: dict[str, Any], make_client: Callable[..., Client]) -> None:
    client = make_client(manifest)
    call = client.meta.endpoint("items.create").prepare(RequestOptions(), {"name": "a"})
    key = call.context["retry"]["idempotency_key"]
    assert call.headers["X-Idempotency-Key"] == key


# -- events ----------------------------------------------------------------------------------------


def test_each_retry_emits_an_event(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], recorder: Any
) -> None:
    mocked.add("GET", GET_URL, json={}, status=503)
    mocked.add("GET", GET_URL, json={}, status=429, headers={"Retry-After": "4"})
    mocked.add("GET", GET_URL, json={"ok": True})
    client = make_client(manifest)
    client.items.get(item_id="x")
    events = recorder.named("retry")
    assert [(e["endpoint"], e["attempt"], e["delay_s"], e["reason"]) for e in events] == [
        ("items.get", 1, 0.5, "status 503"),
        ("items.get", 2, 4.0, "status 429"),
    ]


# -- manifest validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda m: m["features"]["retry"].update(idempotency_header=3), "features.retry.idempotency_header"),
        (lambda m: m["features"]["retry"].update(extra="x"), "features.retry.extra"),
        (lambda m: m["retry_policies"]["std"].update(base_delay_s=9, max_delay_s=1), "retry_policies.std.max_delay_s"),
        (lambda m: m["retry_policies"]["std"].update(deadline_s=0), "retry_policies.std.deadline_s"),
        (lambda m: m["retry_policies"]["std"].update(retry_methods=["FETCH"]), "retry_policies.std.retry_methods"),
        (
            lambda m: m["retry_policies"]["std"].update(pause_statuses={"402": {"delay_s": -1}}),
            "retry_policies.std.pause_statuses.402.delay_s",
        ),
        (
            lambda m: m["circuit_breakers"]["backend"].update(half_open_max_calls=0),
            "circuit_breakers.backend.half_open_max_calls",
        ),
    ],
)
def test_manifest_problems_are_reported(
    manifest: dict[str, Any], change: Callable[[dict[str, Any]], None], path: str
) -> None:
    change(manifest)
    with pytest.raises(ManifestError) as info:
        Client(manifest, plugins=[RetryPlugin()], autoload_plugins=False)
    assert path in [p for p, _ in info.value.problems]
