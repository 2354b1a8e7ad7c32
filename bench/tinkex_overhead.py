"""Client-side overhead of Tinkex against the emulator, next to a bare-requests client.

Three measurements against one in-process emulator:

1. training rounds (forward_backward then optim_step, each awaited) with Tinkex and with a bare
   ``requests`` implementation of the same wire protocol (submit, then poll retrieve_future);
2. the same rounds pipelined with Tinkex (both futures submitted, then awaited), the way a real
   training loop runs;
3. samples from a thread pool, Tinkex only.

Overhead per call = wall time minus the emulator's own compute time (``emu.stats()``), per call.
The headline is Tinkex's per-call overhead on sequential training rounds.

    python bench/tinkex_overhead.py [--rounds 200] [--samples 1000] [--workers 16]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig

API_KEY = "tml-bench-overhead"
BASE_MODEL = "tinkex/tiny-byte-lm"
TEXT = b"The river bends past the old mill where the willows lean over the water."


def _compute(emu: Emulator, *endpoints: str) -> tuple[float, int]:
    stats = emu.stats()
    seconds = sum(stats[e].compute_seconds for e in endpoints if e in stats)
    count = sum(stats[e].compute_count for e in endpoints if e in stats)
    return seconds, count


class BareClient:
    """The Tinker JSON protocol with plain requests: what a hand-written client would do."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url + "/api/v1/"
        self.http = requests.Session()
        self.http.headers.update({"X-API-Key": API_KEY})
        session = self._post("create_session", {"tags": [], "user_metadata": {}, "sdk_version": "bench"})
        self.session_id = session["session_id"]
        created = self._result(
            self._post(
                "create_model",
                {
                    "session_id": self.session_id,
                    "model_seq_id": 0,
                    "base_model": BASE_MODEL,
                    "lora_config": {"rank": 8},
                },
            )
        )
        self.model_id = created["model_id"]
        self.seq = 0

    def _post(self, name: str, body: dict[str, Any]) -> Any:
        response = self.http.post(self.base + name, json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def _result(self, submitted: dict[str, Any]) -> Any:
        while True:
            reply = self.http.post(
                self.base + "retrieve_future", json={"request_id": submitted["request_id"]}, timeout=60
            )
            if reply.status_code == 408:
                continue
            reply.raise_for_status()
            body = reply.json()
            if body.get("type") != "try_again":
                return body

    def round(self, tokens: list[int]) -> float:
        datum = {
            "model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens[:-1]}]},
            "loss_fn_inputs": {
                "target_tokens": {"data": tokens[1:], "dtype": "int64", "shape": [len(tokens) - 1]},
                "weights": {"data": [1.0] * (len(tokens) - 1), "dtype": "float32", "shape": [len(tokens) - 1]},
            },
        }
        self.seq += 1
        fwd = self._result(
            self._post(
                "forward_backward",
                {
                    "model_id": self.model_id,
                    "seq_id": self.seq,
                    "forward_backward_input": {"data": [datum] * 4, "loss_fn": "cross_entropy"},
                },
            )
        )
        self.seq += 1
        self._result(
            self._post(
                "optim_step",
                {"model_id": self.model_id, "seq_id": self.seq, "adam_params": {"learning_rate": 1e-3}},
            )
        )
        return float(fwd["metrics"]["loss:sum"])


def _datum(tokens: list[int]) -> types.Datum:
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * (len(tokens) - 1)},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    tokens = list(TEXT)
    adam = types.AdamParams(learning_rate=1e-3)
    with Emulator(EmulatorConfig(long_poll_s=5.0)) as emu:
        bare = BareClient(emu.base_url)
        service = ServiceClient(api_key=API_KEY, base_url=emu.base_url, config={"telemetry": False})
        training = service.create_lora_training_client(BASE_MODEL, rank=8)
        data = [_datum(tokens)] * 4
        for _ in range(5):  # warm up both paths
            bare.round(tokens)
            training.forward_backward(data, "cross_entropy").result()
            training.optim_step(adam).result()

        results: dict[str, float] = {}
        for label in ("bare", "tinkex", "tinkex_pipelined"):
            emu.reset_stats()
            start = time.perf_counter()
            for _ in range(args.rounds):
                if label == "bare":
                    bare.round(tokens)
                elif label == "tinkex":
                    training.forward_backward(data, "cross_entropy").result()
                    training.optim_step(adam).result()
                else:
                    fwd = training.forward_backward(data, "cross_entropy")
                    opt = training.optim_step(adam)
                    fwd.result()
                    opt.result()
            wall = time.perf_counter() - start
            compute, _ = _compute(emu, "forward_backward", "optim_step")
            calls = 2 * args.rounds
            results[label] = (wall - compute) / calls * 1e3
            print(
                f"{label:17s} {args.rounds} rounds: {wall / args.rounds * 1e3:7.2f} ms/round, "
                f"compute {compute / args.rounds * 1e3:6.2f} ms/round, overhead {results[label]:6.2f} ms/call"
            )
        print(f"tinkex overhead / bare-requests overhead (sequential): {results['tinkex'] / results['bare']:.2f}")

        emu.reset_stats()
        sampler = training.save_weights_and_get_sampling_client("bench")
        params = types.SamplingParams(max_tokens=4, temperature=0.7)
        prompt = types.ModelInput.from_ints(tokens[:16])

        def one(_: int) -> float:
            started = time.perf_counter()
            sampler.sample(prompt, num_samples=1, sampling_params=params).result()
            return time.perf_counter() - started

        emu.reset_stats()
        with ThreadPoolExecutor(args.workers) as pool:
            latencies = list(pool.map(one, range(args.samples)))
        compute, count = _compute(emu, "asample")
        per_call_compute = compute / max(count, 1)
        mean_latency = statistics.mean(latencies)
        print(
            f"samples: {args.samples} with {args.workers} threads: mean latency {mean_latency * 1e3:.2f} ms, "
            f"compute {per_call_compute * 1e3:.2f} ms/call, "
            f"latency - compute {(mean_latency - per_call_compute) * 1e3:.2f} ms/call "
            "(includes waiting behind other samples at the emulator)"
        )
        service.close()
        bare.http.close()
    print(f"tinkex_client_overhead_ms_per_call: {results['tinkex']:.2f}")


if __name__ == "__main__":
    main()
