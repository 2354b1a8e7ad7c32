"""Ordered submission of training requests: one lock and one counter per training client.

Every training request carries ``seq_id`` (1, 2, 3... per model; 0 is the model's creation)
and must reach the server in that order. A submission allocates its id and sends the request
while holding the lock; the reply is a future whose polling happens outside the lock (in the
futures plugin), so results are awaited concurrently while submissions stay strictly ordered.

:meth:`OrderedSubmitter.submit_parallel` sends a batch (the chunks of one forward/backward)
concurrently instead, as tinker 0.38 does with ``parallel_fwdbwd_chunks``: the whole seq-id range
is reserved under the lock, every request is in flight at once (the first one last), and the
lock is held until all were answered, so the next operation still reaches the server after them.
The server applies the chunks in seq-id order whatever order they arrive in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from pristine_core.errors import PristineError, ValidationError
from pristine_runtime.fanout import Outcome
from tinkex_domain._futures import APIFuture, failed

#: Builds the keyword arguments of one request from its seq id.
BodyFn = Callable[[int], dict[str, Any]]
SendFn = Callable[[dict[str, Any]], APIFuture]
#: Runs calls concurrently, the last on the calling thread; their outcomes in order
#: (``pristine_runtime.fanout.run_concurrently`` bound to the client's scheduler).
FanOut = Callable[[Sequence[Callable[[], APIFuture]]], Sequence[Outcome[APIFuture]]]


class OrderedSubmitter:
    """Allocates consecutive seq ids (starting at ``first_seq_id``) and submits in order."""

    def __init__(self, first_seq_id: int = 1) -> None:
        self._lock = threading.Lock()
        self._next = first_seq_id
        self.submitted: int = 0

    @property
    def next_seq_id(self) -> int:
        """The seq id the next submission will get."""
        with self._lock:
            return self._next

    def submit(self, send: SendFn, body: BodyFn) -> APIFuture:
        """Submit one request; see :meth:`submit_many`."""
        return self.submit_many(send, [body])[0]

    def submit_many(self, send: SendFn, bodies: Sequence[BodyFn]) -> list[APIFuture]:
        """Submit requests with consecutive seq ids, in order, under the lock.

        A :class:`ValidationError` (raised before anything is sent) consumes no seq id and
        propagates. Any other failure consumes the id (the request may have reached the
        server), fails that request's future, and stops the batch: the rest fail unsent.
        """
        futures: list[APIFuture] = []
        with self._lock:
            for index, body in enumerate(bodies):
                seq_id = self._next
                try:
                    future = send(body(seq_id))
                except ValidationError as exc:
                    if index == 0:
                        raise
                    futures.extend(failed(exc) for _ in bodies[index:])
                    break
                except PristineError as exc:
                    self._next += 1
                    futures.append(failed(exc))
                    futures.extend(failed(exc) for _ in bodies[index + 1 :])
                    break
                self._next += 1
                self.submitted += 1
                futures.append(future)
        return futures

    def submit_parallel(self, send: SendFn, bodies: Sequence[BodyFn], fan_out: FanOut) -> list[APIFuture]:
        """Submit requests with consecutive seq ids concurrently through ``fan_out``.

        When every request fails validation (nothing was sent) no seq id is consumed and the
        first error propagates. Otherwise the whole range is consumed and each failed request
        fails its own future (a validation failure there leaves a seq-id gap on the server,
        which cannot happen for chunks of one already validated batch in practice).
        """
        if len(bodies) <= 1:
            return self.submit_many(send, bodies)
        with self._lock:
            first = self._next
            calls = [(lambda body=body, seq=first + i: send(body(seq))) for i, body in enumerate(bodies)]
            outcomes = list(reversed(fan_out(list(reversed(calls)))))  # the first chunk goes last
            errors = [o.error for o in outcomes if o.error is not None]
            if len(errors) == len(outcomes) and all(isinstance(e, ValidationError) for e in errors):
                raise errors[0]
            for error in errors:
                if not isinstance(error, Exception):
                    raise error  # KeyboardInterrupt and the like
            self._next += len(bodies)
            self.submitted += sum(1 for o in outcomes if o.error is None)
            return [failed(o.error) if o.error is not None else o.get() for o in outcomes]
