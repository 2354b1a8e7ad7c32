"""Request events carry the pool and the ServiceClient's user metadata (tinkex's HTTP telemetry)."""

from __future__ import annotations

from typing import Any

from pristine_core import hookimpl
from tinkex_domain import ServiceClient
from tinkex_domain.emulator import Emulator

from .conftest import API_KEY


class Events:
    name = "event-recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def pristine_on_event(self, event: Any) -> None:
        if event.name.startswith("request."):
            self.seen.append((event.name, dict(event.fields)))


def test_request_events_name_the_pool_and_carry_user_metadata(emulator: Emulator) -> None:
    events = Events()
    with ServiceClient(api_key=API_KEY, base_url=emulator.base_url, user_metadata={"team": "ml"},
                       config={"telemetry": False}, plugins=[events]) as service:
        service.get_server_capabilities()
    caps = "service.get_server_capabilities"
    starts = [f for name, f in events.seen if name == "request.start" and f["endpoint"] == caps]
    ends = [f for name, f in events.seen if name == "request.end" and f["endpoint"] == caps]
    assert starts and ends
    assert starts[0]["pool"] == ends[0]["pool"] == "session"
    assert starts[0]["user_metadata"] == ends[0]["user_metadata"] == {"team": "ml"}
    assert ends[0]["status"] == 200
