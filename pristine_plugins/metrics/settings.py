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
from typing import Any, Literal

import attrs

from pristine_core.contract import PluginSettings, at_least, non_empty, positive, settings, with_changes
from pristine_core.manifest.checks import reference_problems
from pristine_core.manifest.models import Manifest
from pristine_plugins.metrics.histogram import DEFAULT_BUCKETS_MS


def _increasing(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    if list(value) != sorted(set(value)) or any(v <= 0 for v in value):
        raise ValueError(f"'{attribute.name}' must be strictly increasing positive numbers")


@settings
class MetricsSettings:
    """The ``features.metrics`` block (see the module docstring for the keys)."""

    enabled: bool = True
    buckets_ms: tuple[float, ...] = attrs.field(default=DEFAULT_BUCKETS_MS, validator=[non_empty, _increasing])
    max_samples: int = attrs.field(default=1000, validator=at_least(1))
    report_interval_s: float | None = attrs.field(default=None, validator=positive)
    report_level: Literal["debug", "info", "warning"] = "info"
    report_to: Literal["log", "stderr"] = "log"
    ignore_endpoints: tuple[str, ...] = ()

    @classmethod
    def build(cls, block: MetricsSettings | None, overrides: Any = None) -> MetricsSettings:
        """The manifest ``block`` with the client's ``config["metrics"]`` on top (``True``/``False``
        switch it on/off; an object overrides keys, checked like the manifest)."""
        base = block or cls()
        if overrides is True or overrides is False:
            overrides = {"enabled": overrides}
        return with_changes(base, overrides, "config.metrics") if overrides else base


@settings
class MetricsConfig:
    """``Client(config=...)`` key ``metrics``: a boolean or an object of overrides."""

    metrics: bool | Mapping[str, Any] | None = None


SETTINGS = PluginSettings(sections={"features.metrics": MetricsSettings}, config=MetricsConfig)


def manifest_problems(manifest: Manifest) -> list[tuple[str, str]]:
    """The endpoints ``ignore_endpoints`` names exist."""
    block: MetricsSettings | None = manifest.section("features.metrics")
    if block is None:
        return []
    return [
        problem
        for i, name in enumerate(block.ignore_endpoints)
        for problem in reference_problems(manifest, f"features.metrics.ignore_endpoints[{i}]", name, "endpoint")
    ]
