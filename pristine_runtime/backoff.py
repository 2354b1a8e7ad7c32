"""Back-off delays and the server's ``Retry-After``: the one implementation every plugin uses.

* :func:`exponential`: ``min(base * factor**attempt, cap)``, reduced by a random fraction of up
  to ``jitter`` (the random source is injectable, so tests are deterministic);
* :func:`retry_after_s`: the delay a server asks for, from ``retry-after-ms`` (milliseconds) or
  ``Retry-After`` (seconds or an HTTP date), never negative (a date in the past means "now")
  and, when ``cap_s`` is given, never above it;
* :func:`seconds_from_ms`: a millisecond value from a JSON body (``retry_after_ms``), clamped
  the same way.

Retry (``pristine_plugins.retry``), pool back-pressure (``pristine_plugins.pool``), future
polling (``pristine_plugins.futures``) and Tinkex recovery all compute their delays here.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
from collections.abc import Mapping
from typing import Any

#: Exponents beyond this cannot change a capped delay and would overflow a float.
_MAX_EXPONENT = 62


def exponential(
    attempt: int,
    base_s: float,
    cap_s: float,
    *,
    factor: float = 2.0,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """``min(base_s * factor**attempt, cap_s)``, then reduced by up to ``jitter`` (0..1) of itself.

    ``attempt`` counts from 0 (the first back-off waits ``base_s``). With ``jitter`` > 0 the
    reduction is ``jitter * rng.random()`` of the delay; pass a seeded ``rng`` for repeatable
    delays (default: the module's shared generator). The result is never negative.
    """
    exponent = min(max(int(attempt), 0), _MAX_EXPONENT)
    delay = min(max(base_s, 0.0) * (factor**exponent), max(cap_s, 0.0))
    if jitter > 0:
        draw = (rng or random).random()
        delay *= 1.0 - min(jitter, 1.0) * draw
    return max(delay, 0.0)


def clamp(delay_s: float, cap_s: float | None = None) -> float:
    """``delay_s`` limited to ``[0, cap_s]`` (no upper limit when ``cap_s`` is None)."""
    delay = max(delay_s, 0.0)
    return delay if cap_s is None else min(delay, max(cap_s, 0.0))


def seconds_from_ms(value: Any, cap_s: float | None = None) -> float | None:
    """A millisecond count (a number, or a numeric string) as clamped seconds; None if not one."""
    if isinstance(value, bool):
        return None
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(millis):
        return None
    return clamp(millis / 1000.0, cap_s)


def _http_date(text: str, now_wall: float) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" or no zone: HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp() - now_wall


def retry_after_s(headers: Mapping[str, str], now_wall: float, cap_s: float | None = None) -> float | None:
    """The delay the server asks for, clamped to ``[0, cap_s]``; None when it asks for none.

    ``retry-after-ms`` wins when it holds a non-negative number; else ``Retry-After`` as seconds
    (a negative or non-finite number is malformed: None) or as an HTTP date, compared with
    ``now_wall`` (epoch seconds; a past date gives 0). Header names are case-insensitive.
    """
    lowered = {str(k).lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return clamp(value / 1000.0, cap_s)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    text = str(raw).strip()
    try:
        value = float(text)
    except ValueError:
        date_delay = _http_date(text, now_wall)
        return None if date_delay is None else clamp(date_delay, cap_s)
    return clamp(value, cap_s) if math.isfinite(value) and value >= 0 else None
