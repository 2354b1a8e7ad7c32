"""Placeholder while the futures plugin is written."""

from pristine_core.plugins import FUTURES


class FuturesPlugin:
    """server-side futures (APIFuture) resolved by polling a retrieve endpoint."""

    name = "futures"
    priority = FUTURES
