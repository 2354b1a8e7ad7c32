"""Per-call cost of the Tinkex client against an in-process emulator: wall, compute, overhead.

Three workloads on one emulator (same process, 127.0.0.1):

1. training rounds, pipelined like a real loop: submit forward_backward, submit optim_step, then
   wait for both;
2. samples one at a time (no queueing anywhere: the clean per-sample figure);
3. samples from a thread pool (the 1,000-sample load; latency includes waiting behind other
   samples at the emulator's model workers).

For every call the emulator's own model compute comes from the ``X-Emulator-Compute-Ms`` header of
the completed ``retrieve_future`` reply, read by a small observer plugin registered in the client
(cross-checked against ``emu.stats()``). Overhead per call = wall time - compute. It covers
everything that is not model compute: the client (Pristine pipeline, plugins, futures polling),
HTTP on loopback and the emulator's request handling, which shares this process and its GIL. A
bare ``requests`` round trip to the emulator is measured as the floor per HTTP request.

The headline is the pipelined training rounds' overhead per call ((round wall - compute) / 2).

    python bench/tinkex_client.py [--rounds 200] [--samples 1000] [--threads 16]
        [--sequential-samples 200] [--max-tokens 4]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from pristine_core import Middleware, hookimpl
from pristine_core.pipeline import CallNext, Request, Response
from tinkex_domain import SamplingClient, ServiceClient, TrainingClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig

API_KEY = "tml-bench-client"
BASE_MODEL = "tinkex/tiny-byte-lm"
COMPUTE_HEADER = "X-Emulator-Compute-Ms"
RETRIEVE = "futures.retrieve_future"
TEXT = b"A slow barge drifts under the stone bridge while gulls argue over the harbour wall."
WARMUP = 5
WORKERS = 4  # emulator model worker threads


class ComputeProbe:
    """Reads the emulator's compute time off completed ``retrieve_future`` replies."""

    name = "compute_probe"
    priority = 100  # innermost: sees exactly what came back

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_request: dict[str, float] = {}
        self.total_ms = 0.0

    @hookimpl
    def pristine_dispatch_middleware(self, client: Any) -> Middleware:
        """The observing middleware."""
        return Middleware(self.name, self.priority, self._handle)

    def _handle(self, request: Request, call_next: CallNext) -> Response:
        response = call_next(request)
        call = request.call
        value = response.headers.get(COMPUTE_HEADER)
        if value is not None and call is not None and call.endpoint.qualified_name == RETRIEVE:
            body = call.wire_body if isinstance(call.wire_body, dict) else {}
            with self._lock:
                self.by_request[str(body.get("request_id"))] = float(value)
                self.total_ms += float(value)
        return response

    def total(self) -> float:
        """Compute milliseconds reported so far."""
        with self._lock:
            return self.total_ms

    def of(self, request_id: str | None) -> float:
        """The compute milliseconds of one future."""
        with self._lock:
            return self.by_request[str(request_id)]


class Row:
    """Per-call figures of one workload (milliseconds)."""

    def __init__(self, label: str, walls: Sequence[float], computes: Sequence[float], http_per_call: float) -> None:
        self.label = label
        self.calls = len(walls)
        self.wall = statistics.fmean(walls)
        self.compute = statistics.fmean(computes)
        self.overheads = [w - c for w, c in zip(walls, computes, strict=True)]
        self.overhead = statistics.fmean(self.overheads)
        self.http_per_call = http_per_call

    def line(self) -> str:
        """One formatted report line."""
        median = statistics.median(self.overheads)
        p90 = _quantile(self.overheads, 0.9)
        return (
            f"{self.label:26s} {self.calls:5d} calls  wall {self.wall:7.2f}  compute {self.compute:6.2f}  "
            f"overhead {self.overhead:6.2f} (p50 {median:6.2f}, p90 {p90:6.2f})  "
            f"overhead/wall {self.overhead / self.wall:5.1%}  http/call {self.http_per_call:4.2f}"
        )


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _http_requests(emu: Emulator, *endpoints: str) -> int:
    stats = emu.stats()
    return sum(stats[name].count for name in endpoints if name in stats)


def _datum(tokens: list[int]) -> types.Datum:
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * (len(tokens) - 1)},
    )


def bench_training(emu: Emulator, training: TrainingClient, probe: ComputeProbe, rounds: int) -> Row:
    """Pipelined rounds: both futures submitted, then both awaited; per call = per round / 2."""
    data = [_datum(list(TEXT))] * 4
    adam = types.AdamParams(learning_rate=1e-3)

    def one_round() -> float:
        started = time.perf_counter()
        fwd = training.forward_backward(data, "cross_entropy")
        opt = training.optim_step(adam)
        fwd.result()
        opt.result()
        return time.perf_counter() - started

    for _ in range(WARMUP):
        one_round()
    endpoints = ("forward_backward", "optim_step", "retrieve_future")
    emu.reset_stats()
    walls, computes = [], []
    for _ in range(rounds):
        before = probe.total()
        wall = one_round()
        walls += [wall * 1e3 / 2] * 2
        computes += [(probe.total() - before) / 2] * 2
    stats = emu.stats()
    server = sum(stats[e].compute_seconds for e in ("forward_backward", "optim_step") if e in stats) * 1e3
    header = sum(computes)
    print(f"training compute cross-check: headers {header:.1f} ms, emu.stats() {server:.1f} ms")
    return Row("training rounds, pipelined", walls, computes, _http_requests(emu, *endpoints) / (2 * rounds))


def _sample_once(sampler: SamplingClient, probe: ComputeProbe, i: int, max_tokens: int) -> tuple[float, float]:
    prompt = types.ModelInput.from_ints(list(TEXT[: 12 + i % 20]))
    params = types.SamplingParams(max_tokens=max_tokens, temperature=0.8, seed=i)
    started = time.perf_counter()
    future = sampler.sample(prompt, 1, params)
    future.result()
    wall = (time.perf_counter() - started) * 1e3
    return wall, probe.of(future.request_id)


def bench_samples(
    emu: Emulator, sampler: SamplingClient, probe: ComputeProbe, count: int, threads: int, max_tokens: int
) -> tuple[Row, float]:
    """``count`` samples on ``threads`` threads; also returns the batch's wall seconds."""
    for i in range(WARMUP):
        _sample_once(sampler, probe, i, max_tokens)
    emu.reset_stats()
    started = time.perf_counter()
    if threads <= 1:
        pairs = [_sample_once(sampler, probe, i, max_tokens) for i in range(count)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            pairs = list(pool.map(lambda i: _sample_once(sampler, probe, i, max_tokens), range(count)))
    batch_s = time.perf_counter() - started
    label = "samples, sequential" if threads <= 1 else f"samples, {threads} threads"
    stats = emu.stats().get("asample")
    server = stats.compute_seconds * 1e3 if stats is not None else 0.0
    print(f"{label} compute cross-check: headers {sum(c for _, c in pairs):.1f} ms, emu.stats() {server:.1f} ms")
    http = _http_requests(emu, "asample", "retrieve_future") / count
    return Row(label, [w for w, _ in pairs], [c for _, c in pairs], http), batch_s


def bare_floor_ms(base_url: str, count: int = 300) -> float:
    """Median round trip of a bare ``requests`` GET to the emulator (no model work)."""
    with requests.Session() as http:
        http.headers["X-API-Key"] = API_KEY
        url = base_url + "/api/v1/healthz"
        times = []
        for _ in range(count):
            started = time.perf_counter()
            http.get(url, timeout=30).raise_for_status()
            times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def main() -> None:
    """Run the three workloads and print per-call figures and the headline."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="training rounds (2 calls each)")
    parser.add_argument("--samples", type=int, default=1000, help="samples from the thread pool")
    parser.add_argument("--threads", type=int, default=16, help="threads for the concurrent samples")
    parser.add_argument("--sequential-samples", type=int, default=200, help="samples one at a time")
    parser.add_argument("--max-tokens", type=int, default=4)
    args = parser.parse_args()

    probe = ComputeProbe()
    started = time.perf_counter()
    with Emulator(EmulatorConfig(long_poll_s=5.0, workers=WORKERS)) as emu:
        floor = bare_floor_ms(emu.base_url)
        service = ServiceClient(
            api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False}, plugins=[probe]
        )
        try:
            training = service.create_lora_training_client(BASE_MODEL, rank=8)
            train = bench_training(emu, training, probe, args.rounds)
            sampler = service.create_sampling_client(base_model=BASE_MODEL)
            sequential, _ = bench_samples(emu, sampler, probe, args.sequential_samples, 1, args.max_tokens)
            concurrent, batch_s = bench_samples(emu, sampler, probe, args.samples, args.threads, args.max_tokens)
        finally:
            service.close()

    print(f"bare requests round trip to the emulator (floor per HTTP request): {floor:.2f} ms")
    print("per call, milliseconds (overhead = wall - emulator compute):")
    for row in (train, sequential, concurrent):
        print("  " + row.line())
    for row in (train, sequential):
        beyond = row.overhead - row.http_per_call * floor
        print(
            f"  {row.label}: overhead beyond {row.http_per_call:.2f} bare round trips "
            f"{beyond:.2f} ms/call ({beyond / row.wall:.1%} of wall)"
        )
    busy = concurrent.compute * concurrent.calls / (batch_s * 1e3 * WORKERS)
    print(
        f"  samples, {args.threads} threads: {args.samples} in {batch_s:.2f} s = "
        f"{batch_s * 1e3 / args.samples:.2f} ms/sample amortized; the {WORKERS} model workers were busy "
        f"{busy:.0%} of it (compute per sample grows under contention: 2 cores, one process); "
        "latency - compute includes queueing behind other samples"
    )
    print(f"total bench time {time.perf_counter() - started:.1f} s")
    print("headline: pipelined training rounds, (round wall - emulator compute) / 2 calls")
    print(f"tinkex_pipelined_overhead_ms_per_call: {train.overhead:.2f}")


if __name__ == "__main__":
    main()
