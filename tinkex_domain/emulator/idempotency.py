"""Replay of successful replies for resent requests carrying the same ``X-Idempotency-Key``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from .replies import JsonReply, Reply


class _Slot:
    __slots__ = ("lock", "reply")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reply: JsonReply | None = None


class IdempotencyCache:
    """Remembers the 2xx JSON reply per (endpoint, key); concurrent twins wait for the first."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._slots: OrderedDict[tuple[str, str], _Slot] = OrderedDict()

    def run(self, endpoint: str, key: str, handle: Callable[[], Reply]) -> tuple[Reply, bool]:
        """The cached reply (replayed=True) or ``handle()``'s, cached when it is a 2xx JSON."""
        with self._lock:
            slot = self._slots.get((endpoint, key))
            if slot is None:
                slot = self._slots[(endpoint, key)] = _Slot()
                while len(self._slots) > self._capacity:
                    self._slots.popitem(last=False)
            else:
                self._slots.move_to_end((endpoint, key))
        with slot.lock:
            if slot.reply is not None:
                return slot.reply, True
            reply = handle()
            if isinstance(reply, JsonReply) and 200 <= reply.status < 300:
                slot.reply = reply
            return reply, False
