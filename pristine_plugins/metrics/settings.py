"""The metrics plugin's settings: the manifest's ``features.metrics`` block, then the client's
``config={"metrics": {...}}`` on top. Unknown keys and bad values are errors naming their path.

Keys (all optional)::

    enabled            bool        record at all (true)
    buckets_ms         list[num]   histogram bucket upper bounds, strictly increasing
                                   (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
    max_samples        int         samples kept per histogram for percentiles (1000)
    report_interval_s  num | null  log a summary this often from a background thread (null: never)
    report_level       str         log level of the summaries: debug/info/warning (info)
    report_to          str         ``log`` (the library logger) or ``stderr`` (one console line
                                   per endpoint) ("log")
    ignore_endpoints   list[str]   ``resource.endpoint`` names not recorded ([])

``config={"metrics": False}`` switches the plugin off for one client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import ValidationError
from pristine_plugins.metrics.histogram import DEFAULT_BUCKETS_MS

_LEVELS = ("debug", "info", "warning")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@attrs.frozen
class MetricsSettings:
    """Validated metrics settings (see the module docstring for the keys)."""

    enabled: bool = True
    buckets_ms: tuple[float, ...] = DEFAULT_BUCKETS_MS
    max_samples: int = 1000
    report_interval_s: float | None = None
    report_level: str = "info"
    report_to: str = "log"
    ignore_endpoints: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, block: Mapping[str, Any] | None, overrides: Any = None, at: str = "features.metrics"
    ) -> MetricsSettings:
        """Merge the manifest ``block`` with the client's ``overrides`` and validate both."""
        problems = problems_of(block or {}, at)
        if overrides is False or overrides is True:
            overrides = {"enabled": overrides}
        if overrides is not None and not isinstance(overrides, Mapping):
            problems.append(("config.metrics", "expected an object or a boolean"))
            overrides = {}
        problems += problems_of(overrides or {}, "config.metrics")
        if problems:
            raise ValidationError(problems, "metrics settings")
        merged = {**(block or {}), **(overrides or {})}
        for key in ("buckets_ms", "ignore_endpoints"):
            if key in merged:
                merged[key] = tuple(merged[key])
        return cls(**merged)


_KNOWN = frozenset(a.name for a in attrs.fields(MetricsSettings))


def problems_of(block: Any, at: str) -> list[tuple[str, str]]:
    """Every problem of a settings mapping as ``(json_path, message)`` pairs."""
    if not isinstance(block, Mapping):
        return [(at, "expected an object")]
    problems: list[tuple[str, str]] = []
    for key, value in block.items():
        path = f"{at}.{key}"
        if key not in _KNOWN:
            problems.append((path, "unknown key"))
        elif key == "enabled" and not isinstance(value, bool):
            problems.append((path, "expected a boolean"))
        elif key == "buckets_ms":
            ok = isinstance(value, (list, tuple)) and value and all(_is_number(v) and v > 0 for v in value)
            if not ok or list(value) != sorted(set(value)):
                problems.append((path, "expected a non-empty, strictly increasing list of positive numbers"))
        elif key == "max_samples" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            problems.append((path, "expected an integer >= 1"))
        elif key == "report_interval_s" and value is not None and not (_is_number(value) and value > 0):
            problems.append((path, "expected a positive number or null"))
        elif key == "report_level" and value not in _LEVELS:
            problems.append((path, f"expected one of {', '.join(_LEVELS)}"))
        elif key == "report_to" and value not in ("log", "stderr"):
            problems.append((path, "expected log or stderr"))
        elif key == "ignore_endpoints" and not (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        ):
            problems.append((path, "expected a list of endpoint names"))
    return problems
