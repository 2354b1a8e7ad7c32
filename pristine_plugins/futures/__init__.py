"""Pristine futures plugin: endpoints declared ``future`` return an :class:`APIFuture` at once.

The future is resolved by polling the retrieve endpoint named in ``features.futures`` on one
bounded worker pool per client. See ``README.md`` for the settings and the reply table.
"""

from concurrent.futures import TimeoutError as FutureTimeoutError  # what result(timeout) raises

from pristine_plugins.futures.background import SubmissionRefusedError, submit_in_background
from pristine_plugins.futures.budget import ResponseBudget, shared_budget
from pristine_plugins.futures.errors import (
    FutureClosedError,
    FutureDeadlineError,
    MetadataProtocolError,
    PromiseExpiredError,
)
from pristine_plugins.futures.future import APIFuture, CombinedFuture, combine_futures, resolved
from pristine_plugins.futures.plugin import FuturesPlugin
from pristine_plugins.futures.queue_state import DEFAULT_REASONS, QueueState, QueueStateLogger, QueueStateObserver
from pristine_plugins.futures.settings import FuturesSettings

__all__ = [
    "DEFAULT_REASONS",
    "APIFuture",
    "CombinedFuture",
    "FutureClosedError",
    "FutureDeadlineError",
    "FutureTimeoutError",
    "FuturesPlugin",
    "FuturesSettings",
    "MetadataProtocolError",
    "PromiseExpiredError",
    "QueueState",
    "QueueStateLogger",
    "QueueStateObserver",
    "ResponseBudget",
    "SubmissionRefusedError",
    "combine_futures",
    "resolved",
    "shared_budget",
    "submit_in_background",
]
