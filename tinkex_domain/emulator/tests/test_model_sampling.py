"""Sampling: greedy, temperature, top-k, top-p, stops, seeds, logprobs and prompt logprobs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tinkex_domain.emulator.model import DatumArrays, Dims, LoraSpec, TinyLM, UserInputError

PROMPT = np.array(list(b"The river "), dtype=np.int64)


@pytest.fixture(scope="module")
def lm() -> TinyLM:
    model = TinyLM.create("sampling-model", LoraSpec(rank=4, seed=0))
    rng = np.random.default_rng(0)  # a non-trivial adapter, so sampling sees LoRA weights too
    model.load_state_dict({k: rng.standard_normal(v.shape).astype(np.float32) * 0.05
                           for k, v in model.state_dict(False).items()}, with_optimizer=False)
    return model


def step_logprobs(lm: TinyLM, prompt: np.ndarray, tokens: list[int]) -> np.ndarray:
    """(len(tokens), V) next-token log-probabilities at each generated position, via forward."""
    seq = np.concatenate([prompt, np.array(tokens[:-1], dtype=np.int64)])
    table = lm.network().forward(seq[None, :]).logprobs[0]
    return table[prompt.size - 1:]


def test_greedy_is_argmax_of_forward(lm: TinyLM) -> None:
    seq = lm.sample(PROMPT, max_tokens=24, temperature=0.0)[0]
    assert len(seq.tokens) == 24 and seq.stop_reason == "length"
    table = step_logprobs(lm, PROMPT, seq.tokens)
    assert seq.tokens == np.argmax(table, axis=-1).tolist()
    np.testing.assert_allclose(seq.logprobs, table.max(axis=-1), rtol=1e-4, atol=1e-5)


def test_sampled_logprobs_equal_forward_logprobs(lm: TinyLM) -> None:
    for seq in lm.sample(PROMPT, max_tokens=30, seed=11, num_samples=3):
        table = step_logprobs(lm, PROMPT, seq.tokens)
        want = table[np.arange(len(seq.tokens)), seq.tokens]
        np.testing.assert_allclose(seq.logprobs, want, rtol=1e-4, atol=1e-5)


def test_long_prompt_and_generation_beyond_window() -> None:
    """Decoding past the attention window (ring cache) agrees with the blocked forward pass."""
    model = TinyLM.create("window-model", LoraSpec(rank=2, seed=0), dims=Dims(window=8), dtype=np.float64)
    prompt = np.random.default_rng(1).integers(0, 256, 21)
    seq = model.sample(prompt, max_tokens=20, seed=2)[0]
    table = step_logprobs(model, prompt, seq.tokens)
    np.testing.assert_allclose(seq.logprobs, table[np.arange(20), seq.tokens], rtol=1e-10)


def test_same_seed_same_tokens_other_seed_differs(lm: TinyLM) -> None:
    a = lm.sample(PROMPT, max_tokens=40, seed=123, num_samples=2)
    b = lm.sample(PROMPT, max_tokens=40, seed=123, num_samples=2)
    c = lm.sample(PROMPT, max_tokens=40, seed=124, num_samples=2)
    assert [s.tokens for s in a] == [s.tokens for s in b]
    assert [s.tokens for s in a] != [s.tokens for s in c]
    assert a[0].tokens != a[1].tokens  # samples of one request differ
    unseeded = {tuple(lm.sample(PROMPT, max_tokens=40)[0].tokens) for _ in range(3)}
    assert len(unseeded) > 1


def test_same_seed_same_tokens_across_processes(lm: TinyLM) -> None:
    code = (
        "import json, numpy as np\n"
        "from tinkex_domain.emulator.model import LoraSpec, TinyLM\n"
        "m = TinyLM.create('seed-model', LoraSpec(rank=3))\n"
        "s = m.sample(np.array(list(b'Rain '), dtype=np.int64), max_tokens=25, seed=-7, num_samples=2,"
        " top_k=50, top_p=0.9, temperature=0.8)\n"
        "print(json.dumps([x.tokens for x in s]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    here = TinyLM.create("seed-model", LoraSpec(rank=3)).sample(
        np.array(list(b"Rain "), dtype=np.int64), max_tokens=25, seed=-7, num_samples=2,
        top_k=50, top_p=0.9, temperature=0.8)
    assert json.loads(out.stdout) == [x.tokens for x in here]


def test_top_k_one_and_tiny_top_p_are_greedy(lm: TinyLM) -> None:
    greedy = lm.sample(PROMPT, max_tokens=16, temperature=0)[0].tokens
    assert lm.sample(PROMPT, max_tokens=16, top_k=1, seed=3)[0].tokens == greedy
    assert lm.sample(PROMPT, max_tokens=16, top_p=1e-6, seed=3)[0].tokens == greedy


def test_top_k_and_top_p_restrict_the_choice(lm: TinyLM) -> None:
    for seq in lm.sample(PROMPT, max_tokens=30, top_k=5, temperature=2.0, seed=5, num_samples=4):
        table = step_logprobs(lm, PROMPT, seq.tokens)
        for row, tok in zip(table, seq.tokens, strict=True):
            assert tok in np.argsort(-row)[:5]
    for seq in lm.sample(PROMPT, max_tokens=30, top_p=0.5, seed=6, num_samples=4):
        table = step_logprobs(lm, PROMPT, seq.tokens)
        for row, tok in zip(table, seq.tokens, strict=True):
            probs = np.exp(row.astype(np.float64))
            more_likely = probs[probs > probs[tok]].sum()
            assert more_likely < 0.5 + 1e-6  # the token is inside the nucleus


def test_temperature_sharpens(lm: TinyLM) -> None:
    def mean_lp(temperature: float) -> float:
        seqs = lm.sample(PROMPT, max_tokens=40, temperature=temperature, seed=8, num_samples=8)
        return float(np.mean([lp for s in seqs for lp in s.logprobs]))
    assert mean_lp(0.3) > mean_lp(1.0) > mean_lp(3.0)


def test_stop_sequences(lm: TinyLM) -> None:
    free = lm.sample(PROMPT, max_tokens=30, temperature=0)[0].tokens
    stop = free[6:8]
    first_end = next(i + 2 for i in range(len(free) - 1) if free[i:i + 2] == stop)
    seq = lm.sample(PROMPT, max_tokens=30, temperature=0, stop=[[255, 254, 253], stop])[0]
    assert seq.stop_reason == "stop"
    assert seq.tokens == free[:first_end]  # the matched stop sequence is included
    assert len(seq.logprobs) == len(seq.tokens)
    single = lm.sample(PROMPT, max_tokens=30, temperature=0, stop=[[free[3]]])[0]
    assert single.tokens == free[:free.index(free[3]) + 1] and single.stop_reason == "stop"
    never = [t for t in range(256) if t not in free][:1]
    assert lm.sample(PROMPT, max_tokens=30, temperature=0, stop=[never])[0].stop_reason == "length"


def test_stops_apply_per_sample(lm: TinyLM) -> None:
    seqs = lm.sample(PROMPT, max_tokens=60, seed=9, num_samples=6, stop=[[ord("e")]], temperature=1.5)
    for s in seqs:
        if s.stop_reason == "stop":
            assert s.tokens[-1] == ord("e") and ord("e") not in s.tokens[:-1]
        else:
            assert len(s.tokens) == 60 and ord("e") not in s.tokens
    assert len({len(s.tokens) for s in seqs}) > 1


def test_num_samples_and_zero_tokens(lm: TinyLM) -> None:
    assert len(lm.sample(PROMPT, max_tokens=3, num_samples=5, seed=1)) == 5
    empty = lm.sample(PROMPT, max_tokens=0)[0]
    assert empty.tokens == [] and empty.stop_reason == "length"


def test_prompt_logprobs(lm: TinyLM) -> None:
    plp = lm.prompt_logprobs(PROMPT)
    assert len(plp) == PROMPT.size and plp[0] is None
    res = lm.forward_backward([DatumArrays(PROMPT[:-1], {"target_tokens": PROMPT[1:]})], "cross_entropy", None, False)
    np.testing.assert_allclose(np.array(plp[1:], dtype=float), res.loss_fn_outputs[0]["logprobs"], rtol=1e-5)
    assert lm.prompt_logprobs(PROMPT[:1]) == [None]


def test_topk_prompt_logprobs(lm: TinyLM) -> None:
    rows = lm.topk_prompt_logprobs(PROMPT, 4)
    plp = lm.prompt_logprobs(PROMPT)
    assert len(rows) == PROMPT.size and rows[0] is None
    for row, actual in zip(rows[1:], plp[1:], strict=True):
        assert row is not None and len(row) == 4
        values = [lp for _, lp in row]
        assert values == sorted(values, reverse=True)
        assert actual is not None and actual <= values[0] + 1e-6
        assert sum(np.exp(values)) <= 1 + 1e-5
    full = lm.topk_prompt_logprobs(PROMPT[:2], 256)[1]
    assert full is not None and sorted(t for t, _ in full) == list(range(256))


@pytest.mark.parametrize(("call", "field"), [
    (lambda m: m.sample(np.array([65, 256]), max_tokens=3), "prompt"),
    (lambda m: m.sample(np.array([-1]), max_tokens=3), "prompt"),
    (lambda m: m.sample(np.zeros(0, dtype=np.int64), max_tokens=3), "prompt"),
    (lambda m: m.sample(PROMPT, max_tokens=3, stop=[[300]]), "sampling_params.stop[0]"),
    (lambda m: m.sample(PROMPT, max_tokens=3, stop=[[]]), "sampling_params.stop[0]"),
    (lambda m: m.sample(PROMPT, max_tokens=3, top_k=0), "sampling_params.top_k"),
    (lambda m: m.sample(PROMPT, max_tokens=3, top_p=0.0), "sampling_params.top_p"),
    (lambda m: m.sample(PROMPT, max_tokens=3, temperature=-1.0), "sampling_params.temperature"),
    (lambda m: m.sample(PROMPT, max_tokens=3, num_samples=0), "num_samples"),
    (lambda m: m.prompt_logprobs(np.array([1, 999])), "prompt"),
    (lambda m: m.topk_prompt_logprobs(np.array([1, 2]), 0), "topk_prompt_logprobs"),
])
def test_bad_sampling_input(lm: TinyLM, call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UserInputError) as info:
        call(lm)
    assert str(info.value).startswith(field)
