"""tinker's small error and client-configuration helpers: error categories, the failed-request
payload, and ``Timeout``."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any, Union

import attrs

from pristine_core.errors import ValidationError


class RequestErrorCategory(str, enum.Enum):
    """Whose fault a failed server-side operation was; compares equal to its wire string."""

    Unknown = "unknown"
    Server = "server"
    User = "user"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class RequestFailedResponse:
    """A future that finished with an error: ``{"error": ..., "category": ...}`` on the wire."""

    error: str
    category: RequestErrorCategory = attrs.field(converter=lambda v: _category(v))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestFailedResponse:
        """Parse the wire object (an unknown category becomes ``unknown``)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("error"), str):
            problem = [("error", "a failed-request payload needs an 'error' string")]
            raise ValidationError(problem, "RequestFailedResponse")
        return cls(error=data["error"], category=data.get("category", "unknown"))


def _category(value: Any) -> RequestErrorCategory:
    try:
        return RequestErrorCategory(getattr(value, "value", value))
    except ValueError:
        return RequestErrorCategory.Unknown


def _seconds(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValidationError([(name, f"must be a positive number of seconds or None, got {value!r}")], "Timeout")
    return float(value)


@attrs.frozen
class Timeout:
    """Request timeouts in seconds, shaped like tinker's: one default plus per-phase overrides.

    Pristine bounds each attempt with one timeout: :attr:`seconds` (the ``read`` value, else the
    default) is what ``ServiceClient(timeout=...)`` hands to the client as ``timeout_s``.
    """

    timeout: float | None = attrs.field(default=None, converter=lambda v: _seconds("timeout", v))
    connect: float | None = attrs.field(default=None, kw_only=True, converter=lambda v: _seconds("connect", v))
    read: float | None = attrs.field(default=None, kw_only=True, converter=lambda v: _seconds("read", v))
    write: float | None = attrs.field(default=None, kw_only=True, converter=lambda v: _seconds("write", v))
    pool: float | None = attrs.field(default=None, kw_only=True, converter=lambda v: _seconds("pool", v))

    @property
    def seconds(self) -> float | None:
        """The per-attempt bound Pristine applies."""
        return self.read if self.read is not None else self.timeout


def timeout_seconds(value: Any) -> float | None:
    """A ``timeout`` argument (seconds, :class:`Timeout` or None) as Pristine's ``timeout_s``."""
    if isinstance(value, Timeout):
        return value.seconds
    return _seconds("timeout", value)


def _future_retrieve_response() -> Any:
    from tinkex_domain.types import (
        CreateModelResponse,
        ForwardBackwardOutput,
        LoadWeightsResponse,
        OptimStepResponse,
        SaveWeightsExternalResponse,
        SaveWeightsForSamplerResponse,
        SaveWeightsResponse,
        UnloadModelResponse,
    )

    return Union[  # noqa: UP007 - a runtime alias, as tinker's
        ForwardBackwardOutput, OptimStepResponse, SaveWeightsResponse, LoadWeightsResponse,
        SaveWeightsForSamplerResponse, SaveWeightsExternalResponse, CreateModelResponse,
        UnloadModelResponse, RequestFailedResponse,
    ]


#: What a training future can finish with: one of the operations' results, or the failure
#: payload (tinker's union also names its "try again" poll reply, which Tinkex's futures plugin
#: consumes while polling and never returns).
FutureRetrieveResponse = _future_retrieve_response()
