"""Secret canary: the API key is nowhere in the objects reachable from clients and errors.

The walk follows ``vars()``/``__dict__``, ``__slots__``, containers, exception causes, contexts
and arguments; it checks every string and bytes value, every ``repr`` and the pickles of errors
and of a sampling client. Sources of errors: a server that echoes the key back (in a response
header and the body) and a refused connection. Tracebacks (frame locals of the call stack) are
not walked: they are the stack of the call that failed, not state kept by clients or errors.
"""

from __future__ import annotations

import pickle
import types as pytypes
from collections.abc import Iterable
from typing import Any

import pytest

import pristine_core as pc
from pristine_testing import LoopbackServer, Reply, SeenRequest, refused_port
from tinkex_domain import ServiceClient
from tinkex_domain import holder as holder_module
from tinkex_domain.emulator import Emulator

from .conftest import BASE_MODEL

KEY = "tml-canary-7f3a9c1e5d"
_SKIP = (type, pytypes.ModuleType, pytypes.FunctionType, pytypes.BuiltinFunctionType, pytypes.CodeType,
         pytypes.FrameType, pytypes.TracebackType, pytypes.MethodWrapperType, pytypes.WrapperDescriptorType)


def _children(obj: Any) -> Iterable[Any]:
    if isinstance(obj, dict):
        yield from obj.keys()
        yield from obj.values()
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj
        return
    if isinstance(obj, BaseException):
        yield obj.__cause__
        yield obj.__context__
        yield from obj.args
    if isinstance(obj, pytypes.MethodType):
        yield obj.__self__
        return
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict):
        yield from state.values()
    for klass in type(obj).__mro__:
        for name in getattr(klass, "__slots__", ()) or ():
            if isinstance(name, str) and not name.startswith("__"):
                try:
                    yield getattr(obj, name)
                except Exception:
                    continue


def find_key(*roots: Any, limit: int = 300_000) -> list[str]:
    """Every place (a path of types) where KEY shows: plain values, reprs and error pickles."""
    found: list[str] = []
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(root, type(root).__name__) for root in roots]
    needle = KEY.encode()
    while stack and len(seen) < limit:
        obj, path = stack.pop()
        if obj is None or id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if KEY in obj:
                found.append(f"{path} (str)")
            continue
        if isinstance(obj, (bytes, bytearray, memoryview)):
            if needle in bytes(obj):
                found.append(f"{path} (bytes)")
            continue
        if isinstance(obj, (int, float, bool, complex)):
            continue
        try:
            if KEY in repr(obj):
                found.append(f"{path} (repr)")
        except Exception:
            pass
        if isinstance(obj, BaseException):
            if needle in pickle.dumps(obj):
                found.append(f"{path} (pickle)")
        for child in _children(obj):
            stack.append((child, f"{path}>{type(child).__name__}"))
    assert len(seen) < limit, "object graph larger than the walk limit"
    return found


def test_clients_hold_no_plain_key(emulator: Emulator) -> None:
    with ServiceClient(api_key=KEY, base_url=emulator.base_url, config={"telemetry": False}) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2)
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        assert find_key(service, training, sampler, service.holder.client) == []
        pickled = pickle.dumps(sampler)
        assert KEY.encode() not in pickled
        copy = pickle.loads(pickled)
        assert copy.holder.api_key() == KEY  # the copy still authenticates
        assert find_key(copy, holder_module._shadows) == []  # nor the process-wide shadow holders


@pytest.mark.parametrize("autoload", [False, True], ids=["core", "with-plugins"])
def test_errors_from_an_echoing_server_hold_no_key(petstore_like: dict[str, Any], autoload: bool) -> None:
    def echo(req: SeenRequest) -> Reply:
        key = req.header("X-API-Key") or ""
        return Reply(
            500,
            f'{{"error": "bad key {key}"}}'.encode(),
            {"Content-Type": "application/json", "X-Echo-Key": key, "X-API-Key": key, "x-should-retry": "false"},
        )

    with LoopbackServer(echo) as srv:
        with pc.Client(petstore_like, base_url=srv.url, api_key=KEY, autoload_plugins=autoload) as client:
            with pytest.raises(pc.APIStatusError) as info:
                client.items.get(item_id=1)
            assert srv.requests[-1].header("X-API-Key") == KEY  # the key really was sent and echoed
            assert find_key(info.value, client) == []


def test_refused_connection_errors_hold_no_key(petstore_like: dict[str, Any]) -> None:
    with refused_port() as port, pc.Client(
        petstore_like, base_url=f"http://127.0.0.1:{port}", api_key=KEY, autoload_plugins=False
    ) as client:
        with pytest.raises(pc.APIConnectionError) as info:
            client.items.get(item_id=1)
    error = info.value
    assert "is the server running at http://127.0.0.1:" in str(error)
    assert error.__cause__ is not None and getattr(error.__cause__, "request", None) is None
    assert find_key(error) == []


@pytest.fixture
def petstore_like() -> dict[str, Any]:
    return {
        "name": "canary",
        "auth": {"header": "X-API-Key"},
        "resources": {"items": {"get": {"method": "GET", "path": "/items/{item_id}", "response": "Item"}}},
        "types": {"Item": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }
