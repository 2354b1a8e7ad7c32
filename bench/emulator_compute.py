"""Compute cost of the emulator's tiny LM (no HTTP): forward_backward, forward, optim_step, sampling.

Times the model directly, medians over ``--runs`` calls after a warm-up, on a batch of
``--batch`` random byte sequences of ``--length`` tokens (default 8 x 128, LoRA rank 32, every
adapter trained). The headline is the median forward_backward time in milliseconds.

    python bench/emulator_compute.py [--runs 40] [--batch 8] [--length 128] [--rank 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from tinkex_domain.emulator.model import DatumArrays, LoraSpec, TinyLM


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--rank", type=int, default=32)
    args = parser.parse_args()

    lm = TinyLM.create("tinkex/tiny-byte-lm", LoraSpec(rank=args.rank, seed=0))
    rng = np.random.default_rng(0)
    data = [DatumArrays(rng.integers(0, 256, args.length),
                        {"target_tokens": rng.integers(0, 256, args.length),
                         "weights": np.ones(args.length, dtype=np.float32)})
            for _ in range(args.batch)]
    shape = f"{args.batch}x{args.length}"
    cfg = lm.adapter_config()
    print(f"model: d_model={cfg['d_model']} d_ff={cfg['d_ff']} window={cfg['attention_window']} "
          f"rank={args.rank} trainable={lm.num_trainable_params}")

    fwd = median_ms(lambda: lm.forward_backward(data, "cross_entropy", None, backward=False), args.runs)
    print(f"forward {shape}: {fwd:.2f} ms")
    ppo_data = [DatumArrays(d.tokens, {"target_tokens": d.loss_fn_inputs["target_tokens"],
                                       "logprobs": np.full(args.length, -5.0, dtype=np.float32),
                                       "advantages": rng.standard_normal(args.length).astype(np.float32)})
                for d in data]
    ppo = median_ms(lambda: lm.forward_backward(ppo_data, "ppo", None, backward=True), args.runs)
    print(f"forward_backward ppo {shape}: {ppo:.2f} ms")
    optim = median_ms(lambda: lm.optim_step(1e-4, 0.9, 0.95, 1e-12, 0.0, 1.0), args.runs)
    print(f"optim_step: {optim:.2f} ms")
    prompt = np.frombuffer(b"The river ", dtype=np.uint8).astype(np.int64)
    sample = median_ms(lambda: lm.sample(prompt, max_tokens=128, seed=1), max(5, args.runs // 4))
    print(f"sample 1 x 128 tokens: {sample:.1f} ms ({sample / 128:.2f} ms/token)")
    fwdbwd = median_ms(lambda: lm.forward_backward(data, "cross_entropy", None, backward=True), args.runs)
    print(f"forward_backward cross_entropy {shape}: {fwdbwd:.2f} ms")
    print(f"emulator_fwdbwd_{shape}_ms: {fwdbwd:.2f}")


if __name__ == "__main__":
    main()
