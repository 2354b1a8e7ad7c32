"""Every environment variable Tinkex declares in ``features.environment``: set -> effect on the
wire or on behaviour, unset -> the default, bad value -> a ValidationError naming the variable.

Clients here are plain Pristine clients on the Tinker manifest, talking to a loopback server;
``environ=`` feeds the variables (the real ``os.environ`` is never read).
"""

from __future__ import annotations

import base64
import logging
import platform
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pristine_core import Client
from pristine_core.errors import APIStatusError, ValidationError
from pristine_plugins.environment import EnvironmentPlugin
from pristine_plugins.futures import FuturesPlugin
from pristine_plugins.otel import OtelPlugin
from pristine_plugins.pool import PoolPlugin
from pristine_runtime.clock import FakeClock
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply
from tinkex_domain.plugin import TinkexConfig, TinkexPlugin

MANIFEST = ("tinkex_domain", "manifest.json")
KEY = "tml-environment-test-key"
GET = "service.get_server_capabilities"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(lambda request: json_reply({"supported_models": []})) as srv:
        yield srv


@pytest.fixture
def make(server: LoopbackServer) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def build(env: dict[str, str], **kwargs: Any) -> Client:
        kwargs.setdefault("base_url", server.url)
        kwargs.setdefault("autoload_plugins", False)
        kwargs["plugins"] = [EnvironmentPlugin(), *kwargs.get("plugins", ())]
        client = Client(MANIFEST, api_key=KEY, environ=env, **kwargs)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def _call(client: Client) -> None:
    client.meta.endpoint(GET)()


def _bad(make: Callable[..., Client], env: dict[str, str], var: str) -> str:
    with pytest.raises(ValidationError) as info:
        make(env)
    assert var in str(info.value)
    return str(info.value)


# -- headers -------------------------------------------------------------------------------


def test_cloudflare_access_headers(make: Callable[..., Client], server: LoopbackServer) -> None:
    env = {"CLOUDFLARE_ACCESS_CLIENT_ID": "cf-id", "CLOUDFLARE_ACCESS_CLIENT_SECRET": "cf-very-secret-value"}
    client = make(env)
    _call(client)
    seen = server.requests[-1]
    assert seen.header("CF-Access-Client-Id") == "cf-id"
    assert seen.header("CF-Access-Client-Secret") == "cf-very-secret-value"
    from pristine_runtime.secrets import redact

    assert "cf-very-secret-value" not in redact("secret is cf-very-secret-value")
    _call(make({}))
    assert server.requests[-1].header("CF-Access-Client-Id") is None


def test_default_headers_json(make: Callable[..., Client], server: LoopbackServer) -> None:
    _call(make({"TINKEX_DEFAULT_HEADERS": '{"X-Team": "ml", "X-Count": 3, "X-Drop": null}'}))
    seen = server.requests[-1]
    assert (seen.header("X-Team"), seen.header("X-Count"), seen.header("X-Drop")) == ("ml", "3", None)
    _call(make({}))
    assert server.requests[-1].header("X-Team") is None
    _bad(make, {"TINKEX_DEFAULT_HEADERS": "[1, 2]"}, "TINKEX_DEFAULT_HEADERS")
    _bad(make, {"TINKEX_DEFAULT_HEADERS": "{not json"}, "TINKEX_DEFAULT_HEADERS")


def test_explicit_default_headers_win(make: Callable[..., Client], server: LoopbackServer) -> None:
    _call(make({"TINKEX_DEFAULT_HEADERS": '{"X-Team": "env"}'}, default_headers={"X-Team": "explicit"}))
    assert server.requests[-1].header("X-Team") == "explicit"


def test_default_query_json(make: Callable[..., Client], server: LoopbackServer) -> None:
    _call(make({"TINKEX_DEFAULT_QUERY": '{"region": "eu", "debug": true}'}))
    path = server.requests[-1].path
    assert "region=eu" in path and "debug=true" in path
    _call(make({}))
    assert "?" not in server.requests[-1].path
    _bad(make, {"TINKEX_DEFAULT_QUERY": '"text"'}, "TINKEX_DEFAULT_QUERY")


def test_sdk_identity_headers(make: Callable[..., Client], server: LoopbackServer) -> None:
    _call(make({}))
    seen = server.requests[-1]
    assert seen.header("User-Agent") == "Tinkex/Python 0.15.0"
    assert seen.header("x-sdk-version") == "0.15.0"
    assert seen.header("X-Stainless-Package-Version") == "0.15.0"
    assert seen.header("X-Stainless-OS") == platform.system()
    assert seen.header("X-Stainless-Runtime") == platform.python_implementation()
    assert seen.header("X-Stainless-Runtime-Version") == platform.python_version()
    assert seen.header("X-Stainless-Arch")


# -- logging -------------------------------------------------------------------------------


def test_dump_headers_logs_each_request_redacted(make: Callable[..., Client], server: LoopbackServer) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        _call(make({"TINKEX_DUMP_HEADERS": "true", "CLOUDFLARE_ACCESS_CLIENT_SECRET": "cf-dumped-secret"}))
    dumps = [entry for entry in logs if entry["event"] == "pristine.request"]
    assert len(dumps) == 1 and dumps[0]["url"].endswith("/api/v1/get_server_capabilities")
    assert dumps[0]["log_level"] == "info" and dumps[0]["method"] == "GET"
    headers = dumps[0]["headers"]
    assert headers["X-API-Key"] != KEY and headers["CF-Access-Client-Secret"] != "cf-dumped-secret"
    assert KEY not in repr(dumps) and "cf-dumped-secret" not in repr(dumps)
    with capture_logs() as logs:
        _call(make({}))
    assert not [entry for entry in logs if entry["event"] == "pristine.request"]
    _bad(make, {"TINKEX_DUMP_HEADERS": "maybe"}, "TINKEX_DUMP_HEADERS")


def test_tinker_log_sets_the_library_level(make: Callable[..., Client]) -> None:
    logger = logging.getLogger("tinkex_domain")
    before = logger.level
    try:
        make({"TINKER_LOG": "debug"})
        assert logger.level == logging.DEBUG
        make({"TINKER_LOG": "warn"})
        assert logger.level == logging.WARNING
        logger.setLevel(logging.NOTSET)
        make({})
        assert logger.level == logging.NOTSET
        _bad(make, {"TINKER_LOG": "loud"}, "TINKER_LOG")
    finally:
        logger.setLevel(before)


# -- client settings -----------------------------------------------------------------------


def test_feature_gates(make: Callable[..., Client]) -> None:
    def gates(client: Client) -> tuple[str, ...] | None:
        return client.meta.settings_of(TinkexConfig).feature_gates

    tinkex = {"plugins": [TinkexPlugin()]}
    assert gates(make({}, **tinkex)) == ("async_sampling",)
    assert gates(make({"TINKER_FEATURE_GATES": "a, b,,"}, **tinkex)) == ("a", "b")
    assert gates(make({"TINKER_FEATURE_GATES": "a"}, config={"feature_gates": ["x"]}, **tinkex)) == ("x",)
    assert "feature_gates" not in make({}).meta.config  # no loaded plugin reads it: dropped


def _flaky_server() -> LoopbackServer:
    return LoopbackServer(lambda request: json_reply({"detail": "down"}, status=503))


@pytest.mark.parametrize(("mode", "attempts", "timeout"), [(None, 11, 60.0), ("python", 11, 60.0),
                                                            ("beam", 3, 120.0), ("Elixir", 3, 120.0)])
def test_parity_mode_picks_timeout_and_retries(mode: str | None, attempts: int, timeout: float) -> None:
    env = {"TINKEX_PARITY": mode} if mode else {}
    with _flaky_server() as srv, Client(
        MANIFEST, api_key=KEY, base_url=srv.url, environ=env, plugins=["environment", "retry"], clock=FakeClock()
    ) as client:
        assert client.meta.timeout_s == timeout
        with pytest.raises(APIStatusError):
            _call(client)
        assert len(srv.requests) == attempts


def test_explicit_values_beat_the_parity_mode(make: Callable[..., Client]) -> None:
    config = {"retry_policies": {"default": {"max_retries": 4}}}
    with _flaky_server() as srv, Client(
        MANIFEST, api_key=KEY, base_url=srv.url, environ={"TINKEX_PARITY": "beam"}, plugins=["environment", "retry"],
        # An explicit timeout_s also bounds the whole call (back-off waits included): large enough
        # that the jittered waits between the 5 attempts always fit, so only max_retries decides.
        clock=FakeClock(), timeout_s=700, config=config,
    ) as client:
        assert client.meta.timeout_s == 700
        with pytest.raises(APIStatusError):
            _call(client)
        assert len(srv.requests) == 5
    message = _bad(make, {"TINKEX_PARITY": "ruby"}, "TINKEX_PARITY")
    assert "beam" in message and "python" in message


def test_pool_size_and_count(make: Callable[..., Client]) -> None:
    for plugins in ([], [PoolPlugin()]):  # the environment wins over the manifest's pools either way
        client = make({"TINKEX_POOL_SIZE": "7", "TINKEX_POOL_COUNT": "3"}, plugins=plugins)
        adapter = client.meta.transport.session_for("sample").get_adapter("http://x")
        assert (adapter._pool_maxsize, adapter._pool_connections) == (7, 3)  # type: ignore[attr-defined]
    default = make({}, plugins=[PoolPlugin()]).meta.transport.session_for("sample").get_adapter("http://x")
    assert (default._pool_maxsize, default._pool_connections) == (400, 4)  # type: ignore[attr-defined]
    _bad(make, {"TINKEX_POOL_SIZE": "0"}, "TINKEX_POOL_SIZE")
    _bad(make, {"TINKEX_POOL_COUNT": "many"}, "TINKEX_POOL_COUNT")


def test_http_pool_routes_default_endpoints(make: Callable[..., Client]) -> None:
    client = make({"TINKEX_HTTP_POOL": "train"})
    assert client.meta.manifest.pool_for(client.meta.manifest.endpoint(GET)) == "train"
    assert client.meta.manifest.pool_for(client.meta.manifest.endpoint("sampling.asample")) == "sample"  # its own pool
    plain = make({})
    assert plain.meta.manifest.pool_for(plain.meta.manifest.endpoint(GET)) == "session"
    _bad(make, {"TINKEX_HTTP_POOL": "nope"}, "TINKEX_HTTP_POOL")


def test_otel_propagate_and_poll_backoff_reach_the_plugins_config(make: Callable[..., Client]) -> None:
    env = {"TINKEX_OTEL_PROPAGATE": "1", "TINKEX_POLL_BACKOFF": "on"}
    client = make(env, plugins=[OtelPlugin(), FuturesPlugin()])
    assert client.meta.config["otel"] == {"propagate": True}
    assert client.meta.config["futures"] == {"poll_backoff": True}
    assert client.meta.plugin("futures").settings.poll_backoff is True
    assert client.meta.plugin("otel").settings.propagate is True
    plain = make({}, plugins=[OtelPlugin(), FuturesPlugin()])
    assert "otel" not in plain.meta.config and "futures" not in plain.meta.config
    _bad(make, {"TINKEX_OTEL_PROPAGATE": "sure"}, "TINKEX_OTEL_PROPAGATE")
    _bad(make, {"TINKEX_POLL_BACKOFF": "sure"}, "TINKEX_POLL_BACKOFF")


def test_otel_propagate_puts_traceparent_on_the_wire(server: LoopbackServer) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider

    from pristine_plugins.otel import OtelPlugin

    for env, expected in (({"TINKEX_OTEL_PROPAGATE": "true"}, True), ({}, False)):
        with Client(MANIFEST, api_key=KEY, base_url=server.url, environ=env, autoload_plugins=False,
                    plugins=[EnvironmentPlugin(), OtelPlugin(TracerProvider())]) as client:
            _call(client)
        assert (server.requests[-1].header("traceparent") is not None) is expected


# -- proxy ---------------------------------------------------------------------------------


@pytest.fixture
def proxy() -> Iterator[LoopbackServer]:
    """A "proxy" that answers every absolute-form request itself."""

    def answer(request: SeenRequest) -> Reply:
        return json_reply({"supported_models": []})

    with LoopbackServer(answer) as srv:
        yield srv


def test_proxy_with_credentials(make: Callable[..., Client], proxy: LoopbackServer, server: LoopbackServer) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    _call(make({"TINKEX_PROXY": f"http://alice:s3cret-proxy-pw@127.0.0.1:{port}"}, base_url="http://tinker.invalid"))
    seen = proxy.requests[-1]
    assert seen.path.startswith("http://tinker.invalid/api/v1/get_server_capabilities")
    assert seen.header("Proxy-Authorization") == "Basic " + base64.b64encode(b"alice:s3cret-proxy-pw").decode()
    assert server.requests == []


def test_proxy_headers_replace_the_url_credentials(make: Callable[..., Client], proxy: LoopbackServer) -> None:
    port = proxy.url.rsplit(":", 1)[1]
    env = {
        "TINKEX_PROXY": f"http://alice:pw@127.0.0.1:{port}",
        "TINKEX_PROXY_HEADERS": '[["Proxy-Authorization", "Bearer proxy-token"], ["X-Proxy-Team", "ml"]]',
    }
    _call(make(env, base_url="http://tinker.invalid"))
    seen = proxy.requests[-1]
    assert (seen.header("Proxy-Authorization"), seen.header("X-Proxy-Team")) == ("Bearer proxy-token", "ml")


def test_no_proxy_by_default_and_bad_values(make: Callable[..., Client], server: LoopbackServer) -> None:
    _call(make({}))
    assert server.requests[-1].path == "/api/v1/get_server_capabilities"
    _bad(make, {"TINKEX_PROXY": "socks5://127.0.0.1:1080"}, "TINKEX_PROXY")
    _bad(make, {"TINKEX_PROXY": "http://127.0.0.1:99999"}, "TINKEX_PROXY")
    _bad(make, {"TINKEX_PROXY_HEADERS": '{"a": "b"}'}, "TINKEX_PROXY_HEADERS")


def test_cloudflare_secret_stays_off_foreign_urls(make: Callable[..., Client], server: LoopbackServer) -> None:
    client = make({"CLOUDFLARE_ACCESS_CLIENT_ID": "cf-id", "CLOUDFLARE_ACCESS_CLIENT_SECRET": "cf-secret-x"})
    client.meta.fetch_url(server.url + "/presigned/archive.tar", stream=False).close()
    seen = server.requests[-1]
    assert seen.header("CF-Access-Client-Secret") is None and seen.header("X-API-Key") is None
    assert seen.header("CF-Access-Client-Id") == "cf-id"
