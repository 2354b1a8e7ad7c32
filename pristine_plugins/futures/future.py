"""``APIFuture``: a ``concurrent.futures.Future`` for a server-side operation, also awaitable."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class APIFuture(concurrent.futures.Future[T], Generic[T]):
    """The eventual result of a call to an endpoint declared ``future``.

    It is a real :class:`concurrent.futures.Future`: ``result(timeout)``, ``exception(timeout)``,
    ``done()``, ``add_done_callback(fn)`` and ``cancel()`` behave as documented there, and it
    works with :func:`concurrent.futures.wait` and :func:`~concurrent.futures.as_completed`.
    ``await fut`` works inside asyncio (cancelling the awaiting task cancels the future).
    :attr:`request_id` is the server's id (None for a result that came back at once).
    ``APIFuture[T]`` is generic in its result type: ``result()`` and ``await`` give a ``T``.
    """

    def __init__(self, request_id: str | None = None, endpoint: str = "") -> None:
        super().__init__()
        self.request_id = request_id
        self.endpoint = endpoint

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio  # on first await: listing or loading the plugin need not import asyncio

        return asyncio.wrap_future(self).__await__()

    async def result_async(self, timeout: float | None = None) -> T:
        """Await the result; a ``timeout`` raises ``TimeoutError`` but leaves polling running."""
        import asyncio

        wrapped = asyncio.wrap_future(self)
        if timeout is None:
            return await wrapped
        return await asyncio.wait_for(asyncio.shield(wrapped), timeout)

    def settle(self, value: Any = None, error: BaseException | None = None) -> bool:
        """Set the result (or ``error``) unless already done or cancelled; True when it was set."""
        if self.done():
            return False
        try:
            if error is not None:
                self.set_exception(error)
            else:
                self.set_result(value)
        except concurrent.futures.InvalidStateError:
            return False
        return True

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled() else "finished" if self.done() else "pending"
        return f"<APIFuture {self.endpoint or '?'} request_id={self.request_id} state={state}>"


def resolved(value: T, endpoint: str = "") -> APIFuture[T]:
    """An :class:`APIFuture` that already holds ``value``."""
    future: APIFuture[T] = APIFuture(None, endpoint)
    future.set_result(value)
    return future


class CombinedFuture(APIFuture[T]):
    """The future :func:`combine_futures` returns; :attr:`futures` are its parts, in order."""

    def __init__(self, futures: Sequence[concurrent.futures.Future[Any]], endpoint: str = "") -> None:
        super().__init__(None, endpoint)
        self.futures = tuple(futures)


def combine_futures(
    futures: Sequence[concurrent.futures.Future[Any]],
    merge_fn: Callable[[list[Any]], T],
) -> CombinedFuture[T]:
    """A future resolving to ``merge_fn([results in input order])`` once every part resolved.

    The first part to fail (or be cancelled) fails the combination with its error, and an
    exception from ``merge_fn`` fails it too. Cancelling the combination cancels its parts.
    ``merge_fn`` runs on the thread that completed the last part.
    """
    combined: CombinedFuture[T] = CombinedFuture(futures, "combined")
    parts = combined.futures
    remaining = [len(parts)]
    lock = threading.Lock()

    def merge() -> None:
        try:
            value = merge_fn([part.result() for part in parts])
        except BaseException as exc:  # delivered through the future
            combined.settle(error=exc)
            return
        combined.settle(value)

    def on_part_done(part: concurrent.futures.Future[Any]) -> None:
        if part.cancelled():
            combined.settle(error=concurrent.futures.CancelledError(f"a combined future was cancelled: {part!r}"))
            return
        error = part.exception()
        if error is not None:
            combined.settle(error=error)
            return
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            merge()

    def on_combined_done(fut: concurrent.futures.Future[Any]) -> None:
        if fut.cancelled():
            for part in parts:
                part.cancel()

    combined.add_done_callback(on_combined_done)
    if not parts:
        merge()
    for part in parts:
        part.add_done_callback(on_part_done)
    return combined
