"""A training loop: forward_backward + optim_step for a few steps, then sample from the result.

    python examples/training_loop.py          # against an embedded emulator, or $TINKER_BASE_URL
"""

from __future__ import annotations

from _common import BASE_MODEL, service_client, text_datum
from tinkex import ServiceClient, types

CORPUS = [
    "the river bends past the old mill",
    "the mill wheel turns with the river",
    "an old river runs past the mill",
]


def train(service: ServiceClient, steps: int = 8, learning_rate: float = 0.05) -> list[float]:
    """Train ``steps`` steps of cross-entropy on :data:`CORPUS`; returns the loss per step."""
    training = service.create_lora_training_client(base_model=BASE_MODEL, rank=4)
    batch = [text_datum(line) for line in CORPUS]
    tokens = sum(len(d.model_input.to_ints()) for d in batch)
    losses = []
    for _ in range(steps):
        # Both calls return futures at once; submitting the next before waiting keeps the
        # service busy (requests are ordered per model).
        fwd = training.forward_backward(batch, "cross_entropy")
        optim = training.optim_step(types.AdamParams(learning_rate=learning_rate))
        losses.append(fwd.result().metrics["loss:sum"] / tokens)
        optim.result()
    sampler = training.save_weights_and_get_sampling_client("example-final")
    prompt = types.ModelInput.from_ints(list(b"the river"))
    reply = sampler.sample(prompt, 1, types.SamplingParams(max_tokens=12, temperature=0.0)).result()
    print("sample:", bytes(reply.sequences[0].tokens).decode("utf-8", "replace"))
    return losses


if __name__ == "__main__":
    with service_client() as client:
        for step, loss in enumerate(train(client), 1):
            print(f"step {step}: loss {loss:.3f}")
