"""Client start-up for the Tinker manifest: the first client against the ones after it.

The first client loads and structures the manifest, builds ~100 type classes and scans the
entry points; later clients for the same manifest reuse that blueprint (``pristine_core.building``).
Plugins' own start-up (their ``pristine_configure``/``pristine_dispatch_middleware``/
``pristine_client_started`` hooks) is timed through pluggy's hook monitoring and reported apart,
so the core's share of a second client is visible. Session and telemetry are disabled: they
would open a session over the network at start.

    python bench/client_start.py [--clients 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import pristine_core as pc
from pristine_core import plugins as plugin_discovery

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.json"
PLUGIN_HOOKS = frozenset({"pristine_configure", "pristine_dispatch_middleware", "pristine_client_started"})
_in_plugins: list[float] = [0.0]


def _monitor(pm: Any) -> None:
    started: list[float] = []

    def before(hook_name: str, _impls: Any, _kwargs: Any) -> None:
        started.append(time.perf_counter())

    def after(_outcome: Any, hook_name: str, _impls: Any, _kwargs: Any) -> None:
        elapsed = time.perf_counter() - started.pop()
        if hook_name in PLUGIN_HOOKS:
            _in_plugins[0] += elapsed

    pm.add_hookcall_monitoring(before, after)


def _traced_manager() -> Any:
    pm = _original()
    _monitor(pm)
    return pm


_original = plugin_discovery.new_plugin_manager
plugin_discovery.new_plugin_manager = _traced_manager


def _one(**kwargs: Any) -> tuple[float, float]:
    _in_plugins[0] = 0.0
    start = time.perf_counter()
    client = pc.Client(MANIFEST, base_url="http://127.0.0.1:9", api_key="tml-bench", **kwargs)
    total = time.perf_counter() - start
    client.close()
    return total * 1000, _in_plugins[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=30)
    args = parser.parse_args()
    plugins = {"disable_plugins": ["session", "telemetry"]}
    first_ms, first_plugins_ms = _one(**plugins)
    later = [_one(**plugins) for _ in range(args.clients)]
    bare = [_one(autoload_plugins=False) for _ in range(args.clients)]
    second_ms = statistics.median(t for t, _ in later)
    second_plugins_ms = statistics.median(p for _, p in later)
    core_ms = statistics.median(t - p for t, p in later)
    print(f"first client:  {first_ms:8.2f} ms (of which in plugin hooks {first_plugins_ms:.2f} ms)")
    print(f"later clients: {second_ms:8.2f} ms median of {args.clients} (in plugin hooks {second_plugins_ms:.2f} ms)")
    print(f"later clients without plugins: {statistics.median(t for t, _ in bare):8.2f} ms")
    print(f"ratio later/first: {second_ms / first_ms:.3f}")
    print(f"second_client_core_ms: {core_ms:.2f}")


if __name__ == "__main__":
    main()
