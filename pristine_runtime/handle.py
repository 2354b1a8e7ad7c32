"""A task handed to a :class:`~pristine_runtime.scheduler.Scheduler`: what runs, when, whether it may still start."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pristine_runtime.lanes import Lane

#: What a scheduler runs: a callable without arguments (its return value is ignored).
Task = Callable[[], Any]
#: Guards every handle's state change (cancel against start); held only for a compare-and-set.
_state_lock = threading.Lock()


class Handle:
    """One scheduled task; :meth:`cancel` keeps it from starting."""

    __slots__ = ("_state", "due", "fn", "lane", "name")

    def __init__(self, fn: Task, due: float, lane: Lane, name: str = "") -> None:
        self.fn = fn
        self.due = due
        #: The lane that runs the task (the scheduler's default lane for ``scheduler.submit``).
        self.lane = lane
        self.name = name
        self._state = "pending"

    def cancel(self) -> bool:
        """Do not run the task; False when it already started (or was cancelled)."""
        with _state_lock:
            if self._state != "pending":
                return False
            self._state = "cancelled"
            return True

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` took effect (or the scheduler closed before it ran)."""
        return self._state == "cancelled"

    @property
    def started(self) -> bool:
        """True once the task began to run."""
        return self._state in ("running", "done")

    def _claim(self) -> bool:
        with _state_lock:
            if self._state != "pending":
                return False
            self._state = "running"
            return True

    def __repr__(self) -> str:
        return f"<Handle {self.name or getattr(self.fn, '__name__', 'task')} {self._state} due={self.due:.3f}>"
