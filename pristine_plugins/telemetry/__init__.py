"""Placeholder while the telemetry plugin is written."""

from pristine_core.plugins import TELEMETRY


class TelemetryPlugin:
    """batched, bounded telemetry shipped to the API's telemetry endpoint."""

    name = "telemetry"
    priority = TELEMETRY
