"""The environment plugin: ``features.environment`` read into the client's defaults."""

from __future__ import annotations

from collections.abc import Mapping

from pristine_core import hookimpl
from pristine_core.bands import AUTH
from pristine_core.contract import PluginSettings
from pristine_core.defaults import ClientDefaults
from pristine_core.manifest.models import Manifest
from pristine_core.pipeline import Request
from pristine_plugins.environment.reader import apply_log_levels, dump_request, resolve
from pristine_plugins.environment.settings import SECTION, SETTINGS, EnvironmentBlock
from pristine_runtime.secrets import redact_headers

#: Above every built-in band: it runs no middleware, but its request dump (the last
#: ``pristine_prepare_attempt`` implementation, ``trylast``) should see the final headers anyway.
PRIORITY = AUTH + 50


class EnvironmentPlugin:
    """Reads the environment variables ``features.environment`` declares, once per client.

    Headers, query parameters, proxy, pool sizes, the default pool, a profile's timeout and
    ``config`` values become the client's :class:`~pristine_core.defaults.ClientDefaults`
    (explicit ``Client(...)`` arguments win); logger levels are applied when the client is built;
    ``dump_headers`` logs every attempt with its secrets redacted.
    """

    name = "environment"
    priority = PRIORITY

    def __init__(self) -> None:
        self.dump_headers = False
        self.profile: str | None = None

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """The ``features.environment`` block."""
        return SETTINGS

    @hookimpl
    def pristine_client_defaults(self, manifest: Manifest, environ: Mapping[str, str] | None) -> ClientDefaults | None:
        """Read the declared variables from ``environ`` (None: ``os.environ``)."""
        block = manifest.section(SECTION)
        if not isinstance(block, EnvironmentBlock):
            return None
        pools = frozenset(manifest.section("pools") or manifest.data.get("pools") or {})
        reading = resolve(block, environ, pools)
        apply_log_levels(reading.log_levels)
        self.dump_headers = reading.dump_headers
        self.profile = reading.profile
        return reading.defaults

    @hookimpl
    def pristine_applies_to(self) -> bool:
        """Only while ``dump_headers`` is on (its one per-call hook logs attempts)."""
        return self.dump_headers

    @hookimpl(trylast=True)
    def pristine_prepare_attempt(self, request: Request) -> None:
        """With ``dump_headers`` on, log the attempt (method, URL, headers with secrets redacted)."""
        if self.dump_headers:
            dump_request(request.method, request.url, redact_headers(request.headers), request.attempt)
