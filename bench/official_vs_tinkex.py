"""The official tinker SDK (0.38.0) against Tinkex, on the same emulator in one run.

Workloads (each side gets the same data and the same emulator):

- session set-up: construct the service client until its session exists (median of 15);
- training-client creation (median of 5);
- 100 pipelined rounds of forward_backward + optim_step (4 datums x 32 tokens), all submitted
  before waiting;
- 300 concurrent samples (8 tokens each), all submitted before waiting;
- 300 sequential REST calls (get_training_run).

Each workload runs twice per side, the order of the sides swapped, and the best time counts.
Every ratio printed is Tinkex time / official time (below 1: Tinkex is faster). Needs
``pip install tinker==0.38.0`` (Python >= 3.11). Run: ``python bench/official_vs_tinkex.py``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TINKER_TELEMETRY", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging

import tinker
from tinker import types as ot

from tinkex_domain import ServiceClient
from tinkex_domain import types as tt
from tinkex_domain.emulator import Emulator, EmulatorConfig

API_KEY = "tml-bench"
BASE = "tinkex/tiny-byte-lm"
ROUNDS, SAMPLES, REST_CALLS = 100, 300, 300
DATA = [[(11 * i + j) % 250 + 1 for j in range(32)] for i in range(4)]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Official:
    """The official SDK's side of each workload."""

    name = "official"

    def __init__(self, url: str) -> None:
        self.url = url
        self.service = tinker.ServiceClient(base_url=url, api_key=API_KEY)
        self.training = self.service.create_lora_training_client(base_model=BASE, rank=4, seed=1).result()
        self.sampler = self.service.create_sampling_client(base_model=BASE).result()
        self.rest = tinker.RestClient(base_url=url, api_key=API_KEY)

    def session_setup(self) -> float:
        start = time.perf_counter()
        service = tinker.ServiceClient(base_url=self.url, api_key=API_KEY)
        service.holder  # noqa: B018 - the first use: client/config, dynamic_config, create_session
        seconds = time.perf_counter() - start
        service.close("success").result()
        return seconds

    def create_client(self) -> float:
        return timed(lambda: self.service.create_lora_training_client(base_model=BASE, rank=4).result())

    def train(self) -> float:
        batch = [ot.Datum(model_input=ot.ModelInput.from_ints(t),
                          loss_fn_inputs={"target_tokens": [x + 1 for x in t], "weights": [1.0] * len(t)})
                 for t in DATA]

        def run() -> None:
            futures = []
            for _ in range(ROUNDS):
                futures.append(self.training.forward_backward(batch, "cross_entropy"))
                futures.append(self.training.optim_step(ot.AdamParams(learning_rate=1e-3)))
            for f in futures:
                f.result()
        return timed(run)

    def sample(self) -> float:
        def run() -> None:
            futures = [self.sampler.sample(ot.ModelInput.from_ints([1, 2, i % 200 + 1]), 1,
                                           ot.SamplingParams(max_tokens=8, seed=i)) for i in range(SAMPLES)]
            for f in futures:
                f.result()
        return timed(run)

    def rest_calls(self) -> float:
        run_id = self.training.model_id
        return timed(lambda: [self.rest.get_training_run(run_id).result() for _ in range(REST_CALLS)])

    def close(self) -> None:
        self.service.close("success").result()


class Tinkex:
    """Tinkex's side of each workload."""

    name = "tinkex"

    def __init__(self, url: str) -> None:
        self.url = url
        self.service = ServiceClient(api_key=API_KEY, base_url=url, config={"telemetry": False})
        self.training = self.service.create_lora_training_client(BASE, rank=4, seed=1)
        self.sampler = self.service.create_sampling_client(base_model=BASE)
        self.rest = self.service.create_rest_client()

    def session_setup(self) -> float:
        start = time.perf_counter()
        service = ServiceClient(api_key=API_KEY, base_url=self.url, config={"telemetry": False})
        seconds = time.perf_counter() - start
        service.close()
        return seconds

    def create_client(self) -> float:
        return timed(lambda: self.service.create_lora_training_client(BASE, rank=4))

    def train(self) -> float:
        batch = [tt.Datum(model_input=tt.ModelInput.from_ints(t),
                          loss_fn_inputs={"target_tokens": [x + 1 for x in t], "weights": [1.0] * len(t)})
                 for t in DATA]

        def run() -> None:
            futures = []
            for _ in range(ROUNDS):
                futures.append(self.training.forward_backward(batch, "cross_entropy"))
                futures.append(self.training.optim_step(tt.AdamParams(learning_rate=1e-3)))
            for f in futures:
                f.result(timeout=120)
        return timed(run)

    def sample(self) -> float:
        def run() -> None:
            futures = [self.sampler.sample(tt.ModelInput.from_ints([1, 2, i % 200 + 1]), 1,
                                           tt.SamplingParams(max_tokens=8, seed=i)) for i in range(SAMPLES)]
            for f in futures:
                f.result(timeout=120)
        return timed(run)

    def rest_calls(self) -> float:
        run_id = self.training.model_id
        return timed(lambda: [self.rest.get_training_run(run_id) for _ in range(REST_CALLS)])

    def close(self) -> None:
        self.service.close()


def main() -> None:
    """Run every workload on both sides, alternating, and print the ratios."""
    logging.getLogger("tinker").setLevel(logging.ERROR)  # its per-poll "try_again" warnings
    with Emulator(EmulatorConfig(long_poll_s=1.0)) as emu:
        sides = [Official(emu.base_url), Tinkex(emu.base_url)]
        results: dict[str, dict[str, float]] = {s.name: {} for s in sides}
        workloads: list[tuple[str, Callable[[Any], float]]] = [
            ("session set-up", lambda s: statistics.median(s.session_setup() for _ in range(15))),
            ("training-client creation", lambda s: statistics.median(s.create_client() for _ in range(5))),
            (f"{ROUNDS} pipelined fwd/bwd+optim rounds", lambda s: s.train()),
            (f"{SAMPLES} concurrent samples", lambda s: s.sample()),
            (f"{REST_CALLS} REST calls", lambda s: s.rest_calls()),
        ]
        for label, work in workloads:  # best of two, the sides' order swapped (shared machines)
            for rep in range(2):
                for side in (sides if rep == 0 else sides[::-1]):
                    seconds = work(side)
                    results[side.name][label] = min(seconds, results[side.name].get(label, seconds))
        for side in sides:
            side.close()
    print(f"{'workload':<36} {'official':>11} {'tinkex':>11}  tinkex/official")
    for label, _ in workloads:
        off, tkx = results["official"][label], results["tinkex"][label]
        print(f"{label:<36} {off * 1000:9.1f}ms {tkx * 1000:9.1f}ms  {tkx / off:6.2f}")
    total_off = sum(results["official"].values())
    total_tkx = sum(results["tinkex"].values())
    print(f"official_vs_tinkex_total_time_ratio: {total_tkx / total_off:.2f}")


if __name__ == "__main__":
    main()
