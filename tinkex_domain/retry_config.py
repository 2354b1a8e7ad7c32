"""``RetryConfig``: the tinker SDK's retry settings, translated into Pristine retry overrides.

The fields keep tinker's names and defaults (``max_connections``, ``progress_timeout``,
``retry_delay_base``, ``retry_delay_max``, ``jitter_factor``, ``enable_retry_logic``) plus
``max_retries`` (tinker retries sampling without a count limit; Tinkex bounds it, default 10).
Tinkex runs no retry loop of its own: a config becomes data for the retry and pool plugins.

* Given to ``ServiceClient(retry_config=...)`` it applies to every retried call of that client
  (``config["retry"]``) and, when ``max_connections`` is not tinker's default (1000, read as
  "unset"), sizes the ``sample`` pool (concurrency and connections; the manifest says 400).
* Given to ``create_sampling_client(..., retry_config=...)`` (and the training client's
  ``create_sampling_client`` / ``save_weights_and_get_sampling_client``) it applies to that
  sampling client's submissions only (per-call ``extensions["retry"]``). ``max_connections``
  cannot differ per sampling client (the pool is the client's): a value other than the
  ServiceClient's (or tinker's default, meaning "unset") is refused with a ValidationError.

``progress_timeout`` bounds how long one submission keeps retrying (the policy's ``deadline_s``);
``enable_retry_logic=False`` sends each submission once.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from pristine_core.errors import ValidationError

#: tinker's defaults.
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_PROGRESS_TIMEOUT_S = 7200.0


def _check(instance: RetryConfig) -> None:
    problems: list[tuple[str, str]] = []

    def number(name: str, value: Any, minimum: float, positive: bool = False) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or value < minimum or (positive and value <= 0):
            problems.append((name, f"expected a finite number {'>' if positive else '>='} {minimum:g}"))

    for name in ("max_connections", "max_retries"):
        value = getattr(instance, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "max_connections" else 0):
            problems.append((name, f"expected an integer >= {1 if name == 'max_connections' else 0}"))
    number("progress_timeout", instance.progress_timeout, 0, positive=True)
    number("retry_delay_base", instance.retry_delay_base, 0)
    number("retry_delay_max", instance.retry_delay_max, 0)
    number("jitter_factor", instance.jitter_factor, 0)
    if not problems and instance.jitter_factor > 1:
        problems.append(("jitter_factor", "expected a number between 0 and 1"))
    if not problems and instance.retry_delay_max < instance.retry_delay_base:
        problems.append(("retry_delay_max", "must be >= retry_delay_base"))
    if not isinstance(instance.enable_retry_logic, bool):
        problems.append(("enable_retry_logic", "expected true or false"))
    if problems:
        raise ValidationError(problems, "RetryConfig")


@attrs.frozen
class RetryConfig:
    """Retry settings for sampling (and, on a ServiceClient, every retried call)."""

    max_connections: int = DEFAULT_MAX_CONNECTIONS
    progress_timeout: float = DEFAULT_PROGRESS_TIMEOUT_S
    retry_delay_base: float = 0.5
    retry_delay_max: float = 10.0
    jitter_factor: float = 0.25
    enable_retry_logic: bool = True
    max_retries: int = 10

    def __attrs_post_init__(self) -> None:
        _check(self)

    def retry_overrides(self) -> dict[str, Any]:
        """The retry plugin's override mapping (``config["retry"]`` / ``extensions["retry"]``)."""
        if not self.enable_retry_logic:
            return {"enabled": False}
        return {
            "max_retries": self.max_retries,
            "base_delay_s": float(self.retry_delay_base),
            "max_delay_s": float(self.retry_delay_max),
            "jitter": float(self.jitter_factor),
            "deadline_s": float(self.progress_timeout),
        }

    def pool_overrides(self) -> dict[str, Any]:
        """The pool plugin's overrides for the sampling pool."""
        return {"connections": self.max_connections, "concurrency": self.max_connections}


def as_retry_config(value: Any, where: str = "retry_config") -> RetryConfig | None:
    """``value`` as a :class:`RetryConfig` (None stays None; a mapping is converted)."""
    if value is None or isinstance(value, RetryConfig):
        return value
    if isinstance(value, dict):
        unknown = sorted(set(value) - {f.name for f in attrs.fields(RetryConfig)})
        if unknown:
            raise ValidationError([(f"{where}.{k}", "unknown field") for k in unknown], "RetryConfig")
        return RetryConfig(**value)
    raise ValidationError([(where, f"expected a RetryConfig, got {type(value).__name__}")], "RetryConfig")
