"""Benchmark: HTTP round trip of forward_backward (8 datums x 128 tokens) on the emulator.

Measures, per call, the total client-side time (POST forward_backward + retrieve_future until
the result arrives) and the server's own model compute time (X-Emulator-Compute-Ms), and
reports the HTTP/futures overhead as their difference. Run: ``python bench/emulator_server.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinkex_domain.emulator import Emulator, EmulatorConfig, FaultConfig

BATCH, LENGTH, WARMUP, ROUNDS = 8, 128, 3, 20


def _datum(tokens: list[int]) -> dict[str, Any]:
    targets = tokens[1:] + tokens[:1]
    return {"model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens}]},
            "loss_fn_inputs": {"target_tokens": {"data": targets, "dtype": "int64", "shape": [len(targets)]}}}


def main() -> None:
    """Run the benchmark and print the figures; the last line is the headline."""
    rng = np.random.default_rng(0)
    data = [_datum(rng.integers(32, 127, size=LENGTH).tolist()) for _ in range(BATCH)]
    with Emulator(EmulatorConfig(faults=FaultConfig())) as emu, requests.Session() as http:
        http.trust_env = False
        http.headers["X-API-Key"] = "tml-bench"
        api = f"{emu.base_url}/api/v1"

        def wait(request_id: str) -> requests.Response:
            while True:
                r = http.post(f"{api}/retrieve_future", json={"request_id": request_id})
                if r.status_code == 200 and r.json().get("type") != "try_again":
                    return r

        sid = http.post(f"{api}/create_session", json={}).json()["session_id"]
        model = http.post(f"{api}/create_model", json={"session_id": sid, "model_seq_id": 0,
                                                       "base_model": "tinkex/tiny-byte-lm",
                                                       "lora_config": {"rank": 32}}).json()
        wait(model["request_id"])
        totals, servers = [], []
        for i in range(WARMUP + ROUNDS):
            body = {"model_id": model["model_id"], "seq_id": i + 1,
                    "forward_backward_input": {"data": data, "loss_fn": "cross_entropy", "loss_fn_config": {}}}
            start = time.perf_counter()
            rid = http.post(f"{api}/forward_backward", json=body).json()["request_id"]
            reply = wait(rid)
            total_ms = (time.perf_counter() - start) * 1000
            assert "loss_fn_outputs" in reply.json(), reply.text
            if i >= WARMUP:
                totals.append(total_ms)
                servers.append(float(reply.headers["X-Emulator-Compute-Ms"]))
    total, server = statistics.median(totals), statistics.median(servers)
    print(f"forward_backward {BATCH}x{LENGTH}, {ROUNDS} rounds (medians)")
    print(f"emulator_fwdbwd_total_ms: {total:.2f}")
    print(f"emulator_fwdbwd_overhead_ms: {total - server:.2f}  (HTTP + futures = total - server compute)")
    print(f"server_share_of_total: {server / total:.2f}")
    print(f"emulator_fwdbwd_server_ms: {server:.2f}")


if __name__ == "__main__":
    main()
