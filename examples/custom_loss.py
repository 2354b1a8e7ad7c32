"""A custom loss with regularizers: cross-entropy plus an L1 penalty and an entropy bonus,
computed locally (numpy) and applied through ``forward_backward_custom``.

    python examples/custom_loss.py
"""

from __future__ import annotations

from _common import BASE_MODEL, service_client, text_datum
from tinkex import ServiceClient, types
from tinkex.regularizers import L1, Entropy, Pipeline, RegularizerSpec, cross_entropy_loss


def train_with_regularizers(service: ServiceClient, steps: int = 3) -> list[dict[str, float]]:
    """Run ``steps`` steps of the regularized loss; returns each step's metrics."""
    pipeline = Pipeline(
        cross_entropy_loss,
        [
            RegularizerSpec(fn=L1(target="probs"), weight=0.01),
            RegularizerSpec(fn=Entropy(mode="maximize"), weight=0.1),
        ],
        track_grad_norms=True,
    )
    training = service.create_lora_training_client(base_model=BASE_MODEL, rank=4)
    data = [text_datum("regularizers shape the loss"), text_datum("a custom loss runs locally")]
    history = []
    for _ in range(steps):
        out = training.forward_backward_custom(data, pipeline.loss_fn(), backend="numpy").result()
        training.optim_step(types.AdamParams(learning_rate=0.02)).result()
        history.append(dict(out.metrics))
    return history


if __name__ == "__main__":
    with service_client() as client:
        for step, metrics in enumerate(train_with_regularizers(client), 1):
            shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
            print(f"step {step}: {shown}")
