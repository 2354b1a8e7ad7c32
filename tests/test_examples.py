"""Every script in ``examples/`` runs against the emulator and does what it says."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from tinkex import ServiceClient
from tinkex.emulator import Emulator, EmulatorConfig

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (its folder on sys.path for ``_common``)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the examples."""
    with Emulator(EmulatorConfig(long_poll_s=0.2)) as emu:
        yield emu


@pytest.fixture
def service(emulator: Emulator) -> Iterator[ServiceClient]:
    """A ServiceClient on the emulator."""
    with ServiceClient(api_key="tml-examples", base_url=emulator.base_url, config={"telemetry": False}) as client:
        yield client


def test_training_loop_lowers_the_loss(service: ServiceClient, capsys: Any) -> None:
    losses = load("training_loop").train(service, steps=6)
    assert len(losses) == 6 and losses[-1] < losses[0] * 0.9
    assert capsys.readouterr().out.startswith("sample: ")


def test_async_sampling_answers_every_prompt_in_order(service: ServiceClient) -> None:
    prompts = ["once upon", "the river", "a stitch", "in time"]
    completions = load("async_sampling").run(service, prompts)
    assert len(completions) == len(prompts) and all(isinstance(c, str) and c for c in completions)


def test_custom_loss_reports_the_regularizers(service: ServiceClient) -> None:
    history = load("custom_loss").train_with_regularizers(service, steps=2)
    assert len(history) == 2
    assert {"custom_loss:sum"} <= set(history[0])
    assert any(key.startswith("l1_sparsity") for key in history[0]), sorted(history[0])


def test_recovery_restores_the_weights(service: ServiceClient) -> None:
    from tinkex import types

    old, new, events = load("recovery").train_then_recover(service)
    assert new.model_id != old.model_id
    assert events[-1] == "recovery.completed"
    datum = types.Datum(model_input=types.ModelInput.from_ints([1, 2, 3]), loss_fn_inputs={"target_tokens": [2, 3, 4]})
    before = old.forward([datum], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].to_numpy()
    after = new.forward([datum], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].to_numpy()
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_plugin_sees_every_request(emulator: Emulator) -> None:
    counter = load("plugin").run(emulator.base_url, "tml-examples")
    assert counter.counts["service.get_server_capabilities"] == 1, dict(counter.counts)
    assert counter.attempts >= sum(counter.counts.values()) > 1


@pytest.mark.parametrize("name", ["training_loop", "plugin"])
def test_examples_run_as_scripts(name: str) -> None:
    """``python examples/<name>.py`` works as written (its own embedded emulator)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINKER_")}
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
