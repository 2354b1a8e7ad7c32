"""The official tinker SDK (0.38.0) against Tinkex, on the same emulator in one run.

Workloads (each side gets the same data and the same emulator):

- session set-up: construct the service client until its session exists (median of 15);
- training-client creation (median of 5);
- 100 pipelined rounds of forward_backward + optim_step (4 datums x 32 tokens), all submitted
  before waiting;
- 300 concurrent samples (8 tokens each), all submitted before waiting;
- 300 sequential REST calls (get_training_run).

How the measurement is kept steady (the 100-round figure once swung from 0.26 to 3.86):

- The emulator runs in a child process (``python -m tinkex_domain.emulator serve``), so the
  client under test and the server do not share one GIL: in one process every bit of client
  work stretched the server's model compute, and the fwd/bwd rounds are ~90% server compute.
- BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1`` and friends, here and in the child).
  Multi-threaded OpenBLAS on a small, shared machine made the same 200 training operations take
  anywhere from 2.6 s to 12 s of compute from one run to the next.
- Each side warms up once (connections, caches), then the sides alternate for ``--repeats``
  rounds (A B, B A, ...), with a garbage collection before every timed run.
- Printed per workload: each side's median and range (min-max), the ratio of the medians, the
  ratio of the best runs (the least disturbed by other load), and the median and range of the
  per-round ratios. Below 1: Tinkex is faster. For the training
  rounds, the emulator's own compute share of the official SDK's median run is printed too.

``--in-process`` runs the emulator in this process instead (the old set-up, for comparison).
Needs ``pip install tinker==0.38.0`` (Python >= 3.11). Run: ``python bench/official_vs_tinkex.py``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# Single-threaded BLAS (set before numpy loads; the emulator child gets it too), no SDK telemetry,
# no model hub.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TINKER_TELEMETRY", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging

import requests
import tinker
from tinker import types as ot

from tinkex_domain import ServiceClient
from tinkex_domain import types as tt

#: The child emulator's BLAS threads.
SINGLE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
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

    def train(self, rounds: int = ROUNDS) -> float:
        batch = [ot.Datum(model_input=ot.ModelInput.from_ints(t),
                          loss_fn_inputs={"target_tokens": [x + 1 for x in t], "weights": [1.0] * len(t)})
                 for t in DATA]

        def run() -> None:
            futures = []
            for _ in range(rounds):
                futures.append(self.training.forward_backward(batch, "cross_entropy"))
                futures.append(self.training.optim_step(ot.AdamParams(learning_rate=1e-3)))
            for f in futures:
                f.result()
        return timed(run)

    def sample(self, n: int = SAMPLES) -> float:
        def run() -> None:
            futures = [self.sampler.sample(ot.ModelInput.from_ints([1, 2, i % 200 + 1]), 1,
                                           ot.SamplingParams(max_tokens=8, seed=i)) for i in range(n)]
            for f in futures:
                f.result()
        return timed(run)

    def rest_calls(self, n: int = REST_CALLS) -> float:
        run_id = self.training.model_id
        return timed(lambda: [self.rest.get_training_run(run_id).result() for _ in range(n)])

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

    def train(self, rounds: int = ROUNDS) -> float:
        batch = [tt.Datum(model_input=tt.ModelInput.from_ints(t),
                          loss_fn_inputs={"target_tokens": [x + 1 for x in t], "weights": [1.0] * len(t)})
                 for t in DATA]

        def run() -> None:
            futures = []
            for _ in range(rounds):
                futures.append(self.training.forward_backward(batch, "cross_entropy"))
                futures.append(self.training.optim_step(tt.AdamParams(learning_rate=1e-3)))
            for f in futures:
                f.result(timeout=120)
        return timed(run)

    def sample(self, n: int = SAMPLES) -> float:
        def run() -> None:
            futures = [self.sampler.sample(tt.ModelInput.from_ints([1, 2, i % 200 + 1]), 1,
                                           tt.SamplingParams(max_tokens=8, seed=i)) for i in range(n)]
            for f in futures:
                f.result(timeout=120)
        return timed(run)

    def rest_calls(self, n: int = REST_CALLS) -> float:
        run_id = self.training.model_id
        return timed(lambda: [self.rest.get_training_run(run_id) for _ in range(n)])

    def close(self) -> None:
        self.service.close()


@contextmanager
def emulator(in_process: bool) -> Iterator[str]:
    """The emulator's base URL: a child process (default) or an in-process server."""
    if in_process:
        from tinkex_domain.emulator import Emulator, EmulatorConfig

        with Emulator(EmulatorConfig(long_poll_s=1.0)) as emu:
            yield emu.base_url
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "tinkex_domain.emulator", "serve", "--port", "0", "--long-poll", "1.0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **SINGLE_THREAD},
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        if "listening on " not in first:
            raise RuntimeError(f"the emulator did not start: {first!r}")
        yield first.rsplit(" ", 1)[-1].strip()
    finally:
        child.terminate()
        child.wait(timeout=30)


def compute_seconds(url: str) -> float:
    """The emulator's model compute time so far, over the training endpoints."""
    stats = requests.get(f"{url}/_emulator/stats", timeout=10).json()
    return sum(stats.get(name, {}).get("compute_seconds", 0.0) for name in ("forward_backward", "optim_step"))


def spread(values: list[float]) -> str:
    """``median (min-max)``."""
    digits = 2 if max(values) < 100 else 0
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    """Warm up, run every workload on both sides alternately, and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side and workload (default 5)")
    parser.add_argument("--in-process", action="store_true", help="run the emulator in this process")
    args = parser.parse_args()
    logging.getLogger("tinker").setLevel(logging.ERROR)  # its per-poll "try_again" warnings
    workloads: list[tuple[str, Callable[[Any], float]]] = [
        ("session set-up", lambda s: statistics.median(s.session_setup() for _ in range(15))),
        ("training-client creation", lambda s: statistics.median(s.create_client() for _ in range(5))),
        (f"{ROUNDS} pipelined fwd/bwd+optim rounds", lambda s: s.train()),
        (f"{SAMPLES} concurrent samples", lambda s: s.sample()),
        (f"{REST_CALLS} REST calls", lambda s: s.rest_calls()),
    ]
    train_label = workloads[2][0]
    runs: dict[str, dict[str, list[float]]] = {"official": {}, "tinkex": {}}
    train_compute: list[float] = []
    with emulator(args.in_process) as url:
        sides = [Official(url), Tinkex(url)]
        for side in sides:  # warm-up: connections, caches, the first model compute
            side.train(5), side.sample(20), side.rest_calls(20)
        for label, work in workloads:
            for rep in range(args.repeats):
                for side in (sides if rep % 2 == 0 else sides[::-1]):
                    gc.collect()
                    before = compute_seconds(url) if label == train_label else 0.0
                    seconds = work(side)
                    runs[side.name].setdefault(label, []).append(seconds)
                    if label == train_label and side.name == "official":
                        train_compute.append(compute_seconds(url) - before)
        for side in sides:
            side.close()
    where = "in this process" if args.in_process else "in a child process"
    print(f"emulator {where}; {args.repeats} timed runs per side and workload, sides alternating")
    print(f"{'workload':<34} {'official ms':>24} {'tinkex ms':>24}  {'median':>6} {'best':>5}  per-round ratios")
    for label, _ in workloads:
        off, tkx = runs["official"][label], runs["tinkex"][label]
        paired = [t / o for o, t in zip(off, tkx, strict=True)]
        ratio = statistics.median(tkx) / statistics.median(off)
        print(f"{label:<34} {spread([v * 1000 for v in off]):>24} {spread([v * 1000 for v in tkx]):>24}  "
              f"{ratio:6.2f} {min(tkx) / min(off):5.2f}  {spread(paired)}")
    share = statistics.median(c / t for c, t in zip(train_compute, runs["official"][train_label], strict=True))
    print(f"emulator model compute in the official SDK's training runs: {share:.0%} of their time (median)")
    total_off = sum(statistics.median(v) for v in runs["official"].values())
    total_tkx = sum(statistics.median(v) for v in runs["tinkex"].values())
    print(f"official_vs_tinkex_total_time_ratio: {total_tkx / total_off:.2f}")


if __name__ == "__main__":
    main()
