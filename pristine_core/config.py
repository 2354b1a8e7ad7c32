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


def _redacted_repr(url: str | None) -> str:
    return repr(redact_url(url))


@attrs.frozen
class ProxySettings:
    """Proxy URLs per scheme; credentials inside them are redacted from the repr."""

    http: str | None = attrs.field(default=None, repr=_redacted_repr)
    https: str | None = attrs.field(default=None, repr=_redacted_repr)
    no_proxy: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProxySettings:
        """Read ``HTTP(S)_PROXY``/``NO_PROXY`` (either case; upper case wins)."""

        def pick(name: str) -> str | None:
            return env_str(name, None, environ) or env_str(name.lower(), None, environ)

        settings = cls(http=pick("HTTP_PROXY"), https=pick("HTTPS_PROXY"), no_proxy=pick("NO_PROXY"))
        for url in (settings.http, settings.https):
            if url:
                register_secret(urllib.parse.urlsplit(url).password)
        return settings

    def as_requests_proxies(self) -> dict[str, str]:
        """The mapping ``requests`` expects (``http``, ``https``, ``no_proxy``; unset ones left out)."""
        return {key: value for key, value in attrs.asdict(self).items() if value}


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
