"""Recovery: restore a training run from its latest checkpoint into a new training client.

A :class:`~tinkex.recovery.RecoveryMonitor` does this by itself when the service marks a run
``corrupted``; here the executor is asked directly (the same path the monitor takes).

    python examples/recovery.py
"""

from __future__ import annotations

from typing import Any

from _common import BASE_MODEL, service_client, text_datum
from tinkex import ServiceClient, types
from tinkex.recovery import RecoveryExecutor, RecoveryPolicy

from pristine_runtime.scheduler import Scheduler


def train_then_recover(service: ServiceClient) -> tuple[Any, Any, list[str]]:
    """Train two steps, checkpoint, recover; returns (old client, new client, events seen)."""
    datum = text_datum("recovery keeps the weights of the last checkpoint")
    training = service.create_lora_training_client(base_model=BASE_MODEL, rank=4)
    for _ in range(2):
        training.forward_backward([datum], "cross_entropy")
        training.optim_step(types.AdamParams(learning_rate=0.01)).result()
    training.save_state("example-checkpoint").result()

    restored: list[Any] = []
    events: list[str] = []
    # A thread-less scheduler runs the attempt inline; by default the executor uses the service's
    # background scheduler and recovery completes on its workers.
    scheduler = Scheduler(background=False)
    executor = RecoveryExecutor(scheduler=scheduler, on_event=lambda name, fields: events.append(name))
    policy = RecoveryPolicy(enabled=True, on_recovery=lambda old, new, checkpoint: restored.append(new))
    executor.recover(training.model_id, service, policy)  # latest checkpoint, with optimizer state
    executor.close()
    scheduler.close()
    if not restored:
        raise RuntimeError(f"recovery did not complete: {events}")
    return training, restored[0], events


if __name__ == "__main__":
    with service_client() as client:
        old, new, seen = train_then_recover(client)
        print(f"run {old.model_id} restored as {new.model_id}; events: {', '.join(seen)}")
