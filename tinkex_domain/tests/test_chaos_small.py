"""The chaos bench, small: 20 training steps and 100 samples under the fault mix equal a clean run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tinkex_chaos_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_chaos_run_loses_nothing_and_ends_like_the_clean_run() -> None:
    out = _bench().run(steps=20, samples=100)
    assert sum(sum(kinds.values()) for kinds in out["injected"].values()) > 20, out["injected"]
    assert out["lost_or_failed"] == 0, {k: v for k, v in out.items() if k not in ("injected",)}
    assert out["same_weights"] and out["same_samples"]
