"""Chaos run: training and sampling under injected faults end exactly like a clean run.

Against an in-process emulator (127.0.0.1), two identical runs: clean, then under the fault mix
(every endpoint: 10 % 5xx, 5 % 429 with ``Retry-After``, 2 % connection resets, 5 % slow replies;
``asample`` also loses 2 % of its replies after sampling). Each run trains ``--steps`` pipelined
steps (forward_backward + optim_step) on a fresh LoRA model with a fixed seed, then draws
``--samples`` seeded samples from 32 threads. Counted from the emulator's own records:

* training: lost steps (submitted seq ids never applied), duplicated steps (a seq id applied
  twice), failed steps (the client saw an error);
* sampling: failed samples (the client saw an error), lost samples (results the emulator never
  computed), duplicated computations (the emulator sampled one request more than once);
* whether the final weights (and optimizer state) equal the clean run's bit for bit, and whether
  every sample equals the clean run's.

Backoff delays are shortened by per-client config so the run takes seconds, not minutes.

    python bench/chaos.py [--steps 200] [--samples 1000]

The last line is the headline: ``chaos_lost_or_failed: 0``.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from tinkex_domain import ServiceClient, types
from tinkex_domain.emulator import Emulator, EmulatorConfig, FaultConfig

BASE_MODEL = "tinkex/tiny-byte-lm"
API_KEY = "tml-chaos-bench"
FAULT_MIX = (
    "seed=23;server_error=0.1;rate_limit=0.05,retry_after=0.01;reset=0.02;latency=0.05,delay=0.01;"
    "asample:reply_lost=0.02"
)
FAST: dict[str, Any] = {
    "telemetry": False,
    "retry": {"base_delay_s": 0.005, "max_delay_s": 0.02, "max_retries": 30},
    "pools": {"sample": {"backpressure": {"small_delay_s": 0.01, "large_delay_s": 0.01, "window_s": 0.05}}},
    "futures": {"backoff_cap_s": 0.02},
}
TEXTS = [f"chaos sample text number {i}: the quick brown fox" for i in range(13)]


def _datum(text: str) -> types.Datum:
    tokens = list(text.encode("utf-8"))
    return types.Datum(
        model_input=types.ModelInput.from_ints(tokens[:-1]),
        loss_fn_inputs={"target_tokens": tokens[1:], "weights": [1.0] * (len(tokens) - 1)},
    )


def _computed(emu: Emulator) -> int:
    stats = emu.stats().get("asample")
    return stats.compute_count if stats is not None else 0


def one_run(emu: Emulator, steps: int, samples: int, faults: str | None) -> dict[str, Any]:
    """Train and sample once; ``faults`` is active during the training steps and the samples."""
    emu.set_faults(FaultConfig())
    with ServiceClient(api_key=API_KEY, base_url=emu.base_url, config=FAST) as service:
        training = service.create_lora_training_client(BASE_MODEL, rank=4, seed=7)
        sampler = service.create_sampling_client(base_model=BASE_MODEL)
        emu.set_faults(faults)
        failed_steps = 0
        adam = types.AdamParams(learning_rate=1e-2)
        for step in range(steps):
            try:
                fb = training.forward_backward([_datum(TEXTS[step % len(TEXTS)])], "cross_entropy")
                opt = training.optim_step(adam)
                fb.result(timeout=120)
                opt.result(timeout=120)
            except Exception:
                failed_steps += 1
        emu.set_faults(FaultConfig())
        model_id = training.model_id
        applied = emu.applied_seq_ids(model_id)
        expected = set(range(1, 2 * steps + 1))
        weights = emu.model_state(model_id)

        before = _computed(emu)
        emu.set_faults(faults)

        def draw(i: int) -> list[int] | None:
            params = types.SamplingParams(max_tokens=3, temperature=1.0, seed=i)
            prompt = types.ModelInput.from_ints(list(TEXTS[i % len(TEXTS)][:12].encode()))
            try:
                return list(sampler.sample(prompt, 1, params).result(timeout=120).sequences[0].tokens)
            except Exception:
                return None

        with ThreadPoolExecutor(32) as pool:
            drawn = list(pool.map(draw, range(samples)))
        emu.set_faults(FaultConfig())
        computed = _computed(emu) - before
    failed_samples = sum(1 for d in drawn if d is None)
    return {
        "failed_steps": failed_steps,
        "lost_steps": len(expected - set(applied)),
        "duplicated_steps": len(applied) - len(set(applied)),
        "failed_samples": failed_samples,
        # A result the emulator never computed would be a lost (or mixed-up) sample.
        "lost_samples": max(0, (samples - failed_samples) - computed),
        "duplicated_samples": max(0, computed - (samples - failed_samples)),
        "weights": weights,
        "samples": drawn,
    }


def run(steps: int = 200, samples: int = 1000, faults: str = FAULT_MIX) -> dict[str, Any]:
    """A clean run and a faulty run on one emulator; the comparison and the counts."""
    emu = Emulator(EmulatorConfig(long_poll_s=0.2)).start()
    try:
        started = time.perf_counter()
        clean = one_run(emu, steps, samples, None)
        clean_s = time.perf_counter() - started
        started = time.perf_counter()
        chaotic = one_run(emu, steps, samples, faults)
        chaos_s = time.perf_counter() - started
        injected = {name: dict(s.faults) for name, s in emu.stats().items() if s.faults}
    finally:
        emu.stop()
    same_weights = clean["weights"].keys() == chaotic["weights"].keys() and all(
        np.array_equal(clean["weights"][k], chaotic["weights"][k]) for k in clean["weights"]
    )
    counts = {k: v for k, v in chaotic.items() if k not in ("weights", "samples")}
    return {
        **counts,
        "same_weights": same_weights,
        "same_samples": clean["samples"] == chaotic["samples"],
        "injected": injected,
        "clean_s": clean_s,
        "chaos_s": chaos_s,
        "lost_or_failed": sum(counts.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    out = run(args.steps, args.samples)
    total = {k: sum(v.values()) for k, v in out["injected"].items()}
    print(f"injected faults per endpoint: {total}")
    print(f"training: {args.steps} steps; lost {out['lost_steps']}, duplicated {out['duplicated_steps']}, "
          f"failed {out['failed_steps']}; final weights equal the clean run: {out['same_weights']}")
    print(f"sampling: {args.samples} samples; lost {out['lost_samples']}, duplicated {out['duplicated_samples']}, "
          f"failed {out['failed_samples']}; samples equal the clean run: {out['same_samples']}")
    print(f"time: clean {out['clean_s']:.1f} s, under faults {out['chaos_s']:.1f} s "
          f"(ratio {out['chaos_s'] / out['clean_s']:.2f}x)")
    print(f"chaos_lost_or_failed: {out['lost_or_failed']}")


if __name__ == "__main__":
    main()
