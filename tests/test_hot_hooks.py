"""The per-call hooks run as plain functions (``runner.direct_caller``) with pluggy's semantics."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy
import pytest

import pristine_core as pc
from pristine_core.plugins import new_plugin_manager
from pristine_core.runner import HookPresence, direct_caller
from pristine_testing import LoopbackServer


def _manager(*plugins: Any) -> pluggy.PluginManager:
    pm = new_plugin_manager()
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
    return pm


class Recorder:
    def __init__(self, label: str, seen: list[str], answer: Any = None) -> None:
        self.label, self.seen, self.answer = label, seen, answer

    @pc.hookimpl
    def pristine_prepare_call(self, call: Any) -> None:
        self.seen.append(f"{self.label}:{call}")

    @pc.hookimpl
    def pristine_process_response(self, call: Any, response: Any) -> Any:
        self.seen.append(f"{self.label}:{call}/{response}")
        return self.answer


class ResponseOnly:
    """Takes fewer arguments than the spec: pluggy passes only the ones it names."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    @pc.hookimpl
    def pristine_process_response(self, response: Any) -> Any:
        self.seen.append(f"only:{response}")
        return None


def _both_ways(pm: pluggy.PluginManager, seen: list[str]) -> tuple[list[Any], list[Any]]:
    """Run the hooks through pluggy and through the direct callers; the calls each made."""
    direct = HookPresence.of(pm)
    assert direct.prepare_call is not None and direct.process_response is not None
    seen.clear()
    pm.hook.pristine_prepare_call(call="c")
    first = pm.hook.pristine_process_response(call="c", response="r")
    through_pluggy = [list(seen), first]
    seen.clear()
    direct.prepare_call("c")
    first = direct.process_response("c", "r")
    return through_pluggy, [list(seen), first]


def test_same_order_results_and_arguments_as_pluggy() -> None:
    seen: list[str] = []
    tryfirst = type(
        "First", (), {"pristine_prepare_call": pc.hookimpl(tryfirst=True)(lambda self, call: seen.append("first"))}
    )
    b = Recorder("b", seen, answer="B")
    pm = _manager(Recorder("a", seen), b, ResponseOnly(seen), Recorder("c", seen), tryfirst())
    via_pluggy, direct = _both_ways(pm, seen)
    assert direct == via_pluggy
    assert via_pluggy[0][0] == "first"  # tryfirst honoured
    assert via_pluggy[1] == "B"  # firstresult: the first non-None answer ends the hook
    assert via_pluggy[0] == ["first", "c:c", "b:c", "a:c", "c:c/r", "only:r", "b:c/r"]


def test_one_implementation_is_called_directly_and_none_means_absent() -> None:
    seen: list[str] = []
    pm = _manager(Recorder("a", seen))
    presence = HookPresence.of(pm)
    assert presence.encode_body is None and presence.prepare_attempt is None and presence.estimate_bytes is None
    assert presence.on_event is False
    assert presence.prepare_call is not None
    presence.prepare_call("x")
    assert seen == ["a:x"]


def test_errors_propagate_and_stop_the_later_implementations() -> None:
    seen: list[str] = []

    class Boom:
        @pc.hookimpl
        def pristine_prepare_call(self, call: Any) -> None:
            raise ValueError("boom")

    pm = _manager(Recorder("late", seen), Boom())  # registered last: called first
    caller = direct_caller(pm.hook.pristine_prepare_call, ("call",), False)
    assert caller is not None
    with pytest.raises(ValueError, match="boom"):
        caller("c")
    assert seen == []


def test_wrappers_keep_pluggys_dispatch() -> None:
    seen: list[str] = []

    class Wrapper:
        @pc.hookimpl(wrapper=True)
        def pristine_process_response(self, call: Any, response: Any) -> Generator[None, Any, Any]:
            result = yield
            return f"wrapped({result})"

    pm = _manager(Recorder("a", seen, answer="A"), Wrapper())
    caller = direct_caller(pm.hook.pristine_process_response, ("call", "response"), True)
    assert caller is not None
    assert caller("c", "r") == "wrapped(A)" == pm.hook.pristine_process_response(call="c", response="r")


def test_a_client_runs_every_per_call_hook_through_the_direct_callers(
    petstore: dict[str, Any], server: LoopbackServer
) -> None:
    """End to end: each per-call hook of a plugin runs once per call, in the documented phase."""
    phases: list[str] = []

    class Everything:
        name = "everything"

        @pc.hookimpl
        def pristine_prepare_call(self, call: pc.Call) -> None:
            phases.append("prepare_call")
            call.headers["X-Prepared"] = "1"

        @pc.hookimpl
        def pristine_encode_body(self, call: pc.Call) -> None:
            phases.append("encode_body")

        @pc.hookimpl
        def pristine_estimate_bytes(self, call: pc.Call) -> int:
            phases.append("estimate_bytes")
            return 42

        @pc.hookimpl
        def pristine_prepare_attempt(self, request: pc.Request) -> None:
            phases.append(f"prepare_attempt:{request.byte_size}")

        @pc.hookimpl
        def pristine_process_response(self, response: pc.Response) -> Any:
            phases.append("process_response")
            return {"status": response.status_code}

    with pc.Client(petstore, base_url=server.url, plugins=[Everything()], autoload_plugins=False) as client:
        assert client.pets.get(pet_id="1") == {"status": 200}
    assert phases == ["prepare_call", "encode_body", "estimate_bytes", "prepare_attempt:42", "process_response"]
    assert server.requests[-1].header("X-Prepared") == "1"
