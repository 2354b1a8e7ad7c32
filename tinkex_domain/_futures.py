"""Small adapters over the futures plugin's :class:`APIFuture` used by the clients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pristine_plugins.futures import APIFuture, combine_futures, resolved

T = TypeVar("T")

__all__ = ["APIFuture", "combine", "failed", "mapped", "resolved", "run_now"]


def failed(error: BaseException, endpoint: str = "") -> APIFuture:
    """A future that already failed with ``error``."""
    future = APIFuture(None, endpoint)
    future.set_exception(error)
    return future


def mapped(future: APIFuture, fn: Callable[[Any], Any]) -> APIFuture:
    """A future of ``fn(result)``."""
    return combine_futures([future], lambda results: fn(results[0]))


def combine(futures: Sequence[APIFuture], merge: Callable[[list[Any]], Any]) -> APIFuture:
    """A future of ``merge([results in order])``; the first failure fails it."""
    return combine_futures(list(futures), merge)


def run_now(fn: Callable[[], T], endpoint: str = "") -> APIFuture:
    """Run ``fn`` now and wrap its value (or its exception) in a done future (tinker's
    synchronous methods that return futures)."""
    try:
        value = fn()
    except Exception as exc:  # delivered through the future, as tinker does
        return failed(exc, endpoint)
    return resolved(value, endpoint)
