"""Sessions that recover: heartbeats dropped until the session expires, then work goes on.

A private emulator with a steppable clock: heartbeats are dropped (fault ``heartbeat_drop``) and
the emulator's clock is moved past ``session_timeout_s``, so the session really expires. The next
training and sampling calls get 404 ``session_expired``; the session plugin creates a new session
(handing over the old one's models and samplers), emits ``session.recreated`` and resends: the
user's clients keep working with the same model and sampler ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from pristine_core import hookimpl
from pristine_core.errors import NotFoundError
from pristine_core.pipeline import Event
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig

from .conftest import API_KEY, BASE_MODEL, text_datum

TIMEOUT_S = 60.0


class SteppedClock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class Recorder:
    """A plugin that records events."""

    name = "test-recorder"
    priority = 10

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        self.events.append(event)


@pytest.fixture
def stepped() -> Iterator[tuple[Emulator, SteppedClock]]:
    clock = SteppedClock()
    emu = Emulator(EmulatorConfig(long_poll_s=0.2, session_timeout_s=TIMEOUT_S, clock=clock)).start()
    try:
        yield emu, clock
    finally:
        emu.stop()


def _expire(emu: Emulator, clock: SteppedClock, session_id: str) -> None:
    emu.set_faults("seed=1;session_heartbeat:heartbeat_drop=1.0")
    clock.offset += 2 * TIMEOUT_S
    assert emu.session_expired(session_id)


def test_training_and_sampling_continue_on_a_new_session(stepped: tuple[Emulator, SteppedClock]) -> None:
    emu, clock = stepped
    recorder = Recorder()
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, plugins=[recorder],
                       config={"telemetry": False}) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2, seed=1)
        training.forward_backward([text_datum("hello there")], "cross_entropy").result(timeout=60)
        training.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=60)
        sampler = training.save_weights_and_get_sampling_client()
        params = types.SamplingParams(max_tokens=3, temperature=0.0)
        prompt = types.ModelInput.from_ints(list(b"hel"))
        first = sampler.sample(prompt, 1, params).result(timeout=60)
        old_session, model_id, sampler_id = service.session_id, training.model_id, sampler.sampling_session_id

        _expire(emu, clock, old_session)

        out = training.forward_backward([text_datum("hello there")], "cross_entropy").result(timeout=60)
        training.optim_step(types.AdamParams(learning_rate=1e-2)).result(timeout=60)
        again = sampler.sample(prompt, 1, params).result(timeout=60)
        assert out.loss_fn_outputs and again.sequences[0].tokens and first.sequences[0].tokens
        assert service.session_id != old_session and not emu.session_expired(service.session_id)
        assert (training.model_id, sampler.sampling_session_id) == (model_id, sampler_id)
        # New work is created on the new session too.
        fresh = service.create_sampling_client(base_model=BASE_MODEL)
        assert fresh.sample(prompt, 1, params).result(timeout=60).sequences
        recreated = [e for e in recorder.events if e.name == "session.recreated"]
        assert len(recreated) == 1
        assert recreated[0].fields["old_session_id"] == old_session
        assert recreated[0].fields["session_id"] == service.session_id


def test_recovery_can_be_switched_off(stepped: tuple[Emulator, SteppedClock]) -> None:
    emu, clock = stepped
    config: dict[str, Any] = {"telemetry": False, "session": {"recover": False}}
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config=config) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=2)
        _expire(emu, clock, service.session_id)
        with pytest.raises(NotFoundError, match="expired"):
            training.forward_backward([text_datum("hi there")], "cross_entropy").result(timeout=60)
