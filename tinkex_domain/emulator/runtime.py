"""Shared machinery of the services: model backend, clock, futures, stats and the executor."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .clock import Clock
from .errors import ApiError, OpFailure
from .futures import FutureStore
from .stats import StatsRecorder

log = logging.getLogger(__name__)

Job = Callable[[], dict[str, Any]]


class Runtime:
    """Runs model jobs: measures their compute time and settles their futures."""

    def __init__(self, backend: Any, clock: Clock, futures: FutureStore, stats: StatsRecorder,
                 workers: int) -> None:
        self.backend = backend
        self.clock = clock
        self.futures = futures
        self.stats = stats
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinkex-emulator-worker")

    def execute(self, request_id: str, endpoint: str, job: Job) -> bool:
        """Run ``job`` now and settle its future; True when it succeeded.

        The model's ``UserInputError`` and :class:`OpFailure`/:class:`ApiError` fail the future
        with their category (user unless stated); anything else fails it as a server error.
        """
        start = time.perf_counter()
        try:
            result = job()
        except self.backend.UserInputError as exc:
            self._fail(request_id, endpoint, str(exc), "user", start)
            return False
        except OpFailure as exc:
            self._fail(request_id, endpoint, exc.message, exc.category, start)
            return False
        except ApiError as exc:
            self._fail(request_id, endpoint, exc.message, exc.category or "user", start)
            return False
        except Exception as exc:
            log.exception("emulator %s job failed", endpoint)
            self._fail(request_id, endpoint, f"internal emulator error: {type(exc).__name__}: {exc}",
                       "server", start)
            return False
        seconds = time.perf_counter() - start
        self.stats.compute(endpoint, seconds)
        self.futures.complete(request_id, result, seconds)
        return True

    def _fail(self, request_id: str, endpoint: str, message: str, category: str, start: float) -> None:
        seconds = time.perf_counter() - start
        self.stats.compute(endpoint, seconds)
        self.futures.fail(request_id, message, category, seconds)

    def submit(self, endpoint: str, job: Job) -> str:
        """Create a future and run ``job`` for it on the executor; returns the request id."""
        request_id = self.futures.create(endpoint)
        try:
            self.executor.submit(self.execute, request_id, endpoint, job)
        except RuntimeError:
            self.futures.fail(request_id, "the emulator is shutting down", "server")
        return request_id

    def shutdown(self) -> None:
        """Finish running jobs, drop queued ones, join the worker threads."""
        self.executor.shutdown(wait=True, cancel_futures=True)
