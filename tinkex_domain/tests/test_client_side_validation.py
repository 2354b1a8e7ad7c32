"""Bad input fails client-side, naming the field, before any request reaches the (real) emulator."""

from __future__ import annotations

import math

import pytest

from pristine_core.errors import ValidationError
from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator

from .conftest import BASE_MODEL, text_datum


def _fails(field: str, make: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        make()  # type: ignore[operator]
    assert any(path.startswith(field) or field in path for path, _ in info.value.errors), info.value.errors
    return info.value


@pytest.mark.parametrize("token", [-1, 2**31, 2**70])
def test_token_ids_must_fit_int32(token: int) -> None:
    _fails("tokens[1]", lambda: types.ModelInput.from_ints([5, token]))


@pytest.mark.parametrize("seed", [-1, 2**64, 2**80])
def test_seeds_are_unsigned_64_bit(seed: int) -> None:
    _fails("seed", lambda: types.SamplingParams(seed=seed))
    _fails("seed", lambda: types.LoraConfig(rank=2, seed=seed))


def test_extreme_seeds_and_tokens_in_range_pass() -> None:
    assert types.SamplingParams(seed=2**64 - 1).seed == 2**64 - 1
    assert types.ModelInput.from_ints([0, 2**31 - 1]).length == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_weights_must_be_finite(bad: float) -> None:
    _fails(
        "loss_fn_inputs.weights",
        lambda: types.Datum(
            model_input=types.ModelInput.from_ints([1, 2]),
            loss_fn_inputs={"target_tokens": [2, 3], "weights": [1.0, bad]},
        ),
    )


@pytest.mark.parametrize("max_tokens", [0, 10**9])
def test_max_tokens_bounds(max_tokens: int) -> None:
    _fails("max_tokens", lambda: types.SamplingParams(max_tokens=max_tokens))


def test_bad_calls_never_reach_the_server(emulator: Emulator, service: ServiceClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=2)
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    before = emulator.stats()
    for name in ("../../etc", "a/b", "a\\b", "..", "", "x\x00y"):
        _fails("name", lambda name=name: training.save_state(name))
        _fails("name", lambda name=name: training.save_weights_for_sampler(name))
    _fails("prompt", lambda: sampler.sample(types.ModelInput.empty(), 1, types.SamplingParams(max_tokens=2)))
    after = emulator.stats()
    for endpoint in ("save_weights", "save_weights_for_sampler", "asample"):
        assert (after.get(endpoint) and after[endpoint].count) == (before.get(endpoint) and before[endpoint].count)
    # A good call still goes through.
    training.forward_backward([text_datum("hello")], "cross_entropy").result(timeout=60)


def test_token_ids_below_the_vocabulary_once_it_is_known(emulator: Emulator, service: ServiceClient) -> None:
    training = service.create_lora_training_client(BASE_MODEL, rank=2)
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    params = types.SamplingParams(max_tokens=2)
    big = types.ModelInput.from_ints([1, 300])
    assert training.get_tokenizer().vocab_size == 256 and sampler.get_tokenizer().vocab_size == 256
    before = emulator.stats()
    _fails("prompt.chunks[0].tokens[1]", lambda: sampler.sample(big, 1, params))
    datum = types.Datum(model_input=big, loss_fn_inputs={"target_tokens": [1, 2], "weights": [1.0, 1.0]})
    _fails("data[0].model_input.chunks[0].tokens[1]", lambda: training.forward_backward([datum], "cross_entropy"))
    after = emulator.stats()
    for endpoint in ("asample", "forward_backward"):
        assert (after.get(endpoint) and after[endpoint].count) == (before.get(endpoint) and before[endpoint].count)
