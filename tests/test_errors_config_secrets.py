"""Errors pickle and know retryability; env helpers; secrets never show."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
import structlog

import pristine_core as pc
from pristine_core.config import ProxySettings, env_bool, env_list, env_str, redact_url
from pristine_runtime.secrets import Secret, redact, redact_headers
from pristine_testing import LoopbackServer, json_reply


@pytest.mark.parametrize(
    "error",
    [
        pc.ManifestError([("a.b", "bad")]),
        pc.ValidationError([("x", "missing")], "T"),
        pc.NotFoundError("nope", status_code=404, body={"e": 1}, headers={"a": "b"}, request_id="r"),
        pc.RequestFailedError("failed", request_id="r1", category="user"),
        pc.APITimeoutError("slow", method="GET", url="http://x"),
    ],
)
def test_errors_pickle(error: pc.PristineError) -> None:
    """Every error survives pickling with its fields and behaviour."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
    assert (copy.retryable, copy.category) == (error.retryable, error.category)


def test_request_failed_categories() -> None:
    """User failures are not retryable; server failures are; others are unknown."""
    assert pc.RequestFailedError("x", category="user").retryable is False
    assert pc.RequestFailedError("x", category="server").retryable is True
    assert pc.RequestFailedError("x", category="weird").category == "unknown"
    assert isinstance(pc.ValidationError([("a", "b")]), ValueError)


def test_env_helpers() -> None:
    """Blank means unset; typed parsing errors name the variable."""
    env = {"A": " ", "B": "yes", "C": "off", "E": "x", "F": "a, b,,c"}
    assert env_str("A", "dflt", env) == "dflt"
    assert (env_bool("B", environ=env), env_bool("C", True, env), env_bool("A", True, env)) == (True, False, True)
    assert env_list("F", environ=env) == ["a", "b", "c"] and env_list("A", ["z"], env) == ["z"]
    with pytest.raises(ValueError, match="E: expected a boolean"):
        env_bool("E", environ=env)


def test_proxy_credentials_redacted() -> None:
    """Proxy passwords never appear in reprs or redacted text."""
    proxies = ProxySettings.from_env({"HTTPS_PROXY": "http://bob:hunter2-pw@proxy:8080", "NO_PROXY": "localhost"})
    assert "hunter2-pw" not in repr(proxies) and "[REDACTED]@proxy:8080" in repr(proxies)
    assert proxies.as_requests_proxies()["https"].startswith("http://bob:")
    assert redact("failed via http://bob:hunter2-pw@proxy") == "failed via http://bob:[REDACTED]@proxy"
    assert redact_url("http://u:p@h:1/x") == "http://[REDACTED]@h:1/x"


def test_api_key_never_shows(petstore: dict[str, Any], caplog: Any) -> None:
    """The key stays out of reprs, errors, header dumps and logs."""
    key = "pk-super-secret-key-42"
    secret = Secret(key)
    assert key not in repr(secret) and key not in str(secret) and secret.reveal() == key
    assert redact_headers({"X-API-Key": key, "Other": f"echo {key}"}) == {
        "X-API-Key": "[REDACTED]",
        "Other": "echo [REDACTED]",
    }
    with LoopbackServer(lambda r: json_reply({"echo": r.header("X-API-Key")}, status=401)) as server:
        caplog.set_level(logging.DEBUG)
        with (
            structlog.testing.capture_logs() as logs,
            pc.Client(petstore, base_url=server.url, api_key=key, autoload_plugins=False) as client,
        ):
            with pytest.raises(pc.AuthenticationError) as info:
                client.pets.get(pet_id="1")
            assert key not in repr(client) and key not in repr(client.meta.api_key)
    assert key not in str(info.value) and key not in repr(info.value.args)
    assert info.value.body == {"echo": "[REDACTED]"}
    assert key not in str(logs) and key not in caplog.text


def test_tenant_identifies_server_and_key_without_holding_it(petstore: dict[str, Any]) -> None:
    """Same server and key give the same tenant; the key itself is not in it."""
    key = "pk-tenant-secret-77"

    def tenant(base_url: str, api_key: str) -> Any:
        with pc.Client(petstore, base_url=base_url, api_key=api_key, autoload_plugins=False) as client:
            return client.meta.tenant

    first = tenant("HTTP://Pets.Test:80/v1/", key)
    assert first == tenant("http://pets.test", key)
    assert first != tenant("http://pets.test", "pk-other-key-1") and first != tenant("http://pets.test:8080", key)
    assert first.server == "http://pets.test" and key not in repr(first)
