"""Typed environment-variable helpers and proxy settings.

Blank values count as unset everywhere, so ``FOO=`` behaves like no ``FOO`` at all.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

import attrs

from pristine_runtime.secrets import REDACTED, register_secret

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


def env_str(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The stripped value of ``name``, or ``default`` when unset or blank."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return default
    return value.strip()


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """A boolean (``1/true/yes/on`` or ``0/false/no/off``, any case); anything else is an error."""
    value = env_str(name, None, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"environment variable {name}: expected a boolean, got {value!r}")


def env_list(name: str, default: list[str] | None = None, environ: Mapping[str, str] | None = None) -> list[str] | None:
    """A comma-separated list with blanks dropped, or ``default`` when unset."""
    value = env_str(name, None, environ)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


@attrs.frozen
class ProxySettings:
    """Proxy URLs per scheme; credentials inside them are redacted from the repr."""

    http: str | None = attrs.field(default=None, repr=False)
    https: str | None = attrs.field(default=None, repr=False)
    no_proxy: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        """Read ``HTTP(S)_PROXY``/``NO_PROXY`` (either case)."""

        def pick(*names: str) -> str | None:
            for name in names:
                value = env_str(name, None, environ)
                if value:
                    return value
            return None

        settings = cls(
            http=pick("HTTP_PROXY", "http_proxy"),
            https=pick("HTTPS_PROXY", "https_proxy"),
            no_proxy=pick("NO_PROXY", "no_proxy"),
        )
        for url in (settings.http, settings.https):
            if url:
                password = urllib.parse.urlsplit(url).password
                register_secret(password)
        return settings

    def as_requests_proxies(self) -> dict[str, str]:
        """The mapping ``requests`` expects."""
        proxies = {}
        if self.http:
            proxies["http"] = self.http
        if self.https:
            proxies["https"] = self.https
        if self.no_proxy:
            proxies["no_proxy"] = self.no_proxy
        return proxies

    def __repr__(self) -> str:
        return (
            f"ProxySettings(http={redact_url(self.http)!r}, https={redact_url(self.https)!r}, "
            f"no_proxy={self.no_proxy!r})"
        )


def redact_url(url: str | None) -> str | None:
    """Replace the user-info part of a URL (``user:pass@``) with ``[REDACTED]@``."""
    if not url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))
