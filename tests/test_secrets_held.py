"""Secrets a client holds (proxy credentials, the API key, secret environment variables) never show
in reprs, ``vars()``, logs, exceptions or telemetry payloads, against a loopback server (which
also plays the HTTP proxy: requests through a proxy arrive in absolute form)."""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

import pytest
import structlog

import pristine_core as pc
from pristine_core import hookimpl
from pristine_core.pipeline import Event, Middleware, Request
from pristine_core.transport import RequestsTransport
from pristine_plugins.environment import EnvironmentPlugin
from pristine_plugins.telemetry import TelemetryPlugin, capture
from pristine_plugins.telemetry.events import sanitize
from pristine_runtime.secrets import SecretEnviron
from pristine_testing import LoopbackServer, json_reply, refused_port

API_KEY = "pk-held-api-key-31337"
CF_SECRET = "cf-held-secret-value-9"
PROXY_PASSWORD = "hunter2-proxy-pw"
OTHER_TOKEN = "tok-unrelated-6543"
TOKEN = base64.b64encode(f"bob:{PROXY_PASSWORD}".encode()).decode()
ALL_SECRETS = (API_KEY, CF_SECRET, PROXY_PASSWORD, OTHER_TOKEN, TOKEN)


def _manifest() -> dict[str, Any]:
    return {
        "name": "held",
        "auth": {"header": "X-API-Key", "env": "HELD_API_KEY"},
        "resources": {"items": {"get": {"method": "GET", "path": "/items"}}},
        "features": {
            "environment": {
                "variables": {
                    "CF_ID": {"to": "header", "name": "CF-Access-Client-Id"},
                    "CF_SECRET": {"to": "header", "name": "CF-Access-Client-Secret", "secret": True},
                    "PROXY": {"to": "proxy"},
                    "DUMP": {"to": "dump_headers"},
                }
            }
        },
    }


class Recorder:
    """A plugin that keeps every event and every request it sees."""

    name = "recorder"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.requests: list[Request] = []

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        """Keep the event."""
        self.events.append(event)

    @hookimpl
    def pristine_dispatch_middleware(self, client: pc.Client) -> Any:
        """Keep each request on its way out."""

        def keep(request: Request, call_next: Any) -> Any:
            self.requests.append(request)
            return call_next(request)

        return Middleware("recorder", 0, keep)


def _pristine_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("pristine")]


def _leaks(text: str) -> list[str]:
    return [secret for secret in ALL_SECRETS if secret in text]


def test_the_transport_holds_proxy_credentials_as_secrets() -> None:
    """Plain-text proxy headers and a proxy URL with credentials go in; reprs and vars stay clean."""
    before = set(_pristine_threads())
    seen: list[Any] = []

    def proxy(request: Any) -> Any:
        seen.append(request)
        return json_reply({"proxied": request.path})

    with LoopbackServer(proxy) as server:
        port = server.url.rsplit(":", 1)[1]
        transport = RequestsTransport(
            proxies={"http": f"http://bob:{PROXY_PASSWORD}@127.0.0.1:{port}"},
            proxy_headers={"Proxy-Authorization": f"Basic {TOKEN}"},
        )
        try:
            request = Request("GET", "http://api.example.test/items", {}, None, 5.0, "default")
            response = transport.send(request)
            assert response.json() == {"proxied": "http://api.example.test/items"}
            assert seen[0].header("Proxy-Authorization") == f"Basic {TOKEN}"
            adapter = transport.session_for("default").get_adapter("http://api.example.test")
            shown = repr(transport) + repr(vars(transport)) + repr(vars(adapter)["_extra_proxy_headers"])
            assert _leaks(shown) == [] and "Proxy-Authorization" in shown
            budgeted = transport.send(Request("GET", "http://api.example.test/b", {}, None, 5.0, "default"), 2.0)
            assert budgeted.status_code == 200 and seen[1].header("Proxy-Authorization") == f"Basic {TOKEN}"
        finally:
            transport.close()
    assert set(_pristine_threads()) <= before  # the deadline watchdog is gone


def test_a_failing_proxy_names_no_credentials() -> None:
    """A refused proxy: the error text and its causes never carry the password or the token."""
    with LoopbackServer() as server:
        port = server.url.rsplit(":", 1)[1]
    transport = RequestsTransport(
        proxies={"http": f"http://bob:{PROXY_PASSWORD}@127.0.0.1:{port}"},
        proxy_headers={"Proxy-Authorization": f"Basic {TOKEN}"},
    )
    try:
        with pytest.raises(pc.APIConnectionError) as info:
            transport.send(Request("GET", "http://api.example.test/x", {}, None, 2.0, "default"))
    finally:
        transport.close()
    chain = [info.value, info.value.__cause__, info.value.__context__]
    assert _leaks(" ".join(f"{e!s} {e!r}" for e in chain if e is not None)) == []


def test_environ_wraps_secret_values_and_still_reads() -> None:
    env = SecretEnviron(
        {"PLAIN": "visible-value", "MY_TOKEN": OTHER_TOKEN, "NAMED": CF_SECRET, "PROXY": "http://u:pw-123456@h:1"},
        frozenset({"NAMED"}),
    )
    assert env["MY_TOKEN"] == OTHER_TOKEN and env.get("NAMED") == CF_SECRET and env["PLAIN"] == "visible-value"
    assert dict(env) == {
        "PLAIN": "visible-value",
        "MY_TOKEN": OTHER_TOKEN,
        "NAMED": CF_SECRET,
        "PROXY": "http://u:pw-123456@h:1",
    }
    assert "PLAIN" in env and "MISSING" not in env and len(env) == 4
    assert env.secret_names() == ["MY_TOKEN", "NAMED", "PROXY"]
    assert "visible-value" in repr(env) and _leaks(repr(env)) == [] and "pw-123456" not in repr(env)
    with pytest.raises(TypeError):
        vars(env)  # slots only: nothing to dump


def test_no_secret_shows_anywhere_a_client_exposes(caplog: pytest.LogCaptureFixture) -> None:
    """The audit: API key, CF secret, proxy credentials and a secret-looking variable, through the
    environment plugin, a proxy and a 401 that echoes the key."""
    before = set(_pristine_threads())
    recorder = Recorder()

    def proxy(request: Any) -> Any:
        return json_reply({"echo": request.header("X-API-Key"), "cf": request.header("CF-Access-Client-Secret")}, 401)

    with LoopbackServer(proxy) as server:
        port = server.url.rsplit(":", 1)[1]
        environ = {
            "HELD_API_KEY": API_KEY,
            "CF_ID": "cf-id-public",
            "CF_SECRET": CF_SECRET,
            "PROXY": f"http://bob:{PROXY_PASSWORD}@127.0.0.1:{port}",
            "DUMP": "1",
            "SOME_TOKEN": OTHER_TOKEN,
        }
        caplog.set_level(logging.DEBUG)
        with structlog.testing.capture_logs() as logs:
            client = pc.Client(
                _manifest(),
                base_url="http://api.example.test",
                environ=environ,
                plugins=[EnvironmentPlugin(), recorder],
                autoload_plugins=False,
            )
            with client, pytest.raises(pc.AuthenticationError) as info:
                client.items.get()
            assert client.meta.environ is not None
            assert client.meta.environ["HELD_API_KEY"] == API_KEY  # reading still works
            assert client.meta.environ["CF_ID"] == "cf-id-public"
            shown = [
                repr(client),
                repr(client.meta),
                repr(vars(client.meta)),
                repr(client.meta.environ),
                repr(client.meta.defaults),
                repr(client.meta.transport),
                repr(vars(client.meta.transport)),
                repr(client.meta.tenant),
                repr(client.meta.pipeline),
                repr(vars(client.meta.pipeline)),
            ]
    assert server.requests[0].header("Proxy-Authorization") == f"Basic {TOKEN}"
    assert server.requests[0].header("X-API-Key") == API_KEY
    shown += [repr(request) for request in recorder.requests]
    shown += [str(info.value), repr(info.value), repr(info.value.args), repr(info.value.body)]
    shown += [repr(event) for event in recorder.events]
    shown += [repr(sanitize(dict(event.fields))) for event in recorder.events]
    shown += [repr(sanitize(info.value)), repr(sanitize(dict(environ)))]
    shown += [str(logs), caplog.text]
    assert recorder.requests and recorder.events and "cf-id-public" in repr(client.meta.environ)
    assert _leaks("\n".join(shown)) == []
    assert client.meta.closed and set(_pristine_threads()) <= before


def test_telemetry_payloads_carry_no_secret() -> None:
    """The telemetry plugin ships the failure of a call whose 401 echoes the key and the CF
    secret, plus a ``capture``d exception naming them: the bodies the sink receives hold neither."""
    doc = _manifest()
    doc["features"]["environment"]["variables"].pop("PROXY")
    doc["resources"]["telemetry"] = {"ship": {"method": "POST", "path": "/telemetry", "request": "Batch"}}
    doc["types"] = {"Batch": {"type": "object", "additionalProperties": {"type": "any"}}}
    doc["features"]["telemetry"] = {"endpoint": "telemetry.ship", "flush_interval_s": 60, "retry_delay_s": 0.05}

    def handler(request: Any) -> Any:
        if request.path == "/telemetry":
            return json_reply({"status": "accepted"})
        return json_reply({"echo": request.header("X-API-Key"), "cf": request.header("CF-Access-Client-Secret")}, 401)

    environ = {"HELD_API_KEY": API_KEY, "CF_SECRET": CF_SECRET}
    with LoopbackServer(handler) as server:
        client = pc.Client(
            doc,
            base_url=server.url,
            environ=environ,
            config={"telemetry": True},
            plugins=[EnvironmentPlugin(), TelemetryPlugin()],
            autoload_plugins=False,
        )
        with client:
            with pytest.raises(pc.AuthenticationError), capture(client):
                client.items.get()
            with pytest.raises(RuntimeError), capture(client):
                raise RuntimeError(f"engine failed with key {API_KEY} and {CF_SECRET}")
        shipped = [seen.body.decode("utf-8", "replace") for seen in server.requests if seen.path == "/telemetry"]
    assert shipped and "AuthenticationError" in "".join(shipped) and "engine failed" in "".join(shipped)
    assert _leaks("\n".join(shipped)) == [] and "[REDACTED]" in "".join(shipped)


def test_base_url_credentials_never_show_in_errors_or_reprs() -> None:
    """A password inside the base URL (``http://user:password@host``) is a secret like the API
    key: a failed call's message and fields, the client's repr and the request's repr hide it."""
    password = "url-held-password-77"
    manifest = {"name": "held", "resources": {"items": {"get": {"method": "GET", "path": "/items"}}}}
    with refused_port() as port:
        url = f"http://bob:{password}@127.0.0.1:{port}"
        with pc.Client(manifest, base_url=url, autoload_plugins=False) as client:
            with pytest.raises(pc.APIConnectionError) as info:
                client.items.get()
            request = Request("GET", url + "/items", {}, None, 1.0, "default")
            shown = [str(info.value), repr(info.value), repr(vars(info.value)), repr(client), repr(request)]
    assert all(password not in text for text in shown), shown
    assert "127.0.0.1" in str(info.value)


def test_a_base_url_without_scheme_is_refused_without_showing_its_password() -> None:
    """``user:password@host`` with no ``http://`` fails before the password is held as a secret:
    the message names the host and leaves the credentials out."""
    manifest = {"name": "held", "resources": {"items": {"get": {"method": "GET", "path": "/items"}}}}
    with pytest.raises(pc.ValidationError) as info:
        pc.Client(manifest, base_url="bob:schemeless-password-5@127.0.0.1:9", autoload_plugins=False)
    assert "schemeless-password-5" not in str(info.value) and "127.0.0.1:9" in str(info.value)
    assert info.value.errors[0][0] == "base_url"
