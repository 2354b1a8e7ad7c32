"""Pristine: HTTP API SDKs declared in a manifest, with features as pluggy plugins.

The public surface: :class:`Client`, :func:`load_manifest`, the error hierarchy, and for plugin
authors ``hookimpl``, the pipeline objects (``Call``, ``Request``, ``Response``, ``Event``,
``Middleware``, ``CallNext``), the priority bands (``AUTH`` ... ``ENCODING``), the settings
declarations (``PluginSettings``, ``settings`` and its validators in :mod:`pristine_core.contract`),
the :class:`Transport` protocol and the testing helpers (``LoopbackServer``, re-exported from the
``pristine-testing`` distribution when it is installed).
Names are imported on first use, so ``import pristine_core`` stays cheap.
Everything named in ``__all__`` follows the stability promise in ``CONTRIBUTING.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pristine_core.lazy import lazy_exports

__version__ = "0.1.0"

#: Module -> the public names it defines (imported on first access).
_MODULES = {
    "pristine_core.errors": (
        "APIConnectionError APIError APIResponseValidationError APIStatusError APITimeoutError "
        "AuthenticationError BadRequestError ConflictError GoneError InternalServerError ManifestError "
        "NotFoundError PaymentRequiredError PermissionDeniedError PluginLoadError PristineError "
        "RateLimitError RequestFailedError RequestTimeoutError UnprocessableEntityError ValidationError"
    ),
    "pristine_core.bands": (
        "AUTH CIRCUIT_BREAKER DEFAULT_PRIORITY DOMAIN ENCODING FUTURES IDEMPOTENCY POOL RATE_LIMIT RETRY "
        "SESSION STREAMING TELEMETRY"
    ),
    "pristine_core.pipeline": "Call CallNext EncodedBody Event Middleware Request RequestOptions Response",
    "pristine_core.client": "Client Resource",
    "pristine_core.meta": "ClientMeta",
    "pristine_runtime.clock": "Clock FakeClock SYSTEM_CLOCK SystemClock",  # installed with the core
    "pristine_core.hookspecs": "hookimpl",
    "pristine_core.manifest": "load_manifest Manifest",
    "pristine_testing": "LoopbackServer",
    "pristine_core.contract": "PluginSettings settings",
    "pristine_core.transport": "RequestsTransport Transport",
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names.split()}
#: Re-exported names that live in other distributions (a missing one says what to install).
_DISTRIBUTIONS = {"pristine_testing": "pristine-testing"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, _DISTRIBUTIONS)

if TYPE_CHECKING:
    from pristine_core.bands import (
        AUTH,
        CIRCUIT_BREAKER,
        DEFAULT_PRIORITY,
        DOMAIN,
        ENCODING,
        FUTURES,
        IDEMPOTENCY,
        POOL,
        RATE_LIMIT,
        RETRY,
        SESSION,
        STREAMING,
        TELEMETRY,
    )
    from pristine_core.client import Client, Resource
    from pristine_core.contract import PluginSettings, settings
    from pristine_core.errors import (
        APIConnectionError,
        APIError,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        GoneError,
        InternalServerError,
        ManifestError,
        NotFoundError,
        PaymentRequiredError,
        PermissionDeniedError,
        PluginLoadError,
        PristineError,
        RateLimitError,
        RequestFailedError,
        RequestTimeoutError,
        UnprocessableEntityError,
        ValidationError,
    )
    from pristine_core.hookspecs import hookimpl
    from pristine_core.manifest import Manifest, load_manifest
    from pristine_core.meta import ClientMeta
    from pristine_core.pipeline import Call, CallNext, EncodedBody, Event, Middleware, Request, RequestOptions, Response
    from pristine_core.transport import RequestsTransport, Transport
    from pristine_runtime.clock import SYSTEM_CLOCK, Clock, FakeClock, SystemClock
    from pristine_testing import LoopbackServer

__all__ = [
    "AUTH", "CIRCUIT_BREAKER", "DEFAULT_PRIORITY", "DOMAIN", "ENCODING", "FUTURES", "IDEMPOTENCY", "POOL",
    "RATE_LIMIT", "RETRY", "SESSION", "STREAMING", "TELEMETRY", "CallNext", "ClientMeta", "LoopbackServer",
    "PluginSettings", "RequestsTransport", "Transport", "settings", "APIConnectionError", "APIError",
    "APIResponseValidationError", "APIStatusError", "APITimeoutError", "AuthenticationError", "BadRequestError",
    "Call", "Client", "Clock", "ConflictError", "EncodedBody", "Event", "FakeClock", "GoneError",
    "InternalServerError", "Manifest", "ManifestError", "Middleware", "NotFoundError", "PaymentRequiredError",
    "PermissionDeniedError", "PluginLoadError", "PristineError", "RateLimitError", "Request", "RequestFailedError",
    "RequestOptions", "RequestTimeoutError", "Resource", "Response", "SYSTEM_CLOCK", "SystemClock",
    "UnprocessableEntityError", "ValidationError", "__version__", "hookimpl", "load_manifest",
]
