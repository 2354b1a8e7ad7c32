"""Async sampling: many prompts in flight at once with ``sample_async`` and ``asyncio.gather``.

    python examples/async_sampling.py
"""

from __future__ import annotations

import asyncio

from _common import BASE_MODEL, service_client
from tinkex import SamplingClient, ServiceClient, types


async def sample_many(sampler: SamplingClient, prompts: list[str], max_tokens: int = 8) -> list[str]:
    """Sample every prompt concurrently; completions come back in prompt order."""
    params = types.SamplingParams(max_tokens=max_tokens, temperature=0.7, seed=1)

    async def one(prompt: str) -> str:
        reply = await sampler.sample_async(types.ModelInput.from_ints(list(prompt.encode())), 1, params)
        return bytes(reply.sequences[0].tokens).decode("utf-8", "replace")

    return await asyncio.gather(*(one(p) for p in prompts))


def run(service: ServiceClient, prompts: list[str]) -> list[str]:
    """Create a sampling client on the base model and sample ``prompts`` concurrently."""
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    return asyncio.run(sample_many(sampler, prompts))


if __name__ == "__main__":
    prompts = ["once upon", "the river", "a stitch"]
    with service_client() as client:
        for prompt, completion in zip(prompts, run(client, prompts), strict=True):
            print(f"{prompt!r} -> {completion!r}")
