"""Secret values (API keys, proxy passwords) and their redaction.

Every secret the library handles is registered here once; :func:`redact` then scrubs the
registered values out of any text before it reaches a log line, a repr or an exception message.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

REDACTED = "[REDACTED]"

#: Header names whose values are always redacted, whatever they hold.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "cf-access-client-secret",
    }
)

_lock = threading.Lock()
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`redact` removes it from text (short values are ignored)."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``[REDACTED]``."""
    if not _known:
        return text
    for secret in tuple(_known):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def echoes_secret(headers: Mapping[str, str]) -> bool:
    """True when a header value holds a registered secret (a server or proxy echoing the key)."""
    if not _known:
        return False
    lower_items = getattr(headers, "lower_items", None)  # requests' mapping: no per-key lookups
    values = [value for _, value in lower_items()] if lower_items is not None else list(headers.values())
    text = "\n".join(map(str, values))
    for secret in tuple(_known):
        if secret in text:
            return True
    return False


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy ``headers`` with the values of secret-bearing headers (and known secrets) redacted."""
    return {name: REDACTED if name.lower() in SECRET_HEADERS else redact(str(value)) for name, value in headers.items()}


def _mask(data: bytes, pad: bytes) -> bytes:
    """``data`` XOR ``pad`` (same length), byte by byte, computed as one big integer."""
    if len(data) != len(pad):
        raise ValueError("data and pad differ in length")
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")
    return mixed.to_bytes(len(data), "big")


class Secret:
    """A string that never shows itself in ``repr``/``str``; call :meth:`reveal` to use it.

    The value is held XOR-masked with a random pad, so that neither ``__slots__``, a debugger's
    view of the object nor its pickle holds the secret as plain text.
    """

    __slots__ = ("_masked", "_pad")

    def __init__(self, value: str) -> None:
        data = value.encode("utf-8", "surrogatepass")
        self._pad = os.urandom(len(data))
        self._masked = _mask(data, self._pad)
        register_secret(value)

    def reveal(self) -> str:
        """Return the secret value itself."""
        return _mask(self._masked, self._pad).decode("utf-8", "surrogatepass")

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return hash(self.reveal())

    def __reduce__(self) -> tuple[Any, tuple[bytes, bytes]]:
        return (_unmask_secret, (self._masked, self._pad))


def _unmask_secret(masked: bytes, pad: bytes) -> Secret:
    return Secret(_mask(masked, pad).decode("utf-8", "surrogatepass"))


class SecretHeaders:
    """Request headers where the secret-bearing values are kept as :class:`Secret` objects.

    :meth:`reveal` builds the plain dict for one request; the object itself (in ``vars()``,
    reprs, debuggers and error trackers' locals) never holds a secret in clear.
    """

    __slots__ = ("_public", "_secret")

    def __init__(self, public: Mapping[str, str], secret: Mapping[str, Secret] | None = None) -> None:
        self._public = dict(public)
        self._secret = dict(secret or {})

    def reveal(self) -> dict[str, str]:
        """A fresh plain dict of every header, secrets included (for sending only)."""
        headers = dict(self._public)
        for name, value in self._secret.items():
            headers[name] = value.reveal()
        return headers

    def names(self) -> list[str]:
        """Every header name."""
        return [*self._public, *self._secret]

    def __repr__(self) -> str:
        shown = {**self._public, **{name: REDACTED for name in self._secret}}
        return f"SecretHeaders({shown!r})"


#: Words that mark an environment variable name as holding a secret (``TINKER_API_KEY``...).
_SECRET_WORDS = frozenset({"KEY", "APIKEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS"})


def looks_secret(name: str, value: str) -> bool:
    """True for a variable whose name says it holds a secret (a word such as ``KEY``, ``SECRET``,
    ``TOKEN``, ``PASSWORD``), whose value holds a registered secret, or a URL with credentials."""
    words = name.upper().replace("-", "_").split("_")
    if _SECRET_WORDS.intersection(words):
        return True
    if redact(value) != value:
        return True
    head, _, rest = value.partition("://")
    return bool(head) and "@" in rest.split("/", 1)[0]


class SecretEnviron(Mapping[str, str]):
    """A read-only copy of an ``environ`` mapping whose secret-looking values are :class:`Secret`.

    Reading works as on the original (``env["X"]``, ``get``, ``in``, iteration); ``repr`` and the
    object's slots show the secret values as ``[REDACTED]`` (never in clear). Secret: every name in
    ``secret_names`` (what a plugin read as a secret, the manifest's API-key variable) and every
    variable :func:`looks_secret` flags. A snapshot: later changes to the original are not seen.
    """

    __slots__ = ("_public", "_secret")

    def __init__(self, environ: Mapping[str, str], secret_names: frozenset[str] | set[str] = frozenset()) -> None:
        self._public: dict[str, str] = {}
        self._secret: dict[str, Secret] = {}
        for name, value in environ.items():
            if name in secret_names or looks_secret(name, str(value)):
                self._secret[name] = Secret(str(value))
            else:
                self._public[name] = value

    def __getitem__(self, name: str) -> str:
        if name in self._secret:
            return self._secret[name].reveal()
        return self._public[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._public
        yield from self._secret

    def __len__(self) -> int:
        return len(self._public) + len(self._secret)

    def __contains__(self, name: object) -> bool:
        return name in self._public or name in self._secret

    def secret_names(self) -> list[str]:
        """The names whose values are held as secrets."""
        return sorted(self._secret)

    def __repr__(self) -> str:
        shown = {**self._public, **{name: REDACTED for name in self._secret}}
        return f"SecretEnviron({shown!r})"
