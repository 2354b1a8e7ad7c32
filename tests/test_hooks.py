"""One test per hookspec, each showing the core calls it at the documented moment."""

from __future__ import annotations

import json
import threading
from typing import Any

import attrs
import pytest

import pristine_core as pc
from pristine_testing import LoopbackServer, SeenRequest, json_reply, refused_port

PET = {"id": "1", "name": "Rex"}


def client_with(petstore: dict[str, Any], server: LoopbackServer, *plugins: Any) -> pc.Client:
    return pc.Client(petstore, base_url=server.url, plugins=list(plugins), autoload_plugins=False)


@pc.settings
class CacheSettings:
    ttl_s: float
    endpoint: str | None = None


def test_hook_pristine_validate_manifest(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Plugin problems join the one ManifestError, with their paths."""

    class Checker:
        name = "checker"

        @pc.hookimpl
        def pristine_settings(self) -> pc.PluginSettings:
            return pc.PluginSettings(sections={"features.cache": CacheSettings})

        @pc.hookimpl
        def pristine_validate_manifest(self, manifest: pc.Manifest) -> list[tuple[str, str]]:
            block = manifest.section("features.cache")
            if block is None or block.endpoint in (None, "pets.get"):
                return []
            return [("features.cache.endpoint", "unknown endpoint")]

    petstore["features"] = {"cache": {"ttl_s": 1, "endpoint": "pets.nope"}}
    with pytest.raises(pc.ManifestError) as info:
        client_with(petstore, server, Checker())
    assert info.value.problems == [("features.cache.endpoint", "unknown endpoint")]
    petstore["features"] = {"cache": {"ttl_s": 1, "endpoint": "pets.get"}}
    client_with(petstore, server, Checker()).close()


def test_hook_pristine_settings(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Declared sections are structured strictly (paths, suggestions) and read back typed."""

    class Cache:
        name = "cache"

        @pc.hookimpl
        def pristine_settings(self) -> pc.PluginSettings:
            return pc.PluginSettings(sections={"features.cache": CacheSettings})

    petstore["features"] = {"cache": {"ttl": 1}}
    with pytest.raises(pc.ManifestError) as info:
        client_with(petstore, server, Cache())
    assert ("features.cache.ttl", "unknown key (did you mean 'ttl_s'?)") in info.value.problems
    assert ("features.cache.ttl_s", "required field is missing") in info.value.problems
    petstore["features"] = {"cache": {"ttl_s": 2}}
    with client_with(petstore, server, Cache()) as client:
        assert client.meta.manifest.section("features.cache") == CacheSettings(ttl_s=2.0)


def test_hook_pristine_type_classes(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """A domain class is used for responses; the highest-priority plugin wins conflicts."""

    @attrs.frozen(kw_only=True)
    class Pet:
        id: str
        name: str
        tags: Any = None
        owner: Any = None
        kind: Any = None

        def greeting(self) -> str:
            return f"hi {self.name}"

    class Domain:
        name = "domain"
        priority = 400

        @pc.hookimpl
        def pristine_type_classes(self, manifest: pc.Manifest) -> dict[str, type]:
            return {"Pet": Pet}

    class Loser:
        name = "loser"
        priority = 10

        @pc.hookimpl
        def pristine_type_classes(self, manifest: pc.Manifest) -> dict[str, type]:
            return {"Pet": dict}

    server.handler = lambda r: json_reply(PET)
    with client_with(petstore, server, Domain(), Loser()) as client:
        pet = client.pets.get(pet_id="1")
    assert isinstance(pet, Pet) and pet.greeting() == "hi Rex"


def test_hook_pristine_client_defaults(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Called once before the client is built; explicit arguments win over its values; secret
    headers stay Secrets (not in reprs) and only go with the API's own requests."""
    from pristine_core.defaults import ClientDefaults
    from pristine_runtime.secrets import Secret

    seen: list[Any] = []

    class Defaults:
        name = "defaults"

        @pc.hookimpl
        def pristine_client_defaults(self, manifest: pc.Manifest, environ: Any) -> ClientDefaults:
            seen.append((manifest.name, environ))
            return ClientDefaults(
                headers={"X-Team": "ml", "X-Keep": "env"},
                secret_headers={"X-Token": Secret("tok-very-secret")},
                query={"region": "eu"},
                timeout_s=33.0,
                default_pool="bulk",
            )

    server.handler = lambda r: json_reply(PET)
    client = pc.Client(petstore, base_url=server.url, plugins=[Defaults()], autoload_plugins=False,
                       environ={"A": "1"}, default_headers={"X-Keep": "explicit"}, api_key="pk-1")
    with client:
        client.pets.get(pet_id="1")
        assert client.meta.timeout_s == 33.0
        assert client.meta.manifest.pool_for(client.meta.manifest.endpoint("pets.get")) == "bulk"
        assert "tok-very-secret" not in repr(client.meta.defaults)
        client.meta.fetch_url(server.url + "/elsewhere")
    assert seen == [("petstore", {"A": "1"})]
    api, other = server.requests
    assert (api.header("X-Team"), api.header("X-Keep"), api.header("X-Token")) == ("ml", "explicit", "tok-very-secret")
    assert "region=eu" in api.path
    assert other.header("X-Token") is None and other.header("X-Team") == "ml"

    class BadPool(Defaults):
        @pc.hookimpl
        def pristine_client_defaults(self, manifest: pc.Manifest, environ: Any) -> ClientDefaults:
            return ClientDefaults(default_pool="nope")

    with pytest.raises(pc.ValidationError, match="default_pool: unknown pool 'nope'"):
        pc.Client(petstore, base_url=server.url, plugins=[BadPool()], autoload_plugins=False)


def test_hook_pristine_configure(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Called once per client, before middleware is collected; instances are per client."""
    events: list[str] = []

    class Setup:
        name = "setup"

        @pc.hookimpl
        def pristine_configure(self, client: pc.Client) -> None:
            events.append("configure")
            client.meta.state["setup"] = {"ready": True}

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> None:
            events.append(f"middleware ready={client.meta.state['setup']['ready']}")

    client = client_with(petstore, server, Setup)
    client.close()
    assert events == ["configure", "middleware ready=True"]


def test_hook_pristine_client_started(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Endpoints can be called from it; its failure closes the client and propagates."""
    server.handler = lambda r: json_reply(PET)

    class Starter:
        name = "starter"

        @pc.hookimpl
        def pristine_client_started(self, client: pc.Client) -> None:
            client.meta.state["first"] = client.pets.get(pet_id="1")

    with client_with(petstore, server, Starter()) as client:
        assert client.meta.state["first"].name == "Rex"

    class Broken:
        name = "broken"
        closed = False

        @pc.hookimpl
        def pristine_client_started(self, client: pc.Client) -> None:
            raise RuntimeError("cannot start")

        @pc.hookimpl
        def pristine_client_closing(self, client: pc.Client) -> None:
            type(self).closed = True

    with pytest.raises(RuntimeError, match="cannot start"):
        client_with(petstore, server, Broken())
    assert Broken.closed


def test_hook_pristine_client_closing(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Every plugin gets its turn, even after another one fails; close is idempotent."""
    calls: list[str] = []

    def plugin(name: str, priority: int, fail: bool) -> Any:
        class P:
            @pc.hookimpl
            def pristine_client_closing(self, client: pc.Client) -> None:
                calls.append(name)
                if fail:
                    raise RuntimeError("flush failed")

        P.name, P.priority = name, priority  # type: ignore[attr-defined]
        return P()

    client = client_with(petstore, server, plugin("a", 900, True), plugin("b", 100, False))
    client.close()
    client.close()
    assert calls == ["a", "b"]


def test_a_second_close_while_the_first_runs_the_hooks_returns_at_once(
    petstore: dict[str, Any], server: LoopbackServer
) -> None:
    """The client is marked closed (under a lock) before any hook runs: a close from another
    thread meanwhile runs no hook a second time and does not wait."""
    calls: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    class Slow:
        name, priority = "slow", 100

        @pc.hookimpl
        def pristine_client_closing(self, client: pc.Client) -> None:
            calls.append("closing")
            inside.set()
            release.wait(5)

    client = client_with(petstore, server, Slow())
    first = threading.Thread(target=client.close)
    first.start()
    assert inside.wait(5)
    client.close()  # the second closer, while the first is inside the hook
    release.set()
    first.join(5)
    assert calls == ["closing"] and not first.is_alive()


def test_hook_pristine_prepare_call(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Runs once per call, before validation: it may fill required fields."""
    server.handler = lambda r: json_reply(PET)

    class Filler:
        name = "filler"
        count = 0

        @pc.hookimpl
        def pristine_prepare_call(self, call: pc.Call) -> None:
            type(self).count += 1
            if call.endpoint.request == "NewPet":
                call.body.setdefault("name", "Auto")
                call.headers["X-Filled"] = "1"

    with client_with(petstore, server, Filler()) as client:
        client.pets.create()
    assert server.requests[0].json()["name"] == "Auto" and server.requests[0].header("X-Filled") == "1"
    assert Filler.count == 1


def test_hook_pristine_encode_body(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """The first plugin that answers encodes the body; others fall back to JSON."""
    server.handler = lambda r: json_reply(PET)

    class Upper:
        name = "upper"

        @pc.hookimpl
        def pristine_encode_body(self, call: pc.Call) -> pc.EncodedBody | None:
            if call.endpoint.name != "create":
                return None
            data = json.dumps(call.wire_body).upper().encode()
            return pc.EncodedBody(data, "application/x-upper", len(data))

    with client_with(petstore, server, Upper()) as client:
        client.pets.create(name="rex")
        client.pets.rename(pet_id="1", name="rex")
    first, second = server.requests
    assert first.body == b'{"NAME": "REX", "KIND": "CAT"}' and first.header("Content-Type") == "application/x-upper"
    assert second.json() == {"name": "rex"}


def test_hook_pristine_estimate_bytes(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """The estimate becomes request.byte_size; without one the body length is used."""
    server.handler = lambda r: json_reply(PET)
    sizes: list[int] = []

    class Estimator:
        name = "estimator"

        @pc.hookimpl
        def pristine_estimate_bytes(self, call: pc.Call) -> int | None:
            return 4096 if call.endpoint.name == "create" else None

        @pc.hookimpl
        def pristine_prepare_attempt(self, request: pc.Request) -> None:
            sizes.append(request.byte_size)

    with client_with(petstore, server, Estimator()) as client:
        client.pets.create(name="rex")
        client.pets.rename(pet_id="1", name="rex")
    assert sizes == [4096, len(b'{"name":"rex"}')]


def test_hook_pristine_prepare_attempt(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Runs once per attempt with ``request.attempt``; a middleware may re-send."""
    server.handler = lambda r: json_reply(PET)

    class Twice:
        name = "twice"

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> pc.Middleware:
            def handler(request: pc.Request, call_next: Any) -> pc.Response:
                call_next(request)
                request.attempt += 1
                return call_next(request)

            return pc.Middleware("twice", 700, handler)

        @pc.hookimpl
        def pristine_prepare_attempt(self, request: pc.Request) -> None:
            request.headers["X-Attempt"] = str(request.attempt)

    with client_with(petstore, server, Twice()) as client:
        raw = client.pets.get.raw(pet_id="1")
    assert [r.header("X-Attempt") for r in server.requests] == ["0", "1"]
    assert raw.attempts == 2


def test_hook_pristine_dispatch_middleware(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """Middleware is composed by priority, highest outermost, whatever the plugin order."""
    server.handler = lambda r: json_reply(PET)
    trace: list[str] = []

    def step(label: str) -> Any:
        def handler(request: pc.Request, call_next: Any) -> pc.Response:
            trace.append(f"{label}>")
            response = call_next(request)
            trace.append(f"<{label}")
            return response

        return handler

    class Many:
        name = "many"

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> list[pc.Middleware]:
            return [pc.Middleware("pool", 500, step("pool")), pc.Middleware("retry", 700, step("retry"))]

    class One:
        name = "one"

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> pc.Middleware:
            return pc.Middleware("auth", 900, step("auth"))

    with client_with(petstore, server, Many(), One()) as client:
        assert [m.name for m in client.meta.middleware] == ["auth", "retry", "pool"]
        client.pets.get(pet_id="1")
    assert trace == ["auth>", "retry>", "pool>", "<pool", "<retry", "<auth"]


def test_hook_pristine_process_response(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """The first non-None answer is the result; error statuses never reach the hook."""
    seen: list[int] = []

    class Wrap:
        name = "wrap"

        @pc.hookimpl
        def pristine_process_response(self, call: pc.Call, response: pc.Response) -> Any:
            seen.append(response.status_code)
            return ("wrapped", response.json()) if call.endpoint.name == "get" else None

    def handler(request: SeenRequest) -> Any:
        return json_reply(PET, status=404 if "missing" in request.path else 200)

    server.handler = handler
    with client_with(petstore, server, Wrap()) as client:
        assert client.pets.get(pet_id="1") == ("wrapped", PET)
        assert client.pets.rename(pet_id="1", name="x").name == "Rex"
        with pytest.raises(pc.NotFoundError):
            client.pets.get(pet_id="missing")
    assert seen == [200, 200]


def test_hook_pristine_event_names(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """A listener that names its events gets only those; events nobody wants are not built."""
    server.handler = lambda r: json_reply(PET)
    narrow: list[str] = []
    built: list[str] = []

    class Narrow:
        name = "narrow"

        @pc.hookimpl
        def pristine_event_names(self) -> set[str]:
            return {"request.error", "custom"}

        @pc.hookimpl
        def pristine_on_event(self, event: pc.Event) -> None:
            narrow.append(event.name)

    real_init = pc.Event.__init__

    def counting_init(self: pc.Event, name: str, *args: Any, **kwargs: Any) -> None:
        built.append(name)
        real_init(self, name, *args, **kwargs)

    with client_with(petstore, server, Narrow()) as client:
        pc.Event.__init__ = counting_init  # type: ignore[method-assign]
        try:
            client.pets.get(pet_id="1")
            client.meta.emit("custom", value=1)
            client.meta.emit("other", value=2)
            server.handler = lambda r: json_reply({}, status=500)
            with pytest.raises(pc.InternalServerError):  # an error status: request.end, not wanted
                client.pets.get(pet_id="1")
            with refused_port() as port:  # a port nobody listens on: request.error
                dead = f"http://127.0.0.1:{port}"
                refused = pc.Client(petstore, base_url=dead, plugins=[Narrow()], autoload_plugins=False)
                with refused, pytest.raises(pc.APIConnectionError):
                    refused.pets.get(pet_id="1")
        finally:
            pc.Event.__init__ = real_init  # type: ignore[method-assign]
    assert narrow == ["custom", "request.error"]
    assert built == ["custom", "request.error"]  # no request.start/end, no "other"


def test_hook_pristine_on_event(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """request.start/end/error are broadcast; a failing observer never breaks the call."""
    server.handler = lambda r: json_reply(PET)
    events: list[pc.Event] = []

    class Observer:
        name = "observer"

        @pc.hookimpl
        def pristine_on_event(self, event: pc.Event) -> None:
            events.append(event)

    class Faulty:
        name = "faulty"

        @pc.hookimpl
        def pristine_on_event(self, event: pc.Event) -> None:
            raise RuntimeError("observer bug")

    with client_with(petstore, server, Observer(), Faulty()) as client:
        client.pets.get(pet_id="1")
        client.meta.emit("custom", value=3)
        server.handler = lambda r: json_reply({}, status=500)
        with pytest.raises(pc.InternalServerError):
            client.pets.get(pet_id="1")
    names = [e.name for e in events]
    assert names[:3] == ["request.start", "request.end", "custom"]
    assert events[1].fields["status"] == 200 and events[2].fields == {"value": 3}


def test_event_metadata_naming_an_event_field_never_breaks_a_call(
    petstore: dict[str, Any], server: LoopbackServer
) -> None:
    """``config["event_metadata"]`` is laid over each request event's fields: a key the event
    already carries (``pool``, say) takes the metadata's value, and the call goes through."""
    server.handler = lambda r: json_reply(PET)
    events: list[pc.Event] = []

    class Observer:
        name = "observer"

        @pc.hookimpl
        def pristine_on_event(self, event: pc.Event) -> None:
            events.append(event)

    metadata = {"pool": "batch", "user": "ada"}
    with pc.Client(
        petstore,
        base_url=server.url,
        plugins=[Observer()],
        autoload_plugins=False,
        config={"event_metadata": metadata},
    ) as client:
        assert client.pets.get(pet_id="1").name == "Rex"
    assert [e.name for e in events] == ["request.start", "request.end"]
    for event in events:
        assert event.fields["pool"] == "batch" and event.fields["user"] == "ada"
        assert event.fields["endpoint"] == "pets.get"
    assert events[1].fields["status"] == 200


@pc.settings
class TraceOptions:
    trace: bool = False


def test_hook_pristine_applies_to(petstore: dict[str, Any], server: LoopbackServer) -> None:
    """An endpoint a plugin says no to skips its per-call hooks and middleware; the question is
    asked once per endpoint; calls with plugin options run every plugin; others run everywhere."""
    server.handler = lambda r: json_reply(PET)
    asked: list[str] = []
    seen: list[str] = []

    class CreateOnly:
        name = "create_only"

        @pc.hookimpl
        def pristine_settings(self) -> pc.PluginSettings:
            return pc.PluginSettings(options=TraceOptions)

        @pc.hookimpl
        def pristine_applies_to(self, endpoint: Any) -> bool:
            asked.append(endpoint.qualified_name)
            return bool(endpoint.qualified_name == "pets.create")

        @pc.hookimpl
        def pristine_prepare_call(self, call: pc.Call) -> None:
            seen.append(f"prepare:{call.endpoint.name}")

        @pc.hookimpl
        def pristine_prepare_attempt(self, request: pc.Request) -> None:
            seen.append("attempt")

        @pc.hookimpl
        def pristine_process_response(self, call: pc.Call, response: pc.Response) -> None:
            seen.append(f"process:{call.endpoint.name}")

        @pc.hookimpl
        def pristine_dispatch_middleware(self, client: pc.Client) -> pc.Middleware:
            def handler(request: pc.Request, call_next: Any) -> pc.Response:
                seen.append("middleware")
                return call_next(request)

            return pc.Middleware("create_only", 500, handler)

    class Everywhere:
        name = "everywhere"

        @pc.hookimpl
        def pristine_prepare_call(self, call: pc.Call) -> None:
            seen.append(f"everywhere:{call.endpoint.name}")

    with client_with(petstore, server, CreateOnly(), Everywhere()) as client:
        client.pets.get(pet_id="1")
        client.pets.get(pet_id="2")
        assert seen == ["everywhere:get", "everywhere:get"]
        seen.clear()
        client.pets.create(name="Rex")
        assert seen == ["prepare:create", "everywhere:create", "middleware", "attempt", "process:create"]
        seen.clear()
        client.pets.get(pet_id="3", request_options={"trace": True})  # plugin options: every plugin
        assert seen == ["prepare:get", "everywhere:get", "middleware", "attempt", "process:get"]
        assert [m.name for m in client.meta.middleware] == ["create_only"]  # the full chain is unchanged
    assert asked == ["pets.get", "pets.create"]
