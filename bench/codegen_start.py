"""Client start-up: built at run time from the manifest vs from the package ``pristine codegen``
generated (``tinkex_domain._generated``), in one run against one in-process emulator.

Each client is ServiceClient-like: the Tinker manifest, every installed plugin plus the Tinkex
domain plugin, the same arguments Tinkex's Holder passes (telemetry off), so the session plugin
creates a session over HTTP at start. For every client the time splits into

* plugin discovery: finding, instantiating and registering the plugins (``build_plugin_manager``);
* plugin start-up: the plugins' own start hooks (``pristine_configure``,
  ``pristine_dispatch_middleware``, ``pristine_client_started``: the session is created here);
* the rest: what the client itself does (manifest loading and validation, type classes,
  endpoint methods, transport...). Codegen removes most of it.

The first client of each way is reported apart (one-time work such as the generated package's
manifest structuring happens there); the headline is the median of the later ones.

    python bench/codegen_start.py [--clients 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import pristine_core.client as core_client
from pristine_core import Client
from tinkex_domain import ServiceClient
from tinkex_domain._generated import BUILD
from tinkex_domain.emulator import Emulator, EmulatorConfig
from tinkex_domain.holder import MANIFEST
from tinkex_domain.plugin import TinkexPlugin

API_KEY = "tml-bench-codegen"
START_HOOKS = frozenset({"pristine_configure", "pristine_dispatch_middleware", "pristine_client_started"})


class Split:
    """Times spent in plugin discovery and in the plugins' start hooks during one construction."""

    def __init__(self) -> None:
        self.discovery = 0.0
        self.hooks = 0.0
        self._started: dict[str, float] = {}

    def reset(self) -> None:
        self.discovery = 0.0
        self.hooks = 0.0

    def install(self) -> None:
        """Wrap the core's plugin-manager factory to time it and monitor the start hooks."""
        original = core_client.build_plugin_manager

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = original(*args, **kwargs)
            self.discovery += time.perf_counter() - start
            result[0].add_hookcall_monitoring(self._before, self._after)
            return result

        core_client.build_plugin_manager = timed  # type: ignore[assignment]

    def _before(self, hook_name: str, _impls: Any, _kwargs: Any) -> None:
        if hook_name in START_HOOKS:
            self._started[hook_name] = time.perf_counter()

    def _after(self, _outcome: Any, hook_name: str, _impls: Any, _kwargs: Any) -> None:
        if hook_name in START_HOOKS:
            self.hooks += time.perf_counter() - self._started.pop(hook_name)


def _kwargs(base_url: str) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "base_url": base_url,
        "config": {"telemetry": False, "user_metadata": {}},
        "plugins": [TinkexPlugin()],
        "disable_plugins": [TinkexPlugin.name],
    }


def _measure(split: Split, make: Callable[[], Any]) -> tuple[float, float, float]:
    split.reset()
    start = time.perf_counter()
    client = make()
    total = time.perf_counter() - start
    client.close()
    return total * 1000, split.discovery * 1000, split.hooks * 1000


def _row(label: str, samples: list[tuple[float, float, float]]) -> tuple[float, float]:
    total = statistics.median(s[0] for s in samples)
    discovery = statistics.median(s[1] for s in samples)
    hooks = statistics.median(s[2] for s in samples)
    rest = statistics.median(s[0] - s[1] - s[2] for s in samples)
    print(
        f"  {label:<26} total {total:7.2f} ms | discovery {discovery:6.2f} | plugin start {hooks:6.2f}"
        f" | rest {rest:6.2f} | rest+discovery {rest + discovery:6.2f}"
    )
    return total, rest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=30, help="clients per way after the first")
    args = parser.parse_args(argv)
    split = Split()
    split.install()
    with Emulator(EmulatorConfig()) as emu:
        kwargs = _kwargs(emu.base_url)
        runtime = lambda: Client(MANIFEST, **_kwargs(emu.base_url))  # noqa: E731
        generated = lambda: BUILD.client(**_kwargs(emu.base_url))  # noqa: E731
        service = lambda: ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False})  # noqa: E731
        del kwargs
        first_runtime = _measure(split, runtime)
        first_generated = _measure(split, generated)
        samples: dict[str, list[tuple[float, float, float]]] = {"runtime": [], "generated": [], "service": []}
        for _ in range(args.clients):  # interleaved, so both ways see the same machine state
            samples["runtime"].append(_measure(split, runtime))
            samples["generated"].append(_measure(split, generated))
            samples["service"].append(_measure(split, service))
    print(f"client start-up, Tinker manifest, {args.clients} clients per way after the first (medians, ms)")
    _row("first, run-time building", [first_runtime])
    _row("first, generated package", [first_generated])
    runtime_total, runtime_rest = _row("later, run-time building", samples["runtime"])
    generated_total, generated_rest = _row("later, generated package", samples["generated"])
    _row("later, ServiceClient()", samples["service"])
    print(
        f"headline: generated/run-time start-up {generated_total / runtime_total:.2f}x "
        f"({runtime_total:.1f} -> {generated_total:.1f} ms); beyond plugin start-up and discovery the "
        f"generated client takes {generated_rest:.2f} ms (run-time building: {runtime_rest:.2f} ms; target <= 5 ms)"
    )


if __name__ == "__main__":
    main()
