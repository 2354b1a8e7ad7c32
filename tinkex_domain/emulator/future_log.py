"""Completion logs behind ``retrieve_futures``: per (sampling session, clone), the order in
which its sample futures finished, addressed by an absolute cursor."""

from __future__ import annotations

import threading

import attrs

from .futures import FutureStore

CLONE_SEQ_STRIDE = 1_000_000_000  # clone k of a sampling client numbers its seq_ids from k * 1e9


@attrs.define
class _Target:
    pending: list[str] = attrs.Factory(list)
    reported: list[tuple[str, str]] = attrs.Factory(list)
    base: int = 0  # absolute cursor of reported[0]


class FutureLog:
    """Registers sample futures per target and reports them in completion order."""

    def __init__(self, futures: FutureStore) -> None:
        self._futures = futures
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, int], _Target] = {}

    def register(self, sampler_id: str, seq_id: int | None, request_id: str) -> None:
        """Remember a submitted sample (its clone follows from its ``seq_id``)."""
        clone = (seq_id or 0) // CLONE_SEQ_STRIDE
        with self._lock:
            self._targets.setdefault((sampler_id, clone), _Target()).pending.append(request_id)

    def polled(self, sampler_id: str) -> bool:
        """Whether some client already polls this sampling session's completions."""
        with self._lock:
            return any(key[0] == sampler_id for key in self._targets)

    def poll(self, sampler_id: str, clone: int, prev_cursor: int,
             timeout_s: float) -> tuple[list[tuple[str, str]], int]:
        """Completions at or after ``prev_cursor`` (waiting up to ``timeout_s`` for one) and the
        new cursor; entries before ``prev_cursor`` are acknowledged and forgotten."""
        key = (sampler_id, clone)
        with self._lock:
            target = self._targets.setdefault(key, _Target())
            drop = min(max(prev_cursor - target.base, 0), len(target.reported))
            del target.reported[:drop]
            target.base += drop
            pending = list(target.pending)
            backlog = len(target.reported) > max(prev_cursor - target.base, 0)
        finished = self._futures.wait_finished(pending, 0.0 if backlog else timeout_s)
        with self._lock:
            done = {request_id for request_id, _ in finished}
            target.pending = [r for r in target.pending if r not in done]
            target.reported.extend(finished)
            start = max(prev_cursor - target.base, 0)
            return list(target.reported[start:]), target.base + len(target.reported)
