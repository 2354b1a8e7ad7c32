"""What a CLI command runs with: its arguments, streams, and a lazily created ServiceClient."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from collections.abc import Callable
from typing import Any, TextIO

from tinkex_domain.cli.formatting import dump_json

#: Builds the ServiceClient from (api_key, base_url, timeout_s); tests may replace it.
ServiceFactory = Callable[..., Any]
"""``(api_key, base_url, timeout_s[, http_pool=...]) -> ServiceClient``; ``http_pool`` is passed only when given."""


class CommandError(Exception):
    """A user-facing failure: printed as ``Error: <message>``; exit status 1."""


def default_service_factory(
    api_key: str | None, base_url: str | None, timeout_s: float | None, http_pool: str | None = None
) -> Any:
    """A ServiceClient (``TINKER_API_KEY`` / ``TINKER_BASE_URL`` fill what is not given);
    ``http_pool`` routes the default-pool endpoints through that manifest pool (as
    ``TINKEX_HTTP_POOL`` does)."""
    from tinkex_domain.service_client import ServiceClient

    kwargs: dict[str, Any] = {"config": {"telemetry": False}}
    if timeout_s is not None:
        # Each request and every call's retries end within the timeout (main() bounds the rest).
        kwargs["timeout_s"] = timeout_s
        kwargs["config"]["retry"] = {"deadline_s": timeout_s}
    if http_pool is not None:
        kwargs["environ"] = {**os.environ, "TINKEX_HTTP_POOL": http_pool}
    return ServiceClient(api_key=api_key, base_url=base_url, **kwargs)


class Context:
    """Per-invocation state; :meth:`close` ends the ServiceClient's session if one was made."""

    def __init__(
        self, args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: TextIO,
        service_factory: ServiceFactory | None = None, now: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        self._factory = service_factory or default_service_factory
        self._service: Any = None
        self._rest: Any = None
        self._closed = False
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def json(self) -> bool:
        """True for ``--format json``."""
        return getattr(self.args, "format", "table") == "json"

    def now(self) -> dt.datetime:
        """The current time (injectable for tests)."""
        return self._now()

    def service(self) -> Any:
        """The ServiceClient (created on first use)."""
        if self._service is None:
            pool = getattr(self.args, "http_pool", None)
            service = self._factory(
                getattr(self.args, "api_key", None), getattr(self.args, "base_url", None),
                getattr(self.args, "timeout", None), **({"http_pool": pool} if pool else {}),
            )
            if self._closed:  # the command timed out while this was being built
                getattr(service, "close", lambda: None)()
                raise CommandError("the command was stopped (--timeout)")
            self._service = service
        return self._service

    def rest(self) -> Any:
        """The RestClient of the ServiceClient."""
        if self._rest is None:
            self._rest = self.service().create_rest_client()
        return self._rest

    def out(self, text: str = "") -> None:
        """A line on stdout."""
        print(text, file=self.stdout)

    def err(self, text: str) -> None:
        """A line on stderr."""
        print(text, file=self.stderr)

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Print ``data`` as JSON with ``--format json``, else the human ``text``."""
        if self.json:
            self.out(dump_json(data))
        else:
            self.out(text() if callable(text) else text)

    def close(self) -> None:
        """Close the ServiceClient (one built later, by a command that overran, is closed at once)."""
        self._closed = True
        if self._service is not None:
            close = getattr(self._service, "close", None)
            if callable(close):
                close()
            self._service = None
