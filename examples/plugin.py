"""A Pristine plugin: count requests per endpoint and stamp a header on every attempt.

A plugin is a class with ``name`` and ``priority`` and methods marked ``@hookimpl``. Installed
packages register it under the ``pristine.plugins`` entry-point group; here it is passed to the
client directly (``plugins=[...]``) next to the installed ones.

    python examples/plugin.py
"""

from __future__ import annotations

import collections
import threading

from _common import BASE_MODEL
from tinkex import ServiceClient
from tinkex.emulator import Emulator

from pristine_core import Event, Request, hookimpl


class RequestCounter:
    """Counts finished requests per endpoint and adds ``X-Example-Attempt`` to every attempt."""

    name = "request_counter"
    priority = 100  # after every built-in band: sees the final request of each attempt

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.attempts = 0
        self._lock = threading.Lock()

    @hookimpl
    def pristine_prepare_attempt(self, request: Request) -> None:
        """Stamp a header on each attempt (retries included)."""
        with self._lock:
            self.attempts += 1
        request.headers["X-Example-Attempt"] = str(self.attempts)

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        """Count ``request.end`` events by endpoint name."""
        if event.name == "request.end":
            with self._lock:
                self.counts[str(event.fields.get("endpoint"))] += 1


def run(base_url: str, api_key: str) -> RequestCounter:
    """Use Tinkex with the counter plugin added; returns the plugin with its counts."""
    counter = RequestCounter()
    with ServiceClient(api_key=api_key, base_url=base_url, plugins=[counter], config={"telemetry": False}) as service:
        service.get_server_capabilities()
        service.create_sampling_client(base_model=BASE_MODEL)
    return counter


if __name__ == "__main__":
    with Emulator() as emulator:
        plugin = run(emulator.base_url, "tml-example")
        print(f"attempts: {plugin.attempts}")
        for endpoint, count in sorted(plugin.counts.items()):
            print(f"{endpoint}: {count}")
