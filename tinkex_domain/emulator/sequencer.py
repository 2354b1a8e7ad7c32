"""Per-model ordering: operations run strictly in ``seq_id`` order, each exactly once.

Early arrivals are buffered until every lower seq_id has run. A resent seq_id is never run
again: the caller gets the original slot (request id, or the original 400 error). If the next
expected seq_id does not arrive within the gap timeout (measured on the injectable clock from
the moment the model became blocked), every buffered operation fails with category ``user``
and the model moves past them, so later requests are served again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import attrs

from .clock import Clock
from .errors import ApiError

log = logging.getLogger(__name__)

Schedule = Callable[[Callable[[], None]], None]


@attrs.define
class SeqSlot:
    """What a seq_id was assigned: its future's request id, or the 400 it was rejected with."""

    seq_id: int
    request_id: str | None = None
    error: ApiError | None = None


@attrs.define
class SeqOp:
    """A buffered operation: ``run`` returns True when it was applied to the model."""

    slot: SeqSlot
    run: Callable[[], bool]
    fail: Callable[[str, str], None]  # (message, category)


class ModelSequencer:
    """Buffers and applies one model's operations in seq_id order on a shared executor."""

    def __init__(self, schedule: Schedule, clock: Clock, gap_timeout_s: float) -> None:
        self._schedule = schedule
        self._clock = clock
        self._gap_timeout_s = gap_timeout_s
        self._lock = threading.Lock()
        self._next = 0
        self._buffer: dict[int, SeqOp] = {}
        self._slots: dict[int, SeqSlot] = {}
        self._received: list[int] = []
        self._applied: list[int] = []
        self._running = False
        self._blocked_since: float | None = None
        self._closed_reason: str | None = None
        self.exec_lock = threading.Lock()  # held while an operation touches the model

    def received(self) -> list[int]:
        """Training seq_ids in arrival order (resends included; creation, seq 0, excluded)."""
        with self._lock:
            return list(self._received)

    def applied(self) -> list[int]:
        """Training seq_ids in the order they were applied successfully."""
        with self._lock:
            return list(self._applied)

    def submit(self, seq_id: int, make_op: Callable[[SeqSlot], SeqOp], *, record: bool = True) -> tuple[SeqSlot, bool]:
        """Queue the op for ``seq_id`` unless that seq_id was seen; returns (slot, is_new)."""
        start = False
        with self._lock:
            if record:
                self._received.append(seq_id)
            known = self._slots.get(seq_id)
            if known is not None:
                return known, False
            if self._closed_reason is not None:
                raise ApiError(404, self._closed_reason, category="user")
            if seq_id < self._next:
                raise ApiError(409, f"seq_id {seq_id} is behind this model's sequence "
                               f"(next expected {self._next}); it was skipped after a gap timeout",
                               field="seq_id", category="user")
            slot = SeqSlot(seq_id)
            op = make_op(slot)
            self._slots[seq_id] = slot
            self._buffer[seq_id] = op
            if not self._running and self._next in self._buffer:
                self._running = start = True
            self._update_blocked_locked(progress=False)
        if start:
            self._start()
        return slot, True

    def _start(self) -> None:
        try:
            self._schedule(self._drain)
        except RuntimeError:  # executor already shut down
            self.close("the emulator is shutting down", category="server")

    def _update_blocked_locked(self, progress: bool) -> None:
        blocked = bool(self._buffer) and not self._running and self._next not in self._buffer
        if not blocked:
            self._blocked_since = None
        elif progress or self._blocked_since is None:
            self._blocked_since = self._clock()

    def _drain(self) -> None:
        while True:
            with self._lock:
                op = self._buffer.pop(self._next, None)
                if op is None:
                    self._running = False
                    self._update_blocked_locked(progress=True)
                    return
            applied = False
            try:
                with self.exec_lock:
                    applied = op.run()
            except Exception as exc:  # an op must never kill the drain loop
                log.exception("emulator operation seq_id=%s crashed", op.slot.seq_id)
                op.fail(f"internal emulator error: {exc}", "server")
            with self._lock:
                if applied and op.slot.seq_id != 0:
                    self._applied.append(op.slot.seq_id)
                self._next = op.slot.seq_id + 1

    def check_gap(self) -> None:
        """Fail buffered operations when the missing seq_id has not come within the timeout."""
        with self._lock:
            since = self._blocked_since
            if since is None or self._running or self._clock() - since < self._gap_timeout_s:
                return
            missing = self._next
            failed = [self._buffer[k] for k in sorted(self._buffer)]
            self._buffer.clear()
            self._next = failed[-1].slot.seq_id + 1
            self._blocked_since = None
        for op in failed:
            op.fail(f"seq_id {missing} never arrived within {self._gap_timeout_s:g} s; "
                    f"seq_id {op.slot.seq_id} was not applied", "user")

    def close(self, reason: str, category: str = "user") -> None:
        """Refuse new operations and fail every buffered one with ``reason``."""
        with self._lock:
            self._closed_reason = reason
            failed = list(self._buffer.values())
            self._buffer.clear()
            self._blocked_since = None
        for op in failed:
            op.fail(reason, category)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        with self._lock:
            return self._closed_reason is not None
