"""The metrics plugin: one dispatch middleware timing every call, outside the retry loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core import hookimpl
from pristine_core.bands import TELEMETRY
from pristine_core.contract import PluginSettings
from pristine_core.errors import PristineError
from pristine_core.manifest.models import Endpoint, Manifest
from pristine_core.pipeline import CallNext, Middleware, Request, Response
from pristine_plugins.metrics.registry import MetricsRegistry
from pristine_plugins.metrics.reporter import THREAD_NAME, Reporter, console_sink
from pristine_plugins.metrics.settings import SETTINGS, MetricsConfig, MetricsSettings, manifest_problems

if TYPE_CHECKING:
    from pristine_core.client import Client

FEATURE = "metrics"
STATE_KEY = "metrics"
#: Just outside telemetry and retry: one sample per logical call, retries and waits included.
PRIORITY = TELEMETRY + 10


class MetricsPlugin:
    """Counts calls per endpoint (requests, successes, failures, statuses) and times them."""

    name = "metrics"
    priority = PRIORITY

    def __init__(self) -> None:
        self.settings: MetricsSettings | None = None
        self.registry: MetricsRegistry | None = None
        self.reporter: Reporter | None = None

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.metrics`` and the config key ``metrics``."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """The endpoints ``features.metrics.ignore_endpoints`` names exist."""
        return manifest_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Build the settings and the registry (no thread yet)."""
        block = client.meta.manifest.section("features.metrics")
        settings = MetricsSettings.build(block, client.meta.settings_of(MetricsConfig).metrics)
        if not settings.enabled:
            return
        self.settings = settings
        self.registry = MetricsRegistry(settings.buckets_ms, settings.max_samples)
        client.meta.state[STATE_KEY] = self.registry
        if settings.report_interval_s is not None:
            self.reporter = Reporter(
                self.registry,
                clock=client.meta.clock,
                lane=client.meta.scheduler.lane("metrics", 1, thread_name=THREAD_NAME),
                interval_s=settings.report_interval_s,
                level=settings.report_level,
                sink=console_sink() if settings.report_to == "stderr" else None,
            )

    @hookimpl
    def pristine_client_started(self, client: Client) -> None:
        """Start the periodic reporter when one is configured."""
        if self.reporter is not None:
            self.reporter.start()

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Every endpoint but those ``ignore_endpoints`` names (their calls skip the timing step)."""
        return self.settings is None or endpoint.qualified_name not in self.settings.ignore_endpoints

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> Middleware | None:
        """Time each call from the outside of the retry loop."""
        registry, settings = self.registry, self.settings
        if registry is None or settings is None:
            return None
        ignored = frozenset(settings.ignore_endpoints)
        monotonic = client.meta.clock.monotonic

        def measure(request: Request, call_next: CallNext) -> Response:
            name = request.call.endpoint.qualified_name if request.call is not None else "(raw)"
            if name in ignored:
                return call_next(request)
            started = monotonic()
            try:
                response = call_next(request)
            except PristineError as exc:
                elapsed = (monotonic() - started) * 1000
                status = getattr(exc, "status_code", None) or type(exc).__name__
                registry.record_call(name, ok=False, elapsed_ms=elapsed, status=status)
                raise
            elapsed = (monotonic() - started) * 1000
            registry.record_call(name, ok=response.status_code < 400, elapsed_ms=elapsed, status=response.status_code)
            return response

        return Middleware("metrics", PRIORITY, measure)

    @hookimpl
    def pristine_client_closing(self, client: Client) -> None:
        """Stop the reporter thread (after one last summary)."""
        if self.reporter is not None:
            self.reporter.stop()
            self.reporter.report()


def metrics_of(client: Client) -> MetricsRegistry:
    """The metrics registry of ``client`` (``LookupError`` when the plugin is off or absent)."""
    registry = client.meta.state.get(STATE_KEY)
    if not isinstance(registry, MetricsRegistry):
        raise LookupError("the metrics plugin is not active on this client")
    return registry
