"""``AdminClient``: organization-level reports (audit log, billing usage, checkpoint storage).

The same methods exist on ``RestClient`` (tinker keeps them there, deprecated). Built on a
ServiceClient's connection, or standalone (it then owns a connection; close it when done).
"""

from __future__ import annotations

from typing import Any

from tinkex_domain.holder import Holder
from tinkex_domain.rest_account import RestAccountMixin


class AdminClient(RestAccountMixin):
    """``get_audit_log``, ``get_billing_usage``, ``get_current_checkpoint_storage_usage`` (+ ``_async``)."""

    def __init__(
        self, _holder: Holder | None = None, *, base_url: str | None = None, api_key: str | None = None, **kwargs: Any
    ) -> None:
        self._owns_holder = _holder is None
        self.holder = _holder if _holder is not None else Holder(api_key=api_key, base_url=base_url, **kwargs)

    def get_telemetry(self) -> Any:
        """The telemetry reporter of this client (None when telemetry is off or not installed)."""
        return self.holder.telemetry()

    def close(self) -> None:
        """Close the connection if this client opened it."""
        if self._owns_holder:
            self.holder.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<AdminClient {self.holder.base_url}>"
