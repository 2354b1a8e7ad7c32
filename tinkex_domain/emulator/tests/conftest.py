"""Fixtures for the emulator server tests: a tiny model test double and HTTP helpers.

The double follows the model contract (the real model's value types are reused) with the smallest
real math that still makes training, Adam state and save/load observable: logits =
base[token] + bias, a trainable bias vector per model.
"""

from __future__ import annotations

import hashlib
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import requests

from tinkex_domain.emulator import Emulator, EmulatorConfig, FaultConfig
from tinkex_domain.emulator.model import (
    DatumArrays,
    ForwardResult,
    LoraSpec,
    SampledSequence,
    UserInputError,
)

KEY = "tml-test-key"
HEADERS = {"X-API-Key": KEY}
V = 256


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


class TinyLM:
    """logits[t] = base[tokens[t]] + bias (bias trainable, Adam)."""

    def __init__(self, base_model: str, lora: LoraSpec) -> None:
        seed = int.from_bytes(hashlib.sha256(base_model.encode()).digest()[:4], "big")
        self.base_model, self.lora = base_model, lora
        self.base = np.random.default_rng(seed).normal(size=(V, V)).astype(np.float32)
        self.bias = np.zeros(V, np.float32)
        self.grad = np.zeros(V, np.float32)
        self.m = np.zeros(V, np.float32)
        self.v = np.zeros(V, np.float32)
        self.step = np.zeros((), np.int64)

    @classmethod
    def create(cls, base_model: str, lora: LoraSpec) -> TinyLM:
        return cls(base_model, lora)

    def forward_backward(self, data: list[DatumArrays], loss_fn: str,
                         loss_fn_config: dict[str, float] | None, backward: bool) -> ForwardResult:
        start = time.perf_counter()
        outs, total = [], 0.0
        for i, d in enumerate(data):
            target = d.loss_fn_inputs["target_tokens"]
            if target.shape != d.tokens.shape:
                raise UserInputError(f"data[{i}].loss_fn_inputs.target_tokens: length "
                                     f"{target.size} != model_input length {d.tokens.size}")
            weights = d.loss_fn_inputs.get("weights", np.ones(target.size, np.float32))
            lp = _log_softmax(self.base[d.tokens] + self.bias)
            tlp = lp[np.arange(target.size), target].astype(np.float32)
            loss = (-tlp * weights).astype(np.float32)
            total += float(loss.sum())
            if backward:
                probs = np.exp(lp)
                probs[np.arange(target.size), target] -= 1.0
                self.grad += (probs * weights[:, None]).sum(axis=0).astype(np.float32)
            outs.append({"logprobs": tlp, "elementwise_loss": loss})
        return ForwardResult(outs, {"loss:sum": total}, time.perf_counter() - start)

    def optim_step(self, learning_rate: float, beta1: float, beta2: float, eps: float,
                   weight_decay: float, grad_clip_norm: float) -> dict[str, float]:
        self.step = self.step + 1
        t = int(self.step)
        self.m = (beta1 * self.m + (1 - beta1) * self.grad).astype(np.float32)
        self.v = (beta2 * self.v + (1 - beta2) * self.grad ** 2).astype(np.float32)
        mhat, vhat = self.m / (1 - beta1 ** t), self.v / (1 - beta2 ** t)
        self.bias = (self.bias - learning_rate * mhat / (np.sqrt(vhat) + eps)).astype(np.float32)
        norm = float(np.linalg.norm(self.grad))
        self.grad[:] = 0
        return {"grad_norm:mean": norm, "step:max": float(t)}

    def sample(self, prompt: np.ndarray, *, max_tokens: int, temperature: float = 1.0,
               top_k: int = -1, top_p: float = 1.0, stop: list[list[int]] | None = None,
               seed: int | None = None, num_samples: int = 1) -> list[SampledSequence]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(num_samples):
            tokens: list[int] = []
            lps: list[float] = []
            last, reason = int(prompt[-1]), "length"
            for _ in range(max_tokens):
                lp = _log_softmax(self.base[last] + self.bias)
                tok = int(np.argmax(lp)) if temperature == 0 else int(rng.choice(V, p=np.exp(lp)))
                tokens.append(tok)
                lps.append(float(lp[tok]))
                last = tok
                if stop and any(tokens[-len(s):] == s for s in stop):
                    reason = "stop"
                    break
            out.append(SampledSequence(tokens, lps, reason))
        return out

    def prompt_logprobs(self, prompt: np.ndarray) -> list[float | None]:
        lp = _log_softmax(self.base[prompt[:-1]] + self.bias)
        return [None] + [float(lp[i, prompt[i + 1]]) for i in range(prompt.size - 1)]

    def topk_prompt_logprobs(self, prompt: np.ndarray, k: int) -> list[list[tuple[int, float]] | None]:
        lp = _log_softmax(self.base[prompt[:-1]] + self.bias)
        rows: list[list[tuple[int, float]] | None] = [None]
        for row in lp:
            idx = np.argsort(-row)[:k]
            rows.append([(int(j), float(row[j])) for j in idx])
        return rows

    def state_dict(self, with_optimizer: bool = True) -> dict[str, np.ndarray]:
        state = {"bias": self.bias.copy()}
        if with_optimizer:
            state.update({"adam.m": self.m.copy(), "adam.v": self.v.copy(), "adam.step": self.step.copy()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], with_optimizer: bool) -> None:
        if state["bias"].shape != self.bias.shape:
            raise UserInputError("bias: shape mismatch")
        self.bias = state["bias"].copy()
        if with_optimizer:
            self.m, self.v, self.step = state["adam.m"].copy(), state["adam.v"].copy(), state["adam.step"].copy()

    def adapter_config(self) -> dict[str, Any]:
        return {"base_model": self.base_model, "rank": self.lora.rank, "vocab_size": V,
                "architecture": "test-double"}

    @property
    def num_trainable_params(self) -> int:
        return V


DOUBLE = types.SimpleNamespace(
    VOCAB_SIZE=V,
    LOSS_FUNCTIONS=("cross_entropy", "importance_sampling", "ppo", "cispo", "dro"),
    LOSS_INPUT_KEYS={"cross_entropy": (("target_tokens",), ("weights",)),
                     "importance_sampling": (("target_tokens", "logprobs", "advantages"), ()),
                     "ppo": (("target_tokens", "logprobs", "advantages"), ()),
                     "cispo": (("target_tokens", "logprobs", "advantages"), ()),
                     "dro": (("target_tokens", "logprobs", "advantages"), ())},
    LOSS_CONFIG_KEYS={"cross_entropy": {}, "importance_sampling": {},
                      "ppo": {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2},
                      "cispo": {}, "dro": {"beta": 0.1}},
    UserInputError=UserInputError, LoraSpec=LoraSpec, DatumArrays=DatumArrays, TinyLM=TinyLM,
)


class Api:
    """Plain-requests helper bound to one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update(HEADERS)

    def url(self, path: str) -> str:
        return f"{self.emu.base_url}/api/v1/{path}"

    def post(self, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.http.post(self.url(path), json=body if body is not None else {}, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url(path), **kw)

    def ok(self, path: str, body: Any = None) -> dict[str, Any]:
        r = self.post(path, body)
        assert r.status_code == 200, r.text
        return r.json()

    def result(self, request_id: str, timeout: float = 10.0) -> requests.Response:
        """Poll retrieve_future until the reply is no longer pending."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.post("retrieve_future", {"request_id": request_id})
            if r.status_code == 408 or (r.status_code == 200 and r.json().get("type") == "try_again"):
                continue
            return r
        raise AssertionError(f"future {request_id} still pending after {timeout}s")

    def done(self, request_id: str) -> dict[str, Any]:
        r = self.result(request_id)
        assert r.status_code == 200 and "error" not in r.json(), r.text
        return r.json()

    @staticmethod
    def datum(tokens: list[int], targets: list[int] | None = None) -> dict[str, Any]:
        """A cross-entropy Datum in wire form."""
        targets = targets if targets is not None else tokens[1:] + tokens[:1]
        return {"model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens}]},
                "loss_fn_inputs": {"target_tokens": {"data": targets, "dtype": "int64",
                                                     "shape": [len(targets)]}}}

    @staticmethod
    def fwdbwd(model_id: str, seq: int, data: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A forward_backward body."""
        return {"model_id": model_id, "seq_id": seq,
                "forward_backward_input": {"data": data or [Api.datum([1, 2, 3, 4])],
                                           "loss_fn": "cross_entropy", "loss_fn_config": {}}}

    @staticmethod
    def optim(model_id: str, seq: int, lr: float = 0.01) -> dict[str, Any]:
        """An optim_step body."""
        return {"model_id": model_id, "seq_id": seq, "adam_params": {"learning_rate": lr}}

    def session(self) -> str:
        """A new session id."""
        return self.ok("create_session", {"tags": ["t"], "sdk_version": "test"})["session_id"]

    def model(self, session_id: str, seq: int = 0, rank: int = 4, base: str = "base-a") -> str:
        """A created (ready) training model id."""
        out = self.ok("create_model", {"session_id": session_id, "model_seq_id": seq,
                                       "base_model": base, "lora_config": {"rank": rank}})
        self.done(out["request_id"])
        return out["model_id"]


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory of started emulators (test-double model unless given), stopped at teardown."""
    started: list[Emulator] = []

    def make(backend: Any = DOUBLE, **overrides: Any) -> Emulator:
        overrides.setdefault("long_poll_s", 0.05)
        overrides.setdefault("faults", FaultConfig())
        emu = Emulator(EmulatorConfig(**overrides), model_backend=backend).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A started emulator with default settings."""
    return make_emulator()


@pytest.fixture
def double() -> Any:
    """The model test double (a module-like namespace)."""
    return DOUBLE


@pytest.fixture
def api_for() -> Iterator[Callable[[Emulator], Api]]:
    """Api helpers for other emulators (sessions closed at teardown)."""
    made: list[Api] = []

    def make(emu: Emulator) -> Api:
        made.append(Api(emu))
        return made[-1]

    yield make
    for helper in made:
        helper.http.close()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    """An Api helper for ``emu``."""
    helper = Api(emu)
    yield helper
    helper.http.close()
