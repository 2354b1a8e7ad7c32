"""Small typed adapters over the futures plugin's :class:`APIFuture` used by the clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from pristine_plugins.futures import APIFuture, combine_futures, resolved

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["APIFuture", "combine", "failed", "mapped", "resolved", "run_now", "typed"]


def typed(future: Any, _result_type: type[T] | Any = None) -> APIFuture[T]:
    """``future`` (an endpoint's untyped return) as an ``APIFuture[T]``; a static cast only."""
    return cast("APIFuture[T]", future)


def failed(error: BaseException, endpoint: str = "") -> APIFuture[Any]:
    """A future that already failed with ``error``."""
    future: APIFuture[Any] = APIFuture(None, endpoint)
    future.set_exception(error)
    return future


def mapped(future: APIFuture[T], fn: Callable[[T], U]) -> APIFuture[U]:
    """A future of ``fn(result)``."""
    return combine_futures([future], lambda results: fn(results[0]))


def combine(futures: Sequence[APIFuture[T]], merge: Callable[[list[T]], U]) -> APIFuture[U]:
    """A future of ``merge([results in order])``; the first failure fails it."""
    return combine_futures(list(futures), merge)


def run_now(fn: Callable[[], T], endpoint: str = "") -> APIFuture[T]:
    """Run ``fn`` now and wrap its value (or its exception) in a done future (tinker's
    synchronous methods that return futures)."""
    try:
        value = fn()
    except Exception as exc:  # delivered through the future, as tinker does
        return failed(exc, endpoint)
    return resolved(value, endpoint)
