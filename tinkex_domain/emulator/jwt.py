"""Short-lived JWTs for ``auth/token`` (HS256, signed with a per-emulator secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from .account import USER_URN
from .clock import Clock

ORG_ID = "emulator"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issues tokens for API keys and verifies the ones it issued (signature and expiry)."""

    def __init__(self, clock: Clock, ttl_s: int) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._secret = secrets.token_bytes(32)

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha256).digest())

    def issue(self, api_key: str) -> str:
        """A token for the holder of ``api_key``: the emulator's one principal (its ``whoami``
        user), plus a digest of the key (``kid``-like, never the key itself)."""
        now = int(self._clock())
        payload = {"sub": USER_URN, "org_id": ORG_ID, "email": "",
                   "key": hashlib.sha256(api_key.encode()).hexdigest()[:12],
                   "iat": now, "exp": now + self._ttl_s}
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The payload of a valid, unexpired token issued here; None otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        head, body, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{head}.{body}")):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or payload.get("exp", 0) <= self._clock():
            return None
        return payload
