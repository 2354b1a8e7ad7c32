"""The environment plugin against a real loopback server: each kind of target, secrets kept out of
reprs and logs, typed block checking, and what happens without the plugin."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import pristine_core as pc
from pristine_plugins.environment import EnvironmentPlugin
from pristine_testing import LoopbackServer, json_reply

SECRET = "cf-very-secret-value"


def manifest(variables: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "probe",
        "resources": {"items": {"get": {"method": "GET", "path": "/items"}}},
        "pools": {"default": {}, "bulk": {}},
        "features": {"environment": {"variables": variables, **extra}},
    }


VARIABLES = {
    "CF_ID": {"to": "header", "name": "CF-Access-Client-Id"},
    "CF_SECRET": {"to": "header", "name": "CF-Access-Client-Secret", "secret": True},
    "EXTRA_QUERY": {"to": "query"},
    "PROXY": {"to": "proxy"},
    "DUMP": {"to": "dump_headers"},
    "POOL": {"to": "default_pool"},
    "MODE": {"to": "profile", "profiles": {"fast": {"timeout_s": 5}, "slow": {"timeout_s": 90}}, "default": "fast"},
}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(lambda seen: json_reply({"ok": True})) as srv:
        yield srv


def client(server: LoopbackServer, environ: dict[str, str], doc: dict[str, Any] | None = None) -> pc.Client:
    return pc.Client(doc or manifest(VARIABLES), base_url=server.url, environ=environ,
                     plugins=[EnvironmentPlugin()], autoload_plugins=False)


def test_headers_query_and_profile_reach_the_wire(server: LoopbackServer) -> None:
    env = {"CF_ID": "cf-id", "CF_SECRET": SECRET, "EXTRA_QUERY": '{"region": "eu"}', "MODE": "slow"}
    with client(server, env) as c:
        c.items.get()
        assert c.meta.timeout_s == 90
    seen = server.requests[-1]
    assert (seen.header("CF-Access-Client-Id"), seen.header("CF-Access-Client-Secret")) == ("cf-id", SECRET)
    assert seen.path == "/items?region=eu"
    with client(server, {}) as c:
        c.items.get()
        assert c.meta.timeout_s == 5  # the profile's default
    assert server.requests[-1].header("CF-Access-Client-Id") is None


def test_secrets_never_show_in_reprs_or_request_dumps(server: LoopbackServer, caplog: pytest.LogCaptureFixture) -> None:
    env = {"CF_SECRET": SECRET, "PROXY": "http://user:proxy-pass-123@127.0.0.1:9", "DUMP": "1"}
    with caplog.at_level(logging.INFO), client(server, env) as c:
        defaults = c.meta.defaults
        token = base64.b64encode(b"user:proxy-pass-123").decode()
        assert defaults.proxy_headers["Proxy-Authorization"].reveal() == f"Basic {token}"
        assert defaults.proxy == "http://127.0.0.1:9"
        for text in (repr(defaults), repr(c.meta.pipeline.__dict__), repr(c.meta.plugin("environment").__dict__)):
            assert SECRET not in text and "proxy-pass-123" not in text and token not in text
    dumps = [r for r in caplog.records if "pristine.request" in r.getMessage()]
    assert not dumps  # no call was made: nothing dumped yet
    with caplog.at_level(logging.INFO), client(server, {"CF_SECRET": SECRET, "DUMP": "yes"}) as c:
        c.items.get()
    dumps = [r.getMessage() for r in caplog.records if "pristine.request" in r.getMessage()]
    assert len(dumps) == 1 and "CF-Access-Client-Secret" in dumps[0] and SECRET not in dumps[0]


def test_default_pool_reroutes_and_bad_values_name_the_variable(server: LoopbackServer) -> None:
    with client(server, {"POOL": "bulk"}) as c:
        assert c.meta.manifest.pool_for(c.meta.manifest.endpoint("items.get")) == "bulk"
    for env, var, words in (
        ({"POOL": "nope"}, "POOL", "unknown pool 'nope'"),
        ({"DUMP": "maybe"}, "DUMP", "expected a boolean"),
        ({"PROXY": "ftp://x"}, "PROXY", "expected http(s)://"),
        ({"MODE": "medium"}, "MODE", "expected one of fast, slow"),
        ({"EXTRA_QUERY": "[1]"}, "EXTRA_QUERY", "expected a JSON object"),
    ):
        with pytest.raises(pc.ValidationError) as info:
            client(server, env)
        assert f"{var}: {words}" in str(info.value)
    assert server.requests == []  # every problem before any network


def test_the_block_is_typed_and_checked_by_path() -> None:
    doc = manifest(
        {
            "A": {"to": "header"},
            "B": {"to": "headr"},
            "C": {"to": "query", "name": "x"},
            "D": {"to": "profile", "profiles": {"a": {"timeout": 1}}},
        },
        platform_header={},
    )
    with pytest.raises(pc.ManifestError) as info:
        pc.Client(doc, base_url="http://127.0.0.1:9", plugins=[EnvironmentPlugin()], autoload_plugins=False)
    problems = dict(info.value.problems)
    assert problems["features.environment.platform_header"] == "unknown key (did you mean 'platform_headers'?)"
    assert problems["features.environment.variables.A.name"] == "is required: the header's name"
    assert problems["features.environment.variables.B.to"].startswith("expected one of header, headers")
    assert problems["features.environment.variables.C.name"] == "does not apply to a 'query' variable"
    assert problems["features.environment.variables.D.profiles.a.timeout"] == "unknown key (did you mean 'timeout_s'?)"


def test_without_the_plugin_the_block_is_unclaimed_and_ignored(server: LoopbackServer) -> None:
    with pc.Client(manifest(VARIABLES), base_url=server.url, environ={"CF_ID": "cf-id"},
                   autoload_plugins=False) as c:
        assert "features.environment" in c.meta.manifest.unclaimed
        c.items.get()
    assert server.requests[-1].header("CF-Access-Client-Id") is None


def test_variables_read_as_secrets_are_named_and_never_shown(server: LoopbackServer) -> None:
    """Secret headers, proxy credentials and proxy headers are listed in ``secret_names``; the
    client's ``meta.environ`` holds them as secrets (reading them still works)."""
    doc = manifest({**VARIABLES, "PROXY_HEADERS": {"to": "proxy_headers"}})
    env = {
        "CF_ID": "cf-id",
        "CF_SECRET": SECRET,
        "PROXY": f"http://u:pw-xyz-1234@127.0.0.1:{server.url.rsplit(':', 1)[1]}",
        "PROXY_HEADERS": '[["X-Proxy-Token", "proxy-token-998877"]]',
    }
    with client(server, env, doc) as c:
        assert c.meta.defaults.secret_names == frozenset({"CF_SECRET", "PROXY", "PROXY_HEADERS"})
        held = c.meta.environ
        assert held is not None and held["CF_SECRET"] == SECRET and held["CF_ID"] == "cf-id"
        shown = repr(held) + repr(vars(c.meta))
    assert "cf-id" in shown
    assert all(secret not in shown for secret in (SECRET, "pw-xyz-1234", "proxy-token-998877"))
