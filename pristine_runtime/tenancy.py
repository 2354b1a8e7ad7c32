"""Who a client acts for: the server it talks to and a one-way digest of its API key.

Plugins that share state across clients of one process (back-off deadlines, response byte
budgets) key it by :class:`Tenant`, so that two clients of the same account share and two
accounts never do. The raw key is never part of the key.
"""

from __future__ import annotations

import hashlib
import urllib.parse

import attrs

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_server(base_url: str) -> str:
    """``scheme://host[:port]`` with the host lower-cased and default ports dropped (no path)."""
    parts = urllib.parse.urlsplit(base_url)
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def key_digest(api_key: str | None) -> str:
    """A short one-way digest of an API key (``"anonymous"`` without a key)."""
    if not api_key:
        return "anonymous"
    return hashlib.blake2b(api_key.encode("utf-8"), digest_size=16, person=b"pristine-tenant").hexdigest()


@attrs.frozen
class Tenant:
    """A server plus a key digest: the unit that process-wide plugin state is shared by."""

    server: str
    key_digest: str

    @classmethod
    def of(cls, base_url: str, api_key: str | None) -> Tenant:
        """The tenant of a base URL and a (raw) API key."""
        return cls(normalize_server(base_url), key_digest(api_key))
